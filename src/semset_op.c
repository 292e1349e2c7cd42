/* SPDX-License-Identifier: MIT */
/*
 * Operations: evaluate an operation against the set (in entry order, as the kernel's
 * perform_atomic_semop), apply it in one step, queue it when it must wait, and complete the
 * queued operations that a change makes possible, in arrival order (the kernel's
 * update_queue and do_smart_wakeup_zero).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "internal/robust.h"
#include "internal/semset.h"
#include "internal/source.h"
#include "internal/sys.h"

/* Sleep slices: a sleeper wakes this often to look for dead peers and lost wake-ups. */
#define SLICE_UNDO_NS 10000000  /* while some process holds UNDO adjustments */
#define SLICE_IDLE_NS 100000000 /* otherwise */
/* The least time an operation waits for a busy set lock before giving up. */
#define LOCK_MIN_NS 10000000
/*
 * How long a try-once waits for a lock whose holder is running or waiting for a CPU. Not
 * LOCK_MIN_NS: a holder preempted on a loaded machine stays off the CPU for more than that,
 * and a try-once increment failing with -EAGAIN then silently loses a unit for callers that,
 * as with semop, count on an increment never failing. Bounded all the same, against a holder
 * that spins with the lock held.
 */
#define LOCK_RUNNABLE_NS 1000000000

static uint32_t find_or_add(struct ipcx_semset *s, struct ipcx__sem_eval *e, uint32_t idx)
{
	uint32_t j;

	for (j = 0; j < e->n; j++)
		if (e->idx[j] == idx)
			return j;
	e->idx[j] = idx;
	e->val[j] = ipcx__sem_val(atomic_load_explicit(&s->b->sems[idx], memory_order_relaxed));
	e->n++;
	return j;
}

static void load_undo(struct ipcx_semset *s, struct ipcx__sem_eval *e, uint32_t t)
{
	for (uint32_t c = 0; c < IPCX__SEM_UNDO_CAP; c++)
		e->uorig[c] = e->unew[c] =
		        atomic_load_explicit(&s->b->undo[t].ent[c], memory_order_relaxed);
	e->undo = true;
}

/* Adds -delta to the local copy of the UNDO table. Returns 0, -ERANGE or -ENOSPC. */
static int undo_add(struct ipcx__sem_eval *e, uint32_t idx, int32_t delta)
{
	int64_t adj;
	int c, hole = -1;

	for (c = 0; c < IPCX__SEM_UNDO_CAP; c++) {
		if (e->unew[c] == 0) {
			if (hole < 0)
				hole = c;
			continue;
		}
		if ((uint32_t)e->unew[c] == idx + 1)
			break;
	}
	adj = (c < IPCX__SEM_UNDO_CAP ? (int32_t)(e->unew[c] >> 32) : 0) - (int64_t)delta;
	/* The kernel's limits for semadj. */
	if (adj < -IPCX_SEM_VALUE_MAX - 1 || adj > IPCX_SEM_VALUE_MAX)
		return -ERANGE;
	if (c == IPCX__SEM_UNDO_CAP) {
		if (adj == 0)
			return 0;
		if (hole < 0)
			return -ENOSPC;
		c = hole;
	}
	e->unew[c] = adj == 0 ? 0 : (uint64_t)(idx + 1) | (uint64_t)(uint32_t)adj << 32;
	return 0;
}

/*
 * Evaluates ops against the current values. Returns 0 (the op can be applied; e holds the
 * new values), 1 (it must wait at entry e->blocking), -EAGAIN (that entry has NOWAIT),
 * -ERANGE or -ENOSPC. Indices must be < nsems. t is the UNDO table used by UNDO entries.
 */
static int eval(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops, uint32_t t,
                struct ipcx__sem_eval *e)
{
	e->n = 0;
	e->undo = false;
	e->alters = false;
	for (size_t k = 0; k < nops; k++) {
		uint32_t j = find_or_add(s, e, ops[k].index);
		int64_t v = e->val[j], d = ops[k].delta;
		int r;

		if (d == 0 ? v != 0 : v + d < 0) {
			e->blocking = (uint32_t)k;
			return (ops[k].flags & IPCX_SEM_NOWAIT) ? -EAGAIN : 1;
		}
		if (v + d > IPCX_SEM_VALUE_MAX)
			return -ERANGE;
		if (ops[k].flags & IPCX_SEM_UNDO) {
			if (!e->undo)
				load_undo(s, e, t);
			r = undo_add(e, ops[k].index, ops[k].delta);
			if (r < 0)
				return r;
		}
		if (d != 0)
			e->alters = true;
		e->val[j] = (int32_t)(v + d);
	}
	return 0;
}

/*
 * Applies an evaluated op: new values with pid as last pid, the UNDO table t (owned by
 * who), and optionally completes record rec with result. One journaled step, except the
 * common single-value change, which is one atomic store.
 */
