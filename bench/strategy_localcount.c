/*
 * bench/strategy_localcount.c: mpsafe's localcount, per-thread reference
 * counts.
 *
 * The struct localcount lives inside the object, in the strategy-private
 * reclaim area of struct bench_obj (16 bytes of its 40).  publish(obj)
 * initialises it (localcount_init()) before the release exchange that
 * makes obj visible.
 *
 * One read operation (read-side, grace-period, defer readers) has the
 * same shape as psref's, so that the two compare directly: an acquire and
 * a release inside one read section,
 *
 *	s = pserialize_read_enter();
 *	o = load published pointer;
 *	localcount_acquire(&o->count);
 *	v = o->value;
 *	localcount_release(&o->count);
 *	pserialize_read_exit(s);
 *
 * Each of acquire and release runs a nested read section of its own and
 * updates this thread's counter for the object.  The hold workload uses
 * the real shape: acquire inside the section, leave it, sleep holding the
 * reference, release.
 *
 * Writer: destroy(obj) is the documented sequence for an unpublished
 * object: pserialize_perform(), localcount_drain() (which waits for one
 * more grace period, then for the last release), localcount_fini().
 * wait_for_readers() does that for the object this thread last
 * unpublished (pserialize_perform() alone when there is none).  publish()
 * re-initialises the count when an object is reused; publish(NULL), the
 * workloads' final unpublish, destroys the last count at once.
 *
 * No retire: localcount_drain() blocks until the last reference is
 * released, so the writer destroys synchronously, as NetBSD callers do.
 */
#include <errno.h>
#include <stdlib.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>

#include "bench.h"

_Static_assert(
    sizeof(struct localcount) <= sizeof(((struct bench_obj *)0)->reclaim),
    "struct localcount must fit in bench_obj.reclaim");

static pserialize_t lcs_psz;

static struct {
	/* Written by writers (exchange); read by readers. */
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
} lcsp;

/* The object this thread unpublished last and has not destroyed yet. */
static __thread struct bench_obj *lcs_last;

static inline struct localcount *
lcs_count(struct bench_obj *o)
{
	return (struct localcount *)(void *)o->reclaim;
}

static int
lcs_init(void)
{
	lcs_psz = pserialize_create();
	if (lcs_psz == NULL)
		return errno ? errno : ENOMEM;
	return 0;
}

static void
lcs_fini(void)
{
	pserialize_destroy(lcs_psz);
	lcs_psz = NULL;
}

static void
lcs_thread_register(enum bench_role role)
{
	(void)role;
	(void)mpsafe_thread_register(); /* 0 or EALREADY */
	lcs_last = NULL;
}

static void
lcs_thread_unregister(void)
{
	(void)mpsafe_thread_unregister();
}

static inline struct bench_obj *
lcs_load(void)
{
	/* Consume: pairs with the release exchange in lcs_publish(). */
	return atomic_load_explicit(&lcsp.ptr, memory_order_consume);
}

static inline bench_token_t
lcs_read_enter(void)
{
	return (bench_token_t)pserialize_read_enter();
}

static inline struct bench_obj *
lcs_deref(bench_token_t *tok)
{
	(void)tok;
	return lcs_load();
}

static inline void
lcs_read_exit(bench_token_t tok)
{
	pserialize_read_exit((int)tok);
}

/* Not bench_read_loop_inline(): acquire and release inside the section. */
static uint64_t
lcs_read_loop(uint64_t n, uint64_t *violations)
{
	uint64_t sum = 0, bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		int s = pserialize_read_enter();
		struct bench_obj *o = lcs_load();
		uint64_t v;

		localcount_acquire(lcs_count(o));
		/* Relaxed: the strategy orders the section, see bench_obj. */
		v = atomic_load_explicit(&o->value, memory_order_relaxed);
		bad += (v == BENCH_POISON);
		sum += v;
		localcount_release(lcs_count(o));
		pserialize_read_exit(s);
	}
	*violations += bad;
	return sum;
}

static void
lcs_destroy(struct bench_obj *o)
{
	pserialize_perform(lcs_psz);
	localcount_drain(lcs_count(o));
	localcount_fini(lcs_count(o));
	if (lcs_last == o)
		lcs_last = NULL;
}

static struct bench_obj *
lcs_publish(struct bench_obj *obj)
{
	struct bench_obj *old;

	if (obj != NULL && localcount_init(lcs_count(obj)) != 0) {
		bench_warn("localcount_init failed");
		abort();
	}
	/*
	 * Release: the object's initialisation, its count's included,
	 * before the pointer; pairs with the consume in lcs_load().
	 * Acquire: the previous publisher's writes to the old object.
	 */
	old = atomic_exchange_explicit(&lcsp.ptr, obj, memory_order_acq_rel);
	if (old != NULL && obj == NULL) {
		lcs_destroy(old); /* the final unpublish: see the top */
		return old;
	}
	lcs_last = old;
	return old;
}

static void
lcs_wait_for_readers(void)
{
	if (lcs_last != NULL)
		lcs_destroy(lcs_last); /* includes grace periods */
	else
		pserialize_perform(lcs_psz);
}

static struct bench_obj *
lcs_hold_acquire(struct bench_hold *h)
{
	int s = pserialize_read_enter();
	struct bench_obj *o = lcs_load();

	localcount_acquire(lcs_count(o));
	pserialize_read_exit(s);
	h->obj = o;
	return o;
}

static void
lcs_hold_release(struct bench_hold *h)
{
	localcount_release(lcs_count(h->obj));
}

const struct bench_strategy strategy_localcount = {
    .name = "localcount",
    .description = "mpsafe localcount: read section + localcount_acquire/"
                   "release, perform + drain + fini as the wait",
    .init = lcs_init,
    .fini = lcs_fini,
    .thread_register = lcs_thread_register,
    .thread_unregister = lcs_thread_unregister,
    .read_enter = lcs_read_enter,
    .deref = lcs_deref,
    .read_exit = lcs_read_exit,
    .read_loop = lcs_read_loop,
    .publish = lcs_publish,
    .wait_for_readers = lcs_wait_for_readers,
    .hold_acquire = lcs_hold_acquire,
    .hold_release = lcs_hold_release,
    .destroy = lcs_destroy,
};
