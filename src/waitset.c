/* SPDX-License-Identifier: MIT */
/*
 * Wait-sets and pollable descriptors, both built on the kinds' sources (internal/source.h).
 *
 * A blocking wait registers in every member's sleepers count, reads every member's futex
 * word, checks every member's condition, and sleeps in futex_waitv on the words: a waker
 * of any member either changed its word (the kernel sees it differ) or was seen by the
 * check. A descriptor is a FIFO registered in each member object's watch table
 * (internal/watch.h); arming a member adds a watcher to its sleepers count, and the waker
 * writes the FIFO a byte.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/waitset.h>

#include "internal/semset.h"
#include "internal/source.h"
#include "internal/wait.h"
#include "internal/watch.h"

struct member {
	void *h;
	struct ipcx__source src;
	uint64_t snap;
	struct ipcx_sembuf *ops; /* a semset member's operation (a copy) */
	size_t nops;
	void *cookie;
	int watch;               /* the member's entry in its object's watch table, -1 when none */
	bool drained;            /* the descriptor was drained since the entry was seen FIRED */
	int64_t next_recover_ns; /* when a stuck member may next look for the dead */
};

struct ipcx_waitset {
	struct member *m;
	unsigned n, cap;
	uint64_t who; /* the creating process: a forked child's copy is not its own */
	int fd;       /* the descriptor, -1 until asked for */
	uint32_t nonce;
	bool has_semset;
	bool poked;   /* we wrote ourselves a byte not drained yet */
	bool skipped; /* the last drain was skipped (see drain) */
	struct ipcx__spin spin;
};

/*
 * A semset member's waits sleep in slices this long while a process holds UNDO, so that a
 * dead process's adjustments are applied (by the check) as a blocked operation would; and a
 * stuck member (a dead peer's step in the way, see internal/source.h) is recovered at most
 * this often, sleeping in slices meanwhile, as a blocked receive does.
 */
#define SEM_SLICE_NS 10000000ll
#define RECOVER_NS 10000000ll

static _Atomic uint32_t next_nonce;

int ipcx_waitset_create(ipcx_waitset **ret_ws)
{
	ipcx_waitset *ws;

	if (!ret_ws)
		return -EINVAL;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->who = ipcx__proc_self();
	ws->fd = -1;
	ipcx__spin_init(&ws->spin, IPCX__WAIT_ADAPTIVE);
	*ret_ws = ws;
	return 0;
}

static bool mine(const ipcx_waitset *ws)
{
	return ws->who == ipcx__proc_self();
}

static void unwatch(ipcx_waitset *ws, struct member *m)
{
	if (m->watch < 0)
		return;
	if (ipcx__watch_mine(m->src.obj->hdr, m->watch, ws->who, ws->nonce))
		ipcx__watch_release(m->src.obj->hdr, m->watch, m->src.sleepers);
	m->watch = -1;
}

void ipcx_waitset_destroy(ipcx_waitset *ws)
{
	if (!ws)
		return;
	/* A forked child's copy: the entries and the FIFO's name are its parent's. */
	for (unsigned i = 0; i < ws->n; i++) {
		if (mine(ws))
			unwatch(ws, &ws->m[i]);
		free(ws->m[i].ops);
	}
	if (ws->fd >= 0) {
		char name[IPCX__WATCH_NAME_MAX];

		if (mine(ws)) {
			ipcx__watch_name(name, ws->who, ws->nonce);
			ipcx__fifo_unlink(name);
		}
		ipcx__close(ws->fd);
	}
	free(ws->m);
	free(ws);
}

