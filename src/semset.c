/* SPDX-License-Identifier: MIT */
/*
 * Semaphore sets: the kind (create, validate, removal), handles (open, close, UNDO at
 * exit), and the semctl-like calls (get/set one, getall/setall, ncnt, zcnt, pid).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal/robust.h"
#include "internal/semset.h"
#include "internal/sys.h"

static uint64_t body_size_for(uint32_t nsems)
{
	return sizeof(struct ipcx__sem_body) + (uint64_t)nsems * sizeof(uint64_t);
}

static int sem_validate(const void *body, uint64_t size)
{
	const struct ipcx__sem_body *b = body;
	uint32_t n;

	if (size < sizeof(*b))
		return -EBADMSG;
	n = b->nsems; /* read once */
	if (b->magic != IPCX__SEM_MAGIC || n == 0 || n > IPCX_SEM_MAX_SEMS ||
	    size != body_size_for(n) || b->body_size != size || b->nrec != IPCX__SEM_NREC ||
	    b->rec_ops != IPCX__SEM_REC_OPS || b->undo_cap != IPCX__SEM_UNDO_CAP ||
	    b->jmax != IPCX__SEM_JMAX || b->slots != IPCX_MAX_ATTACH)
		return -EBADMSG;
	return 0;
}

static void sem_on_remove(void *body, uint64_t size)
{
	struct ipcx__sem_body *b = body;

	if (size < sizeof(*b))
		return;
	/* Every sleeper sleeps on its own record's state, or on the lock. */
	for (uint32_t i = 0; i < IPCX__SEM_NREC; i++)
		ipcx__futex_wake(&b->rec[i].state, INT32_MAX);
	atomic_fetch_add_explicit(&b->lock_seq, 1, memory_order_release);
	ipcx__futex_wake(&b->lock_seq, INT32_MAX);
}

const struct ipcx__kind ipcx__semset_kind = {
        IPCX_KIND_SEMSET,
        "semset",
        sem_validate,
        sem_on_remove,
};

struct init_arg {
	uint32_t nsems;
	int32_t value;
};

