/* SPDX-License-Identifier: MIT */
/* Robust process-shared mutexes on glibc; see internal/robust.h for what this relies on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

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

/*
 * glibc (2.36 at least) has a bug here: pthread_mutex_trylock on an unrecoverable robust
 * mutex takes the lock word, finds the mutex unrecoverable, and returns ENOTRECOVERABLE
 * without giving the word back (it tests the old value, 0, against its own id). The word
 * then names the caller forever, off its robust list, so once the caller's thread ends
 * every later locker sleeps for good instead of getting ENOTRECOVERABLE. So: never call it
 * on a mutex known to be unrecoverable (that state is final), and if the mutex became
 * unrecoverable in the instant before the call, give the word back as glibc meant to.
 */
static void release_stuck_word(pthread_mutex_t *m)
{
	_Atomic uint32_t *word = (_Atomic uint32_t *)&m->__data.__lock;
	uint32_t w = atomic_load_explicit(word, memory_order_relaxed);

	if ((w & IPCX__FUTEX_TID_MASK) != (uint32_t)gettid())
		return;
	/* Release pairs with the next locker's acquiring CAS, as glibc's unlock does. */
	w = atomic_exchange_explicit(word, 0, memory_order_release);
	if (w & IPCX__FUTEX_WAITERS)
		ipcx__futex_wake(word, INT32_MAX);
}

int ipcx__robust_trylock(pthread_mutex_t *m)
{
	int r;

	if (!ipcx__robust_ok(m))
		return EINVAL;
	if (ipcx__robust_health(m) == IPCX__ROBUST_NOTRECOVERABLE)
		return ENOTRECOVERABLE;
	r = pthread_mutex_trylock(m);
	if (r == ENOTRECOVERABLE)
		release_stuck_word(m);
	return r;
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
