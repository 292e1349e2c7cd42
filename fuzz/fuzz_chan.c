/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes a live channel: the input is a program of channel operations interleaved with
 * writes of chosen bytes anywhere in the channel's shared memory (positions, lock, record
 * headers, slots, payload), as a hostile peer could make them. Whatever the memory holds,
 * no call may crash, touch memory outside the channel, or hang; errors are fine.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/chan.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

/* Offsets worth aiming at: the positions, the lock, futex words, counters, a slot. */
static const uint32_t hot[] = {
        offsetof(struct chan_body, capacity),  offsetof(struct chan_body, max_msg),
        offsetof(struct chan_body, lock),      offsetof(struct chan_body, reserve),
        offsetof(struct chan_body, consume),   offsetof(struct chan_body, head),
        offsetof(struct chan_body, orphans),   offsetof(struct chan_body, slots),
        offsetof(struct chan_body, slots) + 8,
};

static void scribble(ipcx_chan *c, struct input *in)
{
	uint8_t *body = (uint8_t *)c->b;
	uint64_t size = CHAN_DATA_OFFSET + c->cap, off, v;
	unsigned how = (unsigned)take(in, 1);

	if (how & 1) {
		off = hot[(how >> 1) % (sizeof(hot) / sizeof(hot[0]))];
	} else if (how & 2) {
		/* A record header in the ring, made plausible: a tag for some position. */
		uint64_t pos = take(in, 2) * 16;
		struct chan_rec *r = rec_at(c, pos);
		atomic_store(&r->ctl, rec_ctl(pos, (unsigned)take(in, 1), (unsigned)take(in, 1)));
		atomic_store(&r->len, (uint32_t)take(in, 4));
		return;
	} else {
		off = take(in, 4) % (size - 8);
		off &= ~7ull;
	}
	v = take(in, 8);
	if (how & 4) /* near a real position, to pass the first checks */
		v = atomic_load(&c->b->reserve) + (uint64_t)(int8_t)v * 16;
	memcpy(body + off, &v, 8);
}

static void check_span(ipcx_chan *c, const void *p, size_t len)
{
	const uint8_t *q = p;

	if (q < c->data || q + len > c->data + c->cap) {
		fprintf(stderr, "span %p+%zu outside ring %p+%llu\n", (const void *)q, len,
		        (void *)c->data, (unsigned long long)c->cap);
		abort();
	}
	if (len) /* touch both ends: ASan checks them */
		(void)*(volatile const uint8_t *)q, (void)*(volatile const uint8_t *)(q + len - 1);
}

static char dir[64];

static void remove_dir(void)
{
	ipcx_unlink("fuzz");
	rmdir(dir);
}

/* A private namespace directory, so a replay never touches the real one. */
static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-chan.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcx_chan_attr a = {4096, 600};
	struct input in = {data, size};
	ipcx_chan *c = NULL, *d = NULL;
	uint8_t buf[700], msg[700];
	const void *p;
	size_t len;
	void *w;

	setup_dir();
	ipcx_unlink("fuzz");
	if (ipcx_chan_open("fuzz", IPCX_CREATE | IPCX_EXCL, 0, &a, &c) < 0)
		return 0;
	memset(msg, 'm', sizeof(msg));
	for (int steps = 0; in.n && steps < 256; steps++) {
		switch (take(&in, 1) % 10) {
		case 0:
			ipcx_chan_send(c, msg, take(&in, 2) % 700, 0);
			break;
		case 1:
			ipcx_chan_recv(c, buf, take(&in, 2) % 700, 0);
			break;
		case 2:
			len = take(&in, 2) % 700;
			if (ipcx_chan_reserve(c, len, 0, &w) == 0) {
				check_span(c, w, len);
				memset(w, 'r', len);
				ipcx_chan_commit(c);
			}
			break;
		case 3:
			if (ipcx_chan_reserve(c, take(&in, 2) % 700, 0, &w) == 0)
				ipcx_chan_abort(c);
			break;
		case 4:
			if (ipcx_chan_peek(c, 0, &p, &len) == 0)
				check_span(c, p, len);
			break;
		case 5:
			ipcx_chan_release(c);
			break;
		case 6:
		case 7:
			scribble(c, &in);
			break;
		case 8: {
			struct ipcx_chan_stats st;
			ipcx_chan_stats(c, &st);
			break;
		}
		case 9:
			/* Another handle: open validates; a short wait runs recovery. */
			if (ipcx_chan_open("fuzz", 0, 0, NULL, &d) == 0) {
				ipcx_chan_recv(d, buf, sizeof(buf), 1000);
				ipcx_chan_send(d, msg, 10, 1000);
				ipcx_chan_close(d);
			}
			break;
		}
	}
	ipcx_chan_close(c);
	ipcx_unlink("fuzz");
	return 0;
}
