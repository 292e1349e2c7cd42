/* SPDX-License-Identifier: MIT */
/*
 * ipcx's semaphore sets, used as the System V cases use theirs (cases_kernel.c): op is a
 * -1/+1 pair on one semaphore, op2 an atomic -1/-1 then +1/+1 pair on two, rtt a ping-pong
 * over two semaphores (side 0 posts 0 and waits on 1; side 1 waits on 0 and posts 1).
 */
#include <errno.h>

#include <ipcx/ipcx.h>

#include "cases_ipcx.h"

static int sem_create(struct bench_env *e, uint32_t n, int v)
{
	ipcx_semset *s = NULL;
	int r = bench_ipcx_dir(e);

	if (r < 0)
		return r;
	r = ipcx_semset_open(bench_ipcx_name(e, 0), IPCX_CREATE | IPCX_EXCL, 0, n, v, &s);
	if (r < 0)
		return bench_fail(e, r, "ipcx_semset_open");
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
	int r = ipcx_semset_open(bench_ipcx_name(e, 0), 0, 0, 0, 0, (ipcx_semset **)e->local);

	return r < 0 ? bench_fail(e, r, "ipcx_semset_open") : 0;
}

static void sem_close(struct bench_env *e, int side)
{
	ipcx_semset_close(*(ipcx_semset **)e->local);
}

static void sem_teardown(struct bench_env *e)
{
	ipcx_unlink(bench_ipcx_name(e, 0));
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

const struct bench_ops bench_ipcx_sem_rtt = {.setup = sem_rtt_setup,
                                             .open = sem_open,
                                             .step = sem_rtt_step,
                                             .close = sem_close,
                                             .teardown = sem_teardown,
                                             .local_size = sizeof(void *)};
const struct bench_ops bench_ipcx_sem_op = {.setup = sem_op_setup,
                                            .open = sem_open,
                                            .step = sem_op_step,
                                            .close = sem_close,
                                            .teardown = sem_teardown,
                                            .local_size = sizeof(void *)};
const struct bench_ops bench_ipcx_sem_op2 = {.setup = sem_op_setup,
                                             .open = sem_open,
                                             .step = sem_op2_step,
                                             .close = sem_close,
                                             .teardown = sem_teardown,
                                             .local_size = sizeof(void *)};
