/*
 * bench/strategy_ck_hp.c: ConcurrencyKit's hazard pointers (ck_hp).
 *
 * Each thread owns a ck_hp_record_t with one hazard pointer (degree 1),
 * taken from ck_hp_recycle() or allocated and registered, kept in TLS;
 * records are never freed (ck never unlinks them) and are recycled across
 * runs, as in ck-epoch.
 *
 * Readers protect an object, not a section.  One read operation:
 *
 *	o = load published pointer;
 *	do { ck_hp_set_fence(rec, 0, o); reload; } until it is still o;
 *	v = o->value;
 *	ck_hp_clear(rec);
 *
 * ck_hp_set_fence() is an xchg on x86 (CK_MD_TSO): hazard pointers pay a
 * full barrier per protected load, which is their read-side cost.  A
 * hazard pointer may be kept across blocking, so the hold workload holds
 * it across its sleep.
 *
 * Writers: hazard pointers cannot wait for every reader, only for the
 * readers of given objects.  destroy(obj) hands obj to ck_hp_retire()
 * with no destructor data and calls ck_hp_purge(), which scans every
 * record until no hazard pointer names obj (a spin with exponential
 * backoff: ck never sleeps).  wait_for_readers() does the same for the
 * object this thread unpublished last, which is all the grace-period
 * workload relies on (it poisons exactly that object); with nothing
 * unpublished it returns at once.
 *
 * Retire: ck_hp_free() (the hazard node lives in the object's reclaim
 * area), which scans and reclaims once CKHP_THRESHOLD objects are
 * pending; destructors run on the writer thread, inside its measured
 * time, as with ck-epoch.  When one more object would take the pending
 * bytes past BENCH_PENDING_LIMIT, the writer first calls ck_hp_purge().
 * Barrier: ck_hp_purge().
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ck_hp.h>
#include <ck_pr.h>

#include "bench.h"

/* Pending objects that make ck_hp_free() scan (as ck-epoch's poll). */
#define CKHP_THRESHOLD 128

_Static_assert(
    sizeof(ck_hp_hazard_t) <= sizeof(((struct bench_obj *)0)->reclaim),
    "ck_hp_hazard_t must fit in bench_obj.reclaim");

/* A thread's record and its hazard pointer, on their own cache lines. */
struct ckhp_rec {
	ck_hp_record_t rec;
	alignas(BENCH_CACHELINE) void *slot[1];
};

static struct {
	alignas(BENCH_CACHELINE) ck_hp_t hp;
} ckh;

static struct {
	/* Written by writers (ck_pr_fas_ptr); read by readers. */
	alignas(BENCH_CACHELINE) struct bench_obj *ptr;
} ckhp;

static pthread_once_t ckh_once = PTHREAD_ONCE_INIT;
static __thread ck_hp_record_t *ckh_self;
/* The object this thread unpublished last and has not destroyed yet. */
static __thread struct bench_obj *ckh_last;

/* ck_hp destructor: NULL is destroy()'s marker, which frees nothing. */
static void
ckh_reclaim(void *data)
{
	struct bench_obj *o = data;

	if (o == NULL)
		return;
	bench_pending_sub(o->size);
	o->dtor(o);
}

static void
ckh_global_init(void)
{
	ck_hp_init(&ckh.hp, 1, CKHP_THRESHOLD, ckh_reclaim);
}

static int
ckh_init(void)
{
	pthread_once(&ckh_once, ckh_global_init);
	bench_pending_reset();
	return 0;
}

static void
ckh_fini(void)
{
}

static void
ckh_thread_register(enum bench_role role)
{
	ck_hp_record_t *rec;

	(void)role;
	rec = ck_hp_recycle(&ckh.hp);
	if (rec == NULL) {
		struct ckhp_rec *r = aligned_alloc(
		    BENCH_CACHELINE, (sizeof(*r) + BENCH_CACHELINE - 1) &
		                         ~(size_t)(BENCH_CACHELINE - 1));

		if (r == NULL) {
			bench_warn("ck-hp: out of memory");
			abort();
		}
		memset(r, 0, sizeof(*r));
		ck_hp_register(&ckh.hp, &r->rec, r->slot);
		rec = &r->rec;
	}
	ckh_self = rec;
	ckh_last = NULL;
}

