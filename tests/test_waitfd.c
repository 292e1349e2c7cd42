/* SPDX-License-Identifier: MIT */
/*
 * Pollable descriptors: each kind's descriptor in epoll, poll and select, and in epoll on
 * another thread, with the notifier in another process; readable at once when ready,
 * re-arming, removal, fork, a watcher killed while armed, a hostile watch table, and wakers
 * that send nothing when nobody watches.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/chan.h"
#include "internal/watch.h"

#define T 10000000000ll

static ipcx_chan *open_chan(const char *name)
{
	ipcx_chan *c = NULL;
	int r = ipcx_chan_open(name, IPCX_CREATE, 0, NULL, &c);

	cr_assert(r >= 0, "open %s: %s", name, ipcx_errname(r));
	return c;
}

static ipcx_event *open_ev(const char *name)
{
	ipcx_event *ev = NULL;
	int r = ipcx_event_open(name, IPCX_CREATE, 0, &ev);

	cr_assert(r >= 0, "open %s: %s", name, ipcx_errname(r));
	return ev;
}

/* Waits up to 10 s for fd in an epoll set (next to a pipe that never becomes readable, as
 * an event loop would have a socket). Returns true when fd became readable. */
static bool epoll_readable(int fd)
{
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	int ep = epoll_create1(EPOLL_CLOEXEC), p[2], n;
	bool ok = false;

	cr_assert_geq(ep, 0);
	cr_assert_eq(pipe(p), 0);
	e.data.fd = p[0];
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e), 0);
	e.data.fd = fd;
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e), 0);
	n = epoll_wait(ep, out, 2, 10000);
	for (int i = 0; i < n; i++)
		ok |= out[i].data.fd == fd;
	close(p[0]);
	close(p[1]);
	close(ep);
	return ok;
}

static bool poll_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static bool select_readable(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	fd_set rd;

	cr_assert_lt(fd, FD_SETSIZE);
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	return select(fd + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &rd);
}

/* Another thread of this process waits in its own epoll set (no assertions off the main
 * thread: it reports what it saw). */
static void *epoll_thread(void *arg)
{
	struct epoll_event e = {.events = EPOLLIN, .data.fd = *(int *)arg}, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	intptr_t ok = 0;

	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, e.data.fd, &e) == 0)
		ok = epoll_wait(ep, &out, 1, 10000) == 1 && out.data.fd == e.data.fd;
	if (ep >= 0)
		close(ep);
	return (void *)ok;
}

static bool other_thread_readable(int fd)
{
	pthread_t t;
	void *ok = NULL;

	cr_assert_eq(pthread_create(&t, NULL, epoll_thread, &fd), 0);
	cr_assert_eq(pthread_join(t, &ok), 0);
	return ok != NULL;
}

/* How the test waits for a descriptor. */
enum how { EPOLL, POLL, SELECT, OTHER_THREAD };

static bool readable(int fd, enum how how)
{
	switch (how) {
	case POLL:
		return poll_readable(fd, 10000);
	case SELECT:
		return select_readable(fd, 10000);
	case OTHER_THREAD:
		return other_thread_readable(fd);
	default:
		return epoll_readable(fd);
	}
}

/* Bytes queued on a descriptor (one per wake-up sent to it), taken. */
static int take_bytes(int fd)
{
	char b[64];
	ssize_t n = read(fd, b, sizeof(b));

	return n < 0 ? 0 : (int)n;
}

/* What the notifier child does, by kind. */
enum { K_EVENT, K_CHAN, K_TOPIC, K_REGION, K_SEMSET, K_UNLINK };

