/* SPDX-License-Identifier: MIT */
/* What `ipcx send` and `ipcx pub` share: their arguments and where their messages come from. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ipcx/common.h>

#include "cli.h"

/* Reads up to n bytes (or one line, without its newline, when n is 0) from stdin into *buf;
 * -1 at the end. */
static ssize_t read_msg(char **buf, size_t *cap, uint64_t n)
{
	size_t got = 0;

	if (n == 0) {
		ssize_t len = getline(buf, cap, stdin);
		if (len > 0 && (*buf)[len - 1] == '\n')
			len--;
		return len;
	}
	if (*cap < n) {
		char *p = realloc(*buf, n);
		if (!p)
			return -1;
		*buf = p;
		*cap = n;
	}
	while (got < n) {
		size_t k = fread(*buf + got, 1, n - got, stdin);
		if (k == 0)
			break;
		got += k;
	}
	return got ? (ssize_t)got : -1;
}

int cli_run_sender(const struct cli_cmd *cmd, const struct cli_sender *s, int argc, char **argv)
{
	int64_t timeout = IPCX_FOREVER;
	uint64_t size = 0;
	const char *name = NULL;
	int first = 0, r = 0;
	char *buf = NULL;
	size_t cap = 0;
	void *h;
	ssize_t len;

	for (int i = 1; i < argc; i++) {
		bool more = i + 1 < argc;
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		} else if (strcmp(argv[i], "--size") == 0 && more) {
			if (!cli_parse_size(argv[++i], &size) || size == 0)
				return cli_usage(cmd, "bad --size '%s'", argv[i]);
		} else if (strcmp(argv[i], "--timeout") == 0 && more) {
			timeout = cli_parse_seconds(argv[++i]);
			if (timeout < 0)
				return cli_usage(cmd, "bad --timeout '%s'", argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_usage(cmd, "unknown option '%s'", argv[i]);
		} else if (!name) {
			name = argv[i];
		} else {
			first = i;
			break;
		}
	}
	if (!name && first && first < argc)
		name = argv[first++];
	if (!name)
		return cli_usage(cmd, "missing NAME");
	r = s->open(name, &h);
	if (r < 0)
		return cli_fail(r, "%s", name);
	if (first && first < argc) {
		for (int i = first; i < argc && r == 0; i++)
			r = s->send(h, argv[i], strlen(argv[i]), timeout);
	} else {
		while (r == 0 && (len = read_msg(&buf, &cap, size)) >= 0)
			r = s->send(h, buf, (size_t)len, timeout);
	}
	free(buf);
	s->close(h);
	return r < 0 ? cli_fail(r, "%s to %s", s->verb, name) : 0;
}
