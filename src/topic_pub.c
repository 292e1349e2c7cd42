/* SPDX-License-Identifier: MIT */
/*
 * Topics, the publishing side: the publishers' lock, loans, commit/abort, publish.
 *
 * A publisher takes room under the lock. When the ring is full it moves tail forward over
 * the oldest records: in a lossy topic at once (subscribers find out by comparing tail
 * with their cursor after reading); in a reliable one only up to the slowest live
 * subscriber's cursor, and otherwise waits. tail is stored, then a release fence, before
 * any byte of the space it frees is written: a subscriber that reads such a byte and then
 * (after an acquire fence) reads tail sees that its record is gone (the seqlock pattern).
 */
#include <errno.h>
#include <string.h>

#include "internal/slot_lock.h"
#include "internal/sys.h"
#include "internal/topic.h"

/* Finishes the step of a dead lock holder: headers written, reserve not moved past them. */
static void repair(struct ipcx_topic *t)
{
	uint64_t pos = atomic_load_explicit(&t->b->reserve, memory_order_relaxed), ctl, seq;
	uint32_t len;
	int64_t n;

	for (int i = 0; i < 2; i++) {
		n = ipcx__topic_read_rec(t, pos, &ctl, &seq, &len);
		if (n <= 0)
			break;
		if (ctl_state(ctl) != REC_SKIP &&
		    atomic_load_explicit(&t->b->next_seq, memory_order_relaxed) <= seq)
			atomic_store_explicit(&t->b->next_seq, seq + 1, memory_order_relaxed);
		pos += (uint64_t)n;
		/* Release pairs with the acquire loads of reserve. */
		atomic_store_explicit(&t->b->reserve, pos, memory_order_release);
	}
}

static bool topic_slot_dead(void *ctx, unsigned slot)
{
	return ipcx__topic_slot_dead(ctx, slot);
}

static void topic_repair(void *ctx)
{
	repair(ctx);
}

int ipcx__topic_lock(struct ipcx_topic *t, ipcx__deadline d, bool try_once)
{
	const struct ipcx__slot_lock l = {&t->b->lock,     t->me,        &t->obj,
	                                  topic_slot_dead, topic_repair, t};

	return ipcx__slot_lock(&l, d, try_once);
}

void ipcx__topic_unlock(struct ipcx_topic *t)
{
	ipcx__slot_unlock(&t->b->lock);
}

bool ipcx__topic_settle(struct ipcx_topic *t, uint64_t pos, uint64_t ctl)
{
	if (ctl_state(ctl) != REC_RESERVED || !ipcx__topic_slot_dead(t, ctl_slot(ctl)))
		return false;
	/* Release: pairs with readers' acquire load of ctl. A CAS from the exact word seen,
	 * so a record that moved on is left alone. */
	if (!atomic_compare_exchange_strong_explicit(&topic_rec_at(t, pos)->ctl, &ctl,
	                                             rec_ctl(pos, ctl_slot(ctl), REC_SKIP),
	                                             memory_order_release, memory_order_relaxed))
		return false;
	ipcx__wake_bump(&t->b->data_word, &t->b->data_sleepers, INT32_MAX);
	return true;
}

/*
 * The slowest live subscriber's cursor (reliable topics), from the cache unless refresh or
 * someone has subscribed since it was made (cursors only move on, so a cached value is a
 * safe bound while no new subscriber appears). With check_dead, subscribers whose process died are
 * dropped first. UINT64_MAX when there are none. Called under the lock.
 */
static uint64_t slowest(struct ipcx_topic *t, bool refresh, bool check_dead)
{
	struct topic_body *b = t->b;
	uint32_t epoch = atomic_load_explicit(&b->sub_epoch, memory_order_relaxed);
	uint64_t min = UINT64_MAX;

	if (t->min_valid && epoch == t->min_epoch && !refresh && !check_dead)
		return t->min_cache;
	for (unsigned w = 0; w < IPCX_MAX_ATTACH / 64; w++) {
		uint64_t bits = atomic_load_explicit(&b->active_mask[w], memory_order_acquire);
		while (bits) {
			unsigned i = w * 64 + (unsigned)__builtin_ctzll(bits);
			struct topic_slot *sl = &b->slots[i];
			uint64_t cur;

			bits &= bits - 1;
			if (!atomic_load_explicit(&sl->active, memory_order_acquire))
				continue;
			if (check_dead && ipcx__topic_slot_dead(t, i)) {
				uint32_t one = 1;
				if (atomic_compare_exchange_strong_explicit(&sl->active, &one, 0,
				                                            memory_order_relaxed,
				                                            memory_order_relaxed)) {
					atomic_fetch_and_explicit(&b->active_mask[w],
					                          ~(1ull << (i % 64)),
					                          memory_order_relaxed);
					atomic_fetch_add_explicit(&b->dropped_subs, 1,
					                          memory_order_relaxed);
				}
				continue;
			}
			/* Acquire pairs with the subscriber's release store of its cursor: it
			 * has finished reading everything before it. */
			cur = atomic_load_explicit(&sl->cursor, memory_order_acquire);
			if (cur < min)
				min = cur;
		}
	}
	t->min_cache = min;
	t->min_epoch = epoch;
	t->min_valid = true;
	return min;
}

