/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static char dir[64];

void test_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ipcx-test.XXXXXX");
	cr_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	/* Like the default directory: world-writable and sticky, so tests that drop to
	 * another uid can still reach it. */
	cr_assert(chmod(dir, 01777) == 0);
	setenv("IPCX_DIR", dir, 1);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void test_teardown(void)
{
	if (dir[0])
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_dir(void)
{
	return dir;
}

pid_t test_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int test_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void test_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	test_wait(pid);
}

void *test_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

void *test_map_object(const char *name, size_t *ret_size)
{
	char path[512];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", test_dir(), name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(p != MAP_FAILED);
	*ret_size = (size_t)st.st_size;
	return p;
}

struct test_barrier *test_barrier_new(uint32_t count)
{
	struct test_barrier *b = test_shared_alloc(sizeof(*b));

	b->count = count;
	return b;
}

void test_barrier_wait(struct test_barrier *b)
{
	uint32_t gen = atomic_load(&b->generation);

	if (atomic_fetch_add(&b->arrived, 1) + 1 == b->count) {
		atomic_store(&b->arrived, 0);
		atomic_fetch_add(&b->generation, 1);
		syscall(SYS_futex, &b->generation, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
		return;
	}
	while (atomic_load(&b->generation) == gen)
		syscall(SYS_futex, &b->generation, FUTEX_WAIT, gen, NULL, NULL, 0);
}

/* Reads everything from fd into a NUL-terminated heap buffer. */
static void drain(int fd, char **buf, size_t *len, size_t *cap)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return;
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*len + (size_t)n + 1) * 2;
		*buf = realloc(*buf, *cap);
		cr_assert(*buf);
	}
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
}

struct tool_result test_run_program(const char *path, const char *stdin_data,
                                    const char *const *argv)
{
	int in[2], out[2], err[2];
	struct tool_result r = {0};
	size_t olen = 0, ocap = 1, elen = 0, ecap = 1;
	pid_t pid;

	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
	          pipe2(err, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (stdin_data) {
		signal(SIGPIPE, SIG_IGN);
		(void)!write(in[1], stdin_data, strlen(stdin_data));
	}
	close(in[1]);

	r.out = calloc(1, 1);
	r.err = calloc(1, 1);
	struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		poll(p, 2, -1);
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			size_t before = i ? elen : olen;
			if (i)
				drain(p[i].fd, &r.err, &elen, &ecap);
			else
				drain(p[i].fd, &r.out, &olen, &ocap);
			if ((i ? elen : olen) == before) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	r.status = test_wait(pid);
	return r;
}

struct tool_result tool_run(const char *stdin_data, const char *arg0, ...)
{
	const char *argv[64] = {"ipcx", arg0};
	va_list ap;
	int argc = 2;

	va_start(ap, arg0);
	while (argc < 63 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return test_run_program(IPCX_TOOL_PATH, stdin_data, argv);
}

void tool_result_free(struct tool_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
