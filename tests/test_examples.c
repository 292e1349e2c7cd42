/* SPDX-License-Identifier: MIT */
/*
 * The examples in examples/, run as the README runs them (with small parameters): each must
 * exit 0 and print what it promises. A new example gets one test here.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

/* Runs build/examples/NAME with the given arguments (NULL-terminated, no argv[0]). */
static struct tool_result run_example(const char *name, const char *const *args)
{
	const char *argv[16] = {name};
	char path[512];
	int n = 1;

	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/%s", IPCX_EXAMPLES_DIR, name);
	return test_run_program(path, NULL, argv);
}

/* Counts the lines of out that start with prefix. */
static int lines_starting(const char *out, const char *prefix)
{
	int n = 0;

	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

IPCX_TEST(examples, sensor, .timeout = 60)
{
	const char *args[] = {"--readers", "3", "--readings", "50", "--interval-us", "200", NULL};
	struct tool_result r = run_example("sensor", args);

	cr_assert_eq(r.status, 0, "status %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
	cr_expect_eq(lines_starting(r.out, "reader "), 3, "%s", r.out);
	cr_expect_eq(lines_starting(r.out, "reader 0: "), 1, "%s", r.out);
	cr_expect(strstr(r.out, "up to reading #50 "), "%s", r.out);
	cr_expect(strstr(r.out, "sensor: published 50 readings; 3 readers each saw the last one, "
	                        "none torn\n"),
	          "%s", r.out);
	tool_result_free(&r);
}

IPCX_TEST(examples, jobqueue, .timeout = 60)
{
	const char *args[] = {"--workers", "4", "--jobs", "60", "--slots", "2", NULL};
	struct tool_result r = run_example("jobqueue", args);
	int total = 0;

	cr_assert_eq(r.status, 0, "status %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
	cr_expect_eq(lines_starting(r.out, "worker "), 4, "%s", r.out);
	/* The workers' counts add up to the jobs. */
	for (const char *p = strstr(r.out, "worker "); p; p = strstr(p + 1, "worker ")) {
		unsigned id, jobs;

		if (sscanf(p, "worker %u: %u jobs", &id, &jobs) == 2)
			total += (int)jobs;
	}
	cr_expect_eq(total, 60, "%s", r.out);
	cr_expect(strstr(r.out, "jobqueue: 4 workers did 60 jobs, each exactly once; at most 2 "
	                        "ran at once"),
	          "%s", r.out);
	tool_result_free(&r);
}

/* ---- epoll: TCP clients and a channel in one loop ---- */

#define EPOLL_MSGS 500
#define EPOLL_CLIENTS 2

/* What the client processes report (shared memory). */
struct epoll_shared {
	int port;
	_Atomic uint32_t ready;              /* clients connected, greeted and answered */
	_Atomic uint32_t got[EPOLL_CLIENTS]; /* channel messages each received, in order */
	char bad[EPOLL_CLIENTS][256];        /* the first unexpected line, if any */
};

static struct epoll_shared *ep;

/* Reads a file into a NUL-terminated heap string ("" when it cannot). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;

	cr_assert(buf);
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/*
 * A TCP client of the example, in its own process: connects, is greeted, has "ping"
 * answered, says it is ready, then expects "chan: msg 0" ... in order, then "bye" and the
 * end of the connection. Exits 0 when all of that happened.
 */
static int epoll_client(void *arg)
{
	int id = (int)(intptr_t)arg, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ep->port)};
	char line[256] = "", want[64];
	FILE *in;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    !(in = fdopen(dup(fd), "r")))
		return 10;
	if (!fgets(line, sizeof(line), in) || strncmp(line, "hello, you are client ", 22) != 0)
		goto bad;
	if (write(fd, "ping\n", 5) != 5 || !fgets(line, sizeof(line), in) ||
	    strcmp(line, "echo: ping\n") != 0)
		goto bad;
	atomic_fetch_add(&ep->ready, 1);
	for (int i = 0; i < EPOLL_MSGS; i++) {
		snprintf(want, sizeof(want), "chan: msg %d\n", i);
		if (!fgets(line, sizeof(line), in) || strcmp(line, want) != 0)
			goto bad;
		atomic_store(&ep->got[id], (uint32_t)i + 1);
	}
	if (!fgets(line, sizeof(line), in) || strcmp(line, "bye\n") != 0)
		goto bad;
	return fgetc(in) == EOF ? 0 : 12; /* and the server closed the connection */
bad:
	snprintf(ep->bad[id], sizeof(ep->bad[id]), "%s", feof(in) ? "(end)" : line);
	return 11;
}

