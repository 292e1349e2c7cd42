/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes a live topic: the input chooses lossy or reliable, then is a program of topic
 * operations (publish, loan, subscribe, receive, peek, release, a second handle) interleaved
 * with writes of chosen bytes anywhere in the topic's shared memory (positions, the lock,
 * sequence numbers, record headers, subscriber slots and the active mask), as a hostile
 * peer could make them. No call may crash, touch memory outside the topic, or hang.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/topic.h"

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

/* Offsets worth aiming at: constants, positions, the lock, numbers, futex words, slots. */
static const uint32_t hot[] = {
        offsetof(struct topic_body, capacity),
        offsetof(struct topic_body, max_msg),
        offsetof(struct topic_body, flags),
        offsetof(struct topic_body, lock),
        offsetof(struct topic_body, reserve),
        offsetof(struct topic_body, next_seq),
        offsetof(struct topic_body, last),
        offsetof(struct topic_body, tail),
        offsetof(struct topic_body, sub_epoch),
        offsetof(struct topic_body, dropped_subs),
        offsetof(struct topic_body, active_mask),
        offsetof(struct topic_body, slots),
        offsetof(struct topic_body, slots) + offsetof(struct topic_slot, cursor),
        offsetof(struct topic_body, slots) + offsetof(struct topic_slot, seq),
        offsetof(struct topic_body, slots) + offsetof(struct topic_slot, active),
        offsetof(struct topic_body, slots) + sizeof(struct topic_slot),
        offsetof(struct topic_body, slots) + sizeof(struct topic_slot) +
                offsetof(struct topic_slot, cursor),
};

static void scribble(ipcx_topic *t, struct input *in)
{
	uint8_t *body = (uint8_t *)t->b;
	uint64_t size = TOPIC_DATA_OFFSET + t->cap, off, v;
	unsigned how = (unsigned)take(in, 1);

	if (how & 1) {
		off = hot[(how >> 1) % (sizeof(hot) / sizeof(hot[0]))];
	} else if (how & 2) {
		/* A record header in the ring, made plausible: a tag for some position. */
		uint64_t pos = take(in, 2) * 32;
		struct topic_rec *r = topic_rec_at(t, pos);
		atomic_store(&r->ctl, rec_ctl(pos, (unsigned)take(in, 1), (unsigned)take(in, 1)));
		atomic_store(&r->seq, atomic_load(&t->b->next_seq) + (uint64_t)(int8_t)take(in, 1));
		atomic_store(&r->len, (uint32_t)take(in, 4));
		return;
	} else {
		off = take(in, 4) % (size - 8);
		off &= ~7ull;
	}
	v = take(in, 8);
	if (how & 4) /* near a real position, to pass the first checks */
		v = atomic_load(&t->b->reserve) + (uint64_t)(int8_t)v * 32;
	memcpy(body + off, &v, 8);
}

static void check_span(ipcx_topic *t, const void *p, size_t len)
{
	const uint8_t *q = p;

	if (q < t->data || q + len > t->data + t->cap) {
		fprintf(stderr, "span %p+%zu outside ring %p+%llu\n", (const void *)q, len,
		        (void *)t->data, (unsigned long long)t->cap);
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
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-topic.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(remove_dir);
}

/* A second handle: open validates the whole topic; subscribing and short waits run the
 * recovery paths (dead publishers' loans, dead subscribers). */
static void other_handle(void)
{
	ipcx_topic *d = NULL;
	uint8_t buf[700];
	uint64_t missed;

	if (ipcx_topic_open("fuzz", 0, 0, NULL, &d) != 0)
		return;
	if (ipcx_topic_subscribe(d, IPCX_TOPIC_FROM_OLDEST) == 0)
		ipcx_topic_recv(d, buf, sizeof(buf), 1000, &missed);
	ipcx_topic_publish(d, "other", 5, 1000);
	ipcx_topic_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcx_topic_attr a = {4096, 600, 0};
	struct input in = {data, size};
	ipcx_topic *t = NULL;
	uint8_t buf[700], msg[700];
	uint64_t missed;
	const void *p;
	size_t len;
	void *w;

	setup_dir();
	ipcx_unlink("fuzz");
	a.flags = take(&in, 1) & 1 ? IPCX_TOPIC_RELIABLE : 0;
	if (ipcx_topic_open("fuzz", IPCX_CREATE | IPCX_EXCL, 0, &a, &t) < 0)
		return 0;
	memset(msg, 'm', sizeof(msg));
	for (int steps = 0; in.n && steps < 256; steps++) {
		switch (take(&in, 1) % 12) {
		case 0:
			ipcx_topic_publish(t, msg, take(&in, 2) % 700, 0);
			break;
		case 1:
			ipcx_topic_subscribe(t, (unsigned)take(&in, 1) & 1);
			break;
		case 2:
			ipcx_topic_recv(t, buf, take(&in, 2) % 700, 0, &missed);
			break;
		case 3:
			len = take(&in, 2) % 700;
			if (ipcx_topic_loan(t, len, 0, &w) == 0) {
				check_span(t, w, len);
				memset(w, 'l', len);
				ipcx_topic_commit(t);
			}
			break;
		case 4:
			if (ipcx_topic_loan(t, take(&in, 2) % 700, 0, &w) == 0)
				ipcx_topic_abort(t);
			break;
		case 5:
			if (ipcx_topic_peek(t, 0, &p, &len, &missed) == 0)
				check_span(t, p, len);
			break;
		case 6:
			ipcx_topic_release(t);
			break;
		case 7:
		case 8:
		case 9:
			scribble(t, &in);
			break;
		case 10: {
			struct ipcx_topic_stats st;
			struct ipcx_topic_sub subs[4];
			ipcx_topic_stats(t, &st, subs, 4);
			break;
		}
		case 11:
			other_handle();
			break;
		}
	}
	ipcx_topic_close(t);
	ipcx_unlink("fuzz");
	return 0;
}
