/*
 * test_psref.c: unit tests of psref(3): class and target life, acquire and
 * release with and without blocking, copies, psref_held, more references
 * than a thread has slots, destroy that waits for a holder and returns
 * after its release (whole, and in halves: begin, end; many begun at
 * once), destroy followed by init, thread exit (and releases
 * in the program's own pthread key destructors), and both ordering modes
 * (and the switch refused while a destroy waits).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/psref.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#include "death_expect.h"

TestSuite(psref, .timeout = 60);

struct obj {
	struct psref_target o_target;
	_Atomic int o_value;
};

static void
set_mode(int fence)
{
	int error = mpsafe_set_ordering(
	    fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error == ENOTSUP)
		cr_skip_test("membarrier is not available on this kernel");
	cr_assert_eq(error, 0);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Acquire inside a read section, as the contract says. */
static void
take(struct psref *p, struct obj *o, struct psref_class *c)
{
	int s = pserialize_read_enter();

	psref_acquire(p, &o->o_target, c);
	pserialize_read_exit(s);
}

Test(psref, class_create_rejects_null_name)
{
	errno = 0;
	cr_assert_null(psref_class_create(NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(psref, class_and_target_life)
{
	struct psref_class *c = psref_class_create("test");
	struct obj o = {0};

	cr_assert_not_null(c);
	psref_target_init(&o.o_target, c);
	psref_target_destroy(&o.o_target, c); /* nobody holds it */
	psref_class_destroy(c);
	psref_class_destroy(NULL); /* no-op */
}

Test(psref, acquire_release_and_held)
{
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0}, b = {0};
	struct psref pa, pb;

	psref_target_init(&a.o_target, c);
	psref_target_init(&b.o_target, c);
	cr_assert_not(psref_held(&a.o_target, c));
	take(&pa, &a, c);
	cr_assert(psref_held(&a.o_target, c));
	cr_assert_not(psref_held(&b.o_target, c));
	take(&pb, &b, c);
	/* Held outside the read section, and across a sleep. */
	cr_assert(pserialize_not_in_read_section());
	usleep(1000);
	cr_assert(psref_held(&b.o_target, c));
	psref_release(&pa, &a.o_target, c);
	cr_assert_not(psref_held(&a.o_target, c));
	cr_assert(psref_held(&b.o_target, c));
	psref_release(&pb, &b.o_target, c);
	cr_assert_not(psref_held(&b.o_target, c));
	psref_target_destroy(&a.o_target, c);
	psref_target_destroy(&b.o_target, c);
	psref_class_destroy(c);
}

Test(psref, release_inside_read_section)
{
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0};
	struct psref p;
	int s;

	psref_target_init(&a.o_target, c);
	s = pserialize_read_enter();
	psref_acquire(&p, &a.o_target, c);
	psref_release(&p, &a.o_target, c);
	pserialize_read_exit(s);
	cr_assert(pserialize_not_in_read_section());
	psref_target_destroy(&a.o_target, c);
	psref_class_destroy(c);
}

Test(psref, many_references_to_one_target)
{
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0};
	struct psref p[10];

	psref_target_init(&a.o_target, c);
	for (int i = 0; i < 10; i++)
		take(&p[i], &a, c);
	for (int i = 0; i < 9; i++) {
		psref_release(&p[i], &a.o_target, c);
		cr_assert(psref_held(&a.o_target, c));
	}
	psref_release(&p[9], &a.o_target, c);
	cr_assert_not(psref_held(&a.o_target, c));
	psref_target_destroy(&a.o_target, c);
	psref_class_destroy(c);
}

/* More references at once than a thread has slots: the overflow list. */
Test(psref, more_references_than_slots)
{
	enum { N = PSREF_THREAD_SLOTS * 2 + 7 };
	struct psref_class *c = psref_class_create("test");
	struct obj *o = calloc(N, sizeof(*o));
	struct psref *p = calloc(N, sizeof(*p));

	cr_assert_not_null(o);
	cr_assert_not_null(p);
	for (int i = 0; i < N; i++)
		psref_target_init(&o[i].o_target, c);
	for (int i = 0; i < N; i++)
		take(&p[i], &o[i], c);
	for (int i = 0; i < N; i++)
		cr_assert(psref_held(&o[i].o_target, c), "target %d", i);
	/* Release in an order that mixes slots and overflow entries. */
	for (int i = 0; i < N; i += 2)
		psref_release(&p[i], &o[i].o_target, c);
	for (int i = 0; i < N; i++)
		cr_assert_eq(
		    psref_held(&o[i].o_target, c), i % 2 == 1, "target %d", i);
	for (int i = 1; i < N; i += 2)
		psref_release(&p[i], &o[i].o_target, c);
	for (int i = 0; i < N; i++) {
		cr_assert_not(psref_held(&o[i].o_target, c));
		psref_target_destroy(&o[i].o_target, c);
	}
	psref_class_destroy(c);
	free(o);
	free(p);
}

