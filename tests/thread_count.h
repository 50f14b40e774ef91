/*
 * thread_count.h: how many threads the process has (Linux:
 * /proc/self/task), for tests that check no thread is left running.
 *
 * A joined thread can stay listed for a moment: the kernel wakes the
 * joiner when it clears the thread's id, before it reaps the thread.
 * thread_count_settled() therefore waits (up to 5 s) for the count to
 * reach the expected value.  A thread left running stays for good, so
 * the wait hides no leak: the caller's assertion still fails.
 */
#ifndef MPSAFE_TESTS_THREAD_COUNT_H
#define MPSAFE_TESTS_THREAD_COUNT_H

#include <dirent.h>
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

/* The thread count once it equals want, or whatever it is after 5 s. */
static inline int
thread_count_settled(int want)
{
	const struct timespec ten_ms = {0, 10 * 1000000L};
	int n = thread_count();

	for (int i = 0; i < 500 && n != want; i++) {
		nanosleep(&ten_ms, NULL);
		n = thread_count();
	}
	return n;
}

#endif /* MPSAFE_TESTS_THREAD_COUNT_H */
