/* SPDX-License-Identifier: MIT */
/*
 * The event and mutex rows of the ipcx cases (listed in cases_ipcx.c):
 *   ipcx.event.rtt  two events, ping and pong, with the default (adaptive) wait: side 0 sets
 *                   ping and waits for pong; side 1 waits for ping, resets it, sets pong.
 *   ipcx.mutex.op   one uncontended lock and unlock of a robust mutex.
 */
#include <errno.h>
#include <stdio.h>

#include <ipcx/ipcx.h>

#include "bench.h"

const struct bench_ops bench_ipcx_event_rtt, bench_ipcx_mutex_op;

struct event_local {
	ipcx_event *ping, *pong;
};

static void event_name(const struct bench_env *e, const char *which, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.%s", e->tag, which);
}

static int event_setup(struct bench_env *e)
{
	const char *which[2] = {"ping", "pong"};

	for (int i = 0; i < 2; i++) {
		char name[128];
		ipcx_event *ev;
		int r;

		event_name(e, which[i], name, sizeof(name));
		r = ipcx_event_open(name, IPCX_CREATE | IPCX_EXCL, 0, &ev);
		if (r < 0)
			return bench_fail(e, r, "create %s", name);
		ipcx_event_close(ev);
	}
	return 0;
}

static int event_open(struct bench_env *e, int side)
{
	struct event_local *l = e->local;
	char a[128], b[128];
	int r;

	event_name(e, "ping", a, sizeof(a));
	event_name(e, "pong", b, sizeof(b));
	r = ipcx_event_open(a, 0, 0, &l->ping);
	if (r >= 0)
		r = ipcx_event_open(b, 0, 0, &l->pong);
	return r < 0 ? bench_fail(e, r, "open %s", r == 0 ? b : a) : 0;
}

static int event_step(struct bench_env *e, int side)
{
	struct event_local *l = e->local;
	int r;

	if (side == 0) {
		ipcx_event_set(l->ping);
		r = ipcx_event_wait(l->pong, IPCX_FOREVER);
		ipcx_event_reset(l->pong);
	} else {
		r = ipcx_event_wait(l->ping, IPCX_FOREVER);
		ipcx_event_reset(l->ping);
		ipcx_event_set(l->pong);
	}
	return r;
}

static void event_close(struct bench_env *e, int side)
{
	struct event_local *l = e->local;

	ipcx_event_close(l->ping);
	ipcx_event_close(l->pong);
}

static void event_teardown(struct bench_env *e)
{
	char name[128];

	event_name(e, "ping", name, sizeof(name));
	ipcx_unlink(name);
	event_name(e, "pong", name, sizeof(name));
	ipcx_unlink(name);
}

const struct bench_ops bench_ipcx_event_rtt = {
	.setup = event_setup,
	.open = event_open,
	.step = event_step,
	.close = event_close,
	.teardown = event_teardown,
	.local_size = sizeof(struct event_local),
};

struct mutex_local {
	ipcx_mutex *mx;
};

static int mutex_open(struct bench_env *e, int side)
{
	struct mutex_local *l = e->local;
	int r = ipcx_mutex_open(e->tag, IPCX_CREATE, 0, &l->mx);

	return r < 0 ? bench_fail(e, r, "open %s", e->tag) : 0;
}

static int mutex_step(struct bench_env *e, int side)
{
	struct mutex_local *l = e->local;
	int r = ipcx_mutex_lock(l->mx, IPCX_FOREVER);

	if (r < 0)
		return r;
	return ipcx_mutex_unlock(l->mx);
}

static void mutex_close(struct bench_env *e, int side)
{
	struct mutex_local *l = e->local;

	ipcx_mutex_close(l->mx);
}

static void mutex_teardown(struct bench_env *e)
{
	ipcx_unlink(e->tag);
}

const struct bench_ops bench_ipcx_mutex_op = {
	.open = mutex_open,
	.step = mutex_step,
	.close = mutex_close,
	.teardown = mutex_teardown,
	.local_size = sizeof(struct mutex_local),
};
