/*
 * psref.pml: the destroy protocol of src/psref.c against the acquire and
 * release of include/mpsafe/psref.h, as written, in both ordering modes,
 * over the store-buffer memory model of memory.pml and the grace periods
 * of gp.pml.
 *
 * Threads: NH holders (ids 0..NH-1, which are also the registered
 * readers) and one destroyer (id NH).  One target, object 1, is published
 * in PTR.  A holder runs NITER rounds of: read section, look up PTR, if it
 * found the target psref_acquire() it (its slot := target), leave the
 * section, use the target (a blocking use in the C code), psref_release()
 * it.  The destroyer unpublishes the target (PTR := 0), calls
 * psref_target_destroy() and frees the target.
 *
 * What is modelled of destroy: the draining count raised (seq_cst) before
 * the grace period, mpsafe_gp_wait() (gp.pml, sharing included), the
 * fence after it, the scan loop (load psref_wake, scan the slots, raise
 * psref_sleepers, futex_wait on psref_wake with the value loaded), and the
 * release's store-then-load of the draining count with the barrier of
 * the mode between, then the load of the draining list (the destroyer
 * enters the target there before raising the count; a release wakes only
 * when it finds its target listed), then psref_wake's seq_cst add and the
 * conditional futex_wake.
 *
 * Destroy in two halves (psref_target_destroy_begin(), _end()) is the
 * same protocol: begin raises the count and then takes mpsafe_gp_wait()'s
 * target as its ticket; end waits only while gp_seq has not reached it,
 * the condition mpsafe_gp_wait() itself waits for.  A grace period that
 * another thread completes in between is the case of gp.pml's sharing (a
 * caller that finds the grace period it needs run by another), so it is
 * not modelled separately.  Neither is the draining set's hashing: a
 * release checks one bucket, which holds the target if it is listed.
 *
 * TRYEND: the destroyer ends with psref_target_destroy_tryend() and a
 * condition variable watched through psref_drain_watch(), as the route
 * table's reaper does: after the grace period, the loop of taking the
 * watcher's mutex, scanning (tryend's one scan), and, while a holder
 * remains, the condition wait (which releases the mutex and sleeps in
 * one step); mpsafe_psref_wake() then also broadcasts the watcher's
 * condition variable under its mutex.  The futex sleep is not used.
 *
 * Abstracted away: one slot per holder (the slot search of the fast and
 * slow paths only picks an index), the overflow list and psref_copy
 * (lock-protected, no memory-model subtlety of their own), prt_draining
 * (read only by copies and diagnostic checks), classes, the spins and
 * yields before sleeping (side-effect-free re-loads), thread exit.
 *
 * Safety: assert(!freed[o]) at every use, and at destroy's return
 * assert(no holder holds the target): destroy never returns while a
 * reference is held.  Deadlock freedom (lost wake-ups): end states.
 *
 * Switches: FENCE_MODE, TRYEND, NH (2), NITER (2).  Broken variants:
 *   BROKEN_NO_GP             destroy does not wait for a grace period
 *                            (psref.c, psref_target_destroy: mpsafe_gp_wait())
 *   BROKEN_RELEASE_NO_FENCE  fence mode, no fence between the slot store and
 *                            the draining load (psref.h, psref_release:
 *                            "pairs with the destroyer's fence")
 *   BROKEN_RELEASE_LOAD_FIRST release loads the draining count before it
 *                            empties its slot (psref.h, psref_release: store,
 *                            barrier, then load)
 *   BROKEN_DRAINING_AFTER_GP the draining count is raised after the grace
 *                            period (psref_target_destroy: the seq_cst add
 *                            before mpsafe_gp_wait())
 *   BROKEN_WAKE_AFTER_SCAN   the destroyer reads psref_wake after its scan
 *                            (psref_target_destroy: the acquire load of
 *                            psref_wake comes first)
 *   BROKEN_NO_SLEEPERS       the destroyer sleeps without raising
 *                            psref_sleepers (psref_target_destroy: the
 *                            seq_cst add before mpsafe_futex_wait)
 *   BROKEN_LIST_AFTER_GP     the destroyer enters the target in the
 *                            draining list after the grace period
 *                            (psref_target_destroy: draining_list_add()
 *                            before the count is raised)
 *   BROKEN_WATCH_UNLOCKED    TRYEND: mpsafe_psref_wake() broadcasts the
 *                            watcher's condition variable without its
 *                            mutex
 *   BROKEN_SCAN_UNLOCKED     TRYEND: the watcher scans before it takes
 *                            its mutex (and then waits without scanning
 *                            again)
 * and the read-side variants of gp.pml (e.g. BROKEN_NO_WAIT).
 */
#ifndef NH
#define NH 2
#endif
#ifndef NITER
#define NITER 2
#endif

#define NR NH
#define NT (NH + 1)
#define DESTROYER NH
#define WORD(r) (r)
#define WAITERS(r) (NR + (r))
#define SLOT(h) (2 * NR + (h))     /* holder h's pt_slot[] entry */
#define PTR (3 * NR)               /* where the target is published */
#define DRAINING_ALL (3 * NR + 1) /* mpsafe_psref_draining_all */
#define PSREF_WAKE (3 * NR + 2)   /* psref_wake */
#define SLEEPERS (3 * NR + 3)     /* psref_sleepers */
#define DRAIN_LIST (3 * NR + 4)   /* draining_list[] (one entry) */
#define NVARS (3 * NR + 5)

#define TARGET 1

#include "memory.pml"
#include "gp.pml"

