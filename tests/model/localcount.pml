/*
 * localcount.pml: localcount_drain() of src/localcount.c against the
 * acquire and release of include/mpsafe/localcount.h, as written, in both
 * ordering modes, over the store-buffer memory model of memory.pml and
 * the grace periods of gp.pml.
 *
 * Threads: two users (ids 0 and 1, the registered readers) and a drainer
 * (id 2).  The object (1) is published in PTR.  User 0: a read section
 * that looks the object up and localcount_acquire()s it, then hands the
 * reference to user 1 (a channel: references are anonymous).  User 1:
 * the same lookup and acquire, a use, a release; then it receives user
 * 0's reference, uses it and releases it on its own thread, so that the
 * per-thread counters go +1 and -1 on different threads.  The drainer
 * unpublishes the object, pserialize_perform()s, localcount_drain()s and
 * frees the object.
 *
 * Modelled: mpsafe_localcount_adjust() (a read section, nested inside
 * the lookup's for an acquire; the relaxed state load; the relaxed load
 * and store of the thread's counter while ACTIVE; otherwise, after the
 * section, the slow path's acq_rel RMW of lc_total), total_add() and
 * drain_done() (CAS DRAINING->DRAINED, then the wait word's add and futex
 * wake), drain
 * (CAS ACTIVE->DRAINING, mpsafe_gp_wait(), the fold that sums and zeroes
 * every thread's counter, the RMW that takes out the bias, drain_wait()'s
 * word-then-state loads and futex sleep).
 *
 * Abstracted away: ids, chunks and their allocation (every thread has its
 * counter), the FRESH and SHARED states (the count starts ACTIVE), the
 * slow path's re-try of the fast path (after a non-ACTIVE state it never
 * sees ACTIVE again: the state never returns to ACTIVE), id_lock (one
 * drainer), the yields before sleeping, fini.  BIAS is 8 (the C code's
 * 2^62 only has to exceed the references ever counted in lc_total before
 * the fold).
 *
 * Safety: assert(!freed[o]) at every use; at drain's return
 * assert(refs == 0), refs being a ghost count of references held (raised
 * when an acquire starts, lowered when a release starts): drain never
 * returns while the count is above zero; assert that lc_total never goes
 * negative after the fold (the diagnostic "more releases than acquires").
 * Deadlock freedom (lost wake-ups): end states.
 *
 * Switches: FENCE_MODE; NO_PERFORM (the caller does not call
 * pserialize_perform() before the drain: see docs/design/verification.md).
 * Broken variants:
 *   BROKEN_NO_DRAIN_GP       drain folds right after its CAS, without the
 *                            grace period (localcount.c, localcount_drain:
 *                            mpsafe_gp_wait() after the CAS)
 *   BROKEN_NO_READ_SECTION   acquire and release update the counter outside
 *                            a read section (localcount.h,
 *                            mpsafe_localcount_adjust: pserialize_read_enter)
 *   BROKEN_DRAIN_WAIT_ORDER  drain_wait loads the state before the wait word
 *                            (localcount.c, drain_wait: word, then state)
 *   BROKEN_DONE_WAKE_FIRST   drain_done bumps the wait word before its CAS
 *                            to DRAINED (localcount.c, drain_done: CAS, then
 *                            the add)
 */
#define MEMTYPE short

#define NR 2
#define NT 3
#define DRAINER 2
#define WORD(r) (r)
#define WAITERS(r) (NR + (r))
#define CNT(t) (2 * NR + (t)) /* thread t's counter for the count */
#define PTR (3 * NR)
#define STATE (3 * NR + 1) /* lc_state */
#define TOTAL (3 * NR + 2) /* lc_total */
#define DW (3 * NR + 3)    /* the drain wait word (drain_word(lc)) */
#define NVARS (3 * NR + 4)

#define OBJ 1
#define BIAS 8
#define ACTIVE 1
#define DRAINING 2
#define DRAINED 3

#include "memory.pml"
#include "gp.pml"

bit freed[2];
byte refs; /* ghost: references held */
chan handoff = [1] of { byte };

/* drain_done(): the count reached zero after the fold. */
inline drain_done(t, ok, x)
{
#ifdef BROKEN_DONE_WAKE_FIRST
	rmw_add(t, DW, 1, x);
	rmw_cas(t, STATE, DRAINING, DRAINED, ok);
	if
	:: ok -> futex_wake(t, DW)
	:: else -> skip
	fi;
#else
	rmw_cas(t, STATE, DRAINING, DRAINED, ok);
	if
	:: ok ->
		rmw_add(t, DW, 1, x);
		futex_wake(t, DW)
	:: else -> skip
	fi;
#endif
	ok = 0
}