static void commit(struct ipcx_semset *s, const struct ipcx__sem_eval *e, int32_t pid, uint32_t t,
                   uint64_t who, int rec, int32_t result)
{
	struct ipcx__sem_body *b = s->b;
	uint64_t owner_before = 0;

	if (e->n == 1 && !e->undo && rec < 0) {
		atomic_store_explicit(&b->sems[e->idx[0]], ipcx__sem_word(e->val[0], pid),
		                      memory_order_relaxed);
		return;
	}
	ipcx__sem_jbegin(s);
	for (uint32_t j = 0; j < e->n; j++)
		ipcx__sem_jadd(s, IPCX__J_SEM, e->idx[j], ipcx__sem_word(e->val[j], pid));
	if (e->undo) {
		owner_before = atomic_load_explicit(&b->undo[t].owner, memory_order_relaxed);
		for (uint32_t c = 0; c < IPCX__SEM_UNDO_CAP; c++)
			if (e->unew[c] != e->uorig[c])
				ipcx__sem_jadd(s, IPCX__J_UNDO_ENT, t * IPCX__SEM_UNDO_CAP + c,
				               e->unew[c]);
		/* The table stays its owner's, empty or not, until the handle ends (see
		 * own_table). */
		if (owner_before != who)
			ipcx__sem_jadd(s, IPCX__J_UNDO_OWNER, t, who);
	}
	if (rec >= 0)
		ipcx__sem_jadd(s, IPCX__J_REC_DONE, (uint32_t)rec, (uint64_t)(uint32_t)result);
	ipcx__sem_jcommit(s);
	if (e->undo && !owner_before)
		atomic_fetch_add_explicit(&b->undo_tables, 1, memory_order_relaxed);
}

/*
 * A handle that issues an UNDO operation owns its table from then on, whatever the
 * operation's result, as the kernel allocates a process's undo structure for the set on its
 * first SEM_UNDO semop. When the owner ends, its (possibly empty) adjustments are applied and
 * every waiting operation is looked at again, as exit_sem does; that can change where a
 * waiter is counted, or complete it with -EAGAIN. Lock held.
 */
static void own_table(struct ipcx_semset *s, uint32_t t, uint64_t who)
{
	struct ipcx__sem_body *b = s->b;

	if (atomic_load_explicit(&b->undo[t].owner, memory_order_relaxed) != 0)
		return;
	atomic_store_explicit(&b->undo[t].owner, who, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->undo_tables, 1, memory_order_relaxed);
}

/* The table t must belong to who (or nobody); a dead previous owner's is applied first. */
static void claim_table(struct ipcx_semset *s, uint32_t t, uint64_t who)
{
	uint64_t owner = atomic_load_explicit(&s->b->undo[t].owner, memory_order_relaxed);

	if (owner != 0 && owner != who)
		ipcx__sem_undo_apply(s, t, ipcx__id_pid(owner));
}

static bool has_undo(const struct ipcx_sembuf *ops, size_t nops)
{
	for (size_t k = 0; k < nops; k++)
		if (ops[k].flags & IPCX_SEM_UNDO)
			return true;
	return false;
}

/* ---- the queue of waiting operations ---- */

static uint32_t chunks(uint32_t nops)
{
	return (nops + IPCX__SEM_REC_OPS - 1) / IPCX__SEM_REC_OPS;
}

void ipcx__sem_rec_free(struct ipcx_semset *s, uint32_t i)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t n = b->rec[i].nops, k = n > IPCX_SEM_OPS_MAX ? 1 : chunks(n);

	if (b->rec[i].aged && atomic_load_explicit(&b->naged, memory_order_relaxed) > 0)
		atomic_fetch_sub_explicit(&b->naged, 1, memory_order_relaxed);
	b->rec[i].aged = 0;
	for (uint32_t c = 1; c < k && i + c < IPCX__SEM_NREC; c++)
		if (atomic_load_explicit(&b->rec[i + c].state, memory_order_relaxed) ==
		    IPCX__R_CONT)
			atomic_store_explicit(&b->rec[i + c].state, IPCX__R_FREE,
			                      memory_order_relaxed);
	/* Release: the fields are no longer ours once the next allocator sees FREE. */
	atomic_store_explicit(&b->rec[i].state, IPCX__R_FREE, memory_order_release);
}

/* Reads a record's entries back (bounded and checked; garbage gives -EBADMSG). */
static int rec_ops(struct ipcx_semset *s, uint32_t i, struct ipcx_sembuf *ops, size_t *ret_n)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t n = b->rec[i].nops;

	if (n == 0 || n > IPCX_SEM_OPS_MAX || i + chunks(n) > IPCX__SEM_NREC)
		return -EBADMSG;
	for (uint32_t k = 0; k < n; k++) {
		const struct ipcx__sem_recop *o = &b->recop[i * IPCX__SEM_REC_OPS + k];

		ops[k].index = o->idxf & 0xffffff;
		ops[k].flags = o->idxf >> 24;
		ops[k].delta = o->delta;
		if (ops[k].index >= s->nsems || (ops[k].flags & ~3u))
			return -EBADMSG;
	}
	*ret_n = n;
	return 0;
}

