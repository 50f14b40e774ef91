/*
 * wqinput.c: protocol input queued per CPU and run by a WQ_PERCPU
 * workqueue.
 *
 * Queues.  Each CPU (mpsafe_ncpu()) has a ring of cap slots, cap being
 * the limit rounded up to a power of two, at least 2, and a counter
 * q_len of packets reserved and not yet taken.  A slot holds one packet
 * and a sequence word: s_seq == p means "free for the packet of position
 * p", p + 1 "holds the packet of position p".  With one slot the two
 * would meet (holding p - 1 reads p, as free for p does), and the claim's
 * check below could not tell an unconsumed packet from a free slot; with
 * two or more, the slot of p last held p - cap, and holding it reads
 * p - cap + 1 != p (tests/model/wqinput.pml, ONE_SLOT, shows the
 * difference).  Positions are handed out by q_tail, the number of
 * packets ever accepted.  The queue's one consumer is the work item
 * q_work, which only the queue's own worker runs (it is always enqueued
 * with the queue's CPU), so runs never overlap.
 *
 * wqinput_input(), on the calling thread's CPU's queue:
 *  1. reserve: increment q_len by a compare-and-swap loop that succeeds
 *     only while q_len < limit; if q_len is at the limit, count the drop
 *     and give the packet to the drop function (q_len is never raised
 *     for a refused packet, so a drop means the queue held limit packets
 *     at that point of the seq_cst order);
 *  2. claim a position p = fetch_add q_tail; the slot p & (cap - 1) is
 *     free for p (R1 below; checked, and a violation aborts);
 *  3. fill the slot and store s_seq = p + 1;
 *  4. if q_active is 0, swap it to 1 and, if we did, enqueue q_work.
 * The work function stores q_active = 0 first, then takes packets in
 * position order while the next slot holds its packet: copy it out, store
 * s_seq = p + cap (free for the packet one lap later), decrement q_len,
 * call func, count it in q_processed.  It stops at a slot that is empty
 * or whose producer has claimed but not yet filled it; that producer's
 * step 4 runs the work again.  No step waits for another thread: the
 * caller never blocks.
 *
 * R1 (a claimed slot is free).  All the operations named above are
 * seq_cst.  Take producer P with position p and the packet q = p - cap
 * that last used its slot.  If the consumer's release of q (its store
 * s_seq = p) came after P's claim in the seq_cst order, so would the
 * decrements of q_len for q and every later packet.  Before P's claim
 * there are then at least p + 1 successful reservations (one for each
 * position 0..p, each made before its claim) and at most q decrements,
 * so q_len would be at least cap + 1 > limit; but q_len counts exactly
 * the successful reservations not yet taken, and a reservation raises
 * it only from below limit, so it never exceeds limit.  P's seq_cst
 * load of s_seq therefore reads the release store of q, and the
 * consumer's reads of the slot happen before P's writes.
 * R2 (no packet left behind).  Step 3 stores s_seq then loads q_active;
 * the work stores q_active = 0 then loads s_seq (all seq_cst).  If the
 * work's load missed the packet, the producer's load follows the work's
 * clear: it reads 0 and enqueues the work again, or reads 1 stored by a
 * producer whose swap followed that clear, whose enqueue starts a run
 * that clears q_active after our load, hence loads s_seq after our store.
 * R3 (one run at a time, never queued twice).  q_active goes 0 -> 1 only
 * by the swap that then enqueues q_work, and 1 -> 0 only at the start of
 * a run, after the workqueue has dequeued it; the workqueue runs one
 * queue's items one after the other.
 *
 * Statistics.  Enqueued is q_tail, processed is counted by the worker
 * after func returns, dropped by the refusing producer, and the
 * high-water mark is the largest q_len a successful reservation made.
 * Relaxed counters, except that processed is stored with release (in
 * fact seq_cst, see drain) and read first, with acquire, so a snapshot
 * never shows more processed than enqueued.
 *
 * Drain.  Packets are processed in position order by one worker, so
 * q_processed >= t means that func has returned for positions 0..t-1.
 * wqinput_drain() takes, queue by queue, t = q_tail (which counts every
 * packet accepted before the call, and perhaps some claimed since) and
 * waits until q_processed >= t.  It cannot wait for q_work instead: the
 * packets below t may belong to a run not yet enqueued (a producer
 * between its swap of q_active and its enqueue) or not yet possible (a
 * producer between its claim and its fill, which stops the run before
 * the later packets); by R2 each is taken by a run that the producer
 * concerned starts or has started, so q_processed does reach t.
 * Sleeping: a drainer that must wait lowers q_drain_at to t and
 * sleeps on wqi_drain_cv; the worker, after each packet, stores
 * q_processed and loads q_drain_at (both seq_cst), and when the count
 * has reached q_drain_at it resets q_drain_at to "none" and wakes every
 * drainer, each of which lowers q_drain_at to its own target again if
 * it must wait on.  D1 (no lost wake-up): the drainer stores q_drain_at
 * and loads q_processed (both seq_cst, under wqi_drain_lock, held until
 * it sleeps); either its load sees the count reach t, or the worker's
 * load sees a q_drain_at <= t (q_drain_at is lowered only, except by
 * the worker's reset, made under the lock and followed by a wake-up of
 * every sleeper), and the worker then takes the lock, which it can only
 * do once the drainer sleeps.  The worker pays one seq_cst store and one
 * load of a line of its own per packet, and takes the lock only when a
 * drainer's target is reached.  The acquire of q_processed makes func's
 * effects happen before wqinput_drain() returns.
 *
 * wqinput_destroy() destroys the workqueue, which runs every queued
 * q_work, so every accepted packet is processed and every drainer's
 * target reached, then waits until the drains in progress have returned
 * (wqi_drainers, under wqi_drain_lock: a woken drainer still takes the
 * lock and reads the queues), checks that the rings are empty and frees
 * them.  (Until 2026-12-01 it did not wait, and a drain woken by the
 * last packets used the freed wqinput.)
 *
 * Sizes.  The ring is n * cap slots for n CPUs: creation checks that the
 * product fits in a size_t (it need not with a 32-bit size_t) and fails
 * with ENOMEM if not.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/net/wqinput.h>
#include <mpsafe/thread.h>
#include <mpsafe/workqueue.h>

#define WQI_ALIGN 128
#define WQI_MAGIC 0x77716970u   /* "wqip" */
#define WQI_POISON 0xdeadbeefu  /* after wqinput_destroy */
#define WQI_NO_DRAIN UINT64_MAX /* q_drain_at when no drainer waits */

