/*
 * futex.c: sleep until a 32-bit word changes, and wake the sleepers.
 *
 * mpsafe_futex_wait(addr, val) returns when *addr may no longer equal val:
 * after a wake, or spuriously; callers re-check in a loop.  A waker first
 * stores the new value, then calls mpsafe_futex_wake(addr).
 *
 * Linux: the futex(2) system call, private to the process.  Elsewhere a
 * "parking lot": a small table of mutex and condition-variable pairs,
 * hashed by address, each with a list of the threads asleep on its
 * addresses.  The waiter checks the word and queues its own record under
 * the bucket's mutex, and the waker takes the records of its address off
 * the list under it, so a wake between the check and the sleep cannot be
 * lost; the waiter then sleeps on its record's condition variable until
 * marked woken.  A fork child re-initialises the table: the parent's
 * sleepers are absent from the child, and a bucket mutex another thread
 * held would stay locked.  The bucket's critical sections run with the
 * thread's signals blocked, the sleep with its own mask: a read section
 * in a signal handler (pserialize(3) allows it) may wake writers from
 * inside the handler, and would otherwise deadlock on a bucket mutex
 * that the code it interrupted holds; and a handler must still be able
 * to run while its thread sleeps (it may be what ends the wait).
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

/*
 * A sleeping thread's record, one per thread, queued on its bucket while
 * it waits.  w_woken and the condition variable are under w_lock.
 */
struct park_waiter {
	pthread_mutex_t w_lock;
	pthread_cond_t w_cv;
	bool w_woken;
	_Atomic(uint32_t) *w_addr;
	struct park_waiter *w_next; /* bucket's list (bucket lock) */
};

static __thread struct park_waiter park_self = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL, NULL};

static struct park_bucket {
	pthread_mutex_t pb_lock;
	struct park_waiter *pb_waiters;
	char pb_pad[MPSAFE_RECORD_ALIGN];
} park_table[PARK_BUCKETS];

static pthread_once_t park_once = PTHREAD_ONCE_INIT;
static bool park_ready; /* park_init() has run (read by the fork child) */

static void
park_init(void)
{
	for (int i = 0; i < PARK_BUCKETS; i++) {
		pthread_mutex_init(&park_table[i].pb_lock, NULL);
		park_table[i].pb_waiters = NULL;
	}
	park_ready = true;
}

void
mpsafe_futex_atfork_child(void)
{
	/* The child's only thread; park_init() is complete if it ran. */
	if (park_ready)
		park_init();
}

/*
 * Block every signal and lock addr's bucket; *old receives the previous
 * mask.  Signals are blocked first, so that a handler cannot run while
 * this thread holds the bucket lock or runs park_init() (a read section
 * in the handler may wake, and would wait for either for ever).
 */
static struct park_bucket *
park_lock(const void *addr, sigset_t *old)
{
	uintptr_t h = (uintptr_t)addr;
	struct park_bucket *b;
	sigset_t all;

	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, old);
	h ^= h >> 7;
	h ^= h >> 13;
	pthread_once(&park_once, park_init);
	b = &park_table[h % PARK_BUCKETS];
	pthread_mutex_lock(&b->pb_lock);
	return b;
}

static void
park_unlock(struct park_bucket *b, const sigset_t *old)
{
	pthread_mutex_unlock(&b->pb_lock);
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * The sleep itself runs with the caller's signal mask: a handler may run
 * meanwhile (and its read section wake others), as it may in futex(2).
 * The handler never waits for this thread's own record: only a wake of
 * addr touches it, and a thread does not wake a word it sleeps on.
 */
void
mpsafe_futex_wait(_Atomic(uint32_t) *addr, uint32_t val)
{
	struct park_waiter *w = &park_self;
	struct park_bucket *b;
	sigset_t old;

	b = park_lock(addr, &old);
	/* Relaxed: the bucket lock orders this against the waker. */
	if (atomic_load_explicit(addr, memory_order_relaxed) != val) {
		park_unlock(b, &old);
		return;
	}
	pthread_mutex_lock(&w->w_lock);
	w->w_woken = false;
	pthread_mutex_unlock(&w->w_lock);
	w->w_addr = addr;
	w->w_next = b->pb_waiters;
	b->pb_waiters = w;
	park_unlock(b, &old);

	pthread_mutex_lock(&w->w_lock);
	while (!w->w_woken)
		mpsafe_cond_wait(&w->w_cv, &w->w_lock);
	pthread_mutex_unlock(&w->w_lock);
}

void
mpsafe_futex_wake(_Atomic(uint32_t) *addr)
{
	struct park_waiter **pp, *w;
	struct park_bucket *b;
	sigset_t old;

	b = park_lock(addr, &old);
	for (pp = &b->pb_waiters; (w = *pp) != NULL;) {
		if (w->w_addr != addr) {
			pp = &w->w_next;
			continue;
		}
		*pp = w->w_next;
		/* After this unlock the waiter may return and reuse w. */
		pthread_mutex_lock(&w->w_lock);
		w->w_woken = true;
		pthread_cond_signal(&w->w_cv);
		pthread_mutex_unlock(&w->w_lock);
	}
	park_unlock(b, &old);
}
#endif
