/*
 * test_fault.c: fault injection (mpsafe/alloc.h, MPSAFE_FAULT_INJECTION).
 *
 * For every call that allocates or starts threads, fail its 1st, 2nd,
 * 3rd ... allocation (or thread creation) in turn until the call makes
 * fewer than N and succeeds.  Each failure must return the documented
 * error, leave the state as it was (no object handed out, no thread left
 * running, the registry usable), and leak nothing: under AddressSanitizer
 * each test ends with LeakSanitizer's check, which fails the test on any
 * unreachable block.  Also: membarrier refused (EPERM, ENOSYS) selects
 * the fence mode, which then orders a grace period against a reader; and
 * thread creation refused makes mpsafe_defer_try() return EAGAIN and
 * mpsafe_defer() reclaim inline.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>
#include <mpsafe/thread.h>
#include <mpsafe/workqueue.h>
#ifdef MPSAFE_TEST_NET
#include <mpsafe/net/wqinput.h>
#endif

#include "leak_check.h"
#include "thread_count.h"

TestSuite(fault, .timeout = 60);

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
nop_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
}

/* --- workqueue_create ---------------------------------------------------- */

static void
workqueue_alloc_loop(int flags)
{
	struct workqueue *wq;
	unsigned n, failures = 0;
	int base, before, error;

	/* Sanitizer runtimes start threads of their own on first use. */
	base = thread_count_warm();
	cr_assert_eq(
	    workqueue_create(&wq, "warm", nop_func, NULL, 0, flags), 0);
	workqueue_destroy(wq);
	before = thread_count_settled(base);
	for (n = 1;; n++) {
		wq = (struct workqueue *)&wq; /* must stay untouched */
		mpsafe_fault_alloc_fail_nth(n);
		error =
		    workqueue_create(&wq, "fault", nop_func, NULL, 0, flags);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		cr_assert_eq(wq, (struct workqueue *)&wq, "*wqp was written");
		cr_assert_eq(
		    thread_count_settled(before), before, "a worker was left");
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(
	    error, 0, "create with every allocation granted: %d", error);
	cr_assert_geq(failures, 1, "workqueue_create allocated nothing");
	workqueue_destroy(wq);
	cr_assert_eq(thread_count_settled(before), before);
	assert_no_leak();
}

Test(fault, workqueue_create_alloc)
{
	workqueue_alloc_loop(0);
}

Test(fault, workqueue_create_alloc_percpu)
{
	workqueue_alloc_loop(WQ_PERCPU | WQ_MPSAFE);
}

/* Every worker's pthread_create fails in turn, with EAGAIN and EPERM. */
static void
workqueue_thread_loop(int fail_error)
{
	struct workqueue *wq;
	unsigned n, failures = 0;
	int base, before, error;

	base = thread_count_warm();
	cr_assert_eq(
	    workqueue_create(&wq, "warm", nop_func, NULL, 0, WQ_PERCPU), 0);
	workqueue_destroy(wq);
	before = thread_count_settled(base);
	for (n = 1;; n++) {
		wq = NULL;
		mpsafe_fault_thread_create_fail_nth(n, fail_error);
		error = workqueue_create(
		    &wq, "fault", nop_func, NULL, 0, WQ_PERCPU);
		if (mpsafe_fault_thread_create_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, fail_error, "thread %u: error %d", n, error);
		cr_assert_null(wq);
		cr_assert_eq(thread_count_settled(before), before,
		    "thread %u failed: the workers before it were not joined",
		    n);
	}
	mpsafe_fault_thread_create_fail_nth(0, 0);
	cr_assert_eq(error, 0);
	cr_assert_eq(failures, mpsafe_ncpu(), "one worker per CPU");
	cr_assert_eq(thread_count_settled(before + (int)mpsafe_ncpu()),
	    before + (int)mpsafe_ncpu());
	workqueue_destroy(wq);
	assert_no_leak();
}

Test(fault, workqueue_create_thread_eagain)
{
	workqueue_thread_loop(EAGAIN);
}

Test(fault, workqueue_create_thread_eperm)
{
	workqueue_thread_loop(EPERM);
}

/* --- registry growth ----------------------------------------------------- */

struct holder {
	pthread_mutex_t h_lock;
	pthread_cond_t h_cv;
	bool h_ready, h_go;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;

	cr_assert_eq(mpsafe_thread_register(), 0);
	pthread_mutex_lock(&h->h_lock);
	h->h_ready = true;
	pthread_cond_broadcast(&h->h_cv);
	while (!h->h_go)
		pthread_cond_wait(&h->h_cv, &h->h_lock);
	pthread_mutex_unlock(&h->h_lock);
	return NULL;
}

Test(fault, registry_growth)
{
	struct holder h = {
	    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
	pthread_t tid;
	unsigned n, failures = 0;
	int error;
	pserialize_t psz;

	/* Another thread owns the only record: registering must grow. */
	cr_assert_eq(pthread_create(&tid, NULL, holder_main, &h), 0);
	pthread_mutex_lock(&h.h_lock);
	while (!h.h_ready)
		pthread_cond_wait(&h.h_cv, &h.h_lock);
	pthread_mutex_unlock(&h.h_lock);

	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		error = mpsafe_thread_register();
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		cr_assert_not(mpsafe_thread_registered());
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert(mpsafe_thread_registered());
	/* Record, psref table, localcount directory. */
	cr_assert_geq(failures, 3, "only %u allocations", failures);

	/* The registry still works: a grace period with both registered. */
	psz = pserialize_create();
	cr_assert_not_null(psz);
	pserialize_perform(psz);
	pserialize_destroy(psz);
	cr_assert_eq(mpsafe_thread_unregister(), 0);

	pthread_mutex_lock(&h.h_lock);
	h.h_go = true;
	pthread_cond_broadcast(&h.h_cv);
	pthread_mutex_unlock(&h.h_lock);
	cr_assert_eq(pthread_join(tid, NULL), 0);
	assert_no_leak();
}

/* --- the door itself ------------------------------------------------------ */

/* mpsafe_map_zeroed(): zeroed, page-aligned, writable; fails as documented. */
Test(fault, map_zeroed)
{
	const size_t size = ((size_t)1 << 20) + 1;
	unsigned char *p;

	mpsafe_fault_alloc_fail_nth(1);
	errno = 0;
	cr_assert_null(mpsafe_map_zeroed(0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(mpsafe_fault_alloc_count(), 0, "size 0 was counted");
	errno = 0;
	cr_assert_null(mpsafe_map_zeroed(size), "the armed fault was ignored");
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(mpsafe_fault_alloc_count(), 1);
	p = mpsafe_map_zeroed(size);
	cr_assert_not_null(p, "after a one-shot fault: %d", errno);
	cr_assert_eq((uintptr_t)p % 4096, 0, "not page-aligned");
	cr_assert_eq(p[0] | p[size / 2] | p[size - 1], 0, "not zeroed");
	p[0] = 1;
	p[size - 1] = 2;
	cr_assert_eq(p[0] + p[size - 1], 3);
	mpsafe_unmap(p, size);
	mpsafe_unmap(NULL, size);
	mpsafe_fault_alloc_fail_nth(0);
}

/*
 * mpsafe_aligned_alloc(): an align that is not a power of two (0, 3, 48)
 * is EINVAL and not counted; size rounds up to align; a size that
 * overflows when rounded is ENOMEM; the one-shot fault fails exactly the
 * nth allocation, and n = 0 disarms.
 */
Test(fault, aligned_alloc)
{
	static const size_t bad[] = {0, 3, 48, ((size_t)1 << 12) + 1};
	unsigned char *p;

	mpsafe_fault_alloc_fail_nth(2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(
		    mpsafe_aligned_alloc(bad[i], 64), "align %zu", bad[i]);
		cr_assert_eq(errno, EINVAL, "align %zu", bad[i]);
	}
	errno = 0;
	cr_assert_null(mpsafe_aligned_alloc(64, SIZE_MAX - 10));
	cr_assert_eq(errno, ENOMEM, "a size that wraps when rounded up");
	cr_assert_eq(mpsafe_fault_alloc_count(), 0, "refusals were counted");
	p = mpsafe_aligned_alloc(64, 1); /* the first: succeeds */
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 64, 0);
	p[0] = 1;
	p[63] = 2; /* the size was rounded up to the alignment */
	mpsafe_free(p);
	errno = 0;
	cr_assert_null(mpsafe_aligned_alloc(64, 1), "the second must fail");
	cr_assert_eq(errno, ENOMEM);
	p = mpsafe_aligned_alloc(4096, 4096); /* one shot: now it works */
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 4096, 0);
	mpsafe_free(p);
	cr_assert_eq(mpsafe_fault_alloc_count(), 3);
	mpsafe_fault_alloc_fail_nth(1);
	mpsafe_fault_alloc_fail_nth(0); /* disarmed before it fired */
	p = mpsafe_aligned_alloc(64, 1);
	cr_assert_not_null(p, "n = 0 did not disarm");
	mpsafe_free(p);
}

/* --- constructors of the primitives -------------------------------------- */

Test(fault, pserialize_create)
{
	pserialize_t psz;
	unsigned n, failures = 0;

	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		errno = 0;
		psz = pserialize_create();
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_null(psz);
		cr_assert_eq(errno, ENOMEM);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_not_null(psz);
	cr_assert_geq(failures, 1);
	pserialize_perform(psz);
	pserialize_destroy(psz);
	assert_no_leak();
}

Test(fault, psref_class_create)
{
	struct psref_class *class;
	struct psref_target target;
	struct psref ref;
	unsigned n, failures = 0;

	cr_assert_eq(mpsafe_thread_register(), 0); /* its allocations apart */
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		errno = 0;
		class = psref_class_create("fault");
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_null(class);
		cr_assert_eq(errno, ENOMEM);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_not_null(class);
	cr_assert_geq(failures, 1);
	psref_target_init(&target, class);
	{
		int s = pserialize_read_enter();

		psref_acquire(&ref, &target, class);
		pserialize_read_exit(s);
	}
	psref_release(&ref, &target, class);
	psref_target_destroy(&target, class);
	psref_class_destroy(class);
	assert_no_leak();
}

/*
 * localcount_init allocates nothing; the first acquire on a thread may
 * allocate a counter chunk and, refused, counts on the shared total.
 */
Test(fault, localcount_chunk)
{
	struct localcount lc;
	unsigned n;

	cr_assert_eq(mpsafe_thread_register(), 0);
	mpsafe_fault_alloc_fail_nth(1);
	cr_assert_eq(localcount_init(&lc), 0);
	cr_assert_eq(mpsafe_fault_alloc_count(), 0,
	    "localcount_init "
	    "allocated");
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		localcount_acquire(&lc);
		if (mpsafe_fault_alloc_count() < n)
			break;
	}
	mpsafe_fault_alloc_fail_nth(0);
	/* n acquires in all; release them and drain: no count is lost. */
	for (unsigned i = 0; i < n; i++)
		localcount_release(&lc);
	localcount_drain(&lc);
	localcount_fini(&lc);
	assert_no_leak();
}

/* --- deferred reclamation ------------------------------------------------ */

struct dobj {
	struct mpsafe_defer d_defer;
	atomic_int d_ran;
};

static void
dobj_reclaim(struct mpsafe_defer *d)
{
	struct dobj *o = (struct dobj *)d;

	atomic_fetch_add(&o->d_ran, 1);
}

/* Must run first in its process: the reclaimer thread is not started. */
Test(fault, defer_no_reclaimer_thread)
{
	struct dobj a = {.d_ran = 0}, b = {.d_ran = 0}, c = {.d_ran = 0};

	mpsafe_fault_thread_create_fail_nth(1, EAGAIN);
	cr_assert_eq(mpsafe_defer_try(&a.d_defer, dobj_reclaim, 64), EAGAIN);
	cr_assert_eq(mpsafe_fault_thread_create_count(), 1);
	cr_assert_eq(atomic_load(&a.d_ran), 0, "not handed over, not run");

	/* The blocking form falls back to an inline grace period. */
	mpsafe_fault_thread_create_fail_nth(1, EAGAIN);
	cr_assert_eq(mpsafe_defer(&b.d_defer, dobj_reclaim, 64), 0);
	cr_assert_eq(atomic_load(&b.d_ran), 1, "reclaimed inline");

	/* With threads granted again the reclaimer starts and runs it. */
	mpsafe_fault_thread_create_fail_nth(0, 0);
	cr_assert_eq(mpsafe_defer_try(&c.d_defer, dobj_reclaim, 64), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&c.d_ran), 1);
	cr_assert_eq(atomic_load(&a.d_ran), 0);
	assert_no_leak();
}

