/*
 * A Promela model of the chan message protocol (docs/chan-topic.md, src/chan_send.c,
 * src/chan_recv.c, src/chan_recover.c, src/internal/chan.h), checked with spin by
 * `make model`. See model/README.md for what is modelled, what is abstracted, and the
 * latest result.
 *
 * Two senders (processes 0, 1) send M messages each; two receivers (processes 2, 3) take
 * them; a killer process may kill up to MAXDEATH of them between any two atomic steps. A
 * kill is seen by the others only through ALIVE(p), the model of ipcx__proc_alive
 * (ipcx__chan_slot_dead in the C code).
 *
 * Units: a position counts records, not bytes (every message is one record of the same
 * size, so no SKIP padding at the ring's end is ever needed). The ring has N records; the
 * record for position pos lives at index pos % N. Its control word is (tag, owner, state);
 * the tag is pos + 1 (rec_tag in src/internal/chan.h), so a header left from an earlier lap
 * never passes for the current record. 0 is a fresh ring.
 *
 * Each statement below is one atomic step: a load, a store or a CAS of one shared word
 * (sequentially consistent: see model/README.md). Steps that the C code does in one word
 * (a control word: tag, owner and state) are one step here too. Ghost variables (marked
 * "ghost") are not in the C code: they record what the checker needs to know.
 */

#ifndef N
#define N 2          /* ring capacity in records (a power of two in C) */
#endif
#ifndef M
#define M 2          /* messages per sender */
#endif
#ifndef MAXDEATH
#define MAXDEATH 1   /* at most this many processes are killed in a run */
#endif
#define NS 2         /* senders: processes 0 .. NS-1 */
#define NR 2         /* receivers: processes NS .. NS+NR-1 */
#define NP (NS + NR)
#define TOTAL (NS * M)

/* Record states (enum REC_* in src/internal/chan.h). */
#define RESERVED  1
#define COMMITTED 2
#define CLAIMED   3
#define DONE      4
#define SKIP      5
#define ORPHAN    6

/* struct chan_body */
byte lock;          /* the senders' lock: 0 or holder + 1 */
byte reserve;       /* positions (in records) */
byte consume;
byte head;
byte orphans;       /* ORPHAN records waiting (a hint) */
byte announce[NR];  /* chan_slot.claim of each receiver: position + 1, 0 = none */

/* The ring: the control word (rtag, rowner, rstate) and the payload of each record. */
byte rtag[N];
byte rowner[N];
byte rstate[N];
byte rmsg[N];       /* payload: message id + 1 */

/* Who is alive: ipcx__proc_alive. A process that finished (closed) counts as gone too. */
bool killed[NP];
bool exited[NP];
byte ndead;
#define ALIVE(p) (!killed[p] && !exited[p])
#define RECV_ALIVE (ALIVE(NS) || ALIVE(NS + 1))

/*
 * Ghost: one bit per process, set by every write to shared state (and every kill). A
 * stuck wait in C wakes every 10 ms (CHAN_CHECK_NS) and runs recovery; here a process may
 * run recovery from a stuck wait only when something changed since its last recovery.
 * Recovery is a function of the shared state and of who is alive, so a recovery that
 * repeats an unchanged state would change nothing: this gating keeps every outcome of the
 * C code but turns "stuck for ever, recovery never helps" into a blocked process, which
 * spin reports as an invalid end state (a deadlock).
 */
byte poke;
#define W poke = 255

/* Ghost: what happened to each message (id = sender * M + k). */
byte posid[TOTAL];       /* id + 1 of the message reserved at each position */
bool committed[TOTAL];
bool seen[TOTAL];        /* its payload was read by a receiver */
bool released[TOTAL];    /* a receiver released it after reading it */
byte pending;            /* committed and not yet released */
byte lastfirst[NS];      /* per sender: k + 1 of its newest first-delivered message */
byte sgone;              /* senders that finished or were killed */

/* ipcx__chan_read_rec: one acquire load of the control word at pos; st = 0 when the
 * header is not pos's (another lap, or not written yet). */
inline read_rec(p, st, ow)
{
	d_step {
		if
		:: rtag[(p) % N] == (p) + 1 -> st = rstate[(p) % N]; ow = rowner[(p) % N]
		:: else -> st = 0; ow = 0
		fi
	}
}

