/* SPDX-License-Identifier: MIT */
/*
 * ipcx's channels and topics.
 *
 * Round trips use two objects, one each way. 64-byte messages go through send/recv (one
 * copy in, one copy out, as a user of the copying API pays); the 1 MiB round trip and the
 * size sweep use the zero-copy calls and touch only the first cache line, since what they
 * measure is that moving a message costs the same whatever its size. The 1 MiB stream is
 * held to a fairer standard: the producer writes the whole payload into the reserved space
 * (as a pipe's writer copies it in) and the consumer reads every cache line of it in place.
 */
#include <errno.h>
#include <string.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"

#define BIG_MSG (4u << 20)  /* the sweep's largest size */
#define BIG_CAP (16u << 20) /* room for a few of them */

struct msg_local {
	ipcx_chan *chan[2]; /* [0] carries requests, [1] replies */
	ipcx_topic *topic[2];
	uint64_t credit; /* fan-out: messages a receive already accounted for */
};

/* ---- channels ---- */

static int chan_create(struct bench_env *e, int n, uint64_t max_msg, uint64_t cap)
{
	struct ipcx_chan_attr a = {.capacity = cap, .max_msg = max_msg};
	ipcx_chan *c;
	int r = bench_ipcx_dir(e);

	for (int i = 0; r == 0 && i < n; i++) {
		r = ipcx_chan_open(bench_ipcx_name(e, i), IPCX_CREATE | IPCX_EXCL, 0, &a, &c);
		if (r < 0)
			return bench_fail(e, r, "ipcx_chan_open");
		ipcx_chan_close(c);
		r = 0;
	}
	return r;
}

static int chan_small_setup(struct bench_env *e)
{
	return chan_create(e, 2, 64 << 10, 1 << 20);
}

static int chan_big_setup(struct bench_env *e)
{
	return chan_create(e, 2, BIG_MSG, BIG_CAP);
}

static int chan_open_mode(struct bench_env *e, unsigned mode)
{
	struct msg_local *l = e->local;

	for (int i = 0; i < 2; i++) {
		int r = ipcx_chan_open(bench_ipcx_name(e, i), 0, 0, NULL, &l->chan[i]);
		if (r < 0)
			return bench_fail(e, r, "ipcx_chan_open");
		ipcx_chan_set_wait(l->chan[i], mode);
	}
	return 0;
}

static int chan_open_spin(struct bench_env *e, int side)
{
	return chan_open_mode(e, IPCX_WAIT_SPIN);
}

static int chan_open_adaptive(struct bench_env *e, int side)
{
	return chan_open_mode(e, IPCX_WAIT_ADAPTIVE);
}

static int chan_open_sleep(struct bench_env *e, int side)
{
	return chan_open_mode(e, IPCX_WAIT_SLEEP);
}

static void chan_close(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;

	ipcx_chan_close(l->chan[0]);
	ipcx_chan_close(l->chan[1]);
}

static void teardown2(struct bench_env *e)
{
	ipcx_unlink(bench_ipcx_name(e, 0));
	ipcx_unlink(bench_ipcx_name(e, 1));
}

/* One hop with the copying API. */
static int chan_copy_hop(ipcx_chan *out, ipcx_chan *in, void *buf, size_t size, bool send_first)
{
	ssize_t n;
	int r;

	if (send_first && (r = ipcx_chan_send(out, buf, size, IPCX_FOREVER)) < 0)
		return r;
	n = ipcx_chan_recv(in, buf, size, IPCX_FOREVER);
	if (n < 0)
		return (int)n;
	if (!send_first && (r = ipcx_chan_send(out, buf, size, IPCX_FOREVER)) < 0)
		return r;
	return 0;
}

static int chan_copy_rtt_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	void *buf = bench_buf(e);

	if (!buf)
		return -ENOMEM;
	/* Side 0 sends on chan[0] and waits on chan[1]; side 1 the other way round. */
	return side == 0 ? chan_copy_hop(l->chan[0], l->chan[1], buf, e->size, true)
	                 : chan_copy_hop(l->chan[1], l->chan[0], buf, e->size, false);
}

