/*
 * torture_pserialize.c: the pserialize torture test (after rcutorture).
 *
 * A writer keeps replacing a published object.  The replaced object is
 * marked removed (pipe = 1); after a grace period (pserialize_perform, or
 * a deferred destructor) it is marked "a grace period has passed"
 * (pipe = 2), poisoned and freed.  Readers, more of them than there are
 * cores, enter a section (sometimes nested), load the object, wait a
 * random while (sometimes yielding the CPU inside the section), and check
 * that the object is
 *   - not poisoned and not past a grace period (pipe <= 1): a reader that
 *     sees pipe == 2 or the poison used an object after it was reclaimed;
 *   - no older than the generation that was current when the section
 *     began: publication ordering holds.
 * Any violation fails the test.  Freed memory is really freed, so
 * AddressSanitizer catches a use after free as well.
 *
 * Built a second time against a library whose grace periods do not wait
 * (MPSAFE_TEST_BROKEN_NO_WAIT); then TORTURE_EXPECT_BROKEN is defined and
 * the test passes only if violations are seen: the torture has teeth.  In
 * that build objects are recycled through a pool instead of freed, so the
 * readers' late loads hit poison rather than unmapped memory.
 *
 * MPSAFE_TORTURE_SECONDS sets each run's length (default 1).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#define LIVE 0x4c495645aaaaaaaaULL
#define POISON 0xdeaddeaddeaddeadULL
#define NREADERS 4
#define POOL_SIZE 4096

struct tobj {
	uint64_t t_pad[4]; /* keeps the checked fields clear of malloc's */
	_Atomic uint64_t t_magic;
	_Atomic uint64_t t_gen;
	_Atomic int t_pipe; /* 0 published, 1 removed, 2 grace period done */
	struct mpsafe_defer t_defer;
};

static _Atomic(struct tobj *) published;
static _Atomic uint64_t current_gen;
static _Atomic int stop;
static _Atomic uint64_t violations, reads, grace_periods, retired;
static int pool_mode;
static struct tobj *pool[POOL_SIZE];
static unsigned pool_head, pool_tail; /* writer only (and reclaimer) */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static struct tobj *
tobj_alloc(void)
{
	struct tobj *o;

	if (!pool_mode)
		return calloc(1, sizeof(*o));
	pthread_mutex_lock(&pool_lock);
	if (pool_tail - pool_head < POOL_SIZE / 2) {
		o = calloc(1, sizeof(*o)); /* pool still filling */
	} else {
		o = pool[pool_head++ % POOL_SIZE];
	}
	pthread_mutex_unlock(&pool_lock);
	return o;
}

/* After a grace period: mark, poison and free (or recycle). */
static void
tobj_reclaim(struct tobj *o)
{
	atomic_store_explicit(&o->t_pipe, 2, memory_order_relaxed);
	atomic_store_explicit(&o->t_magic, POISON, memory_order_relaxed);
	atomic_fetch_add_explicit(&retired, 1, memory_order_relaxed);
	if (!pool_mode) {
		free(o);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	pool[pool_tail++ % POOL_SIZE] = o;
	pthread_mutex_unlock(&pool_lock);
}

static void
tobj_deferred(struct mpsafe_defer *d)
{
	tobj_reclaim((
	    struct tobj *)(void *)((char *)d - offsetof(struct tobj, t_defer)));
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
check(struct tobj *o, uint64_t gen0)
{
	/* Relaxed loads: the section, not these loads, is what is tested. */
	uint64_t magic =
	    atomic_load_explicit(&o->t_magic, memory_order_relaxed);
	int pipe = atomic_load_explicit(&o->t_pipe, memory_order_relaxed);
	uint64_t gen = atomic_load_explicit(&o->t_gen, memory_order_relaxed);

	if (magic != LIVE || pipe > 1 || gen < gen0)
		atomic_fetch_add_explicit(&violations, 1, memory_order_relaxed);
}

static void *
reader_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	uint64_t n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = xorshift(&rnd);
		int s = pserialize_read_enter();
		int s2 = 0;

		if ((r & 7) == 0)
			s2 = pserialize_read_enter(); /* nested */
		/* Acquire: pairs with the writer's release store of the gen. */
		uint64_t gen0 =
		    atomic_load_explicit(&current_gen, memory_order_acquire);
		/* Acquire: pairs with the writer's publishing exchange. */
		struct tobj *o =
		    atomic_load_explicit(&published, memory_order_acquire);
		check(o, gen0);
		for (unsigned spin = (r >> 8) & 255; spin > 0; spin--)
			atomic_signal_fence(memory_order_seq_cst);
		if ((r & 0xfff00) == 0)
			sched_yield(); /* preempted inside the section */
		check(o, gen0);
		if ((r & 7) == 0)
			pserialize_read_exit(s2);
		pserialize_read_exit(s);
		n++;
	}
	atomic_fetch_add(&reads, n);
	return NULL;
}