bit freed[2];
bit held[NH]; /* ghost: holder h holds a reference (acquire to release) */
bit wlock;    /* TRYEND: the watcher's mutex */
bit wasleep;  /* TRYEND: the destroyer waits on the watcher's cv */

/* mpsafe_psref_wake() */
inline psref_wake_up(t, x)
{
	rmw_add(t, PSREF_WAKE, 1, x);
	ld(t, SLEEPERS, x); /* seq_cst load (after the locked add) */
	if
	:: x != 0 -> futex_wake(t, PSREF_WAKE)
	:: else -> skip
	fi;
#ifdef TRYEND
	/* the watchers: broadcast each one's cv under its mutex */
#ifdef BROKEN_WATCH_UNLOCKED
	d_step { drain(t); wasleep = 0 }
#else
	mutex_enter(t, wlock);
	wasleep = 0;
	mutex_exit(t, wlock)
#endif
#endif
}

/* anyone_holds(): acquire loads of every slot; any_ = 1 if one holds */
inline scan(any_, h_, x_)
{
	any_ = 0;
	h_ = 0;
	do
	:: h_ < NH ->
		ld(DESTROYER, SLOT(h_), x_);
		if
		:: x_ == TARGET -> any_ = 1
		:: else -> skip
		fi;
		h_++
	:: else -> break
	od;
	h_ = 0
}

proctype holder(byte me)
{
	byte c, x, o, i;

	do
	:: i < NITER ->
		read_enter(me, c);
		ld(me, PTR, o); /* the lookup */
		if
		:: o != 0 ->
			/* psref_acquire: relaxed store of the slot. */
			st(me, SLOT(me), o);
			held[me] = 1;
			read_exit(me, c, x);
			assert(!freed[o]); /* the use, outside the section */
			/* psref_release */
			held[me] = 0;
#ifdef BROKEN_RELEASE_LOAD_FIRST
			ld(me, DRAINING_ALL, x);
			st(me, SLOT(me), 0);
#else
			st(me, SLOT(me), 0); /* release */
#if defined(FENCE_MODE) && !defined(BROKEN_RELEASE_NO_FENCE)
			fence(me); /* pairs with the destroyer's fence */
#endif
			ld(me, DRAINING_ALL, x);
#endif
			if
			:: x != 0 ->
				/* mpsafe_psref_release_draining(TARGET) */
				ld(me, DRAIN_LIST, x);
				if
				:: x == o -> psref_wake_up(me, x)
				:: else -> skip
				fi
			:: else -> skip
			fi
		:: else -> read_exit(me, c, x)
		fi;
		o = 0;
		x = 0;
		i++
	:: else -> break
	od
}

proctype destroyer()
{
	byte target, snap, r, w, now, x, wake, h, any;

	st(DESTROYER, PTR, 0); /* unpublish */
	/* psref_target_destroy(TARGET) */
#ifndef BROKEN_LIST_AFTER_GP
	st(DESTROYER, DRAIN_LIST, TARGET); /* draining_list_add() */
#endif
#ifndef BROKEN_DRAINING_AFTER_GP
	rmw_add(DESTROYER, DRAINING_ALL, 1, x);
#endif
#ifndef BROKEN_NO_GP
	gp_wait(DESTROYER, target, snap, r, w, now, x);
#endif
#ifdef BROKEN_LIST_AFTER_GP
	st(DESTROYER, DRAIN_LIST, TARGET);
#endif
#ifdef BROKEN_DRAINING_AFTER_GP
	rmw_add(DESTROYER, DRAINING_ALL, 1, x);
#endif
	fence(DESTROYER); /* pairs with a releaser's fence */
#ifdef TRYEND
	/* The watcher's loop around psref_target_destroy_tryend(). */
	do
	::
#ifdef BROKEN_SCAN_UNLOCKED
		scan(any, h, x);
		mutex_enter(DESTROYER, wlock);
#else
		mutex_enter(DESTROYER, wlock);
		scan(any, h, x); /* tryend: EBUSY while any */
#endif
		if
		:: any == 0 -> mutex_exit(DESTROYER, wlock); break
		:: else ->
			/* pthread_cond_wait(): unlock and sleep, one step */
			d_step { drain(DESTROYER); wlock = 0; wasleep = 1 };
			!wasleep;
			mutex_enter(DESTROYER, wlock);
			mutex_exit(DESTROYER, wlock)
		fi
	od;
#else
	do
	::
#ifndef BROKEN_WAKE_AFTER_SCAN
		ld(DESTROYER, PSREF_WAKE, wake); /* acquire */
#endif
		scan(any, h, x);
#ifdef BROKEN_WAKE_AFTER_SCAN
		ld(DESTROYER, PSREF_WAKE, wake);
#endif
		if
		:: any == 0 -> break
		:: else -> skip
		fi;
#ifndef BROKEN_NO_SLEEPERS
		rmw_add(DESTROYER, SLEEPERS, 1, x);
#endif
		futex_wait(DESTROYER, PSREF_WAKE, wake);
#ifndef BROKEN_NO_SLEEPERS
		rmw_add(DESTROYER, SLEEPERS, -1, x)
#endif
	od;
#endif
	rmw_add(DESTROYER, DRAINING_ALL, -1, x);
	st(DESTROYER, DRAIN_LIST, 0); /* draining_list_remove() */
	/* destroy returned: nobody may hold the target any more */
	h = 0;
	do
	:: h < NH -> assert(!held[h]); h++
	:: else -> break
	od;
	freed[TARGET] = 1
}

init
{
	byte i;

	atomic {
		mem[PTR] = TARGET;
		i = 0;
		do
		:: i < NH -> run holder(i); i++
		:: else -> break
		od;
		i = 0;
		run destroyer()
	}
}
