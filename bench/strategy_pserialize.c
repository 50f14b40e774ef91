/*
 * bench/strategy_pserialize.c: mpsafe's pserialize, the thing measured.
 *
 * Readers: pserialize_read_enter()/pserialize_read_exit() (inline: a store
 * to the thread's own record and a compiler barrier in membarrier mode).
 * Writer: pserialize_perform().  Retire: mpsafe_defer(), reclaimed by the
 * library's reclaimer thread, which itself bounds pending memory at the
 * defer limit (set to BENCH_PENDING_LIMIT); barrier: mpsafe_defer_barrier();
 * pending peak: mpsafe_defer_stats().
 */
#include <errno.h>
#include <stdlib.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>

#include "bench.h"

_Static_assert(
    sizeof(struct mpsafe_defer) <= sizeof(((struct bench_obj *)0)->reclaim),
    "struct mpsafe_defer must fit in bench_obj.reclaim");

static pserialize_t psz;

static struct {
	/* Written by writers (exchange); read by readers. */
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
} psp;

static int
psz_init(void)
{
	psz = pserialize_create();
	if (psz == NULL)
		return errno ? errno : ENOMEM;
	mpsafe_defer_set_limit(BENCH_PENDING_LIMIT);
	return 0;
}

static void
psz_fini(void)
{
	pserialize_destroy(psz);
	psz = NULL;
}

static void
psz_thread_register(enum bench_role role)
{
	(void)role;
	(void)mpsafe_thread_register(); /* 0 or EALREADY */
}

static void
psz_thread_unregister(void)
{
	(void)mpsafe_thread_unregister();
}

static inline bench_token_t
psz_read_enter(void)
{
	return (bench_token_t)pserialize_read_enter();
}

static inline struct bench_obj *
psz_deref(bench_token_t *tok)
{
	(void)tok;
	/* Consume: pairs with the release exchange in psz_publish(). */
	return atomic_load_explicit(&psp.ptr, memory_order_consume);
}

static inline void
psz_read_exit(bench_token_t tok)
{
	pserialize_read_exit((int)tok);
}

static uint64_t
psz_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, psz_read_enter, psz_deref, psz_read_exit);
}

static struct bench_obj *
psz_publish(struct bench_obj *obj)
{
	/*
	 * Release: the new object's initialisation before the pointer;
	 * pairs with the consume in psz_deref().  Acquire: the previous
	 * publisher's writes to the old object before this writer's.
	 */
	return atomic_exchange_explicit(&psp.ptr, obj, memory_order_acq_rel);
}

static void
psz_wait_for_readers(void)
{
	pserialize_perform(psz);
}

static void
psz_reclaim(struct mpsafe_defer *d)
{
	struct bench_obj *o =
	    (struct bench_obj *)(void *)((char *)d -
	                                 offsetof(struct bench_obj, reclaim));

	o->dtor(o);
}

static void
psz_retire(struct bench_obj *o)
{
	int error;

	error = mpsafe_defer(
	    (struct mpsafe_defer *)(void *)o->reclaim, psz_reclaim, o->size);
	if (error != 0) {
		bench_warn("mpsafe_defer: error %d", error);
		abort();
	}
}

static void
psz_retire_barrier(void)
{
	(void)mpsafe_defer_barrier();
}

static size_t
psz_pending_peak(void)
{
	struct mpsafe_defer_stats st;

	mpsafe_defer_stats(&st);
	return st.pending_peak_bytes;
}

static void
psz_pending_reset_peak(void)
{
	mpsafe_defer_reset_peak();
}

const struct bench_strategy strategy_pserialize = {
    .name = "pserialize",
    .description = "mpsafe pserialize: read_enter/exit, "
                   "pserialize_perform, mpsafe_defer",
    .init = psz_init,
    .fini = psz_fini,
    .thread_register = psz_thread_register,
    .thread_unregister = psz_thread_unregister,
    .read_enter = psz_read_enter,
    .deref = psz_deref,
    .read_exit = psz_read_exit,
    .read_loop = psz_read_loop,
    .publish = psz_publish,
    .wait_for_readers = psz_wait_for_readers,
    .retire = psz_retire,
    .retire_barrier = psz_retire_barrier,
    .pending_peak = psz_pending_peak,
    .pending_reset_peak = psz_pending_reset_peak,
};

/*
 * The lockless routing table read through its next-hop lookup
 * (rt_lookup_nexthop(), see bench/workload_route.c): routing workloads
 * only, so no generic read side here.
 */
const struct bench_strategy strategy_pserialize_nh = {
    .name = "pserialize-nh",
    .description = "lockless routing table, next-hop lookups "
                   "(rt_lookup_nexthop) in a pserialize read section "
                   "(route-lookup, route-bulk only)",
    .init = psz_init,
    .fini = psz_fini,
    .thread_register = psz_thread_register,
    .thread_unregister = psz_thread_unregister,
};

/*
 * rtcache's baseline: the pserialize read section alone, in the cached
 * lookup's loop, with the same churn on the same table, measured in the
 * same invocation (round-robin with the lookups under --repeat), so that
 * a busy host moves both.  Routing workloads only.
 */
const struct bench_strategy strategy_pserialize_pair = {
    .name = "pserialize-pair",
    .description = "the pserialize read section alone, in rtcache's "
                   "loop and under its churn (rtcache only: its "
                   "baseline)",
    .init = psz_init,
    .fini = psz_fini,
    .thread_register = psz_thread_register,
    .thread_unregister = psz_thread_unregister,
};