/*
 * The waiting thread takes its record's robust mutex for the wait. Returns 1 when it holds
 * it; 0 when it cannot (a garbled mutex), and completers then ask /proc instead.
 */
static uint32_t take_token(struct ipcx__sem_rec *r)
{
	int x = ipcx__robust_trylock(&r->alive);

	if (x == EOWNERDEAD) /* a waiter died here before: the mutex is ours, make it usable */
		x = pthread_mutex_consistent(&r->alive);
	return x == 0;
}

static void drop_token(struct ipcx__sem_rec *r)
{
	if (r->token)
		pthread_mutex_unlock(&r->alive);
	r->token = 0;
}

bool ipcx__sem_rec_alive(struct ipcx_semset *s, uint32_t i)
{
	struct ipcx__sem_rec *r = &s->b->rec[i];
	int x;

	if (r->who == ipcx__proc_self())
		return true; /* another thread of ours */
	if (r->token) {
		x = ipcx__robust_trylock(&r->alive);
		if (x == EBUSY)
			return true;
		if (x == EOWNERDEAD) {
			/* The kernel released it for the dead waiter; leave it clean. */
			pthread_mutex_consistent(&r->alive);
			pthread_mutex_unlock(&r->alive);
			return false;
		}
		if (x == 0)
			pthread_mutex_unlock(&r->alive); /* not held: garbled; ask /proc */
	}
	return ipcx__proc_alive(r->who) != 0;
}

/*
 * The kernel keeps waiting single-entry operations on per-semaphore lists while no
 * multi-entry operation waits, and when one starts to wait it splices those lists to the
 * front of the global queue in descending semaphore order (merge_queues: each list_splice
 * goes to the head), keeping each semaphore's own order. The completion order among them
 * then shows (through wait-for-zero operations with NOWAIT evaluated in between), so the
 * same reordering is done here, on the queue order: the waiting single-entry operations that
 * change a value take the same set of order keys, dealt out in that order. Lock held.
 */
static void merge_order(struct ipcx_semset *s)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t hi = ipcx__sem_rec_hi(b), n = 0, rec[IPCX__SEM_NREC];
	uint64_t tk[IPCX__SEM_NREC];

	for (uint32_t i = 0; i < hi; i++) {
		const struct ipcx__sem_recop *o = &b->recop[i * IPCX__SEM_REC_OPS];
		uint32_t j;

		if (atomic_load_explicit(&b->rec[i].state, memory_order_relaxed) != IPCX__R_WAITING)
			continue;
		if (b->rec[i].nops != 1)
			return; /* a multi-entry operation waits already: merged */
		if (o->delta == 0)
			continue; /* wait-for-zero: stays on its semaphore's own list */
		/* Insert by (semaphore descending, order ascending); keys sorted apart. */
		for (j = n; j > 0; j--) {
			const struct ipcx__sem_recop *p = &b->recop[rec[j - 1] * IPCX__SEM_REC_OPS];
			uint32_t pi = p->idxf & 0xffffff, oi = o->idxf & 0xffffff;

			if (pi > oi || (pi == oi && b->rec[rec[j - 1]].order < b->rec[i].order))
				break;
			rec[j] = rec[j - 1];
		}
		rec[j] = i;
		for (j = n; j > 0 && tk[j - 1] > b->rec[i].order; j--)
			tk[j] = tk[j - 1];
		tk[j] = b->rec[i].order;
		n++;
	}
	for (uint32_t j = 0; j < n; j++)
		b->rec[rec[j]].order = tk[j];
}

