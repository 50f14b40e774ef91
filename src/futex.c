/*
 * futex.c: sleep until a 32-bit word changes, and wake the sleepers.
 *
 * mpsafe_futex_wait(addr, val) returns when *addr may no longer equal val:
 * after a wake, or spuriously; callers re-check in a loop.  A waker first
 * stores the new value, then calls mpsafe_futex_wake(addr).
 *
 * Linux: the futex(2) system call, private to the process.  Elsewhere a
 * "parking lot": a small table of mutex and condition-variable pairs,
 * hashed by address.  The waiter checks the word under the bucket's mutex
 * and the waker broadcasts under it, so a wake between the check and the
 * sleep cannot be lost.  A fork child re-initialises the table: the
 * parent's sleepers, absent from the child, would otherwise stay counted
 * in a bucket's condition variable (glibc's broadcast then blocks for
 * ever), and a bucket mutex another thread held would stay locked.
 * Each bucket's critical section runs with the thread's signals blocked:
 * a read section in a signal handler (pserialize(3) allows it) may wake
 * a writer from inside the handler, and would otherwise deadlock on the
 * bucket mutex that the code it interrupted holds.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mpsafe_impl.h"

#if defined(MPSAFE_HAVE_LINUX_FUTEX_H)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void
mpsafe_futex_wait(_Atomic(uint32_t) *addr, uint32_t val)
{
	/* The kernel compares *addr with val atomically with going to sleep. */
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void
mpsafe_futex_wake(_Atomic(uint32_t) *addr)
{
	(void)syscall(
	    SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void
mpsafe_futex_atfork_child(void)
{
	/* The kernel keeps no sleepers of the parent's in the child. */
}

#else /* portable parking lot */
#include <pthread.h>
#include <signal.h>

#define PARK_BUCKETS 64

static struct park_bucket {
	pthread_mutex_t pb_lock;
	pthread_cond_t pb_cv;
	char pb_pad[MPSAFE_RECORD_ALIGN];
} park_table[PARK_BUCKETS];

static pthread_once_t park_once = PTHREAD_ONCE_INIT;
static bool park_ready; /* park_init() has run (read by the fork child) */

static void
park_init(void)
{
	for (int i = 0; i < PARK_BUCKETS; i++) {
		pthread_mutex_init(&park_table[i].pb_lock, NULL);
		pthread_cond_init(&park_table[i].pb_cv, NULL);
	}
	park_ready = true;
}

void
mpsafe_futex_atfork_child(void)
{
	/* The child's only thread; park_init() is complete if it ran. */
	if (park_ready)
		for (int i = 0; i < PARK_BUCKETS; i++) {
			pthread_mutex_init(&park_table[i].pb_lock, NULL);
			pthread_cond_init(&park_table[i].pb_cv, NULL);
		}
}

static struct park_bucket *
park_bucket(const void *addr)
{
	uintptr_t h = (uintptr_t)addr;

	h ^= h >> 7;
	h ^= h >> 13;
	pthread_once(&park_once, park_init);
	return &park_table[h % PARK_BUCKETS];
}

/* Lock b with every signal blocked; *old receives the previous mask. */
static void
park_lock(struct park_bucket *b, sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_mutex_lock(&b->pb_lock);
}

static void
park_unlock(struct park_bucket *b, const sigset_t *old)
{
	pthread_mutex_unlock(&b->pb_lock);
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

void
mpsafe_futex_wait(_Atomic(uint32_t) *addr, uint32_t val)
{
	struct park_bucket *b = park_bucket(addr);
	sigset_t old;

	park_lock(b, &old);
	/* Relaxed: the bucket mutex orders this against the waker. */
	if (atomic_load_explicit(addr, memory_order_relaxed) == val)
		mpsafe_cond_wait(&b->pb_cv, &b->pb_lock);
	park_unlock(b, &old);
}

void
mpsafe_futex_wake(_Atomic(uint32_t) *addr)
{
	struct park_bucket *b = park_bucket(addr);
	sigset_t old;

	park_lock(b, &old);
	pthread_cond_broadcast(&b->pb_cv);
	park_unlock(b, &old);
}
#endif