struct wqi_slot {
	_Atomic(uint64_t) s_seq; /* p: free for p; p + 1: holds p */
	struct mbuf *s_m;
	int s_off;
	int s_proto;
};

/* One CPU's queue.  Producer-written and worker-written lines apart. */
struct wqi_queue {
	/* Written by producers (atomic RMW); q_len also by the worker. */
	alignas(WQI_ALIGN) _Atomic(uint32_t) q_len;
	_Atomic(uint32_t) q_hiwat;
	_Atomic(uint32_t) q_active; /* q_work queued and not yet started */
	_Atomic(uint64_t) q_tail;   /* positions claimed: packets accepted */
	_Atomic(uint64_t) q_dropped;

	/* Written by the queue's worker only. */
	alignas(WQI_ALIGN) uint64_t q_head; /* next position to take */
	_Atomic(uint64_t) q_processed;      /* read by drain and stats */
	struct work q_work;

	/*
	 * The smallest count of processed packets a drainer waits for, or
	 * WQI_NO_DRAIN.  Written under wqi_drain_lock only (lowered by
	 * drainers, reset by the worker); read by the worker after each
	 * packet.  A line of its own: written only around a drain.
	 */
	alignas(WQI_ALIGN) _Atomic(uint64_t) q_drain_at;

	/* Set at creation. */
	struct wqi_slot *q_ring;
	struct cpu_info *q_ci;
};

