/* SPDX-License-Identifier: MIT */
/*
 * The examples in examples/, run as the README runs them (with small parameters): each must
 * exit 0 and print what it promises. A new example gets one test here.
 */
#include <stdio.h>
#include <string.h>

#include "helpers.h"

/* Runs build/examples/NAME with the given arguments (NULL-terminated, no argv[0]). */
static struct tool_result run_example(const char *name, const char *const *args)
{
	const char *argv[16] = {name};
	char path[512];
	int n = 1;

	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/%s", IPCX_EXAMPLES_DIR, name);
	return test_run_program(path, NULL, argv);
}

/* Counts the lines of out that start with prefix. */
static int lines_starting(const char *out, const char *prefix)
{
	int n = 0;

	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

IPCX_TEST(examples, sensor, .timeout = 60)
{
	const char *args[] = {"--readers", "3", "--readings", "50", "--interval-us", "200", NULL};
	struct tool_result r = run_example("sensor", args);

	cr_assert_eq(r.status, 0, "status %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
	cr_expect_eq(lines_starting(r.out, "reader "), 3, "%s", r.out);
	cr_expect_eq(lines_starting(r.out, "reader 0: "), 1, "%s", r.out);
	cr_expect(strstr(r.out, "up to reading #50 "), "%s", r.out);
	cr_expect(strstr(r.out, "sensor: published 50 readings; 3 readers each saw the last one, "
	                        "none torn\n"),
	          "%s", r.out);
	tool_result_free(&r);
}

IPCX_TEST(examples, jobqueue, .timeout = 60)
{
	const char *args[] = {"--workers", "4", "--jobs", "60", "--slots", "2", NULL};
	struct tool_result r = run_example("jobqueue", args);
	int total = 0;

	cr_assert_eq(r.status, 0, "status %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
	cr_expect_eq(lines_starting(r.out, "worker "), 4, "%s", r.out);
	/* The workers' counts add up to the jobs. */
	for (const char *p = strstr(r.out, "worker "); p; p = strstr(p + 1, "worker ")) {
		unsigned id, jobs;

		if (sscanf(p, "worker %u: %u jobs", &id, &jobs) == 2)
			total += (int)jobs;
	}
	cr_expect_eq(total, 60, "%s", r.out);
	cr_expect(strstr(r.out, "jobqueue: 4 workers did 60 jobs, each exactly once; at most 2 "
	                        "ran at once"),
	          "%s", r.out);
	tool_result_free(&r);
}

IPCX_TEST(examples, bad_usage)
{
	const char *args[] = {"--readers", NULL};
	struct tool_result r = run_example("sensor", args);

	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "usage: sensor"), "%s", r.err);
	tool_result_free(&r);
	r = run_example("jobqueue", (const char *[]){"--slots", "0", NULL});
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
}
