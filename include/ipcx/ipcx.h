/* SPDX-License-Identifier: MIT */
/*
 * ipcx: fast, crash-safe inter-process communication on Linux, over shared memory and
 * futexes. This umbrella header brings in the whole public API; see each header for the
 * contracts of its calls, and common.h for the conventions they all share.
 */
#ifndef IPCX_IPCX_H
#define IPCX_IPCX_H

#include <ipcx/common.h>
#include <ipcx/obj.h>
#include <ipcx/event.h>
#include <ipcx/mutex.h>
#include <ipcx/sem.h>
#include <ipcx/chan.h>
#include <ipcx/topic.h>
#include <ipcx/region.h>
#include <ipcx/waitset.h>

#endif
