/*
 * workqueue.c: work items run by worker threads, with a lock-free enqueue
 * and a wait that never reads an item that may have run.
 *
 * Queues.  A workqueue has one queue (or one per CPU, WQ_PERCPU), each
 * with its own worker thread.  A queue is an intrusive LIFO list,
 * q_incoming: an enqueue links the item to the head it loaded and
 * compare-and-swaps the head to the item (a Treiber push).  The worker
 * takes the whole list at once with an exchange to NULL, reverses it
 * (oldest first: the order of the successful CASes, so each producer's
 * items run in the order it queued them) and runs it; such a list is a
 * batch.  There is no pop of a single item, hence no ABA problem: a head
 * that changed and came back is still a valid successor.
 *
 * Sleeping.  An idle worker spins briefly, then stores q_sleep = 1,
 * re-checks q_incoming and sleeps on the q_sleep futex.  An enqueue, after
 * its CAS, loads q_sleep and only if it reads 1 swaps it to 0 and wakes
 * the worker.  Both sides are seq_cst (a store then a load on each side,
 * Dekker style): either the worker's re-check sees the new item or the
 * producer's load sees q_sleep = 1, so no wake-up is lost, and an enqueue
 * to a busy worker costs one CAS and one load of a line that the worker
 * writes only when it goes to sleep.
 *
 * Batches and generations.  Each queue has a generation q_gen, odd while
 * a batch runs.  The worker takes a batch under q_lock and makes q_gen
 * odd under the same hold; when the batch has run it makes q_gen even
 * (seq_cst store, no lock) and wakes waiters sleeping on the q_gen futex.
 * q_lock is taken by the worker once per batch and by waiters, never by
 * producers.
 *
 * Waiting for an item wk (workqueue_wait), per queue, under q_lock:
 *  1. Walk q_incoming comparing addresses with wk.  The items on it are
 *     queued, so alive and unchanging (their links were written before
 *     the release CAS that published them; only the worker unlinks
 *     items, and it cannot take the list while we hold q_lock).  If wk
 *     is there, the next batch takes it: wait until q_gen reaches
 *     (g + 3) & ~1, the end of the batch after the one running (if g is
 *     odd) or of the next one (if g is even).
 *  2. Otherwise, if g is odd, a batch runs that may hold wk, run or not
 *     yet run.  Its items may have been freed: they are never read.  The
 *     worker keeps a 256-bit Bloom filter of the batch's addresses,
 *     published with q_filter_gen = g after the words; if the filter is
 *     published and rules wk out, wk is not in the batch.  Otherwise
 *     wait until q_gen reaches g + 1.
 *  3. Otherwise (g even) no batch runs and wk is not queued: nothing to
 *     wait for.
 *
 * Why it is correct.
 *  W1 (no early return).  If wk is queued or running when the waiter
 *     takes q_lock, it is either on q_incoming (found by step 1), or in
 *     the batch of generation g, which is odd: the worker took that
 *     batch and made q_gen odd in one hold of q_lock, and makes it even
 *     only after the last function of the batch returns.  The filter
 *     has no false negatives, and a filter not yet published counts as
 *     "maybe".  The target generations are reached only after the batch
 *     holding wk ends, and q_gen only grows (32 bits, compared with
 *     wrap-around arithmetic: a waiter is woken at every batch end, long
 *     before 2^31 batches pass).
 *  W2 (no use after free).  The waiter reads only items on q_incoming,
 *     under q_lock, which keeps them queued; it compares wk with them
 *     and never dereferences wk.  An item freed by its function and its
 *     memory reused (even as a new item on this queue) is, at worst,
 *     found on q_incoming as the new item, which makes the waiter wait
 *     for that item as well: later, never earlier.
 *  W3 (memory order).  The batch-end store is release (seq_cst) and
 *     every load of q_gen on which a waiter decides "done" is acquire:
 *     the load under q_lock of steps 1-3 (the even value it may return
 *     on is stored without q_lock, so the lock alone orders nothing)
 *     and the loads of wq_wait_gen.  So whatever the functions of the
 *     batch did, freeing included, happens before workqueue_wait
 *     returns.  (Step 2's "ruled out" return reads an odd g, stored
 *     under q_lock after the previous batch ended: the lock orders that
 *     batch before the return.)
 *  W4 (no lost wake-up of a waiter).  The waiter increments q_waiters,
 *     then loads q_gen (both seq_cst) and sleeps only if q_gen still
 *     holds what it loaded; the worker stores q_gen, then loads
 *     q_waiters (both seq_cst).
 *
 * tests/model/workqueue.pml checks W1 and W4, and the worker's idle
 * sleep against enqueue and stop, over a store-buffer memory model
 * (docs/design/verification.md, "workqueue"): change it with them.
 *
 * Destroy.  Mark the workqueue dying; wait until every queue is idle
 * (nothing queued, no batch running), then check them all again: if no
 * generation moved in between, no worker ran anything, so nothing can
 * be queued any more except by a thread outside the workqueue (a broken
 * contract).  Otherwise repeat, so work queued by work functions, on any
 * queue, runs too.  Then set q_exit, wake each worker and join them.
 *
 * Diagnostic builds tag an item's wk_check with its address mixed with a
 * constant while it is queued (an atomic exchange at enqueue, which finds
 * the tag if the item is queued already) and clear it before the
 * function runs.  A thread-local pointer to the worker's queue catches
 * workqueue_wait and workqueue_destroy from a worker of the same
 * workqueue.  Destroy poisons the structure before freeing it.
 *
 * Workers are created with every signal blocked (a library's threads
 * must not run the program's signal handlers), named after the workqueue
 * and, with WQ_PERCPU, pinned to their CPU with pthread_setaffinity_np()
 * (a refusal leaves the worker unpinned).  A workqueue does not survive
 * fork(): the child has none of its workers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpsafe/alloc.h>
#include <mpsafe/workqueue.h>

#include "mpsafe_impl.h"

#define WQ_MAGIC 0x776b7175u  /* "wkqu" */
#define WQ_POISON 0xdeadbeefu /* after workqueue_destroy */

