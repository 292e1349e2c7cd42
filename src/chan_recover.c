/* SPDX-License-Identifier: MIT */
/*
 * Channels: settling what dead processes left behind. Runs only on slow paths (a wait that
 * has been stuck for CHAN_CHECK_NS, an open that takes over a dead process's slot), since
 * deciding that a process is dead reads /proc.
 *
 *   - the senders' lock held by a dead process: taken over and its step finished;
 *   - a record RESERVED by a dead sender: made SKIP (never delivered; its space reclaimed);
 *   - a record held by a dead receiver: made ORPHAN, to be delivered again (at least once
 *     delivery), and counted in orphans so receivers look for it. A record is held when it
 *     is CLAIMED (owner in the control word), or COMMITTED below consume (its holder is
 *     the receiver whose slot announces its position; see claim() in chan_recv.c). Such a
 *     record is orphaned only when no live slot announces it: a live receiver that lost
 *     the race for it may still announce it for a moment, and then we wait.
 *
 * Every change is a CAS from the exact control word seen, so a record that moved on
 * meanwhile is left alone, and two recoverers never both act on one record.
 */
#include <errno.h>

#include "internal/chan.h"
#include "internal/sys.h"

enum { UNKNOWN = 0, ALIVE = 1, DEAD = 2 };

static bool dead(struct ipcx_chan *c, uint8_t *known, unsigned slot, unsigned dead_slot)
{
	if (slot == dead_slot)
		return true;
	if (known[slot] == UNKNOWN)
		known[slot] = ipcx__chan_slot_dead(c, slot) ? DEAD : ALIVE;
	return known[slot] == DEAD;
}

/* True when no live slot announces pos (see claim() in chan_recv.c). */
static bool holder_dead(struct ipcx_chan *c, uint8_t *known, uint64_t pos, unsigned dead_slot)
{
	for (unsigned i = 0; i < IPCX_MAX_ATTACH; i++) {
		/* Relaxed: ordered by the acquire load of consume in the caller. */
		if (atomic_load_explicit(&c->b->slots[i].claim, memory_order_relaxed) != pos + 1)
			continue;
		if (!dead(c, known, i, dead_slot))
			return false;
	}
	return true;
}

static bool recover_lock(struct ipcx_chan *c, uint8_t *known, unsigned dead_slot)
{
	uint32_t v = atomic_load_explicit(&c->b->lock, memory_order_relaxed);

	if (v == 0 || (v <= IPCX_MAX_ATTACH && !dead(c, known, v - 1, dead_slot)))
		return false;
	/* Acquire pairs with the release in ipcx__chan_unlock, as in ipcx__chan_lock. */
	if (!atomic_compare_exchange_strong_explicit(&c->b->lock, &v, c->me + 1,
	                                             memory_order_acquire, memory_order_relaxed))
		return false;
	ipcx__chan_repair_reserve(c);
	ipcx__chan_unlock(c);
	return true;
}

bool ipcx__chan_recover(struct ipcx_chan *c, unsigned dead_slot)
{
	struct chan_body *b = c->b;
	uint8_t known[IPCX_MAX_ATTACH] = {0};
	uint64_t pos, consume, reserve, ctl, limit = c->cap / CHAN_REC_HDR + 1;
	bool changed;
	uint32_t len;
	unsigned st, to;
	int64_t n;

	c->next_check_ns = ipcx__now_ns() + CHAN_CHECK_NS;
	known[c->me] = c->me == dead_slot ? DEAD : ALIVE;
	changed = recover_lock(c, known, dead_slot);

	/* Acquire pairs with the release stores of reserve: headers below it are written. */
	pos = atomic_load_explicit(&b->head, memory_order_acquire);
	/* Acquire pairs with the receivers' release CAS of consume: their announcements of
	 * the records below it are visible. */
	consume = atomic_load_explicit(&b->consume, memory_order_acquire);
	reserve = atomic_load_explicit(&b->reserve, memory_order_acquire);
	for (; pos < reserve && limit--; pos += (uint64_t)n) {
		n = ipcx__chan_read_rec(c, pos, &ctl, &len);
		if (n <= 0)
			break;
		st = ctl_state(ctl);
		if (st == REC_COMMITTED && pos < consume) {
			if (!holder_dead(c, known, pos, dead_slot))
				continue;
		} else if ((st != REC_RESERVED && st != REC_CLAIMED) ||
		           !dead(c, known, ctl_slot(ctl), dead_slot)) {
			continue;
		}
		/* Freed meanwhile (released at head by its live holder)? Then it is not ours to
		 * touch; the CAS below would fail anyway once the space is written again. */
		if (pos < atomic_load_explicit(&b->head, memory_order_acquire))
			continue;
		to = st == REC_RESERVED ? REC_SKIP : REC_ORPHAN;
		/* Release: an ORPHAN is published before the orphans count that announces it
		 * (paired with the acquire load of orphans in claim). */
		if (!atomic_compare_exchange_strong_explicit(
		            &rec_at(c, pos)->ctl, &ctl, rec_ctl(pos, ctl_slot(ctl), to),
		            memory_order_release, memory_order_relaxed))
			continue;
		changed = true;
		if (to == REC_ORPHAN)
			atomic_fetch_add_explicit(&b->orphans, 1, memory_order_release);
		else {
			atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
			ipcx__chan_loose(c);
		}
	}
	if (changed) {
		ipcx__wake_bump(&b->data_word, &b->data_sleepers, INT32_MAX);
		ipcx__chan_reclaim(c, false);
	}
	return changed;
}
