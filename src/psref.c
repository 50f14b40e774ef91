/*
 * psref.c: passive references.
 *
 * State.  Each registry record carries a struct psref_thread: 64 slots,
 * each NULL or the address of a target its thread holds a reference to,
 * and the owner's count of its references on the overflow list.  A
 * reference is one slot; the caller's struct psref names the slot.
 * Acquire finds a free slot by reading the slots themselves (there is no
 * free-slot bitmap) and stores the target; release stores NULL.  Both
 * write only the owner's table, with plain stores.  Records (and so
 * tables) are never freed, so a destroyer may read any table at any time.
 * References beyond a thread's 64 slots, and copies of a target being
 * destroyed, go on one overflow list under overflow_lock.
 *
 * Destroy protocol, for target T of class C (psref_target_destroy(), or
 * its halves: step 1 is psref_target_destroy_begin(), 2-4 _end()):
 *   1. The caller has unpublished T.  Store T.prt_draining = 1, enter T in
 *      the draining set, raise the library-wide count of draining targets
 *      (seq_cst), then take a grace-period ticket (mpsafe_gp_ticket():
 *      the grace period it names begins after the raise).
 *   2. Wait for a grace period, unless the ticket's has ended already
 *      (another caller's, say a pserialize_perform() that the destroyer
 *      of many targets runs once for all).  Every acquire of T ran
 *      inside a read section that found T before it was unpublished;
 *      those sections have ended, and their exits (release) ordered the
 *      slot stores before the end of the grace period.  No new acquire of
 *      T can start.  psref_copy() runs its own read section, so a copy
 *      either finished before the grace period (its slot is visible) or
 *      sees prt_draining and goes on the overflow list.
 *   3. Scan: every record's slots (acquire loads), then the overflow list
 *      under its lock.  The set of holders only shrinks, so a scan that
 *      finds none is final.  A copy made during the scan lands on the
 *      overflow list, which is read last; the release of the original
 *      (a release store) follows the copy's insertion, so a scan that
 *      sees the original gone also sees the copy.
 *   4. If a holder remains, sleep on the wake word (futex) after reading
 *      it, rescanning first; a release that sees the draining count raised
 *      and finds its own target in its bucket of the draining set
 *      (entered in step 1, before the count is raised; or the bucket has
 *      unlisted targets) bumps the word and wakes.  Before sleeping, spin
 *      and yield a little: holders often let go quickly, and a wake-up
 *      costs tens of microseconds.
 * psref_target_destroy_tryend() checks that step 2's grace period has
 * ended (EAGAIN if not), scans once (step 3) and returns EBUSY instead of
 * step 4; its caller sleeps on a condition variable of its own, which
 * every wake also broadcasts under its lock (psref_drain_watch()).  The
 * argument below holds for that scan and wake as for step 4's.
 *
 * Why a release cannot miss the destroyer.  The releaser stores its slot
 * (NULL) and then loads the draining count; the destroyer raises the
 * count and then, after the grace period's barrier (membarrier() on every
 * CPU, or seq_cst fences on both sides in the fence mode), loads the slot.
 * In every interleaving one of them sees the other's store: either the
 * scan sees the slot empty, or the releaser sees the count and wakes.
 * The destroyer enters the target in the draining set before raising
 * the count, so a releaser that sees the count sees the entry: a release
 * of a target that is not draining (the common case while, say, one
 * interface of many detaches) only reads its bucket's line and writes no
 * shared line.  The
 * wake word closes the last gap: the destroyer reads it before its
 * rescan, the releaser increments it after emptying its slot, so a
 * release between the rescan and the sleep makes the futex return.
 *
 * Why a release never touches freed memory.  Once its slot is empty the
 * destroyer may return and the target, or its class, be freed; so after
 * that store the release reads only library-wide state: the draining
 * count (mpsafe_psref_draining_all, raised by every destroy of any
 * class), the draining set (compared with the target's address, taken
 * before the store), the wake word and the drain watchers' locks and
 * condition variables (which live until the process exits).
 *
 * Diagnostic builds also catch, best effort, an acquire of a target that
 * was still published when its destroy began: the acquire's check before
 * its slot store may see DRAINING_STARTED, and the destroy may then end
 * its grace period, store DRAINING_WAITED and scan before the slot store
 * lands.  So after the slot store the acquire fences and panics if it sees
 * DRAINING_WAITED; this pairs with the destroyer's "store WAITED; fence;
 * scan": either the scan sees the slot (and the destroy waits) or the
 * acquire sees WAITED.  It stays best effort: a target already freed
 * when the acquire runs is beyond any check.
 *
 * Thread exit with references held is a broken contract (thread.c first
 * gives the program's own pthread key destructors, which may release
 * them, every pass but the last): diagnostic builds abort; other builds
 * drop the references held in slots (the thread is gone and can no
 * longer use the objects) and wake their destroyers, but abort if some
 * are on the overflow list (their struct psref is likely in a stack
 * frame that is gone).  An explicit mpsafe_thread_unregister() with
 * references held is refused (EBUSY; diagnostic builds abort): that
 * thread goes on running and may still use the objects.
 *
 * fork() during a destroy: the child keeps the library-wide draining
 * count (mpsafe_psref_draining_all) and the target's draining mark of a
 * destroy that no thread of the child runs.  In the child that target
 * cannot be destroyed again, so its class is never freed (diagnostic
 * builds abort on the class destroy); every release, in any class,
 * checks the draining set on its way out; and mpsafe_set_ordering()
 * returns EBUSY for good.  Do not fork while destroying.
 */
