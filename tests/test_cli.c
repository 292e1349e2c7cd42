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
		 (uint64_t)((ipcx__proc_self() & ~((1ull << IPCX__PID_BITS) - 1)) | (uint64_t)child));
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
