/*
 * test_workqueue.c: unit tests of workqueue(3): creation and its errors,
 * the CPU helpers, order of execution per producer, WQ_PERCPU placement,
 * items that free themselves (and whose memory is reused at once) under
 * workqueue_wait, waiting for queued, running and never-queued items,
 * the ordering of a function's writes before a wait that finds its batch
 * over (under TSan),
 * destroy with pending items and with work functions that enqueue more,
 * many producers, enqueue from work functions, and the failure of
 * pthread_create in workqueue_create.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/workqueue.h>

#include "thread_count.h"

/* Library-private test hook (src/workqueue.c; linked statically). */
void mpsafe_workqueue_test_fail_create(int queue_index);

TestSuite(workqueue, .timeout = 60);

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A gate a work function can block on until the test opens it. */
struct gate {
	pthread_mutex_t g_lock;
	pthread_cond_t g_cv;
	int g_open;
	int g_waiting; /* functions blocked on it */
};

#define GATE_INITIALIZER                                                  \
	{                                                                 \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 \
	}

static void
gate_block(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_waiting++;
	pthread_cond_broadcast(&g->g_cv);
	while (!g->g_open)
		pthread_cond_wait(&g->g_cv, &g->g_lock);
	g->g_waiting--;
	pthread_mutex_unlock(&g->g_lock);
}

/* Wait until n functions are blocked on g. */
static void
gate_wait_blocked(struct gate *g, int n)
{
	pthread_mutex_lock(&g->g_lock);
	while (g->g_waiting < n)
		pthread_cond_wait(&g->g_cv, &g->g_lock);
	pthread_mutex_unlock(&g->g_lock);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_open = 1;
	pthread_cond_broadcast(&g->g_cv);
	pthread_mutex_unlock(&g->g_lock);
}

/* --- creation ---------------------------------------------------------- */

static void
nop_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
}

Test(workqueue, create_destroy)
{
	struct workqueue *wq = NULL;

	cr_assert_eq(workqueue_create(&wq, "wqtest", nop_func, NULL, 0, 0), 0);
	cr_assert_not_null(wq);
	workqueue_destroy(wq);
	cr_assert_eq(workqueue_create(&wq, "wqtest", nop_func, NULL, 0,
	                 WQ_MPSAFE | WQ_PERCPU | WQ_FPU),
	    0);
	workqueue_destroy(wq);
	/* prio is ignored, whatever it is; long names are cut. */
	cr_assert_eq(workqueue_create(&wq,
	                 "a-name-much-longer-than-the-thread-name-limit",
	                 nop_func, NULL, 220, WQ_PERCPU),
	    0);
	workqueue_destroy(wq);
	cr_assert_eq(workqueue_create(&wq, "wqtest", nop_func, NULL, -1, 0), 0);
	workqueue_destroy(wq);
}

#ifdef __linux__ /* workers are named only there */
/* Records its worker's thread name. */
static void
name_func(struct work *wk, void *arg)
{
	(void)wk;
	if (pthread_getname_np(pthread_self(), arg, 16) != 0)
		strcpy(arg, "(unknown)");
}

/*
 * Worker names: "name", or "name/index" with the name cut by the
 * suffix's length only (a 13-character name and "/0" fit 15).
 */
