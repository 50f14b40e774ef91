/*
 * mpsafe/psref.h: passive references (NetBSD psref(9)) for registered
 * threads.
 *
 * A reader that finds an object inside a pserialize read section may take
 * a passive reference to it and then leave the section: the reference
 * keeps the object alive across blocking (sleeps, I/O, mutex waits) until
 * it is released, on the same thread.  Taking and dropping a reference
 * writes only the calling thread's own memory: no atomic read-modify-write
 * and no lock shared with other threads.  Destroying the object
 * (psref_target_destroy()) waits until no thread holds a reference.
 *
 * Each registered thread owns a table of PSREF_THREAD_SLOTS slots (struct
 * psref_thread, kept with its registry record).  A reference occupies one
 * slot, which holds the target's address; struct psref, the caller's
 * handle, remembers the slot.  A destroyer marks the target draining,
 * waits for a grace period (after which no new reference can be taken,
 * since the target is unreachable and read sections that found it have
 * ended), then scans every thread's slots for the target and sleeps until
 * the last holder releases it.  A thread that holds more references at
 * once than it has slots keeps the extra ones on an overflow list guarded
 * by a lock (slower, still correct).
 *
 * Differences from NetBSD: the unit is a registered thread, not a CPU, so
 * there is no curlwp_bind() and no IPL (psref_class_create() takes only a
 * name); acquire needs the read section that found the target; copy and
 * release must run on the thread that holds the reference.  Additions:
 * psref_target_destroy() in two halves (psref_target_destroy_begin(),
 * psref_target_destroy_end()), so that a caller destroying many targets
 * waits for one grace period, not one each; and an end that does not wait
 * for holders (psref_target_destroy_tryend()) with a wake-up for it
 * (psref_drain_watch()), so that one held target does not stall a thread
 * that destroys many.
 */
#ifndef MPSAFE_PSREF_H
#define MPSAFE_PSREF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

MPSAFE_BEGIN_DECLS

/* References a thread holds in slots before it uses the overflow list. */
#define PSREF_THREAD_SLOTS 64

/* Slots the inline acquire looks at before calling the slow path. */
#define PSREF_FAST_SLOTS 4

/*
 * Values of struct psref.psref_slot other than a slot's address: a
 * reference kept on the overflow list, and a released one.  Both lie far
 * from any slot table, so the release's range check sends them to the
 * slow path.
 */
#define PSREF_SLOT_OVERFLOW (~(uintptr_t)0)
#define PSREF_SLOT_RELEASED (~(uintptr_t)0 - 1)

/* struct psref.psref_magic of a handle that an acquire filled in. */
#define PSREF_MAGIC_HELD 0x50535246u /* "PSRF" */

struct psref_class; /* opaque: psref_class_create() */

/*
 * An object that references may be taken to (embedded in it).  Initialised
 * by psref_target_init(); dead after psref_target_destroy() until the next
 * init.
 */
struct psref_target {
	/*
	 * Set by psref_target_destroy() (or _begin()) before it waits;
	 * read by psref_copy() and by diagnostic acquire checks.
	 */
	MPSAFE_ATOMIC(uint32_t) prt_draining;
	/* The destroy's grace period (a ticket: psref.c). */
	uint32_t prt_gp;
	struct psref_class *prt_class; /* NULL while dead */
};

/*
 * One reference, allocated by the caller (usually on its stack) and used
 * for one reference at a time.  Library-private fields: written by the
 * holding thread only.  psref_slot is the address of the holder's slot:
 * it names the thread and the slot at once, so that the release checks
 * both with one range test.
 */
struct psref {
	const struct psref_target *psref_target;
	uintptr_t psref_slot;              /* slot address, or PSREF_SLOT_* */
	uint32_t psref_magic;              /* PSREF_MAGIC_HELD once acquired */
	struct mpsafe_thread *psref_owner; /* overflow list only: holder */
	struct psref *psref_next;          /* overflow list only */
	struct psref **psref_prevp;        /* overflow list only */
};

/*
 * A thread's reference slots (library-private; here for the inline fast
 * paths).  One per registry record.
 */
struct psref_thread {
	/*
	 * Target held in each slot, NULL when free.  Written by the owner
	 * only (plain stores, release when freeing); read by destroyers'
	 * scans (acquire).  First in the struct: psref_release() measures
	 * slot addresses from the table's (psref.c asserts it).
	 */
	MPSAFE_ATOMIC(const struct psref_target *) pt_slot[PSREF_THREAD_SLOTS];
	uint32_t pt_overflow; /* owner only: references on the overflow list */
};

/*
 * psref_class_create(name)
 *
 *	Create a class of targets (NetBSD's name is a wait channel; ours is
 *	kept for messages, truncated to 15 characters).  Returns NULL with
 *	errno EINVAL (NULL name) or ENOMEM.  May block (allocates).
 */
