/*
 * torture_workqueue.c: the workqueue torture test.
 *
 * Producers, more of them than there are cores, allocate items and
 * enqueue them on random workers (or on "the current CPU").  Each item's
 * function checks that the item is alive and was not started twice, and
 * then either enqueues it again on another worker (at most a few times),
 * or poisons and frees it, and sometimes allocates a new item at once
 * (malloc often hands back the same memory) and enqueues that.  Waiters
 * meanwhile:
 *  - enqueue an item of their own that frees itself, wait for it, and
 *    check that its function had finished (a flag kept outside the
 *    item, which is gone by then);
 *  - wait for the addresses of random items that producers enqueued
 *    recently, most of them run and freed long ago, some of them reused:
 *    the library must never read them (AddressSanitizer would say).
 * At the end the workqueue is destroyed, which runs everything left, and
 * every enqueue must have been matched by exactly one run.  Any poison
 * seen by a function, any item started twice, and any wait that returned
 * before its item's function ended fails the test.
 *
 * Two runs: one worker, and WQ_PERCPU.  MPSAFE_TORTURE_SECONDS sets each
 * run's length (default 1).
 *
 * Built a second time against a library whose workqueue_wait does not
 * wait for the batch that runs (MPSAFE_TEST_BROKEN_NO_WAIT); then
 * TORTURE_EXPECT_BROKEN is defined, only the WQ_PERCPU run is made (with
 * one worker the waiters' items mostly wait on the queue, where the
 * broken wait still finds them), and it passes only if violations are
 * seen: the torture has teeth.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/workqueue.h>

/* The teeth run stops at the first violation, or after this long. */
#define TEETH_MAX_SECONDS 60

#define LIVE 0x4c495645aaaaaaaaULL
#define POISON 0xdeaddeaddeaddeadULL
#define NPRODUCERS 3
#define NWAITERS 2
#define RECENT 64
#define MAX_HOPS 3
#define MAX_BACKLOG 4096 /* items queued and not run, about */

TestSuite(torture, .timeout = 600);

struct titem {
	uint64_t t_pad[2];
	_Atomic uint64_t t_magic;
	_Atomic int t_running; /* 0 queued, 1 started */
	struct work t_work;
	int t_hops;            /* re-enqueues left */
	bool t_respawn;        /* allocate a new item when done */
	_Atomic int *t_done;   /* waiter's flag, or NULL */
	uint64_t t_payload[4]; /* checked against t_magic */
};

static struct workqueue *wq;
static bool percpu;
static _Atomic int stop;
static _Atomic uint64_t violations, enqueues, runs, waits, blind_waits;
static _Atomic uintptr_t recent[RECENT];

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
violation(void)
{
	atomic_fetch_add_explicit(&violations, 1, memory_order_relaxed);
}

static struct cpu_info *
pick_cpu(uint64_t r)
{
	if (!percpu || (r & 3) == 0)
		return NULL; /* the one worker, or the current CPU's */
	return mpsafe_cpu_lookup((unsigned)(r >> 8) % mpsafe_ncpu());
}

static void
item_enqueue(struct titem *it, uint64_t r)
{
	/* Relaxed: counts, read after everything is joined. */
	atomic_fetch_add_explicit(&enqueues, 1, memory_order_relaxed);
	atomic_store_explicit(&it->t_running, 0, memory_order_relaxed);
	workqueue_enqueue(wq, &it->t_work, pick_cpu(r));
}

static struct titem *
item_new(uint64_t r, _Atomic int *done)
{
	struct titem *it = malloc(sizeof(*it));

	if (it == NULL)
		abort();
	memset(it, 0x5a, sizeof(*it)); /* a struct work full of garbage */
	atomic_store_explicit(&it->t_magic, LIVE, memory_order_relaxed);
	it->t_hops = done == NULL ? (int)(r % (MAX_HOPS + 1)) : 0;
	it->t_respawn = done == NULL && (r >> 4) % 8 == 0;
	it->t_done = done;
	for (int i = 0; i < 4; i++)
		it->t_payload[i] = LIVE ^ (uint64_t)i;
	return it;
}

static void
item_func(struct work *wk, void *arg)
{
	struct titem *it =
	    (struct titem *)(void *)((char *)wk -
	                             offsetof(struct titem, t_work));
	uint64_t r = (uintptr_t)it ^ (uint64_t)time(NULL);

	(void)arg;
	atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
	/* Relaxed: the enqueue's release and the worker's acquire order it. */
	if (atomic_load_explicit(&it->t_magic, memory_order_relaxed) != LIVE) {
		violation();
		return;
	}
	for (int i = 0; i < 4; i++)
		if (it->t_payload[i] != (LIVE ^ (uint64_t)i))
			violation();
	if (atomic_exchange_explicit(&it->t_running, 1, memory_order_relaxed))
		violation(); /* started twice */
	if (it->t_hops > 0) {
		it->t_hops--;
		item_enqueue(it, xorshift(&r));
		return;
	}
	if (it->t_done != NULL)
		atomic_store_explicit(it->t_done, 1, memory_order_relaxed);
	atomic_store_explicit(&it->t_magic, POISON, memory_order_relaxed);
	for (int i = 0; i < 4; i++)
		it->t_payload[i] = POISON;
	if (it->t_respawn) {
		free(it);
		it = item_new(xorshift(&r) | 1, NULL);
		it->t_respawn = false;
		item_enqueue(it, xorshift(&r));
		return;
	}
	free(it);
}

