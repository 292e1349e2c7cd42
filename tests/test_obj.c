/* SPDX-License-Identifier: MIT */
/*
 * The named-object layer on its own: names, atomic creation under a race, validation of
 * hostile files, permissions, attachment slots and liveness, removal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/obj.h"
#include "internal/sys.h"

/* A kind for testing the layer alone: a counter and an echo of the body size. */
struct test_body {
	_Atomic uint32_t counter;
	uint32_t size_echo;
};

static int test_validate(const void *body, uint64_t size)
{
	const struct test_body *b = body;
	return size >= sizeof(*b) && b->size_echo == size ? 0 : -EBADMSG;
}

static int test_init(void *body, uint64_t size, const void *arg)
{
	struct test_body *b = body;
	b->size_echo = (uint32_t)size;
	return 0;
}

/* Any kind number will do: the layer takes the kind descriptor it is given. */
static const struct ipcx__kind test_kind = {IPCX_KIND_EVENT, "test", test_validate, NULL};
static const struct ipcx__kind other_kind = {IPCX_KIND_CHAN, "other", NULL, NULL};

/* Stands in for the event kind in this process, so that stat and gc know test objects. */
static void use_test_kind(void)
{
	test_setup();
	ipcx__kinds[IPCX_KIND_EVENT] = &test_kind;
}
#undef IPCX_TEST
#define IPCX_TEST(suite, name, ...)                                                                \
	Test(suite, name, .init = use_test_kind, .fini = test_teardown, .timeout = 30,             \
	     ##__VA_ARGS__)

static int open_test(struct ipcx__obj *o, const char *name, unsigned flags)
{
	return ipcx__obj_open(o, &test_kind, name, flags, 0, 64, test_init, NULL);
}

static char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", test_dir(), name);
	return p;
}

