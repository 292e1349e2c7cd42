/* SPDX-License-Identifier: MIT */
/*
 * Garbles the body of a valid event or mutex and runs every non-blocking call on it: a
 * peer that scribbles over shared memory must not make another process crash, fault or
 * loop. Calls that could sleep are given a timeout of 0 or 1 ms.
 *
 * Input: byte 0 picks the kind (even: event, odd: mutex); then records of 3 bytes, a
 * little-endian 16-bit offset into the body (modulo its size) and a byte XORed there.
 * With byte 0 == 2 (mod 4) the event is one with signal registrations of this process (one
 * of them naming it with a wrong start time, as after a pid reuse), and the offsets go to
 * seq's cache line and the registration table instead: whatever the bytes, a setter may
 * queue real-time signals only, and only to a process that maps the event (here: this
 * process alone, whose handler checks every signal it gets). Identities in the table may
 * name this process or a decoy that does not map the event, never anything else: see aim().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/layout.h"
#include "internal/sys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pristine {
	const char *name;
	uint8_t *map;  /* the object's file, mapped */
	uint8_t *copy; /* its body as created */
	size_t body;
};

static struct pristine objs[3] = {
        {"ev", NULL, NULL, 0}, {"mx", NULL, NULL, 0}, {"evs", NULL, NULL, 0}};

/* The registration table ends the event's body: 64 entries of 32 bytes. */
#define SIG_TABLE (IPCX_EVENT_MAX_SIGNALS * 32)

/* Handles whose registrations are in the pristine copy of "evs"; open for good. */
static ipcx_event *registered[5];

/* Any signal a setter sends lands here (in whichever thread): it must be a real-time signal
 * queued by this very process, as the only registrant. */
static void on_signal(int signo, siginfo_t *si, void *ctx)
{
	if (signo < SIGRTMIN || signo > SIGRTMAX || si->si_code != SI_QUEUE ||
	    si->si_pid != getpid())
		abort();
}

static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaction(s, &sa, NULL);
	for (int i = 0; i < 5; i++)
		if (ipcx_event_open("evs", IPCX_CREATE, 0, &registered[i]) < 0 ||
		    ipcx_event_signal_register(registered[i], SIGRTMIN + i,
		                               (void *)(intptr_t)(i + 1)) != 0)
			abort();
}

/*
 * The decoy: a `sleep` started by fork and exec, so it maps nothing of ours, with every
 * signal blocked, so a signal a setter wrongly queued to it stays pending where
 * decoy_signalled() sees it at once. It dies with this process (PR_SET_PDEATHSIG).
 */
static pid_t decoy_pid;
static uint64_t decoy_id;

static void start_decoy(void)
{
	sigset_t all;
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	decoy_pid = fork();
	if (decoy_pid < 0)
		abort();
	if (decoy_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execlp("sleep", "sleep", "100000000", (char *)NULL);
		c = 1;
		(void)!write(p[1], &c, 1);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 0) /* end of file: the exec closed the pipe */
		abort();
	close(p[0]);
	decoy_id = ipcx__proc_id_of(decoy_pid);
	if (decoy_id == 0)
		abort();
}

/* True when the decoy has a signal pending, or is gone. */
static bool decoy_signalled(void)
{
	static const char *const keys[] = {"\nSigPnd:", "\nShdPnd:"};
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (waitpid(decoy_pid, NULL, WNOHANG) != 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)decoy_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* Pending for the thread, and for the process (where a process-directed signal goes). */
	for (int k = 0; k < 2; k++) {
		const char *l = strstr(buf, keys[k]);

		if (!l || strtoull(l + strlen(keys[k]), NULL, 16) != 0)
			return true;
	}
	return false;
}

/*
 * Points every identity the bytes made at this process or at the decoy, chosen by the low
 * bits the bytes changed: this pid with whatever start time they give (a live, dead or
 * reused identity), the decoy's pid with that start time, or the decoy's exact identity (a
 * live process that does not take part: the setter must refuse it). The maps check makes
 * any other process safe too; but a fuzzer hunting for a hole in that check must not aim
 * at the machine's real processes, and would only reach them by luck (processes started in
 * the same clock tick as this one share its start time: before the check, a run signalled
 * the tail it was piped into). pristine is the table as created.
 */
static void aim(uint8_t *body, const uint8_t *pristine, size_t size)
{
	uint8_t *t = body + size - SIG_TABLE;
	const uint8_t *t0 = pristine + size - SIG_TABLE;
	uint64_t pid_mask = (1ull << IPCX__PID_BITS) - 1, self = ipcx__proc_self();

	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++) {
		uint64_t who, was;

		memcpy(&who, t + 32 * i, 8);
		memcpy(&was, t0 + 32 * i, 8);
		if (who == 0 || who == self || who == decoy_id)
			continue;
		switch ((who ^ was) & 3) {
		case 0:
		case 1:
			who = (who & ~pid_mask) | (self & pid_mask);
			break;
		case 2:
			who = (who & ~pid_mask) | (decoy_id & pid_mask);
			break;
		default:
			who = decoy_id;
			break;
		}
		memcpy(t + 32 * i, &who, 8);
	}
}