/* ipcx__chan_help_consume (chan_recv.c): CAS consume p -> p + 1. */
inline help_consume(p)
{
	atomic { if :: consume == (p) -> consume = (p) + 1; W :: else fi }
}

/*
 * ipcx__chan_reclaim (chan_recv.c): while the record at head is DONE or SKIP and
 * head < consume, CAS head forward; SKIP at consume == head is stepped over first.
 */
inline reclaim()
{
	do
	:: h = head;
	   c = consume;
	   if
	   :: h >= c ->
		read_rec(c, st, ow);
		if
		:: st == SKIP && h == c -> help_consume(c)
		:: else -> break
		fi
	   :: else ->
		read_rec(h, st, ow);
		if
		:: st == DONE || st == SKIP ->
			atomic { if :: head == h -> head = h + 1; W :: else fi }
		:: else -> break
		fi
	   fi
	od;
	skip;
	d_step { h = 0; c = 0; st = 0; ow = 0 }
}

/*
 * ipcx__chan_repair_reserve (chan_send.c), run by whoever took the lock over from a dead
 * holder: the holder may have written a header (pad and record) without moving reserve
 * past it; the ring says how far it got.
 */
inline repair()
{
	i = 0;
	do
	:: i == 2 -> break
	:: else ->
		pos = reserve;
		read_rec(pos, st, ow);
		if
		:: st == 0 -> break
		:: else -> reserve = pos + 1; W; i++
		fi
	od
}

/* holder_dead (chan_recover.c): no live receiver slot announces p. One step per slot. */
inline holder_dead(p, res)
{
	res = 1;
	if :: announce[0] == (p) + 1 && ALIVE(NS) -> res = 0 :: else fi;
	if :: announce[1] == (p) + 1 && ALIVE(NS + 1) -> res = 0 :: else fi
}

/*
 * ipcx__chan_recover (chan_recover.c): take over a lock of a dead holder (recover_lock),
 * then walk [head, reserve): a RESERVED record of a dead sender becomes SKIP; a COMMITTED
 * record below consume that no live slot announces, or a CLAIMED record of a dead owner,
 * becomes ORPHAN (and orphans++). Every change is a CAS from the exact control word seen,
 * after a re-check that head has not passed the record.
 */
inline recover()
{
	poke = poke & ~(1 << me);   /* ghost: "recovery ran on this state" */
	changed = 0;
	/* recover_lock */
	v = lock;
	if
	:: v != 0 && !ALIVE(v - 1) ->
		atomic { if :: lock == v -> lock = me + 1; W; ok = 1 :: else -> ok = 0 fi };
		if
		:: ok -> repair(); lock = 0; W; changed = 1
		:: else
		fi
	:: else
	fi;
	pos = head;
	c = consume;
	r = reserve;
	do
	:: pos >= r -> break
	:: else ->
		read_rec(pos, st, ow);
		if
		:: st == 0 -> break
		:: else
		fi;
		if
		:: st == COMMITTED && pos < c -> holder_dead(pos, act)
		:: st == RESERVED || st == CLAIMED -> act = !ALIVE(ow)
		:: else -> act = 0
		fi;
		if
		:: act && pos >= head ->   /* freed meanwhile by its live holder? */
			atomic {
				if
				:: rtag[pos % N] == pos + 1 && rstate[pos % N] == st &&
				   rowner[pos % N] == ow ->
					rstate[pos % N] = (st == RESERVED -> SKIP : ORPHAN); W;
					changed = 1; ok = 1
				:: else -> ok = 0
				fi
			};
			if
			:: ok && st != RESERVED -> orphans++; W
			:: else
			fi
		:: else
		fi;
		pos++
	od;
	if
	:: changed -> reclaim()
	:: else
	fi
}

/*
 * A sender: ipcx_chan_send = reserve (reserve_room: lock, try_take, unlock; when full,
 * reclaim and wait for space, running recovery when stuck), copy, commit (finish).
 */
