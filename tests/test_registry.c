/*
 * test_registry.c: the thread registry shared by all primitives: implicit
 * and explicit registration, thread exit (also with the program's own
 * pthread key destructors using read sections), record reuse across many
 * short threads, the ordering-mode switch (and when it is refused),
 * fork() with readers running, read sections in signal handlers that
 * wake writers, and handlers that run while their thread waits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#include "death_expect.h"
#include "thread_state.h"

TestSuite(registry, .timeout = 60);

Test(registry, implicit_registration_on_first_read_section)
{
	cr_assert_not(mpsafe_thread_registered());
	int s = pserialize_read_enter();
	cr_assert(mpsafe_thread_registered());
	cr_assert(pserialize_in_read_section());
	pserialize_read_exit(s);
	cr_assert(pserialize_not_in_read_section());
	cr_assert_eq(mpsafe_thread_register(), EALREADY);
}

Test(registry, explicit_register_and_unregister)
{
	cr_assert_eq(mpsafe_thread_unregister(), EINVAL);
	cr_assert_eq(mpsafe_thread_register(), 0);
	cr_assert(mpsafe_thread_registered());
	cr_assert_eq(mpsafe_thread_register(), EALREADY);
	cr_assert_eq(mpsafe_thread_unregister(), 0);
	cr_assert_not(mpsafe_thread_registered());
	cr_assert_eq(mpsafe_thread_unregister(), EINVAL);
	/* A thread may register again, and read again. */
	int s = pserialize_read_enter();
	cr_assert(pserialize_in_read_section());
	pserialize_read_exit(s);
}

static _Atomic unsigned short_count;

static void *
short_reader(void *arg)
{
	pserialize_t psz = arg;
	int s = pserialize_read_enter();
	pserialize_read_exit(s);
	/* Every other thread also waits for a grace period. */
	if (atomic_fetch_add(&short_count, 1) & 1)
		pserialize_perform(psz);
	return NULL;
}

/*
 * Threads that exit are unregistered and their records reused: a writer
 * waiting for a grace period never waits on a dead thread, and memory
 * stays bounded (checked under ASan's leak checker too).
 */
Test(registry, many_short_lived_threads)
{
	pserialize_t psz = pserialize_create();

	for (int round = 0; round < 200; round++) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			cr_assert_eq(
			    pthread_create(&t[i], NULL, short_reader, psz), 0);
		pserialize_perform(psz);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	pserialize_perform(psz);
	pserialize_destroy(psz);
}

static void *
register_then_exit(void *arg)
{
	_Atomic int *registered = arg;
	cr_assert_eq(mpsafe_thread_register(), 0);
	atomic_store(registered, 1);
	return NULL;
}

/* A thread that exits while registered (not in a section) is cleaned up. */
Test(registry, exit_while_registered_is_cleaned_up)
{
	pthread_t t;
	_Atomic int registered = 0;
	pserialize_t psz = pserialize_create();

	cr_assert_eq(
	    pthread_create(&t, NULL, register_then_exit, &registered), 0);
	pthread_join(t, NULL);
	cr_assert(atomic_load(&registered));
	/* With the thread gone, the mode switch sees no other thread. */
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), 0);
	pserialize_perform(psz);
	pserialize_destroy(psz);
}

static _Atomic int hold_stop;

static void *
hold_registered(void *arg)
{
	_Atomic int *ready = arg;
	(void)mpsafe_thread_register();
	atomic_store(ready, 1);
	while (!atomic_load(&hold_stop))
		sched_yield();
	return NULL;
}

Test(registry, ordering_switch_refused_while_others_registered)
{
	pthread_t t;
	_Atomic int ready = 0;

	cr_assert_eq(mpsafe_set_ordering((enum mpsafe_ordering)99), EINVAL);
	cr_assert_eq(pthread_create(&t, NULL, hold_registered, &ready), 0);
	while (!atomic_load(&ready))
		sched_yield();
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), EBUSY);
	atomic_store(&hold_stop, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), 0);
	cr_assert_eq(mpsafe_get_ordering(), MPSAFE_ORDERING_FENCE);
	/* Refused from inside a read section too. */
	int s = pserialize_read_enter();
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), EBUSY);
	pserialize_read_exit(s);
}

