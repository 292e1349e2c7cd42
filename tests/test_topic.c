/* SPDX-License-Identifier: MIT */
/* Topics: publish/subscribe with real processes; lossy and reliable modes; crashes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/sys.h"

static ipcx_topic *mk(const char *name, uint64_t cap, uint64_t max, unsigned flags)
{
	struct ipcx_topic_attr a = {cap, max, flags};
	ipcx_topic *t = NULL;

	cr_assert_geq(ipcx_topic_open(name, IPCX_CREATE, 0, &a, &t), 0);
	return t;
}

static ipcx_topic *op(const char *name)
{
	ipcx_topic *t = NULL;

	if (ipcx_topic_open(name, 0, 0, NULL, &t) < 0)
		_exit(99);
	return t;
}

IPCX_TEST(topic, basics)
{
	ipcx_topic *p = mk("t", 1 << 16, 1000, 0), *s = op("t");
	struct ipcx_topic_attr bad = {0, 0, 0x80};
	uint64_t missed = 7;
	char buf[1000];
	ipcx_topic *x;

	cr_expect_eq(ipcx_topic_open("u", IPCX_CREATE, 0, &bad, &x), -EINVAL);
	cr_expect_eq(ipcx_topic_recv(s, buf, sizeof(buf), 0, NULL), -EINVAL); /* not subscribed */
	cr_assert_eq(ipcx_topic_subscribe(s, 0), 0);
	cr_expect_eq(ipcx_topic_subscribe(s, 0), -EALREADY);
	cr_expect_eq(ipcx_topic_recv(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
	cr_expect_eq(ipcx_topic_recv(s, buf, sizeof(buf), 10000000, NULL), -ETIMEDOUT);
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)(i * 37) % 1001;
		memset(buf, i & 0xff, len);
		cr_assert_eq(ipcx_topic_publish(p, buf, len, 0), 0);
		memset(buf, 0, sizeof(buf));
		if (i == 5)
			cr_expect_eq(ipcx_topic_recv(s, buf, len ? len - 1 : 0, 0, NULL),
			             len ? -EMSGSIZE : 0);
		if (i == 5 && len == 0)
			continue;
		cr_assert_eq(ipcx_topic_recv(s, buf, sizeof(buf), 0, &missed), (ssize_t)len);
		cr_assert_eq(missed, 0);
		for (size_t k = 0; k < len; k++)
			cr_assert_eq((uint8_t)buf[k], (uint8_t)i);
	}
	cr_expect_eq(ipcx_topic_publish(p, buf, 1001, 0), -EMSGSIZE);
	ipcx_topic_close(s);
	ipcx_topic_close(p);
}

IPCX_TEST(topic, zero_copy_loan_and_peek)
{
	/* One handle in both roles, so both pointers are in one mapping. */
	ipcx_topic *p = mk("t", 1 << 22, 1 << 20, IPCX_TOPIC_RELIABLE), *s = p;
	const void *q;
	size_t len;
	void *w;

	cr_assert_eq(ipcx_topic_subscribe(s, 0), 0);
	cr_assert_eq(ipcx_topic_loan(p, 1 << 20, 0, &w), 0);
	cr_expect_eq(ipcx_topic_loan(p, 1, 0, &w), -EBUSY);
	memset(w, 0x5a, 1 << 20);
	cr_expect_eq(ipcx_topic_peek(s, 0, &q, &len, NULL), -EAGAIN);
	cr_assert_eq(ipcx_topic_commit(p), 0);
	cr_assert_eq(ipcx_topic_peek(s, 0, &q, &len, NULL), 0);
	cr_expect_eq(q, w); /* in place */
	cr_expect_eq(len, 1u << 20);
	cr_expect_eq(((const uint8_t *)q)[len - 1], 0x5a);
	cr_expect_eq(ipcx_topic_peek(s, 0, &q, &len, NULL), -EBUSY);
	cr_assert_eq(ipcx_topic_release(s), 0);
	cr_expect_eq(ipcx_topic_release(s), -EINVAL);
	cr_assert_eq(ipcx_topic_loan(p, 10, 0, &w), 0);
	cr_assert_eq(ipcx_topic_abort(p), 0);
	cr_assert_eq(ipcx_topic_publish(p, "z", 1, 0), 0);
	cr_assert_eq(ipcx_topic_peek(s, 0, &q, &len, NULL), 0);
	cr_expect_eq(len, 1);
	cr_assert_eq(ipcx_topic_release(s), 0);
	ipcx_topic_close(p);
}

