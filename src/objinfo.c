/* SPDX-License-Identifier: MIT */
/*
 * Looking at objects from outside, without attaching: stat, the attachment list, the
 * directory walk behind `ipcx ls`, and garbage collection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/obj.h"
#include "internal/sys.h"

const char *ipcx_dir(void)
{
	return ipcx__ns_path();
}

/*
 * Fills info (and up to max attachments) for one directory entry. Returns 0 with
 * info->status telling whether the object is usable, or -errno when there is no such entry.
 */
static int inspect(int dirfd, const char *name, struct ipcx_info *info,
                   struct ipcx_attachment *list, size_t max, unsigned *ret_total)
{
	const struct ipcx__kind *kind;
	const struct ipcx__hdr *h;
	unsigned total = 0;
	struct stat st;
	int fd, r = 0;

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	r = ipcx__shm_stat(dirfd, name, &st);
	if (r < 0)
		return r;
	info->size = (uint64_t)st.st_size;
	info->mode = st.st_mode & 07777;
	info->uid = st.st_uid;
	info->gid = st.st_gid;
	if (S_ISLNK(st.st_mode)) {
		info->status = -ELOOP;
		return 0;
	}
	fd = ipcx__shm_open(dirfd, name, false, &st);
	if (fd < 0) {
		if (fd == -ENOENT)
			return fd;
		info->status = fd;
		return 0;
	}
	info->size = (uint64_t)st.st_size;
	h = st.st_size >= IPCX__BODY_OFFSET ? ipcx__shm_map(fd, info->size, false, &r) : NULL;
	ipcx__close(fd);
	if (!h) {
		info->status = st.st_size >= IPCX__BODY_OFFSET ? r : -EBADMSG;
		return 0;
	}
	info->status = ipcx__hdr_check(h, info->size, 0);
	info->version = h->version;
	if (info->status == 0) {
		kind = ipcx__kind_get((int)h->kind);
		if (kind && kind->validate)
			info->status = kind->validate((const char *)h + IPCX__BODY_OFFSET,
			                              info->size - IPCX__BODY_OFFSET);
		else if (!kind)
			info->status = -EPROTONOSUPPORT; /* a kind this build lacks */
	}
	if (info->status == 0) {
		info->kind = (int)h->kind;
		info->creator_pid = h->creator_pid;
		info->created_ns = h->created_ns;
		for (unsigned i = 0; i < IPCX_MAX_ATTACH; i++) {
			uint64_t who = atomic_load_explicit(&h->slots[i].who, memory_order_relaxed);
			bool alive;

			if (!who)
				continue;
			alive = ipcx__proc_alive(who);
			alive ? info->attached++ : info->dead++;
			if (total < max) {
				list[total].pid = ipcx__id_pid(who);
				list[total].alive = alive;
				list[total].start_time = ipcx__id_start(who);
			}
			total++;
		}
	}
	ipcx__shm_unmap((void *)h, info->size);
	if (ret_total)
		*ret_total = total;
	return 0;
}

static bool is_tmp(const char *name)
{
	return strncmp(name, IPCX__TMP_PREFIX, strlen(IPCX__TMP_PREFIX)) == 0;
}

/* The identity of a temporary file's creator, from its name; 0 if it cannot be read. */
static uint64_t tmp_creator(const char *name)
{
	const char *p = name + strlen(IPCX__TMP_PREFIX);
	char *end;
	uint64_t id = strtoull(p, &end, 16);

	return end != p && *end == '.' ? id : 0;
}

static int stat_in(int dirfd, const char *name, struct ipcx_info *info,
                   struct ipcx_attachment *list, size_t max, unsigned *ret_total)
{
	int r = ipcx_name_check(name);

	if (r < 0)
		return r;
	return inspect(dirfd, name, info, list, max, ret_total);
}

int ipcx_stat(const char *name, struct ipcx_info *ret_info)
{
	struct ipcx_info info;
	int dirfd, r;

	if (!ret_info)
		return -EINVAL;
	dirfd = ipcx__ns_open();
	if (dirfd < 0)
		return dirfd;
	r = stat_in(dirfd, name, &info, NULL, 0, NULL);
	ipcx__close(dirfd);
	if (r == 0)
		*ret_info = info;
	return r;
}

