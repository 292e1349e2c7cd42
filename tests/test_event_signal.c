/* SPDX-License-Identifier: MIT */
/*
 * event signals: real-time signals queued to registered processes when an event is set or
 * pulsed. Real processes throughout; every wait for a signal has a timeout, and "no signal"
 * is checked only after the setter has finished (a queued signal is pending at once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/event_signal.h"
#include "internal/layout.h"
#include "internal/sys.h"

/* Where the event's layout keeps the registration count and table (src/event.c). */
#define NSIG_OFF 92
#define TABLE_OFF (128 + 64 * IPCX_EVENT_MAX_WAITERS)
#define NOBODY 65534

static const struct timespec ten_s = {10, 0}, now_ts = {0, 0};

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static ipcx_event *open_ev(const char *name, mode_t mode)
{
	ipcx_event *ev = NULL;
	int r = ipcx_event_open(name, IPCX_CREATE, mode, &ev);

	cr_assert(r == 0 || r == 1, "open %s: %s", name, ipcx_errname(r));
	return ev;
}

static void block(int signo)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, signo);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
}

static struct ipcx_event_signal_stats stats_of(ipcx_event *ev)
{
	struct ipcx_event_signal_stats st;

	cr_assert_eq(ipcx_event_signal_stats(ev, &st), 0);
	return st;
}

/* The event's registration table, mapped as a peer with write access would map it. */
struct mapped {
	unsigned char *file;
	size_t size;
	_Atomic uint32_t *nsig;
	struct ipcx__evsig *e;
};

static struct mapped map_table(const char *name)
{
	struct mapped m;

	m.file = test_map_object(name, &m.size);
	m.nsig = (_Atomic uint32_t *)(m.file + IPCX__BODY_OFFSET + NSIG_OFF);
	m.e = (struct ipcx__evsig *)(m.file + IPCX__BODY_OFFSET + TABLE_OFF);
	cr_assert_eq(IPCX__BODY_OFFSET + TABLE_OFF +
	                     sizeof(struct ipcx__evsig) * IPCX_EVENT_MAX_SIGNALS,
	             m.size, "the table ends the file");
	return m;
}

/*
 * A registrant process: blocks signo, registers for it with payload tag, meets the parent
 * at ready, takes `expect` signals (each checked: signal, SI_QUEUE, payload, sender), meets
 * the parent at done, and then checks that nothing more is pending.
 */
struct reg_arg {
	const char *name;
	int signo;
	intptr_t tag;
	int expect;
	pid_t from; /* the setter's pid; 0 for the parent */
	struct test_barrier *ready, *done;
};

