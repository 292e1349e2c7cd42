/* SPDX-License-Identifier: MIT */
/* The adaptive spin-then-sleep policy; see internal/wait.h for why it adapts. */
#include <errno.h>

#include "internal/wait.h"
#include "internal/watch.h"

void ipcx__spin_init(struct ipcx__spin *sp, uint32_t mode)
{
	sp->mode = mode;
	sp->budget_ns = IPCX__SPIN_START_NS;
}

void ipcx__spin_adapt(struct ipcx__spin *sp, int64_t slept_ns)
{
	uint32_t b = sp->budget_ns;

	/* The peer answered soon after we gave up: a longer spin would have caught it. */
	if (slept_ns < 4 * (int64_t)b)
		b = b > IPCX__SPIN_MAX_NS / 2 ? IPCX__SPIN_MAX_NS : 2 * b;
	else /* the peer is idle: spinning was wasted */
		b = b / 2 < IPCX__SPIN_MIN_NS ? IPCX__SPIN_MIN_NS : b / 2;
	sp->budget_ns = b;
}

/* Spins on a predicate until it holds or until_ns passes. */
static bool spin_until(bool (*ready)(void *), void *arg, int64_t until_ns)
{
	for (;;) {
		for (int i = 0; i < 64; i++) {
			if (ready(arg))
				return true;
			ipcx__cpu_relax();
		}
		if (ipcx__now_ns() >= until_ns)
			return false;
	}
}

/* The condition of the word waits: some word no longer holds its expected value. */
struct words {
	const struct ipcx__waitv *v;
	unsigned n;
};

static bool any_changed(const struct ipcx__waitv *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		/* Acquire pairs with the releasing change the waker made. */
		if (atomic_load_explicit(v[i].word, memory_order_acquire) != v[i].expected)
			return true;
	return false;
}

static bool words_changed(void *arg)
{
	const struct words *w = arg;

	return any_changed(w->v, w->n);
}

/*
 * The spin phase every wait shares. Returns 1 when ready(arg) holds; -ETIMEDOUT when the wait
 * ends without sleeping (the deadline passed, SPIN mode ran to it, or it came within the
 * budget); 0 when the caller goes to sleep. ADAPTIVE spins for the handle's budget, SPIN to
 * the deadline, SLEEP not at all.
 */
static int spin_phase(const struct ipcx__spin *sp, bool (*ready)(void *), void *arg,
                      ipcx__deadline d)
{
	int64_t until;

	if (ready(arg))
		return 1;
	if (d.at_ns != INT64_MAX && ipcx__deadline_passed(d))
		return -ETIMEDOUT;
	if (sp->mode == IPCX__WAIT_SLEEP)
		return 0;
	until = sp->mode == IPCX__WAIT_SPIN ? d.at_ns : ipcx__now_ns() + sp->budget_ns;
	if (until > d.at_ns)
		until = d.at_ns;
	if (spin_until(ready, arg, until))
		return 1;
	return sp->mode == IPCX__WAIT_SPIN || until == d.at_ns ? -ETIMEDOUT : 0;
}

/* After a sleep that began at start and ended with r: adapt an ADAPTIVE budget. */
static void after_sleep(struct ipcx__spin *sp, int64_t start, int r)
{
	if (sp->mode == IPCX__WAIT_ADAPTIVE && r == 0)
		ipcx__spin_adapt(sp, ipcx__now_ns() - start);
}

int ipcx__wait(struct ipcx__spin *sp, _Atomic uint32_t *word, uint32_t expected,
               _Atomic uint32_t *sleepers, ipcx__deadline d)
{
	struct ipcx__waitv v = {word, expected};
	struct words w = {&v, 1};
	int64_t start;
	int r = spin_phase(sp, words_changed, &w, d);

	if (r != 0)
		return r > 0 ? 0 : r;
	start = ipcx__now_ns();
	/* seq_cst: the increment must be visible before the futex call reads the word, to
	 * pair with the waker's fence between its change and its read of the count. */
	atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
	r = ipcx__futex_wait(word, expected, d);
	atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
	after_sleep(sp, start, r);
	return r;
}

/*
 * Wakes those a non-zero sleepers count names: n of the threads asleep on word (all of them
 * when a wait-set is among them), and every armed descriptor watcher of word.
 */
static void wake_counted(_Atomic uint32_t *word, uint32_t count, int n)
{
	if (count & IPCX__SLEEPERS_MASK)
		ipcx__futex_wake(word, (count & IPCX__SHARED_MASK) ? INT32_MAX : n);
	if (count >= IPCX__WATCH_ONE)
		ipcx__watch_fire(word);
}

void ipcx__wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers, int n)
{
	/* Pairs with the seq_cst increment in ipcx__wait: either the sleeper sees the new word
	 * in the kernel's check, or we see its increment here. */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t s = atomic_load_explicit(sleepers, memory_order_relaxed);

	if (s != 0)
		wake_counted(word, s, n);
}

