/* SPDX-License-Identifier: MIT */
/*
 * topic: publish/subscribe in shared memory. Any number of publishers; every subscriber
 * sees every message, in one order that all subscribers share (the order in which
 * publishers reserved them), from the point where it subscribed.
 *
 * Two modes, chosen at creation:
 *   - lossy (the default): publishers never wait for subscribers. The buffer keeps the
 *     newest messages; a subscriber that falls a whole buffer behind is told how many
 *     messages it missed and goes on from the oldest message still kept. A publisher's
 *     cost per message does not depend on the number of subscribers: it never reads or
 *     writes their state.
 *   - reliable (IPCX_TOPIC_RELIABLE): a publisher waits (within its timeout) while the
 *     slowest live subscriber is a whole buffer behind. A subscriber whose process died is
 *     detected (on the publisher's slow path) and dropped, so it never blocks publishers.
 *
 * Zero-copy: a publisher may loan space in the buffer, write its message there and commit
 * it; a subscriber may peek at its next message in place and release it.
 *
 * Handles: one thread at a time per handle; every call is process-safe. A handle is a
 * publisher, a subscriber (after ipcx_topic_subscribe), or both; it holds at most one loan
 * and one peeked message at a time. A handle that subscribed takes a subscriber slot (one
 * per attached handle, IPCX_MAX_ATTACH in all) until it is closed.
 *
 * Crashes: a publisher that dies holding a loan leaves no trace of its message; other
 * publishers go on. A subscriber that dies leaves nothing to clean up but, in reliable
 * mode, its slot, which publishers drop once they find its process dead.
 *
 * A corrupt topic (a peer scribbled over its memory) never makes these calls crash, touch
 * memory outside the topic, or spin forever; they may return -EBADMSG or garbled data.
 * Blocking calls return -EIDRM once the topic was removed (ipcx_unlink).
 */
#ifndef IPCX_TOPIC_H
#define IPCX_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_topic ipcx_topic;

/* Creation flags (struct ipcx_topic_attr.flags). */
#define IPCX_TOPIC_RELIABLE 0x1u

/* Subscription flags. */
#define IPCX_TOPIC_FROM_OLDEST 0x1u /* start at the oldest message kept, not the newest */

struct ipcx_topic_attr {
	uint64_t capacity; /* bytes of buffer (0: 1 MiB); rounded up to a power of two that
	                      holds at least one largest message; each message takes its length
	                      plus a 32-byte header, rounded up to 32 bytes */
	uint64_t max_msg;  /* the largest message (0: 64 KiB, at most a quarter of capacity) */
	unsigned flags;    /* IPCX_TOPIC_RELIABLE */
};

/*
 * Opens (or with IPCX_CREATE creates) the topic called name; attr may be NULL. Returns 1
 * when created, 0 when opened; -EINVAL (bad attributes or flags), -EFBIG, and the errors of
 * ipcx/obj.h (-EBADMSG for a corrupt topic). *ret_topic is owned by the caller.
 */
IPCX_API int ipcx_topic_open(const char *name, unsigned flags, mode_t mode,
                             const struct ipcx_topic_attr *attr, ipcx_topic **ret_topic);

/* Closes a handle: aborts its loan, releases its peeked message, ends its subscription.
 * Accepts NULL. */
IPCX_API void ipcx_topic_close(ipcx_topic *t);

/* IPCX_WAIT_ADAPTIVE (default), _SPIN or _SLEEP for this handle. 0 or -EINVAL. */
IPCX_API int ipcx_topic_set_wait(ipcx_topic *t, unsigned mode);

IPCX_API uint64_t ipcx_topic_max_msg(const ipcx_topic *t);
IPCX_API uint64_t ipcx_topic_capacity(const ipcx_topic *t);
IPCX_API bool ipcx_topic_reliable(const ipcx_topic *t);

