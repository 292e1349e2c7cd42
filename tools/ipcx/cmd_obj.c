/* SPDX-License-Identifier: MIT */
/* The commands that work on any object: ls, stat, rm, gc. */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipcx/ipcx.h>

#include "cli.h"

static const char *owner_name(uid_t uid, char *buf, size_t cap)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		return pw->pw_name;
	snprintf(buf, cap, "%u", (unsigned)uid);
	return buf;
}

static const char *kind_or_status(const struct ipcx_info *in)
{
	if (in->status == -EINPROGRESS)
		return "tmp";
	if (in->status < 0)
		return "corrupt";
	return ipcx_kind_name(in->kind);
}

static void format_time(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns == 0 || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "-");
}

/* Writes the common members of an object as a JSON object, left open when more follow. */
static void json_info(FILE *f, const struct ipcx_info *in, bool open)
{
	char when[32];

	format_time(in->created_ns, when, sizeof(when));
	fprintf(f, "{\"name\":");
	cli_json_string(f, in->name);
	fprintf(f, ",\"kind\":\"%s\",\"status\":", kind_or_status(in));
	cli_json_string(f, in->status ? ipcx_errname(in->status) : "ok");
	fprintf(f,
	        ",\"size\":%" PRIu64 ",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u"
	        ",\"creator_pid\":%d,\"created\":\"%s\",\"attached\":%u,\"dead\":%u",
	        in->size, (unsigned)in->mode, (unsigned)in->uid, (unsigned)in->gid,
	        (int)in->creator_pid, when, in->attached, in->dead);
	if (!open)
		fputc('}', f);
}

struct ls_state {
	bool json;
	unsigned count;
};

static int ls_one(const struct ipcx_info *in, void *arg)
{
	struct ls_state *st = arg;
	char ubuf[16];

	if (st->json) {
		fputs(st->count ? ",\n " : "\n ", stdout);
		json_info(stdout, in, false);
	} else {
		printf("%-24s %-8s %10" PRIu64 " %04o %-10s %7d %5u %5u%s%s\n", in->name,
		       kind_or_status(in), in->size, (unsigned)in->mode,
		       owner_name(in->uid, ubuf, sizeof(ubuf)), (int)in->creator_pid, in->attached,
		       in->dead, in->status ? "  " : "",
		       in->status && in->status != -EINPROGRESS ? ipcx_errname(in->status) : "");
	}
	st->count++;
	return 0;
}

static int run_ls(int argc, char **argv)
{
	struct ls_state st = {0};
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			st.json = true;
		else
			return cli_usage(&cli_cmd_ls, "unexpected argument '%s'", argv[i]);
	}
	if (st.json)
		fputs("[", stdout);
	else
		printf("%-24s %-8s %10s %-4s %-10s %7s %5s %5s\n", "NAME", "KIND", "SIZE", "MODE",
		       "OWNER", "CREATOR", "LIVE", "DEAD");
	r = ipcx_foreach(ls_one, &st);
	if (st.json)
		fputs(st.count ? "\n]\n" : "]\n", stdout);
	if (r < 0)
		return cli_fail(r, "cannot list %s", ipcx_dir());
	return 0;
}

const struct cli_cmd cli_cmd_ls = {
        "ls",
        run_ls,
        "ls [--json]",
        "Lists every object in the namespace directory: name, kind, size, mode, owner, creator\n"
        "pid, and handles attached by live and by dead processes. A file that is not a usable\n"
        "object is listed as corrupt with the reason; a leftover of an interrupted create as tmp.",
};

/* The kind's own state, from its entry in cli_kind_stats. */
static int print_kind_state(const struct ipcx_info *in, bool json)
{
	for (size_t i = 0; cli_kind_stats[i]; i++)
		if (cli_kind_stats[i]->kind == in->kind)
			return cli_kind_stats[i]->print(in->name, json);
	return 0;
}

