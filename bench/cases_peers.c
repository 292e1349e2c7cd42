/* SPDX-License-Identifier: MIT */
/* The libraries a user would pick instead of ipcx, as Debian packages them. */
#include "peers.h"

#define SPIN_FLOOR "floor.spin.rtt"
#define FUTEX_FLOOR "floor.futex.rtt"
const struct bench_case bench_cases_peers[] = {
        {"zmq.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &bench_zmq_rtt, NULL},
        {"zmq.tput.64", BENCH_TPUT, "tput.64", NULL, 64, &bench_zmq_tput, NULL},
        {"nng.rtt", BENCH_RTT, "rtt", FUTEX_FLOOR, 64, &bench_nng_rtt, NULL},
        /* Busy-polling, so it is held against the spinning floor. */
        {"iceoryx.rtt", BENCH_RTT, "rtt", SPIN_FLOOR, 64, &bench_iox_rtt, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
};
