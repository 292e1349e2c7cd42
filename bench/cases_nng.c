/* SPDX-License-Identifier: MIT */
/* nng: pair1 sockets over ipc://, side 1 listens, side 0 dials (synchronously). */
#define _GNU_SOURCE
#include "peers.h"

#ifdef BENCH_HAVE_NNG
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <stdio.h>
#include <unistd.h>

struct nng_local {
	nng_socket sock;
	bool opened;
};

static void endpoint(struct bench_env *e, char *buf, size_t n, bool url)
{
	snprintf(buf, n, "%s/tmp/%s.nng", url ? "ipc://" : "", e->tag);
}

static int nng_open_side(struct bench_env *e, int side)
{
	struct nng_local *l = e->local;
	char url[160];
	int r;
	endpoint(e, url, sizeof(url), true);
	if ((r = nng_pair1_open(&l->sock)) != 0)
		return bench_fail(e, -EIO, "nng_pair1_open: %s", nng_strerror(r));
	l->opened = true;
	/* nng drops messages over 1 MiB by default (and the connection with them). */
	nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, 0);
	r = side == 1 ? nng_listen(l->sock, url, NULL, 0) : nng_dial(l->sock, url, NULL, 0);
	if (r != 0)
		return bench_fail(e, -EIO, "nng_%s %s: %s", side ? "listen" : "dial", url,
		                  nng_strerror(r));
	return 0;
}

static int nsend(struct bench_env *e, struct nng_local *l, void *buf)
{
	int r = nng_send(l->sock, buf, e->size, 0);
	return r ? bench_fail(e, -EIO, "nng_send: %s", nng_strerror(r)) : 0;
}

static int nrecv(struct bench_env *e, struct nng_local *l, void *buf)
{
	size_t n = e->size;
	int r = nng_recv(l->sock, buf, &n, 0);
	if (r)
		return bench_fail(e, -EIO, "nng_recv: %s", nng_strerror(r));
	return n == e->size ? 0 : bench_fail(e, -EPROTO, "short message");
}

static int nng_rtt_step(struct bench_env *e, int side)
{
	struct nng_local *l = e->local;
	void *buf = bench_buf(e);
	int r;
	if (side == 1 && (r = nrecv(e, l, buf)) < 0)
		return r;
	if ((r = nsend(e, l, buf)) < 0)
		return r;
	return side == 0 ? nrecv(e, l, buf) : 0;
}

static void nng_close_side(struct bench_env *e, int side)
{
	struct nng_local *l = e->local;
	if (l->opened)
		nng_close(l->sock);
}

static void nng_teardown(struct bench_env *e)
{
	char path[160];
	endpoint(e, path, sizeof(path), false);
	unlink(path);
}

const struct bench_ops bench_nng_rtt = {.open = nng_open_side,
                                        .step = nng_rtt_step,
                                        .close = nng_close_side,
                                        .teardown = nng_teardown,
                                        .local_size = sizeof(struct nng_local),
                                        .sweep = true};
#else
static const char *nng_missing(void)
{
	return "nng was not found when ipcx-bench was built (install libnng-dev, rebuild)";
}
static int nng_never(struct bench_env *e, int side)
{
	return -1;
}
const struct bench_ops bench_nng_rtt = {.available = nng_missing, .step = nng_never, .sweep = true};
#endif