/* Takes a run of free records for an op of nops entries; returns the head or -ENOSPC. */
static int rec_alloc(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops,
                     const struct ipcx__sem_eval *e)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t k = chunks((uint32_t)nops), run = 0, i, bi = ops[e->blocking].index;
	uint64_t ticket;
	struct ipcx__sem_rec *r;

	for (i = 0; i < IPCX__SEM_NREC && run < k; i++)
		run = atomic_load_explicit(&b->rec[i].state, memory_order_relaxed) == IPCX__R_FREE
		              ? run + 1
		              : 0;
	if (run < k)
		return -ENOSPC;
	i -= k;
	if (nops > 1)
		merge_order(s);
	/* Nothing waits: the scan bound starts over (a crash that hid a waiter from nwaiting
	 * is mended by recovery, which recomputes both). */
	if (atomic_load_explicit(&b->nwaiting, memory_order_relaxed) == 0)
		atomic_store_explicit(&b->rec_hi, 0, memory_order_relaxed);
	if (atomic_load_explicit(&b->rec_hi, memory_order_relaxed) < i + k)
		atomic_store_explicit(&b->rec_hi, i + k, memory_order_relaxed);
	ticket = atomic_fetch_add_explicit(&b->ticket, 1, memory_order_relaxed) + 1;
	for (uint32_t c = 1; c < k; c++) {
		b->rec[i + c].head = i;
		b->rec[i + c].ticket = ticket;
		atomic_store_explicit(&b->rec[i + c].state, IPCX__R_CONT, memory_order_relaxed);
	}
	for (size_t q = 0; q < nops; q++) {
		b->recop[i * IPCX__SEM_REC_OPS + q].idxf = ops[q].index | ops[q].flags << 24;
		b->recop[i * IPCX__SEM_REC_OPS + q].delta = ops[q].delta;
	}
	r = &b->rec[i];
	r->who = ipcx__proc_self();
	r->ticket = ticket;
	r->order = ticket;
	r->nops = (uint32_t)nops;
	r->slot = s->obj.slot;
	r->bidx = bi;
	r->bval = ipcx__sem_val(atomic_load_explicit(&b->sems[bi], memory_order_relaxed));
	r->bzero = ops[e->blocking].delta == 0;
	r->bypass = 0;
	r->aged = 0;
	r->pid = ipcx__id_pid(r->who);
	r->token = take_token(r);
	atomic_store_explicit(&r->result, 0, memory_order_relaxed);
	/* The record exists from this store on (a crash before it leaves a free record). */
	atomic_store_explicit(&r->state, IPCX__R_WAITING, memory_order_release);
	atomic_fetch_add_explicit(&b->nwaiting, 1, memory_order_relaxed);
	return (int)i;
}

static void wake_rec(struct ipcx_semset *s, uint32_t i)
{
	ipcx__wake(&s->b->rec[i].state, &s->b->rec[i].sleepers, INT32_MAX);
}

void ipcx__sem_wake_done(struct ipcx_semset *s)
{
	for (uint32_t i = 0; i < IPCX__SEM_NREC; i++)
		if (atomic_load_explicit(&s->b->rec[i].state, memory_order_acquire) == IPCX__R_DONE)
			wake_rec(s, i);
}

/* The waiting heads in arrival order (insertion sort; at most NREC). */
static uint32_t queue_order(struct ipcx_semset *s, uint16_t *order)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t n = 0;

	for (uint32_t i = 0, hi = ipcx__sem_rec_hi(b); i < hi; i++) {
		uint64_t t;
		uint32_t j;

		if (atomic_load_explicit(&b->rec[i].state, memory_order_acquire) != IPCX__R_WAITING)
			continue;
		t = b->rec[i].order;
		for (j = n; j > 0 && b->rec[order[j - 1]].order > t; j--)
			order[j] = order[j - 1];
		order[j] = (uint16_t)i;
		n++;
	}
	return n;
}

/* Scratch for one pass over the queue; large, so kept off the fast path's stack. */
struct scan {
	struct ipcx__sem_eval e;
	struct ipcx_sembuf ops[IPCX_SEM_OPS_MAX];
	uint16_t order[IPCX__SEM_NREC];
	uint32_t reserved[IPCX__SEM_NREC];
	uint32_t nreserved;
};

static bool is_reserved(const struct scan *sc, const struct ipcx_sembuf *ops, size_t n)
{
	for (size_t k = 0; k < n; k++)
		for (uint32_t j = 0; ops[k].delta < 0 && j < sc->nreserved; j++)
			if (sc->reserved[j] == ops[k].index)
				return true;
	return false;
}

/* Is any semaphore among idx (all when idx is NULL) zero now? */
static bool got_zero(struct ipcx_semset *s, const uint32_t *idx, uint32_t n)
{
	uint32_t count = idx ? n : s->nsems;

	for (uint32_t j = 0; j < count; j++)
		if (ipcx__sem_val(atomic_load_explicit(&s->b->sems[idx ? idx[j] : j],
		                                       memory_order_relaxed)) == 0)
			return true;
	return false;
}

static int try_rec(struct ipcx_semset *s, struct scan *sc, uint32_t i, bool consts);
static void note_bypass(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops,
                        uint64_t before);

/* A waiting single wait-for-zero entry: its semaphore, or -1 for any other record. */
static int64_t simple_const(struct ipcx_semset *s, uint32_t i)
{
	const struct ipcx__sem_recop *o = &s->b->recop[i * IPCX__SEM_REC_OPS];

	if (s->b->rec[i].nops != 1 || o->delta != 0)
		return -1;
	return o->idxf & 0xffffff;
}

