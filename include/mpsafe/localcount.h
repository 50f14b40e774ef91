/*
 * mpsafe/localcount.h: per-thread reference counts, after NetBSD's
 * localcount(9).
 *
 * A localcount is a reference count for an object that is found inside a
 * pserialize read section and then kept across blocking.  Unlike a psref,
 * a reference is anonymous: it may be released by another thread than
 * the one that took it.  Unlike a shared reference count, acquire and
 * release write only the calling thread's own counter (no atomic
 * read-modify-write on a shared cache line, no lock) until the object is
 * drained.  A thread's counter for an object may go negative (it
 * released references taken elsewhere); only the sum over all threads
 * means anything, and localcount_drain() computes it.
 *
 * Life of an object: localcount_init() before publishing it; readers
 * localcount_acquire() inside the read section that found it and
 * localcount_release() when done, on any thread; the writer unpublishes
 * it, waits for a grace period (pserialize_perform()), calls
 * localcount_drain(), which returns once every reference has been
 * released, then localcount_fini() and frees the object.
 *
 * Differences from NetBSD (see localcount(3)):
 *  - A "CPU" is a registered thread (mpsafe/thread.h).
 *  - localcount_drain() and localcount_release() take no condition
 *    variable and no interlock: the drainer sleeps on the library's own
 *    futex word and the last release wakes it.
 *  - localcount_init() returns an int (0, or EINVAL for NULL); it never
 *    fails for want of memory (the count then lives in one shared word).
 *
 * The struct's fields, and the per-thread directory below, are
 * library-private; they are public only so that the fast paths inline.
 */
#ifndef MPSAFE_LOCALCOUNT_H
#define MPSAFE_LOCALCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

MPSAFE_BEGIN_DECLS

/*
 * Per-thread counters are indexed by the object's id: element id of the
 * thread's counter array (struct mpsafe_localcount_dir).  At most
 * LOCALCOUNT_IDS objects have per-thread counters at once; the others
 * count in a shared word (correct, slower).
 */
#define LOCALCOUNT_IDS (1u << 15)

/*
 * The value of lc_state while acquire and release may use the per-thread
 * counters (the other states are private to src/localcount.c).
 */
#define LOCALCOUNT_STATE_ACTIVE 0x4c434163u /* "LCAc" */

/*
 * A reference count, embedded in the object it counts references to.
 * Initialised by localcount_init(); dead after localcount_fini().
 */
struct localcount {
	/*
	 * Life-cycle state (LOCALCOUNT_STATE_ACTIVE, or a private value).
	 * Written by the library's slow paths, drain and fini (atomic);
	 * read by every acquire and release.  Also the word the drainer
	 * checks before it sleeps.
	 */
	MPSAFE_ATOMIC(uint32_t) lc_state;
	/* Index of the per-thread counters; written by init and fini only. */
	uint32_t lc_id;
	/*
	 * The shared part of the count, plus a large bias until the drain
	 * folds the per-thread counters in.  Updated only by atomic
	 * read-modify-writes off the fast path: while draining, when no
	 * per-thread counter is available, and by drain itself.
	 */
	MPSAFE_ATOMIC(int64_t) lc_total;
};

/*
 * One registered thread's counters (library-private): an array of
 * LOCALCOUNT_IDS counters, mapped by the owner on its first update of a
 * count (pages are backed as ids are written, so the 256 KiB reserved
 * cost only the pages in use) and never freed.  Kept with the thread's
 * registry record (mt_private[...LOCALCOUNT]), so it outlives the thread
 * and passes with the record to the next one; the owner's fast path
 * finds the array itself in its TLS reader state (mr_private[]).  The
 * array pointer: written once by the owner (release), read by drains
 * (acquire).  Counters: written by the owner (plain relaxed load and
 * store) while the object is active, and by a drain or fini holding the
 * library's id lock once no owner can touch them (after a grace period).
 */
struct mpsafe_localcount_dir {
	MPSAFE_ATOMIC(MPSAFE_ATOMIC(int64_t) *) lcd_counters;
};

/*
 * localcount_init(lc)
 *
 *	Make lc a count of zero references, before the object is published.
 *	Returns 0, or EINVAL if lc is NULL.  Never fails otherwise: when
 *	per-thread counters cannot be had (more than LOCALCOUNT_IDS live
 *	counts) lc counts in a shared word.  May block briefly on a library
 *	lock (and allocate); may be called inside a read section.
 */
MPSAFE_API int localcount_init(struct localcount *lc);

/*
 * localcount_fini(lc)
 *
 *	Destroy lc, which localcount_drain() has drained (or which was never
 *	acquired nor released).  Poisons lc: any later use aborts.  Takes a
 *	library lock briefly; waits for nothing on a correctly used count.
 *	Diagnostic builds abort on a count that was used and not drained
 *	(other builds then wait for a grace period and clear its counters);
 *	every build aborts on a count being drained, already destroyed, or
 *	never initialised.
 */
MPSAFE_API void localcount_fini(struct localcount *lc);

