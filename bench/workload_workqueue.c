/*
 * bench/workload_workqueue.c: deferred work handed to one worker thread.
 *
 * Throughput.  N producer threads (--threads) each own a ring of WQB_POOL
 * items and loop: take the next item of the ring; if the worker has not
 * run it yet since its last enqueue, wait (spin, then yield); else mark
 * it busy and enqueue it.  The worker's function only clears the busy
 * flag.  ops = items enqueued in the measured phase (the worker keeps up:
 * a producer cannot get more than WQB_POOL items ahead), so ops_per_sec
 * is items per second through the queue.  ns_per_op is the producers'
 * time per item, pooled (producers x measured time / items), not the
 * mean of each producer's own figure: with more threads than cores the
 * scheduler may starve one producer while the other feeds the worker,
 * and the mean would then follow the starved one.  The ratio to the
 * baseline is thus the throughput ratio.  After the run the queue is
 * stopped (which runs what is left); every item enqueued must have run
 * once, else the difference is reported as violations.
 *
 * Latency.  Then, with a fresh queue whose worker is idle: one producer
 * loops {stamp the time, enqueue one item, wait until it has run, sleep
 * WQB_LAT_PAUSE_NS}; the function stamps the time as it starts.  The
 * pause is longer than any worker's spin before sleeping, so each sample
 * is the wake-up of a sleeping worker; the producer waits with
 * sched_yield() alone, so that a worker woken on the producer's CPU runs
 * at once rather than after a spin.  Enqueue-to-start latency,
 * lat_p50_ns and lat_p99_ns over the measured phase's samples.  This
 * phase runs as long as the first (warm-up and measured time) and does
 * not depend on --threads.
 *
 * Strategies: those that have a queue (wq_bench.h): workqueue and
 * mutex-queue.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "wq_bench.h"

/* Items in each producer's ring. */
#define WQB_POOL 1024
/* Latency phase: sleep between two samples, so that the worker sleeps. */
#define WQB_LAT_PAUSE_NS 200000u

const struct wq_bench_ops *
wq_bench_ops_find(const struct bench_strategy *s)
{
	static const struct wq_bench_ops *const all[] = {
	    &wq_bench_ops_workqueue,
	    &wq_bench_ops_mutex_queue,
	    NULL,
	};

	for (size_t i = 0; all[i] != NULL; i++)
		if (strcmp(all[i]->wo_strategy, s->name) == 0)
			return all[i];
	return NULL;
}

/* Written by the worker only; read after the queue is stopped (joined). */
struct wqb_worker_state {
	uint64_t runs;
	struct bench_hist hist; /* latency samples */
};

/* One producer's ring and its count of items enqueued (all phases). */
struct wqb_producer {
	const struct wq_bench_ops *ops;
	struct wqb_item *ring;
	uint64_t enqueued;
};

static const char *
wqb_supports(const struct bench_strategy *s)
{
	if (wq_bench_ops_find(s) == NULL)
		return "has no work queue (workqueue, mutex-queue only)";
	return NULL;
}

/* The work function: stamp the start (latency runs), hand the item back. */
static void
wqb_item_run(struct wqb_item *it, void *arg)
{
	struct wqb_worker_state *ws = arg;

	if (it->wi_measure)
		bench_hist_add(&ws->hist, bench_now_ns() - it->wi_t0);
	ws->runs++;
	/* Release: pairs with the producer's acquire; we are done with it. */
	atomic_store_explicit(&it->wi_busy, 0, memory_order_release);
}

static void
wqb_producer_thread(struct bench_thread *t)
{
	struct wqb_producer *p = t->arg;
	const struct wq_bench_ops *ops = p->ops;
	uint64_t n = 0, total = 0, t0 = 0, t1;
	unsigned next = 0, spins = 0;
	bool measuring = false;

	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct wqb_item *it = &p->ring[next];

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			t0 = bench_now_ns();
		}
		/* Acquire: pairs with the worker's release in wqb_item_run. */
		if (atomic_load_explicit(&it->wi_busy, memory_order_acquire)) {
			bench_spin_then_yield(&spins);
			continue;
		}
		spins = 0;
		/* Relaxed: the enqueue publishes it to the worker. */
		atomic_store_explicit(&it->wi_busy, 1, memory_order_relaxed);
		ops->wo_enqueue(it);
		next = (next + 1) % WQB_POOL;
		total++;
		if (measuring)
			n++;
	}
	t1 = bench_now_ns();
	p->enqueued = total;
	t->ops = n;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
}

