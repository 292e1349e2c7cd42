/* SPDX-License-Identifier: MIT */
/*
 * ipcx's channels and topics. rtt: side 0 sends on one object and waits for the reply on
 * another; side 1 answers. 64-byte cases copy (send/recv); 1 MiB cases go zero-copy
 * (reserve/commit, peek/release) and touch the first and last byte on each side, as a user
 * writing in place would. tput: one sender, one receiver (or N subscribers for fan-out).
 * Fan-out topics are lossy: a subscriber that falls behind counts the messages it missed
 * as steps done, so every side makes the same number of calls.
 */
#include <errno.h>
#include <string.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"

struct msg_local {
	ipcx_chan *c[2];
	ipcx_topic *t[2];
	uint64_t debt; /* fan-out: missed messages still to count as received */
};

/* Which object sends what, per case. */
struct msg_kind {
	bool topic;
	bool zero_copy;
	unsigned wait;
	uint64_t capacity;
	int objects; /* 2 for rtt, 1 for tput */
};

static const struct msg_kind *kind_of(struct bench_env *e);

static int msg_setup(struct bench_env *e)
{
	const struct msg_kind *k = kind_of(e);
	uint64_t max = e->size > 4096 ? e->size : 4096;
	int r = bench_ipcx_dir(e);

	if (r < 0)
		return r;
	for (int i = 0; i < k->objects; i++) {
		if (k->topic) {
			struct ipcx_topic_attr a = {k->capacity, max, 0};
			ipcx_topic *t;
			r = ipcx_topic_open(bench_ipcx_name(e, i), IPCX_CREATE | IPCX_EXCL, 0, &a, &t);
			if (r < 0)
				return bench_fail(e, r, "ipcx_topic_open");
			ipcx_topic_close(t);
		} else {
			struct ipcx_chan_attr a = {k->capacity, max};
			ipcx_chan *c;
			r = ipcx_chan_open(bench_ipcx_name(e, i), IPCX_CREATE | IPCX_EXCL, 0, &a, &c);
			if (r < 0)
				return bench_fail(e, r, "ipcx_chan_open");
			ipcx_chan_close(c);
		}
	}
	return 0;
}

static int msg_open(struct bench_env *e, int side)
{
	const struct msg_kind *k = kind_of(e);
	struct msg_local *l = e->local;
	int r;

	for (int i = 0; i < k->objects; i++) {
		if (k->topic) {
			r = ipcx_topic_open(bench_ipcx_name(e, i), 0, 0, NULL, &l->t[i]);
			if (r < 0)
				return bench_fail(e, r, "ipcx_topic_open");
			ipcx_topic_set_wait(l->t[i], k->wait);
			/* Each side subscribes to what it receives: side 1 to object 0. */
			if (i == (side == 1 ? 0 : 1) && (r = ipcx_topic_subscribe(l->t[i], 0)) < 0)
				return bench_fail(e, r, "ipcx_topic_subscribe");
		} else {
			r = ipcx_chan_open(bench_ipcx_name(e, i), 0, 0, NULL, &l->c[i]);
			if (r < 0)
				return bench_fail(e, r, "ipcx_chan_open");
			ipcx_chan_set_wait(l->c[i], k->wait);
		}
	}
	return 0;
}

static void msg_close(struct bench_env *e, int side)
{
	struct msg_local *l = e->local;

	(void)side;
	for (int i = 0; i < 2; i++) {
		ipcx_chan_close(l->c[i]);
		ipcx_topic_close(l->t[i]);
	}
}

static void msg_teardown(struct bench_env *e)
{
	for (int i = 0; i < kind_of(e)->objects; i++)
		ipcx_unlink(bench_ipcx_name(e, i));
}

static int put(struct bench_env *e, const struct msg_kind *k, int i)
{
	struct msg_local *l = e->local;
	uint8_t *w;
	int r;

	if (!k->zero_copy) {
		void *buf = bench_buf(e);
		return k->topic ? ipcx_topic_publish(l->t[i], buf, e->size, IPCX_FOREVER)
				: ipcx_chan_send(l->c[i], buf, e->size, IPCX_FOREVER);
	}
	r = k->topic ? ipcx_topic_loan(l->t[i], e->size, IPCX_FOREVER, (void **)&w)
		     : ipcx_chan_reserve(l->c[i], e->size, IPCX_FOREVER, (void **)&w);
	if (r < 0)
		return r;
	w[0] = 1;
	w[e->size - 1] = 2;
	return k->topic ? ipcx_topic_commit(l->t[i]) : ipcx_chan_commit(l->c[i]);
}

