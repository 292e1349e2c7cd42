/* SPDX-License-Identifier: MIT */
/* Wait-sets: many members across processes, several ready at once, timeouts, removal, a
 * waiter killed while it sleeps, every kind as a member. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/chan.h"

#define T 10000000000ll /* 10 s: bounds waits that must end long before */

static ipcx_event *open_ev(const char *name)
{
	ipcx_event *ev = NULL;
	int r = ipcx_event_open(name, IPCX_CREATE, 0, &ev);

	cr_assert(r >= 0, "open %s: %s", name, ipcx_errname(r));
	return ev;
}

static ipcx_chan *open_chan(const char *name)
{
	ipcx_chan *c = NULL;
	int r = ipcx_chan_open(name, IPCX_CREATE, 0, NULL, &c);

	cr_assert(r >= 0, "open %s: %s", name, ipcx_errname(r));
	return c;
}

/* The set of cookies (member numbers + 1) seen, as bits. */
struct seen {
	uint64_t bits[4];
};

static int wait_into(ipcx_waitset *ws, struct seen *s, int64_t timeout)
{
	struct ipcx_waitset_ready rd[256];
	int k = ipcx_waitset_wait(ws, rd, 256, timeout);

	for (int i = 0; i < k; i++) {
		uintptr_t c = (uintptr_t)rd[i].cookie - 1;
		cr_assert(c < 256);
		cr_assert_eq(rd[i].status, 0);
		s->bits[c / 64] |= 1ull << (c % 64);
	}
	return k;
}

struct many {
	int n;
	int a, b;
	struct test_barrier *bar;
};

static int set_two(void *arg)
{
	struct many *m = arg;
	char name[32];
	ipcx_event *x = NULL, *y = NULL;

	snprintf(name, sizeof(name), "ev%d", m->a);
	if (ipcx_event_open(name, 0, 0, &x) < 0)
		return 1;
	snprintf(name, sizeof(name), "ev%d", m->b);
	if (ipcx_event_open(name, 0, 0, &y) < 0)
		return 1;
	test_barrier_wait(m->bar);
	usleep(50000); /* let the parent fall asleep */
	ipcx_event_set(x);
	ipcx_event_set(y);
	ipcx_event_close(x);
	ipcx_event_close(y);
	return 0;
}

/* n members; another process sets two of them back to back; both are reported. */
static void many_members(int n)
{
	ipcx_event *ev[256];
	ipcx_waitset *ws;
	struct seen s = {{0}};
	struct many m = {n, 17, n - 3, test_barrier_new(2)};
	char name[32];
	pid_t pid;

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "ev%d", i);
		ev[i] = open_ev(name);
		cr_assert_eq(ipcx_waitset_add_event(ws, ev[i], (void *)(uintptr_t)(i + 1)), i);
	}
	cr_assert_eq(ipcx_waitset_size(ws), n);
	cr_assert_eq(wait_into(ws, &s, 0), -EAGAIN);
	pid = test_fork(set_two, &m);
	test_barrier_wait(m.bar);
	while (!((s.bits[m.a / 64] >> (m.a % 64)) & 1) || !((s.bits[m.b / 64] >> (m.b % 64)) & 1))
		cr_assert_gt(wait_into(ws, &s, T), 0);
	/* Nothing else was reported, and both stay ready (set) until reset. */
	for (int i = 0; i < n; i++)
		cr_assert_eq((s.bits[i / 64] >> (i % 64)) & 1, i == m.a || i == m.b, "member %d",
		             i);
	cr_assert_eq(test_wait(pid), 0);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(wait_into(ws, &s, 0), 2);
	ipcx_event_reset(ev[m.a]);
	ipcx_event_reset(ev[m.b]);
	cr_assert_eq(wait_into(ws, &s, 0), -EAGAIN);
	ipcx_waitset_destroy(ws);
	for (int i = 0; i < n; i++)
		ipcx_event_close(ev[i]);
}

IPCX_TEST(waitset, many_members_futex)
{
	many_members(100);
}

IPCX_TEST(waitset, many_members_beyond_futex_limit)
{
	/* More than futex_waitv takes: the wait sleeps on the descriptor instead. */
	many_members(200);
}