/* The calling thread's slot table (library-private, see psref.h). */
static struct psref_thread *
own_table(void)
{
	return (struct psref_thread *)
	    mpsafe_reader_self.mr_private[MPSAFE_PRIV_PSREF];
}

/*
 * "Each registered thread has PSREF_THREAD_SLOTS (64) slots for the
 * references it holds at once": exactly that many references all get a
 * slot (the ones past PSREF_FAST_SLOTS too), none goes on the overflow
 * list; the next one does; and once a slot is free again the next
 * reference takes it, not the overflow list.
 */
Test(psref, exactly_slots_references_fill_the_slots)
{
	enum { N = PSREF_THREAD_SLOTS };
	struct psref_class *c = psref_class_create("test");
	static struct obj o[N + 2];
	static struct psref p[N + 2];
	struct psref_thread *pt;

	for (int i = 0; i < N + 2; i++)
		psref_target_init(&o[i].o_target, c);
	for (int i = 0; i < N; i++) {
		take(&p[i], &o[i], c);
		cr_assert_neq(p[i].psref_slot, PSREF_SLOT_OVERFLOW,
		    "reference %d of %d went to the overflow list", i + 1, N);
	}
	pt = own_table();
	cr_assert_not_null(pt);
	cr_assert_eq(pt->pt_overflow, 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(p[i].psref_slot, (uintptr_t)&pt->pt_slot[i],
		    "reference %d is not in slot %d", i, i);

	/* One more than the slots: the overflow list. */
	take(&p[N], &o[N], c);
	cr_assert_eq(p[N].psref_slot, PSREF_SLOT_OVERFLOW);
	cr_assert_eq(pt->pt_overflow, 1);
	cr_assert(psref_held(&o[N].o_target, c));

	/* A slot freed (the last one) is taken again before the overflow. */
	psref_release(&p[N - 1], &o[N - 1].o_target, c);
	take(&p[N + 1], &o[N + 1], c);
	cr_assert_eq(p[N + 1].psref_slot, (uintptr_t)&pt->pt_slot[N - 1]);
	cr_assert_eq(pt->pt_overflow, 1);

	psref_release(&p[N], &o[N].o_target, c);
	cr_assert_eq(pt->pt_overflow, 0);
	psref_release(&p[N + 1], &o[N + 1].o_target, c);
	for (int i = 0; i < N - 1; i++)
		psref_release(&p[i], &o[i].o_target, c);
	for (int i = 0; i < N + 2; i++) {
		cr_assert_not(psref_held(&o[i].o_target, c), "target %d", i);
		psref_target_destroy(&o[i].o_target, c);
	}
	psref_class_destroy(c);
}

/*
 * Read sections nest at most MPSAFE_NEST_MAX deep: at exactly that depth
 * the thread is inside a section, so psref_acquire() (whose diagnostic
 * check requires one) is allowed, and the reference works.
 */
Test(psref, acquire_at_the_deepest_read_section)
{
	static int cookies[MPSAFE_NEST_MAX];
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0};
	struct psref p;

	psref_target_init(&a.o_target, c);
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		cookies[i] = pserialize_read_enter();
	psref_acquire(&p, &a.o_target, c);
	cr_assert(psref_held(&a.o_target, c));
	for (unsigned i = MPSAFE_NEST_MAX; i-- > 0;)
		pserialize_read_exit(cookies[i]);
	cr_assert(psref_held(&a.o_target, c));
	psref_release(&p, &a.o_target, c);
	cr_assert_not(psref_held(&a.o_target, c));
	psref_target_destroy(&a.o_target, c);
	psref_class_destroy(c);
}

Test(psref, copy_makes_an_independent_reference)
{
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0};
	struct psref p, q;

	psref_target_init(&a.o_target, c);
	take(&p, &a, c);
	psref_copy(&q, &p, c);
	psref_release(&p, &a.o_target, c);
	cr_assert(psref_held(&a.o_target, c), "the copy still holds");
	psref_release(&q, &a.o_target, c);
	cr_assert_not(psref_held(&a.o_target, c));
	psref_target_destroy(&a.o_target, c);
	psref_class_destroy(c);
}

/* --- destroy waits for holders ------------------------------------------- */

