/* SPDX-License-Identifier: MIT */
/*
 * Channels, the receiving side: claim the oldest committed record, peek/release, recv, and
 * reclaiming released space.
 *
 * A receiver claims a record by a CAS of its control word from COMMITTED to CLAIMED with
 * its own slot; the tag in the word makes the expected value unique to this lap, so the
 * CAS cannot succeed on a stale copy. The consume position is then moved past the record by
 * the claimer or by any receiver that finds the record taken (helping), so a receiver that
 * dies right after its claim does not hold up the others.
 */
#include <errno.h>
#include <string.h>

#include "internal/chan.h"
#include "internal/sys.h"

void ipcx__chan_help_consume(struct ipcx_chan *c, uint64_t pos, uint64_t size)
{
	uint64_t expect = pos;

	/* Relaxed: consume is only a hint of where to look; every record's state is read
	 * through its own control word with acquire. A failure means someone moved it. */
	atomic_compare_exchange_strong_explicit(&c->b->consume, &expect, pos + size,
						memory_order_relaxed, memory_order_relaxed);
}

void ipcx__chan_reclaim(struct ipcx_chan *c)
{
	struct chan_body *b = c->b;
	uint64_t head, consume, ctl;
	uint32_t len;
	bool freed = false;
	unsigned st;
	int64_t n;

	for (int i = 0; i < 256; i++) {
		/* Acquire pairs with the release CAS below by other reclaimers. */
		head = atomic_load_explicit(&b->head, memory_order_acquire);
		consume = atomic_load_explicit(&b->consume, memory_order_relaxed);
		if (head >= consume) {
			/* Padding at consume would stop us: step consume over it first. */
			n = ipcx__chan_read_rec(c, consume, &ctl, &len);
			if (n > 0 && ctl_state(ctl) == REC_SKIP && head == consume) {
				ipcx__chan_help_consume(c, consume, (uint64_t)n);
				continue;
			}
			break;
		}
		n = ipcx__chan_read_rec(c, head, &ctl, &len);
		if (n <= 0)
			break;
		st = ctl_state(ctl);
		if (st != REC_DONE && st != REC_SKIP)
			break;
		/* Release pairs with the acquire loads of head by senders: the record was read
		 * to the end (its DONE store, which our acquire load of ctl saw, was a release)
		 * before its space can be written again. */
		if (atomic_compare_exchange_strong_explicit(&b->head, &head, head + (uint64_t)n,
							    memory_order_release,
							    memory_order_relaxed))
			freed = true;
	}
	if (freed)
		ipcx__wake_bump(&b->space_word, &b->space_sleepers, INT32_MAX);
}

