/* SPDX-License-Identifier: MIT */
/*
 * ZeroMQ: a PAIR socket pair over ipc://. Each side makes its own context after fork, before it
 * is pinned, so the context's I/O thread may run on either CPU (it inherits the affinity of the
 * thread that starts it).
 */
#define _GNU_SOURCE
#include "peers.h"

#ifdef BENCH_HAVE_ZMQ
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct zmq_local {
	void *ctx, *sock;
};

static void endpoint(struct bench_env *e, char *buf, size_t n, bool url)
{
	snprintf(buf, n, "%s/tmp/%s.zmq", url ? "ipc://" : "", e->tag);
}

static int zmq_open_side(struct bench_env *e, int side)
{
	struct zmq_local *l = e->local;
	char url[160];
	/* The producer of a stream keeps unsent messages at close (linger forever) so that
	 * none is lost; everyone else drops them. */
	int linger = e->c->shape == BENCH_TPUT && side == 0 ? -1 : 0;
	endpoint(e, url, sizeof(url), true);
	if (!(l->ctx = zmq_ctx_new()))
		return bench_fail(e, -errno, "zmq_ctx_new: %s", zmq_strerror(errno));
	if (!(l->sock = zmq_socket(l->ctx, ZMQ_PAIR)))
		return bench_fail(e, -errno, "zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof(linger));
	int r = side == 1 ? zmq_bind(l->sock, url) : zmq_connect(l->sock, url);
	if (r < 0)
		return bench_fail(e, -errno, "zmq_%s %s: %s", side ? "bind" : "connect", url,
		                  zmq_strerror(errno));
	return 0;
}

static int zsend(struct bench_env *e, void *sock, void *buf)
{
	while (zmq_send(sock, buf, e->size, 0) < 0)
		if (errno != EINTR)
			return bench_fail(e, -errno, "zmq_send: %s", zmq_strerror(errno));
	return 0;
}

static int zrecv(struct bench_env *e, void *sock, void *buf)
{
	int n;
	while ((n = zmq_recv(sock, buf, e->size, 0)) < 0)
		if (errno != EINTR)
			return bench_fail(e, -errno, "zmq_recv: %s", zmq_strerror(errno));
	return (size_t)n == e->size ? 0 : bench_fail(e, -EPROTO, "short message");
}

static int zmq_rtt_step(struct bench_env *e, int side)
{
	struct zmq_local *l = e->local;
	void *buf = bench_buf(e);
	int r;
	if (side == 1 && (r = zrecv(e, l->sock, buf)) < 0)
		return r;
	if ((r = zsend(e, l->sock, buf)) < 0)
		return r;
	return side == 0 ? zrecv(e, l->sock, buf) : 0;
}

static int zmq_tput_step(struct bench_env *e, int side)
{
	struct zmq_local *l = e->local;
	void *buf = bench_buf(e);
	return side == 0 ? zsend(e, l->sock, buf) : zrecv(e, l->sock, buf);
}

static void zmq_close_side(struct bench_env *e, int side)
{
	struct zmq_local *l = e->local;
	if (l->sock)
		zmq_close(l->sock);
	if (l->ctx)
		zmq_ctx_term(l->ctx);
}

static void zmq_teardown(struct bench_env *e)
{
	char path[160];
	endpoint(e, path, sizeof(path), false);
	unlink(path);
}

const struct bench_ops bench_zmq_rtt = {.open = zmq_open_side,
                                        .step = zmq_rtt_step,
                                        .close = zmq_close_side,
                                        .teardown = zmq_teardown,
                                        .local_size = sizeof(struct zmq_local),
                                        .sweep = true};
const struct bench_ops bench_zmq_tput = {.open = zmq_open_side,
                                         .step = zmq_tput_step,
                                         .close = zmq_close_side,
                                         .teardown = zmq_teardown,
                                         .local_size = sizeof(struct zmq_local)};
#else
static const char *zmq_missing(void)
{
	return "ZeroMQ was not found when ipcx-bench was built (install libzmq3-dev, rebuild)";
}
static int zmq_never(struct bench_env *e, int side)
{
	return -1;
}
const struct bench_ops bench_zmq_rtt = {.available = zmq_missing, .step = zmq_never, .sweep = true};
const struct bench_ops bench_zmq_tput = {.available = zmq_missing, .step = zmq_never};
#endif
