/* SPDX-License-Identifier: MIT */
/*
 * region: snapshot reads against a running writer in other processes (never torn), readers
 * that keep going while the writer is stopped or killed in the middle of a write, recovery
 * with -EOWNERDEAD, wait_change, large sizes, and hostile bytes in the header.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/layout.h"
#include "internal/sys.h"

/* Offsets in the region's header (src/region.c asserts them). */
#define B_SIZE 8
#define B_STRIDE 16
#define B_DATA_OFF 24
#define B_GEN 64
#define B_CHANGE 128
#define B_LAST_OFF 192
#define B_LAST_LEN 200
#define B_PEND_OFF 208
#define B_PEND_LEN 216

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static ipcx_region *open_rg(const char *name, uint64_t size)
{
	ipcx_region *r = NULL;
	int ret = ipcx_region_open(name, IPCX_CREATE, 0, size, &r);

	cr_assert(ret == 0 || ret == 1, "open %s: %s", name, ipcx_errname(ret));
	return r;
}

/* Maps the object file itself, as a hostile peer would; returns the region's body. */
static uint8_t *map_body(const char *name, size_t *ret_len)
{
	return (uint8_t *)test_map_object(name, ret_len) + IPCX__BODY_OFFSET;
}

static _Atomic uint64_t *word64(uint8_t *body, size_t off)
{
	return (_Atomic uint64_t *)(body + off);
}