static int notifier(void *arg)
{
	int k = *(int *)arg;
	ipcx_event *ev = NULL;
	ipcx_chan *c = NULL;
	ipcx_topic *t = NULL;
	ipcx_region *r = NULL;
	ipcx_semset *s = NULL;

	usleep(50000); /* the parent is asleep in epoll_wait or poll by now */
	switch (k) {
	case K_EVENT:
		return ipcx_event_open("e", 0, 0, &ev) < 0 || ipcx_event_set(ev) < 0;
	case K_CHAN:
		return ipcx_chan_open("c", 0, 0, NULL, &c) < 0 || ipcx_chan_send(c, "m", 1, T) < 0;
	case K_TOPIC:
		return ipcx_topic_open("t", 0, 0, NULL, &t) < 0 ||
		       ipcx_topic_publish(t, "m", 1, T) < 0;
	case K_REGION:
		return ipcx_region_open("r", 0, 0, 0, &r) < 0 ||
		       ipcx_region_write(r, 0, "x", 1, T) < 0;
	case K_SEMSET:
		return ipcx_semset_open("s", 0, 0, 0, 0, &s) < 0 ||
		       ipcx_semset_op(s, &(struct ipcx_sembuf){0, 1, 0}, 1, T) < 0;
	default:
		return ipcx_unlink("c") < 0;
	}
}

static struct ipcx_sembuf take1 = {0, -1, 0};

/* Each kind: armed, not readable; another process makes it ready; readable in epoll (or
 * poll, select, or epoll in another thread); the call succeeds; re-arm reports 0 again. */
static void one_kind(int k, enum how how)
{
	ipcx_event *ev = NULL;
	ipcx_chan *c = NULL;
	ipcx_topic *t = NULL;
	ipcx_region *r = NULL;
	ipcx_semset *s = NULL;
	char buf[8];
	int fd = -1, rearm = -1;
	pid_t pid;

	switch (k) {
	case K_EVENT:
		ev = open_ev("e");
		fd = ipcx_event_fd(ev);
		break;
	case K_CHAN:
		c = open_chan("c");
		fd = ipcx_chan_fd(c);
		break;
	case K_TOPIC:
		cr_assert_geq(ipcx_topic_open("t", IPCX_CREATE, 0, NULL, &t), 0);
		cr_assert_eq(ipcx_topic_fd(t), -EINVAL, "not subscribed");
		cr_assert_eq(ipcx_topic_subscribe(t, 0), 0);
		fd = ipcx_topic_fd(t);
		break;
	case K_REGION:
		cr_assert_geq(ipcx_region_open("r", IPCX_CREATE, 0, 64, &r), 0);
		fd = ipcx_region_fd(r);
		break;
	case K_SEMSET:
		cr_assert_geq(ipcx_semset_open("s", IPCX_CREATE, 0, 1, 0, &s), 0);
		fd = ipcx_semset_fd(s, &take1, 1);
		break;
	}
	cr_assert_geq(fd, 0, "kind %d: %s", k, ipcx_errname(fd));
	cr_assert(!poll_readable(fd, 0), "kind %d: not ready yet", k);
	pid = test_fork(notifier, &k);
	cr_assert(readable(fd, how), "kind %d, way %d", k, (int)how);
	cr_assert_eq(test_wait(pid), 0);
	switch (k) {
	case K_EVENT:
		cr_assert_eq(ipcx_event_fd_rearm(ev), 1, "still set");
		cr_assert_eq(ipcx_event_wait(ev, 0), 0);
		ipcx_event_reset(ev);
		rearm = ipcx_event_fd_rearm(ev);
		break;
	case K_CHAN:
		cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1);
		rearm = ipcx_chan_fd_rearm(c);
		break;
	case K_TOPIC:
		cr_assert_eq(ipcx_topic_recv(t, buf, sizeof(buf), 0, NULL), 1);
		rearm = ipcx_topic_fd_rearm(t);
		break;
	case K_REGION:
		cr_assert_eq(ipcx_region_fd_rearm(r, 0), 1, "version 1 is not 0");
		rearm = ipcx_region_fd_rearm(r, 1);
		break;
	case K_SEMSET:
		cr_assert_eq(ipcx_semset_op(s, &take1, 1, 0), 0);
		rearm = ipcx_semset_fd_rearm(s);
		break;
	}
	cr_assert_eq(rearm, 0, "kind %d re-armed", k);
	cr_assert(!poll_readable(fd, 0), "kind %d: drained", k);
	ipcx_event_close(ev);
	ipcx_chan_close(c);
	ipcx_topic_close(t);
	ipcx_region_close(r);
	ipcx_semset_close(s);
}

