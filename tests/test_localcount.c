/*
 * test_localcount.c: unit tests of localcount(3): each function alone;
 * references released on another thread than the one that took them;
 * drain returning at once on a zero count and waiting, without polling,
 * for a reference held by a sleeping thread; per-thread counters that go
 * negative; many counts at once, and id reuse; the shared
 * fallback (no id, or no memory for a counter array) forced through a test
 * hook; thread exit and fork with references outstanding.  Built twice
 * (localcount.cmake): test_localcount_unchecked links a library without
 * contract checks and adds what misuse does there (an undrained fini; a
 * second drain, also one asleep across the first drain's fold).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#include "thread_state.h"
#include "wait_flag.h"

/* Library-private test hook (src/localcount.c; linked statically). */
void mpsafe_localcount_test_limits(uint32_t max_ids, bool fail_counters);

TestSuite(localcount, .timeout = 60);

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
set_mode(int fence)
{
	int error = mpsafe_set_ordering(
	    fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error == ENOTSUP)
		cr_skip_test("membarrier is not available on this kernel");
	cr_assert_eq(error, 0);
}

/* Run fn(arg) on a new thread and wait for it. */
static void
on_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

/* n acquires (n > 0) or -n releases of one count, on the calling thread. */
struct batch {
	struct localcount *lc;
	int n;
};

static void
apply(struct localcount *lc, int n)
{
	for (; n > 0; n--)
		localcount_acquire(lc);
	for (; n < 0; n++)
		localcount_release(lc);
}

static void *
batch_main(void *arg)
{
	struct batch *b = arg;

	apply(b->lc, b->n);
	return NULL;
}

static void
apply_on_thread(struct localcount *lc, int n)
{
	struct batch b = {lc, n};

	on_thread(batch_main, &b);
}

/* A drain on a thread of its own, watched from the test. */
struct drainer {
	struct localcount *lc;
	_Atomic int *flag; /* read when the drain returns, if not NULL */
	int flag_at_return;
	_Atomic int done;
	pthread_t thread;
};

static void *
drainer_main(void *arg)
{
	struct drainer *d = arg;

	localcount_drain(d->lc);
	if (d->flag != NULL)
		d->flag_at_return = atomic_load(d->flag);
	atomic_store(&d->done, 1);
	return NULL;
}

static void
drainer_start(struct drainer *d, struct localcount *lc, _Atomic int *flag)
{
	d->lc = lc;
	d->flag = flag;
	atomic_store(&d->done, 0);
	cr_assert_eq(pthread_create(&d->thread, NULL, drainer_main, d), 0);
}

/* The drain has had ample time to reach its sleep, and is still there. */
static void
drainer_assert_waiting(struct drainer *d)
{
	sleep_ms(100);
	cr_assert_not(atomic_load(&d->done),
	    "localcount_drain returned while a reference was held");
}

static void
drainer_join(struct drainer *d)
{
	cr_assert_eq(pthread_join(d->thread, NULL), 0);
	cr_assert(atomic_load(&d->done));
}

Test(localcount, init_null_is_einval)
{
	cr_assert_eq(localcount_init(NULL), EINVAL);
}

Test(localcount, unused_count_drains_and_finis)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	cr_assert_lt(lc.lc_id, LOCALCOUNT_IDS);
	localcount_drain(&lc); /* never used: no grace period needed */
	localcount_fini(&lc);
}

Test(localcount, unused_count_finis_without_drain)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	localcount_fini(&lc);
}

Test(localcount, acquire_release_one_thread)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	localcount_acquire(&lc);
	cr_assert_eq(atomic_load(&lc.lc_state), LOCALCOUNT_STATE_ACTIVE);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

Test(localcount, acquire_inside_read_section)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	int s = pserialize_read_enter();
	localcount_acquire(&lc); /* the usual place: the lookup's section */
	pserialize_read_exit(s);
	cr_assert(pserialize_not_in_read_section());
	s = pserialize_read_enter();
	localcount_release(&lc);
	pserialize_read_exit(s);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

Test(localcount, release_on_another_thread)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 10);
	apply_on_thread(&lc, -10);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