struct holder {
	struct psref_class *c;
	struct obj *o;
	_Atomic int holding; /* set once the reference is taken */
	_Atomic int let_go;  /* the test tells the holder to release */
	_Atomic uint64_t released_at;
	int copy; /* hold a copy, release the original first */
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	struct psref p, q;

	take(&p, h->o, h->c);
	if (h->copy) {
		psref_copy(&q, &p, h->c);
		psref_release(&p, &h->o->o_target, h->c);
	}
	atomic_store(&h->holding, 1);
	while (!atomic_load(&h->let_go))
		usleep(1000); /* blocking while holding the reference */
	cr_assert_eq(atomic_load(&h->o->o_value), 42);
	atomic_store(&h->released_at, now_ns());
	psref_release(h->copy ? &q : &p, &h->o->o_target, h->c);
	return NULL;
}

struct destroyer {
	struct holder *h;
	_Atomic int done;
	_Atomic uint64_t returned_at;
	int end_only; /* the test called psref_target_destroy_begin() */
};

static void *
destroyer_main(void *arg)
{
	struct destroyer *d = arg;

	if (d->end_only)
		psref_target_destroy_end(&d->h->o->o_target, d->h->c);
	else
		psref_target_destroy(&d->h->o->o_target, d->h->c);
	atomic_store(&d->returned_at, now_ns());
	atomic_store(&d->done, 1);
	return NULL;
}

/* Start h's holder thread and wait until it holds its reference. */
static void
start_holder(struct holder *h, pthread_t *ht)
{
	atomic_store(&h->holding, 0);
	atomic_store(&h->let_go, 0);
	cr_assert_eq(pthread_create(ht, NULL, holder_main, h), 0);
	while (!atomic_load(&h->holding))
		usleep(100);
}

/*
 * halves: 0, psref_target_destroy(); 1, psref_target_destroy_begin(),
 * then pserialize_perform() (the grace period end needs, run by another
 * caller), then end on the destroyer thread; 2, begin, then end, which
 * runs the grace period itself.
 */
static void
destroy_waits_for_holder(int fence, int copy, int halves)
{
	struct holder h = {.copy = copy};
	struct destroyer d = {.h = &h, .end_only = halves != 0};
	pthread_t ht, dt;
	struct obj *o = calloc(1, sizeof(*o));

	set_mode(fence);
	h.c = psref_class_create("test");
	h.o = o;
	atomic_store(&o->o_value, 42);
	psref_target_init(&o->o_target, h.c);
	start_holder(&h, &ht);
	/* The object is now "unpublished": nobody can find it any more. */
	if (halves != 0)
		psref_target_destroy_begin(&o->o_target, h.c);
	if (halves == 1) {
		pserialize_t psz = pserialize_create();

		pserialize_perform(psz);
		pserialize_destroy(psz);
	}
	cr_assert_eq(pthread_create(&dt, NULL, destroyer_main, &d), 0);
	usleep(50 * 1000);
	cr_assert_not(atomic_load(&d.done),
	    "psref_target_destroy returned while a thread holds a reference");
	atomic_store(&h.let_go, 1);
	pthread_join(dt, NULL);
	pthread_join(ht, NULL);
	cr_assert_geq(atomic_load(&d.returned_at), atomic_load(&h.released_at));
	/* Generous bound: the latency itself is a benchmark. */
	cr_assert_lt(atomic_load(&d.returned_at) - atomic_load(&h.released_at),
	    (uint64_t)2000000000,
	    "destroy took more than 2 s after the "
	    "last release");
	atomic_store(&o->o_value, -1);
	free(o);
	psref_class_destroy(h.c);
}

Test(psref, destroy_waits_for_holder_membarrier)
{
	destroy_waits_for_holder(0, 0, 0);
}

Test(psref, destroy_waits_for_holder_fence)
{
	destroy_waits_for_holder(1, 0, 0);
}

Test(psref, destroy_waits_for_a_copy)
{
	destroy_waits_for_holder(0, 1, 0);
}

/* The two halves, with the grace period run by another caller or not. */
Test(psref, destroy_in_halves_waits_for_holder)
{
	for (int fence = 0; fence < 2; fence++)
		for (int halves = 1; halves <= 2; halves++)
			destroy_waits_for_holder(fence, halves == 1, halves);
}

/*
 * Many destroys begun at once, more than the draining set has slots (so
 * some are unlisted in full buckets), one grace period, then each ended
 * while one thread still holds them all and lets them go one at a time,
 * each once the end before it has returned and had time to fall asleep:
 * every end returns (a release that failed to wake its sleeping
 * destroyer would leave it asleep for good), and only after its
 * target's release.
 */
