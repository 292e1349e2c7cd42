/* SPDX-License-Identifier: MIT */
/* `ipcx sem`: semaphore sets from the shell, and their state for `ipcx stat`. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static bool parse_int(const char *s, long lo, long hi, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

/* IDX:DELTA[:FLAGS] with FLAGS from "n" (nowait) and "u" (undo). */
static bool parse_sembuf(const char *s, struct ipcx_sembuf *ret)
{
	char buf[64], *delta, *flags;
	long idx, d;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	delta = strchr(buf, ':');
	if (!delta)
		return false;
	*delta++ = '\0';
	flags = strchr(delta, ':');
	if (flags)
		*flags++ = '\0';
	if (!parse_int(buf, 0, UINT32_MAX, &idx) || !parse_int(delta, INT32_MIN, INT32_MAX, &d))
		return false;
	ret->index = (uint32_t)idx;
	ret->delta = (int32_t)d;
	ret->flags = 0;
	for (; flags && *flags; flags++) {
		if (*flags == 'n')
			ret->flags |= IPCX_SEM_NOWAIT;
		else if (*flags == 'u')
			ret->flags |= IPCX_SEM_UNDO;
		else
			return false;
	}
	return true;
}

static int sem_create(const char *name, int argc, char **argv)
{
	unsigned mode = 0;
	long n = -1, value = 0;
	ipcx_semset *s = NULL;
	int r;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--value") == 0 && i + 1 < argc) {
			if (!parse_int(argv[++i], 0, IPCX_SEM_VALUE_MAX, &value))
				return cli_usage(&cli_cmd_sem, "bad --value '%s'", argv[i]);
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			if (!cli_parse_mode(argv[++i], &mode))
				return cli_usage(&cli_cmd_sem, "bad --mode '%s'", argv[i]);
		} else if (n < 0 && parse_int(argv[i], 1, IPCX_SEM_MAX_SEMS, &n)) {
			continue;
		} else {
			return cli_usage(&cli_cmd_sem, "unexpected argument '%s'", argv[i]);
		}
	}
	if (n < 0)
		return cli_usage(&cli_cmd_sem, "create needs NSEMS (1..%d)", IPCX_SEM_MAX_SEMS);
	r = ipcx_semset_open(name, IPCX_CREATE | IPCX_EXCL, (mode_t)mode, (uint32_t)n, (int)value,
	                     &s);
	if (r < 0)
		return cli_fail(r, "create %s", name);
	ipcx_semset_close(s);
	return 0;
}

static int sem_op(ipcx_semset *s, const char *name, int argc, char **argv)
{
	struct ipcx_sembuf *ops = calloc((size_t)argc + 1, sizeof(*ops));
	int64_t timeout = IPCX_FOREVER;
	size_t n = 0;
	int r;

	if (!ops)
		return cli_fail(-ENOMEM, "op");
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout = cli_parse_seconds(argv[++i]);
			if (timeout < 0) {
				free(ops);
				return cli_usage(&cli_cmd_sem, "bad --timeout '%s'", argv[i]);
			}
		} else if (!parse_sembuf(argv[i], &ops[n++])) {
			free(ops);
			return cli_usage(&cli_cmd_sem, "bad operation '%s' (IDX:DELTA[:FLAGS])",
			                 argv[i]);
		}
	}
	if (n == 0) {
		free(ops);
		return cli_usage(&cli_cmd_sem, "op needs at least one IDX:DELTA[:FLAGS]");
	}
	r = ipcx_semset_op(s, ops, n, timeout);
	free(ops);
	return r < 0 ? cli_fail(r, "op on %s", name) : 0;
}

static int sem_values(ipcx_semset *s, const char *name, bool set, int argc, char **argv)
{
	int n = ipcx_semset_nsems(s), r;
	int32_t *v = calloc((size_t)n, sizeof(*v));

	if (!v)
		return cli_fail(-ENOMEM, "%s", name);
	if (!set) {
		r = ipcx_semset_getall(s, v, (size_t)n);
		for (int i = 0; r >= 0 && i < n; i++)
			printf("%s%d", i ? " " : "", v[i]);
		if (r >= 0)
			printf("\n");
	} else {
		long x;

		if (argc != n) {
			free(v);
			return cli_usage(&cli_cmd_sem, "setall needs %d values, got %d", n, argc);
		}
		for (int i = 0; i < n; i++) {
			if (!parse_int(argv[i], INT32_MIN, INT32_MAX, &x)) {
				free(v);
				return cli_usage(&cli_cmd_sem, "bad value '%s'", argv[i]);
			}
			v[i] = (int32_t)x;
		}
		r = ipcx_semset_setall(s, v, (size_t)n);
	}
	free(v);
	return r < 0 ? cli_fail(r, "%s %s", set ? "setall" : "getall", name) : 0;
}

