/* SPDX-License-Identifier: MIT */
/*
 * mutex: a named, robust, process-shared lock. It is a glibc robust process-shared
 * error-checking pthread mutex in shared memory, so it behaves as POSIX robust mutexes do:
 *   - when the thread holding it ends (its process dies, even by SIGKILL, or the thread
 *     exits) the kernel releases it, and the next locker gets -EOWNERDEAD with the lock
 *     held. The data the lock protects may be half-updated: repair it, then call
 *     ipcx_mutex_consistent and go on as usual;
 *   - unlocking it without ipcx_mutex_consistent makes it unusable for good: every later
 *     lock returns -ENOTRECOVERABLE (remove it and create a new one).
 * The lock belongs to a thread, not to a process or a handle: only the thread that locked
 * it may unlock it.
 *
 * The uncontended lock and unlock make no system call. A contended lock spins first, as
 * set by ipcx_mutex_set_wait, then sleeps in the kernel.
 *
 * Handles: every call is process-safe and thread-safe, except that ipcx_mutex_close must
 * not run while another thread uses the same handle. A peer that can write the object can
 * break the lock in the ways docs/event-mutex.md describes; ipcx checks the mutex's kind on
 * every call (-EBADMSG when it was changed).
 */
#ifndef IPCX_MUTEX_H
#define IPCX_MUTEX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_mutex ipcx_mutex;

/*
 * Opens the mutex called name, creating it (unlocked) when flags has IPCX_CREATE; mode is
 * the file mode of a created mutex (0 means IPCX_DEFAULT_MODE). On success *ret_mutex is a
 * new handle, owned by the caller until ipcx_mutex_close.
 * Returns 1 when this call created the mutex, 0 when it opened an existing one, or the
 * errors listed in ipcx/obj.h (-EINVAL also for a NULL ret_mutex), -ENOMEM. -EBADMSG: the
 * object is corrupt. Does not block.
 */
IPCX_API int ipcx_mutex_open(const char *name, unsigned flags, mode_t mode, ipcx_mutex **ret_mutex);

/*
 * Closes a handle (NULL is ignored). Must not run during another call on the handle. If a
 * thread of this process still holds the lock, the handle's memory stays mapped (the
 * kernel's robust list of that thread points into it) and the lock stays held until that
 * thread ends, when the next locker gets -EOWNERDEAD.
 */
IPCX_API void ipcx_mutex_close(ipcx_mutex *mx);

/*
 * Locks the mutex, waiting up to timeout_ns (see ipcx/common.h).
 * Returns 0 with the lock held;
 *   -EOWNERDEAD      with the lock held: the previous owner died holding it (see above);
 *   -ENOTRECOVERABLE the mutex was unlocked after an owner died without being made
 *                    consistent; it can never be locked again;
 *   -EAGAIN          timeout_ns was 0 and the lock is held;
 *   -ETIMEDOUT       the timeout expired;
 *   -EDEADLK         the calling thread holds it already;
 *   -EIDRM           the mutex was removed (checked on entry, while spinning, and about
 *                    every 100 ms while asleep);
 *   -EBADMSG         a peer corrupted the mutex;
 *   -EINVAL          NULL handle.
 * Blocks; signals do not end the wait.
 */
IPCX_API int ipcx_mutex_lock(ipcx_mutex *mx, int64_t timeout_ns);

/*
 * ipcx_mutex_lock(mx, 0): never blocks. -EAGAIN when the lock is held; otherwise the
 * returns of ipcx_mutex_lock (0, -EOWNERDEAD with the lock held, -ENOTRECOVERABLE,
 * -EDEADLK, -EIDRM, -EBADMSG, -EINVAL).
 */
IPCX_API int ipcx_mutex_trylock(ipcx_mutex *mx);

/*
 * Unlocks. Returns 0, -EPERM when the calling thread does not hold it, -EBADMSG, -EINVAL.
 * Unlocking after -EOWNERDEAD without ipcx_mutex_consistent makes the mutex
 * unrecoverable (and returns 0). Never blocks; a system call only when someone sleeps on it.
 */
IPCX_API int ipcx_mutex_unlock(ipcx_mutex *mx);

/*
 * Marks the mutex consistent after a lock returned -EOWNERDEAD; the calling thread must hold
 * it. Returns 0, -EPERM (the calling thread does not hold it), -EINVAL (it is not waiting
 * for recovery after an owner's death, or NULL handle), -EBADMSG. Never blocks.
 */
IPCX_API int ipcx_mutex_consistent(ipcx_mutex *mx);

/*
 * How this handle's locks wait when the mutex is held: IPCX_WAIT_ADAPTIVE (the default;
 * spin for an adaptive budget, then sleep), IPCX_WAIT_SPIN, IPCX_WAIT_SLEEP. Returns 0, or
 * -EINVAL for an unknown mode.
 */
IPCX_API int ipcx_mutex_set_wait(ipcx_mutex *mx, unsigned mode);

enum ipcx_mutex_owner {
	IPCX_MUTEX_FREE = 0,  /* nobody holds it */
	IPCX_MUTEX_ALIVE = 1, /* held by a live thread */
	IPCX_MUTEX_DEAD = 2,  /* its holder died: released by the kernel for the next locker,
	                         or (if the lock word still names it) never released */
};

enum ipcx_mutex_health {
	IPCX_MUTEX_CONSISTENT = 0,
	IPCX_MUTEX_INCONSISTENT = 1,   /* an owner died; the next or current holder must repair
	                                  and call ipcx_mutex_consistent */
	IPCX_MUTEX_NOTRECOVERABLE = 2, /* unusable for good */
};

/* What ipcx_mutex_get_state reports: a snapshot, which may be stale at once. */
struct ipcx_mutex_state {
	bool locked;     /* the lock word names a holder */
	bool removed;    /* the mutex was removed (ipcx_unlink) */
	int owner;       /* enum ipcx_mutex_owner */
	int health;      /* enum ipcx_mutex_health */
	pid_t owner_pid; /* the holder's (or dead holder's) process, 0 when unknown or free */
	pid_t owner_tid; /* its thread id, 0 when unknown or free */
	bool waiters;    /* someone sleeps, or slept since the last unlock, on the lock (the
	                    kernel's FUTEX_WAITERS bit) */
};

/*
 * Reports the mutex's state. Returns 0, or -EINVAL. Never blocks; reads /proc to decide
 * whether the owner lives (a recycled pid is not mistaken for it).
 */
IPCX_API int ipcx_mutex_get_state(ipcx_mutex *mx, struct ipcx_mutex_state *ret_state);

/* "free", "alive", "dead"; "consistent", "inconsistent", "notrecoverable". */
IPCX_API const char *ipcx_mutex_owner_name(int owner);
IPCX_API const char *ipcx_mutex_health_name(int health);

#ifdef __cplusplus
}
#endif

#endif
