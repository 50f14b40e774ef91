/*
 * route_reap.pml: the routing table's reaper (src/net/route.c, the
 * "Reaping" and "Waiting for counts" paragraphs of its file comment) as
 * written: deleters hand unlinked entries to it (rt_reap()), it runs as
 * a work item (rt_reap_work()), takes the list, holds back the entries
 * still counted or still held by a psref (rt_reap_batch(),
 * rt_reap_unstick(), rt_reap_drains()), sleeps on rt_wait_cv while it
 * holds some back (rt_reap_wait()), lingers for more work before it
 * ends, and rt_table_destroy() stops its lingering.  Against it: the
 * holders' rt_unref() (the count word's read-modify-write, a broadcast
 * when it shows a wait) and psref_release() of a draining target (the
 * drain watch's broadcast under rt_wait_lock).
 *
 * Entries 0 .. NE-1 (NE at most 3), each deleted once, in order, by one
 * deleter (rt_delete() with MPSAFE_RTM_F_NOWAIT, or asking for the
 * entry back).  HCOUNT and HPSREF are bit masks of the entries that a
 * holder keeps a count on (taken before the delete) and a psref on; each
 * holder lets go once, at any moment.  PIN: entry 0's count is never
 * released (a caller that keeps an rtalloc1() result), so entry 0 must
 * stay and every other entry must still be freed ("an entry held for
 * long holds back only itself").  CONVERT: the psref holders take a
 * count from their psref (rt_ref()) before they release it and drop it
 * later (step 4's reason).  KICK (RT_REAP_KICK, default 2) and DRAINS
 * (RT_REAP_DRAINS, default 2; 0: every psref-held entry is waited for
 * in the batch).  DESTROY: rt_table_destroy() after the deleter: the
 * flush, then workqueue_destroy()'s wait for the reaper, after which
 * every deleted entry must be freed.
 *
 * Modelled: t_reap_lock and rt_wait_lock (bits; lock order rt_wait_lock
 * then t_reap_lock), t_reap_cv and rt_wait_cv (only the reaper sleeps on
 * them here; a signal or broadcast clears its sleep bit), the timed
 * waits of lingering (the timeout may end them at any moment), the
 * workqueue (one item, one worker: an enqueue sets `queued`, the worker
 * takes it and runs rt_reap_work(); enqueueing a queued item would be a
 * bug and is asserted against), the count word (count and wait bits
 * changed in one step, as its read-modify-writes), the reaper's lists as
 * bit masks.
 *
 * Abstracted away: the trie, the hash and the writer lock (the unlink
 * happened before rt_reap()); the grace period between a drain's begin
 * and its tryend (no psref can be taken after the unlink in this model:
 * the holders took theirs before); psref's own protocol (a release
 * empties the slot and, for a draining target, broadcasts under
 * rt_wait_lock; tryend is a check of that slot: psref.pml checks the
 * pairing with its store buffers, TRYEND); psref_target_destroy_end() in
 * the batch past DRAINS is a wait for the slot to empty, which psref.pml
 * checks; other rt_wait_cv sleepers (a broadcast only wakes more);
 * spurious wake-ups (each sleep here is in a loop that checks again).
 *
 * Memory: sequentially consistent.  Every shared word is read and
 * written under one of the two locks, or is a count word changed only
 * by read-modify-writes and read with seq_cst loads, or is psref's (see
 * above); the model checks the sleep and wake-up protocol over every
 * interleaving.
 *
 * Safety (assert): an entry is freed only with no count, no psref and
 * its drain begun, once; no holder touches a freed entry; no double
 * enqueue.  Liveness: once the deleter and the holders are done, the
 * reaper either has ended with t_reap_active clear or sleeps on
 * rt_wait_cv with no timeout (then only for a pinned entry), and every
 * deleted entry but a pinned one is freed; the invariant "the list is
 * empty or t_reap_active is set" holds.  A sleep with no timeout that
 * nothing ends is an error only through that check (it is a valid end
 * state with PIN); a thread blocked anywhere else is an invalid end
 * state.
 *
 * Broken variants:
 *   BROKEN_NO_RECOUNT      rt_reap_wait() decides to sleep without loading
 *                          the held-back entries' counts again
 *   BROKEN_STICK_NO_WAIT   rt_reap_stick() registers no wait (rt_unref()
 *                          then never broadcasts)
 *   BROKEN_DRAINS_UNLOCKED rt_reap_wait() looks at the psref drains
 *                          before it takes rt_wait_lock
 *   BROKEN_KICK_REAP_CV    rt_reap() wakes a sleeping reaper on t_reap_cv
 *                          even when it sleeps on rt_wait_cv (with PIN)
 *   BROKEN_LOCK_ORDER      rt_reap() broadcasts rt_wait_cv with
 *                          t_reap_lock still held
 *   BROKEN_INACTIVE_LATE   the reaper clears t_reap_active after it lets
 *                          go of t_reap_lock
 */
