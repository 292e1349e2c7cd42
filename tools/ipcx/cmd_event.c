/* SPDX-License-Identifier: MIT */
/*
 * `ipcx event`: create, wait on, set, reset, pulse and notify events, listen for their
 * signals; their `ipcx stat`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipcx/ipcx.h>

#include "cli.h"

/*
 * Registers for SIGRTMIN and prints the setter's pid for each set or pulse: count of them
 * (0: until the timeout). A timeout ends a listen without a count quietly, and one with a
 * count that is not reached with ETIMEDOUT.
 */
static int listen_signals(ipcx_event *ev, uint64_t count, int64_t timeout, const char *name)
{
	int64_t end = 0;
	struct timespec ts;
	uint64_t got = 0;
	sigset_t set;
	siginfo_t si;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	r = ipcx_event_signal_register(ev, SIGRTMIN, NULL);
	if (r < 0)
		return cli_fail(r, "register for signals from %s", name);
	if (timeout >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		end = ts.tv_sec * 1000000000LL + ts.tv_nsec + timeout;
	}
	while (count == 0 || got < count) {
		int64_t left = INT64_MAX;

		if (timeout >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			left = end - (ts.tv_sec * 1000000000LL + ts.tv_nsec);
			if (left < 0)
				left = 0;
		}
		ts.tv_sec = left == INT64_MAX ? 86400 : left / 1000000000;
		ts.tv_nsec = left == INT64_MAX ? 0 : left % 1000000000;
		r = sigtimedwait(&set, &si, &ts);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && left != INT64_MAX) {
			if (count == 0)
				return 0; /* listened as long as asked */
			return cli_fail(-ETIMEDOUT, "listen to %s", name);
		}
		if (r < 0)
			continue; /* a day passed without a timeout: listen on */
		printf("signal from pid %d\n", (int)si.si_pid);
		fflush(stdout);
		got++;
	}
	return 0;
}

static int event_op(ipcx_event *ev, const char *op, const char *arg, int64_t timeout,
                    const char *name)
{
	int r;

	if (strcmp(op, "listen") == 0)
		return listen_signals(ev, arg ? strtoull(arg, NULL, 10) : 0, timeout, name);
	if (strcmp(op, "wait") == 0) {
		r = ipcx_event_wait(ev, timeout);
		return r < 0 ? cli_fail(r, "wait on %s", name) : 0;
	}
	if (strcmp(op, "notify") == 0) {
		r = ipcx_event_notify(ev, (unsigned)strtoul(arg, NULL, 10));
		if (r < 0)
			return cli_fail(r, "notify %s", name);
		printf("%d\n", r);
		return 0;
	}
	r = strcmp(op, "set") == 0     ? ipcx_event_set(ev)
	    : strcmp(op, "reset") == 0 ? ipcx_event_reset(ev)
	                               : ipcx_event_pulse(ev);
	return r < 0 ? cli_fail(r, "%s %s", op, name) : 0;
}

static bool known_op(const char *op)
{
	static const char *const ops[] = {"create", "wait",   "set",   "reset",
	                                  "pulse",  "notify", "listen"};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i]) == 0)
			return true;
	return false;
}

