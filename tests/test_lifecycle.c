/*
 * test_lifecycle.c: the primitives across the life of threads and
 * processes.
 *
 *  - fork() while other threads sit inside read sections, hold psrefs and
 *    localcount references, and have work running and queued on a
 *    workqueue: the child (only the forking thread survives) must be able
 *    to use every primitive, including grace periods that would otherwise
 *    wait for the vanished readers and psref_target_destroy of a target
 *    the vanished holder held; the parent carries on unharmed.
 *  - A thread that exits, or is cancelled, while registered (outside any
 *    read section) is unregistered: grace periods do not wait for it and
 *    its record is reused.  (Exit or cancellation inside a read section,
 *    or holding a psref, is a contract violation: death_lifecycle.c checks
 *    the diagnostic; builds without checks end the section, checked here.)
 *  - A thread cancelled while it waits for a grace period leaves the
 *    library usable: the cancellation acts after the call returns.
 *  - Many generations of threads register, use the primitives and exit
 *    while a writer runs grace periods: the registry stays as long as the
 *    most threads registered at once.
 *
 * The child reports through its exit status (its own checks call _exit
 * with the failing line), the parent asserts on it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/defer.h>
#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/psref.h>
#include <mpsafe/thread.h>
#include <mpsafe/workqueue.h>

#include "thread_state.h"

/* Library-private (src/thread.c; linked statically): the registry list. */
struct mpsafe_thread *mpsafe_registry_first(void);

TestSuite(lifecycle, .timeout = 120);

#define LIVE 0x4c495645u

struct obj {
	uint32_t o_magic;
	struct pslist_entry o_entry;
	struct psref_target o_target;
};

static struct pslist_head list = PSLIST_INITIALIZER;
static struct psref_class *class;
static pserialize_t psz;
static struct localcount shared_lc;
static atomic_int stop, walkers_in, parked_in, holder_in;

static unsigned
registry_length(void)
{
	unsigned n = 0;

	for (struct mpsafe_thread *t = mpsafe_registry_first(); t != NULL;
	     t = t->mt_next)
		n++;
	return n;
}

static struct obj *
obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	cr_assert_not_null(o);
	o->o_magic = LIVE;
	pslist_entry_init(&o->o_entry);
	psref_target_init(&o->o_target, class);
	return o;
}

/* Walk the list inside a section; false if an object is not live. */
static bool
walk_ok(void)
{
	bool ok = true;
	int s = pserialize_read_enter();

	for (struct pslist_entry *e = pslist_reader_first(&list); e != NULL;
	     e = pslist_reader_next(e)) {
		struct obj *o =
		    (struct obj *)(void *)((char *)e -
		                           offsetof(struct obj, o_entry));
		if (o->o_magic != LIVE)
			ok = false;
	}
	pserialize_read_exit(s);
	return ok;
}

static void *
walker_main(void *arg)
{
	(void)arg;
	if (!walk_ok())
		abort();
	atomic_fetch_add(&walkers_in, 1); /* started, registered: see fork */
	while (!atomic_load(&stop))
		if (!walk_ok())
			abort();
	return NULL;
}

/* Sits inside one read section until stop. */
static void *
parked_main(void *arg)
{
	int s = pserialize_read_enter();

	(void)arg;
	atomic_store(&parked_in, 1);
	while (!atomic_load(&stop))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

/* Holds a psref to the first object and a localcount reference. */
static void *
holder_main(void *arg)
{
	struct psref ref;
	struct obj *o;
	int s;

	(void)arg;
	s = pserialize_read_enter();
	o = (struct obj *)(void *)((char *)pslist_reader_first(&list) -
	                           offsetof(struct obj, o_entry));
	psref_acquire(&ref, &o->o_target, class);
	localcount_acquire(&shared_lc);
	pserialize_read_exit(s);
	atomic_store(&holder_in, 1);
	while (!atomic_load(&stop))
		sched_yield();
	localcount_release(&shared_lc);
	psref_release(&ref, &o->o_target, class);
	return NULL;
}

/* A work function that blocks until the gate opens. */
static atomic_int gate_open, gate_running, work_runs;

static void
gate_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
	atomic_store(&gate_running, 1);
	while (!atomic_load(&gate_open))
		sched_yield();
	atomic_fetch_add(&work_runs, 1);
}

