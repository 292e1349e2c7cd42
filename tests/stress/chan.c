/* SPDX-License-Identifier: MIT */
/*
 * Channel participants. A sender numbers its messages per sender slot, and marks each
 * number before sending (1: in doubt) and after (2: sent), so a restarted sender never
 * reuses a number and the final check knows which messages must have arrived. Receivers
 * count every message they take, and check its checksum and its order per sender.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "stress.h"

static ipcx_chan *open_chan(void)
{
	ipcx_chan *c = NULL;
	int r = ipcx_chan_open(ST_CHAN, 0, 0, NULL, &c);

	if (r < 0) {
		st_violation(V_ERROR, "chan open: %s", ipcx_errname(r));
		_exit(1);
	}
	return c;
}

int st_sender(int p, int slot)
{
	ipcx_chan *c = open_chan();
	struct st_msg m;
	unsigned batch = 0;

	while (!atomic_load(&L->stop)) {
		/* Write-ahead: the number is taken before the send, so a kill anywhere leaves at
		 * most this one number in doubt. */
		uint32_t s = atomic_fetch_add(&L->chan_next[slot], 1);
		uint32_t len = (uint32_t)rand() % (rand() % 8 ? 200 : 2000);
		int64_t t0;
		int r;

		if (s >= ST_SEQ_CAP)
			break;
		atomic_store(&S->chan_state[slot][s], 1);
		do {
			t0 = st_now();
			if (s & 1) {
				/* Zero-copy, made in place: kills often land inside the
				 * reservation. */
				void *w;
				r = ipcx_chan_reserve(c, ST_MSG_HDR + len, ST_TIMEOUT_NS, &w);
				if (r == 0) {
					st_fill(w, (uint32_t)slot, s, len);
					if (rand() % 8 == 0)
						usleep(300); /* a kill finds it reserved */
					r = ipcx_chan_commit(c);
				}
			} else {
				st_fill(&m, (uint32_t)slot, s, len);
				r = ipcx_chan_send(c, &m, ST_MSG_HDR + len, ST_TIMEOUT_NS);
			}
			if (r == -ETIMEDOUT)
				st_check_late("chan send", t0, ST_TIMEOUT_NS);
		} while (r == -ETIMEDOUT && !atomic_load(&L->stop));
		if (r == -ETIMEDOUT)
			break; /* stopping: the number stays in doubt, which is allowed */
		if (r < 0) {
			st_violation(V_ERROR, "chan send: %s", ipcx_errname(r));
			return 1;
		}
		atomic_store(&S->chan_state[slot][s], 2);
		st_op(p);
		if (++batch % 16 == 0)
			usleep(1000); /* paced: the ledger holds ST_SEQ_CAP numbers per slot */
	}
	ipcx_chan_close(c);
	return 0;
}

static void take(int slot, const struct st_msg *m, size_t len, int64_t *last, unsigned *n)
{
	if (!st_valid(m, len, ST_SENDERS)) {
		st_violation(V_CORRUPT, "chan: corrupt message of %zu bytes", len);
		return;
	}
	if ((int64_t)m->seq <= last[m->slot])
		atomic_fetch_add(&L->chan_order, 1);
	last[m->slot] = m->seq;
	/* The injected fault: receiver 0 forgets one message in 500. */
	if (L->inject == F_CHAN_LOSS && slot == 0 && ++*n % 500 == 0)
		return;
	if (atomic_fetch_add(&S->chan_got[m->slot][m->seq], 1) >= 1)
		atomic_fetch_add(&L->chan_dup, 1);
}

int st_receiver(int p, int slot)
{
	ipcx_chan *c = open_chan();
	int64_t last[ST_SENDERS];
	/* The copy lands in shared memory: a receiver killed after a recv returned but before
	 * it counted the message leaves it there for the chaos loop (st_receiver_died). */
	struct st_msg *m = &L->rbuf[p];
	unsigned n = 0;

	for (int i = 0; i < ST_SENDERS; i++)
		last[i] = -1;
	while (!atomic_load(&L->stop_receivers)) {
		int64_t t0 = st_now();
		ssize_t len;
		int r;

		if (rand() % 2) {
			const void *q;
			size_t qlen;
			r = ipcx_chan_peek(c, ST_TIMEOUT_NS, &q, &qlen);
			if (r == 0) {
				take(slot, q, qlen, last, &n);
				if (rand() % 8 == 0)
					usleep(300); /* a kill finds it peeked */
				r = ipcx_chan_release(c);
			}
		} else {
			len = ipcx_chan_recv(c, m, sizeof(*m), ST_TIMEOUT_NS);
			r = len < 0 ? (int)len : 0;
			if (len >= 0)
				take(slot, m, (size_t)len, last, &n);
		}
		if (r == -ETIMEDOUT) {
			st_check_late("chan receive", t0, ST_TIMEOUT_NS);
			continue;
		}
		if (r < 0) {
			st_violation(V_ERROR, "chan receive: %s", ipcx_errname(r));
			return 1;
		}
		st_op(p);
	}
	ipcx_chan_close(c);
	return 0;
}

uint64_t st_receiver_died(int p)
{
	const struct st_msg *m = &L->rbuf[p];

	/* A whole message that nobody counted was delivered to this receiver: it counts as
	 * received. (A torn one fails the check; one still held by the receiver is handed
	 * again and counted then.) */
	if (!st_valid(m, ST_MSG_HDR + m->len, ST_SENDERS) ||
	    atomic_load(&S->chan_got[m->slot][m->seq]) != 0)
		return 0;
	atomic_fetch_add(&S->chan_got[m->slot][m->seq], 1);
	return 1;
}
