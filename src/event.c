/* SPDX-License-Identifier: MIT */
/*
 * event: a named wait queue. The protocol (docs/event-mutex.md has the long version):
 *
 * seq is the futex word everybody sleeps on: bit 0 says set, the other 31 bits are the
 * broadcast generation. set and pulse move both in one compare-and-swap (a new generation,
 * with or without the set bit) and wake seq's sleepers; reset clears the bit alone. A waiter
 * that finds the event unset takes an entry of the waiter table: it locks the entry's robust
 * mutex (so the kernel releases it if the waiter dies), records its thread id and the
 * generation it saw, and marks the entry WAITING. It then waits until seq has the set bit
 * or a new generation, its entry left WAITING (a notify chose it), or the event was
 * removed, sleeping on seq and on its entry's state word at once (futex_waitv). Every waker
 * changes a word the waiter sleeps on before waking it, so no wake-up falls between the
 * waiter's check and its sleep.
 *
 * notify(n) walks the table and moves up to n WAITING entries of the current generation to
 * WOKEN with a compare-and-swap, waking each one's sleeper; the CAS is what makes the count
 * exact, since the waiter leaves only by moving its entry from WAITING to FREE itself. An
 * entry is chosen only while its mutex is held by the thread recorded in it (its lock word
 * carries that thread's id and no owner-died bit); an entry whose mutex notify can take is
 * one whose waiter died, and notify frees it instead of counting it.
 *
 * Signal registrations (event_signal.c) sit in a table after the waiter table; nsig, on
 * seq's cache line, counts them, so set and pulse look at the table only when it is not 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <ipcx/event.h>

#include "internal/event_signal.h"
#include "internal/obj.h"
#include "internal/robust.h"
#include "internal/source.h"
#include "internal/wait.h"

/* "ENT2": version 2 added the signal table (an "ENT1" event fails to open with -EBADMSG). */
#define EVENT_MAGIC 0x32544e45u
#define NENTRIES IPCX_EVENT_MAX_WAITERS

enum { ENTRY_FREE = 0, ENTRY_WAITING = 1, ENTRY_WOKEN = 2 };

struct entry {
	pthread_mutex_t m;         /* held by the waiter for as long as the entry is its */
	_Atomic uint32_t state;    /* ENTRY_*; a futex word the waiter sleeps on */
	_Atomic uint32_t sleeping; /* the waiter may be asleep on state */
	_Atomic uint32_t tid;      /* the waiter's thread id, from the lock word */
	uint32_t pad;
	_Atomic uint64_t gen; /* the generation (seq >> 1) the waiter registered under */
} __attribute__((aligned(64)));

struct body {
	uint32_t magic;
	uint32_t nentries;
	int32_t mutex_kind; /* glibc's kind word of every entry's mutex */
	uint32_t entry_size;
	uint8_t pad0[48];
	/* The futex word: bit 0 = set, bits 1-31 = generation, bumped by set and pulse (and by
	 * removal). Both change in one atomic step, so a waiter that sees a new generation and
	 * then resets the event cannot be overtaken by the set bit of the broadcast it saw. */
	_Atomic uint32_t seq;
	_Atomic uint32_t sleepers; /* waiters asleep on seq */
	uint64_t reserved;
	_Atomic uint32_t claimed; /* hint: entries in use; 0 lets notify return at once */
	_Atomic uint32_t hiwater; /* hint: entries ever used; bounds every scan */
	_Atomic uint32_t cursor;  /* where the next notify starts its scan */
	_Atomic uint32_t nsig;    /* hint: signal registrations; 0 keeps set and pulse quick */
	uint8_t pad1[32];
	struct entry e[NENTRIES];
	struct ipcx__evsig sig[IPCX_EVENT_MAX_SIGNALS];
};

_Static_assert(sizeof(struct entry) % 64 == 0, "entries fill whole cache lines");
_Static_assert(offsetof(struct body, seq) == 64, "layout");
_Static_assert(offsetof(struct body, e) == 128, "layout");
_Static_assert(offsetof(struct body, sleepers) == offsetof(struct body, seq) + 4,
               "a watched word's count follows it (internal/watch.h)");
