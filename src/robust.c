/* SPDX-License-Identifier: MIT */
/* Robust process-shared mutexes on glibc; see internal/robust.h for what this relies on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal/robust.h"
#include "internal/sys.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPCX__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define IPCX__TSAN 1
#endif

/* glibc's values of __owner for a robust mutex after its owner died (nptl/pthreadP.h). */
#define GLIBC_MUTEX_INCONSISTENT 0x7fffffff
#define GLIBC_MUTEX_NOTRECOVERABLE 0x7ffffffe

int ipcx__robust_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r;

	r = pthread_mutexattr_init(&a);
	if (r)
		return -r;
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -r;
}

int ipcx__robust_kind(void)
{
	static int kind; /* computed once; every thread computes the same value */
	int k = __atomic_load_n(&kind, __ATOMIC_RELAXED);
	pthread_mutex_t m;

	if (k)
		return k;
	if (ipcx__robust_init(&m) < 0)
		return -1;
	k = m.__data.__kind;
	pthread_mutex_destroy(&m);
	__atomic_store_n(&kind, k, __ATOMIC_RELAXED);
	return k;
}

bool ipcx__robust_ok(const pthread_mutex_t *m)
{
	/* Relaxed: the field is only ever written by init, or by a hostile peer. */
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == ipcx__robust_kind();
}

uint32_t ipcx__robust_word(const pthread_mutex_t *m)
{
	return (uint32_t)__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
}

int ipcx__robust_health(const pthread_mutex_t *m)
{
	int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);

	if (owner == GLIBC_MUTEX_NOTRECOVERABLE)
		return IPCX__ROBUST_NOTRECOVERABLE;
	if (owner == GLIBC_MUTEX_INCONSISTENT || (ipcx__robust_word(m) & IPCX__FUTEX_OWNER_DIED))
		return IPCX__ROBUST_INCONSISTENT;
	return IPCX__ROBUST_OK;
}

int ipcx__robust_trylock(pthread_mutex_t *m)
{
	if (!ipcx__robust_ok(m))
		return EINVAL;
	return pthread_mutex_trylock(m);
}

int ipcx__robust_lock_until(pthread_mutex_t *m, int64_t at_ns)
{
	struct timespec ts;

	if (!ipcx__robust_ok(m))
		return EINVAL;
#ifdef IPCX__TSAN
	/*
	 * ThreadSanitizer does not intercept pthread_mutex_clocklock and would then see unlocks
	 * of mutexes it never saw locked. Its builds (tests only) use timedlock on
	 * CLOCK_REALTIME, converted from the monotonic deadline; callers wait in short slices,
	 * so a clock step costs at most one slice.
	 */
	{
		int64_t left = at_ns - ipcx__now_ns();
		int64_t rt = ipcx__realtime_ns() + (left > 0 ? left : 0);

		ts.tv_sec = rt / 1000000000;
		ts.tv_nsec = rt % 1000000000;
		return pthread_mutex_timedlock(m, &ts);
	}
#else
	ts.tv_sec = at_ns / 1000000000;
	ts.tv_nsec = at_ns % 1000000000;
	return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#endif
}
