/* SPDX-License-Identifier: MIT */
/*
 * The header every object file starts with. This is shared memory: another process may be
 * buggy, dead or hostile, so whatever is read here is validated before use (see obj.c).
 */
#ifndef IPCX_INTERNAL_LAYOUT_H
#define IPCX_INTERNAL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <ipcx/common.h>

/* "IPCXOBJ1" read as a little-endian 64-bit word. */
#define IPCX__MAGIC 0x314a424f58435049ull
#define IPCX__LAYOUT_VERSION 1u

/* One attachment slot: which process holds it (see sys/proc.h for the encoding); 0 is free. */
struct ipcx__slot {
	_Atomic uint64_t who;
	_Atomic uint64_t since_ns; /* CLOCK_REALTIME of the attach; informational only */
};

struct ipcx__hdr {
	uint64_t magic;       /* written last by the creator: a complete header has it */
	uint32_t version;     /* IPCX__LAYOUT_VERSION */
	uint32_t kind;        /* enum ipcx_kind */
	uint64_t total_size;  /* the file's size */
	uint64_t body_offset; /* where the kind's own layout starts */
	uint64_t body_size;   /* total_size - body_offset */
	uint32_t slot_count;  /* IPCX_MAX_ATTACH */
	int32_t creator_pid;
	uint64_t creator_id;      /* pid and start time of the creator, as in a slot */
	uint64_t created_ns;      /* CLOCK_REALTIME */
	_Atomic uint32_t removed; /* set once by ipcx_unlink, never cleared */
	_Atomic uint32_t gen;     /* bumped on removal; a futex word for generic waiters */
	uint8_t reserved[56];
	struct ipcx__slot slots[IPCX_MAX_ATTACH];
};

/* The kind's body starts on its own page, so a region's data is page-aligned. */
#define IPCX__BODY_OFFSET 8192u

_Static_assert(offsetof(struct ipcx__hdr, magic) == 0, "magic first");
_Static_assert(offsetof(struct ipcx__hdr, removed) == 64, "layout v1");
_Static_assert(offsetof(struct ipcx__hdr, slots) == 128, "layout v1");
_Static_assert(sizeof(struct ipcx__slot) == 16, "layout v1");
_Static_assert(sizeof(struct ipcx__hdr) == 128 + 16 * IPCX_MAX_ATTACH, "layout v1");
_Static_assert(sizeof(struct ipcx__hdr) <= IPCX__BODY_OFFSET, "header fits before body");

#endif
