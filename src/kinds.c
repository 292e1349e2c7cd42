/* SPDX-License-Identifier: MIT */
/* The table of object kinds this library knows. */
#include <stddef.h>

#include "internal/obj.h"

extern const struct ipcx__kind ipcx__chan_kind, ipcx__topic_kind;

const struct ipcx__kind *ipcx__kinds[IPCX_KIND_MAX_] = {
        [IPCX_KIND_EVENT] = &ipcx__event_kind, [IPCX_KIND_SEMSET] = &ipcx__semset_kind,
        [IPCX_KIND_MUTEX] = &ipcx__mutex_kind, [IPCX_KIND_CHAN] = &ipcx__chan_kind,
        [IPCX_KIND_TOPIC] = &ipcx__topic_kind, [IPCX_KIND_REGION] = &ipcx__region_kind,
};

static const char *const kind_names[IPCX_KIND_MAX_] = {
        [IPCX_KIND_NONE] = "none",   [IPCX_KIND_EVENT] = "event",   [IPCX_KIND_SEMSET] = "semset",
        [IPCX_KIND_MUTEX] = "mutex", [IPCX_KIND_REGION] = "region", [IPCX_KIND_CHAN] = "chan",
        [IPCX_KIND_TOPIC] = "topic",
};

const struct ipcx__kind *ipcx__kind_get(int kind)
{
	return kind > 0 && kind < IPCX_KIND_MAX_ ? ipcx__kinds[kind] : NULL;
}

const char *ipcx_kind_name(int kind)
{
	return kind >= 0 && kind < IPCX_KIND_MAX_ ? kind_names[kind] : "?";
}
