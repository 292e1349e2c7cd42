/* SPDX-License-Identifier: MIT */
/* The peer libraries' cases; each file builds an "unavailable" stub when its library is missing. */
#ifndef IPCX_BENCH_PEERS_H
#define IPCX_BENCH_PEERS_H

#include "bench.h"

extern const struct bench_ops bench_zmq_rtt, bench_zmq_tput, bench_nng_rtt, bench_iox_rtt;

#endif
