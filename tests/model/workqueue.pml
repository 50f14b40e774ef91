/*
 * workqueue.pml: the sleep and wake-up protocols of src/workqueue.c, as
 * written, over the store-buffer memory model of memory.pml: the worker's
 * idle sleep against workqueue_enqueue() and wq_stop(), and
 * workqueue_wait() against the batch end.
 *
 * Threads: one worker (id 0, one queue: the protocols are per queue) and
 * NC clients (ids 1..NC).  Client c enqueues its NITER items one at a
 * time, each followed by workqueue_wait() on it; the last client then
 * waits for the others to finish (a join: a ghost flag after a fence),
 * calls wq_stop() and joins the worker.
 *
 * Modelled: workqueue_enqueue() (the seq_cst CAS that pushes the item,
 * an RMW adding the item's bit to the incoming set; the seq_cst load of
 * q_sleep; the exchange of q_sleep to 0; the futex wake if it was set),
 * wq_worker_main() (a batch, else the relaxed load of q_exit, else
 * wq_idle()), wq_run_batch() (the relaxed hint load of q_incoming;
 * under q_lock the exchange that takes the incoming set, the relaxed
 * load and odd store of q_gen and the reset of q_filter_gen; after the
 * lock the filter and the release store of q_filter_gen; the functions;
 * the seq_cst store of the even q_gen, then the seq_cst load of
 * q_waiters and the futex wake), wq_idle() (the seq_cst store of
 * q_sleep, then the seq_cst loads of q_incoming and q_exit, the futex
 * sleep on q_sleep, the relaxed store of 0), wq_stop() (the seq_cst
 * stores of q_exit and q_sleep, the futex wake), wq_wait_queue() (under
 * q_lock: the acquire loads of q_gen and q_incoming; a queued item waits
 * for generation (g + 3) & ~1; an odd g waits for g + 1 if the filter
 * may hold the item) and wq_wait_gen() (one acquire load for the spin;
 * then the seq_cst add to q_waiters, the loop of seq_cst load of q_gen
 * and futex sleep, the subtraction at the end).  A seq_cst store is a
 * store and a fence (x86's mov and mfence); q_lock's lock and unlock are
 * full barriers (locked operations).
 *
 * Abstracted away: the spins (WQ_IDLE_SPIN's hint loads; WQ_WAIT_SPIN's
 * loads beyond one: re-loads without side effects), the list's links and
 * order (the incoming list is a set of items; the worker takes all of
 * it), the filter's hashing (it holds exactly the batch's items: a false
 * "maybe" only lengthens a wait), generation wrap-around, several queues,
 * destroy's wait for idle queues (the last client's items are waited for
 * already) and the functions' own enqueues.
 *
 * Safety: at the return of a wait for item n, assert(done[n]): the
 * function of an item enqueued before the wait has run; after the join,
 * every item's has.
 * Deadlock freedom (a lost wake-up leaves the worker asleep with items
 * queued, or a waiter asleep after its batch ended): end states.
 *
 * Switches: NC (clients, 1 to 3; default 2), NITER (items per client;
 * default 1).  Broken variants:
 *   BROKEN_IDLE_NO_FENCE     wq_idle()'s store of q_sleep is relaxed (no
 *                            store-load order before the q_incoming load)
 *   BROKEN_ENQUEUE_LOAD_FIRST workqueue_enqueue() loads q_sleep before its
 *                            CAS pushes the item
 *   BROKEN_BATCH_END_NO_FENCE the batch-end store of q_gen is relaxed (no
 *                            store-load order before the q_waiters load)
 *   BROKEN_NO_WAITERS        wq_wait_gen() sleeps without raising
 *                            q_waiters, so the batch end skips the wake
 *   BROKEN_QUEUED_TARGET     a wait for a queued item waits only for the
 *                            running batch (g + 1, not (g + 3) & ~1)
 *   BROKEN_NO_FILTER         a wait that finds an odd generation returns
 *                            without checking the running batch
 */
