/* SPDX-License-Identifier: MIT */
/* Semaphore sets: the API, its errors, and behaviour across real processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/semset.h"
#include "semset_util.h"

IPCX_TEST(semset, open_errors)
{
	ipcx_semset *s = NULL, *t = NULL;

	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE, 0, 0, 0, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE, 0, IPCX_SEM_MAX_SEMS + 1, 0, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE, 0, 1, -1, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE, 0, 1, IPCX_SEM_VALUE_MAX + 1, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a/b", IPCX_CREATE, 0, 1, 0, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a", 0x40, 0, 1, 0, &s), -EINVAL);
	cr_expect_eq(ipcx_semset_open("a", 0, 0, 1, 0, &s), -ENOENT);
	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE, 0, 1, 0, NULL), -EINVAL);
	cr_assert_eq(ipcx_semset_open("a", IPCX_CREATE, 0, 3, 2, &s), 1);
	cr_expect_eq(ipcx_semset_open("a", IPCX_CREATE | IPCX_EXCL, 0, 3, 2, &t), -EEXIST);
	cr_expect_eq(ipcx_semset_open("a", 0, 0, 4, 0, &t), -EINVAL); /* larger than the set */
	cr_assert_eq(ipcx_semset_open("a", 0, 0, 2, 0, &t), 0);
	cr_expect_eq(ipcx_semset_nsems(t), 3);
	cr_expect_eq(ipcx_semset_get(t, 2), 2);
	ipcx_semset_close(t);
	cr_assert_eq(ipcx_semset_open("a", 0, 0, 0, 0, &t), 0);
	ipcx_semset_close(t);
	ipcx_semset_close(s);
	ipcx_semset_close(NULL);
	cr_expect_eq(ipcx_semset_nsems(NULL), -EINVAL);
}

