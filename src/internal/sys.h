/* SPDX-License-Identifier: MIT */
/*
 * The system layer: the only code in ipcx that makes raw system calls. Everything above it
 * talks to these functions.
 */
#ifndef IPCX_INTERNAL_SYS_H
#define IPCX_INTERNAL_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- clocks and deadlines (sys/clock.c) ---- */

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
int64_t ipcx__now_ns(void);
int64_t ipcx__realtime_ns(void);

/*
 * An absolute CLOCK_MONOTONIC deadline made from a public timeout_ns: IPCX_FOREVER (or any
 * negative value) never expires, 0 has expired already, a positive timeout is added to now
 * (saturating). Every wait in ipcx converts its timeout here, once, so a wait restarted
 * after a signal or a spurious wake-up keeps the time it had left.
 */
typedef struct {
	int64_t at_ns; /* INT64_MAX for never */
} ipcx__deadline;

ipcx__deadline ipcx__deadline_in_slow(int64_t timeout_ns); /* reads the clock */
static inline ipcx__deadline ipcx__deadline_in(int64_t timeout_ns)
{
	ipcx__deadline d = {INT64_MAX};

	/* Waiting forever, the common case, needs no clock: in line. */
	return timeout_ns < 0 ? d : ipcx__deadline_in_slow(timeout_ns);
}
bool ipcx__deadline_never(ipcx__deadline d);
bool ipcx__deadline_passed(ipcx__deadline d);

/* ---- futexes (sys/futex.c); always shared between processes, never FUTEX_PRIVATE ---- */

/*
 * Sleeps while *word == expected, until woken or the deadline passes. Returns 0 when woken,
 * when the word did not hold expected, or when a signal interrupted the sleep (the caller
 * re-checks its condition and calls again with the same deadline); -ETIMEDOUT when the
 * deadline passed.
 */
int ipcx__futex_wait(_Atomic uint32_t *word, uint32_t expected, ipcx__deadline d);

/* Wakes up to n sleepers on word (INT32_MAX for all). Returns how many were woken. */
int ipcx__futex_wake(_Atomic uint32_t *word, int n);

/* One word of a multi-word wait. */
struct ipcx__waitv {
	_Atomic uint32_t *word;
	uint32_t expected;
};

/*
 * Sleeps until any of the n words (n <= 128) no longer holds its expected value or is woken.
 * Returns the index of a word that was woken (or differed), -ETIMEDOUT, -EINTR after a
 * signal, or -ENOSYS on kernels before 5.16.
 */
int ipcx__futex_waitv(const struct ipcx__waitv *v, unsigned n, ipcx__deadline d);

/* ---- named pipes in the namespace directory (sys/fifo.c) ---- */

/* The prefix of descriptor watchers' FIFOs; '~' cannot start an object name. */
#define IPCX__FIFO_PREFIX "~ipcx-w."
#define IPCX__FIFO_NAME_MAX 48

/*
 * Makes the FIFO name in the namespace directory (mode 0622: anyone who can reach the
 * directory may wake its owner) and opens it read-write, non-blocking, close-on-exec.
 * Returns the descriptor or -errno (-EEXIST).
 */
int ipcx__fifo_make(const char *name);

/* Removes it. */
void ipcx__fifo_unlink(const char *name);

/*
 * Writes one byte to the FIFO name, without blocking and without SIGPIPE, through a
 * descriptor the process keeps for the next time. Returns 0 (also when the FIFO is full:
 * its reader has bytes to read), -ECONNREFUSED when there is no such name, -EBADMSG when
 * the name is not a FIFO, or another -errno.
 */
int ipcx__fifo_send(const char *name);

/* Writes one byte to our own FIFO descriptor. */
int ipcx__fifo_poke(int fd);

/* Reads what is queued on fd, up to 256 bytes, in one call. Returns how many. */
int ipcx__fifo_drain(int fd);

/*
 * Sleeps until fd is readable or the deadline. Returns 1 when readable, 0 after a signal
 * (the caller re-checks and calls again), -ETIMEDOUT, or -errno.
 */
int ipcx__poll_in(int fd, ipcx__deadline d);

