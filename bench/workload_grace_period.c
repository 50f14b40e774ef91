/*
 * bench/workload_grace_period.c: grace-period latency against busy readers.
 *
 * N reader threads read as in read-side while W writer threads (default
 * 1) each loop: take the oldest object of its own ring of spares, give it
 * a fresh value, publish it (under a mutex when W > 1), then time
 * wait_for_readers() (outside the mutex), poison the object it unpublished
 * and put it at the tail of its ring.  The ring keeps each poisoned object
 * poisoned for GP_SPARES grace periods before reuse, so a reader that
 * wrongly still holds one sees the poison; readers count such violations
 * and the program exits non-zero.
 *
 * Reported: lat_p50_ns/lat_p99_ns of wait_for_readers() over all writers'
 * samples (log-linear histogram), writer_ops = waits completed in the
 * measured phase, and the readers' ops and ns/op while the writers run.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bench.h"

/* Poisoned objects each writer keeps before reusing the oldest. */
#define GP_SPARES 8

struct gp_shared {
	pthread_mutex_t lock; /* serialises publish() when writers > 1 */
	bool use_lock;
};

/* One writer's private state. */
struct gp_writer {
	struct gp_shared *shared;
	struct bench_obj *ring[GP_SPARES]; /* spares, oldest at head */
	unsigned head;
	uint64_t waits;
	struct bench_hist hist;
};

static const char *
gp_supports(const struct bench_strategy *s)
{
	if (s->wait_for_readers == NULL)
		return "has no way to wait for readers";
	return NULL;
}

static void
gp_writer_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct gp_writer *w = t->arg;
	uint64_t seq = 0, t0 = 0, t1, w0, w1;
	bool measuring = false;

	s->thread_register(BENCH_WRITER);
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
		obj = w->ring[w->head];
		/* Relaxed: published by the release in publish(). */
		atomic_store_explicit(&obj->value,
		    ((uint64_t)(t->id + 1) << 48) | (++seq & 0xffffffffffff),
		    memory_order_relaxed);
		if (w->shared->use_lock)
			pthread_mutex_lock(&w->shared->lock);
		old = s->publish(obj);
		if (w->shared->use_lock)
			pthread_mutex_unlock(&w->shared->lock);

		w0 = bench_now_ns();
		s->wait_for_readers();
		w1 = bench_now_ns();

		/*
		 * Relaxed: after the grace period no reader may look at old;
		 * one that does is the violation the readers count.
		 */
		atomic_store_explicit(
		    &old->value, BENCH_POISON, memory_order_relaxed);
		w->ring[w->head] = old;
		w->head = (w->head + 1) % GP_SPARES;
		if (measuring) {
			bench_hist_add(&w->hist, w1 - w0);
			w->waits++;
		}
	}
	t1 = bench_now_ns();
	s->thread_unregister();
	t->ops = w->waits;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
}

static int
gp_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned nr = cfg->threads, nw = cfg->writers, n = nr + nw;
	struct bench_thread *threads;
	struct gp_writer *writers;
	struct gp_shared shared;
	struct bench_hist *all;
	struct bench_obj *last;
	uint64_t measured;
	int error;

	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * n);
	writers = calloc(nw, sizeof(*writers));
	all = calloc(1, sizeof(*all));
	if (threads == NULL || writers == NULL || all == NULL) {
		bench_warn("out of memory");
		free(threads);
		free(writers);
		free(all);
		return -1;
	}
	error = s->init();
	if (error != 0) {
		bench_warn("%s: init failed (error %d)", s->name, error);
		free(threads);
		free(writers);
		free(all);
		return -1;
	}
	pthread_mutex_init(&shared.lock, NULL);
	shared.use_lock = nw > 1;
	s->publish(bench_obj_alloc(sizeof(struct bench_obj), 1));

	for (unsigned i = 0; i < nr; i++) {
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = bench_reader_thread,
		    .index = i,
		    .id = i,
		};
	}
	for (unsigned j = 0; j < nw; j++) {
		writers[j].shared = &shared;
		for (unsigned k = 0; k < GP_SPARES; k++)
			writers[j].ring[k] = bench_obj_alloc(
			    sizeof(struct bench_obj), BENCH_POISON);
		threads[nr + j] = (struct bench_thread){
		    .strategy = s,
		    .body = gp_writer_thread,
		    .arg = &writers[j],
		    .index = nr + j,
		    .id = j,
		};
	}

	error = bench_run_threads(threads, n, cfg, &measured);

	bench_result_from_threads(res, threads, nr, measured);
	res->has_lat = true;
	res->has_writer_ops = true;
	res->writers = nw;
	for (unsigned j = 0; j < nw; j++) {
		bench_hist_merge(all, &writers[j].hist);
		res->writer_ops += writers[j].waits;
	}
	res->lat_p50_ns = bench_hist_quantile(all, 0.50);
	res->lat_p99_ns = bench_hist_quantile(all, 0.99);

	last = s->publish(NULL);
	s->fini();
	bench_obj_free(last);
	for (unsigned j = 0; j < nw; j++)
		for (unsigned k = 0; k < GP_SPARES; k++)
			bench_obj_free(writers[j].ring[k]);
	pthread_mutex_destroy(&shared.lock);
	free(threads);
	free(writers);
	free(all);
	return error;
}

const struct bench_workload workload_grace_period = {
    .name = "grace-period",
    .description = "N readers vs --writers W (default 1) publishing and "
                   "waiting: wait latency p50/p99, grace periods done, "
                   "reader ns/op",
    .metric = BENCH_METRIC_LAT_P50,
    .min_threads = 0,
    .min_writers = 1,
    .max_writers = 64,
    .default_writers = 1,
    .supports = gp_supports,
    .run = gp_run,
};
