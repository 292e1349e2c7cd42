/* SPDX-License-Identifier: MIT */
/* `ipcx sem` and `ipcx stat` on semaphore sets, run as a user would. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

#define RUN(res, ...) struct tool_result res = tool_run(NULL, __VA_ARGS__, NULL)

static void expect_out(const char *out, const char *want)
{
	cr_expect_str_eq(out, want);
}

IPCX_TEST(semset_tool, create_op_get)
{
	RUN(c, "sem", "s", "create", "3", "--value", "1", "--mode", "640");
	cr_expect_eq(c.status, 0, "%s", c.err);
	RUN(o, "sem", "s", "op", "0:-1", "1:+1");
	cr_expect_eq(o.status, 0, "%s", o.err);
	RUN(g, "sem", "s", "getall");
	expect_out(g.out, "0 2 1\n");
	RUN(s1, "sem", "s", "set", "2", "7");
	cr_expect_eq(s1.status, 0);
	RUN(g2, "sem", "s", "get", "2");
	expect_out(g2.out, "7\n");
	RUN(sa, "sem", "s", "setall", "4", "5", "6");
	cr_expect_eq(sa.status, 0);
	RUN(g3, "sem", "s", "getall");
	expect_out(g3.out, "4 5 6\n");
	RUN(z, "sem", "s", "zcnt", "0");
	expect_out(z.out, "0\n");
	RUN(st, "stat", "s");
	cr_expect(strstr(st.out, "semaphores: 3") != NULL, "%s", st.out);
	cr_expect(strstr(st.out, "mode:      0640") != NULL, "%s", st.out);
	/* The undo flag is accepted; the command's exit reverts it. */
	RUN(u, "sem", "s", "op", "0:-4:u");
	cr_expect_eq(u.status, 0, "%s", u.err);
	RUN(g4, "sem", "s", "get", "0");
	expect_out(g4.out, "4\n");
	tool_result_free(&c);
	tool_result_free(&o);
	tool_result_free(&g);
	tool_result_free(&s1);
	tool_result_free(&g2);
	tool_result_free(&sa);
	tool_result_free(&g3);
	tool_result_free(&z);
	tool_result_free(&st);
	tool_result_free(&u);
	tool_result_free(&g4);
}

IPCX_TEST(semset_tool, errors)
{
	RUN(c, "sem", "e", "create", "2");
	cr_expect_eq(c.status, 0);
	RUN(again, "sem", "e", "create", "2");
	cr_expect_eq(again.status, 1);
	cr_expect(strncmp(again.err, "EEXIST:", 7) == 0, "%s", again.err);
	RUN(n, "sem", "e", "op", "0:-1:n");
	cr_expect_eq(n.status, 1);
	cr_expect(strncmp(n.err, "EAGAIN:", 7) == 0, "%s", n.err);
	RUN(t, "sem", "e", "op", "0:-1", "--timeout", "0.05");
	cr_expect_eq(t.status, 1);
	cr_expect(strncmp(t.err, "ETIMEDOUT:", 10) == 0, "%s", t.err);
	RUN(f, "sem", "e", "op", "5:1");
	cr_expect(strncmp(f.err, "EFBIG:", 6) == 0, "%s", f.err);
	RUN(r, "sem", "e", "op", "0:40000");
	cr_expect(strncmp(r.err, "ERANGE:", 7) == 0, "%s", r.err);
	RUN(sv, "sem", "e", "set", "0", "-1");
	cr_expect(strncmp(sv.err, "ERANGE:", 7) == 0, "%s", sv.err);
	RUN(ne, "sem", "nope", "get", "0");
	cr_expect_eq(ne.status, 1);
	cr_expect(strncmp(ne.err, "ENOENT:", 7) == 0, "%s", ne.err);
	RUN(b1, "sem", "e", "op", "0-1");
	cr_expect_eq(b1.status, 2);
	RUN(b2, "sem", "e", "op", "0:-1:x");
	cr_expect_eq(b2.status, 2);
	RUN(b3, "sem", "e", "frobnicate");
	cr_expect_eq(b3.status, 2);
	RUN(b4, "sem", "e", "create", "0");
	cr_expect_eq(b4.status, 2);
	RUN(b5, "sem", "e", "setall", "1");
	cr_expect_eq(b5.status, 2);
	RUN(h, "sem", "--help");
	cr_expect_eq(h.status, 0);
	cr_expect(strstr(h.out, "IDX:DELTA") != NULL);
	struct tool_result *all[] = {&c,  &again, &n,  &t,  &f,  &r,  &sv,
	                             &ne, &b1,    &b2, &b3, &b4, &b5, &h};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		tool_result_free(all[i]);
}

