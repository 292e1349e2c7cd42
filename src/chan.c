/* SPDX-License-Identifier: MIT */
/* Channels: create, open and validate, close, stats. The protocol is in chan_send.c,
 * chan_recv.c and chan_recover.c; the layout in internal/chan.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal/chan.h"
#include "internal/sys.h"

#define CHAN_VERSION 1u

struct chan_params {
	uint64_t capacity;
	uint64_t max_msg;
};

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Checks the constants of a body of body_size bytes; each field is read once. */
static int check_consts(const struct chan_body *b, uint64_t body_size, uint64_t *ret_cap,
                        uint64_t *ret_max)
{
	uint64_t magic, cap, max, off;

	if (body_size < CHAN_DATA_OFFSET)
		return -EBADMSG;
	magic = ((const volatile struct chan_body *)b)->magic;
	cap = ((const volatile struct chan_body *)b)->capacity;
	max = ((const volatile struct chan_body *)b)->max_msg;
	off = ((const volatile struct chan_body *)b)->data_offset;
	if (magic != CHAN_MAGIC || ((const volatile struct chan_body *)b)->version != CHAN_VERSION)
		return -EBADMSG;
	if (!pow2(cap) || cap < CHAN_MIN_CAPACITY || cap > CHAN_MAX_CAPACITY)
		return -EBADMSG;
	if (max > IPCX_CHAN_MAX_MSG_LIMIT || rec_size(max) > cap)
		return -EBADMSG;
	if (off != CHAN_DATA_OFFSET || body_size != off + cap)
		return -EBADMSG;
	*ret_cap = cap;
	*ret_max = max;
	return 0;
}

static int chan_validate(const void *body, uint64_t body_size)
{
	struct chan_body *b = (struct chan_body *)body;
	uint64_t cap, max, head, consume, reserve;
	int r = check_consts(b, body_size, &cap, &max);

	if (r < 0)
		return r;
	/* Read in this order, each position can only have grown since the one before was
	 * read, so head <= consume <= reserve holds in any live channel. */
	head = atomic_load_explicit(&b->head, memory_order_acquire);
	consume = atomic_load_explicit(&b->consume, memory_order_acquire);
	reserve = atomic_load_explicit(&b->reserve, memory_order_acquire);
	if ((head | consume | reserve) & 15)
		return -EBADMSG;
	if (head > consume || consume > reserve)
		return -EBADMSG;
	return 0;
}

static void chan_on_remove(void *body, uint64_t body_size)
{
	struct chan_body *b = body;

	if (body_size < CHAN_DATA_OFFSET)
		return;
	/* The removed flag was set (release) before this call: a woken waiter sees it. */
	atomic_fetch_add_explicit(&b->data_word, 1, memory_order_release);
	atomic_fetch_add_explicit(&b->space_word, 1, memory_order_release);
	ipcx__futex_wake(&b->data_word, INT32_MAX);
	ipcx__futex_wake(&b->space_word, INT32_MAX);
}

const struct ipcx__kind ipcx__chan_kind = {IPCX_KIND_CHAN, "chan", chan_validate, chan_on_remove};

static int chan_init(void *body, uint64_t body_size, const void *arg)
{
	const struct chan_params *p = arg;
	struct chan_body *b = body;

	if (body_size != CHAN_DATA_OFFSET + p->capacity)
		return -EINVAL;
	/* The file is zero-filled and private until linked; plain stores are enough (the
	 * object layer publishes the whole body with a release store of its magic). */
	b->magic = CHAN_MAGIC;
	b->version = CHAN_VERSION;
	b->capacity = p->capacity;
	b->max_msg = p->max_msg;
	b->data_offset = CHAN_DATA_OFFSET;
	return 0;
}

static int params_of(const struct ipcx_chan_attr *attr, struct chan_params *p)
{
	uint64_t cap = attr && attr->capacity ? attr->capacity : IPCX_CHAN_DEFAULT_CAPACITY;
	uint64_t max = attr && attr->max_msg ? attr->max_msg : IPCX_CHAN_DEFAULT_MAX_MSG;

	if (max > IPCX_CHAN_MAX_MSG_LIMIT)
		return -EINVAL;
	if (cap > CHAN_MAX_CAPACITY)
		return -EFBIG;
	if (!attr || !attr->max_msg) {
		/* Default: a quarter of the buffer, at most the default. */
		if (max > cap / 4)
			max = cap / 4 > CHAN_REC_HDR ? cap / 4 - CHAN_REC_HDR : 0;
	}
	if (cap < rec_size(max))
		cap = rec_size(max);
	if (cap < CHAN_MIN_CAPACITY)
		cap = CHAN_MIN_CAPACITY;
	while (!pow2(cap))
		cap += cap & -cap; /* round up to a power of two */
	if (cap > CHAN_MAX_CAPACITY)
		return -EFBIG;
	p->capacity = cap;
	p->max_msg = max;
	return 0;
}

