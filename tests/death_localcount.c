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

#include "death_expect.h"

TestSuite(death, .timeout = 30);

static void *
drain_main(void *arg)
{
	localcount_drain(arg);
	return NULL;
}

Test(death, acquire_while_draining, .signal = SIGABRT)
{
	death_expect("after localcount_drain began");
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
	death_expect("a drained count takes no new reference");
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
	localcount_acquire(&lc);
}

Test(death, acquire_after_drain_of_unused_count, .signal = SIGABRT)
{
	death_expect("a drained count takes no new reference");
	struct localcount lc;

	localcount_init(&lc);
	localcount_drain(&lc);
	localcount_acquire(&lc);
}

Test(death, fini_before_drain, .signal = SIGABRT)
{
	death_expect("acquired or released must be drained first");
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_fini(&lc);
}

Test(death, fini_before_drain_with_reference_held, .signal = SIGABRT)
{
	death_expect("acquired or released must be drained first");
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_fini(&lc);
}

Test(death, fini_while_draining, .signal = SIGABRT)
{
	death_expect("while localcount_drain is waiting for its references");
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
	death_expect("was destroyed by localcount_fini (use after fini)");
	struct localcount lc;

	localcount_init(&lc);
	localcount_fini(&lc);
	localcount_fini(&lc);
}

Test(death, acquire_after_fini, .signal = SIGABRT)
{
	death_expect("was destroyed by localcount_fini (use after fini)");
	struct localcount lc;

	localcount_init(&lc);
	localcount_fini(&lc);
	localcount_acquire(&lc);
}

Test(death, drain_twice, .signal = SIGABRT)
{
	death_expect("localcount_drain called twice");
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
	localcount_drain(&lc);
}

Test(death, drain_inside_read_section, .signal = SIGABRT)
{
	death_expect("localcount_drain inside a read section");
	struct localcount lc;

	localcount_init(&lc);
	(void)pserialize_read_enter();
	localcount_drain(&lc);
}

Test(death, drain_uninitialised, .signal = SIGABRT)
{
	death_expect("is not an initialised localcount");
	struct localcount lc = {0};

	localcount_drain(&lc);
}

Test(death, fini_uninitialised, .signal = SIGABRT)
{
	death_expect("is not an initialised localcount");
	struct localcount lc = {0};

	localcount_fini(&lc);
}

Test(death, acquire_null, .signal = SIGABRT)
{
	death_expect("localcount_acquire: NULL localcount");
	localcount_acquire(NULL);
}

Test(death, release_null, .signal = SIGABRT)
{
	death_expect("localcount_release: NULL localcount");
	localcount_release(NULL);
}

Test(death, drain_null, .signal = SIGABRT)
{
	death_expect("localcount_drain: NULL localcount");
	localcount_drain(NULL);
}

Test(death, fini_null, .signal = SIGABRT)
{
	death_expect("localcount_fini: NULL localcount");
	localcount_fini(NULL);
}
