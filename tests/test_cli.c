/* SPDX-License-Identifier: MIT */
/* The ipcx tool's object commands (ls, stat, rm, gc), run as a user would run them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/sys.h"

static void make_file(const char *name, const char *content)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", test_dir(), name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static bool exists(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", test_dir(), name);
	return access(path, F_OK) == 0;
}

IPCX_TEST(cli, usage_and_help)
{
	const char *cmds[] = {"ls", "stat", "rm", "gc", "bench"};
	struct tool_result r;

	r = tool_run(NULL, "--help", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "ipcx ls") && strstr(r.out, "ipcx gc"));
	tool_result_free(&r);

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = tool_run(NULL, cmds[i], "--help", NULL);
		cr_expect_eq(r.status, 0, "%s --help", cmds[i]);
		cr_expect(strstr(r.out, "usage: ipcx"), "%s --help: %s", cmds[i], r.out);
		tool_result_free(&r);
	}

	r = tool_run(NULL, NULL, NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = tool_run(NULL, "frobnicate", NULL);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "unknown command"));
	tool_result_free(&r);
	r = tool_run(NULL, "ls", "--bogus", NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = tool_run(NULL, "stat", NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = tool_run(NULL, "rm", NULL);
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
}

IPCX_TEST(cli, empty_directory)
{
	struct tool_result r = tool_run(NULL, "ls", NULL);

	cr_expect_eq(r.status, 0);
	cr_expect(strncmp(r.out, "NAME", 4) == 0);
	cr_expect_eq(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out), "only the heading");
	tool_result_free(&r);
	r = tool_run(NULL, "ls", "--json", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect_str_eq(r.out, "[]\n");
	tool_result_free(&r);
}

IPCX_TEST(cli, corrupt_and_foreign_files_are_listed)
{
	struct tool_result r;
	char target[600], link[600];

	make_file("junk", "this is not an object");
	snprintf(target, sizeof(target), "%s/junk", test_dir());
	snprintf(link, sizeof(link), "%s/lnk", test_dir());
	cr_assert_eq(symlink(target, link), 0);

	r = tool_run(NULL, "ls", NULL);
	cr_expect_eq(r.status, 0, "a corrupt file is not fatal");
	cr_expect(strstr(r.out, "junk") && strstr(r.out, "EBADMSG"), "%s", r.out);
	cr_expect(strstr(r.out, "lnk") && strstr(r.out, "ELOOP"), "%s", r.out);
	tool_result_free(&r);

	r = tool_run(NULL, "ls", "--json", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "\"name\":\"junk\"") && strstr(r.out, "\"kind\":\"corrupt\"") &&
	                  strstr(r.out, "\"status\":\"EBADMSG\""),
	          "%s", r.out);
	tool_result_free(&r);

	r = tool_run(NULL, "stat", "junk", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EBADMSG: ", 9) == 0, "%s", r.err);
	cr_expect(strstr(r.out, "kind:      corrupt"), "%s", r.out);
	tool_result_free(&r);
}

IPCX_TEST(cli, errors_name_the_errno_first)
{
	struct tool_result r;

	r = tool_run(NULL, "stat", "missing", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "ENOENT: missing", 15) == 0, "%s", r.err);
	tool_result_free(&r);

	r = tool_run(NULL, "stat", "../etc", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EINVAL: ", 8) == 0, "%s", r.err);
	tool_result_free(&r);

	/* rm goes on past a failure and reports it. */
	make_file("a", "x");
	r = tool_run(NULL, "rm", "nope", "a", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "ENOENT: nope", 12) == 0, "%s", r.err);
	cr_expect_not(exists("a"));
	tool_result_free(&r);
}