MPSAFE_API struct psref_class *psref_class_create(const char *name);

/*
 * psref_class_destroy(class)
 *
 *	Free a class whose targets have all been destroyed (releases
 *	never read the class, so it is freed at once).  Never blocks.
 *	Diagnostic builds abort if a target is still alive;
 *	other builds then leave the class allocated rather than free
 *	memory still in use.
 */
MPSAFE_API void psref_class_destroy(struct psref_class *psc);

/*
 * psref_target_init(target, class)
 *
 *	Make target ready for references, before it is published.  Also
 *	re-arms a target after psref_target_destroy() ("wait for every
 *	holder, but keep the object").  Never blocks.
 */
MPSAFE_API void psref_target_init(
    struct psref_target *target, struct psref_class *psc);

/*
 * psref_target_destroy(target, class)
 *
 *	Wait until no thread holds a reference to target.  The caller has
 *	made target unreachable to new readers (unpublished it); destroy
 *	then marks it draining, waits for a grace period so that no new
 *	reference can appear, and sleeps until the last holder releases,
 *	woken by that release.  A reader whose read section found target
 *	before it was unpublished may still acquire it until that grace
 *	period ends.  Thread context, not in a read section, not holding a
 *	reference to target (it would wait for ever), one destroyer per
 *	target: each of these aborts in every build.  Blocks.  Afterwards
 *	the target is dead until psref_target_init(); the caller may free
 *	it.
 */
MPSAFE_API void psref_target_destroy(
    struct psref_target *target, struct psref_class *psc);

/*
 * psref_target_destroy_begin(target, class)
 * psref_target_destroy_end(target, class)
 *
 *	psref_target_destroy() in two halves (not in NetBSD).  begin marks
 *	the unpublished target draining and returns: it waits for nothing
 *	(it takes the grace-period lock for a moment); the target is being
 *	destroyed from then on (a second begin, or a destroy, aborts), and
 *	every begin must be followed by an end (until then the library
 *	counts a destroy in progress: releases check the draining set, and
 *	mpsafe_set_ordering() refuses).  end waits for a grace period that
 *	began after begin, unless one that did has ended since (any
 *	thread's pserialize_perform() or psref destroy), then for the
 *	holders, as psref_target_destroy() does, under the same rules
 *	(thread context, not in a read section, not holding a reference to
 *	target); it aborts if begin was not called.  Blocks.  begin must
 *	happen before end (the same thread, or ordered by a lock or a
 *	queue).  A caller that destroys n targets begins all, runs one
 *	pserialize_perform() (which its own unpublishing may need anyway),
 *	then ends each: one grace period instead of n.  Between the halves
 *	the target is in the library's draining set (224 slots in 32
 *	buckets by address); while a bucket is full, every release of a
 *	target hashing to it wakes the destroyers (a shared write), so keep
 *	the window short and the number begun at once to a few dozen.
 */
MPSAFE_API void psref_target_destroy_begin(
    struct psref_target *target, struct psref_class *psc);
MPSAFE_API void psref_target_destroy_end(
    struct psref_target *target, struct psref_class *psc);

/*
 * psref_target_destroy_tryend(target, class)
 *
 *	psref_target_destroy_end() that waits for nothing (not in NetBSD),
 *	for a thread that drives many destroys and must not stall on one
 *	target that a holder keeps for long (a reaper).  If a grace period
 *	that began after psref_target_destroy_begin() has ended (run
 *	pserialize_perform() after the begins) and no thread holds a
 *	reference to target, finish the destroy as end would and return
 *	0: the target is dead.  Otherwise leave the target draining and
 *	return EAGAIN (no such grace period yet: run one, then try again)
 *	or EBUSY (a holder remains: try again, or end, after a release;
 *	psref_drain_watch() says when).  Not holding a reference to target
 *	(it would never succeed), after begin: each aborts in every build.
 *	Any thread context, in a read section too.  Never blocks (it may
 *	take the overflow lock and the grace-period lock for a moment).
 */
MPSAFE_API int psref_target_destroy_tryend(
    struct psref_target *target, struct psref_class *psc);

/* Most (lock, cv) pairs psref_drain_watch() takes, all callers together. */
#define PSREF_DRAIN_WATCHERS 4

