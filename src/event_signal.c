/* SPDX-License-Identifier: MIT */
/*
 * Signal registrations of an event: who asked for which real-time signal when the event is
 * set or pulsed. The table lives in the event's shared memory, so every word of it may be
 * garbage written by a hostile peer. What a setter does with an entry is therefore decided
 * only by checks made in the setter's own process:
 *
 *   - the signal number must be a real-time signal (SIGRTMIN..SIGRTMAX), checked here and
 *     again by the one function that sends (sys/signal.c), so no byte in the table can make a
 *     setter send SIGKILL, SIGSTOP or any other standard signal;
 *   - the target is the process named by pid + start time, pinned with a pidfd before its
 *     identity is checked, so a dead or reused pid is never signalled;
 *   - the target must take part in this very event: after pinning it, the setter reads its
 *     /proc/PID/maps and sends only if it shows a shared, writable mapping of the event's
 *     file (same device and inode). A forged entry naming any other process (identities
 *     are readable in /proc) is counted as unverified and sent nothing; so is the entry of
 *     a process whose maps the setter may not read (checked once per process per set; the
 *     setter's own entries need no check);
 *   - the kernel's kill permission applies to the setter as to any sigqueue.
 *
 * What a peer with write access can still do: make a setter signal a process that has the
 * event mapped writable (a participant, which could write the table itself), with any
 * real-time signal and payload, any number of times per set (one entry each); or empty
 * entries so that registrants miss signals. docs/event-mutex.md has the details.
 *
 * Ordering of an entry's words. A registrant claims a free entry with a CAS of who (0 ->
 * its identity), then stores value, then signo (each store release). It empties the entry
 * by zeroing signo first, then who. An update in place zeroes signo, stores value, stores
 * signo. A reader loads who, signo and value (acquire, in that order), then signo and who
 * again, and uses the entry only if it is complete and neither word changed: so it never
 * pairs one registration's signal with another's value or process.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "internal/event_signal.h"
#include "internal/sys.h"

#define N IPCX_EVENT_MAX_SIGNALS

/* Decrements the count unless it is 0 (a hostile peer may have zeroed it); bounded. */
static void count_dec(_Atomic uint32_t *count)
{
	uint32_t v = atomic_load_explicit(count, memory_order_relaxed);

	for (int i = 0; i < 64 && v != 0; i++)
		if (atomic_compare_exchange_weak_explicit(count, &v, v - 1, memory_order_relaxed,
		                                          memory_order_relaxed))
			return;
}

/*
 * A consistent copy of entry e. Returns 1 when it is a complete registration of a real-time
 * signal; -1 when it is taken but stays empty (its registrant may have died before filling
 * it); 0 otherwise: free, changing under us, or holding a signal number that is not a
 * real-time signal.
 */
static int read_entry(struct ipcx__evsig *e, uint64_t *ret_who, int *ret_signo, uint64_t *ret_value,
                      uint64_t *ret_addr)
{
	/* Acquire loads: each pairs with the release store of the same word by a registrant,
	 * and keeps the loads after it in order (see the comment at the top). */
	uint64_t who = atomic_load_explicit(&e->who, memory_order_acquire);
	uint32_t signo, signo2;
	uint64_t value, who2;

	if (who == 0)
		return 0;
	signo = atomic_load_explicit(&e->signo, memory_order_acquire);
	value = atomic_load_explicit(&e->value, memory_order_acquire);
	signo2 = atomic_load_explicit(&e->signo, memory_order_acquire);
	who2 = atomic_load_explicit(&e->who, memory_order_acquire);
	if (signo != signo2 || who != who2)
		return 0;
	*ret_who = who;
	if (signo == 0)
		return -1;
	if (signo > INT_MAX || !ipcx__rt_signal_ok((int)signo))
		return 0;
	*ret_signo = (int)signo;
	*ret_value = value;
	/* A hint only, checked by whoever uses it: no ordering needed. */
	*ret_addr = atomic_load_explicit(&e->addr, memory_order_relaxed);
	return 1;
}

/*
 * Frees entry e, found holding (who, signo) of a process that is dead. Returns true when
 * this call freed it; false when the entry changed meanwhile (another reclaimer, or a peer).
 */
static bool reclaim(struct ipcx__evsig_table t, struct ipcx__evsig *e, uint64_t who, uint32_t signo)
{
	uint32_t s = signo;

	if (!atomic_compare_exchange_strong_explicit(&e->signo, &s, 0, memory_order_seq_cst,
	                                             memory_order_relaxed) &&
	    s != 0)
		return false;
	if (!atomic_compare_exchange_strong_explicit(&e->who, &who, 0, memory_order_seq_cst,
	                                             memory_order_relaxed))
		return false;
	count_dec(t.count);
	return true;
}

/* Fills a claimed entry (or updates one in place): signo last, so readers see it whole. */
static void fill(struct ipcx__evsig *e, int signo, uint64_t value, uint64_t addr)
{
	atomic_store_explicit(&e->signo, 0, memory_order_seq_cst);
	atomic_store_explicit(&e->addr, addr, memory_order_relaxed);
	atomic_store_explicit(&e->value, value, memory_order_seq_cst);
	atomic_store_explicit(&e->signo, (uint32_t)signo, memory_order_seq_cst);
}

