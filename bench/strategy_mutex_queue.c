/*
 * bench/strategy_mutex_queue.c: the obvious work queue, the baseline of
 * the workqueue workload: a FIFO list under one pthread mutex, a
 * condition variable signalled on every enqueue, and one worker thread
 * that takes one item per lock hold and waits on the condition variable
 * when the list is empty.  Used only by the workqueue workload (see
 * wq_bench.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "bench.h"
#include "wq_bench.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct wqb_item *head, *tail; /* lock: FIFO, oldest at head */
	bool stop;                    /* lock */
	pthread_t worker;
	void (*fn)(struct wqb_item *, void *);
	void *arg;
} mq = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static void *
mq_worker(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&mq.lock);
	for (;;) {
		struct wqb_item *it;

		while (mq.head == NULL && !mq.stop)
			pthread_cond_wait(&mq.cv, &mq.lock);
		if (mq.head == NULL)
			break; /* stopped, and empty */
		it = mq.head;
		mq.head = it->wi_next;
		if (mq.head == NULL)
			mq.tail = NULL;
		pthread_mutex_unlock(&mq.lock);
		(*mq.fn)(it, mq.arg);
		pthread_mutex_lock(&mq.lock);
	}
	pthread_mutex_unlock(&mq.lock);
	return NULL;
}

static int
mq_start(void (*fn)(struct wqb_item *, void *), void *arg)
{
	mq.head = mq.tail = NULL;
	mq.stop = false;
	mq.fn = fn;
	mq.arg = arg;
	return pthread_create(&mq.worker, NULL, mq_worker, NULL);
}

static void
mq_enqueue(struct wqb_item *it)
{
	it->wi_next = NULL;
	pthread_mutex_lock(&mq.lock);
	if (mq.tail != NULL)
		mq.tail->wi_next = it;
	else
		mq.head = it;
	mq.tail = it;
	pthread_cond_signal(&mq.cv);
	pthread_mutex_unlock(&mq.lock);
}

static void
mq_stop(void)
{
	pthread_mutex_lock(&mq.lock);
	mq.stop = true;
	pthread_cond_signal(&mq.cv);
	pthread_mutex_unlock(&mq.lock);
	pthread_join(mq.worker, NULL);
}

const struct wq_bench_ops wq_bench_ops_mutex_queue = {
    .wo_strategy = "mutex-queue",
    .wo_start = mq_start,
    .wo_enqueue = mq_enqueue,
    .wo_stop = mq_stop,
};

const struct bench_strategy strategy_mutex_queue = {
    .name = "mutex-queue",
    .description = "baseline: FIFO under a pthread mutex, condition "
                   "variable, one worker (workqueue workload only)",
    .init = wq_bench_init,
    .fini = wq_bench_fini,
    .thread_register = wq_bench_thread_register,
    .thread_unregister = wq_bench_thread_unregister,
};
