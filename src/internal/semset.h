/* SPDX-License-Identifier: MIT */
/*
 * The semaphore set's shared-memory layout and the internal calls between its files:
 * semset.c (open, close, reads, set/setall), semset_lock.c (the set lock, the redo journal,
 * recovery from a dead holder, dead processes' UNDO), semset_op.c (evaluation, the queue of
 * waiting operations, waiting). See docs/semset.md for the protocol.
 */
#ifndef IPCX_INTERNAL_SEMSET_H
#define IPCX_INTERNAL_SEMSET_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ipcx/sem.h>

#include "obj.h"
#include "sys.h"
#include "wait.h"

#define IPCX__SEM_MAGIC 0x3154455353435049ull /* "IPCSSET1" */
#define IPCX__SEM_NREC IPCX_SEM_WAIT_SLOTS
#define IPCX__SEM_REC_OPS 64
#define IPCX__SEM_UNDO_CAP IPCX_SEM_UNDO_MAX
#define IPCX__SEM_JMAX (2 * IPCX_SEM_OPS_MAX + 16)
/* A waiting decrement overtaken this many times by others stops being overtaken. */
#define IPCX__SEM_AGE 100

/* The lock word holds the holder's process identity; this bit says someone sleeps. */
#define IPCX__SEM_LOCK_WAITERS (1ull << 63)

/* Journal states. */
enum { IPCX__J_EMPTY = 0, IPCX__J_WRITING = 1, IPCX__J_COMMITTED = 2 };
/* Journal entry kinds. */
enum { IPCX__J_SEM = 1, IPCX__J_UNDO_ENT = 2, IPCX__J_UNDO_OWNER = 3, IPCX__J_REC_DONE = 4 };

struct ipcx__sem_jent {
	uint32_t kind;
	uint32_t idx;
	uint64_t val;
};

/* One handle's UNDO adjustments: ent = (index + 1) | (uint32_t)adj << 32, 0 when unused. */
struct ipcx__sem_undo {
	_Atomic uint64_t owner; /* process identity whose adjustments these are; 0: none */
	_Atomic uint64_t ent[IPCX__SEM_UNDO_CAP];
};

/* Wait-record states; state is the waiter's futex word. */
enum { IPCX__R_FREE = 0, IPCX__R_WAITING = 1, IPCX__R_DONE = 2, IPCX__R_CONT = 3 };

/* A waiting operation (or a continuation chunk holding more of its entries). */
struct ipcx__sem_rec {
	_Atomic uint32_t state;
	_Atomic int32_t result; /* with DONE: what the waiter returns */
	_Atomic uint32_t sleepers;
	uint32_t head;   /* CONT: the head record's index */
	uint64_t who;    /* the waiting process */
	uint64_t ticket; /* arrival number; never changes (it names the wait) */
	uint32_t nops;
	uint32_t slot;   /* the handle's attachment slot (its UNDO table) */
	uint32_t bidx;   /* the semaphore it waits at */
	int32_t bval;    /* that semaphore's value when it last failed */
	uint32_t bzero;  /* 1: waits for zero there, 0: for an increase */
	uint32_t bypass; /* times others took from bidx while it waited */
	int32_t pid;
	uint32_t aged;
	uint32_t token; /* 1: the waiter holds `alive` while it waits */
	uint32_t pad0;
	/*
	 * Held by the waiting thread for the whole wait: a robust mutex, so the kernel marks it
	 * owner-dead when the waiter dies. A completer asks with a trylock (no system call):
	 * busy means alive; owner-dead means dead, even as an unreaped zombie or with its pid
	 * reused. See docs/semset.md, "Dead waiters".
	 */
	pthread_mutex_t alive;
	uint64_t order; /* its place in the queue: the ticket, or a merge's reordering */
	uint8_t pad1[128 - 80 - sizeof(pthread_mutex_t)];
};

/* A waiting operation's entry: index | flags << 24, and delta. */
struct ipcx__sem_recop {
	uint32_t idxf;
	int32_t delta;
};

struct ipcx__sem_body {
	uint64_t magic;
	uint64_t body_size;
	uint32_t nsems;
	uint32_t nrec;
	uint32_t rec_ops;
	uint32_t undo_cap;
	uint32_t jmax;
	uint32_t slots;
	uint8_t pad0[24];

