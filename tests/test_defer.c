/*
 * test_defer.c: deferred reclamation (mpsafe/defer.h): destructors run
 * only after a grace period, in hand-over order, on the reclaimer; the
 * barrier waits for them; the pending-memory limit is never passed and the
 * caller waits instead, and a lower limit releases a caller that waits
 * for room it can no longer get; after fork() the child counts as pending
 * only what is still on the stack; bad arguments give errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>

#include "wait_flag.h"

TestSuite(defer, .timeout = 60);

struct obj {
	struct mpsafe_defer o_defer;
	int o_seq;
};

static _Atomic int freed;
static _Atomic int order_ok = 1;
static _Atomic int last_seq = -1;

static void
obj_free(struct mpsafe_defer *d)
{
	struct obj *o = (struct obj *)d;

	/* Hand-over order: each object after the one handed over before. */
	if (o->o_seq >= 0) {
		if (o->o_seq != atomic_load(&last_seq) + 1)
			atomic_store(&order_ok, 0);
		atomic_store(&last_seq, o->o_seq);
	}
	free(o);
	atomic_fetch_add(&freed, 1);
}

static struct obj *
obj_new(int seq)
{
	struct obj *o = malloc(sizeof(*o));

	cr_assert_not_null(o);
	o->o_seq = seq;
	return o;
}

Test(defer, runs_every_destructor_in_order)
{
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(mpsafe_defer(&obj_new(i)->o_defer, obj_free,
		                 sizeof(struct obj)),
		    0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 10000);
	cr_assert(atomic_load(&order_ok), "destructors ran out of order");

	struct mpsafe_defer_stats st;
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
	cr_assert_geq(st.pending_peak_bytes, sizeof(struct obj));
	cr_assert_geq(st.batches, 1);
}

Test(defer, bad_arguments)
{
	struct obj o;

	cr_assert_eq(mpsafe_defer(NULL, obj_free, 1), EINVAL);
	cr_assert_eq(mpsafe_defer(&o.o_defer, NULL, 1), EINVAL);
	cr_assert_eq(mpsafe_defer_try(NULL, obj_free, 1), EINVAL);
	cr_assert_eq(mpsafe_defer_set_limit(0), EINVAL);
	cr_assert_eq(mpsafe_defer_get_limit(), MPSAFE_DEFER_LIMIT_DEFAULT);
}

/* A reader in a section that began before the hand-over holds it back. */
struct holder {
	_Atomic int entered;
	_Atomic int release;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	int s = pserialize_read_enter();

	atomic_store(&h->entered, 1);
	while (!atomic_load(&h->release))
		sched_yield();
	pserialize_read_exit(s);
	return NULL;
}

Test(defer, destructor_waits_for_earlier_reader)
{
	struct holder h = {0};
	pthread_t t;
	struct timespec ts = {0, 100 * 1000 * 1000};

	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(
	    mpsafe_defer(&obj_new(-1)->o_defer, obj_free, sizeof(struct obj)),
	    0);
	nanosleep(&ts, NULL);
	cr_assert_eq(atomic_load(&freed), 0,
	    "destructor ran while a reader could still hold the object");
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 1);
}

/*
 * With a small limit the pending total never passes it; hand-overs past it
 * wait and reclaim inline, and nothing is lost.
 */
Test(defer, limit_is_never_exceeded)
{
	const size_t limit = 64 * sizeof(struct obj);
	struct mpsafe_defer_stats st;

	cr_assert_eq(mpsafe_defer_set_limit(limit), 0);
	mpsafe_defer_reset_peak();
	for (int i = 0; i < 20000; i++)
		cr_assert_eq(mpsafe_defer(&obj_new(-1)->o_defer, obj_free,
		                 sizeof(struct obj)),
		    0);
	mpsafe_defer_stats(&st);
	cr_assert_leq(st.pending_peak_bytes, limit,
	    "pending peak %zu passed the limit %zu", st.pending_peak_bytes,
	    limit);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 20000);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
}

