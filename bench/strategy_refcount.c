/*
 * bench/strategy_refcount.c: a shared atomic reader count, the textbook
 * baseline that every reader pays a read-modify-write for.
 *
 * Algorithm (a two-phase counter, as in Linux's classic SRCU):
 *  - Two counters, count[0] and count[1], and a phase bit that selects the
 *    one new readers use, all in one cache line.
 *  - Reader: idx = phase; count[idx] += 1 (seq_cst); load the pointer
 *    (seq_cst); use the object; count[idx] -= 1 (release).  The token
 *    remembers idx so the decrement hits the counter that was incremented.
 *  - Writer (wait_for_readers), serialised by a mutex: twice, flip the
 *    phase and wait until the counter of the old phase drops to zero.
 *
 * Why the wait is correct: every operation on the phase, the counters and
 * the published pointer is seq_cst, so they fall in one total order S.  A
 * reader that loaded the old object incremented its counter before that
 * load, hence before the writer's publish, hence before both of the
 * writer's drain loops; whichever counter it used, one of the two drains
 * waits for its decrement.  A reader whose increment comes after a drain
 * loop has read zero loads the pointer after the publish: it sees the new
 * object.
 *
 * Why the writer is not starved: after a flip, new readers use the other
 * counter; the drained counter only receives the increments of readers
 * that loaded the phase before the flip (at most one per reader thread),
 * so it reaches zero even when read sections overlap continuously.
 *
 * In the read-side workload the phase never changes, so every reader
 * increments and decrements one shared counter: two locked instructions
 * per operation on a cache line that all readers write.
 *
 * Held references (hold, destroy-latency): the count is also a reference
 * count that may be held across blocking.  hold_acquire() is the read
 * section's entry and pointer load, hold_release() its exit.  destroy()
 * is the same two-phase drain as wait_for_readers(), but it sleeps: after
 * a short spin it raises `waiters` and sleeps on the futex word `wake`;
 * a reader whose decrement (seq_cst) is followed by a load of `waiters`
 * that is non-zero bumps `wake` and wakes it.  The destroyer raises
 * `waiters` (seq_cst) before re-reading the counter, so either it sees
 * the decrement or the reader sees `waiters`: no lost wake-up.  The check
 * costs the reader one load of a word on the line it has just written.
 * wait_for_readers() keeps spinning and yielding (no sleeping writer in
 * grace-period, as before).
 */
#include <pthread.h>

#include "bench.h"

static struct {
	/* Written by the writer holding lock; read by readers. */
	alignas(BENCH_CACHELINE) _Atomic unsigned phase;
	/* Written by readers (increment, decrement); read by the writer. */
	_Atomic unsigned long count[2];
	/* Sleeping destroyers; raised and lowered by destroy(). */
	_Atomic uint32_t waiters;
	/* Futex word destroyers sleep on; bumped by waking readers. */
	_Atomic uint32_t wake;
} rc;

static struct {
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
	pthread_mutex_t lock; /* serialises wait_for_readers() */
} rcw;

static int
refcount_init(void)
{
	atomic_init(&rc.phase, 0);
	atomic_init(&rc.count[0], 0);
	atomic_init(&rc.count[1], 0);
	atomic_init(&rc.waiters, 0);
	atomic_init(&rc.wake, 0);
	return pthread_mutex_init(&rcw.lock, NULL);
}

static void
refcount_fini(void)
{
	pthread_mutex_destroy(&rcw.lock);
}

static void
refcount_thread_register(enum bench_role role)
{
	(void)role;
}

static void
refcount_thread_unregister(void)
{
}

static inline bench_token_t
refcount_read_enter(void)
{
	/* Relaxed: a stale phase is safe, the writer drains both counters. */
	unsigned idx = atomic_load_explicit(&rc.phase, memory_order_relaxed);

	/*
	 * seq_cst: the increment is ordered before the pointer load below;
	 * pairs with the writer's seq_cst flip and counter load.
	 */
	atomic_fetch_add_explicit(&rc.count[idx], 1, memory_order_seq_cst);
	return idx;
}

static inline struct bench_obj *
refcount_deref(bench_token_t *tok)
{
	(void)tok;
	/* seq_cst: after the increment in S; pairs with publish's exchange. */
	return atomic_load_explicit(&rcw.ptr, memory_order_seq_cst);
}

static void
refcount_wake(void)
{
	atomic_fetch_add_explicit(&rc.wake, 1, memory_order_release);
	bench_futex_wake(&rc.wake);
}

