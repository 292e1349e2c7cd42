/* SPDX-License-Identifier: MIT */
/*
 * Process liveness that a recycled pid cannot fool: a process is named by its pid together
 * with its start time from /proc/PID/stat. Reading /proc costs a few system calls, so callers
 * ask only on slow paths (a slot that looks stale, a wait that timed out, gc).
 */
#define _GNU_SOURCE /* gettid */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../internal/sys.h"

/*
 * Reads the state letter and start time from a stat file of /proc (a process's or a
 * thread's). Returns 0, -ESRCH when there is no such process, or another -errno.
 */
static int read_stat_at(const char *path, char *ret_state, uint64_t *ret_start)
{
	char buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	ipcx__close(fd);
	if (n <= 0)
		return -ESRCH; /* the process went away between open and read */
	buf[n] = '\0';

	/* The command name (field 2) may contain spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	p += 2;
	*ret_state = *p;
	/* p is at field 3; the start time is field 22. */
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	*ret_start = strtoull(p, NULL, 10);
	return 0;
}

static int read_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return read_stat_at(path, ret_state, ret_start);
}

static uint64_t make_id(pid_t pid, uint64_t start)
{
	/* Start ticks beyond 42 bits would take 1.4 billion years of uptime at 100 Hz. */
	return ((start & ((1ull << (64 - IPCX__PID_BITS)) - 1)) << IPCX__PID_BITS) | (uint64_t)pid;
}

uint64_t ipcx__proc_id_of(pid_t pid)
{
	uint64_t start;
	char state;

	if (pid <= 0 || pid >= (1 << IPCX__PID_BITS))
		return 0;
	if (read_stat(pid, &state, &start) < 0 || state == 'Z' || state == 'X')
		return 0;
	return make_id(pid, start);
}

int ipcx__proc_alive(uint64_t id)
{
	pid_t pid = ipcx__id_pid(id);
	uint64_t start;
	char state;

	if (id == 0 || pid == 0)
		return 0;
	if (ipcx__id_start(id) == 0) /* made without /proc: the pid is all we have */
		return kill(pid, 0) == 0 || errno == EPERM;
	if (read_stat(pid, &state, &start) < 0)
		return 0;
	/* A zombie has exited: the kernel has already run its exit handling. */
	if (state == 'Z' || state == 'X')
		return 0;
	return make_id(pid, start) == id;
}

int ipcx__proc_running(uint64_t id)
{
	pid_t pid = ipcx__id_pid(id), self = getpid(), me = gettid();
	char path[64], state;
	uint64_t start;
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (id == 0 || pid == 0 || read_stat(pid, &state, &start) < 0 || state == 'Z' ||
	    state == 'X' || (ipcx__id_start(id) != 0 && make_id(pid, start) != id))
		return 0;
	/* Every thread: the one that matters may be any of them, not the leader. */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!r && (e = readdir(d)) != NULL) {
		long tid = strtol(e->d_name, NULL, 10);

		/* Not the asking thread itself: it is running, and says nothing. */
		if (tid <= 0 || (pid == self && tid == me))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/stat", (int)pid, tid);
		/* R: on a CPU or waiting for one; D: in the kernel briefly (a page fault). */
		if (read_stat_at(path, &state, &start) == 0 && (state == 'R' || state == 'D'))
			r = 1;
	}
	closedir(d);
	return r;
}

int ipcx__proc_gone(uint64_t id)
{
	pid_t pid = ipcx__id_pid(id);

	if (id == 0 || pid == 0)
		return 0;
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static _Atomic uint64_t self_id;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_self(void)
{
	/* Runs in a forked child: it is a different process from its parent. */
	atomic_store_explicit(&self_id, 0, memory_order_relaxed);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_self);
}

uint64_t ipcx__proc_self(void)
{
	uint64_t id = atomic_load_explicit(&self_id, memory_order_relaxed);

	if (id)
		return id;
	pthread_once(&atfork_once, register_atfork);
	id = ipcx__proc_id_of(getpid());
	/* Without /proc, fall back to the bare pid (see ipcx__proc_alive). */
	if (id == 0)
		id = make_id(getpid(), 0);
	atomic_store_explicit(&self_id, id, memory_order_relaxed);
	return id;
}

int ipcx__thread_alive(pid_t pid, pid_t tid)
{
	char path[64];

	if (tid <= 0 || pid < 0)
		return 0;
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d", (int)tid);
	return access(path, F_OK) == 0;
}