Test(workqueue, worker_names_fit_the_limit)
{
	static const struct {
		const char *create, *expect;
		int flags;
	} cases[] = {
	    {"abcdefghijklm", "abcdefghijklm/0", WQ_PERCPU},
	    {"abcdefghijklmn", "abcdefghijklm/0", WQ_PERCPU},
	    {"abcdefghijklmnopq", "abcdefghijklm/0", WQ_PERCPU},
	    /* Exactly the 15 characters Linux allows, and one more. */
	    {"abcdefghijklmno", "abcdefghijklmno", 0},
	    {"abcdefghijklmnop", "abcdefghijklmno", 0},
	    {"abcdefghijklmnopq", "abcdefghijklmno", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct workqueue *wq;
		struct work wk;
		char name[16] = "";

		cr_assert_eq(workqueue_create(&wq, cases[i].create, name_func,
		                 name, 0, cases[i].flags),
		    0);
		workqueue_enqueue(wq, &wk,
		    (cases[i].flags & WQ_PERCPU) ? mpsafe_cpu_lookup(0) : NULL);
		workqueue_wait(wq, &wk);
		cr_assert(strcmp(name, cases[i].expect) == 0,
		    "case %zu: worker named \"%s\", expected \"%s\"", i, name,
		    cases[i].expect);
		workqueue_destroy(wq);
	}
}

/*
 * A two-digit CPU index takes one more character from the name: on CPU
 * 10, a 12-character name and "/10" fill the 15; a 13-character one loses
 * its last.  Needs more than 10 CPUs: ctest's test_workqueue_ncpu12 runs
 * it on a table of 12 (MPSAFE_TEST_NCPU, test builds).
 */
Test(workqueue, worker_names_fit_the_limit_with_two_digit_cpus)
{
	static const struct {
		const char *create, *expect;
	} cases[] = {
	    {"abcdefghijkl", "abcdefghijkl/10"},
	    {"abcdefghijklm", "abcdefghijkl/10"},
	};

	if (mpsafe_ncpu() <= 10)
		cr_skip_test(
		    "needs more than 10 CPUs (have %u)", mpsafe_ncpu());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct workqueue *wq;
		struct work wk;
		char name[16] = "";

		cr_assert_eq(workqueue_create(&wq, cases[i].create, name_func,
		                 name, 0, WQ_PERCPU),
		    0);
		workqueue_enqueue(wq, &wk, mpsafe_cpu_lookup(10));
		workqueue_wait(wq, &wk);
		cr_assert(strcmp(name, cases[i].expect) == 0,
		    "case %zu: worker named \"%s\", expected \"%s\"", i, name,
		    cases[i].expect);
		workqueue_destroy(wq);
	}
}
#endif

/*
 * "flags: WQ_MPSAFE, WQ_PERCPU, WQ_FPU ... EINVAL for ... an unknown
 * flag": every known flag together is accepted; the first bit past them,
 * and the sign bit, are refused and leave *wqp alone.
 */
Test(workqueue, create_flags_at_the_limit)
{
	struct workqueue *wq = NULL;
	const int known = WQ_MPSAFE | WQ_PERCPU | WQ_FPU;
	const int first_unknown = (known + 1) & ~known;

	cr_assert_eq(first_unknown, 0x08);
	cr_assert_eq(workqueue_create(&wq, "x", nop_func, NULL, 0, known), 0);
	cr_assert_not_null(wq);
	workqueue_destroy(wq);
	wq = NULL;
	cr_assert_eq(workqueue_create(
	                 &wq, "x", nop_func, NULL, 0, known | first_unknown),
	    EINVAL);
	cr_assert_eq(
	    workqueue_create(&wq, "x", nop_func, NULL, 0, first_unknown),
	    EINVAL);
	cr_assert_eq(
	    workqueue_create(&wq, "x", nop_func, NULL, 0, INT_MIN), EINVAL);
	cr_assert_null(wq);
}

Test(workqueue, create_bad_arguments)
{
	struct workqueue *wq = NULL;

	cr_assert_eq(workqueue_create(NULL, "x", nop_func, NULL, 0, 0), EINVAL);
	cr_assert_eq(workqueue_create(&wq, NULL, nop_func, NULL, 0, 0), EINVAL);
	cr_assert_eq(workqueue_create(&wq, "x", NULL, NULL, 0, 0), EINVAL);
	cr_assert_eq(
	    workqueue_create(&wq, "x", nop_func, NULL, 0, 0x100), EINVAL);
	cr_assert_null(wq);
}

Test(workqueue, cpu_helpers)
{
	unsigned n = mpsafe_ncpu();
	struct cpu_info *ci;

	cr_assert_geq(n, 1);
	for (unsigned i = 0; i < n; i++) {
		ci = mpsafe_cpu_lookup(i);
		cr_assert_not_null(ci);
		cr_assert_eq(mpsafe_cpu_index(ci), i);
		if (i > 0)
			cr_assert_gt(mpsafe_cpu_number(ci),
			    mpsafe_cpu_number(mpsafe_cpu_lookup(i - 1)));
	}
	cr_assert_null(mpsafe_cpu_lookup(n));
	ci = mpsafe_curcpu();
	cr_assert_not_null(ci);
	cr_assert_lt(mpsafe_cpu_index(ci), n);
}