Test(registry, environment_forces_fence_mode)
{
	/* Criterion runs each test in a fresh process: the mode is unset. */
	setenv("MPSAFE_ORDERING", "fence", 1);
	cr_assert_eq(mpsafe_get_ordering(), MPSAFE_ORDERING_FENCE);
}

static _Atomic int performers_started;

static void *
perform_main(void *arg)
{
	atomic_fetch_add(&performers_started, 1);
	pserialize_perform(arg);
	return NULL;
}

/*
 * fork() while a writer sleeps on the forking thread's read section,
 * then, in the child, grace periods that sleep on the same word and are
 * woken by the section's exit.  With the portable sleep (no futex: the
 * build a non-Linux platform gets, run by `make portability`) the
 * parent's sleeper stayed counted in its bucket's condition variable,
 * and the child's second wake-up blocked for ever.  The pauses give the
 * writers time to go to sleep (they spin and yield first); a writer
 * that has not slept yet makes the round pass without reaching the case.
 */
Test(registry, fork_while_a_writer_sleeps)
{
	pserialize_t psz = pserialize_create();
	struct timespec pause = {0, 100 * 1000 * 1000};
	pthread_t w;
	pid_t pid;
	int s, status;

	if (getenv("MPSAFE_TEST_EMULATED") != NULL)
		cr_skip_test("fork of a threaded program under qemu-user");
#if defined(__SANITIZE_THREAD__)
	cr_skip_test("the child starts threads (ThreadSanitizer kills it)");
#endif
	s = pserialize_read_enter();
	cr_assert_eq(pthread_create(&w, NULL, perform_main, psz), 0);
	/* Past its start before fork (see test_lifecycle.c's fork). */
	while (atomic_load(&performers_started) == 0)
		sched_yield();
	nanosleep(&pause, NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		alarm(20); /* a hang fails the test, not the suite's timeout */
		for (int round = 0; round < 3; round++) {
			pthread_t w2;

			if (pthread_create(&w2, NULL, perform_main, psz) != 0)
				_exit(2);
			nanosleep(&pause, NULL);
			pserialize_read_exit(s); /* wakes w2 */
			pthread_join(w2, NULL);
			s = pserialize_read_enter();
		}
		pserialize_read_exit(s);
		_exit(0);
	}
	pserialize_read_exit(s);
	pthread_join(w, NULL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child hung or failed (status %#x)", status);
	pserialize_destroy(psz);
}

static _Atomic int fork_readers_stop;

static void *
busy_reader(void *arg)
{
	(void)arg;
	while (
	    !atomic_load_explicit(&fork_readers_stop, memory_order_relaxed)) {
		int s = pserialize_read_enter();
		int s2 = pserialize_read_enter(); /* often inside at fork */
		pserialize_read_exit(s2);
		pserialize_read_exit(s);
	}
	return NULL;
}

/*
 * fork() while other threads are inside read sections: the child has one
 * thread, and its grace periods must not wait for the parent's readers.
 */
Test(registry, fork_with_readers_running)
{
	pthread_t t[3];
	pserialize_t psz = pserialize_create();

	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, busy_reader, NULL), 0);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			int ok = 1;
			for (int i = 0; i < 10; i++) {
				int s = pserialize_read_enter();
				ok &= pserialize_in_read_section();
				pserialize_read_exit(s);
				pserialize_perform(psz);
			}
			_exit(ok ? 0 : 1);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "child of fork() failed or hung (status %#x)", status);
		pserialize_perform(psz);
	}
	atomic_store(&fork_readers_stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pserialize_destroy(psz);
}

/*
 * Thread exit and the program's own pthread keys, created after the
 * library started: their destructors run after the library's in each
 * pass, and may leave a read section the thread is still in, or start
 * one.
 */
static pthread_key_t user_key;
static _Atomic int *_Atomic key_obj;
static _Atomic int key_in_section, key_perform_returned;
static _Atomic int key_saw_returned = -1, key_saw_value;

static void
key_leave_section(void *arg)
{
	int s = (int)(intptr_t)arg;

	/* Give a writer that does not wait for us time to return. */
	for (int i = 0; i < 200 && !atomic_load(&key_perform_returned); i++)
		usleep(1000);
	atomic_store(&key_saw_returned, atomic_load(&key_perform_returned));
	atomic_store(&key_saw_value, *atomic_load(&key_obj));
	pserialize_read_exit(s);
}

