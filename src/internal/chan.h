/* SPDX-License-Identifier: MIT */
/*
 * The shared-memory layout of a channel and the helpers its modules share. See
 * docs/chan-topic.md for the protocol; the short version:
 *
 * The body is a header, a table of per-attachment state, and a ring of bytes. Messages are
 * records (a 16-byte header and the payload, padded to 16 bytes) laid out one after the
 * other in the ring; a record never wraps (a SKIP record pads to the end of the ring). Three
 * 64-bit positions count bytes since creation and never wrap:
 *
 *   head <= consume <= reserve,  reserve - head <= capacity
 *
 * [head, consume) are records taken by receivers (or skipped) whose space is not reclaimed
 * yet; [consume, reserve) are records reserved or committed by senders and not yet taken.
 * Each record's control word carries a tag made from its own position, so a header left
 * over from an earlier lap of the ring is never mistaken for a current one.
 */
#ifndef IPCX_INTERNAL_CHAN_H
#define IPCX_INTERNAL_CHAN_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipcx/chan.h>

#include "obj.h"
#include "wait.h"

#define CHAN_MAGIC 0x314e414843584350ull /* "PCXCHAN1" */
#define CHAN_LINE 64
#define CHAN_REC_HDR 16u
#define CHAN_MIN_CAPACITY 4096ull
#define CHAN_MAX_CAPACITY (1ull << 40)

/* Record states, in the low 4 bits of the control word. */
enum {
	REC_RESERVED = 1,  /* a sender is writing it; owner = the sender's slot */
	REC_COMMITTED = 2, /* ready for a receiver at or after consume; below consume,
	                      held by the receiver whose slot claims its position */
	REC_CLAIMED = 3,   /* a receiver took it back from ORPHAN; owner = its slot */
	REC_DONE = 4,      /* received; space may be reclaimed */
	REC_SKIP = 5,      /* padding, an aborted or a dead sender's reservation */
	REC_ORPHAN = 6,    /* its receiver died: waiting to be delivered again */
};

/*
 * Control word: tag (position / 16 + 1, low 52 bits) << 12 | owner slot << 4 | state. The
 * tag identifies the lap: a stale header has the tag of an older position, and the zeroes
 * of a fresh ring match no position (hence the + 1).
 */
#define REC_TAG_BITS 52
static inline uint64_t rec_tag(uint64_t pos)
{
	return ((pos >> 4) + 1) & ((1ull << REC_TAG_BITS) - 1);
}
static inline uint64_t rec_ctl(uint64_t pos, unsigned slot, unsigned state)
{
	return rec_tag(pos) << 12 | (uint64_t)(slot & 0xff) << 4 | (state & 0xf);
}
static inline bool ctl_is(uint64_t ctl, uint64_t pos)
{
	return (ctl >> 12) == rec_tag(pos);
}
static inline unsigned ctl_state(uint64_t ctl)
{
	return (unsigned)(ctl & 0xf);
}
static inline unsigned ctl_slot(uint64_t ctl)
{
	return (unsigned)(ctl >> 4) & 0xff;
}

struct chan_rec {
	_Atomic uint64_t ctl;
	_Atomic uint32_t len; /* payload bytes; for SKIP the bytes the record spans minus 16 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct chan_rec) == CHAN_REC_HDR, "record header is 16 bytes");

/*
 * Per attachment slot (indexed like the object's slots), one cache line each: claim is
 * written on every receive, by this slot's receiver only.
 */
struct chan_slot {
	_Atomic uint64_t who;   /* the process using this slot on this channel, 0 when none */
	_Atomic uint64_t claim; /* position + 1 of the record this receiver is claiming or
	                           holds, 0 when none (see chan_recv.c) */
	_Atomic uint32_t roles; /* CHAN_ROLE_* bits, for stats */
	uint8_t pad[CHAN_LINE - 20];
};
_Static_assert(sizeof(struct chan_slot) == CHAN_LINE, "a slot per line");
#define CHAN_ROLE_SEND 1u
#define CHAN_ROLE_RECV 2u

struct chan_body {
	/* Constants, written by the creator. */
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;
	uint64_t max_msg;
	uint64_t data_offset;
	uint8_t pad0[CHAN_LINE - 40];

	/* Senders: the reservation lock (0 or slot + 1) and the reserve position. */
	_Atomic uint32_t lock;
	uint32_t pad1;
	_Atomic uint64_t reserve;
	uint8_t pad2[CHAN_LINE - 16];

	_Atomic uint64_t consume; /* receivers */
	uint8_t pad3[CHAN_LINE - 8];

	_Atomic uint64_t head; /* reclaimers */
	uint8_t pad4[CHAN_LINE - 8];

	/* Futex words: receivers sleep on data, senders on space. */
	_Atomic uint32_t data_word;
	_Atomic uint32_t data_sleepers;
	_Atomic uint32_t space_word;
	_Atomic uint32_t space_sleepers;
	uint8_t pad5[CHAN_LINE - 16];

	/* Rarely written. */
	_Atomic uint32_t orphans; /* ORPHAN records waiting for a receiver */
	_Atomic uint32_t loose;   /* a hint: DONE or SKIP records made that a reclaim
	                             walk may have to free (see ipcx_chan_release) */
	_Atomic uint64_t redelivered;
	_Atomic uint64_t dropped;
	uint8_t pad7[CHAN_LINE - 24];

