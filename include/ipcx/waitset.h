/* SPDX-License-Identifier: MIT */
/*
 * Waiting the way applications wait: on several objects at once (a wait-set), and in
 * epoll/poll/select loops next to sockets (a pollable file descriptor per handle or per
 * wait-set). docs/waiting.md has the design, the guarantees and the measurements.
 *
 * A wait-set holds members, each an object handle with a condition and a cookie:
 *   event   ready when the event is set, or when it was pulsed or set since the wait-set
 *           last reported it (or since it was added);
 *   semset  ready when a given operation (a list of struct ipcx_sembuf) would succeed now;
 *           it is not performed: call ipcx_semset_op with timeout 0 to take it;
 *   chan    ready when a receive would succeed now (a message is there to take);
 *   topic   (a subscribed handle) ready when a message is available or some were missed;
 *   region  ready when the published version differs from the member's last-seen value;
 *           when the wait-set reports it, the last-seen value becomes the version reported.
 * A member whose object was removed (ipcx_unlink) is reported with status -EIDRM, as
 * every blocking call on it would return; it stays reported until it is taken out.
 *
 * Readiness is a snapshot: another process may take the message or the semaphores between
 * the report and the caller's try, which then returns -EAGAIN. ipcx_event_notify selects
 * only waiters in ipcx_event_wait; wait-sets and descriptors see set and pulse.
 *
 * Blocking waits sleep with futex_waitv on the members' futex words (Linux 5.16 and later)
 * after a bounded spin, and are woken like any other waiter: no wake-up is lost between the
 * check and the sleep, and several members that become ready together are all reported.
 * Wakers make no system call unless someone sleeps. A wait-set of more than
 * IPCX_WAITSET_MAX_FUTEX members, or on an older kernel, sleeps in poll() on its descriptor
 * instead (the mechanism below).
 *
 * Descriptors. ipcx_waitset_fd, and ipcx_<kind>_fd for a single handle, give a descriptor
 * that becomes readable when the condition holds, once armed. It is a FIFO in the namespace
 * directory, named "~ipcx-w.<process identity>.<n>" (no object name can start with '~');
 * the object's header records it in a table of at most IPCX_WAITSET_MAX_WATCHERS entries
 * per object, and a process that makes the condition true (a send, a set, a commit ...)
 * writes it one byte, but only when an armed watcher is registered: with none, the waker
 * makes no system call (it reads the same count it reads anyway). A FIFO rather than a
 * Unix datagram socket because its wake-up is 5-7 us cheaper here (docs/waiting.md).
 * Rules:
 *   - creating the descriptor arms it, and if the condition holds already it is readable
 *     at once;
 *   - the descriptor stays readable until re-armed. Re-arming (ipcx_waitset_wait, any
 *     timeout, when it returns -EAGAIN or -ETIMEDOUT; ipcx_<kind>_fd_rearm when it returns
 *     0) drains it and arms it again. A re-arm that finds the condition true reports it (a
 *     count, or 1) instead: act on it, then re-arm again. So the loop is: wait for
 *     readable, do the work until the try fails with -EAGAIN, re-arm until it returns 0;
 *   - it may be readable spuriously (a condition that went away, another receiver that
 *     was faster, a byte from some other process: the FIFO is writable by all); it never stays
 *     unreadable while the condition holds after a re-arm returned 0;
 *   - removal of a member's object makes it readable, and re-arming reports -EIDRM;
 *   - it belongs to the handle or wait-set: closing that closes it. Do not close it
 *     yourself. It is close-on-exec; a forked child's copy is not armed for the child (the
 *     entries name the parent): in a child, ipcx_<kind>_fd makes a new one,
 *     and a wait-set created in the parent fails with -ECHILD;
 *   - a watcher process that dies leaves entries, fired at most once more each, that the
 *     next watcher that needs an entry reclaims, and its FIFO, which ipcx_gc removes;
 *   - a channel message hidden behind a record of a sender that died (a topic's: behind a
 *     dead publisher's loan), or a semaphore held by a dead process with UNDO, is found by
 *     a wait-set within 10 ms, as by a blocked call, but by a descriptor only at its next
 *     re-arm (any later send or operation makes it readable for that);
 *   - processes must share the namespace directory (as they must to share objects).
 *
 * Handles: a wait-set is used by one thread at a time (it is process-local state); its
 * member handles must stay open while they are members. ipcx_<kind>_fd and
 * ipcx_<kind>_fd_rearm on one handle must not run in two threads at once.
 */