/* total_add(): the slow path's RMW of lc_total. */
inline total_add(t, delta, v, ok, x)
{
	rmw_add(t, TOTAL, delta, v);
	v = v + delta;
	if
	:: v > 0 -> skip
	:: v == 0 -> drain_done(t, ok, x)
	:: else -> assert(false) /* more releases than acquires */
	fi;
	v = 0
}

/* mpsafe_localcount_adjust(lc, delta) on thread t. */
inline lc_adjust(t, delta, c, s, v, ok, x)
{
#ifndef BROKEN_NO_READ_SECTION
	read_enter(t, c);
#endif
	ld(t, STATE, s); /* relaxed */
	if
	:: s == ACTIVE ->
		ld(t, CNT(t), v); /* relaxed load and store: owner only */
		st(t, CNT(t), v + delta);
#ifndef BROKEN_NO_READ_SECTION
		read_exit(t, c, x);
#endif
		skip
	:: else ->
#ifndef BROKEN_NO_READ_SECTION
		read_exit(t, c, x);
#endif
		/* mpsafe_localcount_adjust_slow: DRAINING or DRAINED */
		total_add(t, delta, v, ok, x)
	fi;
	s = 0;
	v = 0
}

proctype user(byte me)
{
	byte c, c2, s, ok, x, o;
	short v;

	read_enter(me, c);
	ld(me, PTR, o); /* the lookup */
	if
	:: o != 0 ->
		refs++;
		lc_adjust(me, 1, c2, s, v, ok, x); /* localcount_acquire */
		read_exit(me, c, x);
		assert(!freed[o]) /* the use */
	:: else -> read_exit(me, c, x)
	fi;
	if
	:: me == 0 ->
		handoff ! o /* user 1 releases it */
	:: else ->
		if
		:: o != 0 ->
			refs--;
			lc_adjust(me, -1, c2, s, v, ok, x) /* localcount_release */
		:: else -> skip
		fi;
		handoff ? o;
		if
		:: o != 0 ->
			assert(!freed[o]);
			refs--;
			lc_adjust(me, -1, c2, s, v, ok, x)
		:: else -> skip
		fi
	fi;
	o = 0
}

proctype drainer()
{
	byte target, snap, r, w, now, x, ok, t, seq, s;
	short v, sum;

	st(DRAINER, PTR, 0); /* unpublish */
#ifndef NO_PERFORM
	gp_wait(DRAINER, target, snap, r, w, now, x); /* pserialize_perform */
#endif
	/* localcount_drain() */
	rmw_cas(DRAINER, STATE, ACTIVE, DRAINING, ok);
	assert(ok);
	ok = 0;
#ifndef BROKEN_NO_DRAIN_GP
	gp_wait(DRAINER, target, snap, r, w, now, x);
#endif
	/* fold_counters(): sum and zero every thread's counter */
	sum = 0;
	t = 0;
	do
	:: t < NR ->
		ld(DRAINER, CNT(t), v);
		sum = sum + v;
		st(DRAINER, CNT(t), 0);
		t++
	:: else -> break
	od;
	t = 0;
	rmw_add(DRAINER, TOTAL, sum - BIAS, v);
	v = v + sum - BIAS;
	sum = 0;
	if
	:: v > 0 ->
		/* drain_wait() */
		do
		::
#ifdef BROKEN_DRAIN_WAIT_ORDER
			ld(DRAINER, STATE, s);
			ld(DRAINER, DW, seq);
#else
			ld(DRAINER, DW, seq); /* seq_cst */
			ld(DRAINER, STATE, s); /* seq_cst */
#endif
			if
			:: s == DRAINED -> break
			:: else -> futex_wait(DRAINER, DW, seq)
			fi
		od
	:: v == 0 -> st(DRAINER, STATE, DRAINED)
	:: else -> assert(false) /* more releases than acquires */
	fi;
	v = 0;
	/* drain returned: no reference may be held */
	assert(refs == 0);
	freed[OBJ] = 1
}

init
{
	atomic {
		mem[PTR] = OBJ;
		mem[STATE] = ACTIVE;
		mem[TOTAL] = BIAS;
		run user(0);
		run user(1);
		run drainer()
	}
}
