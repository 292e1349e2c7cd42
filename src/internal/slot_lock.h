/* SPDX-License-Identifier: MIT */
/*
 * A lock in shared memory that is held for a few stores only, and that names its holder: the
 * word holds the holder's attachment slot plus one (0 is free). A holder that dies is found
 * by asking whether its slot's process is alive, and its lock is taken over; the taker then
 * finishes whatever the dead holder left half done (repair), which the protocol must make
 * possible by writing what it changes in an order that can be read back. Channels' senders
 * and topics' publishers take their room in the ring under one of these.
 */
#ifndef IPCX_INTERNAL_SLOT_LOCK_H
#define IPCX_INTERNAL_SLOT_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "obj.h"
#include "sys.h"

struct ipcx__slot_lock {
	_Atomic uint32_t *word;
	unsigned me;                 /* the caller's attachment slot */
	const struct ipcx__obj *obj; /* for removal */
	bool (*slot_dead)(void *ctx, unsigned slot);
	void (*repair)(void *ctx); /* called with the lock taken over from a dead holder */
	void *ctx;
};

/*
 * Takes the lock. Returns 0; -EAGAIN with try_once when the holder did not let go within a
 * short spin; -ETIMEDOUT at the deadline; -EIDRM when the object was removed. Spins (and
 * yields: on a machine with few CPUs the holder may be waiting for ours), then naps 1 ms at
 * a time if the holder keeps it long (stopped, or garbage naming a live process).
 */
int ipcx__slot_lock(const struct ipcx__slot_lock *l, ipcx__deadline d, bool try_once);

/* Gives the lock back: release, pairing with the acquire that takes it. */
void ipcx__slot_unlock(_Atomic uint32_t *word);

#endif