Test(defer, try_refuses_past_the_limit)
{
	struct holder h = {0};
	pthread_t t;
	struct obj *a = obj_new(-1), *b = obj_new(-1);

	cr_assert_eq(mpsafe_defer_set_limit(sizeof(struct obj)), 0);
	/* Hold grace periods back so the first object stays pending. */
	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(mpsafe_defer_try(&a->o_defer, obj_free, sizeof(*a)), 0);
	cr_assert_eq(
	    mpsafe_defer_try(&b->o_defer, obj_free, sizeof(*b)), EAGAIN);
	/* Inside a read section the non-blocking form is allowed. */
	int s = pserialize_read_enter();
	cr_assert_eq(
	    mpsafe_defer_try(&b->o_defer, obj_free, sizeof(*b)), EAGAIN);
	pserialize_read_exit(s);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer(&b->o_defer, obj_free, sizeof(*b)), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
}

/* A destructor may hand over more work; the barrier is not fooled. */
static _Atomic int chained;

static void
chain_free(struct mpsafe_defer *d)
{
	free(d);
	atomic_fetch_add(&chained, 1);
}

static void
chain_first(struct mpsafe_defer *d)
{
	if (mpsafe_defer(d, chain_free, sizeof(*d)) != 0)
		abort();
}

Test(defer, destructor_may_defer_again)
{
	struct mpsafe_defer *d = malloc(sizeof(*d));

	cr_assert_eq(mpsafe_defer(d, chain_first, sizeof(*d)), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&chained), 1);
}

static void *
producer_main(void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < n; i++)
		if (mpsafe_defer(&obj_new(-1)->o_defer, obj_free,
		        sizeof(struct obj)) != 0)
			abort();
	return NULL;
}

Test(defer, many_producers)
{
	pthread_t t[4];
	int n = 20000;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, producer_main, &n), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 4 * n);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait up to seconds for freed to reach n; false if it did not. */
static bool
freed_within(int n, long seconds)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&freed) < n) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= seconds)
			return false;
		sleep_ms(1);
	}
	return true;
}

/* A destructor that counts, for objects the test owns (static). */
static void
count_free(struct mpsafe_defer *d)
{
	(void)d;
	atomic_fetch_add(&freed, 1);
}

/*
 * An object whose destructor holds the reclaimer until the gate opens:
 * the batch it is in stays taken off the stack, its bytes pending.
 */
struct gate {
	struct mpsafe_defer g_defer;
	_Atomic int g_running; /* the destructor has begun */
	_Atomic int g_open;
};

static void
gate_free(struct mpsafe_defer *d)
{
	struct gate *g = (struct gate *)d;

	atomic_store(&g->g_running, 1);
	while (!atomic_load(&g->g_open))
		sleep_ms(1); /* the test's own pacing, not the library's */
	atomic_fetch_add(&freed, 1);
}

static void
gate_wait_running(struct gate *g)
{
	while (!atomic_load(&g->g_running))
		sched_yield();
}

/* ThreadSanitizer kills a child of a threaded process that starts a thread. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/*
 * fork() while the reclaimer holds a batch: the child has no reclaimer,
 * and the batch's bytes must not count against its limit (with the
 * limit full, its first mpsafe_defer() would wait for ever).
 */
Test(defer, fork_child_pending_is_what_is_on_the_stack)
{
	/* Static: the reclaimer may still hold them if an assertion fails. */
	static struct gate y, x;
	static struct mpsafe_defer big, mine;
	struct mpsafe_defer_stats st;
	pid_t pid;
	int status;

	/* Set by scripts/portability.sh: qemu 7.2 aborts in such a fork. */
	if (getenv("MPSAFE_TEST_EMULATED") != NULL)
		cr_skip_test("fork of a threaded program under qemu-user");
	cr_assert_eq(mpsafe_defer_set_limit(1000), 0);
	/* y holds the reclaimer while x and big are handed over: one batch. */
	cr_assert_eq(mpsafe_defer(&y.g_defer, gate_free, 0), 0);
	gate_wait_running(&y);
	cr_assert_eq(mpsafe_defer(&x.g_defer, gate_free, 1), 0);
	cr_assert_eq(mpsafe_defer(&big, count_free, 999), 0);
	atomic_store(&y.g_open, 1);
	/* The reclaimer takes {x, big}, waits a grace period, runs x. */
	gate_wait_running(&x);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 1000);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		alarm(20); /* a hang fails the test, not the suite's timeout */
		mpsafe_defer_stats(&st);
		if (st.pending_bytes != 0)
			_exit(1); /* x and big are the lost reclaimer's */
