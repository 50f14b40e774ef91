/*
 * bench/strategy_urcu_bp.c: liburcu's "bulletproof" flavour, urcu-bp.
 *
 * Like urcu-memb on the read side plus a check that the thread is
 * registered (bp registers threads on their first read section; here
 * they register explicitly, outside the timed phases).  Its grace-period
 * wait sleeps 10 ms between scans once spinning fails, instead of a futex
 * handshake.  No retire: the defer workload compares urcu-memb's call_rcu.
 */
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* inline read-side fast paths: a fair comparison */
#endif
#ifndef URCU_NO_COMPAT_IDENTIFIERS
#define URCU_NO_COMPAT_IDENTIFIERS /* only the urcu_bp_* names */
#endif
#include <urcu/urcu-bp.h>

#include "bench.h"

static struct {
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} bp;

static int
bp_init(void)
{
	return 0;
}

static void
bp_fini(void)
{
}

static void
bp_thread_register(enum bench_role role)
{
	(void)role;
	urcu_bp_register_thread();
}

static void
bp_thread_unregister(void)
{
	urcu_bp_unregister_thread();
}

static inline bench_token_t
bp_read_enter(void)
{
	urcu_bp_read_lock();
	return 0;
}

static inline struct bench_obj *
bp_deref(bench_token_t *tok)
{
	(void)tok;
	/* Consume: pairs with rcu_xchg_pointer() in bp_publish(). */
	return rcu_dereference(bp.ptr);
}

static inline void
bp_read_exit(bench_token_t tok)
{
	(void)tok;
	urcu_bp_read_unlock();
}

static uint64_t
bp_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, bp_read_enter, bp_deref, bp_read_exit);
}

static struct bench_obj *
bp_publish(struct bench_obj *obj)
{
	/* Full barrier (xchg): pairs with rcu_dereference() in readers. */
	return rcu_xchg_pointer(&bp.ptr, obj);
}

static void
bp_wait_for_readers(void)
{
	urcu_bp_synchronize_rcu();
}

const struct bench_strategy strategy_urcu_bp = {
    .name = "urcu-bp",
    .description = "liburcu bulletproof flavour (auto-registering read "
                   "lock, sleeping grace-period wait)",
    .init = bp_init,
    .fini = bp_fini,
    .thread_register = bp_thread_register,
    .thread_unregister = bp_thread_unregister,
    .read_enter = bp_read_enter,
    .deref = bp_deref,
    .read_exit = bp_read_exit,
    .read_loop = bp_read_loop,
    .publish = bp_publish,
    .wait_for_readers = bp_wait_for_readers,
};