IPCX_TEST(semset, op_errors)
{
	ipcx_semset *s = open_set("e", 4, 1);
	struct ipcx_sembuf many[IPCX_SEM_OPS_MAX + 1];
	struct ipcx_sembuf b = {0, -1, 0};

	memset(many, 0, sizeof(many));
	cr_expect_eq(ipcx_semset_op(s, many, IPCX_SEM_OPS_MAX + 1, 0), -E2BIG);
	for (int i = 0; i < IPCX_SEM_OPS_MAX; i++)
		many[i] = (struct ipcx_sembuf){(uint32_t)i % 4, 0, IPCX_SEM_NOWAIT};
	/* 500 entries is allowed (the values are 1: wait-for-zero fails at once). */
	cr_expect_eq(ipcx_semset_op(s, many, IPCX_SEM_OPS_MAX, IPCX_FOREVER), -EAGAIN);
	cr_expect_eq(ipcx_semset_op(s, &b, 0, 0), -EINVAL);
	cr_expect_eq(ipcx_semset_op(s, NULL, 1, 0), -EINVAL);
	cr_expect_eq(ipcx_semset_op(NULL, &b, 1, 0), -EINVAL);
	cr_expect_eq(op1(s, 0, -1, 0x4, 0), -EINVAL);
	cr_expect_eq(op1(s, 4, -1, 0, 0), -EFBIG);
	cr_expect_eq(op1(s, 0, IPCX_SEM_VALUE_MAX, 0, 0), -ERANGE);
	cr_expect_eq(op1(s, 0, IPCX_SEM_VALUE_MAX - 1, 0, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), IPCX_SEM_VALUE_MAX);
	cr_expect_eq(ipcx_semset_set(s, 0, 1), 0);
	cr_expect_eq(op1(s, 1, -2, 0, 0), -EAGAIN);
	cr_expect_eq(op1(s, 1, -2, IPCX_SEM_NOWAIT, IPCX_FOREVER), -EAGAIN);
	cr_expect_eq(op1(s, 1, -2, 0, 20 * MS), -ETIMEDOUT);
	cr_expect_eq(op1(s, 1, 0, 0, 1 * MS), -ETIMEDOUT);
	/* UNDO adjustments are bounded to [-32768, 32767], as semadj. */
	cr_expect_eq(ipcx_semset_set(s, 2, 0), 0);
	cr_expect_eq(op1(s, 2, 30000, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(op1(s, 2, -30000, 0, 0), 0);
	cr_expect_eq(op1(s, 2, 2768, IPCX_SEM_UNDO, 0), 0);    /* adj -32768: allowed */
	cr_expect_eq(op1(s, 2, 1, IPCX_SEM_UNDO, 0), -ERANGE); /* adj -32769 */
	cr_expect_eq(ipcx_semset_get(s, 2), 2768);
	/* get/set argument errors */
	cr_expect_eq(ipcx_semset_get(s, 4), -EFBIG);
	cr_expect_eq(ipcx_semset_get(NULL, 0), -EINVAL);
	cr_expect_eq(ipcx_semset_set(s, 4, 0), -EFBIG);
	cr_expect_eq(ipcx_semset_set(s, 0, -1), -ERANGE);
	cr_expect_eq(ipcx_semset_set(s, 0, IPCX_SEM_VALUE_MAX + 1), -ERANGE);
	cr_expect_eq(ipcx_semset_ncnt(s, 9), -EFBIG);
	cr_expect_eq(ipcx_semset_zcnt(s, 9), -EFBIG);
	cr_expect_eq(ipcx_semset_pid(s, 9), -EFBIG);
	cr_expect_eq(ipcx_semset_set_wait(s, 3), -EINVAL);
	cr_expect_eq(ipcx_semset_set_wait(s, IPCX_WAIT_SLEEP), 0);
	{
		int32_t v[4] = {1, 2, 3, 4}, bad[4] = {1, 2, -3, 4}, got[4];

		cr_expect_eq(ipcx_semset_setall(s, v, 3), -EINVAL);
		cr_expect_eq(ipcx_semset_setall(s, bad, 4), -ERANGE);
		cr_expect_eq(ipcx_semset_getall(s, got, 3), -EINVAL);
		cr_expect_eq(ipcx_semset_setall(s, v, 4), 0);
		cr_expect_eq(ipcx_semset_getall(s, got, 4), 4);
		cr_expect_arr_eq(got, v, sizeof(v));
		cr_expect_eq(ipcx_semset_pid(s, 3), getpid());
	}
	ipcx_semset_close(s);
}

IPCX_TEST(semset, semantics)
{
	ipcx_semset *s = open_set("s", 3, 0);
	struct ipcx_sembuf two[2] = {{0, 1, 0}, {1, -1, IPCX_SEM_NOWAIT}};
	struct ipcx_sembuf dup[3] = {{0, 2, 0}, {0, -1, 0}, {0, -1, 0}};
	struct ipcx_sembuf rng[2] = {{0, -1, 0}, {1, IPCX_SEM_VALUE_MAX + 1, 0}};

	/* All or nothing: entry 1 fails, entry 0 is not applied. */
	cr_expect_eq(ipcx_semset_op(s, two, 2, IPCX_FOREVER), -EAGAIN);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	/* Entries see the ones before them. */
	cr_expect_eq(ipcx_semset_op(s, dup, 3, 0), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	/* An entry that must wait comes before a later ERANGE, as in the kernel. */
	cr_expect_eq(ipcx_semset_op(s, rng, 2, 0), -EAGAIN);
	cr_expect_eq(op1(s, 0, 1, 0, 0), 0);
	cr_expect_eq(ipcx_semset_op(s, rng, 2, 0), -ERANGE);
	cr_expect_eq(ipcx_semset_get(s, 0), 1);
	/* wait-for-zero */
	cr_expect_eq(op1(s, 2, 0, 0, 0), 0);
	cr_expect_eq(op1(s, 0, 0, 0, 0), -EAGAIN);
	cr_expect_eq(ipcx_semset_pid(s, 2), getpid());
	cr_expect_eq(ipcx_semset_pid(s, 1), 0);
	ipcx_semset_close(s);
}

IPCX_TEST(semset, undo_on_close)
{
	ipcx_semset *s = open_set("u", 2, 5), *t = NULL;

	cr_assert_eq(ipcx_semset_open("u", 0, 0, 0, 0, &t), 0);
	cr_expect_eq(op1(t, 0, -3, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(op1(t, 1, 4, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(op1(t, 1, -1, 0, 0), 0); /* not undone */
	cr_expect_eq(ipcx_semset_get(s, 0), 2);
	cr_expect_eq(ipcx_semset_get(s, 1), 8);
	/* Someone else takes the value below what the UNDO would remove: clamped at 0. */
	cr_expect_eq(op1(s, 1, -8, 0, 0), 0);
	ipcx_semset_close(t);
	cr_expect_eq(ipcx_semset_get(s, 0), 5);
	cr_expect_eq(ipcx_semset_get(s, 1), 0);
	ipcx_semset_close(s);
}

IPCX_TEST(semset, undo_cleared_by_set)
{
	ipcx_semset *s = open_set("c", 2, 5), *t = NULL;

	cr_assert_eq(ipcx_semset_open("c", 0, 0, 0, 0, &t), 0);
	cr_expect_eq(op1(t, 0, -3, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(op1(t, 1, -3, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(ipcx_semset_set(s, 0, 1), 0); /* SETVAL zeroes semadj for sem 0 */
	ipcx_semset_close(t);
	cr_expect_eq(ipcx_semset_get(s, 0), 1);
	cr_expect_eq(ipcx_semset_get(s, 1), 5);
	ipcx_semset_close(s);
}

IPCX_TEST(semset, undo_limit)
{
	ipcx_semset *s = open_set("l", IPCX_SEM_UNDO_MAX + 1, 1);

	for (uint32_t i = 0; i < IPCX_SEM_UNDO_MAX; i++)
		cr_expect_eq(op1(s, i, -1, IPCX_SEM_UNDO, 0), 0);
	cr_expect_eq(op1(s, IPCX_SEM_UNDO_MAX, -1, IPCX_SEM_UNDO, 0), -ENOSPC);
	cr_expect_eq(op1(s, 0, 1, IPCX_SEM_UNDO, 0), 0); /* adj back to 0 frees an entry */
	cr_expect_eq(op1(s, IPCX_SEM_UNDO_MAX, -1, IPCX_SEM_UNDO, 0), 0);
	ipcx_semset_close(s);
}

/* ---- across processes ---- */

struct child_arg {
	const char *name;
	struct ipcx_sembuf ops[4];
	size_t nops;
	int64_t timeout;
	_Atomic int *result;
};

static int child_op(void *p)
{
	struct child_arg *a = p;
	ipcx_semset *s = NULL;
	int r = ipcx_semset_open(a->name, 0, 0, 0, 0, &s);

	if (r < 0)
		return 100;
	r = ipcx_semset_op(s, a->ops, a->nops, a->timeout);
	atomic_store(a->result, r);
	_exit(0); /* no close: a killed-like end would apply UNDO later; a clean one now */
}

IPCX_TEST(semset, wake_and_handoff)
{
	ipcx_semset *s = open_set("w", 8, 0);
	_Atomic int *res = test_shared_alloc(4096);
	struct child_arg a = {"w", {{5, -2, 0}}, 1, IPCX_FOREVER, &res[0]};
	pid_t p;

	res[0] = 1000;
	p = test_fork(child_op, &a);
	await_waiters(s, 5, 1);
	cr_expect_eq(ipcx_semset_ncnt(s, 5), 1);
	/* Operations on another semaphore leave it waiting: it is counted at 5 only. */
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(op1(s, 7, 1, 0, 0), 0);
		cr_assert_eq(op1(s, 7, -1, 0, 0), 0);
	}
	cr_expect_eq(ipcx_semset_ncnt(s, 5), 1);
	cr_expect_eq(ipcx_semset_ncnt(s, 7), 0);
	cr_expect_eq(atomic_load(&res[0]), 1000);
	cr_expect_eq(op1(s, 5, 1, 0, 0), 0); /* not enough */
	cr_expect_eq(ipcx_semset_ncnt(s, 5), 1);
	cr_expect_eq(op1(s, 5, 2, 0, 0), 0); /* completes it: 3 - 2 */
	cr_expect_eq(test_wait(p), 0);
	cr_expect_eq(atomic_load(&res[0]), 0);
	cr_expect_eq(ipcx_semset_get(s, 5), 1);
	cr_expect_eq(ipcx_semset_pid(s, 5), p); /* completed on its behalf, in its name */
	ipcx_semset_close(s);
}

IPCX_TEST(semset, fifo_completion)
{
	ipcx_semset *s = open_set("f", 1, 0);
	_Atomic int *res = test_shared_alloc(4096);
	struct child_arg a[3];
	pid_t p[3];

	/* Three waiters take 1 each, arriving in order; two units complete the first two. */
	for (int i = 0; i < 3; i++) {
		a[i] = (struct child_arg){"f", {{0, -1, 0}}, 1, 5000 * MS, &res[i]};
		res[i] = 1000;
		p[i] = test_fork(child_op, &a[i]);
		await_waiters(s, 0, i + 1);
	}
	cr_expect_eq(op1(s, 0, 2, 0, 0), 0);
	cr_expect_eq(test_wait(p[0]), 0);
	cr_expect_eq(test_wait(p[1]), 0);
	cr_expect_eq(res[0], 0);
	cr_expect_eq(res[1], 0);
	cr_expect_eq(ipcx_semset_ncnt(s, 0), 1);
	cr_expect_eq(res[2], 1000);
	cr_expect_eq(op1(s, 0, 1, 0, 0), 0);
	cr_expect_eq(test_wait(p[2]), 0);
	cr_expect_eq(res[2], 0);
	ipcx_semset_close(s);
}

IPCX_TEST(semset, zero_waiters)
{
	ipcx_semset *s = open_set("z", 2, 2);
	_Atomic int *res = test_shared_alloc(4096);
	struct child_arg a = {"z", {{0, 0, 0}, {1, 0, 0}}, 2, IPCX_FOREVER, &res[0]};
	pid_t p;

	res[0] = 1000;
	p = test_fork(child_op, &a);
	await_waiters(s, 0, 1);
	cr_expect_eq(ipcx_semset_zcnt(s, 0), 1);
	cr_expect_eq(op1(s, 0, -2, 0, 0), 0);
	await_waiters(s, 1, 1); /* now it waits at its second entry */
	cr_expect_eq(ipcx_semset_zcnt(s, 0), 0);
	cr_expect_eq(ipcx_semset_zcnt(s, 1), 1);
	cr_expect_eq(op1(s, 1, -2, 0, 0), 0);
	cr_expect_eq(test_wait(p), 0);
	cr_expect_eq(res[0], 0);
	ipcx_semset_close(s);
}

IPCX_TEST(semset, removal_wakes_eidrm)
{
	ipcx_semset *s = open_set("r", 1, 0);
	_Atomic int *res = test_shared_alloc(4096);
	struct child_arg a = {"r", {{0, -1, 0}}, 1, IPCX_FOREVER, &res[0]};
	pid_t p;

	res[0] = 1000;
	p = test_fork(child_op, &a);
	await_waiters(s, 0, 1);
	cr_assert_eq(ipcx_unlink("r"), 0);
	cr_expect_eq(test_wait(p), 0);
	cr_expect_eq(res[0], -EIDRM);
	cr_expect_eq(op1(s, 0, 1, 0, 0), -EIDRM);
	ipcx_semset_close(s);
}

/* Conservation: N processes move units between semaphores with 2- and 3-entry ops. */
struct mover_arg {
	const char *name;
	int rounds;
	unsigned seed;
};

static int mover(void *p)
{
	struct mover_arg *a = p;
	ipcx_semset *s = NULL;
	unsigned seed = a->seed;

	if (ipcx_semset_open(a->name, 0, 0, 0, 0, &s) < 0)
		return 100;
	for (int i = 0; i < a->rounds; i++) {
		uint32_t x = rand_r(&seed) % 6, y = rand_r(&seed) % 6, z = rand_r(&seed) % 6;
		struct ipcx_sembuf o[3] = {{x, -1, 0}, {y, -1, 0}, {z, 2, 0}};

		if (ipcx_semset_op(s, o, 3, 2000 * MS) < 0)
			return 1;
		/* A sum that is always 12 once every op is applied whole. */
		o[0] = (struct ipcx_sembuf){z, -2, 0};
		o[1] = (struct ipcx_sembuf){x, 1, 0};
		o[2] = (struct ipcx_sembuf){y, 1, 0};
		if (ipcx_semset_op(s, o, 3, 2000 * MS) < 0)
			return 2;
	}
	ipcx_semset_close(s);
	return 0;
}

IPCX_TEST(semset, atomic_across_processes)
{
	ipcx_semset *s = open_set("m", 6, 2);
	struct mover_arg a[6];
	pid_t p[6];
	int32_t v[6];

	for (int i = 0; i < 6; i++) {
		a[i] = (struct mover_arg){"m", 3000, (unsigned)i * 7919 + 1};
		p[i] = test_fork(mover, &a[i]);
	}
	for (int i = 0; i < 6; i++)
		cr_expect_eq(test_wait(p[i]), 0, "mover %d", i);
	cr_assert_eq(ipcx_semset_getall(s, v, 6), 6);
	for (int i = 0; i < 6; i++)
		cr_expect_eq(v[i], 2, "sem %d", i);
	ipcx_semset_close(s);
}

/* A large decrement is not starved by a stream of small ones (aging). */
static int small_takers(void *p)
{
	ipcx_semset *s = NULL;
	_Atomic int *stop = p;

	if (ipcx_semset_open("fair", 0, 0, 0, 0, &s) < 0)
		return 100;
	while (!atomic_load(stop)) {
		/* An increment never waits, so it never fails: a lost unit would starve the
		 * large decrement for good, and this exit status says so. */
		if (op1(s, 0, -1, 0, 100 * MS) == 0 && op1(s, 0, 1, 0, 0) != 0)
			return 101;
	}
	ipcx_semset_close(s);
	return 0;
}

IPCX_TEST(semset, large_decrement_not_starved)
{
	ipcx_semset *s = open_set("fair", 1, 3);
	_Atomic int *stop = test_shared_alloc(4096);
	pid_t p[3];

	for (int i = 0; i < 3; i++)
		p[i] = test_fork(small_takers, stop);
	/* Three takers keep the value below 3 most of the time; aging lets us through. */
	cr_expect_eq(op1(s, 0, -3, 0, 20000 * MS), 0);
	cr_expect_eq(op1(s, 0, 3, 0, 0), 0);
	atomic_store(stop, 1);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(test_wait(p[i]), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 3);
	ipcx_semset_close(s);
}

/*
 * Aging counts every overtaking, also by a waiting operation that completes before an older
 * one: here a small taker always queues (the value is 0) and each +1 goes to it from the
 * queue, past the older -2, which must still get through after IPCX__SEM_AGE of those.
 */
struct overtake_arg {
	_Atomic int stop, big_done;
};

static int overtake_big(void *p)
{
	struct overtake_arg *a = p;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open("ot", 0, 0, 0, 0, &s) < 0 || op1(s, 0, -2, 0, IPCX_FOREVER) != 0)
		return 1;
	atomic_store(&a->big_done, 1);
	ipcx_semset_close(s);
	return 0;
}

static int overtake_small(void *p)
{
	struct overtake_arg *a = p;
	ipcx_semset *s = NULL;

	if (ipcx_semset_open("ot", 0, 0, 0, 0, &s) < 0)
		return 1;
	while (!atomic_load(&a->stop))
		if (op1(s, 0, -1, 0, IPCX_FOREVER) != 0)
			return 2;
	ipcx_semset_close(s);
	return 0;
}

IPCX_TEST(semset, queued_overtakes_age_a_waiter, .timeout = 60)
{
	ipcx_semset *s = open_set("ot", 1, 0);
	struct overtake_arg *a = test_shared_alloc(4096);
	pid_t big, small;
	int rounds = 0;

	big = test_fork(overtake_big, a);
	await_waiters(s, 0, 1);
	small = test_fork(overtake_small, a);
	/* One unit per round, given when both wait: the small one is younger, so taking it
	 * from the queue overtakes the -2. Bounded by rounds, not time. */
	while (!atomic_load(&a->big_done) && rounds < 3 * IPCX__SEM_AGE) {
		for (int t = 0;
		     t < 100000 && !atomic_load(&a->big_done) && ipcx_semset_ncnt(s, 0) != 2; t++)
			usleep(100);
		if (atomic_load(&a->big_done))
			break;
		if (ipcx_semset_ncnt(s, 0) != 2 || op1(s, 0, 1, 0, 0) != 0)
			break; /* never: fails below, after the children are gone */
		rounds++;
	}
	for (int t = 0; t < 100000 && !atomic_load(&a->big_done); t++)
		usleep(100);
	if (!atomic_load(&a->big_done)) {
		test_kill(big);
		test_kill(small);
		cr_assert_fail("the -2 never got through (%d rounds)", rounds);
	}
	/* IPCX__SEM_AGE overtakes age it, then two units complete it. */
	cr_expect_leq(rounds, IPCX__SEM_AGE + 2);
	cr_expect_eq(test_wait(big), 0);
	atomic_store(&a->stop, 1);
	await_waiters(s, 0, 1);
	cr_expect_eq(op1(s, 0, 1, 0, 0), 0);
	cr_expect_eq(test_wait(small), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	ipcx_semset_close(s);
}

/* ---- hostile bytes ---- */

IPCX_TEST(semset, hostile_header_rejected)
{
	ipcx_semset *s = open_set("h", 4, 1), *t = NULL;
	size_t size;
	char *p = test_map_object("h", &size);
	struct ipcx__sem_body *b = (void *)(p + 8192);
	uint32_t n = b->nsems;

	ipcx_semset_close(s);
	b->nsems = 100000;
	cr_expect_eq(ipcx_semset_open("h", 0, 0, 0, 0, &t), -EBADMSG);
	b->nsems = 5; /* more than the file holds */
	cr_expect_eq(ipcx_semset_open("h", 0, 0, 0, 0, &t), -EBADMSG);
	b->nsems = n;
	b->magic ^= 1;
	cr_expect_eq(ipcx_semset_open("h", 0, 0, 0, 0, &t), -EBADMSG);
	b->magic ^= 1;
	cr_expect_eq(ipcx_semset_open("h", 0, 0, 0, 0, &t), 0);
	ipcx_semset_close(t);
	munmap(p, size);
}

/* Garbage in every runtime structure: calls return (maybe wrong values), never crash or hang. */
IPCX_TEST(semset, hostile_runtime_bytes)
{
	ipcx_semset *s = open_set("g", 4, 1);
	size_t size;
	char *p = test_map_object("g", &size);
	struct ipcx__sem_body *b = (void *)(p + 8192);
	unsigned seed = 1234;
	struct ipcx_sem_info info[4];
	int32_t v[4];

	for (int round = 0; round < 200; round++) {
		/* Scribble over the journal, the UNDO tables, the records and the values. */
		size_t from = offsetof(struct ipcx__sem_body, jstate);
		for (int k = 0; k < 64; k++) {
			size_t off = from + (size_t)rand_r(&seed) % (size - 8192 - from - 8);
			p[8192 + off] = (char)rand_r(&seed);
		}
		if (round % 5 == 0) {
			atomic_store(&b->jstate, IPCX__J_COMMITTED);
			atomic_store(&b->jn, (uint32_t)rand_r(&seed));
			atomic_store(&b->nwaiting, 3);
			atomic_store(&b->undo_tables, 2);
		}
		/* A garbage lock word names no live process: taken over after a slice. */
		if (round % 50 == 0)
			atomic_store(&b->lock, 0x123456789ull);
		op1(s, (uint32_t)round % 4, (round & 1) ? 1 : -1, IPCX_SEM_NOWAIT, 0);
		op1(s, (uint32_t)round % 4, -1, IPCX_SEM_UNDO, 1 * MS);
		ipcx_semset_getall(s, v, 4);
		ipcx_semset_stat(s, 0, info, 4);
		ipcx_semset_set(s, (uint32_t)round % 4, 1);
	}
	ipcx_semset_close(s);
	munmap(p, size);
}

/* The deterministic form: without aging, the -2 below would wait forever (as in the
 * kernel); after IPCX__SEM_AGE overtakes, newcomers queue behind it and it completes. */
IPCX_TEST(semset, aging_stops_overtaking)
{
	ipcx_semset *s = open_set("age", 1, 0);
	_Atomic int *res = test_shared_alloc(4096);
	struct child_arg a = {"age", {{0, -2, 0}}, 1, 20000 * MS, &res[0]};
	int overtaken = 0, refused_at = -1;
	pid_t p;

	res[0] = 1000;
	p = test_fork(child_op, &a);
	await_waiters(s, 0, 1);
	for (int i = 0; i < 3 * IPCX__SEM_AGE && refused_at < 0; i++) {
		cr_assert_eq(op1(s, 0, 1, 0, 0), 0);
		if (op1(s, 0, -1, IPCX_SEM_NOWAIT, 0) == 0)
			overtaken++;
		else
			refused_at = i;
	}
	cr_expect_eq(overtaken, IPCX__SEM_AGE);
	cr_expect_eq(refused_at, IPCX__SEM_AGE);
	cr_expect_eq(op1(s, 0, 1, 0, 0), 0); /* now 2: the aged waiter takes both */
	cr_expect_eq(test_wait(p), 0);
	cr_expect_eq(res[0], 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 0);
	ipcx_semset_close(s);
}

/* One handle, several threads: a semaphore of 1 used as a lock keeps them exclusive, and
 * waits hand off between threads of the same process. */
struct thr_arg {
	ipcx_semset *s;
	_Atomic int inside;
	_Atomic int bad;
	long counter;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;

	for (int i = 0; i < 2000; i++) {
		if (op1(a->s, 0, -1, 0, 5000 * MS) != 0) {
			atomic_fetch_add(&a->bad, 1);
			continue;
		}
		if (atomic_fetch_add(&a->inside, 1) != 0)
			atomic_fetch_add(&a->bad, 1);
		a->counter++;
		atomic_fetch_sub(&a->inside, 1);
		if (op1(a->s, 0, 1, 0, 0) != 0) /* a lost unit would stall the others */
			atomic_fetch_add(&a->bad, 1);
	}
	return NULL;
}

IPCX_TEST(semset, threads_share_a_handle)
{
	struct thr_arg a = {.s = open_set("thr", 1, 1)};
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, thr_main, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_expect_eq(atomic_load(&a.bad), 0);
	cr_expect_eq(a.counter, 8000);
	cr_expect_eq(ipcx_semset_get(a.s, 0), 1);
	ipcx_semset_close(a.s);
}

/* A forked child may use its parent's handle, but not for UNDO (the adjustments would be
 * the parent's). */
static int child_uses_parent_handle(void *p)
{
	ipcx_semset *s = p;

	if (op1(s, 0, -1, IPCX_SEM_UNDO, 0) != -ECHILD)
		return 1;
	if (op1(s, 0, -1, 0, 0) != 0)
		return 2;
	return 0;
}

IPCX_TEST(semset, forked_child_and_undo)
{
	ipcx_semset *s = open_set("fk", 1, 2);

	cr_expect_eq(test_wait(test_fork(child_uses_parent_handle, s)), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 1);
	ipcx_semset_close(s);
}

/* The wait slots are finite: 32 waiting operations of 500 entries fill them. */
static void *big_waiter(void *p)
{
	struct ipcx_sembuf ops[IPCX_SEM_OPS_MAX];
	ipcx_semset *s = p;

	for (int i = 0; i < IPCX_SEM_OPS_MAX; i++)
		ops[i] = (struct ipcx_sembuf){(uint32_t)i % 2, -1, 0};
	return (void *)(intptr_t)ipcx_semset_op(s, ops, IPCX_SEM_OPS_MAX, IPCX_FOREVER);
}

IPCX_TEST(semset, wait_slots_run_out)
{
	ipcx_semset *s = open_set("slots", 2, 0);
	enum { N = IPCX_SEM_WAIT_SLOTS / 8 };
	pthread_t t[N];
	void *ret;

	for (int i = 0; i < N; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, big_waiter, s), 0);
	for (int i = 0; i < 10000 && ipcx_semset_ncnt(s, 0) != N; i++)
		usleep(1000);
	cr_assert_eq(ipcx_semset_ncnt(s, 0), N);
	cr_expect_eq(op1(s, 1, -1, 0, IPCX_FOREVER), -ENOSPC);
	cr_expect_eq(op1(s, 1, -1, 0, 0), -EAGAIN); /* not waiting: no slot needed */
	cr_assert_eq(ipcx_unlink("slots"), 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], &ret);
		cr_expect_eq((int)(intptr_t)ret, -EIDRM);
	}
	ipcx_semset_close(s);
}

/* A forked child that closes its copy of a handle must not give back its parent's slot: the
 * next opener would take the slot and revert the live parent's UNDO adjustments. */
static ipcx_semset *inherited;

static int close_inherited_set(void *arg)
{
	(void)arg;
	ipcx_semset_close(inherited);
	return 0;
}

static int open_and_read(void *arg)
{
	ipcx_semset *s;
	int v;

	(void)arg;
	if (ipcx_semset_open("forkclose", 0, 0, 0, 0, &s) < 0)
		return 100;
	v = ipcx_semset_get(s, 0);
	ipcx_semset_close(s);
	return v;
}

IPCX_TEST(semset, forked_child_closing_a_copy_keeps_the_parents_undo)
{
	struct ipcx_sembuf take = {0, -1, IPCX_SEM_UNDO | IPCX_SEM_NOWAIT};

	cr_assert_eq(ipcx_semset_open("forkclose", IPCX_CREATE, 0, 1, 1, &inherited), 1);
	cr_assert_eq(ipcx_semset_op(inherited, &take, 1, 0), 0);
	cr_assert_eq(test_wait(test_fork(close_inherited_set, NULL)), 0);
	cr_expect_eq(test_wait(test_fork(open_and_read, NULL)), 0,
	             "the parent still holds the semaphore");
	ipcx_semset_close(inherited);
}