/* ---- processes (sys/proc.c) ---- */

/*
 * A process identity that a recycled pid cannot fake: the pid in the low 22 bits (the
 * kernel's PID_MAX_LIMIT is 2^22) and the process's start time, in clock ticks since boot,
 * above it. Two processes can only share an identity if the pid space wraps round within
 * one clock tick. 0 is never an identity. Identities are comparable only within one pid
 * namespace: every process that shares an object must see the same pids.
 */
#define IPCX__PID_BITS 22
static inline pid_t ipcx__id_pid(uint64_t id)
{
	return (pid_t)(id & ((1u << IPCX__PID_BITS) - 1));
}
static inline uint64_t ipcx__id_start(uint64_t id)
{
	return id >> IPCX__PID_BITS;
}

/* This process's identity; cheap after the first call (recomputed in a forked child). */
uint64_t ipcx__proc_self(void);

/* 1 if the process with this identity is alive (a zombie counts as dead), else 0. */
int ipcx__proc_alive(uint64_t id);

/*
 * 1 when some thread of the live process with this identity (other than the calling thread)
 * is running, waiting for a CPU, or in uninterruptible sleep: it is about to make progress.
 * 0 when every such thread is asleep or stopped (SIGSTOP, a debugger), or the process is
 * gone. Reads /proc/PID/task: a slow path only.
 */
int ipcx__proc_running(uint64_t id);

/*
 * 1 when the process with this identity has certainly ended and been reaped (its pid is
 * free), else 0. One kill(pid, 0) call: much cheaper than ipcx__proc_alive, but a zombie or
 * a recycled pid still looks present, so a 0 proves nothing.
 */
int ipcx__proc_gone(uint64_t id);

/* The identity of the live process pid, or 0 when there is none. */
uint64_t ipcx__proc_id_of(pid_t pid);

/*
 * 1 if thread tid exists (in process pid when pid > 0, else in any process), else 0. A
 * thread id may be reused once the thread is gone; callers pair it with a process identity.
 */
int ipcx__thread_alive(pid_t pid, pid_t tid);

/* True when signo is a real-time signal, SIGRTMIN..SIGRTMAX (as this process's libc sees them). */
bool ipcx__rt_signal_ok(int signo);

/* A file as /proc/PID/maps names it: the device and inode of its stat. */
struct ipcx__file_id {
	uint64_t dev; /* st_dev */
	uint64_t ino; /* st_ino */
};

/*
 * Queues real-time signal signo to the live process with this identity, as sigqueue(3) does,
 * with value as si_value.sival_ptr. A dead process, or one whose pid now names another
 * process, never receives it. When must_map is not NULL, the process must also be shown,
 * by its /proc/PID/maps opened after it was pinned, to have that file mapped shared and
 * writable (sys/maps.c); if it has not, or its maps cannot be read (another user's process that is
 * not dumpable, /proc mounted with hidepid, no /proc, out of descriptors), nothing is sent. Returns
 * 0; -ESRCH when that process is not alive; -ENXIO when it was not shown to map the file; -EPERM
 * when the kernel does not let this process signal it; -EAGAIN when its queue of pending signals is
 * full; -EINVAL when signo is not a real-time signal (nothing is sent). (sys/signal.c)
 */
struct ipcx__map_proof {
	struct ipcx__file_id file;
	uint64_t hint; /* where the process may map it, as it said; 0 for unknown */
};
int ipcx__proc_sigqueue(uint64_t id, int signo, uint64_t value,
                        const struct ipcx__map_proof *must_map);

/*
 * Scanning the text of a /proc/PID/maps file for a shared, writable mapping of one file,
 * fed in chunks of any size (a line may span chunks; lines of any length). (sys/maps.c)
 */
struct ipcx__maps_scan {
	uint64_t want_major, want_minor, want_ino;
	uint64_t major, minor, ino; /* of the current line */
	uint64_t lines;             /* complete lines seen */
	unsigned field;             /* 0 range, 1 perms, 2 offset, 3 dev, 4 inode, 5 path */
	unsigned col;               /* characters seen in the current field */
	bool minor_part;            /* past the ':' of the dev field */
	bool ok;                    /* the current line can still match */
	bool found;
};
void ipcx__maps_scan_init(struct ipcx__maps_scan *s, const struct ipcx__file_id *want);
/* Feeds n more bytes; returns true once a matching line has been seen. */
bool ipcx__maps_scan_feed(struct ipcx__maps_scan *s, const char *buf, size_t n);