/* An item's wk_check while it is queued (diagnostic builds). */
#define WK_TAG_MIX ((uintptr_t)0x5175657565645771ULL)
#define WK_QUEUED_TAG(wk) ((uintptr_t)(wk) ^ WK_TAG_MIX)
#define WK_IDLE_TAG ((uintptr_t)0)

/*
 * CPU pauses before sleeping: an idle worker (a few microseconds, enough
 * to catch a burst without a futex round trip, short enough not to burn
 * a CPU for a queue that is used now and then), and a waiter.
 */
#define WQ_IDLE_SPIN 200
#define WQ_WAIT_SPIN 1000

/* Bloom filter of a batch's addresses: 4 x 64 bits, two bits per item. */
#define WQ_FILTER_WORDS 4

#define WQ_FLAGS_KNOWN (WQ_MPSAFE | WQ_PERCPU | WQ_FPU)

/* The most CPUs kept apart (CPU_SETSIZE on Linux). */
#ifdef CPU_SETSIZE
#define WQ_CPU_MAX CPU_SETSIZE
#else
#define WQ_CPU_MAX 1024
#endif

struct cpu_info {
	unsigned ci_index; /* 0 .. cpu_count - 1 */
	int ci_number;     /* the system's number, or -1 */
};

/*
 * One worker's queue.  Fields are grouped by who writes them, each group
 * on lines of its own (MPSAFE_RECORD_ALIGN).
 */
struct wq_queue {
	/*
	 * The incoming list (newest first).  CASed by producers (seq_cst);
	 * exchanged to NULL by the worker under q_lock; walked by waiters
	 * under q_lock.
	 */
	alignas(MPSAFE_RECORD_ALIGN) _Atomic(struct work *) q_incoming;

	/*
	 * 1 while the worker sleeps or is about to (futex word).  Written
	 * by the worker, by the producer that wakes it and by destroy; read
	 * by every enqueue, so written rarely.  q_exit: set by destroy,
	 * read by the worker when it finds nothing to do.
	 */
	alignas(MPSAFE_RECORD_ALIGN) _Atomic(uint32_t) q_sleep;
	_Atomic(uint32_t) q_exit;

	/*
	 * Batch state.  q_gen: odd while a batch runs; written by the
	 * worker only (odd under q_lock, even without); futex word of
	 * waiters.  q_waiters: waiters that may sleep on q_gen (atomic
	 * add and subtract by waiters; read by the worker at batch end).
	 * q_filter: the running batch's Bloom filter, valid when
	 * q_filter_gen equals q_gen (worker writes; waiters read under
	 * q_lock).
	 */
	alignas(MPSAFE_RECORD_ALIGN) _Atomic(uint32_t) q_gen;
	_Atomic(uint32_t) q_waiters;
	_Atomic(uint32_t) q_filter_gen;
	_Atomic(uint64_t) q_filter[WQ_FILTER_WORDS];
	pthread_mutex_t q_lock;

	/* Set at creation, then read-only. */
	struct workqueue *q_wq;
	unsigned q_index;
	int q_cpu; /* pin the worker to this CPU number, or -1 */
	pthread_t q_thread;
	uint32_t q_quiet_gen; /* destroy's own */
};

