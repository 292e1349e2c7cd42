/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the ipcx tool's argument parsing: the input is an argument list (NUL-separated)
 * run through cli_main, the tool's whole dispatch, in-process, against a fresh namespace
 * holding one object of each kind (c, t, s, m, e, r), so that parsing reaches the
 * operations. Whatever the arguments, the tool must not crash, leak or hang.
 *
 * The tool may wait (recv, sub, event wait and listen, mutex lock, sem op, region watch default to
 * no timeout), which a fuzzer must not: "--timeout 0" is appended to those commands (each parser
 * takes the last --timeout), and inputs asking for `bench` (which execs) or for
 * `--hold` (which sleeps as long as asked) are skipped. send and pub cannot wait here: the
 * channel holds more than any input can send, and the topic is lossy. Files are limited to
 * 16 MiB (RLIMIT_FSIZE, which also bounds the fuzzer's own log), so a create of any size
 * costs little. Standard input is empty; the tool's output is discarded.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cli.h"

#define MAX_ARGS 24

static char dir[64];

static void clear_dir(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

static void remove_dir(void)
{
	clear_dir();
	rmdir(dir);
}

static void setup(void)
{
	struct rlimit rl = {16u << 20, 16u << 20};
	int fd;

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-cli.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(remove_dir);
	signal(SIGXFSZ, SIG_IGN); /* a file over the limit is EFBIG, not a signal */
	setrlimit(RLIMIT_FSIZE, &rl);
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		abort();
	dup2(fd, STDIN_FILENO);
	close(fd);
}

/*
 * Runs the tool with its output discarded: its standard output by file descriptor, its
 * messages by swapping the stderr stream only, so that a sanitizer's report (written to
 * file descriptor 2) still reaches the log.
 */
static void run_tool(int argc, char **argv)
{
	int null = open("/dev/null", O_WRONLY), saved = dup(STDOUT_FILENO);
	FILE *err = stderr, *quiet = fopen("/dev/null", "w");

	if (null < 0 || saved < 0 || !quiet)
		abort();
	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	stderr = quiet;
	cli_main(argc, argv);
	stderr = err;
	fclose(quiet);
	fflush(stdout);
	clearerr(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
}

/* One object of each kind, small. */
static void populate(void)
{
	struct ipcx_chan_attr ca = {1 << 18, 1024};
	struct ipcx_topic_attr ta = {4096, 1024, 0};
	ipcx_chan *c;
	ipcx_topic *t;
	ipcx_semset *s;
	ipcx_mutex *m;
	ipcx_event *e;
	ipcx_region *r;

	if (ipcx_chan_open("c", IPCX_CREATE, 0, &ca, &c) >= 0) {
		ipcx_chan_send(c, "hello", 5, 0);
		ipcx_chan_close(c);
	}
	if (ipcx_topic_open("t", IPCX_CREATE, 0, &ta, &t) >= 0) {
		ipcx_topic_publish(t, "news", 4, 0);
		ipcx_topic_close(t);
	}
	if (ipcx_semset_open("s", IPCX_CREATE, 0, 2, 1, &s) >= 0)
		ipcx_semset_close(s);
	if (ipcx_mutex_open("m", IPCX_CREATE, 0, &m) >= 0)
		ipcx_mutex_close(m);
	if (ipcx_event_open("e", IPCX_CREATE, 0, &e) >= 0)
		ipcx_event_close(e);
	if (ipcx_region_open("r", IPCX_CREATE, 0, 4096, &r) >= 0)
		ipcx_region_close(r);
}

/* True when the command may wait without a --timeout. */
static bool may_wait(int argc, char **argv)
{
	const char *cmd = argv[1], *op = argc > 3 ? argv[3] : "";

	if (!strcmp(cmd, "recv") || !strcmp(cmd, "sub"))
		return true;
	if (!strcmp(cmd, "event"))
		return !strcmp(op, "wait") || !strcmp(op, "listen");
	if (!strcmp(cmd, "mutex"))
		return !strcmp(op, "lock");
	if (!strcmp(cmd, "sem"))
		return !strcmp(op, "op");
	if (!strcmp(cmd, "region"))
		return !strcmp(op, "watch") || !strcmp(op, "write");
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *argv[MAX_ARGS + 4];
	int argc = 1;
	size_t i = 0;

	setup();
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "ipcx";
	/* Arguments are the NUL-separated pieces of the input (the last one ends it). */
	while (i < size && argc <= MAX_ARGS) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	argv[argc] = NULL;
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--hold") || (k == 1 && !strcmp(argv[k], "bench"))) {
			free(copy);
			return 0;
		}
	}
	if (argc > 1 && may_wait(argc, argv)) {
		argv[argc++] = "--timeout";
		argv[argc++] = "0";
		argv[argc] = NULL;
	}
	clear_dir();
	populate();
	run_tool(argc, argv);
	free(copy);
	return 0;
}
