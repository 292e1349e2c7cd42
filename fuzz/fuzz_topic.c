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

#include "fuzz_shm.h"

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

static void scribble(ipcx_topic *t, struct fuzz_input *in)
{
	unsigned how = (unsigned)fuzz_take(in, 1);

	if (!(how & 1) && (how & 2)) {
		/* A record header in the ring, made plausible: a tag for some position. */
		uint64_t pos = fuzz_take(in, 2) * 32;
		struct topic_rec *r = topic_rec_at(t, pos);
		atomic_store(&r->ctl,
		             rec_ctl(pos, (unsigned)fuzz_take(in, 1), (unsigned)fuzz_take(in, 1)));
		atomic_store(&r->seq,
		             atomic_load(&t->b->next_seq) + (uint64_t)(int8_t)fuzz_take(in, 1));
		atomic_store(&r->len, (uint32_t)fuzz_take(in, 4));
		return;
	}
	fuzz_poke(in, how, (uint8_t *)t->b, TOPIC_DATA_OFFSET + t->cap, hot,
	          sizeof(hot) / sizeof(hot[0]), atomic_load(&t->b->reserve), 32);
}

static void check_span(ipcx_topic *t, const void *p, size_t len)
{
	fuzz_check_span(t->data, t->cap, p, len);
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
	struct fuzz_input in = {data, size};
	ipcx_topic *t = NULL;
	uint8_t buf[700], msg[700];
	uint64_t missed;
	const void *p;
	size_t len;
	void *w;

	fuzz_setup_dir("topic");
	ipcx_unlink("fuzz");
	a.flags = fuzz_take(&in, 1) & 1 ? IPCX_TOPIC_RELIABLE : 0;
	if (ipcx_topic_open("fuzz", IPCX_CREATE | IPCX_EXCL, 0, &a, &t) < 0)
		return 0;
	memset(msg, 'm', sizeof(msg));
	for (int steps = 0; in.n && steps < 256; steps++) {
		switch (fuzz_take(&in, 1) % 12) {
		case 0:
			ipcx_topic_publish(t, msg, fuzz_take(&in, 2) % 700, 0);
			break;
		case 1:
			ipcx_topic_subscribe(t, (unsigned)fuzz_take(&in, 1) & 1);
			break;
		case 2:
			ipcx_topic_recv(t, buf, fuzz_take(&in, 2) % 700, 0, &missed);
			break;
		case 3:
			len = fuzz_take(&in, 2) % 700;
			if (ipcx_topic_loan(t, len, 0, &w) == 0) {
				check_span(t, w, len);
				memset(w, 'l', len);
				ipcx_topic_commit(t);
			}
			break;
		case 4:
			if (ipcx_topic_loan(t, fuzz_take(&in, 2) % 700, 0, &w) == 0)
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