struct wqinput {
	/* Read-only after creation. */
	alignas(WQI_ALIGN) void (*wqi_func)(struct mbuf *, int, int);
	void (*wqi_drop)(struct mbuf *);
	struct workqueue *wqi_wq;
	uint32_t wqi_limit;
	uint32_t wqi_cap; /* ring slots: a power of two >= wqi_limit */
	unsigned wqi_nqueues;
	/*
	 * WQI_MAGIC, then WQI_POISON.  Past the bytes glibc's free() writes
	 * into a large chunk (four pointers: 32 on 64-bit platforms, 16 on
	 * 32-bit), so that a use after destroy reads the poison.
	 */
	_Atomic(uint32_t) wqi_magic;
	struct wqi_slot *wqi_rings;
	char wqi_name[WORKQUEUE_NAMELEN + 1]; /* NUL included */
	/* Drainers sleep on wqi_drain_cv; see "Drain" above. */
	pthread_mutex_t wqi_drain_lock;
	pthread_cond_t wqi_drain_cv;
	unsigned wqi_drainers; /* drains in progress; wqi_drain_lock */
	struct wqi_queue wqi_queues[];
};

/* The wqinput whose func the calling thread runs, if any. */
static _Thread_local const struct wqinput *wqi_self;

#ifdef MPSAFE_FAULT_INJECTION
/* Test controls (mpsafe/net/wqinput.h).  Relaxed: set before use. */
static _Atomic(wqinput_test_hook_fn *) wqi_test_hook_fn;
static _Atomic(unsigned) wqi_test_ncpu;

void
wqinput_test_hook(wqinput_test_hook_fn *hook)
{
	atomic_store_explicit(&wqi_test_hook_fn, hook, memory_order_relaxed);
}

void
wqinput_test_ncpu(unsigned n)
{
	atomic_store_explicit(&wqi_test_ncpu, n, memory_order_relaxed);
}

static void
wqi_test_point(enum wqinput_test_point point)
{
	wqinput_test_hook_fn *hook =
	    atomic_load_explicit(&wqi_test_hook_fn, memory_order_relaxed);

	if (hook != NULL)
		(*hook)(point);
}
#define WQI_TEST_POINT(point) wqi_test_point(point)
#else
#define WQI_TEST_POINT(point) \
	do {                  \
	} while (0)
#endif

static MPSAFE_COLD MPSAFE_NORETURN void
wqi_bad(const struct wqinput *wqi, const char *fn, uint32_t magic)
{
	mpsafe_panic("%s: %p is not a live wqinput (%s)", fn, (const void *)wqi,
	    magic == WQI_POISON ? "used after wqinput_destroy"
	                        : "never created");
}

static inline void
wqi_check(const struct wqinput *wqi, const char *fn)
{
	uint32_t magic;

	if (MPSAFE_UNLIKELY(wqi == NULL))
		mpsafe_panic("%s: NULL wqinput", fn);
	/* Relaxed: a check; the caller owns its reference to wqi. */
	magic = atomic_load_explicit(&wqi->wqi_magic, memory_order_relaxed);
	if (MPSAFE_UNLIKELY(magic != WQI_MAGIC))
		wqi_bad(wqi, fn, magic);
}

/*
 * The worker of q has processed done packets and found a drainer waiting
 * for at most that many: reset q_drain_at and wake every drainer (each
 * lowers it again if it must wait on).
 */
static MPSAFE_COLD void
wqi_drain_wake(struct wqinput *wqi, struct wqi_queue *q)
{
	pthread_mutex_lock(&wqi->wqi_drain_lock);
	/* Relaxed: under wqi_drain_lock, as every store of q_drain_at. */
	atomic_store_explicit(
	    &q->q_drain_at, WQI_NO_DRAIN, memory_order_relaxed);
	pthread_cond_broadcast(&wqi->wqi_drain_cv);
	pthread_mutex_unlock(&wqi->wqi_drain_lock);
}

