/* SPDX-License-Identifier: MIT */
/*
 * The waiting policy every blocking call in ipcx shares: spin on the word for a while, then
 * sleep on it as a futex, with a count of sleepers so that a waker makes no system call when
 * nobody sleeps.
 *
 * Why the spin adapts: on this class of machine waking a sleeping process on the other CPU
 * costs 10-13 us each way, while two spinning processes answer each other in about 0.1 us.
 * A fixed small budget (2 us) makes both sides give up and fall asleep together; a fixed
 * large one burns a CPU while the peer is idle. So each handle keeps its own budget: a wait
 * that ends while spinning keeps it, a wait that slept only briefly (the peer answered just
 * after we gave up) doubles it, and a wait that slept long (the peer is idle) halves it. An
 * idle waiter therefore decays to a 1 us spin and costs almost nothing, and a busy pair
 * reaches a budget that covers the other side's turnaround within a few round trips.
 */
#ifndef IPCX_INTERNAL_WAIT_H
#define IPCX_INTERNAL_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

/* The waiting modes a handle can be set to (mirrored by IPCX_WAIT_* in the public API). */
enum ipcx__wait_mode {
	IPCX__WAIT_ADAPTIVE = 0, /* spin with the adaptive budget, then sleep */
	IPCX__WAIT_SPIN = 1,     /* busy-poll until the deadline: lowest latency, one CPU */
	IPCX__WAIT_SLEEP = 2,    /* sleep at once: lowest CPU */
};

#define IPCX__SPIN_MIN_NS 1000
#define IPCX__SPIN_START_NS 20000
#define IPCX__SPIN_MAX_NS 200000

/*
 * A sleepers count has two parts: the low 20 bits count threads asleep on the futex word,
 * the bits above count armed descriptor watchers of the word (internal/watch.h). A waker
 * reads the whole count once, as before: zero still means no system call of any kind.
 */
#define IPCX__WATCH_ONE (1u << 20)
#define IPCX__SLEEPERS_MASK (IPCX__WATCH_ONE - 1)

/*
 * Within the sleepers part, a wait-set asleep on the word counts IPCX__SHARED_ONE instead
 * of 1: it must be woken by every wake-up of the word, not be one of the n a waker wakes
 * (a channel wakes one receiver per message; a wait-set that took that wake-up might not
 * receive, and a blocked receiver would sleep on with the message there). A waker that sees
 * a shared sleeper wakes all. More than 1023 plain sleepers spill into this part: they are
 * then all woken too, which is never wrong.
 */
#define IPCX__SHARED_ONE (1u << 10)
#define IPCX__SHARED_MASK (IPCX__SLEEPERS_MASK & ~(IPCX__SHARED_ONE - 1))

/* The number of threads asleep on a word, from its count (for statistics). */
static inline uint32_t ipcx__sleepers_of(uint32_t count)
{
	return (count & (IPCX__SHARED_ONE - 1)) + ((count & IPCX__SHARED_MASK) >> 10);
}

/* Per-handle, process-local state of the policy. */
struct ipcx__spin {
	uint32_t mode; /* enum ipcx__wait_mode */
	uint32_t budget_ns;
};

void ipcx__spin_init(struct ipcx__spin *sp, uint32_t mode);

/*
 * Waits until *word != expected, a wake-up, or the deadline. sleepers is the count a waker
 * reads to decide whether to make the futex call (it is incremented around the sleep).
 * Returns 0 when the word changed or a wake-up came (the caller re-checks its condition; a
 * spurious return is allowed), -ETIMEDOUT when the deadline passed. A deadline that has
 * already passed still checks the word once.
 */
int ipcx__wait(struct ipcx__spin *sp, _Atomic uint32_t *word, uint32_t expected,
               _Atomic uint32_t *sleepers, ipcx__deadline d);

/*
 * Wakes up to n sleepers on word after the caller changed it. The change must be visible
 * before the sleeper count is read: this issues the full fence that pairs with the
 * sleeper's increment (a store-load ordering neither release nor acquire gives). Armed
 * descriptor watchers of word are written their byte too.
 */
void ipcx__wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers, int n);

/*
 * Like ipcx__wait, on several words at once (1 <= n <= 8): returns 0 when any word no longer
 * holds its expected value or a wake-up came (spurious returns allowed), -ETIMEDOUT when the
 * deadline passed. sleepers[i] (NULL allowed) is incremented around the sleep, so a waker
 * of word i can skip its system call when nobody sleeps (see ipcx__wake). Sleeps with
 * futex_waitv; on kernels without it (before 5.16) it sleeps on v[0] alone in slices of
 * 1 ms, so a change of another word is seen within a slice.
 */