static void *
enter_and_exit_thread(void *arg)
{
	(void)arg;
	int s = pserialize_read_enter();
	(void)atomic_load(&key_obj); /* found it; the destructor uses it */
	if (pthread_setspecific(user_key, (void *)(intptr_t)s) != 0)
		abort();
	atomic_store(&key_in_section, 1);
	return NULL; /* still in the section: the destructor leaves it */
}

Test(registry, read_section_left_in_a_later_pthread_key_destructor)
{
	_Atomic int *o = malloc(sizeof(*o));
	pserialize_t psz = pserialize_create(); /* the library starts */
	pthread_t t;

	atomic_store(o, 42);
	atomic_store(&key_obj, o);
	cr_assert_eq(pthread_key_create(&user_key, key_leave_section), 0);
	cr_assert_eq(pthread_create(&t, NULL, enter_and_exit_thread, NULL), 0);
	while (!atomic_load(&key_in_section))
		usleep(100);
	pserialize_perform(psz); /* waits for the destructor's exit */
	atomic_store(&key_perform_returned, 1);
	atomic_store(o, -1); /* "freed" */
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&key_saw_returned), 0,
	    "pserialize_perform returned while an exiting thread's pthread "
	    "key destructor was still inside its read section");
	cr_assert_eq(atomic_load(&key_saw_value), 42);
	pserialize_perform(psz);
	pserialize_destroy(psz);
	free(o);
	pthread_key_delete(user_key);
}

static _Atomic unsigned key_passes;

/* Enters a read section on the pass given by arg (0: every pass). */
static void
key_read_on_pass(void *arg)
{
	unsigned want = (unsigned)(uintptr_t)arg;
	unsigned pass = atomic_fetch_add(&key_passes, 1) + 1;

	if (want == 0 || pass == want) {
		int s = pserialize_read_enter();
		pserialize_read_exit(s);
	}
	/* Ask for one more pass, as far as the system allows. */
	(void)pthread_setspecific(user_key, arg);
}

static void *
register_and_set_key(void *arg)
{
	(void)mpsafe_thread_register();
	if (pthread_setspecific(user_key, arg) != 0)
		abort();
	return NULL;
}

/*
 * A destructor that registers the thread again on a later pass: the
 * library's destructor sees it on the next pass and unregisters it.
 */
Test(registry, reregistered_in_a_later_pthread_key_destructor)
{
	pserialize_t psz = pserialize_create();
	pthread_t t;

	cr_assert_eq(pthread_key_create(&user_key, key_read_on_pass), 0);
	cr_assert_eq(pthread_create(
	                 &t, NULL, register_and_set_key, (void *)(uintptr_t)2),
	    0);
	pthread_join(t, NULL);
	cr_assert_geq(atomic_load(&key_passes), 2);
	/* Nothing is left registered. */
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_FENCE), 0);
	pserialize_perform(psz);
	pserialize_destroy(psz);
	pthread_key_delete(user_key);
}

/*
 * On the last pass the library's destructor has run for the last time:
 * a registration then would leave a record in use for ever, pointing at
 * the dead thread's TLS.  It aborts instead.
 */
Test(registry, registration_after_the_last_destructor_pass_aborts,
    .signal = SIGABRT)
{
	death_expect("after the library's last thread-exit pass");
	pthread_t t;

	(void)mpsafe_get_ordering(); /* the library starts */
	cr_assert_eq(pthread_key_create(&user_key, key_read_on_pass), 0);
	cr_assert_eq(pthread_create(&t, NULL, register_and_set_key,
	                 (void *)(uintptr_t)PTHREAD_DESTRUCTOR_ITERATIONS),
	    0);
	pthread_join(t, NULL);
}

static void *
set_key_only(void *arg)
{
	if (pthread_setspecific(user_key, arg) != 0)
		abort();
	return NULL;
}

static _Atomic int idle_stop;

static void *
idle_unregistered(void *arg)
{
	(void)arg;
	while (!atomic_load(&idle_stop))
		sched_yield();
	return NULL;
}