IPCX_TEST(waitfd, event_epoll)
{
	one_kind(K_EVENT, EPOLL);
}
IPCX_TEST(waitfd, chan_epoll)
{
	one_kind(K_CHAN, EPOLL);
}
IPCX_TEST(waitfd, topic_epoll)
{
	one_kind(K_TOPIC, EPOLL);
}
IPCX_TEST(waitfd, region_epoll)
{
	one_kind(K_REGION, EPOLL);
}
IPCX_TEST(waitfd, semset_epoll)
{
	one_kind(K_SEMSET, EPOLL);
}
IPCX_TEST(waitfd, event_poll)
{
	one_kind(K_EVENT, POLL);
}
IPCX_TEST(waitfd, chan_poll)
{
	one_kind(K_CHAN, POLL);
}
IPCX_TEST(waitfd, semset_poll)
{
	one_kind(K_SEMSET, POLL);
}
IPCX_TEST(waitfd, topic_poll)
{
	one_kind(K_TOPIC, POLL);
}
IPCX_TEST(waitfd, region_poll)
{
	one_kind(K_REGION, POLL);
}

IPCX_TEST(waitfd, event_select)
{
	one_kind(K_EVENT, SELECT);
}
IPCX_TEST(waitfd, chan_select)
{
	one_kind(K_CHAN, SELECT);
}
IPCX_TEST(waitfd, topic_select)
{
	one_kind(K_TOPIC, SELECT);
}
IPCX_TEST(waitfd, region_select)
{
	one_kind(K_REGION, SELECT);
}
IPCX_TEST(waitfd, semset_select)
{
	one_kind(K_SEMSET, SELECT);
}
IPCX_TEST(waitfd, event_epoll_in_another_thread)
{
	one_kind(K_EVENT, OTHER_THREAD);
}
IPCX_TEST(waitfd, chan_epoll_in_another_thread)
{
	one_kind(K_CHAN, OTHER_THREAD);
}

IPCX_TEST(waitfd, readable_at_once_when_ready)
{
	ipcx_chan *c = open_chan("c");
	ipcx_event *ev = open_ev("e");
	int fd;

	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	ipcx_event_set(ev);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert(poll_readable(fd, 0));
	cr_assert_eq(ipcx_chan_fd(c), fd, "the same descriptor");
	cr_assert_eq(ipcx_chan_fd_rearm(c), 1, "a message is there");
	fd = ipcx_event_fd(ev);
	cr_assert(poll_readable(fd, 0));
	ipcx_chan_close(c);
	ipcx_event_close(ev);
}

IPCX_TEST(waitfd, removal_makes_readable_and_eidrm)
{
	ipcx_chan *c = open_chan("c");
	int k = K_UNLINK, fd = ipcx_chan_fd(c);
	pid_t pid;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	pid = test_fork(notifier, &k);
	cr_assert(epoll_readable(fd));
	cr_assert_eq(test_wait(pid), 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), -EIDRM);
	cr_assert_eq(ipcx_chan_recv(c, NULL, 0, 0), -EIDRM);
	ipcx_chan_close(c);
}

/* The watch entry and the watcher part of the count, for the chan's data word. */
static uint32_t watchers(ipcx_chan *c)
{
	return atomic_load(&c->b->data_sleepers) / IPCX__WATCH_ONE;
}

static struct ipcx__watch *entry(ipcx_chan *c, int i)
{
	return &ipcx__watch_table(c->obj.hdr)->w[i];
}

