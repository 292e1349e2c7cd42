/* SPDX-License-Identifier: MIT */
/*
 * The signal registrations of an event (docs/event-mutex.md, "Signals"): a table in the
 * event's shared memory, one entry per registered handle, naming the process (pid + start
 * time), the real-time signal and the value to send it when the event is set or pulsed.
 */
#ifndef IPCX_INTERNAL_EVENT_SIGNAL_H
#define IPCX_INTERNAL_EVENT_SIGNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <ipcx/event.h>

#include "sys.h"

/*
 * One registration. who != 0 marks the entry as taken (a compare-and-swap from 0 claims
 * it); signo != 0 marks it complete. Writers change the words in an order a reader can check
 * (see event_signal.c); every word may also hold anything a hostile peer wrote.
 */
struct ipcx__evsig {
	_Atomic uint64_t who;   /* the registrant's identity (sys.h), 0 when free */
	_Atomic uint64_t value; /* passed through as si_value */
	_Atomic uint32_t signo; /* 0 while the entry is being filled or emptied */
	uint32_t pad0;
	/* Where the registrant maps the event: a hint that lets a setter check that with one
	 * query (sys/maps.c); never trusted. 0 in entries written before it existed. */
	_Atomic uint64_t addr;
};

_Static_assert(sizeof(struct ipcx__evsig) == 32, "layout");

/*
 * The table: entries plus the count of taken entries, which keeps set's check to one load;
 * and the event's file, which every process signalled must have mapped.
 */
struct ipcx__evsig_table {
	struct ipcx__evsig *e;   /* IPCX_EVENT_MAX_SIGNALS entries */
	_Atomic uint32_t *count; /* a hint from shared memory; only decides whether to scan */
	struct ipcx__file_id file;
	uint64_t addr; /* where this process maps the event */
};

/* What one handle's set and pulse calls did with the signals (public: ipcx/event.h). */
struct ipcx__evsig_counts {
	_Atomic uint64_t sent, denied, gone, dropped, unverified;
};

/*
 * Registers process self for signo/value, in entry *idx when *idx >= 0 and it is still
 * self's (an update in place), else in a free entry (reclaiming entries of dead processes
 * when none is free); *idx is then the entry used. Returns 0 or -ENOSPC.
 */
int ipcx__evsig_register(struct ipcx__evsig_table t, uint64_t self, int *idx, int signo,
                         uint64_t value);

/* Empties entry idx if it is still self's. */
void ipcx__evsig_unregister(struct ipcx__evsig_table t, uint64_t self, int idx);

/*
 * Sends every live registrant that has the event's file mapped its signal, reclaiming the
 * entries of dead ones; adds to c. Called by set and pulse when the count is not 0.
 */
void ipcx__evsig_fire(struct ipcx__evsig_table t, struct ipcx__evsig_counts *c);

/* Counts taken entries, and those of them whose process is dead. Changes nothing. */
void ipcx__evsig_census(struct ipcx__evsig_table t, unsigned *ret_registered, unsigned *ret_dead);

#endif
