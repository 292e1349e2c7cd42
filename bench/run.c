/* SPDX-License-Identifier: MIT */
/*
 * Runs one case once: forks its side(s), pins them, warms up, sizes the run from the warm-up,
 * takes per-sample timestamps and then times an un-instrumented loop for the mean. The harness
 * process itself is never pinned and never opens a peer library, so every case starts clean.
 */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000
#define FIRST_STEPS 20 /* the probe that sizes the run */
#define MAX_PROCS (1 + BENCH_MAX_RECEIVERS)
/* The un-instrumented loop is timed in stretches; the mean is the median stretch's. */
#define LOOP_STRETCHES 16

/* The control block both sides and the harness share, one per run. */
struct ctl {
	/* Per process: 0 is side 0, 1.. are the side-1 processes (receivers). */
	_Atomic int opened[MAX_PROCS];
	_Atomic int pinned[MAX_PROCS];
	_Atomic int done[MAX_PROCS];
	_Atomic int warm_done; /* TPUT: how many receivers have taken the probe messages */
	_Atomic int plan_ready;
	uint64_t warm, samples, loop, check_every; /* written before plan_ready (release) */
	_Atomic uint64_t stop_at; /* side 1 stops after this many steps (side 0 ran short) */
	uint64_t loop_done;       /* TPUT: messages in the timed stretch */
	int64_t t_start, t_end[MAX_PROCS]; /* t_end[0]: the producer's last send */
	double mean_ns;
	uint64_t nsamples;
	char why[MAX_PROCS][BENCH_WHY];
	float sample_ns[MAX_SAMPLES];
};

static int cpu_of_side[2] = {0, 1};
static int pin_note_done;

void bench_pick_cpus(void)
{
	cpu_set_t set;
	int found = 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpu_of_side[found++] = cpu;
	if (found == 1) {
		cpu_of_side[1] = cpu_of_side[0];
		if (!pin_note_done++)
			fprintf(stderr, "note: only one CPU available; both sides share CPU %d\n",
			        cpu_of_side[0]);
	}
}

int bench_cpu_of_side(int side)
{
	return cpu_of_side[side];
}

int bench_fail(struct bench_env *e, int err, const char *fmt, ...)
{
	if (e->why && !e->why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->why, BENCH_WHY, fmt, ap);
		va_end(ap);
	}
	return err < 0 ? err : -EIO;
}