Test(workqueue, create_fails_when_a_thread_cannot_start)
{
	unsigned n = mpsafe_ncpu();
	struct workqueue *wq = NULL;
	int base, before;

	/* Let a sanitizer start its own threads first (TSan has one). */
	base = thread_count_warm();
	cr_assert_eq(
	    workqueue_create(&wq, "wqwarm", nop_func, NULL, 0, WQ_PERCPU), 0);
	workqueue_destroy(wq);
	wq = NULL;
	before = thread_count_settled(base);
	/* The last worker fails: the ones before it are stopped, joined. */
	mpsafe_workqueue_test_fail_create((int)n - 1);
	cr_assert_eq(
	    workqueue_create(&wq, "wqfail", nop_func, NULL, 0, WQ_PERCPU),
	    EAGAIN);
	cr_assert_null(wq);
	cr_assert_eq(
	    thread_count_settled(before), before, "a worker was left running");
	/* The hook fires once; the next create works. */
	cr_assert_eq(
	    workqueue_create(&wq, "wqfail", nop_func, NULL, 0, WQ_PERCPU), 0);
	cr_assert_eq(thread_count_settled(before + (int)n), before + (int)n);
	workqueue_destroy(wq);
	cr_assert_eq(thread_count_settled(before), before);
}

/* --- order -------------------------------------------------------------- */

#define ORDER_PRODUCERS 4
#define ORDER_ITEMS 20000

struct seq_item {
	struct work si_work;
	unsigned si_producer;
	unsigned si_seq;
};

struct order_state {
	unsigned next[ORDER_PRODUCERS]; /* worker only */
	_Atomic unsigned ran;
	_Atomic unsigned bad;
};

static void
order_func(struct work *wk, void *arg)
{
	struct seq_item *it = (struct seq_item *)wk;
	struct order_state *st = arg;

	if (it->si_seq != st->next[it->si_producer])
		atomic_fetch_add(&st->bad, 1);
	st->next[it->si_producer] = it->si_seq + 1;
	atomic_fetch_add(&st->ran, 1);
}

struct producer {
	struct workqueue *wq;
	struct seq_item *items;
	unsigned id;
	struct cpu_info *ci;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;

	for (unsigned i = 0; i < ORDER_ITEMS; i++) {
		p->items[i].si_producer = p->id;
		p->items[i].si_seq = i;
		workqueue_enqueue(p->wq, &p->items[i].si_work, p->ci);
	}
	return NULL;
}