/*
 * Completes the wait-for-zero operations that a change to semaphores idx[0..n-1] (NULL: any)
 * allows, in the kernel's order (do_smart_wakeup_zero): first the single-entry ones, by
 * semaphore in the order of idx (or of index), each semaphore's in arrival order; then, if
 * any of those semaphores is zero, the multi-entry ones in arrival order. The order shows in
 * the last pid.
 */
static void const_pass(struct ipcx_semset *s, struct scan *sc, const uint32_t *idx, uint32_t n)
{
	uint32_t m = queue_order(s, sc->order), pick[IPCX__SEM_NREC], np = 0;
	bool zero = false;

	if (idx) {
		for (uint32_t j = 0; j < n; j++) {
			if (ipcx__sem_val(atomic_load_explicit(&s->b->sems[idx[j]],
			                                       memory_order_relaxed)) != 0)
				continue;
			zero = true;
			for (uint32_t q = 0; q < m; q++)
				if (simple_const(s, sc->order[q]) == idx[j])
					try_rec(s, sc, sc->order[q], true);
		}
	} else {
		zero = got_zero(s, NULL, 0);
		/* By semaphore index, stable: arrival order within one semaphore. */
		for (uint32_t q = 0; q < m; q++) {
			int64_t k = simple_const(s, sc->order[q]);
			uint32_t j;

			if (k < 0)
				continue;
			for (j = np; j > 0 && simple_const(s, pick[j - 1]) > k; j--)
				pick[j] = pick[j - 1];
			pick[j] = sc->order[q];
			np++;
		}
		for (uint32_t j = 0; j < np; j++)
			try_rec(s, sc, pick[j], true);
	}
	if (!zero)
		return;
	for (uint32_t q = 0; q < m; q++)
		if (s->b->rec[sc->order[q]].nops != 1)
			try_rec(s, sc, sc->order[q], true);
}

/*
 * Tries to complete waiting record i (a head, WAITING). Returns 1 when it completed and
 * changed values, 0 otherwise.
 */
static int try_rec(struct ipcx_semset *s, struct scan *sc, uint32_t i, bool consts)
{
	struct ipcx__sem_body *b = s->b;
	struct ipcx__sem_rec *r = &b->rec[i];
	size_t n = 0;
	int res;

	if (atomic_load_explicit(&r->state, memory_order_relaxed) != IPCX__R_WAITING)
		return 0; /* completed earlier in this pass */
	res = rec_ops(s, i, sc->ops, &n);
	if (res == 0) {
		bool alter = false;

		for (size_t k = 0; k < n; k++)
			alter |= sc->ops[k].delta != 0;
		if (alter == consts)
			return 0;
		/* A lone entry can only succeed once its semaphore moved the right way. */
		if (n == 1) {
			int32_t v = ipcx__sem_val(atomic_load_explicit(&b->sems[sc->ops[0].index],
			                                               memory_order_relaxed));
			if (r->bzero ? v == r->bval : v <= r->bval)
				goto blocked;
		}
		if (is_reserved(sc, sc->ops, n))
			goto blocked;
		if (has_undo(sc->ops, n))
			claim_table(s, r->slot % IPCX_MAX_ATTACH, r->who);
		res = eval(s, sc->ops, n, r->slot % IPCX_MAX_ATTACH, &sc->e);
		if (res == 1) {
			r->bidx = sc->ops[sc->e.blocking].index;
			r->bzero = sc->ops[sc->e.blocking].delta == 0;
			r->bval = ipcx__sem_val(
			        atomic_load_explicit(&b->sems[r->bidx], memory_order_relaxed));
			goto blocked;
		}
	}
	/* It completes (with res). A dead waiter is dropped instead: nobody would return. */
	if (!ipcx__sem_rec_alive(s, i)) {
		ipcx__sem_rec_free(s, i);
	} else {
		if (res == 0) {
			commit(s, &sc->e, r->pid, r->slot % IPCX_MAX_ATTACH, r->who, (int)i, 0);
			/* Completing out of turn overtakes older waiters as much as a new op
			 * does: uncounted, a stream of small waiters handed each unit from
			 * the queue (the value never rising) would starve a large one. */
			note_bypass(s, sc->ops, n, r->order);
		} else {
			ipcx__sem_jbegin(s);
			ipcx__sem_jadd(s, IPCX__J_REC_DONE, i, (uint64_t)(uint32_t)res);
			ipcx__sem_jcommit(s);
		}
		wake_rec(s, i);
	}
	if (atomic_load_explicit(&b->nwaiting, memory_order_relaxed) > 0)
		atomic_fetch_sub_explicit(&b->nwaiting, 1, memory_order_relaxed);
	if (res == 0 && sc->e.alters) {
		/* As the kernel: wait-for-zero ops first, then rescan from the oldest. The
		 * semaphores it touched are copied: the pass reuses the scratch. */
		uint32_t touched[IPCX_SEM_OPS_MAX], nt = sc->e.n;

		memcpy(touched, sc->e.idx, nt * sizeof(touched[0]));
		const_pass(s, sc, touched, nt);
		return 1;
	}
	return 0;
blocked:
	if (r->aged && sc->nreserved < IPCX__SEM_NREC)
		sc->reserved[sc->nreserved++] = r->bidx;
	return 0;
}