IPCX_TEST(waitfd, wakers_send_once_and_nothing_unwatched)
{
	ipcx_chan *c = open_chan("c"), *tx = NULL;
	int fd;

	cr_assert_geq(ipcx_chan_open("c", 0, 0, NULL, &tx), 0);
	/* Nobody watches: sends leave the table empty and the count zero. */
	cr_assert_eq(ipcx_chan_send(tx, "a", 1, 0), 0);
	cr_assert_eq(ipcx_chan_recv(c, NULL, 0, 0), -EMSGSIZE);
	cr_assert_eq(atomic_load(&c->b->data_sleepers), 0);
	cr_assert_eq(atomic_load(&ipcx__watch_table(c->obj.hdr)->hiwater), 0);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 1, "the first message is still there");
	cr_assert_eq(ipcx_chan_recv(c, (char[2]){0}, 2, 0), 1);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(watchers(c), 1);
	cr_assert_eq(atomic_load(&entry(c, 0)->state), IPCX__WATCH_ARMED);
	/* Three sends: one byte, from the first; then the entry is fired and the count
	 * is zero again, so the next two make no system call for the watcher. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ipcx_chan_send(tx, "b", 1, 0), 0);
	cr_assert_eq(atomic_load(&entry(c, 0)->state), IPCX__WATCH_FIRED);
	cr_assert_eq(watchers(c), 0);
	cr_assert_eq(take_bytes(fd), 1);
	/* Closing the handle gives the entry back. */
	ipcx_chan_close(c);
	cr_assert_eq(atomic_load(&entry(tx, 0)->who), 0);
	cr_assert_eq(atomic_load(&tx->b->data_sleepers), 0);
	ipcx_chan_close(tx);
}

/* A child that arms a watcher on the channel named arg, then hangs until it is killed. */
static int arm_and_hang(void *arg)
{
	ipcx_chan *c = NULL;

	if (ipcx_chan_open((const char *)arg, 0, 0, NULL, &c) < 0 || ipcx_chan_fd(c) < 0 ||
	    ipcx_chan_fd_rearm(c) != 0)
		return 1;
	for (;;)
		pause();
}

static int count_watcher_files(void)
{
	char cmd[512];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '^~ipcx-w\\.'", test_dir());
	f = popen(cmd, "r");
	cr_assert(f);
	cr_assert_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static int count_objects(const struct ipcx_info *info, void *arg)
{
	(void)info;
	++*(int *)arg;
	return 0;
}

IPCX_TEST(waitfd, killed_watcher_is_reclaimed)
{
	ipcx_chan *c = open_chan("c");
	pid_t pid = test_fork(arm_and_hang, "c");
	char buf[4];
	int fd, n = 0;

	/* Until the child has armed. */
	for (int i = 0; i < 1000 && watchers(c) == 0; i++)
		usleep(10000);
	cr_assert_eq(watchers(c), 1);
	cr_assert_eq(count_watcher_files(), 1);
	cr_assert_eq(ipcx_foreach(count_objects, &n), 0);
	cr_assert_eq(n, 1, "a watcher's FIFO is not an object");
	test_kill(pid);
	/* The next send fires the dead watcher's entry once, and no more. */
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert_eq(watchers(c), 0);
	cr_assert_eq(atomic_load(&entry(c, 0)->state), IPCX__WATCH_FIRED);
	cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1);
	/* Its FIFO goes with ipcx_gc, as a dead creator's temporary file does. */
	cr_assert_eq(ipcx_gc(false, NULL, NULL), 1);
	cr_assert_eq(count_watcher_files(), 0);
	/* And descriptors still work. */
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert(poll_readable(fd, 10000));
	ipcx_chan_close(c);
	cr_assert_eq(count_watcher_files(), 0, "close removes the FIFO");
}

IPCX_TEST(waitfd, full_table_reclaims_dead_entries)
{
	ipcx_chan *c = open_chan("c");
	struct ipcx__watch_table *t = ipcx__watch_table(c->obj.hdr);
	int fd;

	/* Every entry taken by a process that is gone (pid 1's identity with a start time
	 * that is not its own). */
	for (int i = 0; i < IPCX__WATCH_MAX; i++)
		atomic_store(&t->w[i].who, ((uint64_t)12345 << IPCX__PID_BITS) | 1);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0, "%s", ipcx_errname(fd));
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert(poll_readable(fd, 10000));
	ipcx_chan_close(c);
}