	_Atomic uint64_t lock;        /* 0 free; else holder identity | LOCK_WAITERS */
	_Atomic uint32_t lock_seq;    /* futex word for lock sleepers */
	_Atomic uint32_t nwaiting;    /* WAITING records; may overcount after a crash */
	_Atomic uint32_t undo_tables; /* UNDO tables with an owner; a hint, recomputed */
	_Atomic uint32_t naged;       /* aged WAITING records; a hint */
	_Atomic uint64_t ticket;
	_Atomic uint32_t rec_hi; /* every WAITING record's index is below this */
	/* Wait-sets and descriptors (waitset.c): change is bumped by every unlock while
	 * change_sleepers, read under the lock, is not zero (zero in files made before). */
	_Atomic uint32_t change;
	_Atomic uint32_t change_sleepers;
	uint8_t pad1[20];

	_Atomic uint32_t jstate;
	_Atomic uint32_t jn;
	uint8_t pad2[56];
	struct ipcx__sem_jent jent[IPCX__SEM_JMAX];

	struct ipcx__sem_undo undo[IPCX_MAX_ATTACH];
	struct ipcx__sem_rec rec[IPCX__SEM_NREC];
	struct ipcx__sem_recop recop[IPCX__SEM_NREC * IPCX__SEM_REC_OPS];
	_Atomic uint64_t sems[]; /* (uint32_t)value | (uint64_t)pid << 32 */
};

_Static_assert(offsetof(struct ipcx__sem_body, lock) == 64, "layout v1");
_Static_assert(offsetof(struct ipcx__sem_body, jstate) == 128, "layout v1");
_Static_assert(sizeof(struct ipcx__sem_jent) == 16, "layout v1");
_Static_assert(sizeof(struct ipcx__sem_rec) == 128, "layout v1");
_Static_assert(offsetof(struct ipcx__sem_rec, alive) == 72, "layout v1");
_Static_assert(sizeof(struct ipcx__sem_recop) == 8, "layout v1");
_Static_assert(sizeof(struct ipcx__sem_body) % 8 == 0, "sems aligned");

static inline int32_t ipcx__sem_val(uint64_t w)
{
	return (int32_t)(uint32_t)w;
}
static inline int32_t ipcx__sem_pidof(uint64_t w)
{
	return (int32_t)(uint32_t)(w >> 32);
}
static inline uint64_t ipcx__sem_word(int32_t val, int32_t pid)
{
	return (uint64_t)(uint32_t)val | (uint64_t)(uint32_t)pid << 32;
}

/* The process-local handle. */
struct ipcx_semset {
	struct ipcx__obj obj;
	struct ipcx__sem_body *b;
	uint32_t nsems; /* validated at open; never re-read from shared memory */
	struct ipcx__spin spin;
	struct ipcx_semset *next, *prev; /* the process's open handles, for atexit */
};

/* Evaluation scratch for one operation (process-local). */
struct ipcx__sem_eval {
	uint32_t n;
	uint32_t idx[IPCX_SEM_OPS_MAX];
	int32_t val[IPCX_SEM_OPS_MAX];
	bool undo; /* the op has UNDO entries: the table copies are valid */
	uint64_t uorig[IPCX__SEM_UNDO_CAP]; /* the UNDO table before the op */
	uint64_t unew[IPCX__SEM_UNDO_CAP];  /* and after it */
	uint32_t blocking;                  /* with a would-block result: the entry */
	bool alters;                        /* some delta != 0 */
};

/* ---- semset_lock.c ---- */
int ipcx__sem_lock_slow(struct ipcx_semset *s, uint64_t me, ipcx__deadline d, ipcx__deadline hard);
void ipcx__sem_unlock_wake(struct ipcx_semset *s);

/*
 * Takes the set lock, recovering it from a dead holder if need be. Returns 0, or
 * -ETIMEDOUT when a live holder kept it past d while none of its threads was running or
 * waiting for a CPU (stopped, or asleep holding it), or past hard in any case (checked once
 * per 1 ms slice). hard is at or after d.
 */