#include <errno.h>
#include <stdalign.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/psref.h>

#include "mpsafe_impl.h"

#define CLASS_MAGIC 0x70736363u  /* "pscc" */
#define CLASS_POISON 0xdeadc1a5u /* destroyed */
#define CLASS_NAME_MAX 16

/* Values of prt_draining. */
#define DRAINING_NO 0u
#define DRAINING_STARTED 1u /* grace period not over yet */
#define DRAINING_WAITED 2u  /* no new reference can appear */

/* Scans before yielding, and yields before sleeping, in destroy. */
#define DESTROY_SPIN_LIMIT 64
#define DESTROY_YIELD_LIMIT 4

struct psref_class {
	uint32_t prc_magic; /* CLASS_MAGIC while alive */
	/* Targets initialised and not destroyed (atomic add). */
	MPSAFE_ATOMIC(long) prc_targets;
	char prc_name[CLASS_NAME_MAX];
};

MPSAFE_ATOMIC(uint32_t) mpsafe_psref_draining_all;

/*
 * The draining set: the targets being destroyed, by address, so that a
 * release wakes destroyers only when its own target drains.  A target
 * goes in the bucket its address hashes to (draining_bucket()): a slot
 * holding the address (0: free), or, when the bucket's slots are taken,
 * one count in db_unlisted, and then every release of that bucket wakes.
 * A destroyer enters its target before it raises
 * mpsafe_psref_draining_all and leaves after lowering the count.  Each
 * bucket is one line, written only by destroyers.
 */
#define DRAINING_BUCKETS 32 /* a power of two */
#define DRAINING_SLOTS 7

struct draining_bucket {
	alignas(64) MPSAFE_ATOMIC(uint32_t) db_unlisted;
	MPSAFE_ATOMIC(uintptr_t) db_slot[DRAINING_SLOTS];
};

static struct draining_bucket draining_set[DRAINING_BUCKETS];

/*
 * Wake-up of destroyers (all classes share it; a spurious wake-up only
 * costs a rescan).  psref_wake: bumped by releases while a target
 * drains (seq_cst add); destroyers read it before a rescan and sleep on
 * it.  psref_sleepers: destroyers asleep on it (seq_cst add and
 * subtract); a release makes the futex call only when it is non-zero.
 * Each on its own line: releases only read mpsafe_psref_draining_all.
 */
static alignas(MPSAFE_RECORD_ALIGN) MPSAFE_ATOMIC(uint32_t) psref_wake;
static alignas(MPSAFE_RECORD_ALIGN) MPSAFE_ATOMIC(uint32_t) psref_sleepers;

/*
 * Drain watchers (psref_drain_watch()): (lock, cv) pairs that every wake
 * also broadcasts.  Entries below drain_nwatchers are set and never
 * change; a new one is filled in, then published by the count (release,
 * paired with the wake's acquire), under drain_watch_lock.
 */
struct drain_watcher {
	pthread_mutex_t *dw_lock;
	pthread_cond_t *dw_cv;
};
static pthread_mutex_t drain_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct drain_watcher drain_watchers[PSREF_DRAIN_WATCHERS];
static MPSAFE_ATOMIC(unsigned) drain_nwatchers;

/* The overflow list: references beyond a thread's slots, draining copies. */
static pthread_mutex_t overflow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct psref *overflow_head; /* overflow_lock */

/* psref_release() measures slot addresses from the table's (psref.h). */
_Static_assert(
    offsetof(struct psref_thread, pt_slot) == 0, "the slots begin the table");

static struct psref_thread *
thread_table(struct mpsafe_thread *t)
{
	return (struct psref_thread *)t->mt_private[MPSAFE_PRIV_PSREF];
}

int
mpsafe_psref_record_init(struct mpsafe_thread *t)
{
	struct psref_thread *pt = mpsafe_calloc(1, sizeof(*pt));

	if (pt == NULL)
		return ENOMEM;
	t->mt_private[MPSAFE_PRIV_PSREF] = pt;
	return 0;
}

static const char *
class_name(const struct psref_class *class)
{
	return class != NULL ? class->prc_name : "(null)";
}

/* --- overflow list (overflow_lock held) ------------------------------------
 */

static void
overflow_insert(struct psref *psref)
{
	psref->psref_next = overflow_head;
	psref->psref_prevp = &overflow_head;
	if (overflow_head != NULL)
		overflow_head->psref_prevp = &psref->psref_next;
	overflow_head = psref;
}

static void
overflow_remove(struct psref *psref)
{
	if (psref->psref_next != NULL)
		psref->psref_next->psref_prevp = psref->psref_prevp;
	*psref->psref_prevp = psref->psref_next;
	psref->psref_next = NULL;
	psref->psref_prevp = NULL;
}

