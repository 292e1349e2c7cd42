/* SPDX-License-Identifier: MIT */
/*
 * A semaphore set whose runtime state a hostile peer has scribbled over: the input patches
 * a valid set (journal, UNDO tables, wait records and their entries, values, hint counters),
 * then every call runs on it. The calls may return wrong values or errors, never crash, read
 * or write out of bounds, or hang (the operations use timeout 0).
 *
 * Input: byte 0 says how many semaphores (1..64) and what the script does; then patches of
 * 6 bytes each: a 32-bit little-endian offset into the body (modulo its size), a mask and an
 * XOR value for the byte there. The lock word is kept free: a lock that a live process (the
 * fuzzer itself) seems to hold is a peer that never lets go, which waits by design.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/semset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* Every input unlinks its set, so the directory is empty at exit. */
static void remove_dir(void)
{
	rmdir(dir);
}

static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-sem.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ipcx_semset *s = NULL, *t = NULL;
	struct ipcx_sem_info info[64];
	int32_t vals[64];
	uint32_t n;
	uint8_t *body;

	if (size < 1)
		return 0;
	setup_dir();
	n = 1 + data[0] % 64;
	ipcx_unlink("f");
	if (ipcx_semset_open("f", IPCX_CREATE | IPCX_EXCL, 0, n, 1, &s) < 0)
		abort();
	body = (uint8_t *)s->b;
	for (size_t p = 1; p + 6 <= size; p += 6) {
		uint32_t off;

		memcpy(&off, data + p, 4);
		off %= (uint32_t)s->obj.body_size;
		body[off] = (uint8_t)((body[off] & data[p + 4]) ^ data[p + 5]);
	}
	atomic_store(&s->b->lock, 0);

	/* A second handle validates and recovers what it finds on open. */
	if (ipcx_semset_open("f", 0, 0, 0, 0, &t) < 0)
		t = NULL;
	for (uint32_t i = 0; i < n + 1; i++) {
		struct ipcx_sembuf ops[3] = {{i, -1, (data[0] & 64) ? IPCX_SEM_UNDO : 0},
		                             {(i + 1) % n, 1, 0},
		                             {i, 0, IPCX_SEM_NOWAIT}};

		ipcx_semset_op(s, ops, 1 + (data[0] >> 6) % 3, 0);
		ipcx_semset_op(s, ops + 1, 1, 0);
		if (t)
			ipcx_semset_op(t, ops, 2, 0);
		ipcx_semset_get(s, i);
		ipcx_semset_ncnt(s, i);
		ipcx_semset_zcnt(s, i);
		ipcx_semset_pid(s, i);
	}
	ipcx_semset_getall(s, vals, 64);
	ipcx_semset_stat(s, 0, info, 64);
	if (data[0] & 128)
		ipcx_semset_set(s, 0, 3);
	else
		ipcx_semset_setall(s, vals, n);
	ipcx_semset_close(t);
	ipcx_semset_close(s);
	ipcx_unlink("f");
	return 0;
}
