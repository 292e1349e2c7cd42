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
 */
#define _GNU_SOURCE
#include <errno.h>
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

int ipcx__maps_has_file(int fd, const struct ipcx__file_id *want)
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