static bool
overflow_contains(const struct psref *psref)
{
	for (const struct psref *p = overflow_head; p != NULL;
	     p = p->psref_next)
		if (p == psref)
			return true;
	return false;
}

/* Take a reference on the overflow list. */
static void
acquire_overflow(struct psref *psref, const struct psref_target *target,
    struct mpsafe_thread *t)
{
	psref->psref_target = target;
	psref->psref_slot = PSREF_SLOT_OVERFLOW;
	psref->psref_magic = PSREF_MAGIC_HELD;
	psref->psref_owner = t;
	pthread_mutex_lock(&overflow_lock);
	overflow_insert(psref);
	pthread_mutex_unlock(&overflow_lock);
	thread_table(t)->pt_overflow++;
}

/* --- acquire and release ----------------------------------------------------
 */

/* The first free slot of pt (owner only), or -1. */
static int
free_slot(struct psref_thread *pt)
{
	for (unsigned i = 0; i < PSREF_THREAD_SLOTS; i++) {
		if (mpsafe_load_relaxed(&pt->pt_slot[i]) == NULL)
			return (int)i;
	}
	return -1;
}

/* Take slot i for a reference to target (owner, in a read section). */
static void
take_slot(struct psref *psref, const struct psref_target *target,
    struct mpsafe_thread *t, unsigned i)
{
	/* Relaxed: ordered by the read section's release exit. */
	mpsafe_store_relaxed(&thread_table(t)->pt_slot[i], target);
	psref->psref_target = target;
	psref->psref_slot = (uintptr_t)&thread_table(t)->pt_slot[i];
	psref->psref_magic = PSREF_MAGIC_HELD;
}

/*
 * The slot of t's table that psref names, or NULL if psref names none of
 * them (another thread's, the overflow list, released, never acquired).
 */
static MPSAFE_ATOMIC(const struct psref_target *) *
    own_slot(const struct psref *psref, struct mpsafe_thread *t)
{
	struct psref_thread *pt = thread_table(t);
	uintptr_t off = psref->psref_slot - (uintptr_t)pt;

	if (pt == NULL || off >= sizeof(pt->pt_slot) ||
	    off % sizeof(pt->pt_slot[0]) != 0)
		return NULL;
	return &pt->pt_slot[off / sizeof(pt->pt_slot[0])];
}

/* Whether some thread's table, other than t's, holds psref's slot. */
static bool
other_threads_slot(const struct psref *psref, struct mpsafe_thread *t)
{
	for (struct mpsafe_thread *o = mpsafe_registry_first(); o != NULL;
	     o = o->mt_next)
		if (o != t && own_slot(psref, o) != NULL)
			return true;
	return false;
}

/*
 * Whether psref holds a reference of thread t (in a slot of t's that
 * still holds its target, or on the overflow list as t's).
 */
static bool
holds(const struct psref *psref, struct mpsafe_thread *t)
{
	MPSAFE_ATOMIC(const struct psref_target *) * slot;
	bool in_use;

	if (psref->psref_magic != PSREF_MAGIC_HELD ||
	    t == &mpsafe_thread_unregistered)
		return false;
	if (psref->psref_slot == PSREF_SLOT_OVERFLOW) {
		pthread_mutex_lock(&overflow_lock);
		in_use = overflow_contains(psref) && psref->psref_owner == t;
		pthread_mutex_unlock(&overflow_lock);
		return in_use;
	}
	slot = own_slot(psref, t);
	/* Relaxed: the thread's own slot. */
	return slot != NULL && mpsafe_load_relaxed(slot) == psref->psref_target;
}
/* Whether t holds target in one of its slots. */
static bool
slots_hold(struct psref_thread *pt, const struct psref_target *target)
{
	for (unsigned i = 0; i < PSREF_THREAD_SLOTS; i++) {
		/* Acquire: pairs with the release store that empties it. */
		if (atomic_load_explicit(
		        &pt->pt_slot[i], memory_order_acquire) == target)
			return true;
	}
	return false;
}

/* Whether the overflow list holds a reference to target (by t, if set). */
static bool
overflow_holds(const struct psref_target *target, struct mpsafe_thread *t)
{
	bool found = false;

	pthread_mutex_lock(&overflow_lock);
	for (struct psref *p = overflow_head; p != NULL; p = p->psref_next) {
		if (p->psref_target == target &&
		    (t == NULL || p->psref_owner == t)) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&overflow_lock);
	return found;
}