static int hold_undo(void *p)
{
	ipcx_semset *s = NULL;
	struct ipcx_sembuf o = {1, -2, IPCX_SEM_UNDO};
	_Atomic int *flag = p;

	if (ipcx_semset_open("k", 0, 0, 0, 0, &s) < 0 || ipcx_semset_op(s, &o, 1, 0) < 0)
		return 1;
	atomic_store(flag, 1);
	for (;;)
		pause();
}

static int wait_one(void *p)
{
	ipcx_semset *s = NULL;
	struct ipcx_sembuf o = {0, -1, 0};

	(void)p;
	if (ipcx_semset_open("k", 0, 0, 0, 0, &s) < 0)
		return 1;
	return ipcx_semset_op(s, &o, 1, IPCX_FOREVER) == 0 ? 0 : 2;
}

/* After kills, stat shows the true state: UNDO applied, dead waiters gone. */
IPCX_TEST(semset_tool, stat_after_kills)
{
	ipcx_semset *s = NULL;
	_Atomic int *flag = test_shared_alloc(4096);
	pid_t h, w;
	char want[128];

	cr_assert_eq(ipcx_semset_open("k", IPCX_CREATE, 0, 2, 0, &s), 1);
	cr_assert_eq(ipcx_semset_set(s, 1, 2), 0);
	h = test_fork(hold_undo, flag);
	while (!atomic_load(flag))
		usleep(1000);
	w = test_fork(wait_one, NULL);
	while (ipcx_semset_ncnt(s, 0) != 1) /* bounded by the test's timeout */
		usleep(1000);
	RUN(before, "stat", "k");
	snprintf(want, sizeof(want), "  0                  0     1     0        0\n");
	cr_expect(strstr(before.out, want) != NULL, "%s", before.out);
	test_kill(h);
	test_kill(w);
	RUN(after, "stat", "k");
	snprintf(want, sizeof(want),
	         "  0                  0     0     0        0\n"
	         "  1                  2     0     0 %8d\n",
	         (int)h);
	cr_expect(strstr(after.out, want) != NULL, "%s", after.out);
	RUN(js, "stat", "k", "--json");
	snprintf(want, sizeof(want),
	         "{\"index\":1,\"count\":1,\"value\":2,\"ncnt\":0,\"zcnt\":0,"
	         "\"pid\":%d}",
	         (int)h);
	cr_expect(strstr(js.out, want) != NULL, "%s", js.out);
	tool_result_free(&before);
	tool_result_free(&after);
	tool_result_free(&js);
	ipcx_semset_close(s);
}

IPCX_TEST(semset_tool, stat_huge_set_is_compact)
{
	RUN(c, "sem", "big", "create", "65536", "--value", "1");
	cr_expect_eq(c.status, 0);
	RUN(s, "sem", "big", "set", "1000", "0");
	RUN(st, "stat", "big");
	cr_expect(strstr(st.out, "  0-999              1") != NULL, "%s", st.out);
	cr_expect(strstr(st.out, "  1001-65535         1") != NULL, "%s", st.out);
	cr_expect_lt(strlen(st.out), 2000);
	tool_result_free(&c);
	tool_result_free(&s);
	tool_result_free(&st);
}

/* A waiting op in the tool is woken by another tool's op. */
IPCX_TEST(semset_tool, op_waits_for_another)
{
	ipcx_semset *s = NULL;
	pid_t w;

	RUN(c, "sem", "ww", "create", "1");
	cr_assert_eq(ipcx_semset_open("ww", 0, 0, 0, 0, &s), 0);
	w = fork();
	if (w == 0) {
		struct tool_result r = tool_run(NULL, "sem", "ww", "op", "0:-2", NULL);
		_exit(r.status);
	}
	while (ipcx_semset_ncnt(s, 0) != 1) /* bounded by the test's timeout */
		usleep(1000);
	cr_expect_eq(ipcx_semset_ncnt(s, 0), 1);
	RUN(o, "sem", "ww", "op", "0:+3");
	cr_expect_eq(test_wait(w), 0);
	cr_expect_eq(ipcx_semset_get(s, 0), 1);
	tool_result_free(&c);
	tool_result_free(&o);
	ipcx_semset_close(s);
}
