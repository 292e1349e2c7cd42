/* SPDX-License-Identifier: MIT */
/*
 * region: shared memory with a robust writer lock, a version readers can wait on, and
 * snapshot reads that never block the writer. docs/region.md has the long version; in short:
 *
 * The data is kept twice. gen holds bit 0 = a write is in progress and, above it, n = the
 * number of published writes; copy n & 1 is the current one. A writer (holding the lock)
 * writes copy (n + 1) & 1 and publishes by storing gen = (n + 1) << 1. A reader copies from
 * copy n & 1 and accepts iff n is unchanged afterwards: a write of generation n + 1 only
 * touches the other copy, so only a write of a later generation, which must first publish
 * n + 1, can touch the one being read.
 *
 * The copy being written was current one generation ago, so it lags the current one exactly
 * by the range of the last published write (last_*), plus the range of a write begun and not
 * published (pend_*: aborted, or its writer died). A writer copies those two ranges over
 * before it lets its caller write, so a write costs its own size, not the region's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <ipcx/region.h>

#include "internal/obj.h"
#include "internal/robust.h"
#include "internal/source.h"
#include "internal/wait.h"

#define REGION_MAGIC 0x314e4752u /* "RGN1" */
#define HDR_SIZE 4096u           /* the region's header; the copies follow it */

/* A blocked writer looks at the removed flag this often. */
#define SLICE_NS 100000000

struct body {
	uint32_t magic;
	int32_t mutex_kind; /* glibc's kind word of m, checked by validate */
	uint64_t size;      /* the data size S */
	uint64_t stride;    /* the distance between the two copies */
	uint64_t data_off;  /* where copy 0 starts (HDR_SIZE) */
	uint8_t pad0[32];
	/* The word every reader reads twice, on a line of its own. */
	_Atomic uint64_t gen; /* bit 0: a write is in progress; above: n, the version */
	uint8_t pad1[56];
	_Atomic uint32_t change;   /* futex word: bumped after every publish and on removal */
	_Atomic uint32_t sleepers; /* waiters asleep on change */
	uint8_t pad2[56];
	/* Written only by the lock holder: where the copy being written lags the current one. */
	_Atomic uint64_t last_off, last_len; /* the last published write */
	_Atomic uint64_t pend_off, pend_len; /* a write begun and not published */
	/* Who holds the lock and who published last: only reported, never trusted. */
	_Atomic uint64_t owner_id;
	_Atomic uint32_t owner_tid;
	uint32_t pad3;
	_Atomic uint64_t last_writer_id;
	_Atomic int64_t last_write_ns;
	pthread_mutex_t m;
};

_Static_assert(offsetof(struct body, gen) == 64, "layout");
_Static_assert(offsetof(struct body, change) == 128, "layout");
_Static_assert(offsetof(struct body, sleepers) == offsetof(struct body, change) + 4,
               "a watched word's count follows it (internal/watch.h)");
_Static_assert(offsetof(struct body, last_off) == 192, "layout");
_Static_assert(offsetof(struct body, m) == 256, "layout");
_Static_assert(sizeof(struct body) <= HDR_SIZE, "header fits");

struct ipcx_region {
	struct ipcx__obj obj;
	struct body *b;
	uint8_t *data[2];
	uint64_t size; /* read once at open, validated against the mapping */
	_Atomic uint32_t mode;
	_Atomic uint32_t budget;
	/* The write in progress; written only by the thread holding the lock. */
	_Atomic bool wactive;
	_Atomic(pthread_t) wthread; /* atomic: a wrong thread's commit may read it meanwhile */
	uint64_t wgen;              /* n when the write began */
	uint32_t wtid;              /* the lock word's owner then: our thread id */
	uint64_t woff, wlen;
};

/* The distance between the copies: cache-line aligned, page aligned from a page up. */
static uint64_t stride_of(uint64_t size)
{
	uint64_t a = size >= 4096 ? 4096 : 64;
	return (size + a - 1) & ~(a - 1);
}

