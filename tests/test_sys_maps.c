/* SPDX-License-Identifier: MIT */
/*
 * The /proc/PID/maps scanner that decides whether a process takes part in an event
 * (src/sys/maps.c): a shared, writable mapping of one device and inode, found in text fed
 * in chunks of any size, with lines of any length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "helpers.h"
#include "internal/sys.h"

/* The file looked for: device 00:1b (as tmpfs shows it), inode 54031. */
static const struct ipcx__file_id want = {0, 54031};

static struct ipcx__file_id want_id(void)
{
	struct ipcx__file_id f = want;

	f.dev = (uint64_t)makedev(0, 0x1b);
	return f;
}

/* Feeds text in chunks of `step` bytes; true when it matched. */
static bool scan(const char *text, size_t step)
{
	struct ipcx__file_id f = want_id();
	struct ipcx__maps_scan s;
	size_t n = strlen(text);

	ipcx__maps_scan_init(&s, &f);
	for (size_t i = 0; i < n; i += step)
		if (ipcx__maps_scan_feed(&s, text + i, n - i < step ? n - i : step))
			return true;
	return false;
}

static void expect_all_steps(const char *text, bool match)
{
	static const size_t steps[] = {1, 2, 3, 7, 64, 4096, 1 << 20};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		cr_expect_eq(scan(text, steps[i]), match, "step %zu: %s", steps[i], text);
}

#define LIB "7f0c29e00000-7f0c29e22000 r--p 00000000 fe:00 1311 /usr/lib/libc.so.6\n"
#define ANON "7f0c2a200000-7f0c2a300000 rw-p 00000000 00:00 0 \n"
#define BARE "7ffd1c5e0000-7ffd1c5e2000 r-xp 00000000 00:00 0\n"
#define SHM(perms, dev, ino)                                                                       \
	"7f0c2a000000-7f0c2a100000 " perms " 00000000 " dev " " ino                                \
	"                    /tmp/ipcx-test.abc/ev\n"

IPCX_TEST(sys_maps, finds_a_shared_writable_mapping)
{
	expect_all_steps(SHM("rw-s", "00:1b", "54031"), true);
	expect_all_steps(LIB ANON SHM("rw-s", "00:1b", "54031") BARE, true);
	/* Deleted files (an unlinked object) keep their device and inode. */
	expect_all_steps("7f0c2a000000-7f0c2a100000 rw-s 00000000 00:1b 54031 /dev/shm/x "
	                 "(deleted)\n",
	                 true);
	/* Unnamed: the line ends right after the inode. */
	expect_all_steps("7f0c2a000000-7f0c2a100000 rw-s 00000000 00:1b 54031\n", true);
	/* Upper-case hex and wider fields than the kernel's minimum of two digits. */
	expect_all_steps(SHM("rw-s", "000:01B", "54031"), true);
}

IPCX_TEST(sys_maps, refuses_everything_else)
{
	expect_all_steps("", false);
	expect_all_steps(LIB ANON BARE, false);
	expect_all_steps(SHM("r--s", "00:1b", "54031"), false); /* read-only */
	expect_all_steps(SHM("rw-p", "00:1b", "54031"), false); /* private copy */
	expect_all_steps(SHM("rwxp", "00:1b", "54031"), false);
	expect_all_steps(SHM("rw-s", "00:1c", "54031"), false); /* another device */
	expect_all_steps(SHM("rw-s", "01:1b", "54031"), false);
	expect_all_steps(SHM("rw-s", "00:1b", "5403"), false); /* a prefix of the inode */
	expect_all_steps(SHM("rw-s", "00:1b", "540310"), false);
	expect_all_steps(SHM("rw-s", "00:1b", "054031x"), false);
	expect_all_steps(SHM("rw-s", "001b", "54031"), false); /* no ':' */
	expect_all_steps(SHM("rw-s", "00:", "54031"), false);
	expect_all_steps(SHM("rw-ss", "00:1b", "54031"), false);
	/* An inode so long it would overflow. */
	expect_all_steps(SHM("rw-s", "00:1b", "184467440737095516160000054031"), false);
	/* The numbers sought, but in the path only. */
	expect_all_steps("7f0c2a000000-7f0c2a100000 rw-s 00000000 00:05 7 /x rw-s 00:1b 54031\n",
	                 false);
	/* A last line without its newline is not complete. */
	expect_all_steps("7f0c2a000000-7f0c2a100000 rw-s 00000000 00:1b 54031", false);
	/* Half a line: a mapping whose fields end early. */
	expect_all_steps("7f0c2a000000-7f0c2a100000 rw-s\n00:1b 54031\n", false);
}

