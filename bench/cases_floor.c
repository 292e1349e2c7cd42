/* SPDX-License-Identifier: MIT */
/*
 * The floors of this machine: what any cross-process notification or copy costs at least.
 * Ratios in the table are taken against these, from the same run.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

long bench_futex(void *word, int op, uint32_t val)
{
	/* Shared futexes: the two sides are different processes. */
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* floor.spin.rtt: one cache line; side 0 writes an odd value, side 1 answers with the next. */
struct spin_state {
	_Alignas(64) _Atomic uint64_t word;
};
struct spin_local {
	uint64_t seq;
};

static int spin_step(struct bench_env *e, int side)
{
	struct spin_state *s = e->state;
	struct spin_local *l = e->local;
	if (side == 0) {
		uint64_t v = l->seq * 2 + 1;
		/* Release/acquire pair with side 1's load and store. */
		atomic_store_explicit(&s->word, v, memory_order_release);
		while (atomic_load_explicit(&s->word, memory_order_acquire) != v + 1)
			bench_relax();
	} else {
		uint64_t v = l->seq * 2 + 1;
		while (atomic_load_explicit(&s->word, memory_order_acquire) != v)
			bench_relax();
		atomic_store_explicit(&s->word, v + 1, memory_order_release);
	}
	l->seq++;
	return 0;
}

static const struct bench_ops spin_ops = {
        .step = spin_step,
        .state_size = sizeof(struct spin_state),
        .local_size = sizeof(struct spin_local),
};

/*
 * floor.spin2.rtt: one cache line each way, as any round trip through two objects needs (a
 * request queue and a reply queue). For reference only: the ipcx rows are held against
 * floor.spin.rtt, the single line bounced both ways, which is cheaper on this machine.
 */
struct spin2_state {
	_Alignas(64) _Atomic uint64_t ping;
	_Alignas(64) _Atomic uint64_t pong;
};

static int spin2_step(struct bench_env *e, int side)
{
	struct spin2_state *s = e->state;
	struct spin_local *l = e->local;
	uint64_t v = ++l->seq;

	/* Release/acquire pair each side's store with the other side's load. */
	if (side == 0) {
		atomic_store_explicit(&s->ping, v, memory_order_release);
		while (atomic_load_explicit(&s->pong, memory_order_acquire) != v)
			bench_relax();
	} else {
		while (atomic_load_explicit(&s->ping, memory_order_acquire) != v)
			bench_relax();
		atomic_store_explicit(&s->pong, v, memory_order_release);
	}
	return 0;
}

static const struct bench_ops spin2_ops = {
        .step = spin2_step,
        .state_size = sizeof(struct spin2_state),
        .local_size = sizeof(struct spin_local),
};

/*
 * floor.futex.rtt: two futex words, each side sleeps at once (no spinning) until the other
 * bumps its word and wakes it. The wake is always made, as a raw ping-pong would.
 */
struct futex_state {
	_Alignas(64) _Atomic uint32_t ping;
	_Alignas(64) _Atomic uint32_t pong;
};

static int futex_wait_for(_Atomic uint32_t *w, uint32_t want)
{
	for (;;) {
		uint32_t v = atomic_load_explicit(w, memory_order_acquire);
		if (v == want)
			return 0;
		if (bench_futex(w, FUTEX_WAIT, v) < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

static int futex_step(struct bench_env *e, int side)
{
	struct futex_state *s = e->state;
	struct spin_local *l = e->local;
	uint32_t n = (uint32_t)++l->seq;
	_Atomic uint32_t *mine = side == 0 ? &s->ping : &s->pong;
	_Atomic uint32_t *theirs = side == 0 ? &s->pong : &s->ping;
	if (side == 1) {
		int r = futex_wait_for(theirs, n);
		if (r < 0)
			return r;
	}
	atomic_store_explicit(mine, n, memory_order_release);
	bench_futex(mine, FUTEX_WAKE, 1);
	if (side == 0)
		return futex_wait_for(theirs, n);
	return 0;
}

static const struct bench_ops futex_ops = {
        .step = futex_step,
        .state_size = sizeof(struct futex_state),
        .local_size = sizeof(struct spin_local),
};

/* floor.memcpy.1m: copying 1 MiB between two hot buffers in one process. */
struct copy_local {
	char *src, *dst;
};

static int copy_open(struct bench_env *e, int side)
{
	struct copy_local *l = e->local;
	l->src = malloc(e->size);
	l->dst = malloc(e->size);
	if (!l->src || !l->dst)
		return -ENOMEM;
	memset(l->src, 1, e->size);
	memset(l->dst, 2, e->size);
	return 0;
}

static int copy_step(struct bench_env *e, int side)
{
	struct copy_local *l = e->local;
	memcpy(l->dst, l->src, e->size);
	/* Keep the copy from being optimised away. */
	__asm__ volatile("" : : "r"(l->dst) : "memory");
	return 0;
}

static void copy_close(struct bench_env *e, int side)
{
	struct copy_local *l = e->local;
	free(l->src);
	free(l->dst);
}

static const struct bench_ops copy_ops = {
        .open = copy_open,
        .step = copy_step,
        .close = copy_close,
        .local_size = sizeof(struct copy_local),
};

const struct bench_case bench_cases_floor[] = {
        {"floor.spin.rtt", BENCH_RTT, "floor", NULL, 0, &spin_ops, NULL},
        {"floor.spin2.rtt", BENCH_RTT, "floor", NULL, 0, &spin2_ops, NULL},
        {"floor.futex.rtt", BENCH_RTT, "floor", NULL, 0, &futex_ops, NULL},
        {"floor.memcpy.1m", BENCH_OP, "floor", NULL, 1 << 20, &copy_ops, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
};
