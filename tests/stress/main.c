/* SPDX-License-Identifier: MIT */
/*
 * stress: the chaos soak. Usage:
 *   stress [--seconds N] [--seed N] [--slack S] [--inject-fault KIND] [--keep-dir]
 *
 * Starts every participant (stress.h), then until the time is up SIGKILLs one at random
 * every few milliseconds and starts it again, checking semaphore conservation between
 * kills. At the end it stops everyone, drains the channel, checks that nothing was lost,
 * duplicated or reordered beyond the documented guarantees, runs `ipcx gc` and checks that
 * no object, slot or file is left over. The run uses a private namespace directory, removed
 * at the end (with whatever a failed run left in it) unless --keep-dir.
 *
 * The last line is always
 *   stress: OPS ops, KILLS kills, RECOVERIES recoveries, VIOLATIONS violations
 * and the exit status is 0 only when VIOLATIONS is 0 (2 for bad usage).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "stress.h"

static const char *const kind_names[K_MAX_] = {
        "sender",       "receiver",     "reliable-pub",  "reliable-sub",
        "lossy-pub",    "lossy-sub",    "sem-holder",    "mutex-locker",
        "event-waiter", "event-setter", "region-writer", "region-reader",
};
static const char *const violation_names[V_MAX_] = {
        "corrupt message",
        "unexpected error",
        "late return",
        "chan: lost",
        "chan: duplicated",
        "chan: reordered",
        "topic: lost",
        "topic: missed unreported",
        "topic: reordered",
        "semaphore conservation",
        "mutex invariant",
        "hang",
        "leak",
};
static const char *const fault_names[] = {"none",     "chan-loss",   "topic-loss",
                                          "sem-leak", "mutex-break", "region-torn"};

struct part {
	enum st_kind kind;
	int slot;
	pid_t pid;
};
static struct part parts[ST_PARTS];
static uint64_t kills, kills_by_kind[K_MAX_], undone_holders, delivered_to_dead;
static pid_t supervisor;

static int run_part(int p)
{
	const struct part *pt = &parts[p];

	switch (pt->kind) {
	case K_SENDER:
		return st_sender(p, pt->slot);
	case K_RECEIVER:
		return st_receiver(p, pt->slot);
	case K_PUB_RELIABLE:
		return st_publisher(p, 0, pt->slot);
	case K_SUB_RELIABLE:
		return st_subscriber(p, 0, pt->slot);
	case K_PUB_LOSSY:
		return st_publisher(p, 1, pt->slot);
	case K_SUB_LOSSY:
		return st_subscriber(p, 1, pt->slot);
	case K_HOLDER:
		return st_holder(p, pt->slot);
	case K_LOCKER:
		return st_locker(p, pt->slot);
	case K_WAITER:
		return st_waiter(p, pt->slot);
	case K_SETTER:
		return st_setter(p, pt->slot);
	case K_WRITER:
		return st_writer(p, pt->slot);
	case K_READER:
		return st_reader(p, pt->slot);
	default:
		return 1;
	}
}

static void start(int p)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("stress: fork");
		exit(1);
	}
	if (pid == 0) {
		/* If the chaos loop itself dies (a test timeout), its participants follow. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != supervisor)
			_exit(1);
		srand((unsigned)getpid() ^ (unsigned)st_now());
		_exit(run_part(p));
	}
	parts[p].pid = pid;
}

/* What a holder's process held dies with it (UNDO): its record goes too. */
static void forget(int p)
{
	bool held = false;

	if (parts[p].kind != K_HOLDER)
		return;
	for (int i = 0; i < ST_NSEMS; i++)
		held |= atomic_exchange(&L->part[p].held[i], 0) != 0;
	undone_holders += held;
}

static void kill_one(int p)
{
	int status;

	kill(parts[p].pid, SIGKILL);
	while (waitpid(parts[p].pid, &status, 0) < 0 && errno == EINTR)
		;
	parts[p].pid = 0;
	forget(p);
	if (parts[p].kind == K_RECEIVER)
		delivered_to_dead += st_receiver_died(p);
	kills++;
	kills_by_kind[parts[p].kind]++;
}

