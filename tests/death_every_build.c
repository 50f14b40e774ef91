/*
 * death_every_build.c: the rules of the primitives that every build
 * enforces, release builds included (no MPSAFE_DIAGNOSTIC): breaking
 * each would corrupt memory or let a wait end early, so the check stays
 * on.  Each test breaks one rule and expects SIGABRT; in test builds
 * (MPSAFE_FAULT_INJECTION) death_expect() also checks the message.
 * The other rules' death tests are in death_<primitive>.c, built only
 * with MPSAFE_DIAGNOSTIC.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>

#include "death_expect.h"
#include "thread_state.h"

TestSuite(death_every_build, .timeout = 30);

/* --- pserialize ---------------------------------------------------------- */

struct inflight {
	pserialize_t psz;
	_Atomic long tid; /* the writer's kernel id, once it runs */
	_Atomic int started;
};

static void *
perform_main(void *arg)
{
	struct inflight *f = arg;

	atomic_store(&f->tid, thread_state_self());
	atomic_store(&f->started, 1);
	pserialize_perform(f->psz);
	return NULL;
}

static _Atomic int reader_in;

static void *
reader_main(void *arg)
{
	(void)arg;
	int s = pserialize_read_enter();
	atomic_store(&reader_in, 1);
	for (;;)
		sched_yield(); /* holds the writer in its grace period */
	pserialize_read_exit(s);
	return NULL;
}

Test(death_every_build, destroy_while_perform_in_progress, .signal = SIGABRT)
{
	death_expect("pserialize_destroy while pserialize_perform");
	struct inflight f = {.psz = pserialize_create()};
	pthread_t r, w;

	pthread_create(&r, NULL, reader_main, NULL);
	while (!atomic_load(&reader_in))
		sched_yield();
	pthread_create(&w, NULL, perform_main, &f);
	while (!atomic_load(&f.started))
		sched_yield();
	/*
	 * The writer blocks nowhere but in pserialize_perform, where it
	 * sleeps on the reader: once it is asleep, the call is in progress.
	 */
	if (!thread_state_wait_asleep(atomic_load(&f.tid)))
		cr_skip_test("cannot see whether the writer is asleep");
	pserialize_destroy(f.psz);
}

/* --- localcount ---------------------------------------------------------- */

static void *
lc_release_main(void *arg)
{
	localcount_release(arg);
	return NULL;
}

/* More releases than acquires, found when drain adds the counters up. */
Test(death_every_build, underflow_found_by_drain, .signal = SIGABRT)
{
	death_expect("more releases than acquires");
	struct localcount lc;

	localcount_init(&lc);
	localcount_acquire(&lc);
	localcount_release(&lc);
	localcount_release(&lc);
	localcount_drain(&lc);
}

/*
 * No test for total_add()'s "the count of %p fell to %lld" check
 * (src/localcount.c): a release meets it only when the shared total is
 * already zero while the count still reads DRAINING, that is, between the
 * release (or drain fold) that reached zero and its move of the state to
 * DRAINED.  Only two racing releases get there; one release too many
 * after the last is found by release_after_drain's check (the state is
 * DRAINED by then) or, before the fold, by underflow_found_by_drain's.  No
 * test hook holds a release inside that window, so there is no
 * deterministic test of it.
 */

Test(death_every_build, release_after_drain, .signal = SIGABRT)
{
	death_expect("after localcount_drain returned: more releases");
	struct localcount lc;
	pthread_t t;

	localcount_init(&lc);
	localcount_acquire(&lc);
	pthread_create(&t, NULL, lc_release_main, &lc);
	pthread_join(t, NULL);
	localcount_drain(&lc);
	localcount_release(&lc);
}
