/* SPDX-License-Identifier: MIT */
/*
 * Channels, the receiving side: claim the oldest committed record, peek/release, recv, and
 * reclaiming released space.
 *
 * A receiver claims the record at consume by moving consume past it with a CAS (consume
 * only grows, so the CAS cannot succeed on a stale view), after announcing the position in
 * its own slot so that recovery can find the holder of a record. Records that are not
 * messages (SKIP) are stepped over by whoever finds them at consume. A receiver writes a
 * record only once, at release (DONE), with a plain store.
 */
#include <errno.h>
#include <string.h>

#include "internal/chan.h"
#include "internal/source.h"
#include "internal/sys.h"

void ipcx__chan_help_consume(struct ipcx_chan *c, uint64_t pos, uint64_t size)
{
	uint64_t expect = pos;

	/* Relaxed: consume is only a hint of where to look; every record's state is read
	 * through its own control word with acquire. A failure means someone moved it. */
	atomic_compare_exchange_strong_explicit(&c->b->consume, &expect, pos + size,
	                                        memory_order_relaxed, memory_order_relaxed);
}

void ipcx__chan_reclaim(struct ipcx_chan *c, bool freed)
{
	struct chan_body *b = c->b;
	uint64_t head, consume, ctl;
	uint32_t len;
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
		                                            memory_order_relaxed)) {
			uint32_t l = atomic_load_explicit(&b->loose, memory_order_relaxed);
			/* Saturating: the count is a hint, and a hostile peer may write it. */
			while (l && !atomic_compare_exchange_weak_explicit(&b->loose, &l, l - 1,
			                                                   memory_order_relaxed,
			                                                   memory_order_relaxed))
				;
			freed = true;
		}
	}
	if (freed)
		ipcx__wake_all(&b->space_word, &b->space_sleepers);
}

/* Takes an ORPHAN record (its receiver died) between head and consume, if any. */
static int claim_orphan(struct ipcx_chan *c, uint32_t orphans, size_t bufcap, uint64_t *ret_pos,
                        uint32_t *ret_len)
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
		/* Acquire: the payload, written before the commit, is ours to read. The owner
		 * goes in the control word, as records taken back are rare. */
		if (!atomic_compare_exchange_strong_explicit(
		            &rec_at(c, pos)->ctl, &ctl, rec_ctl(pos, c->me, REC_CLAIMED),
		            memory_order_acquire, memory_order_relaxed))
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
 * Whether consume has moved past pos since the caller read it. Another receiver may take a
 * record, and a sender reuse its space, between our read of consume and our read of the
 * record's header, which then holds another message's bytes: consume only grows, so a
 * record whose header looks wrong (or too long for our buffer) counts only while it is
 * still the oldest unclaimed one. The fence orders the header reads before this one.
 */
static bool moved_on(struct chan_body *b, uint64_t pos)
{
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&b->consume, memory_order_relaxed) != pos;
}

/*
 * Claims the oldest committed record: 1 with *ret_pos and *ret_len, 0 when there is none
 * to take now, -EMSGSIZE when it is longer than bufcap (left in place), -EBADMSG.
 *
 * The claim is the CAS that moves consume past the record; the receiver announces the
 * position in its slot first, so that if it dies holding the record, recovery can tell the
 * record's holder is dead. The record itself is not written until release: the record's
 * cache line is only read on the way in.
 */
static int claim(struct ipcx_chan *c, size_t bufcap, uint64_t *ret_pos, uint32_t *ret_len)
{
	struct chan_body *b = c->b;
	_Atomic uint64_t *mine = &b->slots[c->me].claim;
	uint64_t pos, ctl, limit = 2 * (c->cap / CHAN_REC_HDR) + 1024;
	uint32_t len, orphans;
	int64_t n;
	int r = 0;

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
		if (n < 0 && moved_on(b, pos))
			continue;
		if (n <= 0) {
			r = (int)n; /* nothing written there yet: empty (or a corrupt header) */
			break;
		}
		if (ctl_state(ctl) == REC_RESERVED)
			break; /* the oldest is still being written: wait behind it */
		if (ctl_state(ctl) != REC_COMMITTED) {
			/* Skipped (or taken, in a corrupt ring): move consume on. */
			ipcx__chan_help_consume(c, pos, (uint64_t)n);
			continue;
		}
		if (len > bufcap) {
			if (moved_on(b, pos))
				continue;
			r = -EMSGSIZE;
			break;
		}
		/* Start fetching the payload now: the locked CAS below would otherwise hold
		 * back the loads of its cache lines until it completes. */
		for (uint64_t o = CHAN_REC_HDR; o < (uint64_t)n && o < 4 * CHAN_LINE;
		     o += CHAN_LINE)
			__builtin_prefetch((const uint8_t *)rec_at(c, pos) + o);
		/* Relaxed: ordered before the claim by the CAS's release. */
		atomic_store_explicit(mine, pos + 1, memory_order_relaxed);
		/* Release pairs with the acquire loads of consume in recovery: whoever sees the
		 * record below consume sees our announcement. The payload's visibility comes
		 * from the acquire load of ctl in read_rec (pairing with the commit). */
		if (atomic_compare_exchange_strong_explicit(&b->consume, &pos, pos + (uint64_t)n,
		                                            memory_order_acq_rel,
		                                            memory_order_relaxed)) {
			*ret_pos = pos;
			*ret_len = len;
			return 1;
		}
	}
	/* Not holding anything: a stale announcement would make recovery wait for us. */
	if (atomic_load_explicit(mine, memory_order_relaxed))
		atomic_store_explicit(mine, 0, memory_order_relaxed);
	return r;
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
	/* A small record spans the header's line and the next: fetch that one while we
	 * watch the header, so the payload (written before the commit) is here by the time
	 * the commit is seen. A hint only (masked into the ring; never a load that counts). */
	__builtin_prefetch(c->data + (((pos & ~(uint64_t)(CHAN_LINE - 1)) + CHAN_LINE) & c->mask));
	return ctl_is(ctl, pos) && ctl_state(ctl) != REC_RESERVED;
}

