/* SPDX-License-Identifier: MIT */
/*
 * The chaos soak (`make stress`): participants of every kind work on shared objects while a
 * chaos loop SIGKILLs them at random and starts them again. Everything they must agree on
 * lives in the ledger, an anonymous shared mapping made before the first fork, so that what
 * a killed participant recorded survives it.
 */
#ifndef IPCX_STRESS_H
#define IPCX_STRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ipcx/ipcx.h>

/* Object names, all in the run's private namespace directory. */
#define ST_CHAN "chan"
#define ST_TOPIC_RELIABLE "topic-reliable"
#define ST_TOPIC_LOSSY "topic-lossy"
#define ST_SEMSET "semset"
#define ST_MUTEX "mutex"
#define ST_EVENT "event"
#define ST_REGION "region"
#define ST_REGION_SIZE 1024

/* Participants: how many of each kind live at once. */
#define ST_SENDERS 3
#define ST_RECEIVERS 3
#define ST_PUBS 2 /* per topic */
#define ST_SUBS 2 /* per topic */
#define ST_HOLDERS 3
#define ST_LOCKERS 3
#define ST_WAITERS 3
#define ST_SETTERS 1
#define ST_WRITERS 2 /* region */
#define ST_READERS 2

enum st_kind {
	K_SENDER,
	K_RECEIVER,
	K_PUB_RELIABLE,
	K_SUB_RELIABLE,
	K_PUB_LOSSY,
	K_SUB_LOSSY,
	K_HOLDER,
	K_LOCKER,
	K_WAITER,
	K_SETTER,
	K_WRITER,
	K_READER,
	K_MAX_
};

#define ST_PARTS                                                                                   \
	(ST_SENDERS + ST_RECEIVERS + 2 * (ST_PUBS + ST_SUBS) + ST_HOLDERS + ST_LOCKERS +           \
	 ST_WAITERS + ST_SETTERS + ST_WRITERS + ST_READERS)

/* Sequence numbers per sender (or publisher) slot; a slot that reaches this stops. */
#define ST_SEQ_CAP (1u << 22)

/* The semaphore set: ST_NSEMS semaphores of ST_SEM_INIT each. */
#define ST_NSEMS 4
#define ST_SEM_INIT 5

/* Every kind of violation the soak can find. */
enum st_violation {
	V_CORRUPT,      /* a message failed its checksum or had an impossible header */
	V_ERROR,        /* a call returned an error it must not return here */
	V_LATE,         /* a timed call returned long after its timeout */
	V_CHAN_LOST,    /* a chan message confirmed sent was never received */
	V_CHAN_DUP,     /* more duplicates than receivers killed holding a message */
	V_CHAN_ORDER,   /* more reorderings than redeliveries explain */
	V_TOPIC_LOST,   /* a reliable topic skipped a message confirmed published */
	V_TOPIC_MISSED, /* a lossy topic skipped more than it reported missed */
	V_TOPIC_ORDER,  /* a subscriber saw a publisher's messages out of order */
	V_SEM_CONSERVE, /* values plus live holdings differ from the initial total */
	V_MUTEX,        /* the protected invariant broken without an owner's death */
	V_HANG,         /* a participant did not finish when told to */
	V_LEAK,         /* space, slots or files left after the run and `ipcx gc` */
	V_MAX_
};

/* A message as senders and publishers make it: the body's checksum binds slot and seq. */
struct st_msg {
	uint32_t slot, seq, len, sum;
	uint8_t body[2048];
};
#define ST_MSG_HDR 16u

/* One participant place; its process changes at every restart. Own cache line each. */
struct st_part {
	_Atomic uint64_t ops;
	_Atomic int32_t held[ST_NSEMS]; /* holders: what this place's process holds now */
	_Atomic uint32_t ack;           /* holders: the pause generation acknowledged */
	uint8_t pad[64 - 8 - 4 * ST_NSEMS - 4];
};