#ifndef IPCX_WAITSET_H
#define IPCX_WAITSET_H

#include <stddef.h>
#include <stdint.h>

#include <ipcx/common.h>
#include <ipcx/chan.h>
#include <ipcx/event.h>
#include <ipcx/region.h>
#include <ipcx/sem.h>
#include <ipcx/topic.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_waitset ipcx_waitset;

/* The most members of one wait-set. */
#define IPCX_WAITSET_MAX 1024
/* Up to this many members a blocking wait sleeps in futex_waitv (its limit is 128 words). */
#define IPCX_WAITSET_MAX_FUTEX 128
/* The most descriptor watchers (armed members of wait-sets with a descriptor) per object. */
#define IPCX_WAITSET_MAX_WATCHERS 64

/* What ipcx_waitset_wait reports for each ready member. */
struct ipcx_waitset_ready {
	void *cookie;   /* the member's cookie */
	int status;     /* 0: ready; -EIDRM: its object was removed */
	unsigned index; /* the member's position, in the order of adding (see remove) */
};

/*
 * Creates an empty wait-set. Returns 0 with *ret_ws set (owned by the caller until
 * ipcx_waitset_destroy), -EINVAL for a NULL ret_ws, -ENOMEM. Does not block.
 */
IPCX_API int ipcx_waitset_create(ipcx_waitset **ret_ws);

/* Destroys a wait-set and closes its descriptor (NULL is ignored). Does not close members. */
IPCX_API void ipcx_waitset_destroy(ipcx_waitset *ws);

/*
 * Adds a member. Each returns the member's index (>= 0), or
 *   -EINVAL  NULL ws or handle (or ops), a topic handle that is not subscribed;
 *   -E2BIG   the wait-set has IPCX_WAITSET_MAX members;
 *   -EUSERS  the wait-set has a descriptor and the object's watcher table is full;
 *   -ECHILD  the wait-set was created by another process (the parent of a fork);
 *   -ENOMEM;
 * and for ipcx_waitset_add_semset what ipcx_semset_op returns for a bad operation (-E2BIG,
 * -EFBIG, -EINVAL); the operation is copied. The same handle may be added more than once
 * (with different conditions). Does not block.
 */
IPCX_API int ipcx_waitset_add_event(ipcx_waitset *ws, ipcx_event *ev, void *cookie);
IPCX_API int ipcx_waitset_add_semset(ipcx_waitset *ws, ipcx_semset *s,
                                     const struct ipcx_sembuf *ops, size_t nops, void *cookie);
IPCX_API int ipcx_waitset_add_chan(ipcx_waitset *ws, ipcx_chan *c, void *cookie);
IPCX_API int ipcx_waitset_add_topic(ipcx_waitset *ws, ipcx_topic *t, void *cookie);
IPCX_API int ipcx_waitset_add_region(ipcx_waitset *ws, ipcx_region *r, uint64_t last_seen,
                                     void *cookie);

/*
 * Takes out every member on the given handle (any kind). Members after them move down, so
 * their indexes change. Returns how many were taken out (>= 1), -ENOENT when none, -EINVAL.
 */
IPCX_API int ipcx_waitset_remove(ipcx_waitset *ws, const void *handle);

