/*
 * bench/strategy_ck_epoch.c: ConcurrencyKit's epoch-based reclamation.
 *
 * Each thread owns a ck_epoch_record_t (taken from ck_epoch_recycle() or
 * allocated and registered, kept in TLS).  Readers: ck_epoch_begin() and
 * ck_epoch_end() with a NULL section (one xchg per outermost section on
 * x86).  Writer: ck_epoch_synchronize() (a pure user-space spin, it never
 * sleeps).
 *
 * Retire: ck_epoch_call() on the writer's record.  ck has no background
 * reclaimer: callbacks run only when the record's owner calls
 * ck_epoch_poll(), ck_epoch_barrier() or ck_epoch_reclaim().  The writer
 * therefore calls ck_epoch_poll() every CK_POLL_INTERVAL retires, and the
 * destructors run on the writer thread, inside its measured time.  When
 * one more object would take the pending bytes past BENCH_PENDING_LIMIT,
 * the writer first calls ck_epoch_barrier() (a grace period, then every
 * callback it has pending), the same bound the other strategies apply.
 *
 * Records are never freed (ck never unlinks them): an unregistered record
 * is recycled by the next thread, so memory is bounded by the largest
 * number of threads any run used.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ck_epoch.h>
#include <ck_pr.h>

#include "bench.h"

/* Retires between two ck_epoch_poll() calls by the writer. */
#define CK_POLL_INTERVAL 128

_Static_assert(
    sizeof(ck_epoch_entry_t) <= sizeof(((struct bench_obj *)0)->reclaim),
    "ck_epoch_entry_t must fit in bench_obj.reclaim");

static struct {
	alignas(BENCH_CACHELINE) ck_epoch_t epoch;
} cke;

static struct {
	/* Written by the writer (ck_pr_fas_ptr); read by readers. */
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} ckp;

static pthread_once_t cke_once = PTHREAD_ONCE_INIT;
static __thread ck_epoch_record_t *cke_self;
static __thread unsigned cke_retired; /* retires since the last poll */

static void
cke_global_init(void)
{
	ck_epoch_init(&cke.epoch);
}

static int
cke_init(void)
{
	pthread_once(&cke_once, cke_global_init);
	bench_pending_reset();
	return 0;
}

static void
cke_fini(void)
{
}

static void
cke_thread_register(enum bench_role role)
{
	ck_epoch_record_t *rec;

	(void)role;
	rec = ck_epoch_recycle(&cke.epoch, NULL);
	if (rec == NULL) {
		rec = aligned_alloc(
		    BENCH_CACHELINE, (sizeof(*rec) + BENCH_CACHELINE - 1) &
		                         ~(size_t)(BENCH_CACHELINE - 1));
		if (rec == NULL) {
			bench_warn("ck-epoch: out of memory");
			abort();
		}
		memset(rec, 0, sizeof(*rec));
		ck_epoch_register(&cke.epoch, rec, NULL);
	}
	cke_self = rec;
	cke_retired = 0;
}

/* The caller has run retire_barrier() if it retired anything. */
static void
cke_thread_unregister(void)
{
	ck_epoch_unregister(cke_self);
	cke_self = NULL;
}

static inline bench_token_t
cke_read_enter(void)
{
	ck_epoch_begin(cke_self, NULL);
	return 0;
}

static inline struct bench_obj *
cke_deref(bench_token_t *tok)
{
	struct bench_obj *o;

	(void)tok;
	o = ck_pr_load_ptr(&ckp.ptr);
	/* Dependent loads; pairs with the store fence in cke_publish(). */
	ck_pr_fence_load_depends();
	return o;
}

static inline void
cke_read_exit(bench_token_t tok)
{
	(void)tok;
	ck_epoch_end(cke_self, NULL);
}

static uint64_t
cke_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, cke_read_enter, cke_deref, cke_read_exit);
}

static struct bench_obj *
cke_publish(struct bench_obj *obj)
{
	/* The object's initialisation first; pairs with cke_deref(). */
	ck_pr_fence_store();
	return ck_pr_fas_ptr(&ckp.ptr, obj);
}

static void
cke_wait_for_readers(void)
{
	ck_epoch_synchronize(cke_self);
}

/* ck_epoch callback, run by the record owner (the writer). */
static void
cke_reclaim(ck_epoch_entry_t *e)
{
	struct bench_obj *o =
	    (struct bench_obj *)(void *)((char *)e -
	                                 offsetof(struct bench_obj, reclaim));

	bench_pending_sub(o->size);
	o->dtor(o);
}

static void
cke_retire(struct bench_obj *o)
{
	if (bench_pending_bytes() + o->size > BENCH_PENDING_LIMIT)
		ck_epoch_barrier(cke_self); /* back-pressure, see above */
	bench_pending_add(o->size);
	ck_epoch_call(
	    cke_self, (ck_epoch_entry_t *)(void *)o->reclaim, cke_reclaim);
	if (++cke_retired >= CK_POLL_INTERVAL) {
		cke_retired = 0;
		ck_epoch_poll(cke_self);
	}
}

static void
cke_retire_barrier(void)
{
	ck_epoch_barrier(cke_self);
}

const struct bench_strategy strategy_ck_epoch = {
    .name = "ck-epoch",
    .description = "ConcurrencyKit ck_epoch: begin/end per read, "
                   "synchronize, call + poll every 128 retires",
    .init = cke_init,
    .fini = cke_fini,
    .thread_register = cke_thread_register,
    .thread_unregister = cke_thread_unregister,
    .read_enter = cke_read_enter,
    .deref = cke_deref,
    .read_exit = cke_read_exit,
    .read_loop = cke_read_loop,
    .publish = cke_publish,
    .wait_for_readers = cke_wait_for_readers,
    .retire = cke_retire,
    .retire_barrier = cke_retire_barrier,
    .pending_peak = bench_pending_peak,
    .pending_reset_peak = bench_pending_reset_peak,
};
