/* SPDX-License-Identifier: MIT */
/*
 * Does a process have a given file mapped? Its /proc/PID/maps says, one line per mapping:
 *
 *   7f0c2a000000-7f0c2a100000 rw-s 00000000 00:1b 54031    /dev/shm/ipcx/name
 *   range                     perms offset  dev   inode    path (escaped: no raw newline)
 *
 * The device is the kernel's major:minor in hex, the inode is decimal: the st_dev and st_ino
 * a stat of the file gives. The text is parsed as a stream, one character at a time, so a
 * line may be of any length and span any number of reads, and the reader keeps no more than
 * one fixed buffer however long the file is. A big process has thousands of mappings; the
 * scan stops at the first match.
 *
 * Formatting that text is slow, though (about 0.65 us per mapping here: 2 ms for a process
 * with 3000 mappings), so on Linux 6.11 and later the kernel is asked instead, with the
 * PROCMAP_QUERY ioctl on the same file: first for the mapping at the address the registrant
 * says it uses (under 1 us whatever the size of the process), then, if that is not it, for
 * each shared, writable file mapping in turn (a few per process, as a rule). The text is
 * read only on older kernels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../internal/sys.h"

static void new_line(struct ipcx__maps_scan *s)
{
	s->major = s->minor = s->ino = 0;
	s->field = 0;
	s->col = 0;
	s->minor_part = false;
	s->ok = true;
}

void ipcx__maps_scan_init(struct ipcx__maps_scan *s, const struct ipcx__file_id *want)
{
	s->want_major = major((dev_t)want->dev);
	s->want_minor = minor((dev_t)want->dev);
	s->want_ino = want->ino;
	s->lines = 0;
	s->found = false;
	new_line(s);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void end_line(struct ipcx__maps_scan *s)
{
	/* The inode must have been read whole: its field ended (a path follows) or the line
	 * ends right after it (an unnamed mapping). */
	if (s->ok && s->field >= 4 && !(s->field == 4 && s->col == 0) && s->minor_part &&
	    s->major == s->want_major && s->minor == s->want_minor && s->ino == s->want_ino)
		s->found = true;
	s->lines++;
	new_line(s);
}

/* Ends the current field at a space; fields 0 to 4 must not be empty. */
static void end_field(struct ipcx__maps_scan *s)
{
	if (s->col == 0 || (s->field == 1 && s->col != 4) || (s->field == 3 && !s->minor_part))
		s->ok = false;
	s->field++;
	s->col = 0;
}

static void field_char(struct ipcx__maps_scan *s, char c)
{
	int d;

	switch (s->field) {
	case 1: /* perms: "rw-s" is a shared, writable mapping */
		if ((s->col == 1 && c != 'w') || (s->col == 3 && c != 's'))
			s->ok = false;
		break;
	case 3: /* dev: hex major ':' hex minor */
		if (c == ':' && !s->minor_part && s->col > 0) {
			s->minor_part = true;
			s->col = 0;
			return;
		}
		d = hex_digit(c);
		if (d < 0) {
			s->ok = false;
		} else if (s->minor_part) {
			s->minor = s->minor > UINT32_MAX ? s->minor : s->minor * 16 + (uint64_t)d;
		} else {
			s->major = s->major > UINT32_MAX ? s->major : s->major * 16 + (uint64_t)d;
		}
		break;
	case 4: /* inode, decimal */
		if (c < '0' || c > '9' || s->ino > (UINT64_MAX - 9) / 10)
			s->ok = false;
		else
			s->ino = s->ino * 10 + (uint64_t)(c - '0');
		break;
	default: /* the range, the offset and the path are not looked at */
		break;
	}
	s->col++;
}

bool ipcx__maps_scan_feed(struct ipcx__maps_scan *s, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && !s->found; i++) {
		char c = buf[i];

		if (c == '\n')
			end_line(s);
		else if (c == ' ' && s->field < 5)
			end_field(s);
		else if (s->ok)
			field_char(s, c);
	}
	return s->found;
}

int ipcx__maps_scan_text(int fd, const struct ipcx__file_id *want)
{
	struct ipcx__maps_scan s;
	char buf[8192];

	ipcx__maps_scan_init(&s, want);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (ipcx__maps_scan_feed(&s, buf, (size_t)n))
			return 1;
		if (s.lines > IPCX__MAPS_MAX_LINES)
			return -E2BIG;
	}
}

/*
 * PROCMAP_QUERY (Linux 6.11): an ioctl on the same maps file that describes one mapping in
 * binary, found by address, without formatting any text. Defined here from the kernel's
 * uapi <linux/fs.h>, which the build machine's headers may predate; the kernel takes the
 * size in the first word, so this first version of the struct stays valid.
 */
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;                                                     /* in */
	uint64_t query_addr;                                                      /* in */
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode; /* out */
	uint32_t dev_major, dev_minor;                                            /* out */
	uint32_t vma_name_size, build_id_size;                                    /* in/out */
	uint64_t vma_name_addr, build_id_addr;                                    /* in */
};
_Static_assert(sizeof(struct procmap_query) == 104, "the kernel's first version");

#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
enum {
	QUERY_VMA_WRITABLE = 0x02,
	QUERY_VMA_SHARED = 0x08,
	QUERY_COVERING_OR_NEXT_VMA = 0x10,
	QUERY_FILE_BACKED_VMA = 0x20,
};

/*
 * The first shared, writable, file-backed mapping that covers addr (or, with next, starts
 * at or after it). Returns 1 when it is one of want, 0 when it is another (*ret_end is then
 * where it ends), -ENOENT when there is none, -ENOTTY when the kernel has no PROCMAP_QUERY,
 * or another -errno.
 */
static int query(int fd, const struct ipcx__file_id *want, uint64_t addr, bool next,
                 uint64_t *ret_end)
{
	const uint64_t need = QUERY_VMA_WRITABLE | QUERY_VMA_SHARED;
	struct procmap_query q;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = addr;
	/* The kernel skips mappings that lack these flags itself. */
	q.query_flags = need | QUERY_FILE_BACKED_VMA | (next ? QUERY_COVERING_OR_NEXT_VMA : 0);
	if (ioctl(fd, PROCMAP_QUERY, &q) < 0)
		return errno == EINVAL ? -ENOTTY : -errno; /* EINVAL: an older layout */
	*ret_end = q.vma_end;
	return (q.vma_flags & need) == need && q.inode == want->ino &&
	       q.dev_major == major((dev_t)want->dev) && q.dev_minor == minor((dev_t)want->dev);
}

int ipcx__maps_query(int fd, const struct ipcx__file_id *want, uint64_t hint)
{
	uint64_t addr = 0, end = 0;
	int r;

	if (hint != 0) {
		r = query(fd, want, hint, false, &end);
		if (r == 1 || (r < 0 && r != -ENOENT))
			return r;
	}
	/* From the bottom: one call per shared, writable file mapping, until a match. */
	for (uint64_t i = 0; i <= IPCX__MAPS_MAX_LINES; i++) {
		r = query(fd, want, addr, true, &end);
		if (r != 0)
			return r == -ENOENT ? 0 : r;
		if (end <= addr)
			return -EIO; /* no progress: not what the kernel documents */
		addr = end;
	}
	return -E2BIG;
}

int ipcx__maps_has_file(int fd, const struct ipcx__file_id *want, uint64_t hint)
{
	int r = ipcx__maps_query(fd, want, hint);

	return r == -ENOTTY ? ipcx__maps_scan_text(fd, want) : r;
}
