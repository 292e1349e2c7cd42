/* SPDX-License-Identifier: MIT */
/* The channel commands of the ipcx tool, run as a user would. */
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

IPCX_TEST(chan_tool, create_send_recv)
{
	struct tool_result r;

	r = run_ok(NULL, "chan", "q", "create", "--capacity", "64K", "--max-msg", "1K", NULL);
	tool_result_free(&r);
	r = tool_run(NULL, "chan", "q", "create", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EEXIST", 6) == 0, "%s", r.err);
	tool_result_free(&r);
	r = run_ok(NULL, "send", "q", "hello", "two words", "", NULL);
	tool_result_free(&r);
	r = run_ok("line one\nline two\n", "send", "q", NULL);
	tool_result_free(&r);
	r = run_ok(NULL, "stat", "q", "--json", NULL);
	cr_expect(strstr(r.out, "\"depth\":5") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "\"capacity\":65536") != NULL, "%s", r.out);
	tool_result_free(&r);
	r = run_ok(NULL, "stat", "q", NULL);
	cr_expect(strstr(r.out, "depth:     5 messages") != NULL, "%s", r.out);
	tool_result_free(&r);
	r = run_ok(NULL, "recv", "q", "-n", "5", NULL);
	cr_expect_str_eq(r.out, "hello\ntwo words\n\nline one\nline two\n");
	tool_result_free(&r);
	/* Nothing left: -n with a timeout fails, a plain drain succeeds empty. */
	r = tool_run(NULL, "recv", "q", "-n", "1", "--timeout", "0.05", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "ETIMEDOUT", 9) == 0, "%s", r.err);
	tool_result_free(&r);
	r = run_ok(NULL, "recv", "q", "--timeout", "0", NULL);
	cr_expect_str_eq(r.out, "");
	tool_result_free(&r);
	/* Too large, and bad usage. */
	{
		char big[2000];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		r = tool_run(NULL, "send", "q", big, NULL);
		cr_expect_eq(r.status, 1);
		cr_expect(strncmp(r.err, "EMSGSIZE", 8) == 0, "%s", r.err);
		tool_result_free(&r);
	}
	r = tool_run(NULL, "send", NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = tool_run(NULL, "recv", "nope", "--timeout", "0", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "ENOENT", 6) == 0, "%s", r.err);
	tool_result_free(&r);
	r = run_ok(NULL, "recv", "--help", NULL);
	tool_result_free(&r);
}

IPCX_TEST(chan_tool, raw_blocks_round_trip)
{
	char data[3000], *in;
	struct tool_result r;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	in = strndup(data, sizeof(data));
	r = run_ok(NULL, "chan", "b", "create", NULL);
	tool_result_free(&r);
	r = run_ok(in, "send", "b", "--size", "1000", NULL);
	tool_result_free(&r);
	r = run_ok(NULL, "stat", "b", "--json", NULL);
	cr_expect(strstr(r.out, "\"depth\":3") != NULL, "%s", r.out);
	tool_result_free(&r);
	r = run_ok(NULL, "recv", "b", "--raw", "--timeout", "0", NULL);
	cr_expect_eq(strlen(r.out), sizeof(data));
	cr_expect(memcmp(r.out, data, sizeof(data)) == 0);
	tool_result_free(&r);
	free(in);
}

/* The shell pipeline a user would write: a producer and a consumer at the same time. */
IPCX_TEST(chan_tool, shell_pipeline)
{
	char cmd[1024];
	FILE *f;
	char line[64];
	long sum = 0, n = 0;
	struct tool_result r = run_ok(NULL, "chan", "p", "create", "--capacity", "4K", NULL);

	tool_result_free(&r);
	snprintf(cmd, sizeof(cmd),
	         "IPCX_DIR='%s'; export IPCX_DIR; seq 1 5000 | '%s' send p & "
	         "'%s' recv p -n 5000; wait",
	         test_dir(), IPCX_TOOL_PATH, IPCX_TOOL_PATH);
	f = popen(cmd, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		long v = atol(line);
		cr_assert_eq(v, n + 1, "out of order: %ld after %ld", v, n);
		sum += v;
		n++;
	}
	cr_expect_eq(pclose(f), 0);
	cr_expect_eq(n, 5000);
	cr_expect_eq(sum, 5000L * 5001 / 2);
}
