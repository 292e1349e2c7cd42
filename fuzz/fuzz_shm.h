/* SPDX-License-Identifier: MIT */
/*
 * What the fuzzers of live objects share: reading the input as a program, writing chosen
 * bytes into the object's shared memory between operations (as a hostile peer could), checking
 * that a span the library hands out lies inside the ring, and a private namespace directory.
 */
#ifndef IPCX_FUZZ_SHM_H
#define IPCX_FUZZ_SHM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

/* The next `bytes` input bytes, little-endian; missing bytes read as zero. */
static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

/*
 * Writes 8 chosen bytes into the object's memory `body` of `size` bytes, steered by the
 * already-taken byte `how`: bit 0 aims at one of the `nhot` offsets in `hot`, else at any
 * 8-aligned offset; bit 2 makes the value a position near `reserve`, `stride` bytes a step,
 * so it passes the first checks. (The caller handles its own uses of bit 1 first.)
 */
static inline void fuzz_poke(struct fuzz_input *in, unsigned how, uint8_t *body, uint64_t size,
                             const uint32_t *hot, size_t nhot, uint64_t reserve, uint64_t stride)
{
	uint64_t off, v;

	if (how & 1) {
		off = hot[(how >> 1) % nhot];
	} else {
		off = fuzz_take(in, 4) % (size - 8);
		off &= ~7ull;
	}
	v = fuzz_take(in, 8);
	if (how & 4)
		v = reserve + (uint64_t)(int8_t)v * stride;
	memcpy(body + off, &v, 8);
}

/* Aborts unless [p, p + len) lies inside the ring [ring, ring + cap). */
static inline void fuzz_check_span(const uint8_t *ring, uint64_t cap, const void *p, size_t len)
{
	const uint8_t *q = p;

	if (q < ring || q + len > ring + cap) {
		fprintf(stderr, "span %p+%zu outside ring %p+%llu\n", (const void *)q, len,
		        (const void *)ring, (unsigned long long)cap);
		abort();
	}
	if (len) /* touch both ends: ASan checks them */
		(void)*(volatile const uint8_t *)q, (void)*(volatile const uint8_t *)(q + len - 1);
}

static char fuzz_dir[64];

static inline void fuzz_remove_dir(void)
{
	ipcx_unlink("fuzz");
	rmdir(fuzz_dir);
}

/* A private namespace directory, /tmp/ipcx-fuzz-WHAT.*, so a replay never touches the real
 * one; the object "fuzz" in it and the directory go at exit. */
static inline void fuzz_setup_dir(const char *what)
{
	if (fuzz_dir[0])
		return;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/ipcx-fuzz-%s.XXXXXX", what);
	if (!mkdtemp(fuzz_dir))
		abort();
	setenv("IPCX_DIR", fuzz_dir, 1);
	atexit(fuzz_remove_dir);
}

#endif
