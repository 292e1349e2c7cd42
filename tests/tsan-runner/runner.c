/* SPDX-License-Identifier: MIT */
/* The runner behind the TSan stand-in for Criterion: see criterion/criterion.h. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct cr__test *tests;
static bool failed;

void cr__register(struct cr__test *t)
{
	t->next = tests;
	tests = t;
}

void cr__check(bool ok, bool fatal, const char *file, int line, const char *expr, const char *fmt,
               ...)
{
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "[----] %s:%d: Assertion Failed: %s", file, line, expr);
	if (fmt[0]) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	failed = true;
	if (fatal)
		_exit(1);
}

void cr__log(const char *level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%s] ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Runs one test in a child process; returns 0 passed, 1 failed, 2 crashed. */
static int run_one(struct cr__test *t)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 2;
	if (pid == 0) {
		alarm(t->opts.timeout > 0 ? (unsigned)t->opts.timeout + 1 : 0);
		if (t->opts.init)
			t->opts.init();
		t->fn();
		if (t->opts.fini)
			t->opts.fini();
		_exit(failed ? 1 : t->opts.exit_code);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	if (WIFSIGNALED(status)) {
		if (t->opts.signal && WTERMSIG(status) == t->opts.signal)
			return 0;
		fprintf(stderr, "[CRASH] %s::%s: signal %d%s\n", t->suite, t->name,
		        WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
		return 2;
	}
	if (t->opts.signal || WEXITSTATUS(status) != t->opts.exit_code) {
		fprintf(stderr, "[FAIL] %s::%s\n", t->suite, t->name);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned tested = 0, passing = 0, failing = 0, crashing = 0;
	const char *filter = NULL;

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
	for (struct cr__test *t = tests; t; t = t->next) {
		char full[256];

		snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
		if (t->opts.disabled || (filter && fnmatch(filter, full, 0) != 0))
			continue;
		tested++;
		switch (run_one(t)) {
		case 0:
			passing++;
			break;
		case 1:
			failing++;
			break;
		default:
			crashing++;
			break;
		}
	}
	fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u\n",
	        tested, passing, failing, crashing);
	return failing || crashing || tested == 0;
}
