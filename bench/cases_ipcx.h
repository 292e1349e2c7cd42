/* SPDX-License-Identifier: MIT */
/* The operations of ipcx's own cases, one file per kind, listed in cases_ipcx.c. */
#ifndef IPCX_BENCH_CASES_IPCX_H
#define IPCX_BENCH_CASES_IPCX_H

#include "bench.h"

/* Points IPCX_DIR at a private directory for the run (removed at exit), so the benchmark
 * never touches a user's objects and leaves nothing behind. Returns 0 or -errno. */
int bench_ipcx_dir(struct bench_env *e);

/* The object name for a case's object number i: "<tag>-<i>". */
const char *bench_ipcx_name(struct bench_env *e, int i);

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
