/* SPDX-License-Identifier: MIT */
/*
 * The security checklist, through the public API of every kind and through the tool:
 * hostile names, objects of other users, and exhausted resources (address space, inodes,
 * attachment slots), each of which must give its documented error and leave nothing behind.
 * (test_obj.c covers the same ground for the object layer alone.)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

#define NOBODY 65534
#define DAEMON 1 /* a second unprivileged user */

static unsigned count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 1000;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static unsigned count_files(void)
{
	return count_entries(test_dir());
}

static unsigned count_fds(void)
{
	return count_entries("/proc/self/fd");
}

/* Opens (creating) an object of kind k (0..5) called name; returns what the open returned. */
static int open_kind(int k, const char *name, unsigned flags)
{
	ipcx_event *e;
	ipcx_mutex *m;
	ipcx_semset *s;
	ipcx_region *r;
	ipcx_chan *c;
	ipcx_topic *t;
	int ret = -ENOSYS;

	switch (k) {
	case 0:
		if ((ret = ipcx_event_open(name, flags, 0, &e)) >= 0)
			ipcx_event_close(e);
		break;
	case 1:
		if ((ret = ipcx_mutex_open(name, flags, 0, &m)) >= 0)
			ipcx_mutex_close(m);
		break;
	case 2:
		if ((ret = ipcx_semset_open(name, flags, 0, 2, 1, &s)) >= 0)
			ipcx_semset_close(s);
		break;
	case 3:
		if ((ret = ipcx_region_open(name, flags, 0, 4096, &r)) >= 0)
			ipcx_region_close(r);
		break;
	case 4:
		if ((ret = ipcx_chan_open(name, flags, 0, NULL, &c)) >= 0)
			ipcx_chan_close(c);
		break;
	case 5:
		if ((ret = ipcx_topic_open(name, flags, 0, NULL, &t)) >= 0)
			ipcx_topic_close(t);
		break;
	}
	return ret;
}

/* ---- names ---- */

IPCX_TEST(security, every_kind_refuses_hostile_names)
{
	char over[IPCX_NAME_MAX + 2], longest[IPCX_NAME_MAX + 1];
	/* A NUL cannot be inside a C string: a name made of a NUL alone is the empty name,
	 * and anything after an embedded NUL is not part of the name ("ok\0/../x" is "ok",
	 * which stays inside the directory). */
	const char *bad[] = {
	        "",
	        ".",
	        "..",
	        "a/b",
	        "../x",
	        "/etc/passwd",
	        "caf\xc3\xa9",
	        "\xff",
	        "\xe2\x80\xae"
	        "rtl",
	        "a\nb",
	        "tab\t",
	        "sp ace",
	        "~ipcx-tmp.1",
	        "back\\slash",
	        "star*",
	        "q?",
	        "dollar$",
	        over,
	};

	memset(over, 'x', sizeof(over) - 1);
	over[sizeof(over) - 1] = '\0';
	memset(longest, 'y', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	for (int k = 0; k < 6; k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cr_expect_eq(open_kind(k, bad[i], IPCX_CREATE), -EINVAL,
			             "kind %d, name %zu", k, i);
			cr_expect_eq(open_kind(k, bad[i], 0), -EINVAL, "kind %d, name %zu", k, i);
		}
		cr_expect_eq(count_files(), 0, "kind %d left a file", k);
	}
	/* The longest name is fine. */
	cr_expect_eq(open_kind(4, longest, IPCX_CREATE), 1);
	cr_expect_eq(ipcx_unlink(longest), 0);
	cr_expect_eq(ipcx_unlink(over), -EINVAL);
	cr_expect_eq(count_files(), 0);
}

