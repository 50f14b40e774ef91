/*
 * wait_flag.h: wait, with a deadline, for another thread to set a flag.
 * Tests that check a call does return (a drain, a producer woken by a
 * limit change) assert on this instead of blocking, so a hang is a failed
 * assertion with a message rather than a watchdog kill.
 */
#ifndef MPSAFE_TESTS_WAIT_FLAG_H
#define MPSAFE_TESTS_WAIT_FLAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/* Wait up to seconds for *flag; false if it was not set in time. */
static inline bool
flag_within(_Atomic int *flag, long seconds)
{
	const struct timespec ms = {0, 1000000};
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(flag)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= seconds)
			return false;
		nanosleep(&ms, NULL);
	}
	return true;
}

#endif /* MPSAFE_TESTS_WAIT_FLAG_H */
