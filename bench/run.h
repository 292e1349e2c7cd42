/* SPDX-License-Identifier: MIT */
/* The harness's side of running a case; cases only need bench.h. */
#ifndef IPCX_BENCH_RUN_H
#define IPCX_BENCH_RUN_H

#include "bench.h"

/* One run's figures; NAN where a figure does not apply. Times in ns, rates per second. */
struct bench_fig {
	double p50, p99, mean, msgs, gbs;
};

/*
 * Runs case c once with message size `size`, spending about budget_ns on the measurement.
 * seq makes the object names unique. Returns 0, or -errno with a reason in why (BENCH_WHY).
 */
int bench_run_case(const struct bench_case *c, size_t size, double budget_ns, unsigned seq,
                   struct bench_fig *fig, char *why);

/* Chooses the two CPUs the sides are pinned to (the first two this process may use). */
void bench_pick_cpus(void);
int bench_cpu_of_side(int side);

/* From a signal handler: kill the sides of the running case and stop. */
void bench_run_interrupt(void);

#endif