_Static_assert(offsetof(struct body, nsig) == 92, "on seq's cache line");
_Static_assert(offsetof(struct body, sig) == 128 + 64 * NENTRIES, "layout");

struct ipcx_event {
	struct ipcx__obj obj;
	struct body *b;
	_Atomic uint32_t mode;
	_Atomic uint32_t budget; /* the adaptive spin budget, shared by this handle's waits */
	/* This handle's signal registration: entry sig_idx, valid in process sig_who only (a
	 * forked child's copy has none). Guarded by sig_lock. */
	pthread_mutex_t sig_lock;
	int sig_idx;
	uint64_t sig_who;
	struct ipcx__evsig_counts sigc; /* what this handle's set and pulse sent */
};

static struct ipcx__evsig_table sig_table(ipcx_event *ev)
{
	return (struct ipcx__evsig_table){ev->b->sig, &ev->b->nsig, ev->obj.file,
	                                  (uint64_t)(uintptr_t)ev->obj.hdr};
}

static int event_validate(const void *body, uint64_t size)
{
	const struct body *b = body;
	int kind = ipcx__robust_kind();

	if (size != sizeof(*b) || b->magic != EVENT_MAGIC || b->nentries != NENTRIES ||
	    b->entry_size != sizeof(struct entry) || b->mutex_kind != kind)
		return -EBADMSG;
	for (unsigned i = 0; i < NENTRIES; i++)
		if (!ipcx__robust_ok(&b->e[i].m))
			return -EBADMSG;
	return 0;
}

/* Wakes everyone: the object layer has marked the event removed before calling this. */
static void event_on_remove(void *body, uint64_t size)
{
	struct body *b = body;

	if (size < sizeof(*b))
		return;
	/* Release pairs with the waiter's acquire load of seq, after which it reads the
	 * removed flag the object layer stored before calling us. */
	atomic_fetch_add_explicit(&b->seq, 2, memory_order_release);
	ipcx__futex_wake(&b->seq, INT32_MAX);
}

const struct ipcx__kind ipcx__event_kind = {IPCX_KIND_EVENT, "event", event_validate,
                                            event_on_remove};

static int event_init(void *body, uint64_t size, const void *arg)
{
	struct body *b = body;
	int r;

	b->magic = EVENT_MAGIC;
	b->nentries = NENTRIES;
	b->entry_size = sizeof(struct entry);
	b->mutex_kind = ipcx__robust_kind();
	for (unsigned i = 0; i < NENTRIES; i++) {
		r = ipcx__robust_init(&b->e[i].m);
		if (r < 0)
			return r;
	}
	return 0;
}

int ipcx_event_open(const char *name, unsigned flags, mode_t mode, ipcx_event **ret_event)
{
	ipcx_event *ev;
	int r;

	if (!ret_event)
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	r = ipcx__obj_open(&ev->obj, &ipcx__event_kind, name, flags, mode, sizeof(struct body),
	                   event_init, NULL);
	if (r < 0) {
		free(ev);
		return r;
	}
	ev->b = ev->obj.body;
	atomic_init(&ev->mode, IPCX__WAIT_ADAPTIVE);
	atomic_init(&ev->budget, IPCX__SPIN_START_NS);
	pthread_mutex_init(&ev->sig_lock, NULL);
	ev->sig_idx = -1;
	*ret_event = ev;
	return r;
}

void ipcx_event_close(ipcx_event *ev)
{
	if (!ev)
		return;
	ipcx_event_signal_unregister(ev);
	pthread_mutex_destroy(&ev->sig_lock);
	ipcx__obj_close(&ev->obj);
	free(ev);
}

