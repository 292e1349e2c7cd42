/* SPDX-License-Identifier: MIT */
/*
 * The set lock and what makes it survive SIGKILL: the holder's identity in the lock word, a
 * liveness check by whoever waits too long, and a redo journal so that a change the dead
 * holder had committed is completed and one it had not committed leaves no trace. Also the
 * UNDO adjustments of dead processes. See docs/semset.md, "Atomicity across crashes".
 */
#include <errno.h>
#include <stdatomic.h>

#include "internal/semset.h"
#include "internal/sys.h"

/* How long a lock waiter sleeps before it asks whether the holder is still alive. */
#define LOCK_SLICE_NS 1000000
#define LOCK_SPINS 2000

static void replay(struct ipcx_semset *s);
static void recover(struct ipcx_semset *s);

int ipcx__sem_lock_slow(struct ipcx_semset *s, uint64_t me, ipcx__deadline d, ipcx__deadline hard)
{
	struct ipcx__sem_body *b = s->b;
	const uint64_t W = IPCX__SEM_LOCK_WAITERS;
	uint64_t cur, now;
	uint32_t seq;

	for (int i = 0; i < LOCK_SPINS; i++) {
		cur = atomic_load_explicit(&b->lock, memory_order_relaxed);
		/* Acquire pairs with the release exchange in unlock. */
		if (cur == 0 &&
		    atomic_compare_exchange_weak_explicit(&b->lock, &cur, me, memory_order_acquire,
		                                          memory_order_relaxed))
			return 0;
		ipcx__cpu_relax();
	}
	for (;;) {
		/* seq first, then the lock word: an unlock after our read of the word bumps seq
		 * after it (see unlock), so the futex wait cannot miss it. */
		seq = atomic_load_explicit(&b->lock_seq, memory_order_acquire);
		cur = atomic_load_explicit(&b->lock, memory_order_acquire);
		if (cur == 0) {
			/* We may have slept: others may sleep too, so keep the waiters bit. */
			if (atomic_compare_exchange_strong_explicit(&b->lock, &cur, me | W,
			                                            memory_order_acquire,
			                                            memory_order_relaxed))
				return 0;
			continue;
		}
		if (!(cur & W) && !atomic_compare_exchange_strong_explicit(&b->lock, &cur, cur | W,
		                                                           memory_order_relaxed,
		                                                           memory_order_relaxed))
			continue;
		cur |= W;
		if (ipcx__futex_wait(&b->lock_seq, seq, ipcx__deadline_in(LOCK_SLICE_NS)) !=
		    -ETIMEDOUT)
			continue;
		/* The holder kept the lock a whole slice: it may have died holding it. A garbled
		 * word names no live process and is taken over the same way. Asked before the
		 * deadline: a waiter kept off the CPU past d (a loaded machine) would otherwise
		 * give up on a lock it can take over. */
		now = atomic_load_explicit(&b->lock, memory_order_relaxed);
		if (now == 0)
			continue; /* let go meanwhile: take it */
		if (now == cur && !ipcx__proc_alive(cur & ~W)) {
			if (atomic_compare_exchange_strong_explicit(&b->lock, &cur, me | W,
			                                            memory_order_acquire,
			                                            memory_order_relaxed)) {
				recover(s);
				return 0;
			}
			continue;
		}
		/* A holder that is runnable but has no CPU (a loaded machine: tens of ms) is
		 * merely busy: it lets go within a few instructions once it runs, so only a
		 * holder with no thread running or waiting for a CPU makes us give up at d. */
		if (ipcx__deadline_passed(d) &&
		    (ipcx__deadline_passed(hard) || !ipcx__proc_running(now & ~W)))
			return -ETIMEDOUT;
	}
}

void ipcx__sem_unlock_wake(struct ipcx_semset *s)
{
	atomic_fetch_add_explicit(&s->b->lock_seq, 1, memory_order_release);
	ipcx__futex_wake(&s->b->lock_seq, 1);
}

void ipcx__sem_jcommit(struct ipcx_semset *s)
{
	struct ipcx__sem_body *b = s->b;

	/* The commit point: a holder that dies after this store has its step completed by
	 * whoever takes the lock over; one that dies before has changed nothing. Release
	 * orders the entries before the state (for a recoverer's acquire in replay). */
	atomic_store_explicit(&b->jstate, IPCX__J_COMMITTED, memory_order_release);
	replay(s);
}

