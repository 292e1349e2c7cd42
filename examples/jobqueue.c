/* SPDX-License-Identifier: MIT */
/*
 * jobqueue: a pool of worker processes takes jobs from one channel and sends the results
 * back on another, while a semaphore set lets at most K of them run a job at the same time.
 *
 *               "jobs" channel                      "results" channel
 *     parent  ------------------>  N workers  ------------------------->  parent
 *                                      |
 *                          "slots" semaphore set: at most K run at once
 *
 * A channel hands each message to exactly one receiver, so each job goes to one worker.
 * Before running a job a worker takes a slot with one semset operation that is atomic over
 * two semaphores: it takes one of the K free slots (semaphore FREE) and counts itself as
 * running (semaphore RUNNING), both with IPCX_SEM_UNDO, so a worker that dies gives both
 * back. While it runs the job the worker checks the invariant RUNNING <= K; the parent checks
 * that every job came back exactly once, with the right answer.
 *
 * Usage: jobqueue [--workers N] [--jobs J] [--slots K]
 * Prints what each worker did and a summary; exits 0 when everything checked out.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#define SECOND 1000000000LL
#define STOP UINT32_MAX /* the job id that tells a worker to leave */
#define MAX_JOBS 10000  /* every job and result fits in its channel at once */
#define MAX_WORKERS 64

enum { FREE, RUNNING }; /* the two semaphores of the "slots" set */

struct job {
	uint32_t id;
	uint32_t n; /* the job: add up 1..n */
};

struct result {
	uint32_t id;
	uint32_t worker;
	uint64_t sum;
	int32_t running; /* how many jobs ran at once, as this worker saw it */
	int32_t pad;
};

/* The names of one run's objects, shared by every process it starts. */
struct names {
	char jobs[64], results[64], slots[64];
};

static uint64_t do_job(uint32_t n)
{
	uint64_t sum = 0;

	for (uint32_t i = 1; i <= n; i++)
		sum += i;
	usleep(200); /* pretend the job takes a while, so that workers overlap */
	return sum;
}

static int worker(const struct names *nm, uint32_t id, int slots)
{
	struct ipcx_sembuf take[2] = {{FREE, -1, IPCX_SEM_UNDO}, {RUNNING, +1, IPCX_SEM_UNDO}};
	struct ipcx_sembuf give[2] = {{FREE, +1, IPCX_SEM_UNDO}, {RUNNING, -1, IPCX_SEM_UNDO}};
	ipcx_chan *jobs, *results;
	ipcx_semset *set;
	unsigned done = 0;

	if (ipcx_chan_open(nm->jobs, 0, 0, NULL, &jobs) < 0 ||
	    ipcx_chan_open(nm->results, 0, 0, NULL, &results) < 0 ||
	    ipcx_semset_open(nm->slots, 0, 0, 0, 0, &set) < 0) {
		fprintf(stderr, "worker %u: cannot open the run's objects\n", id);
		return 1;
	}
	for (;;) {
		struct job job;
		struct result res = {.worker = id};
		ssize_t n = ipcx_chan_recv(jobs, &job, sizeof(job), 10 * SECOND);

		if (n != sizeof(job)) {
			fprintf(stderr, "worker %u: recv: %s\n", id, ipcx_strerror((int)n));
			return 1;
		}
		if (job.id == STOP)
			break;

		/* Wait for a free slot: both changes happen together, or neither. */
		if (ipcx_semset_op(set, take, 2, 10 * SECOND) < 0)
			return 1;
		res.running = ipcx_semset_get(set, RUNNING);
		if (res.running < 1 || res.running > slots) {
			fprintf(stderr, "worker %u: %d jobs running, with %d slots!\n", id,
			        res.running, slots);
			return 3;
		}
		res.id = job.id;
		res.sum = do_job(job.n);
		if (ipcx_semset_op(set, give, 2, 10 * SECOND) < 0)
			return 1;

		if (ipcx_chan_send(results, &res, sizeof(res), 10 * SECOND) < 0)
			return 1;
		done++;
	}
	printf("worker %u: %u jobs\n", id, done);
	ipcx_semset_close(set);
	ipcx_chan_close(results);
	ipcx_chan_close(jobs);
	return 0;
}

