/*
 * bench/harness.c: threads, phases, pinning, timing, latency histograms and
 * pending-memory accounting for mpsafe-bench (see bench.h).
 *
 * A run's threads are released together: each registers with the
 * strategy, announces itself on a counter and spins until the main thread
 * sets the go flag.  The main thread then sleeps through the warm-up
 * phase, switches the shared phase word to MEASURE, sleeps the measured
 * time and switches it to STOP.  Each thread times its own measured
 * interval (from the moment it sees MEASURE to the moment it sees STOP), so
 * ns/op is that thread's own time per operation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "bench.h"

struct bench_run {
	/* Written by the main thread, polled by every thread of the run. */
	alignas(BENCH_CACHELINE) _Atomic int phase;
	_Atomic int go;
	/* Incremented by each thread when it is ready to start. */
	alignas(BENCH_CACHELINE) _Atomic unsigned ready;
};

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
bench_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("mpsafe-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
bench_sleep_ns(uint64_t ns)
{
	struct timespec ts = {
	    .tv_sec = (time_t)(ns / 1000000000u),
	    .tv_nsec = (long)(ns % 1000000000u),
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

bool
bench_pace(uint64_t *next, uint64_t interval)
{
	uint64_t now = bench_now_ns();

	if (now < *next) {
		bench_sleep_ns(*next - now < 5000000 ? *next - now : 5000000);
		return false;
	}
	*next =
	    now > *next + 100 * interval ? now + interval : *next + interval;
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t
bench_clock_overhead_ns(void)
{
	enum { PAIRS = 2047 };
	uint64_t d[PAIRS];

	for (unsigned i = 0; i < PAIRS; i++) {
		uint64_t a = bench_now_ns();

		d[i] = bench_now_ns() - a;
	}
	qsort(d, PAIRS, sizeof(d[0]), cmp_u64);
	return d[PAIRS / 2];
}

void
bench_futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
#ifdef SYS_futex
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected,
	    NULL, NULL, 0);
#else
	(void)word;
	(void)expected;
	bench_sleep_ns(10000);
#endif
}

void
bench_futex_wake(_Atomic uint32_t *word)
{
#ifdef SYS_futex
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE,
	    INT32_MAX, NULL, NULL, 0);
#else
	(void)word;
#endif
}

static void
sleep_seconds(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

/* --- pinning -------------------------------------------------------------- */

static int cpu_list[CPU_SETSIZE];
static unsigned cpu_count;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* The CPUs the process may run on, in order; thread i gets the (i % n)th. */
static void
cpu_list_init(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpu_list[cpu_count++] = c;
	}
	if (cpu_count == 0) {
		cpu_list[0] = 0;
		cpu_count = 1;
	}
}

/* Pin the calling thread; failure (e.g. a restricted cpuset) is ignored. */
static void
pin_self(unsigned index)
{
	cpu_set_t set;

	pthread_once(&cpu_once, cpu_list_init);
	CPU_ZERO(&set);
	CPU_SET(cpu_list[index % cpu_count], &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* --- threads and phases --------------------------------------------------- */

static void *
thread_main(void *arg)
{
	struct bench_thread *t = arg;

	pin_self(t->index);
	t->body(t);
	return NULL;
}

void
bench_thread_ready(struct bench_thread *t)
{
	struct bench_run *run = t->run;
	unsigned spins = 0;

	/* Relaxed: a count only; the main thread polls it. */
	atomic_fetch_add_explicit(&run->ready, 1, memory_order_relaxed);
	/* Acquire: pairs with the release store of go in bench_run_threads. */
	while (!atomic_load_explicit(&run->go, memory_order_acquire))
		bench_spin_then_yield(&spins);
}

enum bench_phase
bench_phase(const struct bench_thread *t)
{
	/*
	 * Relaxed: the phase carries no data (results are read after
	 * pthread_join, which orders them); it only starts and stops clocks.
	 */
	return (enum bench_phase)atomic_load_explicit(
	    &t->run->phase, memory_order_relaxed);
}

static void
set_phase(struct bench_run *run, enum bench_phase p)
{
	/* Relaxed: see bench_phase(). */
	atomic_store_explicit(&run->phase, (int)p, memory_order_relaxed);
}

static unsigned
ready_count(struct bench_run *run)
{
	/* Relaxed: a count only (see bench_thread_ready). */
	return atomic_load_explicit(&run->ready, memory_order_relaxed);
}

int
bench_run_threads(struct bench_thread *threads, unsigned n,
    const struct bench_config *cfg, uint64_t *measured_ns)
{
	struct bench_run *run;
	pthread_t *tids;
	unsigned created = 0;
	uint64_t t0, t1;
	int error = 0;

	run = aligned_alloc(BENCH_CACHELINE, sizeof(*run));
	tids = calloc(n ? n : 1, sizeof(*tids));
	if (run == NULL || tids == NULL) {
		bench_warn("out of memory");
		free(run);
		free(tids);
		return -1;
	}
	atomic_init(&run->phase, BENCH_PHASE_WARMUP);
	atomic_init(&run->go, 0);
	atomic_init(&run->ready, 0);

	for (unsigned i = 0; i < n; i++) {
		threads[i].run = run;
		error =
		    pthread_create(&tids[i], NULL, thread_main, &threads[i]);
		if (error != 0) {
			bench_warn("pthread_create: %s", strerror(error));
			break;
		}
		created++;
	}
	while (ready_count(run) != created)
		sched_yield();
	if (error != 0)
		set_phase(run, BENCH_PHASE_STOP);
	/* Release: pairs with the acquire load in bench_thread_ready. */
	atomic_store_explicit(&run->go, 1, memory_order_release);

	t0 = t1 = bench_now_ns();
	if (error == 0) {
		sleep_seconds(cfg->warmup);
		t0 = bench_now_ns();
		set_phase(run, BENCH_PHASE_MEASURE);
		sleep_seconds(cfg->seconds);
		set_phase(run, BENCH_PHASE_STOP);
		t1 = bench_now_ns();
	}
	for (unsigned i = 0; i < created; i++)
		pthread_join(tids[i], NULL);
	*measured_ns = t1 - t0;
	free(tids);
	free(run);
	return error == 0 ? 0 : -1;
}

void
bench_spin_then_yield(unsigned *spins)
{
	if (*spins < 1000) {
		(*spins)++;
		bench_cpu_relax();
	} else {
		sched_yield();
	}
}

void
bench_reader_thread(struct bench_thread *t)
{
	const struct bench_strategy *s = t->strategy;
	uint64_t sink = 0, bad = 0, ops = 0, t0, t1;

	s->thread_register(BENCH_READER);
	bench_thread_ready(t);
	while (bench_phase(t) == BENCH_PHASE_WARMUP)
		sink += s->read_loop(BENCH_READ_BATCH, &bad);
	t0 = bench_now_ns();
	while (bench_phase(t) == BENCH_PHASE_MEASURE) {
		sink += s->read_loop(BENCH_READ_BATCH, &bad);
		ops += BENCH_READ_BATCH;
	}
	t1 = bench_now_ns();
	s->thread_unregister();
	t->ops = ops;
	t->elapsed_ns = ops > 0 ? t1 - t0 : 0;
	t->violations = bad;
	t->sink = sink;
}

void
bench_result_from_threads(struct bench_result *res,
    const struct bench_thread *threads, unsigned n, uint64_t measured_ns)
{
	double ns_sum = 0;
	unsigned timed = 0;

	res->ops = 0;
	for (unsigned i = 0; i < n; i++) {
		res->ops += threads[i].ops;
		res->violations += threads[i].violations;
		if (threads[i].ops > 0 && threads[i].elapsed_ns > 0) {
			ns_sum += (double)threads[i].elapsed_ns /
			          (double)threads[i].ops;
			timed++;
		}
	}
	res->seconds = (double)measured_ns / 1e9;
	res->ops_per_sec =
	    res->seconds > 0 ? (double)res->ops / res->seconds : 0;
	res->has_ns_per_op = timed > 0;
	res->ns_per_op = timed > 0 ? ns_sum / timed : 0;
}

/* --- latency histogram ---------------------------------------------------- */

#define SUB (1u << BENCH_HIST_SUB_BITS)

static unsigned
hist_index(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= BENCH_HIST_SUB_BITS */
	return ((e - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS) +
	       (unsigned)((v >> (e - BENCH_HIST_SUB_BITS)) & (SUB - 1));
}

/* Midpoint of the values that fall into bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned e, sub;
	uint64_t lo, width;

	if (i < SUB)
		return i;
	e = (i >> BENCH_HIST_SUB_BITS) + BENCH_HIST_SUB_BITS - 1;
	sub = i & (SUB - 1);
	width = UINT64_C(1) << (e - BENCH_HIST_SUB_BITS);
	lo = ((uint64_t)SUB + sub) * width;
	return lo + width / 2;
}

void
bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
}

void
bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
}

uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return hist_value(BENCH_HIST_BUCKETS - 1);
}

/* --- pending-memory accounting -------------------------------------------- */

/*
 * Bytes retired and not yet destroyed, for strategies whose library keeps
 * no such count (urcu, ck).  Relaxed throughout: statistics only, no data
 * is published through these counters.
 */
static struct {
	alignas(BENCH_CACHELINE) _Atomic size_t bytes;
	_Atomic size_t peak;
} pending;

void
bench_pending_reset(void)
{
	atomic_store_explicit(&pending.bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&pending.peak, 0, memory_order_relaxed);
}

void
bench_pending_add(size_t bytes)
{
	size_t now, peak;

	now = atomic_fetch_add_explicit(
	          &pending.bytes, bytes, memory_order_relaxed) +
	      bytes;
	peak = atomic_load_explicit(&pending.peak, memory_order_relaxed);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&pending.peak, &peak, now,
	           memory_order_relaxed, memory_order_relaxed))
		continue;
}

void
bench_pending_sub(size_t bytes)
{
	atomic_fetch_sub_explicit(&pending.bytes, bytes, memory_order_relaxed);
}

size_t
bench_pending_bytes(void)
{
	return atomic_load_explicit(&pending.bytes, memory_order_relaxed);
}

size_t
bench_pending_peak(void)
{
	return atomic_load_explicit(&pending.peak, memory_order_relaxed);
}

void
bench_pending_reset_peak(void)
{
	atomic_store_explicit(&pending.peak,
	    atomic_load_explicit(&pending.bytes, memory_order_relaxed),
	    memory_order_relaxed);
}

/* --- objects -------------------------------------------------------------- */

struct bench_obj *
bench_obj_alloc(size_t size, uint64_t value)
{
	struct bench_obj *o;
	size_t alloc;

	if (size < sizeof(*o))
		size = sizeof(*o);
	alloc = (size + 63) & ~(size_t)63; /* aligned_alloc: a multiple */
	o = aligned_alloc(64, alloc);
	if (o == NULL) {
		bench_warn("out of memory");
		abort();
	}
	bench_obj_init(o, size, value);
	return o;
}

void
bench_obj_init(struct bench_obj *o, size_t size, uint64_t value)
{
	memset(o, 0, sizeof(*o));
	atomic_init(&o->value, value);
	o->size = size;
	o->dtor = bench_obj_free;
}

void
bench_obj_free(struct bench_obj *o)
{
	free(o);
}