#define NMANY 300

struct many {
	struct psref_class *c;
	struct obj *o;
	_Atomic int holding, let_go, stuck;
	_Atomic uint64_t released_at[NMANY];
	_Atomic uint64_t ended_at[NMANY];
};

static void *
many_holder_main(void *arg)
{
	struct many *m = arg;
	struct psref *p = calloc(NMANY, sizeof(*p));

	for (int i = 0; i < NMANY; i++)
		take(&p[i], &m->o[i], m->c);
	atomic_store(&m->holding, 1);
	while (!atomic_load(&m->let_go))
		usleep(1000);
	for (int i = 0; i < NMANY; i++) {
		uint64_t deadline;

		usleep(500); /* the end of target i sleeps by now */
		cr_assert_eq(atomic_load(&m->o[i].o_value), 42);
		atomic_store(&m->released_at[i], now_ns());
		psref_release(&p[i], &m->o[i].o_target, m->c);
		deadline = now_ns() + 10 * (uint64_t)1000000000;
		while (atomic_load(&m->ended_at[i]) == 0) {
			if (now_ns() > deadline) {
				atomic_store(&m->stuck, i + 1);
				/* Let the rest go so the test can end. */
				for (int j = i + 1; j < NMANY; j++)
					psref_release(
					    &p[j], &m->o[j].o_target, m->c);
				free(p);
				return NULL;
			}
			usleep(100);
		}
	}
	free(p);
	return NULL;
}

static void *
many_ender_main(void *arg)
{
	struct many *m = arg;

	for (int i = 0; i < NMANY; i++) {
		psref_target_destroy_end(&m->o[i].o_target, m->c);
		atomic_store(&m->ended_at[i], now_ns());
	}
	return NULL;
}

Test(psref, many_destroys_in_halves_share_a_grace_period)
{
	struct many *m = calloc(1, sizeof(*m));
	pthread_t ht, et;
	pserialize_t psz = pserialize_create();

	m->c = psref_class_create("many");
	m->o = calloc(NMANY, sizeof(*m->o));
	for (int i = 0; i < NMANY; i++) {
		atomic_store(&m->o[i].o_value, 42);
		psref_target_init(&m->o[i].o_target, m->c);
	}
	cr_assert_eq(pthread_create(&ht, NULL, many_holder_main, m), 0);
	while (!atomic_load(&m->holding))
		usleep(100);
	for (int i = 0; i < NMANY; i++)
		psref_target_destroy_begin(&m->o[i].o_target, m->c);
	pserialize_perform(psz);
	cr_assert_eq(pthread_create(&et, NULL, many_ender_main, m), 0);
	usleep(20 * 1000);
	cr_assert_eq(atomic_load(&m->ended_at[0]), 0u,
	    "psref_target_destroy_end returned while its target was held");
	atomic_store(&m->let_go, 1);
	pthread_join(ht, NULL);
	pthread_join(et, NULL);
	cr_assert_eq(atomic_load(&m->stuck), 0,
	    "the end of target %d did not return within 10 s of its release",
	    atomic_load(&m->stuck) - 1);
	for (int i = 0; i < NMANY; i++)
		cr_assert_geq(atomic_load(&m->ended_at[i]),
		    atomic_load(&m->released_at[i]),
		    "target %d: end returned before the release", i);
	free(m->o);
	psref_class_destroy(m->c);
	pserialize_destroy(psz);
	free(m);
}

/* NetBSD's "wait for every holder, but keep the object" idiom. */
Test(psref, destroy_then_init_rearms)
{
	struct psref_class *c = psref_class_create("test");
	struct obj a = {0};
	struct psref p;

	psref_target_init(&a.o_target, c);
	for (int round = 0; round < 4; round++) {
		take(&p, &a, c);
		psref_release(&p, &a.o_target, c);
		if (round % 2 == 0) {
			psref_target_destroy(&a.o_target, c);
		} else {
			psref_target_destroy_begin(&a.o_target, c);
			psref_target_destroy_end(&a.o_target, c);
		}
		psref_target_init(&a.o_target, c);
	}
	psref_target_destroy(&a.o_target, c);
	psref_class_destroy(c);
}

/*
 * psref_target_destroy_tryend(): EAGAIN before the grace period, EBUSY
 * while a holder remains (twice: the second call skips the grace-period
 * check), 0 once it let go; then the target re-arms and the class counts
 * it dead.  A tryend that said EBUSY may be followed by a blocking end.
 */