struct config {
	int fence;
	int deferred;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run_torture(struct config c, double seconds)
{
	pthread_t readers[NREADERS];
	pserialize_t psz = pserialize_create();
	struct tobj *first;
	double deadline;
	int error = mpsafe_set_ordering(
	    c.fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error != 0)
		cr_skip_test("ordering mode unavailable (error %d)", error);
	first = tobj_alloc();
	atomic_store(&first->t_magic, LIVE);
	atomic_store(&published, first);
	for (uintptr_t i = 0; i < NREADERS; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader_main,
		                 (void *)(i + 1)),
		    0);
	deadline = now_s() + seconds;
	for (uint64_t gen = 1; now_s() < deadline; gen++) {
		for (int burst = 0; burst < 64; burst++, gen++) {
			struct tobj *o = tobj_alloc(), *old;

			cr_assert_not_null(o);
			atomic_store_explicit(
			    &o->t_magic, LIVE, memory_order_relaxed);
			atomic_store_explicit(
			    &o->t_pipe, 0, memory_order_relaxed);
			atomic_store_explicit(
			    &o->t_gen, gen, memory_order_relaxed);
			/* Release: the object is initialised before it is
			 * reachable; pairs with the readers' acquire load. */
			old = atomic_exchange_explicit(
			    &published, o, memory_order_acq_rel);
			/* Release: pairs with the readers' acquire of gen. */
			atomic_store_explicit(
			    &current_gen, gen, memory_order_release);
			atomic_store_explicit(
			    &old->t_pipe, 1, memory_order_relaxed);
			if (c.deferred) {
				cr_assert_eq(mpsafe_defer(&old->t_defer,
				                 tobj_deferred, sizeof(*old)),
				    0);
			} else {
				pserialize_perform(psz);
				tobj_reclaim(old);
			}
			atomic_fetch_add_explicit(
			    &grace_periods, 1, memory_order_relaxed);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(readers[i], NULL);
	mpsafe_defer_barrier();
	pserialize_perform(psz);
	tobj_reclaim(atomic_load(&published));
	pserialize_destroy(psz);
	cr_log_info("%s/%s: %llu reads checked, %llu objects replaced, %llu "
	            "reclaimed, %llu violations",
	    c.fence ? "fence" : "membarrier", c.deferred ? "defer" : "sync",
	    (unsigned long long)atomic_load(&reads),
	    (unsigned long long)atomic_load(&grace_periods),
	    (unsigned long long)atomic_load(&retired),
	    (unsigned long long)atomic_load(&violations));
	if (!pool_mode) {
		cr_assert_gt(atomic_load(&reads), 0);
		cr_assert_gt(atomic_load(&grace_periods), 0);
	}
}

#ifndef TORTURE_EXPECT_BROKEN

static double
torture_seconds(void)
{
	const char *e = getenv("MPSAFE_TORTURE_SECONDS");
	double s = e != NULL ? atof(e) : 0;

	return s > 0 ? s : 1.0;
}

TestSuite(torture, .timeout = 300);

#define TORTURE(name, ...)                                                    \
	Test(torture, name)                                                   \
	{                                                                     \
		run_torture((struct config){__VA_ARGS__}, torture_seconds()); \
		cr_assert_eq(atomic_load(&violations), 0,                     \
		    "%llu readers used reclaimed or stale objects",           \
		    (unsigned long long)atomic_load(&violations));            \
	}

TORTURE(membarrier_perform, .fence = 0, .deferred = 0)
TORTURE(fence_perform, .fence = 1, .deferred = 0)
TORTURE(membarrier_defer, .fence = 0, .deferred = 1)
TORTURE(fence_defer, .fence = 1, .deferred = 1)

#else /* the library's grace periods do not wait: expect violations */

TestSuite(torture_teeth, .timeout = 120);

static void
expect_caught(struct config c)
{
	pool_mode = 1;
	/* Up to 20 s: caught in the first second in practice. */
	for (int i = 0; i < 20 && atomic_load(&violations) == 0; i++) {
		atomic_store(&stop, 0);
		run_torture(c, 1.0);
	}
	cr_assert_gt(atomic_load(&violations), 0,
	    "the torture test did not notice grace periods that do not wait");
}

Test(torture_teeth, catches_missing_wait_membarrier)
{
	expect_caught((struct config){.fence = 0});
}

Test(torture_teeth, catches_missing_wait_fence)
{
	expect_caught((struct config){.fence = 1});
}

#endif
