/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared by every part of the ipcx API.
 *
 * Conventions, which hold for every function in every ipcx header:
 *   - a call returns an int (or ssize_t for byte counts): >= 0 on success, a negative errno
 *     value on failure;
 *   - output parameters come last, are named ret_*, and are left untouched on failure;
 *   - destructors (ipcx_*_close) accept NULL;
 *   - unknown flag bits are rejected with -EINVAL;
 *   - a timeout is an int64_t count of nanoseconds: IPCX_FOREVER waits forever, 0 tries once
 *     and fails with -EAGAIN, a positive value fails with -ETIMEDOUT when it expires. Time is
 *     measured on CLOCK_MONOTONIC.
 */
#ifndef IPCX_COMMON_H
#define IPCX_COMMON_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IPCX_BUILDING)
#define IPCX_API __attribute__((visibility("default")))
#else
#define IPCX_API
#endif

#define IPCX_VERSION_MAJOR 0
#define IPCX_VERSION_MINOR 1
#define IPCX_VERSION_PATCH 0

/* Wait without a time limit. */
#define IPCX_FOREVER ((int64_t)-1)

/* Flags for every ipcx_*_open call; they mirror O_CREAT and O_EXCL. */
#define IPCX_CREATE 0x1u /* create the object if it does not exist */
#define IPCX_EXCL 0x2u   /* with IPCX_CREATE: fail with -EEXIST if it exists */

/*
 * How a handle waits when a call must block (set per handle, see each kind's set_wait):
 * ADAPTIVE spins for a budget that adapts to how fast the other side answers, then sleeps
 * (the default); SPIN busy-polls until the deadline (lowest latency, burns a CPU); SLEEP
 * sleeps at once (lowest CPU, a wake-up costs a system call on each side).
 */
#define IPCX_WAIT_ADAPTIVE 0u
#define IPCX_WAIT_SPIN 1u
#define IPCX_WAIT_SLEEP 2u

/* The longest object name, in bytes, not counting the terminating NUL. */
#define IPCX_NAME_MAX 200

/* The mode given to created objects when the caller passes 0. */
#define IPCX_DEFAULT_MODE 0600

/*
 * The number of handles that may be attached to one object at once, across all processes.
 * Each open handle takes one slot; a slot left by a dead process is reclaimed by the next
 * process that needs one. Opening more fails with -EUSERS.
 */
#define IPCX_MAX_ATTACH 256

/*
 * A human-readable description of an error returned by ipcx. It knows the meaning ipcx
 * gives to some codes (for example -EBADMSG: a corrupt object) and otherwise falls back to
 * strerror(). The argument may be positive or negative. Thread-safe; never returns NULL.
 */
IPCX_API const char *ipcx_strerror(int err);

/* The symbolic name of an errno value ("EACCES"), or "E?" when unknown. Thread-safe. */
IPCX_API const char *ipcx_errname(int err);

#ifdef __cplusplus
}
#endif

#endif