/*
 * localcount_drain(lc)
 *
 *	Wait until every reference to lc has been released.  The caller has
 *	made the object unreachable to new readers and waited for a grace
 *	period (pserialize_perform()), so that no new acquire can begin.
 *	Drain then waits for one more grace period (after which every
 *	acquire and release takes the slow path), adds up all threads'
 *	counters, and sleeps until the total is zero, woken by the last
 *	release.  One-shot: afterwards only localcount_fini() is allowed.
 *	A second drain is a contract violation: builds with
 *	MPSAFE_DIAGNOSTIC abort; others let it wait as the first does, and
 *	then localcount_fini() (and freeing lc) must wait until every drain
 *	has returned.
 *	Thread context, not inside a read section (aborts in every build:
 *	the grace period would wait for the caller), not holding a reference
 *	to lc (it would wait for ever).  Blocks.
 */
MPSAFE_API void localcount_drain(struct localcount *lc);

/*
 * Library-private: acquire and release where they are not inline
 * (outside a read section, first use, draining, no memory).
 */
MPSAFE_API void mpsafe_localcount_adjust_slow(
    struct localcount *lc, int64_t delta);
MPSAFE_API MPSAFE_COLD MPSAFE_NORETURN void mpsafe_localcount_null(
    const char *fn);

/*
 * mpsafe_localcount_adjust(lc, delta): add delta to the calling thread's
 * counter for lc (library-private; the body of acquire and release).
 *
 * A read section is what makes the plain update safe: drain marks lc
 * not active and then waits for a grace period, so an update that saw
 * the active state has ended (and its exit, a release store, ordered it)
 * before drain reads the counters, and every later update sees the new
 * state and goes to the slow path.  Inline: only the update inside the
 * caller's own read section (the usual acquire: the caller found the
 * object in one) with lc active and the thread's counter array present.
 * Everything else (outside a section: one is opened there; not
 * registered; first use; draining) is out of line.
 */
static inline void
mpsafe_localcount_adjust(struct localcount *lc, int64_t delta)
{
	/* Relaxed: the thread's own word. */
	uint32_t depth =
	    mpsafe_load_relaxed(&mpsafe_reader_self.mr_word) & MPSAFE_READ_NEST;

#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(lc == NULL))
		mpsafe_localcount_null(
		    delta > 0 ? "localcount_acquire" : "localcount_release");
#endif
	/*
	 * depth 1 .. MPSAFE_READ_NEST - 1: inside a section (0: outside;
	 * all bits set: not registered).  Relaxed load of lc_state: ordered
	 * against drain by that section (see above).
	 */
	if (MPSAFE_LIKELY(depth - 1 < MPSAFE_READ_NEST - 1 &&
	                  mpsafe_load_relaxed(&lc->lc_state) ==
	                      LOCALCOUNT_STATE_ACTIVE)) {
		/*
		 * The thread's counter array (NULL until its first update:
		 * the slow path maps it).  One load fewer than a directory
		 * of chunks, which cost the read side 15-35% (measured on a
		 * 2-vCPU Xeon VM, acquire and release in a read section).
		 */
		MPSAFE_ATOMIC(int64_t) *c =
		    (MPSAFE_ATOMIC(int64_t) *)
		        mpsafe_reader_self.mr_private[MPSAFE_PRIV_LOCALCOUNT];

		if (MPSAFE_LIKELY(c != NULL)) {
			c += lc->lc_id; /* ACTIVE: an id below LOCALCOUNT_IDS */
			/*
			 * Relaxed load and store, no read-modify-write: only
			 * this thread writes c while lc is active; the
			 * section's exit orders the store before a drain.
			 */
			mpsafe_store_relaxed(c, mpsafe_load_relaxed(c) + delta);
			return;
		}
	}
	mpsafe_localcount_adjust_slow(lc, delta);
}

/*
 * localcount_acquire(lc)
 *
 *	Take a reference to lc.  The caller found the object inside a read
 *	section that is still open, or already holds a reference to it; lc
 *	is not being drained (diagnostic builds abort if it is).  Any thread
 *	context, in or out of read sections, locks held or not.  Never
 *	waits for a reference, a drain or a grace period.  Inline and
 *	lock-free in the usual case (inside a read section, lc active, the
 *	thread's counters mapped); otherwise a function call: outside a
 *	read section, on a count's first use, and while the count is
 *	draining or counts in the shared word (one atomic read-modify-
 *	write).  A thread's first update of any count maps its 256 KiB
 *	counter array (a system call; if it fails, lc counts in the shared
 *	word) and, for a thread not yet registered, registers it, which
 *	takes the registry's lock and may allocate: that one call may block
 *	briefly on a library lock, later ones on the same thread do not.
 */
static inline void
localcount_acquire(struct localcount *lc)
{
	mpsafe_localcount_adjust(lc, 1);
}

/*
 * localcount_release(lc)
 *
 *	Drop a reference to lc, taken by this or any other thread.  If lc
 *	is being drained, the last release wakes the drainer; after that
 *	the caller must not touch the object.  Any thread context.  Never
 *	waits for other threads; costs as localcount_acquire() does (a
 *	thread's first update of any count may block briefly, see there).
 *	A release that makes a drained count negative (more releases than
 *	acquires) aborts with a message in every build, as does a drain
 *	that finds the count negative.
 */
static inline void
localcount_release(struct localcount *lc)
{
	mpsafe_localcount_adjust(lc, -1);
}

MPSAFE_END_DECLS

#endif /* MPSAFE_LOCALCOUNT_H */
