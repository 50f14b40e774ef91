/*
 * mpsafe/defer.h: deferred reclamation after a grace period.
 *
 * A writer that must not wait for a grace period hands an unpublished
 * object to mpsafe_defer() together with a destructor; the library runs the
 * destructor on a reclaimer thread of its own once a grace period has
 * passed, batching many objects per grace period.  The memory waiting for
 * a grace period is bounded: when handing over an object would take the
 * total past the limit (mpsafe_defer_set_limit()), mpsafe_defer() waits
 * until the reclaimer's next grace period frees room, much as Linux's
 * fib_trie waits for a grace period past fib_sync_mem.  mpsafe_defer_barrier()
 * waits for every destructor handed over before it.
 *
 * The object embeds a struct mpsafe_defer and the destructor recovers the
 * object from it (container_of style), so handing over allocates nothing.
 */
#ifndef MPSAFE_DEFER_H
#define MPSAFE_DEFER_H

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

struct mpsafe_defer {
	struct mpsafe_defer *md_next; /* library-private */
	void (*md_func)(struct mpsafe_defer *);
	size_t md_size;
};

/* Default bound on memory waiting for a grace period: 64 MiB. */
#define MPSAFE_DEFER_LIMIT_DEFAULT ((size_t)64 << 20)

/*
 * mpsafe_defer(d, func, size)
 *
 *	Call func(d) after a grace period.  size is the memory that func
 *	will release, counted against the limit.  Returns 0, or EINVAL for a
 *	NULL d or func.  May block: when the pending total would pass the
 *	limit it waits until the reclaimer frees room; an object larger
 *	than the whole limit, or handed over when no reclaimer thread can
 *	start, is reclaimed inline after a grace period.  Not inside a
 *	read section (returns EDEADLK; diagnostic builds abort).
 */
MPSAFE_API int mpsafe_defer(
    struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *), size_t size);

/*
 * mpsafe_defer_try(d, func, size)
 *
 *	As mpsafe_defer(), but never blocks: returns EAGAIN, with d not
 *	handed over, when the pending total would pass the limit.  May be
 *	called inside a read section.
 */
MPSAFE_API int mpsafe_defer_try(
    struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *), size_t size);

/*
 * mpsafe_defer_barrier()
 *
 *	Wait until every destructor handed over before the call has run.
 *	Blocks.  Not inside a read section nor from a destructor (returns
 *	EDEADLK; diagnostic builds abort).  Returns 0.
 */
MPSAFE_API int mpsafe_defer_barrier(void);

/*
 * mpsafe_defer_set_limit(bytes)
 *
 *	Set the bound on pending memory (at least 1); returns EINVAL for 0.
 *	A lower limit than what is pending now applies to later calls, and
 *	to callers of mpsafe_defer() waiting for room: each re-checks, and
 *	one whose object is now larger than the whole limit reclaims it
 *	inline after a grace period instead of waiting.  Takes a library
 *	lock briefly; never waits for a grace period.
 */
MPSAFE_API int mpsafe_defer_set_limit(size_t bytes);
MPSAFE_API size_t mpsafe_defer_get_limit(void);

struct mpsafe_defer_stats {
	size_t pending_bytes;      /* handed over, destructor not yet run */
	size_t pending_peak_bytes; /* highest pending_bytes seen */
	uint64_t reclaimed;        /* destructors run by the reclaimer */
	uint64_t batches;          /* grace periods the reclaimer waited */
	uint64_t inline_waits;     /* calls that had to wait */
};

/* mpsafe_defer_stats(st): a snapshot of the counters.  Never blocks. */
MPSAFE_API void mpsafe_defer_stats(struct mpsafe_defer_stats *st);

/* mpsafe_defer_reset_peak(): set pending_peak_bytes to pending_bytes. */
MPSAFE_API void mpsafe_defer_reset_peak(void);

MPSAFE_END_DECLS

#endif /* MPSAFE_DEFER_H */
