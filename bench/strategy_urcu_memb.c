/*
 * bench/strategy_urcu_memb.c: liburcu's default flavour, urcu-memb.
 *
 * Readers: urcu_memb_read_lock()/read_unlock() inlined from the LGPL
 * headers (_LGPL_SOURCE), which with sys_membarrier are a TLS counter
 * update and compiler barriers.  Writer: urcu_memb_synchronize_rcu() (two
 * membarrier() system calls plus a futex-assisted wait for readers).
 * Retire: urcu_memb_call_rcu(), reclaimed by liburcu's default call_rcu
 * worker thread; barrier: urcu_memb_barrier().
 *
 * liburcu applies no back-pressure to call_rcu.  To keep the defer
 * workload's memory bounded, and to give every strategy the rule mpsafe's
 * defer follows, retire() counts the bytes pending and, when one more
 * object would take them past BENCH_PENDING_LIMIT, waits for a grace
 * period and destroys the object itself.
 */
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* inline read-side fast paths: a fair comparison */
#endif
#ifndef URCU_NO_COMPAT_IDENTIFIERS
#define URCU_NO_COMPAT_IDENTIFIERS /* only the urcu_memb_* names */
#endif
#include <urcu/urcu-memb.h>

#include "bench.h"

_Static_assert(
    sizeof(struct rcu_head) <= sizeof(((struct bench_obj *)0)->reclaim),
    "struct rcu_head must fit in bench_obj.reclaim");

static struct {
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} memb;

static int
memb_init(void)
{
	bench_pending_reset();
	return 0;
}

static void
memb_fini(void)
{
}

static void
memb_thread_register(enum bench_role role)
{
	(void)role;
	urcu_memb_register_thread();
}

static void
memb_thread_unregister(void)
{
	urcu_memb_unregister_thread();
}

static inline bench_token_t
memb_read_enter(void)
{
	urcu_memb_read_lock();
	return 0;
}

static inline struct bench_obj *
memb_deref(bench_token_t *tok)
{
	(void)tok;
	/* Consume: pairs with rcu_xchg_pointer() in memb_publish(). */
	return rcu_dereference(memb.ptr);
}

static inline void
memb_read_exit(bench_token_t tok)
{
	(void)tok;
	urcu_memb_read_unlock();
}

static uint64_t
memb_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, memb_read_enter, memb_deref, memb_read_exit);
}

static struct bench_obj *
memb_publish(struct bench_obj *obj)
{
	/* Full barrier (xchg): pairs with rcu_dereference() in readers. */
	return rcu_xchg_pointer(&memb.ptr, obj);
}

static void
memb_wait_for_readers(void)
{
	urcu_memb_synchronize_rcu();
}

static struct bench_obj *
memb_obj_of(struct rcu_head *head)
{
	return (
	    struct bench_obj *)(void *)((char *)head -
	                                offsetof(struct bench_obj, reclaim));
}

/* call_rcu callback, on liburcu's call_rcu worker thread. */
static void
memb_reclaim(struct rcu_head *head)
{
	struct bench_obj *o = memb_obj_of(head);

	bench_pending_sub(o->size);
	o->dtor(o);
}

static void
memb_retire(struct bench_obj *o)
{
	if (bench_pending_bytes() + o->size > BENCH_PENDING_LIMIT) {
		/* Back-pressure, as mpsafe_defer() does at its limit. */
		urcu_memb_synchronize_rcu();
		o->dtor(o);
		return;
	}
	bench_pending_add(o->size);
	urcu_memb_call_rcu((struct rcu_head *)(void *)o->reclaim, memb_reclaim);
}

static void
memb_retire_barrier(void)
{
	urcu_memb_barrier();
}

const struct bench_strategy strategy_urcu_memb = {
    .name = "urcu-memb",
    .description = "liburcu memb flavour (inlined read lock, "
                   "synchronize_rcu, call_rcu)",
    .init = memb_init,
    .fini = memb_fini,
    .thread_register = memb_thread_register,
    .thread_unregister = memb_thread_unregister,
    .read_enter = memb_read_enter,
    .deref = memb_deref,
    .read_exit = memb_read_exit,
    .read_loop = memb_read_loop,
    .publish = memb_publish,
    .wait_for_readers = memb_wait_for_readers,
    .retire = memb_retire,
    .retire_barrier = memb_retire_barrier,
    .pending_peak = bench_pending_peak,
    .pending_reset_peak = bench_pending_reset_peak,
};