int ipcx_event_set_wait(ipcx_event *ev, unsigned mode)
{
	if (!ev || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	atomic_store_explicit(&ev->mode, mode, memory_order_relaxed);
	return 0;
}

/* Raises hiwater to at least v; a bounded CAS loop since hiwater only grows. */
static void raise_hiwater(struct body *b, uint32_t v)
{
	uint32_t cur = atomic_load_explicit(&b->hiwater, memory_order_relaxed);

	for (int i = 0; i < 64 && cur < v; i++)
		if (atomic_compare_exchange_weak_explicit(
		            &b->hiwater, &cur, v, memory_order_relaxed, memory_order_relaxed))
			return;
}

/*
 * Takes entry i if its mutex can be had. Returns the entry, or NULL. With stale set, an
 * entry left in use by a dead waiter is taken too.
 */
static struct entry *take(struct body *b, unsigned i, bool stale)
{
	struct entry *e = &b->e[i];
	uint32_t s = atomic_load_explicit(&e->state, memory_order_relaxed);
	int r;

	if (s != ENTRY_FREE && !stale)
		return NULL;
	r = ipcx__robust_trylock(&e->m);
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&e->m); /* a waiter or a notify died holding it */
	else if (r != 0)
		return NULL;
	s = atomic_load_explicit(&e->state, memory_order_relaxed);
	if (s != ENTRY_FREE) {
		if (!stale) { /* a peer scribbled on it; leave it alone */
			pthread_mutex_unlock(&e->m);
			return NULL;
		}
		/* Its waiter died: the entry is ours now, and its old claim goes. */
		atomic_store_explicit(&e->state, ENTRY_FREE, memory_order_relaxed);
		atomic_fetch_sub_explicit(&b->claimed, 1, memory_order_relaxed);
	}
	return e;
}

/* Finds and locks a free entry, and publishes it as WAITING under generation g. */
static struct entry *claim(ipcx_event *ev, uint64_t *ret_gen)
{
	struct body *b = ev->b;
	unsigned start = (ev->obj.slot * 4u) % NENTRIES;
	struct entry *e = NULL;
	uint32_t tid;

	for (int pass = 0; pass < 2 && !e; pass++)
		for (unsigned k = 0; k < NENTRIES && !e; k++) {
			unsigned i = (start + k) % NENTRIES;

			e = take(b, i, pass == 1);
			if (e)
				raise_hiwater(b, i + 1);
		}
	if (!e)
		return NULL;
	/* Our thread id, as glibc wrote it into the lock word we now hold. */
	tid = ipcx__robust_word(&e->m) & IPCX__FUTEX_TID_MASK;
	atomic_store_explicit(&e->tid, tid, memory_order_relaxed);
	atomic_store_explicit(&e->sleeping, 0, memory_order_relaxed);
	/* seq_cst increment before the entry is published: a notify that finds claimed == 0
	 * cannot have missed a waiter that was WAITING before it started. */
	atomic_fetch_add_explicit(&b->claimed, 1, memory_order_seq_cst);
	*ret_gen = atomic_load_explicit(&b->seq, memory_order_seq_cst) >> 1;
	atomic_store_explicit(&e->gen, *ret_gen, memory_order_relaxed);
	/* Release pairs with notify's acquire load of state: it sees tid and gen. seq_cst, so
	 * that a notify either sees WAITING or started before we did. */
	atomic_store_explicit(&e->state, ENTRY_WAITING, memory_order_seq_cst);
	return e;
}

/* Gives the entry back. Returns the wait's result: 0 whenever a notify chose this waiter. */
static int release(struct body *b, struct entry *e, int r)
{
	uint32_t s = ENTRY_WAITING;

	if (!atomic_compare_exchange_strong_explicit(&e->state, &s, ENTRY_FREE,
	                                             memory_order_acq_rel, memory_order_acquire)) {
		/* A notify counted us: we must return as woken, whatever else happened. */
		if (s == ENTRY_WOKEN)
			r = 0;
		atomic_store_explicit(&e->state, ENTRY_FREE, memory_order_relaxed);
	}
	atomic_fetch_sub_explicit(&b->claimed, 1, memory_order_relaxed);
	pthread_mutex_unlock(&e->m);
	return r;
}