Test(psref, tryend_says_what_remains)
{
	pserialize_t psz = pserialize_create();
	struct holder h = {0};
	struct destroyer d = {.h = &h, .end_only = 1};
	struct obj *o = calloc(1, sizeof(*o));
	pthread_t ht, dt;

	h.c = psref_class_create("test");
	h.o = o;
	atomic_store(&o->o_value, 42);
	psref_target_init(&o->o_target, h.c);
	start_holder(&h, &ht);
	psref_target_destroy_begin(&o->o_target, h.c);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, h.c), EAGAIN,
	    "tryend before any grace period since begin");
	pserialize_perform(psz);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, h.c), EBUSY);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, h.c), EBUSY);
	atomic_store(&h.let_go, 1);
	pthread_join(ht, NULL);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, h.c), 0);

	/* Re-armed; EBUSY, then a blocking end that waits for the holder. */
	psref_target_init(&o->o_target, h.c);
	start_holder(&h, &ht);
	psref_target_destroy_begin(&o->o_target, h.c);
	pserialize_perform(psz);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, h.c), EBUSY);
	cr_assert_eq(pthread_create(&dt, NULL, destroyer_main, &d), 0);
	usleep(20 * 1000);
	cr_assert_not(atomic_load(&d.done), "end returned under a holder");
	atomic_store(&h.let_go, 1);
	pthread_join(dt, NULL);
	pthread_join(ht, NULL);
	cr_assert_geq(atomic_load(&d.returned_at), atomic_load(&h.released_at));
	/* Diagnostic builds abort here if a target still counted alive. */
	psref_class_destroy(h.c);
	pserialize_destroy(psz);
	free(o);
}

/*
 * psref_drain_watch(): the registration's errors, and the wake-up a
 * tryend caller sleeps for.  One test registers every pair (the
 * registrations last until the process exits).
 */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t spare_lock[PSREF_DRAIN_WATCHERS];
static pthread_cond_t spare_cv[PSREF_DRAIN_WATCHERS];

struct watched {
	struct psref_class *c;
	struct obj *o;
	struct obj *filler; /* PSREF_THREAD_SLOTS of them, or NULL */
	_Atomic int holding, let_go;
};

/* Hold o (on the overflow list when filler fills the slots first). */
static void *
watched_holder_main(void *arg)
{
	struct watched *w = arg;
	struct psref fill[PSREF_THREAD_SLOTS], p;

	if (w->filler != NULL)
		for (int i = 0; i < PSREF_THREAD_SLOTS; i++)
			take(&fill[i], &w->filler[i], w->c);
	take(&p, w->o, w->c);
	atomic_store(&w->holding, 1);
	while (!atomic_load(&w->let_go))
		usleep(1000);
	psref_release(&p, &w->o->o_target, w->c);
	if (w->filler != NULL)
		for (int i = 0; i < PSREF_THREAD_SLOTS; i++)
			psref_release(&fill[i], &w->filler[i].o_target, w->c);
	return NULL;
}

/*
 * With watch_lock held: tryend says EBUSY, the holder is told to let go,
 * and the waiter sleeps on watch_cv; the release must broadcast it (a
 * missing broadcast leaves the wait to time out: 10 s).
 */