proctype sender(byte me)
{
	byte k, pos, r, c, h, hc, target, st, ow, v, i, id;
	bool ok, changed, act;

	{
	k = 0;
	do
	:: k == M -> break
	:: else ->
		id = me * M + k;
retry:	skip;
		/* (model only: forget the locals of the last round) */
		d_step { pos = 0; r = 0; c = 0; h = 0; target = 0; st = 0; ow = 0; v = 0; i = 0;
			 ok = 0; changed = 0; act = 0 };
		/* ipcx__chan_lock: CAS 0 -> me + 1; or, a holder found dead by the liveness
		 * check, CAS it -> me + 1 and repair its half-done step. Spins (blocks here)
		 * while a live process holds it. */
		if
		:: atomic { lock == 0 -> lock = me + 1; W }
		:: atomic { lock != 0 && !ALIVE(lock - 1) -> v = lock };
			atomic { if :: lock == v -> lock = me + 1; W; ok = 1 :: else -> ok = 0 fi };
			if
			:: ok -> repair()
			:: else -> goto retry
			fi
		fi;
		/* try_take: reserve only moves under the lock (relaxed load). */
		r = reserve;
		if
		:: r + 1 - hc > N || r < hc -> hc = head   /* refresh the cached head */
		:: else
		fi;
		assert(r - hc <= N);
		if
		:: r + 1 - hc <= N ->
			/* put_header: len, then ctl = tag|me|RESERVED (release) */
			atomic {
				rtag[r % N] = r + 1; rowner[r % N] = me; rstate[r % N] = RESERVED;
				posid[r] = id + 1; W
			};
			reserve = r + 1; W;
			pos = r;
			lock = 0; W;          /* ipcx__chan_unlock */
		:: else ->
			target = r + 1 - N;
			lock = 0; W;          /* ipcx__chan_unlock */
			/* reserve_room: full; reclaim, then wait for head to reach target */
			reclaim();
			if
			:: head >= target -> goto retry
			:: else
			fi;
			if
			:: head >= target -> goto retry
			:: ndead > 0 && (poke & (1 << me)) -> recover(); goto retry   /* stuck slice timed out */
			:: !RECV_ALIVE -> goto quit   /* no receiver left: the send times out */
			fi
		fi;
		/* The copy of the message into the reservation. */
		rmsg[pos % N] = id + 1; W;
		/* finish(COMMITTED): one release store of the control word. */
		atomic {
			rtag[pos % N] = pos + 1; rowner[pos % N] = me; rstate[pos % N] = COMMITTED;
			committed[id] = 1; pending++; W
		};
		k++
	od;
quit:
	atomic { exited[me] = 1; sgone++; W }
	} unless { killed[me] }
}

/*
 * A receiver: ipcx_chan_recv = take (claim: orphans first, then the record at consume;
 * when nothing, wait, running recovery when stuck), read the payload, ipcx_chan_release.
 */
