/* SPDX-License-Identifier: MIT */
#include <sched.h>

#include "../internal/sys.h"

void ipcx__yield(void)
{
	sched_yield();
}
