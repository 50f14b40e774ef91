/*
 * mpsafe/net/wqinput.h: protocol input deferred to worker threads, after
 * NetBSD's wqinput (sys/netinet/wqinput.h).
 *
 * A protocol whose input routine must run in thread context (it sleeps,
 * takes locks a packet-receive path must not, or waits for grace periods)
 * creates a wqinput with its input routine and has its receive path call
 * wqinput_input(wqi, m, off, proto) instead.  The packet goes on a bounded
 * queue of the CPU the caller runs on, and that CPU's worker (a WQ_PERCPU
 * workqueue) later calls func(m, off, proto).  The caller never blocks:
 * when the queue is full the packet is dropped, and counted.  A wqinput
 * does not survive fork(): the child has none of its workers and must
 * not use it.
 *
 * Differences from NetBSD (see wqinput(3)):
 *  - The packet type is struct mbuf, declared but not defined here (the
 *    stack's packet header defines it); this header does not need it.
 *  - Memory for the queues is allocated when the wqinput is created, so
 *    wqinput_input() never allocates, and it drops only on a full queue
 *    (limit packets queued and not yet taken by the worker).
 *  - wqinput_input() returns 0 or ENOBUFS.  A dropped packet is handed to
 *    the drop function given to wqinput_create_limit() (NetBSD frees it
 *    with m_freem()); without one the caller still owns it.
 *  - The queue length is configurable (wqinput_create_limit()); there
 *    are per-queue statistics (enqueued, processed, dropped, high-water
 *    mark) readable at any time, and wqinput_drain() and
 *    wqinput_destroy().
 */
#ifndef MPSAFE_NET_WQINPUT_H
#define MPSAFE_NET_WQINPUT_H

#include <stdint.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

struct mbuf;
struct wqinput;

/* Packets each CPU's queue holds by default (NetBSD's IFQ_MAXLEN). */
#define WQINPUT_LIST_MAXLEN 256
/* The longest queue wqinput_create_limit() accepts. */
#define WQINPUT_LIMIT_MAX (1u << 20)

/*
 * One queue's statistics (or their sum, see wqinput_stats_total()).
 * Packets offered = wqs_enqueued + wqs_dropped; once the queue has
 * drained, wqs_processed == wqs_enqueued.
 */
struct wqinput_stats {
	uint64_t wqs_enqueued;  /* accepted by wqinput_input() */
	uint64_t wqs_processed; /* handed to func, which has returned */
	uint64_t wqs_dropped;   /* refused: the queue was full */
	uint64_t wqs_hiwat;     /* most packets ever queued at once */
};

/*
 * wqinput_create(name, func)
 *
 *	wqinput_create_limit(name, func, WQINPUT_LIST_MAXLEN, NULL).
 */
MPSAFE_API struct wqinput *wqinput_create(
    const char *name, void (*func)(struct mbuf *, int, int));

/*
 * wqinput_create_limit(name, func, limit, drop)
 *
 *	Create a wqinput: one queue of at most limit packets per CPU
 *	(mpsafe_ncpu()), and a WQ_PERCPU workqueue named after name whose
 *	workers call func(m, off, proto) for each packet queued on their
 *	CPU, in the order queued.  drop, if not NULL, is called with each
 *	packet that wqinput_input() refuses (to free it).  Returns NULL
 *	with errno EINVAL (NULL name or func, limit 0 or above
 *	WQINPUT_LIMIT_MAX), ENOMEM, or the error of workqueue_create().
 *	Blocks (creates threads).
 */
MPSAFE_API struct wqinput *wqinput_create_limit(const char *name,
    void (*func)(struct mbuf *, int, int), unsigned limit,
    void (*drop)(struct mbuf *));

/*
 * wqinput_input(wqi, m, off, proto)
 *
 *	Queue m for func(m, off, proto) on the calling thread's CPU.
 *	Returns 0 once queued (m belongs to wqi until func gets it), or
 *	ENOBUFS if that CPU's queue is full: the drop is counted, and m is
 *	passed to the drop function if there is one, otherwise returned to
 *	the caller, who must free it.  Never blocks, never allocates; a few
 *	atomic operations on the CPU's own queue, and a workqueue enqueue
 *	when the worker is idle.  Any thread; not during
 *	wqinput_destroy().
 */
