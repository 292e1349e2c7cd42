/* SPDX-License-Identifier: MIT */
/* The results of a run and how they are printed: a table, CSV or JSON. */
#ifndef IPCX_BENCH_REPORT_H
#define IPCX_BENCH_REPORT_H

#include <stdio.h>

#include "run.h"

#define BENCH_MAX_ROUNDS 50

enum bench_status { BENCH_OK, BENCH_SKIPPED, BENCH_FAILED };
enum bench_format { BENCH_TABLE, BENCH_CSV, BENCH_JSON };

struct bench_row {
	const struct bench_case *c;
	size_t size;
	enum bench_status status;
	char why[BENCH_WHY + 64];
	int nrounds;
	int nfailed; /* rounds that failed (their figures are left out) */
	struct bench_fig rounds[BENCH_MAX_ROUNDS];
	struct bench_fig med;   /* median over rounds, figure by figure */
	double lo, hi;          /* min and max over rounds of the key figure */
	double x_floor, x_best; /* ratios of the key figure; NAN when there is none */
	const char *best;       /* the best non-ipcx case for the same job */
};

struct bench_run {
	struct bench_row *rows;
	int n, nrounds;
	double budget_ms;
	bool sweep, quick;
};

/* The figure a case is compared by: p50 for round trips, the mean for operations and streams
 * (ns per message, so that smaller is better everywhere). */
double bench_key(const struct bench_row *row, const struct bench_fig *f);
void bench_ratios(struct bench_run *run);
void bench_report(const struct bench_run *run, enum bench_format fmt, FILE *out);

#endif