void ipcx__sem_update(struct ipcx_semset *s, const uint32_t *idx, uint32_t n)
{
	static __thread struct scan sc;

	if (atomic_load_explicit(&s->b->nwaiting, memory_order_relaxed) == 0)
		return;
	const_pass(s, &sc, idx, n);
	/* Each completion that changes values removes a record: at most NREC restarts. */
	for (uint32_t pass = 0; pass <= IPCX__SEM_NREC; pass++) {
		uint32_t m = queue_order(s, sc.order), q;

		sc.nreserved = 0;
		for (q = 0; q < m; q++)
			if (try_rec(s, &sc, sc.order[q], false))
				break;
		if (q == m)
			return;
	}
}

/*
 * Counts that an op took from semaphores others wait at; ages those waiters. before: only
 * waiters queued before this place count (a new op: UINT64_MAX, all of them).
 */
static void note_bypass(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops,
                        uint64_t before)
{
	struct ipcx__sem_body *b = s->b;

	for (uint32_t i = 0, hi = ipcx__sem_rec_hi(b); i < hi; i++) {
		struct ipcx__sem_rec *r = &b->rec[i];

		if (atomic_load_explicit(&r->state, memory_order_relaxed) != IPCX__R_WAITING ||
		    r->bzero || r->aged || r->order >= before)
			continue;
		for (size_t k = 0; k < nops; k++) {
			if (ops[k].delta < 0 && ops[k].index == r->bidx &&
			    ++r->bypass >= IPCX__SEM_AGE) {
				r->aged = 1;
				atomic_fetch_add_explicit(&b->naged, 1, memory_order_relaxed);
				break;
			}
		}
	}
}

/* With aged waiters: the first entry of ops that would take from one's semaphore, or -1. */
static int aged_block(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops)
{
	struct ipcx__sem_body *b = s->b;

	for (size_t k = 0; k < nops; k++) {
		if (ops[k].delta >= 0)
			continue;
		for (uint32_t i = 0, hi = ipcx__sem_rec_hi(b); i < hi; i++)
			if (atomic_load_explicit(&b->rec[i].state, memory_order_relaxed) ==
			            IPCX__R_WAITING &&
			    b->rec[i].aged && !b->rec[i].bzero && b->rec[i].bidx == ops[k].index)
				return (int)k;
	}
	return -1;
}

/* Decides a new op under the lock: as eval, plus fairness for aged waiters. */
static int decide(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops,
                  struct ipcx__sem_eval *e)
{
	int r = eval(s, ops, nops, s->obj.slot, e), k;

	if (r == 0 && atomic_load_explicit(&s->b->naged, memory_order_relaxed) != 0 &&
	    (k = aged_block(s, ops, nops)) >= 0) {
		e->blocking = (uint32_t)k;
		r = (ops[k].flags & IPCX_SEM_NOWAIT) ? -EAGAIN : 1;
	}
	return r;
}

/*
 * Ends our wait on record i: its result when it completed, else err (and it leaves the
 * queue). A record that is no longer ours (a garbled set) is left alone. Lock not held.
 */
static int finish(struct ipcx_semset *s, uint32_t i, uint64_t ticket, int err)
{
	struct ipcx__sem_rec *r = &s->b->rec[i];
	uint32_t st;
	int res = err;

	ipcx__sem_lock(s);
	/* Acquire pairs with the completer's release store of DONE (replay). */
	st = atomic_load_explicit(&r->state, memory_order_acquire);
	if (r->ticket == ticket && (st == IPCX__R_DONE || st == IPCX__R_WAITING)) {
		if (st == IPCX__R_DONE)
			res = atomic_load_explicit(&r->result, memory_order_relaxed);
		else if (atomic_load_explicit(&s->b->nwaiting, memory_order_relaxed) > 0)
			atomic_fetch_sub_explicit(&s->b->nwaiting, 1, memory_order_relaxed);
		drop_token(r);
		ipcx__sem_rec_free(s, i);
	} else {
		res = -EBADMSG;
	}
	ipcx__sem_unlock(s);
	return res;
}

