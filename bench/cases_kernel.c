/* SPDX-License-Identifier: MIT */
/*
 * What the kernel offers: pipes, Unix sockets, eventfd, POSIX message queues, System V and
 * POSIX semaphores. Each is used the way a careful user would: blocking calls, no busy loops.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <unistd.h>

int bench_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int bench_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Round trips over two byte streams: fd[0] -> fd[1] for requests, fd[2] -> fd[3] back. */
static int stream_rtt_step(struct bench_env *e, int side)
{
	void *buf = bench_buf(e);
	int r;
	if (!buf)
		return -ENOMEM;
	if (side == 0) {
		if ((r = bench_write_all(e->fd[1], buf, e->size)) < 0)
			return r;
		return bench_read_all(e->fd[2], buf, e->size);
	}
	if ((r = bench_read_all(e->fd[0], buf, e->size)) < 0)
		return r;
	return bench_write_all(e->fd[3], buf, e->size);
}

static int pipe_rtt_setup(struct bench_env *e)
{
	int a[2], b[2];
	if (pipe(a) < 0)
		return -errno;
	if (pipe(b) < 0) {
		close(a[0]);
		close(a[1]);
		return -errno;
	}
	e->fd[0] = a[0];
	e->fd[1] = a[1];
	e->fd[2] = b[0];
	e->fd[3] = b[1];
	return 0;
}

static const struct bench_ops pipe_rtt = {
        .setup = pipe_rtt_setup, .step = stream_rtt_step, .sweep = true};

/* One socket pair: side 0 talks on fd[1]/fd[2] (the same socket), side 1 on fd[0]/fd[3]. */
static int uds_setup(struct bench_env *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -errno;
	e->fd[1] = sv[0];
	e->fd[0] = sv[1];
	e->fd[2] = dup(sv[0]);
	e->fd[3] = dup(sv[1]);
	return e->fd[2] < 0 || e->fd[3] < 0 ? -errno : 0;
}

static const struct bench_ops uds_rtt = {
        .setup = uds_setup, .step = stream_rtt_step, .sweep = true};

/* Streaming: side 0 writes e->size bytes per step into fd[1], side 1 reads them from fd[0]. */
static int stream_tput_step(struct bench_env *e, int side)
{
	void *buf = bench_buf(e);
	if (!buf)
		return -ENOMEM;
	return side == 0 ? bench_write_all(e->fd[1], buf, e->size)
	                 : bench_read_all(e->fd[0], buf, e->size);
}

static int pipe_tput_setup(struct bench_env *e)
{
	int a[2];
	if (pipe(a) < 0)
		return -errno;
	e->fd[0] = a[0];
	e->fd[1] = a[1];
	/* Big messages get a pipe buffer as big as one message, as a tuned user would set. */
	if (e->size >= (1 << 20))
		fcntl(a[1], F_SETPIPE_SZ, (int)e->size);
	return 0;
}

static const struct bench_ops pipe_tput = {.setup = pipe_tput_setup, .step = stream_tput_step};
static const struct bench_ops uds_tput = {.setup = uds_setup, .step = stream_tput_step};

/* eventfd: a counter per direction. */
static int eventfd_setup(struct bench_env *e)
{
	e->fd[0] = eventfd(0, 0);
	e->fd[1] = eventfd(0, 0);
	return e->fd[0] < 0 || e->fd[1] < 0 ? -errno : 0;
}

static int eventfd_step(struct bench_env *e, int side)
{
	uint64_t v = 1;
	int out = e->fd[side], in = e->fd[!side];
	int r;
	if (side == 1 && (r = bench_read_all(in, &v, 8)) < 0)
		return r;
	v = 1;
	if ((r = bench_write_all(out, &v, 8)) < 0)
		return r;
	if (side == 0)
		return bench_read_all(in, &v, 8);
	return 0;
}

static const struct bench_ops eventfd_rtt = {.setup = eventfd_setup, .step = eventfd_step};

/* POSIX message queues: one per direction, unlinked as soon as both are open. */
static int mq_setup(struct bench_env *e)
{
	struct mq_attr attr = {.mq_maxmsg = 10, .mq_msgsize = (long)(e->size ? e->size : 8)};
	for (int i = 0; i < 2; i++) {
		char name[96];
		snprintf(name, sizeof(name), "/%s-%d", e->tag, i);
		mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
		if (q == (mqd_t)-1)
			return bench_fail(e, -errno, "mq_open: %s", strerror(errno));
		mq_unlink(name);
		e->fd[i] = (int)q;
	}
	return 0;
}

static int mq_step(struct bench_env *e, int side)
{
	char *buf = bench_buf(e);
	size_t n = e->size ? e->size : 8;
	mqd_t out = (mqd_t)e->fd[side], in = (mqd_t)e->fd[!side];
	if (side == 1 && mq_receive(in, buf, n, NULL) < 0)
		return -errno;
	if (mq_send(out, buf, n, 0) < 0)
		return -errno;
	if (side == 0 && mq_receive(in, buf, n, NULL) < 0)
		return -errno;
	return 0;
}

static const struct bench_ops mq_rtt = {.setup = mq_setup, .step = mq_step};