/* The sleep of ipcx__wait_any: futex_waitv, or v[0] alone in slices where it is missing. */
static int sleep_any(const struct ipcx__waitv *v, unsigned n, ipcx__deadline d)
{
	ipcx__deadline slice = d;
	int r = n == 1 ? -ENOSYS : ipcx__futex_waitv(v, n, d);

	if (r == -ENOSYS) {
		if (n > 1 && d.at_ns - ipcx__now_ns() > 1000000)
			slice.at_ns = ipcx__now_ns() + 1000000;
		r = ipcx__futex_wait(v[0].word, v[0].expected, slice);
		if (r == -ETIMEDOUT && slice.at_ns != d.at_ns)
			r = 0;
	}
	/* An index, -EINTR (the caller re-checks and calls again with the same deadline), or
	 * a fault on a bad mapping: all are spurious wake-ups, bounded by the deadline. */
	return r == -ETIMEDOUT ? r : 0;
}

int ipcx__wait_any(struct ipcx__spin *sp, const struct ipcx__waitv *v, unsigned n,
                   _Atomic uint32_t *const *sleepers, ipcx__deadline d)
{
	struct words w = {v, n};
	int64_t start;
	int r;

	if (n == 0 || n > 8)
		return -EINVAL;
	r = spin_phase(sp, words_changed, &w, d);
	if (r != 0)
		return r > 0 ? 0 : r;
	start = ipcx__now_ns();
	/* seq_cst, as in ipcx__wait: each increment is visible before the kernel reads the
	 * words, pairing with the fence in ipcx__wake. */
	for (unsigned i = 0; i < n; i++)
		if (sleepers[i])
			atomic_fetch_add_explicit(sleepers[i], 1, memory_order_seq_cst);
	r = sleep_any(v, n, d);
	for (unsigned i = 0; i < n; i++)
		if (sleepers[i])
			atomic_fetch_sub_explicit(sleepers[i], 1, memory_order_relaxed);
	after_sleep(sp, start, r);
	return r;
}

int ipcx__wait_until(struct ipcx__spin *sp, bool (*ready)(void *arg), void *arg,
                     _Atomic uint32_t *word, _Atomic uint32_t *sleepers, ipcx__deadline d)
{
	int64_t start;
	uint32_t w;
	int r = spin_phase(sp, ready, arg, d);

	if (r != 0)
		return r > 0 ? 0 : r;
	start = ipcx__now_ns();
	/* seq_cst: the registration must be visible before the re-check below reads the
	 * condition; pairs with the fence in ipcx__wake_bump and ipcx__wake_all. */
	atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
	w = ipcx__sleep_mark(word);
	if (!(w & 1)) {
		/* Bumped since we registered: a wake-up for us, or one we would miss. */
		atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
		return 0;
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (ready(arg)) {
		atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
		return 0;
	}
	r = ipcx__futex_wait(word, w, d);
	atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
	after_sleep(sp, start, r);
	return r;
}

void ipcx__wake_bump_slow(_Atomic uint32_t *word, uint32_t count, int n)
{
	/* Release pairs with the sleeper's acquire read of the word. */
	atomic_fetch_add_explicit(word, 1, memory_order_release);
	wake_counted(word, count, n);
}

uint32_t ipcx__sleep_mark(_Atomic uint32_t *word)
{
	/* Acquire pairs with the waker's release bump: what it published before is seen. */
	uint32_t w = atomic_load_explicit(word, memory_order_acquire);

	if (w & 1)
		return w; /* marked by another sleeper, not woken since */
	/* seq_cst: after our registration and before our re-check in the single order, so a
	 * waker that sees the registration finds the mark (see ipcx__wake_all). */
	if (atomic_compare_exchange_strong_explicit(word, &w, w + 1, memory_order_seq_cst,
	                                            memory_order_acquire))
		return w + 1;
	return w; /* odd: another sleeper marked it; even: a waker bumped it */
}

void ipcx__wake_all_slow(_Atomic uint32_t *word, uint32_t count)
{
	uint32_t w = atomic_load_explicit(word, memory_order_relaxed);

	/* Descriptor watchers do not mark the word: each armed one is written its byte. */
	if (count >= IPCX__WATCH_ONE)
		ipcx__watch_fire(word);

	/* Even: every sleeper counted was woken after its mark (or is about to see the bump
	 * in its futex call). Odd: wake them all, once; a concurrent waker that wins the CAS
	 * does it for us. Bounded: a peer scribbling on the word cannot keep us here; past
	 * the bound we wake anyway (an extra wake-up is harmless). */
	for (int i = 0; w & 1; i++) {
		/* Release pairs with the sleeper's acquire read of the word in its mark. */
		if (atomic_compare_exchange_weak_explicit(word, &w, w + 1, memory_order_release,
		                                          memory_order_relaxed) ||
		    i == 64) {
			ipcx__futex_wake(word, INT32_MAX);
			return;
		}
	}
}