int ipcx_chan_open(const char *name, unsigned flags, mode_t mode, const struct ipcx_chan_attr *attr,
                   ipcx_chan **ret_chan)
{
	struct chan_params p;
	struct ipcx_chan *c;
	uint64_t old, cap, max;
	int r, created;

	if (!ret_chan)
		return -EINVAL;
	r = params_of(attr, &p);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	created = ipcx__obj_open(&c->obj, &ipcx__chan_kind, name, flags, mode,
	                         CHAN_DATA_OFFSET + p.capacity, chan_init, &p);
	if (created < 0) {
		free(c);
		return created;
	}
	c->b = c->obj.body;
	/* validate() read the constants once; read them again into the handle and check them
	 * again, since a hostile peer could have changed them in between. */
	r = check_consts(c->b, c->obj.body_size, &cap, &max);
	if (r < 0) {
		ipcx__obj_close(&c->obj);
		free(c);
		return r;
	}
	c->cap = cap;
	c->mask = cap - 1;
	c->max_msg = max;
	c->data = (uint8_t *)c->b + CHAN_DATA_OFFSET;
	c->me = c->obj.slot;
	c->res_len = -1;
	c->peek_len = -1;
	ipcx__spin_init(&c->spin, IPCX__WAIT_ADAPTIVE);

	/* The slot was free or left by a dead process; in the latter case that process's
	 * reservations and claims carry our slot number: settle them before we take it. */
	old = atomic_load_explicit(&c->b->slots[c->me].who, memory_order_acquire);
	if (old != 0 && old != c->obj.who)
		ipcx__chan_recover(c, c->me);
	atomic_store_explicit(&c->b->slots[c->me].roles, 0, memory_order_relaxed);
	atomic_store_explicit(&c->b->slots[c->me].claim, 0, memory_order_relaxed);
	/* Release pairs with the acquire loads in ipcx__chan_slot_dead. */
	atomic_store_explicit(&c->b->slots[c->me].who, c->obj.who, memory_order_release);
	*ret_chan = c;
	return created;
}

void ipcx_chan_close(ipcx_chan *c)
{
	uint64_t me;

	if (!c)
		return;
	/* A forked child's copy gives back nothing: the slot, reservation and peeked message
	 * are its parent's. */
	if (ipcx__obj_owned(&c->obj)) {
		ipcx__chan_drop_held(c);
		me = c->obj.who;
		/* Release: what we did to records is visible before the slot looks free. */
		atomic_compare_exchange_strong_explicit(&c->b->slots[c->me].who, &me, 0,
		                                        memory_order_release, memory_order_relaxed);
	}
	ipcx__obj_close(&c->obj);
	free(c);
}

int ipcx_chan_set_wait(ipcx_chan *c, unsigned mode)
{
	if (!c || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	ipcx__spin_init(&c->spin, mode);
	return 0;
}

uint64_t ipcx_chan_max_msg(const ipcx_chan *c)
{
	return c ? c->max_msg : 0;
}

uint64_t ipcx_chan_capacity(const ipcx_chan *c)
{
	return c ? c->cap : 0;
}

void ipcx__chan_note_role_slow(struct ipcx_chan *c, uint32_t role)
{
	c->roles |= role;
	atomic_fetch_or_explicit(&c->b->slots[c->me].roles, role, memory_order_relaxed);
}

bool ipcx__chan_slot_dead(const struct ipcx_chan *c, unsigned slot)
{
	uint64_t who;

	if (slot >= IPCX_MAX_ATTACH)
		return true;
	/* Acquire pairs with the release store in open and close. */
	who = atomic_load_explicit(&c->b->slots[slot].who, memory_order_acquire);
	if (who == 0)
		return true;
	if (who == c->obj.who)
		return false; /* this process (which may hold several handles) */
	return !ipcx__proc_alive(who);
}

int ipcx_chan_stats(ipcx_chan *c, struct ipcx_chan_stats *ret)
{
	struct ipcx_chan_stats s;
	uint64_t pos, head, consume, reserve, ctl, limit;
	uint32_t len;
	int64_t n;

	if (!c || !ret)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.capacity = c->cap;
	s.max_msg = c->max_msg;
	/* Relaxed: a snapshot, ordered only by the read order as in chan_validate. */
	head = atomic_load_explicit(&c->b->head, memory_order_acquire);
	consume = atomic_load_explicit(&c->b->consume, memory_order_acquire);
	reserve = atomic_load_explicit(&c->b->reserve, memory_order_acquire);
	if (reserve - head > c->cap || head > consume || consume > reserve)
		return -EBADMSG;
	s.bytes_used = reserve - head;
	limit = c->cap / CHAN_REC_HDR + 1;
	for (pos = head; pos < reserve && limit--; pos += (uint64_t)n) {
		n = ipcx__chan_read_rec(c, pos, &ctl, &len);
		if (n <= 0)
			break;
		switch (ctl_state(ctl)) {
		case REC_COMMITTED:
			if (pos < consume)
				s.in_flight++;
			else
				s.depth++;
			break;
		case REC_ORPHAN:
			s.depth++;
			break;
		case REC_RESERVED:
		case REC_CLAIMED:
			s.in_flight++;
			break;
		default:
			break;
		}
	}
	for (unsigned i = 0; i < IPCX_MAX_ATTACH; i++) {
		uint32_t roles = atomic_load_explicit(&c->b->slots[i].roles, memory_order_relaxed);

		if (!roles || ipcx__chan_slot_dead(c, i))
			continue;
		s.senders += !!(roles & CHAN_ROLE_SEND);
		s.receivers += !!(roles & CHAN_ROLE_RECV);
	}
	s.redelivered = atomic_load_explicit(&c->b->redelivered, memory_order_relaxed);
	s.dropped = atomic_load_explicit(&c->b->dropped, memory_order_relaxed);
	*ret = s;
	return 0;
}