IPCX_TEST(waitfd, hostile_watch_table)
{
	ipcx_chan *c = open_chan("c");
	struct ipcx__watch_table *t = ipcx__watch_table(c->obj.hdr);
	char buf[4];
	int fd;

	srand(7);
	/* A peer writes garbage everywhere: armed entries naming random processes and
	 * words, a huge high-water mark, a watcher count that never was. */
	for (int round = 0; round < 20; round++) {
		uint8_t *p = (uint8_t *)t;

		for (size_t i = 0; i < sizeof(*t); i++)
			p[i] = (uint8_t)rand();
		for (int i = 0; i < IPCX__WATCH_MAX; i += 2) {
			atomic_store(&t->w[i].state, IPCX__WATCH_ARMED);
			if (i % 4 == 0)
				atomic_store(&t->w[i].word, (uint32_t)((char *)&c->b->data_word -
				                                       (char *)c->obj.hdr));
		}
		atomic_store(&c->b->data_sleepers, 0xfff00000u);
		cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
		cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1);
	}
	/* The owners named are not alive: a descriptor can still get an entry, and works. */
	atomic_store(&c->b->data_sleepers, 0);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0, "%s", ipcx_errname(fd));
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert(poll_readable(fd, 10000));
	ipcx_chan_close(c);
}

static int set_one(void *arg)
{
	ipcx_event *ev = NULL;

	usleep(50000);
	return ipcx_event_open(arg, 0, 0, &ev) < 0 || ipcx_event_set(ev) < 0;
}

IPCX_TEST(waitfd, waitset_descriptor)
{
	ipcx_event *ev[8];
	ipcx_waitset *ws;
	struct ipcx_waitset_ready rd[8];
	char name[8];
	int fd;
	pid_t pid;

	cr_assert_eq(ipcx_waitset_create(&ws), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		ev[i] = open_ev(name);
		cr_assert_eq(ipcx_waitset_add_event(ws, ev[i], (void *)(uintptr_t)i), i);
	}
	fd = ipcx_waitset_fd(ws);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_waitset_fd(ws), fd);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 8, 0), -EAGAIN);
	pid = test_fork(set_one, "e5");
	cr_assert(epoll_readable(fd));
	cr_assert_eq(test_wait(pid), 0);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 8, 0), 1);
	cr_assert_eq(rd[0].cookie, (void *)5);
	ipcx_event_reset(ev[5]);
	cr_assert_eq(ipcx_waitset_wait(ws, rd, 8, 0), -EAGAIN);
	cr_assert(!poll_readable(fd, 0));
	/* A member added to an armed descriptor is armed, and readable at once if ready. */
	ipcx_event *extra = open_ev("x");
	ipcx_event_set(extra);
	cr_assert_eq(ipcx_waitset_add_event(ws, extra, (void *)99), 8);
	cr_assert(poll_readable(fd, 0));
	ipcx_waitset_destroy(ws);
	for (int i = 0; i < 8; i++)
		ipcx_event_close(ev[i]);
	ipcx_event_close(extra);
}

static int child_own_fd(void *arg)
{
	ipcx_chan *c = arg;
	int fd = ipcx_chan_fd(c);

	if (fd < 0 || ipcx_chan_fd_rearm(c) != 0)
		return 1;
	/* The parent sends once it sees our watcher. */
	return poll_readable(fd, 10000) ? 0 : 2;
}

IPCX_TEST(waitfd, forked_child_makes_its_own)
{
	ipcx_chan *c = open_chan("c");
	int fd = ipcx_chan_fd(c);
	pid_t pid;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	pid = test_fork(child_own_fd, c);
	for (int i = 0; i < 1000 && watchers(c) < 2; i++)
		usleep(10000);
	cr_assert_eq(watchers(c), 2, "the parent's and the child's");
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert_eq(test_wait(pid), 0);
	cr_assert(poll_readable(fd, 10000), "the parent's too");
	ipcx_chan_close(c);
}