static int wait_registered(ipcx_event *ev, struct entry *e, uint64_t gen, ipcx__deadline d)
{
	struct body *b = ev->b;
	struct ipcx__spin sp = {
	        .mode = atomic_load_explicit(&ev->mode, memory_order_relaxed),
	        .budget_ns = atomic_load_explicit(&ev->budget, memory_order_relaxed),
	};
	_Atomic uint32_t *sleepers[2] = {&b->sleepers, &e->sleeping};
	int r = 0;

	for (;;) {
		/* Acquire pairs with the release change of seq by set, pulse and on_remove. */
		uint32_t s = atomic_load_explicit(&b->seq, memory_order_acquire);
		struct ipcx__waitv v[2] = {{&b->seq, s}, {&e->state, ENTRY_WAITING}};

		if (atomic_load_explicit(&e->state, memory_order_acquire) != ENTRY_WAITING)
			break; /* chosen by a notify */
		if (ipcx__obj_removed(&ev->obj)) {
			r = -EIDRM;
			break;
		}
		if ((s & 1) || (s >> 1) != gen)
			break; /* set or pulsed since we registered */
		r = ipcx__wait_any(&sp, v, 2, sleepers, d);
		if (r < 0)
			break;
	}
	atomic_store_explicit(&ev->budget, sp.budget_ns, memory_order_relaxed);
	return r;
}

int ipcx_event_wait(ipcx_event *ev, int64_t timeout_ns)
{
	struct entry *e;
	uint64_t gen;
	int r;

	if (!ev)
		return -EINVAL;
	if (ipcx__obj_removed(&ev->obj))
		return -EIDRM;
	/* Acquire pairs with the release change of seq in set. */
	if (atomic_load_explicit(&ev->b->seq, memory_order_acquire) & 1)
		return 0;
	if (timeout_ns == 0)
		return -EAGAIN;
	ipcx__deadline d = ipcx__deadline_in(timeout_ns);
	e = claim(ev, &gen);
	if (!e)
		return -EUSERS;
	r = wait_registered(ev, e, gen, d);
	return release(ev->b, e, r);
}

/*
 * Starts a new generation, with the set bit or without, in one step. Release pairs with the
 * waiter's acquire load of seq. Bounded: each failure means another process changed seq.
 * After too many failures (a peer flipping seq on purpose) the two changes are made one
 * after the other, in the order that still wakes every waiter.
 */
static void new_generation(struct body *b, bool set)
{
	uint32_t s = atomic_load_explicit(&b->seq, memory_order_relaxed);

	for (int i = 0; i < 1000; i++) {
		uint32_t n = ((s + 2) & ~1u) | (set ? 1u : 0u);
		if (atomic_compare_exchange_weak_explicit(&b->seq, &s, n, memory_order_seq_cst,
		                                          memory_order_relaxed))
			return;
	}
	if (set) {
		atomic_fetch_or_explicit(&b->seq, 1, memory_order_seq_cst);
		atomic_fetch_add_explicit(&b->seq, 2, memory_order_seq_cst);
	} else {
		atomic_fetch_add_explicit(&b->seq, 2, memory_order_seq_cst);
		atomic_fetch_and_explicit(&b->seq, ~1u, memory_order_seq_cst);
	}
}

static int broadcast(ipcx_event *ev, bool set)
{
	if (!ev)
		return -EINVAL;
	new_generation(ev->b, set);
	ipcx__wake(&ev->b->seq, &ev->b->sleepers, INT32_MAX);
	/* Relaxed, but after the seq_cst fence in ipcx__wake: pairs with the seq_cst increment
	 * of a registration, which is therefore seen by every set that starts after it. */
	if (atomic_load_explicit(&ev->b->nsig, memory_order_relaxed) != 0)
		ipcx__evsig_fire(sig_table(ev), &ev->sigc);
	return 0;
}

int ipcx_event_set(ipcx_event *ev)
{
	/* Setting a set event changes nothing: no one can be waiting under it. Acquire pairs
	 * with the release of the set that set it. */
	if (ev && (atomic_load_explicit(&ev->b->seq, memory_order_acquire) & 1))
		return 0;
	return broadcast(ev, true);
}

int ipcx_event_pulse(ipcx_event *ev)
{
	return broadcast(ev, false);
}

int ipcx_event_reset(ipcx_event *ev)
{
	if (!ev)
		return -EINVAL;
	/* Nobody sleeps on a set value of seq (waiters return when they see the bit), so
	 * clearing it needs no wake-up. */
	atomic_fetch_and_explicit(&ev->b->seq, ~1u, memory_order_release);
	return 0;
}