/* Zero-copy: a message of e->size bytes of which only the first line is written and read. */
static int chan_zc_send(ipcx_chan *c, size_t size, uint64_t stamp)
{
	void *p;
	int r = ipcx_chan_reserve(c, size, IPCX_FOREVER, &p);

	if (r < 0)
		return r;
	memcpy(p, &stamp, size < sizeof(stamp) ? size : sizeof(stamp));
	return ipcx_chan_commit(c);
}

static int chan_zc_recv(ipcx_chan *c, uint64_t *ret_stamp)
{
	const void *p;
	size_t len;
	int r = ipcx_chan_peek(c, IPCX_FOREVER, &p, &len);

	if (r < 0)
		return r;
	*ret_stamp = 0;
	memcpy(ret_stamp, p, len < sizeof(*ret_stamp) ? len : sizeof(*ret_stamp));
	return ipcx_chan_release(c);
}

static int chan_zc_rtt_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	uint64_t stamp = 1;
	int r;

	if (side == 0) {
		if ((r = chan_zc_send(l->chan[0], e->size, stamp)) < 0)
			return r;
		return chan_zc_recv(l->chan[1], &stamp);
	}
	if ((r = chan_zc_recv(l->chan[0], &stamp)) < 0)
		return r;
	return chan_zc_send(l->chan[1], e->size, stamp);
}

/* Streams: side 0 sends on chan[0], side 1 receives; chan[1] is unused. */
static int chan_copy_tput_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	void *buf = bench_buf(e);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (side == 0)
		return ipcx_chan_send(l->chan[0], buf, e->size, IPCX_FOREVER);
	n = ipcx_chan_recv(l->chan[0], buf, e->size, IPCX_FOREVER);
	return n < 0 ? (int)n : 0;
}

static int chan_full_tput_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	const void *src = bench_buf(e);
	volatile uint64_t sink = 0;
	const uint8_t *in;
	size_t len;
	void *p;
	int r;

	if (!src)
		return -ENOMEM;
	if (side == 0) {
		if ((r = ipcx_chan_reserve(l->chan[0], e->size, IPCX_FOREVER, &p)) < 0)
			return r;
		memcpy(p, src, e->size);
		return ipcx_chan_commit(l->chan[0]);
	}
	if ((r = ipcx_chan_peek(l->chan[0], IPCX_FOREVER, (const void **)&in, &len)) < 0)
		return r;
	for (size_t i = 0; i < len; i += 64)
		sink += in[i];
	(void)sink;
	return ipcx_chan_release(l->chan[0]);
}

const struct bench_ops bench_ipcx_chan_rtt_spin = {
        .setup = chan_small_setup,
        .open = chan_open_spin,
        .step = chan_copy_rtt_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};
const struct bench_ops bench_ipcx_chan_rtt_adaptive = {
        .setup = chan_small_setup,
        .open = chan_open_adaptive,
        .step = chan_copy_rtt_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};
const struct bench_ops bench_ipcx_chan_rtt_sleep = {
        .setup = chan_small_setup,
        .open = chan_open_sleep,
        .step = chan_copy_rtt_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};
const struct bench_ops bench_ipcx_chan_rtt_zc = {
        .setup = chan_big_setup,
        .open = chan_open_adaptive,
        .step = chan_zc_rtt_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
        .sweep = true,
};
const struct bench_ops bench_ipcx_chan_tput_copy = {
        .setup = chan_small_setup,
        .open = chan_open_adaptive,
        .step = chan_copy_tput_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};
const struct bench_ops bench_ipcx_chan_tput_full = {
        .setup = chan_big_setup,
        .open = chan_open_adaptive,
        .step = chan_full_tput_step,
        .close = chan_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};

/* ---- topics ---- */

static int topic_create(struct bench_env *e, int n)
{
	ipcx_topic *t;
	int r = bench_ipcx_dir(e);

	for (int i = 0; r == 0 && i < n; i++) {
		r = ipcx_topic_open(bench_ipcx_name(e, i), IPCX_CREATE | IPCX_EXCL, 0, NULL, &t);
		if (r < 0)
			return bench_fail(e, r, "ipcx_topic_open");
		ipcx_topic_close(t);
		r = 0;
	}
	return r;
}