IPCX_TEST(cli, gc_removes_leftovers_of_dead_creators)
{
	char dead_tmp[128], live_tmp[128];
	struct tool_result r;
	pid_t child;

	/* A temporary file named for a process that has exited. */
	child = fork();
	if (child == 0)
		_exit(0);
	test_wait(child);
	snprintf(dead_tmp, sizeof(dead_tmp), IPCX__TMP_PREFIX "%" PRIx64 ".0",
	         (uint64_t)((ipcx__proc_self() & ~((1ull << IPCX__PID_BITS) - 1)) |
	                    (uint64_t)child));
	make_file(dead_tmp, "half an object");
	snprintf(live_tmp, sizeof(live_tmp), IPCX__TMP_PREFIX "%" PRIx64 ".1", ipcx__proc_self());
	make_file(live_tmp, "a create in progress");

	r = tool_run(NULL, "ls", NULL);
	cr_expect(strstr(r.out, dead_tmp) && strstr(r.out, " tmp "), "%s", r.out);
	tool_result_free(&r);

	r = tool_run(NULL, "gc", "--dry-run", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "would remove") && strstr(r.out, dead_tmp), "%s", r.out);
	cr_expect_not(strstr(r.out, live_tmp), "%s", r.out);
	cr_expect(exists(dead_tmp));
	tool_result_free(&r);

	r = tool_run(NULL, "gc", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "removed 1 file"), "%s", r.out);
	cr_expect_not(exists(dead_tmp));
	cr_expect(exists(live_tmp), "a live creator's file is left alone");
	tool_result_free(&r);
}

/* Objects made and held by other processes, seen through the tool. */
static int hold_event(void *arg)
{
	ipcx_event *ev;

	if (ipcx_event_open((const char *)arg, IPCX_CREATE, 0640, &ev) < 0)
		return 1;
	pause(); /* until killed, holding its attachment */
	return 0;
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

IPCX_TEST(cli, objects_of_other_processes)
{
	struct tool_result r;
	pid_t a, b;
	char pidtext[32];

	a = test_fork(hold_event, "shared-ev");
	b = test_fork(hold_event, "shared-ev");
	/* Wait until both have attached (however long that takes on a loaded machine: the
	 * checks below need both; the test's timeout bounds the wait). */
	for (;;) {
		struct ipcx_info in;
		if (ipcx_stat("shared-ev", &in) == 0 && in.attached == 2)
			break;
		usleep(1000);
	}

	r = tool_run(NULL, "ls", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "shared-ev") && strstr(r.out, "event") && strstr(r.out, "0640"),
	          "%s", r.out);
	tool_result_free(&r);

	r = tool_run(NULL, "stat", "shared-ev", NULL);
	cr_expect_eq(r.status, 0);
	snprintf(pidtext, sizeof(pidtext), "pid %d alive", (int)a);
	cr_expect(strstr(r.out, pidtext), "%s", r.out);
	cr_expect(strstr(r.out, "attached:  2 live, 0 dead"), "%s", r.out);
	tool_result_free(&r);

	test_kill(a);
	r = tool_run(NULL, "stat", "shared-ev", "--json", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "\"attached\":1,\"dead\":1"), "%s", r.out);
	cr_expect_eq(count_lines_with(r.out, "{"), 1, "one JSON object: %s", r.out);
	tool_result_free(&r);

	/* gc keeps an object while anyone alive holds it ... */
	r = tool_run(NULL, "gc", NULL);
	cr_expect(strstr(r.out, "removed 0 files"), "%s", r.out);
	cr_expect(exists("shared-ev"));
	tool_result_free(&r);

	/* ... and removes it once every holder is dead. */
	test_kill(b);
	r = tool_run(NULL, "ls", NULL);
	cr_expect(strstr(r.out, "    0     2"), "no live, two dead: %s", r.out);
	tool_result_free(&r);
	r = tool_run(NULL, "gc", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "removed shared-ev (every attached process is dead)"), "%s", r.out);
	cr_expect_not(exists("shared-ev"));
	tool_result_free(&r);
}

static int as_nobody_run_tool(void *arg)
{
	struct tool_result r;

	if (setgid(65534) < 0 || setuid(65534) < 0)
		return 100;
	r = tool_run(NULL, "stat", (const char *)arg, NULL);
	/* The object is listed, but its contents are not readable by this user. */
	return r.status == 1 && strncmp(r.err, "EACCES: ", 8) == 0 ? 0 : 1;
}

IPCX_TEST(cli, permissions_seen_through_the_tool)
{
	ipcx_event *ev;

	cr_assert_eq(ipcx_event_open("private-ev", IPCX_CREATE, 0, &ev), 1);
	cr_expect_eq(test_wait(test_fork(as_nobody_run_tool, "private-ev")), 0);
	ipcx_event_close(ev);
}
