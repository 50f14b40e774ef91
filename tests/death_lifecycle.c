/*
 * death_lifecycle.c: a thread cancelled inside a read section, or while
 * holding a psref, breaks a contract; diagnostic builds must abort with a
 * message naming it (rather than let grace periods wait for ever or a
 * destroy free a target still referenced); and a panic with a
 * cancellation pending still aborts.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>

#include "death_expect.h"

TestSuite(death_lifecycle, .timeout = 30);

static atomic_int ready;

static void *
cancelled_in_section(void *arg)
{
	(void)arg;
	(void)pserialize_read_enter();
	atomic_store(&ready, 1);
	for (;;)
		pause(); /* cancelled here, inside the section */
	return NULL;
}

static void
cancel_when_ready(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
	while (!atomic_load(&ready))
		sched_yield();
	pthread_cancel(t);
	pthread_join(t, NULL);
}

Test(death_lifecycle, cancel_inside_read_section, .signal = SIGABRT)
{
	death_expect("thread exited inside a read section");
	cancel_when_ready(cancelled_in_section, NULL);
}

struct held {
	struct psref_class *h_class;
	struct psref_target h_target;
	struct psref h_ref;
};

static void *
cancelled_holding(void *arg)
{
	struct held *h = arg;
	int s = pserialize_read_enter();

	psref_acquire(&h->h_ref, &h->h_target, h->h_class);
	pserialize_read_exit(s);
	atomic_store(&ready, 1);
	for (;;)
		pause(); /* cancelled here, holding the reference */
	return NULL;
}

Test(death_lifecycle, cancel_holding_psref, .signal = SIGABRT)
{
	death_expect("thread exited holding");
	static struct held h;

	h.h_class = psref_class_create("death");
	cr_assert_not_null(h.h_class);
	psref_target_init(&h.h_target, h.h_class);
	cancel_when_ready(cancelled_holding, &h);
}

/*
 * A panic with a cancellation pending still aborts: its message goes
 * through stdio, whose write() is a cancellation point, and the thread
 * used to be cancelled there (no message, no abort, locks left held).
 */
static void *
panic_with_cancel_pending(void *arg)
{
	(void)arg;
	pthread_cancel(pthread_self()); /* deferred: pending from now on */
	psref_target_destroy(NULL, NULL);
	return NULL;
}

Test(death_lifecycle, panic_with_a_cancellation_pending_aborts,
    .signal = SIGABRT)
{
	pthread_t t;

	death_expect("NULL target or not a live class");
	cr_assert_eq(
	    pthread_create(&t, NULL, panic_with_cancel_pending, NULL), 0);
	pthread_join(t, NULL);
}