Test(localcount, drain_of_zero_count_returns_at_once)
{
	struct localcount lc;
	struct timespec t0, t1;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 3);
	apply_on_thread(&lc, -3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	localcount_drain(&lc); /* one grace period, no wait for releases */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_log_info("drain of a zero count: %ld us",
	    (long)((t1.tv_sec - t0.tv_sec) * 1000000L +
	           (t1.tv_nsec - t0.tv_nsec) / 1000));
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 10);
	localcount_fini(&lc);
}

/* A thread that holds one reference until told to let go. */
struct holder {
	struct localcount *lc;
	_Atomic int held;
	_Atomic int go;
	_Atomic int released; /* set just before the release */
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;

	localcount_acquire(h->lc);
	atomic_store(&h->held, 1);
	while (!atomic_load(&h->go))
		sleep_ms(1); /* the test's own pacing, not the library's */
	atomic_store(&h->released, 1);
	localcount_release(h->lc);
	return NULL;
}

static void
drain_waits_for_holder(int fence)
{
	struct localcount lc;
	struct holder h = {.lc = &lc};
	struct drainer d;
	pthread_t ht;

	set_mode(fence);
	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 2); /* some balanced traffic on other threads too */
	apply_on_thread(&lc, -2);
	cr_assert_eq(pthread_create(&ht, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.held))
		sched_yield();
	drainer_start(&d, &lc, &h.released);
	drainer_assert_waiting(&d);
	atomic_store(&h.go, 1);
	drainer_join(&d);
	cr_assert_eq(pthread_join(ht, NULL), 0);
	cr_assert(d.flag_at_return,
	    "drain returned before the holder released its reference");
	localcount_fini(&lc);
}

Test(localcount, drain_waits_for_holder_membarrier)
{
	drain_waits_for_holder(0);
}

Test(localcount, drain_waits_for_holder_fence)
{
	drain_waits_for_holder(1);
}

/* The reference migrates: taken on one thread, released on another. */
Test(localcount, drain_waits_for_reference_released_elsewhere)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int released = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	apply_on_thread(&lc, 1); /* taken by a thread that then exits */
	drainer_start(&d, &lc, &released);
	drainer_assert_waiting(&d);
	atomic_store(&released, 1);
	localcount_release(&lc); /* slow path: wakes the drainer */
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* Counters go negative on some threads; only the sum matters. */
Test(localcount, negative_and_positive_counters)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	apply_on_thread(&lc, 1000); /* +1000 on thread A */
	apply_on_thread(&lc, -999); /* -999 on thread B */
	apply(&lc, 5);              /* +5 on the main thread */
	apply_on_thread(&lc, -5);   /* -5 on thread C: 1 held */
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* Several references outstanding at the drain, released one by one. */
Test(localcount, drain_wakes_on_last_of_many_releases)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 4);
	apply_on_thread(&lc, 3);
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	apply_on_thread(&lc, -3);
	apply(&lc, -3);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	localcount_release(&lc);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

#define MANY 1553 /* ids over several pages of each counter array */

static struct localcount many[MANY];

static void *
release_all_main(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < MANY; i++)
		localcount_release(&many[i]);
	return NULL;
}

Test(localcount, many_counts_and_id_reuse)
{
	static uint8_t seen[LOCALCOUNT_IDS];

	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < MANY; i++) {
			cr_assert_eq(localcount_init(&many[i]), 0);
			uint32_t id = many[i].lc_id;
			cr_assert_lt(id, LOCALCOUNT_IDS);
			/*
			 * Lowest ids first, each once: freed ids are reused.
			 * Skipped (id_aliasing()): the 8 ids on the first line
			 * of each page of counters (512 ids), and for a count
			 * the 8 on its own line; no more.
			 */
			cr_assert_lt(id, MANY + (MANY / 504 + 1) * 8 + 8);
			cr_assert_eq(seen[id], round, "id %u given twice", id);
			seen[id]++;
			localcount_acquire(&many[i]);
		}
		on_thread(release_all_main, NULL);
		for (unsigned i = 0; i < MANY; i++) {
			localcount_drain(&many[i]);
			localcount_fini(&many[i]);
		}
	}
}

/*
 * A count drained while a reference was held leaves a non-zero counter
 * behind unless drain zeroes it; the next count with the same id would
 * then never drain.
 */
