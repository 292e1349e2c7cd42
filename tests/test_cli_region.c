/* SPDX-License-Identifier: MIT */
/* `ipcx region` and its `ipcx stat`, run as a user would. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

#define RUN(...) tool_run(NULL, __VA_ARGS__, NULL)

static void expect_ok(struct tool_result *r)
{
	cr_assert_eq(r->status, 0, "status %d, stderr: %s", r->status, r->err);
}

static void expect_fail(struct tool_result *r, int status, const char *err)
{
	cr_assert_eq(r->status, status, "status %d, stderr: %s", r->status, r->err);
	cr_assert(strncmp(r->err, err, strlen(err)) == 0, "stderr: %s", r->err);
}

IPCX_TEST(cli, region_commands)
{
	struct tool_result r;

	r = RUN("region", "r", "create", "1K");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("region", "r", "create", "1K");
	expect_fail(&r, 1, "EEXIST: ");
	tool_result_free(&r);
	r = RUN("region", "x", "create", "0");
	expect_fail(&r, 2, "ipcx region: bad SIZE");
	tool_result_free(&r);
	r = RUN("region", "x", "create");
	expect_fail(&r, 2, "ipcx region: create needs a SIZE");
	tool_result_free(&r);
	r = RUN("region", "r", "bogus");
	expect_fail(&r, 2, "ipcx region: unknown operation");
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--length", "1", "--timeout", "1");
	expect_fail(&r, 2, "ipcx region: unexpected argument '--timeout'");
	tool_result_free(&r);
	r = RUN("region", "nope", "dump");
	expect_fail(&r, 1, "ENOENT: ");
	tool_result_free(&r);
	r = RUN("region", "--help");
	expect_ok(&r);
	cr_assert(strstr(r.out, "2 x SIZE"), "%s", r.out);
	tool_result_free(&r);

	r = tool_run("hello world", "region", "r", "write", "--offset", "100", NULL);
	expect_ok(&r);
	tool_result_free(&r);
	r = tool_run("HE", "region", "r", "write", "--offset", "100", "--timeout", "1", NULL);
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--offset", "100", "--length", "11");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "HEllo world");
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--offset", "1020");
	expect_ok(&r);
	cr_assert_eq(r.out[0], '\0');
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--offset", "1025");
	expect_fail(&r, 1, "EINVAL: ");
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--offset", "1000", "--length", "25");
	expect_fail(&r, 1, "EINVAL: ");
	tool_result_free(&r);
	r = tool_run("12345", "region", "r", "write", "--offset", "1020", NULL);
	expect_fail(&r, 1, "EFBIG: ");
	tool_result_free(&r);
	r = tool_run("1234", "region", "r", "write", "--offset", "1020", NULL);
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("region", "r", "dump", "--offset", "1020");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "1234");
	tool_result_free(&r);

	r = RUN("stat", "r");
	expect_ok(&r);
	cr_assert(strstr(r.out, "region size: 1024 bytes"), "%s", r.out);
	cr_assert(strstr(r.out, "version:   3\nwriting:   no\nholder:    free\n"), "%s", r.out);
	cr_assert(strstr(r.out, "last writer: pid "), "%s", r.out);
	tool_result_free(&r);
	r = RUN("stat", "r", "--json");
	expect_ok(&r);
	cr_assert(strstr(r.out, "\"region_size\":1024,\"version\":3,\"writing\":false,"
	                        "\"holder\":\"free\""),
	          "%s", r.out);
	tool_result_free(&r);
	r = RUN("ls");
	expect_ok(&r);
	cr_assert(strstr(r.out, "region"), "%s", r.out);
	tool_result_free(&r);
}

/* Waits until a watcher sleeps on the region (the tool has started and is waiting). */
static int await_watcher(ipcx_region *rg)
{
	struct ipcx_region_state st;

	for (int i = 0; i < 20000; i++) {
		if (ipcx_region_get_state(rg, &st) == 0 && st.waiters > 0)
			return 0;
		pause_ms(1);
	}
	return -1;
}

/* Publishes every 20 ms once the watcher sleeps, until told to stop; or (with arg NULL)
 * removes the region once the watcher sleeps. */
