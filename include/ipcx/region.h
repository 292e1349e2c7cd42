/* SPDX-License-Identifier: MIT */
/*
 * region: a named block of shared memory with the synchronization shared memory lacks on
 * its own: a built-in robust writer lock, a version that readers can wait on, and snapshot
 * reads that never block the writer and never return a torn copy. docs/region.md has the
 * protocol and why it is correct.
 *
 * The model: one writer at a time (the lock), any number of readers that never lock.
 *   - ipcx_region_read copies a range of the latest published version out. It never waits
 *     for the writer: a writer that is slow, stopped or dead in the middle of a write does
 *     not hold readers up, because writes go to a second copy of the data.
 *   - A write is published whole or not at all. ipcx_region_write copies bytes in;
 *     ipcx_region_begin_write / ipcx_region_commit give the writer a pointer to write in
 *     place (zero-copy), and ipcx_region_abort throws a begun write away.
 *   - Each published write increments the version (starting at 0 for a new region, whose
 *     bytes are all zero). ipcx_region_wait_change sleeps until it moves.
 *   - When a writer dies in the middle of a write, readers keep getting the last published
 *     version, and the next writer is told once with -EOWNERDEAD (the region is already
 *     repaired by then; it calls again to write).
 *
 * Memory: a region of SIZE bytes keeps two copies of its data, so it costs 2 * SIZE
 * (each copy rounded up to 64 bytes, or to 4096 from 4096 bytes up) plus 12 KiB of header
 * in the namespace's file system (tmpfs by default), allocated when it is created.
 *
 * Handles: every call is process-safe and thread-safe, with two exceptions: a write begun
 * by a thread (ipcx_region_begin_write) must be committed or aborted by that same thread
 * (the lock belongs to a thread), and ipcx_region_close must not run while another thread
 * uses the handle.
 *
 * Shared memory is a trust boundary: a peer that can write the file can garble the data
 * (it was allowed to) and make calls fail or time out, but cannot make a reader or writer
 * crash, read or write outside the region, or loop forever; every word read from the
 * region's header is read once and bounds-checked. The one exception is the lock itself, a
 * glibc robust mutex; docs/event-mutex.md says what a hostile peer can do to it.
 */
#ifndef IPCX_REGION_H
#define IPCX_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_region ipcx_region;

/* The largest region size (1 TiB); its two copies take twice that. */
#define IPCX_REGION_MAX_SIZE (1ull << 40)

/* How many times ipcx_region_read tries before it gives up with -EAGAIN. */
#define IPCX_REGION_READ_TRIES 64

/*
 * Opens the region called name, creating it when flags has IPCX_CREATE (see ipcx/obj.h for
 * IPCX_CREATE and IPCX_EXCL); mode is the file mode of a created region (0 means
 * IPCX_DEFAULT_MODE). size is the size in bytes of a region this call creates (1 to
 * IPCX_REGION_MAX_SIZE); when the region exists already, size must be 0 (any size) or its
 * size. A new region holds zeroes, at version 0. On success *ret_region is a new handle,
 * owned by the caller until ipcx_region_close.
 * Returns 1 when this call created the region, 0 when it opened an existing one, or
 *   -EINVAL   NULL ret_region, bad flags or mode, size 0 with IPCX_CREATE;
 *   -EFBIG    size above IPCX_REGION_MAX_SIZE;
 *   -ERANGE   the existing region's size is not size (size != 0);
 *   -EBADMSG  the object is corrupt;  -ENOMEM;  -ENOSPC  no room for 2 * size;
 *   and the errors of ipcx/obj.h (-ENOENT, -EEXIST, -EACCES, -EPROTOTYPE, ...).
 * Does not block (creating a large region allocates and zeroes its memory).
 */
IPCX_API int ipcx_region_open(const char *name, unsigned flags, mode_t mode, uint64_t size,
                              ipcx_region **ret_region);

/*
 * Closes a handle (NULL is ignored). Must not run during another call on the handle. A
 * write begun and not finished stays begun: the handle's memory stays mapped and the lock
 * held until the thread that began it ends, when the next writer gets -EOWNERDEAD.
 */
IPCX_API void ipcx_region_close(ipcx_region *r);

/* The region's size in bytes (fixed at creation); 0 for a NULL handle. Never blocks. */
IPCX_API uint64_t ipcx_region_size(const ipcx_region *r);

/*
 * The latest published version (the number of writes published since the region was
 * created; a hostile peer can set any value below 2^63). Returns it (>= 0), or -EINVAL for
 * a NULL handle. Never blocks, no system call.
 */
IPCX_API int64_t ipcx_region_version(ipcx_region *r);

/*
 * Copies len bytes at offset out of the latest published version into buf: a snapshot, as
 * one write left them, never a mix of two writes. *ret_version (may be NULL) gets the
 * version the bytes belong to. Never takes the lock and never waits for a writer; tries up
 * to IPCX_REGION_READ_TRIES times while writes are published under it.
 * Returns 0;
 *   -EAGAIN   every try was overtaken by a newly published write (a writer publishing
 *             faster than len bytes can be copied); call again or read a smaller range;
 *   -EINVAL   NULL handle, NULL buf with len > 0, or offset + len beyond the size.
 * buf may hold partial data after -EAGAIN. No system call.
 */
IPCX_API int ipcx_region_read(ipcx_region *r, uint64_t offset, void *buf, size_t len,
                              uint64_t *ret_version);