/* A participant that ended on its own during the run has recorded why; start it again. */
static void reap_and_restart(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int p = 0; p < ST_PARTS; p++) {
			if (parts[p].pid == pid) {
				parts[p].pid = 0;
				forget(p);
				if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
					st_violation(V_ERROR, "%s %d ended with status %#x",
					             kind_names[parts[p].kind], parts[p].slot,
					             status);
				start(p);
			}
		}
	}
}

/* Values plus what live holders hold must be the initial total, semaphore by semaphore. */
static void check_conservation(ipcx_semset *set)
{
	int32_t v[ST_NSEMS];
	int64_t end, held[ST_NSEMS] = {0};
	uint32_t gen = atomic_fetch_add(&L->sem_gen, 1) + 1;
	int r;

	atomic_store(&L->sem_pause, 1);
	end = st_now() + ST_TIMEOUT_NS + L->slack_ns;
	for (int p = 0; p < ST_PARTS; p++) {
		if (parts[p].kind != K_HOLDER || !parts[p].pid)
			continue;
		while (atomic_load(&L->part[p].ack) != gen && st_now() < end)
			usleep(200);
		if (atomic_load(&L->part[p].ack) != gen) {
			st_violation(V_HANG, "holder %d did not reach a pause point",
			             parts[p].slot);
			goto out;
		}
		for (int i = 0; i < ST_NSEMS; i++)
			held[i] += atomic_load(&L->part[p].held[i]);
	}
	r = ipcx_semset_getall(set, v, ST_NSEMS);
	if (r < 0) {
		st_violation(V_ERROR, "semset getall: %s", ipcx_errname(r));
		goto out;
	}
	for (int i = 0; i < ST_NSEMS; i++) {
		if (v[i] + held[i] != ST_SEM_INIT)
			st_violation(V_SEM_CONSERVE, "semaphore %d: value %d + held %lld != %d", i,
			             v[i], (long long)held[i], ST_SEM_INIT);
	}
out:
	atomic_store(&L->sem_pause, 0);
}

static void *shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		perror("stress: mmap");
		exit(1);
	}
	return p;
}

static void create_objects(void)
{
	struct ipcx_chan_attr ca = {1 << 16, 4096};
	struct ipcx_topic_attr ra = {1 << 15, 1100, IPCX_TOPIC_RELIABLE};
	struct ipcx_topic_attr la = {1 << 15, 1100, 0};
	ipcx_chan *c;
	ipcx_topic *t;
	ipcx_semset *s;
	ipcx_mutex *m;
	ipcx_event *e;
	ipcx_region *g;
	int r[7];

	r[0] = ipcx_chan_open(ST_CHAN, IPCX_CREATE | IPCX_EXCL, 0, &ca, &c);
	ipcx_chan_close(c);
	r[1] = ipcx_topic_open(ST_TOPIC_RELIABLE, IPCX_CREATE | IPCX_EXCL, 0, &ra, &t);
	ipcx_topic_close(t);
	r[2] = ipcx_topic_open(ST_TOPIC_LOSSY, IPCX_CREATE | IPCX_EXCL, 0, &la, &t);
	ipcx_topic_close(t);
	r[3] = ipcx_semset_open(ST_SEMSET, IPCX_CREATE | IPCX_EXCL, 0, ST_NSEMS, ST_SEM_INIT, &s);
	ipcx_semset_close(s);
	r[4] = ipcx_mutex_open(ST_MUTEX, IPCX_CREATE | IPCX_EXCL, 0, &m);
	ipcx_mutex_close(m);
	r[5] = ipcx_event_open(ST_EVENT, IPCX_CREATE | IPCX_EXCL, 0, &e);
	ipcx_event_close(e);
	r[6] = ipcx_region_open(ST_REGION, IPCX_CREATE | IPCX_EXCL, 0, ST_REGION_SIZE, &g);
	ipcx_region_close(g);
	for (int i = 0; i < 7; i++) {
		if (r[i] != 1) {
			fprintf(stderr, "stress: cannot create object %d: %s\n", i,
			        ipcx_errname(r[i]));
			exit(1);
		}
	}
}