/* --- the child ----------------------------------------------------------- */

#define CHILD_CHECK(cond)                                               \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "child: %s:%d: %s\n", __FILE__, \
			    __LINE__, #cond);                           \
			_exit(100 + (__LINE__ % 100));                  \
		}                                                       \
	} while (0)

static atomic_int child_work_runs, child_defers;

static void
child_work(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
	atomic_fetch_add(&child_work_runs, 1);
}

static void
child_defer(struct mpsafe_defer *d)
{
	free(d);
	atomic_fetch_add(&child_defers, 1);
}

static void *
child_thread(void *arg)
{
	(void)arg;
	return walk_ok() ? (void *)1 : NULL;
}

/* Where the child is, for its watchdog: a hang then names the step. */
static const char *volatile child_step = "start";

static void
child_watchdog(int sig)
{
	const char *p = child_step, pre[] = "child: hung in step: ";
	size_t n = 0;

	while (p[n] != '\0')
		n++;
	(void)!write(2, pre, sizeof(pre) - 1);
	(void)!write(2, p, n);
	(void)!write(2, "\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
child_main(struct obj *held)
{
	struct work items[64];
	struct workqueue *wq = NULL;
	struct localcount lc;
	struct psref ref;
	struct obj *o;
	pthread_t t;
	void *ret = NULL;
	int s;

	signal(SIGALRM, child_watchdog);
	alarm(30); /* watchdog: a hang kills the child, the parent sees it */

	/* Grace periods ignore the parent's readers (gone here). */
	child_step = "first grace period";
	pserialize_perform(psz);
	CHILD_CHECK(walk_ok());

	/* The vanished holder's psref is dropped: destroy does not wait. */
	child_step = "psref of the vanished holder";
	s = pserialize_read_enter();
	psref_acquire(&ref, &held->o_target, class);
	pserialize_read_exit(s);
	CHILD_CHECK(psref_held(&held->o_target, class));
	psref_release(&ref, &held->o_target, class);
	pslist_writer_remove(&held->o_entry);
	pserialize_perform(psz);
	psref_target_destroy(&held->o_target, class);

	/* pslist: a new object in, walked by a new thread. */
	child_step = "pslist walk by a new thread";
	o = obj_new();
	pslist_writer_insert_head(&list, &o->o_entry);
#ifndef MPSAFE_TSAN
	CHILD_CHECK(pthread_create(&t, NULL, child_thread, NULL) == 0);
	CHILD_CHECK(pthread_join(t, &ret) == 0 && ret == (void *)1);
#else
	(void)t;
	(void)ret;
	(void)child_thread;
	CHILD_CHECK(walk_ok());
#endif

	/* localcount: the parent's count still works; a new one drains. */
	child_step = "localcount";
	localcount_acquire(&shared_lc);
	localcount_release(&shared_lc);
	CHILD_CHECK(localcount_init(&lc) == 0);
	for (int i = 0; i < 10; i++)
		localcount_acquire(&lc);
	for (int i = 0; i < 10; i++)
		localcount_release(&lc);
	localcount_drain(&lc);
	localcount_fini(&lc);

#ifndef MPSAFE_TSAN
	/*
	 * Primitives that start threads.  Not under ThreadSanitizer, which
	 * cannot start threads in the child of a many-threaded process
	 * (its thread table keeps the parent's threads).
	 */
	/* workqueue: a new one, all items run. */
	child_step = "workqueue";
	CHILD_CHECK(workqueue_create(&wq, "child", child_work, NULL, 0,
	                WQ_PERCPU | WQ_MPSAFE) == 0);
	for (int i = 0; i < 64; i++)
		workqueue_enqueue(wq, &items[i], NULL);
	for (int i = 0; i < 64; i++)
		workqueue_wait(wq, &items[i]);
	workqueue_destroy(wq);
	CHILD_CHECK(atomic_load(&child_work_runs) == 64);

	/* Deferred reclamation: the reclaimer restarts here. */
	child_step = "deferred reclamation";
	for (int i = 0; i < 32; i++) {
		struct mpsafe_defer *d = malloc(sizeof(*d));

		CHILD_CHECK(d != NULL);
		CHILD_CHECK(mpsafe_defer(d, child_defer, sizeof(*d)) == 0);
	}
	CHILD_CHECK(mpsafe_defer_barrier() == 0);
	CHILD_CHECK(atomic_load(&child_defers) == 32);
#else
	(void)items;
	(void)wq;
	(void)child_work;
	(void)child_defer;
#endif

	/* Registration from scratch, and the ordering can be changed. */
	child_step = "re-registration";
	CHILD_CHECK(mpsafe_thread_unregister() == 0);
	CHILD_CHECK(mpsafe_thread_register() == 0);
	pserialize_perform(psz);
	_exit(0);
}

Test(lifecycle, fork_with_busy_threads)
{
	pthread_t walkers[2], parked, holder;
	struct workqueue *wq;
	struct work w1, w2;
	struct obj *a, *b;
	pid_t pid;
	int status;

	cr_assert_eq(mpsafe_thread_register(), 0);
	class = psref_class_create("lifecycle");
	psz = pserialize_create();
	cr_assert_not_null(class);
	cr_assert_not_null(psz);
	cr_assert_eq(localcount_init(&shared_lc), 0);
	a = obj_new();
	b = obj_new();
	pslist_writer_insert_head(&list, &b->o_entry);
	pslist_writer_insert_head(&list, &a->o_entry);

	for (int i = 0; i < 2; i++)
		cr_assert_eq(
		    pthread_create(&walkers[i], NULL, walker_main, NULL), 0);
	cr_assert_eq(pthread_create(&parked, NULL, parked_main, NULL), 0);
	cr_assert_eq(pthread_create(&holder, NULL, holder_main, NULL), 0);
	cr_assert_eq(workqueue_create(&wq, "busy", gate_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &w1, NULL);
	workqueue_enqueue(wq, &w2, NULL); /* queued behind the running one */
	/*
	 * Fork only once every thread runs its own loop, not its start.
	 * gcc 12's AddressSanitizer runtime does not hold its thread
	 * registry and allocator locks across fork(): a thread still
	 * starting (or registering, which allocates) when the parent forks
	 * may leave one held, and the child's first pthread_create() or
	 * calloc() then waits for ever.  Two CI runs hung so, in the step
	 * that starts the child's first thread; forking right after
	 * pthread_create() hangs 17 children of 20 in a throwaway program,
	 * waiting as here 0 of 400.  The library's own locks are taken
	 * across fork by its pthread_atfork() handlers (src/thread.c).
	 */
	while (atomic_load(&walkers_in) < 2 || !atomic_load(&parked_in) ||
	       !atomic_load(&holder_in) || !atomic_load(&gate_running))
		sched_yield();

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		child_main(a);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child killed by signal %d",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "child failed (status %d)",
	    WEXITSTATUS(status));

	/* The parent is unharmed: everything ends normally. */
	atomic_store(&gate_open, 1);
	workqueue_wait(wq, &w2);
	cr_assert_eq(atomic_load(&work_runs), 2);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(walkers[i], NULL), 0);
	cr_assert_eq(pthread_join(parked, NULL), 0);
	cr_assert_eq(pthread_join(holder, NULL), 0);
	workqueue_destroy(wq);
	pslist_writer_remove(&a->o_entry);
	pslist_writer_remove(&b->o_entry);
	pserialize_perform(psz);
	psref_target_destroy(&a->o_target, class);
	psref_target_destroy(&b->o_target, class);
	free(a);
	free(b);
	localcount_drain(&shared_lc);
	localcount_fini(&shared_lc);
	psref_class_destroy(class);
	pserialize_destroy(psz);
}

/* --- exit and cancellation while registered ------------------------------ */

static void *
register_and_exit(void *arg)
{
	(void)arg;
	if (mpsafe_thread_register() != 0)
		abort(); /* not cr_assert: not the test's thread */
	(void)walk_ok();
	return NULL; /* exits registered: the exit handler unregisters */
}

static void *
register_and_block(void *arg)
{
	atomic_int *ready = arg;

	if (mpsafe_thread_register() != 0)
		abort();
	atomic_store(ready, 1);
	for (;;)
		pause(); /* a cancellation point, outside any read section */
	return NULL;
}

Test(lifecycle, exit_and_cancel_while_registered)
{
	pthread_t t;
	atomic_int ready = 0;
	void *ret;
	unsigned len;

	psz = pserialize_create();
	cr_assert_not_null(psz);
	cr_assert_eq(mpsafe_thread_register(), 0);

	cr_assert_eq(pthread_create(&t, NULL, register_and_exit, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	len = registry_length();
	pserialize_perform(psz); /* does not wait for the gone thread */

	cr_assert_eq(pthread_create(&t, NULL, register_and_block, &ready), 0);
	while (!atomic_load(&ready))
		sched_yield();
	cr_assert_eq(registry_length(), len,
	    "the exited thread's record "
	    "was not reused");
	cr_assert_eq(pthread_cancel(t), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq(ret, PTHREAD_CANCELED);
	pserialize_perform(psz);

	/* Both records are free again: a new thread takes one. */
	cr_assert_eq(pthread_create(&t, NULL, register_and_exit, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(registry_length(), len);
	pserialize_destroy(psz);
}

/*
 * No library call is a cancellation point.  A thread cancelled while it
 * waits for a grace period another thread is running (pserialize_perform
 * sharing it, or mpsafe_thread_unregister waiting for the scan to end)
 * used to unwind out of the library's condition wait holding the grace
 * period lock: the running grace period, and every later one, then hung
 * (this test's watchdog).  The cancellation must act after the call.
 */
static atomic_int gpc_in_section, gpc_release;
static _Atomic long gpc_tid[2];

static void *
gpc_reader(void *arg)
{
	int s = pserialize_read_enter();

	(void)arg;
	atomic_store(&gpc_in_section, 1);
	while (!atomic_load(&gpc_release))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

/* arg: 0 the grace period's runner, 1 the thread that waits for it. */
static void *
gpc_perform(void *arg)
{
	atomic_store(&gpc_tid[(intptr_t)arg], thread_state_self());
	pserialize_perform(psz);
	pthread_testcancel();
	return NULL;
}

static void *
gpc_unregister(void *arg)
{
	(void)arg;
	if (mpsafe_thread_register() != 0)
		return NULL;
	atomic_store(&gpc_tid[1], thread_state_self());
	(void)mpsafe_thread_unregister();
	pthread_testcancel();
	return NULL;
}

static void
cancel_while_a_grace_period_runs(void *(*victim)(void *))
{
	pthread_t r, a, b;
	void *ret;

	atomic_store(&gpc_in_section, 0);
	atomic_store(&gpc_release, 0);
	atomic_store(&gpc_tid[0], -1);
	atomic_store(&gpc_tid[1], -1);
	psz = pserialize_create();
	cr_assert_not_null(psz);
	cr_assert_eq(pthread_create(&r, NULL, gpc_reader, NULL), 0);
	while (!atomic_load(&gpc_in_section))
		sched_yield();
	cr_assert_eq(pthread_create(&a, NULL, gpc_perform, (void *)0), 0);
	while (atomic_load(&gpc_tid[0]) == -1)
		sched_yield();
	if (!thread_state_wait_asleep(atomic_load(&gpc_tid[0])))
		cr_skip_test("thread states cannot be read here");
	/* a sleeps on the reader: its grace period runs. */
	cr_assert_eq(pthread_create(&b, NULL, victim, (void *)1), 0);
	while (atomic_load(&gpc_tid[1]) == -1)
		sched_yield();
	cr_assert(thread_state_wait_asleep(atomic_load(&gpc_tid[1])));
	cr_assert_eq(pthread_cancel(b), 0);
	atomic_store(&gpc_release, 1);
	cr_assert_eq(pthread_join(b, &ret), 0);
	cr_assert_eq(ret, PTHREAD_CANCELED,
	    "the cancellation was lost, not deferred to after the call");
	cr_assert_eq(pthread_join(a, NULL), 0);
	cr_assert_eq(pthread_join(r, NULL), 0);
	pserialize_perform(psz); /* hung when b left the lock held */
	pserialize_destroy(psz);
}

Test(lifecycle, cancel_while_perform_waits_for_a_grace_period)
{
	cancel_while_a_grace_period_runs(gpc_perform);
}

Test(lifecycle, cancel_while_unregister_waits_for_a_scan)
{
	cancel_while_a_grace_period_runs(gpc_unregister);
}

#ifndef MPSAFE_DIAGNOSTIC
/* Without contract checks, a cancelled reader's section ends by force. */
static void *
cancel_in_section(void *arg)
{
	atomic_int *ready = arg;

	(void)pserialize_read_enter();
	atomic_store(ready, 1);
	for (;;)
		pause();
	return NULL;
}

Test(lifecycle, cancel_inside_section_ends_it)
{
	pthread_t t;
	atomic_int ready = 0;

	psz = pserialize_create();
	cr_assert_not_null(psz);
	cr_assert_eq(pthread_create(&t, NULL, cancel_in_section, &ready), 0);
	while (!atomic_load(&ready))
		sched_yield();
	cr_assert_eq(pthread_cancel(t), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	pserialize_perform(psz); /* would hang if the section stayed open */
	pserialize_destroy(psz);
}
#endif

/* --- many generations ---------------------------------------------------- */

#define GEN_BATCH 8
#define GEN_ROUNDS 150

static atomic_uint gen_done;

static void *
generation_main(void *arg)
{
	struct psref ref;
	struct obj *o;
	int s;

	(void)arg;
	if (mpsafe_thread_registered() || !walk_ok())
		abort();
	s = pserialize_read_enter();
	o = (struct obj *)(void *)((char *)pslist_reader_first(&list) -
	                           offsetof(struct obj, o_entry));
	psref_acquire(&ref, &o->o_target, class);
	pserialize_read_exit(s);
	localcount_acquire(&shared_lc);
	if (o->o_magic != LIVE)
		abort();
	localcount_release(&shared_lc);
	psref_release(&ref, &o->o_target, class);
	atomic_fetch_add(&gen_done, 1);
	return NULL;
}

static void *
perform_main(void *arg)
{
	atomic_uint *n = arg;

	while (!atomic_load(&stop)) {
		pserialize_perform(psz);
		atomic_fetch_add(n, 1);
	}
	return NULL;
}

Test(lifecycle, many_generations)
{
	pthread_t batch[GEN_BATCH], writer;
	atomic_uint grace = 0;
	struct obj *o;
	unsigned most;

	class = psref_class_create("gen");
	psz = pserialize_create();
	cr_assert_eq(localcount_init(&shared_lc), 0);
	cr_assert_eq(mpsafe_thread_register(), 0);
	o = obj_new();
	pslist_writer_insert_head(&list, &o->o_entry);
	cr_assert_eq(pthread_create(&writer, NULL, perform_main, &grace), 0);
	for (int r = 0; r < GEN_ROUNDS; r++) {
		for (int i = 0; i < GEN_BATCH; i++)
			cr_assert_eq(pthread_create(&batch[i], NULL,
			                 generation_main, NULL),
			    0);
		for (int i = 0; i < GEN_BATCH; i++)
			cr_assert_eq(pthread_join(batch[i], NULL), 0);
	}
	atomic_store(&stop, 1);
	cr_assert_eq(pthread_join(writer, NULL), 0);
	cr_assert_eq(atomic_load(&gen_done), GEN_BATCH * GEN_ROUNDS);
	cr_assert_gt(atomic_load(&grace), 0);
	/* main, writer, one batch: no more records than that. */
	most = GEN_BATCH + 2;
	cr_assert_leq(registry_length(), most,
	    "%u records for at most %u "
	    "threads at once",
	    registry_length(), most);

	/* One thread re-registering many times keeps one record. */
	for (int i = 0; i < 10000; i++) {
		cr_assert_eq(mpsafe_thread_unregister(), 0);
		cr_assert_eq(mpsafe_thread_register(), 0);
	}
	cr_assert_leq(registry_length(), most);

	pslist_writer_remove(&o->o_entry);
	pserialize_perform(psz);
	psref_target_destroy(&o->o_target, class);
	free(o);
	localcount_drain(&shared_lc);
	localcount_fini(&shared_lc);
	psref_class_destroy(class);
	pserialize_destroy(psz);
	cr_log_info("%u thread generations, %u grace periods",
	    GEN_BATCH * GEN_ROUNDS, atomic_load(&grace));
}