/*
 * Waits until the published version differs from last_seen, up to timeout_ns (see
 * ipcx/common.h); *ret_version (may be NULL) gets the version seen. Returns at once when it
 * differs already.
 * Returns 0;
 *   -EAGAIN    timeout_ns was 0 and the version is last_seen;
 *   -ETIMEDOUT the timeout expired;
 *   -EIDRM     the region was removed (ipcx_unlink), before or during the wait;
 *   -EINVAL    NULL handle.
 * Blocks (spinning first, as set by ipcx_region_set_wait); signals do not end the wait.
 */
IPCX_API int ipcx_region_wait_change(ipcx_region *r, uint64_t last_seen, int64_t timeout_ns,
                                     uint64_t *ret_version);

/*
 * Begins a write of the bytes [offset, offset + len): takes the writer lock, waiting up to
 * timeout_ns, and sets *ret_ptr to where those bytes are in the copy being written. That
 * copy holds the latest published data, so the writer may read it and change only some of
 * the bytes. Readers do not see any of it until ipcx_region_commit; the writer must not
 * touch memory outside the range. The calling thread must finish with ipcx_region_commit
 * or ipcx_region_abort; until then other writers wait.
 * Returns 0 with the write begun;
 *   -EOWNERDEAD      a writer died holding the lock (perhaps in the middle of a write).
 *                    The region was repaired: it holds the last published version, and the
 *                    lock is free again. The write was NOT begun and *ret_ptr is untouched:
 *                    call again. Reported once per death;
 *   -EAGAIN          timeout_ns was 0 and another writer holds the lock;
 *   -ETIMEDOUT       the timeout expired;
 *   -EDEADLK         the calling thread has a write begun already;
 *   -EIDRM           the region was removed (checked on entry and about every 100 ms
 *                    while waiting);
 *   -ENOTRECOVERABLE the lock was made unusable (only a hostile peer can do that);
 *   -EBADMSG         a peer corrupted the lock;
 *   -EINVAL          NULL handle or ret_ptr, offset + len beyond the size.
 * Blocks; signals do not end the wait.
 */
IPCX_API int ipcx_region_begin_write(ipcx_region *r, uint64_t offset, size_t len,
                                     int64_t timeout_ns, void **ret_ptr);

/*
 * Publishes the write the calling thread began: readers now see its bytes (and every other
 * byte as before), the version goes up by one, waiters in ipcx_region_wait_change wake, and
 * the lock is released. Returns 0, -EPERM when the calling thread has no write begun on
 * this handle, -EINVAL for a NULL handle. Never blocks; a system call only when someone
 * sleeps in ipcx_region_wait_change or on the lock.
 */
IPCX_API int ipcx_region_commit(ipcx_region *r);

/*
 * Throws away the write the calling thread began: readers never see it, the version stays,
 * the next writer finds the latest published data, and the lock is released. Returns 0,
 * -EPERM, -EINVAL as ipcx_region_commit. Never blocks.
 */
IPCX_API int ipcx_region_abort(ipcx_region *r);

/*
 * Writes len bytes from buf at offset and publishes them: ipcx_region_begin_write, a copy,
 * ipcx_region_commit. Returns what ipcx_region_begin_write returns (after -EOWNERDEAD
 * nothing was written: call again), and -EINVAL also for a NULL buf with len > 0.
 */
IPCX_API int ipcx_region_write(ipcx_region *r, uint64_t offset, const void *buf, size_t len,
                               int64_t timeout_ns);

/*
 * How this handle waits in ipcx_region_wait_change and for the lock: IPCX_WAIT_ADAPTIVE
 * (the default), IPCX_WAIT_SPIN, IPCX_WAIT_SLEEP. Returns 0, or -EINVAL.
 */
IPCX_API int ipcx_region_set_wait(ipcx_region *r, unsigned mode);

/* Who holds the writer lock, as ipcx_region_get_state reports it. */
enum ipcx_region_owner {
	IPCX_REGION_FREE = 0,  /* nobody */
	IPCX_REGION_ALIVE = 1, /* a live thread */
	IPCX_REGION_DEAD = 2,  /* a thread that died; the next writer repairs and reports it */
};

/* A snapshot of a region's state, which may be stale at once. */
struct ipcx_region_state {
	uint64_t size;
	uint64_t version;      /* the latest published version */
	bool writing;          /* a write is in progress (or its writer died in it) */
	bool removed;          /* the region was removed (ipcx_unlink) */
	int owner;             /* enum ipcx_region_owner */
	pid_t owner_pid;       /* the lock holder's process (0 when free or unknown) */
	pid_t owner_tid;       /* its thread */
	pid_t last_writer_pid; /* the process that published the latest version (0: none) */
	int64_t last_write_ns; /* CLOCK_REALTIME of that publish (0: none) */
	uint32_t waiters;      /* processes asleep in ipcx_region_wait_change */
};

/*
 * Reports the region's state. Returns 0, or -EINVAL. Never blocks; reads /proc to decide
 * whether the lock holder lives.
 */
IPCX_API int ipcx_region_get_state(ipcx_region *r, struct ipcx_region_state *ret_state);

/* "free", "alive", "dead". */
IPCX_API const char *ipcx_region_owner_name(int owner);

#ifdef __cplusplus
}
#endif

#endif
