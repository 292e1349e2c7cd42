/* SPDX-License-Identifier: MIT */
/* Channels from the shell: ipcx chan NAME create, ipcx send, ipcx recv, and chan's stat. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static int run_chan(int argc, char **argv)
{
	struct ipcx_chan_attr a = {0, 0};
	unsigned mode = 0;
	ipcx_chan *c;
	int r;

	if (argc < 3 || strcmp(argv[2], "create") != 0)
		return cli_usage(&cli_cmd_chan, "expected NAME create");
	for (int i = 3; i < argc; i++) {
		bool more = i + 1 < argc;
		if (strcmp(argv[i], "--capacity") == 0 && more) {
			if (!cli_parse_size(argv[++i], &a.capacity))
				return cli_usage(&cli_cmd_chan, "bad --capacity '%s'", argv[i]);
		} else if (strcmp(argv[i], "--max-msg") == 0 && more) {
			if (!cli_parse_size(argv[++i], &a.max_msg))
				return cli_usage(&cli_cmd_chan, "bad --max-msg '%s'", argv[i]);
		} else if (strcmp(argv[i], "--mode") == 0 && more) {
			if (!cli_parse_mode(argv[++i], &mode))
				return cli_usage(&cli_cmd_chan, "bad --mode '%s'", argv[i]);
		} else {
			return cli_usage(&cli_cmd_chan, "unexpected argument '%s'", argv[i]);
		}
	}
	r = ipcx_chan_open(argv[1], IPCX_CREATE | IPCX_EXCL, (mode_t)mode, &a, &c);
	if (r < 0)
		return cli_fail(r, "%s", argv[1]);
	ipcx_chan_close(c);
	return 0;
}

const struct cli_cmd cli_cmd_chan = {
        "chan",
        run_chan,
        "chan NAME create [--capacity BYTES] [--max-msg BYTES] [--mode MODE]",
        "Creates a channel: a message queue that any number of processes send to and receive\n"
        "from, each message going to one receiver. --capacity is the buffer size (default 1M;\n"
        "rounded up to a power of two), --max-msg the largest message (default 64K, at most a\n"
        "quarter of a default-sized buffer), --mode the octal permissions (default 0600).\n"
        "Sizes take K, M, G suffixes. Fails with EEXIST if the name is taken.",
};

static int open_chan(const char *name, void **ret)
{
	ipcx_chan *h;
	int r = ipcx_chan_open(name, 0, 0, NULL, &h);

	if (r >= 0)
		*ret = h;
	return r;
}

static int send_chan(void *h, const void *msg, size_t len, int64_t timeout_ns)
{
	return ipcx_chan_send(h, msg, len, timeout_ns);
}

static void close_chan(void *h)
{
	ipcx_chan_close(h);
}

static int run_send(int argc, char **argv)
{
	static const struct cli_sender s = {"send", open_chan, send_chan, close_chan};

	return cli_run_sender(&cli_cmd_send, &s, argc, argv);
}

const struct cli_cmd cli_cmd_send = {
        "send",
        run_send,
        "send NAME [--size N] [--timeout S] [MSG...]",
        "Sends each MSG as one message; with none, each line of standard input (without its\n"
        "newline), or with --size N, each block of N bytes of it (the last may be shorter).\n"
        "Waits while the channel is full, at most S seconds per message with --timeout (0: do\n"
        "not wait; fails with EAGAIN). A message over the channel's maximum fails with EMSGSIZE.",
};

static int run_recv(int argc, char **argv)
{
	int64_t timeout = IPCX_FOREVER;
	uint64_t count = 0, got = 0;
	bool raw = false, counted = false;
	const char *name = NULL;
	ipcx_chan *c;
	const void *p;
	size_t len;
	int r;

	for (int i = 1; i < argc; i++) {
		bool more = i + 1 < argc;
		if (strcmp(argv[i], "-n") == 0 && more) {
			if (!cli_parse_size(argv[++i], &count))
				return cli_usage(&cli_cmd_recv, "bad -n '%s'", argv[i]);
			counted = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && more) {
			timeout = cli_parse_seconds(argv[++i]);
			if (timeout < 0)
				return cli_usage(&cli_cmd_recv, "bad --timeout '%s'", argv[i]);
		} else if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			return cli_usage(&cli_cmd_recv, "unexpected argument '%s'", argv[i]);
		}
	}
	if (!name)
		return cli_usage(&cli_cmd_recv, "missing NAME");
	r = ipcx_chan_open(name, 0, 0, NULL, &c);
	if (r < 0)
		return cli_fail(r, "%s", name);
	while (!counted || got < count) {
		r = ipcx_chan_peek(c, timeout, &p, &len);
		if (r < 0)
			break;
		/* Written straight from the channel's memory, then given back. */
		fwrite(p, 1, len, stdout);
		if (!raw)
			fputc('\n', stdout);
		ipcx_chan_release(c);
		got++;
	}
	fflush(stdout);
	ipcx_chan_close(c);
	/* Without -n, running out of time (or of messages, with --timeout 0) ends the stream. */
	if (r < 0 && !(!counted && (r == -ETIMEDOUT || r == -EAGAIN)))
		return cli_fail(r, "receive from %s (%" PRIu64 " received)", name, got);
	return 0;
}

const struct cli_cmd cli_cmd_recv = {
        "recv",
        run_recv,
        "recv NAME [-n COUNT] [--timeout S] [--raw]",
        "Receives messages and writes each to standard output followed by a newline (with\n"
        "--raw, the bytes alone). Stops after COUNT messages with -n; otherwise runs until no\n"
        "message comes for S seconds (--timeout; 0 takes what is there) or forever. With -n,\n"
        "a timeout before COUNT messages fails with ETIMEDOUT (EAGAIN for 0).",
};

static int print_chan(const char *name, bool json)
{
	struct ipcx_chan_stats s;
	ipcx_chan *c;
	int r = ipcx_chan_open(name, 0, 0, NULL, &c);

	if (r < 0)
		return r;
	r = ipcx_chan_stats(c, &s);
	ipcx_chan_close(c);
	if (r < 0)
		return r;
	if (json) {
		printf(",\"capacity\":%" PRIu64 ",\"max_msg\":%" PRIu64 ",\"depth\":%" PRIu64
		       ",\"in_flight\":%" PRIu64 ",\"bytes_used\":%" PRIu64 ",\"senders\":%u"
		       ",\"receivers\":%u,\"redelivered\":%" PRIu64 ",\"dropped\":%" PRIu64,
		       s.capacity, s.max_msg, s.depth, s.in_flight, s.bytes_used, s.senders,
		       s.receivers, s.redelivered, s.dropped);
	} else {
		printf("capacity:  %" PRIu64 " bytes, messages up to %" PRIu64 " bytes\n"
		       "depth:     %" PRIu64 " messages queued, %" PRIu64 " in flight\n"
		       "used:      %" PRIu64 " bytes\n"
		       "senders:   %u\nreceivers: %u\n"
		       "redelivered: %" PRIu64 "\ndropped:   %" PRIu64 "\n",
		       s.capacity, s.max_msg, s.depth, s.in_flight, s.bytes_used, s.senders,
		       s.receivers, s.redelivered, s.dropped);
	}
	return 0;
}

const struct cli_kind_stat cli_stat_chan = {IPCX_KIND_CHAN, print_chan};
