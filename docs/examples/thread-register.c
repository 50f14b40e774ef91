/*
 * thread-register.c: the thread registry of mpsafe_thread(3).  A worker
 * registers itself before its first, latency-sensitive look-up, so that
 * the look-up does not pay for the registration; the main thread is
 * registered implicitly by its first read section.  Built and run by the
 * example_thread_register test; mpsafe_thread(3) shows an excerpt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

static bool worker_ok;

static void *
worker(void *arg)
{
	int s;

	(void)arg;
	if (mpsafe_thread_register() != 0)
		return NULL;
	s = pserialize_read_enter(); /* no registration on this path */
	pserialize_read_exit(s);
	worker_ok = mpsafe_thread_registered();
	return NULL; /* unregistered at exit */
}

int
main(void)
{
	enum mpsafe_ordering mode;
	pthread_t t;
	bool ok;
	int s;

	s = pserialize_read_enter(); /* registers main implicitly */
	pserialize_read_exit(s);
	mode = mpsafe_get_ordering(); /* chosen at the first registration */
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	pthread_join(t, NULL);
	ok = worker_ok && mpsafe_thread_register() == EALREADY &&
	     (mode == MPSAFE_ORDERING_MEMBARRIER ||
	         mode == MPSAFE_ORDERING_FENCE);
	printf("thread-register: %s (%s ordering)\n", ok ? "ok" : "FAILED",
	    mode == MPSAFE_ORDERING_FENCE ? "fence" : "membarrier");
	return ok ? 0 : 1;
}
