/*
 * test_defer.c: deferred reclamation (mpsafe/defer.h): destructors run
 * only after a grace period, in hand-over order, on the reclaimer; the
 * barrier waits for them; the pending-memory limit is never passed and the
 * caller waits instead; bad arguments give errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>

TestSuite(defer, .timeout = 60);

struct obj {
	struct mpsafe_defer o_defer;
	int o_seq;
};

static _Atomic int freed;
static _Atomic int order_ok = 1;
static _Atomic int last_seq = -1;

static void
obj_free(struct mpsafe_defer *d)
{
	struct obj *o = (struct obj *)d;

	/* Hand-over order: each object after the one handed over before. */
	if (o->o_seq >= 0) {
		if (o->o_seq != atomic_load(&last_seq) + 1)
			atomic_store(&order_ok, 0);
		atomic_store(&last_seq, o->o_seq);
	}
	free(o);
	atomic_fetch_add(&freed, 1);
}

static struct obj *
obj_new(int seq)
{
	struct obj *o = malloc(sizeof(*o));

	cr_assert_not_null(o);
	o->o_seq = seq;
	return o;
}

Test(defer, runs_every_destructor_in_order)
{
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(mpsafe_defer(&obj_new(i)->o_defer, obj_free,
		                 sizeof(struct obj)),
		    0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 10000);
	cr_assert(atomic_load(&order_ok), "destructors ran out of order");

	struct mpsafe_defer_stats st;
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
	cr_assert_geq(st.pending_peak_bytes, sizeof(struct obj));
	cr_assert_geq(st.batches, 1);
}

Test(defer, bad_arguments)
{
	struct obj o;

	cr_assert_eq(mpsafe_defer(NULL, obj_free, 1), EINVAL);
	cr_assert_eq(mpsafe_defer(&o.o_defer, NULL, 1), EINVAL);
	cr_assert_eq(mpsafe_defer_try(NULL, obj_free, 1), EINVAL);
	cr_assert_eq(mpsafe_defer_set_limit(0), EINVAL);
	cr_assert_eq(mpsafe_defer_get_limit(), MPSAFE_DEFER_LIMIT_DEFAULT);
}

/* A reader in a section that began before the hand-over holds it back. */
struct holder {
	_Atomic int entered;
	_Atomic int release;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	int s = pserialize_read_enter();

	atomic_store(&h->entered, 1);
	while (!atomic_load(&h->release))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

Test(defer, destructor_waits_for_earlier_reader)
{
	struct holder h = {0};
	pthread_t t;
	struct timespec ts = {0, 100 * 1000 * 1000};

	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(
	    mpsafe_defer(&obj_new(-1)->o_defer, obj_free, sizeof(struct obj)),
	    0);
	nanosleep(&ts, NULL);
	cr_assert_eq(atomic_load(&freed), 0,
	    "destructor ran while a reader could still hold the object");
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 1);
}

/*
 * With a small limit the pending total never passes it; hand-overs past it
 * wait and reclaim inline, and nothing is lost.
 */
Test(defer, limit_is_never_exceeded)
{
	const size_t limit = 64 * sizeof(struct obj);
	struct mpsafe_defer_stats st;

	cr_assert_eq(mpsafe_defer_set_limit(limit), 0);
	mpsafe_defer_reset_peak();
	for (int i = 0; i < 20000; i++)
		cr_assert_eq(mpsafe_defer(&obj_new(-1)->o_defer, obj_free,
		                 sizeof(struct obj)),
		    0);
	mpsafe_defer_stats(&st);
	cr_assert_leq(st.pending_peak_bytes, limit,
	    "pending peak %zu passed the limit %zu", st.pending_peak_bytes,
	    limit);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 20000);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
}

Test(defer, try_refuses_past_the_limit)
{
	struct holder h = {0};
	pthread_t t;
	struct obj *a = obj_new(-1), *b = obj_new(-1);

	cr_assert_eq(mpsafe_defer_set_limit(sizeof(struct obj)), 0);
	/* Hold grace periods back so the first object stays pending. */
	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(mpsafe_defer_try(&a->o_defer, obj_free, sizeof(*a)), 0);
	cr_assert_eq(
	    mpsafe_defer_try(&b->o_defer, obj_free, sizeof(*b)), EAGAIN);
	/* Inside a read section the non-blocking form is allowed. */
	int s = pserialize_read_enter();
	cr_assert_eq(
	    mpsafe_defer_try(&b->o_defer, obj_free, sizeof(*b)), EAGAIN);
	pserialize_read_exit(s);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer(&b->o_defer, obj_free, sizeof(*b)), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
}

/* A destructor may hand over more work; the barrier is not fooled. */
static _Atomic int chained;

static void
chain_free(struct mpsafe_defer *d)
{
	free(d);
	atomic_fetch_add(&chained, 1);
}

static void
chain_first(struct mpsafe_defer *d)
{
	if (mpsafe_defer(d, chain_free, sizeof(*d)) != 0)
		abort();
}

Test(defer, destructor_may_defer_again)
{
	struct mpsafe_defer *d = malloc(sizeof(*d));

	cr_assert_eq(mpsafe_defer(d, chain_first, sizeof(*d)), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&chained), 1);
}

static void *
producer_main(void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < n; i++)
		if (mpsafe_defer(&obj_new(-1)->o_defer, obj_free,
		        sizeof(struct obj)) != 0)
			abort();
	return NULL;
}

Test(defer, many_producers)
{
	pthread_t t[4];
	int n = 20000;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, producer_main, &n), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 4 * n);
}
