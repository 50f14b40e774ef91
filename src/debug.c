/*
 * debug.c: random delays at marked points (MPSAFE_DEBUG_YIELD builds).
 *
 * Algorithm.  Each call draws from a per-thread xorshift generator seeded
 * from the thread's address and the clock: about one call in 8 yields the
 * CPU, one in 64 spins up to a few thousand pauses, the rest return at
 * once.  The delays only reorder the library's steps against other
 * threads; they change no state, so every invariant of the library holds
 * with or without them, and a race that needs a thread to stall between
 * two steps becomes likely instead of rare.
 */
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "mpsafe_impl.h"

#ifdef MPSAFE_DEBUG_YIELD
static __thread uint64_t yield_state;

static uint64_t
yield_next(void)
{
	uint64_t x = yield_state;

	if (x == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)(uintptr_t)&yield_state ^
		    ((uint64_t)ts.tv_nsec << 17) ^ (uint64_t)ts.tv_sec;
		x |= 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	yield_state = x;
	return x;
}

void
mpsafe_debug_yield(void)
{
	uint64_t r = yield_next();

	if ((r & 7) == 0) {
		sched_yield();
	} else if ((r & 63) == 1) {
		unsigned spins = (unsigned)(r >> 8) & 4095;

		for (unsigned i = 0; i < spins; i++)
			mpsafe_cpu_relax();
	}
}
#endif
