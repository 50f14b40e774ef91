/*
 * bench/workload_read_scaling.c: does a reader pay for other readers?
 * Each reader's cost when the others run, over its own cost alone, on the
 * same CPU, measured in interleaved slices.
 *
 * Why not read-side at 1 thread against read-side at 2.  On a shared VM
 * the two runs are seconds apart and on different CPUs: the 1-thread run
 * uses CPU 0 only, the 2-thread figure averages CPUs 0 and 1.  A host
 * that slows one vCPU for a while (a neighbour on its core) or slows the
 * whole VM for a while moves that comparison by tens of percent either
 * way (docs/bench.md, "read-scaling").  Here every reader is compared
 * with itself, on its own CPU, within milliseconds.
 *
 * Schedule.  N readers (--threads N, at least 2), reader i pinned to CPU
 * i, and a controller thread.  Time is cut into slices of
 * RS_SLICE_NS, cycling through
 *
 *	alone(0), together, alone(1), together, ..., alone(N-1), together
 *
 * In alone(i) reader i runs and the others sleep on a condition variable
 * (their vCPU idles, as it would with one reader); in together all run.
 * Each reader runs the strategy's read loop (as read-side does) and
 * checks the slice between batches of BENCH_READ_BATCH operations.
 *
 * Timing.  At each new slice every reader acknowledges it: a running one
 * when it starts it, a sleeping one before it sleeps.  Once all have,
 * the controller marks the slice timed, and a running reader times its
 * operations from the moment it sees the mark until it sees the next
 * slice.  So wake-ups and the ends of slices are not measured, and no
 * timed interval of one condition overlaps a reader of the other.  Only
 * the measure phase counts (the warm-up cycles slices as well).
 *
 * Figures.  ns_per_op: per-thread time per operation in together slices,
 * averaged over the readers (comparable with read-side's at N threads).
 * extra: alone_ns (the same in alone slices), x_alone (for each reader
 * its together cost over its alone cost, averaged over the readers: 1.00
 * means other readers cost it nothing) and slices (timed slices).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* Slice length: long against a wake-up (tens of µs), short against drift. */
#define RS_SLICE_NS 10000000ull

/* A slice's mode, in the low byte of rs_ctl.state (above it: a count). */
#define RS_TOGETHER 0xfeu
#define RS_STOP 0xffu
#define RS_MODE(st) ((unsigned)((st)&0xffu))

struct rs_ctl {
	/* Slice number << 8 | mode; written by the controller only. */
	alignas(BENCH_CACHELINE) _Atomic(uint64_t) state;
	_Atomic(uint64_t) timed; /* the state whose slice is being timed */
	alignas(BENCH_CACHELINE) _Atomic(unsigned) acks; /* of this state */
	alignas(BENCH_CACHELINE) pthread_mutex_t lock;   /* for sleepers */
	pthread_cond_t cv;
	unsigned nreaders;
	uint64_t timed_slices;
};

/* One reader's accumulators, [0] alone, [1] together. */
struct rs_reader {
	alignas(BENCH_CACHELINE) uint64_t ops[2];
	uint64_t ns[2];
};

struct rs_arg {
	struct rs_ctl *ctl;
	struct rs_reader *rd; /* NULL for the controller */
};

static uint64_t
rs_state(struct rs_ctl *c)
{
	/*
	 * Acquire: pairs with the controller's release store, so a reader
	 * that sees a slice also sees the timed mark cleared for it.
	 */
	return atomic_load_explicit(&c->state, memory_order_acquire);
}

static void
rs_set_state(struct rs_ctl *c, uint64_t st)
{
	/*
	 * Relaxed: both resets come before the release store of the new
	 * state below, so a reader that acquires the new state acks after
	 * the reset and cannot see the old slice's timed mark.
	 */
	atomic_store_explicit(&c->timed, 0, memory_order_relaxed);
	atomic_store_explicit(&c->acks, 0, memory_order_relaxed);
	pthread_mutex_lock(&c->lock);
	/* Release: pairs with rs_state(); the lock orders it for sleepers. */
	atomic_store_explicit(&c->state, st, memory_order_release);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
}

