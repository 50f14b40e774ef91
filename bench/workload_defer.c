/*
 * bench/workload_defer.c: deferred-reclamation throughput.
 *
 * N reader threads read as in read-side while one writer thread loops as
 * fast as it can: malloc an object of 64..256 bytes, publish it, and hand
 * the object it unpublished to the strategy's retire(), whose destructor
 * frees it after a grace period.  Every strategy keeps at most
 * BENCH_PENDING_LIMIT bytes waiting (see each strategy's retire()).
 *
 * Reported: ops = objects retired in the measured phase, ops_per_sec =
 * retires per second, ns_per_op = the writer's time per retire (including
 * malloc, and for ck-epoch the destructors it runs itself), writer_ops =
 * ops, and pending_peak_bytes = the most bytes retired and not yet
 * destroyed at any time in the measured phase.  Readers only provide the
 * load; their counts are not reported (violations still fail the run).
 */
#include <stdlib.h>

#include "bench.h"

struct defer_writer {
	uint64_t retired;
	size_t peak;
};

static const char *
defer_supports(const struct bench_strategy *s)
{
	if (s->retire == NULL)
		return "has no deferred reclamation (retire)";
	return NULL;
}

/* A new object of 64..256 bytes (multiples of 8) holding value. */
static struct bench_obj *
defer_obj_new(uint64_t *rng, uint64_t value)
{
	struct bench_obj *o;
	size_t size;

	/* xorshift64 */
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	size = 64 + 8 * (size_t)(*rng % 25);
	o = malloc(size);
	if (o == NULL) {
		bench_warn("out of memory");
		abort();
	}
	bench_obj_init(o, size, value);
	return o;
}

static void
defer_writer_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct defer_writer *w = t->arg;
	uint64_t rng = 0x9e3779b97f4a7c15u, seq = 1, t0 = 0, t1;
	bool measuring = false;

	s->thread_register(BENCH_WRITER);
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			s->pending_reset_peak();
			t0 = bench_now_ns();
		}
		s->retire(s->publish(defer_obj_new(&rng, ++seq)));
		if (measuring)
			w->retired++;
	}
	t1 = bench_now_ns();
	w->peak = s->pending_peak();
	s->retire_barrier();
	s->thread_unregister();
	t->ops = w->retired;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
}

static int
defer_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned nr = cfg->threads, n = nr + 1;
	struct bench_thread *threads;
	struct defer_writer writer = {0};
	struct bench_obj *last;
	uint64_t measured, rng = 1;
	int error;

	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * n);
	if (threads == NULL) {
		bench_warn("out of memory");
		return -1;
	}
	error = s->init();
	if (error != 0) {
		bench_warn("%s: init failed (error %d)", s->name, error);
		free(threads);
		return -1;
	}
	s->publish(defer_obj_new(&rng, 1));
	for (unsigned i = 0; i < nr; i++) {
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = bench_reader_thread,
		    .index = i,
		    .id = i,
		};
	}
	threads[nr] = (struct bench_thread){
	    .strategy = s,
	    .body = defer_writer_thread,
	    .arg = &writer,
	    .index = nr,
	    .id = 0,
	};

	error = bench_run_threads(threads, n, cfg, &measured);

	/* The writer's figures are the row; readers only add violations. */
	bench_result_from_threads(res, &threads[nr], 1, measured);
	for (unsigned i = 0; i < nr; i++)
		res->violations += threads[i].violations;
	res->has_pending = true;
	res->pending_peak_bytes = writer.peak;
	res->has_writer_ops = true;
	res->writer_ops = writer.retired;
	res->writers = 1;

	last = s->publish(NULL); /* never retired: no reader is left */
	last->dtor(last);
	s->fini();
	free(threads);
	return error;
}

const struct bench_workload workload_defer = {
    .name = "defer",
    .description = "N readers vs 1 writer retiring malloc'd 64-256 B "
                   "objects: ops/s = retires/s, pending peak bytes",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 0,
    .min_writers = 1,
    .max_writers = 1,
    .default_writers = 1,
    .supports = defer_supports,
    .run = defer_run,
};
