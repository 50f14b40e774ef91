/*
 * test_wqinput.c: unit tests of wqinput(3): creation and its errors,
 * delivery of (packet, off, proto) on the caller's CPU in order, drop
 * accounting when a queue overflows (every packet offered is either
 * processed or counted as dropped, exactly once; none vanish), with and
 * without a drop function, many producers against small queues with the
 * statistics read meanwhile, and destroy with packets queued.
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

/* A gate the input function can be held on. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_closed, gate_blocked;

static void
gate_reset(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = 1;
	gate_blocked = 0;
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_pass(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_blocked++;
	pthread_cond_broadcast(&gate_cv);
	while (gate_closed)
		pthread_cond_wait(&gate_cv, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_wait_blocked(void)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_blocked == 0)
		pthread_cond_wait(&gate_cv, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_open(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = 0;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
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
		gate_pass();
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
static void
overflow(unsigned limit, bool with_drop_func)
{
	unsigned offered = 3 * limit + 1, accepted = 0, refused = 0;
	struct pkt *pk = calloc(offered, sizeof(*pk));
	struct wqinput_stats st, tot;
	struct wqinput *wqi;
	unsigned c = mpsafe_ncpu() - 1;

	cr_assert_not_null(pk);
	reset_counters();
	gate_reset();
	wqi = wqinput_create_limit(
	    "wqover", input_func, limit, with_drop_func ? drop_func : NULL);
	cr_assert_not_null(wqi);
	if (!pin_to(c))
		cr_skip_test("cannot pin a thread to CPU %u", c);
	atomic_store(&in_hold, 1);
	cr_assert_eq(offer(wqi, &pk[0], 0, 0), 0);
	accepted++;
	gate_wait_blocked(); /* the worker holds packet 0, out of the ring */
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
	gate_open();
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
	gate_reset();
	atomic_init(&d.done, 0);
	d.wqi = wqinput_create("wqdestroy", input_func);
	cr_assert_not_null(d.wqi);
	atomic_store(&in_hold, 1);
	cr_assert_eq(offer(d.wqi, &pk[0], 0, 0), 0);
	gate_wait_blocked();
	for (unsigned i = 1; i < N; i++)
		cr_assert_eq(offer(d.wqi, &pk[i], i, 64), 0);
	cr_assert_eq(pthread_create(&t, NULL, destroyer_main, &d), 0);
	sleep_ms(50);
	cr_assert_not(atomic_load(&d.done));
	gate_open();
	pthread_join(t, NULL);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&pk[i].p_processed), 1);
	cr_assert_eq(atomic_load(&in_calls), N);
}
