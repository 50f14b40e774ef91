/*
 * mpsafe/thread.h: the thread registry shared by every primitive.
 *
 * NetBSD's primitives keep per-CPU state.  In userspace the unit that plays
 * the CPU's role is a registered thread: each registered thread owns one
 * record (struct mpsafe_thread) that holds its read-section state, and
 * writers scan the records of all registered threads.
 *
 * Registration is implicit: the first primitive a thread uses registers it,
 * and a thread-exit handler (a pthread key destructor) unregisters it; it
 * waits for the program's own key destructors, which may run after it, to
 * release references and leave read sections, until the last pass.
 * mpsafe_thread_register() and mpsafe_thread_unregister() exist for callers
 * that want to control when this happens (for instance to keep registration out
 * of a latency-critical first call).  Records are never freed: an unregistered
 * record is kept for the next thread that registers, so a writer may scan a
 * record while its owner exits.  After fork(), the child's registry holds only
 * the forking thread.
 *
 * The fields the inline read-side fast paths touch are public so that those
 * paths can be inlined; everything marked "library-private" is not API.
 */
#ifndef MPSAFE_THREAD_H
#define MPSAFE_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

#if defined(__SANITIZE_THREAD__)
#define MPSAFE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPSAFE_TSAN 1
#endif
#endif

/*
 * A thread's read-section state: the only memory the read-side fast path
 * touches.  It lives in the thread's own TLS (mpsafe_reader_self), so
 * entering and leaving a section costs no pointer chase.
 */
struct mpsafe_reader {
	/*
	 * Read-section word.  Written by the owner only (plain load and
	 * store, never a read-modify-write); read by writers waiting for a
	 * grace period.  Bits 0-14 (MPSAFE_READ_NEST): read-section nesting
	 * depth, all set while the thread is not registered.  Bit 15
	 * (MPSAFE_READ_FENCE): set when the process runs in the fence
	 * ordering mode, so the fast path needs no other load.  Bits 16-31:
	 * generation, advanced by each outermost entry; it may wrap, which
	 * can only make a writer wait longer.
	 */
	MPSAFE_ATOMIC(uint32_t) mr_word;
	/*
	 * Number of writers sleeping on mr_word.  Written by writers
	 * (atomic add); read by the owner when it leaves its outermost
	 * read section, to decide whether to wake them.
	 */
	MPSAFE_ATOMIC(uint32_t) mr_waiters;
	/*
	 * Owner only: the registered record's mt_private[] (psref's and
	 * localcount's per-thread state), NULL while not registered, so
	 * their fast paths reach it with one TLS load instead of two.
	 */
	void *mr_private[2];
};

/*
 * One registered thread.  Allocated by the library, one per 128-byte block
 * so that no two threads' records share a cache line (or an adjacent-line
 * prefetch pair).
 */
struct mpsafe_thread {
	/*
	 * The owner's reader state while it is registered (its TLS
	 * mpsafe_reader_self), &mt_parked otherwise.  Written under the
	 * registry lock with release; read by grace periods with acquire.
	 * A thread that unregisters parks its record and then waits out any
	 * grace period that may still hold the old pointer.
	 */
	MPSAFE_ATOMIC(struct mpsafe_reader *) mt_reader;
	struct mpsafe_reader mt_parked; /* depth 0 for ever */

	/* Library-private from here on. */
	MPSAFE_ATOMIC(uint32_t) mt_state; /* free, in use: registry lock */
	uint32_t mt_flags;                /* owner only */
	struct mpsafe_thread *mt_next;    /* registry list, append only */
	void *mt_private[6];              /* reserved for the primitives */
};

/* Which mt_private slot each primitive keeps its per-thread state in. */
#define MPSAFE_PRIV_PSREF 0
#define MPSAFE_PRIV_LOCALCOUNT 1

#define MPSAFE_READ_NEST 0x7fffu
#define MPSAFE_READ_FENCE 0x8000u
#define MPSAFE_READ_GEN_ONE 0x10000u

/* The record that stands for "not registered" (read-only). */
extern MPSAFE_API const struct mpsafe_thread mpsafe_thread_unregistered;

/*
 * The calling thread's record, &mpsafe_thread_unregistered until it
 * registers; and its reader state, whose depth bits are all set until it
 * registers, so that the read-section fast path needs no separate test:
 * its "already nested" branch finds the thread unregistered.
 * Initial-exec TLS: reading either is one instruction.  (A library built
 * this way can still be dlopen()ed: both are small enough for the static
 * TLS surplus that glibc reserves.)
 */
#if defined(__GNUC__) || defined(__clang__)
extern MPSAFE_API __thread struct mpsafe_thread *mpsafe_curthread
    __attribute__((tls_model("initial-exec")));