void
mpsafe_psref_acquire_check(struct psref *psref,
    const struct psref_target *target, struct psref_class *class)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	if (psref == NULL || target == NULL || class == NULL)
		mpsafe_panic("psref_acquire(%p, %p, %p): NULL argument",
		    (void *)psref, (const void *)target, (void *)class);
	if (!pserialize_in_read_section())
		mpsafe_panic("psref_acquire of target %p (class %s) outside a "
		             "read section: take the reference inside the "
		             "read section that found the target",
		    (const void *)target, class_name(class));
	if (target->prt_class != class)
		mpsafe_panic("psref_acquire of target %p: class %s, but the "
		             "target %s",
		    (const void *)target, class_name(class),
		    target->prt_class == NULL ? "is not initialised or was "
		                                "destroyed"
		                              : "belongs to another class");
	/*
	 * DRAINING_WAITED: the destroy's grace period is over, so this read
	 * section began after the destroy started and found a target that
	 * was still published.  (DRAINING_STARTED is fine: a section that
	 * found the target before it was unpublished may acquire it while
	 * the destroy waits for that section.)
	 */
	if (mpsafe_load_relaxed(&target->prt_draining) == DRAINING_WAITED)
		mpsafe_panic("psref_acquire of target %p (class %s) that is "
		             "being destroyed: unpublish it before "
		             "psref_target_destroy",
		    (const void *)target, class_name(class));
	if (holds(psref, t))
		mpsafe_panic("psref_acquire with psref %p that still holds a "
		             "reference: release it first (a struct psref "
		             "holds one reference at a time)",
		    (void *)psref);
}

void
mpsafe_psref_acquire_recheck(
    const struct psref_target *target, struct psref_class *class)
{
	/*
	 * Seq_cst fence between our slot store and the load below: pairs
	 * with the destroyer's fence between its store of DRAINING_WAITED
	 * and its scan.  Either the scan sees our slot (and waits) or we
	 * see WAITED.  Best effort: see the top of the file.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (mpsafe_load_relaxed(&target->prt_draining) == DRAINING_WAITED)
		mpsafe_panic("psref_acquire of target %p (class %s) that is "
		             "being destroyed: unpublish it before "
		             "psref_target_destroy",
		    (const void *)target, class_name(class));
}

void
mpsafe_psref_acquire_slow(struct psref *psref,
    const struct psref_target *target, struct psref_class *class)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	int i;

	(void)class;
	if (t == &mpsafe_thread_unregistered)
		mpsafe_panic("psref_acquire by a thread that is not "
		             "registered: take references inside a read "
		             "section");
	i = free_slot(thread_table(t));
	if (i < 0) {
		acquire_overflow(psref, target, t);
		return;
	}
	take_slot(psref, target, t, (unsigned)i);
}

/* Say which rule a release broke, and abort. */
static MPSAFE_NORETURN void
release_broken(struct psref *psref, const struct psref_target *target,
    struct psref_class *class, const char *why)
{
	mpsafe_panic("psref_release(%p) of target %p (class %s): %s",
	    (void *)psref, (const void *)target, class_name(class), why);
}

void
mpsafe_psref_release_slow(struct psref *psref,
    const struct psref_target *target, struct psref_class *class)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	if (psref == NULL || target == NULL || class == NULL)
		release_broken(psref, target, class, "NULL argument");
	if (psref->psref_magic != PSREF_MAGIC_HELD)
		release_broken(
		    psref, target, class, "this psref was never acquired");
	if (psref->psref_slot == PSREF_SLOT_RELEASED)
		release_broken(
		    psref, target, class, "released twice (double release)");
	if (t == &mpsafe_thread_unregistered)
		release_broken(psref, target, class,
		    "the calling thread is not registered (release before "
		    "the thread unregisters, and before the last pass of "
		    "its pthread key destructors)");
	if (psref->psref_slot == PSREF_SLOT_OVERFLOW
	        ? psref->psref_owner != t
	        : own_slot(psref, t) == NULL)
		release_broken(psref, target, class,
		    psref->psref_slot == PSREF_SLOT_OVERFLOW ||
		            other_threads_slot(psref, t)
		        ? "released on another thread than the one that "
		          "acquired it (psref references do not move between "
		          "threads; use localcount for that)"
		        : "this psref was never acquired");
	if (psref->psref_target != target)
		release_broken(
		    psref, target, class, "the psref refers to another target");
	if (target->prt_class != class)
		release_broken(psref, target, class,
		    target->prt_class == NULL
		        ? "the target is dead: destroyed (did "
		          "psref_target_destroy return while this reference "
		          "was held?) or overwritten since the acquire"
		        : "the target belongs to another class (the class "
		          "passed must be the target's)");
	if (psref->psref_slot != PSREF_SLOT_OVERFLOW)
		release_broken(psref, target, class,
		    "the reference is not held (its slot was reused: "
		    "released twice, or copied by assignment)");
	pthread_mutex_lock(&overflow_lock);
	if (!overflow_contains(psref)) {
		pthread_mutex_unlock(&overflow_lock);
		release_broken(psref, target, class,
		    "the reference is not held (released twice, or copied "
		    "by assignment)");
	}
	psref->psref_slot = PSREF_SLOT_RELEASED;
	overflow_remove(psref);
	pthread_mutex_unlock(&overflow_lock);
	thread_table(t)->pt_overflow--;
	/* Pairs with the destroyer's fence after its grace period. */
	atomic_thread_fence(memory_order_seq_cst);
	if (mpsafe_load_relaxed(&mpsafe_psref_draining_all) != 0)
		mpsafe_psref_wake();
}

static struct draining_bucket *
draining_bucket(uintptr_t key)
{
	uint64_t h = (uint64_t)key * UINT64_C(0x9e3779b97f4a7c15);

	return &draining_set[h >> 59 & (DRAINING_BUCKETS - 1)];
}

