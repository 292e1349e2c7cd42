/* SPDX-License-Identifier: MIT */
/*
 * Waiting the way applications wait: a round trip through pollable descriptors in epoll
 * (ipcx.fd.rtt, against eventfd.rtt and pipe.rtt), and through wait-sets of 8 events
 * (ipcx.waitset.rtt, against ipcx.event.rtt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"

/* Objects: 0 ping, 1 pong, 2 .. 8 idle events that only fill the wait-sets. */
#define NOBJ 9

static int events_setup(struct bench_env *e)
{
	return bench_ipcx_events_create(e, NOBJ);
}

static void events_teardown(struct bench_env *e)
{
	bench_ipcx_unlink_objects(e, NOBJ);
}

/* ---- ipcx.fd.rtt: each side sleeps in epoll_wait on its event's descriptor ---- */

struct fd_local {
	ipcx_event *ping, *pong;
	int ep;
};

static int fd_open(struct bench_env *e, int side)
{
	struct fd_local *l = e->local;
	struct epoll_event ee = {.events = EPOLLIN};
	ipcx_event *mine;
	int r = ipcx_event_open(bench_ipcx_name(e, 0), 0, 0, &l->ping), fd;

	if (r >= 0)
		r = ipcx_event_open(bench_ipcx_name(e, 1), 0, 0, &l->pong);
	if (r < 0)
		return bench_fail(e, r, "ipcx_event_open");
	mine = side == 0 ? l->pong : l->ping;
	fd = ipcx_event_fd(mine);
	if (fd < 0)
		return bench_fail(e, fd, "ipcx_event_fd");
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ee) < 0)
		return bench_fail(e, -errno, "epoll");
	return 0;
}

/* Sleeps in epoll_wait until the event is set, then resets it and re-arms the descriptor. */
static int fd_await(ipcx_event *mine, void *arg)
{
	struct fd_local *l = arg;
	struct epoll_event ee;
	int r;

	for (;;) {
		r = ipcx_event_fd_rearm(mine);
		if (r < 0)
			return r;
		if (r == 1)
			break;
		if (epoll_wait(l->ep, &ee, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
	return ipcx_event_reset(mine);
}

static int fd_step(struct bench_env *e, int side)
{
	struct fd_local *l = e->local;

	return bench_ipcx_event_rtt_step(side, l->ping, l->pong, fd_await, l);
}

static void fd_close(struct bench_env *e, int side)
{
	struct fd_local *l = e->local;

	close(l->ep);
	ipcx_event_close(l->ping);
	ipcx_event_close(l->pong);
}

const struct bench_ops bench_ipcx_fd_rtt = {
        .setup = events_setup,
        .open = fd_open,
        .step = fd_step,
        .close = fd_close,
        .teardown = events_teardown,
        .local_size = sizeof(struct fd_local),
};

/* ---- ipcx.waitset.rtt: each side waits in a wait-set of its event and 7 idle ones ---- */

struct ws_local {
	ipcx_event *ev[NOBJ];
	ipcx_waitset *ws;
};

static int ws_open(struct bench_env *e, int side)
{
	struct ws_local *l = e->local;
	int r = 0;

	for (int i = 0; r >= 0 && i < NOBJ; i++)
		r = ipcx_event_open(bench_ipcx_name(e, i), 0, 0, &l->ev[i]);
	if (r < 0)
		return bench_fail(e, r, "ipcx_event_open");
	r = ipcx_waitset_create(&l->ws);
	/* The idle members first: the ready one is found after checking the others. */
	for (int i = 2; r >= 0 && i < NOBJ; i++)
		r = ipcx_waitset_add_event(l->ws, l->ev[i], NULL);
	if (r >= 0)
		r = ipcx_waitset_add_event(l->ws, l->ev[side == 0 ? 1 : 0], l);
	return r < 0 ? bench_fail(e, r, "ipcx_waitset") : 0;
}

/* Waits in the wait-set until its one live member, `mine`, is set, then resets it. */
static int ws_await(ipcx_event *mine, void *arg)
{
	struct ws_local *l = arg;
	struct ipcx_waitset_ready rd[1];
	int r;

	if ((r = ipcx_waitset_wait(l->ws, rd, 1, IPCX_FOREVER)) < 0)
		return r;
	if (rd[0].cookie != l)
		return -EPROTO;
	return ipcx_event_reset(mine);
}

static int ws_step(struct bench_env *e, int side)
{
	struct ws_local *l = e->local;

	return bench_ipcx_event_rtt_step(side, l->ev[0], l->ev[1], ws_await, l);
}

static void ws_close(struct bench_env *e, int side)
{
	struct ws_local *l = e->local;

	ipcx_waitset_destroy(l->ws);
	for (int i = 0; i < NOBJ; i++)
		ipcx_event_close(l->ev[i]);
}

const struct bench_ops bench_ipcx_waitset_rtt = {
        .setup = events_setup,
        .open = ws_open,
        .step = ws_step,
        .close = ws_close,
        .teardown = events_teardown,
        .local_size = sizeof(struct ws_local),
};
