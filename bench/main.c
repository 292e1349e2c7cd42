/* SPDX-License-Identifier: MIT */
/*
 * ipcx-bench: runs every selected case once per round, rounds interleaved, and reports each
 * figure as the median over rounds, with ratios to the floor and to the best non-ipcx
 * mechanism for the same job. See bench.h for how a case is written.
 */
#define _GNU_SOURCE
#include "report.h"
#include "run.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The order of the table: floors, the kernel, peers, ipcx. */
static const struct bench_case *const tables[] = {
        bench_cases_floor,
        bench_cases_kernel,
        bench_cases_peers,
        bench_cases_ipcx,
};

static const size_t sweep_sizes[] = {64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ipcx-bench [--quick] [--rounds N] [--filter GLOB] [--csv|--json]\n"
	        "                  [--sweep [--size BYTES]] [--budget-ms MS] [--csv-out FILE]\n"
	        "                  [--list] [--help]\n"
	        "\n"
	        "Measures ipcx side by side with the machine's floors, the kernel's IPC and peer\n"
	        "libraries (ZeroMQ, nng, iceoryx) in one run. Two-sided cases run as two "
	        "processes\n"
	        "pinned to two CPUs. Rounds are interleaved (every case once, then again) and "
	        "each\n"
	        "figure is the median over rounds; the table shows the min-max too.\n"
	        "\n"
	        "  --quick          3 rounds, short runs: the whole run takes well under 90 s\n"
	        "  --rounds N       number of rounds (default 5; --quick: 3)\n"
	        "  --filter GLOB    only cases whose name matches (fnmatch); may be repeated\n"
	        "  --skip GLOB      keep these cases' rows but do not run them; may be repeated\n"
	        "  --csv            CSV: case,p50_ns,p99_ns,mean_ns,msgs_per_s,gb_per_s\n"
	        "  --json           JSON with per-round figures, ratios and reasons\n"
	        "  --sweep          round-trip latency against message size (64 B to 4 MiB)\n"
	        "                   for the cases that support it; CSV: "
	        "case,size,p50_ns,p99_ns,mean_ns\n"
	        "  --csv-out FILE   also write the CSV of this run to FILE\n"
	        "  --size BYTES     with --sweep: only this size (64, 256, ... 4194304)\n"
	        "  --budget-ms MS   time spent measuring one case in one round (default 1000;\n"
	        "                   --quick: 400)\n"
	        "  --list           list the cases and exit\n"
	        "\n"
	        "A case that cannot run (a peer not installed, a feature not built yet) keeps its\n"
	        "row with empty figures and says why on stderr. Exit status: 0 when the run\n"
	        "completed (even with skipped or failed cases), 1 on an error, 2 on bad usage.\n");
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
	interrupted = sig;
	bench_run_interrupt();
}

static bool matches(const char *name, char **globs, int nglobs)
{
	if (!nglobs)
		return true;
	for (int i = 0; i < nglobs; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

static double median(double *v, int n)
{
	double s[n > 0 ? n : 1];
	int m = 0;
	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			s[m++] = v[i];
	if (!m)
		return NAN;
	for (int i = 1; i < m; i++)
		for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
			double t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	return m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
}

static void aggregate(struct bench_row *row)
{
	int n = row->nrounds;
	double v[BENCH_MAX_ROUNDS];
#define MED(field)                                                                                 \
	do {                                                                                       \
		for (int i = 0; i < n; i++)                                                        \
			v[i] = row->rounds[i].field;                                               \
		row->med.field = median(v, n);                                                     \
	} while (0)
	MED(p50);
	MED(p99);
	MED(mean);
	MED(msgs);
	MED(gbs);
#undef MED
	row->lo = row->hi = NAN;
	for (int i = 0; i < n; i++) {
		double x = bench_key(row, &row->rounds[i]);
		if (isnan(x))
			continue;
		if (isnan(row->lo) || x < row->lo)
			row->lo = x;
		if (isnan(row->hi) || x > row->hi)
			row->hi = x;
	}
}

static char **skip_globs; /* --skip */
static int nskip_globs;

/* Skips are decided before the first round; a peer may also be unavailable at run time. */
static void decide_skip(struct bench_row *row)
{
	const struct bench_case *c = row->c;
	const char *why = NULL;
	if (nskip_globs && matches(c->name, skip_globs, nskip_globs))
		why = "skipped by --skip";
	else if (!c->ops)
		why = c->skip ? c->skip : "not available";
	else if (c->ops->available)
		why = c->ops->available();
	if (why) {
		row->status = BENCH_SKIPPED;
		snprintf(row->why, sizeof(row->why), "%s", why);
	}
}

static size_t only_size; /* --size: one size of the sweep */

static int build_rows(struct bench_row **ret, bool sweep, char **globs, int nglobs)
{
	int n = 0, cap = 0;
	struct bench_row *rows = NULL;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct bench_case *c = tables[t]; c->name; c++) {
			if (!matches(c->name, globs, nglobs))
				continue;
			if (sweep && !(c->shape == BENCH_RTT && c->ops && c->ops->sweep))
				continue;
			size_t nsizes = sweep ? sizeof(sweep_sizes) / sizeof(sweep_sizes[0]) : 1;
			for (size_t s = 0; s < nsizes; s++) {
				if (sweep && only_size && sweep_sizes[s] != only_size)
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					struct bench_row *nr = realloc(rows, cap * sizeof(*rows));
					if (!nr) {
						free(rows);
						return -ENOMEM;
					}
					rows = nr;
				}
				struct bench_row *row = &rows[n++];
				memset(row, 0, sizeof(*row));
				row->c = c;
				row->size = sweep ? sweep_sizes[s] : c->size;
				decide_skip(row);
			}
		}
	}
	*ret = rows;
	return n;
}

