/*
 * wqinput.pml: one queue of src/net/wqinput.c, as written, over the
 * store-buffer memory model of memory.pml: wqinput_input()'s reserve,
 * claim, fill and activation against the work function wqi_work(), and
 * wqinput_drain() against the worker's wake-up.  The three arguments of
 * wqinput.c's opening comment are what it checks: R1 (a claimed slot is
 * free), R2 (no packet left behind) and D1 (no lost drain wake-up).
 *
 * Threads: NP producers (ids 0..NP-1; default 2), each calling
 * wqinput_input() NPKT times (default 1) on the same queue (the threads
 * of one CPU: the queue is per CPU, not per thread); the worker (id NP);
 * ND drainers (ids NP+1..; default 1, at most 4 threads in all).  A
 * drainer drains once at any moment, then waits for the producers to
 * finish (a join: a ghost flag after a fence) and drains again, which
 * must then see every accepted packet processed.
 *
 * Modelled: the reserve (the seq_cst load of q_len, the CAS loop that
 * raises it only from below LIMIT, which on failure reloads it), the
 * claim (the seq_cst fetch_add of q_tail), the check that the slot is
 * free (its seq_cst load of s_seq; the C code panics where the model
 * asserts), the fill (the packet word, then the seq_cst store of s_seq),
 * the activation (the seq_cst load of q_active and, if 0, the exchange
 * to 1 and, if that found 0, the enqueue of q_work).  The worker: the
 * workqueue hands it q_work (a ghost flag, wq_pending; the enqueue's
 * locked CAS and the dequeue's lock are full barriers), and a run is
 * wqi_work(): the seq_cst store of q_active = 0, then per packet the
 * seq_cst load of s_seq (stop unless it holds the packet of q_head), the
 * read of the packet, the seq_cst store of s_seq = p + cap, the seq_cst
 * decrement of q_len, the function (a ghost count), the seq_cst store of
 * q_processed and the seq_cst load of q_drain_at, and when the count has
 * reached it, under wqi_drain_lock, the reset of q_drain_at and the
 * broadcast.  wqi_drain_queue(): the acquire load of q_processed; then
 * under wqi_drain_lock the loop of the relaxed load of q_drain_at, its
 * seq_cst store when it lowers it, the seq_cst load of q_processed and
 * the wait on wqi_drain_cv (which releases the lock and sleeps at once,
 * and takes the lock again when woken).  A seq_cst store is a store and
 * a fence (x86's mov then mfence; a seq_cst load is a plain mov); the
 * lock and unlock drain the buffer.
 *
 * Abstracted away: the mbuf and its two ints (one packet word, p + 1 for
 * the packet of position p), the statistics (the drop count, the
 * high-water mark), several queues and wqinput_drain()'s loop over them
 * (one queue: the protocols are per queue), wqi_drainers and
 * wqinput_destroy(), the workqueue's own protocols (workqueue.pml checks
 * them), spurious wake-ups (a re-check under the lock), position
 * wrap-around.
 *
 * Safety: R1 assert(s_seq == p) at each claim; the worker reads the
 * packet of position q_head from its slot (assert), never one a producer
 * of the next lap wrote or one not yet written; the workqueue never
 * holds q_work twice (assert, R3); at each drain's return every packet
 * counted by its load of q_tail has been processed (assert), and after
 * the join every accepted packet has.  Liveness: a packet left behind
 * (R2) or a lost wake-up (D1) leaves the final drain asleep for ever, an
 * invalid end state.
 *
 * Switches: NP, NPKT, ND (1 or 2), LIMIT (the queue's limit, 1 to 4,
 * default 2; the ring has CAP slots, LIMIT rounded up to a power of two
 * and at least 2, as in wqinput.c), ONE_SLOT (with LIMIT=1: a ring of
 * one slot, where a slot holding packet p - 1 reads as free for p, so
 * that an overrun goes unseen by R1's check: BROKEN_LIMIT_PLUS_ONE then
 * loses a packet, an invalid end state, where with two slots the check
 * fires).  Wrap-around (a slot used twice) takes more packets than CAP:
 * NP=1 NPKT=3.  Broken variants:
 *   BROKEN_LIMIT_PLUS_ONE   the reserve accepts LIMIT + 1 packets (a
 *                           bug only where LIMIT == CAP, with
 *                           wrap-around)
 *   BROKEN_DEC_BEFORE_FREE  the worker decrements q_len before it frees
 *                           the slot (R1's order; with wrap-around)
 *   BROKEN_FILL_NO_FENCE    the fill's store of s_seq is relaxed (no
 *                           store-load order before the q_active load)
 *   BROKEN_CLEAR_NO_FENCE   the run's store of q_active = 0 is relaxed
 *                           (no store-load order before the s_seq load)
 *   BROKEN_PROCESSED_NO_FENCE the worker's store of q_processed is
 *                           relaxed (before its load of q_drain_at)
 *   BROKEN_DRAIN_AT_NO_FENCE the drainer's store of q_drain_at is
 *                           relaxed (before its load of q_processed)
 *   BROKEN_WAKE_UNLOCKED    the worker resets q_drain_at and broadcasts
 *                           without wqi_drain_lock
 */