static int wait_rec(struct ipcx_semset *s, uint32_t i, ipcx__deadline d)
{
	struct ipcx__sem_body *b = s->b;
	/* Ours until we free it: written before the lock was released. */
	uint64_t ticket = b->rec[i].ticket;
	struct ipcx__spin sp;
	struct ipcx__sem_rec *r = &b->rec[i];

	for (;;) {
		int64_t slice = atomic_load_explicit(&b->undo_tables, memory_order_relaxed)
		                        ? SLICE_UNDO_NS
		                        : SLICE_IDLE_NS;
		ipcx__deadline sd = ipcx__deadline_in(slice);
		uint32_t st;
		int w;

		if (sd.at_ns > d.at_ns)
			sd = d;
		/* Acquire pairs with the completer's release store of DONE (replay). */
		st = atomic_load_explicit(&r->state, memory_order_acquire);
		if (st != IPCX__R_WAITING)
			return finish(s, i, ticket, -EBADMSG);
		if (ipcx__obj_removed(&s->obj))
			return finish(s, i, ticket, -EIDRM);
		/* Threads may wait on one handle at once: each waits with a copy of the
		 * handle's spin state and hands its adapted budget back. */
		sp.mode = __atomic_load_n(&s->spin.mode, __ATOMIC_RELAXED);
		sp.budget_ns = __atomic_load_n(&s->spin.budget_ns, __ATOMIC_RELAXED);
		w = ipcx__wait(&sp, &r->state, IPCX__R_WAITING, &r->sleepers, sd);
		__atomic_store_n(&s->spin.budget_ns, sp.budget_ns, __ATOMIC_RELAXED);
		if (w != -ETIMEDOUT ||
		    atomic_load_explicit(&r->state, memory_order_acquire) != IPCX__R_WAITING)
			continue;
		if (ipcx__deadline_passed(d))
			return finish(s, i, ticket, -ETIMEDOUT);
		/*
		 * A slice ended: look for dead peers. Taking the lock recovers it from a dead
		 * holder (who may have completed us without waking us: recovery wakes those).
		 * Nothing else is re-evaluated here: the kernel re-evaluates waiters only on a
		 * change, and a needless re-evaluation is visible (where a waiter is counted).
		 */
		ipcx__sem_lock(s);
		if (ipcx__sem_reap(s, true))
			ipcx__sem_update(s, NULL, 0);
		ipcx__sem_unlock(s);
	}
}

static int check_args(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops)
{
	if (nops > IPCX_SEM_OPS_MAX)
		return -E2BIG;
	if (!s || !ops || nops == 0)
		return -EINVAL;
	for (size_t k = 0; k < nops; k++)
		if (ops[k].flags & ~(IPCX_SEM_NOWAIT | IPCX_SEM_UNDO))
			return -EINVAL;
	for (size_t k = 0; k < nops; k++)
		if (ops[k].index >= s->nsems)
			return -EFBIG;
	return 0;
}

/*
 * The common case in a few instructions, lock held: one entry, no UNDO anywhere in the set,
 * no aged waiter. Returns 0 when done, 1 when the general path must decide.
 */
static int op_single_fast(struct ipcx_semset *s, const struct ipcx_sembuf *op, uint64_t me)
{
	struct ipcx__sem_body *b = s->b;
	_Atomic uint64_t *w = &b->sems[op->index];
	int64_t v, nv;

	if (atomic_load_explicit(&b->undo_tables, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&b->naged, memory_order_relaxed) != 0)
		return 1;
	v = ipcx__sem_val(atomic_load_explicit(w, memory_order_relaxed));
	nv = v + op->delta;
	if (op->delta == 0 ? v != 0 : (nv < 0 || nv > IPCX_SEM_VALUE_MAX))
		return 1;
	/* One word: value and last pid together, so no journal is needed. */
	atomic_store_explicit(w, ipcx__sem_word((int32_t)nv, ipcx__id_pid(me)),
	                      memory_order_relaxed);
	if (atomic_load_explicit(&b->nwaiting, memory_order_relaxed) != 0) {
		note_bypass(s, op, 1, UINT64_MAX);
		if (op->delta != 0)
			ipcx__sem_update(s, &op->index, 1);
	}
	return 0;
}

