/* SPDX-License-Identifier: MIT */
/*
 * Channels against a hostile peer: random bytes written over the live channel's memory
 * between operations. Calls may fail or deliver garbage, but never crash, reach outside
 * the channel, or hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/chan.h"

static uint64_t rnd(void)
{
	return (uint64_t)rand() << 33 ^ (uint64_t)rand() << 11 ^ (uint64_t)rand();
}

static void in_ring(ipcx_chan *c, const void *p, size_t len)
{
	const uint8_t *q = p;

	cr_assert(q >= c->data && q + len <= c->data + c->cap, "pointer outside the ring");
}

IPCX_TEST(chan_hostile, scribbles_between_operations, .timeout = 120)
{
	struct ipcx_chan_attr a = {8192, 1000};
	uint64_t fields[] = {offsetof(struct chan_body, lock), offsetof(struct chan_body, reserve),
	                     offsetof(struct chan_body, consume), offsetof(struct chan_body, head),
	                     offsetof(struct chan_body, orphans)};
	unsigned seed = (unsigned)time(NULL);
	ipcx_chan *c = NULL, *d = NULL;
	uint8_t buf[1100], msg[1100];
	int errors = 0, ok = 0;
	const void *p;
	size_t len;
	void *w;

	srand(seed);
	cr_log_info("seed %u", seed);
	memset(msg, 'x', sizeof(msg));
	cr_assert_eq(ipcx_chan_open("h", IPCX_CREATE, 0, &a, &c), 1);
	for (int i = 0; i < 20000; i++) {
		int r = 0;

		switch (rand() % 7) {
		case 0:
			r = ipcx_chan_send(c, msg, (size_t)rand() % 1001, 0);
			break;
		case 1:
			r = (int)ipcx_chan_recv(c, buf, (size_t)rand() % 1100,
			                        rand() % 50 ? 0 : 100000);
			break;
		case 2:
			len = (size_t)rand() % 1001;
			r = ipcx_chan_reserve(c, len, 0, &w);
			if (r == 0) {
				in_ring(c, w, len);
				memset(w, 'r', len);
				r = rand() % 2 ? ipcx_chan_commit(c) : ipcx_chan_abort(c);
			}
			break;
		case 3:
			r = ipcx_chan_peek(c, 0, &p, &len);
			if (r == 0) {
				in_ring(c, p, len);
				if (len)
					buf[0] = ((const uint8_t *)p)[len - 1];
				ipcx_chan_release(c);
			}
			break;
		case 4: {
			struct ipcx_chan_stats st;
			r = ipcx_chan_stats(c, &st);
			break;
		}
		case 5:
			r = ipcx_chan_open("h", 0, 0, NULL, &d);
			if (r == 0) {
				ipcx_chan_send(d, msg, 5, 100000);
				ipcx_chan_recv(d, buf, sizeof(buf), 100000);
				ipcx_chan_close(d);
			}
			break;
		default:
			break;
		}
		if (r < 0)
			errors++;
		else
			ok++;
		/* The hostile peer's turn: random bytes in the body, or a field given a value
		 * that passes some checks but not others. */
		for (int k = rand() % 4; k > 0; k--) {
			uint8_t *body = (uint8_t *)c->b;
			uint64_t v = rnd();
			if (rand() % 2) {
				uint64_t off = rnd() % (CHAN_DATA_OFFSET + c->cap - 8);
				memcpy(body + off, &v, rand() % 8 + 1);
			} else {
				uint64_t off = fields[rand() % 5];
				if (rand() % 2)
					v = atomic_load(&c->b->reserve) +
					    (uint64_t)(rand() % 64 - 32) * 16;
				memcpy(body + off, &v, 8);
			}
		}
		/* Now and then the ring is made consistent again (as if the peer stopped), so
		 * that operations keep running deep into the protocol between scribbles. */
		if (rand() % 40 == 0) {
			uint64_t v = atomic_load(&c->b->reserve) & ~15ull;
			atomic_store(&c->b->head, v);
			atomic_store(&c->b->consume, v);
			atomic_store(&c->b->reserve, v);
			atomic_store(&c->b->lock, 0);
			atomic_store(&c->b->orphans, 0);
		}
		/* Now and then, a plausible record header at a real position. */
		if (rand() % 8 == 0) {
			uint64_t pos = atomic_load(&c->b->consume) & ~15ull;
			struct chan_rec *rec = rec_at(c, pos);
			atomic_store(&rec->ctl,
			             rec_ctl(pos, (unsigned)rand(), (unsigned)rand() % 8));
			atomic_store(&rec->len, (uint32_t)rnd());
		}
	}
	cr_log_info("%d calls succeeded, %d failed", ok, errors);
	ipcx_chan_close(c);
}

/* Positions a peer set on both sides of 2^64 (head just below it, reserve just past it):
 * the wait for room compared them without wrapping, saw room that try_take could not find,
 * and spun without end (found by fuzz_chan; fuzz/corpus/fuzz_chan/timeout-b688f2a9...). */
IPCX_TEST(chan_hostile, positions_across_the_wrap_of_the_number_space)
{
	struct ipcx_chan_attr a = {4096, 600};
	uint8_t msg[600] = {0};
	ipcx_chan *c = NULL;
	void *w;
	int r;

	cr_assert_eq(ipcx_chan_open("wrap", IPCX_CREATE, 0, &a, &c), 1);
	atomic_store(&c->b->reserve, 0xee0);
	atomic_store(&c->b->consume, 0xc90);
	atomic_store(&c->b->head, (uint64_t)-144);
	r = ipcx_chan_reserve(c, 571, 0, &w);
	cr_expect(r == -EAGAIN || r == -EBADMSG, "%d", r);
	r = ipcx_chan_send(c, msg, 571, 1000000);
	cr_expect(r == -ETIMEDOUT || r == -EBADMSG, "%d", r);
	ipcx_chan_close(c);
}