/*
 * The release of the target at address key, after emptying its slot,
 * while some target drains: wake the destroyers if key is one of the
 * draining targets, or if its bucket has unlisted ones.  Reads only
 * library-wide state (the target may be freed already).
 */
void
mpsafe_psref_release_draining(uintptr_t key)
{
	struct draining_bucket *b = draining_bucket(key);

	/*
	 * Acquire fence: the caller read the count raised; this pairs with
	 * the destroyer's seq_cst raise, which follows its entry, so the
	 * loads below see that entry (on weakly ordered CPUs too).
	 */
	atomic_thread_fence(memory_order_acquire);
	/* Relaxed: ordered by the fence above. */
	if (mpsafe_load_relaxed(&b->db_unlisted) != 0) {
		mpsafe_psref_wake();
		return;
	}
	for (unsigned i = 0; i < DRAINING_SLOTS; i++)
		/* Relaxed: ordered by the fence above. */
		if (mpsafe_load_relaxed(&b->db_slot[i]) == key) {
			mpsafe_psref_wake();
			return;
		}
}

/* Enter target in the draining set. */
static void
draining_set_add(const struct psref_target *target)
{
	struct draining_bucket *b = draining_bucket((uintptr_t)target);

	for (unsigned i = 0; i < DRAINING_SLOTS; i++) {
		uintptr_t expect = 0;

		/*
		 * Relaxed: published to releases by the seq_cst raise of
		 * the draining count that follows, and the grace period.
		 */
		if (atomic_compare_exchange_strong_explicit(&b->db_slot[i],
		        &expect, (uintptr_t)target, memory_order_relaxed,
		        memory_order_relaxed))
			return;
	}
	/* Relaxed: published as a slot is. */
	atomic_fetch_add_explicit(&b->db_unlisted, 1, memory_order_relaxed);
}

/*
 * Take target out of the draining set (after the count was lowered).  A
 * target is in the set once at most: a second destroy of it panics.
 */
static void
draining_set_remove(const struct psref_target *target)
{
	struct draining_bucket *b = draining_bucket((uintptr_t)target);

	for (unsigned i = 0; i < DRAINING_SLOTS; i++) {
		uintptr_t expect = (uintptr_t)target;

		/* Relaxed: a stale entry costs a release a needless wake. */
		if (atomic_compare_exchange_strong_explicit(&b->db_slot[i],
		        &expect, 0, memory_order_relaxed, memory_order_relaxed))
			return;
	}
	/* Relaxed: as above. */
	atomic_fetch_sub_explicit(&b->db_unlisted, 1, memory_order_relaxed);
}

void
mpsafe_psref_wake(void)
{
	unsigned n;

	/*
	 * Seq_cst: the emptied slot is visible to a destroyer that reads
	 * the new value (acquire) before its rescan; and either we see its
	 * psref_sleepers raised, or its futex finds psref_wake changed.
	 */
	atomic_fetch_add_explicit(&psref_wake, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&psref_sleepers, memory_order_seq_cst) != 0)
		mpsafe_futex_wake(&psref_wake);
	/*
	 * Acquire: pairs with psref_drain_watch()'s release, so the pairs
	 * below the count are seen filled in.  A watcher checks with its
	 * lock held and sleeps on its cv: our broadcast under the lock
	 * comes after that check (which then saw the emptied slot, ordered
	 * by the lock) or reaches the sleep.
	 */
	n = atomic_load_explicit(&drain_nwatchers, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(drain_watchers[i].dw_lock);
		pthread_cond_broadcast(drain_watchers[i].dw_cv);
		pthread_mutex_unlock(drain_watchers[i].dw_lock);
	}
}

int
psref_drain_watch(pthread_mutex_t *lock, pthread_cond_t *cv)
{
	int error = 0;
	unsigned n;

	if (lock == NULL || cv == NULL)
		return EINVAL;
	pthread_mutex_lock(&drain_watch_lock);
	/* Relaxed: written only under drain_watch_lock. */
	n = mpsafe_load_relaxed(&drain_nwatchers);
	for (unsigned i = 0; i < n; i++)
		if (drain_watchers[i].dw_lock == lock &&
		    drain_watchers[i].dw_cv == cv)
			goto out;
	if (n == PSREF_DRAIN_WATCHERS) {
		error = ENOSPC;
		goto out;
	}
	drain_watchers[n].dw_lock = lock;
	drain_watchers[n].dw_cv = cv;
	/* Release: pairs with mpsafe_psref_wake()'s acquire. */
	mpsafe_store_release(&drain_nwatchers, n + 1);
out:
	pthread_mutex_unlock(&drain_watch_lock);
	return error;
}

void
psref_copy(
    struct psref *pto, const struct psref *pfrom, struct psref_class *class)
{
	struct mpsafe_thread *t = mpsafe_curthread;
	const struct psref_target *target;
	struct psref_thread *pt;
	int s, i;

