/* SPDX-License-Identifier: MIT */
/*
 * Differential conformance with the kernel: the same random sequence of operations —
 * multi-semaphore, NOWAIT, wait-for-zero, UNDO, SETVAL, from several processes, some killed
 * or exiting while they hold adjustments or sleep, SETVAL and SETALL — runs against a System V set
 * (semget/semop/semctl) and an ipcx semset. After every step, once both sides are quiet,
 * the values, the waiter counts, each process's result (or that it still waits) and the
 * last pid of every semaphore must agree.
 *
 * Deterministic from a seed. The suite runs a bounded number of sequences; for a long run:
 *   IPCX_CONFORMANCE_SEQS=5000 [IPCX_CONFORMANCE_SEED=n] build/bin/test_sem_conformance
 * (`make conformance` does this).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

#pragma GCC diagnostic ignored "-Woverride-init"
#ifdef __clang__
#pragma clang diagnostic ignored "-Winitializer-overrides"
#endif

#define NS 4     /* semaphores */
#define NW 4     /* worker processes per side */
#define STEPS 40 /* steps per sequence */
#define MAXOPS 3
#define SUITE_SEQS 40

enum side { SYSV = 0, IPCX = 1 };
enum { CMD_OP = 1, CMD_EXIT = 2 };

/* One worker's mailbox, in shared memory. */
struct mailbox {
	_Atomic uint32_t cmd_seq;  /* bumped by the driver for each command */
	_Atomic uint32_t done_seq; /* set to cmd_seq by the worker when it finished */
	uint32_t cmd;
	uint32_t nops;
	struct ipcx_sembuf ops[MAXOPS];
	_Atomic int32_t result;
};

struct shared {
	struct mailbox box[2][NW];
};

static struct shared *sh;
static int sysv_id = -1;
static const char *set_name = "conf";

/* Driver-side bookkeeping. */
static pid_t pids[2][NW];
static int gen[NW];      /* generation of worker slot k (same on both sides) */
static bool pending[NW]; /* a command was posted and not finished (both sides) */
static int next_gen = 1;
static struct {
	pid_t pid;
	int gen;
} pid_map[2][4096];
static int pid_count[2];

/* What the sequences exercised, so a run shows it tested something. */
static struct {
	long ops, kills, exits, setvals, driver_ops, waited, woken, eagain, erange;
} stats;
static bool was_waiting[NW];

static char failure[4096];
static char trail[16384];

static void log_step(const char *fmt, ...)
{
	size_t len = strlen(trail);
	va_list ap;

	if (len > sizeof(trail) - 256)
		return;
	va_start(ap, fmt);
	vsnprintf(trail + len, sizeof(trail) - len, fmt, ap);
	va_end(ap);
}

