/* SPDX-License-Identifier: MIT */
/*
 * Channels, the sending side: the reservation lock, reserve/commit/abort, send.
 *
 * Senders take space in the ring under a small lock that covers only a few stores (the
 * record header and the reserve position), never the copy of a message. The lock holds the
 * holder's slot, so a sender that dies holding it is found, and its half-done step can be
 * read off the ring and finished: headers are written before reserve moves past them.
 */
#include <errno.h>
#include <string.h>

#include "internal/chan.h"
#include "internal/slot_lock.h"
#include "internal/sys.h"

static bool chan_slot_dead(void *ctx, unsigned slot)
{
	return ipcx__chan_slot_dead(ctx, slot);
}

static void chan_repair(void *ctx)
{
	ipcx__chan_repair_reserve(ctx);
}

int ipcx__chan_lock(struct ipcx_chan *c, ipcx__deadline d, bool try_once)
{
	const struct ipcx__slot_lock l = {&c->b->lock,    c->me,       &c->obj,
	                                  chan_slot_dead, chan_repair, c};

	return ipcx__slot_lock(&l, d, try_once);
}

void ipcx__chan_unlock(struct ipcx_chan *c)
{
	ipcx__slot_unlock(&c->b->lock);
}

void ipcx__chan_repair_reserve(struct ipcx_chan *c)
{
	/* We hold the lock: reserve only moves under it (relaxed; the lock's acquire orders). */
	uint64_t pos = atomic_load_explicit(&c->b->reserve, memory_order_relaxed), ctl;
	uint32_t len;
	int64_t n;

	/* A dead holder wrote at most a pad and a record header without moving reserve past
	 * them. Such records stay RESERVED by a dead slot or SKIP; recovery settles them. */
	for (int i = 0; i < 2; i++) {
		n = ipcx__chan_read_rec(c, pos, &ctl, &len);
		if (n <= 0)
			break;
		pos += (uint64_t)n;
		/* Release pairs with the acquire loads of reserve by stats and recovery. */
		atomic_store_explicit(&c->b->reserve, pos, memory_order_release);
	}
}

/* Writes a record header at pos. We hold the lock and own [pos, pos + size). */
static void put_header(struct ipcx_chan *c, uint64_t pos, uint32_t len, unsigned state)
{
	struct chan_rec *r = rec_at(c, pos);

	/* Relaxed: published by the release store of ctl just below. */
	atomic_store_explicit(&r->len, len, memory_order_relaxed);
	/* Release pairs with the acquire load of ctl in ipcx__chan_read_rec: a reader that
	 * sees our tag sees len. */
	atomic_store_explicit(&r->ctl, rec_ctl(pos, c->me, state), memory_order_release);
}

struct space_wait {
	struct ipcx_chan *c;
	uint64_t head_needed;
};

static bool space_ready(void *arg)
{
	struct space_wait *w = arg;

	/* Acquire pairs with the release CAS of head in ipcx__chan_reclaim. Compared modulo
	 * 2^64, as try_take computes room: a peer may set positions on both sides of the wrap,
	 * and a plain >= would then see room that try_take cannot find, for ever. */
	return (int64_t)(atomic_load_explicit(&w->c->b->head, memory_order_acquire) -
	                 w->head_needed) >= 0 ||
	       ipcx__obj_removed(&w->c->obj);
}

/*
 * One attempt under the lock to take room for a record of need bytes: 1 with *ret_pos set,
 * 0 when there is no room (*ret_target: the head that would make room), or -EBADMSG.
 */
static int try_take(struct ipcx_chan *c, uint64_t len, uint64_t *ret_pos, uint64_t *ret_target)
{
	uint64_t need = rec_size(len), pos, off, pad;
	/* Relaxed: reserve only moves under the lock we hold. */
	uint64_t r = atomic_load_explicit(&c->b->reserve, memory_order_relaxed);

	for (int round = 0; round < 2; round++) {
		if (r & 15)
			return -EBADMSG;
		off = r & c->mask;
		pad = off + need > c->cap ? c->cap - off : 0;
		if (r + pad + need - c->head_cache > c->cap || r < c->head_cache) {
			/* Acquire pairs with the release CAS of head in ipcx__chan_reclaim: the
			 * space behind head is no longer read by anyone. */
			c->head_cache = atomic_load_explicit(&c->b->head, memory_order_acquire);
			if (r - c->head_cache > c->cap)
				return -EBADMSG; /* head beyond reserve, or too far behind */
		}
		pos = r + pad;
		if (pos + need - c->head_cache <= c->cap) {
			if (pad) {
				ipcx__chan_loose(c); /* before the record can be passed */
				put_header(c, r, (uint32_t)(pad - CHAN_REC_HDR), REC_SKIP);
			}
			put_header(c, pos, (uint32_t)len, REC_RESERVED);
			/* Release pairs with the acquire loads of reserve (stats, recovery). */
			atomic_store_explicit(&c->b->reserve, pos + need, memory_order_release);
			*ret_pos = pos;
			return 1;
		}
		if (!pad || r + pad - c->head_cache > c->cap) {
			*ret_target = pad ? r + pad - c->cap : pos + need - c->cap;
			return 0;
		}
		/* Room for the padding only: place it, so the ring's start can be reclaimed
		 * behind it, and look again from the start of the ring. */
		ipcx__chan_loose(c);
		put_header(c, r, (uint32_t)(pad - CHAN_REC_HDR), REC_SKIP);
		r += pad;
		atomic_store_explicit(&c->b->reserve, r, memory_order_release);
	}
	*ret_target = r + need - c->cap;
	return 0;
}

