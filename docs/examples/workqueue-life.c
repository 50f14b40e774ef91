/*
 * workqueue-life.c: the whole life of work handed to workqueue(3): create
 * a workqueue with one worker per CPU, allocate requests that embed a
 * struct work, enqueue them on "the current CPU", let the work function
 * do the job in thread context and free the request, wait for a request
 * that is gone by then (workqueue_wait only compares its address), and
 * destroy the workqueue, which runs whatever is still queued.  Built and
 * run by the example_workqueue test; workqueue(3) shows an excerpt.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpsafe/workqueue.h>

struct frotz_req {
	struct work fr_work; /* first member: the cast below relies on it */
	int fr_value;
};

static atomic_int frotz_sum;

/* Runs on a worker thread: may sleep, lock, wait; here it frees too. */
static void
frotz_work(struct work *wk, void *arg)
{
	struct frotz_req *req = (struct frotz_req *)wk;

	(void)arg;
	atomic_fetch_add(&frotz_sum, req->fr_value);
	free(req);
}

int
main(void)
{
	struct workqueue *wq;
	struct work *last = NULL;
	int error, expect = 0;

	error = workqueue_create(
	    &wq, "frotz", frotz_work, NULL, 0, WQ_PERCPU | WQ_MPSAFE);
	if (error != 0)
		return 1;
	for (int i = 1; i <= 100; i++) {
		struct frotz_req *req = malloc(sizeof(*req));

		if (req == NULL)
			return 1;
		req->fr_value = i;
		expect += i;
		last = &req->fr_work;
		workqueue_enqueue(wq, last, NULL); /* the caller's CPU */
	}
	/* The last request frees itself: waiting for it is still fine. */
	workqueue_wait(wq, last);
	workqueue_destroy(wq); /* runs anything left, joins the workers */
	printf("workqueue-life: %s\n",
	    atomic_load(&frotz_sum) == expect ? "ok" : "FAILED");
	return atomic_load(&frotz_sum) == expect ? 0 : 1;
}
