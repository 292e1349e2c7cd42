/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <time.h>

#include "../internal/sys.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	/* Both clocks are always present; the call cannot fail with valid arguments. */
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ipcx__now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t ipcx__realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

ipcx__deadline ipcx__deadline_in_slow(int64_t timeout_ns)
{
	ipcx__deadline d;
	int64_t now;

	if (timeout_ns < 0) {
		d.at_ns = INT64_MAX;
		return d;
	}
	now = ipcx__now_ns();
	d.at_ns = timeout_ns > INT64_MAX - now ? INT64_MAX - 1 : now + timeout_ns;
	return d;
}

bool ipcx__deadline_never(ipcx__deadline d)
{
	return d.at_ns == INT64_MAX;
}

bool ipcx__deadline_passed(ipcx__deadline d)
{
	return !ipcx__deadline_never(d) && ipcx__now_ns() >= d.at_ns;
}
