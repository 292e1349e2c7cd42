/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../internal/sys.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	return ts;
}

int ipcx__futex_wait(_Atomic uint32_t *word, uint32_t expected, ipcx__deadline d)
{
	struct timespec ts, *tsp = NULL;
	long r;

	if (!ipcx__deadline_never(d)) {
		if (ipcx__deadline_passed(d))
			return -ETIMEDOUT;
		ts = to_timespec(d.at_ns);
		tsp = &ts;
	}
	/*
	 * FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a wait restarted after a
	 * signal keeps its original deadline. Shared (not PRIVATE): the word is in a file mapping
	 * seen by other processes.
	 */
	r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, tsp, NULL,
	            FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	switch (errno) {
	case ETIMEDOUT:
		return -ETIMEDOUT;
	case EAGAIN: /* the word changed before we slept */
	case EINTR:  /* a signal: the caller re-checks and waits again */
		return 0;
	default:
		/* EFAULT or EINVAL would mean a bad mapping: report it as a spurious wake-up and
		 * let the caller's bounded loop and deadline decide. */
		return 0;
	}
}

int ipcx__futex_wake(_Atomic uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? 0 : (int)r;
}

/* The kernel's struct futex_waitv (linux/futex.h from 5.16). */
struct kernel_waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

int ipcx__futex_waitv(const struct ipcx__waitv *v, unsigned n, ipcx__deadline d)
{
	struct kernel_waitv kv[128];
	struct timespec ts, *tsp = NULL;
	long r;

	if (n == 0 || n > 128)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		kv[i].val = v[i].expected;
		kv[i].uaddr = (uintptr_t)v[i].word;
		kv[i].flags = FUTEX_32; /* shared: no FUTEX_PRIVATE_FLAG */
		kv[i].reserved = 0;
	}
	if (!ipcx__deadline_never(d)) {
		if (ipcx__deadline_passed(d))
			return -ETIMEDOUT;
		ts = to_timespec(d.at_ns);
		tsp = &ts;
	}
	r = syscall(SYS_futex_waitv, kv, n, 0, tsp, CLOCK_MONOTONIC);
	if (r >= 0)
		return (int)r;
	if (errno == EAGAIN) {
		/* One of the words differed; find it so the caller knows where to look. */
		for (unsigned i = 0; i < n; i++)
			if (atomic_load_explicit(v[i].word, memory_order_acquire) != v[i].expected)
				return (int)i;
		return 0;
	}
	return -errno;
}