#ifndef NE
#define NE 2
#endif
#ifndef HCOUNT
#define HCOUNT 1 /* entry 0 is counted */
#endif
#ifndef HPSREF
#define HPSREF 2 /* entry 1 is held by a psref */
#endif
#ifndef KICK
#define KICK 2
#endif
#ifndef DRAINS
#define DRAINS 2
#endif

#define MAXE 3
#define BIT(e) (1 << (e))
#ifdef PIN
#define PINNED(e) ((e) == 0)
#else
#define PINNED(e) 0
#endif

/* t_reap_sleep */
#define AWAKE 0
#define LINGER 1
#define IDLE 2

/* Entries: the count word (count, registered waits), psref, life. */
byte cnt[MAXE];
byte waits[MAXE];
bit ps[MAXE];      /* a psref holder's slot names the entry */
bit begun[MAXE];   /* psref_target_destroy_begin() done */
bit deleted[MAXE]; /* handed to the reaper */
bit freed[MAXE];

/* The table's reaper state (t_reap_lock) and the two locks. */
bit reap_lock, wait_lock;
byte list;   /* t_reap_list, a mask */
byte rcount; /* t_reap_count */
bit reap_active; /* t_reap_active */
bit flush;   /* t_reap_flush */
byte sleepst; /* t_reap_sleep */
bit on_counts; /* t_reap_on_counts */

/* The reaper asleep on t_reap_cv / on rt_wait_cv (cleared by wakes). */
bit reap_cv_sleep, wait_cv_sleep;
bit untimed; /* ghost: the rt_wait_cv sleep is one with no timeout */

/* The workqueue: the item queued, the worker running it. */
bit queued, running;

/* Done: the deleter, the holders, the destroyer; nproc of them. */
byte ndone, nproc;
bit deleter_done;

inline lock(m)
{
	atomic { m == 0 -> m = 1 }
}

inline unlock(m)
{
	m = 0
}

/* pthread_cond_broadcast(&rt_wait_cv) under rt_wait_lock */
inline wake_counts()
{
	lock(wait_lock);
	wait_cv_sleep = 0;
	unlock(wait_lock)
}

/* rt_reap_kicked(t, lingering) (t_reap_lock held) */
#define KICKED(lg) (list != 0 && (!(lg) || rcount >= KICK || flush))

/* Step 5: rt_free_entry(). */
inline free_entry(x)
{
	d_step {
		assert(cnt[x] == 0 && ps[x] == 0 && begun[x] && !freed[x]);
		freed[x] = 1
	}
}

/* rt_reap_stick(): rt_wait_enter() (an RMW of the count word), listed. */
inline stick(x, lst)
{
	d_step {
#ifndef BROKEN_STICK_NO_WAIT
		waits[x]++;
#endif
		lst = lst | BIT(x)
	}
}

/* rt_reap_drained_entry(): steps 4 and 5, or wait on late. */
inline drained_entry(x)
{
	if
	:: cnt[x] != 0 -> stick(x, late)
	:: else -> free_entry(x)
	fi
}

/* rt_reap_batch() of the entries in batch (one chunk: NE <= CHUNK). */
inline reap_batch()
{
	e = 0;
	do
	:: e < NE ->
		if
		:: batch & BIT(e) ->
			if
			:: cnt[e] != 0 -> stick(e, early)
			:: else ->
				begun[e] = 1; /* psref_target_destroy_begin() */
				chunk = chunk | BIT(e)
			fi
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	batch = 0;
	/* pserialize_perform(): nothing to wait for here (see the top) */
	e = 0;
	do
	:: e < NE ->
		if
		:: chunk & BIT(e) ->
			/* rt_reap_drained(): psref_target_destroy_tryend() */
			if
			:: ps[e] != 0 && ndrain < DRAINS ->
				drain = drain | BIT(e);
				ndrain++
			:: ps[e] != 0 && ndrain >= DRAINS ->
				/* psref_target_destroy_end(): waits */
				ps[e] == 0;
				drained_entry(e)
			:: ps[e] == 0 -> drained_entry(e)
			fi
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	chunk = 0;
	e = 0
}

