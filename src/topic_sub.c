/* SPDX-License-Identifier: MIT */
/*
 * Topics, the subscribing side. A subscriber never writes the ring: it reads the record at
 * its cursor, and moves its cursor (kept in its own slot, for reliable publishers and for
 * stats). In a lossy topic a publisher may overwrite a record while a subscriber reads it;
 * the subscriber then finds tail beyond the record once it is done (see topic_pub.c) and
 * throws the copy away. When tail has passed its cursor, the subscriber jumps to tail and
 * counts the messages it missed from the sequence numbers.
 */
#include <errno.h>
#include <string.h>

#include "internal/sys.h"
#include "internal/source.h"
#include "internal/topic.h"

int ipcx_topic_subscribe(ipcx_topic *t, unsigned flags)
{
	struct topic_body *b;
	uint64_t tail, reserve, last, pos, seq, ctl, hseq;
	uint32_t len;
	int r;

	if (!t || (flags & ~IPCX_TOPIC_FROM_OLDEST))
		return -EINVAL;
	if (t->subscribed)
		return -EALREADY;
	b = t->b;
	/* Under the lock, so that no publisher moves tail past the starting point before the
	 * cursor is visible, and the reliable ones see the new subscriber (sub_epoch). */
	r = ipcx__topic_lock(t, ipcx__deadline_in(1000000000), false);
	if (r < 0)
		return r;
	tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
	reserve = atomic_load_explicit(&b->reserve, memory_order_relaxed);
	last = atomic_load_explicit(&b->last, memory_order_relaxed);
	seq = atomic_load_explicit(&b->next_seq, memory_order_relaxed);
	pos = reserve;
	if (flags & IPCX_TOPIC_FROM_OLDEST)
		last = tail;
	if (last != UINT64_MAX && last >= tail && last < reserve &&
	    ipcx__topic_read_rec(t, last, &ctl, &hseq, &len) > 0) {
		pos = last;
		seq = hseq;
	}
	if ((pos | tail | reserve) & 31 || pos < tail || pos > reserve) {
		ipcx__topic_unlock(t);
		return -EBADMSG;
	}
	t->cur = pos;
	t->cur_seq = seq;
	t->missed = 0;
	atomic_store_explicit(&b->slots[t->me].seq, seq, memory_order_relaxed);
	atomic_store_explicit(&b->slots[t->me].cursor, pos, memory_order_relaxed);
	/* Release pairs with the acquire loads of active by publishers: cursor first. */
	atomic_store_explicit(&b->slots[t->me].active, 1, memory_order_release);
	atomic_fetch_or_explicit(&b->active_mask[t->me / 64], 1ull << (t->me % 64),
	                         memory_order_release);
	atomic_fetch_add_explicit(&b->sub_epoch, 1, memory_order_relaxed);
	ipcx__topic_unlock(t);
	t->subscribed = true;
	return 0;
}

/*
 * Reads the header at pos and checks afterwards that no lossy publisher took the record's
 * space meanwhile (which it announces by moving tail past pos before writing: the
 * seqlock pattern, see topic_pub.c). Returns as ipcx__topic_read_rec, or -ESTALE when the
 * header may be torn.
 */
static int64_t read_checked(struct ipcx_topic *t, uint64_t pos, uint64_t *ret_ctl,
                            uint64_t *ret_seq, uint32_t *ret_len)
{
	int64_t n = ipcx__topic_read_rec(t, pos, ret_ctl, ret_seq, ret_len);

	/* Pairs with the publisher's release fence between its store of tail and its
	 * writes of the space: if we read any of those writes, we see the new tail. */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&t->b->tail, memory_order_relaxed) > pos)
		return -ESTALE;
	return n;
}

/*
 * Finds this subscriber's next message: 1 with *ret_pos, *ret_size, *ret_seq, *ret_len;
 * 0 when there is none yet (*ret_ctl: the loan it waits behind, or 0); -EMSGSIZE;
 * -EBADMSG.
 */