IPCX_TEST(security, tool_refuses_hostile_names)
{
	const char *bad[] = {"../x", "a/b", "caf\xc3\xa9", "\xff", ".."};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tool_result r = tool_run(NULL, "chan", bad[i], "create", NULL);
		cr_expect_eq(r.status, 1, "name %zu: %s", i, r.err);
		cr_expect(strncmp(r.err, "EINVAL: ", 8) == 0, "name %zu: %s", i, r.err);
		tool_result_free(&r);
		r = tool_run(NULL, "rm", bad[i], NULL);
		cr_expect_eq(r.status, 1, "name %zu: %s", i, r.err);
		cr_expect(strncmp(r.err, "EINVAL: ", 8) == 0, "name %zu: %s", i, r.err);
		tool_result_free(&r);
	}
	cr_expect_eq(count_files(), 0);
}

/* ---- objects of other users ---- */

static int become(uid_t uid)
{
	return setgid(uid) == 0 && setuid(uid) == 0 ? 0 : -1;
}

static int nobody_creates_chan(void *arg)
{
	ipcx_chan *c;

	if (become(NOBODY) < 0)
		return 100;
	if (ipcx_chan_open((const char *)arg, IPCX_CREATE | IPCX_EXCL, 0600, NULL, &c) != 1)
		return 1;
	ipcx_chan_close(c);
	return 0;
}

static int daemon_opens_chan(void *arg)
{
	struct tool_result r;
	ipcx_chan *c;
	int ret;

	if (become(DAEMON) < 0)
		return 100;
	ret = ipcx_chan_open((const char *)arg, 0, 0, NULL, &c);
	if (ret != -EACCES)
		return 1;
	ret = ipcx_chan_open((const char *)arg, IPCX_CREATE, 0, NULL, &c);
	if (ret != -EACCES)
		return 2;
	/* The tool says why, errno name first. */
	r = tool_run(NULL, "send", (const char *)arg, "hi", NULL);
	ret = r.status == 1 && strncmp(r.err, "EACCES: ", 8) == 0 ? 0 : 3;
	tool_result_free(&r);
	return ret;
}

IPCX_TEST(security, object_of_another_user_is_refused)
{
	struct tool_result r;
	ipcx_chan *c;
	ipcx_topic *t;

	cr_assert_eq(test_wait(test_fork(nobody_creates_chan, "theirs")), 0);
	/* Another unprivileged user: the file's mode refuses it. */
	cr_expect_eq(test_wait(test_fork(daemon_opens_chan, "theirs")), 0);
	/* Even root's create-or-open refuses a file another user planted in the shared
	 * sticky directory (it may have been planted to be used by the victim). */
	cr_expect_eq(ipcx_chan_open("theirs", IPCX_CREATE, 0, NULL, &c), -EPERM);
	/* The wrong kind is refused too, by the library and by the tool, with its name. */
	cr_assert_eq(ipcx_topic_open("news", IPCX_CREATE, 0, NULL, &t), 1);
	cr_expect_eq(ipcx_chan_open("news", 0, 0, NULL, &c), -EPROTOTYPE);
	r = tool_run(NULL, "recv", "news", "--timeout", "0", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EPROTOTYPE: ", 12) == 0 && strstr(r.err, "another kind"), "%s",
	          r.err);
	tool_result_free(&r);
	ipcx_topic_close(t);
}

/* ---- exhausted resources ---- */

