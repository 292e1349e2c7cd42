/* SPDX-License-Identifier: MIT */
/*
 * Unix datagram sockets in the abstract namespace: how a waker makes another process's file
 * descriptor readable (see internal/watch.h and docs/waiting.md for why this mechanism).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../internal/sys.h"

/* Fills an abstract address: a NUL, then name (len bytes, no terminating NUL). */
static socklen_t abstract_addr(struct sockaddr_un *a, const char *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (len > sizeof(a->sun_path) - 1)
		len = sizeof(a->sun_path) - 1;
	memcpy(a->sun_path + 1, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

int ipcx__sock_bind(const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t al = abstract_addr(&a, name, len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, al) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * The process's sending socket, made on first use. Its inode is remembered and checked
 * before each use: a program that closes descriptors it does not know about (closefrom
 * after fork, say) may have given the number to a socket of its own, and a byte must never
 * go into that.
 */
static _Atomic int snd_fd = -1;
static _Atomic uint64_t snd_ino;

static int sender(void)
{
	int fd = atomic_load_explicit(&snd_fd, memory_order_acquire), nfd, expect;
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_ino == atomic_load_explicit(&snd_ino, memory_order_relaxed))
		return fd;
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nfd < 0)
		return -errno;
	if (fstat(nfd, &st) < 0) {
		close(nfd);
		return -EBADF;
	}
	expect = fd;
	/* Another thread may replace it at the same time: one wins, the other keeps its own
	 * for this call only. A lost socket of a closed number is not ours to close. */
	if (atomic_compare_exchange_strong_explicit(&snd_fd, &expect, nfd, memory_order_acq_rel,
	                                            memory_order_acquire)) {
		atomic_store_explicit(&snd_ino, (uint64_t)st.st_ino, memory_order_relaxed);
		return nfd;
	}
	close(nfd);
	return expect;
}

int ipcx__sock_send(const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t al = abstract_addr(&a, name, len);
	char byte = 1;
	int fd = sender();

	if (fd < 0)
		return fd;
	if (sendto(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, al) == 1)
		return 0;
	return -errno;
}

int ipcx__sock_drain(int fd)
{
	char buf[64];
	int n = 0;

	/* Bounded: a peer flooding the socket only makes the caller return, not loop. */
	for (int i = 0; i < 1024; i++) {
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
		n++;
	}
	return n;
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
