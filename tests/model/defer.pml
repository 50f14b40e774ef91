/*
 * defer.pml: the reclaimer's sleep of src/defer.c against defer_push(),
 * as written, over the store-buffer memory model of memory.pml: the
 * "Sleeping" paragraph of defer.c's opening comment.
 *
 * Threads: NP producers (ids 0..NP-1; default 2), each handing NOBJ
 * objects (default 1) to mpsafe_defer(), and the reclaimer (id NP).
 *
 * Modelled: defer_push() (the seq_cst CAS that pushes the object, here
 * an RMW adding its bit to the stack's set; the seq_cst load of
 * reclaimer_idle; if set, under defer_lock the signal of defer_cv);
 * reclaimer_main() (the acquire exchange that takes the whole stack; a
 * batch is run, its grace period and destructors abstracted to a ghost
 * count; with nothing taken, the first time the linger, whose timed wait
 * ends at any moment, the second time the idle path: the seq_cst store
 * of reclaimer_idle = 1, then under defer_lock the loop of the seq_cst
 * load of the stack and the wait on defer_cv, then the relaxed store of
 * 0).  A seq_cst store is a store and a fence; the lock and unlock drain
 * the buffer (locked operations on x86).
 *
 * Abstracted away: the limit and the producers waiting for room, the
 * batch window, barriers and defer_urgent (all of which only signal
 * defer_cv, under the lock), the inline reclamation paths, the stack's
 * links and order (a set of objects), the grace period (pserialize.pml
 * checks it), reclaimer_start() and fork, spurious wake-ups (a re-check
 * under the lock).
 *
 * Safety and liveness: a checker waits, after the producers have
 * finished (a join: a ghost flag after a fence), until every object has
 * been run; an object left on the stack while the reclaimer sleeps (a
 * lost wake-up) leaves the checker blocked for ever, an invalid end
 * state.  The reclaimer's sleep with an empty stack is a valid end state
 * (label end_idle).  No object is run twice (assert).
 *
 * Switches: NP (1 to 3), NOBJ (objects per producer).  Broken variants:
 *   BROKEN_PUSH_LOAD_FIRST  defer_push() loads reclaimer_idle before its
 *                           CAS pushes the object
 *   BROKEN_SIGNAL_UNLOCKED  defer_push() signals defer_cv without
 *                           defer_lock (the signal can fall between the
 *                           reclaimer's check of the stack and its wait)
 *   BROKEN_CHECK_BEFORE_IDLE the reclaimer checks the stack before it
 *                           stores reclaimer_idle = 1 (and sleeps
 *                           without checking again)
 *   BROKEN_IDLE_NO_FENCE    the store of reclaimer_idle = 1 is relaxed:
 *                           verifies on this model, because taking
 *                           defer_lock (a locked instruction) drains the
 *                           buffer before the load of the stack; C11
 *                           gives a lock acquire no such store-load
 *                           order, which is why the code keeps seq_cst
 */
#ifndef NP
#define NP 2
#endif
#ifndef NOBJ
#define NOBJ 1
#endif

#define NT (NP + 1)
#define RECLAIMER NP
#define NOBJS (NP * NOBJ)

#define HEAD 0 /* defer_head: the set of objects on the stack */
#define IDLE 1 /* reclaimer_idle */
#define NVARS 2

#include "memory.pml"

byte ran;         /* ghost: objects whose destructor ran */
byte ran_set;     /* ghost: which (bit per object) */
bit finished[NP]; /* ghost: producer c is done (the join's condition) */
bit dlock;        /* defer_lock */
bit cv_asleep;    /* the reclaimer waits on defer_cv */

/* pthread_cond_signal(&defer_cv): its one waiter is the reclaimer. */
inline cv_signal()
{
	cv_asleep = 0
}

proctype producer(byte me)
{
	byte i, x;

	do
	:: i < NOBJ ->
#ifdef BROKEN_PUSH_LOAD_FIRST
		ld(me, IDLE, x);
		rmw_add(me, HEAD, (1 << (me * NOBJ + i)), _k2);
		_k2 = 0;
#else
		/* The push: a seq_cst CAS (the set lacks the object). */
		rmw_add(me, HEAD, (1 << (me * NOBJ + i)), x);
		ld(me, IDLE, x); /* seq_cst */
#endif
		if
		:: x != 0 ->
#ifdef BROKEN_SIGNAL_UNLOCKED
			d_step { drain(me); cv_signal() }
#else
			mutex_enter(me, dlock);
			cv_signal();
			mutex_exit(me, dlock)
#endif
		:: else -> skip
		fi;
		i++
	:: else -> break
	od;
	fence(me); /* the thread's exit, before the join */
	finished[me] = 1
}

proctype reclaimer()
{
	byte batch, x;
	bit lingered;

	do
	:: rmw_xchg(RECLAIMER, HEAD, 0, batch); /* acquire exchange */
		if
		:: batch != 0 ->
			/* mpsafe_gp_wait(), then the destructors. */
			d_step {
				assert((ran_set & batch) == 0);
				ran_set = ran_set | batch;
				do
				:: batch != 0 ->
					ran = ran + (batch & 1);
					batch = batch >> 1
				:: else -> break
				od
			};
			lingered = 0
		:: batch == 0 && !lingered ->
			/* reclaimer_linger(): a timed wait, over at any time. */
			mutex_enter(RECLAIMER, dlock);
			ld(RECLAIMER, HEAD, x); /* relaxed */
			mutex_exit(RECLAIMER, dlock);
			lingered = 1
		:: batch == 0 && lingered ->
			lingered = 0;
#ifdef BROKEN_CHECK_BEFORE_IDLE
			ld(RECLAIMER, HEAD, x);
			st(RECLAIMER, IDLE, 1);
			fence(RECLAIMER);
			mutex_enter(RECLAIMER, dlock);
			if
			:: x == 0 ->
				d_step { drain(RECLAIMER); dlock = 0; cv_asleep = 1 };
end_idle0:			!cv_asleep;
				mutex_enter(RECLAIMER, dlock)
			:: else -> skip
			fi;
#else
			st(RECLAIMER, IDLE, 1);
#ifndef BROKEN_IDLE_NO_FENCE
			fence(RECLAIMER); /* the seq_cst store */
#endif
			mutex_enter(RECLAIMER, dlock);
			do
			:: ld(RECLAIMER, HEAD, x); /* seq_cst */
				if
				:: x != 0 -> break
				:: else ->
					/* mpsafe_cond_wait(): unlock and sleep */
					d_step {
						drain(RECLAIMER);
						dlock = 0;
						cv_asleep = 1
					};
end_idle:				!cv_asleep;
					mutex_enter(RECLAIMER, dlock)
				fi
			od;
#endif
			mutex_exit(RECLAIMER, dlock);
			st(RECLAIMER, IDLE, 0) /* relaxed */
		fi;
		x = 0
	od
}

/* Every object handed over is run once the producers are done. */
proctype checker()
{
	byte c;

	do
	:: c < NP -> finished[c] == 1; c++
	:: else -> break
	od;
	ran == NOBJS
}

init
{
	byte c;

	atomic {
		run reclaimer();
		c = 0;
		do
		:: c < NP -> run producer(c); c++
		:: else -> break
		od;
		run checker();
		c = 0
	}
}
