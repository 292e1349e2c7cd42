/* SPDX-License-Identifier: MIT */
/* Topics: create, open and validate, close, stats. Publishing is in topic_pub.c,
 * subscribing in topic_sub.c; the layout in internal/topic.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal/sys.h"
#include "internal/topic.h"

#define TOPIC_VERSION 1u

struct topic_params {
	uint64_t capacity, max_msg;
	uint32_t flags;
};

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int check_consts(const struct topic_body *body, uint64_t body_size, uint64_t *ret_cap,
                        uint64_t *ret_max, uint32_t *ret_flags)
{
	const volatile struct topic_body *b = body;
	uint64_t cap, max, off;
	uint32_t flags;

	if (body_size < TOPIC_DATA_OFFSET)
		return -EBADMSG;
	cap = b->capacity;
	max = b->max_msg;
	off = b->data_offset;
	flags = b->flags;
	if (b->magic != TOPIC_MAGIC || b->version != TOPIC_VERSION ||
	    (flags & ~IPCX_TOPIC_RELIABLE))
		return -EBADMSG;
	if (!pow2(cap) || cap < CHAN_MIN_CAPACITY || cap > CHAN_MAX_CAPACITY)
		return -EBADMSG;
	if (max > IPCX_CHAN_MAX_MSG_LIMIT || topic_rec_size(max) > cap)
		return -EBADMSG;
	if (off != TOPIC_DATA_OFFSET || body_size != off + cap)
		return -EBADMSG;
	*ret_cap = cap;
	*ret_max = max;
	*ret_flags = flags;
	return 0;
}

static int topic_validate(const void *body, uint64_t body_size)
{
	struct topic_body *b = (struct topic_body *)body;
	uint64_t cap, max, tail, reserve;
	uint32_t flags;
	int r = check_consts(b, body_size, &cap, &max, &flags);

	if (r < 0)
		return r;
	/* tail first: reserve read later can only be further on. */
	tail = atomic_load_explicit(&b->tail, memory_order_acquire);
	reserve = atomic_load_explicit(&b->reserve, memory_order_acquire);
	if ((tail | reserve) & 31 || tail > reserve)
		return -EBADMSG;
	return 0;
}

static void topic_on_remove(void *body, uint64_t body_size)
{
	struct topic_body *b = body;

	if (body_size < TOPIC_DATA_OFFSET)
		return;
	/* The removed flag was set (release) before this call: a woken waiter sees it. */
	atomic_fetch_add_explicit(&b->data_word, 1, memory_order_release);
	atomic_fetch_add_explicit(&b->space_word, 1, memory_order_release);
	ipcx__futex_wake(&b->data_word, INT32_MAX);
	ipcx__futex_wake(&b->space_word, INT32_MAX);
}

const struct ipcx__kind ipcx__topic_kind = {IPCX_KIND_TOPIC, "topic", topic_validate,
                                            topic_on_remove};

static int topic_init(void *body, uint64_t body_size, const void *arg)
{
	const struct topic_params *p = arg;
	struct topic_body *b = body;

	if (body_size != TOPIC_DATA_OFFSET + p->capacity)
		return -EINVAL;
	/* Private until linked; the object layer publishes it with a release store. */
	b->magic = TOPIC_MAGIC;
	b->version = TOPIC_VERSION;
	b->flags = p->flags;
	b->capacity = p->capacity;
	b->max_msg = p->max_msg;
	b->data_offset = TOPIC_DATA_OFFSET;
	atomic_store_explicit(&b->last, UINT64_MAX, memory_order_relaxed);
	return 0;
}

static int params_of(const struct ipcx_topic_attr *attr, struct topic_params *p)
{
	uint64_t cap = attr && attr->capacity ? attr->capacity : IPCX_CHAN_DEFAULT_CAPACITY;
	uint64_t max = attr && attr->max_msg ? attr->max_msg : IPCX_CHAN_DEFAULT_MAX_MSG;

	if (attr && (attr->flags & ~IPCX_TOPIC_RELIABLE))
		return -EINVAL;
	if (max > IPCX_CHAN_MAX_MSG_LIMIT)
		return -EINVAL;
	if (cap > CHAN_MAX_CAPACITY)
		return -EFBIG;
	if ((!attr || !attr->max_msg) && max > cap / 4)
		max = cap / 4 > TOPIC_REC_HDR ? cap / 4 - TOPIC_REC_HDR : 0;
	if (cap < topic_rec_size(max))
		cap = topic_rec_size(max);
	if (cap < CHAN_MIN_CAPACITY)
		cap = CHAN_MIN_CAPACITY;
	while (!pow2(cap))
		cap += cap & -cap;
	if (cap > CHAN_MAX_CAPACITY)
		return -EFBIG;
	p->capacity = cap;
	p->max_msg = max;
	p->flags = attr ? attr->flags : 0;
	return 0;
}

