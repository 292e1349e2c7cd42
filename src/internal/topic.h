/* SPDX-License-Identifier: MIT */
/*
 * The shared-memory layout of a topic. See docs/chan-topic.md. Like a channel, a ring of
 * records (a 32-byte header with a tagged control word, the message's sequence number and
 * length, then the payload) with 64-bit byte positions that never wrap:
 *
 *   tail <= every live subscriber's cursor <= reserve      (reliable)
 *   tail <= reserve, reserve - tail <= capacity            (both)
 *
 * [tail, reserve) are the records the buffer holds. Publishers move reserve (and tail,
 * when they need the space) under a small lock that holds the holder's slot. Subscribers
 * never write the ring: each has a cursor in its own slot.
 */
#ifndef IPCX_INTERNAL_TOPIC_H
#define IPCX_INTERNAL_TOPIC_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipcx/topic.h>

#include "chan.h" /* the record control word, rec_tag & co. */
#include "obj.h"
#include "wait.h"

#define TOPIC_MAGIC 0x3143504f54584350ull /* "PCXTOPC1" */
#define TOPIC_REC_HDR 32u
#define TOPIC_DATA_OFFSET 20480u

struct topic_rec {
	_Atomic uint64_t ctl; /* as in a channel: tag, owner slot, REC_RESERVED/COMMITTED/SKIP */
	_Atomic uint64_t seq; /* the message's number; padding carries the next one's */
	_Atomic uint32_t len; /* payload bytes; for SKIP the bytes spanned minus the header */
	uint32_t pad[3];
};
_Static_assert(sizeof(struct topic_rec) == TOPIC_REC_HDR, "record header");

struct topic_slot {
	_Atomic uint64_t who;    /* the process using this slot on this topic, 0 when none */
	_Atomic uint64_t cursor; /* the position of the subscriber's next record */
	_Atomic uint64_t seq;    /* the number of its next message */
	_Atomic uint32_t active; /* 1 while subscribed */
	uint8_t pad[CHAN_LINE - 28];
};
_Static_assert(sizeof(struct topic_slot) == CHAN_LINE, "a slot per line");

struct topic_body {
	uint64_t magic;
	uint32_t version;
	uint32_t flags; /* IPCX_TOPIC_RELIABLE */
	uint64_t capacity;
	uint64_t max_msg;
	uint64_t data_offset;
	uint8_t pad0[CHAN_LINE - 40];

	/* Publishers, under the lock. */
	_Atomic uint32_t lock;
	uint32_t pad1;
	_Atomic uint64_t reserve;
	_Atomic uint64_t next_seq;  /* the number the next message gets */
	_Atomic uint64_t last;      /* position of the newest message record, or ~0 */
	_Atomic uint32_t sub_epoch; /* bumped (under the lock) by every new subscription */
	uint32_t pad1b;
	uint8_t pad2[CHAN_LINE - 40];

	_Atomic uint64_t tail; /* the oldest record kept; written by publishers under the lock */
	uint8_t pad3[CHAN_LINE - 8];

	_Atomic uint32_t data_word; /* subscribers sleep here */
	_Atomic uint32_t data_sleepers;
	_Atomic uint32_t space_word; /* reliable publishers sleep here */
	_Atomic uint32_t space_sleepers;
	uint8_t pad4[CHAN_LINE - 16];

	_Atomic uint64_t dropped_subs;
	_Atomic uint64_t active_mask[IPCX_MAX_ATTACH / 64]; /* which slots subscribe */
	uint8_t pad5[CHAN_LINE - 8 - IPCX_MAX_ATTACH / 8];

	struct topic_slot slots[IPCX_MAX_ATTACH];
};
_Static_assert(offsetof(struct topic_body, lock) == 64, "layout");
_Static_assert(offsetof(struct topic_body, tail) == 128, "layout");
_Static_assert(offsetof(struct topic_body, data_word) == 192, "layout");
_Static_assert(offsetof(struct topic_body, slots) == 320, "layout");
_Static_assert(sizeof(struct topic_body) <= TOPIC_DATA_OFFSET, "fits before the ring");

