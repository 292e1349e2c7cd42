/* SPDX-License-Identifier: MIT */
/* event: set, pulse, notify, timeouts, signals, removal and dead waiters, with real processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/sys.h"

/* A child dies with the test that forked it, so a failed test leaves no process waiting
 * forever (which would also hold Criterion's output pipe open). */
static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static ipcx_event *open_ev(const char *name)
{
	ipcx_event *ev = NULL;
	int r = ipcx_event_open(name, IPCX_CREATE, 0, &ev);

	cr_assert(r == 0 || r == 1, "open %s: %s", name, ipcx_errname(r));
	return ev;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Polls until n waits are in progress on ev. Bounded by the test's timeout. */
static void await_waiters(ipcx_event *ev, unsigned n)
{
	struct ipcx_event_state st;

	for (;;) {
		cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
		if (st.waiters == n)
			return;
		pause_ms(1);
	}
}

/* Exit codes a waiting child reports: its wait's result, as a small number. */
static int code_of(int r)
{
	switch (r) {
	case 0:
		return 0;
	case -ETIMEDOUT:
		return 10;
	case -EIDRM:
		return 11;
	case -EAGAIN:
		return 12;
	default:
		return 20;
	}
}

struct waiter_arg {
	const char *name;
	int64_t timeout_ns;
	unsigned mode;
	_Atomic int *returned; /* shared: incremented when the wait returns */
};

static int waiter(void *p)
{
	struct waiter_arg *a = p;
	ipcx_event *ev;
	int r;

	die_with_parent();
	if (ipcx_event_open(a->name, 0, 0, &ev) != 0)
		return 30;
	ipcx_event_set_wait(ev, a->mode);
	r = ipcx_event_wait(ev, a->timeout_ns);
	if (a->returned)
		atomic_fetch_add(a->returned, 1);
	ipcx_event_close(ev);
	return code_of(r);
}

IPCX_TEST(event, open_close_args)
{
	ipcx_event *ev = NULL, *ev2 = NULL;

	cr_assert_eq(ipcx_event_open("e", 0, 0, &ev), -ENOENT);
	cr_assert_eq(ipcx_event_open("e", IPCX_CREATE, 0, NULL), -EINVAL);
	cr_assert_eq(ipcx_event_open("e", IPCX_CREATE, 0, &ev), 1);
	cr_assert_eq(ipcx_event_open("e", IPCX_CREATE, 0, &ev2), 0);
	cr_assert_eq(ipcx_event_set_wait(ev, 7), -EINVAL);
	cr_assert_eq(ipcx_event_set_wait(ev, IPCX_WAIT_SLEEP), 0);
	cr_assert_eq(ipcx_event_wait(NULL, 0), -EINVAL);
	cr_assert_eq(ipcx_event_set(NULL), -EINVAL);
	cr_assert_eq(ipcx_event_notify(NULL, 1), -EINVAL);
	ipcx_event_close(ev2);
	ipcx_event_close(ev);
	ipcx_event_close(NULL);
}

IPCX_TEST(event, set_reset_timeout)
{
	ipcx_event *ev = open_ev("e");
	struct ipcx_event_state st;
	int64_t t0;

	cr_assert_eq(ipcx_event_wait(ev, 0), -EAGAIN);
	t0 = ipcx__now_ns();
	cr_assert_eq(ipcx_event_wait(ev, 30000000), -ETIMEDOUT);
	cr_assert_geq(ipcx__now_ns() - t0, 30000000, "a wait may not end before its timeout");
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert(st.set);
	cr_assert_eq(ipcx_event_wait(ev, 0), 0);
	cr_assert_eq(ipcx_event_wait(ev, IPCX_FOREVER), 0);
	cr_assert_eq(ipcx_event_reset(ev), 0);
	cr_assert_eq(ipcx_event_wait(ev, 0), -EAGAIN);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert(!st.set);
	cr_assert_eq(st.waiters, 0);
	/* Pulse and notify with nobody waiting wake nobody and leave the event unset. */
	cr_assert_eq(ipcx_event_notify(ev, 5), 0);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_pulse(ev), 0);
	cr_assert_eq(ipcx_event_wait(ev, 0), -EAGAIN);
	ipcx_event_close(ev);
}

