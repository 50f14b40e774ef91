/*
 * bench/strategy_psref.c: mpsafe's passive references (psref).
 *
 * The psref_target lives inside the object, in the strategy-private
 * reclaim area of struct bench_obj (16 bytes of its 40), so a reference
 * costs no extra allocation and no extra cache line: the object header,
 * which the reader loads anyway, holds it.  publish(obj) initialises the
 * target (psref_target_init()) before the release exchange that makes
 * obj visible.
 *
 * One read operation (read-side, grace-period, defer readers) is an
 * acquire and a release inside one read section:
 *
 *	s = pserialize_read_enter();
 *	o = load published pointer;
 *	psref_acquire(&ref, &o->target, class);   (ref on the stack)
 *	v = o->value;
 *	psref_release(&ref, &o->target, class);
 *	pserialize_read_exit(s);
 *
 * so its cost, minus pserialize's, is the price of one reference taken
 * and dropped (the release runs a nested read section of its own).  The
 * hold workload uses the real shape instead: acquire inside the section,
 * leave the section, sleep holding the reference, release.
 *
 * Writer: wait_for_readers() destroys the target of the object this
 * thread last unpublished (psref_target_destroy() marks it draining,
 * waits for a grace period, which covers every read section, then waits
 * for the holders); with nothing unpublished it is pserialize_perform().
 * destroy(obj) is psref_target_destroy().  The target is dead afterwards
 * and publish() re-initialises it when the object is reused.  publish(NULL)
 * (the workloads' final unpublish, when no reader is left) destroys the
 * last target at once, so that every target is dead when fini() destroys
 * the class.
 *
 * No retire: psref_target_destroy() blocks until the holders are gone,
 * so a psref object is destroyed synchronously by its writer (NetBSD's
 * pattern); running it on a reclaimer thread would stall the reclaimer.
 */
#include <errno.h>
#include <stdlib.h>

#include <mpsafe/psref.h>
#include <mpsafe/pserialize.h>

#include "bench.h"

_Static_assert(
    sizeof(struct psref_target) <= sizeof(((struct bench_obj *)0)->reclaim),
    "struct psref_target must fit in bench_obj.reclaim");
_Static_assert(sizeof(struct psref) <= sizeof(((struct bench_hold *)0)->ref),
    "struct psref must fit in bench_hold.ref");

static struct psref_class *psr_class;
static pserialize_t psr_psz;

static struct {
	/* Written by writers (exchange); read by readers. */
	alignas(BENCH_CACHELINE) _Atomic(struct bench_obj *) ptr;
} psrp;

/* The object this thread unpublished last and has not destroyed yet. */
static __thread struct bench_obj *psr_last;

static inline struct psref_target *
psr_target(struct bench_obj *o)
{
	return (struct psref_target *)(void *)o->reclaim;
}

static int
psr_init(void)
{
	psr_class = psref_class_create("bench");
	if (psr_class == NULL)
		return errno ? errno : ENOMEM;
	psr_psz = pserialize_create();
	if (psr_psz == NULL) {
		psref_class_destroy(psr_class);
		return errno ? errno : ENOMEM;
	}
	return 0;
}

static void
psr_fini(void)
{
	pserialize_destroy(psr_psz);
	psref_class_destroy(psr_class);
	psr_psz = NULL;
	psr_class = NULL;
}

static void
psr_thread_register(enum bench_role role)
{
	(void)role;
	(void)mpsafe_thread_register(); /* 0 or EALREADY */
	psr_last = NULL;
}

static void
psr_thread_unregister(void)
{
	(void)mpsafe_thread_unregister();
}

static inline struct bench_obj *
psr_load(void)
{
	/* Consume: pairs with the release exchange in psr_publish(). */
	return atomic_load_explicit(&psrp.ptr, memory_order_consume);
}

static inline bench_token_t
psr_read_enter(void)
{
	return (bench_token_t)pserialize_read_enter();
}

static inline struct bench_obj *
psr_deref(bench_token_t *tok)
{
	(void)tok;
	return psr_load();
}

static inline void
psr_read_exit(bench_token_t tok)
{
	pserialize_read_exit((int)tok);
}

/*
 * Not bench_read_loop_inline(): the reference is taken after the load of
 * the pointer and dropped after the load of the field, inside the
 * section, with the struct psref on the stack (see the top).
 */
static uint64_t
psr_read_loop(uint64_t n, uint64_t *violations)
{
	struct psref_class *class = psr_class;
	uint64_t sum = 0, bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct psref ref;
		int s = pserialize_read_enter();
		struct bench_obj *o = psr_load();
		uint64_t v;

		psref_acquire(&ref, psr_target(o), class);
		/* Relaxed: the strategy orders the section, see bench_obj. */
		v = atomic_load_explicit(&o->value, memory_order_relaxed);
		bad += (v == BENCH_POISON);
		sum += v;
		psref_release(&ref, psr_target(o), class);
		pserialize_read_exit(s);
	}
	*violations += bad;
	return sum;
}

static void
psr_destroy(struct bench_obj *o)
{
	psref_target_destroy(psr_target(o), psr_class);
	if (psr_last == o)
		psr_last = NULL;
}

static struct bench_obj *
psr_publish(struct bench_obj *obj)
{
	struct bench_obj *old;

	if (obj != NULL)
		psref_target_init(psr_target(obj), psr_class);
	/*
	 * Release: the object's initialisation, its target's included,
	 * before the pointer; pairs with the consume in psr_load().
	 * Acquire: the previous publisher's writes to the old object.
	 */
	old = atomic_exchange_explicit(&psrp.ptr, obj, memory_order_acq_rel);
	if (old != NULL && obj == NULL) {
		psr_destroy(old); /* the final unpublish: see the top */
		return old;
	}
	psr_last = old;
	return old;
}

static void
psr_wait_for_readers(void)
{
	if (psr_last != NULL)
		psr_destroy(psr_last); /* includes a grace period */
	else
		pserialize_perform(psr_psz);
}

static struct bench_obj *
psr_hold_acquire(struct bench_hold *h)
{
	int s = pserialize_read_enter();
	struct bench_obj *o = psr_load();

	psref_acquire((struct psref *)(void *)h->ref, psr_target(o), psr_class);
	pserialize_read_exit(s);
	h->obj = o;
	return o;
}

static void
psr_hold_release(struct bench_hold *h)
{
	psref_release(
	    (struct psref *)(void *)h->ref, psr_target(h->obj), psr_class);
}

const struct bench_strategy strategy_psref = {
    .name = "psref",
    .description = "mpsafe psref: read section + psref_acquire/release, "
                   "psref_target_destroy as the wait",
    .init = psr_init,
    .fini = psr_fini,
    .thread_register = psr_thread_register,
    .thread_unregister = psr_thread_unregister,
    .read_enter = psr_read_enter,
    .deref = psr_deref,
    .read_exit = psr_read_exit,
    .read_loop = psr_read_loop,
    .publish = psr_publish,
    .wait_for_readers = psr_wait_for_readers,
    .hold_acquire = psr_hold_acquire,
    .hold_release = psr_hold_release,
    .destroy = psr_destroy,
};
