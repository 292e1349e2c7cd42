/* SPDX-License-Identifier: MIT */
/*
 * iceoryx 2.0.3 through its C binding: one topic each way, loaned chunks, the receiver
 * busy-polling iox_sub_take_chunk (its fastest mode). The payload is loaned and published
 * without being copied: only a sequence number is written into it, as a zero-copy user
 * would. Each side is its own runtime (one per process), which deregisters at exit so that
 * RouDi never has to reap a dead client.
 */
#define _GNU_SOURCE
#include "peers.h"

#ifdef BENCH_HAVE_ICEORYX
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>

struct iox_local {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	bool runtime, connected;
	uint64_t seq;
};

static int iox_open_side(struct bench_env *e, int side)
{
	struct iox_local *l = e->local;
	char name[96];
	snprintf(name, sizeof(name), "%s-%d", e->tag, side);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
	l->runtime = true;

	iox_pub_options_t po;
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	iox_sub_options_t so;
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.historyRequest = 0;
	const char *out = side == 0 ? "ping" : "pong", *in = side == 0 ? "pong" : "ping";
	l->pub = iox_pub_init(&l->pub_storage, "ipcxb", e->tag, out, &po);
	l->sub = iox_sub_init(&l->sub_storage, "ipcxb", e->tag, in, &so);
	if (!l->pub || !l->sub)
		return bench_fail(e, -EIO, "iox_pub_init/iox_sub_init failed");
	return 0;
}

/* Both sides have opened before the first step; wait until the topics are joined. */
static int iox_connect(struct bench_env *e, struct iox_local *l)
{
	int64_t deadline = bench_now_ns() + 10 * 1000000000LL;
	while (iox_sub_get_subscription_state(l->sub) != SubscribeState_SUBSCRIBED ||
	       !iox_pub_has_subscribers(l->pub)) {
		if (bench_now_ns() > deadline)
			return bench_fail(e, -ETIMEDOUT, "iceoryx topics did not connect in 10 s");
		usleep(1000);
	}
	l->connected = true;
	return 0;
}

static int iox_send(struct bench_env *e, struct iox_local *l)
{
	void *chunk;
	enum iox_AllocationResult r = iox_pub_loan_chunk(l->pub, &chunk, (uint32_t)e->size);
	if (r != AllocationResult_SUCCESS)
		return bench_fail(e, -ENOMEM, "iox_pub_loan_chunk(%zu bytes) failed (%d)", e->size,
		                  (int)r);
	memcpy(chunk, &l->seq, sizeof(l->seq));
	iox_pub_publish_chunk(l->pub, chunk);
	return 0;
}

static int iox_recv(struct bench_env *e, struct iox_local *l)
{
	const void *chunk;
	enum iox_ChunkReceiveResult r;
	int64_t deadline = 0;
	for (unsigned i = 1;
	     (r = iox_sub_take_chunk(l->sub, &chunk)) == ChunkReceiveResult_NO_CHUNK_AVAILABLE;
	     i++) {
		bench_relax();
		if (i % 65536)
			continue;
		/* A lost message must not spin for ever. */
		if (!deadline)
			deadline = bench_now_ns() + 10 * 1000000000LL;
		else if (bench_now_ns() > deadline)
			return bench_fail(e, -ETIMEDOUT, "no iceoryx message for 10 s");
	}
	if (r != ChunkReceiveResult_SUCCESS)
		return bench_fail(e, -EIO, "iox_sub_take_chunk failed (%d)", (int)r);
	iox_sub_release_chunk(l->sub, chunk);
	return 0;
}

static int iox_rtt_step(struct bench_env *e, int side)
{
	struct iox_local *l = e->local;
	int r;
	if (!l->connected && (r = iox_connect(e, l)) < 0)
		return r;
	l->seq++;
	if (side == 1 && (r = iox_recv(e, l)) < 0)
		return r;
	if ((r = iox_send(e, l)) < 0)
		return r;
	return side == 0 ? iox_recv(e, l) : 0;
}

static void iox_close_side(struct bench_env *e, int side)
{
	struct iox_local *l = e->local;
	if (l->sub)
		iox_sub_deinit(l->sub);
	if (l->pub)
		iox_pub_deinit(l->pub);
	/* The runtime deregisters from RouDi in its destructor, at exit(). Calling
	 * iox_runtime_shutdown() first makes that destructor's request to RouDi go astray now
	 * and then under load ("Got wrong response from IPC channel for
	 * PREPARE_APP_TERMINATION") and block for ever, so it is not called. */
	(void)l->runtime;
}

const struct bench_ops bench_iox_rtt = {.open = iox_open_side,
                                        .step = iox_rtt_step,
                                        .close = iox_close_side,
                                        .local_size = sizeof(struct iox_local),
                                        .sweep = true,
                                        .needs_roudi = true};
#else
static const char *iox_missing(void)
{
	return "iceoryx C binding was not found when ipcx-bench was built "
	       "(install libiceoryx-binding-c-dev and iceoryx, rebuild)";
}
static int iox_never(struct bench_env *e, int side)
{
	return -1;
}
const struct bench_ops bench_iox_rtt = {.available = iox_missing, .step = iox_never, .sweep = true};
#endif