static inline void
refcount_read_exit(bench_token_t tok)
{
	/*
	 * seq_cst (a release, and ordered before the load of waiters): the
	 * section's loads first, pairs with the drain's load; then see a
	 * sleeping destroyer (see the top).  The same lock xadd on x86.
	 */
	atomic_fetch_sub_explicit(&rc.count[tok], 1, memory_order_seq_cst);
	if (__builtin_expect(
	        atomic_load_explicit(&rc.waiters, memory_order_seq_cst) != 0,
	        0))
		refcount_wake();
}

static uint64_t
refcount_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(n, violations, refcount_read_enter,
	    refcount_deref, refcount_read_exit);
}

static struct bench_obj *
refcount_publish(struct bench_obj *obj)
{
	/* seq_cst: before the flips in S; pairs with the reader's load. */
	return atomic_exchange_explicit(&rcw.ptr, obj, memory_order_seq_cst);
}

/*
 * refcount_wait_for_readers()
 *
 *	Flip the phase and drain the old counter, twice.  Spins, then
 *	yields (a reader preempted on this CPU must get to run).
 */
static void
refcount_wait_for_readers(void)
{
	pthread_mutex_lock(&rcw.lock);
	for (int round = 0; round < 2; round++) {
		/* Relaxed: only this writer (holding lock) stores the phase. */
		unsigned old =
		    atomic_load_explicit(&rc.phase, memory_order_relaxed);
		unsigned spins = 0;

		/* seq_cst: after the publish in S, before the drain loads. */
		atomic_store_explicit(&rc.phase, old ^ 1, memory_order_seq_cst);
		/* seq_cst: pairs with the reader's increment (see above). */
		while (atomic_load_explicit(
		           &rc.count[old], memory_order_seq_cst) != 0)
			bench_spin_then_yield(&spins);
	}
	pthread_mutex_unlock(&rcw.lock);
}

static struct bench_obj *
refcount_hold_acquire(struct bench_hold *h)
{
	bench_token_t tok = refcount_read_enter();

	h->word = tok;
	h->obj = refcount_deref(&tok);
	return h->obj;
}

static void
refcount_hold_release(struct bench_hold *h)
{
	refcount_read_exit(h->word);
}

/* Wait until count[idx] is zero: spin a little, then sleep. */
static void
refcount_drain_sleeping(unsigned idx)
{
	for (unsigned spins = 0; spins < 200; spins++) {
		/* seq_cst: as in refcount_wait_for_readers(). */
		if (atomic_load_explicit(
		        &rc.count[idx], memory_order_seq_cst) == 0)
			return;
		bench_cpu_relax();
	}
	/* seq_cst: before the re-check below; pairs with read_exit. */
	atomic_fetch_add_explicit(&rc.waiters, 1, memory_order_seq_cst);
	for (;;) {
		/* Acquire: pairs with the release bump in refcount_wake(). */
		uint32_t seen =
		    atomic_load_explicit(&rc.wake, memory_order_acquire);

		if (atomic_load_explicit(
		        &rc.count[idx], memory_order_seq_cst) == 0)
			break;
		bench_futex_wait(&rc.wake, seen);
	}
	atomic_fetch_sub_explicit(&rc.waiters, 1, memory_order_relaxed);
}

/*
 * refcount_destroy(obj): the two-phase drain of wait_for_readers(), with
 * a sleep instead of a yield (see the top).
 */
static void
refcount_destroy(struct bench_obj *obj)
{
	(void)obj;
	pthread_mutex_lock(&rcw.lock);
	for (int round = 0; round < 2; round++) {
		/* Relaxed: only this writer (holding lock) stores the phase. */
		unsigned old =
		    atomic_load_explicit(&rc.phase, memory_order_relaxed);

		/* seq_cst: after the publish in S, before the drain loads. */
		atomic_store_explicit(&rc.phase, old ^ 1, memory_order_seq_cst);
		refcount_drain_sleeping(old);
	}
	pthread_mutex_unlock(&rcw.lock);
}

const struct bench_strategy strategy_refcount = {
    .name = "refcount",
    .description = "C11 atomic fetch_add/fetch_sub on a shared reader "
                   "count; two-phase drain (SRCU-style) as the wait",
    .init = refcount_init,
    .fini = refcount_fini,
    .thread_register = refcount_thread_register,
    .thread_unregister = refcount_thread_unregister,
    .read_enter = refcount_read_enter,
    .deref = refcount_deref,
    .read_exit = refcount_read_exit,
    .read_loop = refcount_read_loop,
    .publish = refcount_publish,
    .wait_for_readers = refcount_wait_for_readers,
    .hold_acquire = refcount_hold_acquire,
    .hold_release = refcount_hold_release,
    .destroy = refcount_destroy,
};
