/* SPDX-License-Identifier: MIT */
/*
 * chan: a message queue in shared memory. Any number of senders and receivers, in any
 * number of processes; each message is received by exactly one receiver (see "Delivery"
 * below for the one exception: a receiver that dies holding a message); messages from one
 * sender are received in the order it sent them. Messages are byte strings of 0 to max_msg
 * bytes.
 *
 * Zero-copy: a sender may reserve space in the channel, write its message there and commit
 * it; a receiver may peek at the oldest message in place and release it when done. Neither
 * path copies the message.
 *
 * Delivery: at least once. A message is delivered once, unless its receiver dies (its
 * process exits without releasing it: SIGKILL between peek and release, or inside recv);
 * such a message is handed again, whole, to another receiver ("redelivered", counted in
 * the stats). A redelivered message comes after messages its sender sent later. A message
 * whose sender dies before commit is never delivered, not even in part; its space is
 * reclaimed and other senders go on.
 *
 * Handles: a handle (ipcx_chan *) belongs to one thread at a time; use one handle per
 * thread, or lock around a shared one. Every function is process-safe: any number of
 * processes may use the channel at once. A handle holds at most one reservation and one
 * peeked message at a time.
 *
 * A corrupt channel (a peer scribbled over its shared memory) never makes these calls
 * crash, touch memory outside the channel, or spin forever; they may return -EBADMSG or
 * deliver garbled messages.
 *
 * Every call returns -EIDRM once the channel was removed with ipcx_unlink, except that a
 * message already peeked may still be released, and a reservation aborted.
 */
#ifndef IPCX_CHAN_H
#define IPCX_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipcx_chan ipcx_chan;

/* Defaults for a new channel when the creation attributes leave a field 0. */
#define IPCX_CHAN_DEFAULT_CAPACITY (1u << 20)
#define IPCX_CHAN_DEFAULT_MAX_MSG (64u << 10)
/* Limits: capacity is 4 KiB to 1 TiB; max_msg at most 1 GiB. */
#define IPCX_CHAN_MAX_MSG_LIMIT (1ull << 30)

/* Creation attributes (ignored when an existing channel is opened). */
struct ipcx_chan_attr {
	/* Bytes of message buffer (0: the default). Rounded up to a power of two and to hold
	 * at least one message of max_msg bytes. Each message takes its length plus a 16-byte
	 * header, rounded up to 16 bytes. */
	uint64_t capacity;
	uint64_t max_msg; /* the largest message, in bytes (0: the default) */
};

/*
 * Opens (or with IPCX_CREATE creates) the channel called name. attr may be NULL for the
 * defaults. mode is the permission of a created channel (0: IPCX_DEFAULT_MODE). On success
 * *ret_chan is a new handle, owned by the caller until ipcx_chan_close.
 * Returns 1 when the channel was created, 0 when an existing one was opened; -EINVAL (bad
 * attributes: max_msg over the limit), -EFBIG (capacity over the limit), and the errors of
 * ipcx/obj.h. Opening an existing channel checks its whole layout (-EBADMSG when corrupt).
 */
IPCX_API int ipcx_chan_open(const char *name, unsigned flags, mode_t mode,
                            const struct ipcx_chan_attr *attr, ipcx_chan **ret_chan);

/*
 * Closes a handle: an outstanding reservation is aborted and an outstanding peeked message
 * is released (it counts as received). Accepts NULL.
 */
IPCX_API void ipcx_chan_close(ipcx_chan *c);

/* The waiting mode of this handle: IPCX_WAIT_ADAPTIVE (default), _SPIN or _SLEEP.
 * Returns 0 or -EINVAL. */
IPCX_API int ipcx_chan_set_wait(ipcx_chan *c, unsigned mode);

/* The channel's largest message size, and its capacity in bytes (after rounding). */
IPCX_API uint64_t ipcx_chan_max_msg(const ipcx_chan *c);
IPCX_API uint64_t ipcx_chan_capacity(const ipcx_chan *c);