IPCX_TEST(topic, late_subscriber_start)
{
	ipcx_topic *p = mk("t", 0, 0, 0), *a = op("t"), *b = op("t"), *c = op("t");
	int v;

	cr_assert_eq(ipcx_topic_subscribe(c, 0), 0); /* nothing published yet: the next one */
	for (int i = 1; i <= 5; i++)
		cr_assert_eq(ipcx_topic_publish(p, &i, sizeof(i), 0), 0);
	cr_assert_eq(ipcx_topic_subscribe(a, 0), 0);
	cr_assert_eq(ipcx_topic_subscribe(b, IPCX_TOPIC_FROM_OLDEST), 0);
	cr_assert_eq(ipcx_topic_recv(a, &v, sizeof(v), 0, NULL), sizeof(v));
	cr_expect_eq(v, 5, "newest");
	cr_assert_eq(ipcx_topic_recv(b, &v, sizeof(v), 0, NULL), sizeof(v));
	cr_expect_eq(v, 1, "oldest");
	cr_assert_eq(ipcx_topic_recv(c, &v, sizeof(v), 0, NULL), sizeof(v));
	cr_expect_eq(v, 1, "subscribed before the first");
	v = 6;
	cr_assert_eq(ipcx_topic_publish(p, &v, sizeof(v), 0), 0);
	cr_assert_eq(ipcx_topic_recv(a, &v, sizeof(v), 0, NULL), sizeof(v));
	cr_expect_eq(v, 6);
	cr_assert_eq(ipcx_topic_recv(b, &v, sizeof(v), 0, NULL), sizeof(v));
	cr_expect_eq(v, 2);
	ipcx_topic_close(a);
	ipcx_topic_close(b);
	ipcx_topic_close(c);
	ipcx_topic_close(p);
}

IPCX_TEST(topic, lossy_overflow_reports_missed)
{
	ipcx_topic *p = mk("t", 4096, 100, 0), *s = op("t");
	struct ipcx_topic_stats st;
	uint64_t missed, total = 0;
	uint32_t v, expect;
	ssize_t n;

	cr_assert_eq(ipcx_topic_subscribe(s, 0), 0);
	/* 1000 messages into a buffer that holds about a hundred: publishers never wait. */
	for (v = 0; v < 1000; v++)
		cr_assert_eq(ipcx_topic_publish(p, &v, sizeof(v), 0), 0);
	cr_assert_eq(ipcx_topic_stats(p, &st, NULL, 0), 1);
	cr_expect_eq(st.published, 1000);
	n = ipcx_topic_recv(s, &v, sizeof(v), 0, &missed);
	cr_assert_eq(n, sizeof(v));
	cr_expect_gt(missed, 800);
	cr_expect_eq(v, missed, "goes on from the oldest kept: missed %lu, got %u",
	             (unsigned long)missed, v);
	cr_expect_eq(st.retained, 1000 - v, "the buffer held what was not missed");
	/* Then every later one in order, none missed. */
	expect = v + 1;
	total = missed + 1;
	while ((n = ipcx_topic_recv(s, &v, sizeof(v), 0, &missed)) > 0) {
		cr_assert_eq(missed, 0);
		cr_assert_eq(v, expect);
		expect++;
		total++;
	}
	cr_expect_eq(n, -EAGAIN);
	cr_expect_eq(total, 1000);
	ipcx_topic_close(s);
	ipcx_topic_close(p);
}

IPCX_TEST(topic, lossy_peek_overwritten_is_stale)
{
	ipcx_topic *p = mk("t", 4096, 100, 0), *s = op("t");
	const void *q;
	uint64_t missed;
	size_t len;
	uint32_t v = 1;

	cr_assert_eq(ipcx_topic_subscribe(s, 0), 0);
	cr_assert_eq(ipcx_topic_publish(p, &v, sizeof(v), 0), 0);
	cr_assert_eq(ipcx_topic_peek(s, 0, &q, &len, &missed), 0);
	for (v = 2; v < 500; v++)
		cr_assert_eq(ipcx_topic_publish(p, &v, sizeof(v), 0), 0);
	cr_expect_eq(ipcx_topic_release(s), -ESTALE);
	cr_assert_eq(ipcx_topic_recv(s, &v, sizeof(v), 0, &missed), sizeof(v));
	cr_expect_eq(v - 1, missed, "the stale one and the overwritten ones count as missed");
	ipcx_topic_close(s);
	ipcx_topic_close(p);
}

