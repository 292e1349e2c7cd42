/* SPDX-License-Identifier: MIT */
/* Topics from the shell: ipcx topic NAME create, ipcx pub, ipcx sub, and topic's stat. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static int run_topic(int argc, char **argv)
{
	struct ipcx_topic_attr a = {0, 0, 0};
	unsigned mode = 0;
	ipcx_topic *t;
	int r;

	if (argc < 3 || strcmp(argv[2], "create") != 0)
		return cli_usage(&cli_cmd_topic, "expected NAME create");
	for (int i = 3; i < argc; i++) {
		bool more = i + 1 < argc;
		if (strcmp(argv[i], "--capacity") == 0 && more) {
			if (!cli_parse_size(argv[++i], &a.capacity))
				return cli_usage(&cli_cmd_topic, "bad --capacity '%s'", argv[i]);
		} else if (strcmp(argv[i], "--max-msg") == 0 && more) {
			if (!cli_parse_size(argv[++i], &a.max_msg))
				return cli_usage(&cli_cmd_topic, "bad --max-msg '%s'", argv[i]);
		} else if (strcmp(argv[i], "--mode") == 0 && more) {
			if (!cli_parse_mode(argv[++i], &mode))
				return cli_usage(&cli_cmd_topic, "bad --mode '%s'", argv[i]);
		} else if (strcmp(argv[i], "--reliable") == 0) {
			a.flags |= IPCX_TOPIC_RELIABLE;
		} else {
			return cli_usage(&cli_cmd_topic, "unexpected argument '%s'", argv[i]);
		}
	}
	r = ipcx_topic_open(argv[1], IPCX_CREATE | IPCX_EXCL, (mode_t)mode, &a, &t);
	if (r < 0)
		return cli_fail(r, "%s", argv[1]);
	ipcx_topic_close(t);
	return 0;
}

const struct cli_cmd cli_cmd_topic = {
        "topic",
        run_topic,
        "topic NAME create [--capacity BYTES] [--max-msg BYTES] [--reliable] [--mode MODE]",
        "Creates a topic: every subscriber gets every message. Lossy by default (publishers\n"
        "never wait; a subscriber that falls a buffer behind is told how many it missed);\n"
        "--reliable makes publishers wait for the slowest live subscriber. Sizes as for chan.",
};

static int open_topic(const char *name, void **ret)
{
	ipcx_topic *h;
	int r = ipcx_topic_open(name, 0, 0, NULL, &h);

	if (r >= 0)
		*ret = h;
	return r;
}

static int send_topic(void *h, const void *msg, size_t len, int64_t timeout_ns)
{
	return ipcx_topic_publish(h, msg, len, timeout_ns);
}

static void close_topic(void *h)
{
	ipcx_topic_close(h);
}

static int run_pub(int argc, char **argv)
{
	static const struct cli_sender s = {"publish", open_topic, send_topic, close_topic};

	return cli_run_sender(&cli_cmd_pub, &s, argc, argv);
}

const struct cli_cmd cli_cmd_pub = {
        "pub",
        run_pub,
        "pub NAME [--size N] [--timeout S] [MSG...]",
        "Publishes each MSG; with none, each line of standard input, or with --size N each\n"
        "block of N bytes. In a reliable topic waits for the slowest subscriber, at most S\n"
        "seconds per message with --timeout.",
};

static int run_sub(int argc, char **argv)
{
	int64_t timeout = IPCX_FOREVER;
	uint64_t count = 0, got = 0, missed, total_missed = 0;
	bool raw = false, counted = false;
	unsigned flags = 0;
	const char *name = NULL;
	ipcx_topic *t;
	const void *p;
	size_t len;
	int r;

	for (int i = 1; i < argc; i++) {
		bool more = i + 1 < argc;
		if (strcmp(argv[i], "-n") == 0 && more) {
			if (!cli_parse_size(argv[++i], &count))
				return cli_usage(&cli_cmd_sub, "bad -n '%s'", argv[i]);
			counted = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && more) {
			timeout = cli_parse_seconds(argv[++i]);
			if (timeout < 0)
				return cli_usage(&cli_cmd_sub, "bad --timeout '%s'", argv[i]);
		} else if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
		} else if (strcmp(argv[i], "--from-oldest") == 0) {
			flags |= IPCX_TOPIC_FROM_OLDEST;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			return cli_usage(&cli_cmd_sub, "unexpected argument '%s'", argv[i]);
		}
	}
	if (!name)
		return cli_usage(&cli_cmd_sub, "missing NAME");
	r = ipcx_topic_open(name, 0, 0, NULL, &t);
	if (r < 0)
		return cli_fail(r, "%s", name);
	r = ipcx_topic_subscribe(t, flags);
	if (r < 0) {
		ipcx_topic_close(t);
		return cli_fail(r, "subscribe to %s", name);
	}
	while (!counted || got < count) {
		r = ipcx_topic_peek(t, timeout, &p, &len, &missed);
		if (r < 0)
			break;
		total_missed += missed;
		fwrite(p, 1, len, stdout);
		if (!raw)
			fputc('\n', stdout);
		/* Lossy: what was written may have been overwritten meanwhile; it then counts
		 * as missed (reported with the next message), as a reader of the stream should
		 * know. */
		ipcx_topic_release(t);
		got++;
	}
	fflush(stdout);
	ipcx_topic_close(t);
	if (total_missed)
		fprintf(stderr, "ipcx sub: %s: missed %" PRIu64 " messages\n", name, total_missed);
	if (r < 0 && !(!counted && (r == -ETIMEDOUT || r == -EAGAIN)))
		return cli_fail(r, "receive from %s (%" PRIu64 " received)", name, got);
	return 0;
}

