/* SPDX-License-Identifier: MIT */
/*
 * Named pipes (FIFOs) in the namespace directory: how a waker makes another process's file
 * descriptor readable (see internal/watch.h, and docs/waiting.md for the measurements that
 * chose a FIFO over a Unix datagram socket).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../internal/sys.h"

int ipcx__fifo_make(const char *name)
{
	int dirfd = ipcx__ns_open(), fd, e;

	if (dirfd < 0)
		return dirfd;
	if (mkfifoat(dirfd, name, 0600) < 0) {
		e = -errno;
		ipcx__close(dirfd);
		return e;
	}
	/* Read-write: the watcher's end never sees end-of-file, and a waker's open never
	 * waits for a reader. */
	fd = openat(dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	e = -errno;
	/* Any process that can use the object must be able to wake us: write for all (the
	 * umask does not apply to fchmod). A stranger's byte is a spurious wake-up only. */
	if (fd >= 0 && fchmod(fd, 0622) < 0) {
		e = -errno;
		ipcx__close(fd);
		fd = -1;
	}
	if (fd < 0)
		unlinkat(dirfd, name, 0);
	ipcx__close(dirfd);
	return fd < 0 ? e : fd;
}

void ipcx__fifo_unlink(const char *name)
{
	int dirfd = ipcx__ns_open();

	if (dirfd < 0)
		return;
	unlinkat(dirfd, name, 0);
	ipcx__close(dirfd);
}

/*
 * Wakers keep the FIFOs they wrote to open, so that a repeated wake-up is one write. Each
 * cached descriptor is checked with fstat before use: a program that closes descriptors it
 * does not know about (closefrom after fork, say) may have given the number to a file of
 * its own, and a byte must never go into that.
 */
#define CACHE 8
struct cached {
	char name[IPCX__FIFO_NAME_MAX];
	int fd;
	dev_t dev;
	ino_t ino;
	bool wronly; /* opened write-only (another user's FIFO): writes may raise SIGPIPE */
};
static struct cached cache[CACHE];
static unsigned cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_prepare(void)
{
	pthread_mutex_lock(&cache_lock);
}
static void cache_after(void)
{
	pthread_mutex_unlock(&cache_lock);
}
static void cache_init(void)
{
	pthread_atfork(cache_prepare, cache_after, cache_after);
}

static int write_byte(int fd)
{
	char b = 1;

	if (write(fd, &b, 1) == 1)
		return 0;
	/* A full pipe: the watcher has bytes to read already, so it is readable. */
	return errno == EAGAIN ? 0 : -errno;
}

/*
 * The same through a write-only descriptor, which gets EPIPE, and the thread SIGPIPE, when
 * the watcher has gone: the signal is blocked around the write and a SIGPIPE it raised is
 * taken back, so a dying watcher can never kill a waker. EPIPE reads as -ECONNREFUSED.
 */
static int write_byte_wronly(int fd)
{
	static const struct timespec zero;
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	r = write_byte(fd);
	if (r == -EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r == -EPIPE ? -ECONNREFUSED : r;
}

/* Opens name for writing: only a FIFO, never through a link. */
static int open_fifo(const char *name, struct stat *st, bool *ret_wronly)
{
	const int flags = O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	int dirfd = ipcx__ns_open(), fd;

	if (dirfd < 0)
		return dirfd;
	/* O_RDWR: never blocks and never fails for want of a reader, and a write never
	 * raises SIGPIPE (we are a reader ourselves). O_NONBLOCK also keeps the open of
	 * anything else that a peer put under the name from waiting. Another user's FIFO
	 * (mode 0622) can only be opened write-only: that open fails with ENXIO when nobody
	 * reads it, which means its watcher is gone. */
	*ret_wronly = false;
	fd = openat(dirfd, name, O_RDWR | flags);
	if (fd < 0 && errno == EACCES) {
		*ret_wronly = true;
		fd = openat(dirfd, name, O_WRONLY | flags);
	}
	if (fd < 0) {
		fd = errno == ENOENT || errno == ENXIO ? -ECONNREFUSED : -errno;
	} else if (fstat(fd, st) < 0 || !S_ISFIFO(st->st_mode)) {
		ipcx__close(fd);
		fd = -EBADMSG;
	}
	ipcx__close(dirfd);
	return fd;
}

int ipcx__fifo_send(const char *name)
{
	struct stat st;
	bool wronly;
	int r, fd;

	pthread_once(&cache_once, cache_init);
	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE; i++) {
		struct cached *c = &cache[i];

		if (!c->name[0] || strcmp(c->name, name) != 0)
			continue;
		if (fstat(c->fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino &&
		    st.st_nlink > 0) {
			r = c->wronly ? write_byte_wronly(c->fd) : write_byte(c->fd);
			pthread_mutex_unlock(&cache_lock);
			return r;
		}
		/* Closed behind our back, or its watcher removed the name: forget it (a number
		 * that is no longer ours is not closed). */
		if (st.st_dev == c->dev && st.st_ino == c->ino)
			ipcx__close(c->fd);
		c->name[0] = '\0';
	}
	fd = open_fifo(name, &st, &wronly);
	if (fd < 0) {
		pthread_mutex_unlock(&cache_lock);
		return fd;
	}
	r = wronly ? write_byte_wronly(fd) : write_byte(fd);
	/* Keep it, in place of the oldest. */
	struct cached *c = &cache[cache_next++ % CACHE];
	struct stat old;
	if (c->name[0] && fstat(c->fd, &old) == 0 && old.st_dev == c->dev && old.st_ino == c->ino)
		ipcx__close(c->fd);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->wronly = wronly;
	pthread_mutex_unlock(&cache_lock);
	return r;
}

int ipcx__fifo_poke(int fd)
{
	return write_byte(fd);
}

int ipcx__fifo_drain(int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	return n < 0 ? 0 : (int)n;
}

int ipcx__poll_in(int fd, ipcx__deadline d)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	int64_t left;
	int r;

	if (!ipcx__deadline_never(d)) {
		left = d.at_ns - ipcx__now_ns();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tsp = &ts;
	}
	r = ppoll(&p, 1, tsp, NULL);
	if (r > 0)
		return 1;
	if (r == 0)
		return -ETIMEDOUT;
	return errno == EINTR ? 0 : -errno;
}
