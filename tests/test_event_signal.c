/* SPDX-License-Identifier: MIT */
/*
 * event signals: real-time signals queued to registered processes when an event is set or
 * pulsed. Real processes throughout; every wait for a signal has a timeout, and "no signal"
 * is checked only after the setter has finished (a queued signal is pending at once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

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
	uid_t uid;    /* when not 0, the registrant runs as this user (and group) */
	int dumpable; /* then makes itself dumpable again (setuid made it not) */
};

static int registrant(void *p)
{
	const struct reg_arg *a = p;
	ipcx_event *ev;
	siginfo_t si;
	sigset_t set;

	die_with_parent();
	if (a->uid && (setgid(a->uid) < 0 || setuid(a->uid) < 0))
		return 89;
	if (a->dumpable && prctl(PR_SET_DUMPABLE, 1) < 0)
		return 88;
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
		/* Read late: a setter may announce itself in shared memory just before. */
		if (si.si_pid != (__atomic_load_n(&a->from, __ATOMIC_ACQUIRE) ?: getppid()))
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
	        "pay", SIGRTMIN + 1, 0x5eed, 2, 0, test_barrier_new(2), test_barrier_new(2), 0, 0};
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
		a[i] = (struct reg_arg){"many", SIGRTMIN + i % 3, 1000 + i, 1, 0, ready, done, 0,
		                        0};
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
	struct reg_arg live = {"dead", SIGRTMIN, 1, 1, 0, ready, done, 0, 0};
	struct reg_arg doomed = {"dead", SIGRTMIN, 2, 1, 0, ready, test_barrier_new(2), 0, 0};
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
	struct reg_arg a = {"reuse", SIGRTMIN, 7, 0, 0, test_barrier_new(2), test_barrier_new(2),
	                    0,       0};
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

/*
 * In a setter child: sets and pulses the event `name` (the set must succeed) and checks that
 * neither signal was sent, both being counted as `unverified` or `denied`, and that the one
 * registration stays. 0, or the child's exit code for what failed.
 */
static int set_and_count(const char *name, uint64_t unverified, uint64_t denied)
{
	struct ipcx_event_signal_stats st;
	ipcx_event *ev;

	if (ipcx_event_open(name, 0, 0, &ev) != 0)
		return 101;
	if (ipcx_event_set(ev) != 0 || ipcx_event_pulse(ev) != 0)
		return 102;
	if (ipcx_event_signal_stats(ev, &st) != 0)
		return 103;
	if (st.sent != 0 || st.unverified != unverified || st.denied != denied || st.gone != 0 ||
	    st.registered != 1 || st.dead != 0)
		return 104;
	ipcx_event_close(ev);
	return 0;
}

/*
 * A setter that may not read the registrant's /proc/PID/maps (here: nobody, and a
 * registrant running as root) cannot show that the registrant takes part in the event, so
 * it sends nothing: the set succeeds, the setter counts the signals as unverified, and the
 * registration stays (its process is alive).
 */
static int set_as_nobody(void *arg)
{
	die_with_parent();
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	return set_and_count(arg, 2, 0);
}

IPCX_TEST(event_signal, maps_unreadable_nothing_sent_set_succeeds)
{
	ipcx_event *ev = open_ev("perm", 0666);
	struct reg_arg a = {"perm", SIGRTMIN, 3, 0, 0, test_barrier_new(2), test_barrier_new(2),
	                    0,      0};
	pid_t pid = test_fork(registrant, &a); /* runs as root, like this test */

	test_barrier_wait(a.ready);
	cr_expect_eq(test_wait(test_fork(set_as_nobody, "perm")), 0);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0, "the registrant got no signal");
	ipcx_event_close(ev);
}

/* A root setter signals a registrant of another user (uid 65534) on an event that user can
 * write: it may read that process's maps and signal it. */
IPCX_TEST(event_signal, root_setter_reaches_other_user)
{
	ipcx_event *ev = open_ev("users", 0666);
	struct reg_arg a = {"users",
	                    SIGRTMIN + 3,
	                    0x65534,
	                    2,
	                    0,
	                    test_barrier_new(2),
	                    test_barrier_new(2),
	                    NOBODY,
	                    0};
	struct ipcx_event_signal_stats st;
	pid_t pid = test_fork(registrant, &a);

	test_barrier_wait(a.ready);
	cr_assert_eq(ipcx_event_set(ev), 0);
	cr_assert_eq(ipcx_event_pulse(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 2);
	cr_expect_eq(st.unverified + st.denied + st.gone + st.dropped, 0);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0);
	ipcx_event_close(ev);
}