/*
 * Sends len bytes from msg (copied into the channel), waiting while the channel is full
 * for at most timeout_ns. Returns 0, -EMSGSIZE (len > max_msg), -EAGAIN (timeout 0 and no
 * room), -ETIMEDOUT, -EBUSY (this handle holds a reservation), -EIDRM, -EBADMSG (corrupt
 * channel), -EINVAL (msg NULL with len > 0).
 */
IPCX_API int ipcx_chan_send(ipcx_chan *c, const void *msg, size_t len, int64_t timeout_ns);

/*
 * Receives the oldest message into buf (cap bytes), waiting for one for at most timeout_ns.
 * Returns the message's length; -EMSGSIZE when it is longer than cap (the message stays
 * queued and the next call gets it again), -EAGAIN, -ETIMEDOUT, -EBUSY (this handle holds a
 * peeked message), -EIDRM, -EBADMSG, -EINVAL (buf NULL with cap > 0).
 */
IPCX_API ssize_t ipcx_chan_recv(ipcx_chan *c, void *buf, size_t cap, int64_t timeout_ns);

/*
 * Zero-copy send, step one: reserves room for a message of len bytes, waiting while the
 * channel is full for at most timeout_ns, and sets *ret_ptr to where the message goes (in
 * shared memory, 16-byte aligned). The caller writes the message there, then calls
 * ipcx_chan_commit (or ipcx_chan_abort). No receiver sees the message before the commit;
 * if the process dies first, the space is reclaimed. Messages from other senders committed
 * later wait behind an open reservation (a long reservation holds up receivers).
 * Returns 0 or the errors of ipcx_chan_send.
 */
IPCX_API int ipcx_chan_reserve(ipcx_chan *c, size_t len, int64_t timeout_ns, void **ret_ptr);

/* Publishes the reserved message. Returns 0, or -EINVAL without a reservation. Never
 * blocks. After the call the pointer must not be used. */
IPCX_API int ipcx_chan_commit(ipcx_chan *c);

/* Drops the reservation; no receiver ever sees it. Returns 0 or -EINVAL. */
IPCX_API int ipcx_chan_abort(ipcx_chan *c);

/*
 * Zero-copy receive, step one: takes the oldest message, waiting for one for at most
 * timeout_ns, and sets *ret_ptr and *ret_len to it, in place in shared memory. The message
 * is this handle's until ipcx_chan_release: no other receiver gets it (unless this process
 * dies first, see "Delivery"), and its space is not reused. Returns 0, -EAGAIN, -ETIMEDOUT,
 * -EBUSY (a message is already peeked), -EIDRM, -EBADMSG.
 */
IPCX_API int ipcx_chan_peek(ipcx_chan *c, int64_t timeout_ns, const void **ret_ptr,
                            size_t *ret_len);

/* Gives the peeked message back: it counts as received and its space is reused. Returns 0,
 * or -EINVAL when nothing is peeked. Never blocks. */
IPCX_API int ipcx_chan_release(ipcx_chan *c);

/* A snapshot of a channel's state (approximate while others use it). */
struct ipcx_chan_stats {
	uint64_t capacity; /* bytes of buffer */
	uint64_t max_msg;
	uint64_t depth;       /* messages committed and not yet taken by a receiver */
	uint64_t in_flight;   /* messages being written (reserved) or read (peeked) */
	uint64_t bytes_used;  /* buffer bytes not free, headers included */
	uint32_t senders;     /* live attached handles that have sent */
	uint32_t receivers;   /* live attached handles that have received */
	uint64_t redelivered; /* messages handed again after their receiver died */
	uint64_t dropped;     /* reservations of dead senders that were reclaimed */
};

/* Fills *ret_stats. Reads /proc for liveness: not for the hot path. Returns 0 or -EBADMSG. */
IPCX_API int ipcx_chan_stats(ipcx_chan *c, struct ipcx_chan_stats *ret_stats);

#ifdef __cplusplus
}
#endif

#endif
