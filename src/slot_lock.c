/* SPDX-License-Identifier: MIT */
/* The slot-named lock with takeover; see internal/slot_lock.h. */
#include <errno.h>

#include "internal/slot_lock.h"
#include "internal/wait.h"

/* Spins before the holder is suspected of being dead (it holds the lock for a few stores). */
#define SUSPECT_SPINS 4096u
/* Spins before a waiter naps between looks. */
#define SLEEP_SPINS (64u * 1024)

int ipcx__slot_lock(const struct ipcx__slot_lock *l, ipcx__deadline d, bool try_once)
{
	uint32_t mine = l->me + 1, v;

	for (uint32_t spins = 1;; spins++) {
		v = 0;
		/* Acquire pairs with the release store in ipcx__slot_unlock: what the last holder
		 * wrote under the lock is visible to us. */
		if (atomic_compare_exchange_weak_explicit(l->word, &v, mine, memory_order_acquire,
		                                          memory_order_relaxed))
			return 0;
		if (v != 0 && (v == mine || v > IPCX_MAX_ATTACH ||
		               ((spins % SUSPECT_SPINS) == 0 && l->slot_dead(l->ctx, v - 1)))) {
			/* A dead holder (or our own slot's dead predecessor, or garbage): take the
			 * lock over, then finish what the holder left half done. Acquire as above.
			 */
			if (atomic_compare_exchange_strong_explicit(l->word, &v, mine,
			                                            memory_order_acquire,
			                                            memory_order_relaxed)) {
				l->repair(l->ctx);
				return 0;
			}
		}
		if ((spins & 127) == 0) {
			if (ipcx__obj_removed(l->obj))
				return -EIDRM;
			if (try_once && spins >= SUSPECT_SPINS)
				return -EAGAIN;
			if (!try_once && ipcx__deadline_passed(d))
				return -ETIMEDOUT;
			if (spins >= SLEEP_SPINS) {
				ipcx__deadline nap = ipcx__deadline_in(1000000);
				ipcx__futex_wait(l->word, v, nap.at_ns < d.at_ns ? nap : d);
			} else {
				ipcx__yield();
			}
		}
		ipcx__cpu_relax();
	}
}

void ipcx__slot_unlock(_Atomic uint32_t *word)
{
	atomic_store_explicit(word, 0, memory_order_release);
}
