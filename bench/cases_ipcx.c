/* SPDX-License-Identifier: MIT */
/*
 * ipcx's own cases; the operations of each kind are in cases_ipcx_<kind>.c. A row whose kind is
 * not in the library yet is listed and skipped with its reason; fill one in by writing its
 * bench_ops (see bench.h) and putting it in place of NULL. Floors: spinning and adaptive waits are
 * held against floor.spin.rtt, pure sleeping against floor.futex.rtt, 1 MiB streams against memcpy.
 */
#include "cases_ipcx.h"

#define SPIN_FLOOR "floor.spin.rtt"
#define FUTEX_FLOOR "floor.futex.rtt"
#define NOT_YET "not built yet"

const struct bench_case bench_cases_ipcx[] = {
        {"ipcx.event.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 0, &bench_ipcx_event_rtt, NULL},
        {"ipcx.sem.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 0, &bench_ipcx_sem_rtt, NULL},
        {"ipcx.sem.op", BENCH_OP, "op", NULL, 0, &bench_ipcx_sem_op, NULL},
        {"ipcx.sem.op2", BENCH_OP, "op2", NULL, 0, &bench_ipcx_sem_op2, NULL},
        {"ipcx.mutex.op", BENCH_OP, "op", NULL, 0, &bench_ipcx_mutex_op, NULL},
        {"ipcx.region.read.64", BENCH_OP, "region.read.64", NULL, 64, &bench_ipcx_region_read,
         NULL},
        {"ipcx.mutexcopy.read.64", BENCH_OP, "region.read.64", NULL, 64, &bench_ipcx_mutexcopy_read,
         NULL},
        {"ipcx.region.read.4k", BENCH_OP, "region.read.4k", NULL, 4096, &bench_ipcx_region_read,
         NULL},
        {"ipcx.mutexcopy.read.4k", BENCH_OP, "region.read.4k", NULL, 4096,
         &bench_ipcx_mutexcopy_read, NULL},
        {"ipcx.chan.rtt.64.spin", BENCH_RTT, "rtt", SPIN_FLOOR, 64, &bench_ipcx_chan_rtt_spin,
         NULL},
        {"ipcx.chan.rtt.64.adaptive", BENCH_RTT, "rtt", SPIN_FLOOR, 64,
         &bench_ipcx_chan_rtt_adaptive, NULL},
        {"ipcx.chan.rtt.64.sleep", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &bench_ipcx_chan_rtt_sleep,
         NULL},
        {"ipcx.chan.rtt.1m.adaptive", BENCH_RTT, "rtt.1m", SPIN_FLOOR, 1 << 20,
         &bench_ipcx_chan_rtt_zc, NULL},
        {"ipcx.topic.rtt.64.adaptive", BENCH_RTT, "rtt", SPIN_FLOOR, 64, &bench_ipcx_topic_rtt,
         NULL},
        {"ipcx.chan.tput.64", BENCH_TPUT, "tput.64", NULL, 64, &bench_ipcx_chan_tput_copy, NULL},
        {"ipcx.chan.tput.1m", BENCH_TPUT, "tput.1m", "floor.memcpy.1m", 1 << 20,
         &bench_ipcx_chan_tput_full, NULL},
        {"ipcx.topic.fanout.1", BENCH_TPUT, "fanout", NULL, 64, &bench_ipcx_topic_fanout_1, NULL},
        {"ipcx.topic.fanout.4", BENCH_TPUT, "fanout", NULL, 64, &bench_ipcx_topic_fanout_4, NULL},
        {"ipcx.topic.fanout.16", BENCH_TPUT, "fanout", NULL, 64, &bench_ipcx_topic_fanout_16, NULL},
        /* Waiting as applications wait: a wake-up through a pollable descriptor in epoll
         * (always a sleep, so held against the futex floor), and through a wait-set of 8
         * events (adaptive, as ipcx.event.rtt). */
        {"ipcx.fd.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 0, &bench_ipcx_fd_rtt, NULL},
        {"ipcx.waitset.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 0, &bench_ipcx_waitset_rtt, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
};
