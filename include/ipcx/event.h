/* SPDX-License-Identifier: MIT */
/*
 * event: a named wait queue. Processes (and threads) wait on it; ipcx_event_set wakes every
 * waiter and leaves the event set, so later waits return at once until ipcx_event_reset;
 * ipcx_event_pulse wakes the waiters waiting at that moment and leaves the event unset;
 * ipcx_event_notify(n) wakes at most n waiters and says how many it woke.
 *
 * Guarantees (the protocol is described in docs/event-mutex.md):
 *   - no wake-up is lost between a waiter's check and its sleep;
 *   - a signal does not end a wait early: the wait goes on until its original deadline;
 *   - notify counts exactly the live waiters it selected, and each of them returns 0 from
 *     its wait, even if its own timeout expires at the same moment. A waiter that died
 *     while waiting is never counted: the lock each waiter holds while it waits is released
 *     by the kernel at its death, and notify reclaims its place. The one exception is a
 *     waiter killed in the instant between notify's liveness check and its selection: it
 *     is counted, like a waiter killed just after it was woken;
 *   - removing the event (ipcx_unlink) wakes every waiter with -EIDRM.
 * Waiters are selected by notify in no fixed order (not FIFO); the scan starts at a
 * rotating place so that no waiter is passed over forever.
 *
 * Handles: every call is process-safe and thread-safe, except that ipcx_event_close must
 * not run while another thread uses the same handle.
 */
#ifndef IPCX_EVENT_H
#define IPCX_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_event ipcx_event;

/* How many waits may be in progress on one event at once, across all processes. */
#define IPCX_EVENT_MAX_WAITERS 1024

/*
 * Opens the event called name, creating it (unset) when flags has IPCX_CREATE; mode is the
 * file mode of a created event (0 means IPCX_DEFAULT_MODE). On success *ret_event is a new
 * handle, owned by the caller until ipcx_event_close.
 * Returns 1 when this call created the event, 0 when it opened an existing one, or the
 * errors listed in ipcx/obj.h (-EINVAL also for a NULL ret_event), -ENOMEM.
 * -EBADMSG: the object is corrupt (its body fails validation). Does not block.
 */
IPCX_API int ipcx_event_open(const char *name, unsigned flags, mode_t mode, ipcx_event **ret_event);

/* Closes a handle (NULL is ignored). Must not run during another call on the handle. */
IPCX_API void ipcx_event_close(ipcx_event *ev);

/*
 * Waits until the event is set, pulsed or notified (selecting this waiter), or the timeout.
 * Returns at once with 0 when the event is set.
 * Returns 0 when woken, -EAGAIN when timeout_ns is 0 and the event is not set, -ETIMEDOUT
 * when the timeout expired, -EIDRM when the event was removed (before or during the wait),
 * -EUSERS when IPCX_EVENT_MAX_WAITERS waits are in progress already, -EINVAL for a NULL
 * handle. Blocks (spinning first, as set by ipcx_event_set_wait); signals do not end it.
 */
IPCX_API int ipcx_event_wait(ipcx_event *ev, int64_t timeout_ns);

/*
 * Sets the event: wakes every waiter and makes later waits return at once, until
 * ipcx_event_reset, and queues each signal registration's signal (see
 * ipcx_event_signal_register). Setting a set event does nothing. Returns 0, or -EINVAL for
 * a NULL handle. Never blocks; makes no system call when nobody sleeps on the event and no
 * process registered for signals.
 */
IPCX_API int ipcx_event_set(ipcx_event *ev);

/* Makes the event unset. Returns 0, or -EINVAL. Never blocks; no system call. */
IPCX_API int ipcx_event_reset(ipcx_event *ev);

/*
 * Wakes every process waiting now and leaves the event unset (a set event is reset); a
 * wait that starts after the pulse blocks. Queues each signal registration's signal.
 * Returns 0, or -EINVAL. Never blocks; makes no system call when nobody sleeps on the event
 * and no process registered for signals.
 */
IPCX_API int ipcx_event_pulse(ipcx_event *ev);

/*
 * Wakes at most n of the waiters waiting now (never waits that start later) and returns
 * how many it woke (0 to n); each of them returns 0 from its wait. Waiters already woken
 * by a set or pulse that have not returned yet are not counted again. -EINVAL for a NULL
 * handle. Never blocks; one system call per woken waiter that was asleep, none when nobody
 * waits. Costs a scan of the waiter table (at most IPCX_EVENT_MAX_WAITERS entries, bounded
 * by the most waits ever in progress at once).
 */
IPCX_API int ipcx_event_notify(ipcx_event *ev, unsigned n);

/*
 * How this handle's waits wait: IPCX_WAIT_ADAPTIVE (the default), IPCX_WAIT_SPIN or
 * IPCX_WAIT_SLEEP (see ipcx/common.h). Returns 0, or -EINVAL for an unknown mode.
 */