Test(localcount, reused_id_starts_from_zero)
{
	/* One storage, two lives: an id's choice depends on the address. */
	union {
		struct localcount a, b;
	} u;
	struct localcount *a = &u.a, *b = &u.b;
	struct drainer d;
	uint32_t id;

	cr_assert_eq(localcount_init(a), 0);
	id = a->lc_id;
	apply(a, 1); /* the main thread's counter: +1 */
	drainer_start(&d, a, NULL);
	drainer_assert_waiting(&d);
	apply_on_thread(a, -1); /* released through the shared total */
	drainer_join(&d);
	localcount_fini(a);

	cr_assert_eq(localcount_init(b), 0);
	cr_assert_eq(b->lc_id, id, "the freed id should be reused");
	apply(b, 2);
	apply(b, -2);
	drainer_start(&d, b, NULL);
	drainer_join(&d); /* would hang if the +1 above had survived */
	localcount_fini(b);
}

/*
 * A count's counter never shares the count's 64-byte line offset within a
 * page, nor sits on a page's first line, while another id is free (4K
 * aliasing, src/localcount.c), and when only such ids are left the count
 * still gets one.
 */
Test(localcount, ids_avoid_the_counts_page_offset)
{
	enum { PAGE = 4096, LINE = 64 };
	char *page = aligned_alloc(PAGE, 2 * PAGE);
	struct localcount *lc[PAGE / LINE];

	cr_assert_not_null(page);
	for (unsigned i = 0; i < PAGE / LINE; i++) {
		lc[i] = (struct localcount *)(void *)(page + i * LINE);
		cr_assert_eq(localcount_init(lc[i]), 0);
		cr_assert_lt(lc[i]->lc_id, LOCALCOUNT_IDS);
		cr_assert_neq(lc[i]->lc_id * 8 % PAGE / LINE, i,
		    "count at line %u of its page got id %u, whose counter "
		    "is on the same line of its page",
		    i, lc[i]->lc_id);
		cr_assert_neq(lc[i]->lc_id * 8 % PAGE / LINE, 0,
		    "id %u puts its counter on the first line of a page",
		    lc[i]->lc_id);
	}
	for (unsigned i = 0; i < PAGE / LINE; i++)
		localcount_fini(lc[i]); /* never used: no drain needed */

	/* Ids 0..7 only, all on line 0: a count on line 0 takes one. */
	mpsafe_localcount_test_limits(8, false);
	cr_assert_eq(localcount_init(lc[0]), 0);
	cr_assert_lt(lc[0]->lc_id, 8, "no id given although 8 were free");
	localcount_fini(lc[0]);
	mpsafe_localcount_test_limits(LOCALCOUNT_IDS, false);
	free(page);
}

/* No id left: the count lives in the shared word, with the same rules. */
Test(localcount, fallback_without_id)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	mpsafe_localcount_test_limits(0, false);
	cr_assert_eq(localcount_init(&lc), 0);
	cr_assert_eq(lc.lc_id, UINT32_MAX);
	apply(&lc, 3);
	apply_on_thread(&lc, -2);
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
	mpsafe_localcount_test_limits(LOCALCOUNT_IDS, false);
	cr_assert_eq(localcount_init(&lc), 0);
	cr_assert_lt(lc.lc_id, LOCALCOUNT_IDS);
	localcount_fini(&lc);
}

/*
 * "At most LOCALCOUNT_IDS objects have per-thread counters at once; the
 * others count in a shared word": with the real limit (no test hook),
 * exactly LOCALCOUNT_IDS live counts all get distinct ids, the next one
 * gets none and still counts correctly, and once a count is destroyed its
 * id goes to the next count.
 */
static struct localcount all_ids[LOCALCOUNT_IDS];