struct workqueue {
	/* Read-only after creation, read by every enqueue. */
	alignas(MPSAFE_RECORD_ALIGN) void (*wq_func)(struct work *, void *);
	void *wq_arg;
	unsigned wq_nqueues;
	int wq_flags;
	/*
	 * WQ_MAGIC while alive, WQ_POISON after destroy (kept clear of the
	 * first 16 bytes, which free() may overwrite).  Relaxed: checks.
	 */
	_Atomic(uint32_t) wq_magic;
	/* Set when workqueue_destroy begins (diagnostic check only). */
	_Atomic(uint32_t) wq_dying;
	char wq_name[WORKQUEUE_NAMELEN + 1]; /* NUL included */
	struct wq_queue wq_queues[];
};

/* The queue whose worker the calling thread is, if any. */
static _Thread_local struct wq_queue *wq_self;

/* Test hook: the creation of the worker of this queue index fails. */
static _Atomic(int) wq_test_fail_at = -1;

/* --- CPUs ---------------------------------------------------------------- */

static struct cpu_info cpu_table[WQ_CPU_MAX];
static uint16_t cpu_by_number[WQ_CPU_MAX]; /* number -> index + 1, or 0 */
static unsigned cpu_count;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/*
 * Test builds only: MPSAFE_TEST_NCPU=n (1..WQ_CPU_MAX) makes the table n
 * CPUs, none pinned (ci_number -1), so that the tests of what depends on
 * the CPU count (two-digit worker names) run on a small machine.
 */
static bool
cpu_init_test(void)
{
#ifdef MPSAFE_FAULT_INJECTION
	const char *e = getenv("MPSAFE_TEST_NCPU");
	char *end;
	long n;

	if (e == NULL)
		return false;
	n = strtol(e, &end, 10);
	if (*e == '\0' || *end != '\0' || n < 1 || n > WQ_CPU_MAX)
		return false;
	for (long i = 0; i < n; i++) {
		cpu_table[i].ci_index = (unsigned)i;
		cpu_table[i].ci_number = -1;
	}
	cpu_count = (unsigned)n;
	return true;
#else
	return false;
#endif
}

static void
cpu_init(void)
{
#ifdef __linux__
	cpu_set_t set;
#endif

	if (cpu_init_test())
		return;
#ifdef __linux__
	CPU_ZERO(&set);
	/* The main thread's mask: the process's, unless the program pinned it.
	 */
	if (sched_getaffinity(getpid(), sizeof(set), &set) == 0) {
		for (int c = 0; c < WQ_CPU_MAX; c++) {
			if (!CPU_ISSET(c, &set))
				continue;
			cpu_table[cpu_count].ci_index = cpu_count;
			cpu_table[cpu_count].ci_number = c;
			cpu_by_number[c] = (uint16_t)(cpu_count + 1);
			cpu_count++;
		}
	}
#endif
	if (cpu_count == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		if (n < 1)
			n = 1;
		if (n > WQ_CPU_MAX)
			n = WQ_CPU_MAX;
		for (long i = 0; i < n; i++) {
			cpu_table[i].ci_index = (unsigned)i;
			cpu_table[i].ci_number = -1;
		}
		cpu_count = (unsigned)n;
	}
}

static inline void
cpu_init_once(void)
{
	pthread_once(&cpu_once, cpu_init);
}

unsigned
mpsafe_ncpu(void)
{
	cpu_init_once();
	return cpu_count;
}

struct cpu_info *
mpsafe_cpu_lookup(unsigned index)
{
	cpu_init_once();
	return index < cpu_count ? &cpu_table[index] : NULL;
}

unsigned
mpsafe_cpu_index(const struct cpu_info *ci)
{
	if (ci == NULL)
		mpsafe_panic("mpsafe_cpu_index: NULL cpu_info");
	return ci->ci_index;
}

int
mpsafe_cpu_number(const struct cpu_info *ci)
{
	if (ci == NULL)
		mpsafe_panic("mpsafe_cpu_number: NULL cpu_info");
	return ci->ci_number;
}

struct cpu_info *
mpsafe_curcpu(void)
{
	cpu_init_once();
#ifdef __linux__
	int c = sched_getcpu();

	if (c >= 0 && c < WQ_CPU_MAX && cpu_by_number[c] != 0)
		return &cpu_table[cpu_by_number[c] - 1];
	if (c >= 0)
		return &cpu_table[(unsigned)c % cpu_count];
#endif
	return &cpu_table[0];
}