/* --- membarrier refused -------------------------------------------------- */

struct reader {
	atomic_int r_in, r_leave, r_done;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	int s = pserialize_read_enter();

	atomic_store(&r->r_in, 1);
	while (!atomic_load(&r->r_leave))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

static void *
writer_main(void *arg)
{
	struct reader *r = arg;
	pserialize_t psz = pserialize_create();

	cr_assert_not_null(psz);
	pserialize_perform(psz);
	atomic_store(&r->r_done, 1);
	pserialize_destroy(psz);
	return NULL;
}

static void
membarrier_refused(int error)
{
	struct reader r = {0, 0, 0};
	pthread_t rt, wt;

	mpsafe_fault_membarrier(error); /* before the library's first use */
	cr_assert_eq(mpsafe_get_ordering(), MPSAFE_ORDERING_FENCE);
	cr_assert_eq(mpsafe_set_ordering(MPSAFE_ORDERING_MEMBARRIER), ENOTSUP);
	cr_assert_eq(mpsafe_get_ordering(), MPSAFE_ORDERING_FENCE);

	/* The fallback works: a grace period waits for a reader. */
	cr_assert_eq(pthread_create(&rt, NULL, reader_main, &r), 0);
	while (!atomic_load(&r.r_in))
		sched_yield();
	cr_assert_eq(pthread_create(&wt, NULL, writer_main, &r), 0);
	sleep_ms(50); /* not a race hidden: the writer must still wait */
	cr_assert_eq(atomic_load(&r.r_done), 0,
	    "a grace period ended while a reader was inside its section");
	atomic_store(&r.r_leave, 1);
	cr_assert_eq(pthread_join(rt, NULL), 0);
	cr_assert_eq(pthread_join(wt, NULL), 0);
	cr_assert_eq(atomic_load(&r.r_done), 1);
	mpsafe_fault_membarrier(0);
	assert_no_leak();
}

Test(fault, membarrier_eperm_selects_fence)
{
	membarrier_refused(EPERM);
}

Test(fault, membarrier_enosys_selects_fence)
{
	membarrier_refused(ENOSYS);
}

/* --- the network stack's wqinput ----------------------------------------- */

#ifdef MPSAFE_TEST_NET
static void
wqi_func(struct mbuf *m, int off, int proto)
{
	(void)m;
	(void)off;
	(void)proto;
}

Test(fault, wqinput_create)
{
	struct wqinput *wqi;
	unsigned n, failures = 0, tfailures = 0;
	int base, before;

	base = thread_count_warm();
	wqi = wqinput_create("warm", wqi_func);
	cr_assert_not_null(wqi);
	wqinput_destroy(wqi);
	before = thread_count_settled(base);
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		errno = 0;
		wqi = wqinput_create("fault", wqi_func);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_null(wqi);
		cr_assert_eq(errno, ENOMEM);
		cr_assert_eq(thread_count_settled(before), before);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_not_null(wqi);
	cr_assert_geq(failures, 3, "wqinput, rings, workqueue");
	wqinput_destroy(wqi);
	for (n = 1;; n++) {
		mpsafe_fault_thread_create_fail_nth(n, EAGAIN);
		errno = 0;
		wqi = wqinput_create("fault", wqi_func);
		if (mpsafe_fault_thread_create_count() < n)
			break;
		tfailures++;
		cr_assert_null(wqi);
		cr_assert_eq(errno, EAGAIN);
		cr_assert_eq(thread_count_settled(before), before);
	}
	mpsafe_fault_thread_create_fail_nth(0, 0);
	cr_assert_not_null(wqi);
	cr_assert_eq(tfailures, mpsafe_ncpu());
	wqinput_destroy(wqi);
	assert_no_leak();
}
#endif