IPCX_TEST(waitfd, reclaimed_armed_entry_gives_its_count_back)
{
	ipcx_chan *c = open_chan("c");
	struct ipcx__watch_table *t = ipcx__watch_table(c->obj.hdr);
	pid_t pid = test_fork(arm_and_hang, "c");
	int fd;

	for (int i = 0; i < 1000 && watchers(c) == 0; i++)
		usleep(10000);
	cr_assert_eq(watchers(c), 1);
	test_kill(pid);
	/* Every other entry is a dead process's too, so the next claim must reclaim; the
	 * first one it finds is the killed watcher's, still armed. */
	for (int i = 1; i < IPCX__WATCH_MAX; i++)
		atomic_store(&t->w[i].who, ((uint64_t)12345 << IPCX__PID_BITS) | 1);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0, "%s", ipcx_errname(fd));
	cr_assert_eq(watchers(c), 1, "the dead watcher's part went, ours came");
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(watchers(c), 1);
	cr_assert_eq(ipcx_chan_send(c, "m", 1, 0), 0);
	cr_assert(poll_readable(fd, 10000));
	cr_assert_eq(watchers(c), 0);
	ipcx_chan_close(c);
}

#define NOBODY 65534

/* In a child: becomes nobody and opens "shared". 0, or the child's exit code for what failed. */
static int open_shared_as_nobody(ipcx_chan **c)
{
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	if (ipcx_chan_open("shared", 0, 0, NULL, c) != 0)
		return 101;
	return 0;
}

static int send_as_nobody(void *arg)
{
	ipcx_chan *c = NULL;
	int r = open_shared_as_nobody(&c);

	(void)arg;
	if (r != 0)
		return r;
	/* Twice: the second write goes through the descriptor kept from the first. */
	if (ipcx_chan_send(c, "m", 1, 0) != 0 || ipcx_chan_send(c, "n", 1, 0) != 0)
		return 102;
	ipcx_chan_close(c);
	return 0;
}

/* A waker of another user wakes our descriptor too (it may write our FIFO, not read it). */
IPCX_TEST(waitfd, waker_of_another_user)
{
	ipcx_chan *c = NULL;
	char buf[4];
	int fd;

	cr_assert_eq(ipcx_chan_open("shared", IPCX_CREATE, 0666, NULL, &c), 1);
	fd = ipcx_chan_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 0);
	cr_assert_eq(test_wait(test_fork(send_as_nobody, NULL)), 0);
	cr_assert(poll_readable(fd, 10000));
	cr_assert_eq(ipcx_chan_recv(c, buf, sizeof(buf), 0), 1);
	cr_assert_eq(ipcx_chan_fd_rearm(c), 1, "the second message");
	ipcx_chan_close(c);
}

static int send_as_nobody_after_death(void *arg)
{
	ipcx_chan *c = NULL;
	int r = open_shared_as_nobody(&c);

	(void)arg;
	if (r != 0)
		return r;
	/* The watcher's FIFO has no reader: the write-only open fails (ENXIO), and nothing
	 * (no SIGPIPE) hurts us. */
	for (int i = 0; i < 3; i++)
		if (ipcx_chan_send(c, "m", 1, 0) != 0)
			return 102;
	return 0;
}

IPCX_TEST(waitfd, waker_of_another_user_outlives_dead_watcher)
{
	ipcx_chan *c = NULL;
	pid_t pid;

	cr_assert_eq(ipcx_chan_open("shared", IPCX_CREATE, 0666, NULL, &c), 1);
	pid = test_fork(arm_and_hang, "shared");
	for (int i = 0; i < 1000 && atomic_load(&c->b->data_sleepers) == 0; i++)
		usleep(10000);
	test_kill(pid);
	cr_assert_eq(test_wait(test_fork(send_as_nobody_after_death, NULL)), 0);
	ipcx_chan_close(c);
}

struct pipe_race {
	struct test_barrier *armed, *sent, *rearmed, *killed;
};

/* Arms, is woken once, re-arms, and waits to be killed. */
static int watcher_rearms(void *arg)
{
	struct pipe_race *p = arg;
	ipcx_chan *c = NULL;
	char buf[4];
	int fd;

	if (ipcx_chan_open("shared", 0, 0, NULL, &c) < 0 || (fd = ipcx_chan_fd(c)) < 0 ||
	    ipcx_chan_fd_rearm(c) != 0)
		return 1;
	test_barrier_wait(p->armed);
	test_barrier_wait(p->sent);
	if (!poll_readable(fd, 10000) || ipcx_chan_recv(c, buf, sizeof(buf), 0) != 1 ||
	    ipcx_chan_fd_rearm(c) != 0)
		return 2;
	test_barrier_wait(p->rearmed);
	for (;;)
		pause();
}