Test(localcount, ids_run_out_after_exactly_localcount_ids)
{
	static uint8_t seen[LOCALCOUNT_IDS];
	struct localcount extra;
	struct drainer d;
	_Atomic int last = 0;
	uint32_t freed_id;

	for (unsigned i = 0; i < LOCALCOUNT_IDS; i++) {
		cr_assert_eq(localcount_init(&all_ids[i]), 0);
		uint32_t id = all_ids[i].lc_id;
		cr_assert_lt(id, LOCALCOUNT_IDS, "count %u of %u got no id",
		    i + 1, LOCALCOUNT_IDS);
		cr_assert_eq(seen[id]++, 0, "id %u given twice", id);
	}

	/* One more than the ids: the shared word, with the same rules. */
	cr_assert_eq(localcount_init(&extra), 0);
	cr_assert_eq(extra.lc_id, UINT32_MAX);
	apply(&extra, 2);
	apply_on_thread(&extra, -1);
	drainer_start(&d, &extra, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&extra, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&extra);

	/* A freed id is given again. */
	freed_id = all_ids[LOCALCOUNT_IDS / 2].lc_id;
	localcount_fini(&all_ids[LOCALCOUNT_IDS / 2]); /* never used */
	cr_assert_eq(localcount_init(&extra), 0);
	cr_assert_eq(extra.lc_id, freed_id);
	localcount_fini(&extra);
	for (unsigned i = 0; i < LOCALCOUNT_IDS; i++)
		if (i != LOCALCOUNT_IDS / 2)
			localcount_fini(&all_ids[i]);
}

/*
 * Read sections nest at most MPSAFE_NEST_MAX deep: an acquire at exactly
 * that depth is inside the section that found the object, and counts.
 */
Test(localcount, acquire_at_the_deepest_read_section)
{
	static int cookies[MPSAFE_NEST_MAX];
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 1); /* the thread's counters are mapped */
	apply(&lc, -1);
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		cookies[i] = pserialize_read_enter();
	localcount_acquire(&lc);
	for (unsigned i = MPSAFE_NEST_MAX; i-- > 0;)
		pserialize_read_exit(cookies[i]);
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* No memory for a counter array: that thread counts in the shared word. */
Test(localcount, fallback_without_counters)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	mpsafe_localcount_test_limits(LOCALCOUNT_IDS, true);
	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 2);
	apply_on_thread(&lc, -1);
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* Some threads have counters, others fall back: the sum is still right. */
Test(localcount, counters_and_shared_word_mixed)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 3); /* the main thread has its counters: +3 there */
	mpsafe_localcount_test_limits(LOCALCOUNT_IDS, true);
	apply_on_thread(&lc, -2); /* no counters on a new thread: shared */
	apply_on_thread(&lc, 1);  /* 2 held */
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	apply(&lc, -1);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply_on_thread(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* Counts stay in a dead thread's record; its successor carries on. */
Test(localcount, thread_exit_keeps_counts)
{
	struct localcount lc;
	struct drainer d;
	_Atomic int last = 0;

	cr_assert_eq(localcount_init(&lc), 0);
	for (int i = 0; i < 8; i++)
		apply_on_thread(&lc, 2); /* records are reused, counts add */
	apply(&lc, -15);
	drainer_start(&d, &lc, &last);
	drainer_assert_waiting(&d);
	atomic_store(&last, 1);
	apply(&lc, -1);
	drainer_join(&d);
	cr_assert(d.flag_at_return);
	localcount_fini(&lc);
}

/* Explicit unregistration: the record (and counter) passes on. */
Test(localcount, unregister_and_register_again)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 2);
	cr_assert_eq(mpsafe_thread_unregister(), 0);
	apply(&lc, -1); /* registers again */
	apply_on_thread(&lc, -1);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

struct forker {
	struct localcount *lc;
	_Atomic int held;
	_Atomic int go;
};

static void *
fork_holder_main(void *arg)
{
	struct forker *f = arg;

	localcount_acquire(f->lc);
	atomic_store(&f->held, 1);
	while (!atomic_load(&f->go))
		sleep_ms(1);
	localcount_release(f->lc);
	return NULL;
}

/*
 * After fork() the child keeps the count of a reference taken by a thread
 * it does not have; references are anonymous, so the child releases it.
 */