static int run_sem(int argc, char **argv)
{
	const char *name, *verb;
	ipcx_semset *s = NULL;
	long idx = 0, val = 0;
	int r;

	if (argc < 3)
		return cli_usage(&cli_cmd_sem, "missing NAME or command");
	name = argv[1];
	verb = argv[2];
	argc -= 3;
	argv += 3;
	if (strcmp(verb, "create") == 0)
		return sem_create(name, argc, argv);

	/* Every other verb works on an existing set. */
	if (strcmp(verb, "op") && strcmp(verb, "getall") && strcmp(verb, "setall") &&
	    strcmp(verb, "get") && strcmp(verb, "set") && strcmp(verb, "ncnt") &&
	    strcmp(verb, "zcnt") && strcmp(verb, "pid"))
		return cli_usage(&cli_cmd_sem, "unknown command '%s'", verb);
	if (strcmp(verb, "op") && strcmp(verb, "setall") && strcmp(verb, "getall")) {
		if (argc != (strcmp(verb, "set") == 0 ? 2 : 1) ||
		    !parse_int(argv[0], 0, UINT32_MAX, &idx))
			return cli_usage(&cli_cmd_sem, "%s needs IDX%s", verb,
			                 strcmp(verb, "set") == 0 ? " VALUE" : "");
		if (strcmp(verb, "set") == 0 && !parse_int(argv[1], INT32_MIN, INT32_MAX, &val))
			return cli_usage(&cli_cmd_sem, "bad value '%s'", argv[1]);
	} else if (strcmp(verb, "getall") == 0 && argc) {
		return cli_usage(&cli_cmd_sem, "getall takes no arguments");
	}
	r = ipcx_semset_open(name, 0, 0, 0, 0, &s);
	if (r < 0)
		return cli_fail(r, "%s", name);
	if (strcmp(verb, "op") == 0)
		r = sem_op(s, name, argc, argv);
	else if (strcmp(verb, "getall") == 0 || strcmp(verb, "setall") == 0)
		r = sem_values(s, name, verb[0] == 's', argc, argv);
	else if (strcmp(verb, "set") == 0)
		r = ipcx_semset_set(s, (uint32_t)idx, (int)val);
	else {
		r = verb[0] == 'g'   ? ipcx_semset_get(s, (uint32_t)idx)
		    : verb[0] == 'n' ? ipcx_semset_ncnt(s, (uint32_t)idx)
		    : verb[0] == 'z' ? ipcx_semset_zcnt(s, (uint32_t)idx)
		                     : ipcx_semset_pid(s, (uint32_t)idx);
		if (r >= 0) {
			printf("%d\n", r);
			r = 0;
		}
	}
	if (r < 0 && strcmp(verb, "op") && strcmp(verb, "getall") && strcmp(verb, "setall"))
		r = cli_fail(r, "%s %s", verb, name);
	ipcx_semset_close(s);
	return r;
}

const struct cli_cmd cli_cmd_sem = {
        "sem",
        run_sem,
        "sem NAME create NSEMS [--value V] [--mode MODE] | op IDX:DELTA[:FLAGS]... [--timeout S]"
        " | get IDX | getall | set IDX V | setall V... | ncnt IDX | zcnt IDX | pid IDX",
        "Semaphore sets with System V semantics.\n"
        "  create NSEMS      a new set of NSEMS semaphores (1..65536), each --value V (0)\n"
        "  op IDX:DELTA[:FLAGS]...\n"
        "                    one atomic operation: DELTA > 0 adds, < 0 waits for and takes,\n"
        "                    0 waits for zero; FLAGS: n (nowait: fail with EAGAIN instead of\n"
        "                    waiting), u (undo: reverted when this command exits, so it only\n"
        "                    matters while the command waits). Waits forever unless --timeout\n"
        "                    S. Example: ipcx sem s op 0:-1 1:+1\n"
        "  get IDX, getall, set IDX V, setall V..., ncnt IDX, zcnt IDX, pid IDX\n"
        "                    as semctl: values, waiters for an increase / for zero, last pid\n"
        "On failure the errno name comes first on stderr (EAGAIN: ...) and the exit status is 1.",
};

/* ---- `ipcx stat` for a semaphore set: runs of equal state, so huge sets stay short ---- */

static void print_run(uint32_t first, uint32_t count, const struct ipcx_sem_info *in, bool json,
                      uint32_t *runs)
{
	char range[32];

	if (json) {
		printf("%s{\"index\":%u,\"count\":%u,\"value\":%d,\"ncnt\":%u,\"zcnt\":%u,"
		       "\"pid\":%d}",
		       *runs ? "," : "", first, count, in->value, in->ncnt, in->zcnt, (int)in->pid);
	} else {
		if (count == 1)
			snprintf(range, sizeof(range), "%u", first);
		else
			snprintf(range, sizeof(range), "%u-%u", first, first + count - 1);
		printf("  %-13s %6d %5u %5u %8d\n", range, in->value, in->ncnt, in->zcnt,
		       (int)in->pid);
	}
	(*runs)++;
}

static int sem_stat_print(const char *name, bool json)
{
	struct ipcx_sem_info chunk[1024], run = {0};
	ipcx_semset *s = NULL;
	uint32_t n, first = 0, runs = 0;
	int r = ipcx_semset_open(name, 0, 0, 0, 0, &s);

	if (r < 0)
		return r;
	n = (uint32_t)ipcx_semset_nsems(s);
	if (json)
		printf(",\"nsems\":%u,\"sems\":[", n);
	else
		printf("semaphores: %u\n  %-13s %6s %5s %5s %8s\n", n, "index", "value", "ncnt",
		       "zcnt", "last pid");
	/* Consecutive semaphores in the same state print as one row. Chunks are read at
	 * separate instants: fine for a look at a busy set. */
	for (uint32_t base = 0; base < n; base += 1024) {
		int got = ipcx_semset_stat(s, base, chunk, 1024);

		if (got < 0) {
			ipcx_semset_close(s);
			return got;
		}
		for (int j = 0; j < got; j++) {
			uint32_t i = base + (uint32_t)j;

			if (i > 0 && memcmp(&chunk[j], &run, sizeof(run)) == 0)
				continue;
			if (i > 0)
				print_run(first, i - first, &run, json, &runs);
			first = i;
			run = chunk[j];
		}
	}
	print_run(first, n - first, &run, json, &runs);
	if (json)
		printf("]");
	ipcx_semset_close(s);
	return 0;
}

const struct cli_kind_stat cli_stat_semset = {IPCX_KIND_SEMSET, sem_stat_print};