/* Sends every job, then collects every result and checks it; returns the problems found. */
static int run_jobs(ipcx_chan *jobs, ipcx_chan *results, uint32_t njobs, int *ret_peak)
{
	unsigned char *seen = calloc(njobs, 1); /* how often each job came back */
	int problems = 0, r;

	for (uint32_t i = 0; i < njobs; i++) {
		struct job job = {.id = i, .n = 1000 + i};

		r = ipcx_chan_send(jobs, &job, sizeof(job), 10 * SECOND);
		if (r < 0) {
			fprintf(stderr, "jobqueue: send: %s\n", ipcx_strerror(r));
			free(seen);
			return 1;
		}
	}
	for (uint32_t got = 0; got < njobs; got++) {
		struct result res;
		ssize_t n = ipcx_chan_recv(results, &res, sizeof(res), 10 * SECOND);
		uint64_t want;

		if (n != sizeof(res)) {
			fprintf(stderr, "jobqueue: %u results missing: %s\n", njobs - got,
			        ipcx_strerror((int)n));
			problems++;
			break;
		}
		if (res.id >= njobs || seen[res.id]++) {
			fprintf(stderr, "jobqueue: job %u came back twice\n", res.id);
			problems++;
			continue;
		}
		want = (uint64_t)(1000 + res.id) * (1001 + res.id) / 2;
		if (res.sum != want) {
			fprintf(stderr, "jobqueue: job %u: %" PRIu64 ", not %" PRIu64 "\n", res.id,
			        res.sum, want);
			problems++;
		}
		if (res.running > *ret_peak)
			*ret_peak = res.running;
	}
	free(seen);
	return problems;
}

static void usage(void)
{
	fprintf(stderr, "usage: jobqueue [--workers N] [--jobs J] [--slots K]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int nworkers = 4, slots = 2, peak = 0, problems = 0, r;
	uint32_t njobs = 200;
	struct names nm;
	ipcx_chan *jobs, *results;
	ipcx_semset *set;
	pid_t pids[MAX_WORKERS];

	for (int i = 1; i < argc; i += 2) { /* --option value pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--workers") == 0)
			nworkers = atoi(v);
		else if (strcmp(argv[i], "--jobs") == 0)
			njobs = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--slots") == 0)
			slots = atoi(v);
		else
			usage();
	}
	if (nworkers < 1 || nworkers > MAX_WORKERS || njobs < 1 || njobs > MAX_JOBS || slots < 1 ||
	    slots > IPCX_SEM_VALUE_MAX)
		usage();

	/* The run's objects, named after it: two channels and a set of two semaphores,
	 * FREE = K slots and RUNNING = 0. */
	snprintf(nm.jobs, sizeof(nm.jobs), "jobqueue-%d-jobs", (int)getpid());
	snprintf(nm.results, sizeof(nm.results), "jobqueue-%d-results", (int)getpid());
	snprintf(nm.slots, sizeof(nm.slots), "jobqueue-%d-slots", (int)getpid());
	r = ipcx_chan_open(nm.jobs, IPCX_CREATE | IPCX_EXCL, 0, NULL, &jobs);
	if (r >= 0)
		r = ipcx_chan_open(nm.results, IPCX_CREATE | IPCX_EXCL, 0, NULL, &results);
	if (r >= 0)
		r = ipcx_semset_open(nm.slots, IPCX_CREATE | IPCX_EXCL, 0, 2, 0, &set);
	if (r >= 0)
		r = ipcx_semset_setall(set, (int32_t[]){slots, 0}, 2);
	if (r < 0) {
		fprintf(stderr, "jobqueue: create: %s\n", ipcx_strerror(r));
		return 1;
	}

	fflush(stdout); /* or the workers would print our buffered output again */
	for (int i = 0; i < nworkers; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			r = worker(&nm, (uint32_t)i, slots);
			fflush(stdout);
			_exit(r);
		}
	}

	problems = run_jobs(jobs, results, njobs, &peak);
	for (int i = 0; i < nworkers; i++) {
		struct job stop = {.id = STOP};

		ipcx_chan_send(jobs, &stop, sizeof(stop), 10 * SECOND);
	}
	for (int i = 0; i < nworkers; i++) {
		int status;

		if (pids[i] < 0 || waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "jobqueue: worker %d failed\n", i);
			problems++;
		}
	}

	ipcx_semset_close(set);
	ipcx_chan_close(results);
	ipcx_chan_close(jobs);
	ipcx_unlink(nm.slots);
	ipcx_unlink(nm.results);
	ipcx_unlink(nm.jobs);
	if (problems) {
		fprintf(stderr, "jobqueue: %d problems\n", problems);
		return 1;
	}
	printf("jobqueue: %d workers did %u jobs, each exactly once; at most %d ran at once "
	       "(peak seen: %d)\n",
	       nworkers, njobs, slots, peak);
	return 0;
}