/* ---- 64 subscriber processes ---- */
#define NSUBS 64
#define NMSG 3000

struct fan {
	struct test_barrier *ready;
	_Atomic uint32_t got[NSUBS], missed[NSUBS], bad[NSUBS];
};
static struct fan *fan;

static int fan_sub(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	ipcx_topic *t = op("fan");
	uint64_t missed;
	uint32_t m[8], expect = 0;

	ipcx_topic_set_wait(t, IPCX_WAIT_SLEEP);
	if (ipcx_topic_subscribe(t, 0) < 0)
		return 1;
	test_barrier_wait(fan->ready);
	while (expect < NMSG) {
		ssize_t n = ipcx_topic_recv(t, m, sizeof(m), 20000000000ll, &missed);
		if (n < 0)
			return 2;
		expect += (uint32_t)missed;
		atomic_fetch_add(&fan->missed[id], (uint32_t)missed);
		if (n != sizeof(m) || m[0] != expect || m[7] != expect * 7)
			atomic_fetch_add(&fan->bad[id], 1);
		expect = m[0] + 1;
		atomic_fetch_add(&fan->got[id], 1);
	}
	ipcx_topic_close(t);
	return 0;
}

static void fan_out(unsigned flags)
{
	ipcx_topic *p = mk("fan", 1 << 16, 64, flags);
	struct ipcx_topic_stats st;
	pid_t pid[NSUBS];
	uint32_t m[8];

	fan = test_shared_alloc(sizeof(*fan));
	fan->ready = test_barrier_new(NSUBS + 1);
	for (unsigned i = 0; i < NSUBS; i++)
		pid[i] = test_fork(fan_sub, (void *)(uintptr_t)i);
	test_barrier_wait(fan->ready);
	cr_assert_eq(ipcx_topic_stats(p, &st, NULL, 0), NSUBS);
	cr_expect_eq(st.subscribers, NSUBS);
	for (uint32_t i = 0; i < NMSG; i++) {
		for (int k = 0; k < 8; k++)
			m[k] = i * (uint32_t)k;
		m[0] = i;
		cr_assert_eq(ipcx_topic_publish(p, m, sizeof(m), 20000000000ll), 0);
	}
	for (unsigned i = 0; i < NSUBS; i++) {
		cr_expect_eq(test_wait(pid[i]), 0);
		cr_expect_eq(atomic_load(&fan->bad[i]), 0, "subscriber %u out of order", i);
		cr_expect_eq(atomic_load(&fan->got[i]) + atomic_load(&fan->missed[i]), NMSG);
		if (flags & IPCX_TOPIC_RELIABLE)
			cr_expect_eq(atomic_load(&fan->missed[i]), 0);
	}
	ipcx_topic_close(p);
}

IPCX_TEST(topic, sixty_four_subscribers_reliable, .timeout = 120)
{
	fan_out(IPCX_TOPIC_RELIABLE);
}

IPCX_TEST(topic, sixty_four_subscribers_lossy, .timeout = 120)
{
	fan_out(0);
}

/* ---- reliable: the slowest holds publishers back, until it dies ---- */
struct slow {
	_Atomic uint32_t subscribed, published;
};
static struct slow *slow;

static int slow_sub(void *arg)
{
	ipcx_topic *t = op("r");

	(void)arg;
	if (ipcx_topic_subscribe(t, 0) < 0)
		return 1;
	atomic_store(&slow->subscribed, 1);
	pause(); /* never reads */
	return 0;
}

static int blocked_pub(void *arg)
{
	ipcx_topic *t = op("r");
	uint32_t v = 12345;

	(void)arg;
	if (ipcx_topic_publish(t, &v, sizeof(v), -1) < 0)
		return 1;
	atomic_store(&slow->published, 1);
	return 0;
}

