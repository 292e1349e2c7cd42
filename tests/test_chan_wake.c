/* SPDX-License-Identifier: MIT */
/*
 * Channels: no lost wake-up between a sleeping receiver and senders, with small messages
 * and with long ones, sent while the receiver goes to sleep. Every wait is bounded, so a
 * lost wake-up fails the test instead of hanging it. The receiver sleeps three ways: a
 * blocking receive, a wait-set, a descriptor in poll().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

#define ROUNDS 2000
#define BIG 2000
#define LIMIT 5000000000ll
#define BURSTS 50000

enum how { BY_RECV, BY_WAITSET, BY_FD };

static ipcx_chan *mk(const char *name)
{
	struct ipcx_chan_attr a = {.capacity = 1 << 16, .max_msg = 4096};
	ipcx_chan *c = NULL;

	cr_assert_geq(ipcx_chan_open(name, IPCX_CREATE, 0, &a, &c), 0);
	return c;
}

static size_t size_of(uint32_t r)
{
	return r % 3 == 2 ? BIG : 4 + r % 60;
}

/* In the peer child: opens "req" to receive on, sleeping, and "rep" to answer on. */
static int open_peer(ipcx_chan **in, ipcx_chan **out)
{
	if (ipcx_chan_open("req", 0, 0, NULL, in) < 0 ||
	    ipcx_chan_open("rep", 0, 0, NULL, out) < 0 ||
	    ipcx_chan_set_wait(*in, IPCX_WAIT_SLEEP) < 0)
		return -1;
	return 0;
}

/* The echo: sleeps in a blocking receive, replies with the same round number. */
static int echo(void *arg)
{
	ipcx_chan *in = NULL, *out = NULL;
	char buf[4096];

	(void)arg;
	if (open_peer(&in, &out) < 0)
		return 1;
	for (uint32_t r = 0; r < ROUNDS; r++) {
		ssize_t n = ipcx_chan_recv(in, buf, sizeof(buf), LIMIT);

		if (n != (ssize_t)size_of(r))
			return 2;
		if (ipcx_chan_send(out, buf, size_of(r + 1), LIMIT) < 0)
			return 3;
	}
	ipcx_chan_close(in);
	ipcx_chan_close(out);
	return 0;
}

/* Receives one message on c, sleeping the given way; its length or -errno. */
static ssize_t wait_recv(ipcx_chan *c, ipcx_waitset *ws, enum how how, void *buf, size_t cap)
{
	struct ipcx_waitset_ready rd[1];
	struct pollfd p;
	ssize_t n;
	int r;

	if (how == BY_RECV)
		return ipcx_chan_recv(c, buf, cap, LIMIT);
	for (int tries = 0; tries < 1000; tries++) {
		n = ipcx_chan_recv(c, buf, cap, 0);
		if (n != -EAGAIN)
			return n;
		if (how == BY_WAITSET) {
			r = ipcx_waitset_wait(ws, rd, 1, LIMIT);
			if (r < 0)
				return r;
			continue;
		}
		r = ipcx_chan_fd_rearm(c);
		if (r < 0)
			return r;
		if (r > 0)
			continue; /* ready already */
		p.fd = ipcx_chan_fd(c);
		p.events = POLLIN;
		if (poll(&p, 1, (int)(LIMIT / 1000000)) != 1)
			return -ETIMEDOUT;
	}
	return -ELOOP;
}

static void pingpong(enum how how)
{
	ipcx_chan *out = mk("req"), *in = mk("rep");
	ipcx_waitset *ws = NULL;
	char buf[4096];
	pid_t pid;

	memset(buf, 7, sizeof(buf));
	cr_assert_eq(ipcx_chan_set_wait(in, IPCX_WAIT_SLEEP), 0);
	if (how == BY_WAITSET) {
		cr_assert_eq(ipcx_waitset_create(&ws), 0);
		cr_assert_eq(ipcx_waitset_set_wait(ws, IPCX_WAIT_SLEEP), 0);
		cr_assert_geq(ipcx_waitset_add_chan(ws, in, NULL), 0);
	}
	if (how == BY_FD)
		cr_assert_geq(ipcx_chan_fd(in), 0);
	pid = test_fork(echo, NULL);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		ssize_t n;

		cr_assert_eq(ipcx_chan_send(out, buf, size_of(r), LIMIT), 0);
		n = wait_recv(in, ws, how, buf, sizeof(buf));
		cr_assert_eq(n, (ssize_t)size_of(r + 1), "round %u: %zd", r, n);
	}
	cr_assert_eq(test_wait(pid), 0);
	ipcx_waitset_destroy(ws);
	ipcx_chan_close(out);
	ipcx_chan_close(in);
}

/* The burst receiver: each message carries how many more of its burst follow; after the
 * last of a burst, an acknowledgement. */
static int burst_receiver(void *arg)
{
	ipcx_chan *in = NULL, *out = NULL;
	char buf[4096];

	(void)arg;
	if (open_peer(&in, &out) < 0)
		return 1;
	for (uint32_t r = 0; r < BURSTS;) {
		ssize_t n = ipcx_chan_recv(in, buf, sizeof(buf), LIMIT);

		if (n <= 0)
			return 2;
		if (buf[0] == 0) {
			r++;
			if (ipcx_chan_send(out, buf, 1, LIMIT) < 0)
				return 3;
		}
	}
	ipcx_chan_close(in);
	ipcx_chan_close(out);
	return 0;
}

/*
 * Bursts of one to four messages, then a wait for the acknowledgement: the receiver goes
 * to sleep while the next message of a burst is being sent, and a wake-up lost for the
 * last one of a burst is never made up by a later message.
 */
IPCX_TEST(chan_wake, bursts_to_a_sleeping_receiver, .timeout = 120)
{
	ipcx_chan *out = mk("req"), *in = mk("rep");
	char buf[4096];
	pid_t pid;

	memset(buf, 7, sizeof(buf));
	cr_assert_eq(ipcx_chan_set_wait(in, IPCX_WAIT_SLEEP), 0);
	pid = test_fork(burst_receiver, NULL);
	for (uint32_t r = 0; r < BURSTS; r++) {
		uint32_t k = 1 + r % 4;

		for (uint32_t i = 0; i < k; i++) {
			buf[0] = (char)(k - 1 - i);
			cr_assert_eq(ipcx_chan_send(out, buf, (r + i) % 7 == 6 ? BIG : 8, LIMIT),
			             0);
			for (uint32_t spin = 0; spin < (r * 7 + i) % 300; spin++)
				__asm__ __volatile__("" ::: "memory");
		}
		cr_assert_eq(ipcx_chan_recv(in, buf + 1, 16, LIMIT), 1, "burst %u", r);
	}
	cr_assert_eq(test_wait(pid), 0);
	ipcx_chan_close(out);
	ipcx_chan_close(in);
}

IPCX_TEST(chan_wake, sleeping_receive, .timeout = 120)
{
	pingpong(BY_RECV);
}

IPCX_TEST(chan_wake, sleeping_waitset, .timeout = 120)
{
	pingpong(BY_WAITSET);
}

IPCX_TEST(chan_wake, sleeping_descriptor, .timeout = 120)
{
	pingpong(BY_FD);
}