/* 32 processes sleep on one event (on 2 CPUs) and all wake on set. */
IPCX_TEST(event, set_wakes_32_processes, .timeout = 60)
{
	enum { N = 32 };
	ipcx_event *ev = open_ev("e32");
	struct waiter_arg a = {"e32", IPCX_FOREVER, IPCX_WAIT_SLEEP, NULL};
	pid_t pids[N];

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(waiter, &a);
	await_waiters(ev, N);
	cr_assert_eq(ipcx_event_set(ev), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(test_wait(pids[i]), 0, "waiter %d", i);
	ipcx_event_close(ev);
}

/* Pulse wakes the processes waiting now; a wait that starts later blocks. */
IPCX_TEST(event, pulse_wakes_current_waiters_only)
{
	enum { N = 4 };
	ipcx_event *ev = open_ev("p");
	struct waiter_arg a = {"p", IPCX_FOREVER, IPCX_WAIT_ADAPTIVE, NULL};
	struct waiter_arg late = {"p", 200000000, IPCX_WAIT_ADAPTIVE, NULL};
	struct ipcx_event_state st;
	pid_t pids[N], p;

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(waiter, &a);
	await_waiters(ev, N);
	cr_assert_eq(ipcx_event_pulse(ev), 0);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert(!st.set);
	cr_assert_eq(st.waiters, 0, "every waiter was woken by the pulse");
	for (int i = 0; i < N; i++)
		cr_expect_eq(test_wait(pids[i]), 0);
	p = test_fork(waiter, &late);
	cr_assert_eq(test_wait(p), 10, "a wait after the pulse times out");
	ipcx_event_close(ev);
}

/* notify(n) wakes exactly n of m waiters and says so. */
IPCX_TEST(event, notify_wakes_exactly_n)
{
	enum { M = 7 };
	ipcx_event *ev = open_ev("n");
	_Atomic int *returned = test_shared_alloc(sizeof(*returned));
	struct waiter_arg a = {"n", IPCX_FOREVER, IPCX_WAIT_SLEEP, returned};
	struct ipcx_event_state st;
	pid_t pids[M];
	int exited = 0;

	for (int i = 0; i < M; i++)
		pids[i] = test_fork(waiter, &a);
	await_waiters(ev, M);
	cr_assert_eq(ipcx_event_notify(ev, 2), 2);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.waiters, M - 2, "the chosen ones left the queue at once");
	while (atomic_load(returned) < 2)
		pause_ms(1);
	cr_assert_eq(ipcx_event_notify(ev, 1), 1);
	while (atomic_load(returned) < 3)
		pause_ms(1);
	/* The others still wait: reap without blocking, then check. */
	for (int i = 0; i < M; i++) {
		int status;
		if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
			cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			pids[i] = 0;
			exited++;
		}
	}
	cr_assert_leq(exited, 3);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.waiters, M - 3);
	cr_assert_eq(ipcx_event_notify(ev, 100), M - 3, "notify counts only those waiting");
	cr_assert_eq(ipcx_event_notify(ev, 100), 0);
	for (int i = 0; i < M; i++)
		if (pids[i])
			cr_expect_eq(test_wait(pids[i]), 0);
	cr_assert_eq(atomic_load(returned), M);
	ipcx_event_close(ev);
}

/* Ping-pong with set/reset: a lost wake-up would hang the test past its timeout. */
struct pp_arg {
	unsigned mode;
	int rounds;
};

static int ponger(void *p)
{
	struct pp_arg *a = p;
	ipcx_event *ping, *pong;

	die_with_parent();
	if (ipcx_event_open("ping", 0, 0, &ping) != 0 || ipcx_event_open("pong", 0, 0, &pong) != 0)
		return 30;
	ipcx_event_set_wait(ping, a->mode);
	for (int i = 0; i < a->rounds; i++) {
		if (ipcx_event_wait(ping, IPCX_FOREVER) != 0)
			return 31;
		ipcx_event_reset(ping);
		ipcx_event_set(pong);
	}
	return 0;
}

static void ping_pong(unsigned mode, int rounds)
{
	struct pp_arg a = {mode, rounds};
	ipcx_event *ping = open_ev("ping"), *pong = open_ev("pong");
	pid_t p = test_fork(ponger, &a);

	ipcx_event_set_wait(pong, mode);
	for (int i = 0; i < rounds; i++) {
		ipcx_event_set(ping);
		cr_assert_eq(ipcx_event_wait(pong, IPCX_FOREVER), 0);
		ipcx_event_reset(pong);
	}
	cr_assert_eq(test_wait(p), 0);
	ipcx_event_close(ping);
	ipcx_event_close(pong);
}

