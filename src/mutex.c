/* SPDX-License-Identifier: MIT */
/*
 * mutex: a glibc robust process-shared mutex in a named object, with a record of which
 * process holds it (for ipcx stat), a spin before sleeping, and -EIDRM after removal.
 * internal/robust.h says what is relied on from glibc and the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <ipcx/mutex.h>

#include "internal/obj.h"
#include "internal/robust.h"
#include "internal/wait.h"

#define MUTEX_MAGIC 0x3158544du /* "MTX1" */

/* A blocked lock looks at the removed flag this often. */
#define SLICE_NS 100000000

struct body {
	uint32_t magic;
	int32_t mutex_kind; /* glibc's kind word of m, checked by validate */
	uint8_t pad0[56];
	pthread_mutex_t m;
	uint8_t pad1[64 - sizeof(pthread_mutex_t) % 64];
	/* Who holds it: written by the holder after locking, cleared before unlocking. Only
	 * reported, never trusted for the locking itself. */
	_Atomic uint64_t owner_id; /* process identity (pid and start time) */
	_Atomic uint32_t owner_tid;
	uint32_t pad2;
};

_Static_assert(offsetof(struct body, m) == 64, "layout");

struct ipcx_mutex {
	struct ipcx__obj obj;
	struct body *b;
	_Atomic uint32_t mode;
	_Atomic uint32_t budget;
};

static int mutex_validate(const void *body, uint64_t size)
{
	const struct body *b = body;

	if (size != sizeof(*b) || b->magic != MUTEX_MAGIC || b->mutex_kind != ipcx__robust_kind() ||
	    !ipcx__robust_ok(&b->m))
		return -EBADMSG;
	return 0;
}

const struct ipcx__kind ipcx__mutex_kind = {IPCX_KIND_MUTEX, "mutex", mutex_validate, NULL};

static int mutex_init(void *body, uint64_t size, const void *arg)
{
	struct body *b = body;

	b->magic = MUTEX_MAGIC;
	b->mutex_kind = ipcx__robust_kind();
	return ipcx__robust_init(&b->m);
}

int ipcx_mutex_open(const char *name, unsigned flags, mode_t mode, ipcx_mutex **ret_mutex)
{
	ipcx_mutex *mx;
	int r;

	if (!ret_mutex)
		return -EINVAL;
	mx = calloc(1, sizeof(*mx));
	if (!mx)
		return -ENOMEM;
	r = ipcx__obj_open(&mx->obj, &ipcx__mutex_kind, name, flags, mode, sizeof(struct body),
	                   mutex_init, NULL);
	if (r < 0) {
		free(mx);
		return r;
	}
	mx->b = mx->obj.body;
	atomic_init(&mx->mode, IPCX__WAIT_ADAPTIVE);
	atomic_init(&mx->budget, IPCX__SPIN_START_NS);
	*ret_mutex = mx;
	return r;
}

void ipcx_mutex_close(ipcx_mutex *mx)
{
	uint32_t w;

	if (!mx)
		return;
	w = ipcx__robust_word(&mx->b->m);
	if ((w & IPCX__FUTEX_TID_MASK) != 0 &&
	    atomic_load_explicit(&mx->b->owner_id, memory_order_relaxed) == ipcx__proc_self()) {
		/* A thread of ours holds it, so its robust list points into the mapping: keep
		 * the mapping (and the attachment) for the life of the process. */
		free(mx);
		return;
	}
	ipcx__obj_close(&mx->obj);
	free(mx);
}