int ipcx_topic_open(const char *name, unsigned flags, mode_t mode,
                    const struct ipcx_topic_attr *attr, ipcx_topic **ret_topic)
{
	struct topic_params p;
	struct ipcx_topic *t;
	uint64_t cap, max;
	uint32_t tflags;
	int r, created;

	if (!ret_topic)
		return -EINVAL;
	r = params_of(attr, &p);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	created = ipcx__obj_open(&t->obj, &ipcx__topic_kind, name, flags, mode,
	                         TOPIC_DATA_OFFSET + p.capacity, topic_init, &p);
	if (created < 0) {
		free(t);
		return created;
	}
	t->b = t->obj.body;
	/* Read the constants again into the handle, and check them again. */
	r = check_consts(t->b, t->obj.body_size, &cap, &max, &tflags);
	if (r < 0) {
		ipcx__obj_close(&t->obj);
		free(t);
		return r;
	}
	t->cap = cap;
	t->mask = cap - 1;
	t->max_msg = max;
	t->reliable = tflags & IPCX_TOPIC_RELIABLE;
	t->data = (uint8_t *)t->b + TOPIC_DATA_OFFSET;
	t->me = t->obj.slot;
	t->loan_len = -1;
	t->peek_len = -1;
	ipcx__spin_init(&t->spin, IPCX__WAIT_ADAPTIVE);
	/* A slot left by a dead subscriber: end that subscription before we take it. */
	atomic_store_explicit(&t->b->slots[t->me].active, 0, memory_order_relaxed);
	/* Release pairs with the acquire load in ipcx__topic_slot_dead. */
	atomic_store_explicit(&t->b->slots[t->me].who, t->obj.who, memory_order_release);
	*ret_topic = t;
	return created;
}

void ipcx_topic_close(ipcx_topic *t)
{
	uint64_t me;

	if (!t)
		return;
	/* A forked child's copy gives back nothing: the slot, loan, peek and subscription are
	 * its parent's. */
	if (!ipcx__obj_owned(&t->obj)) {
		ipcx__obj_close(&t->obj);
		free(t);
		return;
	}
	ipcx__topic_drop_held(t);
	if (t->subscribed) {
		/* Release: publishers that see us gone see our last cursor before it. */
		atomic_store_explicit(&t->b->slots[t->me].active, 0, memory_order_release);
		atomic_fetch_and_explicit(&t->b->active_mask[t->me / 64], ~(1ull << (t->me % 64)),
		                          memory_order_relaxed);
		if (t->reliable)
			ipcx__wake_bump(&t->b->space_word, &t->b->space_sleepers, INT32_MAX);
	}
	me = t->obj.who;
	atomic_compare_exchange_strong_explicit(&t->b->slots[t->me].who, &me, 0,
	                                        memory_order_release, memory_order_relaxed);
	ipcx__obj_close(&t->obj);
	free(t);
}

int ipcx_topic_set_wait(ipcx_topic *t, unsigned mode)
{
	if (!t || mode > IPCX_WAIT_SLEEP)
		return -EINVAL;
	ipcx__spin_init(&t->spin, mode);
	return 0;
}

uint64_t ipcx_topic_max_msg(const ipcx_topic *t)
{
	return t ? t->max_msg : 0;
}

uint64_t ipcx_topic_capacity(const ipcx_topic *t)
{
	return t ? t->cap : 0;
}

bool ipcx_topic_reliable(const ipcx_topic *t)
{
	return t && t->reliable;
}

bool ipcx__topic_slot_dead(const struct ipcx_topic *t, unsigned slot)
{
	uint64_t who;

	if (slot >= IPCX_MAX_ATTACH)
		return true;
	/* Acquire pairs with the release stores in open and close. */
	who = atomic_load_explicit(&t->b->slots[slot].who, memory_order_acquire);
	if (who == 0)
		return true;
	if (who == t->obj.who)
		return false; /* this process (which may hold several handles) */
	return !ipcx__proc_alive(who);
}

int ipcx_topic_stats(ipcx_topic *t, struct ipcx_topic_stats *ret, struct ipcx_topic_sub *subs,
                     size_t max)
{
	struct ipcx_topic_stats s;
	uint64_t tail, reserve, next, pos, ctl, seq, limit;
	uint32_t len;
	int64_t n;
	int count = 0;

	if (!t || !ret)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.capacity = t->cap;
	s.max_msg = t->max_msg;
	s.reliable = t->reliable;
	tail = atomic_load_explicit(&t->b->tail, memory_order_acquire);
	reserve = atomic_load_explicit(&t->b->reserve, memory_order_acquire);
	next = atomic_load_explicit(&t->b->next_seq, memory_order_relaxed);
	if (tail > reserve || reserve - tail > t->cap)
		return -EBADMSG;
	s.published = next;
	s.bytes_used = reserve - tail;
	limit = t->cap / TOPIC_REC_HDR + 1;
	for (pos = tail; pos < reserve && limit--; pos += (uint64_t)n) {
		n = ipcx__topic_read_rec(t, pos, &ctl, &seq, &len);
		if (n <= 0)
			break;
		s.retained += ctl_state(ctl) == REC_COMMITTED;
	}
	for (unsigned i = 0; i < IPCX_MAX_ATTACH; i++) {
		struct topic_slot *sl = &t->b->slots[i];
		bool alive;

		if (!atomic_load_explicit(&sl->active, memory_order_acquire))
			continue;
		alive = !ipcx__topic_slot_dead(t, i);
		s.subscribers += alive;
		if (subs && (size_t)count < max) {
			uint64_t sseq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
			subs[count].pid =
			        ipcx__id_pid(atomic_load_explicit(&sl->who, memory_order_relaxed));
			subs[count].alive = alive;
			subs[count].lag = next > sseq ? next - sseq : 0;
		}
		count++;
	}
	s.dropped_subscribers = atomic_load_explicit(&t->b->dropped_subs, memory_order_relaxed);
	*ret = s;
	return count;
}
