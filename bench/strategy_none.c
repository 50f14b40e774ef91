/*
 * bench/strategy_none.c: no synchronisation at all, the floor.
 *
 * Readers load the published pointer and the field with no read section:
 * what remains is the loop itself.  There is no way to wait for readers,
 * so workloads that need a grace period or deferred reclamation skip it.
 */
#include "bench.h"

static struct {
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
} none;

static int
none_init(void)
{
	return 0;
}

static void
none_fini(void)
{
}

static void
none_thread_register(enum bench_role role)
{
	(void)role;
}

static void
none_thread_unregister(void)
{
}

static inline bench_token_t
none_read_enter(void)
{
	return 0;
}

static inline struct bench_obj *
none_deref(bench_token_t *tok)
{
	(void)tok;
	/* Relaxed: no ordering at all, by definition of this strategy. */
	return atomic_load_explicit(&none.ptr, memory_order_relaxed);
}

static inline void
none_read_exit(bench_token_t tok)
{
	(void)tok;
}

static uint64_t
none_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, none_read_enter, none_deref, none_read_exit);
}

static struct bench_obj *
none_publish(struct bench_obj *obj)
{
	/* Release: the object's initialisation before the pointer (setup). */
	return atomic_exchange_explicit(&none.ptr, obj, memory_order_release);
}

const struct bench_strategy strategy_none = {
    .name = "none",
    .description = "no synchronisation: plain loads, the floor (no wait, "
                   "no retire)",
    .init = none_init,
    .fini = none_fini,
    .thread_register = none_thread_register,
    .thread_unregister = none_thread_unregister,
    .read_enter = none_read_enter,
    .deref = none_deref,
    .read_exit = none_read_exit,
    .read_loop = none_read_loop,
    .publish = none_publish,
};
