/* SPDX-License-Identifier: MIT */
/*
 * The iceoryx daemon for the iceoryx cases. RouDi 2.0.3 must run before its clients and stop
 * after them; when a client dies uncleanly it aborts at shutdown and leaves its shared memory
 * (/dev/shm/iceoryx_mgmt and a segment named after the user) and its sockets and lock files in
 * /tmp. So the harness starts its own RouDi with a config that has chunk pools up to 4 MiB,
 * waits for "RouDi is ready for clients", stops it after every client has exited, and removes
 * what a dead RouDi left — also what an earlier, crashed run left.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUDI_LOCK "/tmp/iox-unique-roudi.lock"

static pid_t roudi_pid;
static char conf_path[64], log_path[64];

/* Chunk pools: the payload plus RouDi's own chunk header must fit. */
static const char roudi_conf[] = "[general]\nversion = 1\n[[segment]]\n"
                                 "[[segment.mempool]]\nsize = 128\ncount = 512\n"
                                 "[[segment.mempool]]\nsize = 512\ncount = 64\n"
                                 "[[segment.mempool]]\nsize = 2048\ncount = 64\n"
                                 "[[segment.mempool]]\nsize = 8192\ncount = 64\n"
                                 "[[segment.mempool]]\nsize = 32768\ncount = 32\n"
                                 "[[segment.mempool]]\nsize = 131072\ncount = 32\n"
                                 "[[segment.mempool]]\nsize = 524288\ncount = 16\n"
                                 "[[segment.mempool]]\nsize = 1048576\ncount = 16\n"
                                 "[[segment.mempool]]\nsize = 4194304\ncount = 8\n";

/* True when some RouDi holds its unique lock (one that is not ours, if we have none). */
static bool roudi_running(void)
{
	int fd = open(ROUDI_LOCK, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Sockets, files and directories of ours ("/tmp/ipcxb-<pid>-...") whose run is gone. */
static void cleanup_our_tmp(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, "ipcxb-", 6) != 0)
			continue;
		long pid = strtol(de->d_name + 6, &end, 10);
		if (end == de->d_name + 6 || *end != '-' || pid_alive(pid))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
		if (unlink(path) < 0 && errno == EISDIR)
			nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

void bench_cleanup_stale(void)
{
	cleanup_our_tmp();
}

/* What a dead RouDi left; called only around starting and stopping our own. */
static void roudi_cleanup_stale(void)
{
	cleanup_our_tmp();
	if (roudi_running())
		return;
	/* No RouDi alive: whatever it left is garbage. The payload segment is named after the
	 * user, so it is only taken for RouDi's when its management segment is there too. */
	struct passwd *pw = getpwuid(geteuid());
	char path[300];
	if (unlink("/dev/shm/iceoryx_mgmt") == 0 && pw && pw->pw_name[0] &&
	    !strchr(pw->pw_name, '/')) {
		snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
		unlink(path);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
	unlink(ROUDI_LOCK);
}

static bool log_says_ready(void)
{
	FILE *f = fopen(log_path, "r");
	char line[512];
	bool ready = false;
	if (!f)
		return false;
	while (!ready && fgets(line, sizeof(line), f))
		ready = strstr(line, "RouDi is ready for clients") != NULL;
	fclose(f);
	return ready;
}

static void log_tail(char *why, size_t whylen, const char *what)
{
	FILE *f = fopen(log_path, "r");
	char line[512], last[512] = "";
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (line[0] != '\n')
				snprintf(last, sizeof(last), "%s", line);
		fclose(f);
	}
	last[strcspn(last, "\n")] = 0;
	snprintf(why, whylen, "%s%s%s", what, last[0] ? "; its log says: " : "", last);
}

int bench_roudi_start(char *why, size_t whylen)
{
	if (roudi_pid > 0)
		return 0;
	if (roudi_running()) {
		snprintf(why, whylen, "another iox-roudi is running; stop it to run this case");
		return -EBUSY;
	}
	roudi_cleanup_stale();
	snprintf(conf_path, sizeof(conf_path), "/tmp/ipcxb-%d-roudi.toml", (int)getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/ipcxb-%d-roudi.log", (int)getpid());
	FILE *f = fopen(conf_path, "w");
	if (!f || fputs(roudi_conf, f) < 0 || fclose(f) != 0) {
		snprintf(why, whylen, "cannot write %s: %s", conf_path, strerror(errno));
		return -EIO;
	}
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		snprintf(why, whylen, "cannot write %s: %s", log_path, strerror(errno));
		return -errno;
	}
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* If the harness dies, RouDi is told to stop cleanly too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		dup2(logfd, 1);
		dup2(logfd, 2);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		execlp("iox-roudi", "iox-roudi", "-c", conf_path, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -errno;
	}
	roudi_pid = pid;
	int64_t deadline = bench_now_ns() + 15 * 1000000000LL;
	while (!log_says_ready()) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			roudi_pid = 0;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
				snprintf(why, whylen,
				         "iox-roudi not found (install the iceoryx package)");
			else
				log_tail(why, whylen, "iox-roudi exited at start");
			bench_roudi_stop();
			return -ENOENT;
		}
		if (bench_now_ns() > deadline) {
			log_tail(why, whylen, "iox-roudi did not become ready in 15 s");
			bench_roudi_stop();
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	return 0;
}

void bench_roudi_stop(void)
{
	if (roudi_pid > 0) {
		int st;
		kill(roudi_pid, SIGTERM);
		int64_t deadline = bench_now_ns() + 10 * 1000000000LL;
		while (waitpid(roudi_pid, &st, WNOHANG) == 0) {
			if (bench_now_ns() > deadline) {
				kill(roudi_pid, SIGKILL);
				waitpid(roudi_pid, &st, 0);
				break;
			}
			usleep(5000);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			char why[300];
			log_tail(why, sizeof(why), "iox-roudi did not stop cleanly");
			fprintf(stderr, "note: %s; removing what it left\n", why);
		}
		roudi_pid = 0;
	}
	if (conf_path[0])
		unlink(conf_path);
	if (log_path[0])
		unlink(log_path);
	if (conf_path[0])
		roudi_cleanup_stale();
}