IPCX_TEST(event, no_lost_wakeup_adaptive, .timeout = 90)
{
	ping_pong(IPCX_WAIT_ADAPTIVE, 5000);
}

IPCX_TEST(event, no_lost_wakeup_sleep, .timeout = 90)
{
	ping_pong(IPCX_WAIT_SLEEP, 5000);
}

IPCX_TEST(event, no_lost_wakeup_spin, .timeout = 90)
{
	ping_pong(IPCX_WAIT_SPIN, 500);
}

/* Many waiters racing with set/reset and notify from several processes: every round, each
 * waiter must get through, and each notify that says it woke someone must have: a lost
 * wake-up or a miscounted notify hangs. */
struct race_arg {
	int rounds;
	_Atomic int *round; /* shared: the round the main process is in */
};

static int racer(void *p)
{
	struct race_arg *a = p;
	ipcx_event *go, *done;

	die_with_parent();
	if (ipcx_event_open("go", 0, 0, &go) != 0 || ipcx_event_open("done", 0, 0, &done) != 0)
		return 30;
	ipcx_event_set_wait(go, (unsigned)(getpid() % 3));
	for (int i = 0; i < a->rounds; i++) {
		if (ipcx_event_wait(go, IPCX_FOREVER) != 0)
			return 31;
		/* Tell the main process, retrying until a waiter of done was woken. */
		while (ipcx_event_notify(done, 1) != 1)
			sched_yield();
		while (atomic_load(a->round) <= i)
			sched_yield();
	}
	return 0;
}

IPCX_TEST(event, set_reset_race_many_waiters, .timeout = 90)
{
	enum { N = 4 };
	struct race_arg a = {300, test_shared_alloc(sizeof(_Atomic int))};
	ipcx_event *go = open_ev("go"), *done = open_ev("done");
	pid_t pids[N];

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(racer, &a);
	for (int r = 0; r < a.rounds; r++) {
		int got = 0;

		ipcx_event_set(go);
		while (got < N) {
			int w = ipcx_event_wait(done, IPCX_FOREVER);
			cr_assert_eq(w, 0);
			got++;
		}
		ipcx_event_reset(go);
		atomic_fetch_add(a.round, 1);
	}
	for (int i = 0; i < N; i++)
		cr_expect_eq(test_wait(pids[i]), 0);
	ipcx_event_close(go);
	ipcx_event_close(done);
}

/* A signal handler (installed without SA_RESTART) does not end a wait early. */
static _Atomic int *sig_count;

static void on_usr1(int sig)
{
	atomic_fetch_add(sig_count, 1);
}

struct sig_arg {
	_Atomic int *set_done;  /* the parent stores 1 just before it sets the event */
	_Atomic int *wait_over; /* the child stores 1 when its wait returned */
	int64_t timeout_ns;
};

static int sig_waiter(void *p)
{
	struct sig_arg *a = p;
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = 0};
	ipcx_event *ev;
	int64_t t0;
	int r;

	die_with_parent();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	if (ipcx_event_open("s", 0, 0, &ev) != 0)
		return 30;
	ipcx_event_set_wait(ev, IPCX_WAIT_SLEEP);
	t0 = ipcx__now_ns();
	r = ipcx_event_wait(ev, a->timeout_ns);
	atomic_store(a->wait_over, 1);
	if (a->timeout_ns > 0)
		return r == -ETIMEDOUT && ipcx__now_ns() - t0 >= a->timeout_ns ? 0 : 40;
	return r == 0 && atomic_load(a->set_done) == 1 ? 0 : 41;
}

static void signal_during_wait(int64_t timeout_ns)
{
	ipcx_event *ev = open_ev("s");
	struct sig_arg a = {test_shared_alloc(sizeof(_Atomic int)),
	                    test_shared_alloc(sizeof(_Atomic int)), timeout_ns};
	pid_t p;

	sig_count = test_shared_alloc(sizeof(*sig_count));
	p = test_fork(sig_waiter, &a);
	await_waiters(ev, 1);
	/* Each signal handled before the next is sent. A timed wait may end meanwhile on a
	 * loaded machine (the signals then test less, but the wait must still have lasted its
	 * whole timeout): the handler will not run again once the child has left. */
	for (int i = 1; i <= 5; i++) {
		kill(p, SIGUSR1);
		while (atomic_load(sig_count) < i && !atomic_load(a.wait_over))
			pause_ms(1);
	}
	if (timeout_ns < 0) {
		/* Still waiting after the signals; then the set is what ends it. */
		await_waiters(ev, 1);
		atomic_store(a.set_done, 1);
		ipcx_event_set(ev);
	}
	cr_assert_eq(test_wait(p), 0);
	ipcx_event_close(ev);
}

