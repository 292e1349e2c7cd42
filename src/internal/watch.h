/* SPDX-License-Identifier: MIT */
/*
 * Descriptor watchers: how a futex word of an object makes a file descriptor in any process
 * readable. docs/waiting.md has the long version and why this mechanism was chosen.
 *
 * A watcher owns a FIFO in the namespace directory named from its process identity and a
 * nonce ("~ipcx-w.<identity>.<nonce>"), open read-write, and an entry in the watch table of
 * every object it watches (layout.h), naming its FIFO and the futex word it watches.
 * Arming an entry adds IPCX__WATCH_ONE to that word's sleepers count and marks the entry
 * ARMED, then re-checks the condition; a waker that changed the condition issues a full
 * fence, reads the count (as it does anyway to skip the futex call when nobody sleeps) and,
 * only when the watcher part is not zero, moves each ARMED entry of that word to FIRED and
 * writes its FIFO one byte. So a waker makes no system call unless a watcher is armed, and
 * one byte per arming at most.
 */
#ifndef IPCX_INTERNAL_WATCH_H
#define IPCX_INTERNAL_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "sys.h"

/* The longest watcher FIFO name: the prefix, 16 hex digits, ".", 8 hex digits. */
#define IPCX__WATCH_NAME_MAX IPCX__FIFO_NAME_MAX

/* Formats the FIFO name of (who, nonce); returns its length. */
int ipcx__watch_name(char *buf, uint64_t who, uint32_t nonce);

static inline struct ipcx__watch_table *ipcx__watch_table(struct ipcx__hdr *h)
{
	return (struct ipcx__watch_table *)((char *)h + IPCX__WATCH_OFFSET);
}

/* Tells the registry that [hdr, hdr + size) maps an object (obj.c, on open and close). */
void ipcx__watch_map_add(struct ipcx__hdr *hdr, uint64_t size);
void ipcx__watch_map_del(struct ipcx__hdr *hdr);

/*
 * Every watched futex word's sleepers count is the 32-bit word right after it (each kind's
 * layout asserts it), so that whoever moves an entry out of ARMED -- a waker, a remover, a
 * watcher reclaiming a dead one's entry -- can give back its IPCX__WATCH_ONE knowing only
 * the entry. Returns that count for an entry's word offset, or NULL when a scribbled offset
 * would lead outside the mapping of size bytes or off a word's alignment.
 */
_Atomic uint32_t *ipcx__watch_count(struct ipcx__hdr *hdr, uint64_t size, uint32_t off);

/*
 * The waker's half: the count after word has a watcher part; find the object word lies in
 * among this process's mappings, and fire the ARMED entries that watch it.
 */
void ipcx__watch_fire(_Atomic uint32_t *word);

/*
 * Fires the ARMED entries of the table in hdr (a mapping of size bytes) that watch the word
 * at offset off (every entry when all is set), writing each one's FIFO a byte and giving
 * back its part of the count. A FIFO that is gone with its process frees its entry.
 */
void ipcx__watch_fire_hdr(struct ipcx__hdr *hdr, uint64_t size, uint32_t off, bool all);

/*
 * Takes a free entry (or a dead process's) for (who, nonce) watching the word at off.
 * Returns its index, or -EUSERS when all IPCX__WATCH_MAX are taken by live processes.
 */
int ipcx__watch_claim(struct ipcx__hdr *hdr, uint64_t size, uint64_t who, uint32_t nonce,
                      uint32_t off);

/* True while entry i is still (who, nonce)'s: a peer may have scribbled over it. */
bool ipcx__watch_mine(struct ipcx__hdr *hdr, int i, uint64_t who, uint32_t nonce);

/*
 * Arms entry i (the caller re-checks its condition afterwards: the full fence that pairs
 * with the waker's is issued here). Returns true when it was not armed before.
 */
bool ipcx__watch_arm(struct ipcx__hdr *hdr, int i, _Atomic uint32_t *sleepers);

/* Disarms entry i and gives it back. */
void ipcx__watch_release(struct ipcx__hdr *hdr, int i, _Atomic uint32_t *sleepers);

#endif