/*
 * Broken contract, bounded harm: a thread whose first use of the library
 * is on the last destructor pass leaves its record registered (the
 * library cannot tell that pass from an earlier one).  A new thread then
 * typically reuses its cached stack and TLS, where the word reads "not
 * registered" until that thread registers.  Grace periods must not wait
 * on such a word (until 2026-12-01 they waited for ever).
 */
Test(registry, first_use_on_the_last_destructor_pass_stalls_no_grace_period)
{
	pserialize_t psz;
	pthread_t t, u;

#if defined(__SANITIZE_THREAD__)
	/*
	 * ThreadSanitizer finishes a thread's own state in a key destructor
	 * too; instrumented code on what it took for the last pass crashes
	 * inside its runtime (the broken contract this test covers).
	 */
	cr_skip_test("the thread's last destructor pass outlives TSan's");
#endif
	psz = pserialize_create();

	(void)mpsafe_get_ordering(); /* the library's key comes first */
	cr_assert_eq(pthread_key_create(&user_key, key_read_on_pass), 0);
	cr_assert_eq(pthread_create(&t, NULL, set_key_only,
	                 (void *)(uintptr_t)PTHREAD_DESTRUCTOR_ITERATIONS),
	    0);
	pthread_join(t, NULL);
	cr_assert_geq(atomic_load(&key_passes), PTHREAD_DESTRUCTOR_ITERATIONS);
	cr_assert_eq(pthread_create(&u, NULL, idle_unregistered, NULL), 0);
	pserialize_perform(psz); /* the watchdog fails a wait for ever */
	atomic_store(&idle_stop, 1);
	pthread_join(u, NULL);
	pserialize_destroy(psz);
}

/*
 * The mode cannot change while a grace period runs: the writer's barrier
 * and the readers' must be of one mode.  The writer does not register, so
 * the caller is the only registered thread.  The caller makes the writer
 * sleep on its read section, leaves it and asks at once; the writer
 * usually has not finished by then, so at least one try is refused.
 */
static _Atomic int gp_writer_stop;

static void *
gp_writer(void *arg)
{
	pserialize_t psz = arg;

	while (!atomic_load(&gp_writer_stop))
		pserialize_perform(psz);
	return NULL;
}

Test(registry, ordering_switch_refused_during_a_grace_period)
{
	pserialize_t psz = pserialize_create();
	pthread_t t;
	int busy = 0;

	cr_assert_eq(mpsafe_thread_register(), 0);
	cr_assert_eq(pthread_create(&t, NULL, gp_writer, psz), 0);
	for (int i = 0; i < 200 && busy == 0; i++) {
		int s = pserialize_read_enter();

		while (atomic_load(&mpsafe_reader_self.mr_waiters) == 0)
			sched_yield(); /* the writer sleeps on our section */
		pserialize_read_exit(s);
		busy = mpsafe_set_ordering(MPSAFE_ORDERING_FENCE) == EBUSY;
	}
	atomic_store(&gp_writer_stop, 1);
	pthread_join(t, NULL);
	cr_assert(busy, "the mode changed while a grace period ran");
	pserialize_destroy(psz);
}

/*
 * Read sections in a signal handler of a registered thread, whose exits
 * wake a sleeping writer while the interrupted code's own exit may be in
 * the middle of waking it.  Without futex(2) (the portability tier's
 * fallback build) the wake takes a parking-lot mutex, and a handler that
 * interrupted its own thread's wake deadlocked on it within seconds: the
 * joins below then hang and the watchdog fails the test.
 */
static atomic_int sig_stop, sig_registered;
static atomic_ulong sig_sections;
static pthread_t sig_reader_thread;

static void
sig_handler(int sig)
{
	int s = pserialize_read_enter();

	(void)sig;
	pserialize_read_exit(s);
	atomic_fetch_add_explicit(&sig_sections, 1, memory_order_relaxed);
}

static void
sig_spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		continue;
}