static int registrant(void *p)
{
	const struct reg_arg *a = p;
	pid_t from = a->from ? a->from : getppid();
	ipcx_event *ev;
	siginfo_t si;
	sigset_t set;

	die_with_parent();
	sigemptyset(&set);
	sigaddset(&set, a->signo);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (ipcx_event_open(a->name, 0, 0, &ev) != 0)
		return 90;
	if (ipcx_event_signal_register(ev, a->signo, (void *)a->tag) != 0)
		return 91;
	test_barrier_wait(a->ready);
	for (int i = 0; i < a->expect; i++) {
		if (sigtimedwait(&set, &si, &ten_s) != a->signo)
			return 92;
		if (si.si_code != SI_QUEUE || (intptr_t)si.si_value.sival_ptr != a->tag)
			return 93;
		if (si.si_pid != from)
			return 94;
	}
	test_barrier_wait(a->done);
	if (sigtimedwait(&set, &si, &now_ts) >= 0)
		return 95; /* a signal too many */
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(event_signal, arguments)
{
	ipcx_event *ev = open_ev("args", 0);
	struct ipcx_event_signal_stats st;
	const int bad[] = {0, SIGKILL, SIGSTOP, SIGUSR1, SIGTERM, SIGRTMIN - 1, SIGRTMAX + 1, -1};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(ipcx_event_signal_register(ev, bad[i], NULL), -EINVAL, "signo %d",
		             bad[i]);
	cr_expect_eq(ipcx_event_signal_register(NULL, SIGRTMIN, NULL), -EINVAL);
	cr_expect_eq(ipcx_event_signal_unregister(NULL), -EINVAL);
	cr_expect_eq(ipcx_event_signal_stats(NULL, &st), -EINVAL);
	cr_expect_eq(ipcx_event_signal_stats(ev, NULL), -EINVAL);
	cr_expect_eq(ipcx_event_signal_unregister(ev), -ENOENT);

	cr_assert_eq(ipcx_event_signal_register(ev, SIGRTMIN, NULL), 0);
	cr_assert_eq(ipcx_event_signal_register(ev, SIGRTMAX, NULL), 0, "re-registering");
	st = stats_of(ev);
	cr_expect_eq(st.registered, 1, "one registration per handle");
	cr_expect_eq(ipcx_event_signal_unregister(ev), 0);
	cr_expect_eq(ipcx_event_signal_unregister(ev), -ENOENT);
	cr_expect_eq(stats_of(ev).registered, 0);

	cr_assert_eq(ipcx_unlink("args"), 0);
	cr_expect_eq(ipcx_event_signal_register(ev, SIGRTMIN, NULL), -EIDRM);
	ipcx_event_close(ev);
}

/* set and pulse each queue one signal with the payload; set of a set event, reset and
 * notify queue none. */
IPCX_TEST(event_signal, delivery_with_payload)
{
	ipcx_event *ev = open_ev("pay", 0);
	struct reg_arg a = {
	        "pay", SIGRTMIN + 1, 0x5eed, 2, 0, test_barrier_new(2), test_barrier_new(2)};
	struct ipcx_event_signal_stats st;
	pid_t pid = test_fork(registrant, &a);

	test_barrier_wait(a.ready);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_set(ev), 0); /* already set: no signal */
	cr_assert_eq(ipcx_event_pulse(ev), 0);
	cr_assert_eq(ipcx_event_reset(ev), 0);
	cr_assert_geq(ipcx_event_notify(ev, 5), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 2);
	cr_expect_eq(st.denied + st.gone + st.dropped, 0);
	cr_expect_eq(st.registered, 1);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0);
	cr_expect_eq(stats_of(ev).registered, 0, "closing the handle unregistered it");
	ipcx_event_close(ev);
}

IPCX_TEST(event_signal, several_registrants_all_receive)
{
	enum { N = 6 };
	ipcx_event *ev = open_ev("many", 0);
	struct test_barrier *ready = test_barrier_new(N + 1), *done = test_barrier_new(N + 1);
	struct reg_arg a[N];
	pid_t pid[N];

	for (int i = 0; i < N; i++) {
		a[i] = (struct reg_arg){"many", SIGRTMIN + i % 3, 1000 + i, 1, 0, ready, done};
		pid[i] = test_fork(registrant, &a[i]);
	}
	test_barrier_wait(ready);
	cr_expect_eq(stats_of(ev).registered, N);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_expect_eq(stats_of(ev).sent, N);
	test_barrier_wait(done);
	for (int i = 0; i < N; i++)
		cr_expect_eq(test_wait(pid[i]), 0, "registrant %d", i);
	ipcx_event_close(ev);
}

/* A registrant that was SIGKILLed is skipped and its entry freed; the live one still gets
 * its signal. */
IPCX_TEST(event_signal, killed_registrant_is_reclaimed)
{
	ipcx_event *ev = open_ev("dead", 0);
	struct test_barrier *ready = test_barrier_new(3), *done = test_barrier_new(2);
	struct reg_arg live = {"dead", SIGRTMIN, 1, 1, 0, ready, done};
	struct reg_arg doomed = {"dead", SIGRTMIN, 2, 1, 0, ready, test_barrier_new(2)};
	struct ipcx_event_signal_stats st;
	pid_t lp = test_fork(registrant, &live), dp = test_fork(registrant, &doomed);

	test_barrier_wait(ready);
	test_kill(dp);
	st = stats_of(ev);
	cr_expect_eq(st.registered, 2);
	cr_expect_eq(st.dead, 1);
	cr_assert_eq(ipcx_event_pulse(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 1);
	cr_expect_eq(st.gone, 1);
	cr_expect_eq(st.registered, 1, "the dead registration was freed");
	cr_expect_eq(st.dead, 0);
	test_barrier_wait(done);
	cr_expect_eq(test_wait(lp), 0);
	ipcx_event_close(ev);
}

/*
 * A registration whose pid now belongs to another process (made here by changing the start
 * time it records, as if its registrant had died and the pid been reused) is never
 * signalled: the live process at that pid gets nothing, and the entry is freed.
 */
IPCX_TEST(event_signal, reused_pid_is_not_signalled)
{
	ipcx_event *ev = open_ev("reuse", 0);
	struct reg_arg a = {"reuse", SIGRTMIN, 7, 0, 0, test_barrier_new(2), test_barrier_new(2)};
	struct ipcx_event_signal_stats st;
	pid_t pid = test_fork(registrant, &a);
	struct mapped m = map_table("reuse");
	int found = 0;

	test_barrier_wait(a.ready);
	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++) {
		uint64_t w = atomic_load(&m.e[i].who);

		if (w == 0)
			continue;
		cr_assert_eq(ipcx__id_pid(w), pid);
		atomic_store(&m.e[i].who, w + (1ull << IPCX__PID_BITS));
		found++;
	}
	cr_assert_eq(found, 1);
	cr_assert_eq(ipcx_event_set(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 0);
	cr_expect_eq(st.gone, 1);
	cr_expect_eq(st.registered, 0);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0, "the process at the reused pid got no signal");
	munmap(m.file, m.size);
	ipcx_event_close(ev);
}