static void
rs_ack(struct rs_ctl *c)
{
	/* Relaxed: a count the controller polls; it carries no data. */
	atomic_fetch_add_explicit(&c->acks, 1, memory_order_relaxed);
}

/* Sleep until the slice is no longer st. */
static void
rs_sleep_while(struct rs_ctl *c, uint64_t st)
{
	pthread_mutex_lock(&c->lock);
	while (atomic_load_explicit(&c->state, memory_order_relaxed) == st)
		pthread_cond_wait(&c->cv, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static void
rs_reader_main(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	struct rs_arg *a = t->arg;
	struct rs_ctl *c = a->ctl;
	struct rs_reader *rd = a->rd;
	uint64_t sink = 0, bad = 0, cur = UINT64_MAX, t0 = 0, n = 0;
	bool timing = false;
	unsigned cls = 0;

	s->thread_register(BENCH_READER);
	bench_thread_ready(t);
	for (;;) {
		uint64_t st = rs_state(c);

		if (st != cur) {
			if (timing) {
				rd->ns[cls] += bench_now_ns() - t0;
				rd->ops[cls] += n;
				timing = false;
			}
			cur = st;
			if (RS_MODE(st) == RS_STOP)
				break;
			rs_ack(c);
			if (RS_MODE(st) != RS_TOGETHER &&
			    RS_MODE(st) != t->id) {
				rs_sleep_while(c, st);
				continue;
			}
			cls = RS_MODE(st) == RS_TOGETHER;
		}
		/* Relaxed: the mark only starts a clock (see rs_set_state). */
		if (!timing &&
		    atomic_load_explicit(&c->timed, memory_order_relaxed) ==
		        cur &&
		    bench_phase(t) == BENCH_PHASE_MEASURE) {
			timing = true;
			n = 0;
			t0 = bench_now_ns();
		}
		sink += s->read_loop(BENCH_READ_BATCH, &bad);
		if (timing)
			n += BENCH_READ_BATCH;
	}
	s->thread_unregister();
	t->ops = rd->ops[0] + rd->ops[1];
	t->violations = bad;
	t->sink = sink;
}

/* Sleep until bench_now_ns() reaches deadline. */
static void
sleep_ns(uint64_t deadline)
{
	uint64_t now;

	while ((now = bench_now_ns()) < deadline) {
		uint64_t left = deadline - now;
		struct timespec ts = {
		    (time_t)(left / 1000000000u), (long)(left % 1000000000u)};

		nanosleep(&ts, NULL);
	}
}

static void
rs_controller_main(struct bench_thread *t)
{
	struct rs_ctl *c = ((struct rs_arg *)t->arg)->ctl;
	const struct timespec pause = {0, 20000}; /* 20 µs */
	uint64_t slice = 0;
	unsigned step = 0;

	bench_thread_ready(t);
	while (bench_phase(t) != BENCH_PHASE_STOP) {
		/* Steps 2i: alone(i); odd steps: together. */
		unsigned mode = step % 2 ? RS_TOGETHER : step / 2;
		uint64_t st = ++slice << 8 | mode, start;

		step = (step + 1) % (2 * c->nreaders);
		rs_set_state(c, st);
		/* Relaxed: a count (rs_ack). */
		while (atomic_load_explicit(&c->acks, memory_order_relaxed) <
		           c->nreaders &&
		       bench_phase(t) != BENCH_PHASE_STOP)
			nanosleep(&pause, NULL);
		start = bench_now_ns();
		if (bench_phase(t) == BENCH_PHASE_MEASURE)
			c->timed_slices++;
		/* Relaxed: see rs_reader_main(). */
		atomic_store_explicit(&c->timed, st, memory_order_relaxed);
		/* One sleep: polling would steal CPU 0 from reader 0. */
		sleep_ns(start + RS_SLICE_NS);
	}
	rs_set_state(c, ++slice << 8 | RS_STOP);
}

static const char *
read_scaling_supports(const struct bench_strategy *s)
{
	if (s->read_loop == NULL)
		return "has no read side";
	return NULL;
}

static int
read_scaling_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned n = cfg->threads;
	struct bench_thread *threads;
	struct rs_reader *rd;
	struct rs_arg *args;
	struct bench_obj *obj;
	struct rs_ctl *c;
	double together = 0, alone = 0, x = 0;
	uint64_t measured;
	unsigned timed = 0;
	int error;

	if (n >= RS_TOGETHER) {
		bench_warn("read-scaling: at most %u readers", RS_TOGETHER - 1);
		return -1;
	}
	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * (n + 1));
	rd = aligned_alloc(BENCH_CACHELINE, sizeof(*rd) * n);
	c = aligned_alloc(BENCH_CACHELINE, sizeof(*c));
	args = calloc(n + 1, sizeof(*args));
	if (threads == NULL || rd == NULL || c == NULL || args == NULL) {
		bench_warn("out of memory");
		error = -1;
		goto out_free;
	}
	memset(rd, 0, sizeof(*rd) * n);
	memset(c, 0, sizeof(*c));
	atomic_init(&c->state, 0);
	atomic_init(&c->timed, 0);
	atomic_init(&c->acks, 0);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->nreaders = n;

	error = s->init();
	if (error != 0) {
		bench_warn("%s: init failed (error %d)", s->name, error);
		error = -1;
		goto out_sync;
	}
	obj = bench_obj_alloc(sizeof(*obj), 1);
	s->publish(obj);
	for (unsigned i = 0; i <= n; i++) {
		args[i] =
		    (struct rs_arg){.ctl = c, .rd = i < n ? &rd[i] : NULL};
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = i < n ? rs_reader_main : rs_controller_main,
		    .arg = &args[i],
		    .index = i, /* the controller shares CPU 0: it sleeps */
		    .id = i,
		};
	}
	error = bench_run_threads(threads, n + 1, cfg, &measured);
	s->publish(NULL);
	s->fini();
	bench_obj_free(obj);

	res->ops = 0;
	res->violations = 0;
	for (unsigned i = 0; i < n; i++) {
		res->ops += threads[i].ops;
		res->violations += threads[i].violations;
		if (rd[i].ops[0] == 0 || rd[i].ops[1] == 0)
			continue;
		double a = (double)rd[i].ns[0] / (double)rd[i].ops[0];
		double t = (double)rd[i].ns[1] / (double)rd[i].ops[1];

		alone += a;
		together += t;
		x += t / a;
		timed++;
	}
	res->seconds = (double)measured / 1e9;
	res->ops_per_sec =
	    res->seconds > 0 ? (double)res->ops / res->seconds : 0;
	if (timed == 0) {
		bench_warn("read-scaling: no reader was timed in both kinds of "
		           "slice (--seconds too short?)");
		error = -1;
	} else {
		res->ns_per_op = together / timed;
		res->has_ns_per_op = true;
		snprintf(res->extra, sizeof(res->extra),
		    "alone_ns=%.3f;x_alone=%.4f;slices=%" PRIu64, alone / timed,
		    x / timed, c->timed_slices);
	}
out_sync:
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
out_free:
	free(args);
	free(c);
	free(rd);
	free(threads);
	return error;
}

const struct bench_workload workload_read_scaling = {
    .name = "read-scaling",
    .description = "N readers in 10 ms slices, alone in turn and "
                   "together; ns/op together, and each reader's cost "
                   "together over alone on its own CPU (x_alone)",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 2,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = read_scaling_supports,
    .run = read_scaling_run,
};
