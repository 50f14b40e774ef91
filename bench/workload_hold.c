/*
 * bench/workload_hold.c: references held across blocking.
 *
 * N reader threads each loop: take a reference to the published object
 * (hold_acquire(): the strategy's lookup and reference, e.g. a psref
 * taken inside a pserialize read section that is then left), read the
 * object, block for --hold-us microseconds (default 5) holding the
 * reference, read the object again, release the reference
 * (hold_release()).  The block is a nanosleep() with the thread's timer
 * slack set to 1 ns, so the thread really leaves the CPU for about that
 * long: a stand-in for a short I/O wait or a contended mutex, the reason
 * a reference rather than a read section is needed.
 *
 * With --writers 1 (the default), a writer thread replaces the object
 * every --interval-us microseconds (default 1000): it publishes a fresh
 * object from its ring of spares, destroy()s the old one (which waits for
 * the readers holding it), poisons it and puts it at the tail of the
 * ring.  A reader that sees the poison, or sees the value change while it
 * holds the reference, counts a violation.  --writers 0: no writer.
 *
 * The sleep dominates a cycle, so the figure of interest is what taking
 * and dropping the reference costs.  Each reader times hold_acquire() and
 * hold_release() separately with bench_now_ns() and subtracts the
 * measured cost of a clock read pair (bench_clock_overhead_ns(), once per
 * thread) from each of the two intervals.  Reported: ns_per_op = the mean
 * take+drop time per cycle (per thread, averaged over threads);
 * lat_p50_ns/lat_p99_ns = its median and 99th percentile over all
 * cycles; ops = cycles completed by all readers, ops_per_sec = cycles per
 * second; writer_ops = replacements.
 *
 * The ratio is taken on the mean, not the median: after the sleep the
 * reference's cache lines are cold, so the median take+drop of every
 * strategy is a few cache misses (tens of ns, with a clock whose own
 * cost is about 20 ns); what sets the strategies apart is the rare slow
 * cycle: a reader that waits behind a writer (rwlock), a release that
 * wakes a sleeping destroyer (a futex system call), a shared counter
 * line taken from another CPU.  The mean counts those; the p99 shows
 * them.  On a shared machine a preemption inside the timed window also
 * lands in the mean: compare runs with --repeat.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench.h"

/* Poisoned objects the writer keeps before reusing the oldest. */
#define HOLD_SPARES 8
#define HOLD_US_DEFAULT 5.0

struct hold_reader {
	uint64_t hold_ns;
	uint64_t clock_ns; /* cost of one clock read pair */
	uint64_t raw_sum;  /* sum of the take+drop intervals, clocks incl. */
	struct bench_hist hist;
};

struct hold_writer {
	uint64_t interval_ns;
	struct bench_obj *ring[HOLD_SPARES]; /* spares, oldest at head */
	unsigned head;
	uint64_t replaced;
};

static const char *
hold_supports(const struct bench_strategy *s)
{
	if (s->hold_acquire == NULL || s->hold_release == NULL ||
	    s->destroy == NULL)
		return "has no reference that may be held across blocking";
	return NULL;
}

/* Let short sleeps be short: a slack of 1 ns instead of 50 us. */
static void
hold_timer_slack(void)
{
#ifdef __linux__
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

static void
hold_reader_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct hold_reader *r = t->arg;
	struct bench_hold h;
	uint64_t ops = 0, bad = 0, sink = 0, t0 = 0, t1;
	bool measuring = false;

	s->thread_register(BENCH_READER);
	hold_timer_slack();
	r->clock_ns = bench_clock_overhead_ns();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct bench_obj *o;
		uint64_t a0, a1, b0, b1, v, v2;

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			t0 = bench_now_ns();
		}
		a0 = bench_now_ns();
		o = s->hold_acquire(&h);
		a1 = bench_now_ns();
		/* Relaxed: the reference orders it, see bench_obj. */
		v = atomic_load_explicit(&o->value, memory_order_relaxed);
		bench_sleep_ns(r->hold_ns);
		v2 = atomic_load_explicit(&o->value, memory_order_relaxed);
		bad += (v == BENCH_POISON || v2 != v);
		sink += v;
		b0 = bench_now_ns();
		s->hold_release(&h);
		b1 = bench_now_ns();
		if (measuring) {
			uint64_t raw = (a1 - a0) + (b1 - b0);

			r->raw_sum += raw;
			bench_hist_add(&r->hist, raw);
			ops++;
		}
	}
	t1 = bench_now_ns();
	s->thread_unregister();
	t->ops = ops;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
	t->violations = bad;
	t->sink = sink;
}