/* The work function: take this CPU's packets and process them. */
static void
wqi_work(struct work *wk, void *arg)
{
	struct wqinput *wqi = arg;
	struct wqi_queue *q =
	    (struct wqi_queue *)(void *)((char *)wk -
	                                 offsetof(struct wqi_queue, q_work));
	uint64_t mask = wqi->wqi_cap - 1;
	/* Relaxed: this thread is the one writer. */
	uint64_t done =
	    atomic_load_explicit(&q->q_processed, memory_order_relaxed);

	wqi_self = wqi;
	/* seq_cst: before the slot loads (R2). */
	atomic_store_explicit(&q->q_active, 0, memory_order_seq_cst);
	for (;;) {
		uint64_t p = q->q_head;
		struct wqi_slot *s = &q->q_ring[p & mask];
		struct mbuf *m;
		int off, proto;

		/* seq_cst (acquire): pairs with step 3 of wqinput_input. */
		if (atomic_load_explicit(&s->s_seq, memory_order_seq_cst) !=
		    p + 1)
			break; /* empty, or its producer is not done */
		m = s->s_m;
		off = s->s_off;
		proto = s->s_proto;
		/* seq_cst (release): the slot is free for p + cap (R1). */
		atomic_store_explicit(
		    &s->s_seq, p + wqi->wqi_cap, memory_order_seq_cst);
		q->q_head = p + 1;
		atomic_fetch_sub_explicit(&q->q_len, 1, memory_order_seq_cst);
		(*wqi->wqi_func)(m, off, proto);
		done++;
		/*
		 * seq_cst: a release, pairing with the acquire loads of
		 * wqinput_drain (func's effects) and wqi_stats_of (processed
		 * never exceeds enqueued there); and a store before the load
		 * of q_drain_at (D1: pairs with the drainer's store of
		 * q_drain_at, then load of q_processed).
		 */
		atomic_store_explicit(
		    &q->q_processed, done, memory_order_seq_cst);
		if (MPSAFE_UNLIKELY(done >= atomic_load_explicit(&q->q_drain_at,
		                                memory_order_seq_cst)))
			wqi_drain_wake(wqi, q);
	}
	wqi_self = NULL;
}

struct wqinput *
wqinput_create(const char *name, void (*func)(struct mbuf *, int, int))
{
	return wqinput_create_limit(name, func, WQINPUT_LIST_MAXLEN, NULL);
}

/*
 * wqi_sizes(n, cap, size, rsize)
 *
 *	The bytes of a wqinput of n queues (*size) and of its rings of cap
 *	slots each, rounded up to WQI_ALIGN (*rsize).  Returns false if
 *	either does not fit in a size_t (n * cap slots can overflow a
 *	32-bit size_t below WQINPUT_LIMIT_MAX).
 */
static bool
wqi_sizes(unsigned n, uint32_t cap, size_t *size, size_t *rsize)
{
	/* n >= 1 (a CPU count), so the division below is defined. */
	const size_t qsize = sizeof(struct wqi_queue);
	const size_t ssize = sizeof(struct wqi_slot);

	if (n > (SIZE_MAX - sizeof(struct wqinput)) / qsize)
		return false;
	*size = sizeof(struct wqinput) + n * qsize;
	if (cap > SIZE_MAX / ssize / n)
		return false;
	*rsize = (size_t)n * cap * ssize;
	if (*rsize > SIZE_MAX - (WQI_ALIGN - 1))
		return false;
	*rsize = (*rsize + WQI_ALIGN - 1) & ~(size_t)(WQI_ALIGN - 1);
	return true;
}