static void *the_buf;
void *bench_buf(struct bench_env *e)
{
	if (!the_buf) {
		size_t n = e->size ? e->size : 64;
		the_buf = malloc(n);
		if (the_buf)
			memset(the_buf, 0x5a, n);
	}
	return the_buf;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

/* Waits for a flag the other side sets; the harness kills us if the other side dies. */
static int wait_flag(_Atomic int *flag)
{
	int64_t deadline = bench_now_ns() + 60 * 1000000000LL;
	for (unsigned i = 0; !atomic_load_explicit(flag, memory_order_acquire); i++) {
		bench_relax();
		if ((i & 1023) == 1023 && bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

/* The same, sleeping: for the end of a run, where the other side may need our CPU. */
static int wait_flag_sleeping(_Atomic int *flag)
{
	int64_t deadline = bench_now_ns() + 60 * 1000000000LL;
	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(50);
	}
	return 0;
}

/* Waits for flag[q] of every process q in [from, n) but `self`. */
static int wait_all(_Atomic int *flag, int from, int n, int self, bool sleeping)
{
	for (int q = from; q < n; q++) {
		if (q == self)
			continue;
		int r = sleeping ? wait_flag_sleeping(&flag[q]) : wait_flag(&flag[q]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int wait_plan(struct ctl *ctl)
{
	return wait_flag(&ctl->plan_ready);
}

static uint64_t clampu(double v, uint64_t lo, uint64_t hi)
{
	if (!(v >= (double)lo))
		return lo;
	if (v > (double)hi)
		return hi;
	return (uint64_t)v;
}

/*
 * From the probe's time per step: how many warm-up steps, samples and loop steps, and how often
 * side 0 looks at the clock. Phases also have deadlines (fractions of the budget), because a
 * busy host can make the real steps much slower than the probe said.
 */
static void make_plan(struct ctl *ctl, double per_step_ns, double budget_ns, bool timed)
{
	if (per_step_ns < 1)
		per_step_ns = 1;
	ctl->warm = clampu(0.1 * budget_ns / per_step_ns, 10, 1000000);
	if (timed) {
		ctl->samples = clampu(0.5 * budget_ns / per_step_ns, 50, MAX_SAMPLES);
		ctl->loop = clampu(0.4 * budget_ns / per_step_ns, LOOP_STRETCHES, 100000000);
		ctl->loop -= ctl->loop % LOOP_STRETCHES;
	} else {
		ctl->samples = 0;
		ctl->loop = clampu(0.9 * budget_ns / per_step_ns, 50, 100000000);
	}
	/* About every 50 us of work: costs nothing measurable even for 10 ns operations. */
	ctl->check_every = clampu(50000 / per_step_ns, 1, 4096);
	atomic_store_explicit(&ctl->plan_ready, 1, memory_order_release);
}

static uint64_t n_done; /* steps this process has made */

/* Side 0: up to n steps, fewer if the deadline passes; *made says how many. */
static int steps0(struct bench_env *e, struct ctl *ctl, uint64_t n, int64_t deadline,
                  uint64_t *made)
{
	int (*step)(struct bench_env *, int) = e->c->ops->step;
	uint64_t i = 0, check = ctl->check_every ? ctl->check_every : 1;
	for (; i < n; i++) {
		if (i % check == 0 && deadline && i && bench_now_ns() > deadline)
			break;
		int r = step(e, 0);
		if (r < 0)
			return r;
	}
	n_done += i;
	if (made)
		*made = i;
	return 0;
}

/* Side 1: up to n steps, fewer when side 0 has said where to stop. Returns 0 either way. */
static int steps1(struct bench_env *e, struct ctl *ctl, uint64_t n)
{
	int (*step)(struct bench_env *, int) = e->c->ops->step;
	for (uint64_t i = 0; i < n; i++) {
		/* Acquire pairs with the release in stop_early: the message side 0 sent after
		 * that store is what let us finish our previous step. */
		if (n_done >= atomic_load_explicit(&ctl->stop_at, memory_order_acquire))
			return 0;
		int r = step(e, 1);
		if (r < 0)
			return r;
		n_done++;
	}
	return 0;
}

/*
 * Side 0 made fewer steps than planned: tell side 1 to stop after one more, and make it, so
 * that a side 1 already waiting for the next message gets it and then sees where to stop.
 */
static int stop_early(struct bench_env *e, struct ctl *ctl)
{
	atomic_store_explicit(&ctl->stop_at, n_done + 1, memory_order_release);
	return steps0(e, ctl, 1, 0, NULL);
}

/* RTT side 0 and OP: probe, plan, warm up, timed samples, then the plain loop. */
static int run_timed(struct bench_env *e, struct ctl *ctl, double budget_ns)
{
	int (*step)(struct bench_env *, int) = e->c->ops->step;
	int64_t t0 = bench_now_ns(), b = (int64_t)budget_ns;
	int r = steps0(e, ctl, FIRST_STEPS, 0, NULL);
	if (r < 0)
		return r;
	int64_t t1 = bench_now_ns();
	make_plan(ctl, (double)(t1 - t0) / FIRST_STEPS, budget_ns, true);
	if ((r = steps0(e, ctl, ctl->warm, t1 + b / 4, NULL)) < 0)
		return r;
	uint64_t n = ctl->samples, i;
	uint64_t *ticks = malloc(n * sizeof(*ticks));
	if (!ticks)
		return -ENOMEM;
	int64_t deadline = bench_now_ns() + b;
	for (i = 0; i < n; i++) {
		if (i % ctl->check_every == 0 && i && bench_now_ns() > deadline)
			break;
		uint64_t a = bench_ticks();
		r = step(e, 0);
		uint64_t z = bench_ticks();
		if (r < 0) {
			free(ticks);
			return r;
		}
		ticks[i] = z - a;
	}
	n_done += i;
	for (uint64_t k = 0; k < i; k++)
		ctl->sample_ns[k] = (float)bench_ticks_ns(ticks[k]);
	ctl->nsamples = i;
	free(ticks);
	/* The plain loop, in stretches: a stretch in which the host took our CPU away does not
	 * decide the mean, the median stretch does. No clock is read inside a stretch but the
	 * deadline check, every check_every steps. */
	uint64_t per = ctl->loop / LOOP_STRETCHES, made;
	double stretch[LOOP_STRETCHES];
	int ns = 0;
	int64_t l0 = bench_now_ns();
	while (ns < LOOP_STRETCHES) {
		int64_t c0 = bench_now_ns();
		if ((r = steps0(e, ctl, per, l0 + b * 4 / 5, &made)) < 0)
			return r;
		if (!made)
			break;
		stretch[ns++] = (double)(bench_now_ns() - c0) / (double)made;
		if (made < per)
			break;
	}
	for (int i2 = 1; i2 < ns; i2++)
		for (int j = i2; j > 0 && stretch[j - 1] > stretch[j]; j--) {
			double t = stretch[j];
			stretch[j] = stretch[j - 1];
			stretch[j - 1] = t;
		}
	ctl->mean_ns =
	        ns ? (ns % 2 ? stretch[ns / 2] : (stretch[ns / 2 - 1] + stretch[ns / 2]) / 2) : NAN;
	if (e->c->shape == BENCH_RTT && n_done < FIRST_STEPS + ctl->warm + ctl->samples + ctl->loop)
		return stop_early(e, ctl);
	return 0;
}

/* RTT side 1: as many replies as side 0 makes requests. */
static int run_echo(struct bench_env *e, struct ctl *ctl)
{
	int r = steps1(e, ctl, FIRST_STEPS);
	if (r < 0 || (r = wait_plan(ctl)) < 0)
		return r;
	return steps1(e, ctl, ctl->warm + ctl->samples + ctl->loop);
}

/* TPUT producer: the probe is timed until every receiver has taken it. */
static int run_producer(struct bench_env *e, struct ctl *ctl, int receivers, double budget_ns)
{
	int64_t t0 = bench_now_ns(), deadline = t0 + 60 * 1000000000LL, b = (int64_t)budget_ns;
	int r = steps0(e, ctl, FIRST_STEPS, 0, NULL);
	if (r < 0)
		return r;
	int64_t t_sent = bench_now_ns();
	while (atomic_load_explicit(&ctl->warm_done, memory_order_acquire) < receivers) {
		bench_relax();
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
	int64_t t1 = bench_now_ns();
	/* A case that times the sender alone is sized from the sender's own time. Its
	 * receivers may share a CPU (fan-out: 16 on one), so until all of them have run and
	 * taken the probe takes scheduler time slices, milliseconds: sized from that, the run
	 * was a few thousand messages with a clock read after every one, and the row grew
	 * with the receivers for the harness's sake, not the sender's. */
	int64_t probe = e->c->ops->time_sender ? t_sent - t0 : t1 - t0;
	make_plan(ctl, (double)probe / FIRST_STEPS, budget_ns, false);
	if ((r = steps0(e, ctl, ctl->warm, t1 + b / 4, NULL)) < 0)
		return r;
	/* Timed in stretches, as the round trips' loop: a stretch in which the host took a
	 * CPU away does not decide the figure, the median stretch does. The producer's pace
	 * is the stream's once the buffer between the two is full (a pipe's 64 KiB, a
	 * channel's ring), a small part of a stretch. */
	uint64_t made, per = ctl->loop / LOOP_STRETCHES, total = 0;
	double stretch[LOOP_STRETCHES];
	int ns = 0;
	ctl->t_start = bench_now_ns();
	while (ns < LOOP_STRETCHES) {
		int64_t c0 = bench_now_ns();
		if ((r = steps0(e, ctl, per, ctl->t_start + b, &made)) < 0)
			return r;
		total += made;
		if (!made)
			break;
		stretch[ns++] = (double)(bench_now_ns() - c0) / (double)made;
		if (made < per)
			break;
	}
	ctl->t_end[0] = bench_now_ns();
	ctl->loop_done = total;
	for (int i = 1; i < ns; i++)
		for (int j = i; j > 0 && stretch[j - 1] > stretch[j]; j--) {
			double t = stretch[j];
			stretch[j] = stretch[j - 1];
			stretch[j - 1] = t;
		}
	/* Fewer than 4 stretches (a slow case): the whole run, as the receivers saw it. */
	ctl->mean_ns =
	        ns >= 4 ? (ns % 2 ? stretch[ns / 2] : (stretch[ns / 2 - 1] + stretch[ns / 2]) / 2)
	                : NAN;
	if (n_done < FIRST_STEPS + ctl->warm + ctl->loop) {
		/* The one more message is inside the timed stretch: count it. */
		ctl->loop_done++;
		return stop_early(e, ctl);
	}
	return 0;
}

static int run_consumer(struct bench_env *e, struct ctl *ctl, int p)
{
	int r = steps1(e, ctl, FIRST_STEPS);
	if (r < 0)
		return r;
	atomic_fetch_add_explicit(&ctl->warm_done, 1, memory_order_release);
	if ((r = wait_plan(ctl)) < 0)
		return r;
	/* t_start is written by the producer before its first timed send, which this side
	 * cannot finish receiving before it happened; it is read by the harness after both exit. */
	if ((r = steps1(e, ctl, ctl->warm + ctl->loop)) < 0)
		return r;
	ctl->t_end[p] = bench_now_ns();
	return 0;
}

/* Process p of n: p == 0 is side 0; p >= 1 is side 1, receiver p - 1. */
static void side_main(struct bench_env *e, struct ctl *ctl, int p, int n, double budget_ns)
{
	const struct bench_ops *ops = e->c->ops;
	int side = p == 0 ? 0 : 1, r = 0;
	e->why = ctl->why[p];
	e->receiver = p == 0 ? 0 : p - 1;
	if (ops->local_size && !(e->local = calloc(1, ops->local_size))) {
		bench_fail(e, -ENOMEM, "out of memory");
		exit(1);
	}
	if (side == 0 && (r = wait_all(ctl->opened, 1, n, -1, false)) < 0)
		goto out;
	/* Open before pinning: a library's helper threads (ZeroMQ's I/O thread) inherit the
	 * affinity of the thread that starts them, and must not be squeezed onto our CPU. */
	if (ops->open && (r = ops->open(e, side)) < 0)
		goto out;
	atomic_store_explicit(&ctl->opened[p], 1, memory_order_release);
	if ((r = pin(cpu_of_side[side])) < 0) {
		bench_fail(e, r, "sched_setaffinity to CPU %d failed", cpu_of_side[side]);
		goto closing;
	}
	atomic_store_explicit(&ctl->pinned[p], 1, memory_order_release);
	if ((r = wait_all(ctl->pinned, 0, n, p, false)) < 0)
		goto closing;
	switch (e->c->shape) {
	case BENCH_RTT:
		r = side == 0 ? run_timed(e, ctl, budget_ns) : run_echo(e, ctl);
		break;
	case BENCH_OP:
		r = run_timed(e, ctl, budget_ns);
		break;
	case BENCH_TPUT:
		r = side == 0 ? run_producer(e, ctl, n - 1, budget_ns) : run_consumer(e, ctl, p);
		break;
	}
	/* Nobody closes before everybody is done: libraries that send from a helper thread
	 * (ZeroMQ, nng) may still hold the last reply when the replier returns. */
	atomic_store_explicit(&ctl->done[p], 1, memory_order_release);
	if (r == 0)
		r = wait_all(ctl->done, 0, n, p, true);
closing:
	if (ops->close)
		ops->close(e, side);
out:
	if (r < 0 && !e->why[0])
		snprintf(e->why, BENCH_WHY, "%s", strerror(-r));
	/* exit, not _exit: a peer library's static destructors say goodbye to its daemon
	 * (iceoryx's runtime deregisters from RouDi). The harness flushed its stdio before
	 * fork; an atexit handler a case's setup registered in the harness is inherited, and
	 * must check that it runs in the process that registered it (see bench_ipcx_dir). */
	exit(r < 0 ? 1 : 0);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static double pct(const float *s, uint64_t n, double q)
{
	if (!n)
		return NAN;
	uint64_t i = (uint64_t)(q * (double)(n - 1) + 0.5);
	return s[i];
}

static volatile sig_atomic_t stop_requested;
static pid_t live_pids[MAX_PROCS];

void bench_run_interrupt(void)
{
	stop_requested = 1;
	for (int i = 0; i < MAX_PROCS; i++)
		if (live_pids[i] > 0)
			kill(live_pids[i], SIGKILL);
}

/* Waits for both sides; if one fails or the run overstays, the other is killed. */
static int reap(pid_t *pid, int n, int64_t deadline, struct ctl *ctl, char *why)
{
	int failed = 0, left = n;
	while (left) {
		int st = 0;
		pid_t p = 0;
		/* Only our sides: the harness may have other children (the iceoryx daemon). */
		for (int i = 0; i < n && p <= 0; i++)
			if (pid[i] > 0)
				p = waitpid(pid[i], &st, WNOHANG);
		if (p <= 0) {
			if (!failed && (bench_now_ns() > deadline || stop_requested)) {
				failed = -ETIMEDOUT;
				snprintf(why, BENCH_WHY, "%s",
				         stop_requested ? "interrupted" : "timed out");
				for (int i = 0; i < n; i++)
					if (pid[i] > 0)
						kill(pid[i], SIGKILL);
			}
			usleep(1000);
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (pid[i] != p)
				continue;
			pid[i] = live_pids[i] = 0;
			left--;
			bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			if (ok || failed)
				continue;
			failed = -EIO;
			if (ctl->why[i][0])
				snprintf(why, BENCH_WHY, "%s%.*s",
				         i ? "side 1: " : "side 0: ", BENCH_WHY - 9, ctl->why[i]);
			else if (WIFSIGNALED(st))
				snprintf(why, BENCH_WHY, "side %d killed by signal %d", i,
				         WTERMSIG(st));
			else
				snprintf(why, BENCH_WHY, "side %d exited with %d", i,
				         WEXITSTATUS(st));
			for (int j = 0; j < n; j++)
				if (pid[j] > 0)
					kill(pid[j], SIGKILL);
		}
	}
	return failed;
}

int bench_run_case(const struct bench_case *c, size_t size, double budget_ns, unsigned seq,
                   struct bench_fig *fig, char *why)
{
	const struct bench_ops *ops = c->ops;
	int receivers = c->shape == BENCH_OP ? 0 : ops->receivers > 1 ? ops->receivers : 1;
	int nproc = 1 + receivers;
	char tag[64];
	struct bench_env e = {.c = c, .size = size, .tag = tag, .id = -1, .why = why};
	int r;

	*fig = (struct bench_fig){NAN, NAN, NAN, NAN, NAN};
	why[0] = 0;
	snprintf(tag, sizeof(tag), "ipcxb-%d-%u", (int)getpid(), seq);
	for (int i = 0; i < 4; i++)
		e.fd[i] = -1;
	struct ctl *ctl =
	        mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return bench_fail(&e, -errno, "mmap: %s", strerror(errno));
	atomic_store(&ctl->stop_at, UINT64_MAX);
	ctl->mean_ns = NAN;
	if (ops->state_size) {
		e.state = mmap(NULL, ops->state_size, PROT_READ | PROT_WRITE,
		               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (e.state == MAP_FAILED) {
			munmap(ctl, sizeof(*ctl));
			return bench_fail(&e, -errno, "mmap: %s", strerror(errno));
		}
	}
	if (receivers > BENCH_MAX_RECEIVERS || (receivers > 1 && c->shape != BENCH_TPUT)) {
		r = bench_fail(&e, -EINVAL,
		               "more than one receiver needs BENCH_TPUT and at most %d",
		               BENCH_MAX_RECEIVERS);
		goto unmap;
	}
	if (ops->setup && (r = ops->setup(&e)) < 0) {
		if (!why[0])
			snprintf(why, BENCH_WHY, "setup: %s", strerror(-r));
		goto unmap;
	}
	pid_t pid[MAX_PROCS] = {0}, harness = getpid();
	fflush(NULL);
	/* Side 1 first: it opens first, and side 0 waits for it. */
	for (int s = nproc - 1; s >= 0; s--) {
		pid[s] = fork();
		if (pid[s] == 0) {
			/* A side never outlives the harness. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != harness)
				_exit(1);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			side_main(&e, ctl, s, nproc, budget_ns);
		}
		if (pid[s] < 0) {
			r = bench_fail(&e, -errno, "fork: %s", strerror(errno));
			for (int j = 0; j < nproc; j++)
				if (pid[j] > 0) {
					kill(pid[j], SIGKILL);
					waitpid(pid[j], NULL, 0);
					live_pids[j] = 0;
				}
			goto teardown;
		}
		live_pids[s] = pid[s];
	}
	int64_t deadline = bench_now_ns() + (int64_t)(budget_ns * 3) + 30 * 1000000000LL;
	r = reap(pid, nproc, deadline, ctl, why);
	if (r < 0)
		goto teardown;

	if (c->shape == BENCH_TPUT) {
		/* Until the last receiver has the last message, or for a case that measures the
		 * sender's cost alone, until the sender has sent it. */
		int64_t end = 0;
		for (int p = c->ops->time_sender ? 0 : 1; p < (c->ops->time_sender ? 1 : nproc);
		     p++)
			if (ctl->t_end[p] > end)
				end = ctl->t_end[p];
		double el = (double)(end - ctl->t_start);
		if (el <= 0 || !ctl->loop_done) {
			r = bench_fail(&e, -EIO, "no time measured");
			goto teardown;
		}
		fig->mean = isnan(ctl->mean_ns) ? el / (double)ctl->loop_done : ctl->mean_ns;
		fig->msgs = 1e9 / fig->mean;
		fig->gbs = (double)size / fig->mean;
	} else {
		qsort(ctl->sample_ns, ctl->nsamples, sizeof(float), cmp_float);
		fig->p50 = pct(ctl->sample_ns, ctl->nsamples, 0.50);
		fig->p99 = pct(ctl->sample_ns, ctl->nsamples, 0.99);
		fig->mean = ctl->mean_ns;
		if (c->shape == BENCH_OP && size)
			fig->gbs = (double)size / fig->mean;
	}
teardown:
	if (ops->teardown)
		ops->teardown(&e);
	for (int i = 0; i < 4; i++)
		if (e.fd[i] >= 0)
			close(e.fd[i]);
unmap:
	if (e.state)
		munmap(e.state, ops->state_size);
	munmap(ctl, sizeof(*ctl));
	return r < 0 ? r : 0;
}
