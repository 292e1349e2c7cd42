/* SPDX-License-Identifier: MIT */
/*
 * Semaphore sets with the semantics of System V semaphores (semget/semop/semctl), in shared
 * memory: N counting semaphores, and operations that change many of them atomically.
 *
 * An operation is an array of struct ipcx_sembuf applied all-or-nothing, in array order (a
 * semaphore may appear more than once; each entry sees the effect of the ones before it):
 *   delta > 0   adds delta;
 *   delta < 0   needs the value to be at least -delta, then subtracts -delta;
 *   delta == 0  needs the value to be zero.
 * When an entry cannot proceed the whole operation waits (nothing is applied meanwhile) or,
 * when that entry has IPCX_SEM_NOWAIT or the timeout is 0, fails with -EAGAIN. A waiting
 * operation is completed on its behalf by the process whose change made it possible, in the
 * order operations started to wait, exactly as the kernel does (see docs/semset.md).
 *
 * UNDO: an entry with IPCX_SEM_UNDO records -delta as an adjustment of the handle; when the
 * handle is closed, when the process exits normally (atexit), or when the process dies
 * (SIGKILL included), the adjustments are added back, each value clamped to
 * [0, IPCX_SEM_VALUE_MAX] as the kernel does. When a dead process's adjustments are applied is
 * stated exactly in docs/semset.md ("UNDO timing"); in short: before any read of the set,
 * before any operation blocks or fails with -EAGAIN, within 10 ms for sleeping operations,
 * and before any operation once the dead process is reaped.
 *
 * Handles: a handle may be used by several threads at once. A handle belongs to the process
 * that opened it; a forked child may use it for operations without IPCX_SEM_UNDO (an UNDO
 * entry from another process than the opener fails with -ECHILD: open the set again).
 *
 * Every call is process-safe and thread-safe. Calls that may block say so; none is
 * interrupted by a signal (a wait restarts with the time it has left, unlike semop's EINTR).
 */
#ifndef IPCX_SEM_H
#define IPCX_SEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_semset ipcx_semset;

/* One entry of an operation. */
struct ipcx_sembuf {
	uint32_t index; /* which semaphore, 0 .. nsems-1 */
	int32_t delta;  /* > 0 add, < 0 wait for and take, 0 wait for zero */
	uint32_t flags; /* IPCX_SEM_NOWAIT, IPCX_SEM_UNDO */
};

#define IPCX_SEM_NOWAIT 0x1u /* fail with -EAGAIN instead of waiting at this entry */
#define IPCX_SEM_UNDO 0x2u   /* revert this entry's change when the handle ends */

/* Limits. */
#define IPCX_SEM_MAX_SEMS 65536  /* semaphores in one set (1 .. this) */
#define IPCX_SEM_VALUE_MAX 32767 /* the largest value (the kernel's SEMVMX) */
#define IPCX_SEM_OPS_MAX 500     /* entries in one operation (the kernel's SEMOPM) */
#define IPCX_SEM_UNDO_MAX 32     /* semaphores with a nonzero UNDO adjustment per handle */
#define IPCX_SEM_WAIT_SLOTS 256  /* wait slots per set; a waiting op takes ceil(nops/64) */

/*
 * Opens the semaphore set called name, creating it when flags has IPCX_CREATE (with
 * IPCX_EXCL: only creating). A new set has nsems semaphores (1 .. IPCX_SEM_MAX_SEMS), each
 * with initial_value (0 .. IPCX_SEM_VALUE_MAX), and mode (0 for 0600). When the set exists,
 * nsems may be 0 (any size) or at most its size, as semget; initial_value is ignored.
 * On success *ret_set is a new handle, owned by the caller until ipcx_semset_close.
 * Returns 1 when this call created the set, 0 when it opened an existing one, or:
 *   -EINVAL  bad name, flags, mode, nsems or initial_value; or nsems larger than the set
 *   -ENOMEM  no memory for the handle
 *   and the errors of every open by name (ipcx/obj.h): -ENOENT, -EEXIST, -EACCES, -EPERM,
 *   -ELOOP, -EBADMSG (corrupt set), -EPROTONOSUPPORT, -EPROTOTYPE, -EUSERS, -ENOSPC.
 * Opening applies UNDO adjustments left in this handle's attachment slot by a dead process.
 * Does not block, except briefly for the set's internal lock.
 */
IPCX_API int ipcx_semset_open(const char *name, unsigned flags, mode_t mode, uint32_t nsems,
                              int initial_value, ipcx_semset **ret_set);

/*
 * Applies this handle's UNDO adjustments (completing any operations that become possible),
 * detaches and frees the handle. NULL is allowed. No other thread may use the handle during
 * or after the call.
 */
IPCX_API void ipcx_semset_close(ipcx_semset *set);