/*
 * A registrant that keeps changing its registration (signal and payload together) while the
 * parent pulses: every signal it gets pairs a signal with that signal's own payload, never
 * one registration's signal with another's payload. The window a broken protocol would open
 * is a few nanoseconds within one cache line, so this is a smoke test of register against
 * set (and a race check under TSan), not a proof: a protocol without the re-checks passed it
 * in 5 runs of 2000 signals.
 */
struct flip_arg {
	struct test_barrier *ready;
	_Atomic int *done;
};

static int flipper(void *p)
{
	struct flip_arg *a = p;
	ipcx_event *ev;
	siginfo_t si;
	sigset_t set;
	int got = 0;

	die_with_parent();
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 4);
	sigaddset(&set, SIGRTMIN + 5);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (ipcx_event_open("flip", 0, 0, &ev) != 0)
		return 90;
	test_barrier_wait(a->ready);
	for (int i = 0; got < 2000; i++) { /* bounded by the test's timeout */
		int signo = SIGRTMIN + 4 + i % 2;

		/* The payload names the signal it belongs with. */
		if (ipcx_event_signal_register(ev, signo, (void *)(intptr_t)(signo * 1000)) != 0)
			return 91;
		while (sigtimedwait(&set, &si, &now_ts) > 0) {
			if ((intptr_t)si.si_value.sival_ptr != si.si_signo * 1000)
				return 92;
			got++;
		}
	}
	atomic_store(a->done, 1);
	ipcx_event_close(ev);
	while (sigtimedwait(&set, &si, &now_ts) > 0)
		if ((intptr_t)si.si_value.sival_ptr != si.si_signo * 1000)
			return 92;
	return 0;
}

IPCX_TEST(event_signal, update_in_place_never_mixes, .timeout = 60)
{
	ipcx_event *ev = open_ev("flip", 0);
	struct flip_arg a = {test_barrier_new(2), test_shared_alloc(sizeof(_Atomic int))};
	pid_t pid = test_fork(flipper, &a);

	test_barrier_wait(a.ready);
	while (!atomic_load(a.done))
		cr_assert_eq(ipcx_event_pulse(ev), 0);
	cr_expect_eq(test_wait(pid), 0);
	ipcx_event_close(ev);
}

/* A setter the kernel does not allow to signal the registrant: the set succeeds, the
 * setter counts the refusal, and the registration stays (its process is alive). */
static int set_as_nobody(void *arg)
{
	struct ipcx_event_signal_stats st;
	ipcx_event *ev;

	die_with_parent();
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	if (ipcx_event_open((const char *)arg, 0, 0, &ev) != 0)
		return 101;
	if (ipcx_event_set(ev) != 0 || ipcx_event_pulse(ev) != 0)
		return 102;
	if (ipcx_event_signal_stats(ev, &st) != 0)
		return 103;
	if (st.sent != 0 || st.denied != 2 || st.gone != 0 || st.registered != 1 || st.dead != 0)
		return 104;
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(event_signal, kill_permission_denied_set_succeeds)
{
	ipcx_event *ev = open_ev("perm", 0666);
	struct reg_arg a = {"perm", SIGRTMIN, 3, 0, 0, test_barrier_new(2), test_barrier_new(2)};
	pid_t pid = test_fork(registrant, &a); /* runs as root, like this test */

	test_barrier_wait(a.ready);
	cr_expect_eq(test_wait(test_fork(set_as_nobody, "perm")), 0);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0, "the registrant got no signal");
	ipcx_event_close(ev);
}

