/*
 * bench/strategy_urcu_qsbr.c: liburcu's QSBR flavour, urcu-qsbr.
 *
 * QSBR read sections are empty; a reader instead announces quiescent
 * states.  Here every read operation ends with urcu_qsbr_quiescent_state()
 * (one load and compare while no grace period is pending), which is the
 * most frequent a real application would do it and so the fairest per-op
 * comparison.  Writers register and then go offline (they never read), so
 * they never hold up each other's grace periods.  No retire: the defer
 * workload compares urcu-memb's call_rcu.
 */
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* inline read-side fast paths: a fair comparison */
#endif
#ifndef URCU_NO_COMPAT_IDENTIFIERS
#define URCU_NO_COMPAT_IDENTIFIERS /* only the urcu_qsbr_* names */
#endif
#include <urcu/urcu-qsbr.h>

#include "bench.h"

static struct {
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} qsbr;

static int
qsbr_init(void)
{
	return 0;
}

static void
qsbr_fini(void)
{
}

static void
qsbr_thread_register(enum bench_role role)
{
	urcu_qsbr_register_thread();
	if (role == BENCH_WRITER)
		urcu_qsbr_thread_offline();
}

static void
qsbr_thread_unregister(void)
{
	urcu_qsbr_unregister_thread(); /* goes offline first if online */
}

static inline bench_token_t
qsbr_read_enter(void)
{
	urcu_qsbr_read_lock();
	return 0;
}

static inline struct bench_obj *
qsbr_deref(bench_token_t *tok)
{
	(void)tok;
	/* Consume: pairs with rcu_xchg_pointer() in qsbr_publish(). */
	return rcu_dereference(qsbr.ptr);
}

static inline void
qsbr_read_exit(bench_token_t tok)
{
	(void)tok;
	urcu_qsbr_read_unlock();
	urcu_qsbr_quiescent_state();
}

static uint64_t
qsbr_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, qsbr_read_enter, qsbr_deref, qsbr_read_exit);
}

static struct bench_obj *
qsbr_publish(struct bench_obj *obj)
{
	/* Full barrier (xchg): pairs with rcu_dereference() in readers. */
	return rcu_xchg_pointer(&qsbr.ptr, obj);
}

static void
qsbr_wait_for_readers(void)
{
	urcu_qsbr_synchronize_rcu();
}

const struct bench_strategy strategy_urcu_qsbr = {
    .name = "urcu-qsbr",
    .description = "liburcu QSBR flavour: empty read sections, "
                   "quiescent_state() after every read op",
    .init = qsbr_init,
    .fini = qsbr_fini,
    .thread_register = qsbr_thread_register,
    .thread_unregister = qsbr_thread_unregister,
    .read_enter = qsbr_read_enter,
    .deref = qsbr_deref,
    .read_exit = qsbr_read_exit,
    .read_loop = qsbr_read_loop,
    .publish = qsbr_publish,
    .wait_for_readers = qsbr_wait_for_readers,
};
