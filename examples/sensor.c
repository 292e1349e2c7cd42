/* SPDX-License-Identifier: MIT */
/*
 * sensor: one process publishes readings into a region; several reader processes follow
 * them.
 *
 *                         ipcx_region_write               ipcx_region_wait_change
 *     sensor process  ------------------------>  region  ------------------------> readers
 *                                                         ipcx_region_read
 *
 * The sensor writes a whole struct reading at a time. Readers never take a lock and never
 * hold the sensor up: ipcx_region_wait_change sleeps until a new version is published, and
 * ipcx_region_read copies out the latest one, always exactly as one write left it, never
 * half of one reading and half of the next. A reader that falls behind simply skips to the
 * newest reading, which is what a dashboard or a control loop wants.
 *
 * Each reading carries a check value computed from its other fields, so every reader can
 * prove it never saw a torn copy.
 *
 * Usage: sensor [--readers N] [--readings M] [--interval-us U]
 * Prints one line per reader and a summary; exits 0 when every reader saw the last reading
 * and no torn one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#define SECOND 1000000000LL

/* What this run does: shared by every process it starts. */
struct plan {
	char name[64]; /* the region's name */
	uint64_t readings;
	unsigned interval_us;
};

struct reading {
	uint64_t seq;   /* 1, 2, ... */
	double celsius; /* what a temperature and pressure sensor might report */
	double hpa;
	uint32_t last; /* 1 on the final reading: readers stop there */
	uint32_t pad;
	uint64_t check; /* check_of() the fields above */
};

/* FNV-1a over the fields before check: a torn copy would almost surely not match. */
static uint64_t check_of(const struct reading *r)
{
	const unsigned char *p = (const unsigned char *)r;
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < offsetof(struct reading, check); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int sensor(const struct plan *p, int unused)
{
	ipcx_region *region;
	int r = ipcx_region_open(p->name, 0, 0, 0, &region);

	if (r < 0) {
		fprintf(stderr, "sensor: open %s: %s\n", p->name, ipcx_strerror(r));
		return 1;
	}
	for (uint64_t seq = 1; seq <= p->readings; seq++) {
		struct reading rd = {
		        .seq = seq,
		        .celsius = 20.0 + (double)(seq % 50) / 10.0,
		        .hpa = 1013.0 - (double)(seq % 20) / 4.0,
		        .last = seq == p->readings,
		};

		rd.check = check_of(&rd);
		/* One published write: readers see all of rd or none of it. */
		r = ipcx_region_write(region, 0, &rd, sizeof(rd), SECOND);
		if (r < 0) {
			fprintf(stderr, "sensor: write: %s\n", ipcx_strerror(r));
			return 1;
		}
		usleep(p->interval_us);
	}
	ipcx_region_close(region);
	return 0;
}

static int reader(const struct plan *p, int id)
{
	struct reading rd = {0};
	uint64_t version = 0, snapshots = 0;
	ipcx_region *region;
	int r = ipcx_region_open(p->name, 0, 0, 0, &region);

	if (r < 0) {
		fprintf(stderr, "reader %d: open %s: %s\n", id, p->name, ipcx_strerror(r));
		return 1;
	}
	while (!rd.last) {
		/* Sleeps until a version newer than the one we read last is published (returns
		 * at once if one is there already). */
		r = ipcx_region_wait_change(region, version, 10 * SECOND, &version);
		if (r < 0) {
			fprintf(stderr, "reader %d: no new reading: %s\n", id, ipcx_strerror(r));
			return 1;
		}
		/* A snapshot of the latest version; version tells which one it was. */
		r = ipcx_region_read(region, 0, &rd, sizeof(rd), &version);
		if (r == -EAGAIN)
			continue; /* overtaken by the sensor again and again: just try again */
		if (r < 0) {
			fprintf(stderr, "reader %d: read: %s\n", id, ipcx_strerror(r));
			return 1;
		}
		if (rd.check != check_of(&rd)) {
			fprintf(stderr, "reader %d: torn reading #%" PRIu64 "\n", id, rd.seq);
			return 2;
		}
		snapshots++;
	}
	printf("reader %d: %" PRIu64 " snapshots, up to reading #%" PRIu64
	       " (%.1f C, %.2f hPa), none torn\n",
	       id, snapshots, rd.seq, rd.celsius, rd.hpa);
	ipcx_region_close(region);
	return 0;
}

/* Runs fn(p, arg) in a child process; its return value is the child's exit status. */
static pid_t spawn(int (*fn)(const struct plan *, int), const struct plan *p, int arg)
{
	pid_t pid;

	fflush(stdout); /* or the child would print our buffered output again */
	pid = fork();
	if (pid == 0) {
		int status = fn(p, arg);

		fflush(stdout);
		_exit(status);
	}
	return pid;
}

static void usage(void)
{
	fprintf(stderr, "usage: sensor [--readers N] [--readings M] [--interval-us U]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct plan p = {.readings = 200, .interval_us = 1000};
	int readers = 3, failed = 0, r;
	ipcx_region *region;
	pid_t pids[65];

	for (int i = 1; i < argc; i += 2) { /* --option value pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--readers") == 0)
			readers = atoi(v);
		else if (strcmp(argv[i], "--readings") == 0)
			p.readings = strtoull(v, NULL, 10);
		else if (strcmp(argv[i], "--interval-us") == 0)
			p.interval_us = (unsigned)atoi(v);
		else
			usage();
	}
	if (readers < 1 || readers > 64 || p.readings < 1)
		usage();

	/* A region just big enough for one reading, named after this run. */
	snprintf(p.name, sizeof(p.name), "sensor-%d", (int)getpid());
	r = ipcx_region_open(p.name, IPCX_CREATE | IPCX_EXCL, 0, sizeof(struct reading), &region);
	if (r < 0) {
		fprintf(stderr, "sensor: create %s: %s\n", p.name, ipcx_strerror(r));
		return 1;
	}

	/* The readers may start before the sensor or after it: either way they end with
	 * the last reading. */
	for (int i = 0; i < readers; i++)
		pids[i] = spawn(reader, &p, i);
	pids[readers] = spawn(sensor, &p, 0);
	for (int i = 0; i <= readers; i++) {
		int status;

		if (pids[i] < 0 || waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}

	ipcx_region_close(region);
	ipcx_unlink(p.name);
	if (failed) {
		fprintf(stderr, "sensor: %d of %d processes failed\n", failed, readers + 1);
		return 1;
	}
	printf("sensor: published %" PRIu64 " readings; %d readers each saw the last one, "
	       "none torn\n",
	       p.readings, readers);
	return 0;
}