static void
hold_writer_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct hold_writer *w = t->arg;
	uint64_t seq = 1, t0 = 0, t1;
	bool measuring = false;

	s->thread_register(BENCH_WRITER);
	hold_timer_slack();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct bench_obj *obj, *old;

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			t0 = bench_now_ns();
		}
		if (w->interval_ns > 0)
			bench_sleep_ns(w->interval_ns);
		obj = w->ring[w->head];
		/* Relaxed: published by the release in publish(). */
		atomic_store_explicit(&obj->value, ++seq, memory_order_relaxed);
		old = s->publish(obj);
		s->destroy(old);
		/* Relaxed: no reader may hold old any more; see above. */
		atomic_store_explicit(
		    &old->value, BENCH_POISON, memory_order_relaxed);
		w->ring[w->head] = old;
		w->head = (w->head + 1) % HOLD_SPARES;
		if (measuring)
			w->replaced++;
	}
	t1 = bench_now_ns();
	s->thread_unregister();
	t->ops = w->replaced;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
}

/* v minus the clock cost, never below zero. */
static uint64_t
less_clock(uint64_t v, uint64_t clock)
{
	return v > clock ? v - clock : 0;
}

static int
hold_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned nr = cfg->threads, nw = cfg->writers, n = nr + nw;
	double hold_us = isnan(cfg->hold_us) ? HOLD_US_DEFAULT : cfg->hold_us;
	struct bench_thread *threads;
	struct hold_reader *readers;
	struct hold_writer writer = {0};
	struct bench_hist *all;
	struct bench_obj *last;
	uint64_t measured, clock = 0;
	double mean_sum = 0;
	unsigned timed = 0;
	int error;

	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * n);
	readers = calloc(nr, sizeof(*readers));
	all = calloc(1, sizeof(*all));
	if (threads == NULL || readers == NULL || all == NULL) {
		bench_warn("out of memory");
		free(threads);
		free(readers);
		free(all);
		return -1;
	}
	error = s->init();
	if (error != 0) {
		bench_warn("%s: init failed (error %d)", s->name, error);
		free(threads);
		free(readers);
		free(all);
		return -1;
	}
	s->publish(bench_obj_alloc(sizeof(struct bench_obj), 1));
	for (unsigned i = 0; i < nr; i++) {
		readers[i].hold_ns = (uint64_t)(hold_us * 1000);
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = hold_reader_thread,
		    .arg = &readers[i],
		    .index = i,
		    .id = i,
		};
	}
	if (nw > 0) {
		writer.interval_ns = (uint64_t)(cfg->interval_us * 1000);
		for (unsigned k = 0; k < HOLD_SPARES; k++)
			writer.ring[k] = bench_obj_alloc(
			    sizeof(struct bench_obj), BENCH_POISON);
		threads[nr] = (struct bench_thread){
		    .strategy = s,
		    .body = hold_writer_thread,
		    .arg = &writer,
		    .index = nr,
		    .id = 0,
		};
	}

	error = bench_run_threads(threads, n, cfg, &measured);

	bench_result_from_threads(res, threads, nr, measured);
	for (unsigned i = 0; i < nr; i++) {
		bench_hist_merge(all, &readers[i].hist);
		clock += readers[i].clock_ns;
		if (threads[i].ops > 0) {
			/* Two intervals per cycle, each with a clock pair. */
			mean_sum += (double)readers[i].raw_sum /
			                (double)threads[i].ops -
			            2.0 * (double)readers[i].clock_ns;
			timed++;
		}
	}
	clock = nr > 0 ? 2 * clock / nr : 0;
	res->has_ns_per_op = timed > 0;
	res->ns_per_op = timed > 0 ? fmax(mean_sum / timed, 0) : 0;
	res->has_lat = true;
	res->lat_p50_ns = less_clock(bench_hist_quantile(all, 0.50), clock);
	res->lat_p99_ns = less_clock(bench_hist_quantile(all, 0.99), clock);
	res->has_writer_ops = nw > 0;
	res->writer_ops = writer.replaced;
	res->writers = nw;

	last = s->publish(NULL);
	s->fini();
	bench_obj_free(last);
	if (nw > 0)
		for (unsigned k = 0; k < HOLD_SPARES; k++)
			bench_obj_free(writer.ring[k]);
	free(threads);
	free(readers);
	free(all);
	return error;
}

const struct bench_workload workload_hold = {
    .name = "hold",
    .description = "N readers take a reference, sleep --hold-us holding it, "
                   "release; writer replaces every --interval-us: "
                   "take+drop ns",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = hold_supports,
    .run = hold_run,
};
