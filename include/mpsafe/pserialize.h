/*
 * mpsafe/pserialize.h: passive serialization, after NetBSD's pserialize(9).
 *
 * Readers bracket lookups of shared data with pserialize_read_enter() and
 * pserialize_read_exit().  A read section costs a few instructions on the
 * calling thread's own record: no lock, no atomic read-modify-write, no
 * system call, no write to a cache line that another thread writes.
 * Sections nest.  A writer that has unpublished an object calls
 * pserialize_perform(), which returns once every read section that began
 * before the call has ended; the object can then be freed.
 *
 * Differences from NetBSD (see pserialize(3)):
 *  - A "CPU" is a registered thread (mpsafe/thread.h); threads register
 *    implicitly on their first read section.
 *  - Userspace cannot disable preemption: a reader preempted inside a
 *    section only delays grace periods.  Readers must still not block.
 *  - The int returned by pserialize_read_enter() is the thread's read
 *    state after the call, not an IPL; pass it back, unchanged, to the
 *    matching pserialize_read_exit().  Sections nest at most
 *    MPSAFE_NEST_MAX deep; deeper nesting aborts, and so do exits out
 *    of order in diagnostic builds (other builds trust the cookie: the
 *    thread stays inside a section, and grace periods wait for ever).
 *  - No call is a cancellation point (pthread_cancel() acts after the
 *    call returns).
 *  - pserialize_perform() sleeps when readers are slow, and is woken by the
 *    last of them; concurrent callers share grace periods.
 *  - Deferred reclamation, which NetBSD leaves to each subsystem, is
 *    provided in mpsafe/defer.h.
 */
#ifndef MPSAFE_PSERIALIZE_H
#define MPSAFE_PSERIALIZE_H

#include <stdbool.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>
#include <mpsafe/thread.h>

MPSAFE_BEGIN_DECLS

typedef struct pserialize *pserialize_t;

/*
 * Deepest read-section nesting: one less than the depth field holds,
 * whose all-ones value marks an unregistered thread.
 */
#define MPSAFE_NEST_MAX (MPSAFE_READ_NEST - 1)

/*
 * pserialize_create()
 *
 *	Create a passive serialization object for one writer path.  Returns
 *	NULL with errno ENOMEM when out of memory.  May block.
 */
MPSAFE_API pserialize_t pserialize_create(void);

/*
 * pserialize_destroy(psz)
 *
 *	Destroy psz.  No pserialize_perform(psz) may be in progress
 *	(every build aborts with a message when one is: it would write into
 *	the freed object).  The memory is poisoned before it is freed.
 */
MPSAFE_API void pserialize_destroy(pserialize_t psz);

/*
 * pserialize_perform(psz)
 *
 *	Wait for a grace period: return once every read section that had
 *	begun when the call began has ended.  The caller serialises its
 *	writers (normally by holding the lock that guards the data; readers
 *	never take it, so holding it here is fine).  Thread context, not
 *	inside a read section (every build aborts: the call would wait for
 *	its own section).  Blocks: spins
 *	briefly, then sleeps until the last reader it waits for leaves.
 *	Concurrent callers share grace periods.
 */
MPSAFE_API void pserialize_perform(pserialize_t psz);

/* Library-private slow paths of the read-section fast paths. */
MPSAFE_API MPSAFE_COLD int mpsafe_read_enter_slow(void);
MPSAFE_API MPSAFE_COLD MPSAFE_NORETURN void mpsafe_read_exit_broken(int s);

/*
 * pserialize_read_enter()
 *
 *	Enter a read section; returns a cookie for pserialize_read_exit().
 *	Never blocks, takes no lock, makes no system call, except on the
 *	calling thread's first use, which registers it (a library lock, an
 *	allocation).  A signal handler may open read sections only on a
 *	thread that registered before the handler could run, and not while
 *	that thread registers, unregisters or exits (registration is not
 *	async-signal-safe).
 */
