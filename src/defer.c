/*
 * defer.c: deferred reclamation, run after a grace period on a thread of
 * the library's own (the reclaimer).
 *
 * Algorithm.  mpsafe_defer() reserves the object's size against the limit
 * (a compare-and-swap loop on pending_bytes, so the total never passes the
 * limit) and pushes the object on a lock-free stack (defer_head).  The
 * reclaimer takes the whole stack with one exchange, waits for one grace
 * period, reverses the batch into hand-over order and runs the
 * destructors.  While it waits, new objects pile up for the next batch, so
 * the faster objects arrive, the more each grace period is shared.
 *
 * Back-pressure.  When the reservation fails, the caller waits until the
 * reclaimer's grace period has freed room (each batch ends with a
 * broadcast on defer_space_cv).  An object larger than the whole limit, a
 * hand-over from a destructor, and one made when no reclaimer thread can
 * start are reclaimed inline, after a grace period of the caller's own;
 * so is the object of a caller already waiting for room when
 * mpsafe_defer_set_limit() lowers the limit below its size (set_limit
 * broadcasts defer_space_cv, and the waiter re-checks the limit).
 * No object is dropped and the pending total never passes the limit.
 * mpsafe_defer_try() returns EAGAIN instead of waiting.
 *
 * Timed waits (batching, lingering) are on CLOCK_MONOTONIC: a step of
 * the wall clock does not stretch them.
 *
 * Fork.  The child has no reclaimer; the objects the parent's reclaimer
 * had taken are lost to it (leaked), and its pending total is recomputed
 * from the objects still on the stack, which its own reclaimer will run.
 *
 * Barrier.  mpsafe_defer_barrier() pushes a marker whose destructor
 * signals it.  Objects handed over before the marker are in the marker's
 * batch or in an earlier one, and a batch runs in hand-over order, so when
 * the marker runs every earlier destructor has run.
 *
 * Batching.  After a batch the reclaimer waits up to 1 ms for the next to
 * build up, unless pending memory passes a quarter of the limit or a
 * barrier or a producer short of room signals it.
 *
 * Lingering.  Finding the stack empty, the reclaimer waits up to 10 ms
 * more before it goes idle, without saying so: producers that push
 * meanwhile do not signal it, and it takes their objects when the wait
 * ends.  Under a steady trickle of objects (a routing table's churn)
 * producers thus never pay for a wake-up, which also would often preempt
 * them where the reclaimer lands on their CPU.  Barriers and producers
 * short of room signal it as before.
 *
 * Sleeping.  An idle reclaimer sets reclaimer_idle and re-checks the stack
 * before sleeping on defer_cv; a producer pushes and then reads
 * reclaimer_idle.  Both pairs are seq_cst (store then load on each side),
 * so either the reclaimer sees the object or the producer sees it idle and
 * signals it under defer_lock (tests/model/defer.pml checks it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>

#include "mpsafe_impl.h"

/* Pushed with release CAS; taken with acquire exchange. */
static _Atomic(struct mpsafe_defer *) defer_head;
static _Atomic(size_t) defer_pending;
static _Atomic(size_t) defer_peak;
static _Atomic(size_t) defer_limit = MPSAFE_DEFER_LIMIT_DEFAULT;
static _Atomic(uint64_t) defer_reclaimed; /* reclaimer only writes */
static _Atomic(uint64_t) defer_batches;   /* reclaimer only writes */
static _Atomic(uint64_t) defer_inline_waits;

static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The reclaimer's; on CLOCK_MONOTONIC, so not statically initialised:
 * defer_cv_init() runs before the first reclaimer starts (defer_cv_ready,
 * under defer_lock) and in a child after fork().
 */
static pthread_cond_t defer_cv;
static bool defer_cv_ready;                                     /* defer_lock */
static pthread_cond_t defer_done_cv = PTHREAD_COND_INITIALIZER; /* barrier */
static pthread_cond_t defer_space_cv = PTHREAD_COND_INITIALIZER; /* limit */
static _Atomic(int) reclaimer_idle;
/* Callers waiting on the reclaimer (barriers); they cut its batching short. */
static _Atomic(int) defer_urgent;