static void *
sig_reader(void *arg)
{
	sigset_t usr1;

	(void)arg;
	cr_assert_eq(mpsafe_thread_register(), 0);
	atomic_store(&sig_registered, 1); /* the handler may run from now */
	while (!atomic_load(&sig_stop)) {
		int s = pserialize_read_enter();

		sig_spin(20000); /* long enough that the writer sleeps */
		pserialize_read_exit(s);
	}
	/* A signal still pending must not run after the unregistration. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
	cr_assert_eq(mpsafe_thread_unregister(), 0);
	return NULL;
}

static void *
sig_writer(void *arg)
{
	while (!atomic_load(&sig_stop))
		pserialize_perform(arg);
	return NULL;
}

static void *
sig_sender(void *arg)
{
	(void)arg;
	/* A handler's section on an unregistered thread breaks the rule. */
	while (!atomic_load(&sig_registered))
		sched_yield();
	while (!atomic_load(&sig_stop)) {
		pthread_kill(sig_reader_thread, SIGUSR1);
		sig_spin(200);
	}
	return NULL;
}

Test(registry, read_sections_in_a_signal_handler_wake_writers)
{
	struct sigaction sa = {.sa_handler = sig_handler}, old;
	const struct timespec run = {2, 0};
	pserialize_t psz;
	pthread_t w, k;

	/*
	 * Under qemu-user (i386) the reader was seen exiting inside a read
	 * section, which needs a handler to run after it has blocked the
	 * signal; qemu's signal emulation is not what this test checks.
	 */
	if (getenv("MPSAFE_TEST_EMULATED") != NULL)
		cr_skip_test("signal delivery under qemu-user");
	psz = pserialize_create();
	cr_assert_not_null(psz);
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
	atomic_store(&sig_stop, 0);
	cr_assert_eq(
	    pthread_create(&sig_reader_thread, NULL, sig_reader, NULL), 0);
	cr_assert_eq(pthread_create(&w, NULL, sig_writer, psz), 0);
	cr_assert_eq(pthread_create(&k, NULL, sig_sender, NULL), 0);
	nanosleep(&run, NULL); /* the test's length, not a synchronisation */
	atomic_store(&sig_stop, 1);
	cr_assert_eq(pthread_join(k, NULL), 0);
	cr_assert_eq(pthread_join(sig_reader_thread, NULL), 0);
	cr_assert_eq(pthread_join(w, NULL), 0);
	cr_assert_gt(atomic_load(&sig_sections), 0, "no handler ran");
	cr_assert_eq(sigaction(SIGUSR1, &old, NULL), 0);
	pserialize_destroy(psz);
}

/*
 * A signal handler runs while its thread sleeps in a grace period, as it
 * does with futex(2): here the handler is what ends the wait (it tells
 * the reader to leave).  The fallback build's sleep once ran with every
 * signal blocked, and the wait never ended (the watchdog fails it).
 */
static atomic_int hs_stop, hs_in_section;
static _Atomic long hs_tid = -1;

static void
hs_handler(int sig)
{
	(void)sig;
	atomic_store(&hs_stop, 1);
}

static void *
hs_reader(void *arg)
{
	int s = pserialize_read_enter();

	(void)arg;
	atomic_store(&hs_in_section, 1);
	while (!atomic_load(&hs_stop))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

static void *
hs_writer(void *arg)
{
	atomic_store(&hs_tid, thread_state_self());
	pserialize_perform(arg);
	return NULL;
}

Test(registry, a_handler_runs_while_its_thread_waits_for_a_grace_period)
{
	struct sigaction sa = {.sa_handler = hs_handler}, old;
	pserialize_t psz = pserialize_create();
	pthread_t r, w;

	cr_assert_not_null(psz);
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR2, &sa, &old), 0);
	cr_assert_eq(pthread_create(&r, NULL, hs_reader, NULL), 0);
	while (!atomic_load(&hs_in_section))
		sched_yield();
	cr_assert_eq(pthread_create(&w, NULL, hs_writer, psz), 0);
	while (atomic_load(&hs_tid) == -1)
		sched_yield();
	if (!thread_state_wait_asleep(atomic_load(&hs_tid)))
		cr_skip_test("thread states cannot be read here");
	cr_assert_eq(pthread_kill(w, SIGUSR2), 0);
	cr_assert_eq(pthread_join(w, NULL), 0); /* hung: handler never ran */
	cr_assert_eq(pthread_join(r, NULL), 0);
	cr_assert_eq(sigaction(SIGUSR2, &old, NULL), 0);
	pserialize_destroy(psz);
}