IPCX_API int ipcx_event_set_wait(ipcx_event *ev, unsigned mode);

/* What ipcx_event_get_state reports: a snapshot, which may be stale at once. */
struct ipcx_event_state {
	bool set;         /* the event is set */
	bool removed;     /* the event was removed (ipcx_unlink) */
	unsigned waiters; /* waits in progress by live threads, not yet woken */
	unsigned dead;    /* waiter places still held by waiters that died (reclaimed by the
	                     next notify, or by a wait that finds the table full) */
};

/*
 * Reports the event's state. Returns 0, or -EINVAL. Never blocks; reads the waiter table
 * and changes nothing.
 */
IPCX_API int ipcx_event_get_state(ipcx_event *ev, struct ipcx_event_state *ret_state);

/* ---- Signals: the classic asynchronous notification (docs/event-mutex.md, "Signals") ---- */

/* How many signal registrations one event holds at once, across all processes. */
#define IPCX_EVENT_MAX_SIGNALS 64

/*
 * Asks for real-time signal signo (SIGRTMIN..SIGRTMAX) to be queued to the calling process
 * every time any process sets the event (ipcx_event_set on an unset event) or pulses it
 * (ipcx_event_pulse). The signal arrives as from sigqueue(3): si_code SI_QUEUE, si_pid and
 * si_uid of the setter, and si_value.sival_ptr == value, a payload the caller chooses to tell
 * its events apart (a pointer, or an integer tag passed as (void *)(intptr_t)tag). Each set
 * queues one signal; a set of a set event, reset, notify and removal send none.
 *
 * Handle or block signo before registering: a real-time signal's default action ends the
 * process. To take the signals synchronously, block signo in every thread and use
 * sigwaitinfo, sigtimedwait or signalfd.
 *
 * One registration per handle: registering again changes its signal and value. It lasts
 * until ipcx_event_signal_unregister, ipcx_event_close or the process's death (after which
 * its place is freed by the next set or pulse). exec does not end it (the process lives on)
 * but ends delivery: the new program does not map the event, so setters skip it (counted as
 * unverified) until the process dies; unregister before exec to free the place. A forked
 * child does not inherit it: in the child the copied handle has no registration (closing it
 * leaves the parent's alone), and the child may register its own through it.
 *
 * Only a live registered process receives the signal, never a process that took a dead
 * registrant's pid; only a process that the setter can show, through /proc/PID/maps, to
 * have this event mapped shared and writable (so a registration forged by a peer with
 * write access cannot aim a setter at an outsider); and only when the kernel lets the
 * setter signal it (kill(2)'s rules). Reading another process's maps needs the same user
 * and a dumpable process (a process that changed its uids is not dumpable unless it calls
 * prctl(PR_SET_DUMPABLE, 1)), or CAP_SYS_PTRACE. A set or pulse never fails because of
 * signals: it returns 0 whether each one was queued, refused (EPERM), not shown to take
 * part, or dropped; ipcx_event_signal_stats tells the setter which.
 *
 * Returns 0; -EINVAL for a NULL handle or a signo outside SIGRTMIN..SIGRTMAX; -ENOSPC when
 * IPCX_EVENT_MAX_SIGNALS live registrations exist already; -EIDRM when the event was
 * removed. Does not block; thread-safe (registrations through one handle replace each
 * other).
 */
IPCX_API int ipcx_event_signal_register(ipcx_event *ev, int signo, void *value);

/*
 * Ends this handle's registration. A set or pulse running at the same moment may still
 * queue one last signal, so keep the signal handled or blocked until it is drained.
 * Returns 0, -ENOENT when the handle has no registration in this process, -EINVAL for a
 * NULL handle. Does not block; thread-safe.
 */
IPCX_API int ipcx_event_signal_unregister(ipcx_event *ev);

/* What ipcx_event_signal_stats reports. */
struct ipcx_event_signal_stats {
	unsigned registered; /* registrations in the event now, of live or dead processes */
	unsigned dead;       /* of those, registrations of processes that have died */
	/* What this handle's set and pulse calls did with the signals since it was opened (a
	 * forked child's copy starts from its parent's counts): */
	uint64_t sent;    /* signals queued */
	uint64_t denied;  /* refused by the kernel: no permission to signal the registrant */
	uint64_t gone;    /* registrations of dead processes found and freed */
	uint64_t dropped; /* not queued for another reason (the registrant's queue was full) */
	/* not sent: the process named could not be shown to have the event mapped (it has
	 * not, so the entry is forged or its program was replaced by exec; or this process
	 * may not read its /proc/PID/maps) */
	uint64_t unverified;
};

/*
 * Reports the event's registrations and this handle's counts. Returns 0, or -EINVAL for a
 * NULL argument. Does not block; reads /proc once per registration to tell the dead.
 */
IPCX_API int ipcx_event_signal_stats(ipcx_event *ev, struct ipcx_event_signal_stats *ret_stats);

#ifdef __cplusplus
}
#endif

#endif