/* How long the reclaimer lets a new batch build up after running one. */
#define DEFER_BATCH_WINDOW_NS 1000000L
/* How long it waits for work, unannounced, before it goes idle. */
#define DEFER_LINGER_NS 10000000L
static _Atomic(bool) reclaimer_running; /* set under defer_lock */
static __thread bool in_reclaimer;
/*
 * Bytes of the batch the reclaimer is running that it has not yet taken
 * off defer_pending (the reclaimer's alone: a fork child whose only
 * thread is the reclaimer counts them, see mpsafe_defer_atfork_child()).
 */
static size_t defer_batch_owed;

struct defer_marker {
	struct mpsafe_defer dm_defer;
	bool dm_done; /* defer_lock */
};

static void
peak_update(size_t now)
{
	/* Relaxed: a statistic; the CAS makes it a running maximum. */
	size_t peak = atomic_load_explicit(&defer_peak, memory_order_relaxed);

	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&defer_peak, &peak, now,
	           memory_order_relaxed, memory_order_relaxed))
		continue;
}

/* Reserve size bytes of the limit; false if that would pass it. */
static bool
pending_reserve(size_t size)
{
	/* Relaxed: the counter orders nothing, it only bounds memory. */
	size_t cur = atomic_load_explicit(&defer_pending, memory_order_relaxed);
	size_t limit = atomic_load_explicit(&defer_limit, memory_order_relaxed);

	do {
		if (size > limit || cur > limit - size)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&defer_pending, &cur,
	    cur + size, memory_order_relaxed, memory_order_relaxed));
	peak_update(cur + size);
	return true;
}

static void
defer_push(struct mpsafe_defer *d)
{
	struct mpsafe_defer *head;

	MPSAFE_YIELD_POINT(); /* the reclaimer may take the stack now */
	head = atomic_load_explicit(&defer_head, memory_order_relaxed);

	/* seq_cst: release for the object's fields (pairs with the
	 * reclaimer's exchange), and ordered before the idle check below. */
	do
		d->md_next = head;
	while (!atomic_compare_exchange_weak_explicit(
	    &defer_head, &head, d, memory_order_seq_cst, memory_order_relaxed));
	/* seq_cst: pairs with the reclaimer's idle store and stack check. */
	if (atomic_load_explicit(&reclaimer_idle, memory_order_seq_cst)) {
		pthread_mutex_lock(&defer_lock);
		pthread_cond_signal(&defer_cv);
		pthread_mutex_unlock(&defer_lock);
	}
}

/* Run a batch (taken from the stack, newest first) in hand-over order. */
static void defer_marker_done(struct mpsafe_defer *d);

static void
defer_run_batch(struct mpsafe_defer *batch)
{
	struct mpsafe_defer *fifo = NULL, *d, *next;
	uint64_t n = 0;
	size_t bytes = 0;

	for (d = batch; d != NULL; d = next) {
		next = d->md_next;
		d->md_next = fifo;
		fifo = d;
		if (d->md_func != defer_marker_done)
			defer_batch_owed += d->md_size;
	}
	for (d = fifo; d != NULL; d = next) {
		next = d->md_next; /* d may be freed by its destructor */
		if (d->md_func == defer_marker_done) {
			/* A barrier returns with everything before it counted.
			 */
			atomic_fetch_sub_explicit(
			    &defer_pending, bytes, memory_order_relaxed);
			defer_batch_owed -= bytes;
			bytes = 0;
		} else {
			bytes += d->md_size;
			n++;
		}
		d->md_func(d);
	}
	/*
	 * One update per batch, not per object: the counter's line is
	 * shared with every producer.  Relaxed: it bounds memory only.
	 */
	atomic_fetch_sub_explicit(&defer_pending, bytes, memory_order_relaxed);
	defer_batch_owed -= bytes;
	atomic_fetch_add_explicit(&defer_reclaimed, n, memory_order_relaxed);
}

/*
 * Make defer_cv a condition variable whose timed waits run on
 * CLOCK_MONOTONIC, so that a step of the wall clock neither delays nor
 * hurries the reclaimer.  Called with defer_lock held, from
 * reclaimer_start() before the first reclaimer is created (nothing waits
 * on or signals defer_cv until reclaimer_start() has run), and in a child
 * after fork().
 */