static int later(void *arg)
{
	_Atomic int *stop = arg;
	ipcx_region *rg;

	die_with_parent();
	if (ipcx_region_open("w", 0, 0, 0, &rg) != 0)
		return 30;
	if (await_watcher(rg) < 0)
		return 33;
	if (!stop) {
		ipcx_region_close(rg);
		return ipcx_unlink("w") == 0 ? 0 : 31;
	}
	while (!atomic_load(stop)) {
		if (ipcx_region_write(rg, 0, "x", 1, IPCX_FOREVER) != 0)
			return 32;
		pause_ms(20);
	}
	ipcx_region_close(rg);
	return 0;
}

IPCX_TEST(cli, region_watch)
{
	_Atomic int *stop = test_shared_alloc(sizeof(*stop));
	unsigned long long v[3];
	struct tool_result r;
	int n = 0;
	pid_t p;

	r = RUN("region", "w", "create", "64");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("region", "w", "watch", "--timeout", "0.05");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "");
	tool_result_free(&r);
	r = RUN("region", "w", "watch", "--timeout", "0.05", "-n", "1");
	expect_fail(&r, 1, "ETIMEDOUT: ");
	tool_result_free(&r);

	/* Three versions, each newer than the one before (a fast writer's versions may be
	 * printed as the last of them). */
	p = test_fork(later, (void *)stop);
	r = RUN("region", "w", "watch", "-n", "3", "--timeout", "20");
	atomic_store(stop, 1);
	expect_ok(&r);
	cr_assert_eq(sscanf(r.out, "%llu\n%llu\n%llu\n%n", &v[0], &v[1], &v[2], &n), 3, "%s",
	             r.out);
	cr_assert_eq(r.out[n], '\0', "%s", r.out);
	cr_assert(v[0] >= 1 && v[1] > v[0] && v[2] > v[1], "%s", r.out);
	tool_result_free(&r);
	cr_assert_eq(test_wait(p), 0);

	p = test_fork(later, NULL);
	r = RUN("region", "w", "watch");
	expect_fail(&r, 1, "EIDRM: ");
	tool_result_free(&r);
	cr_assert_eq(test_wait(p), 0);
}

/* A writer killed in the middle of a write: stat says so, the next write repairs and says so. */
static int half_write(void *arg)
{
	_Atomic int *begun = arg;
	ipcx_region *rg;
	char *p;

	die_with_parent();
	if (ipcx_region_open("k", 0, 0, 0, &rg) != 0)
		return 30;
	if (ipcx_region_begin_write(rg, 0, 8, IPCX_FOREVER, (void **)&p) != 0)
		return 31;
	memcpy(p, "GARB", 4);
	atomic_store(begun, 1);
	for (;;)
		pause();
}

IPCX_TEST(cli, region_stat_and_write_after_killed_writer)
{
	_Atomic int *begun = test_shared_alloc(sizeof(*begun));
	struct tool_result r;
	pid_t p;

	r = RUN("region", "k", "create", "8");
	expect_ok(&r);
	tool_result_free(&r);
	r = tool_run("abcdefgh", "region", "k", "write", NULL);
	expect_ok(&r);
	tool_result_free(&r);
	p = test_fork(half_write, (void *)begun);
	while (!atomic_load(begun))
		pause_ms(1);
	r = RUN("stat", "k");
	expect_ok(&r);
	cr_assert(strstr(r.out, "version:   1\nwriting:   yes\nholder:    alive (pid "), "%s",
	          r.out);
	tool_result_free(&r);
	r = tool_run("zz", "region", "k", "write", "--timeout", "0.05", NULL);
	expect_fail(&r, 1, "ETIMEDOUT: ");
	tool_result_free(&r);
	r = RUN("region", "k", "dump");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "abcdefgh", "readers are not held up by the writer");
	tool_result_free(&r);

	test_kill(p);
	r = RUN("stat", "k");
	expect_ok(&r);
	cr_assert(strstr(r.out, "writing:   yes\nholder:    dead"), "%s", r.out);
	tool_result_free(&r);
	r = RUN("region", "k", "dump");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "abcdefgh");
	tool_result_free(&r);
	r = tool_run("XY", "region", "k", "write", "--offset", "6", NULL);
	expect_ok(&r);
	cr_assert(strstr(r.err, "died in the middle of a write"), "%s", r.err);
	tool_result_free(&r);
	r = RUN("region", "k", "dump");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "abcdefXY");
	tool_result_free(&r);
	r = RUN("stat", "k");
	expect_ok(&r);
	cr_assert(strstr(r.out, "version:   2\nwriting:   no\nholder:    free\n"), "%s", r.out);
	tool_result_free(&r);
}
