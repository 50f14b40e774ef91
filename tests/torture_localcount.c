/*
 * torture_localcount.c: the localcount torture test.
 *
 * A table of published objects, each with a localcount.  Readers, more of
 * them than there are cores, pick a slot, look the object up inside a read
 * section, check it is alive, take a reference (sometimes two) and leave
 * the section; then they either release at once, hold the reference
 * across a short sleep, or hand it to a releaser thread through a queue
 * (references migrate between threads).  Whoever releases checks the
 * object first.  The writer keeps replacing objects: unpublish,
 * pserialize_perform(), localcount_drain(), then checks that no holder is
 * left (a per-object count of holders that the test keeps itself:
 * incremented after acquire, decremented before release), calls
 * localcount_fini(), poisons the object and frees it.  Any poison seen by
 * a reader or releaser, and any holder left after a drain, fails the test;
 * freed memory is really freed, so AddressSanitizer catches a use after
 * free too.
 *
 * Four runs: the membarrier and fence ordering modes; ids limited to a
 * few (most objects count in the shared word, the rest per thread); and
 * no memory for counter arrays (every update on the shared word while the
 * object is active).  MPSAFE_TORTURE_SECONDS sets each run's length
 * (default 1).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

/* Library-private test hook (src/localcount.c; linked statically). */
void mpsafe_localcount_test_limits(uint32_t max_ids, bool fail_counters);

#define LIVE 0x4c495645aaaaaaaaULL
#define POISON 0xdeaddeaddeaddeadULL
#define NSLOTS 8
#define NREADERS 3
#define NRELEASERS 2
#define QUEUE_SIZE 256

struct tobj {
	uint64_t t_pad[4]; /* keeps the checked fields clear of malloc's */
	_Atomic uint64_t t_magic;
	_Atomic int64_t t_holders; /* the test's own count of references */
	struct localcount t_lc;
};

static _Atomic(struct tobj *) table[NSLOTS];
static _Atomic int stop_readers, stop_releasers;
static _Atomic uint64_t violations, acquires, handoffs, drains, waits;

/* References handed from readers to releasers. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cv = PTHREAD_COND_INITIALIZER;
static struct tobj *queue[QUEUE_SIZE];  /* queue_lock */
static unsigned queue_head, queue_tail; /* queue_lock */

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
check(struct tobj *o)
{
	/* Relaxed: the references, not these loads, are what is tested. */
	if (atomic_load_explicit(&o->t_magic, memory_order_relaxed) != LIVE)
		atomic_fetch_add_explicit(&violations, 1, memory_order_relaxed);
}

static void
put_ref(struct tobj *o)
{
	check(o);
	atomic_fetch_sub_explicit(&o->t_holders, 1, memory_order_relaxed);
	localcount_release(&o->t_lc); /* o may be freed from here on */
}

static void
pause_us(long us)
{
	struct timespec ts = {0, us * 1000L};

	nanosleep(&ts, NULL);
}

static bool
queue_push(struct tobj *o)
{
	bool ok = false;

	pthread_mutex_lock(&queue_lock);
	if (queue_tail - queue_head < QUEUE_SIZE) {
		queue[queue_tail++ % QUEUE_SIZE] = o;
		ok = true;
		pthread_cond_signal(&queue_cv);
	}
	pthread_mutex_unlock(&queue_lock);
	return ok;
}

static void *
reader_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	uint64_t n = 0;

	while (!atomic_load_explicit(&stop_readers, memory_order_relaxed)) {
		uint64_t r = xorshift(&rnd);
		int refs = (r & 0x30) == 0 ? 2 : 1;
		int s = pserialize_read_enter();
		/* Acquire: pairs with the writer's publishing exchange. */
		struct tobj *o = atomic_load_explicit(
		    &table[r % NSLOTS], memory_order_acquire);

		check(o);
		for (int i = 0; i < refs; i++) {
			localcount_acquire(&o->t_lc);
			atomic_fetch_add_explicit(
			    &o->t_holders, 1, memory_order_relaxed);
		}
		pserialize_read_exit(s);
		n += (uint64_t)refs;
		for (int i = 0; i < refs; i++) {
			switch ((r >> 8) & 3) {
			case 0:
				put_ref(o);
				break;
			case 1:
				if ((r & 0xf000) == 0)
					pause_us(20); /* held across a sleep */
				else
					sched_yield();
				put_ref(o);
				break;
			default:
				if (!queue_push(o))
					put_ref(o);
				break;
			}
		}
	}
	atomic_fetch_add(&acquires, n);
	return NULL;
}

static void *
releaser_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x2545f4914f6cdd1dULL + 7;
	uint64_t n = 0;

	for (;;) {
		struct tobj *o;

		pthread_mutex_lock(&queue_lock);
		while (
		    queue_head == queue_tail && !atomic_load(&stop_releasers))
			pthread_cond_wait(&queue_cv, &queue_lock);
		if (queue_head == queue_tail) {
			pthread_mutex_unlock(&queue_lock);
			break;
		}
		o = queue[queue_head++ % QUEUE_SIZE];
		pthread_mutex_unlock(&queue_lock);
		if ((xorshift(&rnd) & 0x3f) == 0)
			pause_us(50); /* hold it a while: drains wait */
		put_ref(o);
		n++;
	}
	atomic_fetch_add(&handoffs, n);
	return NULL;
}

