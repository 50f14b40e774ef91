/*
 * test_wqinput.c: unit tests of wqinput(3): creation and its errors,
 * delivery of (packet, off, proto) on the caller's CPU in order, drop
 * accounting when a queue overflows (every packet offered is either
 * processed or counted as dropped, exactly once; none vanish), with and
 * without a drop function, many producers against small queues with the
 * statistics read meanwhile, destroy with packets queued, and a drain
 * that finds the work done seeing the function's writes.  With the
 * test hook (MPSAFE_FAULT_INJECTION builds): drain with a producer
 * stopped between two steps of its input, refusals in progress against
 * a queue that empties, and creation sizes that overflow a size_t.
 *
 * The packet type, struct mbuf, is only declared by the stack's headers
 * so far: the tests pass their own packets, cast.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/net/wqinput.h>
#include <mpsafe/workqueue.h>

TestSuite(wqinput, .timeout = 120);

struct pkt {
	unsigned p_id;
	unsigned p_producer;
	_Atomic int p_processed; /* times func got it */
	_Atomic int p_dropped;   /* times the drop function got it */
	int p_cpu;               /* sched_getcpu() in func */
};

static struct mbuf *
as_mbuf(struct pkt *p)
{
	return (struct mbuf *)(void *)p;
}

static struct pkt *
as_pkt(struct mbuf *m)
{
	return (struct pkt *)(void *)m;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Pin the calling thread to CPU index c; false if the system refuses. */
static bool
pin_to(unsigned c)
{
	int num = mpsafe_cpu_number(mpsafe_cpu_lookup(c));
	cpu_set_t set;

	if (num < 0)
		return false;
	CPU_ZERO(&set);
	CPU_SET(num, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0 &&
	       mpsafe_cpu_index(mpsafe_curcpu()) == c;
}

static void
unpin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (unsigned c = 0; c < mpsafe_ncpu(); c++) {
		int num = mpsafe_cpu_number(mpsafe_cpu_lookup(c));

		if (num >= 0)
			CPU_SET(num, &set);
	}
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* A gate threads can be held on: the input function, or a test hook. */
struct gate {
	pthread_mutex_t g_lock;
	pthread_cond_t g_cv;
	int g_closed;
	int g_blocked; /* threads that have reached it */
};

#define GATE_INITIALIZER                                                  \
	{                                                                 \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 \
	}

static struct gate in_gate = GATE_INITIALIZER; /* input_func, in_hold */

static void
gate_reset(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_closed = 1;
	g->g_blocked = 0;
	pthread_mutex_unlock(&g->g_lock);
}

static void
gate_pass(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_blocked++;
	pthread_cond_broadcast(&g->g_cv);
	while (g->g_closed)
		pthread_cond_wait(&g->g_cv, &g->g_lock);
	pthread_mutex_unlock(&g->g_lock);
}

/* Wait until n threads have reached g. */
static void
gate_wait_blocked(struct gate *g, int n)
{
	pthread_mutex_lock(&g->g_lock);
	while (g->g_blocked < n)
		pthread_cond_wait(&g->g_cv, &g->g_lock);
	pthread_mutex_unlock(&g->g_lock);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_closed = 0;
	pthread_cond_broadcast(&g->g_cv);
	pthread_mutex_unlock(&g->g_lock);
}

/* The input function: checks the arguments, counts, records the CPU. */
static _Atomic unsigned in_calls, in_bad;
static _Atomic int in_hold;  /* hold the first packet at the gate */
static unsigned in_next[64]; /* per producer: next id expected */

static void
input_func(struct mbuf *m, int off, int proto)
{
	struct pkt *p = as_pkt(m);

	if (off != (int)(p->p_id % 40) || proto != (int)(p->p_id % 256) + 1)
		atomic_fetch_add(&in_bad, 1);
	if (p->p_producer < 64) {
		/* One producer on one CPU: its packets come in order. */
		if (p->p_id < in_next[p->p_producer])
			atomic_fetch_add(&in_bad, 1);
		in_next[p->p_producer] = p->p_id + 1;
	}
	p->p_cpu = sched_getcpu();
	atomic_fetch_add(&p->p_processed, 1);
	atomic_fetch_add(&in_calls, 1);
	if (atomic_exchange(&in_hold, 0))
		gate_pass(&in_gate);
}

static _Atomic unsigned drops_seen;

static void
drop_func(struct mbuf *m)
{
	atomic_fetch_add(&as_pkt(m)->p_dropped, 1);
	atomic_fetch_add(&drops_seen, 1);
}

static void
reset_counters(void)
{
	atomic_store(&in_calls, 0);
	atomic_store(&in_bad, 0);
	atomic_store(&in_hold, 0);
	atomic_store(&drops_seen, 0);
	memset(in_next, 0, sizeof(in_next));
}

static int
offer(struct wqinput *wqi, struct pkt *p, unsigned id, unsigned producer)
{
	p->p_id = id;
	p->p_producer = producer;
	atomic_init(&p->p_processed, 0);
	atomic_init(&p->p_dropped, 0);
	return wqinput_input(
	    wqi, as_mbuf(p), (int)(id % 40), (int)(id % 256) + 1);
}

Test(wqinput, create_bad_arguments)
{
	errno = 0;
	cr_assert_null(wqinput_create(NULL, input_func));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(wqinput_create("x", NULL));
	cr_assert_null(wqinput_create_limit("x", input_func, 0, NULL));
	cr_assert_null(
	    wqinput_create_limit("x", input_func, WQINPUT_LIMIT_MAX + 1, NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(wqinput, create_destroy_and_stats_of_nothing)
{
	struct wqinput *wqi = wqinput_create("wqi", input_func);
	struct wqinput_stats st;

	cr_assert_not_null(wqi);
	cr_assert_eq(wqinput_nqueues(wqi), mpsafe_ncpu());
	cr_assert_eq(wqinput_stats(wqi, 0, &st), 0);
	cr_assert_eq(
	    st.wqs_enqueued + st.wqs_processed + st.wqs_dropped + st.wqs_hiwat,
	    0);
	cr_assert_eq(wqinput_stats(wqi, mpsafe_ncpu(), &st), EINVAL);
	wqinput_drain(wqi);
	wqinput_destroy(wqi);
}

/*
 * A drain that finds the work already done returns at once, and what the
 * input function wrote is then visible to its caller: the worker's store
 * of its processed count (release) pairs with the drain's load
 * (acquire).  Here the function writes a plain variable and counts with
 * a relaxed add, and the test waits on that count, which orders nothing
 * (ThreadSanitizer agrees): the drain's pair is the only order between
 * the write and the test's read.  Under the tsan preset this fails with
 * a data race if either half is missing (the mutation tier,
 * docs/design/verification.md).
 */
static unsigned plain_seen; /* written by the function, plainly */
static atomic_uint plain_calls;

static void
plain_func(struct mbuf *m, int off, int proto)
{
	(void)off;
	(void)proto;
	plain_seen = as_pkt(m)->p_id;
	atomic_fetch_add_explicit(&plain_calls, 1, memory_order_relaxed);
}

Test(wqinput, a_drain_after_the_work_sees_the_functions_writes)
{
	struct wqinput *wqi = wqinput_create("wqi", plain_func);
	struct pkt p;

	cr_assert_not_null(wqi);
	memset(&p, 0, sizeof(p));
	cr_assert_eq(offer(wqi, &p, 42, 99), 0);
	while (atomic_load_explicit(&plain_calls, memory_order_relaxed) == 0)
		sched_yield();
	wqinput_drain(wqi); /* done already: the load of the count */
	cr_assert_eq(plain_seen, 42u);
	wqinput_destroy(wqi);
}

/* Packets from one pinned thread run on that CPU's worker, in order. */
Test(wqinput, delivered_in_order_on_the_callers_cpu)
{
	enum { N = 2000 };
	struct pkt *pk = calloc(N, sizeof(*pk));
	struct wqinput *wqi;
	struct wqinput_stats st;
	unsigned accepted = 0;

	cr_assert_not_null(pk);
	reset_counters();
	wqi = wqinput_create_limit("wqorder", input_func, N, NULL);
	cr_assert_not_null(wqi);
	for (unsigned c = 0; c < mpsafe_ncpu(); c++) {
		unsigned lo = c * (N / mpsafe_ncpu());
		unsigned hi = lo + N / mpsafe_ncpu();

		if (!pin_to(c))
			cr_skip_test("cannot pin a thread to CPU %u", c);
		for (unsigned i = lo; i < hi; i++) {
			cr_assert_eq(offer(wqi, &pk[i], i, 0), 0);
			accepted++;
		}
		wqinput_drain(wqi);
		for (unsigned i = lo; i < hi; i++) {
			cr_assert_eq(atomic_load(&pk[i].p_processed), 1);
			cr_assert_eq(pk[i].p_cpu,
			    mpsafe_cpu_number(mpsafe_cpu_lookup(c)),
			    "packet from CPU %u processed on CPU %d", c,
			    pk[i].p_cpu);
		}
		cr_assert_eq(wqinput_stats(wqi, c, &st), 0);
		cr_assert_eq(st.wqs_enqueued, hi - lo);
		cr_assert_eq(st.wqs_processed, hi - lo);
		cr_assert_eq(st.wqs_dropped, 0);
	}
	unpin();
	cr_assert_eq(
	    atomic_load(&in_bad), 0, "wrong arguments, or out of order");
	cr_assert_eq(atomic_load(&in_calls), accepted);
	wqinput_destroy(wqi);
	free(pk);
}

/*
 * Overflow: the worker is held on the first packet; the caller then
 * offers three queues' worth.  Exactly `limit` fit; every other one is
 * dropped, counted, and handed to the drop function once.  After the
 * drain: enqueued + dropped == offered, processed == enqueued, and each
 * packet was processed or dropped exactly once.
 */
static void overflow_with(
    unsigned limit, bool with_drop_func, bool via_default);

static void
overflow(unsigned limit, bool with_drop_func)
{
	overflow_with(limit, with_drop_func, false);
}

/* via_default: made by wqinput_create(), whose limit must be limit. */
static void
overflow_with(unsigned limit, bool with_drop_func, bool via_default)
{
	unsigned offered = 3 * limit + 1, accepted = 0, refused = 0;
	struct pkt *pk = calloc(offered, sizeof(*pk));
	struct wqinput_stats st, tot;
	struct wqinput *wqi;
	unsigned c = mpsafe_ncpu() - 1;

	cr_assert_not_null(pk);
	reset_counters();
	gate_reset(&in_gate);
	wqi = via_default ? wqinput_create("wqover", input_func)
	                  : wqinput_create_limit("wqover", input_func, limit,
	                        with_drop_func ? drop_func : NULL);
	cr_assert_not_null(wqi);
	if (!pin_to(c))
		cr_skip_test("cannot pin a thread to CPU %u", c);
	atomic_store(&in_hold, 1);
	cr_assert_eq(offer(wqi, &pk[0], 0, 0), 0);
	accepted++;
	gate_wait_blocked(
	    &in_gate, 1); /* the worker holds packet 0, out of the ring */
	for (unsigned i = 1; i < offered; i++) {
		int error = offer(wqi, &pk[i], i, 0);

		if (error == 0) {
			accepted++;
		} else {
			cr_assert_eq(error, ENOBUFS);
			refused++;
		}
	}
	cr_assert_eq(accepted, 1 + limit, "a full queue took more, or less");
	cr_assert_eq(wqinput_stats(wqi, c, &st), 0);
	cr_assert_eq(st.wqs_enqueued, accepted);
	cr_assert_eq(st.wqs_dropped, refused);
	cr_assert_eq(st.wqs_hiwat, limit);
	cr_assert_eq(st.wqs_processed, 0); /* packet 0 has not returned */
	gate_open(&in_gate);
	wqinput_drain(wqi);
	unpin();

	wqinput_stats_total(wqi, &tot);
	cr_assert_eq(tot.wqs_enqueued + tot.wqs_dropped, offered,
	    "offered packets are neither enqueued nor dropped");
	cr_assert_eq(tot.wqs_processed, tot.wqs_enqueued);
	cr_assert_eq(atomic_load(&drops_seen), with_drop_func ? refused : 0);
	for (unsigned i = 0; i < offered; i++) {
		int pr = atomic_load(&pk[i].p_processed);
		int dr = atomic_load(&pk[i].p_dropped);

		if (with_drop_func)
			cr_assert_eq(pr + dr, 1, "packet %u: %d runs, %d drops",
			    i, pr, dr);
		else
			cr_assert_leq(pr, 1);
	}
	cr_assert_eq(atomic_load(&in_bad), 0);
	wqinput_destroy(wqi);
	free(pk);
}

Test(wqinput, overflow_drops_and_counts_default_limit)
{
	overflow(WQINPUT_LIST_MAXLEN, true);
}

Test(wqinput, overflow_limit_not_a_power_of_two)
{
	overflow(37, true);
}

Test(wqinput, overflow_without_drop_function_returns_the_packet)
{
	overflow(16, false);
}

/*
 * Queue lengths at their bounds: wqinput_create()'s queues hold exactly
 * WQINPUT_LIST_MAXLEN (256) packets, the shortest queue (1) holds one,
 * and the longest (WQINPUT_LIMIT_MAX) is accepted where its rings fit
 * (one past it is EINVAL: create_bad_arguments).
 */
Test(wqinput, overflow_default_create_holds_exactly_the_default)
{
	cr_assert_eq(WQINPUT_LIST_MAXLEN, 256);
	overflow_with(WQINPUT_LIST_MAXLEN, false, true);
}

Test(wqinput, overflow_shortest_queue)
{
	overflow(1, true);
}

Test(wqinput, create_accepts_the_longest_queue)
{
	struct wqinput *wqi;
	struct wqinput_stats st;
	struct pkt pk;
	unsigned n;

	if (sizeof(size_t) == 4 || mpsafe_ncpu() > 16)
		cr_skip_test("rings of %u CPUs x 2^20 slots: too large here",
		    mpsafe_ncpu());
	reset_counters();
	atomic_store(&in_hold, 0);
	wqi = wqinput_create_limit(
	    "wqlongest", input_func, WQINPUT_LIMIT_MAX, drop_func);
	cr_assert_not_null(wqi, "limit WQINPUT_LIMIT_MAX refused");
	n = wqinput_nqueues(wqi);
	cr_assert_eq(n, mpsafe_ncpu());
	memset(&pk, 0, sizeof(pk));
	cr_assert_eq(offer(wqi, &pk, 0, 0), 0);
	wqinput_drain(wqi);
	cr_assert_eq(atomic_load(&pk.p_processed), 1);
	/* The last queue's statistics, then one past it. */
	cr_assert_eq(wqinput_stats(wqi, n - 1, &st), 0);
	cr_assert_eq(wqinput_stats(wqi, n, &st), EINVAL);
	wqinput_destroy(wqi);
}

/* Many producers on every CPU, small queues, stats read meanwhile. */
#define PRODUCERS 6
#define PER_PRODUCER 20000

struct producer {
	struct wqinput *wqi;
	struct pkt *pk;
	unsigned id;
	unsigned refused;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;

	for (unsigned i = 0; i < PER_PRODUCER; i++) {
		/* Not in order across CPUs: producer id 64+ skips that check.
		 */
		if (offer(p->wqi, &p->pk[i], i, 64 + p->id) != 0)
			p->refused++;
		if (i % 512 == 0)
			sched_yield();
	}
	return NULL;
}

static _Atomic int stats_stop;
static _Atomic unsigned stats_bad, stats_reads;

static void *
stats_main(void *arg)
{
	struct wqinput *wqi = arg;
	struct wqinput_stats st;

	while (!atomic_load(&stats_stop)) {
		for (unsigned c = 0; c < wqinput_nqueues(wqi); c++) {
			wqinput_stats(wqi, c, &st);
			if (st.wqs_processed > st.wqs_enqueued ||
			    st.wqs_hiwat > 8)
				atomic_fetch_add(&stats_bad, 1);
		}
		wqinput_stats_total(wqi, &st);
		atomic_fetch_add(&stats_reads, 1);
	}
	return NULL;
}

/* A slow input function, so that the small queues overflow. */
static void
slow_func(struct mbuf *m, int off, int proto)
{
	input_func(m, off, proto);
	for (volatile int i = 0; i < 50; i++)
		continue;
}

Test(wqinput, many_producers_every_packet_accounted)
{
	static struct pkt pk[PRODUCERS][PER_PRODUCER];
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS], st_t;
	struct wqinput_stats tot;
	struct wqinput *wqi;
	uint64_t refused = 0, processed = 0, dropped = 0;

	reset_counters();
	atomic_store(&stats_stop, 0);
	atomic_store(&stats_bad, 0);
	wqi = wqinput_create_limit("wqmany", slow_func, 8, drop_func);
	cr_assert_not_null(wqi);
	cr_assert_eq(pthread_create(&st_t, NULL, stats_main, wqi), 0);
	for (unsigned i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){wqi, pk[i], i, 0};
		cr_assert_eq(
		    pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		refused += p[i].refused;
	}
	wqinput_drain(wqi);
	atomic_store(&stats_stop, 1);
	pthread_join(st_t, NULL);

	wqinput_stats_total(wqi, &tot);
	cr_assert_eq(tot.wqs_enqueued + tot.wqs_dropped,
	    (uint64_t)PRODUCERS * PER_PRODUCER, "packets vanished");
	cr_assert_eq(tot.wqs_dropped, refused);
	cr_assert_eq(tot.wqs_processed, tot.wqs_enqueued);
	cr_assert_leq(tot.wqs_hiwat, 8);
	for (unsigned i = 0; i < PRODUCERS; i++) {
		for (unsigned k = 0; k < PER_PRODUCER; k++) {
			int pr = atomic_load(&pk[i][k].p_processed);
			int dr = atomic_load(&pk[i][k].p_dropped);

			cr_assert_eq(pr + dr, 1,
			    "packet %u/%u: %d runs, %d drops", i, k, pr, dr);
			processed += (uint64_t)pr;
			dropped += (uint64_t)dr;
		}
	}
	cr_assert_eq(processed, tot.wqs_processed);
	cr_assert_eq(dropped, tot.wqs_dropped);
	cr_assert_eq(atomic_load(&stats_bad), 0,
	    "a statistics snapshot was inconsistent");
	cr_assert_eq(atomic_load(&in_bad), 0);
	cr_log_info("wqinput: %llu processed, %llu dropped, %u stats reads",
	    (unsigned long long)processed, (unsigned long long)dropped,
	    atomic_load(&stats_reads));
	wqinput_destroy(wqi);
}

/* Destroy processes what is still queued. */
struct destroyer {
	struct wqinput *wqi;
	_Atomic int done;
};

static void *
destroyer_main(void *arg)
{
	struct destroyer *d = arg;

	wqinput_destroy(d->wqi);
	atomic_store(&d->done, 1);
	return NULL;
}

Test(wqinput, destroy_processes_queued_packets)
{
	enum { N = 100 };
	static struct pkt pk[N];
	struct destroyer d;
	pthread_t t;

	reset_counters();
	gate_reset(&in_gate);
	atomic_init(&d.done, 0);
	d.wqi = wqinput_create("wqdestroy", input_func);
	cr_assert_not_null(d.wqi);
	atomic_store(&in_hold, 1);
	cr_assert_eq(offer(d.wqi, &pk[0], 0, 0), 0);
	gate_wait_blocked(&in_gate, 1);
	for (unsigned i = 1; i < N; i++)
		cr_assert_eq(offer(d.wqi, &pk[i], i, 64), 0);
	cr_assert_eq(pthread_create(&t, NULL, destroyer_main, &d), 0);
	sleep_ms(50);
	cr_assert_not(atomic_load(&d.done));
	gate_open(&in_gate);
	pthread_join(t, NULL);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&pk[i].p_processed), 1);
	cr_assert_eq(atomic_load(&in_calls), N);
}

/*
 * Producers stopped between two steps of wqinput_input(), through the
 * test hook of libraries built with MPSAFE_FAULT_INJECTION (the test
 * presets): a thread marked hook_marked blocks on hook_gate when it
 * reaches the point hook_hold_at, and, if hook_drain_opens is set, a
 * wqinput_drain() that finds a queue behind opens the gate before it
 * waits (so a drain that waits lets the held producer finish, and one
 * that does not wait returns with it still held).
 */
#ifdef MPSAFE_FAULT_INJECTION
static struct gate hook_gate = GATE_INITIALIZER;
static _Atomic int hook_hold_at;
static _Atomic int hook_drain_opens;
static _Thread_local int hook_marked;

static void
test_hook(enum wqinput_test_point point)
{
	if (hook_marked && (int)point == atomic_load(&hook_hold_at))
		gate_pass(&hook_gate);
	if (point == WQINPUT_TP_DRAIN_WAIT && atomic_load(&hook_drain_opens))
		gate_open(&hook_gate);
}

static void
hook_arm(enum wqinput_test_point hold_at, int drain_opens)
{
	gate_reset(&hook_gate);
	atomic_store(&hook_hold_at, (int)hold_at);
	atomic_store(&hook_drain_opens, drain_opens);
	wqinput_test_hook(test_hook);
}

static void
hook_disarm(void)
{
	wqinput_test_hook(NULL);
	gate_open(&hook_gate);
}

/* A producer that offers one packet from CPU index cpu, marked. */
struct held {
	struct wqinput *h_wqi;
	struct pkt *h_pkt;
	unsigned h_id;
	unsigned h_cpu;
	int h_result; /* of wqinput_input, or -1: could not pin */
	pthread_t h_thread;
};

static void *
held_main(void *arg)
{
	struct held *h = arg;

	h->h_result = -1;
	if (!pin_to(h->h_cpu))
		return NULL;
	hook_marked = 1;
	/* Producer ids 64 and up: no order check across producers. */
	h->h_result = offer(h->h_wqi, h->h_pkt, h->h_id, 64 + h->h_id);
	return NULL;
}

static void
held_start(struct held *h, struct wqinput *wqi, struct pkt *p, unsigned id,
    unsigned cpu)
{
	*h = (struct held){.h_wqi = wqi, .h_pkt = p, .h_id = id, .h_cpu = cpu};
	cr_assert_eq(pthread_create(&h->h_thread, NULL, held_main, h), 0);
}

/*
 * Drain with a producer held at point on the same CPU, after it has
 * claimed packet 0, while the caller's packet 1 has been accepted: drain
 * must not return before packet 1 has been processed.
 */
static void
drain_with_a_producer_held_at(enum wqinput_test_point point)
{
	static struct pkt pk[2];
	unsigned c = mpsafe_ncpu() - 1;
	struct wqinput_stats st;
	struct wqinput *wqi;
	struct held a;
	int processed;

	reset_counters();
	wqi = wqinput_create_limit("wqdrainheld", input_func, 16, NULL);
	cr_assert_not_null(wqi);
	if (!pin_to(c))
		cr_skip_test("cannot pin a thread to CPU %u", c);
	hook_arm(point, 1);
	held_start(&a, wqi, &pk[0], 0, c);
	gate_wait_blocked(&hook_gate, 1);
	cr_assert_eq(offer(wqi, &pk[1], 1, 65), 0);
	wqinput_drain(wqi); /* opens hook_gate if (and only if) it waits */
	processed = atomic_load(&pk[1].p_processed);
	hook_disarm();
	pthread_join(a.h_thread, NULL);
	unpin();
	cr_assert_eq(processed, 1,
	    "wqinput_drain returned before a packet accepted before the "
	    "call was processed");
	cr_assert_eq(a.h_result, 0);
	wqinput_drain(wqi);
	cr_assert_eq(atomic_load(&pk[0].p_processed), 1);
	cr_assert_eq(wqinput_stats(wqi, c, &st), 0);
	cr_assert_eq(st.wqs_enqueued, 2);
	cr_assert_eq(st.wqs_processed, 2);
	wqinput_destroy(wqi);
}

/*
 * The held producer has set q_active but not yet enqueued the work: the
 * second packet sees q_active set and enqueues nothing, so no run is
 * queued or running when drain starts.
 */
Test(wqinput, drain_waits_for_a_run_not_yet_enqueued)
{
	drain_with_a_producer_held_at(WQINPUT_TP_ACTIVATED);
}

/*
 * The held producer has claimed position 0 but not filled its slot: the
 * run started by packet 1 stops at slot 0 and ends with packet 1 still
 * in the ring.
 */
Test(wqinput, drain_waits_for_a_packet_behind_an_unfilled_slot)
{
	drain_with_a_producer_held_at(WQINPUT_TP_CLAIMED);
}

/*
 * Refusals do not count against the limit: with limit 2 and the queue
 * full, two producers are refused and held before they finish; the
 * worker then empties the queue, and a packet offered now must be
 * accepted (the queue is empty), not dropped.
 */
Test(wqinput, refusals_in_progress_do_not_fill_the_queue)
{
	static struct pkt pk[4], fpk[2];
	unsigned c = mpsafe_ncpu() - 1;
	struct wqinput_stats st;
	struct wqinput *wqi;
	struct held f[2];
	int r;

	reset_counters();
	gate_reset(&in_gate);
	wqi = wqinput_create_limit("wqrefuse", input_func, 2, drop_func);
	cr_assert_not_null(wqi);
	if (!pin_to(c))
		cr_skip_test("cannot pin a thread to CPU %u", c);
	atomic_store(&in_hold, 1);
	cr_assert_eq(offer(wqi, &pk[0], 0, 66), 0);
	gate_wait_blocked(&in_gate, 1); /* the worker holds packet 0 */
	cr_assert_eq(offer(wqi, &pk[1], 1, 66), 0);
	cr_assert_eq(offer(wqi, &pk[2], 2, 66), 0); /* the queue is full */
	hook_arm(WQINPUT_TP_REFUSED, 0);
	held_start(&f[0], wqi, &fpk[0], 0, c);
	held_start(&f[1], wqi, &fpk[1], 1, c);
	gate_wait_blocked(&hook_gate, 2); /* both refused, neither done */
	gate_open(&in_gate);
	wqinput_drain(wqi); /* packets 0-2 processed: the queue is empty */
	r = offer(wqi, &pk[3], 3, 66);
	hook_disarm();
	pthread_join(f[0].h_thread, NULL);
	pthread_join(f[1].h_thread, NULL);
	wqinput_drain(wqi);
	unpin();
	cr_assert_eq(r, 0,
	    "a packet was dropped while the queue was empty (refusals in "
	    "progress counted against the limit)");
	cr_assert_eq(f[0].h_result, ENOBUFS);
	cr_assert_eq(f[1].h_result, ENOBUFS);
	cr_assert_eq(wqinput_stats(wqi, c, &st), 0);
	cr_assert_eq(st.wqs_enqueued, 4);
	cr_assert_eq(st.wqs_processed, 4);
	cr_assert_eq(st.wqs_dropped, 2);
	cr_assert_eq(st.wqs_hiwat, 2);
	cr_assert_eq(atomic_load(&drops_seen), 2);
	cr_assert_eq(atomic_load(&fpk[0].p_dropped), 1);
	cr_assert_eq(atomic_load(&fpk[1].p_dropped), 1);
	wqinput_destroy(wqi);
}

/*
 * The rings of n queues of cap slots: n * cap * sizeof(slot) bytes, which
 * a 32-bit size_t cannot hold for many CPUs and a long queue (171 CPUs
 * and 2^20 slots of 24 bytes wrap to 8 MiB).  Creation must refuse with
 * ENOMEM rather than allocate a wrapped size.  A 64-bit size_t cannot
 * overflow here (n <= 2^32, cap <= 2^20): the i386 preset runs the test.
 */
Test(wqinput, create_refuses_rings_whose_size_overflows)
{
	struct wqinput *wqi;
	int error;

	if (sizeof(size_t) > 4)
		cr_skip_test("size_t of %zu bits cannot overflow here; the "
		             "i386 preset runs this test",
		    8 * sizeof(size_t));
	wqinput_test_ncpu(171);
	errno = 0;
	wqi =
	    wqinput_create_limit("wqhuge", input_func, WQINPUT_LIMIT_MAX, NULL);
	error = errno;
	wqinput_test_ncpu(0);
	cr_assert_null(wqi, "a wqinput with rings larger than memory");
	cr_assert_eq(error, ENOMEM);
}

/*
 * wqinput_destroy() while a drain is in progress: the drain is held
 * after its first queue caught up (the destroy then has processed the
 * packet it waited for).  Destroy must not free the wqinput while the
 * drain is still in it: it used to return here, and the drain then read
 * the freed queues (ASan: heap-use-after-free in wqinput_drain).  The
 * contract still forbids the overlap (a drain not yet inside cannot be
 * seen); this tests the safeguard for one that is.
 */
static struct gate drain_gate = GATE_INITIALIZER;

static void
drain_hold_hook(enum wqinput_test_point point)
{
	if (point == WQINPUT_TP_DRAIN_QUEUE_DONE)
		gate_pass(&drain_gate);
}

static void *
drainer_main(void *arg)
{
	wqinput_drain(arg);
	return NULL;
}

Test(wqinput, destroy_waits_for_a_drain_in_progress)
{
	struct destroyer d;
	pthread_t td, tx;

	reset_counters();
	gate_reset(&drain_gate);
	atomic_init(&d.done, 0);
	d.wqi = wqinput_create("wqdrdestroy", input_func);
	cr_assert_not_null(d.wqi);
	wqinput_test_hook(drain_hold_hook);
	cr_assert_eq(pthread_create(&tx, NULL, drainer_main, d.wqi), 0);
	gate_wait_blocked(&drain_gate, 1);
	cr_assert_eq(pthread_create(&td, NULL, destroyer_main, &d), 0);
	sleep_ms(50);
	cr_assert_not(atomic_load(&d.done),
	    "wqinput_destroy returned while a drain was in progress");
	gate_open(&drain_gate);
	pthread_join(tx, NULL);
	pthread_join(td, NULL);
	wqinput_test_hook(NULL);
}

/* Fewer queues than CPUs are never made: each CPU needs its queue. */
Test(wqinput, create_never_with_fewer_queues_than_cpus)
{
	struct wqinput *wqi;

	wqinput_test_ncpu(1);
	wqi = wqinput_create_limit("wqfewer", input_func, 16, NULL);
	wqinput_test_ncpu(0);
	cr_assert_not_null(wqi);
	cr_assert_eq(wqinput_nqueues(wqi), mpsafe_ncpu());
	wqinput_destroy(wqi);
}

/* The override itself: extra queues are harmless, and unused. */
Test(wqinput, create_with_more_queues_than_cpus)
{
	struct wqinput *wqi;

	wqinput_test_ncpu(mpsafe_ncpu() + 3);
	wqi = wqinput_create_limit("wqmore", input_func, 16, NULL);
	wqinput_test_ncpu(0);
	cr_assert_not_null(wqi);
	cr_assert_eq(wqinput_nqueues(wqi), mpsafe_ncpu() + 3);
	wqinput_drain(wqi);
	wqinput_destroy(wqi);
}
#endif /* MPSAFE_FAULT_INJECTION */
