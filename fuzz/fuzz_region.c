/* SPDX-License-Identifier: MIT */
/*
 * Runs reads, writes, begun-and-finished writes, waits, state queries and re-opens on a live
 * region while the input overwrites words of the region's header between them, as a hostile
 * peer could. Nothing may crash, read or write out of bounds (ASan watches the mapping's
 * edges), or hang. The lock's own bytes are left alone: what a peer can do to a glibc robust
 * mutex is documented, not defended (docs/event-mutex.md).
 *
 * Input: a sequence of operations, each one byte of opcode and its argument bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIZE 300u
#define STRIDE 320u  /* each copy of the data: SIZE rounded up to 64 bytes */
#define HDR_WORDS 32 /* the header's first 256 bytes, before the lock */

static ipcx_region *rg;
static uint8_t *body;
static uint8_t pristine[HDR_WORDS * 8];

static char dir[64], path[128];

/* The region stays mapped until exit; its file and directory go then. */
static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	struct stat st;
	void *p;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-region.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	if (ipcx_region_open("f", IPCX_CREATE, 0, SIZE, &rg) != 1)
		abort();
	snprintf(path, sizeof(path), "%s/f", dir);
	atexit(cleanup);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		abort();
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		abort();
	body = (uint8_t *)p + IPCX__BODY_OFFSET;
	memcpy(pristine, body, sizeof(pristine));
}

/* Takes n bytes of input as a little-endian number (missing bytes are 0). */
static uint64_t take(const uint8_t **d, size_t *n, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && *n; i++, (*d)++, (*n)--)
		v |= (uint64_t) * *d << (8 * i);
	return v;
}

/* Offsets and lengths: mostly near the region's size, sometimes anything. */
static uint64_t pick(const uint8_t **d, size_t *n)
{
	uint64_t v = take(d, n, 2);

	return (v & 0x8000) ? take(d, n, 8) : v % (2 * SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2 * SIZE];
	const uint8_t *d = data;
	size_t n = size;

	if (!rg)
		setup();
	/* Every input starts from the region as created. */
	memcpy(body, pristine, sizeof(pristine));
	if (ipcx_region_write(rg, 0, buf, 0, 0) < 0) /* publishes version 1 of the same bytes */
		abort();

	for (int ops = 0; n && ops < 256; ops++) {
		uint8_t op = (uint8_t)take(&d, &n, 1);
		uint64_t off, len, v;
		struct ipcx_region_state st;
		ipcx_region *other;
		void *p;
		int r;

		switch (op % 8) {
		case 0: /* a hostile word in the header (never the lock, which starts at 256) */
		case 1:
			off = take(&d, &n, 1) % HDR_WORDS;
			v = take(&d, &n, 8);
			memcpy(body + off * 8, &v, 8);
			break;
		case 2:
			off = pick(&d, &n);
			len = pick(&d, &n);
			r = ipcx_region_read(rg, off, buf, len > sizeof(buf) ? sizeof(buf) : len,
			                     &v);
			if (r != 0 && r != -EINVAL && r != -EAGAIN)
				abort();
			break;
		case 3:
			off = pick(&d, &n);
			len = pick(&d, &n);
			r = ipcx_region_write(rg, off, buf, len > sizeof(buf) ? sizeof(buf) : len,
			                      0);
			if (r != 0 && r != -EINVAL)
				abort();
			break;
		case 4:
			off = pick(&d, &n);
			len = pick(&d, &n);
			r = ipcx_region_begin_write(rg, off, len, 0, &p);
			if (r == 0) {
				memset(p, op, len); /* exactly the range: ASan checks its bounds */
				r = (op & 0x80) ? ipcx_region_abort(rg) : ipcx_region_commit(rg);
				if (r != 0)
					abort();
			} else if (r != -EINVAL) {
				abort();
			}
			break;
		case 5:
			r = ipcx_region_wait_change(rg, take(&d, &n, 8), 0, &v);
			if (r != 0 && r != -EAGAIN)
				abort();
			break;
		case 6:
			if (ipcx_region_get_state(rg, &st) != 0 || st.size != SIZE)
				abort();
			(void)ipcx_region_version(rg);
			break;
		case 7: /* a new opener validates whatever the header says now */
			r = ipcx_region_open("f", 0, 0, 0, &other);
			if (r == 0) {
				/* The peer may have changed the size to another that the same
				 * file holds (257 .. 320 share its layout): data, not memory
				 * safety. Beyond the file's copies it must have been refused. */
				len = ipcx_region_size(other);
				if (len == 0 || len > STRIDE)
					abort();
				r = ipcx_region_read(other, 0, buf, len, &v);
				if (r != 0 && r != -EAGAIN)
					abort();
				ipcx_region_close(other);
			} else if (r != -EBADMSG) {
				abort();
			}
			break;
		}
	}
	return 0;
}
