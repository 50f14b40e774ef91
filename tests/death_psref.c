/*
 * death_psref.c: every rule of psref(3) whose breach the library reports.
 * Each test breaks one rule and expects the process to abort (SIGABRT)
 * with a message naming it.  Built with MPSAFE_DIAGNOSTIC.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <mpsafe/psref.h>
#include <mpsafe/pserialize.h>

#include "death_expect.h"

TestSuite(death_psref, .timeout = 30);

static struct psref_class *c;
static struct psref_target target, other;
static struct psref ref;

static void
setup(void)
{
	c = psref_class_create("death");
	psref_target_init(&target, c);
	psref_target_init(&other, c);
}

static void
take(struct psref *p, struct psref_target *t)
{
	int s = pserialize_read_enter();

	psref_acquire(p, t, c);
	pserialize_read_exit(s);
}

Test(
    death_psref, acquire_outside_read_section, .init = setup, .signal = SIGABRT)
{
	death_expect("outside a read section: take the reference inside");
	psref_acquire(&ref, &target, c);
}

Test(death_psref, acquire_with_a_psref_in_use, .init = setup, .signal = SIGABRT)
{
	death_expect("holds one reference at a time");
	take(&ref, &target);
	take(&ref, &other);
}

Test(death_psref, acquire_of_uninitialised_target, .init = setup,
    .signal = SIGABRT)
{
	death_expect("the target is not initialised or was destroyed");
	struct psref_target t;

	memset(&t, 0, sizeof(t));
	take(&ref, &t);
}

static void *
destroy_main(void *arg)
{
	(void)arg;
	psref_target_destroy(&target, c);
	return NULL;
}

static _Atomic int holding;

static void *
hold_main(void *arg)
{
	struct psref p;

	(void)arg;
	take(&p, &target);
	atomic_store(&holding, 1);
	pause(); /* holds it until the process dies */
	return NULL;
}

Test(death_psref, acquire_of_draining_target, .init = setup, .signal = SIGABRT)
{
	death_expect("that is being destroyed: unpublish it");
	pthread_t h, d;

	pthread_create(&h, NULL, hold_main, NULL);
	while (!atomic_load(&holding))
		usleep(1000);
	pthread_create(&d, NULL, destroy_main, NULL);
	/* Past the destroy's grace period: no reader can still find it. */
	while (atomic_load(&target.prt_draining) != 2)
		usleep(1000);
	take(&ref, &target); /* found after unpublish: a broken writer */
}

Test(death_psref, release_twice, .init = setup, .signal = SIGABRT)
{
	death_expect("released twice");
	take(&ref, &target);
	psref_release(&ref, &target, c);
	psref_release(&ref, &target, c);
}

Test(death_psref, release_never_acquired, .init = setup, .signal = SIGABRT)
{
	death_expect("this psref was never acquired");
	struct psref p;

	memset(&p, 0x5a, sizeof(p));
	psref_release(&p, &target, c);
}

Test(death_psref, release_of_another_target, .init = setup, .signal = SIGABRT)
{
	death_expect("the psref refers to another target");
	take(&ref, &target);
	psref_release(&ref, &other, c);
}

/*
 * A release of a target found dead (prt_class NULL, as psref_target_destroy
 * leaves it on return): here written by hand, as a destroy that did not
 * wait for this reference would have left it.
 */
Test(death_psref, release_of_a_destroyed_target, .init = setup,
    .signal = SIGABRT)
{
	death_expect("the target is dead");
	take(&ref, &target);
	target.prt_class = NULL;
	psref_release(&ref, &target, c);
}

/* The releasing thread has used the library: it is registered. */
static void *
release_registered_main(void *arg)
{
	(void)arg;
	pserialize_read_exit(pserialize_read_enter());
	psref_release(&ref, &target, c);
	return NULL;
}

Test(death_psref, release_on_another_thread, .init = setup, .signal = SIGABRT)
{
	death_expect("released on another thread");
	pthread_t t;

	take(&ref, &target);
	pthread_create(&t, NULL, release_registered_main, NULL);
	pthread_join(t, NULL);
}

/* The releasing thread never used the library: it is not registered. */
static void *
release_unregistered_main(void *arg)
{
	(void)arg;
	psref_release(&ref, &target, c);
	return NULL;
}

Test(death_psref, release_on_an_unregistered_thread, .init = setup,
    .signal = SIGABRT)
{
	death_expect("the calling thread is not registered");
	pthread_t t;

	take(&ref, &target);
	pthread_create(&t, NULL, release_unregistered_main, NULL);
	pthread_join(t, NULL);
}

Test(death_psref, destroy_while_holding, .init = setup, .signal = SIGABRT)
{
	death_expect("by a thread that holds a reference to it");
	take(&ref, &target);
	psref_target_destroy(&target, c);
}

Test(death_psref, destroy_inside_read_section, .init = setup, .signal = SIGABRT)
{
	death_expect("psref_target_destroy inside a read section");
	(void)pserialize_read_enter();
	psref_target_destroy(&target, c);
}

