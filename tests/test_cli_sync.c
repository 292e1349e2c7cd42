/* SPDX-License-Identifier: MIT */
/* `ipcx event`, `ipcx mutex` and their `ipcx stat`, run as a user would. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

/* A child dies with the test that forked it, so a failed test leaves no process waiting
 * forever (which would also hold Criterion's output pipe open). */
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

IPCX_TEST(cli, event_commands)
{
	struct tool_result r;

	r = RUN("event", "e", "create");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("event", "e", "create");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "EEXIST: ", 8) == 0, "stderr: %s", r.err);
	tool_result_free(&r);

	r = RUN("event", "e", "wait", "--timeout", "0.05");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "ETIMEDOUT: ", 11) == 0, "stderr: %s", r.err);
	tool_result_free(&r);

	r = RUN("stat", "e");
	expect_ok(&r);
	cr_assert(strstr(r.out, "set:       no\n"), "%s", r.out);
	cr_assert(strstr(r.out, "waiters:   0\n"), "%s", r.out);
	tool_result_free(&r);

	r = RUN("event", "e", "set");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("event", "e", "wait");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("stat", "e", "--json");
	expect_ok(&r);
	cr_assert(strstr(r.out, "\"set\":true,\"waiters\":0,\"dead_waiters\":0,"
	                        "\"signal_registrations\":0,\"dead_signal_registrations\":0}"),
	          "%s", r.out);
	tool_result_free(&r);
	r = RUN("event", "e", "reset");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("event", "e", "pulse");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("event", "e", "notify", "3");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "0\n");
	tool_result_free(&r);

	r = RUN("event", "e", "notify");
	cr_assert_eq(r.status, 2);
	tool_result_free(&r);
	r = RUN("event", "e", "frob");
	cr_assert_eq(r.status, 2);
	tool_result_free(&r);
	r = RUN("event", "nope", "set");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "ENOENT: ", 8) == 0, "stderr: %s", r.err);
	tool_result_free(&r);
	r = RUN("event", "--help");
	expect_ok(&r);
	cr_assert(strstr(r.out, "usage: ipcx event"));
	tool_result_free(&r);
}

/* `ipcx event NAME wait` blocks until another process sets; `notify` counts the waiter. */
static int wait_via_tool(void *p)
{
	struct tool_result r;

	die_with_parent();
	r = RUN("event", "w", "wait", "--timeout", "20");
	return r.status;
}

static void await_waiters(ipcx_event *ev, unsigned n)
{
	struct ipcx_event_state st;

	do {
		pause_ms(2);
		cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	} while (st.waiters != n);
}

IPCX_TEST(cli, event_wait_is_woken)
{
	ipcx_event *ev;
	struct tool_result r;
	pid_t a, b;

	cr_assert_eq(ipcx_event_open("w", IPCX_CREATE, 0, &ev), 1);
	a = test_fork(wait_via_tool, NULL);
	b = test_fork(wait_via_tool, NULL);
	await_waiters(ev, 2);
	r = RUN("stat", "w");
	cr_assert(strstr(r.out, "waiters:   2\n"), "%s", r.out);
	tool_result_free(&r);
	r = RUN("event", "w", "notify", "1");
	expect_ok(&r);
	cr_assert_str_eq(r.out, "1\n");
	tool_result_free(&r);
	await_waiters(ev, 1);
	r = RUN("event", "w", "set");
	expect_ok(&r);
	tool_result_free(&r);
	cr_assert_eq(test_wait(a), 0);
	cr_assert_eq(test_wait(b), 0);
	ipcx_event_close(ev);
}

/* A killed waiter shows as dead in `ipcx stat`, not as waiting. */
static int wait_forever(void *p)
{
	ipcx_event *ev;

	die_with_parent();
	if (ipcx_event_open("k", 0, 0, &ev) != 0)
		return 30;
	return ipcx_event_wait(ev, IPCX_FOREVER) == 0 ? 0 : 31;
}

IPCX_TEST(cli, stat_after_killed_waiter)
{
	ipcx_event *ev;
	struct tool_result r;
	pid_t p;

	cr_assert_eq(ipcx_event_open("k", IPCX_CREATE, 0, &ev), 1);
	p = test_fork(wait_forever, NULL);
	await_waiters(ev, 1);
	test_kill(p);
	r = RUN("stat", "k", "--json");
	expect_ok(&r);
	cr_assert(strstr(r.out, "\"waiters\":0,\"dead_waiters\":1"), "%s", r.out);
	tool_result_free(&r);
	ipcx_event_close(ev);
}