static int sem_init(void *body, uint64_t size, const void *arg)
{
	const struct init_arg *a = arg;
	struct ipcx__sem_body *b = body;

	b->magic = IPCX__SEM_MAGIC;
	b->body_size = size;
	b->nsems = a->nsems;
	b->nrec = IPCX__SEM_NREC;
	b->rec_ops = IPCX__SEM_REC_OPS;
	b->undo_cap = IPCX__SEM_UNDO_CAP;
	b->jmax = IPCX__SEM_JMAX;
	b->slots = IPCX_MAX_ATTACH;
	for (uint32_t i = 0; i < a->nsems; i++)
		atomic_store_explicit(&b->sems[i], ipcx__sem_word(a->value, 0),
		                      memory_order_relaxed);
	for (uint32_t i = 0; i < IPCX__SEM_NREC; i++) {
		int r = ipcx__robust_init(&b->rec[i].alive);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the process's open handles, so that a normal exit applies their UNDO ---- */

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipcx_semset *handles;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

/* Applies this handle's own UNDO adjustments. */
static void release_undo(struct ipcx_semset *s)
{
	uint64_t me = ipcx__proc_self();

	/* A forked child's copy of a handle holds its parent's adjustments, not its own. */
	if (me != s->obj.who)
		return;
	ipcx__sem_lock(s);
	if (atomic_load_explicit(&s->b->undo[s->obj.slot].owner, memory_order_relaxed) == me) {
		ipcx__sem_undo_apply(s, s->obj.slot, ipcx__id_pid(me));
		ipcx__sem_update(s, NULL, 0);
	}
	ipcx__sem_unlock(s);
}

static void at_exit(void)
{
	pthread_mutex_lock(&handles_lock);
	for (struct ipcx_semset *s = handles; s; s = s->next)
		release_undo(s);
	pthread_mutex_unlock(&handles_lock);
}

static void register_atexit(void)
{
	atexit(at_exit);
}

static void link_handle(struct ipcx_semset *s)
{
	pthread_once(&atexit_once, register_atexit);
	pthread_mutex_lock(&handles_lock);
	s->next = handles;
	s->prev = NULL;
	if (handles)
		handles->prev = s;
	handles = s;
	pthread_mutex_unlock(&handles_lock);
}

static void unlink_handle(struct ipcx_semset *s)
{
	pthread_mutex_lock(&handles_lock);
	if (s->prev)
		s->prev->next = s->next;
	else if (handles == s)
		handles = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&handles_lock);
}

int ipcx_semset_open(const char *name, unsigned flags, mode_t mode, uint32_t nsems,
                     int initial_value, ipcx_semset **ret_set)
{
	struct init_arg arg = {nsems, initial_value};
	struct ipcx_semset *s;
	uint32_t have;
	uint64_t owner;
	int r;

	if (!ret_set)
		return -EINVAL;
	if ((flags & IPCX_CREATE) && (nsems == 0 || nsems > IPCX_SEM_MAX_SEMS ||
	                              initial_value < 0 || initial_value > IPCX_SEM_VALUE_MAX))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = ipcx__obj_open(&s->obj, &ipcx__semset_kind, name, flags, mode,
	                   body_size_for(nsems ? nsems : 1), sem_init, &arg);
	if (r < 0) {
		free(s);
		return r;
	}
	s->b = s->obj.body;
	/* validate() checked nsems against the size, but the word may have changed since:
	 * read it once more and bound it by the mapping itself. */
	have = s->b->nsems;
	if (have == 0 || have > IPCX_SEM_MAX_SEMS || body_size_for(have) > s->obj.body_size) {
		ipcx__obj_close(&s->obj);
		free(s);
		return -EBADMSG;
	}
	if (r == 0 && nsems > have) {
		ipcx__obj_close(&s->obj);
		free(s);
		return -EINVAL;
	}
	s->nsems = have;
	ipcx__spin_init(&s->spin, IPCX__WAIT_ADAPTIVE);
	/* A dead process that held this slot may have left UNDO adjustments in it. */
	owner = atomic_load_explicit(&s->b->undo[s->obj.slot].owner, memory_order_relaxed);
	if (owner != 0 && owner != s->obj.who) {
		ipcx__sem_lock(s);
		owner = atomic_load_explicit(&s->b->undo[s->obj.slot].owner, memory_order_relaxed);
		if (owner != 0 && owner != s->obj.who) {
			ipcx__sem_undo_apply(s, s->obj.slot, ipcx__id_pid(owner));
			ipcx__sem_update(s, NULL, 0);
		}
		ipcx__sem_unlock(s);
	}
	link_handle(s);
	*ret_set = s;
	return r;
}

void ipcx_semset_close(ipcx_semset *s)
{
	if (!s)
		return;
	unlink_handle(s);
	release_undo(s);
	ipcx__obj_close(&s->obj);
	free(s);
}

int ipcx_semset_nsems(const ipcx_semset *s)
{
	return s ? (int)s->nsems : -EINVAL;
}

int ipcx_semset_set_wait(ipcx_semset *s, unsigned mode)
{
	if (!s || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	__atomic_store_n(&s->spin.mode, mode, __ATOMIC_RELAXED);
	__atomic_store_n(&s->spin.budget_ns, IPCX__SPIN_START_NS, __ATOMIC_RELAXED);
	return 0;
}

/* Takes the lock for a read: nothing a dead process left may be observed. */
static void lock_for_read(struct ipcx_semset *s)
{
	ipcx__sem_lock(s);
	if (ipcx__sem_reap(s, true))
		ipcx__sem_update(s, NULL, 0);
}

int ipcx_semset_stat(ipcx_semset *s, uint32_t first, struct ipcx_sem_info *ret, size_t n)
{
	struct ipcx__sem_body *b;

	if (!s || (!ret && n))
		return -EINVAL;
	if (first >= s->nsems)
		return -EFBIG;
	if (n > s->nsems - first)
		n = s->nsems - first;
	b = s->b;
	lock_for_read(s);
	for (size_t j = 0; j < n; j++) {
		uint64_t w = atomic_load_explicit(&b->sems[first + j], memory_order_relaxed);

		ret[j].value = ipcx__sem_val(w);
		ret[j].pid = ipcx__sem_pidof(w);
		ret[j].ncnt = ret[j].zcnt = 0;
	}
	/* An operation counts at the entry it waits at (Linux's rule since 4.x). */
	for (uint32_t i = 0, hi = ipcx__sem_rec_hi(b); i < hi; i++) {
		const struct ipcx__sem_rec *r = &b->rec[i];
		uint32_t k = r->bidx - first;

		if (atomic_load_explicit(&r->state, memory_order_relaxed) != IPCX__R_WAITING ||
		    r->bidx < first || k >= n)
			continue;
		if (r->bzero)
			ret[k].zcnt++;
		else
			ret[k].ncnt++;
	}
	ipcx__sem_unlock(s);
	return (int)n;
}

static int stat_one(ipcx_semset *s, uint32_t index, struct ipcx_sem_info *ret)
{
	int r = ipcx_semset_stat(s, index, ret, 1);

	return r < 0 ? r : 0;
}

int ipcx_semset_get(ipcx_semset *s, uint32_t index)
{
	struct ipcx_sem_info in;
	int r = stat_one(s, index, &in);

	return r < 0 ? r : in.value;
}

int ipcx_semset_ncnt(ipcx_semset *s, uint32_t index)
{
	struct ipcx_sem_info in;
	int r = stat_one(s, index, &in);

	return r < 0 ? r : (int)in.ncnt;
}

int ipcx_semset_zcnt(ipcx_semset *s, uint32_t index)
{
	struct ipcx_sem_info in;
	int r = stat_one(s, index, &in);

	return r < 0 ? r : (int)in.zcnt;
}

int ipcx_semset_pid(ipcx_semset *s, uint32_t index)
{
	struct ipcx_sem_info in;
	int r = stat_one(s, index, &in);

	return r < 0 ? r : (int)in.pid;
}

int ipcx_semset_getall(ipcx_semset *s, int32_t *ret, size_t n)
{
	if (!s || !ret || n < s->nsems)
		return -EINVAL;
	lock_for_read(s);
	for (uint32_t i = 0; i < s->nsems; i++)
		ret[i] = ipcx__sem_val(atomic_load_explicit(&s->b->sems[i], memory_order_relaxed));
	ipcx__sem_unlock(s);
	return (int)s->nsems;
}

/*
 * Zeroes every handle's adjustment for semaphore idx (all when idx < 0), as SETVAL and
 * SETALL do. The tables keep their owners, as the kernel keeps the undo structures.
 */
static void clear_undo(struct ipcx_semset *s, int64_t idx, bool journal)
{
	struct ipcx__sem_body *b = s->b;

	for (uint32_t t = 0; t < IPCX_MAX_ATTACH; t++) {
		if (!atomic_load_explicit(&b->undo[t].owner, memory_order_relaxed))
			continue;
		for (uint32_t c = 0; c < IPCX__SEM_UNDO_CAP; c++) {
			uint64_t w = atomic_load_explicit(&b->undo[t].ent[c], memory_order_relaxed);

			if (w == 0 || (idx >= 0 && (uint32_t)w != (uint64_t)idx + 1))
				continue;
			if (journal)
				ipcx__sem_jadd(s, IPCX__J_UNDO_ENT, t * IPCX__SEM_UNDO_CAP + c, 0);
			else
				atomic_store_explicit(&b->undo[t].ent[c], 0, memory_order_relaxed);
		}
	}
}

static void recount_tables(struct ipcx_semset *s)
{
	uint32_t n = 0;

	for (uint32_t t = 0; t < IPCX_MAX_ATTACH; t++)
		n += atomic_load_explicit(&s->b->undo[t].owner, memory_order_relaxed) != 0;
	atomic_store_explicit(&s->b->undo_tables, n, memory_order_relaxed);
}

int ipcx_semset_set(ipcx_semset *s, uint32_t index, int value)
{
	int32_t pid;

	if (!s)
		return -EINVAL;
	if (index >= s->nsems)
		return -EFBIG;
	if (value < 0 || value > IPCX_SEM_VALUE_MAX)
		return -ERANGE;
	pid = ipcx__id_pid(ipcx__proc_self());
	lock_for_read(s);
	ipcx__sem_jbegin(s);
	ipcx__sem_jadd(s, IPCX__J_SEM, index, ipcx__sem_word(value, pid));
	clear_undo(s, index, true);
	ipcx__sem_jcommit(s);
	recount_tables(s);
	ipcx__sem_update(s, NULL, 0);
	ipcx__sem_unlock(s);
	return 0;
}

int ipcx_semset_setall(ipcx_semset *s, const int32_t *values, size_t n)
{
	int32_t pid;

	if (!s || !values || n != s->nsems)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (values[i] < 0 || values[i] > IPCX_SEM_VALUE_MAX)
			return -ERANGE;
	pid = ipcx__id_pid(ipcx__proc_self());
	lock_for_read(s);
	/* Too large for the journal: written in place (see the header on crashes). */
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&s->b->sems[i], ipcx__sem_word(values[i], pid),
		                      memory_order_relaxed);
	clear_undo(s, -1, false);
	recount_tables(s);
	ipcx__sem_update(s, NULL, 0);
	ipcx__sem_unlock(s);
	return 0;
}