Test(death_psref, destroy_twice, .init = setup, .signal = SIGABRT)
{
	death_expect("not initialised, or destroyed already");
	psref_target_destroy(&target, c);
	psref_target_destroy(&target, c);
}

Test(death_psref, destroy_end_without_begin, .init = setup, .signal = SIGABRT)
{
	death_expect("whose destroy was not begun");
	psref_target_destroy_end(&target, c);
}

Test(death_psref, destroy_begun_twice, .init = setup, .signal = SIGABRT)
{
	death_expect("whose destroy was begun already");
	psref_target_destroy_begin(&target, c);
	psref_target_destroy_begin(&target, c);
}

Test(death_psref, destroy_end_inside_read_section, .init = setup,
    .signal = SIGABRT)
{
	death_expect("psref_target_destroy_end inside a read section");
	psref_target_destroy_begin(&target, c);
	(void)pserialize_read_enter();
	psref_target_destroy_end(&target, c);
}

Test(death_psref, destroy_end_while_holding, .init = setup, .signal = SIGABRT)
{
	death_expect("by a thread that holds a reference to it");
	take(&ref, &target);
	psref_target_destroy_begin(&target, c);
	psref_target_destroy_end(&target, c);
}

Test(
    death_psref, destroy_tryend_without_begin, .init = setup, .signal = SIGABRT)
{
	death_expect("psref_target_destroy_tryend of target");
	(void)psref_target_destroy_tryend(&target, c);
}

Test(
    death_psref, destroy_tryend_while_holding, .init = setup, .signal = SIGABRT)
{
	death_expect("by a thread that holds a reference to it");
	take(&ref, &target);
	psref_target_destroy_begin(&target, c);
	(void)psref_target_destroy_tryend(&target, c);
}

Test(death_psref, destroy_tryend_after_the_destroy_ended, .init = setup,
    .signal = SIGABRT)
{
	pserialize_t psz = pserialize_create();

	death_expect("not initialised, or destroyed already");
	psref_target_destroy_begin(&target, c);
	pserialize_perform(psz);
	cr_assert_eq(psref_target_destroy_tryend(&target, c), 0);
	(void)psref_target_destroy_tryend(&target, c);
}

Test(death_psref, concurrent_destroys, .init = setup, .signal = SIGABRT)
{
	death_expect("being destroyed by another thread");
	pthread_t h, d;

	pthread_create(&h, NULL, hold_main, NULL);
	while (!atomic_load(&holding))
		usleep(1000);
	pthread_create(&d, NULL, destroy_main, NULL);
	while (atomic_load(&target.prt_draining) == 0)
		usleep(1000);
	psref_target_destroy(&target, c);
}

static void *
exit_holding_main(void *arg)
{
	struct psref p;

	(void)arg;
	take(&p, &target);
	return NULL; /* exits holding p */
}

Test(death_psref, thread_exit_holding_a_reference, .init = setup,
    .signal = SIGABRT)
{
	death_expect("thread exited holding");
	pthread_t t;

	pthread_create(&t, NULL, exit_holding_main, NULL);
	pthread_join(t, NULL);
}

Test(death_psref, unregister_holding_a_reference, .init = setup,
    .signal = SIGABRT)
{
	death_expect("mpsafe_thread_unregister holding");
	take(&ref, &target);
	(void)mpsafe_thread_unregister();
}

Test(death_psref, class_destroy_with_live_targets, .init = setup,
    .signal = SIGABRT)
{
	death_expect("targets alive");
	psref_class_destroy(c);
}

Test(
    death_psref, copy_of_a_reference_not_held, .init = setup, .signal = SIGABRT)
{
	death_expect("that the calling thread does not hold");
	struct psref p;

	take(&ref, &target);
	psref_release(&ref, &target, c);
	psref_copy(&p, &ref, c);
}

Test(death_psref, release_with_another_class, .init = setup, .signal = SIGABRT)
{
	death_expect("the target belongs to another class");
	struct psref_class *c2 = psref_class_create("other");

	take(&ref, &target);
	psref_release(&ref, &target, c2);
}

Test(death_psref, copy_into_a_psref_in_use, .init = setup, .signal = SIGABRT)
{
	death_expect("psref_copy into psref");
	struct psref p;

	take(&ref, &target);
	take(&p, &other);
	psref_copy(&p, &ref, c);
}

/*
 * "name is kept, truncated to 15 characters, for diagnostic messages":
 * a 15-character name appears whole in a message, and a 16-character one
 * loses exactly its last character (the phrase ends with the text that
 * follows the name, so a longer or shorter name does not match).
 */
static void
destroy_live_class_named(const char *name)
{
	struct psref_class *k = psref_class_create(name);
	static struct psref_target t;

	psref_target_init(&t, k);
	psref_class_destroy(k);
}

Test(death_psref, class_name_of_15_characters_is_kept, .signal = SIGABRT)
{
	death_expect("class abcdefghijklmno with 1 targets alive");
	destroy_live_class_named("abcdefghijklmno");
}

Test(death_psref, class_name_of_16_characters_is_cut_to_15, .signal = SIGABRT)
{
	death_expect("class abcdefghijklmno with 1 targets alive");
	destroy_live_class_named("abcdefghijklmnop");
}