static void
run_order(int flags, int pick_cpu)
{
	static struct seq_item items[ORDER_PRODUCERS][ORDER_ITEMS];
	struct order_state st = {{0}, 0, 0};
	struct producer p[ORDER_PRODUCERS];
	pthread_t t[ORDER_PRODUCERS];
	struct workqueue *wq;

	cr_assert_eq(
	    workqueue_create(&wq, "wqorder", order_func, &st, 0, flags), 0);
	for (unsigned i = 0; i < ORDER_PRODUCERS; i++) {
		p[i] = (struct producer){wq, items[i], i,
		    pick_cpu ? mpsafe_cpu_lookup(mpsafe_ncpu() - 1) : NULL};
		cr_assert_eq(
		    pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	for (unsigned i = 0; i < ORDER_PRODUCERS; i++)
		pthread_join(t[i], NULL);
	workqueue_destroy(wq); /* runs everything still queued */
	cr_assert_eq(atomic_load(&st.ran), ORDER_PRODUCERS * ORDER_ITEMS);
	cr_assert_eq(
	    atomic_load(&st.bad), 0, "items of one producer ran out of order");
	for (unsigned i = 0; i < ORDER_PRODUCERS; i++)
		cr_assert_eq(st.next[i], ORDER_ITEMS);
}

Test(workqueue, fifo_per_producer_one_worker)
{
	run_order(0, 0);
}

Test(workqueue, fifo_per_producer_percpu_worker)
{
	run_order(WQ_PERCPU, 1);
}

/* --- placement ---------------------------------------------------------- */

#define PLACE_ITEMS 64

struct place_item {
	struct work pi_work;
	unsigned pi_cpu; /* index it was enqueued for */
	pthread_t pi_thread;
	int pi_ran_on; /* sched_getcpu() in the function */
	int pi_pinned; /* the worker's mask is that one CPU */
	_Atomic int pi_done;
};

static void
place_func(struct work *wk, void *arg)
{
	struct place_item *it = (struct place_item *)wk;
	cpu_set_t set;

	(void)arg;
	it->pi_thread = pthread_self();
	it->pi_ran_on = sched_getcpu();
	CPU_ZERO(&set);
	it->pi_pinned =
	    pthread_getaffinity_np(pthread_self(), sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) == 1;
	atomic_store(&it->pi_done, 1);
}

Test(workqueue, percpu_placement)
{
	unsigned n = mpsafe_ncpu();
	struct place_item *items = calloc(n * PLACE_ITEMS, sizeof(*items));
	struct workqueue *wq;

	cr_assert_not_null(items);
	cr_assert_eq(
	    workqueue_create(&wq, "wqplace", place_func, NULL, 0, WQ_PERCPU),
	    0);
	for (unsigned k = 0; k < PLACE_ITEMS; k++) {
		for (unsigned c = 0; c < n; c++) {
			struct place_item *it = &items[c * PLACE_ITEMS + k];

			it->pi_cpu = c;
			workqueue_enqueue(
			    wq, &it->pi_work, mpsafe_cpu_lookup(c));
		}
	}
	for (unsigned i = 0; i < n * PLACE_ITEMS; i++)
		workqueue_wait(wq, &items[i].pi_work);
	for (unsigned c = 0; c < n; c++) {
		struct place_item *first = &items[c * PLACE_ITEMS];

		for (unsigned k = 0; k < PLACE_ITEMS; k++) {
			struct place_item *it = &items[c * PLACE_ITEMS + k];

			cr_assert(atomic_load(&it->pi_done));
			cr_assert(
			    pthread_equal(it->pi_thread, first->pi_thread),
			    "items for CPU %u ran on two threads", c);
			if (it->pi_pinned)
				cr_assert_eq(it->pi_ran_on,
				    mpsafe_cpu_number(mpsafe_cpu_lookup(c)),
				    "worker of CPU %u ran on CPU %d", c,
				    it->pi_ran_on);
		}
		cr_assert(
		    first->pi_pinned, "worker of CPU %u is not pinned", c);
		for (unsigned d = 0; d < c; d++)
			cr_assert_not(pthread_equal(first->pi_thread,
			                  items[d * PLACE_ITEMS].pi_thread),
			    "CPUs %u and %u share a worker", d, c);
	}
	workqueue_destroy(wq);
	free(items);
}

/* ci == NULL: the worker of the CPU the caller runs on. */
Test(workqueue, percpu_null_means_current_cpu)
{
	unsigned n = mpsafe_ncpu();
	struct workqueue *wq;

	cr_assert_eq(
	    workqueue_create(&wq, "wqcur", place_func, NULL, 0, WQ_PERCPU), 0);
	for (unsigned c = 0; c < n; c++) {
		struct place_item it = {.pi_cpu = c};
		cpu_set_t set;
		int num = mpsafe_cpu_number(mpsafe_cpu_lookup(c));

		if (num < 0)
			cr_skip_test("CPU numbers are unknown here");
		CPU_ZERO(&set);
		CPU_SET(num, &set);
		cr_assert_eq(
		    pthread_setaffinity_np(pthread_self(), sizeof(set), &set),
		    0);
		cr_assert_eq(mpsafe_cpu_index(mpsafe_curcpu()), c);
		workqueue_enqueue(wq, &it.pi_work, NULL);
		workqueue_wait(wq, &it.pi_work);
		cr_assert(atomic_load(&it.pi_done));
		if (it.pi_pinned)
			cr_assert_eq(it.pi_ran_on, num);
	}
	workqueue_destroy(wq);
}

/* --- waiting -------------------------------------------------------------- */

struct block_item {
	struct work bi_work;
	struct gate *bi_gate; /* NULL: do not block */
	_Atomic int bi_ran;
};

static void
block_func(struct work *wk, void *arg)
{
	struct block_item *it = (struct block_item *)wk;

	(void)arg;
	if (it->bi_gate != NULL)
		gate_block(it->bi_gate);
	atomic_store(&it->bi_ran, 1);
}

struct waiter {
	struct workqueue *wq;
	struct work *wk;
	_Atomic int done;
	pthread_t t;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	workqueue_wait(w->wq, w->wk);
	atomic_store(&w->done, 1);
	return NULL;
}

static void
waiter_start(struct waiter *w, struct workqueue *wq, struct work *wk)
{
	w->wq = wq;
	w->wk = wk;
	atomic_init(&w->done, 0);
	cr_assert_eq(pthread_create(&w->t, NULL, waiter_main, w), 0);
}

Test(workqueue, wait_on_never_enqueued_item_returns_at_once)
{
	struct workqueue *wq;
	struct work wk;
	uint64_t t0;

	memset(&wk, 0xa5, sizeof(wk)); /* garbage, as in fresh memory */
	cr_assert_eq(
	    workqueue_create(&wq, "wqnever", nop_func, NULL, 0, WQ_PERCPU), 0);
	t0 = now_ns();
	workqueue_wait(wq, &wk);
	cr_assert_lt(now_ns() - t0, 1000000000u);
	workqueue_destroy(wq);
}

Test(workqueue, wait_for_running_item)
{
	struct gate g = GATE_INITIALIZER;
	struct block_item a = {.bi_gate = &g};
	struct workqueue *wq;
	struct waiter w;

	cr_assert_eq(workqueue_create(&wq, "wqrun", block_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &a.bi_work, NULL);
	gate_wait_blocked(&g, 1);
	waiter_start(&w, wq, &a.bi_work);
	sleep_ms(100);
	cr_assert_not(atomic_load(&w.done),
	    "workqueue_wait returned while the item was running");
	gate_open(&g);
	pthread_join(w.t, NULL);
	cr_assert(atomic_load(&a.bi_ran));
	workqueue_destroy(wq);
}

Test(workqueue, wait_for_queued_item)
{
	struct gate g = GATE_INITIALIZER;
	struct block_item a = {.bi_gate = &g}, b = {.bi_gate = NULL};
	struct workqueue *wq;
	struct waiter w;

	cr_assert_eq(
	    workqueue_create(&wq, "wqqueued", block_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &a.bi_work, NULL);
	gate_wait_blocked(&g, 1);
	workqueue_enqueue(wq, &b.bi_work, NULL); /* queued behind a */
	waiter_start(&w, wq, &b.bi_work);
	sleep_ms(100);
	cr_assert_not(atomic_load(&w.done),
	    "workqueue_wait returned while the item was queued");
	gate_open(&g);
	pthread_join(w.t, NULL);
	cr_assert(atomic_load(&b.bi_ran),
	    "workqueue_wait returned before the item ran");
	workqueue_destroy(wq);
}

/*
 * An item that is not in the running batch need not wait for it: the
 * batch's filter rules most addresses out.  (A filter may say "maybe" for
 * a few addresses; four distinct ones all hitting it is about 1e-17.)
 */
Test(workqueue, wait_for_other_item_does_not_wait_for_the_batch)
{
	struct gate g = GATE_INITIALIZER;
	struct block_item a = {.bi_gate = &g};
	struct block_item probes[4] = {{.bi_gate = NULL}};
	struct workqueue *wq;
	struct waiter w[4];
	int returned = 0;

	cr_assert_eq(
	    workqueue_create(&wq, "wqother", block_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &a.bi_work, NULL);
	gate_wait_blocked(&g, 1);
	for (int i = 0; i < 4; i++)
		waiter_start(&w[i], wq, &probes[i].bi_work);
	sleep_ms(200);
	for (int i = 0; i < 4; i++)
		returned += atomic_load(&w[i].done);
	cr_assert_gt(returned, 0,
	    "every wait for an item that is not queued waited for the batch");
	gate_open(&g);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].t, NULL);
	workqueue_destroy(wq);
}

/*
 * What the function did happens before workqueue_wait returns, also when
 * the wait finds the batch over at once (an even generation, stored by
 * the worker without q_lock).  The function writes plain memory; a
 * second waiter tells the test, through a relaxed flag (no happens-
 * before), that the batch is over; the test's own wait then returns at
 * once, and the test reads the memory.  Unless that wait synchronised
 * with the batch end, the read races with the function's write: the
 * tsan preset reports it (and the test fails) whatever the timing.
 */
struct hb_item {
	struct work hb_work;
	int hb_data; /* plain: written by the function, read after the wait */
};

static void
hb_func(struct work *wk, void *arg)
{
	struct hb_item *it = (struct hb_item *)wk;

	(void)arg;
	it->hb_data = 42;
}

struct hb_waiter {
	struct workqueue *wq;
	struct work *wk;
	_Atomic int done; /* relaxed only: must not order anything */
};

static void *
hb_waiter_main(void *arg)
{
	struct hb_waiter *w = arg;

	workqueue_wait(w->wq, w->wk);
	atomic_store_explicit(&w->done, 1, memory_order_relaxed);
	return NULL;
}

Test(workqueue, wait_after_the_batch_ended_orders_the_functions_writes)
{
	struct hb_item it = {.hb_data = 0};
	struct hb_waiter w;
	struct workqueue *wq;
	pthread_t t;
	int seen;

	cr_assert_eq(workqueue_create(&wq, "wqhb", hb_func, NULL, 0, 0), 0);
	workqueue_enqueue(wq, &it.hb_work, NULL);
	w.wq = wq;
	w.wk = &it.hb_work;
	atomic_init(&w.done, 0);
	cr_assert_eq(pthread_create(&t, NULL, hb_waiter_main, &w), 0);
	/* Relaxed: learn that the batch ended without synchronising. */
	while (atomic_load_explicit(&w.done, memory_order_relaxed) == 0)
		sched_yield();
	workqueue_wait(wq, &it.hb_work); /* the batch is over: at once */
	seen = it.hb_data;               /* a race unless the wait acquired */
	pthread_join(t, NULL);
	cr_assert_eq(seen, 42);
	workqueue_destroy(wq);
}

/*
 * The same order when the wait starts while the batch runs and sees it
 * end in its spin (before it would sleep).  The function writes plain
 * memory, says so through a relaxed flag, then lets the batch run a few
 * microseconds past the moment the test says it is about to wait: short
 * enough to end inside the spin, long enough for the wait to have begun.
 * Only the spin's load of the generation orders the write before the
 * test's read; the tsan preset reports a race if it does not.  Some of
 * the rounds may end another way (preempted, slept): each one still
 * checks the value.
 */
struct spin_item {
	struct work sp_work;
	int sp_data;            /* plain: written by the function */
	_Atomic int sp_written; /* relaxed only: no happens-before */
	_Atomic int sp_waiting; /* relaxed only: no happens-before */
};

static void
spin_func(struct work *wk, void *arg)
{
	struct spin_item *it = (struct spin_item *)wk;
	uint64_t t0;

	(void)arg;
	it->sp_data++;
	atomic_store_explicit(&it->sp_written, 1, memory_order_relaxed);
	t0 = now_ns();
	while (
	    atomic_load_explicit(&it->sp_waiting, memory_order_relaxed) == 0 &&
	    now_ns() - t0 < 100000000u)
		continue;
	t0 = now_ns();
	while (now_ns() - t0 < 5000u) /* the wait reaches its spin */
		continue;
}

Test(workqueue, wait_that_spins_to_the_batch_end_orders_the_functions_writes)
{
	struct spin_item it = {.sp_data = 0};
	struct workqueue *wq;

	cr_assert_eq(workqueue_create(&wq, "wqspin", spin_func, NULL, 0, 0), 0);
	for (int round = 1; round <= 200; round++) {
		atomic_store_explicit(&it.sp_written, 0, memory_order_relaxed);
		atomic_store_explicit(&it.sp_waiting, 0, memory_order_relaxed);
		workqueue_enqueue(wq, &it.sp_work, NULL);
		while (atomic_load_explicit(
		           &it.sp_written, memory_order_relaxed) == 0)
			continue;
		atomic_store_explicit(&it.sp_waiting, 1, memory_order_relaxed);
		workqueue_wait(wq, &it.sp_work);
		/* A race unless the wait synchronised with the batch end. */
		cr_assert_eq(it.sp_data, round, "round %d", round);
	}
	workqueue_destroy(wq);
}

/*
 * Items that free themselves, and whose memory is reused at once for a new
 * item enqueued by the same function (with garbage in the new struct
 * work), while another thread waits for the old one.
 */
struct self_item {
	struct work sf_work;
	struct gate *sf_gate;
	int sf_generation;
	uint64_t sf_pad[6];
};

static _Atomic int self_runs;
static _Atomic int self_first_done;

static void
self_func(struct work *wk, void *arg)
{
	struct self_item *it = (struct self_item *)wk;
	struct workqueue *wq = arg;
	struct gate *g = it->sf_gate;
	int gen = it->sf_generation;

	if (g != NULL)
		gate_block(g);
	atomic_fetch_add(&self_runs, 1);
	free(it);
	if (gen == 0) {
		/* Reuse: malloc hands back the same block, as a rule. */
		struct self_item *n = malloc(sizeof(*n));

		if (n == NULL)
			abort(); /* not cr_assert: this is the worker thread */
		memset(n, 0xff, sizeof(*n));
		n->sf_gate = NULL;
		n->sf_generation = 1;
		atomic_store(&self_first_done, 1);
		workqueue_enqueue(wq, &n->sf_work, NULL);
	}
}

static struct workqueue *self_wq;

static void
self_func2(struct work *wk, void *arg)
{
	(void)arg;
	self_func(wk, self_wq);
}

static void
self_freeing_wait(int flags)
{
	struct gate g = GATE_INITIALIZER;
	struct self_item *it;
	struct work *old;
	struct waiter w[3];

	atomic_store(&self_runs, 0);
	atomic_store(&self_first_done, 0);
	it = malloc(sizeof(*it));
	cr_assert_not_null(it);
	memset(it, 0x5a, sizeof(*it));
	it->sf_gate = &g;
	it->sf_generation = 0;
	old = &it->sf_work;
	cr_assert_eq(
	    workqueue_create(&self_wq, "wqself", self_func2, NULL, 0, flags),
	    0);
	workqueue_enqueue(
	    self_wq, old, (flags & WQ_PERCPU) ? mpsafe_cpu_lookup(0) : NULL);
	gate_wait_blocked(&g, 1);
	for (int i = 0; i < 3; i++)
		waiter_start(&w[i], self_wq, old);
	sleep_ms(50);
	for (int i = 0; i < 3; i++)
		cr_assert_not(atomic_load(&w[i].done),
		    "workqueue_wait returned while the item was running");
	gate_open(&g);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].t, NULL);
		cr_assert(atomic_load(&self_first_done),
		    "workqueue_wait returned before the function ended");
	}
	/* The address may hold the new item now: waiting again is fine. */
	workqueue_wait(self_wq, old);
	workqueue_destroy(self_wq);
	cr_assert_eq(atomic_load(&self_runs), 2);
}