IPCX_TEST(waitset, timeout_and_try)
{
	ipcx_event *ev = open_ev("e");
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[4];

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), -EINVAL, "empty");
	cr_assert_eq(ipcx_waitset_add_event(ws, ev, (void *)7), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), -EAGAIN);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 20000000), -ETIMEDOUT);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 0, 0), -EINVAL);
	/* A pulse while nobody waits is remembered by the member until reported. */
	ipcx_event_pulse(ev);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), 1);
	cr_assert_eq(rd[0].cookie, (void *)7);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), -EAGAIN);
	cr_assert_eq(ipcx_waitset_remove(ws, ev), 1);
	cr_assert_eq(ipcx_waitset_remove(ws, ev), -ENOENT);
	ipcx_waitset_destroy(ws);
	ipcx_event_close(ev);
}

static int unlink_later(void *arg)
{
	usleep(50000);
	return ipcx_unlink(arg) == 0 ? 0 : 1;
}

IPCX_TEST(waitset, removal_reports_eidrm)
{
	ipcx_event *ev = open_ev("e");
	ipcx_chan *c = open_chan("c");
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[4];
	pid_t pid;
	int k;

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_add_event(ws, ev, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_add_chan(ws, c, (void *)2), 1);
	pid = test_fork(unlink_later, "c");
	k = ipcx_waitset_wait(ws, rd, 4, T);
	cr_assert_eq(k, 1);
	cr_assert_eq(rd[0].cookie, (void *)2);
	cr_assert_eq(rd[0].status, -EIDRM);
	cr_assert_eq(test_wait(pid), 0);
	cr_assert_eq(ipcx_chan_recv(c, NULL, 0, 0), -EIDRM, "consistent with the call");
	ipcx_waitset_destroy(ws);
	ipcx_chan_close(c);
	ipcx_event_close(ev);
}

static int waitset_sleeper(void *arg)
{
	ipcx_event *ev = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];

	(void)arg;
	if (ipcx_event_open("e", 0, 0, &ev) < 0 || ipcx_waitset_create(&ws) < 0 ||
	    ipcx_waitset_add_event(ws, ev, NULL) < 0)
		return 1;
	ipcx_waitset_set_wait(ws, IPCX_WAIT_SLEEP);
	ipcx_waitset_wait(ws, rd, 1, IPCX_FOREVER);
	return 2; /* never: it is killed while asleep */
}

static int waitset_waiter(void *arg)
{
	ipcx_event *ev = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];

	(void)arg;
	if (ipcx_event_open("e", 0, 0, &ev) < 0 || ipcx_waitset_create(&ws) < 0 ||
	    ipcx_waitset_add_event(ws, ev, (void *)5) < 0)
		return 1;
	if (ipcx_waitset_wait(ws, rd, 1, T) != 1 || rd[0].cookie != (void *)5)
		return 3;
	return 0;
}

IPCX_TEST(waitset, killed_sleeper_breaks_nothing)
{
	ipcx_event *ev = open_ev("e");
	struct ipcx_event_state st;
	pid_t dead, live;

	dead = test_fork(waitset_sleeper, NULL);
	usleep(100000); /* asleep in futex_waitv by now (or still spinning: either way) */
	test_kill(dead);
	live = test_fork(waitset_waiter, NULL);
	usleep(50000);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(test_wait(live), 0);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert(st.set);
	ipcx_event_close(ev);
}

static int writer(void *arg)
{
	ipcx_region *r = NULL;
	ipcx_semset *s = NULL;
	ipcx_topic *t = NULL;
	int which = *(int *)arg;

	usleep(50000);
	switch (which) {
	case 0:
		if (ipcx_region_open("r", 0, 0, 0, &r) < 0)
			return 1;
		return ipcx_region_write(r, 0, "x", 1, T) == 0 ? 0 : 2;
	case 1:
		if (ipcx_semset_open("s", 0, 0, 0, 0, &s) < 0)
			return 1;
		return ipcx_semset_op(s, &(struct ipcx_sembuf){1, 2, 0}, 1, T) == 0 ? 0 : 2;
	default:
		if (ipcx_topic_open("t", 0, 0, NULL, &t) < 0)
			return 1;
		return ipcx_topic_publish(t, "m", 1, T) == 0 ? 0 : 2;
	}
}