	if (pto == NULL || pfrom == NULL || class == NULL)
		mpsafe_panic("psref_copy(%p, %p, %p): NULL argument",
		    (void *)pto, (const void *)pfrom, (void *)class);
	target = pfrom->psref_target;
	if (!holds(pfrom, t))
		mpsafe_panic("psref_copy from psref %p that the calling "
		             "thread does not hold (class %s)",
		    (const void *)pfrom, class_name(class));
	MPSAFE_DIAG(target->prt_class == class,
	    "psref_copy: psref %p refers to a target of class %s, not %s",
	    (const void *)pfrom, class_name(target->prt_class),
	    class_name(class));
#ifdef MPSAFE_DIAGNOSTIC
	if (holds(pto, t))
		mpsafe_panic("psref_copy into psref %p that still holds a "
		             "reference: release it first",
		    (void *)pto);
#endif
	/*
	 * A read section: a destroyer's grace period waits for a copy in
	 * progress, and a copy that starts later sees prt_draining.
	 */
	s = pserialize_read_enter();
	pt = thread_table(t);
	i = free_slot(pt);
	if (mpsafe_load_relaxed(&target->prt_draining) != 0 || i < 0) {
		/* On the list the destroyer scans last (see the top). */
		acquire_overflow(pto, target, t);
	} else {
		take_slot(pto, target, t, (unsigned)i);
	}
	pserialize_read_exit(s);
}

bool
psref_held(const struct psref_target *target, struct psref_class *class)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	(void)class;
	if (target == NULL || t == &mpsafe_thread_unregistered)
		return false;
	if (slots_hold(thread_table(t), target))
		return true;
	return thread_table(t)->pt_overflow != 0 && overflow_holds(target, t);
}

/* --- classes and targets ----------------------------------------------------
 */