static int region_validate(const void *body, uint64_t body_size)
{
	const struct body *b = body;
	uint64_t size, stride, off;

	if (body_size < HDR_SIZE)
		return -EBADMSG;
	/* Each field once, into a local, then bounded. */
	size = *(const volatile uint64_t *)&b->size;
	stride = *(const volatile uint64_t *)&b->stride;
	off = *(const volatile uint64_t *)&b->data_off;
	if (b->magic != REGION_MAGIC || b->mutex_kind != ipcx__robust_kind() ||
	    !ipcx__robust_ok(&b->m))
		return -EBADMSG;
	if (size == 0 || size > IPCX_REGION_MAX_SIZE || stride != stride_of(size) ||
	    off != HDR_SIZE || body_size != HDR_SIZE + 2 * stride)
		return -EBADMSG;
	return 0;
}

/* Wakes every waiter: the object layer has marked the region removed before calling this. */
static void region_on_remove(void *body, uint64_t body_size)
{
	struct body *b = body;

	if (body_size < HDR_SIZE)
		return;
	/* Release pairs with the waiter's acquire load of change, after which it reads the
	 * removed flag the object layer stored before calling us. */
	atomic_fetch_add_explicit(&b->change, 1, memory_order_release);
	ipcx__futex_wake(&b->change, INT32_MAX);
}

const struct ipcx__kind ipcx__region_kind = {IPCX_KIND_REGION, "region", region_validate,
                                             region_on_remove};

static int region_init(void *body, uint64_t body_size, const void *arg)
{
	struct body *b = body;

	/* The file is fresh and zero-filled: both copies hold zeroes, gen and ranges are 0. */
	b->magic = REGION_MAGIC;
	b->mutex_kind = ipcx__robust_kind();
	b->size = *(const uint64_t *)arg;
	b->stride = stride_of(b->size);
	b->data_off = HDR_SIZE;
	return ipcx__robust_init(&b->m);
}

int ipcx_region_open(const char *name, unsigned flags, mode_t mode, uint64_t size,
                     ipcx_region **ret_region)
{
	ipcx_region *r;
	uint64_t have;
	int ret;

	if (!ret_region || (size == 0 && (flags & IPCX_CREATE)))
		return -EINVAL;
	if (size > IPCX_REGION_MAX_SIZE)
		return -EFBIG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = ipcx__obj_open(&r->obj, &ipcx__region_kind, name, flags, mode,
	                     HDR_SIZE + 2 * stride_of(size), region_init, &size);
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->b = r->obj.body;
	/* validate checked this value against the mapping; it is never read again. */
	have = *(volatile uint64_t *)&r->b->size;
	if (have == 0 || have > IPCX_REGION_MAX_SIZE ||
	    stride_of(have) * 2 + HDR_SIZE != r->obj.body_size)
		ret = -EBADMSG; /* changed since validate looked */
	else if (size && have != size)
		ret = -ERANGE;
	if (ret < 0) {
		ipcx__obj_close(&r->obj);
		free(r);
		return ret;
	}
	r->size = have;
	r->data[0] = (uint8_t *)r->b + HDR_SIZE;
	r->data[1] = r->data[0] + stride_of(have);
	atomic_init(&r->mode, IPCX__WAIT_ADAPTIVE);
	atomic_init(&r->budget, IPCX__SPIN_START_NS);
	*ret_region = r;
	return ret;
}

void ipcx_region_close(ipcx_region *r)
{
	if (!r)
		return;
	if (atomic_load_explicit(&r->wactive, memory_order_relaxed)) {
		/* A thread of ours holds the lock, so its robust list points into the mapping:
		 * keep the mapping (and the attachment) for the life of the process. Its
		 * descriptor goes, though. */
		if (r->obj.fdws)
			ipcx__fd_drop(&r->obj);
		free(r);
		return;
	}
	ipcx__obj_close(&r->obj);
	free(r);
}

uint64_t ipcx_region_size(const ipcx_region *r)
{
	return r ? r->size : 0;
}