/*
 * Applies ops[0..nops-1] atomically, waiting as needed (see the top of this file).
 * timeout_ns: IPCX_FOREVER waits without limit; 0 never waits (-EAGAIN); > 0 waits at most
 * that long (-ETIMEDOUT). Returns 0 when applied, or:
 *   -E2BIG      nops > IPCX_SEM_OPS_MAX
 *   -EINVAL     nops == 0, ops NULL, an unknown flag bit, set NULL
 *   -EFBIG      an index >= the number of semaphores
 *   -ERANGE     a value would exceed IPCX_SEM_VALUE_MAX, or an UNDO adjustment would leave
 *               [-32768, 32767] (checked in entry order, as the kernel: an entry that must
 *               wait before the offending one makes the op wait instead)
 *   -EAGAIN     the entry that must wait has IPCX_SEM_NOWAIT, or timeout_ns is 0
 *   -ETIMEDOUT  the timeout expired while waiting
 *   -EIDRM      the set was removed (ipcx_unlink) before or while waiting
 *   -ENOSPC     UNDO would need more than IPCX_SEM_UNDO_MAX semaphores with adjustments on
 *               this handle; or the op must wait and the set's wait slots are all taken
 *   -ECHILD     an UNDO entry on a handle opened by another process (see above)
 * A waiting operation may also complete with -EAGAIN or -ERANGE when the state that lets its
 * first waiting entry proceed makes a later entry fail, as semop does. Blocks (see
 * ipcx_semset_set_wait for how). Thread-safe, process-safe.
 * The set's internal lock is held by each process for a few instructions only; a process
 * stopped (SIGSTOP, a debugger) inside them delays others: an operation gives up on the
 * lock at its timeout (at least 10 ms; -EAGAIN for timeout 0), other calls wait for it.
 * A holder that is merely waiting for a CPU (a loaded machine) is waited for: with timeout
 * 0 up to 1 s, so an increment does not fail for a busy lock. A
 * holder that dies is detected within about 1 ms and its change completed or undone.
 */
IPCX_API int ipcx_semset_op(ipcx_semset *set, const struct ipcx_sembuf *ops, size_t nops,
                            int64_t timeout_ns);

/* The number of semaphores; -EINVAL for NULL. */
IPCX_API int ipcx_semset_nsems(const ipcx_semset *set);

/*
 * One semaphore's value (>= 0), the number of operations waiting for it to increase (ncnt)
 * or to become zero (zcnt) — an operation counts only on the entry it waits at, as Linux
 * counts since 4.x — or the pid of the last process that operated on it (0 if none).
 * Returns the number, or -EINVAL (NULL set), -EFBIG (index out of range).
 */
IPCX_API int ipcx_semset_get(ipcx_semset *set, uint32_t index);
IPCX_API int ipcx_semset_ncnt(ipcx_semset *set, uint32_t index);
IPCX_API int ipcx_semset_zcnt(ipcx_semset *set, uint32_t index);
IPCX_API int ipcx_semset_pid(ipcx_semset *set, uint32_t index);

/*
 * Sets one value (0 .. IPCX_SEM_VALUE_MAX), as SETVAL: clears every handle's UNDO
 * adjustment for that semaphore, records the caller as its last pid, and completes the
 * waiting operations that become possible. Returns 0, -EINVAL (NULL set), -EFBIG (index),
 * -ERANGE (value out of range).
 */
IPCX_API int ipcx_semset_set(ipcx_semset *set, uint32_t index, int value);

/*
 * Reads every value into ret_values[0..n-1]; n must be at least the number of semaphores
 * (only that many are written). Returns the number of semaphores, or -EINVAL (NULL or n too
 * small).
 */
IPCX_API int ipcx_semset_getall(ipcx_semset *set, int32_t *ret_values, size_t n);

/*
 * Sets every value, as SETALL: values[0..nsems-1], n must equal the number of semaphores.
 * Clears all UNDO adjustments. Returns 0, -EINVAL (NULL or wrong n), -ERANGE (a value out of
 * range; nothing is changed). A process killed in the middle of setall may leave a mix of
 * old and new values (each valid); every other change is all-or-nothing even across SIGKILL.
 */
IPCX_API int ipcx_semset_setall(ipcx_semset *set, const int32_t *values, size_t n);

/* Everything known about one semaphore. */
struct ipcx_sem_info {
	int32_t value;
	uint32_t ncnt;
	uint32_t zcnt;
	pid_t pid;
};

/*
 * Reads the state of semaphores first .. first+n-1 at one instant into ret_info[0..n-1]
 * (n is clamped to the end of the set). Returns how many were written, or -EINVAL (NULL),
 * -EFBIG (first out of range).
 */
IPCX_API int ipcx_semset_stat(ipcx_semset *set, uint32_t first, struct ipcx_sem_info *ret_info,
                              size_t n);

/*
 * How this handle waits: IPCX_WAIT_ADAPTIVE (default), IPCX_WAIT_SPIN or IPCX_WAIT_SLEEP
 * (see common.h). Returns 0 or -EINVAL. Not to be called while another thread waits on the
 * same handle.
 */
IPCX_API int ipcx_semset_set_wait(ipcx_semset *set, unsigned mode);

#ifdef __cplusplus
}
#endif

#endif
