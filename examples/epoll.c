/* SPDX-License-Identifier: MIT */
/*
 * epoll: one thread, one epoll loop, serving TCP clients and an ipcx channel together.
 *
 *     ipcx send NAME ...  ---\                                 /---> TCP client 1
 *     other processes     ----> channel NAME --> this loop ---+----> TCP client 2
 *                                                    ^        \---> ...
 *     TCP clients: "text\n" ---------------------------+ (each line is answered "echo: text")
 *
 * The loop watches three kinds of descriptor: the listening socket (a client connects),
 * each client's socket (a line arrives), and the channel's descriptor, ipcx_chan_fd, which
 * is readable when a receive would succeed. Every message on the channel is sent to every
 * connected client as "chan: MESSAGE"; the message "quit" shuts the server down cleanly
 * (each client gets "bye" and sees its connection closed, the channel is removed, the
 * program exits 0).
 *
 * The channel descriptor is not a socket: it says "try now", and stays readable until it is
 * re-armed. The pattern, in drain_channel() below, is the point of this example:
 *   1. epoll reports the descriptor readable;
 *   2. receive with timeout 0 until ipcx_chan_recv returns -EAGAIN (take everything: one
 *      wake-up may stand for many messages; a loop that must stay fair to its sockets may
 *      stop after a batch instead, and leave the descriptor readable, not re-armed);
 *   3. re-arm with ipcx_chan_fd_rearm; if it returns 1, a message arrived after the last
 *      try, and the descriptor will not tell about it: go back to 2. It returns 0 once
 *      armed: the descriptor becomes readable when the next message comes.
 * Never read from or close the descriptor yourself; the re-arm drains it, and
 * ipcx_chan_close closes it.
 *
 * Usage: epoll [--port N] [--chan NAME]
 *   --port  TCP port on 127.0.0.1 (default 0: the kernel picks one; it is printed)
 *   --chan  the channel's name (default "epoll-feed"); created if it does not exist
 * Prints "epoll: listening on 127.0.0.1:PORT, channel NAME", one line per event, and a
 * summary; exits 0 after "quit".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#define MAX_CLIENTS 64
#define MAX_LINE 1024
#define BATCH 64 /* channel messages per turn of the loop, at most */

struct client {
	int fd; /* -1: a free entry */
	unsigned id;
	size_t len; /* bytes of a line received so far */
	char line[MAX_LINE];
};

struct server {
	int epfd;
	int listen_fd;
	ipcx_chan *chan;
	int chan_fd;
	char *msg; /* room for the channel's largest message */
	size_t msg_cap;
	struct client clients[MAX_CLIENTS];
	unsigned next_id;
	unsigned long messages, answered;
	int quit;
};

static void client_close(struct client *cl, const char *why)
{
	printf("client %u left (%s)\n", cl->id, why);
	close(cl->fd); /* which also takes it out of the epoll set */
	cl->fd = -1;
}

/* Sends prefix, text and a newline to a client without ever blocking the loop. A client
 * that does not keep up (its socket buffer is full) is disconnected: a real server would
 * queue the rest and wait for EPOLLOUT, which is ordinary socket code and not what this
 * example is about. */
static void client_send(struct client *cl, const char *prefix, const char *text, size_t len)
{
	struct iovec iov[3] = {
	        {.iov_base = (void *)prefix, .iov_len = strlen(prefix)},
	        {.iov_base = (void *)text, .iov_len = len},
	        {.iov_base = "\n", .iov_len = 1},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};

	/* MSG_NOSIGNAL: a client that went away gives EPIPE, not a SIGPIPE that kills us. */
	if (sendmsg(cl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)(iov[0].iov_len + len + 1))
		client_close(cl, "too slow or gone");
}

static void accept_clients(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *cl = NULL;
		struct epoll_event ev = {.events = EPOLLIN};
		char hello[64];

		if (fd < 0)
			return; /* EAGAIN: no more waiting (or a client that gave up already) */
		for (int i = 0; i < MAX_CLIENTS && !cl; i++)
			if (s->clients[i].fd < 0)
				cl = &s->clients[i];
		if (!cl) {
			close(fd);
			continue;
		}
		*cl = (struct client){.fd = fd, .id = ++s->next_id};
		ev.data.ptr = cl;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			cl->fd = -1;
			continue;
		}
		printf("client %u connected\n", cl->id);
		snprintf(hello, sizeof(hello), "you are client %u", cl->id);
		client_send(cl, "hello, ", hello, strlen(hello));
	}
}

/* A client's socket is readable: answer every complete line, keep the rest. */
static void client_input(struct server *s, struct client *cl)
{
	ssize_t n = read(cl->fd, cl->line + cl->len, sizeof(cl->line) - cl->len);
	char *nl;

	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			client_close(cl, n == 0 ? "closed" : strerror(errno));
		return;
	}
	cl->len += (size_t)n;
	while (cl->fd >= 0 && (nl = memchr(cl->line, '\n', cl->len))) {
		size_t len = (size_t)(nl - cl->line), end = len + 1;

		if (len && cl->line[len - 1] == '\r')
			len--; /* from telnet-like clients */
		printf("client %u: %.*s\n", cl->id, (int)len, cl->line);
		client_send(cl, "echo: ", cl->line, len);
		s->answered++;
		memmove(cl->line, cl->line + end, cl->len - end);
		cl->len -= end;
	}
	if (cl->fd >= 0 && cl->len == sizeof(cl->line))
		client_close(cl, "line too long");
}

