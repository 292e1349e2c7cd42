/* SPDX-License-Identifier: MIT */
/*
 * ipcx's own cases. Rows whose object kind is not in the library yet are listed and skipped
 * with their reason; fill one in by writing its bench_ops (see bench.h)
 * and putting it in place of NULL. Floors: spinning and adaptive waits are held against
 * floor.spin.rtt, pure sleeping against floor.futex.rtt, 1 MiB streams against memcpy.
 */
#include <errno.h>

#include <ipcx/ipcx.h>

#include "bench.h"

#define SPIN_FLOOR "floor.spin.rtt"
#define FUTEX_FLOOR "floor.futex.rtt"
#define NOT_YET "not built yet"

/*
 * Semaphore sets, used as the System V cases use theirs (cases_kernel.c): op is a -1/+1
 * pair on one semaphore, op2 an atomic -1/-1 then +1/+1 pair on two, rtt a ping-pong over
 * two semaphores (side 0 posts 0 and waits on 1; side 1 waits on 0 and posts 1).
 */
static int sem_create(struct bench_env *e, uint32_t n, int v)
{
	ipcx_semset *s = NULL;
	int r = ipcx_semset_open(e->tag, IPCX_CREATE | IPCX_EXCL, 0, n, v, &s);

	if (r < 0)
		return bench_fail(e, r, "ipcx_semset_open: %s", ipcx_strerror(r));
	ipcx_semset_close(s);
	return 0;
}

static int sem_rtt_setup(struct bench_env *e)
{
	return sem_create(e, 2, 0);
}

static int sem_op_setup(struct bench_env *e)
{
	return sem_create(e, 2, 1);
}

static int sem_open(struct bench_env *e, int side)
{
	int r = ipcx_semset_open(e->tag, 0, 0, 0, 0, (ipcx_semset **)e->local);

	return r < 0 ? r : 0;
}

static void sem_close(struct bench_env *e, int side)
{
	ipcx_semset_close(*(ipcx_semset **)e->local);
}

static void sem_teardown(struct bench_env *e)
{
	ipcx_unlink(e->tag);
}

static int sem1(ipcx_semset *s, uint32_t i, int32_t d)
{
	struct ipcx_sembuf b = {i, d, 0};
	return ipcx_semset_op(s, &b, 1, IPCX_FOREVER);
}

static int sem_rtt_step(struct bench_env *e, int side)
{
	ipcx_semset *s = *(ipcx_semset **)e->local;
	int r;

	if (side == 1 && (r = sem1(s, 0, -1)) < 0)
		return r;
	if ((r = sem1(s, side == 0 ? 0 : 1, 1)) < 0)
		return r;
	return side == 0 ? sem1(s, 1, -1) : 0;
}

static int sem_op_step(struct bench_env *e, int side)
{
	ipcx_semset *s = *(ipcx_semset **)e->local;
	int r = sem1(s, 0, -1);

	return r < 0 ? r : sem1(s, 0, 1);
}

static int sem_op2_step(struct bench_env *e, int side)
{
	static const struct ipcx_sembuf down[2] = {{0, -1, 0}, {1, -1, 0}};
	static const struct ipcx_sembuf up[2] = {{0, 1, 0}, {1, 1, 0}};
	ipcx_semset *s = *(ipcx_semset **)e->local;
	int r = ipcx_semset_op(s, down, 2, IPCX_FOREVER);

	return r < 0 ? r : ipcx_semset_op(s, up, 2, IPCX_FOREVER);
}

static const struct bench_ops sem_rtt = {.setup = sem_rtt_setup, .open = sem_open,
					 .step = sem_rtt_step, .close = sem_close,
					 .teardown = sem_teardown, .local_size = sizeof(void *)};
static const struct bench_ops sem_op = {.setup = sem_op_setup, .open = sem_open,
					.step = sem_op_step, .close = sem_close,
					.teardown = sem_teardown, .local_size = sizeof(void *)};
static const struct bench_ops sem_op2 = {.setup = sem_op_setup, .open = sem_open,
					 .step = sem_op2_step, .close = sem_close,
					 .teardown = sem_teardown, .local_size = sizeof(void *)};

const struct bench_case bench_cases_ipcx[] = {
	{"ipcx.event.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 0, NULL, NOT_YET},
	{"ipcx.sem.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 0, &sem_rtt, NULL},
	{"ipcx.sem.op", BENCH_OP, "op", NULL, 0, &sem_op, NULL},
	{"ipcx.sem.op2", BENCH_OP, "op2", NULL, 0, &sem_op2, NULL},
	{"ipcx.mutex.op", BENCH_OP, "op", NULL, 0, NULL, NOT_YET},
	{"ipcx.chan.rtt.64.spin", BENCH_RTT, "rtt", SPIN_FLOOR, 64, NULL, NOT_YET},
	{"ipcx.chan.rtt.64.adaptive", BENCH_RTT, "rtt", SPIN_FLOOR, 64, NULL, NOT_YET},
	{"ipcx.chan.rtt.64.sleep", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, NULL, NOT_YET},
	{"ipcx.chan.rtt.1m.adaptive", BENCH_RTT, "rtt.1m", SPIN_FLOOR, 1 << 20, NULL, NOT_YET},
	{"ipcx.topic.rtt.64.adaptive", BENCH_RTT, "rtt", SPIN_FLOOR, 64, NULL, NOT_YET},
	{"ipcx.chan.tput.64", BENCH_TPUT, "tput.64", NULL, 64, NULL, NOT_YET},
	{"ipcx.chan.tput.1m", BENCH_TPUT, "tput.1m", "floor.memcpy.1m", 1 << 20, NULL, NOT_YET},
	{"ipcx.topic.fanout.1", BENCH_TPUT, "fanout", NULL, 64, NULL, NOT_YET},
	{"ipcx.topic.fanout.4", BENCH_TPUT, "fanout", NULL, 64, NULL, NOT_YET},
	{"ipcx.topic.fanout.16", BENCH_TPUT, "fanout", NULL, 64, NULL, NOT_YET},
	{NULL, 0, NULL, NULL, 0, NULL, NULL},
};
