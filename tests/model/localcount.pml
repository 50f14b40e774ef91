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
 * TWO_DRAINERS: a second thread calls localcount_drain() on the same
 * count (a contract violation that diagnostic builds report; the other
 * builds wait as the first drain does), once the first has unpublished
 * and performed (ghost flag "performed": the callers' own
 * synchronisation).  Both run the same code: either may win the CAS to
 * DRAINING and fold, the other meets DRAINING or DRAINED and goes to
 * drain_wait().  The first drainer frees the object once both drains
 * have returned (a join).  To keep the search small there is one user
 * (id 0: lookup, acquire, use, release; NR=1), so the drainers are
 * threads 1 and 2; -DNR=2 gives both users (four threads: a safety
 * search of 5.5 million states, and a non-progress search that exceeds
 * the driver's 1 GiB).  The check is that no drainer sleeps for ever
 * (an invalid end state), whichever drain folds and whether its fold or
 * a release reaches zero.
 *
 * Modelled: mpsafe_localcount_adjust() (a read section, nested inside
 * the lookup's for an acquire; the relaxed state load; the relaxed load
 * and store of the thread's counter while ACTIVE; otherwise, after the
 * section, the slow path's acq_rel RMW of lc_total), total_add() and
 * drain_done(lc, by_drainer) (CAS DRAINING->DRAINED; for the drainer's
 * own fold the seq_cst load of dw_sleepers, nothing more if it is 0;
 * then the seq_cst add to dw_seq and the futex wake of every sleeper),
 * localcount_drain() (the relaxed load of the state; the CAS loop
 * ACTIVE->DRAINING, which on DRAINING or DRAINED goes to drain_wait();
 * mpsafe_gp_wait(); the fold that sums and zeroes every thread's
 * counter; the RMW that adds the sum and takes out the bias; positive:
 * drain_wait(), zero: drain_done(lc, true)), drain_wait() (the seq_cst
 * add to dw_sleepers, then the loop: dw_seq, then the state, futex
 * sleep on dw_seq; the subtraction from dw_sleepers at the end).
 *
 * Abstracted away: ids, chunks and their allocation (every thread has its
 * counter), the FRESH and SHARED states (the count starts ACTIVE), the
 * slow path's re-try of the fast path (after a non-ACTIVE state it never
 * sees ACTIVE again: the state never returns to ACTIVE), id_lock (only
 * the drain whose CAS won folds), spurious failures of the drain's weak
 * CAS (a retry that reloads the state), the yields before sleeping, fini,
 * the other counts that share the wait word.  dw_sleepers' relaxed
 * fetch_sub is a locked RMW here, as on x86.  BIAS is 8 (the C code's
 * 2^62 only has to exceed the references ever counted in lc_total before
 * the fold).
 *
 * Safety: assert(!freed[o]) at every use; at every drain's return
 * assert(refs == 0), refs being a ghost count of references held (raised
 * when an acquire starts, lowered when a release starts): drain never
 * returns while the count is above zero; assert that lc_total never goes
 * negative after the fold (the diagnostic "more releases than acquires").
 * Deadlock freedom (lost wake-ups, a drainer never woken): end states.
 *
 * Switches: FENCE_MODE; NO_PERFORM (the caller does not call
 * pserialize_perform() before the drain: see docs/design/verification.md;
 * not with TWO_DRAINERS); TWO_DRAINERS; NR (users, 1 or 2; default 2, 1
 * with TWO_DRAINERS).
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
 *   BROKEN_FOLD_DONE_STORE   a drain whose own fold reaches zero stores
 *                            DRAINED (relaxed) and wakes nobody: the code
 *                            before c4af43f (localcount.c, localcount_drain:
 *                            drain_done(lc, true)); needs TWO_DRAINERS, a
 *                            single drainer has nobody to wake
 *   BROKEN_DONE_SLEEPERS_FIRST  drain_done loads dw_sleepers before its CAS
 *                            (localcount.c, drain_done: CAS, then the load);
 *                            TWO_DRAINERS
 *   BROKEN_SLEEPERS_AFTER_LOADS  drain_wait raises dw_sleepers after its
 *                            first loads of the wait word and the state,
 *                            just before it sleeps (localcount.c,
 *                            drain_wait: the add before the loop);
 *                            TWO_DRAINERS
 */
#define MEMTYPE short

#ifdef TWO_DRAINERS
#ifdef NO_PERFORM
#error "TWO_DRAINERS needs the drain's caller to have unpublished and performed"
#endif
#ifndef NR
#define NR 1 /* one user: the state space of four threads is too large */
#endif
#define NDRAIN 2
#else
#ifndef NR
#define NR 2
#endif
#define NDRAIN 1
#endif
#if NR < 1 || NR > 2
#error "NR: one or two users"
#endif
#define NT (NR + NDRAIN)
#define DRAINER NR        /* unpublishes, performs, drains, frees */
#define DRAINER2 (NR + 1) /* TWO_DRAINERS: a second localcount_drain() */
#define WORD(r) (r)
#define WAITERS(r) (NR + (r))
#define CNT(t) (2 * NR + (t)) /* thread t's counter for the count */
#define PTR (3 * NR)
#define STATE (3 * NR + 1)    /* lc_state */
#define TOTAL (3 * NR + 2)    /* lc_total */
#define DW (3 * NR + 3)       /* dw_seq of the wait word (drain_word(lc)) */
#define SLEEPERS (3 * NR + 4) /* dw_sleepers of the same wait word */
#define NVARS (3 * NR + 5)

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
bit performed;  /* ghost: the object is unpublished, the perform done */
byte returned;  /* ghost: drains that returned */

/*
 * atomic_compare_exchange_*_explicit(seq_cst) that, as the C11 one,
 * writes the value found into exp_ when it fails (memory.pml's rmw_cas
 * does not).  Never fails spuriously (see "Abstracted away").
 */
inline rmw_cas_fetch(tid_, var_, exp_, new_, ok_)
{
	d_step {
		drain(tid_);
		if
		:: mem[var_] == exp_ -> mem[var_] = new_; ok_ = 1
		:: else -> exp_ = mem[var_]; ok_ = 0
		fi
	}
}

/*
 * drain_done(lc, by_drainer): the count reached zero after the fold.  The
 * seq_cst load of dw_sleepers is a plain load here (x86: the CAS before
 * it drained the buffer).
 */
inline drain_done(t, by_drainer, ok, x)
{
#ifdef BROKEN_DONE_WAKE_FIRST
	rmw_add(t, DW, 1, x);
#endif
#ifdef BROKEN_DONE_SLEEPERS_FIRST
	if
	:: by_drainer -> ld(t, SLEEPERS, x)
	:: else -> x = 1
	fi;
#endif
	rmw_cas(t, STATE, DRAINING, DRAINED, ok);
	if
	:: ok ->
#ifndef BROKEN_DONE_SLEEPERS_FIRST
		if
		:: by_drainer -> ld(t, SLEEPERS, x) /* seq_cst */
		:: else -> x = 1                    /* a release: always wake */
		fi;
#endif
		if
		:: x != 0 ->
#ifndef BROKEN_DONE_WAKE_FIRST
			rmw_add(t, DW, 1, x);
#endif
			futex_wake(t, DW)
		:: else -> skip
		fi
	:: else -> skip
	fi;
	ok = 0;
	x = 0
}

/* total_add(): the slow path's RMW of lc_total. */
inline total_add(t, delta, v, ok, x)
{
	rmw_add(t, TOTAL, delta, v);
	v = v + delta;
	if
	:: v > 0 -> skip
	:: v == 0 -> drain_done(t, 0, ok, x)
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
	:: NR > 1 && me == 0 ->
		handoff ! o /* user 1 releases it */
	:: else ->
		if
		:: o != 0 ->
			refs--;
			lc_adjust(me, -1, c2, s, v, ok, x) /* localcount_release */
		:: else -> skip
		fi;
		if
		:: NR > 1 ->
			handoff ? o;
			if
			:: o != 0 ->
				assert(!freed[o]);
				refs--;
				lc_adjust(me, -1, c2, s, v, ok, x)
			:: else -> skip
			fi
		:: else -> skip
		fi
	fi;
	o = 0
}

/* drain_wait(lc): sleep until the count is DRAINED. */
inline drain_wait(t, seq, s, x)
{
#ifdef BROKEN_SLEEPERS_AFTER_LOADS
	ld(t, DW, seq);
	ld(t, STATE, s);
	rmw_add(t, SLEEPERS, 1, x);
	if
	:: s == DRAINED -> skip
	:: else -> futex_wait(t, DW, seq)
	fi;
#else
	rmw_add(t, SLEEPERS, 1, x); /* seq_cst, before the loads */
#endif
	do
	::
#ifdef BROKEN_DRAIN_WAIT_ORDER
		ld(t, STATE, s);
		ld(t, DW, seq);
#else
		ld(t, DW, seq);  /* seq_cst */
		ld(t, STATE, s); /* seq_cst */
#endif
		if
		:: s == DRAINED -> break
		:: else -> futex_wait(t, DW, seq)
		fi
	od;
	rmw_add(t, SLEEPERS, -1, x); /* relaxed fetch_sub: a locked sub on x86 */
	seq = 0;
	s = 0;
	x = 0
}

/* localcount_drain(lc) on thread t, for a count that starts ACTIVE. */
inline lc_drain(t, s, ok, v, sum, i, seq, x, target, snap, r, w, now)
{
	ld(t, STATE, s); /* relaxed: the CAS decides */
	do
	:: s == ACTIVE ->
		rmw_cas_fetch(t, STATE, s, DRAINING, ok);
		if
		:: ok -> break
		:: else -> skip /* s: the state the CAS found */
		fi
	:: s == DRAINING || s == DRAINED ->
		break /* a second drain: other builds wait as the first */
	od;
	if
	:: ok ->
		ok = 0;
		s = 0;
#ifndef BROKEN_NO_DRAIN_GP
		gp_wait(t, target, snap, r, w, now, x);
#endif
		/* fold_counters(): sum and zero every thread's counter */
		sum = 0;
		i = 0;
		do
		:: i < NR ->
			ld(t, CNT(i), v);
			sum = sum + v;
			st(t, CNT(i), 0);
			i++
		:: else -> break
		od;
		i = 0;
		rmw_add(t, TOTAL, sum - BIAS, v);
		v = v + sum - BIAS;
		sum = 0;
		if
		:: v > 0 -> drain_wait(t, seq, s, x)
		:: v == 0 ->
			/* this drain's own RMW reached zero */
#ifdef BROKEN_FOLD_DONE_STORE
			st(t, STATE, DRAINED) /* the relaxed store of c4af43f^ */
#else
			drain_done(t, 1, ok, x)
#endif
		:: else -> assert(false) /* more releases than acquires */
		fi;
		v = 0
	:: else -> drain_wait(t, seq, s, x)
	fi;
	/* drain returned: no reference may be held */
	assert(refs == 0);
	returned++
}

proctype drainer(byte me)
{
	byte target, snap, r, w, now, x, ok, i, seq, s;
	short v, sum;

	if
	:: me == DRAINER ->
		st(me, PTR, 0); /* unpublish */
#ifndef NO_PERFORM
		gp_wait(me, target, snap, r, w, now, x); /* pserialize_perform */
#endif
		performed = 1
	:: else -> performed /* a second drainer: once the object is gone */
	fi;
	lc_drain(me, s, ok, v, sum, i, seq, x, target, snap, r, w, now);
	if
	:: me == DRAINER ->
		returned == NDRAIN; /* join the second drainer, then free */
		freed[OBJ] = 1
	:: else -> skip
	fi
}

init
{
	atomic {
		mem[PTR] = OBJ;
		mem[STATE] = ACTIVE;
		mem[TOTAL] = BIAS;
		run user(0);
#if NR > 1
		run user(1);
#endif
		run drainer(DRAINER);
#ifdef TWO_DRAINERS
		run drainer(DRAINER2)
#endif
	}
}