Test(localcount, fork_child_releases_parent_reference)
{
	struct localcount lc;
	struct forker f = {.lc = &lc};
	pthread_t t;
	pid_t pid;
	int status;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 1);
	apply(&lc, -1);
	cr_assert_eq(pthread_create(&t, NULL, fork_holder_main, &f), 0);
	while (!atomic_load(&f.held))
		sched_yield();
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		alarm(20);
		localcount_release(&lc); /* the other thread's reference */
		localcount_drain(&lc);
		localcount_fini(&lc);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child could not drain (status %#x)", status);
	atomic_store(&f.go, 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

#if !defined(MPSAFE_DIAGNOSTIC) || defined(MPSAFE_TEST_LIBRARY_UNCHECKED)
/*
 * A library without contract checks (a release build, or the copy that
 * test_localcount_unchecked links, see localcount.cmake): misuse stays
 * memory-safe.
 */
Test(localcount, undrained_fini_frees_a_clean_id)
{
	union {
		struct localcount a, b;
	} u; /* one storage, two lives (see reused_id_starts_from_zero) */
	struct localcount *a = &u.a, *b = &u.b;
	uint32_t id;

	cr_assert_eq(localcount_init(a), 0);
	id = a->lc_id;
	apply(a, 1);
	localcount_fini(a); /* used, not drained: zeroes the counters */
	cr_assert_eq(localcount_init(b), 0);
	cr_assert_eq(b->lc_id, id);
	apply(b, 1);
	apply(b, -1);
	localcount_drain(b); /* returns: the stale +1 was cleared */
	localcount_fini(b);
}

Test(localcount, second_drain_returns)
{
	struct localcount lc;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 1);
	apply(&lc, -1);
	localcount_drain(&lc);
	localcount_drain(&lc);
	localcount_fini(&lc);
}

/* A thread inside one read section until told to leave it. */
struct section_holder {
	_Atomic int inside;
	_Atomic int leave;
	pthread_t thread;
};

static void *
section_holder_main(void *arg)
{
	struct section_holder *h = arg;
	int s = pserialize_read_enter();

	atomic_store(&h->inside, 1);
	while (!atomic_load(&h->leave))
		sleep_ms(1); /* the test's own pacing, not the library's */
	pserialize_read_exit(s);
	return NULL;
}

/* A drain that gives its kernel thread id, for /proc. */
struct tid_drainer {
	struct localcount *lc;
	_Atomic long tid; /* 0 until known; -1 where there is none */
	_Atomic int done;
};

static void *
tid_drainer_main(void *arg)
{
	struct tid_drainer *d = arg;

	atomic_store(&d->tid, thread_state_self());
	localcount_drain(d->lc);
	atomic_store(&d->done, 1);
	return NULL;
}

/*
 * A second drain meets the first in its grace period (state DRAINING,
 * no fold yet), yields, and sleeps on the wait word; then the first
 * drain's own fold finds the count at zero.  That fold must wake the
 * second drain as a last release would, or it sleeps for ever.  A reader
 * holds the grace period open until /proc shows the second drain asleep
 * (where /proc cannot tell, the test goes on: it still checks that the
 * second drain returns, without forcing the losing order).
 */
Test(localcount, second_drain_asleep_across_the_fold_returns)
{
	struct localcount lc;
	struct section_holder r = {0};
	struct tid_drainer b = {.lc = &lc};
	struct drainer a;
	pthread_t bt;

	cr_assert_eq(localcount_init(&lc), 0);
	apply(&lc, 1);
	apply(&lc, -1); /* ACTIVE with no reference held: the fold gives 0 */
	cr_assert_eq(
	    pthread_create(&r.thread, NULL, section_holder_main, &r), 0);
	while (!atomic_load(&r.inside))
		sched_yield();
	drainer_start(&a, &lc, NULL);
	/* Out of ACTIVE: the first drain is in its grace period, held by r. */
	while (atomic_load(&lc.lc_state) == LOCALCOUNT_STATE_ACTIVE)
		sched_yield();
	cr_assert_eq(pthread_create(&bt, NULL, tid_drainer_main, &b), 0);
	while (atomic_load(&b.tid) == 0)
		sched_yield();
	/* Its only blocking point is drain's futex sleep (thread_state.h). */
	if (!thread_state_wait_asleep(atomic_load(&b.tid)))
		cr_log_info("cannot see the second drain asleep: the order "
		            "that lost its wake-up is not forced");
	cr_assert_not(atomic_load(&a.done),
	    "the first drain returned inside its grace period");
	atomic_store(&r.leave, 1);
	cr_assert_eq(pthread_join(r.thread, NULL), 0);
	drainer_join(&a);
	cr_assert(flag_within(&b.done, 10),
	    "the second drain slept through the first drain's fold: nothing "
	    "woke it");
	cr_assert_eq(pthread_join(bt, NULL), 0);
	localcount_fini(&lc);
}
#endif
