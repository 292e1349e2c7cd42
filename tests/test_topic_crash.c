/* SPDX-License-Identifier: MIT */
/*
 * Topics under crashes: publishers and subscribers killed at random while every message is
 * checked, and a hostile peer scribbling over a live topic.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/sys.h"
#include "internal/topic.h"

#define MAX_PUBS 1024
#define NPUBS 2
#define NSUBS 3

struct msg {
	uint32_t pub, seq, len, sum;
	uint8_t body[1000];
};

struct shared {
	_Atomic uint32_t bad, order, gaps, missed_reliable, received;
	_Atomic uint32_t stop;
};
static struct shared *sh;

static uint32_t sum_of(const uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static ipcx_topic *op(void)
{
	ipcx_topic *t = NULL;

	if (ipcx_topic_open("s", 0, 0, NULL, &t) < 0)
		_exit(99);
	return t;
}

static int publisher(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	ipcx_topic *t = op();
	struct msg m, *p;
	void *w;
	int r;

	srand(id * 31u + (unsigned)getpid());
	for (uint32_t s = 0; !atomic_load(&sh->stop); s++) {
		uint32_t len = (uint32_t)rand() % (rand() % 8 ? 100 : sizeof(m.body));
		if (s & 1) {
			r = ipcx_topic_loan(t, 16 + len, 100000000, &w);
			if (r == 0) {
				p = w; /* made in place, slowly: kills land inside loans */
				p->pub = id;
				p->seq = s;
				p->len = len;
				for (uint32_t i = 0; i < len; i++)
					p->body[i] = (uint8_t)rand();
				p->sum = sum_of(p->body, len, s);
				r = ipcx_topic_commit(t);
			}
		} else {
			m.pub = id;
			m.seq = s;
			m.len = len;
			for (uint32_t i = 0; i < len; i++)
				m.body[i] = (uint8_t)rand();
			m.sum = sum_of(m.body, len, s);
			r = ipcx_topic_publish(t, &m, 16 + len, 100000000);
		}
		if (r == -ETIMEDOUT) {
			s--;
			continue;
		}
		if (r < 0)
			return 1;
	}
	ipcx_topic_close(t);
	return 0;
}

static int subscriber(void *arg)
{
	bool reliable = (uintptr_t)arg;
	ipcx_topic *t = op();
	static int64_t last[MAX_PUBS];
	struct msg m;
	uint64_t missed;

	for (int i = 0; i < MAX_PUBS; i++)
		last[i] = -1;
	if (ipcx_topic_subscribe(t, rand() % 2 ? IPCX_TOPIC_FROM_OLDEST : 0) < 0)
		return 1;
	while (!atomic_load(&sh->stop)) {
		ssize_t n = ipcx_topic_recv(t, &m, sizeof(m), 20000000, &missed);
		if (n == -ETIMEDOUT)
			continue;
		if (n < 0)
			return 2;
		if (reliable && missed)
			atomic_fetch_add(&sh->missed_reliable, 1);
		if (n < 16 || m.pub >= MAX_PUBS || n != 16 + (ssize_t)m.len ||
		    m.sum != sum_of(m.body, m.len, m.seq)) {
			atomic_fetch_add(&sh->bad, 1);
			continue;
		}
		if ((int64_t)m.seq <= last[m.pub])
			atomic_fetch_add(&sh->order, 1);
		/* Reliable: nothing lost, so a publisher's numbers follow each other. */
		if (reliable && last[m.pub] >= 0 && (int64_t)m.seq != last[m.pub] + 1)
			atomic_fetch_add(&sh->gaps, 1);
		last[m.pub] = m.seq;
		atomic_fetch_add(&sh->received, 1);
	}
	ipcx_topic_close(t);
	return 0;
}

