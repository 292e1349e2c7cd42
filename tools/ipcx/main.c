/* SPDX-License-Identifier: MIT */
/* ipcx: inspect and manage ipcx objects. The command table and its dispatch. */
#include <stdio.h>
#include <string.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static const struct cli_cmd *const commands[] = {
        &cli_cmd_ls,    &cli_cmd_stat,  &cli_cmd_rm,  &cli_cmd_gc,   &cli_cmd_bench,
        &cli_cmd_event, &cli_cmd_mutex, &cli_cmd_sem, &cli_cmd_chan, &cli_cmd_send,
        &cli_cmd_recv,  &cli_cmd_topic, &cli_cmd_pub, &cli_cmd_sub,  &cli_cmd_region,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipcx COMMAND [ARGS...]    (ipcx COMMAND --help for more)\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  ipcx %s\n", commands[i]->usage);
	fprintf(f,
	        "\nObjects live in $IPCX_DIR, else /dev/shm/ipcx (now: %s).\n"
	        "Exit status: 0 success, 1 a failed operation, 2 bad usage.\n",
	        ipcx_dir());
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ipcx %d.%d.%d\n", IPCX_VERSION_MAJOR, IPCX_VERSION_MINOR,
		       IPCX_VERSION_PATCH);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i]->name) == 0) {
			if (cli_wants_help(commands[i], argc - 1, argv + 1))
				return 0;
			return commands[i]->run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "ipcx: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