IPCX_TEST(waitset, region_semset_topic_members)
{
	ipcx_region *r = NULL;
	ipcx_semset *s = NULL;
	ipcx_topic *t = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[4];
	struct ipcx_sembuf take2 = {1, -2, 0};
	uint64_t v = 0;
	char buf[8];
	int which;

	cr_assert_geq(ipcx_region_open("r", IPCX_CREATE, 0, 64, &r), 0);
	cr_assert_geq(ipcx_semset_open("s", IPCX_CREATE, 0, 4, 0, &s), 0);
	cr_assert_geq(ipcx_topic_open("t", IPCX_CREATE, 0, NULL, &t), 0);
	cr_assert_eq(ipcx_topic_subscribe(t, 0), 0);
	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_add_region(ws, r, 0, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_add_semset(ws, s, &take2, 1, (void *)2), 1);
	cr_assert_eq(ipcx_waitset_add_topic(ws, t, (void *)3), 2);
	cr_assert_eq(ipcx_waitset_add_semset(ws, s, &(struct ipcx_sembuf){9, -1, 0}, 1, NULL),
	             -EFBIG);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), -EAGAIN);

	for (which = 0; which < 3; which++) {
		pid_t pid = test_fork(writer, &which);
		int k = ipcx_waitset_wait(ws, rd, 4, T);

		cr_assert_eq(k, 1, "writer %d: %d", which, k);
		cr_assert_eq(rd[0].cookie, (void *)(uintptr_t)(which + 1), "writer %d: %p", which,
		             rd[0].cookie);
		cr_assert_eq(rd[0].status, 0);
		cr_assert_eq(test_wait(pid), 0);
		/* Still ready until consumed, but for the region: its version was taken. */
		cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), which == 0 ? -EAGAIN : 1);
		if (which == 1)
			cr_assert_eq(ipcx_semset_op(s, &take2, 1, 0), 0);
		if (which == 2)
			cr_assert_eq(ipcx_topic_recv(t, buf, sizeof(buf), 0, NULL), 1);
		cr_assert_eq(ipcx_waitset_wait(ws, rd, 4, 0), -EAGAIN);
	}
	cr_assert_eq(ipcx_region_wait_change(r, 0, 0, &v), 0);
	cr_assert_eq(v, 1);
	ipcx_waitset_destroy(ws);
	ipcx_topic_close(t);
	ipcx_semset_close(s);
	ipcx_region_close(r);
}

static int send_later(void *arg)
{
	ipcx_chan *c = NULL;

	usleep(50000);
	if (ipcx_chan_open(arg, 0, 0, NULL, &c) < 0)
		return 1;
	return ipcx_chan_send(c, "hi", 2, T) == 0 ? 0 : 2;
}

IPCX_TEST(waitset, chan_member_across_processes)
{
	ipcx_chan *c = open_chan("c");
	ipcx_event *ev = open_ev("e");
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[2];
	char buf[4];

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_set_wait(ws, IPCX_WAIT_SLEEP), 0);
	cr_assert_eq(ipcx_waitset_add_event(ws, ev, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_add_chan(ws, c, (void *)2), 1);
	for (int round = 0; round < 3; round++) {
		pid_t pid = test_fork(send_later, "c");

		cr_assert_eq(ipcx_waitset_wait(ws, rd, 2, T), 1);
		cr_assert_eq(rd[0].cookie, (void *)2);
		cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 2);
		cr_assert_eq(ipcx_waitset_wait(ws, rd, 2, 0), -EAGAIN);
		cr_assert_eq(test_wait(pid), 0);
	}
	ipcx_waitset_destroy(ws);
	ipcx_event_close(ev);
	ipcx_chan_close(c);
}

static int use_inherited(void *arg)
{
	struct ipcx_waitset_ready rd[1];

	return ipcx_waitset_wait(arg, rd, 1, 0) == -ECHILD && ipcx_waitset_fd(arg) == -ECHILD ? 0
	                                                                                      : 1;
}

IPCX_TEST(waitset, forked_copy_is_not_the_childs)
{
	ipcx_event *ev = open_ev("e");
	ipcx_waitset *ws;

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_add_event(ws, ev, NULL), 0);
	cr_assert_eq(test_wait(test_fork(use_inherited, ws)), 0);
	ipcx_waitset_destroy(ws);
	ipcx_event_close(ev);
}

struct reserver {
	_Atomic int reserved;
};