/* True when e's mutex is held by the thread recorded in it, a live one. */
static bool held_by_waiter(struct entry *e)
{
	uint32_t w = ipcx__robust_word(&e->m);
	uint32_t tid = atomic_load_explicit(&e->tid, memory_order_relaxed);

	return tid != 0 && (w & IPCX__FUTEX_TID_MASK) == tid && !(w & IPCX__FUTEX_OWNER_DIED);
}

/* Frees an entry whose holder is gone; called with its mutex taken by trylock (r). */
static void reclaim(struct body *b, struct entry *e, int r)
{
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&e->m);
	if (atomic_load_explicit(&e->state, memory_order_relaxed) != ENTRY_FREE) {
		atomic_store_explicit(&e->state, ENTRY_FREE, memory_order_relaxed);
		atomic_fetch_sub_explicit(&b->claimed, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&e->m);
}

/* Looks at entry e for notify: returns 1 when it chose and woke its waiter, else 0. */
static int notify_one(struct body *b, struct entry *e, uint64_t gen)
{
	uint32_t s = ENTRY_WAITING;
	uint32_t st;
	int r;

	/* Acquire pairs with the release publishing WAITING in claim: tid and gen are read
	 * after it. */
	st = atomic_load_explicit(&e->state, memory_order_acquire);
	if (st == ENTRY_FREE)
		return 0;
	if (st != ENTRY_WAITING || atomic_load_explicit(&e->gen, memory_order_relaxed) != gen) {
		/* Chosen by a notify, or woken by a set or pulse already: on its way out. If
		 * its waiter died before leaving, free its place now. */
		if (!(ipcx__robust_word(&e->m) & IPCX__FUTEX_OWNER_DIED))
			return 0;
		r = ipcx__robust_trylock(&e->m);
		if (r == 0 || r == EOWNERDEAD)
			reclaim(b, e, r); /* it re-reads the state under the mutex */
		return 0;
	}
	r = ipcx__robust_trylock(&e->m);
	if (r == EBUSY || r == EDEADLK) {
		if (!held_by_waiter(e))
			return 0; /* held by someone reclaiming it */
		if (!atomic_compare_exchange_strong_explicit(
		            &e->state, &s, ENTRY_WOKEN, memory_order_seq_cst, memory_order_relaxed))
			return 0; /* it left first */
		ipcx__wake(&e->state, &e->sleeping, 1);
		return 1;
	}
	if (r == 0 || r == EOWNERDEAD)
		reclaim(b, e, r); /* nobody holds it: its waiter died; free it, do not count it */
	return 0;
}

int ipcx_event_notify(ipcx_event *ev, unsigned n)
{
	struct body *b;
	uint32_t lim, start;
	uint64_t gen;
	unsigned woken = 0;

	if (!ev)
		return -EINVAL;
	b = ev->b;
	if (n == 0 || atomic_load_explicit(&b->claimed, memory_order_seq_cst) == 0)
		return 0;
	if (n > INT_MAX)
		n = INT_MAX;
	lim = atomic_load_explicit(&b->hiwater, memory_order_relaxed);
	if (lim > NENTRIES)
		lim = NENTRIES; /* a hint from shared memory: bound it */
	if (lim == 0)
		return 0;
	start = atomic_fetch_add_explicit(&b->cursor, 1, memory_order_relaxed) % lim;
	gen = atomic_load_explicit(&b->seq, memory_order_seq_cst) >> 1;
	for (uint32_t k = 0; k < lim && woken < n; k++)
		woken += (unsigned)notify_one(b, &b->e[(start + k) % lim], gen);
	return (int)woken;
}