int ipcx_region_set_wait(ipcx_region *r, unsigned mode)
{
	if (!r || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	atomic_store_explicit(&r->mode, mode, memory_order_relaxed);
	return 0;
}

int64_t ipcx_region_version(ipcx_region *r)
{
	if (!r)
		return -EINVAL;
	/* Acquire pairs with the publishing store in commit. */
	return (int64_t)(atomic_load_explicit(&r->b->gen, memory_order_acquire) >> 1);
}

/* True when [off, off + len) lies within size bytes. */
static bool in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

int ipcx_region_read(ipcx_region *r, uint64_t offset, void *buf, size_t len, uint64_t *ret_version)
{
	struct body *b;

	if (!r || (!buf && len) || !in_range(offset, len, r->size))
		return -EINVAL;
	b = r->b;
	for (int i = 0; i < IPCX_REGION_READ_TRIES; i++) {
		/* Acquire pairs with the publishing release store in commit: the copy it names
		 * is complete. */
		uint64_t g1 = atomic_load_explicit(&b->gen, memory_order_acquire), g2;

		if (len)
			memcpy(buf, r->data[(g1 >> 1) & 1] + offset, len);
		/* Orders the copy before the second load of gen; pairs with the release fence
		 * a writer issues after marking a write in progress and before it touches the
		 * copy: if we read anything that writer wrote, we see its gen here. */
		atomic_thread_fence(memory_order_acquire);
		g2 = atomic_load_explicit(&b->gen, memory_order_relaxed);
		if ((g1 >> 1) == (g2 >> 1)) {
			if (ret_version)
				*ret_version = g1 >> 1;
			return 0;
		}
		ipcx__cpu_relax();
	}
	return -EAGAIN;
}

int ipcx_region_wait_change(ipcx_region *r, uint64_t last_seen, int64_t timeout_ns,
                            uint64_t *ret_version)
{
	struct ipcx__spin sp;
	ipcx__deadline d;
	struct body *b;
	int ret = 0;

	if (!r)
		return -EINVAL;
	b = r->b;
	sp.mode = atomic_load_explicit(&r->mode, memory_order_relaxed);
	sp.budget_ns = atomic_load_explicit(&r->budget, memory_order_relaxed);
	d = ipcx__deadline_in(timeout_ns);
	for (;;) {
		/* change before gen: a publish that we miss in gen changes change after. Acquire
		 * pairs with the release increment in commit and on_remove. */
		uint32_t c = atomic_load_explicit(&b->change, memory_order_acquire);
		uint64_t v = atomic_load_explicit(&b->gen, memory_order_acquire) >> 1;

		if (v != last_seen) {
			if (ret_version)
				*ret_version = v;
			ret = 0;
			break;
		}
		if (ipcx__obj_removed(&r->obj)) {
			ret = -EIDRM;
			break;
		}
		if (timeout_ns == 0) {
			ret = -EAGAIN;
			break;
		}
		/* Bounded by the deadline: a peer bumping change alone only wakes us early. */
		ret = ipcx__wait(&sp, &b->change, c, &b->sleepers, d);
		if (ret < 0)
			break;
	}
	atomic_store_explicit(&r->budget, sp.budget_ns, memory_order_relaxed);
	return ret;
}

/* ---- writing ---- */

/*
 * Copies [off, off + len) of the current copy into the other one. A range that is not
 * within the region (only a hostile peer writes one) copies everything, which is never
 * wrong, only slow.
 */
static void sync_range(ipcx_region *r, unsigned cur, uint64_t off, uint64_t len)
{
	if (!in_range(off, len, r->size)) {
		off = 0;
		len = r->size;
	}
	if (len)
		memcpy(r->data[cur ^ 1] + off, r->data[cur] + off, len);
}

/*
 * sync_range without the bytes of [skip_off, skip_off + skip_len), which the caller is
 * about to overwrite whole: what is left is at most a piece before and a piece after.
 */
static void sync_range_except(ipcx_region *r, unsigned cur, uint64_t off, uint64_t len,
                              uint64_t skip_off, uint64_t skip_len)
{
	uint64_t end, skip_end = skip_off + skip_len; /* in range: checked by the caller */

	if (!in_range(off, len, r->size)) {
		off = 0;
		len = r->size;
	}
	end = off + len;
	if (skip_len == 0 || end <= skip_off || off >= skip_end) {
		sync_range(r, cur, off, len);
		return;
	}
	if (off < skip_off)
		sync_range(r, cur, off, skip_off - off);
	if (end > skip_end)
		sync_range(r, cur, skip_end, end - skip_end);
}

/*
 * Makes the copy being written equal to the current one, from the recorded ranges, except
 * for [skip_off, skip_off + skip_len) (skip_len 0: everything).
 */
static void sync_copies(ipcx_region *r, unsigned cur, uint64_t skip_off, uint64_t skip_len)
{
	struct body *b = r->b;

	/* Relaxed: written by earlier lock holders, ordered by the lock. */
	sync_range_except(r, cur, atomic_load_explicit(&b->last_off, memory_order_relaxed),
	                  atomic_load_explicit(&b->last_len, memory_order_relaxed), skip_off,
	                  skip_len);
	sync_range_except(r, cur, atomic_load_explicit(&b->pend_off, memory_order_relaxed),
	                  atomic_load_explicit(&b->pend_len, memory_order_relaxed), skip_off,
	                  skip_len);
}

static void set_range(_Atomic uint64_t *off, _Atomic uint64_t *len, uint64_t o, uint64_t l)
{
	atomic_store_explicit(off, o, memory_order_relaxed);
	atomic_store_explicit(len, l, memory_order_relaxed);
}

/*
 * After a writer died holding the lock: brings the copy being written back to the current
 * one (it may hold half a write), forgets the ranges, clears the in-progress bit. Every step
 * can be repeated, so a repairer that dies too leaves the next one the same work.
 */
static void repair(ipcx_region *r)
{
	struct body *b = r->b;
	uint64_t g = atomic_load_explicit(&b->gen, memory_order_relaxed);
	unsigned cur = (unsigned)(g >> 1) & 1;

	if (g & 1) /* the half-written copy is about to change under nobody: no fence needed */
		atomic_store_explicit(&b->gen, g & ~1ull, memory_order_relaxed);
	sync_copies(r, cur, 0, 0);
	set_range(&b->last_off, &b->last_len, 0, 0);
	set_range(&b->pend_off, &b->pend_len, 0, 0);
}

/* Spins while the lock is held, trying it whenever it looks free. Returns a trylock result,
 * or EBUSY when the spin ran out. */
static int spin_lock(struct body *b, int64_t until_ns)
{
	int ret;

	for (;;) {
		for (int i = 0; i < 64; i++) {
			if ((ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK) == 0) {
				ret = ipcx__robust_trylock(&b->m);
				if (ret != EBUSY)
					return ret;
			}
			ipcx__cpu_relax();
		}
		if (ipcx__now_ns() >= until_ns)
			return EBUSY;
	}
}

/* The contended lock: spin (by the handle's mode), then sleep in slices until d. */
static int lock_slow(ipcx_region *r, ipcx__deadline d)
{
	struct ipcx__spin sp = {
	        .mode = atomic_load_explicit(&r->mode, memory_order_relaxed),
	        .budget_ns = atomic_load_explicit(&r->budget, memory_order_relaxed),
	};
	int64_t start, until;
	int ret;

	if (sp.mode != IPCX__WAIT_SLEEP) {
		until = sp.mode == IPCX__WAIT_SPIN ? d.at_ns : ipcx__now_ns() + sp.budget_ns;
		if (until > d.at_ns)
			until = d.at_ns;
		ret = spin_lock(r->b, until);
		if (ret != EBUSY)
			return ret;
		if (until == d.at_ns)
			return ETIMEDOUT;
	}
	start = ipcx__now_ns();
	for (;;) {
		int64_t slice = ipcx__now_ns() + SLICE_NS;

		if (ipcx__obj_removed(&r->obj))
			return EIDRM;
		ret = ipcx__robust_lock_until(&r->b->m, slice < d.at_ns ? slice : d.at_ns);
		if (ret != ETIMEDOUT || slice >= d.at_ns)
			break;
	}
	if (sp.mode == IPCX__WAIT_ADAPTIVE && (ret == 0 || ret == EOWNERDEAD)) {
		ipcx__spin_adapt(&sp, ipcx__now_ns() - start);
		atomic_store_explicit(&r->budget, sp.budget_ns, memory_order_relaxed);
	}
	return ret;
}

/* Takes the lock; returns 0, EOWNERDEAD (held) or a positive errno. */
static int lock(ipcx_region *r, int64_t timeout_ns)
{
	struct body *b = r->b;
	int ret = ipcx__robust_trylock(&b->m);

	if (ret == EBUSY)
		ret = timeout_ns == 0 ? EAGAIN : lock_slow(r, ipcx__deadline_in(timeout_ns));
	if (ret == 0 || ret == EOWNERDEAD) {
		/* Relaxed: the record is only reported. */
		atomic_store_explicit(&b->owner_tid,
		                      ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK,
		                      memory_order_relaxed);
		atomic_store_explicit(&b->owner_id, ipcx__proc_self(), memory_order_relaxed);
	}
	return ret == EINVAL ? EBADMSG : ret;
}

static void unlock(ipcx_region *r)
{
	struct body *b = r->b;

	atomic_store_explicit(&b->owner_id, 0, memory_order_relaxed);
	atomic_store_explicit(&b->owner_tid, 0, memory_order_relaxed);
	pthread_mutex_unlock(&b->m);
}

/* begin_write; with overwrite set the caller writes every byte of the range, so the bytes
 * of the range need not be brought up to date first. */
static int begin(ipcx_region *r, uint64_t offset, size_t len, int64_t timeout_ns, void **ret_ptr,
                 bool overwrite)
{
	struct body *b;
	unsigned cur;
	uint64_t g, n;
	int ret;

	if (!r || !ret_ptr || !in_range(offset, len, r->size))
		return -EINVAL;
	b = r->b;
	if (ipcx__obj_removed(&r->obj))
		return -EIDRM;
	ret = lock(r, timeout_ns);
	if (ret == EOWNERDEAD) {
		/* A thread of this handle may have been the one that died: its write is over. */
		atomic_store_explicit(&r->wactive, false, memory_order_relaxed);
		repair(r);
		pthread_mutex_consistent(&b->m);
		unlock(r);
		return -EOWNERDEAD;
	}
	if (ret != 0)
		return -ret;

	/* Relaxed: the last publisher's store is ordered before us by the lock. A set bit 0
	 * here (only a peer can leave one) is harmless: the sync below covers the ranges. */
	g = atomic_load_explicit(&b->gen, memory_order_relaxed);
	n = g >> 1;
	cur = (unsigned)n & 1;
	sync_copies(r, cur, offset, overwrite ? len : 0);
	/* Recorded before the copy is touched, so a death from here on is repaired. */
	set_range(&b->pend_off, &b->pend_len, offset, len);
	atomic_store_explicit(&b->gen, (n << 1) | 1, memory_order_relaxed);
	/* Orders the store of gen before every write to the copy; pairs with the reader's
	 * acquire fence before its second load of gen (the seqlock's write barrier). */
	atomic_thread_fence(memory_order_release);

	atomic_store_explicit(&r->wthread, pthread_self(), memory_order_relaxed);
	r->wgen = n;
	r->wtid = ipcx__robust_word(&b->m) & IPCX__FUTEX_TID_MASK;
	r->woff = offset;
	r->wlen = len;
	atomic_store_explicit(&r->wactive, true, memory_order_relaxed);
	*ret_ptr = r->data[cur ^ 1] + offset;
	return 0;
}

int ipcx_region_begin_write(ipcx_region *r, uint64_t offset, size_t len, int64_t timeout_ns,
                            void **ret_ptr)
{
	return begin(r, offset, len, timeout_ns, ret_ptr, false);
}

/* True when the calling thread has a write begun on r. */
static bool mine(ipcx_region *r)
{
	/* Relaxed: only the thread that stored both can find itself here; another thread reads
	 * some other thread's id and is turned away. */
	if (!atomic_load_explicit(&r->wactive, memory_order_relaxed) ||
	    !pthread_equal(atomic_load_explicit(&r->wthread, memory_order_relaxed), pthread_self()))
		return false;
	/* A thread that began a write and exited leaves wactive set, and a new thread may get
	 * its pthread_t; the kernel cleared the dead thread's id from the lock word, though. */
	return (ipcx__robust_word(&r->b->m) & IPCX__FUTEX_TID_MASK) == r->wtid;
}

int ipcx_region_commit(ipcx_region *r)
{
	struct body *b;
	uint64_t n;

	if (!r)
		return -EINVAL;
	if (!mine(r))
		return -EPERM;
	b = r->b;
	n = r->wgen;
	/* The copy we wrote becomes current; the other one now lags it by our range. Stored
	 * before gen: a death in between is repaired from them as an unpublished write. */
	set_range(&b->last_off, &b->last_len, r->woff, r->wlen);
	set_range(&b->pend_off, &b->pend_len, 0, 0);
	atomic_store_explicit(&b->last_writer_id, ipcx__proc_self(), memory_order_relaxed);
	atomic_store_explicit(&b->last_write_ns, ipcx__realtime_ns(), memory_order_relaxed);
	/* Release pairs with the readers' acquire load of gen: our bytes are in place. */
	atomic_store_explicit(&b->gen, (n + 1) << 1, memory_order_release);
	/* Release pairs with the acquire load of change in wait_change. */
	atomic_fetch_add_explicit(&b->change, 1, memory_order_release);
	atomic_store_explicit(&r->wactive, false, memory_order_relaxed);
	unlock(r);
	ipcx__wake(&b->change, &b->sleepers, INT32_MAX);
	return 0;
}

int ipcx_region_abort(ipcx_region *r)
{
	struct body *b;

	if (!r)
		return -EINVAL;
	if (!mine(r))
		return -EPERM;
	b = r->b;
	/* pend_* still names what we scribbled on; the next writer copies it back. */
	atomic_store_explicit(&b->gen, r->wgen << 1, memory_order_relaxed);
	atomic_store_explicit(&r->wactive, false, memory_order_relaxed);
	unlock(r);
	return 0;
}

int ipcx_region_write(ipcx_region *r, uint64_t offset, const void *buf, size_t len,
                      int64_t timeout_ns)
{
	void *p;
	int ret;

	if (!buf && len)
		return -EINVAL;
	ret = begin(r, offset, len, timeout_ns, &p, true);
	if (ret < 0)
		return ret;
	if (len)
		memcpy(p, buf, len);
	return ipcx_region_commit(r);
}

/* ---- state ---- */

int ipcx_region_get_state(ipcx_region *r, struct ipcx_region_state *ret_state)
{
	struct ipcx_region_state st = {0};
	struct body *b;
	uint64_t g, id, lw;
	uint32_t w, tid, rtid;

	if (!r || !ret_state)
		return -EINVAL;
	b = r->b;
	g = atomic_load_explicit(&b->gen, memory_order_acquire);
	w = ipcx__robust_word(&b->m);
	tid = w & IPCX__FUTEX_TID_MASK;
	id = atomic_load_explicit(&b->owner_id, memory_order_relaxed);
	rtid = atomic_load_explicit(&b->owner_tid, memory_order_relaxed);
	lw = atomic_load_explicit(&b->last_writer_id, memory_order_relaxed);
	st.size = r->size;
	st.version = g >> 1;
	st.writing = g & 1;
	st.removed = ipcx__obj_removed(&r->obj);
	/* The low part: the upper one counts descriptor watchers (internal/wait.h). */
	st.waiters = ipcx__sleepers_of(atomic_load_explicit(&b->sleepers, memory_order_relaxed));
	st.last_writer_pid = lw ? ipcx__id_pid(lw) : 0;
	st.last_write_ns = atomic_load_explicit(&b->last_write_ns, memory_order_relaxed);
	if (tid != 0) {
		bool known = rtid == tid && id != 0;
		pid_t pid = known ? ipcx__id_pid(id) : 0;
		bool alive = known ? ipcx__proc_alive(id) && ipcx__thread_alive(pid, (pid_t)tid)
		                   : ipcx__thread_alive(0, (pid_t)tid);

		st.owner = alive ? IPCX_REGION_ALIVE : IPCX_REGION_DEAD;
		st.owner_pid = pid;
		st.owner_tid = (pid_t)tid;
	} else if (w & IPCX__FUTEX_OWNER_DIED) {
		st.owner = IPCX_REGION_DEAD;
		st.owner_pid = id ? ipcx__id_pid(id) : 0;
		st.owner_tid = id ? (pid_t)rtid : 0;
	}
	*ret_state = st;
	return 0;
}

const char *ipcx_region_owner_name(int owner)
{
	switch (owner) {
	case IPCX_REGION_FREE:
		return "free";
	case IPCX_REGION_ALIVE:
		return "alive";
	case IPCX_REGION_DEAD:
		return "dead";
	default:
		return "?";
	}
}

/* ---- wait-sets and descriptors (internal/source.h) ---- */

static int region_ready(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
                        bool consume)
{
	ipcx_region *r = h;
	uint64_t v;

	(void)ops;
	(void)nops;
	if (ipcx__obj_removed(&r->obj))
		return -EIDRM;
	/* Acquire pairs with the publishing store in commit. */
	v = atomic_load_explicit(&r->b->gen, memory_order_acquire) >> 1;
	if (v == *snap)
		return 0;
	if (consume)
		*snap = v;
	return 1;
}

void ipcx__region_source(ipcx_region *r, uint64_t last_seen, struct ipcx__source *ret)
{
	ret->obj = &r->obj;
	ret->word = &r->b->change;
	ret->marked = false;
	ret->sleepers = &r->b->sleepers;
	ret->ready = region_ready;
	ret->stuck = NULL;
	ret->recover = NULL;
	ret->snap = last_seen;
}
