/* SPDX-License-Identifier: MIT */
/* Channels: the API's contract, sizes, timeouts, zero-copy, removal, many processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/chan.h"

static ipcx_chan *mk(const char *name, uint64_t cap, uint64_t max)
{
	struct ipcx_chan_attr a = {cap, max};
	ipcx_chan *c = NULL;

	cr_assert_geq(ipcx_chan_open(name, IPCX_CREATE, 0, &a, &c), 0);
	return c;
}

static ipcx_chan *op(const char *name)
{
	ipcx_chan *c = NULL;

	cr_assert_eq(ipcx_chan_open(name, 0, 0, NULL, &c), 0);
	return c;
}

IPCX_TEST(chan, open_create_and_attrs)
{
	struct ipcx_chan_attr bad = {4096, IPCX_CHAN_MAX_MSG_LIMIT + 1};
	ipcx_chan *c = NULL, *d = NULL;

	cr_expect_eq(ipcx_chan_open("c", 0, 0, NULL, &c), -ENOENT);
	cr_expect_eq(ipcx_chan_open("c", IPCX_CREATE, 0, &bad, &c), -EINVAL);
	cr_assert_eq(ipcx_chan_open("c", IPCX_CREATE, 0, NULL, &c), 1);
	cr_expect_eq(ipcx_chan_capacity(c), IPCX_CHAN_DEFAULT_CAPACITY);
	cr_expect_eq(ipcx_chan_max_msg(c), IPCX_CHAN_DEFAULT_MAX_MSG);
	cr_assert_eq(ipcx_chan_open("c", IPCX_CREATE, 0, NULL, &d), 0);
	cr_expect_eq(ipcx_chan_open("c", IPCX_CREATE | IPCX_EXCL, 0, NULL, &d), -EEXIST);
	ipcx_chan_close(d);
	ipcx_chan_close(c);
	ipcx_chan_close(NULL);
	/* Capacity rounds up to a power of two that holds one largest message. */
	c = mk("r", 5000, 10000);
	cr_expect_eq(ipcx_chan_capacity(c), 16384);
	cr_expect_eq(ipcx_chan_max_msg(c), 10000);
	cr_expect_eq(ipcx_chan_set_wait(c, 7), -EINVAL);
	cr_expect_eq(ipcx_chan_set_wait(c, IPCX_WAIT_SPIN), 0);
	ipcx_chan_close(c);
}

IPCX_TEST(chan, send_recv_fifo_and_sizes)
{
	ipcx_chan *c = mk("c", 1 << 16, 4000);
	char buf[4096], msg[4096];
	ssize_t n;

	for (size_t len = 0; len <= 4000; len += 97) {
		for (size_t i = 0; i < len; i++)
			msg[i] = (char)(len + i);
		cr_assert_eq(ipcx_chan_send(c, msg, len, 0), 0, "len %zu", len);
		n = ipcx_chan_recv(c, buf, sizeof(buf), 0);
		cr_assert_eq(n, (ssize_t)len);
		cr_assert(memcmp(buf, msg, len) == 0);
	}
	cr_expect_eq(ipcx_chan_send(c, msg, 4001, 0), -EMSGSIZE);
	cr_expect_eq(ipcx_chan_send(c, NULL, 0, 0), 0);
	cr_expect_eq(ipcx_chan_recv(c, NULL, 0, 0), 0);
	/* FIFO over many laps of the ring, with wrap-around padding. */
	for (int i = 0; i < 5000; i++) {
		int v;
		cr_assert_eq(ipcx_chan_send(c, &i, sizeof(i), 0), 0);
		if (i % 3 == 0)
			cr_assert_eq(ipcx_chan_send(c, msg, 1000 + i % 500, 0), 0);
		cr_assert_eq(ipcx_chan_recv(c, &v, sizeof(v), 0), (ssize_t)sizeof(v));
		cr_assert_eq(v, i);
		if (i % 3 == 0)
			cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1000 + i % 500);
	}
	ipcx_chan_close(c);
}

IPCX_TEST(chan, emsgsize_keeps_message)
{
	ipcx_chan *c = mk("c", 0, 0);
	char buf[100];

	cr_assert_eq(ipcx_chan_send(c, "hello world", 11, 0), 0);
	cr_expect_eq(ipcx_chan_recv(c, buf, 5, 0), -EMSGSIZE);
	cr_expect_eq(ipcx_chan_recv(c, buf, 5, 0), -EMSGSIZE);
	cr_expect_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 11);
	cr_expect(memcmp(buf, "hello world", 11) == 0);
	ipcx_chan_close(c);
}