static unsigned count_files(void)
{
	char cmd[600];
	FILE *f;
	unsigned n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", test_dir());
	f = popen(cmd, "r");
	cr_assert(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	pclose(f);
	return n;
}

IPCX_TEST(obj, names)
{
	char longest[IPCX_NAME_MAX + 2];

	cr_expect_eq(ipcx_name_check("a"), 0);
	cr_expect_eq(ipcx_name_check("A-z_0.9"), 0);
	cr_expect_eq(ipcx_name_check(".hidden"), 0);
	cr_expect_eq(ipcx_name_check(""), -EINVAL);
	cr_expect_eq(ipcx_name_check("."), -EINVAL);
	cr_expect_eq(ipcx_name_check(".."), -EINVAL);
	cr_expect_eq(ipcx_name_check("a/b"), -EINVAL);
	cr_expect_eq(ipcx_name_check("../x"), -EINVAL);
	cr_expect_eq(ipcx_name_check("/etc/passwd"), -EINVAL);
	cr_expect_eq(ipcx_name_check("sp ace"), -EINVAL);
	cr_expect_eq(ipcx_name_check("tab\t"), -EINVAL);
	cr_expect_eq(ipcx_name_check("caf\xc3\xa9"), -EINVAL);
	cr_expect_eq(ipcx_name_check("~ipcx-tmp.1"), -EINVAL);
	cr_expect_eq(ipcx_name_check(NULL), -EINVAL);
	memset(longest, 'x', sizeof(longest));
	longest[IPCX_NAME_MAX] = '\0';
	cr_expect_eq(ipcx_name_check(longest), 0);
	longest[IPCX_NAME_MAX] = 'x';
	longest[IPCX_NAME_MAX + 1] = '\0';
	cr_expect_eq(ipcx_name_check(longest), -EINVAL);

	/* Every entry point refuses a bad name before touching the directory. */
	struct ipcx__obj o;
	struct ipcx_info in;
	cr_expect_eq(open_test(&o, "../escape", IPCX_CREATE), -EINVAL);
	cr_expect_eq(ipcx_unlink("a/b"), -EINVAL);
	cr_expect_eq(ipcx_stat("..", &in), -EINVAL);
	cr_expect_eq(count_files(), 0);
}

IPCX_TEST(obj, create_open_close)
{
	struct ipcx__obj a, b, c;

	cr_assert_eq(open_test(&a, "o", 0), -ENOENT);
	cr_assert_eq(open_test(&a, "o", IPCX_CREATE), 1);
	cr_assert_eq(open_test(&b, "o", IPCX_CREATE), 0);
	cr_assert_neq(a.slot, b.slot);
	atomic_store(&((struct test_body *)a.body)->counter, 42);
	cr_assert_eq(atomic_load(&((struct test_body *)b.body)->counter), 42);
	cr_assert_eq(open_test(&c, "o", IPCX_CREATE | IPCX_EXCL), -EEXIST);
	cr_assert_eq(open_test(&c, "o", IPCX_EXCL), -EINVAL);
	cr_assert_eq(open_test(&c, "o", 0x100), -EINVAL);
	cr_assert_eq(ipcx__obj_open(&c, &test_kind, "o", IPCX_CREATE, 01777, 64, test_init, NULL),
	             -EINVAL);
	ipcx__obj_close(&a);
	ipcx__obj_close(&a); /* a closed handle is zeroed: closing again is harmless */
	ipcx__obj_close(NULL);
	ipcx__obj_close(&b);
	/* Only the object itself is in the directory: no temporary file survives a create. */
	cr_assert_eq(count_files(), 1);
}

IPCX_TEST(obj, mode_is_exact)
{
	struct ipcx__obj o;
	struct stat st;

	umask(077);
	cr_assert_eq(
	        ipcx__obj_open(&o, &test_kind, "shared", IPCX_CREATE, 0666, 64, test_init, NULL),
	        1);
	cr_assert_eq(stat(path_of("shared"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0666, "mode %o", st.st_mode & 0777);
	ipcx__obj_close(&o);
	cr_assert_eq(open_test(&o, "private", IPCX_CREATE), 1);
	cr_assert_eq(stat(path_of("private"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, IPCX_DEFAULT_MODE);
	ipcx__obj_close(&o);
}

/* Many processes race to create one name: exactly one creates, all end up on one object. */
struct race {
	struct test_barrier *bar;
	_Atomic int *created;
	_Atomic int *opened;
	bool excl;
};

static int racer(void *arg)
{
	struct race *r = arg;
	struct ipcx__obj o;
	int rc;

	test_barrier_wait(r->bar);
	rc = open_test(&o, "race", IPCX_CREATE | (r->excl ? IPCX_EXCL : 0));
	if (rc == 1)
		atomic_fetch_add(r->created, 1);
	else if (rc == 0 || (r->excl && rc == -EEXIST))
		atomic_fetch_add(r->opened, 1);
	else
		return 10;
	if (rc >= 0) {
		atomic_fetch_add(&((struct test_body *)o.body)->counter, 1);
		ipcx__obj_close(&o);
	}
	return 0;
}

static void run_race(bool excl)
{
	enum { N = 48 };
	struct race r = {.bar = test_barrier_new(N), .excl = excl};
	_Atomic int *counts = test_shared_alloc(2 * sizeof(int));
	pid_t pids[N];
	struct ipcx__obj o;

	r.created = &counts[0];
	r.opened = &counts[1];
	for (int i = 0; i < N; i++)
		pids[i] = test_fork(racer, &r);
	for (int i = 0; i < N; i++)
		cr_assert_eq(test_wait(pids[i]), 0);
	cr_assert_eq(atomic_load(r.created), 1);
	cr_assert_eq(atomic_load(r.opened), N - 1);
	cr_assert_eq(open_test(&o, "race", 0), 0);
	/* Every process that got a handle worked on the one object. */
	cr_assert_eq(atomic_load(&((struct test_body *)o.body)->counter), excl ? 1 : N);
	ipcx__obj_close(&o);
	cr_assert_eq(count_files(), 1, "temporary files were left behind");
}

IPCX_TEST(obj, create_race, .timeout = 60)
{
	run_race(false);
}

IPCX_TEST(obj, create_race_excl, .timeout = 60)
{
	run_race(true);
}

/* ---- validation of what is found in the directory ---- */

static void create_closed(const char *name)
{
	struct ipcx__obj o;
	cr_assert_eq(open_test(&o, name, IPCX_CREATE), 1);
	ipcx__obj_close(&o);
}

static void poke(const char *name, off_t off, const void *bytes, size_t n)
{
	int fd = open(path_of(name), O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

IPCX_TEST(obj, truncated_and_empty_files)
{
	struct ipcx__obj o;
	struct ipcx_info in;

	create_closed("t");
	cr_assert_eq(truncate(path_of("t"), 4096), 0);
	cr_expect_eq(open_test(&o, "t", 0), -EBADMSG);
	cr_expect_eq(open_test(&o, "t", IPCX_CREATE), -EBADMSG);
	cr_assert_eq(ipcx_stat("t", &in), 0);
	cr_expect_eq(in.status, -EBADMSG);

	create_closed("grown");
	cr_assert_eq(truncate(path_of("grown"), IPCX__BODY_OFFSET + 64 + 4096), 0);
	cr_expect_eq(open_test(&o, "grown", 0), -EBADMSG);

	cr_assert_eq(close(open(path_of("empty"), O_CREAT | O_WRONLY, 0600)), 0);
	cr_expect_eq(open_test(&o, "empty", 0), -EBADMSG);
}

IPCX_TEST(obj, garbled_header_fields)
{
	struct ipcx__obj o;
	uint64_t bad64 = 0xdeadbeefcafef00d;
	uint32_t v;

	create_closed("magic");
	poke("magic", offsetof(struct ipcx__hdr, magic), &bad64, 8);
	cr_expect_eq(open_test(&o, "magic", 0), -EBADMSG);

	create_closed("version");
	v = 99;
	poke("version", offsetof(struct ipcx__hdr, version), &v, 4);
	cr_expect_eq(open_test(&o, "version", 0), -EPROTONOSUPPORT);

	create_closed("kind");
	cr_expect_eq(ipcx__obj_open(&o, &other_kind, "kind", 0, 0, 0, NULL, NULL), -EPROTOTYPE);
	v = 1000;
	poke("kind", offsetof(struct ipcx__hdr, kind), &v, 4);
	cr_expect_eq(open_test(&o, "kind", 0), -EBADMSG);

	const size_t fields[] = {offsetof(struct ipcx__hdr, total_size),
	                         offsetof(struct ipcx__hdr, body_offset),
	                         offsetof(struct ipcx__hdr, body_size)};
	for (size_t i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "size%zu", i);
		create_closed(name);
		poke(name, (off_t)fields[i], &bad64, 8);
		cr_expect_eq(open_test(&o, name, 0), -EBADMSG, "field %zu", i);
	}
	create_closed("slots");
	v = 7;
	poke("slots", offsetof(struct ipcx__hdr, slot_count), &v, 4);
	cr_expect_eq(open_test(&o, "slots", 0), -EBADMSG);

	/* The kind's own validation runs too. */
	create_closed("body");
	v = 12345;
	poke("body", IPCX__BODY_OFFSET + offsetof(struct test_body, size_echo), &v, 4);
	cr_expect_eq(open_test(&o, "body", 0), -EBADMSG);
}

IPCX_TEST(obj, foreign_files)
{
	struct ipcx__obj o;
	char junk[IPCX__BODY_OFFSET + 100];

	/* A file of random-looking bytes, big enough to pass the size check. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	int fd = open(path_of("junk"), O_CREAT | O_WRONLY, 0600);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	cr_expect_eq(open_test(&o, "junk", 0), -EBADMSG);

	cr_assert_eq(mkdir(path_of("dir"), 0700), 0);
	cr_expect_lt(open_test(&o, "dir", 0), 0);

	cr_assert_eq(mkfifo(path_of("fifo"), 0600), 0);
	cr_expect_eq(open_test(&o, "fifo", 0), -EBADMSG); /* and it did not block */
}

IPCX_TEST(obj, symlinks_are_not_followed)
{
	struct ipcx__obj o;
	struct ipcx_info in;

	create_closed("real");
	char target[512];
	snprintf(target, sizeof(target), "%s", path_of("real"));
	cr_assert_eq(symlink(target, path_of("link")), 0);
	cr_expect_eq(open_test(&o, "link", 0), -ELOOP);
	cr_expect_eq(open_test(&o, "link", IPCX_CREATE), -ELOOP);
	cr_assert_eq(ipcx_stat("link", &in), 0);
	cr_expect_eq(in.status, -ELOOP);
	/* A dangling link where an object would be created is not a way to create a file
	 * elsewhere either. */
	cr_assert_eq(symlink("/tmp/ipcx-should-not-exist", path_of("dangling")), 0);
	cr_expect_lt(open_test(&o, "dangling", IPCX_CREATE), 0);
	cr_expect_eq(access("/tmp/ipcx-should-not-exist", F_OK), -1);
	/* Removing the link removes the link, not its target. */
	cr_expect_eq(ipcx_unlink("link"), 0);
	cr_expect_eq(open_test(&o, "real", 0), 0);
	ipcx__obj_close(&o);
}

/* ---- permissions, proven by a child that drops to an unprivileged uid ---- */

#define NOBODY 65534

static int as_nobody_open(void *arg)
{
	struct ipcx__obj o;
	int r;

	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	r = open_test(&o, (const char *)arg, IPCX_CREATE);
	if (r >= 0)
		ipcx__obj_close(&o);
	return r < 0 ? -r : 0;
}

IPCX_TEST(obj, permissions)
{
	struct ipcx__obj o;

	create_closed("mine"); /* 0600, owned by root */
	cr_expect_eq(test_wait(test_fork(as_nobody_open, "mine")), EACCES);

	cr_assert_eq(
	        ipcx__obj_open(&o, &test_kind, "open4all", IPCX_CREATE, 0666, 64, test_init, NULL),
	        1);
	ipcx__obj_close(&o);
	/* Readable and writable by all, but a create-or-open of a file that another user
	 * owns in a sticky world-writable directory is refused, as the kernel's
	 * protected_regular rule does. */
	cr_expect_eq(test_wait(test_fork(as_nobody_open, "open4all")), 0,
	             "the directory's owner may be the file's owner");
}

static int as_nobody_create(void *arg)
{
	struct ipcx__obj o;
	int r;

	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	r = ipcx__obj_open(&o, &test_kind, (const char *)arg, IPCX_CREATE, 0666, 64, test_init,
	                   NULL);
	if (r >= 0)
		ipcx__obj_close(&o);
	return r < 0 ? -r : 0;
}

static int as_nobody_unlink(void *arg)
{
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 100;
	return -ipcx_unlink((const char *)arg);
}

IPCX_TEST(obj, planted_file_of_another_user)
{
	struct ipcx__obj o;

	/* The directory is root's; nobody plants an object under a name root will use. */
	cr_assert_eq(test_wait(test_fork(as_nobody_create, "planted")), 0);
	cr_expect_eq(open_test(&o, "planted", IPCX_CREATE), -EPERM);
	/* A plain open is the caller's explicit choice and is allowed by the file's mode. */
	cr_expect_eq(open_test(&o, "planted", 0), 0);
	ipcx__obj_close(&o);
	/* Nobody cannot remove root's object from the sticky directory. */
	create_closed("roots");
	cr_expect_eq(test_wait(test_fork(as_nobody_unlink, "roots")), EPERM);
	cr_expect_eq(open_test(&o, "roots", 0), 0);
	ipcx__obj_close(&o);
}

/* ---- attachment slots and liveness ---- */

static int attach_and_die(void *arg)
{
	struct ipcx__obj o;
	if (open_test(&o, (const char *)arg, 0) != 0)
		return 1;
	raise(SIGKILL);
	return 2;
}

IPCX_TEST(obj, dead_attachments_are_seen_and_reclaimed)
{
	struct ipcx_attachment att[8];
	struct ipcx__obj o;
	struct ipcx_info in;

	create_closed("d");
	cr_assert_eq(test_wait(test_fork(attach_and_die, "d")), 128 + SIGKILL);
	cr_assert_eq(ipcx_stat("d", &in), 0);
	cr_expect_eq(in.status, 0);
	cr_expect_eq(in.attached, 0);
	cr_expect_eq(in.dead, 1);
	cr_assert_eq(ipcx_attachments("d", att, 8), 1);
	cr_expect_eq(att[0].alive, false);

	cr_assert_eq(open_test(&o, "d", 0), 0);
	cr_assert_eq(ipcx_attachments("d", att, 8), 2);
	cr_assert_eq(ipcx_stat("d", &in), 0);
	cr_expect_eq(in.attached, 1);
	cr_expect_eq(in.dead, 1);
	ipcx__obj_close(&o);
}

IPCX_TEST(obj, attachment_table_full)
{
	static struct ipcx__obj o[IPCX_MAX_ATTACH + 1];
	struct ipcx_info in;

	cr_assert_eq(open_test(&o[0], "full", IPCX_CREATE), 1);
	for (int i = 1; i < IPCX_MAX_ATTACH; i++)
		cr_assert_eq(open_test(&o[i], "full", 0), 0, "handle %d", i);
	cr_expect_eq(open_test(&o[IPCX_MAX_ATTACH], "full", 0), -EUSERS);
	cr_assert_eq(ipcx_stat("full", &in), 0);
	cr_expect_eq(in.attached, IPCX_MAX_ATTACH);
	ipcx__obj_close(&o[7]);
	cr_expect_eq(open_test(&o[IPCX_MAX_ATTACH], "full", 0), 0);
	for (int i = 0; i <= IPCX_MAX_ATTACH; i++)
		ipcx__obj_close(&o[i]);
}

static int fill_and_die(void *arg)
{
	static struct ipcx__obj o[IPCX_MAX_ATTACH];
	for (int i = 0; i < IPCX_MAX_ATTACH; i++)
		if (open_test(&o[i], (const char *)arg, 0) != 0)
			return 1;
	raise(SIGKILL);
	return 2;
}

IPCX_TEST(obj, full_table_of_dead_is_reclaimed)
{
	struct ipcx__obj o;

	create_closed("dead-full");
	cr_assert_eq(test_wait(test_fork(fill_and_die, "dead-full")), 128 + SIGKILL);
	cr_expect_eq(open_test(&o, "dead-full", 0), 0);
	ipcx__obj_close(&o);
}

IPCX_TEST(obj, pid_identity)
{
	uint64_t me = ipcx__proc_self();

	cr_expect_eq(ipcx__id_pid(me), getpid());
	cr_expect(ipcx__proc_alive(me));
	/* The same pid with another start time is a different (dead) process. */
	cr_expect_not(ipcx__proc_alive(me + (1ull << IPCX__PID_BITS)));
	cr_expect_not(ipcx__proc_alive(0));
	/* A forked child is another process with its own identity. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(ipcx__proc_self() != me && ipcx__id_pid(ipcx__proc_self()) == getpid() ? 0
		                                                                             : 1);
	cr_expect_eq(test_wait(pid), 0);
}

/* ---- removal ---- */

IPCX_TEST(obj, unlink_keeps_open_handles)
{
	struct ipcx__obj a, b;

	cr_assert_eq(open_test(&a, "u", IPCX_CREATE), 1);
	cr_expect_not(ipcx__obj_removed(&a));
	cr_assert_eq(ipcx_unlink("u"), 0);
	cr_expect(ipcx__obj_removed(&a));
	cr_expect_eq(ipcx_unlink("u"), -ENOENT);
	cr_expect_eq(open_test(&b, "u", 0), -ENOENT);
	/* The old handle still works on its (now nameless) memory. */
	atomic_store(&((struct test_body *)a.body)->counter, 5);
	/* A new object can take the name at once and is a different object. */
	cr_assert_eq(open_test(&b, "u", IPCX_CREATE), 1);
	cr_expect_not(ipcx__obj_removed(&b));
	cr_expect_eq(atomic_load(&((struct test_body *)b.body)->counter), 0);
	ipcx__obj_close(&a);
	ipcx__obj_close(&b);
	cr_expect_eq(ipcx_unlink("never"), -ENOENT);
}

IPCX_TEST(obj, corrupt_objects_can_be_removed)
{
	int fd = open(path_of("junk"), O_CREAT | O_WRONLY, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_expect_eq(ipcx_unlink("junk"), 0);
	cr_expect_eq(count_files(), 0);
}

/* ---- resource exhaustion leaves nothing behind ---- */

static int create_on_tiny_fs(void *arg)
{
	struct ipcx__obj o;
	int r;

	/* A private mount namespace with a 64 KiB tmpfs over the test directory. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", test_dir(), "tmpfs", 0, "size=64k,mode=1777") < 0)
		return 100;
	r = ipcx__obj_open(&o, &test_kind, "big", IPCX_CREATE, 0, 1 << 20, test_init, NULL);
	if (r != -ENOSPC)
		return 1;
	if (count_files() != 0)
		return 2;
	/* A small one still fits afterwards: nothing leaked. */
	r = open_test(&o, "small", IPCX_CREATE);
	return r == 1 ? 0 : 3;
}

IPCX_TEST(obj, full_file_system)
{
	cr_expect_eq(test_wait(test_fork(create_on_tiny_fs, NULL)), 0);
}

static int create_over_fsize_limit(void *arg)
{
	struct rlimit rl = {.rlim_cur = 64 << 10, .rlim_max = 64 << 10};
	struct ipcx__obj o;
	int r;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 100;
	r = ipcx__obj_open(&o, &test_kind, "big", IPCX_CREATE, 0, 1 << 20, test_init, NULL);
	if (r != -EFBIG)
		return 1;
	return count_files() == 0 ? 0 : 2;
}

IPCX_TEST(obj, file_size_limit)
{
	cr_expect_eq(test_wait(test_fork(create_over_fsize_limit, NULL)), 0);
}

/* ---- garbage collection ---- */

struct gc_seen {
	char names[8][64];
	int n;
};

static void gc_note(const char *name, const char *why, void *arg)
{
	struct gc_seen *s = arg;
	if (s->n < 8)
		snprintf(s->names[s->n++], 64, "%s", name);
}

IPCX_TEST(obj, gc_removes_objects_of_the_dead_only)
{
	struct gc_seen seen = {0};
	struct ipcx__obj live;

	create_closed("orphan"); /* a dead process still holds a slot */
	cr_assert_eq(test_wait(test_fork(attach_and_die, "orphan")), 128 + SIGKILL);
	create_closed("idle");   /* nobody attached: objects normally wait like this */
	create_closed("in-use"); /* a dead holder, but also a live one */
	cr_assert_eq(test_wait(test_fork(attach_and_die, "in-use")), 128 + SIGKILL);
	cr_assert_eq(open_test(&live, "in-use", 0), 0);

	cr_assert_eq(ipcx_gc(true, gc_note, &seen), 1);
	cr_expect_eq(seen.n, 1);
	cr_expect_str_eq(seen.names[0], "orphan");
	cr_expect_eq(count_files(), 3, "a dry run removes nothing");

	seen.n = 0;
	cr_assert_eq(ipcx_gc(false, gc_note, &seen), 1);
	cr_expect_str_eq(seen.names[0], "orphan");
	cr_expect_eq(count_files(), 2);
	struct ipcx__obj gone;
	cr_expect_eq(open_test(&gone, "orphan", 0), -ENOENT);
	cr_assert_eq(ipcx_gc(false, NULL, NULL), 0);
	ipcx__obj_close(&live);
}

/* ---- fork ---- */

static int close_inherited(void *arg)
{
	ipcx__obj_close(arg);
	return 0;
}

IPCX_TEST(obj, forked_child_closing_a_copy_keeps_the_parents_slot)
{
	struct ipcx__obj o;
	struct ipcx_info in;

	cr_assert_eq(open_test(&o, "f", IPCX_CREATE), 1);
	cr_assert_eq(test_wait(test_fork(close_inherited, &o)), 0);
	cr_assert_eq(ipcx_stat("f", &in), 0);
	cr_expect_eq(in.attached, 1, "the parent is still attached");
	ipcx__obj_close(&o);
	cr_assert_eq(ipcx_stat("f", &in), 0);
	cr_expect_eq(in.attached, 0);
}