static void put_header(struct ipcx_topic *t, uint64_t pos, uint64_t seq, uint32_t len,
                       unsigned state)
{
	struct topic_rec *r = topic_rec_at(t, pos);

	/* Relaxed: published by the release store of ctl below. */
	atomic_store_explicit(&r->len, len, memory_order_relaxed);
	atomic_store_explicit(&r->seq, seq, memory_order_relaxed);
	/* Release pairs with the acquire load of ctl in ipcx__topic_read_rec. */
	atomic_store_explicit(&r->ctl, rec_ctl(pos, t->me, state), memory_order_release);
}

/* Why try_take could not take room. */
enum { TAKEN = 1, WAIT_LOAN = 0, WAIT_SUBS = 2 };

/*
 * Under the lock: frees room by moving tail, then takes it. Returns TAKEN with *ret_pos,
 * WAIT_LOAN (another publisher's loan is a ring behind) with *ret_wait its position,
 * WAIT_SUBS (reliable: the slowest subscriber is a ring behind) with *ret_wait the cursor
 * it must reach, or -EBADMSG.
 */
static int try_take(struct ipcx_topic *t, uint64_t len, bool check_dead, uint64_t *ret_pos,
                    uint64_t *ret_wait)
{
	struct topic_body *b = t->b;
	uint64_t need = topic_rec_size(len), r, tail, tail0, off, pad, end, goal, ctl, seq, next;
	uint32_t l;
	int64_t n;

	/* Relaxed: both move only under the lock we hold. */
	r = atomic_load_explicit(&b->reserve, memory_order_relaxed);
	tail = tail0 = atomic_load_explicit(&b->tail, memory_order_relaxed);
	if ((r | tail) & 31 || r < tail || r - tail > t->cap)
		return -EBADMSG;
	off = r & t->mask;
	pad = off + need > t->cap ? t->cap - off : 0;
	end = r + pad + need;
	/* Lossy: once tail must move, move it a step further than needed, so that tail (a
	 * line every subscriber reads on every message) is written once per step, not once
	 * per message. The ring then keeps at least capacity minus a step. */
	goal = t->cap;
	if (!t->reliable && end - tail > t->cap) {
		goal = t->cap - topic_tail_step(t->cap);
		if (goal < end - r) /* a message nearly as large as the ring */
			goal = end - r < t->cap ? end - r : t->cap;
	}
	for (uint64_t limit = t->cap / TOPIC_REC_HDR + 1; end - tail > goal; limit--) {
		if (!limit)
			return -EBADMSG;
		n = ipcx__topic_read_rec(t, tail, &ctl, &seq, &l);
		if (n <= 0)
			return -EBADMSG; /* every record in [tail, reserve) has its header */
		if (ctl_state(ctl) == REC_RESERVED && !ipcx__topic_settle(t, tail, ctl)) {
			if (end - tail <= t->cap)
				break; /* a loan in the extra step: what is freed is enough */
			*ret_wait = tail;
			return WAIT_LOAN;
		}
		if (t->reliable) {
			/* The cached bound first; a fresh look only when it is not enough. */
			uint64_t min = slowest(t, false, false);
			if (min < tail + (uint64_t)n)
				min = slowest(t, true, check_dead);
			check_dead = false;
			if (min < tail + (uint64_t)n) {
				*ret_wait = tail + (uint64_t)n;
				if (tail != tail0)
					atomic_store_explicit(&b->tail, tail, memory_order_release);
				return WAIT_SUBS;
			}
		}
		tail += (uint64_t)n;
	}
	if (tail != tail0)
		atomic_store_explicit(&b->tail, tail, memory_order_relaxed);
	/* A release fence before the space is written, even when this call did not move
	 * tail (an earlier holder of the lock may have, and its store must reach readers
	 * before our writes do): see the top of this file. Free on x86. */
	atomic_thread_fence(memory_order_release);
	next = atomic_load_explicit(&b->next_seq, memory_order_relaxed);
	if (pad)
		put_header(t, r, next, (uint32_t)(pad - TOPIC_REC_HDR), REC_SKIP);
	put_header(t, r + pad, next, (uint32_t)len, REC_RESERVED);
	atomic_store_explicit(&b->next_seq, next + 1, memory_order_relaxed);
	atomic_store_explicit(&b->last, r + pad, memory_order_relaxed);
	/* Release pairs with the acquire loads of reserve (stats, subscribe). */
	atomic_store_explicit(&b->reserve, end, memory_order_release);
	*ret_pos = r + pad;
	return TAKEN;
}

struct room_wait {
	struct ipcx_topic *t;
	int why;
	uint64_t at;
};