/* As nobody: wakes the watcher once (keeping its FIFO open write-only), then again after
 * the watcher died, through the kept descriptor: EPIPE, and SIGPIPE must not kill us. */
static int waker_keeps_fifo(void *arg)
{
	struct pipe_race *p = arg;
	ipcx_chan *c = NULL;

	sigset_t pipe_set;

	/* As in most programs: SIGPIPE kills (the runner may ignore or block it). */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	if (ipcx_chan_open("shared", 0, 0, NULL, &c) != 0)
		return 101;
	test_barrier_wait(p->armed);
	if (ipcx_chan_send(c, "m", 1, 0) != 0)
		return 102;
	test_barrier_wait(p->sent);
	test_barrier_wait(p->killed);
	if (ipcx_chan_send(c, "n", 1, 0) != 0)
		return 103;
	return 0;
}

IPCX_TEST(waitfd, dead_watcher_cannot_sigpipe_a_waker)
{
	struct pipe_race p = {test_barrier_new(3), test_barrier_new(3), test_barrier_new(2),
	                      test_barrier_new(2)};
	ipcx_chan *c = NULL;
	pid_t w, k;

	cr_assert_eq(ipcx_chan_open("shared", IPCX_CREATE, 0666, NULL, &c), 1);
	w = test_fork(watcher_rearms, &p);
	k = test_fork(waker_keeps_fifo, &p);
	test_barrier_wait(p.armed);
	test_barrier_wait(p.sent);
	/* The watcher re-armed after its wake-up. */
	test_barrier_wait(p.rearmed);
	test_kill(w);
	test_barrier_wait(p.killed);
	cr_assert_eq(test_wait(k), 0, "the waker survived");
	ipcx_chan_close(c);
}

/* ---- stress: a ping-pong through descriptors, every message answered ---- */

#define ROUNDS 2000

/* Receives on "ping" through its descriptor in epoll, answers on "pong". */
static int ponger(void *arg)
{
	ipcx_chan *in = NULL, *out = NULL;
	struct epoll_event e = {.events = EPOLLIN}, got;
	uint32_t m;
	int ep, fd;

	(void)arg;
	if (ipcx_chan_open("ping", 0, 0, NULL, &in) < 0 || ipcx_chan_open("pong", 0, 0, NULL, &out))
		return 1;
	fd = ipcx_chan_fd(in);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		return 2;
	for (uint32_t r = 0; r < ROUNDS;) {
		ssize_t n = ipcx_chan_recv(in, &m, sizeof(m), 0);

		if (n == sizeof(m)) {
			if (m != r++ || ipcx_chan_send(out, &m, sizeof(m), T) < 0)
				return 3;
			continue;
		}
		if (n != -EAGAIN)
			return 4;
		/* Nothing: re-arm, and sleep only when the re-arm says nothing is there. */
		if (ipcx_chan_fd_rearm(in) == 0 && epoll_wait(ep, &got, 1, 10000) != 1)
			return 5; /* a lost wake-up */
	}
	return 0;
}

IPCX_TEST(waitfd, stress_ping_pong_through_descriptors, .timeout = 120)
{
	ipcx_chan *out = open_chan("ping"), *in = open_chan("pong");
	uint32_t m;
	int fd = ipcx_chan_fd(in);
	pid_t pid = test_fork(ponger, NULL);

	cr_assert_geq(fd, 0);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		ssize_t n;

		cr_assert_eq(ipcx_chan_send(out, &r, sizeof(r), T), 0);
		while ((n = ipcx_chan_recv(in, &m, sizeof(m), 0)) == -EAGAIN)
			if (ipcx_chan_fd_rearm(in) == 0)
				cr_assert(poll_readable(fd, 10000), "round %u: lost wake-up", r);
		cr_assert_eq(n, (ssize_t)sizeof(m));
		cr_assert_eq(m, r);
	}
	cr_assert_eq(test_wait(pid), 0);
	ipcx_chan_close(out);
	ipcx_chan_close(in);
}