proctype receiver(byte me)
{
	byte pos, mypos, r, c, h, st, ow, v, i, o, id;
	bool ok, got, changed, act;

	{
	skip;
loop:	skip;
	/* (model only: forget the locals of the last round, so equal states are merged) */
	d_step { got = 0; pos = 0; mypos = 0; r = 0; c = 0; h = 0; st = 0; ow = 0; v = 0; i = 0;
		 o = 0; id = 0; ok = 0; changed = 0; act = 0 };
	/* claim(): acquire load of orphans; claim_orphan walks [head, consume). */
	o = orphans;
	if
	:: o != 0 ->
		pos = head;
		c = consume;
		do
		:: pos >= c -> break
		:: else ->
			read_rec(pos, st, ow);
			if
			:: st == 0 -> break
			:: st == ORPHAN ->
				atomic {
					if
					:: rtag[pos % N] == pos + 1 && rstate[pos % N] == ORPHAN &&
					   rowner[pos % N] == ow ->
						rowner[pos % N] = me; rstate[pos % N] = CLAIMED; W;
						got = 1
					:: else
					fi
				};
				if
				:: got ->
					atomic { if :: orphans > 0 -> orphans--; W :: else fi };
					mypos = pos;
					break
				:: else
				fi
			:: else
			fi;
			pos++
		od;
		if
		:: !got -> atomic { if :: orphans == o -> orphans = 0; W :: else fi }
		:: else
		fi
	:: else
	fi;
	if
	:: got -> goto have
	:: else
	fi;
	/* The claim loop at consume. */
	do
	:: pos = consume;
	   read_rec(pos, st, ow);
	   if
	   :: st == 0 || st == RESERVED -> break   /* empty, or wait behind a reservation */
	   :: st == COMMITTED ->
		announce[me - NS] = pos + 1; W;     /* announce before the claim */
		atomic {
			if
			:: consume == pos ->
				consume = pos + 1; W; got = 1;
				/* ghost: a first delivery; per-sender FIFO among them */
				id = posid[pos] - 1;
				assert(id % M + 1 > lastfirst[id / M]);
				lastfirst[id / M] = id % M + 1
			:: else
			fi
		};
		if
		:: got -> mypos = pos; break
		:: else
		fi
	   :: else -> help_consume(pos)              /* SKIP: step over it */
	   fi
	od;
	if
	:: got -> goto have
	:: else
	fi;
	/* Not holding anything: clear a stale announcement. */
	if
	:: announce[me - NS] != 0 -> announce[me - NS] = 0; W
	:: else
	fi;
	/* take(): wait until data_ready, or a stuck slice times out (recovery), or, in the
	 * model, every sender is gone and every committed message was released. */
	if
	:: atomic { (orphans != 0 ||
		     (rtag[consume % N] == consume + 1 && rstate[consume % N] != RESERVED)) ->
		    skip }; goto loop
	:: atomic { ndead > 0 && head != reserve && (poke & (1 << me)) -> skip }; recover(); goto loop
	:: sgone == NS && pending == 0 -> goto quit
	fi;

have:
#ifdef BREAK_EARLY_FREE
	/* Deliberately wrong: the record is released before its payload is read. */
	atomic {
		rtag[mypos % N] = mypos + 1; rowner[mypos % N] = me; rstate[mypos % N] = DONE; W;
		id = posid[mypos] - 1;
		if :: !released[id] -> released[id] = 1; pending-- :: else fi
	};
	reclaim();
#endif
	/* Read the payload: it must be the message committed at this position. */
	v = rmsg[mypos % N];
	assert(v != 0 && v == posid[mypos] && committed[v - 1]);
	id = v - 1;
	/* ghost: a message is delivered again only after a receiver died */
	assert(!seen[id] || killed[NS] || killed[NS + 1]);
	seen[id] = 1;
#ifdef BREAK_EARLY_FREE
	goto loop;
#endif
	/* ipcx_chan_release: at head, CAS head past it without writing the record (then a
	 * reclaim walk only when loose != 0: either choice here); else DONE, then reclaim. */
	atomic {
		if
		:: head == mypos -> head = mypos + 1; W; ok = 1;
			if :: !released[id] -> released[id] = 1; pending-- :: else fi
		:: else -> ok = 0
		fi
	};
	if
	:: ok ->
		if
		:: reclaim()
		:: skip
		fi
	:: else ->
		atomic {
			rtag[mypos % N] = mypos + 1; rowner[mypos % N] = me; rstate[mypos % N] = DONE; W;
			if :: !released[id] -> released[id] = 1; pending-- :: else fi
		};
		reclaim()
	fi;
	goto loop;
quit:
	atomic { exited[me] = 1; W }
	} unless { killed[me] }
}

/* Kills up to MAXDEATH live processes, each at any moment between two atomic steps. */
active proctype killer()
{
end:
	do
	:: atomic { ndead < MAXDEATH && ALIVE(0) -> killed[0] = 1; ndead++; sgone++; W }
	:: atomic { ndead < MAXDEATH && ALIVE(1) -> killed[1] = 1; ndead++; sgone++; W }
	:: atomic { ndead < MAXDEATH && ALIVE(2) -> killed[2] = 1; ndead++; W }
	:: atomic { ndead < MAXDEATH && ALIVE(3) -> killed[3] = 1; ndead++; W }
	od
}

/* The ring's positions stay ordered, in every reachable state. */
active proctype invariant()
{
	assert(head <= consume && consume <= reserve && reserve - head <= N && orphans <= TOTAL)
}

init
{
	atomic {
		run sender(0);
		run sender(1);
		run receiver(2);
		run receiver(3)
	}
}