IPCX_TEST(cli, mutex_commands_and_stat_after_kill)
{
	struct tool_result r;
	char want[64];
	ipcx_mutex *mx;
	pid_t p;

	r = RUN("mutex", "m", "create");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("mutex", "m", "lock", "--hold", "0.01");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("stat", "m");
	expect_ok(&r);
	cr_assert(strstr(r.out, "locked:    no\nholder:    free\nhealth:    consistent\n"), "%s",
	          r.out);
	tool_result_free(&r);

	/* A process holding it, then killed. */
	cr_assert_eq(ipcx_mutex_open("m", 0, 0, &mx), 0);
	p = fork();
	cr_assert(p >= 0);
	if (p == 0) {
		die_with_parent();
		ipcx_mutex_lock(mx, IPCX_FOREVER);
		for (;;)
			pause();
	}
	for (;;) {
		struct ipcx_mutex_state st;
		cr_assert_eq(ipcx_mutex_get_state(mx, &st), 0);
		if (st.owner == IPCX_MUTEX_ALIVE && st.owner_pid == p)
			break;
		pause_ms(1);
	}
	r = RUN("stat", "m", "--json");
	snprintf(want, sizeof(want), "\"holder\":\"alive\",\"holder_pid\":%d", (int)p);
	cr_assert(strstr(r.out, want), "%s", r.out);
	tool_result_free(&r);
	test_kill(p);
	r = RUN("stat", "m", "--json");
	snprintf(want, sizeof(want), "\"holder\":\"dead\",\"holder_pid\":%d", (int)p);
	cr_assert(strstr(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, "\"health\":\"inconsistent\""), "%s", r.out);
	tool_result_free(&r);

	/* Without --recover the tool reports the death and leaves it as it was. */
	r = RUN("mutex", "m", "lock");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "EOWNERDEAD: ", 12) == 0, "stderr: %s", r.err);
	tool_result_free(&r);
	r = RUN("mutex", "m", "lock", "--recover");
	expect_ok(&r);
	tool_result_free(&r);
	r = RUN("stat", "m");
	cr_assert(strstr(r.out, "holder:    free\nhealth:    consistent\n"), "%s", r.out);
	tool_result_free(&r);

	/* Held by us: the tool times out. */
	cr_assert_eq(ipcx_mutex_lock(mx, IPCX_FOREVER), 0);
	r = RUN("mutex", "m", "lock", "--timeout", "0.05");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "ETIMEDOUT: ", 11) == 0, "stderr: %s", r.err);
	tool_result_free(&r);
	cr_assert_eq(ipcx_mutex_unlock(mx), 0);
	ipcx_mutex_close(mx);
}

/* `ipcx event NAME listen` prints the setter of each set and pulse, and honours -n and
 * --timeout. */
static int set_when_listened(void *arg)
{
	struct ipcx_event_signal_stats st;
	ipcx_event *ev;

	die_with_parent();
	if (ipcx_event_open("l", 0, 0, &ev) != 0)
		return 30;
	do { /* until the tool has registered; bounded by the test's timeout */
		pause_ms(1);
		if (ipcx_event_signal_stats(ev, &st) != 0)
			return 31;
	} while (st.registered == 0);
	if (ipcx_event_set(ev) != 0 || ipcx_event_pulse(ev) != 0)
		return 32;
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(cli, event_listen)
{
	struct tool_result r;
	ipcx_event *ev;
	char want[128];
	pid_t pid;

	cr_assert_eq(ipcx_event_open("l", IPCX_CREATE, 0, &ev), 1);
	pid = test_fork(set_when_listened, NULL);
	r = RUN("event", "l", "listen", "-n", "2", "--timeout", "20");
	expect_ok(&r);
	snprintf(want, sizeof(want), "signal from pid %d\nsignal from pid %d\n", (int)pid,
	         (int)pid);
	cr_expect_str_eq(r.out, want);
	tool_result_free(&r);
	cr_expect_eq(test_wait(pid), 0);

	r = RUN("event", "l", "listen", "--timeout", "0.05");
	expect_ok(&r);
	cr_expect_str_eq(r.out, "");
	tool_result_free(&r);
	r = RUN("event", "l", "listen", "-n", "1", "--timeout", "0.05");
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "ETIMEDOUT") == r.err, "%s", r.err);
	tool_result_free(&r);
	r = RUN("event", "l", "listen", "-n", "0");
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = RUN("stat", "l");
	expect_ok(&r);
	cr_expect(strstr(r.out, "signal registrations: 0 (0 of dead processes)"), "%s", r.out);
	tool_result_free(&r);
	ipcx_event_close(ev);
}