int ipcx__evsig_register(struct ipcx__evsig_table t, uint64_t self, int *idx, int signo,
                         uint64_t value)
{
	if (*idx >= 0 && *idx < N &&
	    atomic_load_explicit(&t.e[*idx].who, memory_order_acquire) == self) {
		fill(&t.e[*idx], signo, value, t.addr);
		return 0;
	}
	/* First pass: a free entry. Second pass: free the entries of dead processes too. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N; i++) {
			struct ipcx__evsig *e = &t.e[i];
			uint64_t w = atomic_load_explicit(&e->who, memory_order_acquire);

			if (w != 0 && pass == 1 && w != self && !ipcx__proc_alive(w))
				reclaim(t, e, w,
				        atomic_load_explicit(&e->signo, memory_order_relaxed));
			w = 0;
			if (!atomic_compare_exchange_strong_explicit(
			            &e->who, &w, self, memory_order_seq_cst, memory_order_relaxed))
				continue;
			/* seq_cst: pairs with the fence set makes before it loads the count. */
			atomic_fetch_add_explicit(t.count, 1, memory_order_seq_cst);
			fill(e, signo, value, t.addr);
			*idx = i;
			return 0;
		}
	return -ENOSPC;
}

void ipcx__evsig_unregister(struct ipcx__evsig_table t, uint64_t self, int idx)
{
	struct ipcx__evsig *e;
	uint64_t w = self;

	if (idx < 0 || idx >= N)
		return;
	e = &t.e[idx];
	if (atomic_load_explicit(&e->who, memory_order_acquire) != self)
		return; /* not ours any more (a peer scribbled on it): leave it */
	atomic_store_explicit(&e->signo, 0, memory_order_seq_cst);
	if (atomic_compare_exchange_strong_explicit(&e->who, &w, 0, memory_order_seq_cst,
	                                            memory_order_relaxed))
		count_dec(t.count);
}

/*
 * What one set learnt about the processes it sent to: whether each was shown to have the
 * event mapped. A process named by several entries (one per handle it registered) is
 * checked once per set, so a table of forged entries naming one big process costs one read
 * of its maps, not 64.
 */
struct verdicts {
	uint64_t who[N];
	int r[N]; /* 0: it maps the event (or could not be asked: it was dead); -ENXIO: not shown */
	int n;
};

/* Sends one registration its signal, if its process can be shown to take part. */
static int send_one(struct ipcx__evsig_table t, struct verdicts *v, uint64_t self, uint64_t who,
                    int signo, uint64_t value, uint64_t addr)
{
	struct ipcx__map_proof proof = {t.file, addr};
	const struct ipcx__map_proof *must_map = &proof;
	int k, r;

	/* This process maps the event: it is reading the table through that mapping. */
	if (who == self)
		must_map = NULL;
	for (k = 0; k < v->n && v->who[k] != who; k++)
		;
	if (k < v->n) {
		if (v->r[k] < 0)
			return v->r[k];
		must_map = NULL;
	}
	r = ipcx__proc_sigqueue(who, signo, value, must_map);
	if (must_map && v->n < N) {
		v->who[v->n] = who;
		v->r[v->n++] = r == -ENXIO ? -ENXIO : 0;
	}
	return r;
}

void ipcx__evsig_fire(struct ipcx__evsig_table t, struct ipcx__evsig_counts *c)
{
	uint64_t self = ipcx__proc_self();
	struct verdicts v;

	v.n = 0;
	for (int i = 0; i < N; i++) {
		struct ipcx__evsig *e = &t.e[i];
		uint64_t who, value, addr;
		int signo = 0, r;

		r = read_entry(e, &who, &signo, &value, &addr);
		if (r == 0)
			continue;
		/* An entry that stays empty is a registration in progress, or one whose
		 * registrant died before filling it. */
		if (r < 0)
			r = ipcx__proc_alive(who) ? 0 : -ESRCH;
		else
			r = send_one(t, &v, self, who, signo, value, addr);
		if (r == 0 && signo != 0)
			atomic_fetch_add_explicit(&c->sent, 1, memory_order_relaxed);
		else if (r == -EPERM)
			atomic_fetch_add_explicit(&c->denied, 1, memory_order_relaxed);
		else if (r == -ENXIO)
			/* A live process that does not map the event keeps its entry: freeing it
			 * could race with the process registering anew in the same place (it
			 * unregisters, unmaps, maps again and registers while its maps are read).
			 */
			atomic_fetch_add_explicit(&c->unverified, 1, memory_order_relaxed);
		else if (r == -ESRCH) {
			if (reclaim(t, e, who, (uint32_t)signo))
				atomic_fetch_add_explicit(&c->gone, 1, memory_order_relaxed);
		} else if (r < 0)
			atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
	}
}

void ipcx__evsig_census(struct ipcx__evsig_table t, unsigned *ret_registered, unsigned *ret_dead)
{
	unsigned reg = 0, dead = 0;

	for (int i = 0; i < N; i++) {
		uint64_t w = atomic_load_explicit(&t.e[i].who, memory_order_acquire);

		if (w == 0)
			continue;
		reg++;
		if (!ipcx__proc_alive(w))
			dead++;
	}
	*ret_registered = reg;
	*ret_dead = dead;
}
