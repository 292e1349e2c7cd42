/* SPDX-License-Identifier: MIT */
/*
 * Semaphore sets and SIGKILL: a process killed holding UNDO adjustments, while it sleeps,
 * while it holds the set lock, and at random moments in the middle of operations. The
 * survivors recover, nothing hangs past its timeout, and the values are the true ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/semset.h"
#include "semset_util.h"
#include "internal/sys.h"

static void await_flag(_Atomic int *f, int want)
{
	for (int t = 0; t < 10000 && atomic_load(f) != want; t++)
		usleep(1000);
	cr_assert_eq(atomic_load(f), want);
}

struct holder_arg {
	const char *name;
	_Atomic int *flag;
};

/* Takes 2 from semaphore 0 and 1 from semaphore 1 with UNDO, then sleeps until killed. */
static int undo_holder(void *p)
{
	struct holder_arg *a = p;
	ipcx_semset *s = NULL;
	struct ipcx_sembuf o[2] = {{0, -2, IPCX_SEM_UNDO}, {1, -1, IPCX_SEM_UNDO}};

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0 || ipcx_semset_op(s, o, 2, 0) < 0)
		return 1;
	atomic_store(a->flag, 1);
	for (;;)
		pause();
}

IPCX_TEST(semset_crash, killed_holding_undo)
{
	ipcx_semset *s = open_set("k", 2, 2);
	_Atomic int *flag = test_shared_alloc(4096);
	struct holder_arg a = {"k", flag};
	pid_t p = test_fork(undo_holder, &a);

	await_flag(flag, 1);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 1), 1);
	test_kill(p);
	/* The first observation after the death sees the adjustments applied. */
	cr_expect_eq(ipcx_semset_get(s, 0), 2);
	cr_expect_eq(ipcx_semset_get(s, 1), 2);
	cr_expect_eq(ipcx_semset_pid(s, 0), p); /* as exit_sem: the dead process's pid */
	ipcx_semset_close(s);
}

IPCX_TEST(semset_crash, killed_holding_undo_op_sees_it)
{
	ipcx_semset *s = open_set("ko", 2, 2);
	_Atomic int *flag = test_shared_alloc(4096);
	struct holder_arg a = {"ko", flag};
	pid_t p = test_fork(undo_holder, &a);

	await_flag(flag, 1);
	test_kill(p);
	/* Not a read: an op that would fail without the dead process's UNDO succeeds. */
	cr_expect_eq(op1(s, 0, -2, IPCX_SEM_NOWAIT, 0), 0);
	ipcx_semset_close(s);
}

static int waiter(void *p)
{
	struct holder_arg *a = p;
	ipcx_semset *s = NULL;
	int r;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0)
		return 100;
	r = op1(s, 0, -2, 0, 10000 * MS);
	return r == 0 ? 0 : 10 + (r == -ETIMEDOUT);
}

/* A waiter sleeping on what a process holds with UNDO is woken when that process dies,
 * though nobody else touches the set. */