#ifndef NP
#define NP 2
#endif
#ifndef NPKT
#define NPKT 1
#endif
#ifndef ND
#define ND 1
#endif
#ifndef LIMIT
#define LIMIT 2
#endif
#if defined(ONE_SLOT) && LIMIT == 1
#define CAP 1 /* what wqinput.c did before 2026-12-03 */
#elif LIMIT <= 2
#define CAP 2
#else
#define CAP 4
#endif
#ifdef BROKEN_LIMIT_PLUS_ONE
#define RLIMIT (LIMIT + 1)
#else
#define RLIMIT LIMIT
#endif

#define NT (NP + 1 + ND)
#define WORKER NP

#define LEN 0       /* q_len */
#define ACTIVE 1    /* q_active */
#define TAIL 2      /* q_tail */
#define PROCESSED 3 /* q_processed */
#define DRAIN_AT 4  /* q_drain_at */
#define SEQ(s) (5 + (s))        /* slot s's s_seq */
#define DATA(s) (5 + CAP + (s)) /* slot s's packet */
#define NVARS (5 + 2 * CAP)
#define NONE 255 /* WQI_NO_DRAIN */

#include "memory.pml"

bit wq_pending;      /* ghost: q_work is queued in the workqueue */
byte claimed;        /* ghost: positions claimed (packets accepted) */
byte func_done;      /* ghost: packets whose function has returned */
bit finished[NP];    /* ghost: producer c is done (the join's condition) */
bit dlock;           /* wqi_drain_lock */
bit cv_wait[NT];     /* asleep on wqi_drain_cv */

/* pthread_cond_wait(): release the lock and sleep, atomically. */
inline cond_wait(t_)
{
	d_step { drain(t_); dlock = 0; cv_wait[t_] = 1 };
	!cv_wait[t_];
	mutex_enter(t_, dlock)
}

/* pthread_cond_broadcast(): wake every sleeper. */
inline cond_broadcast()
{
	d_step {
		_k2 = 0;
		do
		:: _k2 < NT -> cv_wait[_k2] = 0; _k2++
		:: else -> break
		od;
		_k2 = 0
	}
}

/* compare_exchange: on failure exp_ = the value found. */
inline rmw_cas_cur(t_, v_, exp_, new_, ok_)
{
	d_step {
		drain(t_);
		if
		:: mem[v_] == exp_ -> mem[v_] = new_; ok_ = 1
		:: else -> exp_ = mem[v_]; ok_ = 0
		fi
	}
}

/* workqueue_enqueue(q_work): a locked CAS; R3, never queued twice. */
inline enqueue(t_)
{
	d_step { drain(t_); assert(!wq_pending); wq_pending = 1 }
}

proctype producer(byte me)
{
	byte i, n, ok, p, x;

	do
	:: i < NPKT ->
		/* 1. Reserve: raise q_len only from below the limit. */
		ok = 0;
		ld(me, LEN, n);
		do
		:: n >= RLIMIT -> break /* refused: a drop */
		:: else ->
			rmw_cas_cur(me, LEN, n, n + 1, ok);
			if
			:: ok -> break
			:: else -> skip
			fi
		od;
		if
		:: ok ->
			/* 2. Claim: fetch_add of q_tail. */
			d_step {
				drain(me);
				p = mem[TAIL];
				mem[TAIL] = p + 1;
				claimed++
			};
			ld(me, SEQ(p % CAP), x);
			assert(x == p); /* R1: the slot is free for p */
			/* 3. Fill. */
			st(me, DATA(p % CAP), p + 1);
			st(me, SEQ(p % CAP), p + 1);
#ifndef BROKEN_FILL_NO_FENCE
			fence(me); /* the seq_cst store */
#endif
			/* 4. Run the work if it is not queued already. */
			ld(me, ACTIVE, x);
			if
			:: x == 0 ->
				rmw_xchg(me, ACTIVE, 1, x);
				if
				:: x == 0 -> enqueue(me)
				:: else -> skip
				fi
			:: else -> skip
			fi
		:: else -> skip
		fi;
		i++
	:: else -> break
	od;
	fence(me); /* the thread's exit, before the join */
	finished[me] = 1
}