static void lay_out_parts(void)
{
	static const struct {
		enum st_kind kind;
		int n;
	} plan[] = {
	        {K_SENDER, ST_SENDERS},    {K_RECEIVER, ST_RECEIVERS}, {K_PUB_RELIABLE, ST_PUBS},
	        {K_SUB_RELIABLE, ST_SUBS}, {K_PUB_LOSSY, ST_PUBS},     {K_SUB_LOSSY, ST_SUBS},
	        {K_HOLDER, ST_HOLDERS},    {K_LOCKER, ST_LOCKERS},     {K_WAITER, ST_WAITERS},
	        {K_SETTER, ST_SETTERS},    {K_WRITER, ST_WRITERS},     {K_READER, ST_READERS},
	};
	int p = 0;

	for (size_t k = 0; k < sizeof(plan) / sizeof(plan[0]); k++)
		for (int i = 0; i < plan[k].n; i++)
			parts[p++] = (struct part){plan[k].kind, i, 0};
}

/* Waits for the participants for which pick(kind) holds to exit, at most until end. */
static void wait_for(bool (*pick)(enum st_kind), int64_t end)
{
	for (int p = 0; p < ST_PARTS; p++) {
		int status;

		if (!parts[p].pid || !pick(parts[p].kind))
			continue;
		while (waitpid(parts[p].pid, &status, WNOHANG) == 0 && st_now() < end)
			usleep(2000);
		if (waitpid(parts[p].pid, &status, WNOHANG) == 0) {
			st_violation(V_HANG, "%s %d did not finish", kind_names[parts[p].kind],
			             parts[p].slot);
			kill(parts[p].pid, SIGKILL);
			waitpid(parts[p].pid, &status, 0);
		} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			st_violation(V_ERROR, "%s %d ended with status %#x",
			             kind_names[parts[p].kind], parts[p].slot, status);
		}
		parts[p].pid = 0;
	}
}

static bool not_receiver(enum st_kind k)
{
	return k != K_RECEIVER;
}

static bool receiver(enum st_kind k)
{
	return k == K_RECEIVER;
}

