/*
 * A spin model of the wake-all protocol of src/wait.c (ipcx__wait_until with
 * ipcx__sleep_mark, against ipcx__wake_all and ipcx__wake_bump): no lost wake-up.
 *
 * Sleepers wait for the condition (a counter `cond` that wakers increment) to change from the
 * value they saw. Wakers make the change, then (after the fence, which the sequentially
 * consistent interleaving of spin stands for) read `sleepers` and wake. The kernel's futex
 * is `kwait[i]`: FUTEX_WAIT enqueues sleeper i atomically when the word still holds its
 * value; FUTEX_WAKE dequeues every sleeper. A lost wake-up is a sleeper left in the kernel
 * after every waker has finished while the condition changed after it looked: spin reports
 * it as an invalid end state. A sleeper only waits while a change is still to come.
 *
 *   spin -a wake.pml && gcc -O2 -o pan pan.c && ./pan -m100000
 *
 * With -DBUMP one of the two wakers is an ipcx__wake_bump (always bumps and wakes), which
 * may share a word with ipcx__wake_all. A sleeper that does not mark the word (sleeps on
 * the value it read) is caught as a lost wake-up: every sleeper on a word woken by
 * ipcx__wake_all must mark it.
 */
#define NS 2     /* sleepers */
#define ROUNDS 2 /* waits per sleeper */
#ifndef WAKES
#define WAKES 2 /* changes of the condition in all (3: about 48 million states, 3 GB) */
#endif

byte word;     /* the futex word; odd: a sleeper marked it and was not woken since */
byte sleepers; /* the count of registered sleepers */
byte cond;     /* the condition */
bool kwait[NS];
byte changes; /* changes made so far (cond, as wakers see it) */

inline futex_wake_all() {
	d_step {
		i = 0;
		do
		:: i < NS -> kwait[i] = false; i++
		:: else -> break
		od
	}
}

proctype sleeper(byte me)
{
	byte c0, w, v, n = 0;

	do
	:: n < ROUNDS ->
		c0 = cond;
		if
		:: c0 >= WAKES -> break /* nothing more will come: do not wait */
		:: else -> skip
		fi;
		/* ipcx__wait_until after the spin: register (seq_cst), mark, re-check, sleep. */
		sleepers++;
		/* ipcx__sleep_mark: load, and CAS even -> odd. */
		w = word;
		if
		:: w % 2 == 1 -> v = w
		:: else ->
			atomic {
				if
				:: word == w -> word = w + 1; v = w + 1
				:: else -> v = word
				fi
			}
		fi;
		if
		:: v % 2 == 0 -> sleepers--; goto again /* bumped meanwhile: spurious return */
		:: else -> skip
		fi;
		if
		:: cond != c0 -> sleepers--; goto again /* the re-check */
		:: else -> skip
		fi;
		/* FUTEX_WAIT(word, v): enqueue only if the word still holds v. */
		atomic {
			if
			:: word == v -> kwait[me] = true
			:: else -> skip
			fi
		}
		!kwait[me]; /* blocked in the kernel until a FUTEX_WAKE */
		sleepers--;
again:
		/* The caller re-checks; a spurious return waits again for the same change. */
		if
		:: cond != c0 -> n++
		:: else -> skip
		fi
	:: else -> break
	od
}

/* ipcx__wake_all: change, fence, read sleepers; when odd, CAS to even and wake all. */
proctype waker_all()
{
	byte w, i;

	do
	:: atomic { changes < WAKES -> changes++ }
		cond++;
		if
		:: sleepers != 0 ->
			w = word;
			do
			:: w % 2 == 1 ->
				if
				:: atomic { word == w -> word = w + 1 } -> futex_wake_all(); break
				:: atomic { word != w -> w = word }
				fi
			:: else -> break
			od
		:: else -> skip
		fi
	:: else -> break
	od
}

/* ipcx__wake_bump (n = all): change, fence, read sleepers; when any, bump and wake. */
proctype waker_bump()
{
	byte i;

	do
	:: atomic { changes < WAKES -> changes++ }
		cond++;
		if
		:: sleepers != 0 -> word++; futex_wake_all()
		:: else -> skip
		fi
	:: else -> break
	od
}

init
{
	atomic {
		run sleeper(0);
		run sleeper(1);
		run waker_all();
#ifdef BUMP
		run waker_bump();
#else
		run waker_all();
#endif
	}
}
