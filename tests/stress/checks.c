/* SPDX-License-Identifier: MIT */
/* The end of a soak: what must hold once every participant is gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "stress.h"

void st_drain(ipcx_chan *c)
{
	int64_t end = st_now() + 30000000000LL + L->slack_ns;
	struct ipcx_chan_stats st;

	do {
		if (ipcx_chan_stats(c, &st) < 0)
			break;
		if (st.depth == 0 && st.in_flight == 0 && st.bytes_used == 0)
			return;
		usleep(10000);
	} while (st_now() < end);
	st_violation(V_LEAK, "chan: %llu messages, %llu in flight, %llu bytes left after the drain",
	             (unsigned long long)st.depth, (unsigned long long)st.in_flight,
	             (unsigned long long)st.bytes_used);
}

/* Every message confirmed sent arrived; duplicates and reorderings only as redeliveries. */
static uint64_t check_chan(ipcx_chan *c, uint64_t receiver_kills)
{
	uint64_t sent = 0, lost = 0, phantom = 0, dup = atomic_load(&L->chan_dup);
	uint64_t order = atomic_load(&L->chan_order);
	struct ipcx_chan_stats st = {0};

	ipcx_chan_stats(c, &st);
	for (int k = 0; k < ST_SENDERS; k++) {
		uint32_t n = atomic_load(&L->chan_next[k]);
		for (uint32_t s = 0; s < n && s < ST_SEQ_CAP; s++) {
			uint8_t state = atomic_load(&S->chan_state[k][s]);
			uint8_t got = atomic_load(&S->chan_got[k][s]);
			if (state == 2 && got == 0 && lost++ == 0)
				st_violation(V_CHAN_LOST, "sender %d's message %u", k, s);
			if (state == 0 && got)
				phantom++;
			sent += state == 2;
		}
	}
	if (lost > 1)
		atomic_fetch_add(&L->why[V_CHAN_LOST], (uint32_t)(lost - 1));
	if (phantom)
		st_violation(V_CORRUPT, "chan: %llu messages received that were never sent",
		             (unsigned long long)phantom);
	/* At least once: a message comes again only after its receiver died holding it. */
	if (dup > st.redelivered || dup > receiver_kills)
		st_violation(V_CHAN_DUP, "%llu duplicates, %llu redelivered, %llu receivers killed",
		             (unsigned long long)dup, (unsigned long long)st.redelivered,
		             (unsigned long long)receiver_kills);
	if (order > st.redelivered)
		st_violation(V_CHAN_ORDER, "%llu out of order, %llu redelivered",
		             (unsigned long long)order, (unsigned long long)st.redelivered);
	printf("stress: chan: %llu messages sent, %llu redelivered, %llu dead reservations "
	       "dropped, %llu duplicates, %llu out of order\n",
	       (unsigned long long)sent, (unsigned long long)st.redelivered,
	       (unsigned long long)st.dropped, (unsigned long long)dup, (unsigned long long)order);
	return st.redelivered + st.dropped;
}

static uint64_t check_topic(ipcx_topic *t, int topic)
{
	struct ipcx_topic_stats st = {0};
	uint64_t published = 0;

	ipcx_topic_stats(t, &st, NULL, 0);
	for (int k = 0; k < ST_PUBS; k++)
		for (uint32_t s = 0; s < atomic_load(&L->topic_next[topic][k]) && s < ST_SEQ_CAP;
		     s++)
			published += atomic_load(&S->topic_state[topic][k][s]) == 2;
	if (st.subscribers)
		st_violation(V_LEAK, "topic %d: %u live subscribers with everyone gone", topic,
		             st.subscribers);
	printf("stress: %s topic: %llu messages published, %llu dead subscribers dropped\n",
	       topic ? "lossy" : "reliable", (unsigned long long)published,
	       (unsigned long long)st.dropped_subscribers);
	return st.dropped_subscribers;
}

/* All holders are gone: every unit came back; nobody waits. */
static void check_semset(ipcx_semset *set)
{
	struct ipcx_sem_info info[ST_NSEMS];
	int n = ipcx_semset_stat(set, 0, info, ST_NSEMS);

	if (n != ST_NSEMS) {
		st_violation(V_ERROR, "semset stat: %s", ipcx_errname(n));
		return;
	}
	for (int i = 0; i < ST_NSEMS; i++) {
		if (info[i].value != ST_SEM_INIT)
			st_violation(V_SEM_CONSERVE, "semaphore %d ends at %d, not %d", i,
			             info[i].value, ST_SEM_INIT);
		if (info[i].ncnt || info[i].zcnt)
			st_violation(V_LEAK, "semaphore %d: %u/%u waiters with everyone gone", i,
			             info[i].ncnt, info[i].zcnt);
	}
}