/* Removes the run's directory and whatever a failed run left in it (--keep-dir keeps it). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

static int usage(void)
{
	fprintf(stderr, "usage: stress [--seconds N] [--seed N] [--slack SECONDS] "
	                "[--inject-fault chan-loss|topic-loss|sem-leak|mutex-break|region-torn] "
	                "[--keep-dir]\n");
	return 2;
}

int main(int argc, char **argv)
{
	double seconds = 60, slack = 10;
	unsigned seed = (unsigned)getpid() ^ (unsigned)st_now();
	bool keep = false;
	int fault = F_NONE;
	uint32_t violations = 0;
	char dir[256];
	uint64_t ops = 0, recoveries = 0;
	ipcx_chan *c;
	ipcx_topic *tr, *tl;
	ipcx_semset *set;
	ipcx_mutex *mx;
	ipcx_event *ev;
	ipcx_region *rg;
	int64_t end, next_check;
	const char *tmp = getenv("TMPDIR");

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--seconds") == 0 && v) {
			seconds = atof(v), i++;
		} else if (strcmp(argv[i], "--seed") == 0 && v) {
			seed = (unsigned)strtoul(v, NULL, 0), i++;
		} else if (strcmp(argv[i], "--slack") == 0 && v) {
			slack = atof(v), i++;
		} else if (strcmp(argv[i], "--inject-fault") == 0 && v) {
			for (fault = 1; fault < (int)(sizeof(fault_names) / sizeof(fault_names[0]));
			     fault++)
				if (strcmp(v, fault_names[fault]) == 0)
					break;
			if (fault == (int)(sizeof(fault_names) / sizeof(fault_names[0])))
				return usage();
			i++;
		} else if (strcmp(argv[i], "--keep-dir") == 0) {
			keep = true;
		} else {
			return usage();
		}
	}
	if (!(seconds > 0) || !(slack > 0))
		return usage();

	/* A private namespace directory: the run's objects are all there is in it. */
	snprintf(dir, sizeof(dir), "%s/ipcx-stress.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("stress: mkdtemp");
		return 1;
	}
	setenv("IPCX_DIR", dir, 1);
	L = shared(sizeof(*L));
	S = shared(sizeof(*S));
	L->inject = fault;
	L->slack_ns = (int64_t)(slack * 1e9);
	srand(seed);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("stress: %.0f s, seed %u, fault %s, dir %s\n", seconds, seed, fault_names[fault],
	       dir);

	create_objects();
	if (ipcx_chan_open(ST_CHAN, 0, 0, NULL, &c) < 0 ||
	    ipcx_topic_open(ST_TOPIC_RELIABLE, 0, 0, NULL, &tr) < 0 ||
	    ipcx_topic_open(ST_TOPIC_LOSSY, 0, 0, NULL, &tl) < 0 ||
	    ipcx_semset_open(ST_SEMSET, 0, 0, 0, 0, &set) < 0 ||
	    ipcx_mutex_open(ST_MUTEX, 0, 0, &mx) < 0 || ipcx_event_open(ST_EVENT, 0, 0, &ev) < 0 ||
	    ipcx_region_open(ST_REGION, 0, 0, 0, &rg) < 0) {
		fprintf(stderr, "stress: cannot open the objects\n");
		return 1;
	}
	lay_out_parts();
	supervisor = getpid();
	for (int p = 0; p < ST_PARTS; p++)
		start(p);

	/* The chaos: a kill every 10-40 ms, a conservation check every 250 ms. */
	end = st_now() + (int64_t)(seconds * 1e9);
	next_check = st_now() + 250000000;
	while (st_now() < end) {
		int p = rand() % ST_PARTS;

		usleep(10000 + (unsigned)(rand() % 30000));
		reap_and_restart();
		if (parts[p].pid) {
			kill_one(p);
			start(p);
		}
		if (st_now() >= next_check) {
			check_conservation(set);
			next_check = st_now() + 250000000;
		}
	}
	reap_and_restart();
	check_conservation(set);

	/* The end: everyone but the receivers stops; the receivers drain the channel. */
	atomic_store(&L->stop, 1);
	wait_for(not_receiver, st_now() + 30000000000LL + L->slack_ns);
	st_drain(c);
	atomic_store(&L->stop_receivers, 1);
	wait_for(receiver, st_now() + 30000000000LL + L->slack_ns);
	recoveries = undone_holders + st_final_checks(c, tr, tl, set, mx, ev, rg,
	                                              kills_by_kind[K_RECEIVER],
	                                              kills_by_kind[K_WAITER]);

	ipcx_chan_close(c);
	ipcx_topic_close(tr);
	ipcx_topic_close(tl);
	ipcx_semset_close(set);
	ipcx_mutex_close(mx);
	ipcx_event_close(ev);
	ipcx_region_close(rg);
	st_check_leftovers(dir);

	printf("stress: chan: %llu messages received by receivers killed before they counted "
	       "them\n",
	       (unsigned long long)delivered_to_dead);
	printf("stress: kills:");
	for (int k = 0; k < K_MAX_; k++)
		printf(" %s %llu", kind_names[k], (unsigned long long)kills_by_kind[k]);
	printf("\n");
	for (int v = 0; v < V_MAX_; v++) {
		uint32_t n = atomic_load(&L->why[v]);
		if (n)
			printf("stress: violation: %s: %u (first: %s)\n", violation_names[v], n,
			       L->detail[v]);
		violations += n;
	}
	for (int p = 0; p < ST_PARTS; p++)
		ops += atomic_load(&L->part[p].ops);
	if (!keep)
		remove_dir(dir);
	printf("stress: %llu ops, %llu kills, %llu recoveries, %u violations\n",
	       (unsigned long long)ops, (unsigned long long)kills, (unsigned long long)recoveries,
	       violations);
	return violations ? 1 : 0;
}