static inline int
pserialize_read_enter(void)
{
	uint32_t w = mpsafe_load_relaxed(&mpsafe_reader_self.mr_word);

	/* One test for the common case: outermost, membarrier mode. */
	if (MPSAFE_LIKELY((w & (MPSAFE_READ_NEST | MPSAFE_READ_FENCE)) == 0)) {
		/*
		 * A new generation, depth 1.  The store needs no release of
		 * its own: the compiler barrier orders it before the
		 * section's loads, and membarrier() in the grace period
		 * does the rest.  (Under ThreadSanitizer it is a release so
		 * that a writer reading a later value also sees this
		 * thread's previous exit.)
		 */
		w += MPSAFE_READ_GEN_ONE + 1;
#ifdef MPSAFE_TSAN
		mpsafe_store_release(&mpsafe_reader_self.mr_word, w);
#else
		mpsafe_store_relaxed(&mpsafe_reader_self.mr_word, w);
#endif
		mpsafe_compiler_barrier(); /* pairs with membarrier() */
		return (int)w;
	}
	/*
	 * Nested; or all depth bits set (unregistered); or already at
	 * MPSAFE_NEST_MAX, where one more would read as unregistered.
	 */
	if (MPSAFE_UNLIKELY((w & MPSAFE_READ_NEST) >= MPSAFE_NEST_MAX))
		return mpsafe_read_enter_slow();
	if ((w & MPSAFE_READ_NEST) != 0) {
		w += 1;
		mpsafe_store_relaxed(&mpsafe_reader_self.mr_word, w);
		return (int)w;
	}
	/* Outermost in the fence mode. */
	w += MPSAFE_READ_GEN_ONE + 1;
	mpsafe_store_relaxed(&mpsafe_reader_self.mr_word, w);
	mpsafe_fence_seq_cst(); /* pairs with the scan's fence */
	return (int)w;
}

/*
 * pserialize_read_exit(s)
 *
 *	Leave the read section entered by the pserialize_read_enter() that
 *	returned s, which must be the innermost one.  Never blocks; wakes a
 *	writer that sleeps waiting for this thread.  Diagnostic builds
 *	(MPSAFE_DIAGNOSTIC defined) abort on an exit that does not match
 *	the innermost enter; other builds trust s, as NetBSD trusts the IPL
 *	it is given.
 */
static inline void
pserialize_read_exit(int s)
{
	uint32_t w = (uint32_t)s;

#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(
	        (w & MPSAFE_READ_NEST) == 0 ||
	        (w & MPSAFE_READ_NEST) == MPSAFE_READ_NEST ||
	        mpsafe_load_relaxed(&mpsafe_reader_self.mr_word) != w))
		mpsafe_read_exit_broken(s);
#endif
	/*
	 * Release: the section's loads happen before the store; pairs with
	 * the acquire load in the grace-period scan.
	 */
	mpsafe_store_release(&mpsafe_reader_self.mr_word, w - 1);
	if (MPSAFE_LIKELY((w & (MPSAFE_READ_NEST | MPSAFE_READ_FENCE)) == 1)) {
		/* Outermost, membarrier mode. */
		mpsafe_compiler_barrier(); /* pairs with membarrier() */
	} else if ((w & MPSAFE_READ_NEST) == 1) {
		/* Outermost, fence mode: pairs with the waiter's fence. */
		mpsafe_fence_seq_cst();
	} else {
		return; /* nested */
	}
	if (MPSAFE_UNLIKELY(
	        mpsafe_load_relaxed(&mpsafe_reader_self.mr_waiters) != 0))
		mpsafe_thread_wake_writers(&mpsafe_reader_self);
}

/*
 * pserialize_in_read_section(), pserialize_not_in_read_section()
 *
 *	For assertions only: whether the calling thread is inside a read
 *	section.  Exact in userspace (the state is the thread's own).
 */
static inline bool
pserialize_in_read_section(void)
{
	uint32_t depth =
	    mpsafe_load_relaxed(&mpsafe_reader_self.mr_word) & MPSAFE_READ_NEST;

	return depth != 0 && depth != MPSAFE_READ_NEST;
}

static inline bool
pserialize_not_in_read_section(void)
{
	return !pserialize_in_read_section();
}

MPSAFE_END_DECLS

#endif /* MPSAFE_PSERIALIZE_H */
