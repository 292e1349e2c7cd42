/* SPDX-License-Identifier: MIT */
/*
 * Garbles the body of a valid event or mutex and runs every non-blocking call on it: a
 * peer that scribbles over shared memory must not make another process crash, fault or
 * loop. Calls that could sleep are given a timeout of 0 or 1 ms.
 *
 * Input: byte 0 picks the kind (even: event, odd: mutex); then records of 3 bytes, a
 * little-endian 16-bit offset into the body (modulo its size) and a byte XORed there.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pristine {
	const char *name;
	uint8_t *map;  /* the object's file, mapped */
	uint8_t *copy; /* its body as created */
	size_t body;
};

static struct pristine objs[2] = {{"ev", NULL, NULL, 0}, {"mx", NULL, NULL, 0}};

static char dir[64];

static void cleanup(void)
{
	char path[128];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, objs[i].name);
		unlink(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	char path[128];
	ipcx_event *ev;
	ipcx_mutex *mx;

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-sync.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	atexit(cleanup);
	if (ipcx_event_open("ev", IPCX_CREATE, 0, &ev) != 1 ||
	    ipcx_mutex_open("mx", IPCX_CREATE, 0, &mx) != 1)
		abort();
	ipcx_event_close(ev);
	ipcx_mutex_close(mx);
	for (int i = 0; i < 2; i++) {
		off_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, objs[i].name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		len = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
		if (len <= IPCX__BODY_OFFSET)
			abort();
		objs[i].map = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (objs[i].map == MAP_FAILED)
			abort();
		objs[i].body = (size_t)len - IPCX__BODY_OFFSET;
		objs[i].copy = malloc(objs[i].body);
		memcpy(objs[i].copy, objs[i].map + IPCX__BODY_OFFSET, objs[i].body);
	}
}

static void event_calls(void)
{
	struct ipcx_event_state st;
	ipcx_event *ev;

	if (ipcx_event_open("ev", 0, 0, &ev) != 0)
		return;
	ipcx_event_set_wait(ev, IPCX_WAIT_SLEEP);
	ipcx_event_get_state(ev, &st);
	ipcx_event_notify(ev, 4);
	ipcx_event_wait(ev, 0);
	ipcx_event_wait(ev, 1000000);
	ipcx_event_pulse(ev);
	ipcx_event_set(ev);
	ipcx_event_wait(ev, 1000000);
	ipcx_event_reset(ev);
	ipcx_event_notify(ev, 1000);
	ipcx_event_get_state(ev, &st);
	ipcx_event_close(ev);
}

static void mutex_calls(void)
{
	struct ipcx_mutex_state st;
	ipcx_mutex *mx;
	int r;

	if (ipcx_mutex_open("mx", 0, 0, &mx) != 0)
		return;
	ipcx_mutex_get_state(mx, &st);
	ipcx_mutex_set_wait(mx, IPCX_WAIT_SLEEP);
	r = ipcx_mutex_lock(mx, 1000000);
	if (r == -EOWNERDEAD)
		ipcx_mutex_consistent(mx);
	ipcx_mutex_get_state(mx, &st);
	if (r == 0 || r == -EOWNERDEAD)
		ipcx_mutex_unlock(mx);
	if (ipcx_mutex_trylock(mx) == 0)
		ipcx_mutex_unlock(mx);
	ipcx_mutex_close(mx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pristine *o;
	uint8_t *body;

	if (size < 1)
		return 0;
	setup();
	o = &objs[data[0] & 1];
	body = o->map + IPCX__BODY_OFFSET;
	memcpy(body, o->copy, o->body);
	for (size_t i = 1; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % o->body;
		body[off] ^= data[i + 2];
	}
	if (data[0] & 1)
		mutex_calls();
	else
		event_calls();
	return 0;
}
