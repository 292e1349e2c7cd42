/* SPDX-License-Identifier: MIT */
/*
 * Named objects: create (atomically, under a temporary name then linked into place), open
 * and validate, attach and detach, remove.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "internal/obj.h"
#include "internal/sys.h"
#include "internal/watch.h"

int ipcx_name_check(const char *name)
{
	size_t n = 0;

	if (!name)
		return -EINVAL;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok || n >= IPCX_NAME_MAX)
			return -EINVAL;
	}
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

int ipcx__hdr_check(const struct ipcx__hdr *h, uint64_t file_size, int want_kind)
{
	uint32_t kind;

	if (file_size < IPCX__BODY_OFFSET)
		return -EBADMSG;
	/* Pairs with the creator's release store of magic: the rest of the header is complete. */
	if (atomic_load_explicit((_Atomic uint64_t *)&h->magic, memory_order_acquire) !=
	    IPCX__MAGIC)
		return -EBADMSG;
	if (h->version != IPCX__LAYOUT_VERSION)
		return -EPROTONOSUPPORT;
	kind = h->kind;
	if (kind == IPCX_KIND_NONE || kind >= IPCX_KIND_MAX_)
		return -EBADMSG;
	if (h->total_size != file_size || h->body_offset != IPCX__BODY_OFFSET ||
	    h->body_size != file_size - IPCX__BODY_OFFSET || h->slot_count != IPCX_MAX_ATTACH)
		return -EBADMSG;
	if (want_kind && kind != (uint32_t)want_kind)
		return -EPROTOTYPE;
	return 0;
}

/* Claims a free slot, or one whose process died. */
static int attach(struct ipcx__obj *o)
{
	struct ipcx__slot *slots = o->hdr->slots;
	uint64_t me = ipcx__proc_self();

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < IPCX_MAX_ATTACH; i++) {
			uint64_t v = atomic_load_explicit(&slots[i].who, memory_order_relaxed);

			/* The second pass asks /proc, which is slow: only when no slot is free. */
			if (v != 0 && (pass == 0 || v == me || ipcx__proc_alive(v)))
				continue;
			/* Acquire pairs with the release in detach: the previous holder is done. */
			if (!atomic_compare_exchange_strong_explicit(&slots[i].who, &v, me,
			                                             memory_order_acquire,
			                                             memory_order_relaxed))
				continue;
			atomic_store_explicit(&slots[i].since_ns, (uint64_t)ipcx__realtime_ns(),
			                      memory_order_relaxed);
			o->slot = i;
			o->who = me;
			return 0;
		}
	}
	return -EUSERS;
}

bool ipcx__obj_owned(const struct ipcx__obj *o)
{
	return o->who == ipcx__proc_self();
}

static void detach(struct ipcx__obj *o)
{
	uint64_t me = o->who;

	/* A forked child's copy of the handle: the slot is its parent's, still in use. */
	if (!ipcx__obj_owned(o))
		return;

	/* If someone overwrote our slot (a hostile peer), it is no longer ours to clear. */
	atomic_compare_exchange_strong_explicit(&o->hdr->slots[o->slot].who, &me, 0,
	                                        memory_order_release, memory_order_relaxed);
}

/* Maps an open file, checks it is a valid object of the kind, and attaches. */
static int map_and_attach(struct ipcx__obj *o, const struct ipcx__kind *kind, int fd, uint64_t size)
{
	int r = 0;
	void *p;

	struct ipcx__file_id file;

	if (size < IPCX__BODY_OFFSET)
		return -EBADMSG;
	r = ipcx__shm_file_id(fd, &file);
	if (r < 0)
		return r;
	p = ipcx__shm_map(fd, size, true, &r);
	if (!p)
		return r;
	o->hdr = p;
	o->file = file;
	o->map_size = size;
	o->body = (char *)p + IPCX__BODY_OFFSET;
	o->body_size = size - IPCX__BODY_OFFSET;
	o->kind = kind;
	r = ipcx__hdr_check(o->hdr, size, kind->kind);
	if (r == 0 && kind->validate)
		r = kind->validate(o->body, o->body_size);
	if (r == 0)
		r = attach(o);
	if (r < 0) {
		ipcx__shm_unmap(p, size);
		memset(o, 0, sizeof(*o));
	}
	return r;
}

