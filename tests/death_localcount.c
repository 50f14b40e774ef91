/*
 * death_localcount.c: every rule of localcount(3) whose breach the library
 * reports: each test breaks one rule and expects the process to abort
 * (SIGABRT) with a message naming it.  Built with MPSAFE_DIAGNOSTIC, as an
 * application's debug build would be.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>

TestSuite(death, .timeout = 30);

static void *
release_main(void *arg)
{
	localcount_release(arg);
	return NULL;
}

static void *
drain_main(void *arg)
{
	localcount_drain(arg);
	return NULL;
}

Test(death, acquire_while_draining, .signal = SIGABRT)
{
	static struct localcount lc;
	pthread_t t;

	localcount_init(&lc);
	localcount_acquire(&lc);
	pthread_create(&t, NULL, drain_main, &lc); /* waits for our ref */
	while (atomic_load(&lc.lc_state) == LOCALCOUNT_STATE_ACTIVE)
		sched_yield();
	localcount_acquire(&lc);
}

Test(death, acquire_after_drain, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
	localcount_acquire(&lc);
}

Test(death, acquire_after_drain_of_unused_count, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_drain(&lc);
	localcount_acquire(&lc);
}

Test(death, fini_before_drain, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_fini(&lc);
}

Test(death, fini_before_drain_with_reference_held, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_fini(&lc);
}

Test(death, fini_while_draining, .signal = SIGABRT)
{
	static struct localcount lc;
	pthread_t t;

	localcount_init(&lc);
	localcount_acquire(&lc);
	pthread_create(&t, NULL, drain_main, &lc);
	while (atomic_load(&lc.lc_state) == LOCALCOUNT_STATE_ACTIVE)
		sched_yield();
	localcount_fini(&lc);
}

Test(death, fini_twice, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_fini(&lc);
	localcount_fini(&lc);
}

Test(death, acquire_after_fini, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_fini(&lc);
	localcount_acquire(&lc);
}

/* More releases than acquires, found when drain adds the counters up. */
Test(death, underflow_found_by_drain, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
}

/* A release that takes a draining count below zero. */
Test(death, one_release_too_many_while_draining, .signal = SIGABRT)
{
	static struct localcount lc;
	pthread_t t;

	localcount_init(&lc);
	localcount_acquire(&lc);
	pthread_create(&t, NULL, drain_main, &lc);
	while (atomic_load(&lc.lc_state) == LOCALCOUNT_STATE_ACTIVE)
		sched_yield();
	localcount_release(&lc); /* the last one: the drain may return */
	localcount_release(&lc); /* one too many */
	for (;;)
		sched_yield();
}

Test(death, release_after_drain, .signal = SIGABRT)
{
	struct localcount lc;
	pthread_t t;

	localcount_init(&lc);
	localcount_acquire(&lc);
	pthread_create(&t, NULL, release_main, &lc);
	pthread_join(t, NULL);
	localcount_drain(&lc);
	localcount_release(&lc);
}

Test(death, drain_twice, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
	localcount_drain(&lc);
}

Test(death, drain_inside_read_section, .signal = SIGABRT)
{
	struct localcount lc;

	localcount_init(&lc);
	(void)pserialize_read_enter();
	localcount_drain(&lc);
}

Test(death, drain_uninitialised, .signal = SIGABRT)
{
	struct localcount lc = {0};

	localcount_drain(&lc);
}

Test(death, acquire_null, .signal = SIGABRT)
{
	localcount_acquire(NULL);
}

Test(death, release_null, .signal = SIGABRT)
{
	localcount_release(NULL);
}

Test(death, drain_null, .signal = SIGABRT)
{
	localcount_drain(NULL);
}

Test(death, fini_null, .signal = SIGABRT)
{
	localcount_fini(NULL);
}