	struct chan_slot slots[IPCX_MAX_ATTACH];
};
#define CHAN_DATA_OFFSET 20480u
_Static_assert(offsetof(struct chan_body, lock) == 64, "layout");
_Static_assert(offsetof(struct chan_body, consume) == 128, "layout");
_Static_assert(offsetof(struct chan_body, head) == 192, "layout");
_Static_assert(offsetof(struct chan_body, data_word) == 256, "layout");
_Static_assert(offsetof(struct chan_body, orphans) == 320, "layout");
_Static_assert(offsetof(struct chan_body, slots) == 384, "layout");
_Static_assert(sizeof(struct chan_body) <= CHAN_DATA_OFFSET, "body header fits");

/* A process's handle. */
struct ipcx_chan {
	struct ipcx__obj obj;
	struct chan_body *b;
	uint8_t *data;
	uint64_t cap, mask, max_msg; /* validated copies: never re-read from shared memory */
	unsigned me;                 /* our slot */
	struct ipcx__spin spin;
	uint64_t head_cache; /* a head we saw; the true head is never behind it */
	uint32_t roles;      /* roles we have set in our slot */
	/* The reservation and the peeked message this handle holds (len_* < 0: none). */
	uint64_t res_pos;
	int64_t res_len;
	uint64_t peek_pos;
	int64_t peek_len;
	int64_t next_check_ns; /* when a stuck wait may next look for dead peers */
};

extern const struct ipcx__kind ipcx__chan_kind;

/* The bytes a record with a payload of len takes. */
static inline uint64_t rec_size(uint64_t len)
{
	return (CHAN_REC_HDR + len + 15) & ~15ull;
}

static inline struct chan_rec *rec_at(const struct ipcx_chan *c, uint64_t pos)
{
	return (struct chan_rec *)(c->data + (pos & c->mask));
}

/*
 * Reads the header at pos, which must carry pos's tag, and bounds it: the record must lie
 * inside the ring, and a message no longer than max_msg. Returns the record's size with
 * *ret_ctl and *ret_len set, 0 when the header is not pos's (not written yet), or -EBADMSG.
 * The acquire load of ctl pairs with the release store that wrote it, so len is complete.
 * Inline: every receive reads a header through it.
 */
static inline int64_t ipcx__chan_read_rec(const struct ipcx_chan *c, uint64_t pos,
                                          uint64_t *ret_ctl, uint32_t *ret_len)
{
	struct chan_rec *r;
	uint64_t ctl, off = pos & c->mask, size;
	uint32_t len;
	unsigned st;

	if (pos & 15)
		return -EBADMSG;
	r = rec_at(c, pos);
	/* Pairs with the release store of the header by its writer: len is complete. */
	ctl = atomic_load_explicit(&r->ctl, memory_order_acquire);
	if (!ctl_is(ctl, pos))
		return 0;
	len = atomic_load_explicit(&r->len, memory_order_relaxed);
	st = ctl_state(ctl);
	if (st < REC_RESERVED || st > REC_ORPHAN)
		return -EBADMSG;
	if (st != REC_SKIP && len > c->max_msg)
		return -EBADMSG;
	size = rec_size(len);
	if (off + size > c->cap)
		return -EBADMSG;
	*ret_ctl = ctl;
	*ret_len = len;
	return (int64_t)size;
}

/* Moves consume past pos when the record there (of size) is no longer available. */
void ipcx__chan_help_consume(struct ipcx_chan *c, uint64_t pos, uint64_t size);

/* Notes that a DONE or SKIP record was made that only a reclaim walk frees. */
static inline void ipcx__chan_loose(struct ipcx_chan *c)
{
	/* Relaxed: a hint; the walk reads every record's state with acquire itself. */
	atomic_fetch_add_explicit(&c->b->loose, 1, memory_order_relaxed);
}

/* Reclaims released records at head; wakes senders if space was freed (by this call, or
 * by the caller: freed). */
void ipcx__chan_reclaim(struct ipcx_chan *c, bool freed);

/* Marks a role of this handle in its slot (for stats), once. */
void ipcx__chan_note_role_slow(struct ipcx_chan *c, uint32_t role);
static inline void ipcx__chan_note_role(struct ipcx_chan *c, uint32_t role)
{
	if (!(c->roles & role))
		ipcx__chan_note_role_slow(c, role);
}

/*
 * Looks for work left by dead processes: a reservation lock held by a dead sender, records
 * reserved by dead senders (made SKIP) and records claimed by dead receivers (made ORPHAN).
 * dead_slot, when < IPCX_MAX_ATTACH, is a slot known to be dead whatever its process looks
 * like. Reads /proc: only for stuck waits and opens. Returns true if it changed anything.
 */
bool ipcx__chan_recover(struct ipcx_chan *c, unsigned dead_slot);

/* True when the process that used slot on this channel is gone. */
bool ipcx__chan_slot_dead(const struct ipcx_chan *c, unsigned slot);

/* Waits for the waiting mode's sake in a stuck wait: at most this long between looks for
 * dead peers. */
#define CHAN_CHECK_NS 10000000ll

/* Aborts and releases what the handle holds (close). */
void ipcx__chan_drop_held(struct ipcx_chan *c);

/*
 * The reservation lock of the senders (chan_send.c). Taking it returns 0, -EAGAIN/-ETIMEDOUT
 * at the deadline, or -EIDRM. A holder that died is found and the lock taken over, after
 * its half-done step is finished (ipcx__chan_repair_reserve).
 */
int ipcx__chan_lock(struct ipcx_chan *c, ipcx__deadline d, bool try_once);
void ipcx__chan_unlock(struct ipcx_chan *c);
void ipcx__chan_repair_reserve(struct ipcx_chan *c);

/* The deadline of one slice of a stuck wait, and what a failed slice returns. */
ipcx__deadline ipcx__chan_slice(struct ipcx_chan *c, ipcx__deadline d, bool stuck);

#endif
