/* SPDX-License-Identifier: MIT */
/*
 * ipcx.region.read: a snapshot read of e->size bytes while a writer publishes the whole
 * range again and again on the other CPU, against the same read of a copy protected by a
 * robust process-shared mutex (ipcx_mutex; the writer takes it for each write).
 *
 * The harness's shapes time one process (BENCH_OP) or a pair that talk to each other; a
 * writer that runs on its own fits neither, so setup forks it as a helper, pinned to side
 * 1's CPU, and teardown stops it. The timed side is side 0 of a BENCH_OP case.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"
#include "run.h"

#define MAX_SIZE 4096

struct shared {
	_Atomic int stop;
	_Atomic int running;
	uint8_t pad0[56];
	_Atomic uint64_t writes; /* the writer's count, on its own line */
	int64_t start_ns, end_ns;
	uint8_t pad1[40];
	uint8_t copy[MAX_SIZE]; /* the mutex-protected copy */
};

struct local {
	ipcx_region *rg;
	ipcx_mutex *mx;
	uint8_t buf[MAX_SIZE];
};

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The writer helper: publishes full-size writes until told to stop. */
static void writer(struct bench_env *e, bool region)
{
	struct shared *sh = e->state;
	uint8_t data[MAX_SIZE];
	ipcx_region *rg = NULL;
	ipcx_mutex *mx = NULL;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin_to(bench_cpu_of_side(1));
	r = region ? ipcx_region_open(bench_ipcx_name(e, 0), 0, 0, 0, &rg)
	           : ipcx_mutex_open(bench_ipcx_name(e, 0), 0, 0, &mx);
	if (r < 0)
		_exit(1);
	sh->start_ns = bench_now_ns();
	atomic_store_explicit(&sh->running, 1, memory_order_release);
	for (uint64_t k = 0; !atomic_load_explicit(&sh->stop, memory_order_relaxed); k++) {
		memset(data, (int)(k & 0xff), e->size);
		if (region) {
			r = ipcx_region_write(rg, 0, data, e->size, IPCX_FOREVER);
		} else if ((r = ipcx_mutex_lock(mx, IPCX_FOREVER)) == 0) {
			memcpy(sh->copy, data, e->size);
			r = ipcx_mutex_unlock(mx);
		}
		if (r < 0)
			_exit(2);
		atomic_store_explicit(&sh->writes, k + 1, memory_order_relaxed);
	}
	sh->end_ns = bench_now_ns();
	_exit(0);
}

static int setup(struct bench_env *e, bool region)
{
	struct shared *sh = e->state;
	ipcx_region *rg;
	ipcx_mutex *mx;
	pid_t pid;
	int r = bench_ipcx_dir(e);

	if (r < 0)
		return r;
	if (e->size == 0 || e->size > MAX_SIZE)
		return bench_fail(e, -EINVAL, "sizes 1 to %d only", MAX_SIZE);
	if (region) {
		r = ipcx_region_open(bench_ipcx_name(e, 0), IPCX_CREATE | IPCX_EXCL, 0, e->size,
		                     &rg);
		if (r < 0)
			return bench_fail(e, r, "ipcx_region_open");
		ipcx_region_close(rg);
	} else {
		r = ipcx_mutex_open(bench_ipcx_name(e, 0), IPCX_CREATE | IPCX_EXCL, 0, &mx);
		if (r < 0)
			return bench_fail(e, r, "ipcx_mutex_open");
		ipcx_mutex_close(mx);
	}
	pid = fork();
	if (pid < 0)
		return bench_fail(e, -errno, "fork");
	if (pid == 0)
		writer(e, region);
	e->id = pid;
	/* The timed side starts once the writer writes. */
	while (!atomic_load_explicit(&sh->running, memory_order_acquire)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			e->id = -1;
			return bench_fail(e, -EIO, "the writer helper failed");
		}
		usleep(1000);
	}
	return 0;
}

static int region_setup(struct bench_env *e)
{
	return setup(e, true);
}

static int mutex_setup(struct bench_env *e)
{
	return setup(e, false);
}

static int open_side(struct bench_env *e, int side)
{
	struct local *l = e->local;
	int r = e->c->ops->setup == region_setup
	                ? ipcx_region_open(bench_ipcx_name(e, 0), 0, 0, 0, &l->rg)
	                : ipcx_mutex_open(bench_ipcx_name(e, 0), 0, 0, &l->mx);

	return r < 0 ? bench_fail(e, r, "open") : 0;
}

/* One snapshot; a read overtaken IPCX_REGION_READ_TRIES times is tried again, and counts
 * in the time of this step. */
static int region_step(struct bench_env *e, int side)
{
	struct local *l = e->local;
	int r;

	do
		r = ipcx_region_read(l->rg, 0, l->buf, e->size, NULL);
	while (r == -EAGAIN);
	return r;
}

static int mutex_step(struct bench_env *e, int side)
{
	struct local *l = e->local;
	struct shared *sh = e->state;
	int r = ipcx_mutex_lock(l->mx, IPCX_FOREVER);

	if (r < 0)
		return r;
	memcpy(l->buf, sh->copy, e->size);
	return ipcx_mutex_unlock(l->mx);
}

static void close_side(struct bench_env *e, int side)
{
	struct local *l = e->local;

	ipcx_region_close(l->rg);
	ipcx_mutex_close(l->mx);
}

static void teardown(struct bench_env *e)
{
	struct shared *sh = e->state;

	atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
	if (e->id > 0) {
		int st;
		waitpid((pid_t)e->id, &st, 0);
		/* What the reader cost the writer: the table has no column for it. */
		if (sh->end_ns > sh->start_ns)
			fprintf(stderr,
			        "note: %s: the writer published %.2f M writes/s meanwhile\n",
			        e->c->name,
			        (double)atomic_load(&sh->writes) * 1e3 /
			                (double)(sh->end_ns - sh->start_ns));
	}
	ipcx_unlink(bench_ipcx_name(e, 0));
}

const struct bench_ops bench_ipcx_region_read = {
        .setup = region_setup,
        .open = open_side,
        .step = region_step,
        .close = close_side,
        .teardown = teardown,
        .state_size = sizeof(struct shared),
        .local_size = sizeof(struct local),
};

const struct bench_ops bench_ipcx_mutexcopy_read = {
        .setup = mutex_setup,
        .open = open_side,
        .step = mutex_step,
        .close = close_side,
        .teardown = teardown,
        .state_size = sizeof(struct shared),
        .local_size = sizeof(struct local),
};