/* Another process sends on the example's channel, as fast as it can. */
static int epoll_producer(void *arg)
{
	ipcx_chan *c;
	char m[32];

	(void)arg;
	if (ipcx_chan_open("feed", 0, 0, NULL, &c) < 0)
		return 10;
	for (int i = 0; i < EPOLL_MSGS; i++) {
		int n = snprintf(m, sizeof(m), "msg %d", i);

		if (ipcx_chan_send(c, m, (size_t)n, IPCX_FOREVER) < 0)
			return 11;
	}
	ipcx_chan_close(c);
	return 0;
}

IPCX_TEST(examples, epoll, .timeout = 60)
{
	char out[64] = "/tmp/ipcx-epoll-out.XXXXXX", path[512], *text;
	pid_t server, clients[EPOLL_CLIENTS], producer;
	struct tool_result r;
	int fd = mkstemp(out), status;
	struct dirent *de;
	struct ipcx_info info;
	const char *at;
	DIR *d;

	cr_assert(fd >= 0);
	ep = test_shared_alloc(sizeof(*ep));
	snprintf(path, sizeof(path), "%s/epoll", IPCX_EXAMPLES_DIR);
	server = fork();
	cr_assert(server >= 0);
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(path, "epoll", "--port", "0", "--chan", "feed", (char *)NULL);
		_exit(127);
	}
	close(fd);
	/* Wait for the port line: a state, not a time (the test's timeout bounds it). */
	for (;;) {
		text = slurp(out);
		at = strstr(text, "epoll: listening on 127.0.0.1:");
		if (at && strchr(at, '\n'))
			break;
		free(text);
		cr_assert_eq(waitpid(server, &status, WNOHANG), 0, "the example exited early");
		usleep(1000);
	}
	cr_assert_eq(sscanf(at, "epoll: listening on 127.0.0.1:%d, channel feed", &ep->port), 1,
	             "%s", text);
	free(text);

	/* The clients connect and are served before anything is sent on the channel, so each
	 * must receive every message. */
	for (int i = 0; i < EPOLL_CLIENTS; i++)
		clients[i] = test_fork(epoll_client, (void *)(intptr_t)i);
	while (atomic_load(&ep->ready) < EPOLL_CLIENTS) {
		for (int i = 0; i < EPOLL_CLIENTS; i++)
			cr_assert_eq(waitpid(clients[i], &status, WNOHANG), 0, "client %d: %s", i,
			             ep->bad[i]);
		usleep(1000);
	}
	producer = test_fork(epoll_producer, NULL);
	cr_assert_eq(test_wait(producer), 0);
	/* Then the user's way to stop it, from yet another process. */
	r = tool_run(NULL, "send", "feed", "quit", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tool_result_free(&r);

	for (int i = 0; i < EPOLL_CLIENTS; i++)
		cr_expect_eq(test_wait(clients[i]), 0, "client %d got %u of %d messages; then: %s",
		             i, atomic_load(&ep->got[i]), EPOLL_MSGS, ep->bad[i]);
	status = test_wait(server);
	text = slurp(out);
	unlink(out);
	cr_expect_eq(status, 0, "%s", text);
	cr_expect(strstr(text, "channel: msg 499 -> 2 client(s)\n"), "%s", text);
	cr_expect(strstr(text, "epoll: 500 channel messages broadcast, 2 lines answered, 2 "
	                       "clients; bye\n"),
	          "%s", text);
	free(text);
	/* A clean exit: the channel removed, and its descriptor's FIFO with it. */
	cr_expect_eq(ipcx_stat("feed", &info), -ENOENT);
	d = opendir(test_dir());
	cr_assert(d);
	while ((de = readdir(d)))
		cr_expect(de->d_name[0] == '.', "left behind: %s", de->d_name);
	closedir(d);
}

IPCX_TEST(examples, bad_usage)
{
	const char *args[] = {"--readers", NULL};
	struct tool_result r = run_example("sensor", args);

	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "usage: sensor"), "%s", r.err);
	tool_result_free(&r);
	r = run_example("jobqueue", (const char *[]){"--slots", "0", NULL});
	cr_expect_eq(r.status, 2);
	tool_result_free(&r);
	r = run_example("epoll", (const char *[]){"--port", "70000", NULL});
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "usage: epoll"), "%s", r.err);
	tool_result_free(&r);
}