#ifdef MPSAFE_DIAGNOSTIC
static bool
cpu_info_valid(const struct cpu_info *ci)
{
	return ci >= &cpu_table[0] && ci < &cpu_table[cpu_count];
}
#endif

/* --- checks -------------------------------------------------------------- */

static MPSAFE_COLD MPSAFE_NORETURN void
wq_bad(const struct workqueue *wq, const char *fn, uint32_t magic)
{
	mpsafe_panic("%s: %p is not a live workqueue (%s)", fn,
	    (const void *)wq,
	    magic == WQ_POISON ? "used after workqueue_destroy"
	                       : "never created");
}

static inline void
wq_check(const struct workqueue *wq, const char *fn)
{
	uint32_t magic;

	if (MPSAFE_UNLIKELY(wq == NULL))
		mpsafe_panic("%s: NULL workqueue", fn);
	/* Relaxed: a check; the caller owns its reference to wq. */
	magic = atomic_load_explicit(&wq->wq_magic, memory_order_relaxed);
	if (MPSAFE_UNLIKELY(magic != WQ_MAGIC))
		wq_bad(wq, fn, magic);
}

/* Is the calling thread a worker of wq? */
static inline bool
wq_is_own_worker(const struct workqueue *wq)
{
	return wq_self != NULL && wq_self->q_wq == wq;
}

/* --- generations --------------------------------------------------------- */

/* Has generation now reached target?  (Wrap-around arithmetic.) */
static inline bool
wq_gen_reached(uint32_t now, uint32_t target)
{
	return (int32_t)(now - target) >= 0;
}

/* Wait until q's generation reaches target.  Blocks. */
static void
wq_wait_gen(struct wq_queue *q, uint32_t target)
{
	uint32_t now;

	for (int i = 0; i < WQ_WAIT_SPIN; i++) {
		/* Acquire: pairs with the batch-end store of wq_run_batch. */
		now = atomic_load_explicit(&q->q_gen, memory_order_acquire);
		if (wq_gen_reached(now, target))
			return;
		mpsafe_cpu_relax();
	}
	/* seq_cst: before the load of q_gen (pairs with the worker's batch
	 * end: store q_gen, then load q_waiters). */
	atomic_fetch_add_explicit(&q->q_waiters, 1, memory_order_seq_cst);
	for (;;) {
		now = atomic_load_explicit(&q->q_gen, memory_order_seq_cst);
		if (wq_gen_reached(now, target))
			break;
		mpsafe_futex_wait(&q->q_gen, now);
	}
	/* Relaxed: the worker only tests the count for non-zero. */
	atomic_fetch_sub_explicit(&q->q_waiters, 1, memory_order_relaxed);
}

/* The two filter bits of an address. */
static inline void
wq_filter_bits(const struct work *wk, unsigned *b1, unsigned *b2)
{
	uint64_t h = (uint64_t)(uintptr_t)wk * UINT64_C(0x9e3779b97f4a7c15);

	*b1 = (unsigned)(h >> 56);
	*b2 = (unsigned)(h >> 48) & 0xff;
}

/*
 * May wk be in the batch of generation g?  Called under q_lock with q_gen
 * == g odd: the worker cannot take another batch (and rewrite the filter)
 * until we release the lock.
 */
static bool
wq_filter_maybe(struct wq_queue *q, uint32_t g, const struct work *wk)
{
	unsigned b1, b2;
	uint64_t w1, w2;

	/* Acquire: pairs with the release store after the filter words. */
	if (atomic_load_explicit(&q->q_filter_gen, memory_order_acquire) != g)
		return true; /* not published yet */
	wq_filter_bits(wk, &b1, &b2);
	/* Relaxed: ordered by the acquire above; stable while we hold q_lock.
	 */
	w1 = atomic_load_explicit(&q->q_filter[b1 >> 6], memory_order_relaxed);
	w2 = atomic_load_explicit(&q->q_filter[b2 >> 6], memory_order_relaxed);
	return (w1 >> (b1 & 63) & 1) != 0 && (w2 >> (b2 & 63) & 1) != 0;
}

/* --- the worker ---------------------------------------------------------- */

/*
 * Take the incoming list of q and run it, oldest first.  Returns false if
 * there was nothing to run.
 */
