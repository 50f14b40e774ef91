/*
 * bench/strategy_workqueue.c: mpsafe's workqueue(3) with one worker (no
 * WQ_PERCPU, so that it competes with mutex-queue's single worker on
 * equal terms): producers push with one compare-and-swap, the worker
 * takes whole batches and sleeps on a futex when idle.  Used only by the
 * workqueue workload (see wq_bench.h).
 */
#include <stddef.h>

#include <mpsafe/workqueue.h>

#include "bench.h"
#include "wq_bench.h"

static struct workqueue *wqs_wq;
static void (*wqs_fn)(struct wqb_item *, void *);

static void
wqs_work(struct work *wk, void *arg)
{
	struct wqb_item *it =
	    (struct wqb_item *)(void *)((char *)wk -
	                                offsetof(struct wqb_item, wi_work));

	(*wqs_fn)(it, arg);
}

static int
wqs_start(void (*fn)(struct wqb_item *, void *), void *arg)
{
	wqs_fn = fn;
	return workqueue_create(
	    &wqs_wq, "bench-wq", wqs_work, arg, 0, WQ_MPSAFE);
}

static void
wqs_enqueue(struct wqb_item *it)
{
	workqueue_enqueue(wqs_wq, &it->wi_work, NULL);
}

static void
wqs_stop(void)
{
	workqueue_destroy(wqs_wq);
	wqs_wq = NULL;
}

const struct wq_bench_ops wq_bench_ops_workqueue = {
    .wo_strategy = "workqueue",
    .wo_start = wqs_start,
    .wo_enqueue = wqs_enqueue,
    .wo_stop = wqs_stop,
};

const struct bench_strategy strategy_workqueue = {
    .name = "workqueue",
    .description = "mpsafe workqueue(3), one worker: lock-free enqueue, "
                   "futex wake-up (workqueue workload only)",
    .init = wq_bench_init,
    .fini = wq_bench_fini,
    .thread_register = wq_bench_thread_register,
    .thread_unregister = wq_bench_thread_unregister,
};