static int get(struct bench_env *e, const struct msg_kind *k, int i)
{
	struct msg_local *l = e->local;
	volatile const uint8_t *p;
	uint64_t missed = 0;
	size_t len;
	int r;

	if (!k->zero_copy) {
		void *buf = bench_buf(e);
		ssize_t n = k->topic ? ipcx_topic_recv(l->t[i], buf, e->size, IPCX_FOREVER, &missed)
				     : ipcx_chan_recv(l->c[i], buf, e->size, IPCX_FOREVER);
		l->debt += missed;
		return n < 0 ? (int)n : 0;
	}
	r = k->topic ? ipcx_topic_peek(l->t[i], IPCX_FOREVER, (const void **)&p, &len, &missed)
		     : ipcx_chan_peek(l->c[i], IPCX_FOREVER, (const void **)&p, &len);
	if (r < 0)
		return r;
	l->debt += missed;
	(void)p[0];
	(void)p[len - 1];
	r = k->topic ? ipcx_topic_release(l->t[i]) : ipcx_chan_release(l->c[i]);
	return r == -ESTALE ? 0 : r;
}

static int rtt_step(struct bench_env *e, int side)
{
	const struct msg_kind *k = kind_of(e);
	int r;

	if (side == 0) {
		if ((r = put(e, k, 0)) < 0)
			return r;
		return get(e, k, 1);
	}
	if ((r = get(e, k, 0)) < 0)
		return r;
	return put(e, k, 1);
}

static int tput_step(struct bench_env *e, int side)
{
	const struct msg_kind *k = kind_of(e);
	struct msg_local *l = e->local;

	if (side == 0)
		return put(e, k, 0);
	if (l->debt) { /* a message this subscriber missed counts as one received */
		l->debt--;
		return 0;
	}
	return get(e, k, 0);
}

#define OPS(name_, step_, receivers_)                                                         \
	const struct bench_ops name_ = {                                                      \
		.setup = msg_setup,                                                           \
		.open = msg_open,                                                             \
		.step = step_,                                                                \
		.close = msg_close,                                                           \
		.teardown = msg_teardown,                                                     \
		.local_size = sizeof(struct msg_local),                                       \
		.receivers = receivers_,                                                      \
	}

OPS(bench_ipcx_chan_rtt_spin, rtt_step, 0);
OPS(bench_ipcx_chan_rtt_adaptive, rtt_step, 0);
OPS(bench_ipcx_chan_rtt_sleep, rtt_step, 0);
OPS(bench_ipcx_chan_rtt_1m, rtt_step, 0);
OPS(bench_ipcx_topic_rtt, rtt_step, 0);
OPS(bench_ipcx_chan_tput_64, tput_step, 0);
OPS(bench_ipcx_chan_tput_1m, tput_step, 0);
OPS(bench_ipcx_topic_fanout_1, tput_step, 1);
OPS(bench_ipcx_topic_fanout_4, tput_step, 4);
OPS(bench_ipcx_topic_fanout_16, tput_step, 16);

static const struct {
	const struct bench_ops *ops;
	struct msg_kind kind;
} kinds[] = {
	{&bench_ipcx_chan_rtt_spin, {false, false, IPCX_WAIT_SPIN, 64 << 10, 2}},
	{&bench_ipcx_chan_rtt_adaptive, {false, false, IPCX_WAIT_ADAPTIVE, 64 << 10, 2}},
	{&bench_ipcx_chan_rtt_sleep, {false, false, IPCX_WAIT_SLEEP, 64 << 10, 2}},
	{&bench_ipcx_chan_rtt_1m, {false, true, IPCX_WAIT_ADAPTIVE, 4 << 20, 2}},
	{&bench_ipcx_topic_rtt, {true, false, IPCX_WAIT_ADAPTIVE, 64 << 10, 2}},
	{&bench_ipcx_chan_tput_64, {false, false, IPCX_WAIT_ADAPTIVE, 256 << 10, 1}},
	{&bench_ipcx_chan_tput_1m, {false, true, IPCX_WAIT_ADAPTIVE, 8 << 20, 1}},
	{&bench_ipcx_topic_fanout_1, {true, false, IPCX_WAIT_ADAPTIVE, 1 << 20, 1}},
	{&bench_ipcx_topic_fanout_4, {true, false, IPCX_WAIT_ADAPTIVE, 1 << 20, 1}},
	{&bench_ipcx_topic_fanout_16, {true, false, IPCX_WAIT_ADAPTIVE, 1 << 20, 1}},
};

static const struct msg_kind *kind_of(struct bench_env *e)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].ops == e->c->ops)
			return &kinds[i].kind;
	return &kinds[0].kind;
}