int ipcx_mutex_set_wait(ipcx_mutex *mx, unsigned mode)
{
	if (!mx || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	atomic_store_explicit(&mx->mode, mode, memory_order_relaxed);
	return 0;
}

/* Spins while the lock is held, trying it whenever it looks free. Returns a trylock result,
 * EBUSY when the spin ran out, or EIDRM when the mutex was removed. */
static int spin_lock(ipcx_mutex *mx, int64_t until_ns)
{
	struct body *b = mx->b;
	int r;

	for (;;) {
		for (int i = 0; i < 64; i++) {
			/* Only try when the word looks free (or owner-dead): a failing CAS on
			 * every turn would steal the line from the holder. */
			if ((ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK) == 0) {
				r = ipcx__robust_trylock(&b->m);
				if (r != EBUSY)
					return r;
			}
			ipcx__cpu_relax();
		}
		if (ipcx__now_ns() >= until_ns)
			return EBUSY;
		if (ipcx__obj_removed(&mx->obj))
			return EIDRM; /* a SPIN-mode lock may spin until its deadline: look here */
	}
}

/* The contended path: spin (by the handle's mode), then sleep in slices until d. */
static int lock_slow(ipcx_mutex *mx, ipcx__deadline d)
{
	struct ipcx__spin sp = {
	        .mode = atomic_load_explicit(&mx->mode, memory_order_relaxed),
	        .budget_ns = atomic_load_explicit(&mx->budget, memory_order_relaxed),
	};
	int64_t start, until;
	int r;

	if (sp.mode != IPCX__WAIT_SLEEP) {
		until = sp.mode == IPCX__WAIT_SPIN ? d.at_ns : ipcx__now_ns() + sp.budget_ns;
		if (until > d.at_ns)
			until = d.at_ns;
		r = spin_lock(mx, until);
		if (r != EBUSY)
			return r;
		if (until == d.at_ns)
			return ETIMEDOUT;
	}
	start = ipcx__now_ns();
	for (;;) {
		int64_t slice = ipcx__now_ns() + SLICE_NS;

		if (ipcx__obj_removed(&mx->obj))
			return EIDRM;
		r = ipcx__robust_lock_until(&mx->b->m, slice < d.at_ns ? slice : d.at_ns);
		if (r != ETIMEDOUT || slice >= d.at_ns)
			break;
	}
	if (sp.mode == IPCX__WAIT_ADAPTIVE && (r == 0 || r == EOWNERDEAD)) {
		ipcx__spin_adapt(&sp, ipcx__now_ns() - start);
		atomic_store_explicit(&mx->budget, sp.budget_ns, memory_order_relaxed);
	}
	return r;
}

int ipcx_mutex_lock(ipcx_mutex *mx, int64_t timeout_ns)
{
	struct body *b;
	int r;

	if (!mx)
		return -EINVAL;
	b = mx->b;
	if (ipcx__obj_removed(&mx->obj))
		return -EIDRM;
	r = ipcx__robust_trylock(&b->m);
	if (r == EBUSY)
		r = timeout_ns == 0 ? EAGAIN : lock_slow(mx, ipcx__deadline_in(timeout_ns));
	switch (r) {
	case 0:
	case EOWNERDEAD:
		/* Our thread id, as glibc wrote it into the lock word we hold. Relaxed: the
		 * record is only reported. */
		atomic_store_explicit(&b->owner_tid,
		                      ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK,
		                      memory_order_relaxed);
		atomic_store_explicit(&b->owner_id, ipcx__proc_self(), memory_order_relaxed);
		return -r;
	case EINVAL:
		return -EBADMSG; /* the kind was changed under us */
	default:
		return -r;
	}
}

int ipcx_mutex_trylock(ipcx_mutex *mx)
{
	return ipcx_mutex_lock(mx, 0);
}

int ipcx_mutex_unlock(ipcx_mutex *mx)
{
	struct body *b;
	uint32_t tid;
	int r;

	if (!mx)
		return -EINVAL;
	b = mx->b;
	if (!ipcx__robust_ok(&b->m))
		return -EBADMSG;
	/* glibc would say EPERM too; deciding it here keeps a misuse away from glibc (and
	 * from sanitizers, which report it as an error even though it is handled). */
	tid = ipcx__robust_self_tid();
	if ((ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK) != tid)
		return -EPERM;
	if (atomic_load_explicit(&b->owner_tid, memory_order_relaxed) == tid) {
		atomic_store_explicit(&b->owner_id, 0, memory_order_relaxed);
		atomic_store_explicit(&b->owner_tid, 0, memory_order_relaxed);
	}
	r = pthread_mutex_unlock(&b->m);
	return r == EINVAL ? -EBADMSG : -r;
}

int ipcx_mutex_consistent(ipcx_mutex *mx)
{
	int r;

	if (!mx)
		return -EINVAL;
	if (!ipcx__robust_ok(&mx->b->m))
		return -EBADMSG;
	/* glibc does not check the caller holds it; POSIX requires that it does. */
	if ((ipcx__robust_word(&mx->b->m) & IPCX__FUTEX_TID_MASK) != ipcx__robust_self_tid())
		return -EPERM;
	r = pthread_mutex_consistent(&mx->b->m);
	return -r;
}

int ipcx_mutex_get_state(ipcx_mutex *mx, struct ipcx_mutex_state *ret_state)
{
	struct ipcx_mutex_state st = {0};
	struct body *b;
	uint64_t id;
	uint32_t w, tid, rtid;

	if (!mx || !ret_state)
		return -EINVAL;
	b = mx->b;
	w = ipcx__robust_word(&b->m);
	tid = w & IPCX__FUTEX_TID_MASK;
	id = atomic_load_explicit(&b->owner_id, memory_order_relaxed);
	rtid = atomic_load_explicit(&b->owner_tid, memory_order_relaxed);
	st.removed = ipcx__obj_removed(&mx->obj);
	st.waiters = (w & IPCX__FUTEX_WAITERS) != 0;
	st.health = ipcx__robust_health(&b->m);
	if (tid != 0) {
		bool known = rtid == tid && id != 0;
		pid_t pid = known ? ipcx__id_pid(id) : 0;
		bool alive = known ? ipcx__proc_alive(id) && ipcx__thread_alive(pid, (pid_t)tid)
		                   : ipcx__thread_alive(0, (pid_t)tid);

		st.locked = true;
		st.owner_tid = (pid_t)tid;
		st.owner_pid = pid;
		st.owner = alive ? IPCX_MUTEX_ALIVE : IPCX_MUTEX_DEAD;
	} else if (w & IPCX__FUTEX_OWNER_DIED) {
		/* Released by the kernel for a dead holder; the record names it, if it got to
		 * write one. */
		st.owner = IPCX_MUTEX_DEAD;
		st.owner_pid = id ? ipcx__id_pid(id) : 0;
		st.owner_tid = id ? (pid_t)rtid : 0;
	}
	*ret_state = st;
	return 0;
}

const char *ipcx_mutex_owner_name(int owner)
{
	switch (owner) {
	case IPCX_MUTEX_FREE:
		return "free";
	case IPCX_MUTEX_ALIVE:
		return "alive";
	case IPCX_MUTEX_DEAD:
		return "dead";
	default:
		return "?";
	}
}

const char *ipcx_mutex_health_name(int health)
{
	switch (health) {
	case IPCX_MUTEX_CONSISTENT:
		return "consistent";
	case IPCX_MUTEX_INCONSISTENT:
		return "inconsistent";
	case IPCX_MUTEX_NOTRECOVERABLE:
		return "notrecoverable";
	default:
		return "?";
	}
}