static int next(struct ipcx_topic *t, size_t bufcap, uint64_t *ret_pos, uint64_t *ret_size,
                uint64_t *ret_seq, uint32_t *ret_len, uint64_t *ret_ctl)
{
	struct topic_body *b = t->b;
	uint64_t tail, ctl, seq, limit = 2 * (t->cap / TOPIC_REC_HDR) + 64;
	uint32_t len;
	int64_t n;

	while (limit--) {
		/* Acquire pairs with the publisher's release of tail (see read_checked). */
		tail = atomic_load_explicit(&b->tail, memory_order_acquire);
		if (t->cur < tail) {
			/* Overtaken: go on from the oldest record kept, counting what was lost. */
			n = read_checked(t, tail, &ctl, &seq, &len);
			if (n == -ESTALE || n == 0)
				continue; /* overtaken again while we looked */
			if (n < 0)
				return (int)n;
			if (seq > t->cur_seq)
				t->missed += seq - t->cur_seq;
			t->cur = tail;
			t->cur_seq = seq;
		}
		n = read_checked(t, t->cur, &ctl, &seq, &len);
		if (n == -ESTALE)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0) {
			*ret_ctl = 0; /* nothing written there yet */
			return 0;
		}
		switch (ctl_state(ctl)) {
		case REC_RESERVED:
			*ret_ctl = ctl;
			return 0;
		case REC_SKIP:
			t->cur += (uint64_t)n;
			t->cur_seq = seq;
			continue;
		default:
			break;
		}
		if (len > bufcap)
			return -EMSGSIZE;
		*ret_pos = t->cur;
		*ret_size = (uint64_t)n;
		*ret_seq = seq;
		*ret_len = len;
		return 1;
	}
	return -EBADMSG;
}

static bool data_ready(void *arg)
{
	struct ipcx_topic *t = arg;
	uint64_t ctl;

	if (ipcx__obj_removed(&t->obj) ||
	    atomic_load_explicit(&t->b->tail, memory_order_relaxed) > t->cur)
		return true;
	/* Acquire pairs with the publisher's release commit. */
	ctl = atomic_load_explicit(&topic_rec_at(t, t->cur)->ctl, memory_order_acquire);
	/* As in a channel: fetch the line after the header's while we watch the header, so a
	 * small record's payload is here when its commit is seen. A hint only, in the ring. */
	__builtin_prefetch(t->data +
	                   (((t->cur & ~(uint64_t)(CHAN_LINE - 1)) + CHAN_LINE) & t->mask));
	return ctl_is(ctl, t->cur) && ctl_state(ctl) != REC_RESERVED;
}

static int take(struct ipcx_topic *t, size_t bufcap, int64_t timeout_ns, uint64_t *ret_size,
                uint32_t *ret_len)
{
	ipcx__deadline d = ipcx__deadline_in(timeout_ns);
	uint64_t pos = 0, seq = 0, ctl = 0;
	int r;

	if (!t->subscribed)
		return -EINVAL;
	if (t->peek_len >= 0)
		return -EBUSY;
	for (;;) {
		if (ipcx__obj_removed(&t->obj))
			return -EIDRM;
		r = next(t, bufcap, &pos, ret_size, &seq, ret_len, &ctl);
		if (r < 0)
			return r;
		if (r > 0) {
			t->peek_pos = pos;
			t->peek_seq = seq;
			t->peek_size = *ret_size;
			t->peek_len = *ret_len;
			return 0;
		}
		if (timeout_ns == 0)
			return -EAGAIN;
		/* Held up by a loan: look now and then whether its publisher died. */
		r = ipcx__wait_until(&t->spin, data_ready, t, &t->b->data_word,
		                     &t->b->data_sleepers, ipcx__chan_slice(NULL, d, ctl != 0));
		if (r == -ETIMEDOUT) {
			if (ipcx__deadline_passed(d))
				return -ETIMEDOUT;
			ipcx__topic_settle(t, t->cur, ctl);
		}
	}
}

int ipcx_topic_peek(ipcx_topic *t, int64_t timeout_ns, const void **ret_ptr, size_t *ret_len,
                    uint64_t *ret_missed)
{
	uint64_t size;
	uint32_t len;
	int r;

	if (!t || !ret_ptr || !ret_len)
		return -EINVAL;
	r = take(t, SIZE_MAX, timeout_ns, &size, &len);
	if (r < 0)
		return r;
	*ret_ptr = (const uint8_t *)topic_rec_at(t, t->peek_pos) + TOPIC_REC_HDR;
	*ret_len = len;
	if (ret_missed)
		*ret_missed = t->missed;
	t->missed = 0;
	return 0;
}

