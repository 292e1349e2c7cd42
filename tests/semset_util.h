/* SPDX-License-Identifier: MIT */
/* What the semaphore-set tests share. */
#ifndef IPCX_TEST_SEMSET_UTIL_H
#define IPCX_TEST_SEMSET_UTIL_H

#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"

#define MS 1000000LL

/* Creates (or opens) a set of n semaphores of value v; the test fails if it cannot. */
static inline ipcx_semset *open_set(const char *name, uint32_t n, int v)
{
	ipcx_semset *s = NULL;
	int r = ipcx_semset_open(name, IPCX_CREATE, 0, n, v, &s);

	cr_assert(r >= 0, "open %s: %d", name, r);
	return s;
}

/* One operation on one semaphore. */
static inline int op1(ipcx_semset *s, uint32_t i, int32_t d, uint32_t f, int64_t to)
{
	struct ipcx_sembuf b = {i, d, f};
	return ipcx_semset_op(s, &b, 1, to);
}

/* Polls (bounded) until ncnt+zcnt of semaphore i reaches want. */
static inline void await_waiters(ipcx_semset *s, uint32_t i, int want)
{
	for (int t = 0; t < 10000; t++) {
		if (ipcx_semset_ncnt(s, i) + ipcx_semset_zcnt(s, i) == want)
			return;
		usleep(1000);
	}
	cr_assert_fail("semaphore %u never had %d waiters", i, want);
}

#endif