static void futex_wait_u32(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake_u32(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* ---- workers ---- */

static int sysv_op(const struct ipcx_sembuf *ops, uint32_t n)
{
	struct sembuf b[MAXOPS];

	for (uint32_t i = 0; i < n; i++) {
		b[i].sem_num = (unsigned short)ops[i].index;
		b[i].sem_op = (short)ops[i].delta;
		b[i].sem_flg = (short)(((ops[i].flags & IPCX_SEM_NOWAIT) ? IPC_NOWAIT : 0) |
		                       ((ops[i].flags & IPCX_SEM_UNDO) ? SEM_UNDO : 0));
	}
	while (semop(sysv_id, b, n) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static void worker(enum side side, int k)
{
	struct mailbox *m = &sh->box[side][k];
	ipcx_semset *s = NULL;
	uint32_t seen = atomic_load(&m->done_seq);

	if (side == IPCX && ipcx_semset_open(set_name, 0, 0, 0, 0, &s) < 0)
		_exit(100);
	for (;;) {
		uint32_t c = atomic_load(&m->cmd_seq);
		int r = 0;

		if (c == seen) {
			futex_wait_u32(&m->cmd_seq, c);
			continue;
		}
		if (m->cmd == CMD_EXIT) {
			/* A clean end: close (ipcx) or exit (System V) applies UNDO. */
			ipcx_semset_close(s);
			_exit(0);
		}
		if (side == SYSV)
			r = sysv_op(m->ops, m->nops);
		else
			r = ipcx_semset_op(s, m->ops, m->nops, IPCX_FOREVER);
		atomic_store(&m->result, r);
		atomic_store(&m->done_seq, c);
		seen = c;
	}
}

static void remember_pid(enum side side, pid_t pid, int g)
{
	if (pid_count[side] < 4096) {
		pid_map[side][pid_count[side]].pid = pid;
		pid_map[side][pid_count[side]++].gen = g;
	}
}

static void spawn(int k)
{
	gen[k] = next_gen++;
	pending[k] = false;
	was_waiting[k] = false;
	for (int side = 0; side < 2; side++) {
		pid_t p;

		atomic_store(&sh->box[side][k].cmd_seq, 0);
		atomic_store(&sh->box[side][k].done_seq, 0);
		p = fork();
		if (p == 0)
			worker((enum side)side, k);
		pids[side][k] = p;
		remember_pid((enum side)side, p, gen[k]);
	}
}

static void reap(pid_t p)
{
	int st;

	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
}

static void post(int k, uint32_t cmd, const struct ipcx_sembuf *ops, uint32_t n)
{
	for (int side = 0; side < 2; side++) {
		struct mailbox *m = &sh->box[side][k];

		m->cmd = cmd;
		m->nops = n;
		if (n)
			memcpy(m->ops, ops, n * sizeof(*ops));
		atomic_fetch_add(&m->cmd_seq, 1);
		futex_wake_u32(&m->cmd_seq);
	}
	pending[k] = cmd == CMD_OP;
}

/* ---- observing both sides ---- */

struct view {
	/* Compared with memcmp: observe() fills every byte (see memset there). */
	int32_t val[NS];
	int ncnt[NS], zcnt[NS];
	int pidgen[NS]; /* the last pid as a worker generation; -1 the driver, 0 none */
	bool done[NW];
	int32_t result[NW];
};

static int pid_to_gen(enum side side, pid_t pid)
{
	if (pid == 0)
		return 0;
	if (pid == getpid())
		return -1;
	for (int i = 0; i < pid_count[side]; i++)
		if (pid_map[side][i].pid == pid)
			return pid_map[side][i].gen;
	return -2;
}

static void observe(enum side side, ipcx_semset *s, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (side == SYSV) {
		unsigned short a[NS];
		semctl(sysv_id, 0, GETALL, a);
		for (int i = 0; i < NS; i++) {
			v->val[i] = a[i];
			v->ncnt[i] = semctl(sysv_id, i, GETNCNT);
			v->zcnt[i] = semctl(sysv_id, i, GETZCNT);
			v->pidgen[i] = pid_to_gen(side, semctl(sysv_id, i, GETPID));
		}
	} else {
		struct ipcx_sem_info in[NS];
		ipcx_semset_stat(s, 0, in, NS);
		for (int i = 0; i < NS; i++) {
			v->val[i] = in[i].value;
			v->ncnt[i] = (int)in[i].ncnt;
			v->zcnt[i] = (int)in[i].zcnt;
			v->pidgen[i] = pid_to_gen(side, in[i].pid);
		}
	}
	for (int k = 0; k < NW; k++) {
		struct mailbox *m = &sh->box[side][k];
		v->done[k] = atomic_load(&m->done_seq) == atomic_load(&m->cmd_seq);
		v->result[k] = atomic_load(&m->result);
	}
}

/* Quiet: every posted command has finished or is counted as waiting. */
static bool quiet(const struct view *v)
{
	int waiting = 0, open = 0;

	for (int i = 0; i < NS; i++)
		waiting += v->ncnt[i] + v->zcnt[i];
	for (int k = 0; k < NW; k++)
		open += pending[k] && !v->done[k];
	return waiting == open;
}

/*
 * Waits until both sides are quiet. One look is not an instant (the waiter counts of
 * several semaphores and the workers' flags are read one after the other, while an
 * operation may be in flight), so quiet must be seen twice, 1 ms apart, with nothing
 * changed in between.
 */
static bool settle(ipcx_semset *s, struct view v[2])
{
	struct view prev[2];
	bool was = false;

	for (int t = 0; t < 20000; t++) {
		observe(SYSV, s, &v[SYSV]);
		observe(IPCX, s, &v[IPCX]);
		if (quiet(&v[SYSV]) && quiet(&v[IPCX])) {
			if (was && memcmp(prev, v, sizeof(prev)) == 0)
				return true;
			was = true;
			memcpy(prev, v, sizeof(prev));
			usleep(1000);
			continue;
		}
		was = false;
		usleep(t < 100 ? 50 : 500);
	}
	snprintf(failure, sizeof(failure), "never quiet: sysv %s, ipcx %s",
	         quiet(&v[SYSV]) ? "quiet" : "busy", quiet(&v[IPCX]) ? "quiet" : "busy");
	return false;
}

static bool compare_views(const struct view v[2]);

/* Both views in full, for the failure message. */
static void dump(const struct view v[2], char *f, size_t cap)
{
	size_t len = strlen(f);

	for (int side = 0; side < 2; side++) {
		len += (size_t)snprintf(f + len, cap - len, "\n%s:", side ? "ipcx" : "sysv");
		for (int i = 0; i < NS && len < cap; i++)
			len += (size_t)snprintf(f + len, cap - len, " [%d v%d n%d z%d p#%d]", i,
			                        v[side].val[i], v[side].ncnt[i], v[side].zcnt[i],
			                        v[side].pidgen[i]);
		for (int k = 0; k < NW && len < cap; k++)
			len += (size_t)snprintf(f + len, cap - len, " w%d:%s%d", k,
			                        !pending[k]       ? "idle"
			                        : v[side].done[k] ? "done"
			                                          : "wait",
			                        v[side].result[k]);
	}
}

static bool compare(const struct view v[2])
{
	bool ok = compare_views(v);

	if (!ok)
		dump(v, failure, sizeof(failure));
	return ok;
}

static bool compare_views(const struct view v[2])
{
	char *f = failure;
	size_t cap = sizeof(failure);

	for (int i = 0; i < NS; i++) {
		if (v[0].val[i] != v[1].val[i] || v[0].ncnt[i] != v[1].ncnt[i] ||
		    v[0].zcnt[i] != v[1].zcnt[i] || v[0].pidgen[i] != v[1].pidgen[i]) {
			snprintf(f, cap,
			         "sem %d: sysv value %d ncnt %d zcnt %d pid#%d; ipcx value %d ncnt "
			         "%d "
			         "zcnt %d pid#%d",
			         i, v[0].val[i], v[0].ncnt[i], v[0].zcnt[i], v[0].pidgen[i],
			         v[1].val[i], v[1].ncnt[i], v[1].zcnt[i], v[1].pidgen[i]);
			return false;
		}
	}
	for (int k = 0; k < NW; k++) {
		if (!pending[k])
			continue;
		if (v[0].done[k] && was_waiting[k])
			stats.woken++;
		if (!v[0].done[k] && !was_waiting[k])
			stats.waited++;
		if (v[0].done[k] && v[0].result[k] == -EAGAIN)
			stats.eagain++;
		if (v[0].done[k] && v[0].result[k] == -ERANGE)
			stats.erange++;
		was_waiting[k] = !v[0].done[k];
		if (v[0].done[k] != v[1].done[k] ||
		    (v[0].done[k] && v[0].result[k] != v[1].result[k])) {
			snprintf(f, cap, "worker %d: sysv %s %d, ipcx %s %d", k,
			         v[0].done[k] ? "done" : "waiting", v[0].result[k],
			         v[1].done[k] ? "done" : "waiting", v[1].result[k]);
			return false;
		}
		if (v[0].done[k])
			pending[k] = false;
	}
	return true;
}

/* ---- one sequence ---- */

static uint32_t rnd(uint64_t *st)
{
	/* xorshift64*: the same numbers on every machine. */
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return (uint32_t)((*st * 2685821657736338717ull) >> 32);
}

static int32_t pick_delta(uint64_t *st)
{
	static const int32_t d[] = {-1, -1, -2, 1, 1, 2, 0, 0, -3, 3};
	uint32_t r = rnd(st) % 100;

	if (r < 2)
		return 32000;
	if (r < 3)
		return -32000;
	return d[rnd(st) % 10];
}

static void gen_ops(uint64_t *st, struct ipcx_sembuf *ops, uint32_t *n)
{
	*n = 1 + rnd(st) % MAXOPS;
	for (uint32_t i = 0; i < *n; i++) {
		uint32_t f = 0;
		if (rnd(st) % 5 == 0)
			f |= IPCX_SEM_NOWAIT;
		if (rnd(st) % 5 < 2)
			f |= IPCX_SEM_UNDO;
		ops[i] = (struct ipcx_sembuf){rnd(st) % NS, pick_delta(st), f};
	}
}

static void describe(const struct ipcx_sembuf *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		log_step(" %u:%+d%s%s", ops[i].index, ops[i].delta,
		         (ops[i].flags & IPCX_SEM_NOWAIT) ? "n" : "",
		         (ops[i].flags & IPCX_SEM_UNDO) ? "u" : "");
}

static void end_worker(int k, bool clean)
{
	if (clean) {
		post(k, CMD_EXIT, NULL, 0);
	} else {
		kill(pids[SYSV][k], SIGKILL);
		kill(pids[IPCX][k], SIGKILL);
	}
	reap(pids[SYSV][k]);
	reap(pids[IPCX][k]);
	spawn(k);
}

/* Runs one sequence; false with failure[] set on a disagreement. */
static bool run_sequence(uint64_t seed, ipcx_semset **ret_set)
{
	uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned short init[NS];
	int32_t init32[NS];
	ipcx_semset *s = NULL;
	struct view v[2];
	bool ok = true;

	trail[0] = failure[0] = '\0';
	pid_count[0] = pid_count[1] = 0;
	sysv_id = semget(IPC_PRIVATE, NS, 0600);
	if (sysv_id < 0) {
		snprintf(failure, sizeof(failure), "semget: %s", strerror(errno));
		return false;
	}
	ipcx_unlink(set_name);
	if (ipcx_semset_open(set_name, IPCX_CREATE | IPCX_EXCL, 0, NS, 0, &s) < 0) {
		snprintf(failure, sizeof(failure), "ipcx_semset_open failed");
		return false;
	}
	*ret_set = s;
	for (int i = 0; i < NS; i++)
		init32[i] = init[i] = (unsigned short)(rnd(&st) % 3);
	semctl(sysv_id, 0, SETALL, init);
	ipcx_semset_setall(s, init32, NS);
	log_step("seed %llu init %d %d %d %d\n", (unsigned long long)seed, init32[0], init32[1],
	         init32[2], init32[3]);
	for (int k = 0; k < NW; k++)
		spawn(k);

	for (int step = 0; ok && step < STEPS; step++) {
		uint32_t a = rnd(&st) % 100, k = rnd(&st) % NW, n;
		struct ipcx_sembuf ops[MAXOPS];

		if (a < 72) {
			/* An operation by an idle worker (skipped if it waits). */
			gen_ops(&st, ops, &n);
			if (pending[k])
				continue;
			stats.ops++;
			log_step("%d: w%u(g%d) op", step, k, gen[k]);
			describe(ops, n);
			log_step("\n");
			post(k, CMD_OP, ops, n);
		} else if (a < 82) {
			stats.kills++;
			log_step("%d: kill w%u(g%d)\n", step, k, gen[k]);
			end_worker((int)k, false);
		} else if (a < 87) {
			if (pending[k])
				continue;
			stats.exits++;
			log_step("%d: w%u(g%d) exits\n", step, k, gen[k]);
			end_worker((int)k, true);
		} else if (a < 91) {
			unsigned short all[NS];
			int32_t all32[NS];

			for (int i = 0; i < NS; i++)
				all32[i] = all[i] = (unsigned short)(rnd(&st) % 4);
			stats.setvals++;
			log_step("%d: setall %d %d %d %d\n", step, all32[0], all32[1], all32[2],
			         all32[3]);
			semctl(sysv_id, 0, SETALL, all);
			ipcx_semset_setall(s, all32, NS);
		} else if (a < 95) {
			uint32_t i = rnd(&st) % NS, val = rnd(&st) % 4;
			stats.setvals++;
			log_step("%d: setval %u %u\n", step, i, val);
			semctl(sysv_id, (int)i, SETVAL, (int)val);
			ipcx_semset_set(s, i, (int)val);
		} else {
			/* The driver's own op; it must not wait. */
			int rs, ri;

			gen_ops(&st, ops, &n);
			stats.driver_ops++;
			for (uint32_t i = 0; i < n; i++)
				ops[i].flags = IPCX_SEM_NOWAIT;
			log_step("%d: driver op", step);
			describe(ops, n);
			rs = sysv_op(ops, n);
			ri = ipcx_semset_op(s, ops, n, 0);
			log_step(" -> %d/%d\n", rs, ri);
			if (rs != ri) {
				snprintf(failure, sizeof(failure), "driver op: sysv %d, ipcx %d",
				         rs, ri);
				ok = false;
				break;
			}
		}
		ok = settle(s, v) && compare(v);
	}
	for (int k = 0; k < NW; k++) {
		kill(pids[SYSV][k], SIGKILL);
		kill(pids[IPCX][k], SIGKILL);
		reap(pids[SYSV][k]);
		reap(pids[IPCX][k]);
	}
	semctl(sysv_id, 0, IPC_RMID);
	sysv_id = -1;
	return ok;
}

static void cleanup(void)
{
	if (sysv_id >= 0)
		semctl(sysv_id, 0, IPC_RMID);
	sysv_id = -1;
	test_teardown();
}

Test(sem_conformance, random_sequences_match_kernel, .init = test_setup, .fini = cleanup,
     .timeout = 36000)
{
	const char *e_seqs = getenv("IPCX_CONFORMANCE_SEQS");
	const char *e_seed = getenv("IPCX_CONFORMANCE_SEED");
	long seqs = e_seqs ? atol(e_seqs) : SUITE_SEQS;
	uint64_t first = e_seed ? strtoull(e_seed, NULL, 10) : 1;

	sh = test_shared_alloc(sizeof(*sh));
	for (long q = 0; q < seqs; q++) {
		ipcx_semset *s = NULL;
		bool ok = run_sequence(first + (uint64_t)q, &s);

		ipcx_semset_close(s);
		if (!ok)
			cr_assert_fail("sequence %llu disagrees: %s\n%s",
			               (unsigned long long)(first + (uint64_t)q), failure, trail);
	}
	cr_log_info("%ld sequences from seed %llu agree: %ld worker ops (%ld waited, %ld woken "
	            "later, %ld EAGAIN, %ld ERANGE), %ld driver ops, %ld kills, %ld clean exits, "
	            "%ld setval/setall",
	            seqs, (unsigned long long)first, stats.ops, stats.waited, stats.woken,
	            stats.eagain, stats.erange, stats.driver_ops, stats.kills, stats.exits,
	            stats.setvals);
	/* Guards the generator: a run that never waits or wakes would prove little (a single
	 * sequence, as when one seed is replayed, may well do neither). */
	if (seqs >= 20)
		cr_expect(stats.waited > 0 && stats.woken > 0 && stats.eagain > 0);
}

/*
 * A rule the random sequences do not reach: a process's undo structure exists from its first
 * SEM_UNDO call, even one that fails (EFBIG, EAGAIN), and its exit re-evaluates the waiting
 * operations; here that moves a wait-for-zero operation from semaphore 0 to semaphore 1.
 * Checked on the kernel and on ipcx alike.
 */
struct zpair {
	int z0, z1;
};

static struct zpair zcounts(ipcx_semset *s)
{
	struct zpair z;

	if (s) {
		z.z0 = ipcx_semset_zcnt(s, 0);
		z.z1 = ipcx_semset_zcnt(s, 1);
	} else {
		z.z0 = semctl(sysv_id, 0, GETZCNT);
		z.z1 = semctl(sysv_id, 1, GETZCNT);
	}
	return z;
}

static int exit_reevaluates(ipcx_semset *s, uint32_t index)
{
	struct ipcx_sembuf zero2[2] = {{1, 0, 0}, {0, 0, 0}}, up = {1, 1, IPCX_SEM_NOWAIT};
	struct ipcx_sembuf bad = {index, -1, IPCX_SEM_UNDO | IPCX_SEM_NOWAIT};
	struct zpair z;
	pid_t w, p;
	int moved;

	w = fork();
	if (w == 0) {
		ipcx_semset *c = NULL;
		if (s && ipcx_semset_open(set_name, 0, 0, 0, 0, &c) < 0)
			_exit(1);
		_exit(s ? ipcx_semset_op(c, zero2, 2, IPCX_FOREVER) : sysv_op(zero2, 2));
	}
	while (zcounts(s).z0 != 1) /* bounded by the test's timeout */
		usleep(1000);
	z = zcounts(s);
	cr_assert(z.z0 == 1 && z.z1 == 0);
	cr_assert_eq(s ? ipcx_semset_op(s, &up, 1, 0) : sysv_op(&up, 1), 0);
	z = zcounts(s);
	cr_assert(z.z0 == 1 && z.z1 == 0, "a change with no zero re-evaluates nothing");
	p = fork();
	if (p == 0) {
		ipcx_semset *c = NULL;
		if (s && ipcx_semset_open(set_name, 0, 0, 0, 0, &c) < 0)
			_exit(1);
		(void)(s ? ipcx_semset_op(c, &bad, 1, 0) : sysv_op(&bad, 1));
		if (s)
			ipcx_semset_close(c);
		_exit(0);
	}
	reap(p);
	z = zcounts(s);
	moved = z.z0 == 0 && z.z1 == 1;
	kill(w, SIGKILL);
	reap(w);
	return moved;
}

Test(sem_conformance, failed_undo_call_still_counts_at_exit, .init = test_setup, .fini = cleanup)
{
	int32_t init[NS] = {4, 0, 0, 1};
	unsigned short init16[NS] = {4, 0, 0, 1};

	for (uint32_t index = 2; index <= 9; index += 7) { /* EAGAIN, then EFBIG */
		ipcx_semset *s = NULL;

		sysv_id = semget(IPC_PRIVATE, NS, 0600);
		cr_assert(sysv_id >= 0);
		semctl(sysv_id, 0, SETALL, init16);
		ipcx_unlink(set_name);
		cr_assert_eq(ipcx_semset_open(set_name, IPCX_CREATE | IPCX_EXCL, 0, NS, 0, &s), 1);
		ipcx_semset_setall(s, init, NS);
		cr_expect_eq(exit_reevaluates(NULL, index), 1, "kernel, index %u", index);
		cr_expect_eq(exit_reevaluates(s, index), 1, "ipcx, index %u", index);
		ipcx_semset_close(s);
		semctl(sysv_id, 0, IPC_RMID);
		sysv_id = -1;
	}
}

/*
 * Another rule the random sequences rarely reach: when the first multi-entry operation starts
 * to wait, the kernel moves the waiting single-entry ones to the front of its global queue in
 * descending semaphore order. Here X waits on semaphore 0 and Y on semaphore 1 (Y arrived
 * later), V waits for both to be zero with NOWAIT on the second. One operation lets X and Y
 * complete: Y goes first, so when X makes semaphore 0 zero, semaphore 1 is zero already and
 * V completes; in arrival order V would fail with EAGAIN in between.
 */
static int scripted(ipcx_semset *s, const struct ipcx_sembuf *ops, uint32_t n)
{
	ipcx_semset *c = NULL;
	int r;

	if (!s)
		return sysv_op(ops, n);
	if (ipcx_semset_open(set_name, 0, 0, 0, 0, &c) < 0)
		return -1000;
	r = ipcx_semset_op(c, ops, n, IPCX_FOREVER);
	ipcx_semset_close(c);
	return r;
}

static pid_t spawn_op(ipcx_semset *s, const struct ipcx_sembuf *ops, uint32_t n)
{
	pid_t p = fork();

	if (p == 0)
		_exit(-scripted(s, ops, n));
	return p;
}

static int waiters_on(ipcx_semset *s, uint32_t i)
{
	if (s)
		return ipcx_semset_ncnt(s, i) + ipcx_semset_zcnt(s, i);
	return semctl(sysv_id, (int)i, GETNCNT) + semctl(sysv_id, (int)i, GETZCNT);
}

static int merge_scenario(ipcx_semset *s)
{
	struct ipcx_sembuf x = {0, -2, 0}, y = {1, -2, 0};
	struct ipcx_sembuf v[2] = {{0, 0, 0}, {1, 0, IPCX_SEM_NOWAIT}};
	struct ipcx_sembuf go[2] = {{0, 1, IPCX_SEM_NOWAIT}, {1, 1, IPCX_SEM_NOWAIT}};
	pid_t px, py, pv;
	int st;

	px = spawn_op(s, &x, 1);
	while (waiters_on(s, 0) != 1) /* bounded by the test's timeout */
		usleep(1000);
	py = spawn_op(s, &y, 1);
	while (waiters_on(s, 1) != 1) /* bounded by the test's timeout */
		usleep(1000);
	pv = spawn_op(s, v, 2);
	while (waiters_on(s, 0) != 2) /* bounded by the test's timeout */
		usleep(1000);
	cr_assert_eq(s ? ipcx_semset_op(s, go, 2, 0) : sysv_op(go, 2), 0);
	while (waitpid(pv, &st, 0) < 0 && errno == EINTR)
		;
	/* X and Y were reordered in the queue: they must still get their own result. */
	for (int k = 0; k < 2; k++) {
		int xs;

		while (waitpid(k ? py : px, &xs, 0) < 0 && errno == EINTR)
			;
		cr_expect(WIFEXITED(xs) && WEXITSTATUS(xs) == 0, "%s: %s %d", s ? "ipcx" : "sysv",
		          k ? "Y" : "X", WIFEXITED(xs) ? -WEXITSTATUS(xs) : -1000);
	}
	return WIFEXITED(st) ? -WEXITSTATUS(st) : -1000;
}

Test(sem_conformance, merge_order_of_single_waiters, .init = test_setup, .fini = cleanup)
{
	int32_t init[NS] = {1, 1, 0, 0};
	unsigned short init16[NS] = {1, 1, 0, 0};
	ipcx_semset *s = NULL;
	int k, i;

	sysv_id = semget(IPC_PRIVATE, NS, 0600);
	cr_assert(sysv_id >= 0);
	semctl(sysv_id, 0, SETALL, init16);
	ipcx_unlink(set_name);
	cr_assert_eq(ipcx_semset_open(set_name, IPCX_CREATE | IPCX_EXCL, 0, NS, 0, &s), 1);
	ipcx_semset_setall(s, init, NS);
	k = merge_scenario(NULL);
	i = merge_scenario(s);
	cr_expect_eq(k, 0, "the kernel completed V with %d", k);
	cr_expect_eq(i, k, "ipcx %d, kernel %d", i, k);
	ipcx_semset_close(s);
	semctl(sysv_id, 0, IPC_RMID);
	sysv_id = -1;
}
