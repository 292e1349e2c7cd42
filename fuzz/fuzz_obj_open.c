/* SPDX-License-Identifier: MIT */
/*
 * Feeds arbitrary bytes as an object file to the open-and-validate path of every kind, and
 * to the read-only inspection behind `ipcx ls` and `ipcx stat`. The input is laid over a
 * header that is valid but for what the input changes, so the fuzzer reaches each kind's
 * body validation instead of stopping at the magic number.
 *
 * Input: byte 0 picks the kind; byte 1's low bit says whether the next 128 bytes are XORed
 * over the header; the rest is the body.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "internal/obj.h"
#include "internal/sys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[512];
static char dir[64];

/* Each input's file is removed after it, so the directory is empty at exit. */
static void remove_dir(void)
{
	rmdir(dir);
}

static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/ipcx-fuzz-obj.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IPCX_DIR", dir, 1);
	snprintf(path, sizeof(path), "%s/f", dir);
	atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t file[IPCX__BODY_OFFSET + 65536];
	struct ipcx__hdr *h = (struct ipcx__hdr *)file;
	size_t body, total, skip = 2;
	struct ipcx_attachment att[4];
	struct ipcx_info info;
	int fd;

	if (size < 2)
		return 0;
	setup_dir();
	memset(file, 0, IPCX__BODY_OFFSET);
	h->magic = IPCX__MAGIC;
	h->version = IPCX__LAYOUT_VERSION;
	h->kind = 1 + data[0] % (IPCX_KIND_MAX_ - 1);
	h->slot_count = IPCX_MAX_ATTACH;
	h->body_offset = IPCX__BODY_OFFSET;
	if ((data[1] & 1) && size >= 2 + 128) {
		for (size_t i = 0; i < 128; i++)
			file[i] ^= data[2 + i];
		skip += 128;
	}
	body = size - skip > 65536 ? 65536 : size - skip;
	memcpy(file + IPCX__BODY_OFFSET, data + skip, body);
	total = IPCX__BODY_OFFSET + body;
	if (!(data[1] & 1)) {
		h->total_size = total;
		h->body_size = body;
	}
	/* Slots as the input left them: the header XOR may have put identities there. */

	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, file, total) != (ssize_t)total)
		abort();
	close(fd);

	for (int k = 1; k < IPCX_KIND_MAX_; k++) {
		const struct ipcx__kind *kind = ipcx__kind_get(k);
		struct ipcx__obj o;

		if (kind && ipcx__obj_open(&o, kind, "f", 0, 0, 0, NULL, NULL) >= 0)
			ipcx__obj_close(&o);
	}
	ipcx_stat("f", &info);
	ipcx_attachments("f", att, 4);
	unlink(path);
	return 0;
}
