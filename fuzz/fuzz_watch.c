/* SPDX-License-Identifier: MIT */
/*
 * The descriptor watchers' table is shared memory that any peer with write access can
 * scribble on. This target writes the input over a live channel's watch table and the
 * watcher part of its data word's count, between sends, receives and the re-arming of a
 * real descriptor. Nothing may crash, hang or write outside ipcx watcher FIFOs (names are
 * always "~ipcx-w.<hex>.<hex>" in the namespace directory, which the target owns), and the
 * real descriptor must still become readable when a message is sent after a re-arm that
 * returned 0 -- unless the input scribbled over that descriptor's own entry.
 *
 * Input: records of 1 opcode byte and up to 9 argument bytes.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/chan.h"
#include "internal/sys.h"
#include "internal/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ipcx_chan *rx, *tx;
static char dir[64];

static void cleanup(void)
{
	ipcx_chan_close(rx);
	ipcx_chan_close(tx);
	ipcx_unlink("w");
	ipcx_gc(false, NULL, NULL);
	rmdir(dir);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-watch.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	if (ipcx_chan_open("w", IPCX_CREATE, 0, NULL, &rx) != 1 ||
	    ipcx_chan_open("w", 0, 0, NULL, &tx) != 0)
		abort();
	atexit(cleanup);
}

static uint64_t take(const uint8_t **d, size_t *n, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && *n; i++, (*d)++, (*n)--)
		v |= (uint64_t) * *d << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcx__watch_table *t;
	const uint8_t *d = data;
	size_t n = size;
	bool scribbled_own = false;
	char buf[8];
	int fd;

	if (!rx)
		setup();
	t = ipcx__watch_table(tx->obj.hdr); /* tx stays open, so its mapping does */
	fd = ipcx_chan_fd(rx);
	if (fd < 0)
		abort();
	while (ipcx_chan_recv(rx, buf, sizeof(buf), 0) >= 0)
		;
	for (int ops = 0; n && ops < 128; ops++) {
		uint8_t op = (uint8_t)take(&d, &n, 1);
		uint64_t v = take(&d, &n, 8);
		unsigned i = (unsigned)(op >> 3) % IPCX__WATCH_MAX;
		uint8_t *p;
		int r;

		switch (op & 7) {
		case 0: /* a word of an entry */
			if (atomic_load(&t->w[i].who) == ipcx__proc_self())
				scribbled_own = true; /* our own descriptor's: it may stay silent */
			p = (uint8_t *)&t->w[i] + (v >> 56) % 4 * 8;
			memcpy(p, &v, 8);
			break;
		case 1: /* the high-water mark */
			atomic_store(&t->hiwater, (uint32_t)v);
			scribbled_own = true; /* a low mark hides our entry from wakers */
			break;
		case 2: /* the count the wakers read */
			atomic_store(&tx->b->data_sleepers, (uint32_t)v);
			scribbled_own = true;
			break;
		case 3:
		case 4:
			ipcx_chan_send(tx, "m", 1, 0);
			break;
		case 5:
			ipcx_chan_recv(rx, buf, sizeof(buf), 0);
			break;
		default:
			r = ipcx_chan_fd_rearm(rx);
			if (r < 0 && r != -EINVAL)
				abort();
			break;
		}
	}
	/* Drain the channel, re-arm, and a send must make the descriptor readable. */
	while (ipcx_chan_recv(rx, buf, sizeof(buf), 0) >= 0)
		;
	if (!scribbled_own && ipcx_chan_fd_rearm(rx) == 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};

		if (ipcx_chan_send(tx, "m", 1, 0) == 0 && poll(&pf, 1, 1000) != 1)
			abort();
	}
	/* Start the next input from a clean table: a fresh descriptor. */
	ipcx_chan_close(rx);
	memset(t, 0, sizeof(*t));
	atomic_store(&tx->b->data_sleepers, 0);
	if (ipcx_chan_open("w", 0, 0, NULL, &rx) != 0)
		abort();
	return 0;
}
