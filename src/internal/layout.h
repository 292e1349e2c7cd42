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

/*
 * The descriptor-watcher table (see internal/watch.h): after the slots, in the header's
 * page and a half that was unused (zero) in layout v1, so old files simply have no
 * watchers. A process that wants a file descriptor to become readable when one of the
 * object's futex words changes registers an entry; a waker of that word that sees the
 * watcher part of the word's sleepers count scans the table and writes a byte to every
 * armed entry's FIFO. Every field is read once and bounded by wakers: a peer that
 * scribbles here can at worst cause spurious bytes in ipcx watcher FIFOs.
 */
#define IPCX__WATCH_MAX 64
enum { IPCX__WATCH_IDLE = 0, IPCX__WATCH_ARMED = 1, IPCX__WATCH_FIRED = 2 };

struct ipcx__watch {
	_Atomic uint64_t who;   /* the watching process's identity; 0: free */
	_Atomic uint32_t nonce; /* with who, names the watcher's FIFO */
	_Atomic uint32_t state; /* IPCX__WATCH_* */
	_Atomic uint32_t word;  /* the watched futex word: its offset from the header */
	uint32_t pad[3];
};

struct ipcx__watch_table {
	_Atomic uint32_t hiwater; /* a hint: entries ever used; bounds every scan */
	uint8_t pad[60];
	struct ipcx__watch w[IPCX__WATCH_MAX];
};

#define IPCX__WATCH_OFFSET (128u + 16u * IPCX_MAX_ATTACH)

/* The kind's body starts on its own page, so a region's data is page-aligned. */
#define IPCX__BODY_OFFSET 8192u

_Static_assert(offsetof(struct ipcx__hdr, magic) == 0, "magic first");
_Static_assert(offsetof(struct ipcx__hdr, removed) == 64, "layout v1");
_Static_assert(offsetof(struct ipcx__hdr, slots) == 128, "layout v1");
_Static_assert(sizeof(struct ipcx__slot) == 16, "layout v1");
_Static_assert(sizeof(struct ipcx__hdr) == 128 + 16 * IPCX_MAX_ATTACH, "layout v1");
_Static_assert(sizeof(struct ipcx__hdr) <= IPCX__BODY_OFFSET, "header fits before body");
_Static_assert(sizeof(struct ipcx__watch) == 32, "layout v1");
_Static_assert(IPCX__WATCH_OFFSET % 64 == 0, "watch table on its own lines");
_Static_assert(IPCX__WATCH_OFFSET >= sizeof(struct ipcx__hdr), "watch table after the slots");
_Static_assert(IPCX__WATCH_OFFSET + sizeof(struct ipcx__watch_table) <= IPCX__BODY_OFFSET,
               "watch table fits before the body");

#endif