int ipcx_waitset_set_wait(ipcx_waitset *ws, unsigned mode)
{
	if (!ws || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	ws->spin.mode = mode;
	return 0;
}

int ipcx_waitset_size(const ipcx_waitset *ws)
{
	return ws ? (int)ws->n : -EINVAL;
}

static int check(struct member *m, bool consume)
{
	return m->src.ready(m->h, &m->snap, m->ops, m->nops, consume);
}

/* Writes our own FIFO a byte: the descriptor becomes readable now. */
static void poke_self(ipcx_waitset *ws)
{
	ipcx__fifo_poke(ws->fd);
	ws->poked = true;
}

/*
 * Empties the descriptor, skipping the system call when no byte can be queued for us:
 * nothing poked, and no entry fired since we last drained. A byte that arrives late (a
 * waker that fired our entry and sent after our drain) or from some other process is
 * taken by the next drain, which never skips twice in a row: at most one spurious
 * readiness.
 */
static void drain(ipcx_waitset *ws)
{
	bool need = ws->poked || ws->skipped;

	for (unsigned i = 0; i < ws->n && !need; i++) {
		struct member *m = &ws->m[i];

		need = m->watch >= 0 && !m->drained &&
		       atomic_load_explicit(&ipcx__watch_table(m->src.obj->hdr)->w[m->watch].state,
		                            memory_order_relaxed) != IPCX__WATCH_ARMED;
	}
	ws->skipped = !need;
	if (!need)
		return;
	ipcx__fifo_drain(ws->fd);
	ws->poked = false;
	for (unsigned i = 0; i < ws->n; i++)
		ws->m[i].drained = true;
}

static int watch(ipcx_waitset *ws, struct member *m)
{
	struct ipcx__hdr *h = m->src.obj->hdr;
	uint32_t off = (uint32_t)((char *)m->src.word - (char *)h);
	int r = ipcx__watch_claim(h, m->src.obj->map_size, ws->who, ws->nonce, off);

	if (r < 0)
		return r;
	m->watch = r;
	return 0;
}

/* Arms the member's entry; the caller checks the condition afterwards. */
static void arm(ipcx_waitset *ws, struct member *m)
{
	if (m->watch >= 0 && ipcx__watch_mine(m->src.obj->hdr, m->watch, ws->who, ws->nonce) &&
	    ipcx__watch_arm(m->src.obj->hdr, m->watch, m->src.sleepers))
		m->drained = false;
}

/* Makes the FIFO and registers every member. */
static int make_fd(ipcx_waitset *ws)
{
	char name[IPCX__WATCH_NAME_MAX];
	int fd = -EEXIST, r;

	/* The nonce starts from the clock so that a process that execs (same identity) does
	 * not reuse its earlier image's names; a clash is retried with the next one. */
	if (atomic_load_explicit(&next_nonce, memory_order_relaxed) == 0)
		atomic_store_explicit(&next_nonce, (uint32_t)ipcx__now_ns() | 1,
		                      memory_order_relaxed);
	for (int i = 0; i < 16 && fd == -EEXIST; i++) {
		ws->nonce = atomic_fetch_add_explicit(&next_nonce, 1, memory_order_relaxed);
		ipcx__watch_name(name, ws->who, ws->nonce);
		fd = ipcx__fifo_make(name);
	}
	if (fd < 0)
		return fd;
	ws->fd = fd;
	for (unsigned i = 0; i < ws->n; i++) {
		r = watch(ws, &ws->m[i]);
		if (r < 0) {
			for (unsigned k = 0; k < i; k++)
				unwatch(ws, &ws->m[k]);
			ipcx__fifo_unlink(name);
			ipcx__close(fd);
			ws->fd = -1;
			return r;
		}
	}
	return 0;
}

/* Arms every member, then checks them all: true when one is ready (or removed). */
static bool arm_all(ipcx_waitset *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		arm(ws, &ws->m[i]);
	for (unsigned i = 0; i < ws->n; i++)
		if (check(&ws->m[i], false) != 0)
			return true;
	return false;
}

int ipcx_waitset_fd(ipcx_waitset *ws)
{
	int r;

	if (!ws)
		return -EINVAL;
	if (!mine(ws))
		return -ECHILD;
	if (ws->fd >= 0)
		return ws->fd;
	r = make_fd(ws);
	if (r < 0)
		return r;
	if (arm_all(ws))
		poke_self(ws);
	return ws->fd;
}

static int add(ipcx_waitset *ws, void *h, const struct ipcx__source *src,
               const struct ipcx_sembuf *ops, size_t nops, void *cookie)
{
	struct member *m;
	int r;

	if (!mine(ws))
		return -ECHILD;
	if (ws->n >= IPCX_WAITSET_MAX)
		return -E2BIG;
	if (ws->n == ws->cap) {
		unsigned nc = ws->cap ? 2 * ws->cap : 8;
		struct member *p = realloc(ws->m, nc * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ws->m = p;
		ws->cap = nc;
	}
	assert(src->sleepers == src->word + 1);
	m = &ws->m[ws->n];
	memset(m, 0, sizeof(*m));
	m->h = h;
	m->src = *src;
	m->snap = src->snap;
	m->cookie = cookie;
	m->watch = -1;
	if (nops) {
		m->ops = malloc(nops * sizeof(*ops));
		if (!m->ops)
			return -ENOMEM;
		memcpy(m->ops, ops, nops * sizeof(*ops));
		m->nops = nops;
	}
	if (ws->fd >= 0) {
		r = watch(ws, m);
		if (r < 0) {
			free(m->ops);
			return r;
		}
		arm(ws, m);
		if (check(m, false) != 0)
			poke_self(ws);
	}
	return (int)ws->n++;
}

int ipcx_waitset_add_event(ipcx_waitset *ws, ipcx_event *ev, void *cookie)
{
	struct ipcx__source src;

	if (!ws || !ev)
		return -EINVAL;
	ipcx__event_source(ev, &src);
	return add(ws, ev, &src, NULL, 0, cookie);
}

int ipcx_waitset_add_region(ipcx_waitset *ws, ipcx_region *r, uint64_t last_seen, void *cookie)
{
	struct ipcx__source src;

	if (!ws || !r)
		return -EINVAL;
	ipcx__region_source(r, last_seen, &src);
	return add(ws, r, &src, NULL, 0, cookie);
}

int ipcx_waitset_add_chan(ipcx_waitset *ws, ipcx_chan *c, void *cookie)
{
	struct ipcx__source src;

	if (!ws || !c)
		return -EINVAL;
	ipcx__chan_source(c, &src);
	return add(ws, c, &src, NULL, 0, cookie);
}

int ipcx_waitset_add_topic(ipcx_waitset *ws, ipcx_topic *t, void *cookie)
{
	struct ipcx__source src;

	if (!ws || !t || ipcx__topic_source(t, &src) < 0)
		return -EINVAL;
	return add(ws, t, &src, NULL, 0, cookie);
}

int ipcx_waitset_add_semset(ipcx_waitset *ws, ipcx_semset *s, const struct ipcx_sembuf *ops,
                            size_t nops, void *cookie)
{
	struct ipcx__source src;
	int r;

	if (!ws || !s || !ops)
		return -EINVAL;
	/* Validates the operation as ipcx_semset_op would (a removed set is still added, and
	 * reported as such). */
	r = ipcx__sem_would_succeed(s, ops, nops);
	if (r < 0 && r != -EIDRM)
		return r;
	ipcx__semset_source(s, &src);
	r = add(ws, s, &src, ops, nops, cookie);
	if (r >= 0)
		ws->has_semset = true;
	return r;
}

int ipcx_waitset_remove(ipcx_waitset *ws, const void *handle)
{
	unsigned k = 0, gone = 0;

	if (!ws || !handle)
		return -EINVAL;
	for (unsigned i = 0; i < ws->n; i++) {
		struct member *m = &ws->m[i];

		if (m->h == handle) {
			if (mine(ws))
				unwatch(ws, m);
			free(m->ops);
			gone++;
			continue;
		}
		ws->m[k++] = *m;
	}
	ws->n = k;
	return gone ? (int)gone : -ENOENT;
}

/*
 * Reports up to cap ready members, taking their edges. Returns how many. With light, a
 * semset member is skipped: its check takes the set's lock, too much for every spin.
 */
static int collect_some(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap, bool light)
{
	size_t k = 0;

	for (unsigned i = 0; i < ws->n && k < cap; i++) {
		int r;

		if (light && ws->m[i].nops)
			continue;
		r = check(&ws->m[i], true);
		if (r == 0)
			continue;
		ret[k].cookie = ws->m[i].cookie;
		ret[k].status = r < 0 ? r : 0;
		ret[k].index = i;
		k++;
	}
	return (int)k;
}

static int collect(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap)
{
	return collect_some(ws, ret, cap, false);
}

/* Spins on the members for the budget (see internal/wait.h). Returns a count or 0. */
static int spin(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap, ipcx__deadline d)
{
	int64_t until;
	int k;

	if (ws->spin.mode == IPCX__WAIT_SLEEP)
		return 0;
	until = ws->spin.mode == IPCX__WAIT_SPIN ? d.at_ns : ipcx__now_ns() + ws->spin.budget_ns;
	if (until > d.at_ns)
		until = d.at_ns;
	/* One pause between looks, so the ready member is seen within a few dozen ns; the
	 * clock every 8 looks, semaphore sets every 64 (see collect_some). */
	for (unsigned i = 1;; i++) {
		ipcx__cpu_relax();
		k = collect_some(ws, ret, cap, i % 64 != 0);
		if (k)
			return k;
		if (i % 8 == 0 && ipcx__now_ns() >= until)
			return 0;
	}
}

/*
 * Recovers a stuck member from a dead peer, at most every RECOVER_NS. Returns true when the
 * member is stuck (so the caller sleeps in slices).
 */
static bool recover(struct member *m)
{
	int64_t now;

	if (!m->src.stuck || !m->src.stuck(m->h))
		return false;
	now = ipcx__now_ns();
	if (now >= m->next_recover_ns) {
		m->next_recover_ns = now + RECOVER_NS;
		m->src.recover(m->h);
	}
	return true;
}

/* A semset member's sleep is sliced while UNDO tables exist (see SEM_SLICE_NS), and any
 * sleep while a member is stuck (see recover). */
static ipcx__deadline slice_of(ipcx_waitset *ws, ipcx__deadline d)
{
	ipcx__deadline s = d;
	bool stuck = false;

	for (unsigned i = 0; i < ws->n; i++)
		stuck |= recover(&ws->m[i]);
	if (stuck) {
		s.at_ns = ipcx__now_ns() + RECOVER_NS;
		return s.at_ns < d.at_ns ? s : d;
	}
	if (!ws->has_semset)
		return d;
	for (unsigned i = 0; i < ws->n; i++) {
		struct ipcx_semset *sem = ws->m[i].h;

		if (ws->m[i].nops &&
		    atomic_load_explicit(&sem->b->undo_tables, memory_order_relaxed) != 0) {
			s.at_ns = ipcx__now_ns() + SEM_SLICE_NS;
			return s.at_ns < d.at_ns ? s : d;
		}
	}
	return d;
}

/*
 * One sleep on every member's word. Returns a count of ready members, 0 after a wake-up
 * (the caller looks again), -ETIMEDOUT, or -ENOSYS without futex_waitv.
 */
static int sleep_futex(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap,
                       ipcx__deadline d)
{
	struct ipcx__waitv v[IPCX_WAITSET_MAX_FUTEX];
	ipcx__deadline sd = slice_of(ws, d);
	int64_t start = ipcx__now_ns();
	bool woken = false;
	int k, r;

	/* Registration, then the words, then the check (internal/source.h): seq_cst pairs
	 * with the waker's fence between its change and its read of the count. */
	for (unsigned i = 0; i < ws->n; i++)
		atomic_fetch_add_explicit(ws->m[i].src.sleepers, IPCX__SHARED_ONE,
		                          memory_order_seq_cst);
	for (unsigned i = 0; i < ws->n; i++) {
		v[i].word = ws->m[i].src.word;
		if (ws->m[i].src.marked) {
			/* A wake-all word: its waker wakes only a marked (odd) word. An even
			 * value back means a wake-up came since we registered: look again. */
			v[i].expected = ipcx__sleep_mark(v[i].word);
			woken |= !(v[i].expected & 1);
		} else {
			/* Acquire pairs with the waker's release change of the word. */
			v[i].expected = atomic_load_explicit(v[i].word, memory_order_acquire);
		}
	}
	atomic_thread_fence(memory_order_seq_cst);
	k = collect(ws, ret, cap);
	r = k || woken ? 0 : ipcx__futex_waitv(v, ws->n, sd);
	for (unsigned i = 0; i < ws->n; i++)
		atomic_fetch_sub_explicit(ws->m[i].src.sleepers, IPCX__SHARED_ONE,
		                          memory_order_relaxed);
	if (k)
		return k;
	if (r == -ENOSYS)
		return r;
	if (ws->spin.mode == IPCX__WAIT_ADAPTIVE && r >= 0)
		ipcx__spin_adapt(&ws->spin, ipcx__now_ns() - start);
	if (r == -ETIMEDOUT && sd.at_ns == d.at_ns)
		return -ETIMEDOUT;
	return 0; /* a wake-up, a signal, or the end of a slice: look again */
}

/* Arms every member and sleeps in poll() on the descriptor until one is ready. */
static int sleep_fd(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap, ipcx__deadline d)
{
	int k, r;

	if (ws->fd < 0) {
		r = make_fd(ws);
		if (r < 0)
			return r;
	}
	for (;;) {
		drain(ws);
		arm_all(ws);
		k = collect(ws, ret, cap);
		if (k)
			return k;
		r = ipcx__poll_in(ws->fd, slice_of(ws, d));
		if (r == -ETIMEDOUT && ipcx__deadline_passed(d))
			return r;
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
}

int ipcx_waitset_wait(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap,
                      int64_t timeout_ns)
{
	ipcx__deadline d;
	int k;

	if (!ws || !ret || cap == 0 || ws->n == 0)
		return -EINVAL;
	if (!mine(ws))
		return -ECHILD;
	if (ws->fd >= 0)
		drain(ws);
	k = collect(ws, ret, cap);
	if (k)
		return k;
	/* Held up by a dead peer's half-done step? Finish it, as a receive would. */
	for (unsigned i = 0; i < ws->n; i++)
		if (recover(&ws->m[i]))
			k = -1;
	if (k && (k = collect(ws, ret, cap)) > 0)
		return k;
	d = ipcx__deadline_in(timeout_ns);
	if (timeout_ns != 0 && ws->n > IPCX_WAITSET_MAX_FUTEX)
		return sleep_fd(ws, ret, cap, d);
	if (timeout_ns != 0) {
		k = spin(ws, ret, cap, d);
		while (k == 0 && !(ipcx__deadline_passed(d) && !ipcx__deadline_never(d)))
			k = sleep_futex(ws, ret, cap, d);
		if (k == -ENOSYS)
			return sleep_fd(ws, ret, cap, d);
		if (k > 0)
			return k;
	}
	/* Nothing ready: a descriptor is left drained and armed. */
	if (ws->fd >= 0) {
		drain(ws);
		if (arm_all(ws) && (k = collect(ws, ret, cap)) > 0)
			return k;
	}
	return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
}

/* ---- one handle's descriptor: a wait-set of one member, kept in the handle ---- */

static int handle_fd(struct ipcx__obj *obj, void *h, const struct ipcx__source *src,
                     const struct ipcx_sembuf *ops, size_t nops)
{
	ipcx_waitset *ws = obj->fdws;
	int r;

	if (ws && !mine(ws)) {
		/* Inherited over fork: the parent's. Close our copy and make our own. */
		ipcx_waitset_destroy(ws);
		obj->fdws = ws = NULL;
	}
	if (ws && ops) {
		/* New operation for a semset's descriptor: replace the member's. */
		struct ipcx_sembuf *p = malloc(nops * sizeof(*ops));

		if (!p)
			return -ENOMEM;
		memcpy(p, ops, nops * sizeof(*ops));
		free(ws->m[0].ops);
		ws->m[0].ops = p;
		ws->m[0].nops = nops;
		arm(ws, &ws->m[0]);
		if (check(&ws->m[0], false) != 0)
			poke_self(ws);
	}
	if (ws)
		return ws->fd;
	r = ipcx_waitset_create(&ws);
	if (r < 0)
		return r;
	r = add(ws, h, src, ops, nops, NULL);
	if (r >= 0)
		r = ipcx_waitset_fd(ws);
	if (r < 0) {
		ipcx_waitset_destroy(ws);
		return r;
	}
	obj->fdws = ws;
	return r;
}

static int handle_rearm(struct ipcx__obj *obj)
{
	ipcx_waitset *ws = obj->fdws;
	struct member *m;
	int r;

	if (!ws || !mine(ws) || ws->n != 1)
		return -EINVAL;
	m = &ws->m[0];
	drain(ws);
	r = check(m, true);
	if (r != 0)
		return r;
	if (recover(m) && (r = check(m, true)) != 0)
		return r;
	arm(ws, m);
	return check(m, true);
}

void ipcx__fd_drop(struct ipcx__obj *obj)
{
	ipcx_waitset_destroy(obj->fdws);
	obj->fdws = NULL;
}

int ipcx_event_fd(ipcx_event *ev)
{
	struct ipcx__source src;

	if (!ev)
		return -EINVAL;
	ipcx__event_source(ev, &src);
	return handle_fd(src.obj, ev, &src, NULL, 0);
}

int ipcx_event_fd_rearm(ipcx_event *ev)
{
	struct ipcx__source src;

	if (!ev)
		return -EINVAL;
	ipcx__event_source(ev, &src);
	return handle_rearm(src.obj);
}

int ipcx_chan_fd(ipcx_chan *c)
{
	struct ipcx__source src;

	if (!c)
		return -EINVAL;
	ipcx__chan_source(c, &src);
	return handle_fd(src.obj, c, &src, NULL, 0);
}

int ipcx_chan_fd_rearm(ipcx_chan *c)
{
	struct ipcx__source src;

	if (!c)
		return -EINVAL;
	ipcx__chan_source(c, &src);
	return handle_rearm(src.obj);
}

int ipcx_topic_fd(ipcx_topic *t)
{
	struct ipcx__source src;

	if (!t || ipcx__topic_source(t, &src) < 0)
		return -EINVAL;
	return handle_fd(src.obj, t, &src, NULL, 0);
}

int ipcx_topic_fd_rearm(ipcx_topic *t)
{
	struct ipcx__source src;

	if (!t || ipcx__topic_source(t, &src) < 0)
		return -EINVAL;
	return handle_rearm(src.obj);
}

int ipcx_region_fd(ipcx_region *r)
{
	struct ipcx__source src;
	int64_t v;

	if (!r)
		return -EINVAL;
	v = ipcx_region_version(r);
	ipcx__region_source(r, (uint64_t)v, &src);
	return handle_fd(src.obj, r, &src, NULL, 0);
}

int ipcx_region_fd_rearm(ipcx_region *r, uint64_t last_seen)
{
	struct ipcx__source src;

	if (!r)
		return -EINVAL;
	ipcx__region_source(r, last_seen, &src);
	if (src.obj->fdws && src.obj->fdws->n == 1)
		src.obj->fdws->m[0].snap = last_seen;
	return handle_rearm(src.obj);
}

int ipcx_semset_fd(ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops)
{
	struct ipcx__source src;
	int r;

	if (!s || !ops)
		return -EINVAL;
	r = ipcx__sem_would_succeed(s, ops, nops);
	if (r < 0)
		return r;
	ipcx__semset_source(s, &src);
	return handle_fd(src.obj, s, &src, ops, nops);
}

int ipcx_semset_fd_rearm(ipcx_semset *s)
{
	struct ipcx__source src;

	if (!s)
		return -EINVAL;
	ipcx__semset_source(s, &src);
	return handle_rearm(src.obj);
}