IPCX_TEST(chan, timeouts_and_full)
{
	ipcx_chan *c = mk("c", 4096, 1000);
	char buf[1000] = {0};
	int64_t t0;
	int sent = 0;

	cr_expect_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), -EAGAIN);
	t0 = ipcx__now_ns();
	cr_expect_eq(ipcx_chan_recv(c, buf, sizeof(buf), 20000000), -ETIMEDOUT);
	cr_expect_geq(ipcx__now_ns() - t0, 20000000);
	while (ipcx_chan_send(c, buf, 1000, 0) == 0)
		sent++;
	cr_expect_eq(sent, 4);
	cr_expect_eq(ipcx_chan_send(c, buf, 1000, 0), -EAGAIN);
	t0 = ipcx__now_ns();
	cr_expect_eq(ipcx_chan_send(c, buf, 1000, 20000000), -ETIMEDOUT);
	cr_expect_geq(ipcx__now_ns() - t0, 20000000);
	/* Space comes back when a message is received. */
	cr_expect_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1000);
	cr_expect_eq(ipcx_chan_send(c, buf, 1000, 0), 0);
	ipcx_chan_close(c);
}

IPCX_TEST(chan, zero_copy)
{
	ipcx_chan *c = mk("c", 4 << 20, 1 << 20);
	const void *p;
	void *w;
	size_t len;

	cr_assert_eq(ipcx_chan_reserve(c, 1 << 20, 0, &w), 0);
	cr_expect_eq(ipcx_chan_reserve(c, 10, 0, &w), -EBUSY);
	memset(w, 0xab, 1 << 20);
	/* Not visible before commit. */
	cr_expect_eq(ipcx_chan_peek(c, 0, &p, &len), -EAGAIN);
	cr_assert_eq(ipcx_chan_commit(c), 0);
	cr_expect_eq(ipcx_chan_commit(c), -EINVAL);
	cr_assert_eq(ipcx_chan_peek(c, 0, &p, &len), 0);
	cr_expect_eq(len, 1u << 20);
	cr_expect_eq(((const uint8_t *)p)[0], 0xab);
	cr_expect_eq(((const uint8_t *)p)[len - 1], 0xab);
	/* The pointer is in place: the very bytes the sender wrote. */
	cr_expect_eq(p, w);
	cr_expect_eq(ipcx_chan_peek(c, 0, &p, &len), -EBUSY);
	cr_expect_eq(ipcx_chan_recv(c, &len, sizeof(len), 0), -EBUSY);
	cr_assert_eq(ipcx_chan_release(c), 0);
	cr_expect_eq(ipcx_chan_release(c), -EINVAL);
	/* Abort: nobody ever sees it; the next message does come through. */
	cr_assert_eq(ipcx_chan_reserve(c, 100, 0, &w), 0);
	cr_assert_eq(ipcx_chan_abort(c), 0);
	cr_assert_eq(ipcx_chan_send(c, "x", 1, 0), 0);
	cr_assert_eq(ipcx_chan_peek(c, 0, &p, &len), 0);
	cr_expect_eq(len, 1);
	cr_assert_eq(ipcx_chan_release(c), 0);
	cr_expect_eq(ipcx_chan_peek(c, 0, &p, &len), -EAGAIN);
	ipcx_chan_close(c);
}

static int child_recv_64m(void *arg)
{
	ipcx_chan *c = op("big");
	const uint8_t *p;
	size_t len;

	(void)arg;
	if (ipcx_chan_peek(c, 10000000000ll, (const void **)&p, &len) < 0)
		return 2;
	if (len != 64u << 20)
		return 3;
	for (size_t i = 0; i < len; i += 4096)
		if (p[i] != (uint8_t)(i >> 12))
			return 4;
	ipcx_chan_release(c);
	ipcx_chan_close(c);
	return 0;
}

IPCX_TEST(chan, message_of_64_mib, .timeout = 60)
{
	ipcx_chan *c = mk("big", 0, 64u << 20);
	uint8_t *w;
	pid_t pid;

	pid = test_fork(child_recv_64m, NULL);
	cr_assert_eq(ipcx_chan_reserve(c, 64u << 20, -1, (void **)&w), 0);
	for (size_t i = 0; i < 64u << 20; i += 4096)
		w[i] = (uint8_t)(i >> 12);
	cr_assert_eq(ipcx_chan_commit(c), 0);
	cr_expect_eq(test_wait(pid), 0);
	/* And a copying send of the same size. */
	cr_assert_eq(ipcx_chan_reserve(c, 64u << 20, 0, (void **)&w), 0);
	cr_assert_eq(ipcx_chan_abort(c), 0);
	ipcx_chan_close(c);
}

static int child_blocked_recv(void *arg)
{
	ipcx_chan *c = op("gone");
	char b[8];
	ssize_t r = ipcx_chan_recv(c, b, sizeof(b), -1);

	(void)arg;
	ipcx_chan_close(c);
	return r == -EIDRM ? 0 : 1;
}