/*
 * psref_drain_watch(lock, cv)
 *
 *	From now on, every release that may let a begun destroy end (the
 *	release of a target being destroyed, of any class; a thread exit
 *	that drops references) also broadcasts cv with lock held, after
 *	emptying its slot (not in NetBSD).  A thread that sleeps on cv for
 *	other events too calls psref_target_destroy_tryend() with lock
 *	held and, if it returns EBUSY, waits on cv: the release that ends
 *	the drain either came before that scan (which saw it) or
 *	broadcasts after the wait began.  Spurious broadcasts happen (a
 *	release of another draining target).  lock and cv must stay valid
 *	until the process exits (there is no unwatch); releases take lock,
 *	so never release a psref, or let a thread exit, while holding it,
 *	and never wait for a grace period while holding it (a releaser
 *	inside a read section may be waiting for lock).  Registering a
 *	pair again changes nothing.  Returns 0, EINVAL (a NULL argument),
 *	or ENOSPC (PSREF_DRAIN_WATCHERS pairs already).  Never blocks for
 *	long (a mutex).
 */
MPSAFE_API int psref_drain_watch(pthread_mutex_t *lock, pthread_cond_t *cv);

/*
 * psref_copy(pto, pfrom, class)
 *
 *	Take a new reference *pto to the target *pfrom refers to; both must
 *	be released.  The calling thread must hold *pfrom, and *pto must
 *	hold nothing (diagnostic builds abort; other builds lose the
 *	reference *pto held, as psref_acquire() does).  Never blocks (may
 *	take the overflow lock).
 */
MPSAFE_API void psref_copy(
    struct psref *pto, const struct psref *pfrom, struct psref_class *psc);

/*
 * psref_held(target, class)
 *
 *	For assertions only: whether the calling thread holds a reference to
 *	target.  Never blocks for long (may take the overflow lock).
 */
MPSAFE_API bool psref_held(
    const struct psref_target *target, struct psref_class *psc);

/* Library-private slow paths of the inline functions below. */
MPSAFE_API MPSAFE_COLD void mpsafe_psref_acquire_slow(struct psref *psref,
    const struct psref_target *target, struct psref_class *psc);
MPSAFE_API MPSAFE_COLD void mpsafe_psref_release_slow(struct psref *psref,
    const struct psref_target *target, struct psref_class *psc);
MPSAFE_API void mpsafe_psref_acquire_check(struct psref *psref,
    const struct psref_target *target, struct psref_class *psc);
MPSAFE_API void mpsafe_psref_acquire_recheck(
    const struct psref_target *target, struct psref_class *psc);
MPSAFE_API MPSAFE_COLD void mpsafe_psref_wake(void);
MPSAFE_API MPSAFE_COLD void mpsafe_psref_release_draining(uintptr_t key);

/*
 * Number of targets, of any class, being destroyed (library-private).
 * Raised and lowered by destroyers (seq_cst); read by every release,
 * which, when it is non-zero, looks for its target among the draining
 * ones (mpsafe_psref_release_draining()) and wakes the destroyers only if
 * it is there.  Library-wide rather than per class so that a release
 * touches no memory its caller might free once the release has emptied
 * its slot (the draining targets are compared by address, never read).
 */
extern MPSAFE_API MPSAFE_ATOMIC(uint32_t) mpsafe_psref_draining_all;

/*
 * Diagnostic builds: after the slot store, check (best effort) that no
 * destroy of target finished its grace period meanwhile (psref.c).
 */
#ifdef MPSAFE_DIAGNOSTIC
#define MPSAFE_PSREF_ACQUIRED(target, psc) \
	mpsafe_psref_acquire_recheck(target, psc)
#else
#define MPSAFE_PSREF_ACQUIRED(target, psc) ((void)0)
#endif

/*
 * psref_acquire(psref, target, class)
 *
 *	Take a reference to target, recorded in *psref, on the calling
 *	thread.  The caller is inside the pserialize read section in which
 *	it found target (diagnostic builds abort otherwise, or if target is
 *	being destroyed, or if *psref is already in use).  Never blocks.
 *	Other builds do not read *psref (it is often uninitialised stack
 *	memory, which a check would read): reusing a handle that still
 *	holds a reference loses that reference, and a destroy of its
 *	target then waits until the thread exits.
 */