static inline int ipcx__sem_lock_until(struct ipcx_semset *s, ipcx__deadline d, ipcx__deadline hard)
{
	uint64_t me = ipcx__proc_self(), cur = 0;

	/* Acquire pairs with the release exchange in ipcx__sem_unlock. */
	if (atomic_compare_exchange_strong_explicit(&s->b->lock, &cur, me, memory_order_acquire,
	                                            memory_order_relaxed))
		return 0;
	return ipcx__sem_lock_slow(s, me, d, hard);
}

static inline void ipcx__sem_lock(struct ipcx_semset *s)
{
	ipcx__deadline never = {INT64_MAX};

	ipcx__sem_lock_until(s, never, never);
}

static inline void ipcx__sem_unlock(struct ipcx_semset *s)
{
	/* Read under the lock: a wait-set registers before it evaluates its operation under
	 * the lock, so either it saw our changes or we see its registration here. */
	uint32_t watched = atomic_load_explicit(&s->b->change_sleepers, memory_order_relaxed);

	if (watched)
		atomic_fetch_add_explicit(&s->b->change, 1, memory_order_release);
	/* Release pairs with the acquire in lock: our changes are visible to the next holder. */
	if (atomic_exchange_explicit(&s->b->lock, 0, memory_order_release) & IPCX__SEM_LOCK_WAITERS)
		ipcx__sem_unlock_wake(s);
	if (watched)
		ipcx__wake(&s->b->change, &s->b->change_sleepers, INT32_MAX);
}

/*
 * For wait-sets and descriptors: 1 when ops would complete now (nothing is applied), 0 when
 * they would wait or fail, -EIDRM when the set was removed, or what ipcx_semset_op returns
 * for bad ops (-EINVAL, -E2BIG, -EFBIG). Takes the lock.
 */
int ipcx__sem_would_succeed(struct ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops);
/*
 * The journal, lock held: begin, add entries, then commit, which is the commit point and
 * applies them all (idempotently) and empties the journal.
 */
static inline void ipcx__sem_jbegin(struct ipcx_semset *s)
{
	atomic_store_explicit(&s->b->jn, 0, memory_order_relaxed);
}

static inline void ipcx__sem_jadd(struct ipcx_semset *s, uint32_t kind, uint32_t idx, uint64_t val)
{
	struct ipcx__sem_body *b = s->b;
	uint32_t n = atomic_load_explicit(&b->jn, memory_order_relaxed);

	/* Every step is sized to fit (see IPCX__SEM_JMAX); this only guards the bound. */
	if (n >= IPCX__SEM_JMAX)
		return;
	b->jent[n].kind = kind;
	b->jent[n].idx = idx;
	b->jent[n].val = val;
	atomic_store_explicit(&b->jn, n + 1, memory_order_relaxed);
}

void ipcx__sem_jcommit(struct ipcx_semset *s);
/*
 * Applies the UNDO tables of dead processes (thorough: reads /proc for every owner; cheap:
 * only kill(pid, 0)) and frees dead waiters' records. Returns true when values changed.
 * Lock held.
 */
bool ipcx__sem_reap(struct ipcx_semset *s, bool thorough);
/* Applies table t's adjustments (its owner ended) with pid as the last pid. Lock held. */
void ipcx__sem_undo_apply(struct ipcx_semset *s, uint32_t t, int32_t pid);

/* ---- semset_op.c ---- */
/*
 * Completes the waiting operations that can now complete, after a change to the
 * semaphores idx[0..n-1] (idx NULL: any of them). Lock held.
 */
void ipcx__sem_update(struct ipcx_semset *s, const uint32_t *idx, uint32_t n);
/* The bound for scans of WAITING records (a hint, bounded here). */
static inline uint32_t ipcx__sem_rec_hi(const struct ipcx__sem_body *b)
{
	uint32_t hi = atomic_load_explicit(&b->rec_hi, memory_order_relaxed);

	return hi < IPCX__SEM_NREC ? hi : IPCX__SEM_NREC;
}

/* Whether the process waiting in record i is alive (cheap and exact when it can). */
bool ipcx__sem_rec_alive(struct ipcx_semset *s, uint32_t i);
/* Frees a record and its continuation chunks. Lock held. */
void ipcx__sem_rec_free(struct ipcx_semset *s, uint32_t i);
/* Wakes every DONE record's waiter (after a recovery). */
void ipcx__sem_wake_done(struct ipcx_semset *s);

#endif