/* A fork child's copy of a registered handle has no registration: it cannot unregister
 * the parent's, closing it leaves the parent's alone, and it may register its own. */
static int child_of_registrant(void *arg)
{
	ipcx_event *ev = arg, *own;
	struct ipcx_event_signal_stats st;

	if (ipcx_event_signal_unregister(ev) != -ENOENT)
		return 10;
	ipcx_event_close(ev);
	if (ipcx_event_open("fork", 0, 0, &own) != 0)
		return 11;
	if (ipcx_event_signal_stats(own, &st) != 0 || st.registered != 1)
		return 12;
	/* Its own registration outlives it: it exits without closing. */
	block(SIGRTMIN + 2);
	if (ipcx_event_signal_register(own, SIGRTMIN + 2, NULL) != 0)
		return 13;
	return 0;
}

IPCX_TEST(event_signal, fork_child_does_not_inherit)
{
	ipcx_event *ev = open_ev("fork", 0);
	struct ipcx_event_signal_stats st;
	siginfo_t si;
	sigset_t set;

	block(SIGRTMIN + 3);
	cr_assert_eq(ipcx_event_signal_register(ev, SIGRTMIN + 3, (void *)(intptr_t)42), 0);
	cr_assert_eq(test_wait(test_fork(child_of_registrant, ev)), 0);
	st = stats_of(ev);
	cr_expect_eq(st.registered, 2);
	cr_expect_eq(st.dead, 1);
	cr_assert_eq(ipcx_event_set(ev), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 3);
	cr_assert_eq(sigtimedwait(&set, &si, &ten_s), SIGRTMIN + 3);
	cr_expect_eq((intptr_t)si.si_value.sival_ptr, 42);
	cr_expect_eq(si.si_pid, getpid(), "a setter may signal itself");
	st = stats_of(ev);
	cr_expect_eq(st.sent, 1);
	cr_expect_eq(st.gone, 1);
	cr_expect_eq(st.registered, 1);
	ipcx_event_close(ev);
}

/* Registrations of dead processes make room when the table is full. */
static int fill_table(void *arg)
{
	struct test_barrier *ready = arg;
	ipcx_event *ev[IPCX_EVENT_MAX_SIGNALS];

	die_with_parent();
	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++)
		if (ipcx_event_open("full", 0, 0, &ev[i]) != 0 ||
		    ipcx_event_signal_register(ev[i], SIGRTMIN, NULL) != 0)
			return 1;
	test_barrier_wait(ready);
	for (;;)
		pause(); /* until killed */
}

IPCX_TEST(event_signal, full_table_reclaims_dead)
{
	ipcx_event *ev = open_ev("full", 0);
	struct test_barrier *ready = test_barrier_new(2);
	struct ipcx_event_signal_stats st;
	pid_t pid = test_fork(fill_table, ready);

	test_barrier_wait(ready);
	cr_expect_eq(ipcx_event_signal_register(ev, SIGRTMIN, NULL), -ENOSPC);
	test_kill(pid);
	block(SIGRTMIN);
	cr_expect_eq(ipcx_event_signal_register(ev, SIGRTMIN, NULL), 0);
	st = stats_of(ev);
	cr_expect_eq(st.registered, IPCX_EVENT_MAX_SIGNALS, "one dead entry was taken over");
	cr_expect_eq(st.dead, IPCX_EVENT_MAX_SIGNALS - 1);
	/* A set frees the rest. */
	cr_assert_eq(ipcx_event_set(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 1);
	cr_expect_eq(st.gone, IPCX_EVENT_MAX_SIGNALS - 1);
	cr_expect_eq(st.registered, 1);
	ipcx_event_close(ev);
}

/*
 * Hostile table bytes. In a single-threaded child that blocks every signal it can, entries
 * naming the child itself carry signal numbers that are not real-time signals (SIGKILL and
 * SIGSTOP included, and glibc's reserved 32 and 33) next to one valid entry; the count is
 * garbage too. A set must queue the valid signal only: anything else would kill or stop
 * the child, or show up as pending. Then rounds of random bytes over the whole table.
 */
static bool only_rt_pending(void)
{
	sigset_t pend;

	sigpending(&pend);
	for (int s = 1; s < SIGRTMIN; s++)
		if (sigismember(&pend, s))
			return false;
	return true;
}

/*
 * Forces every identity in the table to name this process's pid: changing only the pid bits
 * of an identity names whichever process has that pid and was started in the same clock
 * tick, such as a sibling test process, and that is the documented limit, not something to
 * do to a neighbour. The start time stays random.
 */
static void confine(struct mapped *m)
{
	uint64_t pid_mask = (1ull << IPCX__PID_BITS) - 1;

	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++) {
		uint64_t w = atomic_load(&m->e[i].who);

		if (w != 0)
			atomic_store(&m->e[i].who, (w & ~pid_mask) | (uint64_t)getpid());
	}
}