#ifndef NC
#define NC 2
#endif
#ifndef NITER
#define NITER 1
#endif

#define NT (NC + 1)
#define WORKER 0
#define LAST NC /* the client that stops the worker */

#define INCOMING 0   /* q_incoming: the set of queued items */
#define GEN 1        /* q_gen: odd while a batch runs */
#define WAITERS 2    /* q_waiters */
#define SLEEP 3      /* q_sleep */
#define EXIT 4       /* q_exit */
#define FILTER 5     /* q_filter[] (exactly the batch's items) */
#define FILTER_GEN 6 /* q_filter_gen */
#define NVARS 7

/* Client c's item i: bit ITEM(c, i) of the incoming set. */
#define ITEM(c, i) (((c) - 1) * NITER + (i))

#include "memory.pml"

bit qlock;            /* q_lock */
bit done[8];          /* ghost: the function of the item of that bit ran */
bit finished[NT];     /* ghost: client c is done (the join's condition) */
bit worker_exited;    /* ghost: the worker returned (pthread_join) */

/* b_ = the number of the lowest set bit of m_ (m_ != 0). */
inline lowest_bit(m_, b_)
{
	b_ = 0;
	do
	:: (m_ >> b_) & 1 -> break
	:: else -> b_++
	od
}

/* workqueue_enqueue() of item n_ */
inline enqueue(t_, n_, x_)
{
#ifdef BROKEN_ENQUEUE_LOAD_FIRST
	ld(t_, SLEEP, x_);
	rmw_add(t_, INCOMING, (1 << n_), _k2);
	_k2 = 0;
#else
	rmw_add(t_, INCOMING, (1 << n_), x_); /* the CAS (the set lacks item n_) */
	ld(t_, SLEEP, x_); /* seq_cst load (after the locked CAS) */
#endif
	if
	:: x_ != 0 ->
		rmw_xchg(t_, SLEEP, 0, x_);
		if
		:: x_ != 0 -> futex_wake(t_, SLEEP)
		:: else -> skip
		fi
	:: else -> skip
	fi;
	x_ = 0
}

/* wq_wait_gen(): until q_gen reaches target_ (no wrap-around here). */
inline wait_gen(t_, target_, now_)
{
	ld(t_, GEN, now_); /* the spin: acquire */
	if
	:: now_ >= target_ -> skip
	:: else ->
#ifndef BROKEN_NO_WAITERS
		rmw_add(t_, WAITERS, 1, now_);
#endif
		do
		:: ld(t_, GEN, now_); /* seq_cst, after the locked add */
			if
			:: now_ >= target_ -> break
			:: else -> futex_wait(t_, GEN, now_)
			fi
		od
#ifndef BROKEN_NO_WAITERS
		;
		rmw_add(t_, WAITERS, -1, now_)
#endif
	fi;
	now_ = 0
}

/* wq_wait_queue(): item n_ is neither queued nor running at the return. */
inline wait_item(t_, n_, g_, inc_, x_, target_)
{
	target_ = 0;
	mutex_enter(t_, qlock);
	ld(t_, GEN, g_);
	ld(t_, INCOMING, inc_);
	if
	:: (inc_ & (1 << n_)) != 0 ->
#ifdef BROKEN_QUEUED_TARGET
		target_ = g_ + 1
#else
		target_ = (g_ + 3) / 2 * 2
#endif
	:: else ->
		if
		:: g_ % 2 == 1 ->
#ifndef BROKEN_NO_FILTER
			/* wq_filter_maybe() */
			ld(t_, FILTER_GEN, x_);
			if
			:: x_ != g_ -> target_ = g_ + 1 /* not published yet */
			:: else ->
				ld(t_, FILTER, x_);
				if
				:: (x_ & (1 << n_)) != 0 -> target_ = g_ + 1
				:: else -> skip
				fi
			fi
#else
			skip
#endif
		:: else -> skip
		fi
	fi;
	mutex_exit(t_, qlock);
	if
	:: target_ != 0 -> wait_gen(t_, target_, x_)
	:: else -> skip
	fi;
	assert(done[n_]);
	g_ = 0;
	inc_ = 0;
	x_ = 0;
	target_ = 0
}