Test(workqueue, self_freeing_item_with_waiters)
{
	self_freeing_wait(0);
}

Test(workqueue, self_freeing_item_with_waiters_percpu)
{
	self_freeing_wait(WQ_PERCPU);
}

/* --- destroy ----------------------------------------------------------- */

#define PENDING_ITEMS 1000

static _Atomic int pending_ran;

static void
count_func(struct work *wk, void *arg)
{
	struct block_item *it = (struct block_item *)wk;

	(void)arg;
	if (it->bi_gate != NULL)
		gate_block(it->bi_gate);
	atomic_fetch_add(&pending_ran, 1);
}

struct destroyer {
	struct workqueue *wq;
	_Atomic int done;
};

static void *
destroyer_main(void *arg)
{
	struct destroyer *d = arg;

	workqueue_destroy(d->wq);
	atomic_store(&d->done, 1);
	return NULL;
}

Test(workqueue, destroy_runs_pending_items)
{
	static struct block_item items[PENDING_ITEMS];
	struct gate g = GATE_INITIALIZER;
	struct block_item first = {.bi_gate = &g};
	struct destroyer d;
	pthread_t t;

	atomic_store(&pending_ran, 0);
	cr_assert_eq(
	    workqueue_create(&d.wq, "wqpend", count_func, NULL, 0, 0), 0);
	atomic_init(&d.done, 0);
	workqueue_enqueue(d.wq, &first.bi_work, NULL);
	gate_wait_blocked(&g, 1);
	for (int i = 0; i < PENDING_ITEMS; i++)
		workqueue_enqueue(d.wq, &items[i].bi_work, NULL);
	cr_assert_eq(pthread_create(&t, NULL, destroyer_main, &d), 0);
	sleep_ms(50);
	cr_assert_not(atomic_load(&d.done),
	    "workqueue_destroy returned while an item was running");
	gate_open(&g);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&pending_ran), PENDING_ITEMS + 1);
}

