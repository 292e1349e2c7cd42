/* SPDX-License-Identifier: MIT */
/* What every participant and the chaos loop share: messages, clocks, violations. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stress.h"

struct st_ledger *L;
struct st_seqs *S;

uint32_t st_sum(const uint8_t *p, size_t n, uint32_t slot, uint32_t seq)
{
	uint32_t h = 2166136261u ^ seq ^ (slot << 24);

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (uint32_t)n;
}

void st_fill(struct st_msg *m, uint32_t slot, uint32_t seq, uint32_t len)
{
	m->slot = slot;
	m->seq = seq;
	m->len = len;
	for (uint32_t i = 0; i < len; i++)
		m->body[i] = (uint8_t)rand();
	m->sum = st_sum(m->body, len, slot, seq);
}

bool st_valid(const struct st_msg *m, size_t len, uint32_t nslots)
{
	return len >= ST_MSG_HDR && len <= sizeof(*m) && m->slot < nslots && m->seq < ST_SEQ_CAP &&
	       len == ST_MSG_HDR + m->len && m->sum == st_sum(m->body, m->len, m->slot, m->seq);
}

int64_t st_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void st_violation(enum st_violation v, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&L->why[v], 1) == 0 && atomic_exchange(&L->detail_taken[v], 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(L->detail[v], sizeof(L->detail[v]), fmt, ap);
		va_end(ap);
	}
}

void st_check_late(const char *what, int64_t t0, int64_t timeout_ns)
{
	int64_t took = st_now() - t0;

	if (took > timeout_ns + L->slack_ns)
		st_violation(V_LATE, "%s with a %lld ms timeout returned after %lld ms", what,
		             (long long)(timeout_ns / 1000000), (long long)(took / 1000000));
}
