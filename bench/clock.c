/* SPDX-License-Identifier: MIT */
/*
 * The per-sample clock: the time-stamp counter on x86-64 (invariant on this machine's CPUs,
 * cpuinfo flags constant_tsc + nonstop_tsc), calibrated against CLOCK_MONOTONIC; elsewhere
 * clock_gettime itself. The cost of taking one timestamp pair is measured at start-up and
 * subtracted from every sample.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static double ns_per_tick = 1.0;
static double overhead_ticks;
static bool use_tsc;

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t bench_ticks(void)
{
#if defined(__x86_64__)
	if (use_tsc) {
		/* lfence keeps the read from drifting into the timed work before it. */
		_mm_lfence();
		uint64_t t = __rdtsc();
		_mm_lfence();
		return t;
	}
#endif
	return (uint64_t)bench_now_ns();
}

static bool tsc_invariant(void)
{
#if defined(__x86_64__)
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool constant = false, nonstop = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
#else
	return false;
#endif
}

void bench_clock_init(void)
{
	use_tsc = tsc_invariant();
	if (use_tsc) {
		/* Two 20 ms windows; the shorter estimate is disturbed least. */
		double best = 0;
		for (int i = 0; i < 2; i++) {
			int64_t n0 = bench_now_ns();
			uint64_t t0 = bench_ticks();
			while (bench_now_ns() - n0 < 20000000)
				;
			int64_t n1 = bench_now_ns();
			uint64_t t1 = bench_ticks();
			double r = (double)(n1 - n0) / (double)(t1 - t0);
			if (best == 0 || r < best)
				best = r;
		}
		ns_per_tick = best;
	}
	/* The cost of one timestamp pair, as seen by a sample: the minimum of many. */
	uint64_t min = UINT64_MAX;
	for (int i = 0; i < 20000; i++) {
		uint64_t a = bench_ticks();
		uint64_t b = bench_ticks();
		if (b - a < min)
			min = b - a;
	}
	overhead_ticks = (double)min;
}

double bench_ticks_ns(uint64_t ticks)
{
	double t = (double)ticks - overhead_ticks;
	return t > 0 ? t * ns_per_tick : 0;
}

double bench_clock_overhead_ns(void)
{
	return overhead_ticks * ns_per_tick;
}

const char *bench_clock_name(void)
{
	return use_tsc ? "rdtsc" : "clock_gettime";
}