static int run_stat(int argc, char **argv)
{
	struct ipcx_attachment att[IPCX_MAX_ATTACH];
	struct ipcx_info in;
	const char *name = NULL;
	bool json = false;
	char when[32], ubuf[16];
	int n, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return cli_usage(&cli_cmd_stat, "unexpected argument '%s'", argv[i]);
	}
	if (!name)
		return cli_usage(&cli_cmd_stat, "missing NAME");
	r = ipcx_stat(name, &in);
	if (r < 0)
		return cli_fail(r, "%s", name);
	n = in.status == 0 ? ipcx_attachments(name, att, IPCX_MAX_ATTACH) : 0;
	if (n < 0)
		n = 0;
	if (n > IPCX_MAX_ATTACH)
		n = IPCX_MAX_ATTACH;
	if (json) {
		json_info(stdout, &in, true);
		if (in.status == 0) {
			r = print_kind_state(&in, true);
			if (r < 0)
				return cli_fail(r, "%s", name);
		}
		printf("}\n");
	} else {
		format_time(in.created_ns, when, sizeof(when));
		printf("name:      %s\nkind:      %s\n", in.name, kind_or_status(&in));
		if (in.status)
			printf("status:    %s (%s)\n", ipcx_errname(in.status),
			       ipcx_strerror(in.status));
		printf("size:      %" PRIu64 "\nmode:      %04o\nowner:     %s\n", in.size,
		       (unsigned)in.mode, owner_name(in.uid, ubuf, sizeof(ubuf)));
		if (in.status == 0) {
			printf("creator:   pid %d at %s\n", (int)in.creator_pid, when);
			printf("attached:  %u live, %u dead\n", in.attached, in.dead);
			for (int i = 0; i < n; i++)
				printf("  pid %d %s\n", (int)att[i].pid,
				       att[i].alive ? "alive" : "dead");
			r = print_kind_state(&in, false);
			if (r < 0)
				return cli_fail(r, "%s", name);
		}
	}
	return in.status ? cli_fail(in.status, "%s", name) : 0;
}

const struct cli_cmd cli_cmd_stat = {
        "stat",
        run_stat,
        "stat NAME [--json]",
        "Shows everything about one object: kind, size, mode, owner, creator, and each attached\n"
        "process with whether it is alive. Exits 1 when the object is corrupt or unreadable.",
};

static int run_rm(int argc, char **argv)
{
	int status = 0, names = 0;

	for (int i = 1; i < argc; i++) {
		int r;

		if (argv[i][0] == '-')
			return cli_usage(&cli_cmd_rm, "unknown option '%s'", argv[i]);
		names++;
		r = ipcx_unlink(argv[i]);
		if (r < 0)
			status = cli_fail(r, "%s", argv[i]);
	}
	if (!names)
		return cli_usage(&cli_cmd_rm, "missing NAME");
	return status;
}

const struct cli_cmd cli_cmd_rm = {
        "rm",
        run_rm,
        "rm NAME...",
        "Removes objects by name. Processes that have one open keep using it until they close\n"
        "it; its waiters are woken with EIDRM. Exits 1 if any name could not be removed.",
};

static void gc_print(const char *name, const char *why, void *arg)
{
	printf("%s %s (%s)\n", *(bool *)arg ? "would remove" : "removed", name, why);
}

static int run_gc(int argc, char **argv)
{
	bool dry = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			dry = true;
		else
			return cli_usage(&cli_cmd_gc, "unexpected argument '%s'", argv[i]);
	}
	r = ipcx_gc(dry, gc_print, &dry);
	if (r < 0)
		return cli_fail(r, "gc in %s", ipcx_dir());
	printf("%s %d file%s\n", dry ? "would remove" : "removed", r, r == 1 ? "" : "s");
	return 0;
}

const struct cli_cmd cli_cmd_gc = {
        "gc",
        run_gc,
        "gc [--dry-run]",
        "Removes every object whose attached processes are all dead, temporary files left\n"
        "by interrupted creates, and the FIFOs of pollable descriptors whose process died\n"
        "(~ipcx-w.*), printing each. Objects nobody has open are kept: a name with\n"
        "no users is how an object normally waits for them. --dry-run only prints.",
};
