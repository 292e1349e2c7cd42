/* SPDX-License-Identifier: MIT */
/* The operations of ipcx's own cases, one file per kind, listed in cases_ipcx.c. */
#ifndef IPCX_BENCH_CASES_IPCX_H
#define IPCX_BENCH_CASES_IPCX_H

#include <ipcx/ipcx.h>

#include "bench.h"

/* Points IPCX_DIR at a private directory for the run (removed at exit), so the benchmark
 * never touches a user's objects and leaves nothing behind. Returns 0 or -errno. */
int bench_ipcx_dir(struct bench_env *e);

/* The object name for a case's object number i: "<tag>-<i>". */
const char *bench_ipcx_name(struct bench_env *e, int i);

/* Creates events 0 .. n-1 of the case (closed again) in the private directory. 0 or -errno. */
int bench_ipcx_events_create(struct bench_env *e, int n);

/* Unlinks objects 0 .. n-1 of the case. */
void bench_ipcx_unlink_objects(struct bench_env *e, int n);

/*
 * One round trip of an event ping-pong: side 0 sets ping and awaits pong; side 1 awaits ping
 * and sets pong. await(mine, arg) waits until `mine` is set and resets it, so that each side
 * resets what it waited for before it answers, and a set is never lost or seen twice. Inline,
 * so that each case's own wait is called directly.
 */
static inline int bench_ipcx_event_rtt_step(int side, ipcx_event *ping, ipcx_event *pong,
                                            int (*await)(ipcx_event *mine, void *arg), void *arg)
{
	ipcx_event *mine = side == 0 ? pong : ping, *theirs = side == 0 ? ping : pong;
	int r;

	if (side == 0 && (r = ipcx_event_set(theirs)) < 0)
		return r;
	if ((r = await(mine, arg)) < 0)
		return r;
	if (side == 1 && (r = ipcx_event_set(theirs)) < 0)
		return r;
	return 0;
}

extern const struct bench_ops bench_ipcx_event_rtt;
extern const struct bench_ops bench_ipcx_mutex_op;
extern const struct bench_ops bench_ipcx_sem_rtt, bench_ipcx_sem_op, bench_ipcx_sem_op2;
extern const struct bench_ops bench_ipcx_chan_rtt_spin, bench_ipcx_chan_rtt_adaptive,
        bench_ipcx_chan_rtt_sleep, bench_ipcx_chan_rtt_1m, bench_ipcx_topic_rtt,
        bench_ipcx_chan_tput_64, bench_ipcx_chan_tput_1m, bench_ipcx_topic_fanout_1,
        bench_ipcx_topic_fanout_4, bench_ipcx_topic_fanout_16;

extern const struct bench_ops bench_ipcx_chan_rtt_spin, bench_ipcx_chan_rtt_adaptive,
        bench_ipcx_chan_rtt_sleep, bench_ipcx_chan_rtt_zc, bench_ipcx_chan_tput_copy,
        bench_ipcx_chan_tput_full;
extern const struct bench_ops bench_ipcx_topic_rtt, bench_ipcx_topic_fanout_1,
        bench_ipcx_topic_fanout_4, bench_ipcx_topic_fanout_16;
extern const struct bench_ops bench_ipcx_region_read, bench_ipcx_mutexcopy_read;
extern const struct bench_ops bench_ipcx_fd_rtt, bench_ipcx_waitset_rtt;

#endif