/*
 * Publishes len bytes (copied). Lossy topics never wait for subscribers (only, briefly,
 * for another publisher's loan that the buffer has come round to); reliable ones wait
 * while the slowest live subscriber is a buffer behind, for at most timeout_ns. Returns 0,
 * -EMSGSIZE, -EAGAIN, -ETIMEDOUT, -EBUSY (this handle holds a loan), -EIDRM, -EBADMSG,
 * -EINVAL.
 */
IPCX_API int ipcx_topic_publish(ipcx_topic *t, const void *msg, size_t len, int64_t timeout_ns);

/*
 * Zero-copy publish: loans room for len bytes in the buffer (*ret_ptr, 32-byte aligned),
 * waiting as publish does. Subscribers see nothing before ipcx_topic_commit; the message
 * takes its place in the order at the loan. Errors as ipcx_topic_publish.
 */
IPCX_API int ipcx_topic_loan(ipcx_topic *t, size_t len, int64_t timeout_ns, void **ret_ptr);
IPCX_API int ipcx_topic_commit(ipcx_topic *t); /* 0, or -EINVAL without a loan */
IPCX_API int ipcx_topic_abort(ipcx_topic *t);  /* 0, or -EINVAL without a loan */

/*
 * Subscribes this handle: its first message is the newest one published so far (or the
 * next one, if none was), or with IPCX_TOPIC_FROM_OLDEST the oldest one the buffer still
 * holds. Returns 0, -EALREADY (already subscribed), -EINVAL (flags), -EIDRM, -EBADMSG, or
 * -ETIMEDOUT when a dead publisher's state could not be settled.
 */
IPCX_API int ipcx_topic_subscribe(ipcx_topic *t, unsigned flags);

/*
 * Receives this subscriber's next message into buf, waiting for at most timeout_ns.
 * Returns its length, with *ret_missed (may be NULL) set to the number of messages this
 * subscriber missed just before it (lossy topics only; 0 otherwise). -EMSGSIZE when the
 * message is longer than cap (it stays next); -EAGAIN, -ETIMEDOUT, -EIDRM, -EBADMSG,
 * -EINVAL (not subscribed), -EBUSY (a message is peeked).
 */
IPCX_API ssize_t ipcx_topic_recv(ipcx_topic *t, void *buf, size_t cap, int64_t timeout_ns,
                                 uint64_t *ret_missed);

/*
 * Zero-copy receive: sets *ret_ptr and *ret_len to this subscriber's next message, in
 * place, and *ret_missed as ipcx_topic_recv does. In a reliable topic the message stays
 * intact until ipcx_topic_release; in a lossy one a publisher may overwrite it meanwhile,
 * which release then reports. Errors as ipcx_topic_recv.
 */
IPCX_API int ipcx_topic_peek(ipcx_topic *t, int64_t timeout_ns, const void **ret_ptr,
                             size_t *ret_len, uint64_t *ret_missed);

/* Moves past the peeked message. Returns 0; -ESTALE when (lossy topics) the message was
 * overwritten while peeked, so what was read from it must be thrown away (the next call
 * reports it as missed); -EINVAL when nothing is peeked. */
IPCX_API int ipcx_topic_release(ipcx_topic *t);

/* One subscriber, as seen by ipcx_topic_stats. */
struct ipcx_topic_sub {
	pid_t pid;
	bool alive;
	uint64_t lag; /* messages published that it has not read yet */
};

struct ipcx_topic_stats {
	uint64_t capacity, max_msg;
	bool reliable;
	uint64_t published; /* messages published since creation */
	uint64_t retained;  /* messages the buffer holds */
	uint64_t bytes_used;
	uint32_t subscribers;         /* live subscribers */
	uint64_t dropped_subscribers; /* dead subscribers dropped by publishers */
};

/*
 * Fills *ret_stats and up to max entries of subs (may be NULL), and returns the number of
 * subscribers (live or not yet dropped), or -EBADMSG. Reads /proc: not for the hot path.
 */
IPCX_API int ipcx_topic_stats(ipcx_topic *t, struct ipcx_topic_stats *ret_stats,
                              struct ipcx_topic_sub *subs, size_t max);

#ifdef __cplusplus
}
#endif

#endif