MPSAFE_API int wqinput_input(
    struct wqinput *wqi, struct mbuf *m, int off, int proto);

/*
 * wqinput_drain(wqi)
 *
 *	Return once every packet that wqinput_input() accepted before the
 *	call (a return of 0 that happens before it) has been processed:
 *	func has returned for it, and what func did happens before the
 *	return.  This holds whatever other producers do meanwhile, even
 *	one stalled inside wqinput_input() on the same CPU: drain then
 *	waits for it to finish its call.  Packets accepted during the call
 *	may or may not be waited for.  Queues are drained one after the
 *	other, each up to the packets it had accepted when its turn came,
 *	so a steady flow of new packets does not keep drain from
 *	returning.  Not from func (it would wait for itself: aborts).
 *	Blocks (sleeps; no polling).
 */
MPSAFE_API void wqinput_drain(struct wqinput *wqi);

/* wqinput_nqueues(wqi): the number of queues, one per CPU. */
MPSAFE_API unsigned wqinput_nqueues(const struct wqinput *wqi);

/*
 * wqinput_stats(wqi, cpu, st)
 *
 *	Copy the statistics of the queue of CPU index cpu into *st.
 *	Returns 0, or EINVAL if cpu >= wqinput_nqueues(wqi).  Any time,
 *	any thread; the counters are read one by one, so while packets
 *	flow they may be a few packets apart.  Never blocks.
 *
 * wqinput_stats_total(wqi, st)
 *
 *	The sum over all queues (wqs_hiwat: the largest of them).
 */
MPSAFE_API int wqinput_stats(
    const struct wqinput *wqi, unsigned cpu, struct wqinput_stats *st);
MPSAFE_API void wqinput_stats_total(
    const struct wqinput *wqi, struct wqinput_stats *st);

/*
 * wqinput_destroy(wqi)
 *
 *	Process every packet queued, stop the workers and free wqi, which
 *	is poisoned.  No wqinput_input() or wqinput_drain() may be in
 *	progress, and no call on wqi may follow: the caller makes sure of
 *	that (destroy does wake and wait for a drain already asleep in
 *	wqi, but cannot see one that has entered wqinput_drain() and not
 *	yet reached wqi's lock, so it cannot be relied on).  Not from func.
 *	Blocks.
 */
MPSAFE_API void wqinput_destroy(struct wqinput *wqi);

/*
 * Test-only controls: defined only in a library built with
 * MPSAFE_FAULT_INJECTION=ON (the test presets; see mpsafe/alloc.h).
 * Process-wide; set them while no wqinput is in use.
 *
 * wqinput_test_hook(hook)
 *	From now on wqinput_input() and wqinput_drain() call hook(point)
 *	on the calling thread at each of the points below, holding no lock
 *	of their own; hook may block there, to hold that thread between
 *	two steps while the test runs others.  NULL removes the hook.
 * wqinput_test_ncpu(n)
 *	From now on wqinput_create_limit() makes n queues instead of
 *	mpsafe_ncpu() when n is larger (0, or an n not larger, restores
 *	mpsafe_ncpu(): every CPU needs its queue); queues beyond
 *	mpsafe_ncpu() are never used.  For testing the size checks of
 *	creation.
 */
enum wqinput_test_point {
	WQINPUT_TP_REFUSED = 1, /* input: the queue is full, not yet counted */
	WQINPUT_TP_CLAIMED,     /* input: position claimed, slot not filled */
	WQINPUT_TP_ACTIVATED,   /* input: q_active set, work not enqueued */
	WQINPUT_TP_DRAIN_WAIT,  /* drain: a queue is behind; about to wait */
	WQINPUT_TP_DRAIN_QUEUE_DONE /* drain: a queue caught up, next not begun
	                             */
};
typedef void wqinput_test_hook_fn(enum wqinput_test_point point);
MPSAFE_API void wqinput_test_hook(wqinput_test_hook_fn *hook);
MPSAFE_API void wqinput_test_ncpu(unsigned n);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_WQINPUT_H */