#ifdef UNDER_TSAN
		_exit(0); /* a hand-over would start the child's reclaimer */
#endif
		if (mpsafe_defer(&mine, count_free, 1) != 0)
			_exit(2);
		if (mpsafe_defer_barrier() != 0)
			_exit(3);
		mpsafe_defer_stats(&st);
		_exit(st.pending_bytes == 0 ? 0 : 4);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child's defer state was wrong (status %#x: exit 1, it "
	    "counted the parent's taken batch as pending)",
	    status);
	atomic_store(&x.g_open, 1);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 3);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
}

/*
 * fork() from a destructor: the child's only thread is the reclaimer, in
 * the middle of a batch.  The child's check runs on a thread of its
 * own, after a barrier (which the reclaimer answers once the batch is
 * over): nothing may be left pending, and there must be room.
 */
static _Atomic int fork_status = -1;

static void *
fork_child_check(void *arg)
{
	static struct mpsafe_defer probe;
	struct mpsafe_defer_stats st;

	(void)arg;
	if (mpsafe_defer_barrier() != 0)
		_exit(2);
	mpsafe_defer_stats(&st);
	if (st.pending_bytes != 0)
		_exit(1); /* the batch's bytes were taken off twice */
	if (mpsafe_defer_try(&probe, count_free, 1) != 0)
		_exit(3);
	if (mpsafe_defer_barrier() != 0)
		_exit(4);
	_exit(0);
}

static void
fork_free(struct mpsafe_defer *d)
{
	int status;
	pid_t pid;

	(void)d;
	pid = fork();
	if (pid == 0) {
		pthread_t t;

		alarm(20); /* a hang fails the test, not the suite's timeout */
		if (pthread_create(&t, NULL, fork_child_check, NULL) != 0)
			_exit(5);
		return; /* on with the batch, as the child's reclaimer */
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		atomic_store(&fork_status, status);
	atomic_fetch_add(&freed, 1);
}

Test(defer, fork_in_destructor)
{
	static struct gate y;
	static struct mpsafe_defer f, a, b;
	int status;

	if (getenv("MPSAFE_TEST_EMULATED") != NULL)
		cr_skip_test("fork of a threaded program under qemu-user");
#ifdef UNDER_TSAN
	cr_skip_test("the child starts a thread (ThreadSanitizer kills it)");
#endif
	cr_assert_eq(mpsafe_defer_set_limit(1000), 0);
	/* y holds the reclaimer while f, a and b are handed over. */
	cr_assert_eq(mpsafe_defer(&y.g_defer, gate_free, 0), 0);
	gate_wait_running(&y);
	cr_assert_eq(mpsafe_defer(&f, fork_free, 100), 0);
	cr_assert_eq(mpsafe_defer(&a, count_free, 400), 0);
	cr_assert_eq(mpsafe_defer(&b, count_free, 400), 0);
	atomic_store(&y.g_open, 1);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 4);
	status = atomic_load(&fork_status);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child's defer state was wrong (status %#x: exit 1, the "
	    "batch's bytes were taken off its count twice)",
	    status);
}

/* One mpsafe_defer() on a thread of its own. */
struct producer {
	struct mpsafe_defer p_defer;
	size_t p_size;
	int p_error;
	_Atomic int p_done;
};

static void *
producer_one_main(void *arg)
{
	struct producer *p = arg;

	p->p_error = mpsafe_defer(&p->p_defer, count_free, p->p_size);
	atomic_store(&p->p_done, 1);
	return NULL;
}

/*
 * A producer waits for room; the limit is then lowered below its
 * object's size, so no room will ever do.  It must reclaim inline, not
 * wait for ever.  The reclaimer is held in a destructor meanwhile: only
 * mpsafe_defer_set_limit() can wake the producer.
 */
