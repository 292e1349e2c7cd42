/* SPDX-License-Identifier: MIT */
/* Descriptor watchers: the watch table and the waker's half (see internal/watch.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <ipcx/waitset.h>

#include "internal/wait.h"
#include "internal/watch.h"

_Static_assert(IPCX_WAITSET_MAX_WATCHERS == IPCX__WATCH_MAX, "the public limit is the table's");

int ipcx__watch_name(char *buf, uint64_t who, uint32_t nonce)
{
	/* Always this fixed form, in the namespace directory: whatever a peer writes into an
	 * entry, a waker can only ever write to an ipcx watcher's FIFO. */
	return snprintf(buf, IPCX__WATCH_NAME_MAX, IPCX__FIFO_PREFIX "%016llx.%08x",
	                (unsigned long long)who, (unsigned)nonce);
}

/*
 * The registry of this process's object mappings, so that a waker that knows only a futex
 * word can find the watch table of the object it lies in. Consulted only when a watcher is
 * armed; the mutex is held across fork so a child never inherits it locked.
 */
struct map {
	struct ipcx__hdr *hdr;
	uint64_t size;
};
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map *maps;
static size_t nmaps, capmaps;
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void maps_prepare(void)
{
	pthread_mutex_lock(&maps_lock);
}
static void maps_parent(void)
{
	pthread_mutex_unlock(&maps_lock);
}
static void maps_init(void)
{
	pthread_atfork(maps_prepare, maps_parent, maps_parent);
}

void ipcx__watch_map_add(struct ipcx__hdr *hdr, uint64_t size)
{
	pthread_once(&maps_once, maps_init);
	pthread_mutex_lock(&maps_lock);
	if (nmaps == capmaps) {
		size_t nc = capmaps ? 2 * capmaps : 16;
		struct map *m = realloc(maps, nc * sizeof(*m));

		if (!m) { /* without an entry its watchers are only woken by removal */
			pthread_mutex_unlock(&maps_lock);
			return;
		}
		maps = m;
		capmaps = nc;
	}
	maps[nmaps].hdr = hdr;
	maps[nmaps].size = size;
	nmaps++;
	pthread_mutex_unlock(&maps_lock);
}

void ipcx__watch_map_del(struct ipcx__hdr *hdr)
{
	pthread_once(&maps_once, maps_init);
	pthread_mutex_lock(&maps_lock);
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].hdr == hdr) {
			maps[i] = maps[--nmaps];
			break;
		}
	pthread_mutex_unlock(&maps_lock);
}

_Atomic uint32_t *ipcx__watch_count(struct ipcx__hdr *hdr, uint64_t size, uint32_t off)
{
	if (off % 4 || off < IPCX__BODY_OFFSET || (uint64_t)off + 8 > size)
		return NULL;
	return (_Atomic uint32_t *)((char *)hdr + off + 4);
}

void ipcx__watch_fire(_Atomic uint32_t *word)
{
	struct ipcx__hdr *hdr = NULL;
	uintptr_t w = (uintptr_t)word;
	uint64_t size = 0;
	uint32_t off = 0;

	pthread_once(&maps_once, maps_init);
	pthread_mutex_lock(&maps_lock);
	for (size_t i = 0; i < nmaps; i++) {
		uintptr_t base = (uintptr_t)maps[i].hdr;

		if (w >= base && w - base < maps[i].size) {
			hdr = maps[i].hdr;
			size = maps[i].size;
			off = (uint32_t)(w - base);
			break;
		}
	}
	/* Fired under the lock: the caller holds a handle on the object, so its mapping
	 * stays, but another thread's close of another handle must not unmap ours meanwhile
	 * (the registry holds every mapping of the object; any of them will do). */
	if (hdr && (w - (uintptr_t)hdr) >> 32 == 0)
		ipcx__watch_fire_hdr(hdr, size, off, false);
	pthread_mutex_unlock(&maps_lock);
}

static uint32_t table_limit(struct ipcx__watch_table *t)
{
	uint32_t lim = atomic_load_explicit(&t->hiwater, memory_order_relaxed);

	return lim > IPCX__WATCH_MAX ? IPCX__WATCH_MAX : lim; /* a hint: bound it */
}

/* Frees an entry whose owner died: CAS, so a new owner that took the entry meanwhile keeps
 * it. Its FIFO, if it was left behind (a SIGKILL), goes too. */
static void reclaim_dead(struct ipcx__watch *e, uint64_t who)
{
	if (who == 0 || ipcx__proc_alive(who))
		return;
	atomic_store_explicit(&e->state, IPCX__WATCH_IDLE, memory_order_relaxed);
	atomic_compare_exchange_strong_explicit(&e->who, &who, 0, memory_order_release,
	                                        memory_order_relaxed);
}

