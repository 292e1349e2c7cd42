/* SPDX-License-Identifier: MIT */
/*
 * The named-object layer that every kind is built on: create, open, validate, attach,
 * detach, remove.
 */
#ifndef IPCX_INTERNAL_OBJ_H
#define IPCX_INTERNAL_OBJ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/obj.h>

#include "layout.h"
#include "sys.h"

/*
 * What a kind tells the object layer. body_size says how large the body must be for the
 * given creation parameters; init builds a fresh body (nobody else can see it yet);
 * validate checks a body found in an existing file (it may be hostile: validate reads each
 * field once and bounds it); on_remove wakes every waiter after the object was removed.
 */
struct ipcx__kind {
	int kind;
	const char *name;
	int (*validate)(const void *body, uint64_t body_size);
	void (*on_remove)(void *body, uint64_t body_size);
};

/* A process's view of one attached object. */
struct ipcx__obj {
	struct ipcx__hdr *hdr;
	void *body;
	uint64_t map_size;
	uint64_t body_size;
	unsigned slot; /* the attachment slot this handle holds */
	uint64_t who;  /* the value written into that slot */
	const struct ipcx__kind *kind;
	struct ipcx__file_id file; /* the object's file, as /proc/PID/maps names it */
	struct ipcx_waitset *fdws; /* the handle's own descriptor (see waitset.c), or NULL */
};

/* Closes the handle's descriptor and gives back its watch entries (waitset.c). */
void ipcx__fd_drop(struct ipcx__obj *obj);

/* Builds the body of a new object; called on a private, not yet visible file. */
typedef int (*ipcx__init_fn)(void *body, uint64_t body_size, const void *arg);

/*
 * Opens name as an object of the given kind, creating it when flags has IPCX_CREATE. On
 * creation the file gets body_size bytes of body, built by init(arg), and mode (0 means
 * IPCX_DEFAULT_MODE). Returns 1 when this call created the object, 0 when it opened an
 * existing one, or -errno (see ipcx/obj.h).
 */
int ipcx__obj_open(struct ipcx__obj *obj, const struct ipcx__kind *kind, const char *name,
                   unsigned flags, mode_t mode, uint64_t body_size, ipcx__init_fn init,
                   const void *arg);

/* Detaches and unmaps. Safe on a zeroed struct. */
void ipcx__obj_close(struct ipcx__obj *obj);

/*
 * True when this process is the one that opened the handle. A forked child inherits copies
 * of its parent's handles, with the parent's attachment slot and whatever the parent held
 * (a reservation, a loan, a subscription): closing such a copy must give back none of it.
 */
bool ipcx__obj_owned(const struct ipcx__obj *obj);

/* True once the object was removed from the namespace. Inline: every send and receive
 * asks. */
static inline bool ipcx__obj_removed(const struct ipcx__obj *o)
{
	/* Acquire pairs with the release in mark_removed (obj.c), so a waiter that sees the
	 * flag also sees whatever the remover did before. */
	return atomic_load_explicit(&o->hdr->removed, memory_order_acquire) != 0;
}

/*
 * Checks a header against the real size of its file and, when want_kind is not 0, against
 * the kind expected. Returns 0, -EBADMSG, -EPROTONOSUPPORT or -EPROTOTYPE.
 */
int ipcx__hdr_check(const struct ipcx__hdr *h, uint64_t file_size, int want_kind);

/* The kinds built into the library, each defined in its own module. */
extern const struct ipcx__kind ipcx__event_kind;
extern const struct ipcx__kind ipcx__mutex_kind;
extern const struct ipcx__kind ipcx__semset_kind;
extern const struct ipcx__kind ipcx__region_kind;

/* The kind table, indexed by enum ipcx_kind; NULL where a kind is not built. Written only
 * by the layer's own tests, which put a test kind in place. */
extern const struct ipcx__kind *ipcx__kinds[IPCX_KIND_MAX_];
const struct ipcx__kind *ipcx__kind_get(int kind);

#endif