Test(defer, lowered_limit_releases_a_waiting_producer)
{
	/* Static: b's thread and the reclaimer may outlive a failed assert. */
	static struct gate y;
	static struct producer b = {.p_size = 600};
	struct mpsafe_defer_stats st0, st;
	pthread_t t;

	cr_assert_eq(mpsafe_defer_set_limit(1000), 0);
	/* y's 600 bytes stay pending while the reclaimer runs it. */
	cr_assert_eq(mpsafe_defer(&y.g_defer, gate_free, 600), 0);
	gate_wait_running(&y);
	mpsafe_defer_stats(&st0);
	cr_assert_eq(pthread_create(&t, NULL, producer_one_main, &b), 0);
	/* b found no room (600 + 600 > 1000) and counted its wait. */
	do {
		sched_yield();
		mpsafe_defer_stats(&st);
	} while (st.inline_waits == st0.inline_waits);
	cr_assert_eq(mpsafe_defer_set_limit(500), 0);
	cr_assert(flag_within(&b.p_done, 10),
	    "mpsafe_defer still waits for room under a limit smaller than "
	    "its object");
	cr_assert_eq(b.p_error, 0);
	cr_assert_eq(atomic_load(&freed), 1, "b's object was not reclaimed");
	atomic_store(&y.g_open, 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0);
}

/*
 * Destructors run without a barrier to push them: the reclaimer's timed
 * waits (the batching window after a batch, the linger before idling)
 * end on their own.  A deadline on another clock than defer_cv's
 * (CLOCK_MONOTONIC) would make them wait for decades.
 */
Test(defer, destructors_run_without_a_barrier)
{
	static struct mpsafe_defer a, b;

	cr_assert_eq(mpsafe_defer(&a, count_free, 1), 0);
	cr_assert(freed_within(1, 10), "the first destructor never ran");
	/* Handed over during the batching window, or the linger after it. */
	cr_assert_eq(mpsafe_defer(&b, count_free, 1), 0);
	cr_assert(freed_within(2, 10),
	    "the second destructor never ran: a timed wait did not end");
}

/*
 * "Set the bound on pending memory (at least 1); returns EINVAL for 0":
 * both sides of the smallest limit.
 */
Test(defer, smallest_limit_is_one_byte)
{
	cr_assert_eq(mpsafe_defer_set_limit(0), EINVAL);
	cr_assert_eq(mpsafe_defer_get_limit(), MPSAFE_DEFER_LIMIT_DEFAULT,
	    "a refused limit changed the limit");
	cr_assert_eq(mpsafe_defer_set_limit(1), 0);
	cr_assert_eq(mpsafe_defer_get_limit(), 1);
	/* A one-byte object fits the one-byte limit; a second does not. */
	struct holder h = {0};
	pthread_t t;
	struct obj *a = obj_new(-1), *b = obj_new(-1);

	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(mpsafe_defer_try(&a->o_defer, obj_free, 1), 0);
	cr_assert_eq(mpsafe_defer_try(&b->o_defer, obj_free, 1), EAGAIN);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer(&b->o_defer, obj_free, 1), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
}

/*
 * "returns EAGAIN ... when the pending total would pass the limit": a
 * total that reaches the limit exactly does not pass it; one byte more
 * does.  Grace periods are held back so what is handed over stays
 * pending.
 */
Test(defer, try_fills_the_limit_exactly)
{
	struct holder h = {0};
	pthread_t t;
	struct obj *a = obj_new(-1), *b = obj_new(-1);
	struct mpsafe_defer_stats st;

	cr_assert_eq(mpsafe_defer_set_limit(100), 0);
	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	cr_assert_eq(mpsafe_defer_try(&a->o_defer, obj_free, 60), 0);
	/* 60 + 41 = 101 passes the limit. */
	cr_assert_eq(mpsafe_defer_try(&b->o_defer, obj_free, 41), EAGAIN);
	/* 60 + 40 = 100 reaches it. */
	cr_assert_eq(mpsafe_defer_try(&b->o_defer, obj_free, 40), 0);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 100);
	cr_assert_eq(atomic_load(&freed), 0);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
}