static void
tryend_sleeps_until_the_release(int fence, int overflow)
{
	pserialize_t psz = pserialize_create();
	struct watched w = {0};
	struct obj *o = calloc(1, sizeof(*o));
	struct obj *filler = NULL;
	pthread_t ht;
	int error, waits = 0;

	/* Without membarrier, the fence mode alone (set_mode() would skip). */
	error = mpsafe_set_ordering(
	    fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);
	if (error == ENOTSUP)
		return;
	cr_assert_eq(error, 0);
	w.c = psref_class_create("watch");
	w.o = o;
	psref_target_init(&o->o_target, w.c);
	if (overflow) {
		filler = calloc(PSREF_THREAD_SLOTS, sizeof(*filler));
		for (int i = 0; i < PSREF_THREAD_SLOTS; i++)
			psref_target_init(&filler[i].o_target, w.c);
		w.filler = filler;
	}
	cr_assert_eq(pthread_create(&ht, NULL, watched_holder_main, &w), 0);
	while (!atomic_load(&w.holding))
		usleep(100);
	psref_target_destroy_begin(&o->o_target, w.c);
	pserialize_perform(psz);
	pthread_mutex_lock(&watch_lock);
	while ((error = psref_target_destroy_tryend(&o->o_target, w.c)) != 0) {
		struct timespec ts;

		cr_assert_eq(error, EBUSY);
		atomic_store(&w.let_go, 1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		cr_assert_eq(
		    pthread_cond_timedwait(&watch_cv, &watch_lock, &ts), 0,
		    "no broadcast from the release (fence %d, overflow %d)",
		    fence, overflow);
		waits++;
	}
	pthread_mutex_unlock(&watch_lock);
	cr_assert_geq(waits, 1, "tryend did not see the holder");
	pthread_join(ht, NULL);
	if (overflow) {
		for (int i = 0; i < PSREF_THREAD_SLOTS; i++)
			psref_target_destroy(&filler[i].o_target, w.c);
		free(filler);
	}
	psref_class_destroy(w.c);
	pserialize_destroy(psz);
	free(o);
}

Test(psref, drain_watch_wakes_a_tryend_caller)
{
	int i, error = 0;

	cr_assert_eq(psref_drain_watch(NULL, &watch_cv), EINVAL);
	cr_assert_eq(psref_drain_watch(&watch_lock, NULL), EINVAL);
	cr_assert_eq(psref_drain_watch(&watch_lock, &watch_cv), 0);
	cr_assert_eq(psref_drain_watch(&watch_lock, &watch_cv), 0, "again");
	for (i = 0; i < PSREF_DRAIN_WATCHERS; i++) {
		pthread_mutex_init(&spare_lock[i], NULL);
		pthread_cond_init(&spare_cv[i], NULL);
		error = psref_drain_watch(&spare_lock[i], &spare_cv[i]);
		if (error != 0)
			break;
	}
	cr_assert_eq(
	    error, ENOSPC, "more than %d watchers taken", PSREF_DRAIN_WATCHERS);
	cr_assert_eq(i, PSREF_DRAIN_WATCHERS - 1, "%d watchers, not %d", i + 1,
	    PSREF_DRAIN_WATCHERS);
	cr_assert_eq(psref_drain_watch(&watch_lock, &watch_cv), 0,
	    "a registered pair, with the table full");
	for (int fence = 0; fence < 2; fence++)
		for (int overflow = 0; overflow < 2; overflow++)
			tryend_sleeps_until_the_release(fence, overflow);
}

/*
 * A pair registered while releases are waking: a release that finds the
 * new count must also find the pair filled in.  One thread drops many
 * references to a draining target, each one a wake; the test registers a
 * pair in the middle of that: an eighth of the releases come before the
 * registration begins, an eighth after it has begun (during it, or
 * after it if it is quick), and the rest once it has returned
 * (handshakes, so that a preempted test thread cannot let every release
 * pass first: until 2026-12-03 the test only hoped for that order, and a
 * loaded 2-vCPU machine once broke it).  Nothing else
 * orders the registration's plain stores before the wakes that read them
 * (the flags are relaxed), so without the release-acquire pair on the
 * count the tsan preset reports a race.  (A test of its own:
 * registrations last until the process exits, and each test runs in a
 * process of its own.)
 */
#define MIDWAY_REFS 256

static pthread_mutex_t midway_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t midway_cv = PTHREAD_COND_INITIALIZER;

struct midway {
	struct psref_class *c;
	struct obj *o;
	_Atomic int holding, go, released;   /* relaxed only */
	_Atomic int registering, registered; /* relaxed only */
};

static void *
midway_holder_main(void *arg)
{
	struct midway *m = arg;
	struct psref *p = calloc(MIDWAY_REFS, sizeof(*p));

	if (p == NULL)
		abort(); /* not cr_assert: not the test's thread */
	for (int i = 0; i < MIDWAY_REFS; i++)
		take(&p[i], m->o, m->c);
	atomic_store_explicit(&m->holding, 1, memory_order_relaxed);
	while (atomic_load_explicit(&m->go, memory_order_relaxed) == 0)
		continue;
	for (int i = 0; i < MIDWAY_REFS; i++) {
		uint64_t t0;

		if (i == MIDWAY_REFS / 8)
			while (atomic_load_explicit(
			           &m->registering, memory_order_relaxed) == 0)
				continue;
		if (i == MIDWAY_REFS / 4)
			while (atomic_load_explicit(
			           &m->registered, memory_order_relaxed) == 0)
				continue;
		t0 = now_ns();
		psref_release(&p[i], &m->o->o_target, m->c);
		atomic_store_explicit(
		    &m->released, i + 1, memory_order_relaxed);
		while (now_ns() - t0 < 20000u) /* spread the wakes out */
			continue;
	}
	free(p);
	return NULL;
}

Test(psref, drain_watch_registered_while_releases_wake)
{
	pserialize_t psz = pserialize_create();
	struct midway m = {0};
	struct obj *o = calloc(1, sizeof(*o));
	pthread_t ht;

	cr_assert_not_null(o);
	m.c = psref_class_create("midway");
	m.o = o;
	psref_target_init(&o->o_target, m.c);
	cr_assert_eq(pthread_create(&ht, NULL, midway_holder_main, &m), 0);
	while (atomic_load_explicit(&m.holding, memory_order_relaxed) == 0)
		continue;
	psref_target_destroy_begin(&o->o_target, m.c);
	pserialize_perform(psz);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, m.c), EBUSY);
	atomic_store_explicit(&m.go, 1, memory_order_relaxed);
	while (atomic_load_explicit(&m.released, memory_order_relaxed) <
	       MIDWAY_REFS / 8)
		continue;
	atomic_store_explicit(&m.registering, 1, memory_order_relaxed);
	cr_assert_eq(psref_drain_watch(&midway_lock, &midway_cv), 0);
	cr_assert_leq(atomic_load_explicit(&m.released, memory_order_relaxed),
	    MIDWAY_REFS / 4, "releases ran past the handshake");
	atomic_store_explicit(&m.registered, 1, memory_order_relaxed);
	pthread_join(ht, NULL);
	cr_assert_eq(atomic_load_explicit(&m.released, memory_order_relaxed),
	    MIDWAY_REFS);
	cr_assert_eq(psref_target_destroy_tryend(&o->o_target, m.c), 0);
	psref_class_destroy(m.c);
	pserialize_destroy(psz);
	free(o);
}