/*
 * True when records exist that this receiver cannot take, after claim found none: a dead
 * peer may be in the way. Records taken but not released lie in [head, consume); a record
 * being written (or a dead sender's) has a RESERVED header at consume, written before
 * reserve moves past it. Only lines a receiver reads anyway: reading reserve here would
 * pull the senders' lock line into our cache, and cost the next sender a transfer of it.
 */
static bool stuck(struct ipcx_chan *c)
{
	uint64_t pos = atomic_load_explicit(&c->b->consume, memory_order_relaxed), ctl;

	if (atomic_load_explicit(&c->b->head, memory_order_relaxed) != pos || (pos & 15))
		return true;
	/* Relaxed: a hint for how long to wait; the claim reads the header with acquire. */
	ctl = atomic_load_explicit(&rec_at(c, pos)->ctl, memory_order_relaxed);
	return ctl_is(ctl, pos);
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
				ipcx__chan_reclaim(c, false);
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
	uint64_t want, head;
	int64_t len;

	if (!c || c->peek_len < 0)
		return -EINVAL;
	len = c->peek_len;
	want = rec_ctl(c->peek_pos, c->me, REC_DONE);
	c->peek_len = -1;
	head = c->peek_pos;
	/* The common case, one receiver or the oldest message: our record is at head, and
	 * nobody but us can move head past it. Then free it at once, without writing the
	 * record (a store there would have to win its cache line back from the sender).
	 * Release pairs with the senders' acquire load of head: our reads of the payload are
	 * done before its space is reused; seq_cst so that it also orders the move before our
	 * read of space_sleepers (ipcx__wake_all_rmw). */
	if (atomic_compare_exchange_strong_explicit(&c->b->head, &head,
	                                            c->peek_pos + rec_size((uint64_t)len),
	                                            memory_order_seq_cst, memory_order_relaxed)) {
		/* No walk over the records after ours unless some may be waiting (released
		 * out of order, padding, skips): the walk would read the header the sender
		 * writes next and cost it a cache-line transfer. */
		if (atomic_load_explicit(&c->b->loose, memory_order_relaxed))
			ipcx__chan_reclaim(c, true);
		else
			ipcx__wake_all_rmw(&c->b->space_word, &c->b->space_sleepers);
		return 0;
	}
	/* Release pairs with the reclaimer's acquire load of ctl, as above. A plain store:
	 * the record is ours. */
	ipcx__chan_loose(c); /* before the DONE store, so no walk passes it uncounted */
	atomic_store_explicit(&rec_at(c, c->peek_pos)->ctl, want, memory_order_release);
	ipcx__chan_reclaim(c, false);
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

/* ---- wait-sets and descriptors (internal/source.h) ---- */

static int chan_ready(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
                      bool consume)
{
	struct ipcx_chan *c = h;

	(void)snap;
	(void)ops;
	(void)nops;
	(void)consume;
	if (ipcx__obj_removed(&c->obj))
		return -EIDRM;
	return data_ready(c);
}

_Static_assert(offsetof(struct chan_body, data_sleepers) ==
                       offsetof(struct chan_body, data_word) + 4,
               "a watched word's count follows it (internal/watch.h)");

static bool chan_stuck(void *h)
{
	return !data_ready(h) && stuck(h);
}

/* What a blocked receive does at the end of a slice. */
static void chan_recover(void *h)
{
	if (ipcx__chan_recover(h, IPCX_MAX_ATTACH))
		ipcx__chan_reclaim(h, false);
}

void ipcx__chan_source(ipcx_chan *c, struct ipcx__source *ret)
{
	ret->obj = &c->obj;
	ret->word = &c->b->data_word;
	ret->marked = false;
	ret->sleepers = &c->b->data_sleepers;
	ret->ready = chan_ready;
	ret->snap = 0;
	ret->stuck = chan_stuck;
	ret->recover = chan_recover;
}