/*
 * Between processes of one unprivileged user: a registrant that changed its uids (as a
 * daemon dropping root does) is not dumpable, so a setter of the same user without
 * CAP_SYS_PTRACE may not read its maps and sends it nothing (unverified); once it makes
 * itself dumpable again, it gets its signal.
 */
struct nobody_setter_arg {
	const char *name;
	uint64_t sent, unverified;
	struct reg_arg *reg; /* in shared memory: the setter writes its pid into from */
};

static int set_as_nobody_expecting(void *arg)
{
	struct nobody_setter_arg *a = arg;
	struct ipcx_event_signal_stats st;
	ipcx_event *ev;

	die_with_parent();
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	if (ipcx_event_open(a->name, 0, 0, &ev) != 0)
		return 101;
	__atomic_store_n(&a->reg->from, getpid(), __ATOMIC_RELEASE);
	if (ipcx_event_pulse(ev) != 0 || ipcx_event_signal_stats(ev, &st) != 0)
		return 102;
	if (st.sent != a->sent || st.unverified != a->unverified || st.denied != 0)
		return 103;
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(event_signal, same_user_needs_dumpable_registrant)
{
	for (int dumpable = 0; dumpable < 2; dumpable++) {
		const char *name = dumpable ? "dump1" : "dump0";
		ipcx_event *ev = open_ev(name, 0666);
		struct reg_arg *a = test_shared_alloc(sizeof(*a));
		struct nobody_setter_arg s = {name, (uint64_t)dumpable, (uint64_t)!dumpable, a};
		pid_t pid;

		*a = (struct reg_arg){name,
		                      SIGRTMIN + 2,
		                      7,
		                      dumpable,
		                      0,
		                      test_barrier_new(2),
		                      test_barrier_new(2),
		                      NOBODY,
		                      dumpable};
		pid = test_fork(registrant, a);
		test_barrier_wait(a->ready);
		cr_expect_eq(test_wait(test_fork(set_as_nobody_expecting, &s)), 0, "dumpable %d",
		             dumpable);
		test_barrier_wait(a->done);
		cr_expect_eq(test_wait(pid), 0, "dumpable %d", dumpable);
		ipcx_event_close(ev);
	}
}

/* Removes cap from this process's effective capabilities. */
static int drop_capability(int cap)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[cap / 32].effective &= ~(1u << (cap % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * A setter that may read the registrant's maps but that the kernel does not let signal it
 * (root without CAP_KILL, a registrant of another user): the set succeeds, the refusal is
 * counted as denied, and the registration stays.
 */
static int set_without_cap_kill(void *arg)
{
	die_with_parent();
	if (drop_capability(CAP_KILL) < 0)
		return 100;
	return set_and_count(arg, 0, 2);
}

IPCX_TEST(event_signal, kill_permission_denied_set_succeeds)
{
	ipcx_event *ev = open_ev("kperm", 0666);
	struct reg_arg a = {"kperm", SIGRTMIN, 3, 0, 0, test_barrier_new(2), test_barrier_new(2),
	                    NOBODY,  0};
	pid_t pid = test_fork(registrant, &a);

	test_barrier_wait(a.ready);
	cr_expect_eq(test_wait(test_fork(set_without_cap_kill, "kperm")), 0);
	test_barrier_wait(a.done);
	cr_expect_eq(test_wait(pid), 0, "the registrant got no signal");
	ipcx_event_close(ev);
}

/*
 * Starts `sleep 60` (fork, then exec) and returns its pid once the exec is done, so that it
 * maps nothing of this process's any more. It takes every signal with the default action,
 * so a real-time signal would end it; reap_sleeper tells.
 */
static pid_t start_sleeper(void)
{
	sigset_t none;
	int p[2];
	char c;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		die_with_parent();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
			signal(s, SIG_DFL);
		execlp("sleep", "sleep", "60", (char *)NULL);
		c = 1;
		(void)!write(p[1], &c, 1);
		_exit(127);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 0, "exec sleep"); /* end of file: the exec closed it */
	close(p[0]);
	return pid;
}

/*
 * Kills the sleeper with SIGKILL and returns the signal that ended it: SIGKILL, unless a
 * fatal signal was queued to it before (the kernel records the first fatal signal as the
 * group's exit code at once, even if the process has not run since).
 */
static int reap_sleeper(pid_t pid)
{
	kill(pid, SIGKILL);
	return test_wait(pid) - 128;
}

/* Makes free entry i a complete registration of process who, as a peer could. */
static void forge(struct mapped *m, int i, uint64_t who, int signo, uint64_t value)
{
	cr_assert_eq(atomic_load(&m->e[i].who), 0, "entry %d is free", i);
	atomic_store(&m->e[i].who, who);
	atomic_store(&m->e[i].value, value);
	atomic_store(&m->e[i].signo, (uint32_t)signo);
	atomic_fetch_add(m->nsig, 1);
}

/* A forked child that unmapped the event: blocks the signal, waits, and fails if it got it. */
struct outsider_arg {
	ipcx_event *ev;
	struct mapped *m;
	struct test_barrier *ready, *done;
};

static int outsider(void *p)
{
	struct outsider_arg *a = p;
	siginfo_t si;
	sigset_t set;

	die_with_parent();
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ipcx_event_close(a->ev); /* the copy of the parent's handle: unmaps it */
	munmap(a->m->file, a->m->size);
	test_barrier_wait(a->ready);
	test_barrier_wait(a->done);
	return sigtimedwait(&set, &si, &now_ts) >= 0 ? 95 : 0;
}

/*
 * The hole this closes: entries forged by a peer with write access, naming live processes
 * that do not take part in the event (a forked child that unmapped it, and an unrelated
 * program), with their true identities. A root setter, allowed to signal both, sends them
 * nothing and counts each entry as unverified (each process's maps are read once); the
 * real registrant still gets its signal. The forged entries stay: their processes live.
 */
IPCX_TEST(event_signal, forged_entries_for_outsiders_get_nothing)
{
	ipcx_event *ev = open_ev("forge", 0);
	struct mapped m = map_table("forge");
	struct test_barrier *ready = test_barrier_new(3), *done = test_barrier_new(3);
	struct reg_arg a = {"forge", SIGRTMIN + 1, 11, 1, 0, ready, done, 0, 0};
	struct outsider_arg o = {ev, &m, ready, done};
	struct ipcx_event_signal_stats st;
	pid_t rp = test_fork(registrant, &a), op = test_fork(outsider, &o), sp = start_sleeper();
	uint64_t oid, sid;

	test_barrier_wait(ready);
	oid = ipcx__proc_id_of(op);
	sid = ipcx__proc_id_of(sp);
	cr_assert(oid != 0 && sid != 0);
	/* The real registration says where its process maps the event (the hint). */
	cr_assert_eq(ipcx__id_pid(atomic_load(&m.e[0].who)), rp);
	cr_expect_neq(atomic_load(&m.e[0].addr), 0);
	for (int i = 0; i < 3; i++)
		forge(&m, 20 + i, oid, SIGRTMIN + 1, 66);
	for (int i = 0; i < 2; i++)
		forge(&m, 30 + i, sid, SIGRTMIN + i, 67);
	cr_assert_eq(ipcx_event_set(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 1, "the real registrant");
	cr_expect_eq(st.unverified, 5);
	cr_expect_eq(st.denied + st.gone + st.dropped, 0);
	cr_expect_eq(st.registered, 6);
	test_barrier_wait(done);
	cr_expect_eq(test_wait(rp), 0);
	cr_expect_eq(test_wait(op), 0, "the forked outsider got no signal");
	cr_expect_eq(reap_sleeper(sp), SIGKILL, "the unrelated program got no signal");
	munmap(m.file, m.size);
	ipcx_event_close(ev);
}

/*
 * A registrant that replaced its program by exec without unregistering keeps its identity,
 * but no longer maps the event: the new program, which never asked for the signal (and
 * here would die of it), gets nothing.
 */
static int register_then_exec(void *arg)
{
	ipcx_event *ev;
	sigset_t none;

	die_with_parent();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ipcx_event_open("exec", 0, 0, &ev) != 0 ||
	    ipcx_event_signal_register(ev, SIGRTMIN, NULL) != 0)
		return 90;
	write(*(int *)arg, "r", 1);
	execlp("sleep", "sleep", "60", (char *)NULL);
	return 91;
}

IPCX_TEST(event_signal, exec_ends_delivery)
{
	ipcx_event *ev = open_ev("exec", 0);
	struct ipcx_event_signal_stats st;
	int p[2];
	char buf[2];
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = test_fork(register_then_exec, &p[1]);
	close(p[1]);
	/* "r" after registering; then end of file, once the exec closed the pipe. */
	cr_assert_eq(read(p[0], buf, 1), 1);
	cr_assert_eq(read(p[0], buf, 1), 0);
	close(p[0]);
	cr_assert_eq(ipcx_event_set(ev), 0);
	st = stats_of(ev);
	cr_expect_eq(st.sent, 0);
	cr_expect_eq(st.unverified, 1);
	cr_expect_eq(st.registered, 1);
	cr_expect_eq(reap_sleeper(pid), SIGKILL, "the new program got no signal");
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
 * The processes a hostile table may name here: this one, and a decoy that does not map the
 * event (a sleeper, which a real-time signal would end). Nothing else: the test process
 * that forked this one maps the event too, and a random pid with its start time would name
 * it (or, with the start time of this process, a neighbour started in the same clock tick,
 * which the setter would now refuse; but a bug here must not signal the machine's other
 * processes). Each identity becomes this process's or the decoy's pid, with the start
 * time it had (a live, dead or reused identity) or the decoy's exact identity.
 */
struct hostile_arg {
	struct mapped *m;
	uint64_t decoy;
};

static void aim(struct mapped *m, uint64_t self, uint64_t decoy)
{
	uint64_t pid_mask = (1ull << IPCX__PID_BITS) - 1;

	for (int i = 0; i < IPCX_EVENT_MAX_SIGNALS; i++) {
		uint64_t w = atomic_load(&m->e[i].who);

		if (w == 0 || w == self || w == decoy)
			continue;
		switch (w & 3) {
		case 0:
		case 1:
			w = (w & ~pid_mask) | (self & pid_mask);
			break;
		case 2:
			w = (w & ~pid_mask) | (decoy & pid_mask);
			break;
		default:
			w = decoy;
			break;
		}
		atomic_store(&m->e[i].who, w);
	}
}

static int hostile_setter(void *arg)
{
	static const uint32_t bad[] = {SIGKILL,    SIGSTOP,    SIGUSR1,    SIGCHLD,
	                               SIGCONT,    SIGTERM,    32,         33,
	                               0x7fffffff, 0xffffffff, 0x80000022u};
	uint64_t self = ipcx__proc_self();
	struct ipcx_event_signal_stats st;
	struct hostile_arg *h = arg;
	struct mapped *m = h->m;
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
		if (round % 3 == 1) { /* a complete entry naming the decoy */
			struct ipcx__evsig *e = &m->e[(round * 7) % IPCX_EVENT_MAX_SIGNALS];

			atomic_store(&e->who,
			             round % 2 ? h->decoy : (uint64_t)rand_r(&seed) << 2 | 2);
			atomic_store(&e->value, 13);
			atomic_store(&e->signo, (uint32_t)SIGRTMIN + round % 8);
		}
		aim(m, self, h->decoy);
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
	/* The decoy was named and refused (and, by the parent, found unsignalled). */
	if (ipcx_event_signal_stats(ev, &st) != 0 || st.unverified == 0)
		return 9;
	ipcx_event_close(ev);
	return 0;
}

IPCX_TEST(event_signal, hostile_table_sends_only_rt_signals)
{
	ipcx_event *ev = open_ev("hostile", 0);
	struct mapped m = map_table("hostile");
	pid_t decoy = start_sleeper();
	struct hostile_arg h = {&m, ipcx__proc_id_of(decoy)};

	cr_assert(h.decoy != 0);
	cr_expect_eq(test_wait(test_fork(hostile_setter, &h)), 0);
	cr_expect_eq(reap_sleeper(decoy), SIGKILL, "the decoy got no signal");
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