static bool
wq_run_batch(struct wq_queue *q)
{
	const struct workqueue *wq = q->q_wq;
	uint64_t filter[WQ_FILTER_WORDS] = {0};
	struct work *wk, *next, *head = NULL;
	uint32_t gen;

	/* Relaxed: a hint; the exchange below is what takes the items. */
	if (atomic_load_explicit(&q->q_incoming, memory_order_relaxed) == NULL)
		return false;
	MPSAFE_YIELD_POINT(); /* enqueuers push meanwhile */
	pthread_mutex_lock(&q->q_lock);
	/*
	 * Acquire: pairs with the CAS of workqueue_enqueue (seq_cst, so
	 * release): the items' links and whatever their enqueuers wrote.
	 */
	wk = atomic_exchange_explicit(
	    &q->q_incoming, NULL, memory_order_acquire);
	if (wk == NULL) {
		pthread_mutex_unlock(&q->q_lock);
		return false;
	}
	/*
	 * Relaxed: waiters read q_gen and q_filter_gen under q_lock, which
	 * orders these stores (and the odd value publishes nothing).
	 */
	gen = atomic_load_explicit(&q->q_gen, memory_order_relaxed) + 1;
	atomic_store_explicit(&q->q_gen, gen, memory_order_relaxed);
	atomic_store_explicit(&q->q_filter_gen, 0, memory_order_relaxed);
	pthread_mutex_unlock(&q->q_lock);

	/* Reverse: oldest first.  The batch is ours alone now. */
	while (wk != NULL) {
		unsigned b1, b2;

		next = wk->wk_next;
		wk->wk_next = head;
		head = wk;
		wq_filter_bits(wk, &b1, &b2);
		filter[b1 >> 6] |= UINT64_C(1) << (b1 & 63);
		filter[b2 >> 6] |= UINT64_C(1) << (b2 & 63);
		wk = next;
	}
	/* Relaxed words; the release store of q_filter_gen publishes them. */
	for (unsigned i = 0; i < WQ_FILTER_WORDS; i++)
		atomic_store_explicit(
		    &q->q_filter[i], filter[i], memory_order_relaxed);
	atomic_store_explicit(&q->q_filter_gen, gen, memory_order_release);

	for (wk = head; wk != NULL; wk = next) {
		/* Read before the call: the function may free or requeue wk. */
		next = wk->wk_next;
#ifdef MPSAFE_DIAGNOSTIC
		/*
		 * Relaxed: the next enqueue of wk follows the call below
		 * (in this thread, or through the caller's own
		 * synchronisation with the function).
		 */
		atomic_store_explicit(
		    &wk->wk_check, WK_IDLE_TAG, memory_order_relaxed);
#endif
		(*wq->wq_func)(wk, wq->wq_arg);
	}

	/*
	 * seq_cst: a release, so the functions' effects happen before the
	 * return of a waiter whose acquire load sees gen + 1; and a store
	 * before the load of q_waiters (pairs with wq_wait_gen: increment,
	 * then load q_gen).
	 */
	atomic_store_explicit(&q->q_gen, gen + 1, memory_order_seq_cst);
	if (atomic_load_explicit(&q->q_waiters, memory_order_seq_cst) != 0)
		mpsafe_futex_wake(&q->q_gen);
	return true;
}

/* Nothing to do: spin a little, then sleep until an enqueue or destroy. */
static void
wq_idle(struct wq_queue *q)
{
	for (int i = 0; i < WQ_IDLE_SPIN; i++) {
		/* Relaxed: hints, rechecked below or by wq_run_batch. */
		if (atomic_load_explicit(
		        &q->q_incoming, memory_order_relaxed) != NULL ||
		    atomic_load_explicit(&q->q_exit, memory_order_relaxed) != 0)
			return;
		mpsafe_cpu_relax();
	}
	/*
	 * seq_cst store, then seq_cst loads: pairs with workqueue_enqueue
	 * (CAS, then load of q_sleep) and with wq_stop (store q_exit, then
	 * q_sleep): either we see their store or they see ours.
	 */
	atomic_store_explicit(&q->q_sleep, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&q->q_incoming, memory_order_seq_cst) ==
	        NULL &&
	    atomic_load_explicit(&q->q_exit, memory_order_seq_cst) == 0)
		mpsafe_futex_wait(&q->q_sleep, 1);
	/* Relaxed: every sleep above is preceded by the seq_cst protocol. */
	atomic_store_explicit(&q->q_sleep, 0, memory_order_relaxed);
}