static uint64_t vm_size(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A create whose mapping fails (the address space is full) leaves no file and no fd. */
static int create_without_address_space(void *arg)
{
	struct ipcx_chan_attr big = {256u << 20, 0};
	unsigned fds = count_fds();
	struct rlimit rl;
	ipcx_chan *c;
	int r;

	(void)arg;
	rl.rlim_cur = rl.rlim_max = vm_size() + (32u << 20);
	if (rl.rlim_cur <= (32u << 20) || setrlimit(RLIMIT_AS, &rl) < 0)
		return 100;
	for (int k = 0; k < 3; k++) {
		r = ipcx_chan_open("big", IPCX_CREATE, 0, &big, &c);
		if (r != -ENOMEM)
			return 1 + k * 10;
		if (count_files() != 0)
			return 2 + k * 10;
		if (count_fds() != fds)
			return 3 + k * 10;
	}
	/* A small one still fits: nothing was leaked. */
	if (ipcx_chan_open("small", IPCX_CREATE, 0, NULL, &c) != 1)
		return 4;
	ipcx_chan_close(c);
	return 0;
}

IPCX_TEST(security, failed_mmap_during_create_leaves_nothing)
{
	cr_expect_eq(test_wait(test_fork(create_without_address_space, NULL)), 0);
	cr_expect_eq(ipcx_unlink("small"), 0);
	cr_expect_eq(count_files(), 0);
}

/* Too many objects: a file system out of inodes (a private tmpfs with 8). */
static int create_until_out_of_inodes(void *arg)
{
	char name[32];
	int made = 0, r = 0;

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", test_dir(), "tmpfs", 0, "size=4m,nr_inodes=8,mode=1777") < 0)
		return 100;
	for (made = 0; made < 100; made++) {
		snprintf(name, sizeof(name), "ev%d", made);
		r = open_kind(0, name, IPCX_CREATE | IPCX_EXCL);
		if (r != 1)
			break;
	}
	if (r != -ENOSPC || made == 0 || made >= 100)
		return 1;
	if (count_files() != (unsigned)made) /* no temporary file left */
		return 2;
	/* Every kind gets the same error, and leaves nothing. */
	for (int k = 1; k < 6; k++)
		if (open_kind(k, "one-more", IPCX_CREATE) != -ENOSPC)
			return 3;
	if (count_files() != (unsigned)made)
		return 4;
	/* Removing one makes room for one. */
	if (ipcx_unlink("ev0") != 0 || open_kind(4, "one-more", IPCX_CREATE) != 1)
		return 5;
	return 0;
}

IPCX_TEST(security, too_many_objects_is_enospc)
{
	cr_expect_eq(test_wait(test_fork(create_until_out_of_inodes, NULL)), 0);
}

/* Too many attached processes: 256 processes each hold a handle; the next gets EUSERS. */
struct crowd {
	_Atomic uint32_t attached, failed;
};
static struct crowd *crowd;

static int attach_and_wait(void *arg)
{
	ipcx_event *e;

	(void)arg;
	if (ipcx_event_open("crowd", 0, 0, &e) != 0) {
		atomic_fetch_add(&crowd->failed, 1);
		return 1;
	}
	atomic_fetch_add(&crowd->attached, 1);
	pause();
	return 0;
}

IPCX_TEST(security, too_many_attached_processes_is_eusers, .timeout = 120)
{
	static pid_t kids[IPCX_MAX_ATTACH];
	struct tool_result r;
	struct ipcx_info in;
	ipcx_event *e, *extra;

	crowd = test_shared_alloc(sizeof(*crowd));
	cr_assert_eq(ipcx_event_open("crowd", IPCX_CREATE, 0, &e), 1);
	ipcx_event_close(e);
	for (int i = 0; i < IPCX_MAX_ATTACH; i++)
		kids[i] = test_fork(attach_and_wait, NULL);
	while (atomic_load(&crowd->attached) + atomic_load(&crowd->failed) < IPCX_MAX_ATTACH)
		usleep(2000);
	cr_assert_eq(atomic_load(&crowd->failed), 0);
	cr_assert_eq(ipcx_stat("crowd", &in), 0);
	cr_expect_eq(in.attached, IPCX_MAX_ATTACH);
	cr_expect_eq(ipcx_event_open("crowd", 0, 0, &extra), -EUSERS);
	r = tool_run(NULL, "event", "crowd", "set", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "EUSERS: ", 8) == 0 && strstr(r.err, "too many handles"), "%s",
	          r.err);
	tool_result_free(&r);
	/* A process that dies gives its place to the next opener. */
	test_kill(kids[0]);
	cr_expect_eq(ipcx_event_open("crowd", 0, 0, &extra), 0);
	ipcx_event_close(extra);
	for (int i = 1; i < IPCX_MAX_ATTACH; i++)
		test_kill(kids[i]);
}
