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
#ifdef IPCX__TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* glibc's values of __owner for a robust mutex after its owner died (nptl/pthreadP.h). */
#define GLIBC_MUTEX_INCONSISTENT 0x7fffffff
#define GLIBC_MUTEX_NOTRECOVERABLE 0x7ffffffe

/* The calling thread's id, cached per thread (glibc's gettid is a system call each time). */
/* initial-exec: no __tls_get_addr call on the unlock path; four bytes of static TLS. */
static __thread pid_t self_tid __attribute__((tls_model("initial-exec")));
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
	/* Runs in a forked child, whose one thread has a new id. */
	self_tid = 0;
}

static void register_tid_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}

uint32_t ipcx__robust_self_tid(void)
{
	if (!self_tid) {
		pthread_once(&tid_once, register_tid_atfork);
		self_tid = gettid();
	}
	return (uint32_t)self_tid;
}

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

int ipcx__robust_kind_value = -1;

/* At load, so that checking a kind is one load and one compare on every call. */
__attribute__((constructor)) static void compute_kind(void)
{
	pthread_mutex_t m;

	if (ipcx__robust_init(&m) < 0)
		return;
	ipcx__robust_kind_value = m.__data.__kind;
	pthread_mutex_destroy(&m);
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

	if ((w & IPCX__FUTEX_TID_MASK) != ipcx__robust_self_tid())
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

		int r;

		ts.tv_sec = rt / 1000000000;
		ts.tv_nsec = rt % 1000000000;
		r = pthread_mutex_timedlock(m, &ts);
		/* Its timedlock interceptor records a lock only on 0, not on EOWNERDEAD. */
		if (r == EOWNERDEAD) {
			__tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
			__tsan_mutex_post_lock(m, __tsan_mutex_try_lock, 0);
		}
		return r;
	}
#else
	ts.tv_sec = at_ns / 1000000000;
	ts.tv_nsec = at_ns % 1000000000;
	return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#endif
}