void ipcx__watch_fire_hdr(struct ipcx__hdr *hdr, uint64_t size, uint32_t off, bool all)
{
	struct ipcx__watch_table *t = ipcx__watch_table(hdr);
	uint32_t lim = table_limit(t);
	char name[IPCX__WATCH_NAME_MAX];

	for (uint32_t i = 0; i < lim; i++) {
		struct ipcx__watch *e = &t->w[i];
		uint32_t st = IPCX__WATCH_ARMED;
		uint64_t who;
		uint32_t nonce, word;
		_Atomic uint32_t *count;

		/* Acquire pairs with the owner's seq_cst store of ARMED: who, nonce and word
		 * were written before it. Each field is read once. */
		if (atomic_load_explicit(&e->state, memory_order_acquire) != IPCX__WATCH_ARMED)
			continue;
		word = atomic_load_explicit(&e->word, memory_order_relaxed);
		if (!all && word != off)
			continue;
		who = atomic_load_explicit(&e->who, memory_order_relaxed);
		nonce = atomic_load_explicit(&e->nonce, memory_order_relaxed);
		/* Only the CAS's winner writes: one byte per arming. */
		if (!atomic_compare_exchange_strong_explicit(&e->state, &st, IPCX__WATCH_FIRED,
		                                             memory_order_acq_rel,
		                                             memory_order_relaxed))
			continue;
		count = ipcx__watch_count(hdr, size, word);
		if (count)
			atomic_fetch_sub_explicit(count, IPCX__WATCH_ONE, memory_order_relaxed);
		ipcx__watch_name(name, who, nonce);
		if (ipcx__fifo_send(name) == -ECONNREFUSED)
			reclaim_dead(e, who);
	}
}

int ipcx__watch_claim(struct ipcx__hdr *hdr, uint64_t size, uint64_t who, uint32_t nonce,
                      uint32_t off)
{
	struct ipcx__watch_table *t = ipcx__watch_table(hdr);

	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < IPCX__WATCH_MAX; i++) {
			struct ipcx__watch *e = &t->w[i];
			uint64_t cur = atomic_load_explicit(&e->who, memory_order_relaxed);

			if (cur != 0 && (pass == 0 || ipcx__proc_alive(cur)))
				continue;
			if (!atomic_compare_exchange_strong_explicit(
			            &e->who, &cur, who, memory_order_acq_rel, memory_order_relaxed))
				continue;
			/* A dead owner's entry may still be armed: give its part of the count
			 * back, unless a waker fires it first (the CAS decides who does). */
			uint32_t st = IPCX__WATCH_ARMED;
			if (atomic_compare_exchange_strong_explicit(
			            &e->state, &st, IPCX__WATCH_IDLE, memory_order_acq_rel,
			            memory_order_relaxed)) {
				_Atomic uint32_t *count = ipcx__watch_count(
				        hdr, size,
				        atomic_load_explicit(&e->word, memory_order_relaxed));
				if (count)
					atomic_fetch_sub_explicit(count, IPCX__WATCH_ONE,
					                          memory_order_relaxed);
			}
			atomic_store_explicit(&e->state, IPCX__WATCH_IDLE, memory_order_relaxed);
			atomic_store_explicit(&e->nonce, nonce, memory_order_relaxed);
			atomic_store_explicit(&e->word, off, memory_order_relaxed);
			uint32_t hw = atomic_load_explicit(&t->hiwater, memory_order_relaxed);
			for (int k = 0; k < 64 && hw < i + 1; k++)
				if (atomic_compare_exchange_weak_explicit(&t->hiwater, &hw, i + 1,
				                                          memory_order_relaxed,
				                                          memory_order_relaxed))
					break;
			return (int)i;
		}
	return -EUSERS;
}

bool ipcx__watch_mine(struct ipcx__hdr *hdr, int i, uint64_t who, uint32_t nonce)
{
	struct ipcx__watch *e = &ipcx__watch_table(hdr)->w[i];

	return atomic_load_explicit(&e->who, memory_order_relaxed) == who &&
	       atomic_load_explicit(&e->nonce, memory_order_relaxed) == nonce;
}

bool ipcx__watch_arm(struct ipcx__hdr *hdr, int i, _Atomic uint32_t *sleepers)
{
	struct ipcx__watch *e = &ipcx__watch_table(hdr)->w[i];
	bool armed = false;

	/* Only the owner moves an entry out of IDLE or FIRED; wakers only from ARMED. */
	if (atomic_load_explicit(&e->state, memory_order_acquire) != IPCX__WATCH_ARMED) {
		/* The count first, then the entry: a waker that sees the entry ARMED has seen
		 * the count (it reads the count first, after its fence), and one that missed
		 * both is seen by our re-check below. */
		atomic_fetch_add_explicit(sleepers, IPCX__WATCH_ONE, memory_order_seq_cst);
		atomic_store_explicit(&e->state, IPCX__WATCH_ARMED, memory_order_seq_cst);
		armed = true;
	}
	/* Pairs with the waker's fence between its change and its read of the count: either
	 * it sees our count, or the caller's re-check of the condition sees its change. */
	atomic_thread_fence(memory_order_seq_cst);
	return armed;
}

void ipcx__watch_release(struct ipcx__hdr *hdr, int i, _Atomic uint32_t *sleepers)
{
	struct ipcx__watch *e = &ipcx__watch_table(hdr)->w[i];
	uint32_t st = IPCX__WATCH_ARMED;

	if (atomic_compare_exchange_strong_explicit(&e->state, &st, IPCX__WATCH_IDLE,
	                                            memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_sub_explicit(sleepers, IPCX__WATCH_ONE, memory_order_relaxed);
	atomic_store_explicit(&e->state, IPCX__WATCH_IDLE, memory_order_relaxed);
	/* Release: a claimer that takes the entry sees it idle. */
	atomic_store_explicit(&e->who, 0, memory_order_release);
}
