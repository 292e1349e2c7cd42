/* SPDX-License-Identifier: MIT */
/* `ipcx region`: create, dump, write and watch regions; their `ipcx stat`. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "cli.h"

/* A dump of a busy region may need more tries than one read makes. */
#define DUMP_ROUNDS 1000

struct opts {
	uint64_t size, offset, length, count;
	bool have_offset, have_length, have_count;
	int64_t timeout;
	unsigned mode;
};

static int dump(ipcx_region *r, const char *name, const struct opts *o)
{
	uint64_t size = ipcx_region_size(r), len;
	uint8_t *buf;
	int ret = -EAGAIN;

	if (o->offset > size)
		return cli_fail(-EINVAL, "--offset %" PRIu64 " is beyond %s's %" PRIu64 " bytes",
		                o->offset, name, size);
	len = o->have_length ? o->length : size - o->offset;
	if (len > size - o->offset)
		return cli_fail(-EINVAL, "--length %" PRIu64 " runs past the end of %s", len, name);
	buf = malloc(len ? len : 1);
	if (!buf)
		return cli_fail(-ENOMEM, "dump %s", name);
	for (int i = 0; i < DUMP_ROUNDS && ret == -EAGAIN; i++)
		ret = ipcx_region_read(r, o->offset, buf, len, NULL);
	if (ret < 0) {
		free(buf);
		return cli_fail(ret, "read %s", name);
	}
	for (uint64_t done = 0; done < len;) {
		ssize_t n = write(STDOUT_FILENO, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return cli_fail(-errno, "write to standard output");
		}
		done += (uint64_t)n;
	}
	free(buf);
	return 0;
}

static int write_stdin(ipcx_region *r, const char *name, const struct opts *o)
{
	uint64_t size = ipcx_region_size(r), room, len = 0;
	uint8_t *buf;
	int ret;

	if (o->offset > size)
		return cli_fail(-EINVAL, "--offset %" PRIu64 " is beyond %s's %" PRIu64 " bytes",
		                o->offset, name, size);
	room = size - o->offset;
	/* One byte more than fits, to tell a too long input from one that fits exactly. */
	buf = malloc(room + 1);
	if (!buf)
		return cli_fail(-ENOMEM, "write %s", name);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, room + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return cli_fail(-errno, "read standard input");
		}
		if (n == 0)
			break;
		len += (uint64_t)n;
		if (len > room) {
			free(buf);
			return cli_fail(-EFBIG,
			                "the input is longer than the %" PRIu64
			                " bytes from offset %" PRIu64 " to the end of %s",
			                room, o->offset, name);
		}
	}
	ret = ipcx_region_write(r, o->offset, buf, len, o->timeout);
	if (ret == -EOWNERDEAD) {
		fprintf(stderr,
		        "ipcx: a writer of %s died in the middle of a write; the region "
		        "was repaired to its last published version\n",
		        name);
		ret = ipcx_region_write(r, o->offset, buf, len, o->timeout);
	}
	free(buf);
	return ret < 0 ? cli_fail(ret, "write %s", name) : 0;
}

static int watch(ipcx_region *r, const char *name, const struct opts *o)
{
	int64_t end = 0, left = IPCX_FOREVER;
	struct timespec ts;
	uint64_t seen = (uint64_t)ipcx_region_version(r), got = 0;
	int ret;

	if (o->timeout >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		end = ts.tv_sec * 1000000000LL + ts.tv_nsec + o->timeout;
	}
	while (!o->have_count || got < o->count) {
		if (o->timeout >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			left = end - (ts.tv_sec * 1000000000LL + ts.tv_nsec);
			if (left < 0)
				left = 0;
		}
		ret = ipcx_region_wait_change(r, seen, left, &seen);
		if ((ret == -ETIMEDOUT || ret == -EAGAIN) && !o->have_count)
			return 0; /* the watch lasted as long as asked */
		if (ret < 0)
			return cli_fail(ret == -EAGAIN ? -ETIMEDOUT : ret, "watch %s", name);
		printf("%" PRIu64 "\n", seen);
		fflush(stdout);
		got++;
	}
	return 0;
}

static int parse(int argc, char **argv, const char *op, struct opts *o)
{
	bool is_create = strcmp(op, "create") == 0, have_size = false;

	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_create && !have_size && a[0] != '-') {
			if (!cli_parse_size(a, &o->size) || o->size == 0)
				return cli_usage(&cli_cmd_region, "bad SIZE '%s'", a);
			have_size = true;
		} else if (is_create && strcmp(a, "--mode") == 0 && v) {
			if (!cli_parse_mode(v, &o->mode))
				return cli_usage(&cli_cmd_region, "bad --mode '%s'", v);
			i++;
		} else if ((!strcmp(op, "dump") || !strcmp(op, "write")) &&
		           strcmp(a, "--offset") == 0 && v) {
			if (!cli_parse_size(v, &o->offset))
				return cli_usage(&cli_cmd_region, "bad --offset '%s'", v);
			o->have_offset = true;
			i++;
		} else if (!strcmp(op, "dump") && strcmp(a, "--length") == 0 && v) {
			if (!cli_parse_size(v, &o->length))
				return cli_usage(&cli_cmd_region, "bad --length '%s'", v);
			o->have_length = true;
			i++;
		} else if ((!strcmp(op, "watch") || !strcmp(op, "write")) &&
		           strcmp(a, "--timeout") == 0 && v) {
			o->timeout = cli_parse_seconds(v);
			if (o->timeout < 0)
				return cli_usage(&cli_cmd_region, "bad --timeout '%s'", v);
			i++;
		} else if (!strcmp(op, "watch") && strcmp(a, "-n") == 0 && v) {
			if (!cli_parse_size(v, &o->count) || o->count == 0)
				return cli_usage(&cli_cmd_region, "bad -n '%s'", v);
			o->have_count = true;
			i++;
		} else {
			return cli_usage(&cli_cmd_region, "unexpected argument '%s'", a);
		}
	}
	if (is_create && !have_size)
		return cli_usage(&cli_cmd_region, "create needs a SIZE");
	return 0;
}

