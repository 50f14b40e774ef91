/*
 * bench/strategy_rwlock.c: a pthread reader-writer lock.
 *
 * Readers hold the read lock around the lookup.  The writer replaces the
 * pointer without the lock and then takes and releases the write lock:
 * once it holds it, every read section that could have seen the old
 * object has ended (a drain), which is the cost a writer that updates
 * under the write lock and frees afterwards also pays.
 *
 * The lock prefers writers (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP):
 * glibc's default prefers readers, and readers whose sections overlap
 * continuously would starve the writer forever.  The read fast path is the
 * same for both kinds: one atomic read-modify-write on the lock word to
 * lock and one to unlock, on a cache line every reader writes.
 *
 * Held references (hold, destroy-latency): the read lock is held across
 * the reader's blocking; destroy() is the drain (write lock and unlock),
 * which sleeps in the kernel until the last reader unlocks.  While it
 * waits, writer preference makes new readers sleep too.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench.h"

static struct {
	alignas(BENCH_CACHELINE) pthread_rwlock_t lock;
} rw;

static struct {
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
} rwp;

static int
rwlock_init(void)
{
	pthread_rwlockattr_t attr;
	int error;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
	    &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	error = pthread_rwlock_init(&rw.lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return error;
}

static void
rwlock_fini(void)
{
	pthread_rwlock_destroy(&rw.lock);
}

static void
rwlock_thread_register(enum bench_role role)
{
	(void)role;
}

static void
rwlock_thread_unregister(void)
{
}

static inline bench_token_t
rwlock_read_enter(void)
{
	pthread_rwlock_rdlock(&rw.lock);
	return 0;
}

static inline struct bench_obj *
rwlock_deref(bench_token_t *tok)
{
	(void)tok;
	/*
	 * Acquire: the pointer is replaced outside the lock, so a reader
	 * that sees the new object needs its initialisation; pairs with the
	 * release in rwlock_publish().
	 */
	return atomic_load_explicit(&rwp.ptr, memory_order_acquire);
}

static inline void
rwlock_read_exit(bench_token_t tok)
{
	(void)tok;
	pthread_rwlock_unlock(&rw.lock);
}

static uint64_t
rwlock_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, rwlock_read_enter, rwlock_deref, rwlock_read_exit);
}

static struct bench_obj *
rwlock_publish(struct bench_obj *obj)
{
	/* Release: pairs with the acquire in rwlock_deref(). */
	return atomic_exchange_explicit(&rwp.ptr, obj, memory_order_release);
}

/* Drain: holding the write lock means no read section is in progress. */
static void
rwlock_wait_for_readers(void)
{
	pthread_rwlock_wrlock(&rw.lock);
	pthread_rwlock_unlock(&rw.lock);
}

static struct bench_obj *
rwlock_hold_acquire(struct bench_hold *h)
{
	bench_token_t tok = rwlock_read_enter();

	h->obj = rwlock_deref(&tok);
	return h->obj;
}

static void
rwlock_hold_release(struct bench_hold *h)
{
	(void)h;
	rwlock_read_exit(0);
}

static void
rwlock_destroy(struct bench_obj *obj)
{
	(void)obj;
	rwlock_wait_for_readers();
}

const struct bench_strategy strategy_rwlock = {
    .name = "rwlock",
    .description = "pthread_rwlock_t (writer-preferring): read lock around "
                   "the read, write lock+unlock as the wait",
    .init = rwlock_init,
    .fini = rwlock_fini,
    .thread_register = rwlock_thread_register,
    .thread_unregister = rwlock_thread_unregister,
    .read_enter = rwlock_read_enter,
    .deref = rwlock_deref,
    .read_exit = rwlock_read_exit,
    .read_loop = rwlock_read_loop,
    .publish = rwlock_publish,
    .wait_for_readers = rwlock_wait_for_readers,
    .hold_acquire = rwlock_hold_acquire,
    .hold_release = rwlock_hold_release,
    .destroy = rwlock_destroy,
};

/*
 * The routing table's locked design read through its next-hop lookup
 * (rt_lookup_nexthop() under the table's read lock, see
 * bench/workload_route.c): the same work as pserialize-nh's lookup, with
 * the lock.  Routing workloads only, so no generic read side here.
 */
const struct bench_strategy strategy_rwlock_nh = {
    .name = "rwlock-nh",
    .description = "rwlock routing table, next-hop lookups "
                   "(rt_lookup_nexthop) under the table's read lock "
                   "(route-lookup, route-bulk only)",
    .init = rwlock_init,
    .fini = rwlock_fini,
    .thread_register = rwlock_thread_register,
    .thread_unregister = rwlock_thread_unregister,
};