struct wqinput *
wqinput_create_limit(const char *name, void (*func)(struct mbuf *, int, int),
    unsigned limit, void (*drop)(struct mbuf *))
{
	struct wqinput *wqi;
	unsigned n = mpsafe_ncpu();
	uint32_t cap = 2; /* at least 2: see "Queues" above */
	size_t size, rsize;
	int error;

	if (name == NULL || func == NULL || limit == 0 ||
	    limit > WQINPUT_LIMIT_MAX) {
		errno = EINVAL;
		return NULL;
	}
#ifdef MPSAFE_FAULT_INJECTION
	/* Relaxed: see wqinput_test_ncpu. */
	if (atomic_load_explicit(&wqi_test_ncpu, memory_order_relaxed) > n)
		n = atomic_load_explicit(&wqi_test_ncpu, memory_order_relaxed);
#endif
	while (cap < limit)
		cap <<= 1;
	if (!wqi_sizes(n, cap, &size, &rsize)) {
		errno = ENOMEM;
		return NULL;
	}
	wqi = mpsafe_aligned_alloc(WQI_ALIGN, size);
	if (wqi == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(wqi, 0, size);
	wqi->wqi_rings = mpsafe_aligned_alloc(WQI_ALIGN, rsize);
	if (wqi->wqi_rings == NULL) {
		mpsafe_free(wqi);
		errno = ENOMEM;
		return NULL;
	}
	error = pthread_mutex_init(&wqi->wqi_drain_lock, NULL);
	if (error == 0) {
		error = pthread_cond_init(&wqi->wqi_drain_cv, NULL);
		if (error != 0)
			pthread_mutex_destroy(&wqi->wqi_drain_lock);
	}
	if (error != 0) {
		mpsafe_free(wqi->wqi_rings);
		mpsafe_free(wqi);
		errno = error;
		return NULL;
	}
	wqi->wqi_func = func;
	wqi->wqi_drop = drop;
	atomic_init(&wqi->wqi_magic, WQI_MAGIC);
	wqi->wqi_limit = limit;
	wqi->wqi_cap = cap;
	wqi->wqi_nqueues = n;
	snprintf(wqi->wqi_name, sizeof(wqi->wqi_name), "%s", name);
	for (unsigned i = 0; i < n; i++) {
		struct wqi_queue *q = &wqi->wqi_queues[i];

		atomic_init(&q->q_len, 0);
		atomic_init(&q->q_hiwat, 0);
		atomic_init(&q->q_active, 0);
		atomic_init(&q->q_tail, 0);
		atomic_init(&q->q_dropped, 0);
		atomic_init(&q->q_processed, 0);
		atomic_init(&q->q_drain_at, WQI_NO_DRAIN);
		q->q_head = 0;
		q->q_ring = &wqi->wqi_rings[(size_t)i * cap];
		q->q_ci = mpsafe_cpu_lookup(i);
		for (uint32_t k = 0; k < cap; k++) {
			atomic_init(&q->q_ring[k].s_seq, k);
			q->q_ring[k].s_m = NULL;
		}
	}
	error = workqueue_create(&wqi->wqi_wq, wqi->wqi_name, wqi_work, wqi, 0,
	    WQ_PERCPU | WQ_MPSAFE);
	if (error != 0) {
		pthread_cond_destroy(&wqi->wqi_drain_cv);
		pthread_mutex_destroy(&wqi->wqi_drain_lock);
		mpsafe_free(wqi->wqi_rings);
		mpsafe_free(wqi);
		errno = error;
		return NULL;
	}
	return wqi;
}

int
wqinput_input(struct wqinput *wqi, struct mbuf *m, int off, int proto)
{
	struct wqi_queue *q;
	struct wqi_slot *s;
	uint32_t len, hi;
	uint64_t p;

	wqi_check(wqi, "wqinput_input");
	q = &wqi->wqi_queues[mpsafe_cpu_index(mpsafe_curcpu())];

	/*
	 * 1. Reserve: raise q_len only from below the limit, so that a
	 * refused packet is never counted.  seq_cst: R1, and a refusal
	 * reads a full queue at its point of the seq_cst order.
	 */
	len = atomic_load_explicit(&q->q_len, memory_order_seq_cst);
	do {
		if (MPSAFE_UNLIKELY(len >= wqi->wqi_limit)) {
			WQI_TEST_POINT(WQINPUT_TP_REFUSED);
			/* Relaxed: a statistic. */
			atomic_fetch_add_explicit(
			    &q->q_dropped, 1, memory_order_relaxed);
			if (wqi->wqi_drop != NULL)
				(*wqi->wqi_drop)(m);
			return ENOBUFS;
		}
	} while (!atomic_compare_exchange_weak_explicit(&q->q_len, &len,
	    len + 1, memory_order_seq_cst, memory_order_seq_cst));
	len++;
	/* Relaxed: a statistic. */
	hi = atomic_load_explicit(&q->q_hiwat, memory_order_relaxed);
	while (
	    len > hi && !atomic_compare_exchange_weak_explicit(&q->q_hiwat, &hi,
	                    len, memory_order_relaxed, memory_order_relaxed))
		continue;

	/* 2. Claim.  seq_cst: R1. */
	p = atomic_fetch_add_explicit(&q->q_tail, 1, memory_order_seq_cst);
	WQI_TEST_POINT(WQINPUT_TP_CLAIMED);
	s = &q->q_ring[p & (wqi->wqi_cap - 1)];
	/* seq_cst (acquire): pairs with the work's release of the slot. */
	if (MPSAFE_UNLIKELY(
	        atomic_load_explicit(&s->s_seq, memory_order_seq_cst) != p))
		mpsafe_panic("wqinput_input(%s): slot of position %llu is not "
		             "free (wqinput_input during wqinput_destroy?)",
		    wqi->wqi_name, (unsigned long long)p);

	/* 3. Fill.  seq_cst: a release for the work, and R2. */
	s->s_m = m;
	s->s_off = off;
	s->s_proto = proto;
	atomic_store_explicit(&s->s_seq, p + 1, memory_order_seq_cst);

	/* 4. Run the work if it is not queued already (R2, R3). */
	if (atomic_load_explicit(&q->q_active, memory_order_seq_cst) == 0 &&
	    atomic_exchange_explicit(&q->q_active, 1, memory_order_seq_cst) ==
	        0) {
		WQI_TEST_POINT(WQINPUT_TP_ACTIVATED);
		workqueue_enqueue(wqi->wqi_wq, &q->q_work, q->q_ci);
	}
	return 0;
}

/*
 * Wait until q's worker has processed t packets (see "Drain").  Blocks.
 */
static void
wqi_drain_queue(struct wqinput *wqi, struct wqi_queue *q, uint64_t t)
{
	/* Acquire: pairs with the worker's store (func's effects). */
	if (atomic_load_explicit(&q->q_processed, memory_order_acquire) >= t)
		return;
	WQI_TEST_POINT(WQINPUT_TP_DRAIN_WAIT);
	pthread_mutex_lock(&wqi->wqi_drain_lock);
	for (;;) {
		/*
		 * Relaxed load: every store is made under the lock.  seq_cst
		 * store, then seq_cst load of q_processed (D1: pairs with
		 * the worker's store of q_processed, then load of
		 * q_drain_at); the load is also the acquire for func's
		 * effects.
		 */
		if (atomic_load_explicit(&q->q_drain_at, memory_order_relaxed) >
		    t)
			atomic_store_explicit(
			    &q->q_drain_at, t, memory_order_seq_cst);
		if (atomic_load_explicit(
		        &q->q_processed, memory_order_seq_cst) >= t)
			break;
		mpsafe_cond_wait(&wqi->wqi_drain_cv, &wqi->wqi_drain_lock);
	}
	pthread_mutex_unlock(&wqi->wqi_drain_lock);
}

void
wqinput_drain(struct wqinput *wqi)
{
	wqi_check(wqi, "wqinput_drain");
	if (wqi_self == wqi)
		mpsafe_panic("wqinput_drain(%s) from its input function: it "
		             "would wait for itself",
		    wqi->wqi_name);
	pthread_mutex_lock(&wqi->wqi_drain_lock);
	wqi->wqi_drainers++;
	pthread_mutex_unlock(&wqi->wqi_drain_lock);
	for (unsigned i = 0; i < wqi->wqi_nqueues; i++) {
		struct wqi_queue *q = &wqi->wqi_queues[i];

		/*
		 * Relaxed: the claims of packets accepted before the call
		 * happen before it, so the load sees them (coherence).
		 */
		wqi_drain_queue(wqi, q,
		    atomic_load_explicit(&q->q_tail, memory_order_relaxed));
		WQI_TEST_POINT(WQINPUT_TP_DRAIN_QUEUE_DONE);
	}
	pthread_mutex_lock(&wqi->wqi_drain_lock);
	if (--wqi->wqi_drainers == 0)
		pthread_cond_broadcast(&wqi->wqi_drain_cv); /* a destroyer */
	pthread_mutex_unlock(&wqi->wqi_drain_lock);
}

unsigned
wqinput_nqueues(const struct wqinput *wqi)
{
	wqi_check(wqi, "wqinput_nqueues");
	return wqi->wqi_nqueues;
}

static void
wqi_stats_of(const struct wqi_queue *q, struct wqinput_stats *st)
{
	/*
	 * Processed first, with acquire (pairs with the worker's release):
	 * the packets it counts were claimed before, so a snapshot never
	 * shows more processed than enqueued.  The rest relaxed.
	 */
	st->wqs_processed =
	    atomic_load_explicit(&q->q_processed, memory_order_acquire);
	st->wqs_enqueued =
	    atomic_load_explicit(&q->q_tail, memory_order_relaxed);
	st->wqs_dropped =
	    atomic_load_explicit(&q->q_dropped, memory_order_relaxed);
	st->wqs_hiwat = atomic_load_explicit(&q->q_hiwat, memory_order_relaxed);
}

int
wqinput_stats(const struct wqinput *wqi, unsigned cpu, struct wqinput_stats *st)
{
	wqi_check(wqi, "wqinput_stats");
	if (cpu >= wqi->wqi_nqueues || st == NULL)
		return EINVAL;
	wqi_stats_of(&wqi->wqi_queues[cpu], st);
	return 0;
}

void
wqinput_stats_total(const struct wqinput *wqi, struct wqinput_stats *st)
{
	struct wqinput_stats one;

	wqi_check(wqi, "wqinput_stats_total");
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < wqi->wqi_nqueues; i++) {
		wqi_stats_of(&wqi->wqi_queues[i], &one);
		st->wqs_enqueued += one.wqs_enqueued;
		st->wqs_processed += one.wqs_processed;
		st->wqs_dropped += one.wqs_dropped;
		if (one.wqs_hiwat > st->wqs_hiwat)
			st->wqs_hiwat = one.wqs_hiwat;
	}
}

