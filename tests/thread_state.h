/*
 * thread_state.h: wait until another thread of the process is asleep in
 * the kernel (Linux: the state field of /proc/self/task/TID/stat), for
 * death tests that must break a rule while a call is blocked.
 *
 * Why a state and not a count of yields: a test that yields N times and
 * assumes the other thread has got there meanwhile fails on a busy host.
 * A thread whose only blocking point is the call under test is asleep
 * ('S') only inside that call, so seeing 'S' proves it is there.
 */
#ifndef MPSAFE_TESTS_THREAD_STATE_H
#define MPSAFE_TESTS_THREAD_STATE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The calling thread's kernel id, or -1 where there is none to read. */
static inline long
thread_state_self(void)
{
#ifdef __linux__
	return syscall(SYS_gettid);
#else
	return -1;
#endif
}

/* The state letter of thread tid ('R', 'S', 'D', ...), or 0 if unknown. */
static inline char
thread_state_of(long tid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	if (tid < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2];
}

/*
 * Wait until thread tid sleeps ('S'), polling every millisecond.
 * Returns false if the state cannot be read (not Linux, no /proc);
 * otherwise waits for as long as it takes (the test's watchdog bounds it).
 */
static inline bool
thread_state_wait_asleep(long tid)
{
	const struct timespec one_ms = {0, 1000000L};
	char s;

	while ((s = thread_state_of(tid)) != 'S') {
		if (s == 0)
			return false;
		nanosleep(&one_ms, NULL);
	}
	return true;
}

#endif /* MPSAFE_TESTS_THREAD_STATE_H */
