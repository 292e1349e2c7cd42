/* SPDX-License-Identifier: MIT */
/*
 * What a kind gives wait-sets and descriptors (waitset.c) for one of its handles: the
 * futex word a waiter of the handle sleeps on, the count of that word's sleepers (which a
 * waker reads to skip its system call, and whose upper part counts descriptor watchers),
 * and a cheap check of the condition.
 *
 * The protocol, common to every kind: the waiter registers in sleepers (seq_cst), reads
 * word, then checks ready(); a waker makes the condition true, issues a full fence, reads
 * sleepers and, when it is not zero, changes word (if it did not already) and wakes it.
 * Either the check sees the change or the waker sees the registration.
 */
#ifndef IPCX_INTERNAL_SOURCE_H
#define IPCX_INTERNAL_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipcx/waitset.h>

#include "obj.h"

struct ipcx__source {
	struct ipcx__obj *obj;
	_Atomic uint32_t *word;
	_Atomic uint32_t *sleepers; /* always word + 1 (internal/watch.h) */
	/* word is woken with ipcx__wake_all: a sleeper must mark it (ipcx__sleep_mark) */
	bool marked;
	/*
	 * 1 when the condition holds, 0 when not, -EIDRM when the object was removed. snap is
	 * the member's memory (an event's generation, a region's last-seen version); with
	 * consume, a condition that is an edge (a pulse, a new version) is taken: snap moves
	 * on. ops/nops: a semset member's operation. Never blocks (a semset takes its lock).
	 */
	int (*ready)(void *h, uint64_t *snap, const struct ipcx_sembuf *ops, size_t nops,
	             bool consume);
	uint64_t snap; /* the initial snap */
	/*
	 * Optional (NULL when the kind has no such case): stuck says the condition may be held
	 * up by a peer that died in the middle of a step (a channel's record reserved by a dead
	 * sender, a topic's loan by a dead publisher), and recover finishes that step for it
	 * (reading /proc: the caller paces it, as a blocked receive does, every 10 ms).
	 */
	bool (*stuck)(void *h);
	void (*recover)(void *h);
};

void ipcx__event_source(ipcx_event *ev, struct ipcx__source *ret);
void ipcx__region_source(ipcx_region *r, uint64_t last_seen, struct ipcx__source *ret);
void ipcx__chan_source(ipcx_chan *c, struct ipcx__source *ret);
int ipcx__topic_source(ipcx_topic *t, struct ipcx__source *ret); /* -EINVAL: not subscribed */
void ipcx__semset_source(ipcx_semset *s, struct ipcx__source *ret);

#endif