void
wqinput_destroy(struct wqinput *wqi)
{
	wqi_check(wqi, "wqinput_destroy");
	/* Runs every queued q_work: every accepted packet is processed. */
	workqueue_destroy(wqi->wqi_wq);
	/* Every drainer's target is reached: wait for them to leave. */
	pthread_mutex_lock(&wqi->wqi_drain_lock);
	while (wqi->wqi_drainers != 0)
		mpsafe_cond_wait(&wqi->wqi_drain_cv, &wqi->wqi_drain_lock);
	pthread_mutex_unlock(&wqi->wqi_drain_lock);
	for (unsigned i = 0; i < wqi->wqi_nqueues; i++) {
		struct wqi_queue *q = &wqi->wqi_queues[i];

		/* Relaxed: the workers have been joined. */
		if (q->q_head !=
		    atomic_load_explicit(&q->q_tail, memory_order_relaxed))
			mpsafe_panic("wqinput_destroy(%s): packets left on "
			             "queue %u (wqinput_input during "
			             "wqinput_destroy?)",
			    wqi->wqi_name, i);
	}
	atomic_store_explicit(
	    &wqi->wqi_magic, WQI_POISON, memory_order_relaxed);
	wqi->wqi_func = NULL;
	pthread_cond_destroy(&wqi->wqi_drain_cv);
	pthread_mutex_destroy(&wqi->wqi_drain_lock);
	mpsafe_free(wqi->wqi_rings);
	mpsafe_free(wqi);
}