static struct tobj *
tobj_new(void)
{
	struct tobj *o = calloc(1, sizeof(*o));

	cr_assert_not_null(o);
	cr_assert_eq(localcount_init(&o->t_lc), 0);
	atomic_store_explicit(&o->t_magic, LIVE, memory_order_relaxed);
	return o;
}

/* After the object was unpublished and a grace period passed. */
static void
tobj_retire(struct tobj *o)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	localcount_drain(&o->t_lc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t1.tv_sec != t0.tv_sec || t1.tv_nsec - t0.tv_nsec > 100000)
		atomic_fetch_add_explicit(&waits, 1, memory_order_relaxed);
	if (atomic_load(&o->t_holders) != 0)
		atomic_fetch_add(&violations, 1); /* drain returned early */
	check(o);
	localcount_fini(&o->t_lc);
	atomic_store_explicit(&o->t_magic, POISON, memory_order_relaxed);
	free(o);
	atomic_fetch_add_explicit(&drains, 1, memory_order_relaxed);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
torture_seconds(void)
{
	const char *env = getenv("MPSAFE_TORTURE_SECONDS");
	double s = env != NULL ? atof(env) : 0;

	return s > 0 ? s : 1.0;
}

struct config {
	int fence;
	uint32_t max_ids;
	bool fail_counters;
};

static void
run_torture(struct config c)
{
	pthread_t readers[NREADERS], releasers[NRELEASERS];
	pserialize_t psz = pserialize_create();
	uint64_t rnd = 0x853c49e6748fea9bULL;
	double deadline;
	int error = mpsafe_set_ordering(
	    c.fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error != 0)
		cr_skip_test("ordering mode unavailable (error %d)", error);
	cr_assert_not_null(psz);
	mpsafe_localcount_test_limits(c.max_ids, c.fail_counters);
	for (int i = 0; i < NSLOTS; i++)
		atomic_store(&table[i], tobj_new());
	for (uintptr_t i = 0; i < NRELEASERS; i++)
		cr_assert_eq(pthread_create(&releasers[i], NULL, releaser_main,
		                 (void *)(i + 1)),
		    0);
	for (uintptr_t i = 0; i < NREADERS; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader_main,
		                 (void *)(i + 1)),
		    0);
	deadline = now_s() + torture_seconds();
	while (now_s() < deadline) {
		unsigned slot = (unsigned)(xorshift(&rnd) % NSLOTS);
		/* Release: the new object is initialised before readers
		 * find it; acquire: the old one's history before we free. */
		struct tobj *old = atomic_exchange_explicit(
		    &table[slot], tobj_new(), memory_order_acq_rel);

		pserialize_perform(psz);
		tobj_retire(old);
	}
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < NREADERS; i++)
		cr_assert_eq(pthread_join(readers[i], NULL), 0);
	/* Releasers still run: the last drains wait for their references. */
	for (int i = 0; i < NSLOTS; i++) {
		struct tobj *old = atomic_exchange(&table[i], NULL);

		pserialize_perform(psz);
		tobj_retire(old);
	}
	pthread_mutex_lock(&queue_lock);
	atomic_store(&stop_releasers, 1);
	pthread_cond_broadcast(&queue_cv);
	pthread_mutex_unlock(&queue_lock);
	for (int i = 0; i < NRELEASERS; i++)
		cr_assert_eq(pthread_join(releasers[i], NULL), 0);
	pserialize_destroy(psz);
	cr_log_info("%llu references, %llu handed over, %llu objects "
	            "drained (%llu waited), %llu violations",
	    (unsigned long long)atomic_load(&acquires),
	    (unsigned long long)atomic_load(&handoffs),
	    (unsigned long long)atomic_load(&drains),
	    (unsigned long long)atomic_load(&waits),
	    (unsigned long long)atomic_load(&violations));
	cr_assert_eq(atomic_load(&violations), 0,
	    "a reference outlived its drain, or a drained object was used");
	cr_assert_gt(atomic_load(&drains), NSLOTS);
}

TestSuite(torture_localcount, .timeout = 600);

Test(torture_localcount, membarrier)
{
	run_torture((struct config){
	    .fence = 0, .max_ids = LOCALCOUNT_IDS, .fail_counters = false});
}

Test(torture_localcount, fence)
{
	run_torture((struct config){
	    .fence = 1, .max_ids = LOCALCOUNT_IDS, .fail_counters = false});
}

Test(torture_localcount, few_ids)
{
	run_torture(
	    (struct config){.fence = 0, .max_ids = 4, .fail_counters = false});
}

Test(torture_localcount, no_counter_memory)
{
	run_torture((struct config){
	    .fence = 0, .max_ids = LOCALCOUNT_IDS, .fail_counters = true});
}