int ipcx__wait_any(struct ipcx__spin *sp, const struct ipcx__waitv *v, unsigned n,
                   _Atomic uint32_t *const *sleepers, ipcx__deadline d);

/*
 * Adapts an adaptive budget after a wait that slept for slept_ns (see the top of this
 * file); for callers that sleep on something other than ipcx__wait, such as a mutex.
 */
void ipcx__spin_adapt(struct ipcx__spin *sp, int64_t slept_ns);

/*
 * The same policy for a condition that is not a futex word: spins on ready(arg), then
 * sleeps on word. This lets a waiter spin on the very data it wants (a message's header)
 * while the other side touches the futex word only when someone sleeps, through
 * ipcx__wake_bump or ipcx__wake_all. Before sleeping it registers in sleepers (seq_cst),
 * marks word (ipcx__sleep_mark) and checks ready once more: a waker that made ready true
 * before reading sleepers either sees the registration and the mark or was seen by the
 * re-check (Dekker's pattern over the seq_cst accesses). Returns 0 when ready (or after a
 * wake-up or a spurious return: the caller re-checks), -ETIMEDOUT at the deadline. ready
 * must be cheap and free of side effects.
 */
int ipcx__wait_until(struct ipcx__spin *sp, bool (*ready)(void *arg), void *arg,
                     _Atomic uint32_t *word, _Atomic uint32_t *sleepers, ipcx__deadline d);

/*
 * The waker's half of ipcx__wait_until: after making the condition true, issues a full
 * fence (pairing with the sleeper's seq_cst registration), and only when somebody sleeps
 * bumps word and wakes up to n sleepers. No store and no system call otherwise.
 */
/* Bumps word, wakes n of the sleepers count (all if a wait-set is among them) and fires
 * armed descriptor watchers. */
void ipcx__wake_bump_slow(_Atomic uint32_t *word, uint32_t count, int n);
static inline void ipcx__wake_bump(_Atomic uint32_t *word, _Atomic uint32_t *sleepers, int n)
{
	/* Pairs with the sleeper's seq_cst registration in ipcx__wait_until: either it sees
	 * our change in its re-check, or we see its registration here. Inline: this is on
	 * every message's path, and the call would cost as much as the check. */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t count = atomic_load_explicit(sleepers, memory_order_relaxed);

	if (count != 0)
		ipcx__wake_bump_slow(word, count, n);
}

/*
 * Wake-all without a wake storm. A woken sleeper stays counted in sleepers until it runs,
 * which on a busy CPU takes a while; a waker that wakes on every change (a publisher, a
 * receiver freeing space) would make a futex call for every message in the meantime,
 * though nobody is left in the kernel to wake. So a word woken this way carries a mark in
 * its lowest bit: a sleeper makes it odd before it sleeps (ipcx__sleep_mark), on the value
 * it then sleeps on; the waker wakes everyone only when it finds the word odd, and makes it
 * even. An even word with sleepers counted means they have all been woken since they
 * registered (each registration is followed by its mark, and the waker reads the word
 * after the count, both after its fence).
 *
 * Every sleeper on such a word must mark it: ipcx__wait_until does. A waiter that sleeps
 * on it another way (futex_waitv in a wait-set) registers in sleepers, then sleeps on
 * the value ipcx__sleep_mark returns when that is odd (when it is even, a wake-up came:
 * re-check instead of sleeping). Wakers that always wake (ipcx__wake_bump) may share the
 * word: their bump only costs a later waker one unneeded wake.
 */
uint32_t ipcx__sleep_mark(_Atomic uint32_t *word);
/* Wakes all when word is odd; fires armed descriptor watchers (count >= IPCX__WATCH_ONE). */
void ipcx__wake_all_slow(_Atomic uint32_t *word, uint32_t count);
static inline void ipcx__wake_all(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
	/* Pairs with the sleeper's seq_cst registration and mark, as in ipcx__wake_bump. */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t count = atomic_load_explicit(sleepers, memory_order_relaxed);

	if (count != 0)
		ipcx__wake_all_slow(word, count);
}

/*
 * ipcx__wake_all for a waker whose change of the condition was a seq_cst read-modify-write
 * (a CAS that moved a position): that operation already orders the change before the read
 * of sleepers (both seq_cst, pairing with the sleeper's seq_cst registration and fence), so
 * no extra fence is issued. On x86 the RMW is the locked instruction the fence would be.
 */
static inline void ipcx__wake_all_rmw(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
	/* seq_cst: ordered after the caller's seq_cst RMW in the single total order. */
	uint32_t count = atomic_load_explicit(sleepers, memory_order_seq_cst);

	if (count != 0)
		ipcx__wake_all_slow(word, count);
}

/* The CPU's spin-loop hint. */
static inline void ipcx__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