static int topic_rtt_setup(struct bench_env *e)
{
	return topic_create(e, 2);
}

static int topic_fanout_setup(struct bench_env *e)
{
	return topic_create(e, 1);
}

static int topic_open_n(struct bench_env *e, int n)
{
	struct msg_local *l = e->local;

	for (int i = 0; i < n; i++) {
		int r = ipcx_topic_open(bench_ipcx_name(e, i), 0, 0, NULL, &l->topic[i]);
		if (r < 0)
			return bench_fail(e, r, "ipcx_topic_open");
	}
	return 0;
}

/* Round trip: side 1 subscribes to topic 0 and publishes on 1; side 0 the other way. Side
 * 1 opens (and subscribes) first, and side 0 subscribes before its first publish. */
static int topic_rtt_open(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	int r = topic_open_n(e, 2);

	if (r == 0 && (r = ipcx_topic_subscribe(l->topic[side == 0 ? 1 : 0], 0)) < 0)
		return bench_fail(e, r, "ipcx_topic_subscribe");
	return r;
}

static int topic_rtt_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	void *buf = bench_buf(e);
	ipcx_topic *out = l->topic[side == 0 ? 0 : 1], *in = l->topic[side == 0 ? 1 : 0];
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	if (side == 0 && (r = ipcx_topic_publish(out, buf, e->size, IPCX_FOREVER)) < 0)
		return r;
	n = ipcx_topic_recv(in, buf, e->size, IPCX_FOREVER, NULL);
	if (n < 0)
		return (int)n;
	if (side == 1 && (r = ipcx_topic_publish(out, buf, e->size, IPCX_FOREVER)) < 0)
		return r;
	return 0;
}

static void topic_close(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;

	ipcx_topic_close(l->topic[0]);
	ipcx_topic_close(l->topic[1]);
}

static int topic_fanout_open(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	int r = topic_open_n(e, 1);

	if (r == 0 && side == 1 && (r = ipcx_topic_subscribe(l->topic[0], 0)) < 0)
		return bench_fail(e, r, "ipcx_topic_subscribe");
	return r;
}

/*
 * The fan-out rows measure what the issue asks of a lossy topic, the publisher's cost per
 * message as subscribers are added, so they time the publisher alone (time_sender).
 * A lossy topic: the publisher never waits, so a subscriber that falls behind skips ahead
 * and is told how many it missed. Those count as received (its next calls return at once),
 * so every subscriber makes as many calls as the publisher, as the harness wants, and the
 * last message, which nothing overwrites, is received by all.
 */
static int topic_fanout_step(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;
	void *buf = bench_buf(e);
	uint64_t missed = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (side == 0)
		return ipcx_topic_publish(l->topic[0], buf, e->size, IPCX_FOREVER);
	if (l->credit) {
		l->credit--;
		return 0;
	}
	n = ipcx_topic_recv(l->topic[0], buf, e->size, IPCX_FOREVER, &missed);
	if (n < 0)
		return (int)n;
	l->credit = missed;
	return 0;
}

const struct bench_ops bench_ipcx_topic_rtt = {
        .setup = topic_rtt_setup,
        .open = topic_rtt_open,
        .step = topic_rtt_step,
        .close = topic_close,
        .teardown = teardown2,
        .local_size = sizeof(struct msg_local),
};

#define FANOUT(n)                                                                                  \
	const struct bench_ops bench_ipcx_topic_fanout_##n = {                                     \
	        .setup = topic_fanout_setup,                                                       \
	        .open = topic_fanout_open,                                                         \
	        .step = topic_fanout_step,                                                         \
	        .close = topic_close,                                                              \
	        .teardown = teardown2,                                                             \
	        .local_size = sizeof(struct msg_local),                                            \
	        .receivers = n,                                                                    \
	        .time_sender = true,                                                               \
	}
FANOUT(1);
FANOUT(4);
FANOUT(16);
