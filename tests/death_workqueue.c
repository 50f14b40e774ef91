/*
 * death_workqueue.c: every rule of workqueue(3) whose breach the library
 * reports: each test breaks one rule and expects the process to abort
 * (SIGABRT) with a message naming it.  Built with MPSAFE_DIAGNOSTIC, as an
 * application's debug build would be.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpsafe/workqueue.h>

#include "death_expect.h"

TestSuite(death, .timeout = 30);

static _Atomic int gate_closed = 1;
static _Atomic int blocked;

/* Holds the worker until the process dies. */
static void
block_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
	atomic_store(&blocked, 1);
	while (atomic_load(&gate_closed))
		sched_yield();
}

static void
nop_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
}

Test(death, enqueue_twice, .signal = SIGABRT)
{
	death_expect("is already queued");
	static struct work hold, wk;
	struct workqueue *wq;

	workqueue_create(&wq, "dtwice", block_func, NULL, 0, 0);
	workqueue_enqueue(wq, &hold, NULL);
	while (!atomic_load(&blocked))
		sched_yield();
	workqueue_enqueue(wq, &wk, NULL); /* queued behind hold */
	workqueue_enqueue(wq, &wk, NULL);
}

Test(death, enqueue_twice_on_two_cpus, .signal = SIGABRT)
{
	death_expect("is already queued");
	static struct work hold[2], wk;
	struct workqueue *wq;

	if (mpsafe_ncpu() < 2)
		cr_skip_test("needs two CPUs");
	workqueue_create(&wq, "dtwice2", block_func, NULL, 0, WQ_PERCPU);
	workqueue_enqueue(wq, &hold[0], mpsafe_cpu_lookup(0));
	workqueue_enqueue(wq, &hold[1], mpsafe_cpu_lookup(1));
	workqueue_enqueue(wq, &wk, mpsafe_cpu_lookup(0));
	workqueue_enqueue(wq, &wk, mpsafe_cpu_lookup(1));
}

static struct workqueue *self_wq;

static void
wait_in_func(struct work *wk, void *arg)
{
	(void)arg;
	workqueue_wait(self_wq, wk); /* would wait for its own queue */
}

Test(death, wait_from_own_worker, .signal = SIGABRT)
{
	death_expect("from a worker of the same workqueue");
	static struct work wk;

	workqueue_create(&self_wq, "dwait", wait_in_func, NULL, 0, 0);
	workqueue_enqueue(self_wq, &wk, NULL);
	for (;;)
		sched_yield(); /* the worker aborts the process */
}

static void
wait_other_in_func(struct work *wk, void *arg)
{
	static struct work other;

	(void)wk;
	(void)arg;
	workqueue_wait(self_wq, &other); /* any item: still its own queue */
}

Test(death, wait_from_own_worker_percpu, .signal = SIGABRT)
{
	death_expect("from a worker of the same workqueue");
	static struct work wk;

	workqueue_create(
	    &self_wq, "dwaitpc", wait_other_in_func, NULL, 0, WQ_PERCPU);
	workqueue_enqueue(self_wq, &wk, NULL);
	for (;;)
		sched_yield();
}

static void
destroy_in_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
	workqueue_destroy(self_wq); /* would join itself */
}

Test(death, destroy_from_work_function, .signal = SIGABRT)
{
	death_expect("from a work function of the same workqueue");
	static struct work wk;

	workqueue_create(&self_wq, "ddestroy", destroy_in_func, NULL, 0, 0);
	workqueue_enqueue(self_wq, &wk, NULL);
	for (;;)
		sched_yield();
}

static void *
destroy_main(void *arg)
{
	workqueue_destroy(arg);
	return NULL;
}

Test(death, enqueue_during_destroy, .signal = SIGABRT)
{
	death_expect("workqueue_destroy has begun");
	static struct work hold;
	struct workqueue *wq;
	pthread_t t;

	workqueue_create(&wq, "ddying", block_func, NULL, 0, 0);
	workqueue_enqueue(wq, &hold, NULL);
	while (!atomic_load(&blocked))
		sched_yield();
	pthread_create(&t, NULL, destroy_main, wq);
	/*
	 * Until destroy marks the workqueue, an enqueue is legal: it queues
	 * a fresh item behind hold, which never ends.  So enqueue fresh items
	 * until one meets the mark; no count of yields is assumed enough.
	 */
	for (;;) {
		struct work *wk = calloc(1, sizeof(*wk));

		cr_assert_not_null(wk);
		workqueue_enqueue(wq, wk, NULL);
		sched_yield();
	}
}