/*
 * The caller has run retire_barrier() if it retired anything (ck drops a
 * record's pending list when it is unregistered).
 */
static void
ckh_thread_unregister(void)
{
	ck_hp_clear(ckh_self);
	ck_hp_unregister(ckh_self);
	ckh_self = NULL;
}

/* Load the published pointer and protect it with this thread's slot. */
static inline struct bench_obj *
ckh_protect(ck_hp_record_t *rec)
{
	struct bench_obj *o = ck_pr_load_ptr(&ckhp.ptr);

	for (;;) {
		struct bench_obj *again;

		/* Full barrier: the slot before the re-check; pairs with the
		 * writer's fas and the scan that follows it. */
		ck_hp_set_fence(rec, 0, o);
		again = ck_pr_load_ptr(&ckhp.ptr);
		if (again == o)
			break;
		o = again;
	}
	/* Dependent loads; pairs with the store fence in ckh_publish(). */
	ck_pr_fence_load_depends();
	return o;
}

static inline void
ckh_unprotect(ck_hp_record_t *rec)
{
	/* The object's loads before the slot is cleared. */
	ck_pr_fence_release();
	ck_hp_clear(rec);
}

static inline bench_token_t
ckh_read_enter(void)
{
	return 0;
}

static inline struct bench_obj *
ckh_deref(bench_token_t *tok)
{
	(void)tok;
	return ckh_protect(ckh_self);
}

static inline void
ckh_read_exit(bench_token_t tok)
{
	(void)tok;
	ckh_unprotect(ckh_self);
}

static uint64_t
ckh_read_loop(uint64_t n, uint64_t *violations)
{
	return bench_read_loop_inline(
	    n, violations, ckh_read_enter, ckh_deref, ckh_read_exit);
}

static struct bench_obj *
ckh_publish(struct bench_obj *obj)
{
	struct bench_obj *old;

	/* The object's initialisation first; pairs with ckh_protect(). */
	ck_pr_fence_store();
	old = ck_pr_fas_ptr(&ckhp.ptr, obj);
	ckh_last = obj != NULL ? old : NULL;
	return old;
}

static void
ckh_destroy(struct bench_obj *o)
{
	ck_hp_hazard_t marker;

	/* data NULL: ckh_reclaim() frees nothing; the caller owns o. */
	ck_hp_retire(ckh_self, &marker, NULL, o);
	ck_hp_purge(ckh_self);
	if (ckh_last == o)
		ckh_last = NULL;
}

static void
ckh_wait_for_readers(void)
{
	if (ckh_last != NULL)
		ckh_destroy(ckh_last);
}

static void
ckh_retire(struct bench_obj *o)
{
	if (bench_pending_bytes() + o->size > BENCH_PENDING_LIMIT)
		ck_hp_purge(ckh_self); /* back-pressure, see above */
	bench_pending_add(o->size);
	ck_hp_free(ckh_self, (ck_hp_hazard_t *)(void *)o->reclaim, o, o);
	ckh_last = NULL;
}

static void
ckh_retire_barrier(void)
{
	ck_hp_purge(ckh_self);
}

static struct bench_obj *
ckh_hold_acquire(struct bench_hold *h)
{
	h->obj = ckh_protect(ckh_self);
	return h->obj;
}

static void
ckh_hold_release(struct bench_hold *h)
{
	(void)h;
	ckh_unprotect(ckh_self);
}

const struct bench_strategy strategy_ck_hp = {
    .name = "ck-hp",
    .description = "ConcurrencyKit ck_hp: hazard pointer set_fence + "
                   "re-check per read, retire + purge as the wait",
    .init = ckh_init,
    .fini = ckh_fini,
    .thread_register = ckh_thread_register,
    .thread_unregister = ckh_thread_unregister,
    .read_enter = ckh_read_enter,
    .deref = ckh_deref,
    .read_exit = ckh_read_exit,
    .read_loop = ckh_read_loop,
    .publish = ckh_publish,
    .wait_for_readers = ckh_wait_for_readers,
    .retire = ckh_retire,
    .retire_barrier = ckh_retire_barrier,
    .pending_peak = bench_pending_peak,
    .pending_reset_peak = bench_pending_reset_peak,
    .hold_acquire = ckh_hold_acquire,
    .hold_release = ckh_hold_release,
    .destroy = ckh_destroy,
};