/* rt_reap_drains(): the drains that are over move to drained. */
inline reap_drains()
{
	e = 0;
	do
	:: e < NE ->
		if
		:: (drain & BIT(e)) && ps[e] == 0 ->
			drain = drain & ~BIT(e);
			drained = drained | BIT(e);
			ndrain--
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	e = 0
}

/* rt_reap_unstick() */
inline reap_unstick()
{
	e = 0;
	do
	:: e < NE ->
		if
		:: (early & BIT(e)) && cnt[e] == 0 ->
			d_step {
				waits[e]--; /* rt_wait_leave() */
				early = early & ~BIT(e);
				ready = ready | BIT(e)
			}
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	e = 0;
	do
	:: e < NE ->
		if
		:: (late & BIT(e)) && cnt[e] == 0 ->
			d_step { waits[e]--; late = late & ~BIT(e) };
			free_entry(e)
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	e = 0;
	do
	:: e < NE ->
		if
		:: drained & BIT(e) ->
			drained = drained & ~BIT(e);
			drained_entry(e)
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	batch = ready;
	ready = 0;
	reap_batch()
}

/*
 * rt_reap_wait(t, l, lg): t_reap_lock held on entry and on return;
 * slp = whether it slept.
 */
inline reap_wait(lg, slp)
{
	unlock(reap_lock);
#ifdef BROKEN_DRAINS_UNLOCKED
	reap_drains();
	lock(wait_lock);
#else
	lock(wait_lock);
	reap_drains();
#endif
	lock(reap_lock);
	/* l->drained == NULL && !rt_reap_ready(early) && !.. (late) && .. */
	slp = (drained == 0);
#ifndef BROKEN_NO_RECOUNT
	e = 0;
	do
	:: e < NE ->
		if
		:: ((early | late) & BIT(e)) && cnt[e] == 0 -> slp = 0
		:: else -> skip
		fi;
		e++
	:: else -> break
	od;
	e = 0;
#endif
	if
	:: slp && KICKED(lg) -> slp = 0
	:: else -> skip
	fi;
	if
	:: slp ->
		if
		:: lg -> sleepst = LINGER
		:: else -> sleepst = IDLE
		fi;
		on_counts = 1;
		unlock(reap_lock);
		/* mpsafe_cond_wait() / rt_linger() on rt_wait_cv */
		atomic { wait_lock = 0; wait_cv_sleep = 1; untimed = !lg };
		if
		:: lg ->
			if
			:: wait_cv_sleep == 0 -> skip
			:: wait_cv_sleep = 0 /* the timeout */
			fi
		:: else ->
end_asleep:		wait_cv_sleep == 0
		fi;
		untimed = 0;
		lock(wait_lock);
		lock(reap_lock);
		sleepst = AWAKE;
		on_counts = 0
	:: else -> skip
	fi;
	unlock(wait_lock)
}

/* The workqueue's worker; t_reap_work's function is rt_reap_work(). */
proctype worker()
{
	/*
	 * The reaper's lists (struct rt_reap_lists) and scratch: locals,
	 * which the inlines above use (so partial-order reduction knows
	 * no other process reads them).
	 */
	byte early, late, drain, drained, ndrain;
	byte batch, chunk, ready;
	byte e;
	bit lingered, slept;

end_wait:
	do
	:: atomic { queued -> queued = 0; running = 1 };
		/* rt_reap_work() */
		lock(reap_lock);
		lingered = 0;
		do
		:: list != 0 ->
			batch = list;
			list = 0;
			rcount = 0;
			lingered = 0;
			unlock(reap_lock);
			reap_batch();
			reap_drains();
			reap_unstick();
			lock(reap_lock)
		:: list == 0 && (early | late | drain) != 0 ->
			reap_wait(!lingered, slept);
			if
			:: slept -> lingered = 1
			:: else -> skip
			fi;
			slept = 0;
			unlock(reap_lock);
			reap_unstick();
			lock(reap_lock)
		:: list == 0 && (early | late | drain) == 0 &&
		   (lingered || flush) ->
			break
		:: list == 0 && (early | late | drain) == 0 && !lingered &&
		   !flush ->
			sleepst = LINGER;
			/* rt_linger(&t_reap_cv, &t_reap_lock) */
			atomic { reap_lock = 0; reap_cv_sleep = 1 };
			if
			:: reap_cv_sleep == 0 -> skip
			:: reap_cv_sleep = 0 /* the timeout */
			fi;
			lock(reap_lock);
			sleepst = AWAKE;
			lingered = 1
		od;
#ifdef BROKEN_INACTIVE_LATE
		unlock(reap_lock);
		reap_active = 0;
#else
		reap_active = 0;
		unlock(reap_lock);
#endif
		lingered = 0;
		running = 0
	od
}