static int run_event(int argc, char **argv)
{
	const char *name, *op, *arg = NULL;
	int64_t timeout = IPCX_FOREVER;
	unsigned mode = 0;
	ipcx_event *ev;
	int r, status;

	if (argc < 3)
		return cli_usage(&cli_cmd_event, "missing %s", argc < 2 ? "NAME" : "operation");
	name = argv[1];
	op = argv[2];
	if (!known_op(op))
		return cli_usage(&cli_cmd_event, "unknown operation '%s'", op);
	for (int i = 3; i < argc; i++) {
		bool timed = strcmp(op, "wait") == 0 || strcmp(op, "listen") == 0;

		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc && timed) {
			timeout = cli_parse_seconds(argv[++i]);
			if (timeout < 0)
				return cli_usage(&cli_cmd_event, "bad --timeout '%s'", argv[i]);
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc &&
		           strcmp(op, "create") == 0) {
			if (!cli_parse_mode(argv[++i], &mode))
				return cli_usage(&cli_cmd_event, "bad --mode '%s'", argv[i]);
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc &&
		           strcmp(op, "listen") == 0) {
			uint64_t n;

			if (strspn(argv[i + 1], "0123456789") != strlen(argv[i + 1]) ||
			    !cli_parse_size(argv[i + 1], &n) || n == 0)
				return cli_usage(&cli_cmd_event, "bad -n '%s'", argv[i + 1]);
			arg = argv[++i];
		} else if (strcmp(op, "notify") == 0 && !arg) {
			uint64_t n;
			/* Digits only: a K/M/G suffix would be dropped by the conversion below. */
			if (strspn(argv[i], "0123456789") != strlen(argv[i]) ||
			    !cli_parse_size(argv[i], &n) || n > 0x7fffffff)
				return cli_usage(&cli_cmd_event, "bad count '%s'", argv[i]);
			arg = argv[i];
		} else {
			return cli_usage(&cli_cmd_event, "unexpected argument '%s'", argv[i]);
		}
	}
	if (strcmp(op, "notify") == 0 && !arg)
		return cli_usage(&cli_cmd_event, "notify needs a count N");

	if (strcmp(op, "create") == 0) {
		r = ipcx_event_open(name, IPCX_CREATE | IPCX_EXCL, mode, &ev);
		if (r < 0)
			return cli_fail(r, "create %s", name);
		ipcx_event_close(ev);
		return 0;
	}
	r = ipcx_event_open(name, 0, 0, &ev);
	if (r < 0)
		return cli_fail(r, "%s", name);
	status = event_op(ev, op, arg, timeout, name);
	ipcx_event_close(ev);
	return status;
}

const struct cli_cmd cli_cmd_event = {
        "event",
        run_event,
        "event NAME create [--mode MODE] | wait [--timeout S] | set | reset | pulse | notify N\n"
        "       | listen [-n COUNT] [--timeout S]",
        "Works on an event, a wait queue:\n"
        "  create   makes a new, unset event (EEXIST if the name is taken)\n"
        "  wait     waits until the event is set, pulsed or notified; --timeout S gives up\n"
        "           after S seconds (exit 1, ETIMEDOUT); returns at once if the event is set\n"
        "  set      wakes every waiter; the event stays set until reset\n"
        "  reset    makes the event unset\n"
        "  pulse    wakes the processes waiting now, and leaves the event unset\n"
        "  notify N wakes at most N waiters and prints how many it woke\n"
        "  listen   asks for a signal (SIGRTMIN) at every set and pulse, and prints\n"
        "           \"signal from pid PID\" (the setter) for each; -n COUNT stops after\n"
        "           COUNT (exit 1, ETIMEDOUT, if --timeout S ends it first); without -n,\n"
        "           --timeout S ends the listen (exit 0)\n"
        "ipcx stat NAME shows whether it is set, how many wait and how many processes\n"
        "asked for signals.",
};

static int event_stat(const char *name, bool json)
{
	struct ipcx_event_signal_stats sig;
	struct ipcx_event_state st;
	ipcx_event *ev;
	int r = ipcx_event_open(name, 0, 0, &ev);

	if (r < 0)
		return r;
	r = ipcx_event_get_state(ev, &st);
	if (r == 0)
		r = ipcx_event_signal_stats(ev, &sig);
	ipcx_event_close(ev);
	if (r < 0)
		return r;
	if (json)
		printf(",\"set\":%s,\"waiters\":%u,\"dead_waiters\":%u,\"signal_registrations\":%u"
		       ",\"dead_signal_registrations\":%u",
		       st.set ? "true" : "false", st.waiters, st.dead, sig.registered, sig.dead);
	else
		printf("set:       %s\nwaiters:   %u\ndead waiters: %u\nsignal registrations: %u"
		       " (%u of dead processes)\n",
		       st.set ? "yes" : "no", st.waiters, st.dead, sig.registered, sig.dead);
	return 0;
}

const struct cli_kind_stat cli_stat_event = {IPCX_KIND_EVENT, event_stat};