static int run_region(int argc, char **argv)
{
	static const char *const ops[] = {"create", "dump", "write", "watch"};
	struct opts o = {.timeout = IPCX_FOREVER};
	const char *name, *op;
	bool known = false;
	ipcx_region *r;
	int ret, status;

	if (argc < 3)
		return cli_usage(&cli_cmd_region, "missing %s", argc < 2 ? "NAME" : "operation");
	name = argv[1];
	op = argv[2];
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		known = known || strcmp(op, ops[i]) == 0;
	if (!known)
		return cli_usage(&cli_cmd_region, "unknown operation '%s'", op);
	status = parse(argc, argv, op, &o);
	if (status)
		return status;

	if (strcmp(op, "create") == 0) {
		ret = ipcx_region_open(name, IPCX_CREATE | IPCX_EXCL, o.mode, o.size, &r);
		if (ret < 0)
			return cli_fail(ret, "create %s", name);
		ipcx_region_close(r);
		return 0;
	}
	ret = ipcx_region_open(name, 0, 0, 0, &r);
	if (ret < 0)
		return cli_fail(ret, "%s", name);
	if (strcmp(op, "dump") == 0)
		status = dump(r, name, &o);
	else if (strcmp(op, "write") == 0)
		status = write_stdin(r, name, &o);
	else
		status = watch(r, name, &o);
	ipcx_region_close(r);
	return status;
}

const struct cli_cmd cli_cmd_region = {
        "region",
        run_region,
        "region NAME create SIZE [--mode MODE] | dump [--offset N] [--length N] | "
        "write [--offset N] [--timeout S] < DATA | watch [--timeout S] [-n COUNT]",
        "Works on a region, shared memory with a writer lock and snapshot reads:\n"
        "  create SIZE  makes a new region of SIZE bytes (K, M, G suffixes), all zero; it\n"
        "               takes 2 x SIZE of memory (EEXIST if the name is taken)\n"
        "  dump         writes the bytes of the latest published version to standard\n"
        "               output: all of them, or --length N bytes from --offset N\n"
        "  write        writes standard input at --offset N (default 0) as one published\n"
        "               write (EFBIG if it does not fit); --timeout S limits the wait for\n"
        "               the writer lock. If a writer died holding it, says so and writes\n"
        "  watch        prints each new version as it is published, one per line (versions\n"
        "               published in quick succession may be printed as the last of them);\n"
        "               -n COUNT stops after COUNT versions (exit 1, ETIMEDOUT, if --timeout\n"
        "               S ends it first); without -n, --timeout S ends the watch (exit 0)\n"
        "ipcx stat NAME shows its size, version, whether a write is in progress, the lock\n"
        "holder (alive or dead) and the last writer.",
};

static int region_stat(const char *name, bool json)
{
	struct ipcx_region_state st;
	ipcx_region *r;
	int ret = ipcx_region_open(name, 0, 0, 0, &r);

	if (ret < 0)
		return ret;
	ret = ipcx_region_get_state(r, &st);
	ipcx_region_close(r);
	if (ret < 0)
		return ret;
	if (json) {
		printf(",\"region_size\":%" PRIu64 ",\"version\":%" PRIu64
		       ",\"writing\":%s,\"holder\":\"%s\",\"holder_pid\":%d,\"holder_tid\":%d"
		       ",\"last_writer_pid\":%d,\"last_write_ns\":%" PRId64 ",\"waiters\":%u",
		       st.size, st.version, st.writing ? "true" : "false",
		       ipcx_region_owner_name(st.owner), (int)st.owner_pid, (int)st.owner_tid,
		       (int)st.last_writer_pid, st.last_write_ns, st.waiters);
		return 0;
	}
	printf("region size: %" PRIu64 " bytes (x2 in memory)\nversion:   %" PRIu64
	       "\nwriting:   %s\nholder:    %s",
	       st.size, st.version, st.writing ? "yes" : "no", ipcx_region_owner_name(st.owner));
	if (st.owner_pid || st.owner_tid)
		printf(" (pid %d, thread %d)", (int)st.owner_pid, (int)st.owner_tid);
	printf("\nlast writer: ");
	if (st.last_writer_pid) {
		time_t t = (time_t)(st.last_write_ns / 1000000000);
		struct tm tm;
		char when[64] = "?";

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("pid %d at %s\n", (int)st.last_writer_pid, when);
	} else {
		printf("none\n");
	}
	printf("waiters:   %u\n", st.waiters);
	return 0;
}

const struct cli_kind_stat cli_stat_region = {IPCX_KIND_REGION, region_stat};