/* Work functions that enqueue more work, across CPUs, during destroy. */
struct chain_item {
	struct work ch_work;
	int ch_left;
	unsigned ch_cpu;
};

static struct workqueue *chain_wq;
static _Atomic int chain_ran;

static void
chain_func(struct work *wk, void *arg)
{
	struct chain_item *it = (struct chain_item *)wk;

	(void)arg;
	atomic_fetch_add(&chain_ran, 1);
	if (it->ch_left-- > 0) {
		/* Hop to the next CPU's worker (WQ_PERCPU) and go on. */
		it->ch_cpu = (it->ch_cpu + 1) % mpsafe_ncpu();
		sched_yield();
		workqueue_enqueue(
		    chain_wq, &it->ch_work, mpsafe_cpu_lookup(it->ch_cpu));
	}
}

Test(workqueue, destroy_runs_work_queued_by_work_functions)
{
	struct chain_item chains[8];

	atomic_store(&chain_ran, 0);
	cr_assert_eq(workqueue_create(
	                 &chain_wq, "wqchain", chain_func, NULL, 0, WQ_PERCPU),
	    0);
	for (int i = 0; i < 8; i++) {
		chains[i].ch_left = 200;
		chains[i].ch_cpu = (unsigned)i % mpsafe_ncpu();
		workqueue_enqueue(chain_wq, &chains[i].ch_work,
		    mpsafe_cpu_lookup(chains[i].ch_cpu));
	}
	workqueue_destroy(chain_wq);
	cr_assert_eq(atomic_load(&chain_ran), 8 * 201);
}