IPCX_TEST(region, basic)
{
	ipcx_region *r = NULL, *r2 = NULL;
	uint8_t buf[100];
	uint64_t v = 99;
	void *p;

	cr_assert_eq(ipcx_region_open("r", 0, 0, 0, &r), -ENOENT);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE, 0, 0, &r), -EINVAL);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE, 0, 100, NULL), -EINVAL);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE, 0, IPCX_REGION_MAX_SIZE + 1, &r), -EFBIG);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE | IPCX_EXCL, 0, 100, &r), 1);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE | IPCX_EXCL, 0, 100, &r2), -EEXIST);
	cr_assert_eq(ipcx_region_open("r", 0, 0, 99, &r2), -ERANGE);
	cr_assert_eq(ipcx_region_open("r", IPCX_CREATE, 0, 101, &r2), -ERANGE);
	cr_assert_eq(ipcx_region_open("r", 0, 0, 0, &r2), 0);
	cr_assert_eq(ipcx_region_size(r2), 100);
	cr_assert_eq(ipcx_region_size(NULL), 0);
	cr_assert_eq(ipcx_region_version(r), 0);
	cr_assert_eq(ipcx_region_version(NULL), -EINVAL);
	cr_assert_eq(ipcx_region_set_wait(r, 7), -EINVAL);

	/* A new region is zeroes, at version 0. */
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(ipcx_region_read(r, 0, buf, 100, &v), 0);
	cr_assert_eq(v, 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(buf[i], 0);
	cr_assert_eq(ipcx_region_read(r, 1, buf, 100, NULL), -EINVAL);
	cr_assert_eq(ipcx_region_read(r, 101, buf, 0, NULL), -EINVAL);
	cr_assert_eq(ipcx_region_read(r, UINT64_MAX, buf, 2, NULL), -EINVAL);
	cr_assert_eq(ipcx_region_read(r, 100, NULL, 0, &v), 0);
	cr_assert_eq(ipcx_region_read(r, 0, NULL, 1, NULL), -EINVAL);

	cr_assert_eq(ipcx_region_write(r, 10, "hello", 5, 0), 0);
	cr_assert_eq(ipcx_region_version(r2), 1);
	cr_assert_eq(ipcx_region_read(r2, 8, buf, 9, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(memcmp(buf, "\0\0hello\0\0", 9), 0);
	cr_assert_eq(ipcx_region_write(r, 96, "12345", 5, 0), -EINVAL);
	cr_assert_eq(ipcx_region_write(r, 0, NULL, 5, 0), -EINVAL);

	/* The write pointer shows the latest data; commit and abort belong to the writer. */
	cr_assert_eq(ipcx_region_commit(r), -EPERM);
	cr_assert_eq(ipcx_region_abort(r), -EPERM);
	cr_assert_eq(ipcx_region_begin_write(r, 10, 5, 0, NULL), -EINVAL);
	cr_assert_eq(ipcx_region_begin_write(r, 10, 5, 0, &p), 0);
	cr_assert_eq(memcmp(p, "hello", 5), 0);
	cr_assert_eq(ipcx_region_begin_write(r2, 0, 1, 0, &p), -EDEADLK);
	cr_assert_eq(ipcx_region_commit(r2), -EPERM, "another handle has no write begun");
	memcpy(p, "HE", 2);
	cr_assert_eq(ipcx_region_read(r2, 10, buf, 5, &v), 0, "readers go on during a write");
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(ipcx_region_commit(r), 0);
	cr_assert_eq(ipcx_region_read(r2, 10, buf, 5, &v), 0);
	cr_assert_eq(memcmp(buf, "HEllo", 5), 0);
	cr_assert_eq(v, 2);

	/* An abort leaves nothing behind, in this version or in the next. */
	cr_assert_eq(ipcx_region_begin_write(r, 0, 100, 0, &p), 0);
	memset(p, 'x', 100);
	cr_assert_eq(ipcx_region_abort(r), 0);
	cr_assert_eq(ipcx_region_version(r), 2);
	cr_assert_eq(ipcx_region_begin_write(r, 0, 1, 0, &p), 0);
	cr_assert_eq(memcmp((char *)p + 10, "HEllo", 5), 0);
	cr_assert_eq(((char *)p)[20], 0);
	*(char *)p = 'A';
	cr_assert_eq(ipcx_region_commit(r), 0);
	cr_assert_eq(ipcx_region_read(r2, 0, buf, 100, &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(buf[0], 'A');
	cr_assert_eq(memcmp(buf + 10, "HEllo", 5), 0);
	for (int i = 15; i < 100; i++)
		cr_assert_eq(buf[i], 0, "byte %d", i);

	/* A zero-length write publishes a new version of the same bytes. */
	cr_assert_eq(ipcx_region_write(r, 100, NULL, 0, 0), 0);
	cr_assert_eq(ipcx_region_version(r2), 4);
	ipcx_region_close(r2);
	ipcx_region_close(r);
	ipcx_region_close(NULL);
}

/* Writes alternate between the copies: every one must see every earlier one. */
IPCX_TEST(region, writes_accumulate_across_both_copies)
{
	enum { S = 1000 };
	ipcx_region *r = open_rg("acc", S);
	uint8_t shadow[S] = {0}, buf[S];
	unsigned seed = 7;

	for (int k = 1; k <= 500; k++) {
		uint64_t off = (uint64_t)(rand_r(&seed) % S),
		         len = (uint64_t)(rand_r(&seed) % (S - off + 1));

		memset(shadow + off, k, len);
		if (k % 3 == 0) {
			void *p;
			cr_assert_eq(ipcx_region_begin_write(r, off, len, 0, &p), 0);
			memset(p, 0xee, len);
			cr_assert_eq(ipcx_region_abort(r), 0);
			cr_assert_eq(ipcx_region_begin_write(r, off, len, 0, &p), 0);
			memset(p, k, len);
			cr_assert_eq(ipcx_region_commit(r), 0);
		} else {
			cr_assert_eq(ipcx_region_write(r, off, shadow + off, len, 0), 0);
		}
		if (k % 50 == 0 || k < 10) {
			cr_assert_eq(ipcx_region_read(r, 0, buf, S, NULL), 0);
			cr_assert_eq(memcmp(buf, shadow, S), 0, "after write %d", k);
		}
	}
	cr_assert_eq(ipcx_region_version(r), 500);
	ipcx_region_close(r);
}

IPCX_TEST(region, sizes_from_one_byte_to_64_mib, .timeout = 120)
{
	static const uint64_t sizes[] = {1, 63, 64, 65, 4095, 4096, 4097, 1 << 20, 64ull << 20};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t s = sizes[i], v;
		char name[32];
		ipcx_region *r;
		uint8_t *buf = malloc(s);

		cr_assert(buf);
		snprintf(name, sizeof(name), "s%zu", i);
		r = open_rg(name, s);
		cr_assert_eq(ipcx_region_size(r), s);
		cr_assert_eq(ipcx_region_write(r, s - 1, "z", 1, 0), 0);
		cr_assert_eq(ipcx_region_write(r, 0, "a", 1, 0), 0);
		memset(buf, 1, s);
		cr_assert_eq(ipcx_region_read(r, 0, buf, s, &v), 0);
		cr_assert_eq(v, 2);
		cr_assert_eq(buf[0], 'a');
		cr_assert_eq(buf[s - 1], s == 1 ? 'a' : 'z');
		for (uint64_t j = 1; j + 1 < s; j++)
			if (buf[j] != 0)
				cr_assert_fail("size %llu: byte %llu is %u", (unsigned long long)s,
				               (unsigned long long)j, buf[j]);
		if (s == (64ull << 20)) {
			/* A whole-size write and read of the large one. */
			memset(buf, 0x5a, s);
			cr_assert_eq(ipcx_region_write(r, 0, buf, s, 0), 0);
			memset(buf, 0, s);
			cr_assert_eq(ipcx_region_read(r, 0, buf, s, &v), 0);
			cr_assert_eq(v, 3);
			cr_assert_eq(buf[0], 0x5a);
			cr_assert_eq(buf[s / 2], 0x5a);
			cr_assert_eq(buf[s - 1], 0x5a);
		}
		ipcx_region_close(r);
		cr_assert_eq(ipcx_unlink(name), 0);
		free(buf);
	}
}

/*
 * The torn-read test. The region is [u64 version][u64 sum][N data bytes]; write k picks a
 * random range of the data, fills it with k and rewrites the header with k and the sum of
 * all data bytes. The writer begins each write on [0, end of its range), reads the old
 * bytes through the write pointer (so a copy that lagged would give it a wrong sum) and
 * checks them against its own shadow. Readers check every snapshot: the header's version
 * is the version read returned, and the sum matches the data.
 */
#define TORN_N 4080
#define TORN_SIZE (16 + TORN_N)

struct torn_shared {
	_Atomic int stop;
	_Atomic uint64_t reads[8], fails[8], eagain[8];
	struct test_barrier *bar;
};

static uint64_t sum_of(const uint8_t *d, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += d[i] * (uint64_t)(i + 1);
	return s;
}

static int torn_writer(void *arg)
{
	struct torn_shared *sh = arg;
	static uint8_t shadow[TORN_N];
	unsigned seed = (unsigned)getpid();
	ipcx_region *r;
	uint64_t k = 0, tries = 0;

	die_with_parent();
	if (ipcx_region_open("torn", 0, 0, TORN_SIZE, &r) != 0)
		return 30;
	/* Start from what is published (an earlier writer may have been killed). */
	{
		static uint8_t snap[TORN_SIZE];
		int ret;

		while ((ret = ipcx_region_read(r, 0, snap, TORN_SIZE, NULL)) == -EAGAIN)
			;
		if (ret != 0)
			return 34;
		memcpy(&k, snap, 8);
		memcpy(shadow, snap + 16, TORN_N);
	}
	if (sh->bar)
		test_barrier_wait(sh->bar);
	while (!atomic_load(&sh->stop) || k < 2000) {
		uint64_t a = (uint64_t)rand_r(&seed) % TORN_N;
		uint64_t len = 1 + (uint64_t)rand_r(&seed) % (TORN_N - a);
		uint8_t *p;
		uint64_t hdr[2];

		int ret = ipcx_region_begin_write(r, 0, 16 + a + len, IPCX_FOREVER, (void **)&p);

		if (ret == -EOWNERDEAD) /* an earlier writer was killed: repaired, try again */
			ret = ipcx_region_begin_write(r, 0, 16 + a + len, IPCX_FOREVER,
			                              (void **)&p);
		if (ret != 0)
			return 31;
		memcpy(hdr, p, 16);
		if (hdr[0] != k || memcmp(p + 16, shadow, a + len) != 0)
			return 32;      /* the copy being written lagged the published one */
		if (++tries % 7 == 3) { /* an aborted write must leave no trace */
			memset(p + 16 + a, 0xff, len);
			ipcx_region_abort(r);
			continue;
		}
		k++;
		memset(shadow + a, (int)(k & 0xff), len);
		memset(p + 16 + a, (int)(k & 0xff), len);
		hdr[0] = k;
		hdr[1] = sum_of(shadow, TORN_N);
		memcpy(p, hdr, 16);
		if (ipcx_region_commit(r) != 0)
			return 33;
		if (k > 1000000)
			break;
	}
	ipcx_region_close(r);
	return 0;
}

struct reader_arg {
	struct torn_shared *sh;
	int me;
};

static int torn_reader(void *arg)
{
	struct torn_shared *sh = ((struct reader_arg *)arg)->sh;
	int me = ((struct reader_arg *)arg)->me;
	static uint8_t buf[TORN_SIZE];
	uint64_t last = 0;
	ipcx_region *r;

	die_with_parent();
	if (ipcx_region_open("torn", 0, 0, 0, &r) != 0)
		return 30;
	test_barrier_wait(sh->bar);
	while (!atomic_load(&sh->stop)) {
		uint64_t v, hdr[2];
		int ret = ipcx_region_read(r, 0, buf, TORN_SIZE, &v);

		if (ret == -EAGAIN) {
			atomic_fetch_add(&sh->eagain[me], 1);
			continue;
		}
		if (ret != 0) {
			atomic_fetch_add(&sh->fails[me], 1);
			return 31;
		}
		memcpy(hdr, buf, 16);
		if (hdr[0] != v || hdr[1] != sum_of(buf + 16, TORN_N) || v < last) {
			atomic_fetch_add(&sh->fails[me], 1);
			return 32;
		}
		last = v;
		atomic_fetch_add(&sh->reads[me], 1);
	}
	ipcx_region_close(r);
	return 0;
}

IPCX_TEST(region, snapshots_are_never_torn, .timeout = 60)
{
	enum { READERS = 3 };
	struct torn_shared *sh = test_shared_alloc(sizeof(*sh));
	ipcx_region *r = open_rg("torn", TORN_SIZE);
	pid_t w, rd[READERS];
	uint64_t total = 0;

	sh->bar = test_barrier_new(READERS + 2);
	for (int i = 0; i < READERS; i++) {
		struct reader_arg a = {sh, i};
		rd[i] = test_fork(torn_reader, &a);
	}
	w = test_fork(torn_writer, sh);
	test_barrier_wait(sh->bar);
	/* Let them race for a while; then, on a machine so loaded that a reader has not had
	 * a snapshot yet, until each has (the test's timeout bounds that). */
	pause_ms(1500);
	for (int i = 0; i < READERS; i++)
		while (atomic_load(&sh->reads[i]) == 0 && atomic_load(&sh->fails[i]) == 0)
			pause_ms(1);
	atomic_store(&sh->stop, 1);
	cr_assert_eq(test_wait(w), 0);
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(test_wait(rd[i]), 0, "reader %d", i);
	for (int i = 0; i < READERS; i++) {
		cr_assert_gt(atomic_load(&sh->reads[i]), 0, "reader %d read nothing", i);
		total += atomic_load(&sh->reads[i]);
	}
	cr_log_info("%llu snapshots checked", (unsigned long long)total);
	cr_assert_geq(ipcx_region_version(r), 2000);
	ipcx_region_close(r);
}

/* Checks a snapshot of the torn-test layout; returns its version or -1. */
static int64_t check_torn(ipcx_region *r)
{
	static uint8_t buf[TORN_SIZE];
	uint64_t v, hdr[2];
	int ret;

	/* A writer may be running: a read overtaken on every try gives -EAGAIN, which is the
	 * contract, not a failure (a slow reader on a loaded machine sees it). */
	while ((ret = ipcx_region_read(r, 0, buf, TORN_SIZE, &v)) == -EAGAIN)
		;
	cr_assert_eq(ret, 0);
	memcpy(hdr, buf, 16);
	if (hdr[0] != v || hdr[1] != sum_of(buf + 16, TORN_N))
		return -1;
	return (int64_t)v;
}

/* Writers are SIGKILLed at random moments; every survivor state is a consistent snapshot. */
IPCX_TEST(region, writer_killed_at_random_points, .timeout = 60)
{
	struct torn_shared *sh = test_shared_alloc(sizeof(*sh));
	ipcx_region *r = open_rg("torn", TORN_SIZE);
	unsigned seed = 42;
	int owner_dead = 0;
	int64_t before, after;
	void *p;

	sh->stop = 1; /* each writer does its 2000 writes, unless killed first */
	for (int i = 0; i < 20; i++) {
		pid_t w = test_fork(torn_writer, sh);

		pause_ms(1 + (int)(rand_r(&seed) % 15));
		before = check_torn(r);
		cr_assert_geq(before, 0, "snapshot while the writer runs (round %d)", i);
		kill(w, SIGKILL);
		int status = test_wait(w);
		cr_assert(status == 128 + SIGKILL || status == 0, "writer: %d", status);
		after = check_torn(r);
		cr_assert_geq(after, before, "round %d: the published version stays", i);
	}
	/* The next writer is told once, then writes. */
	for (int i = 0; i < 2; i++) {
		int ret = ipcx_region_begin_write(r, 0, 1, 0, &p);
		if (ret == -EOWNERDEAD) {
			owner_dead++;
			continue;
		}
		cr_assert_eq(ret, 0);
		cr_assert_eq(ipcx_region_abort(r), 0);
		break;
	}
	cr_assert_leq(owner_dead, 1);
	/* A last writer continues from the snapshot, with readers checking. */
	sh->stop = 1;
	cr_assert_eq(test_wait(test_fork(torn_writer, sh)), 0);
	cr_assert_geq(check_torn(r), 2000);
	ipcx_region_close(r);
}

/*
 * A writer stops (SIGSTOP) in the middle of a write with half its range scribbled: readers
 * go on with the last published version, other writers time out; then it is SIGKILLed: the
 * next writer gets -EOWNERDEAD once, and after it the data is exactly the last published
 * version plus the new write.
 */
struct stop_shared {
	_Atomic int scribbled;
};

static int half_writer(void *arg)
{
	struct stop_shared *sh = arg;
	ipcx_region *r;
	uint8_t *p;

	die_with_parent();
	if (ipcx_region_open("k", 0, 0, 0, &r) != 0)
		return 30;
	if (ipcx_region_begin_write(r, 1024, 2048, IPCX_FOREVER, (void **)&p) != 0)
		return 31;
	memset(p, 'B', 1024);
	atomic_store(&sh->scribbled, 1);
	raise(SIGSTOP);
	for (;;)
		pause(); /* killed while stopped, or here */
}

static int blocked_reader(void *arg)
{
	static uint8_t buf[4096];
	ipcx_region *r;
	uint64_t v;
	void *p;

	die_with_parent();
	if (ipcx_region_open("k", 0, 0, 0, &r) != 0)
		return 30;
	for (int i = 0; i < 20000; i++) {
		if (ipcx_region_read(r, 0, buf, sizeof(buf), &v) != 0 || v != 1)
			return 31;
		for (int j = 0; j < 4096; j += 511)
			if (buf[j] != 'A')
				return 32;
	}
	if (ipcx_region_wait_change(r, 1, 30000000, &v) != -ETIMEDOUT)
		return 33;
	if (ipcx_region_begin_write(r, 0, 1, 0, &p) != -EAGAIN)
		return 34;
	if (ipcx_region_begin_write(r, 0, 1, 30000000, &p) != -ETIMEDOUT)
		return 35;
	ipcx_region_set_wait(r, IPCX_WAIT_SLEEP);
	if (ipcx_region_begin_write(r, 0, 1, 30000000, &p) != -ETIMEDOUT)
		return 36;
	ipcx_region_close(r);
	return 0;
}

IPCX_TEST(region, stopped_then_killed_writer)
{
	struct stop_shared *sh = test_shared_alloc(sizeof(*sh));
	ipcx_region *r = open_rg("k", 4096);
	struct ipcx_region_state st;
	static uint8_t buf[4096], want[4096];
	uint64_t v;
	void *p;
	pid_t w;

	memset(want, 'A', sizeof(want));
	cr_assert_eq(ipcx_region_write(r, 0, want, sizeof(want), 0), 0);
	w = test_fork(half_writer, sh);
	while (!atomic_load(&sh->scribbled))
		pause_ms(1);
	cr_assert_eq(ipcx_region_get_state(r, &st), 0);
	cr_assert(st.writing);
	cr_assert_eq(st.owner, IPCX_REGION_ALIVE);
	cr_assert_eq(st.owner_pid, w);
	cr_assert_eq(st.version, 1);
	cr_assert_eq(st.last_writer_pid, getpid());

	cr_assert_eq(test_wait(test_fork(blocked_reader, NULL)), 0);
	test_kill(w);

	cr_assert_eq(ipcx_region_get_state(r, &st), 0);
	cr_assert_eq(st.owner, IPCX_REGION_DEAD);
	cr_assert(st.writing);
	cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(memcmp(buf, want, sizeof(buf)), 0);

	cr_assert_eq(ipcx_region_begin_write(r, 1500, 10, 0, &p), -EOWNERDEAD);
	cr_assert_eq(ipcx_region_get_state(r, &st), 0);
	cr_assert(!st.writing);
	cr_assert_eq(st.owner, IPCX_REGION_FREE);
	cr_assert_eq(ipcx_region_begin_write(r, 1500, 10, 0, &p), 0);
	cr_assert_eq(memcmp(p, want + 1500, 10), 0, "the half-written copy was repaired");
	memset(p, 'C', 10);
	cr_assert_eq(ipcx_region_commit(r), 0);
	memset(want + 1500, 'C', 10);
	cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(memcmp(buf, want, sizeof(buf)), 0);
	/* And the copy after that one too (the other copy). */
	cr_assert_eq(ipcx_region_write(r, 0, "D", 1, 0), 0);
	want[0] = 'D';
	cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(memcmp(buf, want, sizeof(buf)), 0);
	ipcx_region_close(r);
}

/* ---- wait_change ---- */

static int change_waiter(void *arg)
{
	unsigned mode = (unsigned)(uintptr_t)arg;
	ipcx_region *r;
	uint64_t v = 0;
	int ret;

	die_with_parent();
	if (ipcx_region_open("w", 0, 0, 0, &r) != 0)
		return 30;
	ipcx_region_set_wait(r, mode);
	ret = ipcx_region_wait_change(r, 0, IPCX_FOREVER, &v);
	if (ret == -EIDRM)
		return 11;
	if (ret != 0)
		return 31;
	return v >= 1 ? 0 : 32;
}

static void wait_for_sleepers(ipcx_region *r, uint32_t n)
{
	struct ipcx_region_state st;

	for (;;) { /* bounded by the test's timeout, not by a guess of the machine's speed */
		cr_assert_eq(ipcx_region_get_state(r, &st), 0);
		if (st.waiters >= n)
			return;
		pause_ms(1);
	}
}

static void wait_for_attached(const char *name, unsigned n)
{
	struct ipcx_info in;

	for (;;) { /* bounded by the test's timeout, not by a guess of the machine's speed */
		cr_assert_eq(ipcx_stat(name, &in), 0);
		if (in.attached >= n)
			return;
		pause_ms(1);
	}
}

IPCX_TEST(region, wait_change_wakes_times_out_and_sees_removal)
{
	ipcx_region *r = open_rg("w", 64);
	pid_t c[3];
	uint64_t v = 99;

	cr_assert_eq(ipcx_region_wait_change(NULL, 0, 0, &v), -EINVAL);
	cr_assert_eq(ipcx_region_wait_change(r, 0, 0, &v), -EAGAIN);
	cr_assert_eq(ipcx_region_wait_change(r, 0, 20000000, &v), -ETIMEDOUT);
	cr_assert_eq(v, 99);
	cr_assert_eq(ipcx_region_wait_change(r, 5, 0, &v), 0, "differs already");
	cr_assert_eq(v, 0);

	/* Sleepers in every mode wake on a publish. */
	for (unsigned m = 0; m < 3; m++)
		c[m] = test_fork(change_waiter, (void *)(uintptr_t)m);
	wait_for_sleepers(r, 2); /* the spinning one never sleeps */
	cr_assert_eq(ipcx_region_write(r, 0, "x", 1, 0), 0);
	for (unsigned m = 0; m < 3; m++)
		cr_assert_eq(test_wait(c[m]), 0, "mode %u", m);

	/* Removal wakes them with -EIDRM (a fresh region, at version 0 again). */
	cr_assert_eq(ipcx_unlink("w"), 0);
	ipcx_region_close(r);
	r = open_rg("w", 64);
	for (unsigned m = 0; m < 3; m++)
		c[m] = test_fork(change_waiter, (void *)(uintptr_t)m);
	wait_for_sleepers(r, 2);
	/* The spinning waiter never shows as a sleeper: wait until it has the region open, or
	 * the removal would come before its open (ENOENT) instead of during its wait. */
	wait_for_attached("w", 4);
	cr_assert_eq(ipcx_unlink("w"), 0);
	for (unsigned m = 0; m < 3; m++)
		cr_assert_eq(test_wait(c[m]), 11, "mode %u", m);
	cr_assert_eq(ipcx_region_wait_change(r, 0, IPCX_FOREVER, &v), -EIDRM);
	cr_assert_eq(ipcx_region_begin_write(r, 0, 1, IPCX_FOREVER, (void **)&v), -EIDRM);
	ipcx_region_close(r);
}

/* ---- hostile bytes ---- */

static int gen_scrambler(void *arg)
{
	uint8_t *body = arg;
	unsigned seed = 1;

	die_with_parent();
	for (;;) {
		uint64_t g = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 2) ^
		             (uint64_t)rand_r(&seed);
		atomic_store(word64(body, B_GEN), g);
		atomic_fetch_add((_Atomic uint32_t *)(body + B_CHANGE), 1);
	}
	return 0;
}

static int change_bumper(void *arg)
{
	uint8_t *body = arg;

	die_with_parent();
	for (;;) {
		atomic_fetch_add((_Atomic uint32_t *)(body + B_CHANGE), 1);
		ipcx__futex_wake((_Atomic uint32_t *)(body + B_CHANGE), 8);
	}
	return 0;
}

IPCX_TEST(region, hostile_bytes)
{
	ipcx_region *r = open_rg("h", 5000), *r2;
	static uint8_t buf[5000], want[5000];
	struct ipcx_region_state st;
	size_t maplen;
	uint8_t *body = map_body("h", &maplen);
	uint64_t v;
	pid_t s;

	memset(want, 'a', sizeof(want));
	cr_assert_eq(ipcx_region_write(r, 0, want, sizeof(want), 0), 0);

	/* Ranges out of bounds: the writer copies everything instead. */
	static const uint64_t bad[][2] = {
	        {UINT64_MAX, 1}, {1, UINT64_MAX}, {4999, 2}, {5001, 0}, {1ull << 62, 1ull << 62}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atomic_store(word64(body, B_LAST_OFF), bad[i][0]);
		atomic_store(word64(body, B_LAST_LEN), bad[i][1]);
		atomic_store(word64(body, B_PEND_OFF), bad[i][1]);
		atomic_store(word64(body, B_PEND_LEN), bad[i][0]);
		cr_assert_eq(ipcx_region_write(r, i, "b", 1, 0), 0);
		want[i] = 'b';
		cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), NULL), 0);
		cr_assert_eq(memcmp(buf, want, sizeof(buf)), 0, "bad range %zu", i);
	}

	/* A garbled gen: reads give one copy or the other, writes go on. */
	atomic_store(word64(body, B_GEN), UINT64_MAX);
	cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), &v), 0);
	cr_assert_eq(v, UINT64_MAX >> 1);
	cr_assert_eq(ipcx_region_version(r), INT64_MAX);
	cr_assert_eq(ipcx_region_get_state(r, &st), 0);
	cr_assert(st.writing);
	cr_assert_eq(ipcx_region_write(r, 0, "c", 1, 0), 0);
	cr_assert_eq(ipcx_region_version(r), 0, "wrapped");
	atomic_store(word64(body, B_GEN), 12345);
	cr_assert_eq(ipcx_region_wait_change(r, 6172, 0, &v), -EAGAIN);

	/* A peer scrambling gen and change all the time: no hang, no crash. */
	s = test_fork(gen_scrambler, body);
	for (int i = 0; i < 20000; i++) {
		int ret = ipcx_region_read(r, (uint64_t)i % 100, buf, 4000, &v);
		cr_assert(ret == 0 || ret == -EAGAIN, "%d", ret);
	}
	for (int i = 0; i < 50; i++) {
		int ret = ipcx_region_wait_change(r, 7, 1000000, &v);
		cr_assert(ret == 0 || ret == -ETIMEDOUT);
		ret = ipcx_region_write(r, 10, "dd", 2, 1000000);
		cr_assert_eq(ret, 0);
	}
	test_kill(s);

	/* change bumped alone: wait_change still ends at its deadline. */
	atomic_store(word64(body, B_GEN), 8);
	s = test_fork(change_bumper, body);
	cr_assert_eq(ipcx_region_wait_change(r, 4, 50000000, &v), -ETIMEDOUT);
	test_kill(s);

	/* Header sizes changed: open handles keep their own, new opens fail. */
	atomic_store(word64(body, B_SIZE), 1ull << 50);
	cr_assert_eq(ipcx_region_read(r, 0, buf, sizeof(buf), NULL), 0);
	cr_assert_eq(ipcx_region_write(r, 4990, "e", 1, 0), 0);
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), -EBADMSG);
	atomic_store(word64(body, B_SIZE), 0);
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), -EBADMSG);
	atomic_store(word64(body, B_SIZE), 5000);
	atomic_store(word64(body, B_STRIDE), 4096);
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), -EBADMSG);
	atomic_store(word64(body, B_STRIDE), 8192);
	atomic_store(word64(body, B_DATA_OFF), 0);
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), -EBADMSG);
	atomic_store(word64(body, B_DATA_OFF), 4096);
	body[0] ^= 1;
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), -EBADMSG);
	body[0] ^= 1;
	cr_assert_eq(ipcx_region_open("h", 0, 0, 0, &r2), 0);
	ipcx_region_close(r2);
	ipcx_region_close(r);
	munmap(body - IPCX__BODY_OFFSET, maplen);
}