static int reserve_and_hang(void *arg)
{
	struct reserver *r = arg;
	ipcx_chan *c = NULL;
	ipcx_topic *t = NULL;
	void *p;

	if (r->reserved == -1) {
		if (ipcx_topic_open("t", 0, 0, NULL, &t) < 0 || ipcx_topic_loan(t, 8, 0, &p) < 0)
			return 1;
	} else if (ipcx_chan_open("c", 0, 0, NULL, &c) < 0 || ipcx_chan_reserve(c, 8, 0, &p) < 0) {
		return 1;
	}
	atomic_store(&r->reserved, 1);
	for (;;)
		pause();
}

/* A message committed behind a record reserved by a sender that then dies is reported, as
 * a blocked receive would find it, whether or not anything is sent afterwards. */
IPCX_TEST(waitset, chan_behind_dead_senders_reservation)
{
	ipcx_chan *c = open_chan("c");
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];
	struct reserver *r = test_shared_alloc(sizeof(*r));
	char buf[4];
	pid_t pid = test_fork(reserve_and_hang, r);

	while (!atomic_load(&r->reserved))
		usleep(1000);
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_add_chan(ws, c, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, 0), -EAGAIN, "behind a live sender's record");
	test_kill(pid);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, T), 1);
	cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1);
	ipcx_waitset_destroy(ws);
	ipcx_chan_close(c);
}

IPCX_TEST(waitset, topic_behind_dead_publishers_loan)
{
	ipcx_topic *t = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];
	struct reserver *r = test_shared_alloc(sizeof(*r));
	char buf[4];
	pid_t pid;

	cr_assert_geq(ipcx_topic_open("t", IPCX_CREATE, 0, NULL, &t), 0);
	cr_assert_eq(ipcx_topic_subscribe(t, 0), 0);
	r->reserved = -1;
	pid = test_fork(reserve_and_hang, r);
	while (atomic_load(&r->reserved) != 1)
		usleep(1000);
	cr_assert_eq(ipcx_topic_publish(t, "m", 1, 0), 0);
	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_add_topic(ws, t, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, 0), -EAGAIN, "behind a live publisher's loan");
	test_kill(pid);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, T), 1);
	cr_assert_eq(ipcx_topic_recv(t, buf, sizeof(buf), 0, NULL), 1);
	ipcx_waitset_destroy(ws);
	ipcx_topic_close(t);
}

static int blocked_receiver(void *arg)
{
	ipcx_chan *c = NULL;
	char buf[4];

	(void)arg;
	if (ipcx_chan_open("c", 0, 0, NULL, &c) < 0 || ipcx_chan_set_wait(c, IPCX_WAIT_SLEEP) < 0)
		return 1;
	/* Bounded so that a lost wake-up fails the test instead of hanging it. */
	return ipcx_chan_recv(c, buf, sizeof(buf), 5000000000ll) == 1 ? 0 : 2;
}

static int waitset_on_chan(void *arg)
{
	ipcx_chan *c = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];

	(void)arg;
	if (ipcx_chan_open("c", 0, 0, NULL, &c) < 0 || ipcx_waitset_create(&ws) < 0 ||
	    ipcx_waitset_set_wait(ws, IPCX_WAIT_SLEEP) < 0 ||
	    ipcx_waitset_add_chan(ws, c, NULL) < 0)
		return 1;
	/* Woken by the send; the receiver may have taken the message by then, so either
	 * result is right. */
	ipcx_waitset_wait(ws, rd, 1, 2000000000ll);
	return 0;
}

/*
 * A channel wakes one receiver per message. A wait-set asleep on it (first in the futex's
 * queue) must not take that one wake-up from a blocked receiver: wait-sets are woken by
 * every wake-up, in addition to the one receiver.
 */
IPCX_TEST(waitset, chan_send_still_wakes_blocked_receiver)
{
	ipcx_chan *c = open_chan("c");
	pid_t ws, rx;

	ws = test_fork(waitset_on_chan, NULL);
	for (int i = 0; i < 5000 && atomic_load(&c->b->data_sleepers) == 0; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&c->b->data_sleepers), 1u << 10, "the wait-set sleeps");
	rx = test_fork(blocked_receiver, NULL);
	for (int i = 0; i < 5000 && atomic_load(&c->b->data_sleepers) == 1u << 10; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&c->b->data_sleepers), (1u << 10) + 1, "and the receiver too");
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert_eq(test_wait(rx), 0, "the blocked receiver was not woken");
	cr_assert_eq(test_wait(ws), 0);
	ipcx_chan_close(c);
}