IPCX_TEST(topic, reliable_blocks_until_slow_subscriber_dies)
{
	ipcx_topic *p = mk("r", 4096, 100, IPCX_TOPIC_RELIABLE), *fast = op("r");
	struct ipcx_topic_stats st;
	pid_t sub, pub;
	uint32_t v;
	int n = 0;

	slow = test_shared_alloc(sizeof(*slow));
	sub = test_fork(slow_sub, NULL);
	while (!atomic_load(&slow->subscribed))
		usleep(1000);
	cr_assert_eq(ipcx_topic_subscribe(fast, 0), 0);
	for (v = 0; ipcx_topic_publish(p, &v, sizeof(v), 0) == 0; v++)
		n++;
	cr_expect_gt(n, 50);
	cr_expect_eq(ipcx_topic_publish(p, &v, sizeof(v), 20000000), -ETIMEDOUT);
	/* The fast subscriber reads everything; the slow one still holds the buffer. */
	while (ipcx_topic_recv(fast, &v, sizeof(v), 0, NULL) > 0)
		;
	cr_expect_eq(ipcx_topic_publish(p, &v, sizeof(v), 0), -EAGAIN);
	pub = test_fork(blocked_pub, NULL);
	usleep(100000);
	cr_expect_eq(atomic_load(&slow->published), 0, "must wait for the slow subscriber");
	test_kill(sub);
	cr_expect_eq(test_wait(pub), 0);
	cr_expect_eq(atomic_load(&slow->published), 1);
	cr_assert_eq(ipcx_topic_recv(fast, &v, sizeof(v), 1000000000, NULL), sizeof(v));
	cr_expect_eq(v, 12345);
	cr_assert_geq(ipcx_topic_stats(p, &st, NULL, 0), 0);
	cr_expect_eq(st.dropped_subscribers, 1, "dropped %lu",
	             (unsigned long)st.dropped_subscribers);
	cr_expect_eq(st.subscribers, 1, "%u subscribers", st.subscribers);
	ipcx_topic_close(fast);
	ipcx_topic_close(p);
}

/* ---- a publisher that dies holding a loan ---- */
static int loan_and_hang(void *arg)
{
	ipcx_topic *t = op("d");
	void *w;

	(void)arg;
	if (ipcx_topic_loan(t, 50, -1, &w) < 0)
		return 1;
	memset(w, 'X', 20);
	atomic_store(&slow->subscribed, 1);
	pause();
	return 0;
}

IPCX_TEST(topic, publisher_killed_holding_loan)
{
	ipcx_topic *p = mk("d", 4096, 100, 0), *s = op("d");
	char buf[100];
	pid_t pid;

	slow = test_shared_alloc(sizeof(*slow));
	cr_assert_eq(ipcx_topic_subscribe(s, 0), 0);
	pid = test_fork(loan_and_hang, NULL);
	while (!atomic_load(&slow->subscribed))
		usleep(1000);
	cr_assert_eq(ipcx_topic_publish(p, "after", 5, 0), 0);
	cr_expect_eq(ipcx_topic_recv(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
	test_kill(pid);
	cr_assert_eq(ipcx_topic_recv(s, buf, sizeof(buf), 2000000000, NULL), 5);
	cr_expect(memcmp(buf, "after", 5) == 0);
	/* The ring goes round past the dead loan. */
	for (int i = 0; i < 500; i++)
		cr_assert_eq(ipcx_topic_publish(p, buf, 50, 0), 0);
	ipcx_topic_close(s);
	ipcx_topic_close(p);
}

static int blocked_sub(void *arg)
{
	ipcx_topic *t = op("g");
	char b[8];

	(void)arg;
	if (ipcx_topic_subscribe(t, 0) < 0)
		return 1;
	return ipcx_topic_recv(t, b, sizeof(b), -1, NULL) == -EIDRM ? 0 : 2;
}

IPCX_TEST(topic, unlink_wakes_with_eidrm)
{
	ipcx_topic *p = mk("g", 0, 0, 0);
	pid_t pid = test_fork(blocked_sub, NULL);
	struct ipcx_topic_stats st;

	/* Remove it only once the subscriber is in: before that its open would fail instead. */
	for (int i = 0; i < 10000 && ipcx_topic_stats(p, &st, NULL, 0) < 1; i++)
		usleep(1000);
	cr_assert_geq(ipcx_topic_stats(p, &st, NULL, 0), 1, "the subscriber never subscribed");
	usleep(20000); /* most likely asleep in recv by now; if not, recv sees the removal */
	cr_assert_eq(ipcx_unlink("g"), 0);
	cr_expect_eq(test_wait(pid), 0);
	ipcx_topic_close(p);
}