/* rt_delete() of entries 0 .. NE-1, each ending in rt_reap(). */
proctype deleter()
{
	byte d;
	bit queue, wake;

	do
	:: d < NE ->
		lock(reap_lock);
		list = list | BIT(d);
		rcount++;
		deleted[d] = 1;
		if
		:: !reap_active -> reap_active = 1; queue = 1
		:: else ->
			if
			:: sleepst != AWAKE && KICKED(sleepst == LINGER) ->
				sleepst = AWAKE;
#ifdef BROKEN_KICK_REAP_CV
				reap_cv_sleep = 0
#else
				if
				:: on_counts -> wake = 1
				:: else -> reap_cv_sleep = 0 /* signal */
				fi
#endif
			:: else -> skip
			fi
		fi;
#ifdef BROKEN_LOCK_ORDER
		if
		:: wake -> wake_counts()
		:: else -> skip
		fi;
		unlock(reap_lock);
#else
		unlock(reap_lock);
		if
		:: wake -> wake_counts()
		:: else -> skip
		fi;
#endif
		if
		:: queue -> atomic { assert(!queued); queued = 1 }
		:: else -> skip
		fi;
		queue = 0;
		wake = 0;
		d++
	:: else -> break
	od;
	deleter_done = 1;
	ndone++
}

/* rt_unref() of x: the decrement returns the wait bits. */
inline unref(x, w)
{
	atomic { assert(!freed[x] && cnt[x] > 0); w = waits[x]; cnt[x]-- };
	if
	:: w != 0 -> wake_counts()
	:: else -> skip
	fi;
	w = 0
}

/* A count taken before the delete, released once. */
proctype count_holder(byte x)
{
	byte w;

	unref(x, w);
	ndone++
}

/* A psref taken before the delete (a route cache), released once. */
proctype psref_holder(byte x)
{
	bit dr;
	byte w;

#ifdef CONVERT
	d_step { assert(!freed[x] && ps[x]); cnt[x]++ }; /* rt_ref() */
#endif
	/* psref_release(): the slot emptied; a draining target wakes */
	atomic { assert(!freed[x]); ps[x] = 0; dr = begun[x] };
	if
	:: dr -> wake_counts() /* the drain watch's broadcast */
	:: else -> skip
	fi;
#ifdef CONVERT
	unref(x, w);
#endif
	ndone++
}

/* rt_table_destroy() once the deleter is done (its entries are gone). */
proctype destroyer()
{
	byte x;

	deleter_done;
	lock(reap_lock);
	flush = 1;
	reap_cv_sleep = 0; /* pthread_cond_signal(&t_reap_cv) */
	unlock(reap_lock);
	/* workqueue_destroy(): waits for the queued and running item */
	atomic {
		!queued && !running ->
		x = 0;
		do
		:: x < NE -> assert(!deleted[x] || freed[x]); x++
		:: else -> break
		od
	};
	ndone++
}

/* Once everyone else is done: the reaper is quiet, nothing is lost. */
proctype checker()
{
	byte x;

	atomic {
		ndone == nproc &&
		((!queued && !running) || (untimed && wait_cv_sleep)) ->
		assert(list == 0 || reap_active);
		assert(running || !reap_active);
		x = 0;
		do
		:: x < NE -> assert(!deleted[x] || freed[x] || PINNED(x)); x++
		:: else -> break
		od
	}
}

init
{
	byte x;

	atomic {
		assert(NE >= 1 && NE <= MAXE);
		x = 0;
		do
		:: x < NE ->
			if
			:: HCOUNT & BIT(x) ->
				cnt[x] = 1;
				if
				:: !PINNED(x) -> run count_holder(x); nproc++
				:: else -> skip
				fi
			:: else -> skip
			fi;
			if
			:: HPSREF & BIT(x) -> ps[x] = 1; run psref_holder(x); nproc++
			:: else -> skip
			fi;
			x++
		:: else -> break
		od;
		run worker();
		run deleter();
		nproc++;
#ifdef DESTROY
		run destroyer();
		nproc++;
#endif
		run checker()
	}
}