/* --- producers ------------------------------------------------------------ */

#define MANY_PRODUCERS 8
#define MANY_ITEMS 5000

static _Atomic unsigned many_ran;

static void
many_func(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
	atomic_fetch_add_explicit(&many_ran, 1, memory_order_relaxed);
}

struct many_producer {
	struct workqueue *wq;
	struct work *items;
};

static void *
many_main(void *arg)
{
	struct many_producer *p = arg;

	for (int i = 0; i < MANY_ITEMS; i++)
		workqueue_enqueue(p->wq, &p->items[i], NULL);
	return NULL;
}

static void
many_producers(int flags)
{
	static struct work items[MANY_PRODUCERS][MANY_ITEMS];
	struct many_producer p[MANY_PRODUCERS];
	pthread_t t[MANY_PRODUCERS];
	struct workqueue *wq;

	atomic_store(&many_ran, 0);
	cr_assert_eq(
	    workqueue_create(&wq, "wqmany", many_func, NULL, 0, flags), 0);
	for (int i = 0; i < MANY_PRODUCERS; i++) {
		p[i] = (struct many_producer){wq, items[i]};
		cr_assert_eq(pthread_create(&t[i], NULL, many_main, &p[i]), 0);
	}
	for (int i = 0; i < MANY_PRODUCERS; i++)
		pthread_join(t[i], NULL);
	/* Every item waited for: each has run once its wait returns. */
	for (int i = 0; i < MANY_PRODUCERS; i++)
		for (int k = 0; k < MANY_ITEMS; k += 97)
			workqueue_wait(wq, &items[i][k]);
	workqueue_destroy(wq);
	cr_assert_eq(atomic_load(&many_ran), MANY_PRODUCERS * MANY_ITEMS);
}