static void
wqb_latency_thread(struct bench_thread *t)
{
	struct wqb_producer *p = t->arg;
	struct wqb_item *it = &p->ring[0];
	uint64_t n = 0, total = 0;

	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);

		if (ph == BENCH_PHASE_STOP)
			break;
		it->wi_measure = ph == BENCH_PHASE_MEASURE;
		/* Relaxed: the enqueue publishes it to the worker. */
		atomic_store_explicit(&it->wi_busy, 1, memory_order_relaxed);
		it->wi_t0 = bench_now_ns();
		p->ops->wo_enqueue(it);
		/* Acquire: pairs with the worker's release in wqb_item_run. */
		while (atomic_load_explicit(&it->wi_busy, memory_order_acquire))
			sched_yield();
		total++;
		n += it->wi_measure;
		bench_sleep_ns(WQB_LAT_PAUSE_NS);
	}
	p->enqueued = total;
	t->ops = n;
}

/* Start a queue, run the threads, stop the queue (runs what is left). */
static int
wqb_phase(const struct bench_strategy *s, const struct wq_bench_ops *ops,
    struct bench_thread *threads, unsigned n, const struct bench_config *cfg,
    struct wqb_worker_state *ws, uint64_t *measured)
{
	int error;

	memset(ws, 0, sizeof(*ws));
	error = ops->wo_start(wqb_item_run, ws);
	if (error != 0) {
		bench_warn(
		    "%s: cannot start the queue (error %d)", s->name, error);
		return -1;
	}
	error = bench_run_threads(threads, n, cfg, measured);
	ops->wo_stop();
	return error;
}

static int
wqb_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	const struct wq_bench_ops *ops = wq_bench_ops_find(s);
	unsigned n = cfg->threads;
	struct bench_thread *threads, *lat;
	struct wqb_producer *prods;
	struct wqb_worker_state *ws;
	struct wqb_item *items;
	uint64_t measured, enqueued = 0;
	int error = -1;

	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * (n + 1));
	prods = calloc(n, sizeof(*prods));
	ws = calloc(1, sizeof(*ws));
	items = aligned_alloc(BENCH_CACHELINE, sizeof(*items) * WQB_POOL * n);
	if (ops == NULL || threads == NULL || prods == NULL || ws == NULL ||
	    items == NULL) {
		bench_warn("%s",
		    ops == NULL ? "not a queue strategy" : "out of memory");
		goto out;
	}
	memset(items, 0, sizeof(*items) * WQB_POOL * n);

	/* Throughput: n producers. */
	for (unsigned i = 0; i < n; i++) {
		prods[i] = (struct wqb_producer){
		    .ops = ops,
		    .ring = &items[(size_t)i * WQB_POOL],
		};
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = wqb_producer_thread,
		    .arg = &prods[i],
		    .index = i,
		    .id = i,
		};
	}
	if (wqb_phase(s, ops, threads, n, cfg, ws, &measured) != 0)
		goto out;
	bench_result_from_threads(res, threads, n, measured);
	/* Pooled: see the opening comment. */
	res->has_ns_per_op = res->ops > 0;
	res->ns_per_op =
	    res->ops > 0 ? (double)n * (double)measured / (double)res->ops : 0;
	for (unsigned i = 0; i < n; i++)
		enqueued += prods[i].enqueued;
	if (ws->runs != enqueued) {
		bench_warn("%s: %llu items enqueued, %llu run", s->name,
		    (unsigned long long)enqueued, (unsigned long long)ws->runs);
		res->violations += enqueued > ws->runs ? enqueued - ws->runs
		                                       : ws->runs - enqueued;
	}

	/* Latency: one producer, an idle worker. */
	lat = &threads[n];
	*lat = (struct bench_thread){
	    .strategy = s,
	    .body = wqb_latency_thread,
	    .arg = &prods[0],
	    .index = 0,
	    .id = 0,
	};
	memset(items, 0, sizeof(*items));
	if (wqb_phase(s, ops, lat, 1, cfg, ws, &measured) != 0)
		goto out;
	if (ws->runs != prods[0].enqueued)
		res->violations++;
	res->has_lat = true;
	res->lat_p50_ns = bench_hist_quantile(&ws->hist, 0.50);
	res->lat_p99_ns = bench_hist_quantile(&ws->hist, 0.99);
	error = 0;
out:
	free(threads);
	free(prods);
	free(ws);
	free(items);
	return error;
}

const struct bench_workload workload_workqueue = {
    .name = "workqueue",
    .description = "N producers, one worker: items/s (ops/s), ns/op per "
                   "producer; enqueue-to-start latency p50/p99 of an "
                   "idle worker",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = wqb_supports,
    .run = wqb_run,
};