/* System V semaphores: a private set, removed in teardown. */
static int sysv_make(struct bench_env *e, int n, int val)
{
	int id = semget(IPC_PRIVATE, n, IPC_CREAT | 0600);
	if (id < 0)
		return bench_fail(e, -errno, "semget: %s", strerror(errno));
	e->id = id;
	for (int i = 0; i < n; i++)
		if (semctl(id, i, SETVAL, val) < 0)
			return -errno;
	return 0;
}

static void sysv_teardown(struct bench_env *e)
{
	if (e->id >= 0)
		semctl((int)e->id, 0, IPC_RMID);
}

static int sysv_rtt_setup(struct bench_env *e)
{
	return sysv_make(e, 2, 0);
}

static int semop1(long id, unsigned short num, short delta)
{
	struct sembuf op = {num, delta, 0};
	while (semop((int)id, &op, 1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int sysv_rtt_step(struct bench_env *e, int side)
{
	int r;
	if (side == 1 && (r = semop1(e->id, 0, -1)) < 0)
		return r;
	if ((r = semop1(e->id, side == 0 ? 0 : 1, 1)) < 0)
		return r;
	if (side == 0)
		return semop1(e->id, 1, -1);
	return 0;
}

static const struct bench_ops sysv_rtt = {
        .setup = sysv_rtt_setup, .step = sysv_rtt_step, .teardown = sysv_teardown};

static int sysv_op_setup(struct bench_env *e)
{
	return sysv_make(e, 1, 1);
}

static int sysv_op_step(struct bench_env *e, int side)
{
	int r = semop1(e->id, 0, -1);
	return r < 0 ? r : semop1(e->id, 0, 1);
}

static const struct bench_ops sysv_op = {
        .setup = sysv_op_setup, .step = sysv_op_step, .teardown = sysv_teardown};

static int sysv_op2_setup(struct bench_env *e)
{
	return sysv_make(e, 2, 1);
}

static int sysv_op2_step(struct bench_env *e, int side)
{
	struct sembuf down[2] = {{0, -1, 0}, {1, -1, 0}};
	struct sembuf up[2] = {{0, 1, 0}, {1, 1, 0}};
	if (semop((int)e->id, down, 2) < 0 || semop((int)e->id, up, 2) < 0)
		return -errno;
	return 0;
}

static const struct bench_ops sysv_op2 = {
        .setup = sysv_op2_setup, .step = sysv_op2_step, .teardown = sysv_teardown};

/* POSIX semaphores, process-shared, in the shared state. */
struct psem_state {
	sem_t s[2];
};

static int psem_setup(struct bench_env *e)
{
	struct psem_state *st = e->state;
	int v = e->c->shape == BENCH_OP ? 1 : 0;
	if (sem_init(&st->s[0], 1, v) < 0 || sem_init(&st->s[1], 1, v) < 0)
		return -errno;
	return 0;
}

static void psem_teardown(struct bench_env *e)
{
	struct psem_state *st = e->state;
	sem_destroy(&st->s[0]);
	sem_destroy(&st->s[1]);
}

static int psem_wait(sem_t *s)
{
	while (sem_wait(s) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int psem_rtt_step(struct bench_env *e, int side)
{
	struct psem_state *st = e->state;
	int r;
	if (side == 1 && (r = psem_wait(&st->s[0])) < 0)
		return r;
	if (sem_post(&st->s[side]) < 0)
		return -errno;
	if (side == 0)
		return psem_wait(&st->s[1]);
	return 0;
}

static int psem_op_step(struct bench_env *e, int side)
{
	struct psem_state *st = e->state;
	int r = psem_wait(&st->s[0]);
	if (r < 0)
		return r;
	return sem_post(&st->s[0]) < 0 ? -errno : 0;
}

static const struct bench_ops psem_rtt = {.setup = psem_setup,
                                          .step = psem_rtt_step,
                                          .teardown = psem_teardown,
                                          .state_size = sizeof(struct psem_state)};
static const struct bench_ops psem_op = {.setup = psem_setup,
                                         .step = psem_op_step,
                                         .teardown = psem_teardown,
                                         .state_size = sizeof(struct psem_state)};

#define FUTEX_FLOOR "floor.futex.rtt"
const struct bench_case bench_cases_kernel[] = {
        {"pipe.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &pipe_rtt, NULL},
        {"uds.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &uds_rtt, NULL},
        {"eventfd.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 8, &eventfd_rtt, NULL},
        {"mq.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &mq_rtt, NULL},
        {"sysv_sem.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 0, &sysv_rtt, NULL},
        {"posix_sem.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 0, &psem_rtt, NULL},
        {"sysv_sem.op", BENCH_OP, "op", NULL, 0, &sysv_op, NULL},
        {"sysv_sem.op2", BENCH_OP, "op2", NULL, 0, &sysv_op2, NULL},
        {"posix_sem.op", BENCH_OP, "op", NULL, 0, &psem_op, NULL},
        {"pipe.tput.64", BENCH_TPUT, "tput.64", NULL, 64, &pipe_tput, NULL},
        {"pipe.tput.1m", BENCH_TPUT, "tput.1m", "floor.memcpy.1m", 1 << 20, &pipe_tput, NULL},
        {"uds.tput.64", BENCH_TPUT, "tput.64", NULL, 64, &uds_tput, NULL},
        {"uds.tput.1m", BENCH_TPUT, "tput.1m", "floor.memcpy.1m", 1 << 20, &uds_tput, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
};