int ipcx_semset_op(ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops, int64_t timeout_ns)
{
	struct ipcx__sem_body *b;
	struct ipcx__sem_eval e;
	ipcx__deadline ld;
	uint64_t me;
	bool undo;
	int r, rec;

	r = check_args(s, ops, nops);
	if (r == -EFBIG && has_undo(ops, nops) && ipcx__proc_self() == s->obj.who &&
	    !ipcx__obj_removed(&s->obj)) {
		/* As semop: the undo structure exists from the first SEM_UNDO call, even one
		 * that fails with EFBIG (its end then re-evaluates the queue). */
		ipcx__sem_lock(s);
		claim_table(s, s->obj.slot, s->obj.who);
		own_table(s, s->obj.slot, s->obj.who);
		ipcx__sem_unlock(s);
	}
	if (r < 0)
		return r;
	b = s->b;
	undo = has_undo(ops, nops);
	me = ipcx__proc_self();
	if (undo && me != s->obj.who)
		return -ECHILD;
	if (ipcx__obj_removed(&s->obj))
		return -EIDRM;

	/* A live holder keeps the lock for a few instructions, unless it is stopped: the
	 * timeout bounds that wait too, though never below 10 ms, and a try-once waits on
	 * (up to LOCK_RUNNABLE_NS) for a holder that is runnable: it must not fail merely
	 * because the lock was busy. */
	ld = ipcx__deadline_in(timeout_ns < 0             ? timeout_ns
	                       : timeout_ns < LOCK_MIN_NS ? LOCK_MIN_NS
	                                                  : timeout_ns);
	if (ipcx__sem_lock_until(s, ld,
	                         timeout_ns == 0 ? ipcx__deadline_in(LOCK_RUNNABLE_NS) : ld) < 0)
		return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
	if (nops == 1 && !undo && op_single_fast(s, ops, me) == 0) {
		ipcx__sem_unlock(s);
		return 0;
	}
	/* Other processes' UNDO: apply the ones whose process is certainly gone. */
	if (atomic_load_explicit(&b->undo_tables, memory_order_relaxed) >
	    (atomic_load_explicit(&b->undo[s->obj.slot].owner, memory_order_relaxed) == me))
		if (ipcx__sem_reap(s, false))
			ipcx__sem_update(s, NULL, 0);
	if (undo) {
		claim_table(s, s->obj.slot, me);
		own_table(s, s->obj.slot, me);
	}
	r = decide(s, ops, nops, &e);
	if (r == 1 || r == -EAGAIN) {
		/* Before anyone fails or sleeps on it, the set must hold no dead process's
		 * adjustments and no dead waiter (see docs/semset.md, UNDO timing). */
		if (ipcx__sem_reap(s, true)) {
			ipcx__sem_update(s, NULL, 0);
			r = decide(s, ops, nops, &e);
		}
	}
	if (r == 0) {
		commit(s, &e, ipcx__id_pid(me), s->obj.slot, me, -1, 0);
		if (atomic_load_explicit(&b->nwaiting, memory_order_relaxed) != 0) {
			note_bypass(s, ops, nops, UINT64_MAX);
			if (e.alters)
				ipcx__sem_update(s, e.idx, e.n);
		}
		ipcx__sem_unlock(s);
		return 0;
	}
	if (r == 1 && timeout_ns == 0)
		r = -EAGAIN;
	if (r < 0) {
		ipcx__sem_unlock(s);
		return r;
	}
	rec = rec_alloc(s, ops, nops, &e);
	if (rec == -ENOSPC) {
		/* A waiter completed and killed before it read its result left its record
		 * DONE: reclaim those, then try once more. */
		for (uint32_t i = 0; i < IPCX__SEM_NREC; i++)
			if (atomic_load_explicit(&b->rec[i].state, memory_order_acquire) ==
			            IPCX__R_DONE &&
			    !ipcx__sem_rec_alive(s, i))
				ipcx__sem_rec_free(s, i);
		rec = rec_alloc(s, ops, nops, &e);
	}
	ipcx__sem_unlock(s);
	if (rec < 0)
		return rec;
	return wait_rec(s, (uint32_t)rec, ipcx__deadline_in(timeout_ns));
}

int ipcx__sem_would_succeed(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops)
{
	struct ipcx__sem_body *b;
	struct ipcx__sem_eval e;
	int r = check_args(s, ops, nops);

	if (r < 0)
		return r;
	if (ipcx__obj_removed(&s->obj))
		return -EIDRM;
	b = s->b;
	ipcx__sem_lock(s);
	r = decide(s, ops, nops, &e);
	/* As an operation would: a dead process's UNDO or a dead waiter may be in the way. */
	if (r != 0 && ipcx__sem_reap(s, true)) {
		ipcx__sem_update(s, NULL, 0);
		r = decide(s, ops, nops, &e);
		ipcx__sem_unlock(s); /* something changed: watchers must look */
	} else {
		/* Nothing changed: no bump of change, which would wake the caller itself. */
		if (atomic_exchange_explicit(&b->lock, 0, memory_order_release) &
		    IPCX__SEM_LOCK_WAITERS)
			ipcx__sem_unlock_wake(s);
	}
	return r == 0;
}

/* ---- wait-sets and descriptors (internal/source.h) ---- */

_Static_assert(offsetof(struct ipcx__sem_body, change_sleepers) ==
                       offsetof(struct ipcx__sem_body, change) + 4,
               "a watched word's count follows it (internal/watch.h)");

static int semset_ready(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
                        bool consume)
{
	(void)snap;
	(void)consume;
	return ipcx__sem_would_succeed(h, ops, nops);
}

void ipcx__semset_source(ipcx_semset *s, struct ipcx__source *ret)
{
	ret->obj = &s->obj;
	ret->word = &s->b->change;
	ret->marked = false;
	ret->sleepers = &s->b->change_sleepers;
	ret->ready = semset_ready;
	ret->stuck = NULL;
	ret->recover = NULL;
	ret->snap = 0;
}
