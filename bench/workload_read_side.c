/*
 * bench/workload_read_side.c: the read-side cost of each strategy.
 *
 * N reader threads, no writer.  Each loops {enter the read section (or
 * take the reference, or the read lock); load the published pointer; load
 * one field, check it, add it to a sink; leave}, BENCH_READ_BATCH
 * operations per call of the strategy's read_loop().  ns_per_op is each
 * thread's own time per operation, averaged over the threads.
 */
#include <stdlib.h>

#include "bench.h"

static const char *
read_side_supports(const struct bench_strategy *s)
{
	if (s->read_loop == NULL)
		return "has no read side";
	return NULL;
}

static int
read_side_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	struct bench_thread *threads;
	struct bench_obj *obj;
	uint64_t measured;
	int error;

	threads =
	    aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * cfg->threads);
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
	obj = bench_obj_alloc(sizeof(*obj), 1);
	s->publish(obj);
	for (unsigned i = 0; i < cfg->threads; i++) {
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = bench_reader_thread,
		    .index = i,
		    .id = i,
		};
	}
	error = bench_run_threads(threads, cfg->threads, cfg, &measured);
	bench_result_from_threads(res, threads, cfg->threads, measured);
	s->publish(NULL);
	s->fini();
	bench_obj_free(obj);
	free(threads);
	return error;
}

const struct bench_workload workload_read_side = {
    .name = "read-side",
    .description = "N readers, no writer: enter, load pointer, read a "
                   "field, exit; ns/op per reader",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = read_side_supports,
    .run = read_side_run,
};
