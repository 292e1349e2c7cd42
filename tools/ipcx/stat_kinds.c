/* SPDX-License-Identifier: MIT */
/* The kinds that `ipcx stat` knows how to describe; one line per kind, NULL-terminated. */
#include <stddef.h>

#include "cli.h"

const struct cli_kind_stat *const cli_kind_stats[] = {
        &cli_stat_event,
        &cli_stat_mutex,
        &cli_stat_semset,
        &cli_stat_chan,
        &cli_stat_topic,
        &cli_stat_region,
        NULL,
};
