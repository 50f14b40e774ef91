/*
 * death_pserialize.c: every rule of pserialize(3) and of the registry
 * whose breach the library reports: each test breaks one rule and expects
 * the process to abort (SIGABRT) with a message naming it.  Built with
 * MPSAFE_DIAGNOSTIC, as an application's debug build would be.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#include "death_expect.h"

TestSuite(death, .timeout = 30);

Test(death, perform_inside_read_section, .signal = SIGABRT)
{
	death_expect("pserialize_perform inside a read section");
	pserialize_t psz = pserialize_create();
	(void)pserialize_read_enter();
	pserialize_perform(psz);
}

Test(death, exit_without_enter, .signal = SIGABRT)
{
	death_expect("without a matching pserialize_read_enter");
	pserialize_read_exit(1);
}

Test(death, exit_twice, .signal = SIGABRT)
{
	death_expect("without a matching pserialize_read_enter");
	int s = pserialize_read_enter();
	pserialize_read_exit(s);
	pserialize_read_exit(s);
}

Test(death, exit_out_of_order, .signal = SIGABRT)
{
	death_expect("does not match the innermost pserialize_read_enter");
	int s1 = pserialize_read_enter();
	int s2 = pserialize_read_enter();
	pserialize_read_exit(s1);
	pserialize_read_exit(s2);
}

Test(death, nesting_overflow, .signal = SIGABRT)
{
	/* Exactly at the limit: none of the first MPSAFE_NEST_MAX panics. */
	death_expect("no panic is expected before MPSAFE_NEST_MAX");
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		(void)pserialize_read_enter();
	death_expect("read sections nested deeper than");
	(void)pserialize_read_enter();
}

/*
 * The same in the fence ordering mode (its own fast path), at the exact
 * limit: the MPSAFE_NEST_MAX enters up to it do not abort, the one past
 * it does.
 */
Test(death, nesting_overflow_fence, .signal = SIGABRT)
{
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), 0);
	/* A panic before the limit fails the test (exit status 125). */
	death_expect("no panic is expected before MPSAFE_NEST_MAX");
	for (unsigned i = 0; i < MPSAFE_NEST_MAX; i++)
		(void)pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	death_expect("read sections nested deeper than");
	(void)pserialize_read_enter();
}

static void *
exit_inside_section(void *arg)
{
	(void)arg;
	(void)pserialize_read_enter();
	return NULL; /* the thread exits inside its read section */
}

Test(death, thread_exit_inside_read_section, .signal = SIGABRT)
{
	death_expect("thread exited inside a read section");
	pthread_t t;

	pthread_create(&t, NULL, exit_inside_section, NULL);
	pthread_join(t, NULL);
}

Test(death, unregister_inside_read_section, .signal = SIGABRT)
{
	death_expect("mpsafe_thread_unregister inside a read section");
	(void)pserialize_read_enter();
	(void)mpsafe_thread_unregister();
}

/* Under a sanitizer, the sanitizer reports this use after free itself. */
#ifndef UNDER_SANITIZER
Test(death, perform_after_destroy, .signal = SIGABRT)
{
	death_expect("used after pserialize_destroy");
	pserialize_t psz = pserialize_create();
	pserialize_destroy(psz);
	pserialize_perform(psz);
}
#endif

Test(death, perform_null, .signal = SIGABRT)
{
	death_expect("pserialize_perform: NULL pserialize_t");
	pserialize_perform(NULL);
}

static void
dtor(struct mpsafe_defer *d)
{
	(void)d;
}

Test(death, defer_inside_read_section, .signal = SIGABRT)
{
	death_expect("mpsafe_defer inside a read section");
	static struct mpsafe_defer d;

	(void)pserialize_read_enter();
	(void)mpsafe_defer(&d, dtor, sizeof(d));
}

Test(death, defer_barrier_inside_read_section, .signal = SIGABRT)
{
	death_expect("mpsafe_defer_barrier inside a read section");
	(void)pserialize_read_enter();
	(void)mpsafe_defer_barrier();
}

static void
barrier_in_destructor(struct mpsafe_defer *d)
{
	(void)d;
	/*
	 * The check's message names a read section and a destructor alike:
	 * outside a read section, only the destructor can be what it finds.
	 */
	if (pserialize_in_read_section())
		_exit(1);
	(void)mpsafe_defer_barrier(); /* would wait for itself */
}

Test(death, defer_barrier_from_destructor, .signal = SIGABRT)
{
	death_expect("or a deferred destructor would wait for itself");
	static struct mpsafe_defer d;

	(void)mpsafe_defer(&d, barrier_in_destructor, sizeof(d));
	(void)mpsafe_defer_barrier();
}