int ipcx_topic_release(ipcx_topic *t)
{
	struct topic_slot *sl;
	bool stale;

	if (!t || t->peek_len < 0)
		return -EINVAL;
	/* Pairs with the publisher's release fence after it moved tail: if what we read was
	 * overwritten, we see tail beyond our record. */
	atomic_thread_fence(memory_order_acquire);
	stale = atomic_load_explicit(&t->b->tail, memory_order_relaxed) > t->peek_pos;
	t->peek_len = -1;
	if (stale)
		return -ESTALE; /* the cursor stays; the next call jumps and counts it missed */
	t->cur = t->peek_pos + t->peek_size;
	t->cur_seq = t->peek_seq + 1;
	sl = &t->b->slots[t->me];
	atomic_store_explicit(&sl->seq, t->cur_seq, memory_order_relaxed);
	/* Release pairs with reliable publishers' acquire load of the cursor: our reads of
	 * the record are done before its space can be reused. */
	atomic_store_explicit(&sl->cursor, t->cur, memory_order_release);
	if (t->reliable)
		ipcx__wake_all(&t->b->space_word, &t->b->space_sleepers);
	return 0;
}

ssize_t ipcx_topic_recv(ipcx_topic *t, void *buf, size_t cap, int64_t timeout_ns,
                        uint64_t *ret_missed)
{
	uint64_t size;
	uint32_t len;
	int r;

	if (!t || (!buf && cap))
		return -EINVAL;
	for (int tries = 0;; tries++) {
		r = take(t, cap, timeout_ns, &size, &len);
		if (r < 0)
			return r;
		if (len)
			memcpy(buf, (const uint8_t *)topic_rec_at(t, t->peek_pos) + TOPIC_REC_HDR,
			       len);
		if (ipcx_topic_release(t) == 0 || tries > 1000)
			break;
		/* Overwritten while copied: counted as missed; take the next one. */
	}
	if (ret_missed)
		*ret_missed = t->missed;
	t->missed = 0;
	return (ssize_t)len;
}

void ipcx__topic_drop_held(struct ipcx_topic *t)
{
	if (t->loan_len >= 0)
		ipcx_topic_abort(t);
	if (t->peek_len >= 0)
		ipcx_topic_release(t);
}

/* ---- wait-sets and descriptors (internal/source.h) ---- */

static int topic_ready(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
                       bool consume)
{
	struct ipcx_topic *t = h;

	(void)snap;
	(void)ops;
	(void)nops;
	(void)consume;
	if (ipcx__obj_removed(&t->obj))
		return -EIDRM;
	return data_ready(t);
}

_Static_assert(offsetof(struct topic_body, data_sleepers) ==
                       offsetof(struct topic_body, data_word) + 4,
               "a watched word's count follows it (internal/watch.h)");

/* The record at the cursor is a loan: its publisher may have died with it. */
static bool topic_stuck(void *h)
{
	struct ipcx_topic *t = h;
	uint64_t ctl;

	/* Relaxed: a hint; settle reads the header again. */
	ctl = atomic_load_explicit(&topic_rec_at(t, t->cur)->ctl, memory_order_relaxed);
	return ctl_is(ctl, t->cur) && ctl_state(ctl) == REC_RESERVED;
}

/* What a blocked receive does at the end of a slice. */
static void topic_recover(void *h)
{
	struct ipcx_topic *t = h;
	uint64_t ctl = atomic_load_explicit(&topic_rec_at(t, t->cur)->ctl, memory_order_acquire);

	if (ctl_is(ctl, t->cur) && ctl_state(ctl) == REC_RESERVED)
		ipcx__topic_settle(t, t->cur, ctl);
}

int ipcx__topic_source(ipcx_topic *t, struct ipcx__source *ret)
{
	if (!t->subscribed)
		return -EINVAL;
	ret->obj = &t->obj;
	ret->word = &t->b->data_word;
	ret->marked = true;
	ret->sleepers = &t->b->data_sleepers;
	ret->ready = topic_ready;
	ret->snap = 0;
	ret->stuck = topic_stuck;
	ret->recover = topic_recover;
	return 0;
}