static bool room_ready(void *arg)
{
	struct room_wait *w = arg;
	struct topic_body *b = w->t->b;
	uint64_t ctl;

	if (ipcx__obj_removed(&w->t->obj))
		return true;
	if (w->why == WAIT_LOAN) {
		/* Acquire pairs with the release commit of the loan. */
		ctl = atomic_load_explicit(&topic_rec_at(w->t, w->at)->ctl, memory_order_acquire);
		return !ctl_is(ctl, w->at) || ctl_state(ctl) != REC_RESERVED;
	}
	/* The slowest subscriber's cursor, read without the lock (the lock holder decides). */
	for (unsigned i = 0; i < IPCX_MAX_ATTACH / 64; i++) {
		uint64_t bits = atomic_load_explicit(&b->active_mask[i], memory_order_relaxed);
		while (bits) {
			struct topic_slot *sl = &b->slots[i * 64 + (unsigned)__builtin_ctzll(bits)];
			bits &= bits - 1;
			/* Acquire pairs with the subscriber's release store of its cursor. */
			if (atomic_load_explicit(&sl->active, memory_order_relaxed) &&
			    atomic_load_explicit(&sl->cursor, memory_order_acquire) < w->at)
				return false;
		}
	}
	return true;
}

static int take_room(struct ipcx_topic *t, uint64_t len, int64_t timeout_ns, uint64_t *ret_pos)
{
	ipcx__deadline d = ipcx__deadline_in(timeout_ns);
	struct room_wait w = {t, 0, 0};
	bool check_dead = false;
	_Atomic uint32_t *word, *sleepers;
	int r;

	for (;;) {
		if (ipcx__obj_removed(&t->obj))
			return -EIDRM;
		/* The uncontended lock in line (acquire pairs with the release that gives it
		 * back); everything else, a dead holder included, in ipcx__topic_lock. */
		r = 0;
		if (!atomic_compare_exchange_strong_explicit(&t->b->lock, &(uint32_t){0}, t->me + 1,
		                                             memory_order_acquire,
		                                             memory_order_relaxed))
			r = ipcx__topic_lock(t, d, timeout_ns == 0);
		if (r < 0)
			return r;
		r = try_take(t, len, check_dead, ret_pos, &w.at);
		/* Release pairs with the acquire that takes the lock next (ipcx__slot_unlock). */
		atomic_store_explicit(&t->b->lock, 0, memory_order_release);
		if (r == TAKEN)
			return 0;
		if (r < 0)
			return r;
		if (timeout_ns == 0)
			return -EAGAIN;
		w.why = r;
		word = r == WAIT_LOAN ? &t->b->data_word : &t->b->space_word;
		sleepers = r == WAIT_LOAN ? &t->b->data_sleepers : &t->b->space_sleepers;
		/* Subscribers bump space_word as they move on; look again at each wake-up,
		 * and every CHAN_CHECK_NS for dead subscribers and publishers. */
		r = ipcx__wait_until(&t->spin, room_ready, &w, word, sleepers,
		                     ipcx__chan_slice(NULL, d, true));
		check_dead = r == -ETIMEDOUT;
		if (r == -ETIMEDOUT && ipcx__deadline_passed(d))
			return -ETIMEDOUT;
	}
}

int ipcx_topic_loan(ipcx_topic *t, size_t len, int64_t timeout_ns, void **ret_ptr)
{
	uint64_t pos;
	int r;

	if (!t || !ret_ptr)
		return -EINVAL;
	if (t->loan_len >= 0)
		return -EBUSY;
	if (len > t->max_msg)
		return -EMSGSIZE;
	r = take_room(t, len, timeout_ns, &pos);
	if (r < 0)
		return r;
	t->loan_pos = pos;
	t->loan_len = (int64_t)len;
	*ret_ptr = (uint8_t *)topic_rec_at(t, pos) + TOPIC_REC_HDR;
	return 0;
}

static int finish(struct ipcx_topic *t, unsigned state)
{
	if (!t || t->loan_len < 0)
		return -EINVAL;
	t->loan_len = -1;
	/* Release pairs with subscribers' acquire load of ctl: the message is complete. */
	atomic_store_explicit(&topic_rec_at(t, t->loan_pos)->ctl,
	                      rec_ctl(t->loan_pos, t->me, state), memory_order_release);
	/* One wake for every sleeper: each subscriber wants every message. */
	ipcx__wake_all(&t->b->data_word, &t->b->data_sleepers);
	return 0;
}

int ipcx_topic_commit(ipcx_topic *t)
{
	return finish(t, REC_COMMITTED);
}

int ipcx_topic_abort(ipcx_topic *t)
{
	return finish(t, REC_SKIP);
}

int ipcx_topic_publish(ipcx_topic *t, const void *msg, size_t len, int64_t timeout_ns)
{
	void *p;
	int r;

	if (!t || (!msg && len))
		return -EINVAL;
	r = ipcx_topic_loan(t, len, timeout_ns, &p);
	if (r < 0)
		return r;
	if (len)
		memcpy(p, msg, len);
	return ipcx_topic_commit(t);
}