static int hostile_setter(void *arg)
{
	static const uint32_t bad[] = {SIGKILL,    SIGSTOP,    SIGUSR1,    SIGCHLD,
	                               SIGCONT,    SIGTERM,    32,         33,
	                               0x7fffffff, 0xffffffff, 0x80000022u};
	uint64_t self = ipcx__proc_self();
	struct ipcx_event_signal_stats st;
	struct mapped *m = arg;
	unsigned seed = 4242;
	ipcx_event *ev;
	siginfo_t si;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (ipcx_event_open("hostile", 0, 0, &ev) != 0)
		return 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atomic_store(&m->e[i].who, self);
		atomic_store(&m->e[i].value, 666);
		atomic_store(&m->e[i].signo, bad[i]);
	}
	atomic_store(&m->e[40].who, self);
	atomic_store(&m->e[40].value, 77);
	atomic_store(&m->e[40].signo, (uint32_t)SIGRTMIN + 2);
	atomic_store(m->nsig, 0xffffffffu);
	if (ipcx_event_set(ev) != 0 || ipcx_event_signal_stats(ev, &st) != 0)
		return 2;
	if (st.sent != 1 || !only_rt_pending())
		return 3;
	if (sigtimedwait(&all, &si, &now_ts) != SIGRTMIN + 2 || si.si_value.sival_int != 77)
		return 4;
	if (sigtimedwait(&all, &si, &now_ts) >= 0)
		return 5;

	for (int round = 0; round < 200; round++) {
		unsigned char *t = (unsigned char *)m->e;
		size_t len = sizeof(struct ipcx__evsig) * IPCX_EVENT_MAX_SIGNALS;

		for (int k = 0; k < 16; k++)
			t[(unsigned)rand_r(&seed) % len] = (unsigned char)rand_r(&seed);
		if (round % 4 == 0) /* an entry naming us, with a random signal number */
			atomic_store(&m->e[round % IPCX_EVENT_MAX_SIGNALS].who, self);
		if (round % 5 == 0)
			atomic_store(m->nsig, (uint32_t)rand_r(&seed));
		confine(m);
		ipcx_event_signal_register(ev, SIGRTMIN + round % 4, NULL);
		if (ipcx_event_pulse(ev) != 0 || ipcx_event_set(ev) != 0)
			return 6;
		ipcx_event_reset(ev);
		ipcx_event_signal_stats(ev, &st);
		if (round % 3 == 0)
			ipcx_event_signal_unregister(ev);
		if (!only_rt_pending())
			return 7;
		while (sigtimedwait(&all, &si, &now_ts) >= 0)
			if (si.si_signo < SIGRTMIN || si.si_code != SI_QUEUE ||
			    si.si_pid != getpid())
				return 8;
	}
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(event_signal, hostile_table_sends_only_rt_signals)
{
	ipcx_event *ev = open_ev("hostile", 0);
	struct mapped m = map_table("hostile");

	cr_expect_eq(test_wait(test_fork(hostile_setter, &m)), 0);
	munmap(m.file, m.size);
	ipcx_event_close(ev);
}

/* The layout version went up with the table: an event of the first layout is refused. */
IPCX_TEST(event_signal, old_layout_refused)
{
	ipcx_event *ev = open_ev("old", 0);
	size_t size;
	unsigned char *f = test_map_object("old", &size);

	ipcx_event_close(ev);
	memcpy(f + IPCX__BODY_OFFSET, "ENT1", 4);
	cr_expect_eq(ipcx_event_open("old", 0, 0, &ev), -EBADMSG);
	munmap(f, size);
}