struct psref_class *
psref_class_create(const char *name)
{
	struct psref_class *class;

	if (name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	mpsafe_library_init();
	class = mpsafe_aligned_alloc(
	    MPSAFE_RECORD_ALIGN, (sizeof(*class) + MPSAFE_RECORD_ALIGN - 1) &
	                             ~(size_t)(MPSAFE_RECORD_ALIGN - 1));
	if (class != NULL)
		memset(class, 0, sizeof(*class));
	if (class == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	class->prc_magic = CLASS_MAGIC;
	snprintf(class->prc_name, sizeof(class->prc_name), "%s", name);
	return class;
}

void
psref_class_destroy(struct psref_class *class)
{
	long alive;

	if (class == NULL)
		return;
	if (class->prc_magic != CLASS_MAGIC)
		mpsafe_panic("psref_class_destroy(%p): not a live class "
		             "(destroyed twice?)",
		    (void *)class);
	/* Relaxed: the targets' destroys returned to this caller already. */
	alive = atomic_load_explicit(&class->prc_targets, memory_order_relaxed);
	if (alive != 0) {
		MPSAFE_DIAG(0,
		    "psref_class_destroy of class %s with %ld targets alive: "
		    "psref_target_destroy every target first",
		    class->prc_name, alive);
		return; /* keep it: freeing would break the live targets */
	}
	class->prc_magic = CLASS_POISON;
	mpsafe_free(class);
}

void
psref_target_init(struct psref_target *target, struct psref_class *class)
{
	if (target == NULL || class == NULL || class->prc_magic != CLASS_MAGIC)
		mpsafe_panic("psref_target_init(%p, %p): NULL target or not "
		             "a live class",
		    (void *)target, (void *)class);
	target->prt_class = class;
	/* Relaxed: the target is published after this (with release). */
	atomic_store_explicit(
	    &target->prt_draining, DRAINING_NO, memory_order_relaxed);
	atomic_fetch_add_explicit(&class->prc_targets, 1, memory_order_relaxed);
}

/* Whether any thread holds a reference to target (one scan). */
static bool
anyone_holds(const struct psref_target *target)
{
	for (struct mpsafe_thread *t = mpsafe_registry_first(); t != NULL;
	     t = t->mt_next) {
		if (slots_hold(thread_table(t), target))
			return true;
	}
	/* Last: see the copy argument at the top of the file. */
	return overflow_holds(target, NULL);
}

/* Panic unless target is a live target of class, which lives. */
static void
destroy_check_target(
    const char *fn, struct psref_target *target, struct psref_class *class)
{
	if (target == NULL || class == NULL || class->prc_magic != CLASS_MAGIC)
		mpsafe_panic("%s(%p, %p): NULL target or not a live class", fn,
		    (void *)target, (void *)class);
	if (target->prt_class != class)
		mpsafe_panic("%s of target %p: %s", fn, (void *)target,
		    target->prt_class == NULL
		        ? "not initialised, or destroyed already"
		        : "it belongs to another class");
}

/*
 * Panic if the calling thread holds a reference to target (it would wait
 * for ever), or if it may wait (waits) and is in a read section.
 */
static void
destroy_check_waiter(const char *fn, struct psref_target *target,
    struct psref_class *class, bool waits)
{
	struct mpsafe_thread *self = mpsafe_curthread;

	if (waits && pserialize_in_read_section())
		mpsafe_panic("%s inside a read section: it waits for a grace "
		             "period, which would wait for this thread",
		    fn);
	if (self != &mpsafe_thread_unregistered &&
	    (slots_hold(thread_table(self), target) ||
	        (thread_table(self)->pt_overflow != 0 &&
	            overflow_holds(target, self))))
		mpsafe_panic("%s of target %p (class %s) by a thread that "
		             "holds a reference to it: it would wait for "
		             "ever; release first",
		    fn, (void *)target, class->prc_name);
}

void
psref_target_destroy_begin(
    struct psref_target *target, struct psref_class *class)
{
	destroy_check_target("psref_target_destroy_begin", target, class);
	/* Relaxed: read by copies, ordered by the grace period that follows. */
	if (atomic_exchange_explicit(&target->prt_draining, DRAINING_STARTED,
	        memory_order_relaxed) != DRAINING_NO)
		mpsafe_panic("psref_target_destroy of target %p (class %s) "
		             "that is being destroyed by another thread (or "
		             "whose destroy was begun already)",
		    (void *)target, class->prc_name);
	/*
	 * Enter the target, then raise the count (seq_cst: pairs with the
	 * releasers' barrier, see the top): a release that sees the count
	 * raised sees the entry too.  Then the ticket, whose grace period
	 * begins after the raise.
	 */
	draining_set_add(target);
	atomic_fetch_add_explicit(
	    &mpsafe_psref_draining_all, 1, memory_order_seq_cst);
	target->prt_gp = mpsafe_gp_ticket();
}

/* Panic unless target's destroy was begun (end and tryend). */
static void
destroy_check_begun(
    const char *fn, struct psref_target *target, struct psref_class *class)
{
	/* Relaxed: our own store, or ordered by the caller (psref.h). */
	if (mpsafe_load_relaxed(&target->prt_draining) == DRAINING_NO)
		mpsafe_panic("%s of target %p (class %s) whose destroy was not "
		             "begun (psref_target_destroy_begin)",
		    fn, (void *)target, class->prc_name);
}

/*
 * Step 3's set-up, once a grace period since begin has ended: mark the
 * target (diagnostic acquires check it) and fence before the scan.
 */
static void
destroy_waited(struct psref_target *target)
{
	/* Relaxed: only diagnostic acquire checks read the difference. */
	atomic_store_explicit(
	    &target->prt_draining, DRAINING_WAITED, memory_order_relaxed);
	/* Pairs with a releaser's fence in the fence mode. */
	atomic_thread_fence(memory_order_seq_cst);
}

/* The end of a destroy whose scan found no holder. */
static void
destroy_finish(struct psref_target *target, struct psref_class *class)
{
	/* Relaxed: a stale non-zero count costs releases a needless wake. */
	atomic_fetch_sub_explicit(
	    &mpsafe_psref_draining_all, 1, memory_order_relaxed);
	draining_set_remove(target);
	target->prt_class = NULL;
	/* Relaxed: read by psref_class_destroy() after this call returns. */
	atomic_fetch_sub_explicit(&class->prc_targets, 1, memory_order_relaxed);
}

void
psref_target_destroy_end(struct psref_target *target, struct psref_class *class)
{
	unsigned spins = 0, yields = 0;

	destroy_check_target("psref_target_destroy_end", target, class);
	destroy_check_waiter("psref_target_destroy_end", target, class, true);
	destroy_check_begun("psref_target_destroy_end", target, class);
	/*
	 * Step 2: a grace period since begin, ours or another caller's
	 * (WAITED: a tryend saw one).  Relaxed: as in destroy_check_begun().
	 */
	if (mpsafe_load_relaxed(&target->prt_draining) != DRAINING_WAITED &&
	    !mpsafe_gp_passed(target->prt_gp))
		mpsafe_gp_wait();
	MPSAFE_YIELD_POINT(); /* holders release while we start to look */
	destroy_waited(target);
#ifdef MPSAFE_TEST_BROKEN_PSREF_NO_WAIT
	/* The torture test's own test: a destroy that does not wait. */
	spins = yields = 0;
	goto out;
#endif
	for (;;) {
		/* Acquire: pairs with the releasers' increment. */
		uint32_t wake =
		    atomic_load_explicit(&psref_wake, memory_order_acquire);

		if (!anyone_holds(target))
			break;
		if (spins < DESTROY_SPIN_LIMIT) {
			spins++;
			mpsafe_cpu_relax();
		} else if (yields < DESTROY_YIELD_LIMIT) {
			yields++;
			sched_yield();
		} else {
			/* Seq_cst: pairs with the waker's (see the wake). */
			atomic_fetch_add_explicit(
			    &psref_sleepers, 1, memory_order_seq_cst);
			mpsafe_futex_wait(&psref_wake, wake);
			/* Relaxed: a stale count costs a needless wake. */
			atomic_fetch_sub_explicit(
			    &psref_sleepers, 1, memory_order_relaxed);
		}
	}
#ifdef MPSAFE_TEST_BROKEN_PSREF_NO_WAIT
out:
#endif
	destroy_finish(target, class);
}

int
psref_target_destroy_tryend(
    struct psref_target *target, struct psref_class *class)
{
	destroy_check_target("psref_target_destroy_tryend", target, class);
	destroy_check_waiter(
	    "psref_target_destroy_tryend", target, class, false);
	destroy_check_begun("psref_target_destroy_tryend", target, class);
	/*
	 * Step 2 must be over: tryend does not wait for a grace period.
	 * WAITED: an earlier tryend saw it over (the ticket may have wrapped
	 * since).  Relaxed: our own store, or ordered by the caller.
	 */
	if (mpsafe_load_relaxed(&target->prt_draining) != DRAINING_WAITED &&
	    !mpsafe_gp_passed(target->prt_gp))
		return EAGAIN;
	destroy_waited(target);
#ifndef MPSAFE_TEST_BROKEN_PSREF_NO_WAIT
	/* Step 3, one scan; step 4 is the caller's, woken by a watch. */
	if (anyone_holds(target))
		return EBUSY;
#endif
	destroy_finish(target, class);
	return 0;
}

void
psref_target_destroy(struct psref_target *target, struct psref_class *class)
{
	/* Check first: a broken call must not leave the target draining. */
	destroy_check_target("psref_target_destroy", target, class);
	destroy_check_waiter("psref_target_destroy", target, class, true);
	psref_target_destroy_begin(target, class);
	psref_target_destroy_end(target, class);
}

/* --- thread exit and fork
 * ----------------------------------------------------- */

/*
 * Drop every reference t holds: its thread is leaving (wake: the caller
 * is that thread, still registered) or gone (fork child).
 */
static void
drop_all(struct mpsafe_thread *t, bool wake)
{
	struct psref_thread *pt = thread_table(t);
	struct psref *p, *next;
	bool dropped = false;

	for (unsigned i = 0; i < PSREF_THREAD_SLOTS; i++) {
		const struct psref_target *target =
		    mpsafe_load_relaxed(&pt->pt_slot[i]);

		if (target == NULL)
			continue;
		if (!wake) {
			/* Fork child: one thread, nothing to order. */
			mpsafe_store_relaxed(&pt->pt_slot[i], NULL);
			continue;
		}
		/* Release: as in psref_release(). */
		mpsafe_store_release(&pt->pt_slot[i], NULL);
		/* Pairs with the destroyer's barrier, as in psref_release(). */
		atomic_thread_fence(memory_order_seq_cst);
		if (mpsafe_load_relaxed(&mpsafe_psref_draining_all) != 0)
			mpsafe_psref_wake();
	}
	pthread_mutex_lock(&overflow_lock);
	for (p = overflow_head; p != NULL; p = next) {
		next = p->psref_next;
		if (p->psref_owner == t) {
			overflow_remove(p);
			dropped = true;
		}
	}
	pthread_mutex_unlock(&overflow_lock);
	pt->pt_overflow = 0;
	/*
	 * After the unlock: a drain watcher takes overflow_lock (its scan)
	 * with its own lock held, which the wake takes.  Relaxed: ordered
	 * by the unlock, as the destroyer's scan takes the lock.
	 */
	if (wake && dropped &&
	    mpsafe_load_relaxed(&mpsafe_psref_draining_all) != 0)
		mpsafe_psref_wake();
}

unsigned
mpsafe_psref_thread_held(struct mpsafe_thread *t)
{
	struct psref_thread *pt = thread_table(t);
	unsigned held = pt->pt_overflow;

	/* Relaxed: the owner reads its own slots. */
	for (unsigned i = 0; i < PSREF_THREAD_SLOTS; i++)
		held += mpsafe_load_relaxed(&pt->pt_slot[i]) != NULL;
	return held;
}

bool
mpsafe_psref_destroying(void)
{
	/*
	 * Relaxed: the caller holds gp_lock, which a destroy takes for its
	 * grace period after raising the count (see mpsafe_set_ordering()).
	 */
	return atomic_load_explicit(
	           &mpsafe_psref_draining_all, memory_order_relaxed) != 0;
}

void
mpsafe_psref_thread_exit(struct mpsafe_thread *t, const char *why)
{
	unsigned held = mpsafe_psref_thread_held(t);

	if (held == 0)
		return;
#ifdef MPSAFE_DIAGNOSTIC
	mpsafe_panic("thread %s holding %u psref reference(s): release "
	             "every reference before the thread leaves",
	    why, held);
#else
	/*
	 * Overflow references are the caller's struct psref, likely in stack
	 * frames that are gone: they cannot be dropped safely.
	 */
	if (thread_table(t)->pt_overflow != 0)
		mpsafe_panic("thread %s holding %u psref reference(s), %u of "
		             "them beyond its %u slots: release every "
		             "reference before the thread leaves",
		    why, held, thread_table(t)->pt_overflow,
		    PSREF_THREAD_SLOTS);
	drop_all(t, true);
#endif
}

void
mpsafe_psref_atfork_prepare(void)
{
	pthread_mutex_lock(&overflow_lock);
}

void
mpsafe_psref_atfork_parent(void)
{
	pthread_mutex_unlock(&overflow_lock);
}

void
mpsafe_psref_atfork_child(struct mpsafe_thread *self)
{
	pthread_mutex_unlock(&overflow_lock);
	/* Only self is left: the other threads' references are gone. */
	for (struct mpsafe_thread *t = mpsafe_registry_first(); t != NULL;
	     t = t->mt_next) {
		if (t != self)
			drop_all(t, false);
	}
}