/* Many holders on many threads, destroy waits for all of them. */
#define NHOLDERS 6

Test(psref, destroy_waits_for_every_thread)
{
	struct holder h[NHOLDERS];
	struct destroyer d;
	pthread_t ht[NHOLDERS], dt;
	struct psref_class *c = psref_class_create("test");
	struct obj *o = calloc(1, sizeof(*o));

	atomic_store(&o->o_value, 42);
	psref_target_init(&o->o_target, c);
	for (int i = 0; i < NHOLDERS; i++) {
		h[i] = (struct holder){.c = c, .o = o, .copy = i % 2};
		cr_assert_eq(
		    pthread_create(&ht[i], NULL, holder_main, &h[i]), 0);
	}
	for (int i = 0; i < NHOLDERS; i++)
		while (!atomic_load(&h[i].holding))
			usleep(100);
	d = (struct destroyer){.h = &h[0]};
	cr_assert_eq(pthread_create(&dt, NULL, destroyer_main, &d), 0);
	for (int i = 0; i < NHOLDERS; i++) {
		usleep(5000);
		cr_assert_not(atomic_load(&d.done),
		    "destroy returned with %d holders left", NHOLDERS - i);
		atomic_store(&h[i].let_go, 1);
		pthread_join(ht[i], NULL);
	}
	pthread_join(dt, NULL);
	/* Each holder stamped released_at before its release. */
	for (int i = 0; i < NHOLDERS; i++)
		cr_assert_geq(atomic_load(&d.returned_at),
		    atomic_load(&h[i].released_at),
		    "destroy returned before holder %d released", i);
	free(o);
	psref_class_destroy(c);
}

/* A thread that exits holds nothing afterwards; its record is reused. */
static void *
take_and_release(void *arg)
{
	struct holder *h = arg;
	struct psref p;

	take(&p, h->o, h->c);
	psref_release(&p, &h->o->o_target, h->c);
	return NULL;
}

Test(psref, many_short_lived_threads)
{
	struct psref_class *c = psref_class_create("test");
	struct obj o = {0};
	struct holder h = {.c = c, .o = &o};

	psref_target_init(&o.o_target, c);
	for (int i = 0; i < 50; i++) {
		pthread_t t;

		cr_assert_eq(pthread_create(&t, NULL, take_and_release, &h), 0);
		pthread_join(t, NULL);
	}
	psref_target_destroy(&o.o_target, c);
	psref_class_destroy(c);
}

/*
 * A reader whose read section found the target before it was unpublished
 * may acquire it while the destroy waits for that section.
 */
Test(psref, acquire_while_destroy_waits_for_the_section)
{
	struct holder h = {0};
	struct destroyer d = {.h = &h};
	struct psref p;
	pthread_t dt;
	int s;

	h.c = psref_class_create("test");
	h.o = calloc(1, sizeof(*h.o));
	psref_target_init(&h.o->o_target, h.c);
	s = pserialize_read_enter(); /* found it; then it is unpublished */
	cr_assert_eq(pthread_create(&dt, NULL, destroyer_main, &d), 0);
	while (atomic_load(&h.o->o_target.prt_draining) == 0)
		usleep(100);
	psref_acquire(&p, &h.o->o_target, h.c);
	pserialize_read_exit(s);
	usleep(20 * 1000);
	cr_assert_not(atomic_load(&d.done), "destroy ignored a reference "
	                                    "taken during its grace period");
	psref_release(&p, &h.o->o_target, h.c);
	pthread_join(dt, NULL);
	free(h.o);
	psref_class_destroy(h.c);
}