extern MPSAFE_API __thread struct mpsafe_reader mpsafe_reader_self
    __attribute__((tls_model("initial-exec")));
#else
extern MPSAFE_API _Thread_local struct mpsafe_thread *mpsafe_curthread;
extern MPSAFE_API _Thread_local struct mpsafe_reader mpsafe_reader_self;
#endif

/*
 * How read sections are ordered against grace periods.
 *
 * MPSAFE_ORDERING_MEMBARRIER: readers use compiler barriers only; each
 *	grace period issues one membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
 *	which runs a full barrier on every CPU that runs one of our threads.
 *	Linux only; the default there when the kernel allows it.
 * MPSAFE_ORDERING_FENCE: readers issue a full fence on entering, and on
 *	leaving their outermost section; writers a full fence per grace
 *	period.  Portable; chosen when membarrier is missing or refused, or
 *	when the environment variable MPSAFE_ORDERING=fence is set.
 */
enum mpsafe_ordering {
	MPSAFE_ORDERING_MEMBARRIER = 1,
	MPSAFE_ORDERING_FENCE = 2,
};

/*
 * mpsafe_thread_register()
 *
 *	Register the calling thread.  Optional: every primitive registers
 *	the thread on first use.  Returns 0, EALREADY if the thread was
 *	registered already (nothing changes), or ENOMEM.  May block briefly
 *	on the registry lock; waits for a grace-period scan to finish only
 *	when it fails (ENOMEM).  A thread that has used the library before
 *	may register again in pthread key destructors, except on the last
 *	destructor pass of its exit, where this aborts: nothing would
 *	unregister it.  A thread's first use of the library must not be in
 *	a key destructor at all: the library cannot tell which pass is the
 *	last, and a record left registered after the thread is gone points
 *	at its dead thread-local storage (see mpsafe_thread(3)).
 */
MPSAFE_API int mpsafe_thread_register(void);

/*
 * mpsafe_thread_unregister()
 *
 *	Unregister the calling thread, which must not be inside a read
 *	section or hold a psref.  Returns 0, EINVAL if the thread was not
 *	registered, or EBUSY if it is inside a read section or holds a
 *	psref (diagnostic builds abort).
 *	Threads that exit are unregistered automatically.
 */
MPSAFE_API int mpsafe_thread_unregister(void);

/* mpsafe_thread_registered(): true if the calling thread is registered. */
static inline bool
mpsafe_thread_registered(void)
{
	return mpsafe_curthread != &mpsafe_thread_unregistered;
}

/*
 * mpsafe_set_ordering(mode)
 *
 *	Choose the ordering mode (see enum mpsafe_ordering).  Allowed only
 *	while no thread other than the caller is registered, the caller is
 *	not in a read section, no grace period runs (on any thread, even one
 *	not registered) and no psref_target_destroy() is in progress:
 *	returns EBUSY otherwise, EINVAL for an unknown mode, ENOTSUP for
 *	MEMBARRIER where the kernel refuses it.  May block briefly on the
 *	registry lock and the grace-period lock.
 */
MPSAFE_API int mpsafe_set_ordering(enum mpsafe_ordering mode);

/* mpsafe_get_ordering(): the mode in force. */
MPSAFE_API enum mpsafe_ordering mpsafe_get_ordering(void);

/*
 * mpsafe_panic(fmt, ...)
 *
 *	Report a broken contract ("mpsafe: <rule>") on standard error and
 *	abort.  Used by the diagnostic checks of every primitive.
 */
MPSAFE_API MPSAFE_NORETURN void mpsafe_panic(const char *fmt, ...)
    MPSAFE_PRINTFLIKE(1, 2);

/* Library-private slow paths called from inline fast paths. */
MPSAFE_API MPSAFE_COLD struct mpsafe_thread *mpsafe_thread_attach(void);
MPSAFE_API MPSAFE_COLD void mpsafe_thread_wake_writers(struct mpsafe_reader *);

/*
 * Library-private (core and network stack): pthread_cond_wait(),
 * pthread_cond_timedwait() and pthread_join() with cancellation turned
 * off for their duration, so that no library call is a cancellation
 * point (see thread.c).
 */
MPSAFE_API int mpsafe_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m);
MPSAFE_API int mpsafe_cond_timedwait(
    pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *until);
MPSAFE_API int mpsafe_join(pthread_t t, void **ret);

/*
 * mpsafe_thread_self(): the calling thread's record, registering the
 * thread on first use.  Never NULL (aborts if no memory is left for a
 * record, since a read section cannot report an error).
 */
static inline struct mpsafe_thread *
mpsafe_thread_self(void)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	if (MPSAFE_UNLIKELY(t == &mpsafe_thread_unregistered))
		t = mpsafe_thread_attach();
	return t;
}

MPSAFE_END_DECLS

#endif /* MPSAFE_THREAD_H */