/* Takes room for a message of len bytes; returns 0 with *ret_pos, or -errno. */
static int reserve_room(struct ipcx_chan *c, uint64_t len, int64_t timeout_ns, uint64_t *ret_pos)
{
	ipcx__deadline d = ipcx__deadline_in(timeout_ns);
	struct space_wait w = {c, 0};
	int r;

	for (;;) {
		if (ipcx__obj_removed(&c->obj))
			return -EIDRM;
		/* The uncontended lock in line (acquire pairs with the release that gives it
		 * back); everything else, a dead holder included, in ipcx__chan_lock. */
		r = 0;
		if (!atomic_compare_exchange_strong_explicit(&c->b->lock, &(uint32_t){0}, c->me + 1,
		                                             memory_order_acquire,
		                                             memory_order_relaxed))
			r = ipcx__chan_lock(c, d, timeout_ns == 0);
		if (r < 0)
			return r;
		r = try_take(c, len, ret_pos, &w.head_needed);
		/* Release pairs with the acquire that takes the lock next (ipcx__slot_unlock). */
		atomic_store_explicit(&c->b->lock, 0, memory_order_release);
		if (r != 0)
			return r < 0 ? r : 0;
		/* Full: reclaim what receivers released, then wait for them. */
		ipcx__chan_reclaim(c, false);
		if (space_ready(&w))
			continue;
		if (timeout_ns == 0)
			return -EAGAIN;
		r = ipcx__wait_until(&c->spin, space_ready, &w, &c->b->space_word,
		                     &c->b->space_sleepers, ipcx__chan_slice(c, d, true));
		if (r == -ETIMEDOUT) {
			if (ipcx__deadline_passed(d))
				return -ETIMEDOUT;
			ipcx__chan_recover(c, IPCX_MAX_ATTACH);
		}
	}
}

int ipcx_chan_reserve(ipcx_chan *c, size_t len, int64_t timeout_ns, void **ret_ptr)
{
	uint64_t pos;
	int r;

	if (!c || !ret_ptr)
		return -EINVAL;
	if (c->res_len >= 0)
		return -EBUSY;
	if (len > c->max_msg)
		return -EMSGSIZE;
	ipcx__chan_note_role(c, CHAN_ROLE_SEND);
	r = reserve_room(c, len, timeout_ns, &pos);
	if (r < 0)
		return r;
	c->res_pos = pos;
	c->res_len = (int64_t)len;
	*ret_ptr = (uint8_t *)rec_at(c, pos) + CHAN_REC_HDR;
	return 0;
}

/* Moves our reservation from RESERVED to state and wakes a receiver. */
static int finish(struct ipcx_chan *c, unsigned state)
{
	if (!c || c->res_len < 0)
		return -EINVAL;
	c->res_len = -1;
	/* Release pairs with the acquire load of ctl by receivers: the message is complete
	 * before it is seen committed. The record is ours: recovery touches only records of
	 * dead slots. */
	if (state == REC_SKIP)
		ipcx__chan_loose(c); /* before the record can be passed */
	atomic_store_explicit(&rec_at(c, c->res_pos)->ctl, rec_ctl(c->res_pos, c->me, state),
	                      memory_order_release);
	ipcx__wake_bump(&c->b->data_word, &c->b->data_sleepers, 1);
	return 0;
}

int ipcx_chan_commit(ipcx_chan *c)
{
	return finish(c, REC_COMMITTED);
}

int ipcx_chan_abort(ipcx_chan *c)
{
	return finish(c, REC_SKIP);
}

int ipcx_chan_send(ipcx_chan *c, const void *msg, size_t len, int64_t timeout_ns)
{
	void *p;
	int r;

	if (!c || (!msg && len))
		return -EINVAL;
	r = ipcx_chan_reserve(c, len, timeout_ns, &p);
	if (r < 0)
		return r;
	if (len)
		memcpy(p, msg, len);
	return ipcx_chan_commit(c);
}

ipcx__deadline ipcx__chan_slice(struct ipcx_chan *c, ipcx__deadline d, bool stuck)
{
	ipcx__deadline s;

	(void)c;
	if (!stuck)
		return d;
	s.at_ns = ipcx__now_ns() + CHAN_CHECK_NS;
	return s.at_ns < d.at_ns ? s : d;
}