IPCX_TEST(event, signal_does_not_end_wait)
{
	signal_during_wait(IPCX_FOREVER);
}

IPCX_TEST(event, signal_keeps_timed_wait_deadline)
{
	signal_during_wait(300000000);
}

/* Removing the event wakes its waiters with -EIDRM; later waits fail the same way. */
IPCX_TEST(event, unlink_wakes_waiters_with_eidrm)
{
	enum { N = 3 };
	ipcx_event *ev = open_ev("r");
	struct waiter_arg a = {"r", IPCX_FOREVER, IPCX_WAIT_SLEEP, NULL};
	struct waiter_arg b = {"r", IPCX_FOREVER, IPCX_WAIT_ADAPTIVE, NULL};
	struct ipcx_event_state st;
	pid_t pids[N];

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(waiter, i ? &a : &b);
	await_waiters(ev, N);
	cr_assert_eq(ipcx_unlink("r"), 0);
	for (int i = 0; i < N; i++)
		cr_expect_eq(test_wait(pids[i]), 11, "waiter %d gets EIDRM", i);
	cr_assert_eq(ipcx_event_wait(ev, IPCX_FOREVER), -EIDRM);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert(st.removed);
	ipcx_event_close(ev);
}

/* A waiter killed mid-wait is not counted by notify, and the others still work. */
IPCX_TEST(event, killed_waiter_is_not_counted)
{
	enum { N = 5 };
	ipcx_event *ev = open_ev("k");
	struct waiter_arg a = {"k", IPCX_FOREVER, IPCX_WAIT_SLEEP, NULL};
	struct ipcx_event_state st;
	pid_t pids[N];

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(waiter, &a);
	await_waiters(ev, N);
	test_kill(pids[0]);
	test_kill(pids[3]);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.waiters, N - 2);
	cr_assert_eq(st.dead, 2);
	cr_assert_eq(ipcx_event_notify(ev, 1), 1);
	cr_assert_eq(ipcx_event_notify(ev, N), N - 3, "the dead are not counted");
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.dead, 0, "notify reclaimed the dead waiters' places");
	for (int i = 0; i < N; i++)
		if (i != 0 && i != 3)
			cr_expect_eq(test_wait(pids[i]), 0);
	/* The table still works: a new wait and a notify. */
	pids[0] = test_fork(waiter, &a);
	await_waiters(ev, 1);
	cr_assert_eq(ipcx_event_notify(ev, 3), 1);
	cr_assert_eq(test_wait(pids[0]), 0);
	ipcx_event_close(ev);
}

/* A notify racing with a waiter's timeout: a counted waiter returns 0. Over many rounds,
 * the number notify reports equals the number of waits that returned 0. */
static int short_waiter(void *p)
{
	_Atomic int *woken = p;
	ipcx_event *ev;

	die_with_parent();
	if (ipcx_event_open("t", 0, 0, &ev) != 0)
		return 30;
	for (int i = 0; i < 400; i++) {
		int r = ipcx_event_wait(ev, 20000 + (i % 7) * 10000);
		if (r == 0)
			atomic_fetch_add(woken, 1);
		else if (r != -ETIMEDOUT)
			return 31;
	}
	return 0;
}

IPCX_TEST(event, notify_count_matches_returns_under_timeouts, .timeout = 60)
{
	enum { N = 3 };
	ipcx_event *ev = open_ev("t");
	_Atomic int *woken = test_shared_alloc(sizeof(*woken));
	pid_t pids[N];
	long counted = 0;
	int running = N;

	for (int i = 0; i < N; i++)
		pids[i] = test_fork(short_waiter, (void *)woken);
	while (running > 0) {
		int r = ipcx_event_notify(ev, 1);
		cr_assert_geq(r, 0);
		counted += r;
		for (int i = 0; i < N; i++) {
			int status;
			if (pids[i] && waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
				pids[i] = 0;
				running--;
			}
		}
	}
	cr_assert_eq(counted, atomic_load(woken));
	ipcx_event_close(ev);
}

