/* SPDX-License-Identifier: MIT */
/* Shared helpers of the ipcx command-line tool. */
#ifndef IPCX_TOOL_CLI_H
#define IPCX_TOOL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit statuses: a failed operation is 1, bad usage is 2. */
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the command's name */
	const char *usage;                 /* one line, after "ipcx " */
	const char *help;                  /* what it does, printed by --help */
};

/* Prints "ENAME: what: strerror" on stderr and returns EXIT_FAIL. err is a -errno. */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "usage: ..." for cmd on stderr and returns EXIT_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* True when argv holds --help or -h; prints the command's help to stdout. */
bool cli_wants_help(const struct cli_cmd *cmd, int argc, char **argv);

/* Parses a number of seconds ("1.5") into nanoseconds; -1 when malformed. */
int64_t cli_parse_seconds(const char *s);

/* Parses an unsigned integer with an optional K/M/G suffix (powers of 1024). */
bool cli_parse_size(const char *s, uint64_t *ret);

/* Parses an octal file mode. */
bool cli_parse_mode(const char *s, unsigned *ret);

/* Writes s as a JSON string, quotes included. */
void cli_json_string(FILE *f, const char *s);

/*
 * What `ipcx stat` adds for each kind: print the kind's own state of the object called name,
 * as "key: value" lines, or with json as the members of a JSON object (",\"key\":value..."
 * appended after the common members). Returns 0 or -errno. Each kind's file defines its
 * entry; stat_kinds.c lists them.
 */
struct cli_kind_stat {
	int kind;
	int (*print)(const char *name, bool json);
};
extern const struct cli_kind_stat *const cli_kind_stats[];
extern const struct cli_kind_stat cli_stat_event, cli_stat_mutex, cli_stat_semset, cli_stat_region;

/*
 * `ipcx send` and `ipcx pub`: NAME [--size N] [--timeout S] [MSG...]. Each MSG is one message;
 * with none, each line of stdin (or each block of N bytes) is. s says how to open, send
 * through and close the kind's handle. Returns the exit status.
 */
struct cli_sender {
	const char *verb; /* for the error message: "send", "publish" */
	int (*open)(const char *name, void **ret_handle);
	int (*send)(void *handle, const void *msg, size_t len, int64_t timeout_ns);
	void (*close)(void *handle);
};
int cli_run_sender(const struct cli_cmd *cmd, const struct cli_sender *s, int argc, char **argv);

/*
 * The whole tool: dispatches argv[1] to its command and returns the exit status. main()
 * (entry.c) only calls it, so that the argument fuzzer (fuzz/fuzz_cli.c) can run the tool
 * in-process; nothing on the way calls exit().
 */
int cli_main(int argc, char **argv);

/* The commands, each defined in its own file. */
extern const struct cli_cmd cli_cmd_ls, cli_cmd_stat, cli_cmd_rm, cli_cmd_gc, cli_cmd_bench;
extern const struct cli_cmd cli_cmd_event, cli_cmd_mutex, cli_cmd_sem, cli_cmd_region;
extern const struct cli_cmd cli_cmd_chan, cli_cmd_send, cli_cmd_recv;
extern const struct cli_cmd cli_cmd_topic, cli_cmd_pub, cli_cmd_sub;
extern const struct cli_kind_stat cli_stat_chan, cli_stat_topic;

#endif
