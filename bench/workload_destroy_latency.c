/*
 * bench/workload_destroy_latency.c: how long a destroyer that waits for
 * a held reference takes to notice its release.
 *
 * One destroyer thread and N holder threads (default 1) repeat, for the
 * warm-up and the measured phase:
 *
 *   1. The destroyer opens round k; each holder takes a reference to the
 *      published object X (hold_acquire()) and says so.
 *   2. The destroyer unpublishes X (publishes a fresh object from its
 *      ring of spares), announces that it is destroying, and calls
 *      destroy(X), which blocks: X is held.
 *   3. Each holder, once it sees the announcement, blocks for --hold-us
 *      microseconds (default 200; a nanosleep with 1 ns timer slack), so
 *      that the destroyer has done its own work (psref: a grace period;
 *      localcount: two) and reached its wait, asleep if it sleeps;
 *      checks X is not poisoned; reads CLOCK_MONOTONIC immediately
 *      before hold_release(); releases.  A hold shorter than the
 *      destroyer's own grace periods measures the end of that work
 *      instead of the wake-up.
 *   4. The destroyer reads CLOCK_MONOTONIC immediately after destroy()
 *      returns.  The latency of the round is that time minus the last
 *      holder's release time.  A destroy that returns before a holder's
 *      release began is a violation.  The destroyer poisons X and puts
 *      it at the tail of its ring.
 *
 * Reported: lat_p50_ns and lat_p99_ns of that latency (log-linear
 * histogram, rounds of the measured phase); ops = rounds, ops_per_sec =
 * rounds per second, ns_per_op = the destroyer's time per round (mostly
 * the hold time and the wake-up); writer_ops = ops.  The ratio is taken
 * on the median.  Handshakes between the threads spin, then yield; each
 * thread has a CPU of its own when there are more CPUs than threads.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench.h"

#define DL_SPARES 8
#define DL_HOLD_US_DEFAULT 200.0
/* Value of `round` that tells the holders to stop. */
#define DL_QUIT UINT64_MAX

struct dl_shared {
	/* Written by the destroyer; polled by the holders. */
	alignas(BENCH_CACHELINE) _Atomic uint64_t round;
	_Atomic uint64_t destroying; /* round whose object is being destroyed */
	/* Written by the holders; polled by the destroyer. */
	alignas(BENCH_CACHELINE) _Atomic unsigned held;
	_Atomic unsigned released;
	_Atomic uint64_t last_release_ns; /* latest release time this round */
	uint64_t hold_ns;
	unsigned holders;
};

struct dl_destroyer {
	struct dl_shared *sh;
	struct bench_obj *ring[DL_SPARES]; /* spares, oldest at head */
	unsigned head;
	uint64_t rounds;
	uint64_t violations;
	struct bench_hist hist;
};

static const char *
dl_supports(const struct bench_strategy *s)
{
	if (s->hold_acquire == NULL || s->hold_release == NULL ||
	    s->destroy == NULL)
		return "has no reference that may be held across blocking";
	return NULL;
}

static void
dl_timer_slack(void)
{
#ifdef __linux__
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

/* Wait until *word >= want (or DL_QUIT); returns the value seen. */
static uint64_t
dl_wait64(_Atomic uint64_t *word, uint64_t want)
{
	unsigned spins = 0;
	uint64_t v;

	/* Acquire: pairs with the destroyer's release stores. */
	while ((v = atomic_load_explicit(word, memory_order_acquire)) < want)
		bench_spin_then_yield(&spins);
	return v;
}

static void
dl_wait_count(_Atomic unsigned *word, unsigned want)
{
	unsigned spins = 0;

	/* Acquire: pairs with the holders' release increments. */
	while (atomic_load_explicit(word, memory_order_acquire) < want)
		bench_spin_then_yield(&spins);
}

static void
dl_holder_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct dl_shared *sh = t->arg;
	uint64_t k = 0, bad = 0, sink = 0;

	s->thread_register(BENCH_READER);
	dl_timer_slack();
	bench_thread_ready(t);
	for (;;) {
		struct bench_hold h;
		struct bench_obj *o;
		uint64_t v, now, prev;

		if (dl_wait64(&sh->round, k + 1) == DL_QUIT)
			break;
		k++;
		o = s->hold_acquire(&h);
		/* Relaxed: the reference orders it, see bench_obj. */
		v = atomic_load_explicit(&o->value, memory_order_relaxed);
		/* Release: the acquire happens before the destroyer goes on. */
		atomic_fetch_add_explicit(&sh->held, 1, memory_order_release);
		if (dl_wait64(&sh->destroying, k) == DL_QUIT) {
			s->hold_release(&h);
			break;
		}
		bench_sleep_ns(sh->hold_ns);
		bad += (v == BENCH_POISON || atomic_load_explicit(&o->value,
		                                 memory_order_relaxed) != v);
		sink += v;
		now = bench_now_ns();
		s->hold_release(&h);
		/* Relaxed: read after the count below (release/acquire). */
		prev = atomic_load_explicit(
		    &sh->last_release_ns, memory_order_relaxed);
		while (
		    now > prev &&
		    !atomic_compare_exchange_weak_explicit(&sh->last_release_ns,
		        &prev, now, memory_order_relaxed, memory_order_relaxed))
			continue;
		/* Release: the time above before the count. */
		atomic_fetch_add_explicit(
		    &sh->released, 1, memory_order_release);
	}
	s->thread_unregister();
	t->violations = bad;
	t->sink = sink;
}