static void
wq_worker_setup(struct wq_queue *q)
{
#ifdef __linux__
	const struct workqueue *wq = q->q_wq;
	char name[16];

	if (wq->wq_flags & WQ_PERCPU) {
		char suffix[12];
		int n = snprintf(suffix, sizeof(suffix), "/%u", q->q_index);

		/* The name is cut by the suffix's length, not a fixed 10. */
		snprintf(name, sizeof(name), "%.*s%s",
		    (int)(sizeof(name) - 1) - n, wq->wq_name, suffix);
	} else
		snprintf(name, sizeof(name), "%.15s", wq->wq_name);
	(void)pthread_setname_np(pthread_self(), name);
	if (q->q_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(q->q_cpu, &set);
		/* A refusal (a narrower cpuset) leaves the worker unpinned. */
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
#else
	(void)q;
#endif
}

static void *
wq_worker_main(void *arg)
{
	struct wq_queue *q = arg;

	wq_self = q;
	wq_worker_setup(q);
	for (;;) {
		if (wq_run_batch(q))
			continue;
		/* Relaxed: destroy joins us; nothing is published by it. */
		if (atomic_load_explicit(&q->q_exit, memory_order_relaxed))
			break;
		wq_idle(q);
	}
	wq_self = NULL;
	return NULL;
}

/* Tell q's worker to exit once its queue is empty. */
static void
wq_stop(struct wq_queue *q)
{
	/* seq_cst: pairs with wq_idle (store q_sleep, then load q_exit). */
	atomic_store_explicit(&q->q_exit, 1, memory_order_seq_cst);
	atomic_store_explicit(&q->q_sleep, 0, memory_order_seq_cst);
	mpsafe_futex_wake(&q->q_sleep);
}

/* --- create and destroy -------------------------------------------------- */

/* Test hook (library-private, not exported): see tests. */
void mpsafe_workqueue_test_fail_create(int queue_index);

void
mpsafe_workqueue_test_fail_create(int queue_index)
{
	/* Relaxed: set by a test before the workqueue_create it concerns. */
	atomic_store_explicit(
	    &wq_test_fail_at, queue_index, memory_order_relaxed);
}

static int
wq_start_worker(struct wq_queue *q)
{
	int fail = (int)q->q_index;

	/* Relaxed: see mpsafe_workqueue_test_fail_create. */
	if (atomic_compare_exchange_strong_explicit(&wq_test_fail_at, &fail, -1,
	        memory_order_relaxed, memory_order_relaxed))
		return EAGAIN;
	return mpsafe_thread_create(&q->q_thread, NULL, wq_worker_main, q);
}

int
workqueue_create(struct workqueue **wqp, const char *name,
    void (*func)(struct work *, void *), void *arg, int prio, int flags)
{
	struct workqueue *wq;
	sigset_t all, old;
	unsigned n, started = 0, inited = 0;
	size_t size;
	int error = 0;

	(void)prio; /* see workqueue(3): ignored */
	if (wqp == NULL || name == NULL || func == NULL ||
	    (flags & ~WQ_FLAGS_KNOWN) != 0)
		return EINVAL;
	cpu_init_once();
	n = (flags & WQ_PERCPU) ? cpu_count : 1;
	size = sizeof(*wq) + n * sizeof(wq->wq_queues[0]);
	wq = mpsafe_aligned_alloc(MPSAFE_RECORD_ALIGN, size);
	if (wq == NULL)
		return ENOMEM;
	memset(wq, 0, size);
	wq->wq_func = func;
	wq->wq_arg = arg;
	wq->wq_nqueues = n;
	wq->wq_flags = flags;
	atomic_init(&wq->wq_magic, WQ_MAGIC);
	atomic_init(&wq->wq_dying, 0);
	snprintf(wq->wq_name, sizeof(wq->wq_name), "%s", name);
	for (unsigned i = 0; i < n; i++) {
		struct wq_queue *q = &wq->wq_queues[i];

		atomic_init(&q->q_incoming, NULL);
		atomic_init(&q->q_sleep, 0);
		atomic_init(&q->q_exit, 0);
		atomic_init(&q->q_gen, 0);
		atomic_init(&q->q_waiters, 0);
		atomic_init(&q->q_filter_gen, 0);
		for (unsigned j = 0; j < WQ_FILTER_WORDS; j++)
			atomic_init(&q->q_filter[j], 0);
		q->q_wq = wq;
		q->q_index = i;
		q->q_cpu = (flags & WQ_PERCPU) ? cpu_table[i].ci_number : -1;
		error = pthread_mutex_init(&q->q_lock, NULL);
		if (error != 0)
			break;
		inited++;
	}

	/* Workers start with every signal blocked (they inherit the mask). */
	if (error == 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (unsigned i = 0; i < n; i++) {
			error = wq_start_worker(&wq->wq_queues[i]);
			if (error != 0)
				break;
			started++;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}

	if (error != 0) {
		/* Nothing was queued: stop and join what started, free all. */
		for (unsigned i = 0; i < started; i++)
			wq_stop(&wq->wq_queues[i]);
		for (unsigned i = 0; i < started; i++)
			mpsafe_join(wq->wq_queues[i].q_thread, NULL);
		for (unsigned i = 0; i < inited; i++)
			pthread_mutex_destroy(&wq->wq_queues[i].q_lock);
		atomic_store_explicit(
		    &wq->wq_magic, WQ_POISON, memory_order_relaxed);
		mpsafe_free(wq);
		return error;
	}
	*wqp = wq;
	return 0;
}

/*
 * Wait until q has nothing queued and no batch running; return q_gen as
 * it was then.
 */
static uint32_t
wq_wait_idle(struct wq_queue *q)
{
	for (;;) {
		uint32_t g;
		bool pending;

		/*
		 * Acquire: pairs with the batch-end store, as in
		 * wq_wait_queue (an idle queue's functions happen before
		 * destroy goes on).  q_incoming relaxed: only tested for NULL.
		 */
		pthread_mutex_lock(&q->q_lock);
		g = atomic_load_explicit(&q->q_gen, memory_order_acquire);
		pending = atomic_load_explicit(
		              &q->q_incoming, memory_order_relaxed) != NULL;
		pthread_mutex_unlock(&q->q_lock);
		if (!pending && (g & 1) == 0)
			return g;
		wq_wait_gen(q, pending ? (g + 3) & ~1u : g + 1);
	}
}

/* Is q still idle at generation g? */
static bool
wq_still_idle(struct wq_queue *q, uint32_t g)
{
	bool idle;

	pthread_mutex_lock(&q->q_lock);
	/* Acquire: as in wq_wait_idle. */
	idle =
	    atomic_load_explicit(&q->q_gen, memory_order_acquire) == g &&
	    atomic_load_explicit(&q->q_incoming, memory_order_relaxed) == NULL;
	pthread_mutex_unlock(&q->q_lock);
	return idle;
}

void
workqueue_destroy(struct workqueue *wq)
{
	bool quiet;

	wq_check(wq, "workqueue_destroy");
	/* Every build: the join below would wait for the caller itself. */
	if (wq_is_own_worker(wq))
		mpsafe_panic("workqueue_destroy(%s) from a work function of "
		             "the same workqueue: it would wait for itself",
		    wq->wq_name);
	/* Relaxed: read by the diagnostic check of workqueue_enqueue only. */
	atomic_store_explicit(&wq->wq_dying, 1, memory_order_relaxed);

	/* Run everything queued, and what the work functions queue. */
	do {
		for (unsigned i = 0; i < wq->wq_nqueues; i++)
			wq->wq_queues[i].q_quiet_gen =
			    wq_wait_idle(&wq->wq_queues[i]);
		quiet = true;
		for (unsigned i = 0; i < wq->wq_nqueues && quiet; i++)
			quiet = wq_still_idle(
			    &wq->wq_queues[i], wq->wq_queues[i].q_quiet_gen);
	} while (!quiet);

	for (unsigned i = 0; i < wq->wq_nqueues; i++)
		wq_stop(&wq->wq_queues[i]);
	for (unsigned i = 0; i < wq->wq_nqueues; i++)
		mpsafe_join(wq->wq_queues[i].q_thread, NULL);
	for (unsigned i = 0; i < wq->wq_nqueues; i++)
		pthread_mutex_destroy(&wq->wq_queues[i].q_lock);

	/* Poison: any later use aborts in wq_check (until reused). */
	atomic_store_explicit(&wq->wq_magic, WQ_POISON, memory_order_relaxed);
	wq->wq_func = NULL;
	wq->wq_nqueues = 0;
	mpsafe_free(wq);
}

/* --- enqueue and wait ---------------------------------------------------- */

static inline struct wq_queue *
wq_pick(struct workqueue *wq, struct cpu_info *ci)
{
	if ((wq->wq_flags & WQ_PERCPU) == 0) {
		MPSAFE_DIAG(ci == NULL,
		    "workqueue_enqueue(%s): a CPU given to a workqueue "
		    "created without WQ_PERCPU (ci must be NULL)",
		    wq->wq_name);
		return &wq->wq_queues[0];
	}
	if (ci == NULL)
		ci = mpsafe_curcpu();
	MPSAFE_DIAG(cpu_info_valid(ci),
	    "workqueue_enqueue(%s): %p is not a struct cpu_info from "
	    "mpsafe_cpu_lookup() or mpsafe_curcpu()",
	    wq->wq_name, (void *)ci);
	return &wq->wq_queues[ci->ci_index];
}

#ifdef MPSAFE_DIAGNOSTIC
static void
wq_enqueue_checks(struct workqueue *wq, struct work *wk)
{
	uintptr_t tag = WK_QUEUED_TAG(wk);

	/*
	 * Relaxed: a second enqueue of a queued item is a race the check
	 * reports; a correct one follows the worker's clearing store.
	 */
	if (atomic_exchange_explicit(
	        &wk->wk_check, tag, memory_order_relaxed) == tag)
		mpsafe_panic("workqueue_enqueue(%s): work %p is already queued "
		             "(an item may be enqueued again only once its "
		             "function has been called)",
		    wq->wq_name, (void *)wk);
	if (atomic_load_explicit(&wq->wq_dying, memory_order_relaxed) != 0 &&
	    !wq_is_own_worker(wq))
		mpsafe_panic("workqueue_enqueue(%s): workqueue_destroy has "
		             "begun (only its own work functions may enqueue)",
		    wq->wq_name);
}
#endif

void
workqueue_enqueue(struct workqueue *wq, struct work *wk, struct cpu_info *ci)
{
	struct wq_queue *q;
	struct work *head;

	wq_check(wq, "workqueue_enqueue");
	MPSAFE_DIAG(
	    wk != NULL, "workqueue_enqueue(%s): NULL work", wq->wq_name);
	q = wq_pick(wq, ci);
#ifdef MPSAFE_DIAGNOSTIC
	wq_enqueue_checks(wq, wk);
#endif
	MPSAFE_YIELD_POINT(); /* the worker may take the queue now */
	/* Relaxed: the CAS checks it. */
	head = atomic_load_explicit(&q->q_incoming, memory_order_relaxed);
	do {
		wk->wk_next = head;
		/*
		 * seq_cst: a release that publishes the link and the
		 * caller's writes to the item (pairs with the worker's
		 * acquire exchange and the waiters' acquire load), and
		 * ordered before the load of q_sleep (pairs with wq_idle).
		 */
	} while (!atomic_compare_exchange_weak_explicit(&q->q_incoming, &head,
	    wk, memory_order_seq_cst, memory_order_relaxed));
	if (atomic_load_explicit(&q->q_sleep, memory_order_seq_cst) != 0 &&
	    atomic_exchange_explicit(&q->q_sleep, 0, memory_order_relaxed) != 0)
		mpsafe_futex_wake(&q->q_sleep);
}

/* Wait until wk is neither queued on q nor running there. */
static void
wq_wait_queue(struct wq_queue *q, const struct work *wk)
{
	const struct work *it;
	uint32_t g, target = 0;
	bool wait = false;

	pthread_mutex_lock(&q->q_lock);
	/*
	 * The odd stores of q_gen are made under q_lock, so g is at least
	 * the generation of the batch running, if any.  Acquire, not
	 * relaxed: an even g may come from a batch-end store, made without
	 * q_lock, and the waiter may return on it (step 3), so the load
	 * must pair with that release store for the functions of the batch
	 * to happen before the return (W3).  The walk reads only queued
	 * items: the worker cannot take them while we hold q_lock.
	 * Acquire: pairs with the enqueuers' CAS (links).
	 */
	g = atomic_load_explicit(&q->q_gen, memory_order_acquire);
	for (it = atomic_load_explicit(&q->q_incoming, memory_order_acquire);
	     it != NULL; it = it->wk_next) {
		if (it == wk) {
			wait = true;
			target = (g + 3) & ~1u;
			break;
		}
	}
#ifdef MPSAFE_TEST_BROKEN_NO_WAIT
	/*
	 * Deliberately broken build for the torture test's own test: never
	 * waits for the batch that runs (NetBSD 8's wait, minus its reads).
	 */
	g &= ~1u;
#endif
	if (!wait && (g & 1) != 0 && wq_filter_maybe(q, g, wk)) {
		wait = true;
		target = g + 1;
	}
	pthread_mutex_unlock(&q->q_lock);
	if (wait)
		wq_wait_gen(q, target);
}

void
workqueue_wait(struct workqueue *wq, struct work *wk)
{
	wq_check(wq, "workqueue_wait");
	MPSAFE_DIAG(wk != NULL, "workqueue_wait(%s): NULL work", wq->wq_name);
	MPSAFE_DIAG(!wq_is_own_worker(wq),
	    "workqueue_wait(%s) from a worker of the same workqueue: it "
	    "would wait for its own queue",
	    wq->wq_name);
	for (unsigned i = 0; i < wq->wq_nqueues; i++) {
		struct wq_queue *q = &wq->wq_queues[i];

		/* Without diagnostics: a worker cannot wait for itself. */
		if (q == wq_self)
			continue;
		wq_wait_queue(q, wk);
	}
}