int ipcx_attachments(const char *name, struct ipcx_attachment *ret_list, size_t max)
{
	struct ipcx_info info;
	unsigned total = 0;
	int dirfd, r;

	if (max && !ret_list)
		return -EINVAL;
	dirfd = ipcx__ns_open();
	if (dirfd < 0)
		return dirfd;
	r = stat_in(dirfd, name, &info, ret_list, max, &total);
	ipcx__close(dirfd);
	if (r < 0)
		return r;
	return info.status < 0 ? info.status : (int)total;
}

struct walk {
	int dirfd;
	ipcx_foreach_fn fn;
	void *arg;
};

/* A descriptor watcher's FIFO (see internal/watch.h): not an object. */
static bool is_watcher(const char *name)
{
	return strncmp(name, IPCX__FIFO_PREFIX, strlen(IPCX__FIFO_PREFIX)) == 0;
}

/* The identity of the process a watcher's FIFO belongs to, from its name; 0 if unreadable. */
static uint64_t watcher_owner(const char *name)
{
	const char *p = name + strlen(IPCX__FIFO_PREFIX);
	char *end;
	uint64_t id = strtoull(p, &end, 16);

	return end != p && *end == '.' ? id : 0;
}

static int walk_one(const char *name, void *arg)
{
	struct walk *w = arg;
	struct ipcx_info info;

	if (is_watcher(name))
		return 0;
	if (is_tmp(name)) {
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", name);
		info.status = -EINPROGRESS;
		info.creator_pid = ipcx__id_pid(tmp_creator(name));
		return w->fn(&info, w->arg);
	}
	if (inspect(w->dirfd, name, &info, NULL, 0, NULL) < 0)
		return 0; /* removed while we walked */
	if (ipcx_name_check(name) < 0 && info.status == 0)
		info.status = -EBADMSG; /* a valid object under a name we would never give */
	return w->fn(&info, w->arg);
}

int ipcx_foreach(ipcx_foreach_fn fn, void *arg)
{
	struct walk w = {.fn = fn, .arg = arg};
	int r;

	if (!fn)
		return -EINVAL;
	w.dirfd = ipcx__ns_open();
	if (w.dirfd < 0)
		return w.dirfd;
	r = ipcx__ns_list(w.dirfd, walk_one, &w);
	ipcx__close(w.dirfd);
	return r;
}

struct gc {
	int dirfd;
	bool dry_run;
	ipcx_gc_fn fn;
	void *arg;
	int removed;
};

static int gc_one(const char *name, void *arg)
{
	struct gc *g = arg;
	struct ipcx_info info;
	const char *why = NULL;

	if (is_tmp(name)) {
		if (!ipcx__proc_alive(tmp_creator(name)))
			why = "temporary file of an interrupted create";
	} else if (is_watcher(name)) {
		if (!ipcx__proc_alive(watcher_owner(name)))
			why = "descriptor watcher of a process that died";
	} else if (ipcx_name_check(name) == 0 &&
	           inspect(g->dirfd, name, &info, NULL, 0, NULL) == 0 && info.status == 0 &&
	           info.dead > 0 && info.attached == 0) {
		why = "every attached process is dead";
	}
	if (!why)
		return 0;
	if (!g->dry_run) {
		int r = is_tmp(name) || is_watcher(name) ? ipcx__shm_unlink(g->dirfd, name)
		                                         : ipcx_unlink(name);
		if (r < 0)
			return 0; /* gone already, or not ours to remove */
	}
	g->removed++;
	if (g->fn)
		g->fn(name, why, g->arg);
	return 0;
}

int ipcx_gc(bool dry_run, ipcx_gc_fn fn, void *arg)
{
	struct gc g = {.dry_run = dry_run, .fn = fn, .arg = arg};
	int r;

	g.dirfd = ipcx__ns_open();
	if (g.dirfd < 0)
		return g.dirfd;
	r = ipcx__ns_list(g.dirfd, gc_one, &g);
	ipcx__close(g.dirfd);
	return r < 0 ? r : g.removed;
}
