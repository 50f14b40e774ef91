/*
 * gp.pml: read sections (include/mpsafe/pserialize.h) and grace periods
 * (src/pserialize.c: gp_barrier, gp_run, gp_wait_reader, mpsafe_gp_wait)
 * as written, over the memory model of memory.pml.  Shared by the
 * pserialize, psref and localcount models.
 *
 * The including model defines NR (threads 0..NR-1 have read words; the
 * registry is these NR records, registration is not modelled), the
 * variable indices WORD(r) and WAITERS(r) (mr_word, mr_waiters), and
 * includes memory.pml first.  FENCE_MODE selects the fence ordering mode
 * (default: membarrier mode).
 *
 * mr_word: depth in bits 0-1 (MPSAFE_READ_NEST), generation above
 * (MPSAFE_READ_GEN_ONE); the fence-mode bit is the compile-time switch.
 *
 * Broken variants of this file (see pserialize.pml for what each is):
 * BROKEN_NO_WAIT, BROKEN_NO_MEMBARRIER, BROKEN_NO_ENTER_FENCE,
 * BROKEN_NO_EXIT_FENCE, BROKEN_NO_WAITER_BARRIER, BROKEN_WAKE_BEFORE_STORE,
 * BROKEN_NESTED_GEN, BROKEN_SHARE.
 */
#define DEPTH 3
#define GEN_ONE 4
#define GEN(w) ((w) / GEN_ONE)

/* gp_lock, gp_cv and gp_seq of src/pserialize.c (under gp_lock: SC). */
bit gp_lock;
byte gp_seq;
byte cv_seq; /* broadcasts of gp_cv so far */

/* ---- read side: include/mpsafe/pserialize.h ---------------------------- */

/* pserialize_read_enter() of thread t; the cookie (new word) into c. */
inline read_enter(t, c)
{
	ld(t, WORD(t), c);
	if
	:: (c & DEPTH) == 0 ->
		/* Outermost: a new generation, depth 1. */
		c = c + GEN_ONE + 1;
		st(t, WORD(t), c);
#if defined(FENCE_MODE) && !defined(BROKEN_NO_ENTER_FENCE)
		fence(t) /* pairs with the scan's fence */
#else
		skip /* compiler barrier: pairs with membarrier() */
#endif
	:: else ->
		/* Nested: depth only. */
#ifdef BROKEN_NESTED_GEN
		c = c + GEN_ONE + 1;
#else
		c = c + 1;
#endif
		st(t, WORD(t), c)
	fi
}

/* pserialize_read_exit(c) of thread t; x is scratch. */
inline read_exit(t, c, x)
{
#ifdef BROKEN_WAKE_BEFORE_STORE
	ld(t, WAITERS(t), x);
	st(t, WORD(t), c - 1);
#else
	st(t, WORD(t), c - 1); /* release */
#endif
	if
	:: (c & DEPTH) == 1 ->
#if defined(FENCE_MODE) && !defined(BROKEN_NO_EXIT_FENCE)
		fence(t); /* pairs with the waiter's fence */
#endif
#ifndef BROKEN_WAKE_BEFORE_STORE
		ld(t, WAITERS(t), x);
#endif
		if
		:: x != 0 -> futex_wake(t, WORD(t))
		:: else -> skip
		fi;
		x = 0
	:: else -> skip /* nested */
	fi
}

/* ---- grace periods: src/pserialize.c ----------------------------------- */

inline gp_barrier(t)
{
#if defined(FENCE_MODE) || defined(BROKEN_NO_MEMBARRIER)
	fence(t)
#else
	membarrier(t)
#endif
}

#define ENDED(w, now) (((now) & DEPTH) == 0 || GEN(now) != GEN(w))

/*
 * gp_wait_reader(): the spins and yields of the C code only re-load the
 * word without side effects; a load that sees the section ended is
 * modelled by the first load below happening that late, so they are left
 * out.
 */
inline gp_wait_reader(t, r, w, now, x)
{
	ld(t, WORD(r), now); /* acquire */
	if
	:: ENDED(w, now) -> skip
	:: else ->
		rmw_add(t, WAITERS(r), 1, x);
#ifndef BROKEN_NO_WAITER_BARRIER
		gp_barrier(t);
#endif
		do
		:: ld(t, WORD(r), now);
			if
			:: ENDED(w, now) -> break
			:: else -> futex_wait(t, WORD(r), now)
			fi
		od;
		rmw_add(t, WAITERS(r), -1, x)
	fi;
	now = 0;
	x = 0
}

/* gp_run(): one barrier, then wait for every reader seen in a section. */
inline gp_run(t, r, w, now, x)
{
	gp_barrier(t);
#ifndef BROKEN_NO_WAIT
	r = 0;
	do
	:: r < NR ->
		ld(t, WORD(r), w); /* acquire */
		if
		:: (w & DEPTH) != 0 -> gp_wait_reader(t, r, w, now, x)
		:: else -> skip
		fi;
		r++
	:: else -> break
	od;
	r = 0;
	w = 0
#endif
}

/* pthread_mutex_lock/unlock(&gp_lock): full barriers (locked ops). */
/* pthread_cond_wait(&gp_cv, &gp_lock): unlock and sleep, atomically. */
inline gp_cv_wait(t, snap)
{
	d_step { drain(t); snap = cv_seq; gp_lock = 0 };
	d_step { cv_seq != snap && gp_lock == 0 -> gp_lock = 1; snap = 0 }
}

/* mpsafe_gp_wait(): sharing grace periods through gp_seq. */
inline gp_wait(t, target, snap, r, w, now, x)
{
	mutex_enter(t, gp_lock);
#ifdef BROKEN_SHARE
	target = (gp_seq + 1) / 2 * 2;
#else
	target = (gp_seq + 3) / 2 * 2;
#endif
	do
	:: gp_seq >= target -> break
	:: else ->
		if
		:: gp_seq % 2 == 1 -> gp_cv_wait(t, snap)
		:: else ->
			gp_seq++;
			mutex_exit(t, gp_lock);
			gp_run(t, r, w, now, x);
			mutex_enter(t, gp_lock);
			gp_seq++;
			cv_seq++ /* pthread_cond_broadcast(&gp_cv) */
		fi
	od;
	mutex_exit(t, gp_lock);
	target = 0
}

