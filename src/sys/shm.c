/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory files in the namespace directory. Every path is resolved relative to the
 * directory descriptor and never through a symbolic link, and descriptors are closed as soon
 * as the mapping exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal/sys.h"

#define DEFAULT_NS "/dev/shm/ipcx"

void ipcx__close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

const char *ipcx__ns_path(void)
{
	const char *env = getenv("IPCX_DIR");

	return env && *env ? env : DEFAULT_NS;
}

int ipcx__ns_open(void)
{
	const char *path = ipcx__ns_path();
	/* The default directory sits in a world-writable place where anyone could plant a
	 * link to somewhere else; a directory the user named is trusted as named. */
	int nofollow = strcmp(path, DEFAULT_NS) == 0 ? O_NOFOLLOW : 0;
	int fd;

	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || attempt)
			return -errno;
		/* Like /tmp: anyone may create, only owners may remove. mkdir applies the umask,
		 * so the mode is set again explicitly; a racing creator is harmless. */
		if (mkdir(path, 01777) == 0)
			chmod(path, 01777);
		else if (errno != EEXIST)
			return -errno;
	}
	return -ENOENT;
}

int ipcx__shm_create_tmp(int dirfd, mode_t mode, uint64_t size, char *ret_name, size_t cap)
{
	static _Atomic unsigned counter;
	int fd, r;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);

		snprintf(ret_name, cap, IPCX__TMP_PREFIX "%" PRIx64 ".%x", ipcx__proc_self(), n);
		fd = openat(dirfd, ret_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            mode & 0777);
		if (fd >= 0)
			break;
		if (errno != EEXIST) /* a leftover of a dead process with our recycled pid */
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* The requested mode exactly: the umask must not take away access the caller granted. */
	if (fchmod(fd, mode & 0777) < 0) {
		r = -errno;
		goto fail;
	}
	/* Allocate the pages now, so a full /dev/shm is an error here rather than a SIGBUS when
	 * a page is first touched. */
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r == EOPNOTSUPP || r == EINVAL) /* file systems without fallocate */
		r = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
	if (r) {
		r = -r;
		goto fail;
	}
	return fd;
fail:
	unlinkat(dirfd, ret_name, 0);
	ipcx__close(fd);
	return r;
}

int ipcx__shm_open(int dirfd, const char *name, bool writable, struct stat *ret_st)
{
	int fd = openat(dirfd, name,
	                (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	                        O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0) {
		int r = -errno;
		ipcx__close(fd);
		return r;
	}
	if (!S_ISREG(ret_st->st_mode)) {
		ipcx__close(fd);
		return -EBADMSG;
	}
	return fd;
}

int ipcx__shm_link(int dirfd, const char *tmp, const char *name)
{
	return linkat(dirfd, tmp, dirfd, name, 0) < 0 ? -errno : 0;
}

int ipcx__shm_unlink(int dirfd, const char *name)
{
	return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
}

int ipcx__shm_stat(int dirfd, const char *name, struct stat *ret_st)
{
	return fstatat(dirfd, name, ret_st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int ipcx__shm_file_id(int fd, struct ipcx__file_id *ret_id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	ret_id->dev = (uint64_t)st.st_dev;
	ret_id->ino = (uint64_t)st.st_ino;
	return 0;
}

void *ipcx__shm_map(int fd, uint64_t size, bool writable, int *ret_err)
{
	void *p;

	if (size == 0 || size > SIZE_MAX) {
		*ret_err = -EBADMSG;
		return NULL;
	}
	p = mmap(NULL, (size_t)size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*ret_err = -errno;
		return NULL;
	}
	return p;
}

void ipcx__shm_unmap(void *addr, uint64_t size)
{
	if (addr)
		munmap(addr, (size_t)size);
}

int ipcx__shm_foreign(int dirfd, const struct stat *st)
{
	struct stat dir;

	/* The rule of the kernel's fs.protected_regular: in a world-writable sticky directory,
	 * a create-or-open must not be steered into a file that another user planted there. */
	if (fstat(dirfd, &dir) < 0)
		return -errno;
	if (!(dir.st_mode & S_ISVTX) || !(dir.st_mode & S_IWOTH))
		return 0;
	return st->st_uid != geteuid() && st->st_uid != dir.st_uid;
}

int ipcx__ns_list(int dirfd, int (*fn)(const char *name, void *arg), void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		ipcx__close(fd);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = fn(de->d_name, arg);
		if (r)
			break;
	}
	closedir(d);
	return r;
}
