/*
 * test_pserialize.c: unit tests of pserialize(3): object life, nesting,
 * the assertion predicates, and that pserialize_perform() waits for every
 * read section that began before it and only for those, in both ordering
 * modes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

TestSuite(pserialize, .timeout = 60);

static void
set_mode(int fence)
{
	int error = mpsafe_set_ordering(
	    fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error == ENOTSUP)
		cr_skip_test("membarrier is not available on this kernel");
	cr_assert_eq(error, 0);
}

Test(pserialize, create_perform_destroy)
{
	pserialize_t psz = pserialize_create();

	cr_assert_not_null(psz);
	pserialize_perform(psz); /* no reader at all */
	pserialize_perform(psz);
	pserialize_destroy(psz);
}

Test(pserialize, nesting_and_predicates)
{
	cr_assert(pserialize_not_in_read_section());
	int s1 = pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	int s2 = pserialize_read_enter();
	int s3 = pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	pserialize_read_exit(s3);
	pserialize_read_exit(s2);
	cr_assert(pserialize_in_read_section());
	pserialize_read_exit(s1);
	cr_assert(pserialize_not_in_read_section());
	cr_assert_not(pserialize_in_read_section());
}

Test(pserialize, deep_nesting_up_to_the_limit)
{
	static int cookies[MPSAFE_NEST_MAX];

	/*
	 * All the way: at MPSAFE_NEST_MAX the thread is still in a section
	 * (until 2026-12-01 the deepest level read as "unregistered", and
	 * its first exit aborted as unmatched).
	 */
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		cookies[i] = pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	for (unsigned i = MPSAFE_NEST_MAX; i-- > 0;)
		pserialize_read_exit(cookies[i]);
	cr_assert(pserialize_not_in_read_section());
}

/* The same in the fence ordering mode, whose fast path differs. */
Test(pserialize, deep_nesting_up_to_the_limit_fence)
{
	static int cookies[MPSAFE_NEST_MAX];

	set_mode(1);
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		cookies[i] = pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	cr_assert(mpsafe_thread_registered());
	for (unsigned i = MPSAFE_NEST_MAX; i-- > 0;) {
		pserialize_read_exit(cookies[i]);
		cr_assert_eq(pserialize_in_read_section(), i > 0);
	}
}

/* A reader that enters, says so, and leaves only when told. */
struct holder {
	_Atomic int entered;
	_Atomic int release;
	_Atomic int left;
	int nest;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	int s[MPSAFE_NEST_MAX]; /* 128 KiB of the thread's stack at most */

	for (int i = 0; i < h->nest; i++)
		s[i] = pserialize_read_enter();
	atomic_store(&h->entered, 1);
	while (!atomic_load(&h->release))
		sched_yield();
	atomic_store(&h->left, 1);
	for (int i = h->nest; i-- > 0;)
		pserialize_read_exit(s[i]);
	return NULL;
}

struct performer {
	pserialize_t psz;
	_Atomic int done;
	struct holder *h;
	int left_when_done;
};

static void *
performer_main(void *arg)
{
	struct performer *p = arg;

	pserialize_perform(p->psz);
	p->left_when_done = atomic_load(&p->h->left);
	atomic_store(&p->done, 1);
	return NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * pserialize_perform() does not return while a section that began before
 * it is open (checked after the writer has had ample time to spin and go to
 * sleep), and returns after that section ends.
 */
static void
perform_waits_for_reader(int fence, int nest)
{
	struct holder h = {.nest = nest};
	struct performer p = {.h = &h};
	pthread_t rt, wt;

	set_mode(fence);
	p.psz = pserialize_create();
	cr_assert_eq(pthread_create(&rt, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(pthread_create(&wt, NULL, performer_main, &p), 0);
	sleep_ms(100);
	cr_assert_not(atomic_load(&p.done),
	    "pserialize_perform returned while a reader was in its section");
	atomic_store(&h.release, 1);
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	cr_assert(p.left_when_done,
	    "perform returned before the reader left its section");
	pserialize_destroy(p.psz);
}

Test(pserialize, perform_waits_for_reader_membarrier)
{
	perform_waits_for_reader(0, 1);
}

Test(pserialize, perform_waits_for_reader_fence)
{
	perform_waits_for_reader(1, 1);
}

Test(pserialize, perform_waits_for_nested_reader)
{
	perform_waits_for_reader(0, 3);
}

/*
 * "Sections nest at most MPSAFE_NEST_MAX deep": a reader at exactly that
 * depth is inside a section for the grace period too (the deepest level
 * must not read as "unregistered", which a grace period skips).
 */
Test(pserialize, perform_waits_for_reader_at_nest_max_membarrier)
{
	perform_waits_for_reader(0, MPSAFE_NEST_MAX);
}

Test(pserialize, perform_waits_for_reader_at_nest_max_fence)
{
	perform_waits_for_reader(1, MPSAFE_NEST_MAX);
}

/*
 * A section that begins after pserialize_perform() started need not delay
 * it: a reader that keeps re-entering does not starve the writer.
 */
static _Atomic int churn_stop;

static void *
churn_reader(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
		int s = pserialize_read_enter();
		pserialize_read_exit(s);
	}
	return NULL;
}

static void
perform_not_starved(int fence)
{
	pthread_t t[3];
	pserialize_t psz;

	set_mode(fence);
	psz = pserialize_create();
	for (int i = 0; i < 3; i++)
		cr_assert_eq(
		    pthread_create(&t[i], NULL, churn_reader, NULL), 0);
	for (int i = 0; i < 2000; i++)
		pserialize_perform(psz);
	atomic_store(&churn_stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pserialize_destroy(psz);
}

Test(pserialize, perform_not_starved_by_busy_readers_membarrier)
{
	perform_not_starved(0);
}

Test(pserialize, perform_not_starved_by_busy_readers_fence)
{
	perform_not_starved(1);
}

/* Concurrent writers all complete, with a reader holding them all up. */
Test(pserialize, concurrent_performs_share_and_complete)
{
	struct holder h = {.nest = 1};
	struct performer p[4];
	pthread_t rt, wt[4];
	pserialize_t psz = pserialize_create();

	cr_assert_eq(pthread_create(&rt, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	for (int i = 0; i < 4; i++) {
		p[i] = (struct performer){.psz = psz, .h = &h};
		cr_assert_eq(
		    pthread_create(&wt[i], NULL, performer_main, &p[i]), 0);
	}
	sleep_ms(50);
	for (int i = 0; i < 4; i++)
		cr_assert_not(atomic_load(&p[i].done));
	atomic_store(&h.release, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(wt[i], NULL);
		cr_assert(p[i].left_when_done);
	}
	pthread_join(rt, NULL);
	pserialize_destroy(psz);
}

/* An unregistered thread may perform; the reader need not register. */
Test(pserialize, writer_need_not_register)
{
	pserialize_t psz = pserialize_create();

	pserialize_perform(psz);
	cr_assert_not(mpsafe_thread_registered());
	pserialize_destroy(psz);
}