/* The worker's wake-up of the drainers (wqi_drain_wake()). */
inline drain_wake()
{
#ifdef BROKEN_WAKE_UNLOCKED
	st(WORKER, DRAIN_AT, NONE);
	fence(WORKER);
	cond_broadcast()
#else
	mutex_enter(WORKER, dlock);
	st(WORKER, DRAIN_AT, NONE);
	cond_broadcast();
	mutex_exit(WORKER, dlock)
#endif
}

/* The worker thread: wqi_work() each time the workqueue hands it q_work. */
proctype worker()
{
	byte head, done, x, d;

end:
	do
	:: d_step { wq_pending -> wq_pending = 0; drain(WORKER) };
		st(WORKER, ACTIVE, 0);
#ifndef BROKEN_CLEAR_NO_FENCE
		fence(WORKER); /* the seq_cst store */
#endif
		do
		:: ld(WORKER, SEQ(head % CAP), x);
			if
			:: x != head + 1 -> break /* empty, or not filled yet */
			:: else -> skip
			fi;
			ld(WORKER, DATA(head % CAP), d);
#ifdef BROKEN_DEC_BEFORE_FREE
			rmw_add(WORKER, LEN, -1, x);
#endif
			st(WORKER, SEQ(head % CAP), head + CAP);
			fence(WORKER); /* the seq_cst store */
			assert(d == head + 1); /* the packet of position head */
			head++;
#ifndef BROKEN_DEC_BEFORE_FREE
			rmw_add(WORKER, LEN, -1, x);
#endif
			func_done++; /* the function */
			done++;
			st(WORKER, PROCESSED, done);
#ifndef BROKEN_PROCESSED_NO_FENCE
			fence(WORKER); /* the seq_cst store */
#endif
			ld(WORKER, DRAIN_AT, x);
			if
			:: done >= x -> drain_wake()
			:: else -> skip
			fi
		od;
		x = 0;
		d = 0
	od
}

/* wqi_drain_queue(t_): until q_processed reaches t_. */
inline drain_queue(me_, t_, x_)
{
	ld(me_, PROCESSED, x_); /* acquire */
	if
	:: x_ >= t_ -> skip
	:: else ->
		mutex_enter(me_, dlock);
		do
		:: ld(me_, DRAIN_AT, x_); /* relaxed: stored under the lock */
			if
			:: x_ > t_ ->
				st(me_, DRAIN_AT, t_);
#ifndef BROKEN_DRAIN_AT_NO_FENCE
				fence(me_) /* the seq_cst store */
#else
				skip
#endif
			:: else -> skip
			fi;
			ld(me_, PROCESSED, x_);
			if
			:: x_ >= t_ -> break
			:: else -> cond_wait(me_)
			fi
		od;
		mutex_exit(me_, dlock)
	fi;
	x_ = 0
}

proctype drainer(byte me)
{
	byte t, x, c;

	/* A drain at any moment: packets claimed before its load. */
	ld(me, TAIL, t);
	drain_queue(me, t, x);
	assert(func_done >= t);
	/* After the producers: every accepted packet (R2). */
	c = 0;
	do
	:: c < NP -> finished[c] == 1; c++
	:: else -> break
	od;
	ld(me, TAIL, t);
	assert(t == claimed);
	drain_queue(me, t, x);
	assert(func_done == t)
}

init
{
	byte c;

	d_step {
		mem[DRAIN_AT] = NONE;
		c = 0;
		do
		:: c < CAP -> mem[SEQ(c)] = c; c++
		:: else -> break
		od;
		c = 0
	};
	atomic {
		run worker();
		c = 0;
		do
		:: c < NP -> run producer(c); c++
		:: else -> break
		od;
		c = 0;
		do
		:: c < ND -> run drainer(NP + 1 + c); c++
		:: else -> break
		od;
		c = 0
	}
}