IPCX_TEST(semset_crash, sleeper_not_hung_by_dead_holder)
{
	ipcx_semset *s = open_set("sl", 2, 2);
	_Atomic int *flag = test_shared_alloc(4096);
	struct holder_arg a = {"sl", flag};
	pid_t h = test_fork(undo_holder, &a), w;

	await_flag(flag, 1);
	w = test_fork(waiter, &a);
	await_waiters(s, 0, 1);
	test_kill(h);
	cr_expect_eq(test_wait(w), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	ipcx_semset_close(s);
}

/* A process killed while it sleeps leaves the queue: it is not counted and takes nothing. */
IPCX_TEST(semset_crash, killed_while_sleeping)
{
	ipcx_semset *s = open_set("ws", 1, 0);
	struct holder_arg a = {"ws", NULL};
	pid_t w = test_fork(waiter, &a);

	await_waiters(s, 0, 1);
	test_kill(w);
	cr_expect_eq(ipcx_semset_ncnt(s, 0), 0);
	cr_expect_eq(op1(s, 0, 2, 0, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 2);
	ipcx_semset_close(s);
}

/* Holds UNDO adjustments and then sleeps in a wait: killed there. */
static int undo_then_wait(void *p)
{
	struct holder_arg *a = p;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0 || op1(s, 1, -1, IPCX_SEM_UNDO, 0) < 0)
		return 1;
	atomic_store(a->flag, 1);
	op1(s, 0, -1, IPCX_SEM_UNDO, IPCX_FOREVER);
	return 2;
}

IPCX_TEST(semset_crash, killed_sleeping_with_undo)
{
	ipcx_semset *s = open_set("wu", 2, 0);
	_Atomic int *flag = test_shared_alloc(4096);
	struct holder_arg a = {"wu", flag};
	pid_t w;

	cr_assert_eq(ipcx_semset_set(s, 1, 3), 0);
	w = test_fork(undo_then_wait, &a);
	await_flag(flag, 1);
	await_waiters(s, 0, 1);
	cr_expect_eq(ipcx_semset_get(s, 1), 2);
	test_kill(w);
	cr_expect_eq(ipcx_semset_get(s, 1), 3);
	cr_expect_eq(ipcx_semset_ncnt(s, 0), 0);
	cr_expect_eq(op1(s, 0, 1, 0, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 1);
	ipcx_semset_close(s);
}

/* Dies holding the set lock: after committing a journal step, or in the middle of one. */
struct lock_arg {
	const char *name;
	_Atomic int *flag;
	bool committed;
};

static int die_holding_lock(void *p)
{
	struct lock_arg *a = p;
	ipcx_semset *s = NULL;
	struct ipcx__sem_body *b;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0)
		return 1;
	b = s->b;
	ipcx__sem_lock(s);
	/* A step moving 3 from semaphore 0 to semaphore 1, never applied by us. */
	ipcx__sem_jbegin(s);
	ipcx__sem_jadd(s, IPCX__J_SEM, 0, ipcx__sem_word(2, getpid()));
	ipcx__sem_jadd(s, IPCX__J_SEM, 1, ipcx__sem_word(3, getpid()));
	if (a->committed)
		atomic_store(&b->jstate, IPCX__J_COMMITTED);
	atomic_store(a->flag, 1);
	for (;;)
		pause();
}

static void lock_death(bool committed)
{
	ipcx_semset *s = open_set(committed ? "lc" : "lu", 2, 5);
	_Atomic int *flag = test_shared_alloc(4096);
	struct lock_arg a = {committed ? "lc" : "lu", flag, committed};
	pid_t p = test_fork(die_holding_lock, &a);

	await_flag(flag, 1);
	test_kill(p);
	/* A timed wait behind the dead holder ends with its timeout (a hang would trip the
	 * test's own timeout): it takes the lock over. How soon is the benchmark's business. */
	cr_expect_eq(op1(s, 0, -100, 0, 50 * MS), -ETIMEDOUT);
	cr_expect_eq(ipcx_semset_get(s, 0), committed ? 2 : 5);
	cr_expect_eq(ipcx_semset_get(s, 1), committed ? 3 : 5);
	ipcx_semset_close(s);
}

IPCX_TEST(semset_crash, lock_holder_dies_after_commit)
{
	lock_death(true);
}

IPCX_TEST(semset_crash, lock_holder_dies_before_commit)
{
	lock_death(false);
}

/* How many operations the killed processes completed in all, to know they ran. */
static _Atomic long *done_ops;

/* Movers that keep the sum of 6 semaphores at 12, killed at random moments. */
static int mover(void *p)
{
	const char *name = p;
	ipcx_semset *s = NULL;
	unsigned seed = (unsigned)getpid();

	if (ipcx_semset_open(name, 0, 0, 0, 0, &s) < 0)
		return 100;
	for (;; atomic_fetch_add(done_ops, 1)) {
		uint32_t x = rand_r(&seed) % 6, y = rand_r(&seed) % 6, z = rand_r(&seed) % 6;
		struct ipcx_sembuf o[3] = {{x, -1, 0}, {y, -1, 0}, {z, 2, 0}};

		ipcx_semset_op(s, o, 3, 200 * MS);
		o[0] = (struct ipcx_sembuf){z, -2, 0};
		o[1] = (struct ipcx_sembuf){x, 1, 0};
		o[2] = (struct ipcx_sembuf){y, 1, 0};
		ipcx_semset_op(s, o, 3, 200 * MS);
	}
}

/* A lock-like user of semaphore 6 with UNDO: value 1 when nobody holds it. */
static int locker(void *p)
{
	const char *name = p;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open(name, 0, 0, 0, 0, &s) < 0)
		return 100;
	for (;; atomic_fetch_add(done_ops, 1)) {
		if (op1(s, 6, -1, IPCX_SEM_UNDO, 500 * MS) == 0)
			op1(s, 6, 1, IPCX_SEM_UNDO, 0);
	}
}

