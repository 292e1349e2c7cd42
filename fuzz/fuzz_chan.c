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

#include "fuzz_shm.h"

/* Offsets worth aiming at: the positions, the lock, futex words, counters, a slot. */
static const uint32_t hot[] = {
        offsetof(struct chan_body, capacity),  offsetof(struct chan_body, max_msg),
        offsetof(struct chan_body, lock),      offsetof(struct chan_body, reserve),
        offsetof(struct chan_body, consume),   offsetof(struct chan_body, head),
        offsetof(struct chan_body, orphans),   offsetof(struct chan_body, slots),
        offsetof(struct chan_body, slots) + 8,
};

static void scribble(ipcx_chan *c, struct fuzz_input *in)
{
	unsigned how = (unsigned)fuzz_take(in, 1);

	if (!(how & 1) && (how & 2)) {
		/* A record header in the ring, made plausible: a tag for some position. */
		uint64_t pos = fuzz_take(in, 2) * 16;
		struct chan_rec *r = rec_at(c, pos);
		atomic_store(&r->ctl,
		             rec_ctl(pos, (unsigned)fuzz_take(in, 1), (unsigned)fuzz_take(in, 1)));
		atomic_store(&r->len, (uint32_t)fuzz_take(in, 4));
		return;
	}
	fuzz_poke(in, how, (uint8_t *)c->b, CHAN_DATA_OFFSET + c->cap, hot,
	          sizeof(hot) / sizeof(hot[0]), atomic_load(&c->b->reserve), 16);
}

static void check_span(ipcx_chan *c, const void *p, size_t len)
{
	fuzz_check_span(c->data, c->cap, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcx_chan_attr a = {4096, 600};
	struct fuzz_input in = {data, size};
	ipcx_chan *c = NULL, *d = NULL;
	uint8_t buf[700], msg[700];
	const void *p;
	size_t len;
	void *w;

	fuzz_setup_dir("chan");
	ipcx_unlink("fuzz");
	if (ipcx_chan_open("fuzz", IPCX_CREATE | IPCX_EXCL, 0, &a, &c) < 0)
		return 0;
	memset(msg, 'm', sizeof(msg));
	for (int steps = 0; in.n && steps < 256; steps++) {
		switch (fuzz_take(&in, 1) % 10) {
		case 0:
			ipcx_chan_send(c, msg, fuzz_take(&in, 2) % 700, 0);
			break;
		case 1:
			ipcx_chan_recv(c, buf, fuzz_take(&in, 2) % 700, 0);
			break;
		case 2:
			len = fuzz_take(&in, 2) % 700;
			if (ipcx_chan_reserve(c, len, 0, &w) == 0) {
				check_span(c, w, len);
				memset(w, 'r', len);
				ipcx_chan_commit(c);
			}
			break;
		case 3:
			if (ipcx_chan_reserve(c, fuzz_take(&in, 2) % 700, 0, &w) == 0)
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