/* One message from the channel: to every client, or the end. */
static void channel_message(struct server *s, size_t len)
{
	int sent = 0;

	if (len == 4 && memcmp(s->msg, "quit", 4) == 0) {
		s->quit = 1;
		return;
	}
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s->clients[i].fd >= 0) {
			client_send(&s->clients[i], "chan: ", s->msg, len);
			sent += s->clients[i].fd >= 0; /* not if it was too slow */
		}
	}
	s->messages++;
	printf("channel: %.*s -> %d client(s)\n", (int)len, s->msg, sent);
}

/*
 * The channel's descriptor is readable. Returns 0, or a negative errno when the channel
 * can no longer be used (-EIDRM: it was removed, e.g. with "ipcx rm").
 */
static int drain_channel(struct server *s)
{
	for (;;) {
		ssize_t n = 0;
		int k, r;

		/* Take the messages there are; the try that finds none returns -EAGAIN. */
		for (k = 0; k < BATCH; k++) {
			n = ipcx_chan_recv(s->chan, s->msg, s->msg_cap, 0);
			if (n < 0)
				break;
			channel_message(s, (size_t)n);
			if (s->quit)
				return 0; /* what was sent after "quit" stays in the channel */
		}
		/* A busy channel may never run dry: after a batch, let the sockets have their
		 * turn. Not re-armed, the descriptor stays readable, so epoll reports it again. */
		if (k == BATCH)
			return 0;
		if (n != -EAGAIN)
			return (int)n;
		/* Empty: re-arm. 1 means a message came in after our last try, and the descriptor
		 * will not tell us about that one: take it now. */
		r = ipcx_chan_fd_rearm(s->chan);
		if (r == 0)
			return 0; /* armed: readable again when a message comes */
		if (r < 0)
			return r;
	}
}

/* A TCP socket listening on 127.0.0.1:port (0: any free port); returns it or -1. */
static int listen_on(int port, int *ret_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("epoll: listen");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: epoll [--port N] [--chan NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct server s = {.epfd = -1, .listen_fd = -1, .chan_fd = -1};
	struct epoll_event ev = {.events = EPOLLIN};
	const char *name = "epoll-feed";
	int port = 0, r = 0, n;

	for (int i = 1; i < argc; i += 2) { /* --option value pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(v);
		else if (strcmp(argv[i], "--chan") == 0)
			name = v;
		else
			usage();
	}
	if (port < 0 || port > 65535)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe or file */
	for (int i = 0; i < MAX_CLIENTS; i++)
		s.clients[i].fd = -1;

	/* The channel (created unless it exists) and its descriptor, made and armed now:
	 * readable at once if messages wait already. */
	r = ipcx_chan_open(name, IPCX_CREATE, 0, NULL, &s.chan);
	if (r < 0) {
		fprintf(stderr, "epoll: channel %s: %s\n", name, ipcx_strerror(r));
		return 1;
	}
	s.msg_cap = ipcx_chan_max_msg(s.chan);
	s.msg = malloc(s.msg_cap);
	s.chan_fd = ipcx_chan_fd(s.chan);
	s.listen_fd = listen_on(port, &port);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!s.msg || s.chan_fd < 0 || s.listen_fd < 0 || s.epfd < 0) {
		fprintf(stderr, "epoll: setup failed: %s\n",
		        s.chan_fd < 0 ? ipcx_strerror(s.chan_fd) : strerror(errno));
		return 1;
	}
	/* Level-triggered, like the sockets: the descriptor stays readable until re-armed. The
	 * pointer in data tells the three kinds apart (&s.listen_fd, &s.chan_fd, a client). */
	ev.data.ptr = &s.listen_fd;
	epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
	ev.data.ptr = &s.chan_fd;
	epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.chan_fd, &ev);
	printf("epoll: listening on 127.0.0.1:%d, channel %s\n", port, name);

	while (!s.quit) {
		struct epoll_event events[16];

		n = epoll_wait(s.epfd, events, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("epoll: epoll_wait");
			r = -errno;
			break;
		}
		for (int i = 0; i < n && !s.quit; i++) {
			void *who = events[i].data.ptr;

			if (who == &s.listen_fd) {
				accept_clients(&s);
			} else if (who == &s.chan_fd) {
				r = drain_channel(&s);
				if (r < 0) {
					fprintf(stderr, "epoll: channel %s: %s\n", name,
					        ipcx_strerror(r));
					s.quit = 1;
				}
			} else if (((struct client *)who)->fd >= 0) {
				/* (not a client closed earlier in this same batch) */
				client_input(&s, who);
			}
		}
	}

	/* Shutting down: say goodbye, close everything, remove the channel. */
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s.clients[i].fd >= 0) {
			client_send(&s.clients[i], "", "bye", 3);
			if (s.clients[i].fd >= 0)
				client_close(&s.clients[i], "shutdown");
		}
	}
	close(s.epfd);
	close(s.listen_fd);
	ipcx_chan_close(s.chan); /* closes chan_fd too */
	ipcx_unlink(name);
	free(s.msg);
	printf("epoll: %lu channel messages broadcast, %lu lines answered, %u clients; bye\n",
	       s.messages, s.answered, s.next_id);
	return r < 0 ? 1 : 0;
}