/* Garbled bytes in the body: open refuses what validate can see, and every call on a body
 * it accepts returns without crashing or hanging. */

IPCX_TEST(event, hostile_bytes)
{
	ipcx_event *ev = open_ev("h");
	size_t size;
	unsigned char *f = test_map_object("h", &size), *body = f + 8192, *saved;
	unsigned seed = 12345;
	int accepted = 0;

	ipcx_event_close(ev);
	saved = malloc(size);
	memcpy(saved, f, size);

	/* The magic, and one entry's mutex kind: refused. */
	body[0] ^= 0xff;
	cr_assert_eq(ipcx_event_open("h", 0, 0, &ev), -EBADMSG);
	memcpy(f, saved, size);
	body[128 + 64 * 77 + 16] ^= 0x01; /* entry 77's pthread __kind */
	cr_assert_eq(ipcx_event_open("h", 0, 0, &ev), -EBADMSG);
	memcpy(f, saved, size);

	/* Random garbage in the counters and the first entries. */
	for (int round = 0; round < 300; round++) {
		struct ipcx_event_state st;

		memcpy(f, saved, size);
		for (int k = 0; k < 8; k++) {
			unsigned off = 64 + (unsigned)rand_r(&seed) % (64 + 64 * 8);
			body[off] = (unsigned char)rand_r(&seed);
		}
		if (round % 3 == 0) /* the hints, made huge */
			memset(body + 80, 0xff, 12);
		if (ipcx_event_open("h", 0, 0, &ev) != 0)
			continue;
		accepted++;
		ipcx_event_set_wait(ev, IPCX_WAIT_SLEEP);
		cr_assert_geq(ipcx_event_notify(ev, 3), 0);
		int r = ipcx_event_wait(ev, 1000000);
		cr_assert(r == 0 || r == -ETIMEDOUT || r == -EUSERS, "wait: %d", r);
		cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
		cr_assert_eq(ipcx_event_pulse(ev), 0);
		cr_assert_eq(ipcx_event_set(ev), 0);
		cr_assert_eq(ipcx_event_wait(ev, 1000000), 0);
		cr_assert_eq(ipcx_event_reset(ev), 0);
		ipcx_event_close(ev);
	}
	cr_assert_gt(accepted, 0);
	free(saved);
	munmap(f, size);
}

/* A waiter woken by a set that dies before it returns: the next notify frees its place
 * (it is not left until the table fills). */
IPCX_TEST(event, set_waiter_killed_before_return)
{
	ipcx_event *ev = open_ev("sk");
	struct waiter_arg a = {"sk", IPCX_FOREVER, IPCX_WAIT_SLEEP, NULL};
	struct ipcx_event_state st;
	pid_t p = test_fork(waiter, &a);

	await_waiters(ev, 1);
	kill(p, SIGSTOP); /* alive, but cannot run to leave its entry */
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_reset(ev), 0);
	test_kill(p);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.dead, 1);
	cr_assert_eq(ipcx_event_notify(ev, 5), 0);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.dead, 0, "the dead waiter's place was freed");
	ipcx_event_close(ev);
}

/* A waiter chosen by notify that dies before it returns still counts (it was alive when
 * chosen), and its place is freed by the next notify. */
IPCX_TEST(event, chosen_waiter_killed_before_return)
{
	ipcx_event *ev = open_ev("c");
	struct waiter_arg a = {"c", IPCX_FOREVER, IPCX_WAIT_SLEEP, NULL};
	struct ipcx_event_state st;
	pid_t p = test_fork(waiter, &a), q;

	await_waiters(ev, 1);
	kill(p, SIGSTOP); /* alive, but cannot run to leave its entry */
	cr_assert_eq(ipcx_event_notify(ev, 5), 1);
	test_kill(p);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.waiters, 0);
	cr_assert_eq(st.dead, 1);
	cr_assert_eq(ipcx_event_notify(ev, 5), 0);
	cr_assert_eq(ipcx_event_get_state(ev, &st), 0);
	cr_assert_eq(st.dead, 0, "the dead waiter's place was freed");
	q = test_fork(waiter, &a);
	await_waiters(ev, 1);
	cr_assert_eq(ipcx_event_notify(ev, 5), 1);
	cr_assert_eq(test_wait(q), 0);
	ipcx_event_close(ev);
}