/* A path far longer than any buffer, before the match, spanning many reads. */
IPCX_TEST(sys_maps, long_lines_span_reads)
{
	size_t len = 100000;
	char *text = malloc(len + 512), *p = text;

	p += sprintf(p, "7f0c2a200000-7f0c2a300000 rw-s 00000000 00:1b 54031");
	/* The same numbers continue inside the path: no match on the first line. */
	p += sprintf(p, "0 /");
	memset(p, 'a', len);
	p += len;
	p += sprintf(p, " 00:1b 54031\n" SHM("rw-s", "00:1b", "54031"));
	expect_all_steps(text, true);
	p[-1] = 'x'; /* the last line loses its newline */
	expect_all_steps(text, false);
	free(text);
}

/* Whether the running kernel is older than major.minor. */
static bool kernel_before(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	cr_assert_eq(uname(&u), 0);
	cr_assert_eq(sscanf(u.release, "%d.%d", &ma, &mi), 2, "release %s", u.release);
	return ma < major || (ma == major && mi < minor);
}

/*
 * Asks each way (the ioctl with and without the right hint, the text, and the two combined)
 * whether this process maps f shared and writable, on a fresh open of its maps each time.
 */
static void expect_self(const struct ipcx__file_id *f, void *addr, int expected)
{
	const uint64_t hints[] = {0, (uint64_t)(uintptr_t)addr, 4096, (uint64_t)(uintptr_t)&hints};
	int fd, r;

	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		cr_assert(fd >= 0);
		r = ipcx__maps_query(fd, f, hints[i]);
		/* PROCMAP_QUERY came in Linux 6.11: older kernels must say so, newer must answer.
		 */
		if (kernel_before(6, 11))
			cr_expect_eq(r, -ENOTTY, "query on a pre-6.11 kernel, hint %zu: %d", i, r);
		else
			cr_expect_eq(r, expected, "query, hint %zu: %d", i, r);
		close(fd);
		fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		cr_expect_eq(ipcx__maps_has_file(fd, f, hints[i]), expected, "has_file, hint %zu",
		             i);
		close(fd);
	}
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	cr_expect_eq(ipcx__maps_scan_text(fd, f), expected, "text");
	close(fd);
}

/* The real thing: this process's maps show a file it maps, and not one it unmapped. */
IPCX_TEST(sys_maps, this_process)
{
	char path[256];
	struct stat st;
	struct ipcx__file_id f;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/file", test_dir());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 3 * 4096), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	f.dev = (uint64_t)st.st_dev;
	f.ino = (uint64_t)st.st_ino;

	/* Read-only, or private: not a participant's mapping. */
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	expect_self(&f, p, 0);
	munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert(p != MAP_FAILED);
	expect_self(&f, p, 0);
	munmap(p, 4096);

	/* Shared and writable; the hint may point anywhere inside. */
	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	expect_self(&f, p, 1);
	expect_self(&f, (char *)p + 2 * 4096 + 100, 1);
	/* Another file with the same device: the inode tells them apart. */
	f.ino++;
	expect_self(&f, p, 0);
	f.ino--;
	munmap(p, 3 * 4096);

	expect_self(&f, p, 0);
	cr_expect_eq(ipcx__maps_has_file(-1, &f, 0), -EBADF);
	close(fd);
}
