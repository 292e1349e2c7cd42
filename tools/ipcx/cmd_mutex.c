/* SPDX-License-Identifier: MIT */
/* `ipcx mutex`: create and lock robust mutexes; their `ipcx stat`. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Locks, maybe recovers, holds, unlocks. */
static int lock_op(ipcx_mutex *mx, const char *name, int64_t timeout, int64_t hold, bool recover)
{
	int r = ipcx_mutex_lock(mx, timeout);

	if (r == -EOWNERDEAD) {
		if (!recover)
			/* Exiting still holding it leaves it owner-dead for the next locker,
			 * exactly as we found it. */
			return cli_fail(r, "%s: its owner died (--recover marks it consistent)",
			                name);
		r = ipcx_mutex_consistent(mx);
		if (r < 0)
			return cli_fail(r, "consistent %s", name);
		fprintf(stderr, "ipcx: %s: its owner died; marked consistent\n", name);
	} else if (r < 0) {
		return cli_fail(r, "lock %s", name);
	}
	if (hold > 0)
		sleep_ns(hold);
	r = ipcx_mutex_unlock(mx);
	return r < 0 ? cli_fail(r, "unlock %s", name) : 0;
}

static int run_mutex(int argc, char **argv)
{
	int64_t timeout = IPCX_FOREVER, hold = 0;
	bool recover = false, create;
	unsigned mode = 0;
	const char *name, *op;
	ipcx_mutex *mx;
	int r, status;

	if (argc < 3)
		return cli_usage(&cli_cmd_mutex, "missing %s", argc < 2 ? "NAME" : "operation");
	name = argv[1];
	op = argv[2];
	create = strcmp(op, "create") == 0;
	if (!create && strcmp(op, "lock") != 0)
		return cli_usage(&cli_cmd_mutex, "unknown operation '%s'", op);
	for (int i = 3; i < argc; i++) {
		int64_t *t = strcmp(argv[i], "--timeout") == 0 ? &timeout
		             : strcmp(argv[i], "--hold") == 0  ? &hold
		                                               : NULL;
		if (!create && t && i + 1 < argc) {
			*t = cli_parse_seconds(argv[++i]);
			if (*t < 0)
				return cli_usage(&cli_cmd_mutex, "bad %s '%s'", argv[i - 1],
				                 argv[i]);
		} else if (!create && strcmp(argv[i], "--recover") == 0) {
			recover = true;
		} else if (create && strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			if (!cli_parse_mode(argv[++i], &mode))
				return cli_usage(&cli_cmd_mutex, "bad --mode '%s'", argv[i]);
		} else {
			return cli_usage(&cli_cmd_mutex, "unexpected argument '%s'", argv[i]);
		}
	}
	r = ipcx_mutex_open(name, create ? IPCX_CREATE | IPCX_EXCL : 0, mode, &mx);
	if (r < 0)
		return cli_fail(r, "%s %s", create ? "create" : "open", name);
	status = create ? 0 : lock_op(mx, name, timeout, hold, recover);
	ipcx_mutex_close(mx);
	return status;
}

const struct cli_cmd cli_cmd_mutex = {
        "mutex",
        run_mutex,
        "mutex NAME create [--mode MODE] | lock [--timeout S] [--hold S] [--recover]",
        "Works on a robust mutex:\n"
        "  create  makes a new, unlocked mutex (EEXIST if the name is taken)\n"
        "  lock    locks it (waiting up to --timeout S), holds it for --hold S seconds, and\n"
        "          unlocks it. If its owner died holding it, exits 1 with EOWNERDEAD and leaves\n"
        "          it so for the next locker, unless --recover marks it consistent first.\n"
        "ipcx stat NAME shows who holds it, whether that process lives, and whether the mutex\n"
        "is consistent.",
};

static int mutex_stat(const char *name, bool json)
{
	struct ipcx_mutex_state st;
	ipcx_mutex *mx;
	int r = ipcx_mutex_open(name, 0, 0, &mx);

	if (r < 0)
		return r;
	r = ipcx_mutex_get_state(mx, &st);
	ipcx_mutex_close(mx);
	if (r < 0)
		return r;
	if (json) {
		printf(",\"locked\":%s,\"holder\":\"%s\",\"holder_pid\":%d,\"holder_tid\":%d"
		       ",\"health\":\"%s\",\"waiters\":%s",
		       st.locked ? "true" : "false", ipcx_mutex_owner_name(st.owner),
		       (int)st.owner_pid, (int)st.owner_tid, ipcx_mutex_health_name(st.health),
		       st.waiters ? "true" : "false");
		return 0;
	}
	printf("locked:    %s\nholder:    %s", st.locked ? "yes" : "no",
	       ipcx_mutex_owner_name(st.owner));
	if (st.owner_pid || st.owner_tid)
		printf(" (pid %d, thread %d)", (int)st.owner_pid, (int)st.owner_tid);
	printf("\nhealth:    %s\nwaiters:   %s\n", ipcx_mutex_health_name(st.health),
	       st.waiters ? "yes" : "no");
	return 0;
}

const struct cli_kind_stat cli_stat_mutex = {IPCX_KIND_MUTEX, mutex_stat};
