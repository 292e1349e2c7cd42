/* SPDX-License-Identifier: MIT */
/*
 * Topic participants, on a reliable and a lossy topic. Publishers number their messages
 * per slot as chan senders do (write-ahead). A subscriber checks each message's checksum
 * and its publisher's order; when a publisher's numbers jump, every number skipped that was
 * confirmed published is a message this subscriber did not get: never allowed on the
 * reliable topic, and on the lossy one never more than the topic reported missed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "stress.h"

static const char *const names[2] = {ST_TOPIC_RELIABLE, ST_TOPIC_LOSSY};

static ipcx_topic *open_topic(int topic)
{
	ipcx_topic *t = NULL;
	int r = ipcx_topic_open(names[topic], 0, 0, NULL, &t);

	if (r < 0) {
		st_violation(V_ERROR, "%s open: %s", names[topic], ipcx_errname(r));
		_exit(1);
	}
	return t;
}

int st_publisher(int p, int topic, int slot)
{
	ipcx_topic *t = open_topic(topic);
	struct st_msg m;
	unsigned batch = 0;

	while (!atomic_load(&L->stop)) {
		uint32_t s = atomic_fetch_add(&L->topic_next[topic][slot], 1);
		uint32_t len = (uint32_t)rand() % (rand() % 8 ? 100 : 1000);
		int64_t t0;
		int r;

		if (s >= ST_SEQ_CAP)
			break;
		atomic_store(&S->topic_state[topic][slot][s], 1);
		do {
			t0 = st_now();
			if (s & 1) {
				void *w;
				r = ipcx_topic_loan(t, ST_MSG_HDR + len, ST_TIMEOUT_NS, &w);
				if (r == 0) {
					st_fill(w, (uint32_t)slot, s, len);
					if (rand() % 8 == 0)
						usleep(300); /* a kill finds it loaned */
					r = ipcx_topic_commit(t);
				}
			} else {
				st_fill(&m, (uint32_t)slot, s, len);
				r = ipcx_topic_publish(t, &m, ST_MSG_HDR + len, ST_TIMEOUT_NS);
			}
			if (r == -ETIMEDOUT)
				st_check_late("topic publish", t0, ST_TIMEOUT_NS);
		} while (r == -ETIMEDOUT && !atomic_load(&L->stop));
		if (r == -ETIMEDOUT)
			break;
		if (r < 0) {
			st_violation(V_ERROR, "%s publish: %s", names[topic], ipcx_errname(r));
			return 1;
		}
		atomic_store(&S->topic_state[topic][slot][s], 2);
		st_op(p);
		if (++batch % 16 == 0)
			usleep(1000);
	}
	ipcx_topic_close(t);
	return 0;
}

struct sub_state {
	int topic, slot;
	int64_t last[ST_PUBS];
	uint64_t missed, confirmed_missing; /* lossy: reported, and found by the check */
	unsigned n;
};

static void check(struct sub_state *ss, const struct st_msg *m, size_t len, uint64_t missed)
{
	int64_t last;

	if (!st_valid(m, len, ST_PUBS)) {
		st_violation(V_CORRUPT, "%s: corrupt message of %zu bytes", names[ss->topic], len);
		return;
	}
	if (ss->topic == 0 && missed)
		st_violation(V_TOPIC_LOST, "%s: %llu messages reported missed", names[0],
		             (unsigned long long)missed);
	ss->missed += missed;
	/* The injected fault: reliable subscriber 0 skips one message in 300. */
	if (L->inject == F_TOPIC_LOSS && ss->topic == 0 && ss->slot == 0 && ++ss->n % 300 == 0)
		return;
	last = ss->last[m->slot];
	if ((int64_t)m->seq <= last) {
		st_violation(V_TOPIC_ORDER, "%s: publisher %u's message %u after %lld",
		             names[ss->topic], m->slot, m->seq, (long long)last);
	} else if (last >= 0) {
		for (int64_t q = last + 1; q < (int64_t)m->seq; q++) {
			if (atomic_load(&S->topic_state[ss->topic][m->slot][q]) != 2)
				continue; /* never published, or in doubt */
			if (ss->topic == 0)
				st_violation(V_TOPIC_LOST,
				             "%s: publisher %u's message %lld skipped (got %u)",
				             names[0], m->slot, (long long)q, m->seq);
			ss->confirmed_missing++;
		}
		if (ss->topic == 1 && ss->confirmed_missing > ss->missed)
			st_violation(V_TOPIC_MISSED,
			             "%s: %llu messages skipped, %llu reported missed", names[1],
			             (unsigned long long)ss->confirmed_missing,
			             (unsigned long long)ss->missed);
	}
	ss->last[m->slot] = m->seq;
}

int st_subscriber(int p, int topic, int slot)
{
	ipcx_topic *t = open_topic(topic);
	struct sub_state ss = {.topic = topic, .slot = slot};
	struct st_msg m;
	int r;

	for (int i = 0; i < ST_PUBS; i++)
		ss.last[i] = -1;
	r = ipcx_topic_subscribe(t, rand() % 2 ? IPCX_TOPIC_FROM_OLDEST : 0);
	if (r < 0) {
		st_violation(V_ERROR, "%s subscribe: %s", names[topic], ipcx_errname(r));
		return 1;
	}
	while (!atomic_load(&L->stop)) {
		int64_t t0 = st_now();
		uint64_t missed = 0;

		if (rand() % 2) {
			const void *q;
			size_t qlen;
			r = ipcx_topic_peek(t, ST_TIMEOUT_NS, &q, &qlen, &missed);
			if (r == 0) {
				/* Lossy: the copy is checked only if release says it was not
				 * overwritten meanwhile. */
				size_t n = qlen < sizeof(m) ? qlen : sizeof(m);
				memcpy(&m, q, n);
				r = ipcx_topic_release(t);
				if (r == 0)
					check(&ss, &m, qlen, missed);
				else if (r == -ESTALE && topic == 1)
					r = 0, ss.missed += missed;
			}
		} else {
			ssize_t len = ipcx_topic_recv(t, &m, sizeof(m), ST_TIMEOUT_NS, &missed);
			r = len < 0 ? (int)len : 0;
			if (len >= 0)
				check(&ss, &m, (size_t)len, missed);
		}
		if (r == -ETIMEDOUT) {
			st_check_late("topic receive", t0, ST_TIMEOUT_NS);
			continue;
		}
		if (r < 0) {
			st_violation(V_ERROR, "%s receive: %s", names[topic], ipcx_errname(r));
			return 1;
		}
		st_op(p);
	}
	ipcx_topic_close(t);
	return 0;
}