/* A write begun and left: by a thread that exits, or by a process that closed its handle
 * and exited. The next writer is told, and the data is the last published version. */
static void *begin_and_exit(void *arg)
{
	void *p;

	if (ipcx_region_begin_write(arg, 0, 4, IPCX_FOREVER, &p) != 0)
		return (void *)1;
	memcpy(p, "JUNK", 4);
	return NULL;
}

static int close_while_writing(void *arg)
{
	ipcx_region *r;
	void *p;

	die_with_parent();
	if (ipcx_region_open("c", 0, 0, 0, &r) != 0)
		return 30;
	if (ipcx_region_begin_write(r, 4, 4, IPCX_FOREVER, &p) != 0)
		return 31;
	memcpy(p, "JUNK", 4);
	ipcx_region_close(r); /* keeps the mapping: the lock is still ours */
	return 0;
}

IPCX_TEST(region, write_left_by_exited_thread_or_closed_handle)
{
	ipcx_region *r = open_rg("c", 8);
	char buf[8];
	pthread_t t;
	void *ret, *p;
	uint64_t v;

	cr_assert_eq(ipcx_region_write(r, 0, "abcdefgh", 8, 0), 0);
	cr_assert_eq(pthread_create(&t, NULL, begin_and_exit, r), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_null(ret);
	cr_assert_eq(ipcx_region_commit(r), -EPERM, "not this thread's write");
	cr_assert_eq(ipcx_region_begin_write(r, 0, 1, 0, &p), -EOWNERDEAD);
	cr_assert_eq(ipcx_region_read(r, 0, buf, 8, &v), 0);
	cr_assert_eq(memcmp(buf, "abcdefgh", 8), 0);
	cr_assert_eq(v, 1);

	cr_assert_eq(test_wait(test_fork(close_while_writing, NULL)), 0);
	cr_assert_eq(ipcx_region_write(r, 0, "A", 1, 1000000000), -EOWNERDEAD);
	cr_assert_eq(ipcx_region_write(r, 0, "A", 1, 1000000000), 0);
	cr_assert_eq(ipcx_region_read(r, 0, buf, 8, &v), 0);
	cr_assert_eq(memcmp(buf, "Abcdefgh", 8), 0);
	cr_assert_eq(v, 2);
	ipcx_region_close(r);
}
