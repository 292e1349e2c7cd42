/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness's behaviour, not its numbers: the CSV header and field counts, rows
 * kept (empty) for cases that cannot run, --filter, --json, usage errors, and `ipcx bench`
 * finding the harness beside the tool. Runs are kept to one short round.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPCX_BENCH_PATH
#error "bench/CMakeLists.txt passes IPCX_BENCH_PATH, the harness to test"
#endif

/* Runs ipcx-bench with the given arguments (NULL-terminated); like tool_run. */
static struct tool_result bench_run(const char *arg0, ...)
{
	const char *argv[32] = {"ipcx-bench", arg0};
	int argc = 2;
	va_list ap;

	va_start(ap, arg0);
	while (arg0 && argc < 31 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return test_run_program(IPCX_BENCH_PATH, NULL, argv);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const char *line_n(const char *s, int n, char *buf, size_t size)
{
	for (; n > 0 && s; n--)
		if ((s = strchr(s, '\n')))
			s++;
	cr_assert(s && *s, "no line %d", n);
	size_t len = strcspn(s, "\n");
	cr_assert(len < size);
	memcpy(buf, s, len);
	buf[len] = 0;
	return buf;
}

/* Splits a CSV line in place; returns the number of fields. */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line;; p++) {
		if (n < max)
			f[n] = p;
		n++;
		p = strchr(p, ',');
		if (!p)
			break;
		*p = 0;
	}
	return n;
}

#define HEADER "case,p50_ns,p99_ns,mean_ns,msgs_per_s,gb_per_s"

IPCX_TEST(bench, csv_row_for_a_running_case)
{
	struct tool_result r = bench_run("--csv", "--rounds", "1", "--budget-ms", "100", "--filter",
	                                 "pipe.rtt", NULL);
	char line[512], *f[8];
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(count_lines(r.out), 2, "--filter must select exactly one row:\n%s", r.out);
	cr_assert_str_eq(line_n(r.out, 0, line, sizeof(line)), HEADER);
	line_n(r.out, 1, line, sizeof(line));
	cr_assert_eq(fields(line, f, 8), 6, "row has the wrong field count");
	cr_assert_str_eq(f[0], "pipe.rtt");
	for (int i = 1; i <= 3; i++)
		cr_assert(strtod(f[i], NULL) > 0, "field %d of pipe.rtt is '%s'", i, f[i]);
	/* A round trip has no throughput figures: those fields stay empty. */
	cr_assert_str_eq(f[4], "");
	cr_assert_str_eq(f[5], "");
	tool_result_free(&r);
}

IPCX_TEST(bench, skipped_cases_keep_their_rows)
{
	struct tool_result r =
	        bench_run("--csv", "--rounds", "1", "--filter", "pipe.*", "--filter", "eventfd.rtt",
	                  "--skip", "pipe.*", "--skip", "eventfd.rtt", NULL);
	static const char *want[] = {"pipe.rtt", "eventfd.rtt", "pipe.tput.64", "pipe.tput.1m"};
	char line[512], *f[8];
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(count_lines(r.out), 5, "%s", r.out);
	cr_assert_str_eq(line_n(r.out, 0, line, sizeof(line)), HEADER);
	for (int i = 0; i < 4; i++) {
		line_n(r.out, i + 1, line, sizeof(line));
		cr_assert_eq(fields(line, f, 8), 6, "row %d has the wrong field count", i + 1);
		cr_assert_str_eq(f[0], want[i]);
		for (int k = 1; k < 6; k++)
			cr_assert(!*f[k], "%s field %d should be empty", want[i], k);
		char msg[256];
		snprintf(msg, sizeof(msg), "skipped: %s: skipped by --skip", want[i]);
		cr_assert(strstr(r.err, msg), "stderr lacks '%s':\n%s", msg, r.err);
	}
	tool_result_free(&r);
}

IPCX_TEST(bench, mixed_filter_keeps_table_order)
{
	struct tool_result r = bench_run("--csv", "--rounds", "1", "--budget-ms", "50", "--filter",
	                                 "ipcx.event.rtt", "--filter", "posix_sem.op", "--skip",
	                                 "ipcx.event.rtt", NULL);
	char line[512];
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(count_lines(r.out), 3, "%s", r.out);
	cr_assert(!strncmp(line_n(r.out, 1, line, sizeof(line)), "posix_sem.op,", 13), "%s", line);
	cr_assert_str_eq(line_n(r.out, 2, line, sizeof(line)), "ipcx.event.rtt,,,,,");
	tool_result_free(&r);
}

IPCX_TEST(bench, table_and_json_show_the_reason)
{
	struct tool_result t = bench_run("--rounds", "1", "--filter", "ipcx.topic.fanout.*",
	                                 "--skip", "ipcx.topic.fanout.*", NULL);
	cr_assert_eq(t.status, 0, "stderr: %s", t.err);
	cr_assert(strstr(t.out, "ipcx.topic.fanout.16") && strstr(t.out, "skipped by --skip"), "%s",
	          t.out);
	tool_result_free(&t);
	struct tool_result j = bench_run("--json", "--rounds", "1", "--filter", "ipcx.mutex.op",
	                                 "--skip", "ipcx.mutex.op", NULL);
	cr_assert_eq(j.status, 0, "stderr: %s", j.err);
	cr_assert(strstr(j.out, "\"case\": \"ipcx.mutex.op\""), "%s", j.out);
	cr_assert(strstr(j.out, "\"status\": \"skipped\""), "%s", j.out);
	cr_assert(strstr(j.out, "\"reason\": \"skipped by --skip\""), "%s", j.out);
	tool_result_free(&j);
}

IPCX_TEST(bench, sweep_csv)
{
	struct tool_result r = bench_run("--sweep", "--csv", "--rounds", "1", "--budget-ms", "50",
	                                 "--size", "4096", "--filter", "uds.rtt", NULL);
	char line[512], *f[8];
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
	cr_assert_str_eq(line_n(r.out, 0, line, sizeof(line)), "case,size,p50_ns,p99_ns,mean_ns");
	line_n(r.out, 1, line, sizeof(line));
	cr_assert_eq(fields(line, f, 8), 5);
	cr_assert_str_eq(f[0], "uds.rtt");
	cr_assert_str_eq(f[1], "4096");
	cr_assert(strtod(f[2], NULL) > 0);
	tool_result_free(&r);
}

IPCX_TEST(bench, usage_errors)
{
	struct tool_result r = bench_run("--filter", "no.such.case", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no case matches"), "%s", r.err);
	tool_result_free(&r);
	r = bench_run("--rounds", "0", NULL);
	cr_assert_eq(r.status, 2);
	tool_result_free(&r);
	r = bench_run("--bogus", NULL);
	cr_assert_eq(r.status, 2);
	tool_result_free(&r);
	r = bench_run("--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "--filter GLOB") && strstr(r.out, "--quick"), "%s", r.out);
	tool_result_free(&r);
}

IPCX_TEST(bench, ipcx_bench_runs_the_harness)
{
	struct tool_result r = tool_run(NULL, "bench", "--csv", "--rounds", "1", "--filter",
	                                "ipcx.sem.op2", "--skip", "ipcx.sem.op2", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out, HEADER "\nipcx.sem.op2,,,,,\n");
	tool_result_free(&r);
}
