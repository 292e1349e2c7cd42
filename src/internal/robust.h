/* SPDX-License-Identifier: MIT */
/*
 * Robust process-shared locks in shared memory, on glibc's robust pthread mutexes.
 *
 * Why glibc's and not our own: a lock the kernel releases when its owner dies needs the
 * kernel's robust-futex list, and that list has one head per thread, which glibc owns
 * (set_robust_list). ipcx never replaces it; it uses glibc's robust mutexes, which put
 * themselves on it. The mutex's lock word follows the kernel's robust-futex ABI: the owner's
 * thread id in the low 30 bits, FUTEX_OWNER_DIED when the kernel released it for a dead
 * owner, FUTEX_WAITERS when someone sleeps on it.
 *
 * What a hostile peer can do to such a mutex, and what ipcx checks: the mutex's kind is
 * checked before every call (a changed kind is -EBADMSG), so glibc never takes a path for
 * another kind of mutex. A garbled lock word can make the lock look held (lockers wait until
 * their timeout), owner-dead, or free while someone holds it; none of this is worse than a
 * peer that takes the lock and never gives it back, or writes the data the lock protects.
 * What cannot be checked: glibc keeps the robust-list links of a held mutex inside the mutex
 * (the kernel's ABI puts them beside the lock word), and follows them when the holder
 * unlocks, so a peer that overwrites them while another process holds the lock can make
 * that process write to an address of the peer's choosing. Every robust process-shared
 * mutex on Linux shares this; it is documented in docs/event-mutex.md.
 *
 * This file is the one place that knows glibc's pthread_mutex_t layout.
 */
#ifndef IPCX_INTERNAL_ROBUST_H
#define IPCX_INTERNAL_ROBUST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The kernel's robust-futex lock word bits (linux/futex.h). */
#define IPCX__FUTEX_TID_MASK 0x3fffffffu
#define IPCX__FUTEX_OWNER_DIED 0x40000000u
#define IPCX__FUTEX_WAITERS 0x80000000u

/*
 * Initialises a robust, process-shared, error-checking mutex in place. Returns 0 or -errno.
 */
int ipcx__robust_init(pthread_mutex_t *m);

/* The calling thread's kernel id, as it appears in lock words; cheap after the first call. */
uint32_t ipcx__robust_self_tid(void);

/*
 * The kind word such a mutex carries, computed once when the library is loaded; -1 if
 * glibc cannot make robust process-shared mutexes.
 */
extern int ipcx__robust_kind_value;
static inline int ipcx__robust_kind(void)
{
	return ipcx__robust_kind_value;
}

/* True when m still carries the kind ipcx__robust_init gave it. Relaxed: the field is only
 * ever written by init, or by a hostile peer. */
static inline bool ipcx__robust_ok(const pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == ipcx__robust_kind_value;
}

/* The lock word, read once (relaxed: the callers only report or filter with it). */
static inline uint32_t ipcx__robust_word(const pthread_mutex_t *m)
{
	return (uint32_t)__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
}

/* glibc's owner field, which says when a robust mutex is inconsistent or unrecoverable. */
enum ipcx__robust_health {
	IPCX__ROBUST_OK = 0,
	IPCX__ROBUST_INCONSISTENT = 1,   /* owner died; held or waiting for a recovering owner */
	IPCX__ROBUST_NOTRECOVERABLE = 2, /* unlocked without being made consistent */
};
int ipcx__robust_health(const pthread_mutex_t *m);

/*
 * pthread_mutex_trylock after the kind check: returns 0, EOWNERDEAD (acquired, previous
 * owner died), EBUSY, EDEADLK (the calling thread holds it), ENOTRECOVERABLE, or EINVAL for
 * a mutex whose kind was changed. Positive errno values, as pthread returns them.
 */
int ipcx__robust_trylock(pthread_mutex_t *m);

/*
 * Blocks for the lock until the absolute CLOCK_MONOTONIC time at_ns. Returns as
 * pthread_mutex_clocklock does (0, EOWNERDEAD, ETIMEDOUT, ENOTRECOVERABLE, EDEADLK, EINVAL).
 */
int ipcx__robust_lock_until(pthread_mutex_t *m, int64_t at_ns);

#endif