/* Takes an ORPHAN record (its receiver died) between head and consume, if any. */
static int claim_orphan(struct ipcx_chan *c, uint32_t orphans, size_t bufcap,
			uint64_t *ret_pos, uint32_t *ret_len)
{
	struct chan_body *b = c->b;
	uint64_t pos, consume, ctl, limit = c->cap / CHAN_REC_HDR + 1;
	uint32_t len, o;
	int64_t n;

	pos = atomic_load_explicit(&b->head, memory_order_acquire);
	consume = atomic_load_explicit(&b->consume, memory_order_acquire);
	for (; pos < consume && limit--; pos += (uint64_t)n) {
		n = ipcx__chan_read_rec(c, pos, &ctl, &len);
		if (n <= 0)
			break;
		if (ctl_state(ctl) != REC_ORPHAN)
			continue;
		if (len > bufcap)
			return -EMSGSIZE;
		/* Acquire: the record's payload, written before its commit, is ours to read. */
		if (!atomic_compare_exchange_strong_explicit(&rec_at(c, pos)->ctl, &ctl,
							     rec_ctl(pos, c->me, REC_CLAIMED),
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		/* Saturating decrement: the count is only a hint that a walk is worth it. */
		o = atomic_load_explicit(&b->orphans, memory_order_relaxed);
		while (o && !atomic_compare_exchange_weak_explicit(&b->orphans, &o, o - 1,
								   memory_order_relaxed,
								   memory_order_relaxed))
			;
		atomic_fetch_add_explicit(&b->redelivered, 1, memory_order_relaxed);
		*ret_pos = pos;
		*ret_len = len;
		return 1;
	}
	/* None found: clear the hint unless someone made a new orphan meanwhile (it would
	 * have changed the count after making the record ORPHAN, which our walk then saw). */
	atomic_compare_exchange_strong_explicit(&b->orphans, &orphans, 0, memory_order_relaxed,
						memory_order_relaxed);
	return 0;
}

/*
 * Claims the oldest committed record: 1 with *ret_pos and *ret_len, 0 when there is none
 * to take now, -EMSGSIZE when it is longer than bufcap (left in place), -EBADMSG.
 */
static int claim(struct ipcx_chan *c, size_t bufcap, uint64_t *ret_pos, uint32_t *ret_len)
{
	struct chan_body *b = c->b;
	uint64_t pos, ctl, limit = 2 * (c->cap / CHAN_REC_HDR) + 1024;
	uint32_t len, orphans;
	int64_t n;
	int r;

	/* Acquire pairs with the release increment in recovery: its ORPHAN store is seen. */
	orphans = atomic_load_explicit(&b->orphans, memory_order_acquire);
	if (orphans) {
		r = claim_orphan(c, orphans, bufcap, ret_pos, ret_len);
		if (r != 0)
			return r;
	}
	while (limit--) {
		pos = atomic_load_explicit(&b->consume, memory_order_relaxed);
		n = ipcx__chan_read_rec(c, pos, &ctl, &len);
		if (n <= 0)
			return (int)n; /* nothing written there yet: empty */
		switch (ctl_state(ctl)) {
		case REC_RESERVED:
			return 0; /* the oldest is still being written: wait behind it */
		case REC_COMMITTED:
			if (len > bufcap)
				return -EMSGSIZE;
			/* Acquire (already given by the load in read_rec) pairs with the
			 * sender's release commit: the payload is complete. */
			if (!atomic_compare_exchange_strong_explicit(
				    &rec_at(c, pos)->ctl, &ctl, rec_ctl(pos, c->me, REC_CLAIMED),
				    memory_order_acquire, memory_order_relaxed))
				continue; /* another receiver was faster */
			ipcx__chan_help_consume(c, pos, (uint64_t)n);
			*ret_pos = pos;
			*ret_len = len;
			return 1;
		default:
			/* Taken, skipped or orphaned: consume is behind, move it on. */
			ipcx__chan_help_consume(c, pos, (uint64_t)n);
			break;
		}
	}
	return 0;
}

static bool data_ready(void *arg)
{
	struct ipcx_chan *c = arg;
	uint64_t pos, ctl;

	if (atomic_load_explicit(&c->b->orphans, memory_order_relaxed) ||
	    ipcx__obj_removed(&c->obj))
		return true;
	pos = atomic_load_explicit(&c->b->consume, memory_order_relaxed);
	if (pos & 15)
		return true; /* let the caller see the corruption */
	/* Acquire pairs with the sender's release commit. */
	ctl = atomic_load_explicit(&rec_at(c, pos)->ctl, memory_order_acquire);
	return ctl_is(ctl, pos) && ctl_state(ctl) != REC_RESERVED;
}

/* True when records exist that this receiver cannot take: a dead peer may be in the way. */
static bool stuck(struct ipcx_chan *c)
{
	return atomic_load_explicit(&c->b->head, memory_order_relaxed) !=
	       atomic_load_explicit(&c->b->reserve, memory_order_relaxed);
}

static int take(struct ipcx_chan *c, size_t bufcap, int64_t timeout_ns, uint64_t *ret_pos,
		uint32_t *ret_len)
{
	ipcx__deadline d = ipcx__deadline_in(timeout_ns);
	int r;

	ipcx__chan_note_role(c, CHAN_ROLE_RECV);
	for (;;) {
		if (ipcx__obj_removed(&c->obj))
			return -EIDRM;
		r = claim(c, bufcap, ret_pos, ret_len);
		if (r != 0)
			return r < 0 ? r : 0;
		if (timeout_ns == 0)
			return -EAGAIN;
		r = ipcx__wait_until(&c->spin, data_ready, c, &c->b->data_word,
				     &c->b->data_sleepers, ipcx__chan_slice(c, d, stuck(c)));
		if (r == -ETIMEDOUT) {
			if (ipcx__deadline_passed(d))
				return -ETIMEDOUT;
			if (ipcx__chan_recover(c, IPCX_MAX_ATTACH))
				ipcx__chan_reclaim(c);
		}
	}
}

int ipcx_chan_peek(ipcx_chan *c, int64_t timeout_ns, const void **ret_ptr, size_t *ret_len)
{
	uint64_t pos;
	uint32_t len;
	int r;

	if (!c || !ret_ptr || !ret_len)
		return -EINVAL;
	if (c->peek_len >= 0)
		return -EBUSY;
	r = take(c, SIZE_MAX, timeout_ns, &pos, &len);
	if (r < 0)
		return r;
	c->peek_pos = pos;
	c->peek_len = len;
	*ret_ptr = (const uint8_t *)rec_at(c, pos) + CHAN_REC_HDR;
	*ret_len = len;
	return 0;
}

int ipcx_chan_release(ipcx_chan *c)
{
	uint64_t want;

	if (!c || c->peek_len < 0)
		return -EINVAL;
	want = rec_ctl(c->peek_pos, c->me, REC_CLAIMED);
	c->peek_len = -1;
	/* Release pairs with the reclaimer's acquire load of ctl: our reads of the payload
	 * are done before its space is reused. A CAS, as in commit. */
	atomic_compare_exchange_strong_explicit(&rec_at(c, c->peek_pos)->ctl, &want,
						rec_ctl(c->peek_pos, c->me, REC_DONE),
						memory_order_release, memory_order_relaxed);
	ipcx__chan_reclaim(c);
	return 0;
}

ssize_t ipcx_chan_recv(ipcx_chan *c, void *buf, size_t cap, int64_t timeout_ns)
{
	const void *p;
	size_t len;
	int r;

	if (!c || (!buf && cap))
		return -EINVAL;
	if (c->peek_len >= 0)
		return -EBUSY;
	{
		uint64_t pos;
		uint32_t l;

		r = take(c, cap, timeout_ns, &pos, &l);
		if (r < 0)
			return r;
		c->peek_pos = pos;
		c->peek_len = l;
		p = (const uint8_t *)rec_at(c, pos) + CHAN_REC_HDR;
		len = l;
	}
	if (len)
		memcpy(buf, p, len);
	ipcx_chan_release(c);
	return (ssize_t)len;
}

void ipcx__chan_drop_held(struct ipcx_chan *c)
{
	if (c->res_len >= 0)
		ipcx_chan_abort(c);
	if (c->peek_len >= 0)
		ipcx_chan_release(c);
}