/* Applies the committed journal; every entry is bounds-checked (it may be garbage). */
static void replay(struct ipcx_semset *s)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t n;

	if (atomic_load_explicit(&b->jstate, memory_order_acquire) != IPCX__J_COMMITTED) {
		atomic_store_explicit(&b->jstate, IPCX__J_EMPTY, memory_order_relaxed);
		return;
	}
	n = atomic_load_explicit(&b->jn, memory_order_relaxed);
	if (n > IPCX__SEM_JMAX)
		n = IPCX__SEM_JMAX;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t kind = b->jent[i].kind, idx = b->jent[i].idx;
		uint64_t val = b->jent[i].val;

		switch (kind) {
		case IPCX__J_SEM:
			if (idx < s->nsems)
				atomic_store_explicit(&b->sems[idx], val, memory_order_relaxed);
			break;
		case IPCX__J_UNDO_ENT:
			if (idx < IPCX_MAX_ATTACH * IPCX__SEM_UNDO_CAP)
				atomic_store_explicit(&b->undo[idx / IPCX__SEM_UNDO_CAP]
				                               .ent[idx % IPCX__SEM_UNDO_CAP],
				                      val, memory_order_relaxed);
			break;
		case IPCX__J_UNDO_OWNER:
			if (idx < IPCX_MAX_ATTACH)
				atomic_store_explicit(&b->undo[idx].owner, val,
				                      memory_order_relaxed);
			break;
		case IPCX__J_REC_DONE:
			if (idx < IPCX__SEM_NREC) {
				atomic_store_explicit(&b->rec[idx].result, (int32_t)val,
				                      memory_order_relaxed);
				/* Release pairs with the waiter's acquire load of its state. */
				atomic_store_explicit(&b->rec[idx].state, IPCX__R_DONE,
				                      memory_order_release);
			}
			break;
		default:
			break;
		}
	}
	atomic_store_explicit(&b->jstate, IPCX__J_EMPTY, memory_order_release);
}

/* After taking the lock from a dead holder: finish or drop its step, recount the hints. */
static void recover(struct ipcx_semset *s)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t waiting = 0, tables = 0, aged = 0, hi = 0;

	replay(s);
	for (uint32_t i = 0; i < IPCX__SEM_NREC; i++) {
		uint32_t st = atomic_load_explicit(&b->rec[i].state, memory_order_relaxed);

		if (st == IPCX__R_WAITING) {
			hi = i + 1;
			waiting++;
			aged += b->rec[i].aged != 0;
		} else if (st == IPCX__R_CONT) {
			uint32_t h = b->rec[i].head;
			/* A chunk whose head no longer holds this operation is an orphan. */
			if (h >= i ||
			    atomic_load_explicit(&b->rec[h].state, memory_order_relaxed) ==
			            IPCX__R_FREE ||
			    b->rec[h].ticket != b->rec[i].ticket)
				atomic_store_explicit(&b->rec[i].state, IPCX__R_FREE,
				                      memory_order_relaxed);
		}
	}
	for (uint32_t t = 0; t < IPCX_MAX_ATTACH; t++)
		tables += atomic_load_explicit(&b->undo[t].owner, memory_order_relaxed) != 0;
	atomic_store_explicit(&b->nwaiting, waiting, memory_order_relaxed);
	atomic_store_explicit(&b->rec_hi, hi, memory_order_relaxed);
	atomic_store_explicit(&b->naged, aged, memory_order_relaxed);
	atomic_store_explicit(&b->undo_tables, tables, memory_order_relaxed);
	/* The dead holder may have completed waiters without waking them. */
	ipcx__sem_wake_done(s);
	ipcx__sem_reap(s, true);
	ipcx__sem_update(s, NULL, 0);
}