static inline void
psref_acquire(struct psref *psref, const struct psref_target *target,
    struct psref_class *psc)
{
	/* The thread's mt_private[MPSAFE_PRIV_PSREF] (NULL: not registered). */
	struct psref_thread *pt =
	    (struct psref_thread *)
	        mpsafe_reader_self.mr_private[MPSAFE_PRIV_PSREF];
	unsigned i;

#ifdef MPSAFE_DIAGNOSTIC
	mpsafe_psref_acquire_check(psref, target, psc);
#endif
	/*
	 * The first free slot among the first few; past them (or when the
	 * thread is not registered: NULL table) the slow path looks
	 * further.  Free slots are found from the slots themselves, not a
	 * bitmap, so that consecutive acquires and releases do not form a
	 * chain of loads and stores through one word.
	 */
	if (MPSAFE_UNLIKELY(pt == NULL)) {
		mpsafe_psref_acquire_slow(psref, target, psc);
		MPSAFE_PSREF_ACQUIRED(target, psc);
		return;
	}
	for (i = 0;; i++) {
		if (i == PSREF_FAST_SLOTS) {
			mpsafe_psref_acquire_slow(psref, target, psc);
			MPSAFE_PSREF_ACQUIRED(target, psc);
			return;
		}
		if (mpsafe_load_relaxed(&pt->pt_slot[i]) == NULL)
			break;
	}
	/*
	 * Relaxed: the read section's release exit orders this store
	 * before a destroyer's grace period, which precedes its scan.
	 */
	mpsafe_store_relaxed(&pt->pt_slot[i], target);
	psref->psref_target = target;
	psref->psref_slot = (uintptr_t)&pt->pt_slot[i];
	psref->psref_magic = PSREF_MAGIC_HELD;
	MPSAFE_PSREF_ACQUIRED(target, psc);
	(void)psc;
}

/* Diagnostic builds check the class a release names (NetBSD asserts it). */
#ifdef MPSAFE_DIAGNOSTIC
#define MPSAFE_PSREF_CLASS_MISMATCH(target, psc) ((target)->prt_class != (psc))
#else
#define MPSAFE_PSREF_CLASS_MISMATCH(target, psc) 0
#endif

/*
 * psref_release(psref, target, class)
 *
 *	Drop the reference *psref to target, on the thread that took it; if
 *	target is being destroyed, wake its destroyer.  Any context of the
 *	holding thread, in or out of a read section.  Never blocks (may take
 *	the overflow lock; and, when target is being destroyed, the lock of
 *	each psref_drain_watch() pair, which its owner holds only briefly).
 *	The class must be the target's.  A release on another thread, a
 *	second release, or a release of a handle never acquired aborts with
 *	a message (the check is cheap and the alternative is a lost
 *	reference).
 */
static inline void
psref_release(struct psref *psref, const struct psref_target *target,
    struct psref_class *psc)
{
	/* The thread's mt_private[MPSAFE_PRIV_PSREF] (NULL: not registered). */
	struct psref_thread *pt =
	    (struct psref_thread *)
	        mpsafe_reader_self.mr_private[MPSAFE_PRIV_PSREF];
	/*
	 * The slot's offset in this thread's table: in range only for a
	 * slot of this thread (another thread's table, an overflow or
	 * released handle land outside).  With no table (thread not
	 * registered) the offset is the handle's own psref_slot, which for
	 * a zeroed or garbage handle may be in range: hence the NULL test.
	 */
	uintptr_t off = psref->psref_slot - (uintptr_t)pt;
	MPSAFE_ATOMIC(const struct psref_target *) * slot;

	if (MPSAFE_UNLIKELY(off >= sizeof(pt->pt_slot) || pt == NULL ||
	                    MPSAFE_PSREF_CLASS_MISMATCH(target, psc))) {
		mpsafe_psref_release_slow(psref, target, psc);
		return;
	}
	slot = (MPSAFE_ATOMIC(const struct psref_target *) *)psref->psref_slot;
	/* Relaxed: the thread's own slot. */
	if (MPSAFE_UNLIKELY(mpsafe_load_relaxed(slot) != target)) {
		mpsafe_psref_release_slow(psref, target, psc);
		return;
	}
	psref->psref_slot = PSREF_SLOT_RELEASED;
	/*
	 * Release: the holder's uses of target happen before a destroyer
	 * sees the slot empty (its scan loads with acquire).  After this
	 * store the target and its class may be freed: neither is touched
	 * again (target is compared below as a number, never read).
	 */
	mpsafe_store_release(slot, NULL);
	/*
	 * Store the slot, then load the draining count; a destroyer raises
	 * the count, then (grace period barrier) loads the slot: one of us
	 * sees the other's store.
	 */
	if (MPSAFE_UNLIKELY(mpsafe_load_relaxed(&mpsafe_reader_self.mr_word) &
	                    MPSAFE_READ_FENCE))
		mpsafe_fence_seq_cst(); /* pairs with the destroyer's fence */
	else
		mpsafe_compiler_barrier(); /* pairs with its membarrier() */
	/*
	 * Relaxed: ordered by the barrier just above.  While some target
	 * drains, look for ours among them: releases of other targets stay
	 * off the shared wake-up line.
	 */
	if (MPSAFE_UNLIKELY(mpsafe_load_relaxed(&mpsafe_psref_draining_all)))
		mpsafe_psref_release_draining((uintptr_t)target);
}

MPSAFE_END_DECLS

#endif /* MPSAFE_PSREF_H */