static void check_mutex(ipcx_mutex *mx)
{
	int r = ipcx_mutex_lock(mx, ST_TIMEOUT_NS + L->slack_ns);

	if (r == -EOWNERDEAD) {
		r = st_mutex_recover(mx);
	} else if (r == 0 && L->mx_a != L->mx_b) {
		st_violation(V_MUTEX, "mutex: a %llu != b %llu at the end",
		             (unsigned long long)L->mx_a, (unsigned long long)L->mx_b);
	}
	if (r < 0) {
		st_violation(V_ERROR, "mutex: final lock: %s", ipcx_errname(r));
		return;
	}
	ipcx_mutex_unlock(mx);
	printf("stress: mutex: %llu critical sections, %llu owner deaths, %llu repaired\n",
	       (unsigned long long)L->mx_a, (unsigned long long)atomic_load(&L->owner_dead),
	       (unsigned long long)atomic_load(&L->repaired));
}

/*
 * Nobody waits any more. A place whose waiter died is reclaimed by a notify only while the
 * event's generation has not moved since (a set or pulse after the death leaves it to a
 * wait that finds the table full), so dead places may remain, but never more than there
 * were waiters killed.
 */
static void check_event(ipcx_event *ev, uint64_t waiter_kills)
{
	struct ipcx_event_state st = {0};

	ipcx_event_notify(ev, 1);
	if (ipcx_event_get_state(ev, &st) < 0 || st.waiters || st.dead > waiter_kills)
		st_violation(V_LEAK, "event: %u waiters and %u dead places with everyone gone",
		             st.waiters, st.dead);
	printf("stress: event: %u places of %llu killed waiters not reclaimed yet\n", st.dead,
	       (unsigned long long)waiter_kills);
}

/* The writers are gone: a dead one's lock is handed on once, and the data is one write. */
static uint64_t check_region(ipcx_region *rg)
{
	static uint8_t snap[ST_REGION_SIZE];
	uint64_t dead = 0, v = 0;
	void *w;
	int r = 0;

	for (int i = 0; i < 3; i++) {
		r = ipcx_region_begin_write(rg, 0, 0, ST_TIMEOUT_NS + L->slack_ns, &w);
		if (r != -EOWNERDEAD)
			break;
		dead++;
	}
	if (r < 0) {
		st_violation(V_ERROR, "region: final begin_write: %s", ipcx_errname(r));
		return dead;
	}
	ipcx_region_abort(rg);
	r = ipcx_region_read(rg, 0, snap, sizeof(snap), &v);
	if (r < 0 || !st_region_valid(snap, (int64_t)v))
		st_violation(V_CORRUPT, "region: final snapshot (version %llu): %s",
		             (unsigned long long)v, r < 0 ? ipcx_errname(r) : "torn");
	printf("stress: region: version %llu, %llu writes begun, %llu writer deaths handed on\n",
	       (unsigned long long)v, (unsigned long long)atomic_load(&L->region_stamp),
	       (unsigned long long)(atomic_load(&L->region_owner_dead) + dead));
	return dead;
}

uint64_t st_final_checks(ipcx_chan *c, ipcx_topic *tr, ipcx_topic *tl, ipcx_semset *set,
                         ipcx_mutex *mx, ipcx_event *ev, ipcx_region *rg, uint64_t receiver_kills,
                         uint64_t waiter_kills)
{
	uint64_t recoveries = check_chan(c, receiver_kills);

	recoveries += check_topic(tr, 0) + check_topic(tl, 1);
	check_semset(set);
	check_mutex(mx);
	check_event(ev, waiter_kills);
	recoveries += check_region(rg);
	return recoveries + atomic_load(&L->owner_dead) + atomic_load(&L->region_owner_dead);
}

static int run_gc(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, STDOUT_FILENO);
		execl(IPCX_TOOL_PATH, "ipcx", "gc", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int check_one(const struct ipcx_info *info, void *arg)
{
	unsigned *n = arg;

	(*n)++;
	if (info->status < 0)
		st_violation(V_LEAK, "%s left behind (%s)", info->name, ipcx_errname(info->status));
	else if (info->attached || info->dead)
		st_violation(V_LEAK, "%s: %u attached and %u dead slots after gc", info->name,
		             info->attached, info->dead);
	return 0;
}

void st_check_leftovers(const char *dir)
{
	static const char *const names[] = {ST_CHAN,  ST_TOPIC_RELIABLE, ST_TOPIC_LOSSY, ST_SEMSET,
	                                    ST_MUTEX, ST_EVENT,          ST_REGION};
	unsigned before = 0, after = 0;
	struct dirent *de;
	int r = run_gc();
	DIR *d;

	if (r != 0)
		st_violation(V_ERROR, "ipcx gc exited with %d", r);
	/* What gc left must be clean objects nobody is attached to; they go by name. */
	ipcx_foreach(check_one, &before);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ipcx_unlink(names[i]);
	d = opendir(dir);
	if (!d) {
		st_violation(V_ERROR, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && after++ == 0)
			st_violation(V_LEAK, "%s/%s left behind", dir, de->d_name);
	}
	closedir(d);
	printf("stress: gc left %u of 7 objects, all clean; the directory is %s\n", before,
	       after ? "not empty" : "empty");
}
