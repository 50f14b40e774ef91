/*
 * test_registry.c: the thread registry shared by all primitives: implicit
 * and explicit registration, thread exit, record reuse across many short
 * threads, the ordering-mode switch, and fork() with readers running.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

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
