/* SPDX-License-Identifier: MIT */
/* ipcx's events and mutexes, and the private namespace every ipcx case runs in. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"

static char dir[64];
static pid_t dir_owner;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_dir(void)
{
	/* Only the process that made it: the forked sides inherit this handler and leave through
	 * exit() (so peer libraries' destructors run), and must not remove it under the harness. */
	if (dir[0] && getpid() == dir_owner)
		nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int bench_ipcx_dir(struct bench_env *e)
{
	if (dir[0])
		return 0;
	/* Named after the harness, so that a later run removes it if this one is killed. */
	snprintf(dir, sizeof(dir), "/tmp/ipcxb-%d-ipcx.XXXXXX", (int)getpid());
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return bench_fail(e, -errno, "cannot make a namespace directory");
	}
	setenv("IPCX_DIR", dir, 1);
	dir_owner = getpid();
	atexit(remove_dir);
	return 0;
}

const char *bench_ipcx_name(struct bench_env *e, int i)
{
	static char name[96];

	snprintf(name, sizeof(name), "%s-%d", e->tag, i);
	return name;
}

/* ---- ipcx.event.rtt: two events, set by one side and waited for by the other ---- */

struct event_local {
	ipcx_event *ping, *pong;
};

int bench_ipcx_events_create(struct bench_env *e, int n)
{
	ipcx_event *ev;
	int r = bench_ipcx_dir(e);

	for (int i = 0; r == 0 && i < n; i++) {
		r = ipcx_event_open(bench_ipcx_name(e, i), IPCX_CREATE | IPCX_EXCL, 0, &ev);
		if (r < 0)
			return bench_fail(e, r, "ipcx_event_open");
		ipcx_event_close(ev);
		r = 0;
	}
	return r;
}

void bench_ipcx_unlink_objects(struct bench_env *e, int n)
{
	for (int i = 0; i < n; i++)
		ipcx_unlink(bench_ipcx_name(e, i));
}

static int event_setup(struct bench_env *e)
{
	return bench_ipcx_events_create(e, 2);
}

static int event_open(struct bench_env *e, int side)
{
	struct event_local *l = e->local;
	int r = ipcx_event_open(bench_ipcx_name(e, 0), 0, 0, &l->ping);

	if (r >= 0)
		r = ipcx_event_open(bench_ipcx_name(e, 1), 0, 0, &l->pong);
	return r < 0 ? bench_fail(e, r, "ipcx_event_open") : 0;
}

static int event_await(ipcx_event *mine, void *arg)
{
	int r = ipcx_event_wait(mine, IPCX_FOREVER);

	return r < 0 ? r : ipcx_event_reset(mine);
}

static int event_step(struct bench_env *e, int side)
{
	struct event_local *l = e->local;

	return bench_ipcx_event_rtt_step(side, l->ping, l->pong, event_await, NULL);
}

static void event_close(struct bench_env *e, int side)
{
	struct event_local *l = e->local;

	ipcx_event_close(l->ping);
	ipcx_event_close(l->pong);
}

static void event_teardown(struct bench_env *e)
{
	bench_ipcx_unlink_objects(e, 2);
}

const struct bench_ops bench_ipcx_event_rtt = {
        .setup = event_setup,
        .open = event_open,
        .step = event_step,
        .close = event_close,
        .teardown = event_teardown,
        .local_size = sizeof(struct event_local),
};

/* ---- ipcx.mutex.op: an uncontended lock/unlock pair ---- */

static int mutex_setup(struct bench_env *e)
{
	ipcx_mutex *mx;
	int r = bench_ipcx_dir(e);

	if (r == 0)
		r = ipcx_mutex_open(bench_ipcx_name(e, 0), IPCX_CREATE | IPCX_EXCL, 0, &mx);
	if (r < 0)
		return bench_fail(e, r, "ipcx_mutex_open");
	ipcx_mutex_close(mx);
	return 0;
}

static int mutex_open(struct bench_env *e, int side)
{
	int r = ipcx_mutex_open(bench_ipcx_name(e, 0), 0, 0, (ipcx_mutex **)e->local);
	return r < 0 ? bench_fail(e, r, "ipcx_mutex_open") : 0;
}

static int mutex_step(struct bench_env *e, int side)
{
	ipcx_mutex *mx = *(ipcx_mutex **)e->local;
	int r = ipcx_mutex_lock(mx, IPCX_FOREVER);

	if (r < 0)
		return r;
	return ipcx_mutex_unlock(mx);
}

static void mutex_close(struct bench_env *e, int side)
{
	ipcx_mutex_close(*(ipcx_mutex **)e->local);
}

static void mutex_teardown(struct bench_env *e)
{
	bench_ipcx_unlink_objects(e, 1);
}

const struct bench_ops bench_ipcx_mutex_op = {
        .setup = mutex_setup,
        .open = mutex_open,
        .step = mutex_step,
        .close = mutex_close,
        .teardown = mutex_teardown,
        .local_size = sizeof(ipcx_mutex *),
};