static void *
producer_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 7;
	uint64_t n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = xorshift(&rnd), ran, queued;
		struct titem *it;

		/*
		 * Relaxed: a throttle that keeps the backlog, and so the
		 * waits, short.  Runs first: they never exceed enqueues.
		 */
		ran = atomic_load_explicit(&runs, memory_order_relaxed);
		queued = atomic_load_explicit(&enqueues, memory_order_relaxed);
		if (queued - ran > MAX_BACKLOG) {
			sched_yield();
			continue;
		}
		it = item_new(r, NULL);

		/* Only an address: waiters compare it, never read it. */
		atomic_store_explicit(&recent[r % RECENT],
		    (uintptr_t)&it->t_work, memory_order_relaxed);
		item_enqueue(it, r >> 16);
		if (++n % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void *
waiter_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x2545f4914f6cdd1dULL + 3;
	_Atomic int done;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = xorshift(&rnd);

		if (r % 3 != 0) {
			struct titem *it;
			struct work *wk;

			atomic_store(&done, 0);
			it = item_new(r, &done);
			wk = &it->t_work;
			item_enqueue(it, r >> 8);
			workqueue_wait(wq, wk); /* it is freed by then */
			if (!atomic_load_explicit(&done, memory_order_relaxed))
				violation();
			atomic_fetch_add_explicit(
			    &waits, 1, memory_order_relaxed);
		} else {
			uintptr_t a = atomic_load_explicit(
			    &recent[(r >> 8) % RECENT], memory_order_relaxed);

			if (a != 0)
				workqueue_wait(wq, (struct work *)a);
			atomic_fetch_add_explicit(
			    &blind_waits, 1, memory_order_relaxed);
		}
	}
	return NULL;
}

static double
torture_seconds(void)
{
	const char *s = getenv("MPSAFE_TORTURE_SECONDS");
	double v = s != NULL ? atof(s) : 1.0;

	return v > 0 ? v : 1.0;
}

static void
run(int flags)
{
	pthread_t p[NPRODUCERS], w[NWAITERS];
	double secs = torture_seconds();
	struct timespec ts = {
	    (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};

	percpu = (flags & WQ_PERCPU) != 0;
	atomic_store(&stop, 0);
	atomic_store(&violations, 0);
	atomic_store(&enqueues, 0);
	atomic_store(&runs, 0);
	atomic_store(&waits, 0);
	atomic_store(&blind_waits, 0);
	for (int i = 0; i < RECENT; i++)
		atomic_store(&recent[i], 0);
	cr_assert_eq(
	    workqueue_create(&wq, "torture", item_func, NULL, 0, flags), 0);
	for (uintptr_t i = 0; i < NPRODUCERS; i++)
		cr_assert_eq(
		    pthread_create(&p[i], NULL, producer_main, (void *)(i + 1)),
		    0);
	for (uintptr_t i = 0; i < NWAITERS; i++)
		cr_assert_eq(
		    pthread_create(&w[i], NULL, waiter_main, (void *)(i + 1)),
		    0);
#ifdef TORTURE_EXPECT_BROKEN
	/*
	 * The teeth: run until the broken wait is caught, for at most
	 * TEETH_MAX_SECONDS, so that a slow (sanitized, loaded) machine
	 * gets the time it needs and a fast one stops at once.
	 */
	(void)ts;
	for (int ms = 0;
	     ms < TEETH_MAX_SECONDS * 1000 && atomic_load(&violations) == 0;
	     ms += 10) {
		struct timespec tick = {0, 10 * 1000 * 1000};

		nanosleep(&tick, NULL);
	}
#else
	nanosleep(&ts, NULL);
#endif
	atomic_store(&stop, 1);
	for (int i = 0; i < NPRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < NWAITERS; i++)
		pthread_join(w[i], NULL);
	workqueue_destroy(wq);
	cr_log_info("torture(%s): %llu enqueues, %llu runs, %llu waits, "
	            "%llu blind waits, %llu violations",
	    percpu ? "percpu" : "one worker",
	    (unsigned long long)atomic_load(&enqueues),
	    (unsigned long long)atomic_load(&runs),
	    (unsigned long long)atomic_load(&waits),
	    (unsigned long long)atomic_load(&blind_waits),
	    (unsigned long long)atomic_load(&violations));
#ifdef TORTURE_EXPECT_BROKEN
	cr_assert_gt(atomic_load(&violations), 0,
	    "a wait that skips the running batch went unnoticed");
#else
	cr_assert_eq(atomic_load(&violations), 0);
#endif
	cr_assert_eq(atomic_load(&runs), atomic_load(&enqueues),
	    "an enqueue was not matched by exactly one run");
	cr_assert_gt(atomic_load(&waits), 0);
}

#ifdef TORTURE_EXPECT_BROKEN
Test(torture, teeth_percpu)
{
	if (mpsafe_ncpu() < 2)
		cr_skip_test("needs two CPUs");
	run(WQ_PERCPU | WQ_MPSAFE);
}
#else
Test(torture, one_worker)
{
	run(0);
}

Test(torture, percpu)
{
	run(WQ_PERCPU | WQ_MPSAFE);
}
#endif
