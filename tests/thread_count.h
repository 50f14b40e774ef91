/*
 * thread_count.h: how many threads the process has (Linux:
 * /proc/self/task), for tests that check no thread is left running.
 *
 * A joined thread can stay listed for a moment: the kernel wakes the
 * joiner when it clears the thread's id, before it reaps the thread.
 * thread_count_settled() therefore waits (up to 5 s) for the count to
 * reach the expected value.  A thread left running stays for good, so
 * the wait hides no leak: the caller's assertion still fails.
 *
 * Sanitizer runtimes start threads of their own: gcc 12's ThreadSanitizer
 * one at fork and one at the first pthread_create().  thread_count_warm()
 * counts after a throwaway thread, so that such threads are already
 * there and a settled count is reached at once rather than after 5 s.
 */
#ifndef MPSAFE_TESTS_THREAD_COUNT_H
#define MPSAFE_TESTS_THREAD_COUNT_H

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Threads of the process now, or -1 where /proc cannot be read. */
static inline int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static inline void *
thread_count_nop(void *arg)
{
	return arg;
}

/* The thread count after a throwaway thread has run (see above). */
static inline int
thread_count_warm(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, thread_count_nop, NULL) == 0)
		pthread_join(th, NULL);
	return thread_count();
}

/*
 * The thread count once it equals want, or whatever it is after 5 s (of
 * the monotonic clock: a loaded machine does not stretch the wait).
 */
static inline int
thread_count_settled(int want)
{
	const struct timespec ten_ms = {0, 10 * 1000000L};
	struct timespec start, now;
	int n = thread_count();

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n != want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* 64-bit: a long of 32 bits holds 2.1 s of nanoseconds. */
		if ((int64_t)(now.tv_sec - start.tv_sec) * 1000000000 +
		        (now.tv_nsec - start.tv_nsec) >=
		    INT64_C(5000000000))
			break;
		nanosleep(&ten_ms, NULL);
		n = thread_count();
	}
	return n;
}

#endif /* MPSAFE_TESTS_THREAD_COUNT_H */