IPCX_TEST(semset_crash, killed_at_random_moments)
{
	ipcx_semset *s = open_set("rnd", 7, 2);
	pid_t p[4];
	int32_t v[7];
	struct timespec ts;
	unsigned seed = 42;

	done_ops = test_shared_alloc(4096);
	cr_assert_eq(ipcx_semset_set(s, 6, 1), 0);
	for (int i = 0; i < 4; i++)
		p[i] = test_fork(i % 2 ? locker : mover, "rnd");
	for (int round = 0; round < 150; round++) {
		int i = (int)(rand_r(&seed) % 4);

		ts.tv_sec = 0;
		ts.tv_nsec = (long)(rand_r(&seed) % 20000) * 1000;
		nanosleep(&ts, NULL);
		test_kill(p[i]);
		p[i] = test_fork(i % 2 ? locker : mover, "rnd");
	}
	for (int i = 0; i < 4; i++)
		test_kill(p[i]);
	cr_assert_eq(ipcx_semset_getall(s, v, 7), 7);
	cr_expect_eq(v[0] + v[1] + v[2] + v[3] + v[4] + v[5], 12, "%d %d %d %d %d %d", v[0], v[1],
	             v[2], v[3], v[4], v[5]);
	cr_expect_eq(v[6], 1);
	cr_expect_gt(atomic_load(done_ops), 1000, "the killed processes hardly ran");
	for (int i = 0; i < 7; i++)
		cr_expect_eq(ipcx_semset_ncnt(s, (uint32_t)i) + ipcx_semset_zcnt(s, (uint32_t)i),
		             0);
	/* And the set still works. */
	cr_expect_eq(op1(s, 6, -1, 0, 0), 0);
	ipcx_semset_close(s);
}

/* A live process that keeps the lock (stopped, or hostile) delays others only up to their
 * timeout; once it dies, the lock is taken over. */
static int hold_lock_alive(void *p)
{
	struct lock_arg *a = p;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0)
		return 1;
	ipcx__sem_lock(s);
	atomic_store(a->flag, 1);
	for (;;)
		pause();
}

IPCX_TEST(semset_crash, live_lock_holder_bounded_by_timeout)
{
	ipcx_semset *s = open_set("ll", 1, 1);
	_Atomic int *flag = test_shared_alloc(4096);
	struct lock_arg a = {"ll", flag, false};
	pid_t p = test_fork(hold_lock_alive, &a);

	await_flag(flag, 1);
	cr_expect_eq(op1(s, 0, -1, 0, 30 * MS), -ETIMEDOUT);
	cr_expect_eq(op1(s, 0, -1, 0, 0), -EAGAIN);
	test_kill(p);
	/* Taken over: with a timeout, since a try-once gives up on the lock after 10 ms and
	 * finding the holder dead can take longer than that on a loaded machine. */
	cr_expect_eq(op1(s, 0, -1, 0, 10000 * MS), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	ipcx_semset_close(s);
}

/*
 * A holder that is runnable keeps the lock longer than 10 ms only because it has no CPU (a
 * loaded machine): a try-once waits for it rather than fail. Here the holder spins for
 * 200 ms, which looks the same from outside. A try-once increment that failed would lose a
 * unit for a caller that, as with semop, counts on increments never failing.
 */
struct spin_arg {
	const char *name;
	_Atomic int *flag;
	bool forever;
};

static int spin_holding_lock(void *p)
{
	struct spin_arg *a = p;
	ipcx_semset *s = NULL;
	int64_t until;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0)
		return 1;
	ipcx__sem_lock(s);
	atomic_store(a->flag, 1);
	until = ipcx__now_ns() + (a->forever ? INT64_MAX / 2 : 200 * MS);
	while (ipcx__now_ns() < until)
		ipcx__cpu_relax();
	atomic_store(a->flag, 2); /* before the unlock: whoever gets the lock next sees it */
	ipcx__sem_unlock(s);
	ipcx_semset_close(s);
	return 0;
}