static void start_roudi_if_needed(struct bench_row *rows, int n)
{
	bool need = false;
	for (int i = 0; i < n; i++)
		if (rows[i].status == BENCH_OK && rows[i].c->ops->needs_roudi)
			need = true;
	if (!need)
		return;
	char why[BENCH_WHY];
	if (bench_roudi_start(why, sizeof(why)) == 0)
		return;
	for (int i = 0; i < n; i++)
		if (rows[i].status == BENCH_OK && rows[i].c->ops->needs_roudi) {
			rows[i].status = BENCH_FAILED;
			snprintf(rows[i].why, sizeof(rows[i].why), "iceoryx daemon: %s", why);
		}
}

/* A round that fails is reported and left out; a case that fails twice is given up. */
static void run_rounds(struct bench_row *rows, int n, int nrounds, double budget_ns)
{
	unsigned seq = 0;
	for (int r = 0; r < nrounds && !interrupted; r++) {
		fprintf(stderr, "ipcx-bench: round %d/%d\n", r + 1, nrounds);
		for (int i = 0; i < n && !interrupted; i++) {
			struct bench_row *row = &rows[i];
			if (row->status != BENCH_OK)
				continue;
			char why[BENCH_WHY];
			struct bench_fig fig;
			int e = bench_run_case(row->c, row->size, budget_ns, seq++, &fig, why);
			if (e == 0) {
				row->rounds[row->nrounds++] = fig;
				continue;
			}
			if (interrupted)
				break;
			snprintf(row->why, sizeof(row->why), "%s", why[0] ? why : strerror(-e));
			fprintf(stderr, "ipcx-bench: %s failed in round %d: %s\n", row->c->name,
			        r + 1, row->why);
			if (++row->nfailed >= 2)
				row->status = BENCH_FAILED;
		}
	}
	for (int i = 0; i < n; i++) {
		struct bench_row *row = &rows[i];
		if (row->status == BENCH_FAILED || (row->status == BENCH_OK && !row->nrounds)) {
			/* A case given up shows no figures: the rounds it managed are too few to
			 * trust. */
			row->status = BENCH_FAILED;
			row->nrounds = 0;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"quick", no_argument, NULL, 'q'},
	        {"rounds", required_argument, NULL, 'r'},
	        {"filter", required_argument, NULL, 'f'},
	        {"csv", no_argument, NULL, 'c'},
	        {"skip", required_argument, NULL, 'k'},
	        {"json", no_argument, NULL, 'j'},
	        {"sweep", no_argument, NULL, 's'},
	        {"budget-ms", required_argument, NULL, 'b'},
	        {"list", no_argument, NULL, 'l'},
	        {"size", required_argument, NULL, 'z'},
	        {"csv-out", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int nrounds = 0, nglobs = 0, opt;
	double budget_ms = 0;
	bool quick = false, sweep = false, list = false;
	const char *csv_out = NULL;
	enum bench_format fmt = BENCH_TABLE;
	/* On the stack: the early returns below then leak nothing. */
	char *globs[argc], *skips[argc];
	char *end;

	skip_globs = skips;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quick = true;
			break;
		case 'r':
			nrounds = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || nrounds < 1 || nrounds > BENCH_MAX_ROUNDS) {
				fprintf(stderr, "EINVAL: --rounds takes 1 to %d\n",
				        BENCH_MAX_ROUNDS);
				return 2;
			}
			break;
		case 'f':
			globs[nglobs++] = optarg;
			break;
		case 'k':
			skip_globs[nskip_globs++] = optarg;
			break;
		case 'c':
			fmt = BENCH_CSV;
			break;
		case 'j':
			fmt = BENCH_JSON;
			break;
		case 's':
			sweep = true;
			break;
		case 'b':
			budget_ms = strtod(optarg, &end);
			if (*end || end == optarg || !(budget_ms >= 1 && budget_ms <= 600000)) {
				fprintf(stderr, "EINVAL: --budget-ms takes 1 to 600000\n");
				return 2;
			}
			break;
		case 'l':
			list = true;
			break;
		case 'o':
			csv_out = optarg;
			break;
		case 'z':
			only_size = strtoul(optarg, &end, 10);
			for (size_t i = 0; i < sizeof(sweep_sizes) / sizeof(sweep_sizes[0]); i++)
				if (!*end && only_size == sweep_sizes[i])
					goto size_ok;
			fprintf(stderr,
			        "EINVAL: --size takes one of the sweep's sizes, 64 to 4194304\n");
			return 2;
		size_ok:
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "EINVAL: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!nrounds)
		nrounds = quick ? 3 : 5;
	if (!budget_ms)
		budget_ms = (quick ? 400 : 1000) * (sweep ? 0.4 : 1);

	struct bench_row *rows;
	int n = build_rows(&rows, sweep, globs, nglobs);
	if (n < 0) {
		fprintf(stderr, "ENOMEM: out of memory\n");
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "ENOENT: no case matches the filter\n");
		return 2;
	}
	if (list) {
		for (int i = 0; i < n; i++)
			if (!sweep || i == 0 || rows[i].c != rows[i - 1].c) {
				if (rows[i].status == BENCH_SKIPPED)
					printf("%s  (skipped: %s)\n", rows[i].c->name, rows[i].why);
				else
					printf("%s\n", rows[i].c->name);
			}
		free(rows);
		return 0;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	bench_clock_init();
	bench_pick_cpus();
	for (int i = 0; i < n; i++)
		if (rows[i].status == BENCH_SKIPPED &&
		    (!sweep || i == 0 || rows[i].c != rows[i - 1].c))
			fprintf(stderr, "skipped: %s: %s\n", rows[i].c->name, rows[i].why);
	bench_cleanup_stale();
	start_roudi_if_needed(rows, n);
	run_rounds(rows, n, nrounds, budget_ms * 1e6);
	bench_roudi_stop();
	if (interrupted) {
		/* exit, not a re-raised signal: the atexit clean-ups (the ipcx namespace) run. */
		fprintf(stderr, "ipcx-bench: interrupted\n");
		free(rows);
		exit(128 + interrupted);
	}
	for (int i = 0; i < n; i++) {
		if (rows[i].status == BENCH_FAILED)
			fprintf(stderr, "failed: %s: %s\n", rows[i].c->name, rows[i].why);
		else if (rows[i].nfailed)
			fprintf(stderr, "note: %s: %d of %d rounds failed and are left out\n",
			        rows[i].c->name, rows[i].nfailed, nrounds);
		aggregate(&rows[i]);
	}
	struct bench_run run = {.rows = rows,
	                        .n = n,
	                        .nrounds = nrounds,
	                        .budget_ms = budget_ms,
	                        .sweep = sweep,
	                        .quick = quick};
	bench_ratios(&run);
	bench_report(&run, fmt, stdout);
	if (csv_out) {
		/* The same run as CSV too, so that a table and a plot never disagree. */
		FILE *f = fopen(csv_out, "w");
		if (!f) {
			fprintf(stderr, "%s: cannot write %s\n", strerrorname_np(errno), csv_out);
			free(rows);
			return 1;
		}
		bench_report(&run, BENCH_CSV, f);
		if (fclose(f) != 0) {
			free(rows);
			return 1;
		}
	}
	free(rows);
	return fflush(stdout) == 0 ? 0 : 1;
}
