/* SPDX-License-Identifier: MIT */
/* `ipcx bench` runs the benchmark harness, ipcx-bench, installed beside this tool. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int run_bench(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/ipcx-bench", dirname(self));
		argv[0] = path;
		execv(path, argv);
	}
	argv[0] = "ipcx-bench";
	execvp("ipcx-bench", argv);
	return cli_fail(-errno, "cannot run ipcx-bench");
}

const struct cli_cmd cli_cmd_bench = {
        "bench",
        run_bench,
        "bench [--quick] [--csv|--json] [--filter GLOB] [--rounds N]",
        "Measures ipcx side by side with the kernel's mechanisms and with peer libraries, in one\n"
        "run; see ipcx-bench --help.",
};
