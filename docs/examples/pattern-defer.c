/*
 * pattern-defer.c: leave a context that must not block (docs/patterns/
 * 07-leave-nonblocking-context.md).  The packet path runs inside a read
 * section, where it must not wait; when a packet tells it to delete a
 * route, it hands the deletion to a workqueue, whose worker may take the
 * lock and wait for the grace period.  With PATTERN_UNSAFE it deletes the
 * route itself: its grace period would wait for its own read section for
 * ever, and the library aborts instead ("pserialize_perform inside a read
 * section").
 * Built and run by the example_pattern_defer tests.
 */
#include <stddef.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/workqueue.h>

#include "pattern.h"

struct route {
	int r_dst;
	atomic_bool r_doomed; /* the deletion has been handed over */
	struct pslist_entry r_entry;
	struct work r_work;
};

/* Writers: route_lock.  Readers: a read section. */
static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pslist_head route_list = PSLIST_INITIALIZER;
static pserialize_t route_psz;
static struct workqueue *route_wq;

/* The caller is in a read section. */
static struct route *
route_lookup(int dst)
{
	struct route *r;

	PSLIST_READER_FOREACH (r, &route_list, struct route, r_entry) {
		if (r->r_dst == dst)
			return r;
	}
	return NULL;
}

/* Thread context only: takes the lock and waits for readers. */
static void
route_destroy(struct route *r)
{
	pthread_mutex_lock(&route_lock);
	PSLIST_WRITER_REMOVE(r, r_entry);
	pserialize_perform(route_psz);
	pthread_mutex_unlock(&route_lock);
	PSLIST_ENTRY_DESTROY(r, r_entry);
	free(r);
}

/* The worker: thread context, so it may wait. */
static void
route_destroy_work(struct work *wk, void *arg)
{
	(void)arg;
	route_destroy((struct route *)(void *)((char *)wk -
	                                       offsetof(struct route, r_work)));
}

/* The packet path: inside a read section, it must not wait. */
static void
packet_input(int dst, bool redirect)
{
	struct route *r;
	int s;

	s = pserialize_read_enter();
	r = route_lookup(dst);
	if (r != NULL && redirect && !atomic_exchange(&r->r_doomed, true)) {
#ifdef PATTERN_UNSAFE
		route_destroy(r); /* would wait for this very section */
#else
		workqueue_enqueue(route_wq, &r->r_work, NULL);
#endif
	}
	/* ... r is still valid here: the worker waits for this section. */
	pserialize_read_exit(s);
}

int
main(void)
{
	struct route *r = calloc(1, sizeof(*r));
	bool gone;
	int s;

	route_psz = pserialize_create();
	if (r == NULL || route_psz == NULL ||
	    workqueue_create(&route_wq, "route", route_destroy_work, NULL, 0,
	        WQ_MPSAFE) != 0)
		return 1;
	r->r_dst = 10;
	PSLIST_ENTRY_INIT(r, r_entry);
	pthread_mutex_lock(&route_lock);
	PSLIST_WRITER_INSERT_HEAD(&route_list, r, r_entry);
	pthread_mutex_unlock(&route_lock);

	packet_input(10, false); /* an ordinary packet */
	packet_input(10, true);  /* a redirect: delete the route */
	workqueue_wait(
	    route_wq, &r->r_work); /* r may be freed: only compared */
	s = pserialize_read_enter();
	gone = route_lookup(10) == NULL;
	pserialize_read_exit(s);
	workqueue_destroy(route_wq);
	pserialize_destroy(route_psz);
	return pattern_result("pattern-defer", !gone, "the route survived");
}
