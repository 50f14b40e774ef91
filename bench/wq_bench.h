/*
 * bench/wq_bench.h: the queues behind the workqueue workload's strategies.
 *
 * The workqueue workload measures a queue with one worker thread, not a
 * read-side protection, so its strategies ("workqueue": mpsafe's
 * workqueue(3); "mutex-queue": a pthread mutex and condition variable
 * around a FIFO) provide no bench_strategy read or write operations.
 * Instead each defines a struct wq_bench_ops, which the workload finds by
 * strategy name (wq_bench_ops_find(), in workload_workqueue.c); every
 * other workload skips these strategies through its supports() check.
 *
 * One queue runs at a time: the operations keep their state in statics.
 */
#ifndef WQ_BENCH_H
#define WQ_BENCH_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include <mpsafe/workqueue.h>

#include "bench.h"

/*
 * One work item.  Each strategy uses its own link; the rest belongs to
 * the workload.  A cache line (two, with the prefetcher) per item, so
 * that a producer filling one item and the worker finishing its
 * neighbour do not share a line.
 */
struct wqb_item {
	alignas(BENCH_CACHELINE) struct work wi_work; /* workqueue */
	struct wqb_item *wi_next;                     /* mutex-queue */
	/*
	 * 1 from just before the enqueue until the worker has run the item
	 * (producer stores 1, worker stores 0 with release).
	 */
	_Atomic uint32_t wi_busy;
	uint32_t wi_measure; /* latency runs: record this one */
	uint64_t wi_t0;      /* latency runs: bench_now_ns() at enqueue */
};

struct wq_bench_ops {
	const char *wo_strategy; /* the bench_strategy's name */
	/*
	 * wo_start(fn, arg): create the queue and its one worker thread,
	 * which calls fn(item, arg) for each item, in enqueue order per
	 * producer.  Returns 0 or an errno.
	 */
	int (*wo_start)(void (*fn)(struct wqb_item *, void *), void *arg);
	/* wo_enqueue(it): queue it (not queued already); any thread. */
	void (*wo_enqueue)(struct wqb_item *it);
	/* wo_stop(): run everything queued, stop and join the worker. */
	void (*wo_stop)(void);
};

extern const struct wq_bench_ops wq_bench_ops_workqueue;
extern const struct wq_bench_ops wq_bench_ops_mutex_queue;

/* The queue of strategy s, or NULL if s is not a queue strategy. */
const struct wq_bench_ops *wq_bench_ops_find(const struct bench_strategy *s);

/* No-op hooks for the bench_strategy table of a queue strategy. */
static inline int
wq_bench_init(void)
{
	return 0;
}

static inline void
wq_bench_fini(void)
{
}

static inline void
wq_bench_thread_register(enum bench_role role)
{
	(void)role;
}

static inline void
wq_bench_thread_unregister(void)
{
}

#endif /* WQ_BENCH_H */
