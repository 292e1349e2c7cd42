/* SPDX-License-Identifier: MIT */
/* The topic commands of the ipcx tool, run as a user would. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

static struct tool_result check_ok(struct tool_result r, const char *what)
{
	cr_assert_eq(r.status, 0, "ipcx %s: %d: %s", what, r.status, r.err);
	return r;
}
#define run_ok(in, a0, ...) check_ok(tool_run(in, a0, __VA_ARGS__), a0)

IPCX_TEST(topic_tool, create_pub_sub_stat)
{
	struct tool_result r;

	r = run_ok(NULL, "topic", "t", "create", "--capacity", "4K", "--max-msg", "100", NULL);
	tool_result_free(&r);
	r = tool_run(NULL, "topic", "t", "create", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EEXIST", 6) == 0, "%s", r.err);
	tool_result_free(&r);
	r = run_ok(NULL, "pub", "t", "a", "b", "c", NULL);
	tool_result_free(&r);
	r = run_ok("d\ne\n", "pub", "t", NULL);
	tool_result_free(&r);
	r = run_ok(NULL, "sub", "t", "--from-oldest", "--timeout", "0", NULL);
	cr_expect_str_eq(r.out, "a\nb\nc\nd\ne\n");
	tool_result_free(&r);
	r = run_ok(NULL, "sub", "t", "--timeout", "0", NULL);
	cr_expect_str_eq(r.out, "e\n"); /* a late subscriber starts at the newest */
	tool_result_free(&r);
	r = run_ok(NULL, "stat", "t", "--json", NULL);
	cr_expect(strstr(r.out, "\"published\":5") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "\"reliable\":false") != NULL, "%s", r.out);
	tool_result_free(&r);
	{
		char lines[4000] = "";
		for (int i = 0; i < 500; i++)
			snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines), "%d\n",
			         i % 10);
		r = run_ok(lines, "pub", "t", NULL);
		tool_result_free(&r);
	}
	/* Lossy: the buffer keeps only the newest (4K holds 64 records of 64 bytes), ending
	 * with the last one; a publisher frees a step of 4K / 16 = 4 records at a time, so
	 * between 60 and 64 are kept. */
	r = run_ok(NULL, "sub", "t", "--from-oldest", "--timeout", "0", NULL);
	{
		size_t lines = 0, len = strlen(r.out);
		for (size_t i = 0; i < len; i++)
			lines += r.out[i] == '\n';
		cr_expect(lines >= 60 && lines <= 64, "%zu lines kept", lines);
		cr_expect(len >= 2 && strcmp(r.out + len - 2, "9\n") == 0);
	}
	tool_result_free(&r);
	r = tool_run(NULL, "pub", NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
}

/* A subscriber and a publisher in a shell pipeline, on a reliable topic: nothing lost. */
IPCX_TEST(topic_tool, reliable_pipeline)
{
	struct tool_result r =
	        run_ok(NULL, "topic", "rt", "create", "--capacity", "4K", "--reliable", NULL);
	char cmd[1024], line[64];
	long n = 0;
	FILE *f;

	tool_result_free(&r);
	snprintf(cmd, sizeof(cmd),
	         "IPCX_DIR='%s'; export IPCX_DIR; '%s' sub rt -n 3000 & "
	         "until '%s' stat rt --json | grep -q '\"subscribers\":1'; do sleep 0.01; done; "
	         "seq 1 3000 | '%s' pub rt; wait",
	         test_dir(), IPCX_TOOL_PATH, IPCX_TOOL_PATH, IPCX_TOOL_PATH);
	f = popen(cmd, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		cr_assert_eq(atol(line), n + 1);
		n++;
	}
	cr_expect_eq(pclose(f), 0);
	cr_expect_eq(n, 3000);
}