/*
 * "an object larger than the whole limit ... is reclaimed inline after a
 * grace period": at limit + 1 bytes the destructor has run when
 * mpsafe_defer() returns, and mpsafe_defer_try() refuses it; an object of
 * exactly the limit is an ordinary hand-over (it returns while a reader
 * still holds grace periods back, its destructor not yet run).
 */
Test(defer, object_of_the_whole_limit_is_handed_over_one_more_is_inline)
{
	/* Static: a's thread may outlive a failed assertion. */
	static struct holder h;
	static struct producer a = {.p_size = 100};
	pthread_t t, pt;
	struct obj *b = obj_new(-1);
	struct mpsafe_defer_stats st0, st;

	cr_assert_eq(mpsafe_defer_set_limit(100), 0);
	mpsafe_defer_stats(&st0);
	cr_assert_eq(mpsafe_defer_try(&b->o_defer, obj_free, 101), EAGAIN);
	cr_assert_eq(mpsafe_defer(&b->o_defer, obj_free, 101), 0);
	cr_assert_eq(atomic_load(&freed), 1,
	    "an object larger than the limit was not reclaimed inline");
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.inline_waits, st0.inline_waits + 1);
	cr_assert_eq(st.pending_bytes, 0);

	cr_assert_eq(pthread_create(&t, NULL, holder_main, &h), 0);
	while (!atomic_load(&h.entered))
		sched_yield();
	/*
	 * Reclaimed inline (or made to wait for room), it would wait for
	 * the reader, which leaves only after the check: the producer
	 * thread would still be inside mpsafe_defer().
	 */
	cr_assert_eq(pthread_create(&pt, NULL, producer_one_main, &a), 0);
	cr_assert(flag_within(&a.p_done, 10),
	    "an object of exactly the limit was not simply handed over");
	cr_assert_eq(pthread_join(pt, NULL), 0);
	cr_assert_eq(a.p_error, 0);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 100);
	cr_assert_eq(st.inline_waits, st0.inline_waits + 1,
	    "an object of exactly the limit had to wait");
	cr_assert_eq(atomic_load(&freed), 1);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
}

#ifndef MPSAFE_DIAGNOSTIC
/*
 * "Not inside a read section (returns EDEADLK; diagnostic builds abort)"
 * and "Not inside a read section nor from a destructor (returns
 * EDEADLK ...)": without contract checks the calls are refused, nothing
 * is handed over, and just outside the section they work.  (Diagnostic
 * builds: death_pserialize's defer_inside_read_section and
 * defer_barrier_*.)
 */
static _Atomic int barrier_in_destructor = -1;

static void
barrier_free(struct mpsafe_defer *d)
{
	atomic_store(&barrier_in_destructor, mpsafe_defer_barrier());
	free(d);
	atomic_fetch_add(&freed, 1);
}

Test(defer, inside_read_section_is_refused)
{
	struct obj *o = obj_new(-1);
	struct mpsafe_defer *d = malloc(sizeof(*d));
	struct mpsafe_defer_stats st;
	int s;

	cr_assert_not_null(d);
	s = pserialize_read_enter();
	cr_assert_eq(mpsafe_defer(&o->o_defer, obj_free, sizeof(*o)), EDEADLK);
	cr_assert_eq(mpsafe_defer_barrier(), EDEADLK);
	pserialize_read_exit(s);
	mpsafe_defer_stats(&st);
	cr_assert_eq(st.pending_bytes, 0, "a refused object was handed over");
	cr_assert_eq(atomic_load(&freed), 0);
	cr_assert_eq(mpsafe_defer(&o->o_defer, obj_free, sizeof(*o)), 0);
	cr_assert_eq(mpsafe_defer(d, barrier_free, sizeof(*d)), 0);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	cr_assert_eq(atomic_load(&freed), 2);
	cr_assert_eq(atomic_load(&barrier_in_destructor), EDEADLK);
}
#endif