void ipcx__sem_undo_apply(struct ipcx_semset *s, uint32_t t, int32_t pid)
{
	struct ipcx__sem_body *b = s->b;
	struct ipcx__sem_undo *u = &b->undo[t];
	uint32_t idx[IPCX__SEM_UNDO_CAP];
	int64_t val[IPCX__SEM_UNDO_CAP];
	uint32_t n = 0;

	ipcx__sem_jbegin(s);
	for (uint32_t e = 0; e < IPCX__SEM_UNDO_CAP; e++) {
		uint64_t w = atomic_load_explicit(&u->ent[e], memory_order_relaxed);
		uint32_t i = (uint32_t)w - 1, j;

		if (w == 0)
			continue;
		ipcx__sem_jadd(s, IPCX__J_UNDO_ENT, t * IPCX__SEM_UNDO_CAP + e, 0);
		if (i >= s->nsems)
			continue; /* garbage: dropped */
		/* A garbled table may name one semaphore twice: add up in order. */
		for (j = 0; j < n && idx[j] != i; j++)
			;
		if (j == n) {
			idx[n] = i;
			val[n++] = ipcx__sem_val(
			        atomic_load_explicit(&b->sems[i], memory_order_relaxed));
		}
		val[j] += (int32_t)(w >> 32);
		/* Clamped as the kernel's exit_sem does. */
		if (val[j] < 0)
			val[j] = 0;
		if (val[j] > IPCX_SEM_VALUE_MAX)
			val[j] = IPCX_SEM_VALUE_MAX;
	}
	for (uint32_t j = 0; j < n; j++)
		ipcx__sem_jadd(s, IPCX__J_SEM, idx[j], ipcx__sem_word((int32_t)val[j], pid));
	ipcx__sem_jadd(s, IPCX__J_UNDO_OWNER, t, 0);
	ipcx__sem_jcommit(s);
	if (atomic_load_explicit(&b->undo_tables, memory_order_relaxed) > 0)
		atomic_fetch_sub_explicit(&b->undo_tables, 1, memory_order_relaxed);
}

/* Liveness answers cached for one reap: several records often share a process. */
struct alive_cache {
	uint32_t n;
	uint64_t who[16];
	bool alive[16];
};

static bool alive_cached(struct alive_cache *c, uint64_t who)
{
	bool a;

	if (who == ipcx__proc_self())
		return true;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->who[i] == who)
			return c->alive[i];
	a = ipcx__proc_alive(who) != 0;
	if (c->n < 16) {
		c->who[c->n] = who;
		c->alive[c->n++] = a;
	}
	return a;
}

static bool table_empty(const struct ipcx__sem_undo *u)
{
	for (uint32_t c = 0; c < IPCX__SEM_UNDO_CAP; c++)
		if (atomic_load_explicit(&u->ent[c], memory_order_relaxed) != 0)
			return false;
	return true;
}

bool ipcx__sem_reap(struct ipcx_semset *s, bool thorough)
{
	struct ipcx__sem_body *b = s->b;
	struct alive_cache cache = {0};
	uint64_t me = ipcx__proc_self();
	bool changed = false;

	/* The count is exact but for a crash inside a step, which recovery recounts. */
	if (atomic_load_explicit(&b->undo_tables, memory_order_relaxed) != 0) {
		for (uint32_t t = 0; t < IPCX_MAX_ATTACH; t++) {
			uint64_t owner =
			        atomic_load_explicit(&b->undo[t].owner, memory_order_relaxed);
			bool dead;

			if (owner == 0 || owner == me)
				continue;
			/* The cheap check is for adjustments only: an empty table of a dead
			 * process waits for a thorough one. */
			if (!thorough && table_empty(&b->undo[t]))
				continue;
			dead = thorough ? !alive_cached(&cache, owner) : ipcx__proc_gone(owner);
			if (dead) {
				ipcx__sem_undo_apply(s, t, ipcx__id_pid(owner));
				changed = true;
			}
		}
	}
	if (!thorough || atomic_load_explicit(&b->nwaiting, memory_order_relaxed) == 0)
		return changed;
	/* A dead waiter leaves the queue, as the kernel drops a dead task's sem_queue. */
	for (uint32_t i = 0, hi = ipcx__sem_rec_hi(b); i < hi; i++) {
		struct ipcx__sem_rec *r = &b->rec[i];

		if (atomic_load_explicit(&r->state, memory_order_acquire) != IPCX__R_WAITING ||
		    ipcx__sem_rec_alive(s, i))
			continue;
		ipcx__sem_rec_free(s, i);
		if (atomic_load_explicit(&b->nwaiting, memory_order_relaxed) > 0)
			atomic_fetch_sub_explicit(&b->nwaiting, 1, memory_order_relaxed);
	}
	return changed;
}
