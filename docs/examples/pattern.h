/*
 * pattern.h: what the pattern examples (docs/examples/pattern-*.c) share:
 * step handshakes that fix the interleaving of their threads, and a
 * quarantine that stands in for free().
 *
 * Each example is built twice: as written, and with PATTERN_UNSAFE
 * defined, which removes the one line or ordering that makes it safe.
 * The handshakes put the threads in the order that makes the bug happen,
 * every run: a thread waits for a step that another thread posts, never
 * for time to pass.  A safe example ends with status 0.  An unsafe one
 * ends with PATTERN_EXIT_BUG when it observed the bug (what its test
 * expects), and 1 when it did not.
 *
 * The quarantine: an unsafe example "frees" an object that a reader still
 * uses.  Really freeing it would be undefined behaviour (and an
 * AddressSanitizer report); so pattern_free() poisons nothing itself,
 * and in the unsafe build keeps the memory until exit instead of freeing
 * it.  The caller stores PATTERN_POISON in the object first: a reader
 * that sees the poison has used memory that was already retired.
 */
#ifndef PATTERN_H
#define PATTERN_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define PATTERN_POISON 0x0dead
#define PATTERN_EXIT_BUG 3

/* Steps posted so far (bits); waiters sleep on step_cv or spin. */
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t step_cv = PTHREAD_COND_INITIALIZER;
static atomic_uint step_bits;

/* step_post(bit): announce a step; wakes every waiter. */
static inline void
step_post(unsigned bit)
{
	pthread_mutex_lock(&step_lock);
	/* Release: pairs with the acquire load in step_spin(). */
	atomic_fetch_or_explicit(&step_bits, bit, memory_order_release);
	pthread_cond_broadcast(&step_cv);
	pthread_mutex_unlock(&step_lock);
}

/* step_wait(mask): sleep until one of the steps in mask is posted. */
static inline unsigned
step_wait(unsigned mask)
{
	unsigned seen;

	pthread_mutex_lock(&step_lock);
	while (
	    ((seen = atomic_load_explicit(&step_bits, memory_order_relaxed)) &
	        mask) == 0)
		pthread_cond_wait(&step_cv, &step_lock);
	pthread_mutex_unlock(&step_lock);
	return seen & mask;
}

/*
 * step_spin(mask): as step_wait(), but never sleeps, for a thread inside a
 * read section (which must not block).
 */
static inline unsigned
step_spin(unsigned mask)
{
	unsigned seen;

	/* Acquire: pairs with the release in step_post(). */
	while (
	    ((seen = atomic_load_explicit(&step_bits, memory_order_acquire)) &
	        mask) == 0)
		sched_yield();
	return seen & mask;
}

#ifdef PATTERN_UNSAFE
static void *pattern_quarantine[8];
static int pattern_nquarantined;

static void
pattern_quarantine_empty(void)
{
	while (pattern_nquarantined > 0)
		free(pattern_quarantine[--pattern_nquarantined]);
}
#endif

/* pattern_free(p): free(p); the unsafe build keeps p until exit. */
static inline void
pattern_free(void *p)
{
#ifdef PATTERN_UNSAFE
	if (pattern_nquarantined == 0)
		atexit(pattern_quarantine_empty);
	if (pattern_nquarantined < 8) {
		pattern_quarantine[pattern_nquarantined++] = p;
		return;
	}
#endif
	free(p);
}

/*
 * pattern_result(name, bug, what): report and return the exit status:
 * 0 if a safe build saw no bug, PATTERN_EXIT_BUG if an unsafe build saw
 * it, 1 otherwise.
 */
static inline int
pattern_result(const char *name, bool bug, const char *what)
{
#ifdef PATTERN_UNSAFE
	printf(
	    "%s (safety removed): %s\n", name, bug ? what : "bug NOT observed");
	return bug ? PATTERN_EXIT_BUG : 1;
#else
	printf("%s: %s\n", name, bug ? what : "ok");
	return bug ? 1 : 0;
#endif
}

#endif /* PATTERN_H */