static void
defer_cv_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&defer_cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* The CLOCK_MONOTONIC time ns from now (defer_cv's timed waits). */
static struct timespec
reclaimer_deadline(long ns)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += ns;
	while (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

/*
 * After a batch, let the next one build up for a while (at most
 * DEFER_BATCH_WINDOW_NS) unless memory is filling up or a barrier waits:
 * fewer, larger batches cost fewer grace periods and leave the CPU to the
 * application.  Producers that run out of room, and barriers, signal
 * defer_cv and end the window early.  Called with defer_lock held.
 */
static void
reclaimer_batch_window(void)
{
	struct timespec until = reclaimer_deadline(DEFER_BATCH_WINDOW_NS);

	/* Relaxed: advisory; every waiter also signals under defer_lock. */
	while (atomic_load_explicit(&defer_urgent, memory_order_relaxed) == 0 &&
	       atomic_load_explicit(&defer_pending, memory_order_relaxed) <
	           mpsafe_defer_get_limit() / 4) {
		if (mpsafe_cond_timedwait(&defer_cv, &defer_lock, &until) != 0)
			break;
	}
}

/*
 * Wait up to DEFER_LINGER_NS for objects without announcing idleness
 * (file comment, "Lingering"); a barrier or a producer short of room ends
 * the wait.  Called with defer_lock held.
 */
static void
reclaimer_linger(void)
{
	struct timespec until = reclaimer_deadline(DEFER_LINGER_NS);

	/* Relaxed: the timed wait bounds a missed change of either. */
	while (
	    atomic_load_explicit(&defer_urgent, memory_order_relaxed) == 0 &&
	    atomic_load_explicit(&defer_head, memory_order_relaxed) == NULL) {
		if (mpsafe_cond_timedwait(&defer_cv, &defer_lock, &until) != 0)
			break;
	}
}

static void *
reclaimer_main(void *arg)
{
	bool lingered = false;

	(void)arg;
	in_reclaimer = true;
	for (;;) {
		/* Acquire: pairs with the release in defer_push(). */
		struct mpsafe_defer *batch = atomic_exchange_explicit(
		    &defer_head, NULL, memory_order_acquire);

		if (batch != NULL) {
			MPSAFE_YIELD_POINT(); /* producers push meanwhile */
			mpsafe_gp_wait();
			atomic_fetch_add_explicit(
			    &defer_batches, 1, memory_order_relaxed);
			defer_run_batch(batch);
			/* Callers waiting for room re-check under the lock. */
			pthread_mutex_lock(&defer_lock);
			pthread_cond_broadcast(&defer_space_cv);
			reclaimer_batch_window();
			pthread_mutex_unlock(&defer_lock);
			lingered = false;
			continue;
		}
		if (!lingered) {
			pthread_mutex_lock(&defer_lock);
			reclaimer_linger();
			pthread_mutex_unlock(&defer_lock);
			lingered = true;
			continue;
		}
		lingered = false;
		/* seq_cst store then load: pairs with defer_push(). */
		atomic_store_explicit(&reclaimer_idle, 1, memory_order_seq_cst);
		pthread_mutex_lock(&defer_lock);
		while (atomic_load_explicit(
		           &defer_head, memory_order_seq_cst) == NULL)
			mpsafe_cond_wait(&defer_cv, &defer_lock);
		pthread_mutex_unlock(&defer_lock);
		atomic_store_explicit(&reclaimer_idle, 0, memory_order_relaxed);
	}
	return NULL;
}

/* Start the reclaimer if it is not running; false if it cannot start. */
static bool
reclaimer_start(void)
{
	pthread_t tid;
	pthread_attr_t attr;
	sigset_t all, old;
	bool ok = true;

	/* Acquire: pairs with the release below, in another caller. */
	if (atomic_load_explicit(&reclaimer_running, memory_order_acquire))
		return true;
	mpsafe_library_init(); /* fork handlers must exist before a thread */
	pthread_mutex_lock(&defer_lock);
	if (!defer_cv_ready) {
		defer_cv_init();
		defer_cv_ready = true;
	}
	if (!atomic_load_explicit(&reclaimer_running, memory_order_relaxed)) {
		/* The reclaimer takes no signals of the application's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = mpsafe_thread_create(&tid, &attr, reclaimer_main, NULL) ==
		     0;
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ok)
			atomic_store_explicit(
			    &reclaimer_running, true, memory_order_release);
	}
	pthread_mutex_unlock(&defer_lock);
	return ok;
}

/*
 * defer_inline(d, func)
 *
 *	Wait for a grace period and run func(d) on the calling thread: the
 *	path of last resort, when no reclaimer can take the object (the
 *	caller counts the wait in defer_inline_waits).  Blocks.
 */
static void
defer_inline(struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *))
{
	mpsafe_gp_wait();
	func(d);
}

/*
 * defer_wait_for_room(size)
 *
 *	Wait until size bytes fit under the limit, and reserve them; true
 *	then.  False, with nothing reserved, once size is larger than the
 *	whole limit (mpsafe_defer_set_limit() lowered it meanwhile): such an
 *	object never fits, and the caller reclaims it inline.  Blocks; not
 *	on the reclaimer.
 */
static bool
defer_wait_for_room(size_t size)
{
	bool reserved;

	pthread_mutex_lock(&defer_lock);
	/*
	 * The reclaimer broadcasts under defer_lock after every batch, and
	 * mpsafe_defer_set_limit() after every change of the limit; room and
	 * limit are re-checked under it, so no wake-up is missed.
	 */
	while (!(reserved = pending_reserve(size)) &&
	       size <= mpsafe_defer_get_limit()) {
		pthread_cond_signal(&defer_cv); /* the reclaimer is needed */
		mpsafe_cond_wait(&defer_space_cv, &defer_lock);
	}
	pthread_mutex_unlock(&defer_lock);
	return reserved;
}

static int
defer_common(struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *),
    size_t size, bool may_wait)
{
	bool reserved;

	if (d == NULL || func == NULL)
		return EINVAL;
	d->md_func = func;
	d->md_size = size;
	reserved = pending_reserve(size);
	if (!reserved && !may_wait)
		return EAGAIN;
	if (!reclaimer_start()) {
		/* No reclaimer thread can be started. */
		if (reserved)
			atomic_fetch_sub_explicit(
			    &defer_pending, size, memory_order_relaxed);
		if (!may_wait)
			return EAGAIN;
		atomic_fetch_add_explicit(
		    &defer_inline_waits, 1, memory_order_relaxed);
		defer_inline(d, func);
		return 0;
	}
	if (!reserved) {
		/*
		 * Past the limit: this call waits, for room or for a grace
		 * period of its own (counted once, relaxed: a statistic).  The
		 * reclaimer itself must not wait for the room it alone frees,
		 * and an object larger than the whole limit (now, or once the
		 * limit is lowered while it waits) never fits: both reclaim
		 * inline.
		 */
		atomic_fetch_add_explicit(
		    &defer_inline_waits, 1, memory_order_relaxed);
		if (in_reclaimer || size > mpsafe_defer_get_limit() ||
		    !defer_wait_for_room(size)) {
			defer_inline(d, func);
			return 0;
		}
	}
	defer_push(d);
	return 0;
}

int
mpsafe_defer(
    struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *), size_t size)
{
	if (pserialize_in_read_section()) {
		MPSAFE_DIAG(0,
		    "mpsafe_defer inside a read section (it may "
		    "wait for a grace period; use mpsafe_defer_try)");
		return EDEADLK;
	}
	return defer_common(d, func, size, true);
}

int
mpsafe_defer_try(
    struct mpsafe_defer *d, void (*func)(struct mpsafe_defer *), size_t size)
{
	return defer_common(d, func, size, false);
}

static void
defer_marker_done(struct mpsafe_defer *d)
{
	struct defer_marker *m = (struct defer_marker *)d;

	pthread_mutex_lock(&defer_lock);
	m->dm_done = true;
	pthread_cond_broadcast(&defer_done_cv);
	pthread_mutex_unlock(&defer_lock);
}

int
mpsafe_defer_barrier(void)
{
	struct defer_marker m = {.dm_done = false};

	if (pserialize_in_read_section() || in_reclaimer) {
		MPSAFE_DIAG(0, "mpsafe_defer_barrier inside a read section or "
		               "a deferred destructor would wait for itself");
		return EDEADLK;
	}
	m.dm_defer.md_func = defer_marker_done;
	m.dm_defer.md_size = 0;
	if (!reclaimer_start()) {
		/* Nothing can have been handed over without a reclaimer. */
		return 0;
	}
	atomic_fetch_add_explicit(&defer_urgent, 1, memory_order_relaxed);
	defer_push(&m.dm_defer);
	pthread_mutex_lock(&defer_lock);
	pthread_cond_signal(&defer_cv); /* ends a batching window */
	while (!m.dm_done)
		mpsafe_cond_wait(&defer_done_cv, &defer_lock);
	pthread_mutex_unlock(&defer_lock);
	atomic_fetch_sub_explicit(&defer_urgent, 1, memory_order_relaxed);
	return 0;
}

int
mpsafe_defer_set_limit(size_t bytes)
{
	if (bytes == 0)
		return EINVAL;
	/*
	 * Relaxed: the limit orders nothing.  Stored under defer_lock, then
	 * a broadcast: a caller waiting for room re-checks the limit under
	 * the lock (defer_wait_for_room()), and one whose object no longer
	 * fits at all reclaims it inline instead of waiting for ever.
	 */
	pthread_mutex_lock(&defer_lock);
	atomic_store_explicit(&defer_limit, bytes, memory_order_relaxed);
	pthread_cond_broadcast(&defer_space_cv);
	pthread_mutex_unlock(&defer_lock);
	return 0;
}

size_t
mpsafe_defer_get_limit(void)
{
	return atomic_load_explicit(&defer_limit, memory_order_relaxed);
}

void
mpsafe_defer_stats(struct mpsafe_defer_stats *st)
{
	if (st == NULL)
		return;
	/* Relaxed: a snapshot of independent counters. */
	st->pending_bytes =
	    atomic_load_explicit(&defer_pending, memory_order_relaxed);
	st->pending_peak_bytes =
	    atomic_load_explicit(&defer_peak, memory_order_relaxed);
	st->reclaimed =
	    atomic_load_explicit(&defer_reclaimed, memory_order_relaxed);
	st->batches =
	    atomic_load_explicit(&defer_batches, memory_order_relaxed);
	st->inline_waits =
	    atomic_load_explicit(&defer_inline_waits, memory_order_relaxed);
}

void
mpsafe_defer_reset_peak(void)
{
	atomic_store_explicit(&defer_peak,
	    atomic_load_explicit(&defer_pending, memory_order_relaxed),
	    memory_order_relaxed);
}

void
mpsafe_defer_atfork_prepare(void)
{
	pthread_mutex_lock(&defer_lock);
}

void
mpsafe_defer_atfork_parent(void)
{
	pthread_mutex_unlock(&defer_lock);
}

/*
 * mpsafe_defer_atfork_child()
 *
 *	The reclaimer does not exist in the child.  Objects it had taken but
 *	not yet reclaimed are lost to the child (a leak, never a use after
 *	free); those still on the stack are reclaimed by the child's own
 *	reclaimer, started on its next hand-over or barrier.  So the pending
 *	total becomes what is on the stack: the lost objects' bytes, and
 *	those reserved by producers that had not pushed yet (threads the
 *	child does not have), would otherwise count against the limit for
 *	ever, and a full limit would block the child's first mpsafe_defer().
 *	If a destructor forked, the child's only thread is the reclaimer,
 *	which goes on with its batch and then takes the batch's bytes off
 *	the count: they are counted, and the reclaimer stays the child's.
 *	(Until 2026-12-01 they were not, and the count wrapped below zero:
 *	every later mpsafe_defer() in the child waited for ever.)
 *	Runs in the child's only thread, defer_lock held since prepare.
 */
void
mpsafe_defer_atfork_child(void)
{
	size_t pending = 0;

	/* Relaxed, all: the child runs one thread; pushes were complete. */
	for (struct mpsafe_defer *d =
	         atomic_load_explicit(&defer_head, memory_order_relaxed);
	     d != NULL; d = d->md_next)
		if (d->md_func != defer_marker_done) /* barriers: no bytes */
			pending += d->md_size;
	if (in_reclaimer)
		pending += defer_batch_owed; /* forked by a destructor */
	atomic_store_explicit(&defer_pending, pending, memory_order_relaxed);
	atomic_store_explicit(
	    &reclaimer_running, in_reclaimer, memory_order_relaxed);
	atomic_store_explicit(&reclaimer_idle, 0, memory_order_relaxed);
	atomic_store_explicit(&defer_urgent, 0, memory_order_relaxed);
	defer_cv_init(); /* the parent's may have had waiters */
	defer_cv_ready = true;
	pthread_cond_init(&defer_done_cv, NULL);
	pthread_cond_init(&defer_space_cv, NULL);
	pthread_mutex_unlock(&defer_lock);
}