static void
dl_destroyer_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct dl_destroyer *d = t->arg;
	struct dl_shared *sh = d->sh;
	uint64_t k = 0, t0 = 0, t1;
	bool measuring = false;

	s->thread_register(BENCH_WRITER);
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct bench_obj *obj, *old;
		uint64_t done, rel;

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			t0 = bench_now_ns();
		}
		k++;
		atomic_store_explicit(&sh->held, 0, memory_order_relaxed);
		atomic_store_explicit(&sh->released, 0, memory_order_relaxed);
		atomic_store_explicit(
		    &sh->last_release_ns, 0, memory_order_relaxed);
		/* Release: the resets above before the holders start. */
		atomic_store_explicit(&sh->round, k, memory_order_release);
		dl_wait_count(&sh->held, sh->holders);

		obj = d->ring[d->head];
		/* Relaxed: published by the release in publish(). */
		atomic_store_explicit(&obj->value, k + 1, memory_order_relaxed);
		old = s->publish(obj);
		/* Release: pairs with the holders' acquire wait. */
		atomic_store_explicit(&sh->destroying, k, memory_order_release);
		s->destroy(old);
		done = bench_now_ns();

		dl_wait_count(&sh->released, sh->holders);
		rel = atomic_load_explicit(
		    &sh->last_release_ns, memory_order_relaxed);
		if (done < rel)
			d->violations++; /* returned before a release began */
		else if (measuring) {
			bench_hist_add(&d->hist, done - rel);
			d->rounds++;
		}
		/* Relaxed: no holder may use old any more. */
		atomic_store_explicit(
		    &old->value, BENCH_POISON, memory_order_relaxed);
		d->ring[d->head] = old;
		d->head = (d->head + 1) % DL_SPARES;
	}
	t1 = bench_now_ns();
	/* Release: pairs with the holders' acquire waits. */
	atomic_store_explicit(&sh->destroying, DL_QUIT, memory_order_release);
	atomic_store_explicit(&sh->round, DL_QUIT, memory_order_release);
	s->thread_unregister();
	t->ops = d->rounds;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
	t->violations = d->violations;
}

static int
dl_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned nh = cfg->threads, n = nh + 1;
	double hold_us =
	    isnan(cfg->hold_us) ? DL_HOLD_US_DEFAULT : cfg->hold_us;
	struct bench_thread *threads;
	struct dl_shared *sh;
	struct dl_destroyer *d;
	struct bench_obj *last;
	uint64_t measured;
	int error;

	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * n);
	sh = aligned_alloc(BENCH_CACHELINE, sizeof(*sh));
	d = calloc(1, sizeof(*d));
	if (threads == NULL || sh == NULL || d == NULL) {
		bench_warn("out of memory");
		free(threads);
		free(sh);
		free(d);
		return -1;
	}
	error = s->init();
	if (error != 0) {
		bench_warn("%s: init failed (error %d)", s->name, error);
		free(threads);
		free(sh);
		free(d);
		return -1;
	}
	atomic_init(&sh->round, 0);
	atomic_init(&sh->destroying, 0);
	atomic_init(&sh->held, 0);
	atomic_init(&sh->released, 0);
	atomic_init(&sh->last_release_ns, 0);
	sh->hold_ns = (uint64_t)(hold_us * 1000);
	sh->holders = nh;
	d->sh = sh;
	for (unsigned k = 0; k < DL_SPARES; k++)
		d->ring[k] =
		    bench_obj_alloc(sizeof(struct bench_obj), BENCH_POISON);
	s->publish(bench_obj_alloc(sizeof(struct bench_obj), 1));
	for (unsigned i = 0; i < nh; i++) {
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = dl_holder_thread,
		    .arg = sh,
		    .index = i,
		    .id = i,
		};
	}
	threads[nh] = (struct bench_thread){
	    .strategy = s,
	    .body = dl_destroyer_thread,
	    .arg = d,
	    .index = nh,
	    .id = 0,
	};

	error = bench_run_threads(threads, n, cfg, &measured);

	/* The destroyer's figures are the row; holders add violations. */
	bench_result_from_threads(res, &threads[nh], 1, measured);
	for (unsigned i = 0; i < nh; i++)
		res->violations += threads[i].violations;
	res->has_lat = true;
	res->lat_p50_ns = bench_hist_quantile(&d->hist, 0.50);
	res->lat_p99_ns = bench_hist_quantile(&d->hist, 0.99);
	res->has_writer_ops = true;
	res->writer_ops = d->rounds;
	res->writers = 1;

	last = s->publish(NULL);
	s->fini();
	bench_obj_free(last);
	for (unsigned k = 0; k < DL_SPARES; k++)
		bench_obj_free(d->ring[k]);
	free(threads);
	free(sh);
	free(d);
	return error;
}

const struct bench_workload workload_destroy_latency = {
    .name = "destroy-latency",
    .description = "N holders (default 1) block holding a reference while "
                   "a destroyer waits: release-to-return latency p50/p99",
    .metric = BENCH_METRIC_LAT_P50,
    .min_threads = 1,
    .min_writers = 1,
    .max_writers = 1,
    .default_writers = 1,
    .supports = dl_supports,
    .run = dl_run,
};