Test(death, cpu_given_without_percpu, .signal = SIGABRT)
{
	death_expect("created without WQ_PERCPU");
	static struct work wk;
	struct workqueue *wq;

	workqueue_create(&wq, "dcpu", nop_func, NULL, 0, 0);
	workqueue_enqueue(wq, &wk, mpsafe_cpu_lookup(0));
}

Test(death, bogus_cpu_info, .signal = SIGABRT)
{
	death_expect("is not a struct cpu_info from mpsafe_cpu_lookup()");
	static struct work wk;
	static char junk[64];
	struct workqueue *wq;

	workqueue_create(&wq, "dbogus", nop_func, NULL, 0, WQ_PERCPU);
	workqueue_enqueue(wq, &wk, (struct cpu_info *)(void *)junk);
}

Test(death, enqueue_null_workqueue, .signal = SIGABRT)
{
	death_expect("workqueue_enqueue: NULL workqueue");
	static struct work wk;

	workqueue_enqueue(NULL, &wk, NULL);
}

Test(death, enqueue_null_work, .signal = SIGABRT)
{
	death_expect("workqueue_enqueue(dnull): NULL work");
	struct workqueue *wq;

	workqueue_create(&wq, "dnull", nop_func, NULL, 0, 0);
	workqueue_enqueue(wq, NULL, NULL);
}

/* Under a sanitizer, the sanitizer reports these uses after free itself. */
#ifndef UNDER_SANITIZER
Test(death, enqueue_after_destroy, .signal = SIGABRT)
{
	death_expect("is not a live workqueue (used after workqueue_destroy)");
	static struct work wk;
	struct workqueue *wq;

	workqueue_create(&wq, "dafter", nop_func, NULL, 0, 0);
	workqueue_destroy(wq);
	workqueue_enqueue(wq, &wk, NULL);
}

Test(death, wait_after_destroy, .signal = SIGABRT)
{
	death_expect("is not a live workqueue (used after workqueue_destroy)");
	static struct work wk;
	struct workqueue *wq;

	workqueue_create(&wq, "dafterw", nop_func, NULL, 0, WQ_PERCPU);
	workqueue_destroy(wq);
	workqueue_wait(wq, &wk);
}

Test(death, destroy_twice, .signal = SIGABRT)
{
	death_expect("is not a live workqueue (used after workqueue_destroy)");
	struct workqueue *wq;

	workqueue_create(&wq, "dtwiced", nop_func, NULL, 0, 0);
	workqueue_destroy(wq);
	workqueue_destroy(wq);
}
#endif

/*
 * WORKQUEUE_NAMELEN: "Longest name kept (longer names are truncated)".
 * The name shows in diagnostic messages; the phrase ends with the text
 * that follows the name, so a name cut shorter does not match.  A
 * workqueue named with n characters breaks a rule whose message names it.
 */
static void
enqueue_cpu_without_percpu_named(size_t n)
{
	static char name[WORKQUEUE_NAMELEN + 2];
	static char phrase[WORKQUEUE_NAMELEN + 64];
	static struct work wk;
	struct workqueue *wq;

	for (size_t i = 0; i < n; i++)
		name[i] = (char)('a' + i % 26);
	name[n] = '\0';
	snprintf(
	    phrase, sizeof(phrase), "workqueue_enqueue(%s): a CPU given", name);
	death_expect(phrase);
	cr_assert_eq(workqueue_create(&wq, name, nop_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &wk, mpsafe_cpu_lookup(0));
}

Test(death, name_one_shorter_than_namelen_is_kept, .signal = SIGABRT)
{
	enqueue_cpu_without_percpu_named(WORKQUEUE_NAMELEN - 1);
}

/*
 * At the limit itself: a name of WORKQUEUE_NAMELEN characters is the
 * longest kept, so it too appears whole.
 */
Test(death, name_of_namelen_characters_is_kept, .signal = SIGABRT)
{
	enqueue_cpu_without_percpu_named(WORKQUEUE_NAMELEN);
}