static int take_with_undo_and_hang(void *arg)
{
	struct reserver *r = arg;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open("s", 0, 0, 0, 0, &s) < 0 ||
	    ipcx_semset_op(s, &(struct ipcx_sembuf){0, -1, IPCX_SEM_UNDO}, 1, 0) < 0)
		return 1;
	atomic_store(&r->reserved, 1);
	/* Dies while the parent's wait-set sleeps; _exit skips the UNDO that exit would
	 * apply, as a SIGKILL would. */
	usleep(100000);
	_exit(0);
}

/* A process that dies holding a semaphore with UNDO gives it back; a wait-set asleep
 * waiting for it sees that within its 10 ms slices, as a blocked operation would. */
IPCX_TEST(waitset, semset_member_sees_dead_processes_undo)
{
	ipcx_semset *s = NULL;
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[1];
	struct ipcx_sembuf take = {0, -1, 0};
	struct reserver *r = test_shared_alloc(sizeof(*r));
	pid_t pid;

	cr_assert_geq(ipcx_semset_open("s", IPCX_CREATE, 0, 1, 1, &s), 0);
	pid = test_fork(take_with_undo_and_hang, r);
	while (!atomic_load(&r->reserved))
		usleep(1000);
	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_set_wait(ws, IPCX_WAIT_SLEEP), 0);
	cr_assert_eq(ipcx_waitset_add_semset(ws, s, &take, 1, (void *)1), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, 0), -EAGAIN);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 1, T), 1);
	cr_assert_eq(ipcx_semset_op(s, &take, 1, 0), 0);
	cr_assert_eq(test_wait(pid), 0);
	ipcx_waitset_destroy(ws);
	ipcx_semset_close(s);
}

/* ---- stress: many rounds, nothing lost ---- */

#define ROUNDS 2000

struct pingpong {
	_Atomic uint32_t round; /* written by the parent when it saw both of a round */
};

/* Each round: wait for the parent's round number, then set two events back to back. */
static int setter_rounds(void *arg)
{
	struct pingpong *pp = arg;
	ipcx_event *a = NULL, *b = NULL;

	if (ipcx_event_open("a", 0, 0, &a) < 0 || ipcx_event_open("b", 0, 0, &b) < 0)
		return 1;
	for (uint32_t r = 0; r < ROUNDS; r++) {
		while (atomic_load(&pp->round) != r)
			ipcx_event_wait(a, 0); /* a short, cheap back-off */
		ipcx_event_set(a);
		ipcx_event_set(b);
	}
	return 0;
}

/* The parent waits for both events of every round with a wait-set (sleeping or adaptive),
 * resets them and opens the next round: a lost wake-up hangs the test. */
static void rounds(unsigned mode)
{
	struct pingpong *pp = test_shared_alloc(sizeof(*pp));
	ipcx_event *a = open_ev("a"), *b = open_ev("b"), *idle = open_ev("idle");
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[3];
	pid_t pid;

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	cr_assert_eq(ipcx_waitset_set_wait(ws, mode), 0);
	cr_assert_eq(ipcx_waitset_add_event(ws, idle, (void *)3), 0);
	cr_assert_eq(ipcx_waitset_add_event(ws, a, (void *)1), 1);
	cr_assert_eq(ipcx_waitset_add_event(ws, b, (void *)2), 2);
	pid = test_fork(setter_rounds, pp);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		unsigned seen = 0;

		while (seen != 3) {
			int k = ipcx_waitset_wait(ws, rd, 3, T);

			cr_assert_gt(k, 0, "round %u: %s", r, ipcx_errname(k));
			for (int i = 0; i < k; i++)
				seen |= (unsigned)(uintptr_t)rd[i].cookie;
		}
		ipcx_event_reset(a);
		ipcx_event_reset(b);
		/* Both reset: the pulse edges they left are taken by one more look. */
		ipcx_waitset_wait(ws, rd, 3, 0);
		atomic_store(&pp->round, r + 1);
	}
	cr_assert_eq(test_wait(pid), 0);
	ipcx_waitset_destroy(ws);
	ipcx_event_close(a);
	ipcx_event_close(b);
	ipcx_event_close(idle);
}

IPCX_TEST(waitset, stress_two_at_once_sleeping, .timeout = 120)
{
	rounds(IPCX_WAIT_SLEEP);
}

IPCX_TEST(waitset, stress_two_at_once_adaptive, .timeout = 120)
{
	rounds(IPCX_WAIT_ADAPTIVE);
}
