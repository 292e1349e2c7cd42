/* SPDX-License-Identifier: MIT */
/*
 * ipcx-bench: ipcx side by side with the machine's floors, the kernel's mechanisms and peer
 * libraries, in one interleaved run.
 *
 * HOW TO ADD A CASE
 *
 * A case is a `struct bench_case` line in the table of one cases_*.c file, plus the small
 * functions its `struct bench_ops` points to. The harness does everything else: it forks the
 * processes, pins them, warms up, sizes the run, takes the timestamps, repeats the case in every
 * round and prints it.
 *
 *   static int chan_rtt_setup(struct bench_env *e)   // harness process, before fork: create
 *   { ... create the object named e->tag ... }        // what both sides share (fds, names)
 *   static int chan_rtt_open(struct bench_env *e, int side)   // in each side's process
 *   static int chan_rtt_step(struct bench_env *e, int side)   // one unit of work, see below
 *   static void chan_rtt_close(struct bench_env *e, int side) // each side, at the end
 *   static void chan_rtt_teardown(struct bench_env *e)        // harness, after both sides exit
 *
 *   static const struct bench_ops chan_rtt = { .setup = chan_rtt_setup, ... };
 *   { "ipcx.chan.rtt.64.adaptive", BENCH_RTT, "rtt", "floor.spin.rtt", 64, &chan_rtt, NULL },
 *
 * Only `step` is required; every other hook may be NULL.
 *
 * What `step(env, side)` does depends on the case's shape:
 *   BENCH_RTT   side 0 sends env->size bytes and waits for the reply (one round trip, timed);
 *               side 1 waits for a message and replies. Side 0 runs on CPU 0, side 1 on CPU 1.
 *   BENCH_TPUT  side 0 sends one message of env->size bytes; side 1 receives one.
 *               Both sides make exactly the same number of calls. With ops->receivers N > 1,
 *               N processes take side 1 (env->receiver tells them apart; all on CPU 1),
 *               each making as many calls as side 0: every one receives every message.
 *               The time per message runs until the last receiver has the last one.
 *   BENCH_OP    one process (CPU 0) does one operation; side is always 0.
 * step returns 0, or -errno on failure (the case is then reported as failed, with the reason).
 * A hook may put a longer reason in env->why (bench_fail() does both).
 *
 * env->state is env->state_size bytes (ops->state_size) of zeroed memory shared by both sides
 * (MAP_SHARED, mapped before fork), for futex words, semaphores, cache lines to spin on.
 * env->local is per-process (ops->local_size bytes, zeroed, after fork), for handles.
 * env->tag is unique per run and case ("ipcxb-<pid>-<n>"), for names of objects and sockets.
 *
 * Order: setup (harness) -> fork -> side 1 open -> side 0 open -> both pin themselves ->
 * warm-up -> timed samples -> un-instrumented loop -> close -> exit -> teardown (harness).
 * Side 1 opens first so that it can bind/listen/subscribe before side 0 connects. Nobody
 * closes before every side is done. Sides leave through exit(), so that a peer library's
 * destructors run: an atexit handler a setup registers in the harness runs in every side
 * too, and must check getpid() (see bench_ipcx_dir).
 * A BENCH_RTT case with ops->sweep also runs in `--sweep`, at sizes from 64 B to 4 MiB.
 * A case that cannot run at all has ops == NULL and says why in `skip` ("not built yet"); a peer
 * may also decide at run time in ops->available(), which returns NULL or a reason.
 */
#ifndef IPCX_BENCH_H
#define IPCX_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_shape { BENCH_RTT, BENCH_TPUT, BENCH_OP };

struct bench_env {
	const struct bench_case *c;
	size_t size;     /* message size for this run (the case's, or the sweep's) */
	void *state;     /* shared by both sides, zeroed */
	void *local;     /* this process only, zeroed */
	const char *tag; /* unique name stem for objects, sockets, queues */
	int fd[4];       /* free for setup to fill (pipes, sockets); -1 when unused */
	long id;         /* free for setup (a System V id, ...) */
	int receiver;    /* on side 1: which receiver this process is, 0 .. receivers-1 */
	char *why;       /* a reason, up to BENCH_WHY bytes, shown when the case fails */
};
#define BENCH_WHY 200

struct bench_ops {
	const char *(*available)(void); /* NULL when it can run, else why not */
	int (*setup)(struct bench_env *e);
	int (*open)(struct bench_env *e, int side);
	int (*step)(struct bench_env *e, int side);
	void (*close)(struct bench_env *e, int side);
	void (*teardown)(struct bench_env *e);
	size_t state_size;
	size_t local_size;
	bool sweep;       /* takes part in the latency-vs-size sweep (BENCH_RTT only) */
	bool needs_roudi; /* needs the iceoryx daemon started by the harness */
	bool time_sender; /* BENCH_TPUT: the figure is the sender's time per message alone
	                     (for a sender that never waits for its receivers) */
	int receivers;    /* BENCH_TPUT: processes on side 1 (0 means 1), up to
	                   * BENCH_MAX_RECEIVERS, for one-to-many cases (topic fan-out) */
};
#define BENCH_MAX_RECEIVERS 16

struct bench_case {
	const char *name; /* fixed: scripts and the README read it */
	enum bench_shape shape;
	const char *job;   /* cases with the same job are compared ("rtt", "op", "tput.64") */
	const char *floor; /* the floor case this one is divided by, or NULL */
	size_t size;       /* message size in bytes (0 for none) */
	const struct bench_ops *ops; /* NULL: cannot run; `skip` says why */
	const char *skip;
};

/* Case tables, one per file; each ends with a line whose name is NULL. */
extern const struct bench_case bench_cases_floor[];
extern const struct bench_case bench_cases_kernel[];
extern const struct bench_case bench_cases_peers[];
extern const struct bench_case bench_cases_ipcx[];

/* Helpers for cases. */
int bench_fail(struct bench_env *e, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int bench_write_all(int fd, const void *buf, size_t n); /* 0 or -errno (-EPIPE at EOF) */
int bench_read_all(int fd, void *buf, size_t n);        /* 0 or -errno (-EPIPE at EOF) */
void *bench_buf(struct bench_env *e); /* a per-process buffer of e->size bytes, touched */
long bench_futex(void *word, int op, uint32_t val); /* shared (not private) futex */
static inline void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Clocks (clock.c): a cheap counter for per-sample timestamps, calibrated to ns. */
void bench_clock_init(void);
uint64_t bench_ticks(void);
double bench_ticks_ns(uint64_t ticks); /* ticks to ns, with the counter's own cost removed */
double bench_clock_overhead_ns(void);
const char *bench_clock_name(void);
int64_t bench_now_ns(void); /* CLOCK_MONOTONIC */

/* The iceoryx daemon (roudi.c). */
int bench_roudi_start(char *why, size_t whylen); /* 0, or -errno with why filled */
void bench_roudi_stop(void);
void bench_cleanup_stale(void); /* our files in /tmp left by runs that were killed */

#endif
