/* SPDX-License-Identifier: MIT */
/*
 * Named objects: the namespace every ipcx object lives in.
 *
 * Every object is a file in the namespace directory: $IPCX_DIR when it is set, otherwise
 * /dev/shm/ipcx (created with mode 01777 when missing, so several users can create objects
 * there without being able to remove each other's, as in /tmp). The file's owner and mode are
 * the object's access control.
 *
 * Names are 1 to IPCX_NAME_MAX characters from [A-Za-z0-9._-], and neither "." nor "..";
 * anything else is -EINVAL, so no name can leave the directory.
 *
 * Errors shared by every call that opens an object by name:
 *   -EINVAL      bad name or flags
 *   -ENOENT      no such object (and IPCX_CREATE not given)
 *   -EEXIST      IPCX_CREATE|IPCX_EXCL and the object exists
 *   -EACCES      the file's mode does not allow this process to open it
 *   -EPERM       IPCX_CREATE found an existing object owned by another user in a
 *                world-writable sticky directory (the rule of fs.protected_regular)
 *   -ELOOP       the name is a symbolic link; links are never followed
 *   -EBADMSG     not an ipcx object, or a corrupt or truncated one
 *   -EPROTONOSUPPORT  an ipcx object of a layout version this library does not know
 *   -EPROTOTYPE  an ipcx object of another kind than the one asked for
 *   -EUSERS      IPCX_MAX_ATTACH handles are attached already, all by live processes
 *   -ENOSPC, -ENOMEM  the shared-memory file system is full or out of inodes (too many
 *                objects), or the address space is; nothing is left behind
 */
#ifndef IPCX_OBJ_H
#define IPCX_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kinds of object. Values are stored in shared memory and never change meaning. */
enum ipcx_kind {
	IPCX_KIND_NONE = 0, /* not an ipcx object, or one that could not be read */
	IPCX_KIND_EVENT = 1,
	IPCX_KIND_SEMSET = 2,
	IPCX_KIND_MUTEX = 3,
	IPCX_KIND_REGION = 4,
	IPCX_KIND_CHAN = 5,
	IPCX_KIND_TOPIC = 6,
	IPCX_KIND_MAX_ = 7
};

/* "event", "semset", ...; "none" for IPCX_KIND_NONE and "?" for anything unknown. */
IPCX_API const char *ipcx_kind_name(int kind);

/*
 * The namespace directory this process uses. The string is owned by the library and stays
 * valid until IPCX_DIR changes. Thread-safe as long as nobody changes the environment.
 */
IPCX_API const char *ipcx_dir(void);

/* 0 when name is a valid object name, -EINVAL otherwise. */
IPCX_API int ipcx_name_check(const char *name);

/*
 * Removes an object's name, as shm_unlink does: processes that have it open keep using it
 * until they close it, and a new object may be created under the same name at once. Waiters
 * blocked on the object are woken and get -EIDRM, and so does every later blocking call on a
 * handle to the removed object.
 * Returns 0, or -EINVAL, -ENOENT, -EACCES (no write permission on the directory, or it is
 * sticky and the object belongs to someone else), -EPERM, -ELOOP, -EISDIR (a directory has
 * the name), -EAGAIN (another process replaced the object under this name while the call
 * ran; nothing was removed: call again). A corrupt object is still removed. Process-safe and
 * thread-safe.
 */
IPCX_API int ipcx_unlink(const char *name);

/* One attached handle, as seen from outside. */
struct ipcx_attachment {
	pid_t pid;
	bool alive;          /* false: the process died or its pid was reused */
	uint64_t start_time; /* the process's start time, in clock ticks since boot */
};

/* What can be known about an object without attaching to it. */
struct ipcx_info {
	char name[IPCX_NAME_MAX + 1];
	int kind;      /* enum ipcx_kind; IPCX_KIND_NONE when status < 0 */
	int status;    /* 0, or the -errno opening it would give (-EBADMSG, -EACCES, ...) */
	bool removed;  /* always false for a name in the directory; kept for handles */
	uint64_t size; /* bytes of shared memory, header included */
	mode_t mode;   /* permission bits of the file */
	uid_t uid;     /* owner of the file */
	gid_t gid;
	pid_t creator_pid;
	uint64_t created_ns; /* CLOCK_REALTIME at creation, in ns since the epoch */
	unsigned attached;   /* handles attached by live processes */
	unsigned dead;       /* slots still held by processes that died */
	uint32_t version;    /* layout version found in the header */
};

/*
 * Describes the object called name without attaching to it. A corrupt, foreign or
 * unreadable file is described with status set to the error (the call itself succeeds);
 * -ENOENT and -EINVAL are returned directly.
 */
IPCX_API int ipcx_stat(const char *name, struct ipcx_info *ret_info);

/*
 * Lists up to max attachments of an object in ret_list and returns how many there are in
 * all (which may be more than max). Returns -errno as ipcx_stat would for status.
 */
IPCX_API int ipcx_attachments(const char *name, struct ipcx_attachment *ret_list, size_t max);

/*
 * Calls fn once for every entry of the namespace directory, in no particular order: once
 * per object (corrupt and foreign files included, with info->status telling why they are
 * not usable) and once per temporary file left by an interrupted create (with kind
 * IPCX_KIND_NONE and status -EINPROGRESS). A non-zero return from fn stops the walk and is
 * returned. Returns 0, or -errno when the directory cannot be read.
 */
typedef int (*ipcx_foreach_fn)(const struct ipcx_info *info, void *arg);
IPCX_API int ipcx_foreach(ipcx_foreach_fn fn, void *arg);

/* What ipcx_gc did or, with dry_run, would do: called once per file. */
typedef void (*ipcx_gc_fn)(const char *name, const char *why, void *arg);

/*
 * Garbage collection: removes every object that has attached slots but no live attached
 * process, and every temporary file whose creating process is dead. Objects with nobody
 * attached at all are left alone (a name with no users is how objects normally wait).
 * With dry_run nothing is removed. fn (which may be NULL) is told each file and why.
 * Returns the number of files removed (or that would be), or -errno.
 */
IPCX_API int ipcx_gc(bool dry_run, ipcx_gc_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
