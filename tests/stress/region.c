/* SPDX-License-Identifier: MIT */
/*
 * Region participants. Writers fill the whole region with a stamped, checksummed pattern
 * (slowly, so kills land inside writes); readers take snapshots and wait for changes. A
 * snapshot must always be one whole write (its checksum holds) and versions never go back;
 * a writer killed inside a write leaves the last published data, and the next writer gets
 * EOWNERDEAD once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "stress.h"

struct pattern {
	uint64_t stamp;
	uint32_t sum;
	uint32_t pad;
	uint8_t body[ST_REGION_SIZE - 16];
};
_Static_assert(sizeof(struct pattern) == ST_REGION_SIZE, "the whole region");

static ipcx_region *open_region(void)
{
	ipcx_region *r = NULL;
	int ret = ipcx_region_open(ST_REGION, 0, 0, 0, &r);

	if (ret < 0) {
		st_violation(V_ERROR, "region open: %s", ipcx_errname(ret));
		_exit(1);
	}
	return r;
}

/* True for a whole write (or the region as created: all zeroes at version 0). */
bool st_region_valid(const void *snapshot, int64_t version)
{
	const struct pattern *p = snapshot;

	if (version == 0 || p->stamp == 0) {
		for (size_t i = 0; i < sizeof(*p); i++)
			if (((const uint8_t *)p)[i])
				return false;
		return true;
	}
	return p->sum == st_sum(p->body, sizeof(p->body), 0, (uint32_t)p->stamp);
}

int st_writer(int p, int slot)
{
	ipcx_region *r = open_region();

	(void)slot;
	while (!atomic_load(&L->stop)) {
		int64_t t0 = st_now();
		struct pattern *w;
		int ret = ipcx_region_begin_write(r, 0, ST_REGION_SIZE, ST_TIMEOUT_NS, (void **)&w);

		if (ret == -ETIMEDOUT) {
			st_check_late("region begin_write", t0, ST_TIMEOUT_NS);
			continue;
		}
		if (ret == -EOWNERDEAD) {
			atomic_fetch_add(&L->region_owner_dead, 1);
			continue; /* reported once; the write was not begun */
		}
		if (ret < 0) {
			st_violation(V_ERROR, "region begin_write: %s", ipcx_errname(ret));
			return 1;
		}
		w->stamp = atomic_fetch_add(&L->region_stamp, 1) + 1;
		for (size_t i = 0; i < sizeof(w->body); i++) {
			w->body[i] = (uint8_t)rand();
			if (i == sizeof(w->body) / 2 && rand() % 3 == 0)
				usleep(300); /* half written: a kill here must not show */
		}
		w->sum = st_sum(w->body, sizeof(w->body), 0, (uint32_t)w->stamp);
		ret = rand() % 16 ? ipcx_region_commit(r) : ipcx_region_abort(r);
		if (ret < 0) {
			st_violation(V_ERROR, "region commit: %s", ipcx_errname(ret));
			return 1;
		}
		st_op(p);
		usleep((unsigned)(rand() % 2000));
	}
	ipcx_region_close(r);
	return 0;
}

int st_reader(int p, int slot)
{
	ipcx_region *r = open_region();
	static struct pattern snap;
	int64_t last = -1;
	unsigned n = 0;

	(void)slot;
	while (!atomic_load(&L->stop)) {
		int64_t t0 = st_now();
		uint64_t v = 0;
		int ret;

		if (rand() % 2) {
			ret = ipcx_region_wait_change(r, last < 0 ? 0 : (uint64_t)last,
			                              ST_TIMEOUT_NS, &v);
			if (ret == -ETIMEDOUT) {
				st_check_late("region wait_change", t0, ST_TIMEOUT_NS);
				continue;
			}
		} else {
			ret = ipcx_region_read(r, 0, &snap, sizeof(snap), &v);
			if (ret == -EAGAIN)
				continue; /* overtaken by writers: allowed, and tried again */
			/* The injected fault: one snapshot in 200 is garbled after the read. */
			if (L->inject == F_REGION_TORN && ++n % 200 == 0)
				snap.body[n % sizeof(snap.body)] ^= 1;
			if (ret == 0 && !st_region_valid(&snap, (int64_t)v))
				st_violation(V_CORRUPT, "region: snapshot of version %llu is torn",
				             (unsigned long long)v);
		}
		if (ret < 0) {
			st_violation(V_ERROR, "region: %s", ipcx_errname(ret));
			return 1;
		}
		if ((int64_t)v < last)
			st_violation(V_CORRUPT, "region: version %llu after %lld",
			             (unsigned long long)v, (long long)last);
		last = (int64_t)v;
		st_op(p);
	}
	ipcx_region_close(r);
	return 0;
}