IPCX_TEST(chan, unlink_wakes_with_eidrm)
{
	ipcx_chan *c = mk("gone", 4096, 100);
	pid_t pid[3];

	struct ipcx_info in;

	for (int i = 0; i < 3; i++)
		pid[i] = test_fork(child_blocked_recv, NULL);
	/* Remove it only once all three have it open: before that their open would fail. */
	for (int i = 0; i < 10000 && (ipcx_stat("gone", &in) < 0 || in.attached < 4); i++)
		usleep(1000);
	cr_assert_eq(in.attached, 4, "the receivers never opened the channel");
	usleep(20000); /* most likely asleep in recv by now; if not, recv sees the removal */
	cr_assert_eq(ipcx_unlink("gone"), 0);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(test_wait(pid[i]), 0);
	cr_expect_eq(ipcx_chan_send(c, "x", 1, 0), -EIDRM);
	ipcx_chan_close(c);
}

/* Many senders, many receivers: per-sender sequence numbers and checksums. */
#define MS_SENDERS 4
#define MS_RECEIVERS 3
#define MS_COUNT 20000

struct ms_msg {
	uint32_t sender, seq, len, sum;
	uint8_t body[200];
};

static uint32_t sum_of(const uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

struct ms_shared {
	_Atomic uint32_t got[MS_SENDERS][MS_COUNT];
	_Atomic uint32_t errors;
	_Atomic uint32_t stop;
	int64_t err_n;
	uint32_t err_sender, err_seq, err_len, err_last, err_sum, err_want;
};
static struct ms_shared *ms;

static int ms_sender(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	ipcx_chan *c = op("ms");
	struct ms_msg m;

	for (uint32_t s = 0; s < MS_COUNT; s++) {
		m.sender = id;
		m.seq = s;
		m.len = (s * 7 + id) % sizeof(m.body);
		for (uint32_t i = 0; i < m.len; i++)
			m.body[i] = (uint8_t)(s + i);
		m.sum = sum_of(m.body, m.len, s);
		if (s & 1) {
			void *w;
			if (ipcx_chan_reserve(c, 16 + m.len, -1, &w) < 0)
				return 1;
			memcpy(w, &m, 16 + m.len);
			ipcx_chan_commit(c);
		} else if (ipcx_chan_send(c, &m, 16 + m.len, -1) < 0) {
			return 1;
		}
	}
	ipcx_chan_close(c);
	return 0;
}

static int ms_receiver(void *arg)
{
	ipcx_chan *c = op("ms");
	uint32_t last[MS_SENDERS];
	struct ms_msg m;

	(void)arg;
	memset(last, 0xff, sizeof(last));
	for (;;) {
		ssize_t n = ipcx_chan_recv(c, &m, sizeof(m), 50000000);
		if (n == -ETIMEDOUT) {
			if (atomic_load(&ms->stop))
				break;
			continue;
		}
		if (n < 16 || m.sender >= MS_SENDERS || m.seq >= MS_COUNT || n != 16 + m.len ||
		    m.sum != sum_of(m.body, m.len, m.seq) ||
		    (last[m.sender] != 0xffffffffu && m.seq <= last[m.sender])) {
			if (atomic_fetch_add(&ms->errors, 1) == 0) {
				ms->err_n = n;
				ms->err_sender = m.sender;
				ms->err_seq = m.seq;
				ms->err_len = m.len;
				ms->err_sum = m.sum;
				ms->err_want = n >= 16 && m.len < sizeof(m.body)
				                       ? sum_of(m.body, m.len, m.seq)
				                       : 0;
				ms->err_last = m.sender < MS_SENDERS ? last[m.sender] : 0;
			}
			continue;
		}
		last[m.sender] = m.seq;
		atomic_fetch_add(&ms->got[m.sender][m.seq], 1);
	}
	ipcx_chan_close(c);
	return 0;
}

IPCX_TEST(chan, many_senders_many_receivers, .timeout = 120)
{
	ipcx_chan *c = mk("ms", 1 << 14, 256);
	pid_t s[MS_SENDERS], r[MS_RECEIVERS];

	ms = test_shared_alloc(sizeof(*ms));
	for (int i = 0; i < MS_RECEIVERS; i++)
		r[i] = test_fork(ms_receiver, NULL);
	for (int i = 0; i < MS_SENDERS; i++)
		s[i] = test_fork(ms_sender, (void *)(uintptr_t)i);
	for (int i = 0; i < MS_SENDERS; i++)
		cr_expect_eq(test_wait(s[i]), 0);
	atomic_store(&ms->stop, 1);
	for (int i = 0; i < MS_RECEIVERS; i++)
		cr_expect_eq(test_wait(r[i]), 0);
	cr_expect_eq(atomic_load(&ms->errors), 0,
	             "%u bad: n %ld sender %u seq %u len %u last %u sum %x want %x",
	             atomic_load(&ms->errors), (long)ms->err_n, ms->err_sender, ms->err_seq,
	             ms->err_len, ms->err_last, ms->err_sum, ms->err_want);
	for (int i = 0; i < MS_SENDERS; i++)
		for (int j = 0; j < MS_COUNT; j++)
			cr_assert_eq(atomic_load(&ms->got[i][j]), 1, "sender %d seq %d", i, j);
	ipcx_chan_close(c);
}