/* The number of members, or -EINVAL. */
IPCX_API int ipcx_waitset_size(const ipcx_waitset *ws);

/*
 * Waits until at least one member is ready, or the timeout (see ipcx/common.h), and writes
 * up to cap ready members to ret (in member order; a later call reports the others).
 * Returns the number written (>= 1);
 *   -EAGAIN    timeout_ns was 0 and no member is ready;
 *   -ETIMEDOUT the timeout expired;
 *   -EINVAL    NULL ws or ret, cap 0, an empty wait-set;
 *   -ECHILD    the wait-set was created by another process (the parent of a fork);
 *   -EUSERS    a wait that needs the descriptor (more than IPCX_WAITSET_MAX_FUTEX members,
 *              or no futex_waitv) found an object's watcher table full;
 *   or the -errno of making the descriptor.
 * With a descriptor, a return of -EAGAIN or -ETIMEDOUT leaves it drained and armed.
 * Blocks (spinning first, as set by ipcx_waitset_set_wait); signals do not end the wait.
 */
IPCX_API int ipcx_waitset_wait(ipcx_waitset *ws, struct ipcx_waitset_ready *ret, size_t cap,
                               int64_t timeout_ns);

/*
 * The wait-set's descriptor, made (and armed) on the first call: readable when a member is
 * ready (see the rules at the top). Returns the descriptor, -EINVAL, -ECHILD, -EUSERS (an
 * object's watcher table is full), or the -errno of making the FIFO (-EMFILE, -EACCES ...).
 */
IPCX_API int ipcx_waitset_fd(ipcx_waitset *ws);

/* How blocking waits wait: IPCX_WAIT_ADAPTIVE (default), _SPIN or _SLEEP. 0 or -EINVAL. */
IPCX_API int ipcx_waitset_set_wait(ipcx_waitset *ws, unsigned mode);

/*
 * A descriptor for one handle, readable when the handle's call would succeed now:
 *   ipcx_event_fd       ipcx_event_wait (the event is set, or was pulsed since re-armed);
 *   ipcx_semset_fd      ipcx_semset_op with these ops (copied; a later call replaces them);
 *   ipcx_chan_fd        ipcx_chan_recv;
 *   ipcx_topic_fd       ipcx_topic_recv on a subscribed handle;
 *   ipcx_region_fd      ipcx_region_wait_change with the version when the descriptor was
 *                       made, then with the last_seen given to ipcx_region_fd_rearm.
 * Made and armed on the first call; later calls return the same descriptor. Returns it, or
 * -EINVAL, -EUSERS (the object's watcher table is full), -EIDRM, the -errno of making the
 * FIFO.
 * The descriptor is closed by the handle's close.
 *
 * ipcx_<kind>_fd_rearm drains the descriptor and arms it again, unless the condition holds:
 * returns 0 when armed (the descriptor will become readable), 1 when the condition holds now
 * (act, then re-arm again), -EIDRM when the object was removed, -EINVAL when the handle has
 * no descriptor. Does not block.
 */
IPCX_API int ipcx_event_fd(ipcx_event *ev);
IPCX_API int ipcx_event_fd_rearm(ipcx_event *ev);
IPCX_API int ipcx_semset_fd(ipcx_semset *s, const struct ipcx_sembuf *ops, size_t nops);
IPCX_API int ipcx_semset_fd_rearm(ipcx_semset *s);
IPCX_API int ipcx_chan_fd(ipcx_chan *c);
IPCX_API int ipcx_chan_fd_rearm(ipcx_chan *c);
IPCX_API int ipcx_topic_fd(ipcx_topic *t);
IPCX_API int ipcx_topic_fd_rearm(ipcx_topic *t);
IPCX_API int ipcx_region_fd(ipcx_region *r);
IPCX_API int ipcx_region_fd_rearm(ipcx_region *r, uint64_t last_seen);

#ifdef __cplusplus
}
#endif

#endif