struct ipcx_topic {
	struct ipcx__obj obj;
	struct topic_body *b;
	uint8_t *data;
	uint64_t cap, mask, max_msg; /* validated copies */
	bool reliable;
	unsigned me;
	struct ipcx__spin spin;
	uint64_t min_cache; /* reliable publishers: the slowest cursor, as of min_epoch */
	uint32_t min_epoch;
	bool min_valid;
	/* The loan. */
	uint64_t loan_pos;
	int64_t loan_len;
	/* The subscription: the cursor (a private copy of the slot's) and the peeked record. */
	bool subscribed;
	uint64_t cur, cur_seq, missed;
	uint64_t peek_pos, peek_size, peek_seq;
	int64_t peek_len;
};

extern const struct ipcx__kind ipcx__topic_kind;

/* Records are 32-byte aligned, so that padding to the end of the ring always has room for
 * its header. */
static inline uint64_t topic_rec_size(uint64_t len)
{
	return (TOPIC_REC_HDR + len + 31) & ~31ull;
}

/*
 * How much further than needed a lossy publisher moves tail (see try_take in topic_pub.c):
 * a sixteenth of the ring, at most 8 KiB, a multiple of the record alignment. With the
 * largest message at most a quarter of the ring, a new record always fits in what is left.
 */
static inline uint64_t topic_tail_step(uint64_t cap)
{
	uint64_t step = cap / 16 < 8192 ? cap / 16 : 8192;

	return step & ~31ull;
}

static inline struct topic_rec *topic_rec_at(const struct ipcx_topic *t, uint64_t pos)
{
	return (struct topic_rec *)(t->data + (pos & t->mask));
}

/*
 * Reads and bounds the header at pos (as ipcx__chan_read_rec): the record's size with
 * *ret_ctl, *ret_seq and *ret_len, 0 when the header is not pos's, or -EBADMSG. Inline, as
 * every message goes through it.
 */
static inline int64_t ipcx__topic_read_rec(const struct ipcx_topic *t, uint64_t pos,
                                           uint64_t *ret_ctl, uint64_t *ret_seq, uint32_t *ret_len)
{
	struct topic_rec *r;
	uint64_t ctl, size, off = pos & t->mask;
	uint32_t len;
	unsigned st;

	if (pos & 31)
		return -EBADMSG;
	r = topic_rec_at(t, pos);
	/* Pairs with the release store of ctl by the record's publisher: seq and len are
	 * complete. */
	ctl = atomic_load_explicit(&r->ctl, memory_order_acquire);
	if (!ctl_is(ctl, pos))
		return 0;
	len = atomic_load_explicit(&r->len, memory_order_relaxed);
	st = ctl_state(ctl);
	if (st != REC_RESERVED && st != REC_COMMITTED && st != REC_SKIP)
		return -EBADMSG;
	if (st != REC_SKIP && len > t->max_msg)
		return -EBADMSG;
	size = topic_rec_size(len);
	if (off + size > t->cap)
		return -EBADMSG;
	*ret_ctl = ctl;
	*ret_seq = atomic_load_explicit(&r->seq, memory_order_relaxed);
	*ret_len = len;
	return (int64_t)size;
}

/* The publishers' lock, as in a channel; a dead holder's step is finished on take-over. */
int ipcx__topic_lock(struct ipcx_topic *t, ipcx__deadline d, bool try_once);
void ipcx__topic_unlock(struct ipcx_topic *t);

/* True when the process that used slot on this topic is gone. */
bool ipcx__topic_slot_dead(const struct ipcx_topic *t, unsigned slot);

/* Makes the loan of a dead publisher at pos a SKIP record; true if it did. */
bool ipcx__topic_settle(struct ipcx_topic *t, uint64_t pos, uint64_t ctl);

void ipcx__topic_drop_held(struct ipcx_topic *t);

#endif
