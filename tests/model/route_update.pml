/*
 * route_update.pml: a lookup that waits for an RTM_CHANGE of its entry
 * to end (rt_lookup_hold()'s RTF_UPDATING path and rt_update_wait() of
 * src/net/route.c) against the change's end (rt_change(): the clear of
 * RTF_UPDATING, the advance of t_changes_done, rt_update_wake()), as
 * written, over the store-buffer memory model of memory.pml: the
 * waiters' paragraph of route.c's "RTM_CHANGE" comment.
 *
 * Threads: the changer (id 0) makes NCHG changes of one entry (default
 * 2); NW waiters (ids 1..NW, default 2) each make one blocking lookup of
 * it.
 *
 * Modelled: the change's start (the compare-and-swap that sets
 * RTF_UPDATING, a locked RMW), its end (the release compare-and-swap
 * that clears it, the seq_cst fetch_add of t_changes_done, the writer
 * lock's release), then rt_update_wake() (the seq_cst load of
 * rt_update_waiters and, if not 0, the broadcast of rt_wait_cv under
 * rt_wait_lock).  The lookup: in the read side, the entry's flags (the
 * fast path's acquire load); set, the slow path's seq_cst loads of
 * t_changes_done and then of the flags again; still set, rt_update_wait()
 * (the seq_cst fetch_add of rt_update_waiters, under rt_wait_lock the
 * loop of the seq_cst load of t_changes_done and the wait, the
 * relaxed fetch_sub), and the lookup again.  Every RMW is a locked
 * instruction (drains the buffer), as on x86; so are the locks.
 *
 * Abstracted away: the trie and the entry's other fields, the
 * changer's wait for readers (a grace period, psrefs and counts: the
 * waiters here are outside the read side while they wait), the
 * generation, RTF_READ marks, other tables and entries sharing
 * rt_wait_cv (a broadcast for another reason only wakes a waiter that
 * re-checks), spurious wake-ups.
 *
 * Liveness: every lookup returns (an entry with RTF_UPDATING clear) once
 * the changes are over; a waiter asleep for ever is an invalid end
 * state.  Safety: a lookup returns only on a clear flag (assert).
 *
 * Switches: NCHG, NW (1 to 3).  Broken variants:
 *   BROKEN_FLAG_BEFORE_DONE  the slow path loads t_changes_done after
 *                            its last load of the flags (the change may
 *                            end between them: it then waits for a
 *                            change that never comes)
 *   BROKEN_WAKE_FIRST        the change loads rt_update_waiters before
 *                            it advances t_changes_done
 *   BROKEN_NO_WAITERS        rt_update_wait() sleeps without counting
 *                            itself in rt_update_waiters
 *   BROKEN_WAKE_UNLOCKED     rt_update_wake() broadcasts without
 *                            rt_wait_lock
 */
#ifndef NCHG
#define NCHG 2
#endif
#ifndef NW
#define NW 2
#endif

#define NT (NW + 1)
#define CHANGER 0

#define FLAGS 0   /* the entry's rt_flags: bit 1 is RTF_UPDATING */
#define DONE 1    /* t_changes_done */
#define WAITERS 2 /* rt_update_waiters */
#define NVARS 3

#define UPDATING 1

#include "memory.pml"

bit wlock;      /* rt_wait_lock */
bit cv_wait[NT]; /* asleep on rt_wait_cv */

/* pthread_cond_broadcast(&rt_wait_cv) */
inline cv_broadcast()
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

/* mem[v_] = (mem[v_] & ~clr_) | set_ (a locked compare-and-swap loop) */
inline rmw_bits(t_, v_, set_, clr_)
{
	d_step { drain(t_); mem[v_] = (mem[v_] & ~clr_) | set_ }
}

proctype changer()
{
	byte n, x;

	do
	:: n < NCHG ->
		rmw_bits(CHANGER, FLAGS, UPDATING, 0); /* under the writer lock */
		/* ... wait for readers, change the fields ... */
		rmw_bits(CHANGER, FLAGS, 0, UPDATING); /* release CAS */
#ifdef BROKEN_WAKE_FIRST
		ld(CHANGER, WAITERS, x);
		rmw_add(CHANGER, DONE, 1, _k2);
		_k2 = 0;
#else
		rmw_add(CHANGER, DONE, 1, x); /* seq_cst */
		ld(CHANGER, WAITERS, x);      /* seq_cst */
#endif
		if
		:: x != 0 ->
#ifdef BROKEN_WAKE_UNLOCKED
			d_step { drain(CHANGER); cv_broadcast() }
#else
			mutex_enter(CHANGER, wlock);
			cv_broadcast();
			mutex_exit(CHANGER, wlock)
#endif
		:: else -> skip
		fi;
		n++
	:: else -> break
	od
}

/* rt_update_wait(done_) */
inline update_wait(me_, done_, x_)
{
#ifndef BROKEN_NO_WAITERS
	rmw_add(me_, WAITERS, 1, x_);
#endif
	mutex_enter(me_, wlock);
	do
	:: ld(me_, DONE, x_);
		if
		:: x_ != done_ -> break
		:: else ->
			/* mpsafe_cond_wait(): unlock and sleep */
			d_step { drain(me_); wlock = 0; cv_wait[me_] = 1 };
			!cv_wait[me_];
			mutex_enter(me_, wlock)
		fi
	od;
	mutex_exit(me_, wlock);
#ifndef BROKEN_NO_WAITERS
	rmw_add(me_, WAITERS, -1, x_);
#endif
	x_ = 0
}

proctype waiter(byte me)
{
	byte fl, done, x;

	do
	:: ld(me, FLAGS, fl); /* the lookup's load of the flags */
		if
		:: (fl & UPDATING) == 0 -> break
		:: else ->
#ifdef BROKEN_FLAG_BEFORE_DONE
			ld(me, DONE, done)
#else
			ld(me, DONE, done); /* seq_cst */
			ld(me, FLAGS, fl)   /* seq_cst: again */
#endif
			;
			if
			:: fl & UPDATING -> update_wait(me, done, x)
			:: else -> skip
			fi
		fi
	od;
	assert((fl & UPDATING) == 0) /* the entry, not under change */
}

init
{
	byte c;

	atomic {
		run changer();
		c = 1;
		do
		:: c <= NW -> run waiter(c); c++
		:: else -> break
		od;
		c = 0
	}
}