struct st_ledger {
	_Atomic uint32_t stop;           /* everyone but receivers: finish and exit 0 */
	_Atomic uint32_t stop_receivers; /* receivers: finish (after the drain) */
	_Atomic uint32_t sem_pause;      /* holders: stop at the next step and acknowledge */
	_Atomic uint32_t sem_gen;
	_Atomic uint32_t why[V_MAX_]; /* violations found by participants */
	_Atomic uint32_t detail_taken[V_MAX_];
	char detail[V_MAX_][160];                /* the first violation of each kind, explained */
	_Atomic uint64_t chan_dup, chan_order;   /* counted, judged at the end */
	_Atomic uint64_t owner_dead;             /* EOWNERDEAD seen by lockers */
	_Atomic uint64_t repaired;               /* ... of which the invariant needed repair */
	_Atomic uint64_t region_stamp;           /* the last stamp a region writer took */
	_Atomic uint64_t region_owner_dead;      /* EOWNERDEAD seen by region writers */
	_Atomic uint32_t chan_next[ST_SENDERS];  /* next sequence number per sender slot */
	_Atomic uint32_t topic_next[2][ST_PUBS]; /* per topic (0 reliable, 1 lossy) */
	uint64_t mx_a, mx_b;                     /* protected by the mutex: a == b */
	int inject;                              /* enum st_fault */
	int64_t slack_ns;                        /* how late a timed call may return */
	struct st_part part[ST_PARTS] __attribute__((aligned(64)));
	struct st_msg rbuf[ST_PARTS]; /* receivers: where recv copies to */
};

/* Faults the checker must catch (--inject-fault), to prove it can fail. */
enum st_fault {
	F_NONE,
	F_CHAN_LOSS,   /* a receiver forgets a message it took */
	F_TOPIC_LOSS,  /* a reliable subscriber skips a message */
	F_SEM_LEAK,    /* a holder records a give-back it did not make */
	F_MUTEX_BREAK, /* a locker breaks the invariant and unlocks normally */
	F_REGION_TORN, /* a region reader garbles a snapshot it read */
};

/*
 * Per-message bookkeeping, one byte per sequence number (in a separate, lazily touched
 * mapping): 0 never used, 1 being sent (write-ahead: a kill leaves it in doubt), 2 sent.
 * chan_got counts receptions.
 */
struct st_seqs {
	_Atomic uint8_t chan_state[ST_SENDERS][ST_SEQ_CAP];
	_Atomic uint8_t chan_got[ST_SENDERS][ST_SEQ_CAP];
	_Atomic uint8_t topic_state[2][ST_PUBS][ST_SEQ_CAP];
};

extern struct st_ledger *L;
extern struct st_seqs *S;

uint32_t st_sum(const uint8_t *p, size_t n, uint32_t slot, uint32_t seq);
void st_fill(struct st_msg *m, uint32_t slot, uint32_t seq, uint32_t len);
bool st_valid(const struct st_msg *m, size_t len, uint32_t nslots);

int64_t st_now(void);

/* Records a violation (with the first one's explanation) from any process. */
void st_violation(enum st_violation v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks that a timed call that started at t0 with timeout_ns did not return far too late. */
void st_check_late(const char *what, int64_t t0, int64_t timeout_ns);

/* Counts one operation of participant place p. */
static inline void st_op(int p)
{
	atomic_fetch_add_explicit(&L->part[p].ops, 1, memory_order_relaxed);
}

/* The participants' bodies: each runs in its own process until told to stop; p is its
 * place, slot its index among its kind. The return value is the exit status. */
int st_sender(int p, int slot);
int st_receiver(int p, int slot);
/* After receiver p was killed: counts a message its last recv delivered that it had not
 * counted yet. Returns 1 if there was one. */
uint64_t st_receiver_died(int p);
int st_publisher(int p, int topic, int slot);
int st_subscriber(int p, int topic, int slot);
int st_holder(int p, int slot);
int st_locker(int p, int slot);
/* After a lock returned -EOWNERDEAD (the caller holds the mutex): counts the owner's death,
 * repairs mx_a == mx_b if the dead owner left it broken (counting the repair), and marks the
 * mutex consistent. Returns what ipcx_mutex_consistent returns. */
int st_mutex_recover(ipcx_mutex *mx);
int st_waiter(int p, int slot);
int st_setter(int p, int slot);
int st_writer(int p, int slot);
int st_reader(int p, int slot);

/* True when a region snapshot is one whole write (or the region as created). */
bool st_region_valid(const void *snapshot, int64_t version);

/* The end of the run (checks.c): drains the channel while the receivers still run; then,
 * with every participant gone, checks what the run left and returns the recoveries counted
 * by the objects themselves; finally, after closing every handle, runs `ipcx gc` and checks
 * that the namespace directory holds nothing but clean objects, and removes them. */
void st_drain(ipcx_chan *c);
uint64_t st_final_checks(ipcx_chan *c, ipcx_topic *tr, ipcx_topic *tl, ipcx_semset *set,
                         ipcx_mutex *mx, ipcx_event *ev, ipcx_region *rg, uint64_t receiver_kills,
                         uint64_t waiter_kills);
void st_check_leftovers(const char *dir);

/* The timeout of every timed call of a participant. */
#define ST_TIMEOUT_NS 200000000LL

#endif