Test(workqueue, many_producers_one_worker)
{
	many_producers(0);
}

Test(workqueue, many_producers_percpu)
{
	many_producers(WQ_PERCPU);
}

/* An item that re-enqueues itself from its own function. */
struct again_item {
	struct work ag_work;
	int ag_left;
	_Atomic int ag_runs;
};

static struct workqueue *again_wq;

static void
again_func(struct work *wk, void *arg)
{
	struct again_item *it = (struct again_item *)wk;

	(void)arg;
	atomic_fetch_add(&it->ag_runs, 1);
	if (it->ag_left-- > 0)
		workqueue_enqueue(again_wq, &it->ag_work, NULL);
}

Test(workqueue, enqueue_from_work_function)
{
	struct again_item it = {.ag_left = 1000};

	cr_assert_eq(
	    workqueue_create(&again_wq, "wqagain", again_func, NULL, 0, 0), 0);
	workqueue_enqueue(again_wq, &it.ag_work, NULL);
	while (atomic_load(&it.ag_runs) < 1001)
		sched_yield();
	workqueue_wait(again_wq, &it.ag_work);
	workqueue_destroy(again_wq);
	cr_assert_eq(atomic_load(&it.ag_runs), 1001);
}

/* Idle workers sleep: a wake-up after a long idle still runs the item. */
Test(workqueue, wakes_an_idle_worker)
{
	struct block_item it = {.bi_gate = NULL};
	struct workqueue *wq;

	cr_assert_eq(
	    workqueue_create(&wq, "wqidle", block_func, NULL, 0, 0), 0);
	for (int i = 0; i < 5; i++) {
		sleep_ms(20); /* the worker is asleep by now */
		atomic_store(&it.bi_ran, 0);
		workqueue_enqueue(wq, &it.bi_work, NULL);
		workqueue_wait(wq, &it.bi_work);
		cr_assert(atomic_load(&it.bi_ran));
	}
	workqueue_destroy(wq);
}