static int open_existing(struct ipcx__obj *o, const struct ipcx__kind *kind, int dirfd,
                         const char *name, bool creating)
{
	struct stat st;
	int fd, r;

	fd = ipcx__shm_open(dirfd, name, true, &st);
	if (fd < 0)
		return fd;
	if (creating) {
		r = ipcx__shm_foreign(dirfd, &st);
		if (r != 0) {
			ipcx__close(fd);
			return r < 0 ? r : -EPERM;
		}
	}
	r = map_and_attach(o, kind, fd, (uint64_t)st.st_size);
	ipcx__close(fd);
	return r;
}

static int create_new(struct ipcx__obj *o, const struct ipcx__kind *kind, int dirfd,
                      const char *name, mode_t mode, uint64_t body_size, ipcx__init_fn init,
                      const void *arg)
{
	struct ipcx__file_id file;
	char tmp[64];
	uint64_t total;
	struct ipcx__hdr *h;
	int fd, r = 0;

	if (body_size > UINT64_MAX / 2)
		return -EFBIG;
	total = IPCX__BODY_OFFSET + body_size;
	fd = ipcx__shm_create_tmp(dirfd, mode ? mode : IPCX_DEFAULT_MODE, total, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r = ipcx__shm_file_id(fd, &file);
	h = r < 0 ? NULL : ipcx__shm_map(fd, total, true, &r);
	ipcx__close(fd);
	if (!h)
		goto fail_unlink;

	/* The file is fresh and zero-filled; nobody else can see it until it is linked. */
	h->version = IPCX__LAYOUT_VERSION;
	h->kind = (uint32_t)kind->kind;
	h->total_size = total;
	h->body_offset = IPCX__BODY_OFFSET;
	h->body_size = body_size;
	h->slot_count = IPCX_MAX_ATTACH;
	h->creator_id = ipcx__proc_self();
	h->creator_pid = ipcx__id_pid(h->creator_id);
	h->created_ns = (uint64_t)ipcx__realtime_ns();
	if (init) {
		r = init((char *)h + IPCX__BODY_OFFSET, body_size, arg);
		if (r < 0)
			goto fail_unmap;
	}
	/* Pairs with the acquire load in ipcx__hdr_check: magic last, over a complete object. */
	atomic_store_explicit((_Atomic uint64_t *)&h->magic, IPCX__MAGIC, memory_order_release);

	r = ipcx__shm_link(dirfd, tmp, name);
	if (r < 0)
		goto fail_unmap;
	ipcx__shm_unlink(dirfd, tmp);

	o->hdr = h;
	o->file = file;
	o->map_size = total;
	o->body = (char *)h + IPCX__BODY_OFFSET;
	o->body_size = body_size;
	o->kind = kind;
	/* A fresh object has every slot free. */
	r = attach(o);
	if (r < 0) {
		ipcx__shm_unmap(h, total);
		memset(o, 0, sizeof(*o));
		return r;
	}
	return 1;

fail_unmap:
	ipcx__shm_unmap(h, total);
fail_unlink:
	ipcx__shm_unlink(dirfd, tmp);
	return r;
}

int ipcx__obj_open(struct ipcx__obj *o, const struct ipcx__kind *kind, const char *name,
                   unsigned flags, mode_t mode, uint64_t body_size, ipcx__init_fn init,
                   const void *arg)
{
	bool creating = flags & IPCX_CREATE;
	int dirfd, r = -ENOENT;

	memset(o, 0, sizeof(*o));
	if ((flags & ~(IPCX_CREATE | IPCX_EXCL)) || ((flags & IPCX_EXCL) && !creating))
		return -EINVAL;
	if (mode & ~0777u)
		return -EINVAL;
	r = ipcx_name_check(name);
	if (r < 0)
		return r;
	dirfd = ipcx__ns_open();
	if (dirfd < 0)
		return dirfd;

	/*
	 * Open if it exists, else create; a create that loses the race to another creator opens
	 * the winner's object. The object may be removed between our failed link and our open,
	 * so this loops, but only a few times: each turn needs another process to win a race.
	 */
	for (int attempt = 0; attempt < 16; attempt++) {
		if (!(flags & IPCX_EXCL)) {
			r = open_existing(o, kind, dirfd, name, creating);
			if (r != -ENOENT || !creating)
				break;
		}
		r = create_new(o, kind, dirfd, name, mode, body_size, init, arg);
		if (r != -EEXIST || (flags & IPCX_EXCL))
			break;
	}
	ipcx__close(dirfd);
	/* Wakers that know only a futex word find the object's watch table through this. */
	if (r >= 0)
		ipcx__watch_map_add(o->hdr, o->map_size);
	return r;
}

void ipcx__obj_close(struct ipcx__obj *o)
{
	if (!o || !o->hdr)
		return;
	if (o->fdws)
		ipcx__fd_drop(o);
	ipcx__watch_map_del(o->hdr);
	detach(o);
	ipcx__shm_unmap(o->hdr, o->map_size);
	memset(o, 0, sizeof(*o));
}

/* Tells every process that has the object mapped that it is gone, and wakes its waiters. */
static void mark_removed(void *map, uint64_t size)
{
	struct ipcx__hdr *h = map;
	const struct ipcx__kind *kind;

	if (ipcx__hdr_check(h, size, 0) < 0)
		return; /* a corrupt object is removed without waking anyone: nobody can use it */
	atomic_store_explicit(&h->removed, 1, memory_order_release);
	atomic_fetch_add_explicit(&h->gen, 1, memory_order_release);
	ipcx__futex_wake(&h->gen, INT32_MAX);
	kind = ipcx__kind_get((int)h->kind);
	if (kind && kind->on_remove)
		kind->on_remove((char *)map + IPCX__BODY_OFFSET, size - IPCX__BODY_OFFSET);
	/* Descriptor watchers too, whatever word they watch: their descriptors become
	 * readable and their next look finds the object removed. */
	ipcx__watch_fire_hdr(h, size, 0, true);
}

int ipcx_unlink(const char *name)
{
	struct stat st, now;
	void *map = NULL;
	int dirfd, fd, r;

	r = ipcx_name_check(name);
	if (r < 0)
		return r;
	dirfd = ipcx__ns_open();
	if (dirfd < 0)
		return dirfd;

	/* Hold the file open so its waiters can be told after the name is gone; without write
	 * access the name can still go (if the directory allows), only nobody is woken. */
	fd = ipcx__shm_open(dirfd, name, true, &st);
	if (fd == -EACCES || fd == -EBADMSG || fd == -ELOOP) /* a link goes, not its target */
		fd = -1;
	else if (fd < 0) {
		ipcx__close(dirfd);
		return fd;
	}
	if (fd >= 0 && st.st_size >= IPCX__BODY_OFFSET)
		map = ipcx__shm_map(fd, (uint64_t)st.st_size, true, &r);

	/* Only remove the name if it still names the file we hold. */
	r = ipcx__shm_stat(dirfd, name, &now);
	if (r == 0 && fd >= 0 && (now.st_ino != st.st_ino || now.st_dev != st.st_dev))
		r = -EAGAIN;
	if (r == 0)
		r = ipcx__shm_unlink(dirfd, name);
	if (r == 0 && map)
		mark_removed(map, (uint64_t)st.st_size);
	if (map)
		ipcx__shm_unmap(map, (uint64_t)st.st_size);
	ipcx__close(fd);
	ipcx__close(dirfd);
	return r;
}