const struct cli_cmd cli_cmd_sub = {
        "sub",
        run_sub,
        "sub NAME [-n COUNT] [--timeout S] [--from-oldest] [--raw]",
        "Subscribes and writes each message to standard output followed by a newline (with\n"
        "--raw, the bytes alone), starting at the newest message published so far, or at the\n"
        "oldest one kept with --from-oldest. Stops after COUNT messages with -n, or when no\n"
        "message comes for S seconds (--timeout). Messages missed because the topic is lossy\n"
        "and this subscriber fell behind are counted on standard error.",
};

static int print_topic(const char *name, bool json)
{
	struct ipcx_topic_sub subs[IPCX_MAX_ATTACH];
	struct ipcx_topic_stats s;
	ipcx_topic *t;
	int n, r = ipcx_topic_open(name, 0, 0, NULL, &t);

	if (r < 0)
		return r;
	n = ipcx_topic_stats(t, &s, subs, IPCX_MAX_ATTACH);
	ipcx_topic_close(t);
	if (n < 0)
		return n;
	if (n > IPCX_MAX_ATTACH)
		n = IPCX_MAX_ATTACH;
	if (json) {
		printf(",\"capacity\":%" PRIu64 ",\"max_msg\":%" PRIu64 ",\"reliable\":%s"
		       ",\"published\":%" PRIu64 ",\"retained\":%" PRIu64 ",\"bytes_used\":%" PRIu64
		       ",\"subscribers\":%u,\"dropped_subscribers\":%" PRIu64 ",\"subs\":[",
		       s.capacity, s.max_msg, s.reliable ? "true" : "false", s.published,
		       s.retained, s.bytes_used, s.subscribers, s.dropped_subscribers);
		for (int i = 0; i < n; i++)
			printf("%s{\"pid\":%d,\"alive\":%s,\"lag\":%" PRIu64 "}", i ? "," : "",
			       (int)subs[i].pid, subs[i].alive ? "true" : "false", subs[i].lag);
		printf("]");
	} else {
		printf("capacity:  %" PRIu64 " bytes, messages up to %" PRIu64 " bytes, %s\n"
		       "published: %" PRIu64 " messages, %" PRIu64 " kept (%" PRIu64 " bytes)\n"
		       "subscribers: %u live, %" PRIu64 " dropped\n",
		       s.capacity, s.max_msg, s.reliable ? "reliable" : "lossy", s.published,
		       s.retained, s.bytes_used, s.subscribers, s.dropped_subscribers);
		for (int i = 0; i < n; i++)
			printf("  pid %d %s lag %" PRIu64 "\n", (int)subs[i].pid,
			       subs[i].alive ? "alive" : "dead", subs[i].lag);
	}
	return 0;
}

const struct cli_kind_stat cli_stat_topic = {IPCX_KIND_TOPIC, print_topic};