static void stress(unsigned flags)
{
	const char *env = getenv("IPCX_STRESS_SECONDS");
	double seconds = env ? atof(env) : 2.0;
	struct ipcx_topic_attr a = {1 << 15, 1100, flags};
	uintptr_t reliable = !!(flags & IPCX_TOPIC_RELIABLE);
	pid_t pub[NPUBS], sub[NSUBS];
	uint32_t next = 0, kills = 0;
	struct ipcx_topic_stats st;
	ipcx_topic *t;
	int64_t end;

	sh = test_shared_alloc(sizeof(*sh));
	srand((unsigned)time(NULL));
	cr_assert_geq(ipcx_topic_open("s", IPCX_CREATE, 0, &a, &t), 0);
	for (int i = 0; i < NSUBS; i++)
		sub[i] = test_fork(subscriber, (void *)reliable);
	for (int i = 0; i < NPUBS; i++)
		pub[i] = test_fork(publisher, (void *)(uintptr_t)next++);
	end = ipcx__now_ns() + (int64_t)(seconds * 1e9);
	while (ipcx__now_ns() < end && next < MAX_PUBS) {
		int who = rand() % (NPUBS + NSUBS);
		usleep(10000 + (unsigned)(rand() % 40000));
		kills++;
		if (who < NPUBS) {
			test_kill(pub[who]);
			pub[who] = test_fork(publisher, (void *)(uintptr_t)next++);
		} else {
			test_kill(sub[who - NPUBS]);
			sub[who - NPUBS] = test_fork(subscriber, (void *)reliable);
		}
	}
	/* On a loaded machine the timed part may have done little: go on, without kills,
	 * until enough was received for the checks below to mean something (the test's
	 * timeout bounds this wait, not a guess of the machine's speed). */
	while (atomic_load(&sh->received) <= 1000)
		usleep(1000);
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < NPUBS; i++)
		cr_expect_eq(test_wait(pub[i]), 0, "publisher exit");
	for (int i = 0; i < NSUBS; i++)
		cr_expect_eq(test_wait(sub[i]), 0, "subscriber exit");
	cr_assert_geq(ipcx_topic_stats(t, &st, NULL, 0), 0);
	cr_log_info("topic stress (%s): %u kills, %lu published, %u received, %lu dead "
	            "subscribers dropped",
	            reliable ? "reliable" : "lossy", kills, (unsigned long)st.published,
	            atomic_load(&sh->received), (unsigned long)st.dropped_subscribers);
	cr_expect_eq(atomic_load(&sh->bad), 0, "torn or corrupt messages");
	cr_expect_eq(atomic_load(&sh->order), 0, "out of order");
	cr_expect_eq(atomic_load(&sh->gaps), 0, "lost in a reliable topic");
	cr_expect_eq(atomic_load(&sh->missed_reliable), 0);
	cr_expect_gt(atomic_load(&sh->received), 1000);
	ipcx_topic_close(t);
}

IPCX_TEST(topic_crash, stress_reliable_random_kills, .timeout = 120)
{
	stress(IPCX_TOPIC_RELIABLE);
}

IPCX_TEST(topic_crash, stress_lossy_random_kills, .timeout = 120)
{
	stress(0);
}

IPCX_TEST(topic_crash, hostile_scribbles, .timeout = 120)
{
	struct ipcx_topic_attr a = {8192, 600, 0};
	uint64_t fields[] = {
	        offsetof(struct topic_body, lock),     offsetof(struct topic_body, reserve),
	        offsetof(struct topic_body, tail),     offsetof(struct topic_body, last),
	        offsetof(struct topic_body, next_seq), offsetof(struct topic_body, active_mask),
	        offsetof(struct topic_body, slots) + 8};
	unsigned seed = (unsigned)time(NULL);
	ipcx_topic *t = NULL, *s = NULL;
	uint8_t buf[700], msg[700];
	const void *p;
	size_t len;
	void *w;

	srand(seed);
	cr_log_info("seed %u", seed);
	memset(msg, 'x', sizeof(msg));
	for (int round = 0; round < 2; round++) {
		a.flags = round ? IPCX_TOPIC_RELIABLE : 0;
		ipcx_unlink("h");
		cr_assert_eq(ipcx_topic_open("h", IPCX_CREATE, 0, &a, &t), 1);
		cr_assert_eq(ipcx_topic_open("h", 0, 0, NULL, &s), 0);
		ipcx_topic_subscribe(s, 0);
		for (int i = 0; i < 10000; i++) {
			switch (rand() % 5) {
			case 0:
				ipcx_topic_publish(t, msg, (size_t)rand() % 601, 0);
				break;
			case 1:
				ipcx_topic_recv(s, buf, (size_t)rand() % 700, 0, NULL);
				break;
			case 2:
				len = (size_t)rand() % 601;
				if (ipcx_topic_loan(t, len, 0, &w) == 0) {
					cr_assert((uint8_t *)w >= t->data &&
					          (uint8_t *)w + len <= t->data + t->cap);
					memset(w, 'l', len);
					ipcx_topic_commit(t);
				}
				break;
			case 3:
				if (ipcx_topic_peek(s, 0, &p, &len, NULL) == 0) {
					cr_assert((const uint8_t *)p >= s->data &&
					          (const uint8_t *)p + len <= s->data + s->cap);
					ipcx_topic_release(s);
				}
				break;
			default: {
				struct ipcx_topic_stats st;
				struct ipcx_topic_sub subs[4];
				ipcx_topic_stats(t, &st, subs, 4);
				break;
			}
			}
			for (int k = rand() % 3; k > 0; k--) {
				uint64_t v = (uint64_t)rand() << 32 | (uint64_t)rand();
				if (rand() % 2) {
					uint64_t off =
					        (uint64_t)rand() % (TOPIC_DATA_OFFSET + t->cap - 8);
					memcpy((uint8_t *)t->b + off, &v, (size_t)rand() % 8 + 1);
				} else {
					if (rand() % 2)
						v = atomic_load(&t->b->reserve) +
						    (uint64_t)(rand() % 64 - 32) * 32;
					memcpy((uint8_t *)t->b + fields[rand() % 7], &v, 8);
				}
			}
			if (rand() % 40 == 0) {
				uint64_t v = atomic_load(&t->b->reserve) & ~31ull;
				atomic_store(&t->b->tail, v);
				atomic_store(&t->b->reserve, v);
				atomic_store(&t->b->lock, 0);
			}
		}
		ipcx_topic_close(s);
		ipcx_topic_close(t);
	}
}