/* Makes the registration with payload 5 name this pid with another start time. */
static void forge_reused_pid(uint8_t *body, size_t size)
{
	uint8_t *t = body + size - SIG_TABLE;

	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++) {
		uint64_t who, value;

		memcpy(&who, t + 32 * i, 8);
		memcpy(&value, t + 32 * i + 8, 8);
		if (who != 0 && value == 5) {
			who += 1ull << IPCX__PID_BITS;
			memcpy(t + 32 * i, &who, 8);
		}
	}
}

static char dir[64];

static void cleanup(void)
{
	char path[128];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, objs[i].name);
		unlink(path);
	}
	rmdir(dir);
	if (decoy_pid > 0) {
		kill(decoy_pid, SIGKILL);
		waitpid(decoy_pid, NULL, 0);
	}
}

static void setup(void)
{
	char path[128];
	ipcx_event *ev;
	ipcx_mutex *mx;

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-sync.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(cleanup);
	start_decoy();
	if (ipcx_event_open("ev", IPCX_CREATE, 0, &ev) != 1 ||
	    ipcx_mutex_open("mx", IPCX_CREATE, 0, &mx) != 1)
		abort();
	ipcx_event_close(ev);
	ipcx_mutex_close(mx);
	setup_signals();
	for (int i = 0; i < 3; i++) {
		off_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, objs[i].name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		len = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
		if (len <= IPCX__BODY_OFFSET)
			abort();
		objs[i].map = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (objs[i].map == MAP_FAILED)
			abort();
		objs[i].body = (size_t)len - IPCX__BODY_OFFSET;
		objs[i].copy = malloc(objs[i].body);
		memcpy(objs[i].copy, objs[i].map + IPCX__BODY_OFFSET, objs[i].body);
	}
	forge_reused_pid(objs[2].copy, objs[2].body);
}

static void event_calls(const char *name)
{
	struct ipcx_event_signal_stats sst;
	struct ipcx_event_state st;
	ipcx_event *ev;

	if (ipcx_event_open(name, 0, 0, &ev) != 0)
		return;
	ipcx_event_signal_stats(ev, &sst);
	ipcx_event_signal_register(ev, SIGRTMAX, (void *)(intptr_t)9);
	ipcx_event_set_wait(ev, IPCX_WAIT_SLEEP);
	ipcx_event_get_state(ev, &st);
	ipcx_event_notify(ev, 4);
	ipcx_event_wait(ev, 0);
	ipcx_event_wait(ev, 1000000);
	ipcx_event_pulse(ev);
	ipcx_event_set(ev);
	ipcx_event_wait(ev, 1000000);
	ipcx_event_reset(ev);
	ipcx_event_notify(ev, 1000);
	ipcx_event_get_state(ev, &st);
	ipcx_event_signal_unregister(ev);
	ipcx_event_pulse(ev);
	ipcx_event_signal_stats(ev, &sst);
	ipcx_event_close(ev);
}

static void mutex_calls(void)
{
	struct ipcx_mutex_state st;
	ipcx_mutex *mx;
	int r;

	if (ipcx_mutex_open("mx", 0, 0, &mx) != 0)
		return;
	ipcx_mutex_get_state(mx, &st);
	ipcx_mutex_set_wait(mx, IPCX_WAIT_SLEEP);
	r = ipcx_mutex_lock(mx, 1000000);
	if (r == -EOWNERDEAD)
		ipcx_mutex_consistent(mx);
	ipcx_mutex_get_state(mx, &st);
	if (r == 0 || r == -EOWNERDEAD)
		ipcx_mutex_unlock(mx);
	if (ipcx_mutex_trylock(mx) == 0)
		ipcx_mutex_unlock(mx);
	ipcx_mutex_close(mx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pristine *o;
	uint8_t *body;

	if (size < 1)
		return 0;
	setup();
	o = &objs[(data[0] & 3) == 2 ? 2 : data[0] & 1];
	body = o->map + IPCX__BODY_OFFSET;
	memcpy(body, o->copy, o->body);
	for (size_t i = 1; i + 3 <= size; i += 3) {
		size_t off = (size_t)data[i] | (size_t)data[i + 1] << 8;

		if (o == &objs[2]) { /* seq's cache line, then the registration table */
			off %= 64 + SIG_TABLE;
			off = off < 64 ? 64 + off : o->body - SIG_TABLE + (off - 64);
		} else {
			off %= o->body;
		}
		body[off] ^= data[i + 2];
	}
	if (o == &objs[2])
		aim(body, o->copy, o->body);
	if (data[0] & 1)
		mutex_calls();
	else
		event_calls(o->name);
	if (decoy_signalled())
		abort();
	return 0;
}