/*
 * A program's own pthread key, created after the library started (so its
 * destructor runs after the library's, in the same pass), whose destructor
 * releases a reference the exiting thread still holds.  The library keeps
 * the thread registered until that release.
 */
static struct psref_class *key_class;
static struct obj key_obj;
static pthread_key_t key_user;
static _Atomic int key_released;

static void
key_release_ref(void *arg)
{
	struct psref *p = arg;

	psref_release(p, &key_obj.o_target, key_class);
	atomic_store(&key_released, 1);
	free(p);
}

static void *
key_take_and_exit(void *arg)
{
	struct psref *p = malloc(sizeof(*p));

	(void)arg;
	take(p, &key_obj, key_class);
	if (pthread_setspecific(key_user, p) != 0)
		abort();
	return NULL; /* the key's destructor releases */
}

Test(psref, release_in_a_later_pthread_key_destructor)
{
	pthread_t t;

	key_class = psref_class_create("test"); /* the library starts */
	psref_target_init(&key_obj.o_target, key_class);
	cr_assert_eq(pthread_key_create(&key_user, key_release_ref), 0);
	cr_assert_eq(pthread_create(&t, NULL, key_take_and_exit, NULL), 0);
	pthread_join(t, NULL);
	cr_assert(atomic_load(&key_released));
	psref_target_destroy(&key_obj.o_target, key_class);
	psref_class_destroy(key_class);
	pthread_key_delete(key_user);
}

/*
 * The contract: a release of a handle never acquired aborts with a
 * message, in every build; also on a thread that is not registered,
 * whose (absent) table a zeroed handle's slot field seems to point into.
 */
Test(psref, release_of_a_zeroed_psref_when_unregistered_aborts,
    .signal = SIGABRT)
{
	death_expect("this psref was never acquired");
	struct psref_class *c = psref_class_create("test");
	struct obj o = {0};
	struct psref p;

	psref_target_init(&o.o_target, c);
	memset(&p, 0, sizeof(p));
	cr_assert_not(mpsafe_thread_registered());
	psref_release(&p, &o.o_target, c);
}

#ifndef MPSAFE_DIAGNOSTIC
/*
 * Unregistering with a reference held is refused (diagnostic builds
 * abort: death_psref): the thread goes on and may still use the object,
 * so its reference must stay counted.  It used to be dropped, and a
 * destroy then returned while the thread still held the object.
 */
Test(psref, unregister_holding_a_reference_is_refused)
{
	struct psref_class *c = psref_class_create("test");
	struct obj o = {0};
	struct psref p;

	psref_target_init(&o.o_target, c);
	take(&p, &o, c);
	cr_assert_eq(mpsafe_thread_unregister(), EBUSY);
	cr_assert(mpsafe_thread_registered());
	cr_assert(psref_held(&o.o_target, c));
	psref_release(&p, &o.o_target, c);
	cr_assert_eq(mpsafe_thread_unregister(), 0);
	psref_target_destroy(&o.o_target, c);
	psref_class_destroy(c);
}
#endif

static void *
destroy_main(void *arg)
{
	struct holder *h = arg;

	psref_target_destroy(&h->o->o_target, h->c);
	return NULL;
}

/*
 * The ordering mode cannot change while a destroy waits for a holder: the
 * release and the destroyer pair their barriers, in the same mode.  The
 * destroyer does not register, so the caller is the only registered
 * thread.
 */
Test(psref, ordering_switch_refused_while_a_destroy_waits)
{
	struct holder h = {0};
	struct psref p;
	pthread_t dt;

	h.c = psref_class_create("test");
	h.o = calloc(1, sizeof(*h.o));
	psref_target_init(&h.o->o_target, h.c);
	take(&p, h.o, h.c);
	cr_assert_eq(pthread_create(&dt, NULL, destroy_main, &h), 0);
	while (atomic_load(&mpsafe_psref_draining_all) == 0)
		usleep(100);
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), EBUSY);
	psref_release(&p, &h.o->o_target, h.c);
	pthread_join(dt, NULL);
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), 0);
	free(h.o);
	psref_class_destroy(h.c);
}