/*
 * Whether the maps file open at fd shows a shared, writable mapping of want: 1 yes, 0 no,
 * -errno when that could not be found out (-E2BIG: more than IPCX__MAPS_MAX_LINES
 * mappings). hint is an address where the mapping may be (0 for none): checked first, never
 * trusted. ipcx__maps_has_file asks the kernel with PROCMAP_QUERY (ipcx__maps_query, which
 * gives -ENOTTY on kernels before 6.11) and reads the text (ipcx__maps_scan_text) when
 * it cannot. The file offset must be 0.
 */
#define IPCX__MAPS_MAX_LINES (1u << 21)
int ipcx__maps_has_file(int fd, const struct ipcx__file_id *want, uint64_t hint);
int ipcx__maps_query(int fd, const struct ipcx__file_id *want, uint64_t hint);
int ipcx__maps_scan_text(int fd, const struct ipcx__file_id *want);

/*
 * Gives the CPU to another runnable thread: a spinner that waits for a peer to finish a
 * short step calls it so that a preempted peer can run (on a machine with few CPUs the
 * peer may be waiting for ours).
 */
void ipcx__yield(void);

/* ---- shared-memory files in the namespace directory (sys/shm.c) ---- */

/* The namespace directory path: $IPCX_DIR or /dev/shm/ipcx. */
const char *ipcx__ns_path(void);

/*
 * Opens the namespace directory, creating it with mode 01777 when it is missing. Returns a
 * directory descriptor, or -errno.
 */
int ipcx__ns_open(void);

/* The prefix of temporary files; '~' cannot start an object name, so they never clash. */
#define IPCX__TMP_PREFIX "~ipcx-tmp."

/*
 * Creates a temporary file of size bytes (allocated now, so a full file system fails here
 * and not later with SIGBUS) with exactly the given mode. Its name, written to ret_name,
 * carries this process's identity so that ipcx_gc can tell when its creator is dead.
 * Returns a descriptor or -errno; on failure no file is left behind.
 */
int ipcx__shm_create_tmp(int dirfd, mode_t mode, uint64_t size, char *ret_name, size_t cap);

/*
 * Opens an existing file read-write (or read-only) without following a symbolic link and
 * without blocking on a FIFO. Returns a descriptor with ret_st filled, or -errno; a file that
 * is not a regular file gives -EBADMSG.
 */
int ipcx__shm_open(int dirfd, const char *name, bool writable, struct stat *ret_st);

/* Gives the temporary file its final name; -EEXIST if the name is taken. */
int ipcx__shm_link(int dirfd, const char *tmp, const char *name);

/* Removes a name from the directory. */
int ipcx__shm_unlink(int dirfd, const char *name);

/* Stats a name without following links. */
int ipcx__shm_stat(int dirfd, const char *name, struct stat *ret_st);

/*
 * 1 when st (a file in the directory) belongs to another user and the directory is
 * world-writable and sticky, so that opening it on a create request would let that user
 * choose our object; 0 otherwise; -errno if the directory cannot be examined.
 */
int ipcx__shm_foreign(int dirfd, const struct stat *st);

/* The device and inode of an open file. Returns 0 or -errno. */
int ipcx__shm_file_id(int fd, struct ipcx__file_id *ret_id);

/* Maps size bytes of fd shared; returns the address or NULL with *ret_err set. */
void *ipcx__shm_map(int fd, uint64_t size, bool writable, int *ret_err);
void ipcx__shm_unmap(void *addr, uint64_t size);

/* Calls fn for every name in the directory but "." and ".."; stops at fn's first non-zero
 * return and returns it. */
int ipcx__ns_list(int dirfd, int (*fn)(const char *name, void *arg), void *arg);

/* Closes a descriptor, keeping errno. */
void ipcx__close(int fd);

#endif