/* wq_run_batch(); ran_ = 0 when there was nothing to take. */
inline run_batch(batch_, gen_, b_, x_, ran_)
{
	ran_ = 0;
	ld(WORKER, INCOMING, x_); /* the relaxed hint */
	if
	:: x_ != 0 ->
		mutex_enter(WORKER, qlock);
		rmw_xchg(WORKER, INCOMING, 0, batch_); /* acquire exchange */
		if
		:: batch_ != 0 ->
			ld(WORKER, GEN, gen_);
			gen_++;
			st(WORKER, GEN, gen_); /* odd, relaxed, under q_lock */
			st(WORKER, FILTER_GEN, 0);
			mutex_exit(WORKER, qlock);
			st(WORKER, FILTER, batch_); /* relaxed words */
			st(WORKER, FILTER_GEN, gen_); /* release */
			do
			:: batch_ != 0 ->
				lowest_bit(batch_, b_);
				done[b_] = 1; /* the function */
				batch_ = batch_ & ~(1 << b_)
			:: else -> break
			od;
			st(WORKER, GEN, gen_ + 1);
#ifndef BROKEN_BATCH_END_NO_FENCE
			fence(WORKER); /* the seq_cst store */
#endif
			ld(WORKER, WAITERS, x_);
			if
			:: x_ != 0 -> futex_wake(WORKER, GEN)
			:: else -> skip
			fi;
			ran_ = 1
		:: else -> mutex_exit(WORKER, qlock)
		fi
	:: else -> skip
	fi;
	batch_ = 0;
	gen_ = 0;
	b_ = 0;
	x_ = 0
}

/* wq_idle(), without the spin. */
inline idle(x_, y_)
{
	st(WORKER, SLEEP, 1);
#ifndef BROKEN_IDLE_NO_FENCE
	fence(WORKER); /* the seq_cst store */
#endif
	ld(WORKER, INCOMING, x_);
	ld(WORKER, EXIT, y_);
	if
	:: x_ == 0 && y_ == 0 -> futex_wait(WORKER, SLEEP, 1)
	:: else -> skip
	fi;
	st(WORKER, SLEEP, 0); /* relaxed */
	x_ = 0;
	y_ = 0
}

/* wq_stop() */
inline stop(t_)
{
	st(t_, EXIT, 1);
	fence(t_); /* seq_cst store */
	st(t_, SLEEP, 0);
	fence(t_); /* seq_cst store */
	futex_wake(t_, SLEEP)
}

proctype worker()
{
	byte batch, gen, b, x, y, ran;

	do
	::
		run_batch(batch, gen, b, x, ran);
		if
		:: ran -> skip
		:: else ->
			ld(WORKER, EXIT, x); /* relaxed */
			if
			:: x != 0 -> break
			:: else -> idle(x, y)
			fi
		fi
	od;
	fence(WORKER); /* the thread's exit, before the join */
	worker_exited = 1
}

proctype client(byte me)
{
	byte i, g, inc, x, target, c;

	do
	:: i < NITER ->
		enqueue(me, ITEM(me, i), x);
		wait_item(me, ITEM(me, i), g, inc, x, target);
		i++
	:: else -> break
	od;
	if
	:: me != LAST ->
		fence(me); /* the thread's exit, before the join */
		finished[me] = 1
	:: else ->
		c = 1;
		do
		:: c < LAST -> finished[c] == 1; c++
		:: else -> break
		od;
		stop(me);
		worker_exited == 1;
		i = 0;
		do
		:: i < NC * NITER -> assert(done[i]); i++
		:: else -> break
		od
	fi
}

init
{
	byte c;

	atomic {
		run worker();
		c = 1;
		do
		:: c <= NC -> run client(c); c++
		:: else -> break
		od;
		c = 0
	}
}