IPCX_TEST(semset_crash, try_once_waits_for_runnable_lock_holder)
{
	ipcx_semset *s = open_set("rl", 1, 1);
	_Atomic int *flag = test_shared_alloc(4096);
	struct spin_arg a = {"rl", flag, false};
	pid_t p = test_fork(spin_holding_lock, &a);

	int r = -EAGAIN;

	await_flag(flag, 1);
	/* Before the fix each try gives up after 10 ms, so three fail well inside the 200 ms.
	 * Three tries, not one: on a grossly overloaded machine a try may still reach its 1 s
	 * bound (seen twice in 68 runs of three TSan suites at once beside a full build). */
	for (int k = 0; k < 3 && r == -EAGAIN; k++)
		r = op1(s, 0, 1, 0, 0);
	cr_expect_eq(r, 0);
	cr_expect_eq(atomic_load(flag), 2, "the op ran after the holder let go");
	cr_expect_eq(test_wait(p), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 2);
	ipcx_semset_close(s);
}

/* One that spins with the lock held for good still bounds a try-once (and a timeout). */
IPCX_TEST(semset_crash, spinning_lock_holder_bounded, .timeout = 60)
{
	ipcx_semset *s = open_set("sl", 1, 1);
	_Atomic int *flag = test_shared_alloc(4096);
	struct spin_arg a = {"sl", flag, true};
	pid_t p = test_fork(spin_holding_lock, &a);

	await_flag(flag, 1);
	cr_expect_eq(op1(s, 0, 1, 0, 0), -EAGAIN);
	cr_expect_eq(op1(s, 0, -1, 0, 30 * MS), -ETIMEDOUT);
	test_kill(p);
	cr_expect_eq(op1(s, 0, -1, 0, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	ipcx_semset_close(s);
}

/* A killed waiter that its parent has not reaped yet (a zombie, whose pid is still taken)
 * gets nothing: the unit goes to the live waiter behind it. */
static bool is_zombie(pid_t p)
{
	char path[64], buf[512], *q;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
	f = fopen(path, "r");
	if (!f)
		return false;
	q = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return q && q[1] == ' ' && q[2] == 'Z';
}

IPCX_TEST(semset_crash, zombie_waiter_gets_nothing)
{
	ipcx_semset *s = open_set("zw", 1, 0);
	struct holder_arg a = {"zw", NULL};
	pid_t first, second;

	first = test_fork(waiter, &a);
	await_waiters(s, 0, 1);
	second = test_fork(waiter, &a);
	await_waiters(s, 0, 2);
	kill(first, SIGKILL);
	while (!is_zombie(first)) /* bounded by the test's timeout */
		usleep(1000);
	cr_assert(is_zombie(first));
	/* -2 each: two units complete exactly one waiter, which must be the live one. */
	cr_expect_eq(op1(s, 0, 2, 0, 0), 0);
	cr_expect_eq(test_wait(second), 0);
	cr_expect_eq(test_wait(first), 128 + SIGKILL);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	cr_expect_eq(ipcx_semset_ncnt(s, 0), 0);
	ipcx_semset_close(s);
}
