/*
 * bench/strategy_ck_brlock.c: ConcurrencyKit's big-reader lock.
 *
 * Each reader thread registers a ck_brlock_reader_t (in TLS).  Read lock:
 * spin while a writer holds the lock, then one xchg on the reader's own
 * counter and a recheck; read unlock: a plain decrement.  The writer's
 * wait is write_lock + write_unlock: set the writer flag and spin until
 * every registered reader's counter is zero (it never sleeps).
 */
#include <ck_brlock.h>
#include <ck_pr.h>

#include "bench.h"

static struct {
	alignas(BENCH_CACHELINE) ck_brlock_t lock;
} ckb;

static struct {
	/* Written by the writer (ck_pr_fas_ptr); read by readers. */
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} ckbp;

/* Registered with the lock while the thread is a reader. */
static __thread ck_brlock_reader_t ckb_reader __attribute__((aligned(64)));
static __thread bool ckb_registered;

static int
ckb_init(void)
{
	ck_brlock_init(&ckb.lock);
	return 0;
}

static void
ckb_fini(void)
{
}

static void
ckb_thread_register(enum bench_role role)
{
	if (role != BENCH_READER)
		return; /* writers only take the write lock */
	ck_brlock_read_register(&ckb.lock, &ckb_reader);
	ckb_registered = true;
}

static void
ckb_thread_unregister(void)
{
	if (ckb_registered)
		ck_brlock_read_unregister(&ckb.lock, &ckb_reader);
	ckb_registered = false;
}

static inline bench_token_t
ckb_read_enter(void)
{
	ck_brlock_read_lock(&ckb.lock, &ckb_reader);
	return 0;
}

static inline struct bench_obj *
ckb_deref(bench_token_t *tok)
{
	struct bench_obj *o;

	(void)tok;
	o = ck_pr_load_ptr(&ckbp.ptr);
	/* Dependent loads; pairs with the store fence in ckb_publish(). */
	ck_pr_fence_load_depends();
	return o;
}

static inline void
ckb_read_exit(bench_token_t tok)
{
	(void)tok;
	ck_brlock_read_unlock(&ckb_reader);
}

static uint64_t
ckb_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, ckb_read_enter, ckb_deref, ckb_read_exit);
}

static struct bench_obj *
ckb_publish(struct bench_obj *obj)
{
	/* The object's initialisation first; pairs with ckb_deref(). */
	ck_pr_fence_store();
	return ck_pr_fas_ptr(&ckbp.ptr, obj);
}

/* Drain: holding the write lock means no read section is in progress. */
static void
ckb_wait_for_readers(void)
{
	ck_brlock_write_lock(&ckb.lock);
	ck_brlock_write_unlock(&ckb.lock);
}

const struct bench_strategy strategy_ck_brlock = {
    .name = "ck-brlock",
    .description = "ConcurrencyKit ck_brlock: per-reader lock word, "
                   "write lock+unlock as the wait",
    .init = ckb_init,
    .fini = ckb_fini,
    .thread_register = ckb_thread_register,
    .thread_unregister = ckb_thread_unregister,
    .read_enter = ckb_read_enter,
    .deref = ckb_deref,
    .read_exit = ckb_read_exit,
    .read_loop = ckb_read_loop,
    .publish = ckb_publish,
    .wait_for_readers = ckb_wait_for_readers,
};