int ipcx_event_get_state(ipcx_event *ev, struct ipcx_event_state *ret_state)
{
	struct ipcx_event_state st = {0};
	struct body *b;
	uint64_t gen;
	uint32_t lim;

	if (!ev || !ret_state)
		return -EINVAL;
	b = ev->b;
	gen = atomic_load_explicit(&b->seq, memory_order_acquire);
	st.set = gen & 1;
	gen >>= 1;
	st.removed = ipcx__obj_removed(&ev->obj);
	lim = atomic_load_explicit(&b->hiwater, memory_order_relaxed);
	if (lim > NENTRIES)
		lim = NENTRIES;
	for (uint32_t i = 0; i < lim; i++) {
		struct entry *e = &b->e[i];
		uint32_t s = atomic_load_explicit(&e->state, memory_order_acquire);

		if (s == ENTRY_FREE)
			continue;
		if (ipcx__robust_word(&e->m) & IPCX__FUTEX_OWNER_DIED)
			st.dead++;
		else if (s == ENTRY_WAITING && held_by_waiter(e) &&
		         atomic_load_explicit(&e->gen, memory_order_relaxed) == gen)
			st.waiters++;
	}
	*ret_state = st;
	return 0;
}

int ipcx_event_signal_register(ipcx_event *ev, int signo, void *value)
{
	uint64_t self = ipcx__proc_self();
	int r, idx;

	if (!ev || !ipcx__rt_signal_ok(signo))
		return -EINVAL;
	if (ipcx__obj_removed(&ev->obj))
		return -EIDRM;
	pthread_mutex_lock(&ev->sig_lock);
	idx = ev->sig_who == self ? ev->sig_idx : -1;
	r = ipcx__evsig_register(sig_table(ev), self, &idx, signo, (uint64_t)(uintptr_t)value);
	if (r == 0) {
		ev->sig_idx = idx;
		ev->sig_who = self;
	}
	pthread_mutex_unlock(&ev->sig_lock);
	return r;
}

int ipcx_event_signal_unregister(ipcx_event *ev)
{
	uint64_t self;
	int r = -ENOENT;

	if (!ev)
		return -EINVAL;
	self = ipcx__proc_self();
	pthread_mutex_lock(&ev->sig_lock);
	if (ev->sig_idx >= 0 && ev->sig_who == self) {
		ipcx__evsig_unregister(sig_table(ev), self, ev->sig_idx);
		ev->sig_idx = -1;
		ev->sig_who = 0;
		r = 0;
	}
	pthread_mutex_unlock(&ev->sig_lock);
	return r;
}

int ipcx_event_signal_stats(ipcx_event *ev, struct ipcx_event_signal_stats *ret_stats)
{
	struct ipcx_event_signal_stats st = {0};

	if (!ev || !ret_stats)
		return -EINVAL;
	ipcx__evsig_census(sig_table(ev), &st.registered, &st.dead);
	st.sent = atomic_load_explicit(&ev->sigc.sent, memory_order_relaxed);
	st.denied = atomic_load_explicit(&ev->sigc.denied, memory_order_relaxed);
	st.gone = atomic_load_explicit(&ev->sigc.gone, memory_order_relaxed);
	st.dropped = atomic_load_explicit(&ev->sigc.dropped, memory_order_relaxed);
	st.unverified = atomic_load_explicit(&ev->sigc.unverified, memory_order_relaxed);
	*ret_stats = st;
	return 0;
}

/* ---- wait-sets and descriptors (internal/source.h) ---- */

static int event_ready(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
                       bool consume)
{
	ipcx_event *ev = h;
	uint32_t s;

	(void)ops;
	(void)nops;
	if (ipcx__obj_removed(&ev->obj))
		return -EIDRM;
	/* Acquire pairs with the release change of seq in set and pulse. */
	s = atomic_load_explicit(&ev->b->seq, memory_order_acquire);
	if (!(s & 1) && (s >> 1) == *snap)
		return 0;
	if (consume)
		*snap = s >> 1;
	return 1;
}

void ipcx__event_source(ipcx_event *ev, struct ipcx__source *ret)
{
	ret->obj = &ev->obj;
	ret->word = &ev->b->seq;
	ret->marked = false;
	ret->sleepers = &ev->b->sleepers;
	ret->ready = event_ready;
	ret->stuck = NULL;
	ret->recover = NULL;
	ret->snap = atomic_load_explicit(&ev->b->seq, memory_order_acquire) >> 1;
}
