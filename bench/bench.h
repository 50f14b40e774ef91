/*
 * bench/bench.h: the mpsafe-bench harness, shared by strategies and
 * workloads.
 *
 * A *strategy* (bench/strategy_<name>.c) is one way of protecting readers
 * from a writer that replaces a published object: no protection at all, a
 * reference count, a reader-writer lock, an RCU flavour, an epoch scheme,
 * pserialize.  It is a table of function pointers, struct bench_strategy.
 *
 * A *workload* (bench/workload_<name>.c) is a measurement: readers alone,
 * readers against a writer that waits for grace periods, readers against
 * a writer that retires objects, references held across blocking while a
 * writer destroys objects.  It drives threads through the harness
 * (bench_run_threads()) and touches the protected object only through the
 * strategy table.
 *
 * The harness runs one (workload, strategy, thread count) combination at a
 * time: strategy init, threads created and pinned, a start barrier, a
 * warm-up phase whose counts are discarded, a measured phase, stop,
 * strategy fini.  With --repeat, main.c runs every combination once per
 * round and reports medians (see docs/bench.md).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Separates data written by different threads (adjacent-line prefetch). */
#define BENCH_CACHELINE 128

/* Value a writer stores into an object once readers may no longer see it. */
#define BENCH_POISON UINT64_C(0xdeadbeefdeadbeef)

/*
 * Bound on memory waiting for reclamation in the defer workload, the same
 * for every strategy: mpsafe's default (MPSAFE_DEFER_LIMIT_DEFAULT); the
 * urcu and ck strategies apply it themselves (see their retire()).
 */
#define BENCH_PENDING_LIMIT ((size_t)64 << 20)

/* Read operations per call of a strategy's read_loop(). */
#define BENCH_READ_BATCH 128

/*
 * The object readers look up.  Workloads allocate it (aligned to a cache
 * line, 64 to 256 bytes); strategies only publish, dereference and retire
 * it.  The first 64 bytes are this header; the rest is payload.
 */
struct bench_obj {
	/*
	 * Written by the writer that owns the object while it is not
	 * published, or after a grace period (BENCH_POISON); read by readers
	 * inside read sections.  Relaxed atomic: a correct strategy never
	 * lets a write race with a read; a broken one shows up as poison
	 * rather than as undefined behaviour.
	 */
	_Atomic uint64_t value;
	/* Bytes allocated for the object (accounted while retired). */
	size_t size;
	/* Frees the object; called by the strategy once retired. */
	void (*dtor)(struct bench_obj *);
	/* Strategy-private reclamation node (rcu_head, ck_epoch_entry...). */
	alignas(8) unsigned char reclaim[40];
};

/* Opaque value returned by read_enter() and passed back to read_exit(). */
typedef uintptr_t bench_token_t;

/*
 * One reference held across blocking (see hold_acquire()).  The caller
 * allocates it; the strategy fills it.
 */
struct bench_hold {
	struct bench_obj *obj; /* the object held, set by hold_acquire() */
	uintptr_t word;        /* strategy-private */
	/* Strategy-private: a struct psref, a hazard-pointer slot... */
	alignas(16) unsigned char ref[64];
};

enum bench_role {
	BENCH_READER,
	BENCH_WRITER,
};

struct bench_strategy {
	const char *name;
	const char *description;

	/*
	 * init(): prepare global state for one run, before any thread of the
	 * run registers.  Returns 0 or an errno.  fini(): after every thread
	 * of the run has unregistered and the published pointer is NULL.
	 */
	int (*init)(void);
	void (*fini)(void);

	/* Called by each thread of a run, outside the timed phases. */
	void (*thread_register)(enum bench_role role);
	void (*thread_unregister)(void);

	/*
	 * Read side.  read_enter() opens a read section (or takes a
	 * reference, or a read lock); deref() loads the published pointer
	 * inside it and may update the token (a per-object reference);
	 * read_exit() closes it.
	 */
	bench_token_t (*read_enter)(void);
	struct bench_obj *(*deref)(bench_token_t *tok);
	void (*read_exit)(bench_token_t tok);

	/*
	 * read_loop(n, violations): n read operations, each
	 * enter/deref/load value/exit, with the strategy's functions inlined
	 * (see bench_read_loop_inline()).  Returns the sum of the values
	 * read; adds to *violations the number of poisoned values seen.
	 */
	uint64_t (*read_loop)(uint64_t n, uint64_t *violations);

	/*
	 * Write side.  publish(obj) replaces the published object by obj
	 * (NULL to empty it) and returns the previous one; callers serialise
	 * publish() among themselves.  wait_for_readers() returns once every
	 * read section that began before the call has ended (NULL: the
	 * strategy cannot wait, e.g. "none").  May be called concurrently by
	 * several writers.
	 */
	struct bench_obj *(*publish)(struct bench_obj *obj);
	void (*wait_for_readers)(void);

	/*
	 * Deferred reclamation (all NULL when unsupported).  retire(obj):
	 * obj is unpublished; call obj->dtor(obj) after a grace period.
	 * May block to keep pending memory under BENCH_PENDING_LIMIT.
	 * retire_barrier(): wait until every object this thread retired has
	 * been destroyed.  pending_peak(): highest number of bytes retired
	 * and not yet destroyed since pending_reset_peak().
	 */
	void (*retire)(struct bench_obj *obj);
	void (*retire_barrier)(void);
	size_t (*pending_peak)(void);
	void (*pending_reset_peak)(void);

	/*
	 * References held across blocking (all three NULL when unsupported:
	 * a read section must not block, so RCU-style strategies have none;
	 * the hold and destroy-latency workloads skip them).
	 *
	 * hold_acquire(h): look the published object up, inside the
	 * strategy's own read mechanism, and take a reference to it that
	 * stays valid after the lookup, across sleeps, until
	 * hold_release(h) on the same thread; returns the object.  h is the
	 * caller's storage for the reference (on its stack, say); one
	 * reference per h at a time.  hold_release(h): drop it; never
	 * blocks for long.
	 *
	 * destroy(obj): the caller has unpublished obj (publish() returned
	 * it); return once no thread can use it: no hold reference to it
	 * and no read section that may have found it remains.  Then the
	 * caller may free or reuse obj (a later publish() makes it live
	 * again).  Blocks; sleeps when a holder is slow, if the strategy
	 * can.  One destroyer per object; several objects may be destroyed
	 * concurrently.
	 */
	struct bench_obj *(*hold_acquire)(struct bench_hold *h);
	void (*hold_release)(struct bench_hold *h);
	void (*destroy)(struct bench_obj *obj);
};

/* Per-run parameters from the command line. */
struct bench_config {
	unsigned threads; /* reader threads */
	unsigned writers; /* writer threads (workloads with writers) */
	double seconds;   /* measured phase */
	double warmup;    /* warm-up phase, counts discarded */
	/* hold, destroy-latency: how long a reference is held (blocking) */
	double hold_us;
	/* hold: the writer's pause between two replacements */
	double interval_us;
	/* route workloads: prefixes in the generated table (0: default) */
	unsigned long table_size;
	/*
	 * route workloads, forward: tables on the C library's heap (4 KiB
	 * pages) instead of rtc_hugepages (--pages small).
	 */
	bool small_pages;
	/* route workloads: the churn thread's updates per second */
	double churn_rate;
	/*
	 * route-lookup, route-bulk, rtcache: deleted entries the run holds
	 * throughout (a slow caller); 0: none.  held_psref: through route
	 * caches (a psref each), not counts from rtalloc1().
	 */
	unsigned held;
	bool held_psref;
	/*
	 * forward: control messages per 1000 packets when the run has
	 * churn (default 10: 1%).
	 */
	unsigned ctl_permille;
};

/* One run's figures; the has_* flags say which optional columns apply. */
struct bench_result {
	uint64_t ops;       /* operations of the measuring threads */
	double seconds;     /* measured wall time */
	double ops_per_sec; /* ops / seconds */
	double ns_per_op;   /* per-thread time per op, averaged */
	bool has_ns_per_op;
	bool has_lat;
	uint64_t lat_p50_ns, lat_p99_ns;
	bool has_pending;
	uint64_t pending_peak_bytes;
	bool has_writer_ops;
	uint64_t writer_ops;
	/* route workloads: bytes of the lookup structure, and prefixes in it */
	bool has_mem;
	uint64_t mem_bytes;
	uint64_t mem_prefixes;
	unsigned writers;
	uint64_t violations; /* poisoned objects seen by readers */
	/*
	 * Workload-specific figures, "key=value;key=value" (the CSV's
	 * extra column; empty for most workloads).  No comma or quote.
	 */
	char extra[768];
	/*
	 * Filled by main.c, not by workloads: the repetitions the figures
	 * are the median of (--repeat), and the spread of the workload's
	 * metric across them (largest / smallest; has_spread when
	 * repeat > 1), and the smallest value of that metric (best; the
	 * run the host disturbed least, since noise only slows a run).
	 */
	unsigned repeat;
	bool has_spread;
	double spread;
	double best;
	/*
	 * Filled by main.c: the share of the machine's CPU time that the
	 * hypervisor took during the run ("steal" in /proc/stat), in
	 * percent; with --repeat, the largest over the runs.  has_steal:
	 * the kernel reports it (Linux).
	 */
	bool has_steal;
	double steal_pct;
};

/* Which figure ratios between strategies are taken on (lower is better). */
enum bench_metric {
	BENCH_METRIC_NS_PER_OP,
	BENCH_METRIC_LAT_P50,
};

struct bench_workload {
	const char *name;
	const char *description;
	enum bench_metric metric;
	unsigned min_threads;     /* reader threads */
	unsigned min_writers;     /* --writers from this... */
	unsigned max_writers;     /* ...to this (0: no writer) */
	unsigned default_writers; /* writers when --writers is not given */
	/*
	 * supports(s): NULL if the workload can run strategy s, else a
	 * one-line reason for skipping it.
	 */
	const char *(*supports)(const struct bench_strategy *s);
	/* run(s, cfg, res): one run; returns 0, or -1 after a message. */
	int (*run)(const struct bench_strategy *s,
	    const struct bench_config *cfg, struct bench_result *res);
};

/* Registries: NULL-terminated, in --list order (strategies.c, workloads.c). */
extern const struct bench_strategy *const bench_strategies[];
extern const struct bench_workload *const bench_workloads[];

const struct bench_strategy *bench_strategy_find(const char *name);
const struct bench_workload *bench_workload_find(const char *name);

/* --- read loop ------------------------------------------------------------ */

/*
 * bench_read_loop_inline(n, violations, enter, deref, leave)
 *
 *	The body of every strategy's read_loop().  Each strategy calls it
 *	with its own static inline functions, so the compiler inlines them
 *	and the loop measures the strategy, not three indirect calls per
 *	operation.  One operation: enter, load the published pointer, load
 *	one field, check it is not poison, exit.
 */
static inline __attribute__((always_inline)) uint64_t
bench_read_loop_inline(uint64_t n, uint64_t *violations,
    bench_token_t (*enter)(void), struct bench_obj *(*deref)(bench_token_t *),
    void (*leave)(bench_token_t))
{
	uint64_t sum = 0, bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		bench_token_t tok = enter();
		struct bench_obj *o = deref(&tok);
		/* Relaxed: the strategy orders the section, see bench_obj. */
		uint64_t v =
		    atomic_load_explicit(&o->value, memory_order_relaxed);

		bad += (v == BENCH_POISON);
		sum += v;
		leave(tok);
	}
	*violations += bad;
	return sum;
}

/* --- threads and phases --------------------------------------------------- */

enum bench_phase {
	BENCH_PHASE_WARMUP = 0,
	BENCH_PHASE_MEASURE,
	BENCH_PHASE_STOP,
};

struct bench_run;

/*
 * One thread of a run.  Each is on its own cache lines; the harness reads
 * the result fields only after joining the thread.
 */
struct bench_thread {
	alignas(BENCH_CACHELINE) struct bench_run *run;
	const struct bench_strategy *strategy;
	void (*body)(struct bench_thread *); /* the workload's thread */
	void *arg;                           /* workload-private */
	unsigned index;                      /* pinned to CPU index % ncpu */
	unsigned id;                         /* index among its role */
	/* Results, written by the thread before it exits. */
	uint64_t ops;
	uint64_t elapsed_ns; /* its own measured interval */
	uint64_t violations;
	uint64_t sink; /* keeps the loaded values alive */
};

/*
 * bench_run_threads(threads, n, cfg, measured_ns)
 *
 *	Create n threads running threads[i].body, pinned to CPU i % ncpu;
 *	release them together through a start barrier (which each body
 *	reaches by calling bench_thread_ready()); let the warm-up phase run
 *	cfg->warmup seconds and the measured phase cfg->seconds; stop; join.
 *	*measured_ns is the measured phase's wall time.  Returns 0, or -1
 *	after a message when a thread cannot be created.
 */
int bench_run_threads(struct bench_thread *threads, unsigned n,
    const struct bench_config *cfg, uint64_t *measured_ns);

/* Wait at the start barrier; call after registering, before timing. */
void bench_thread_ready(struct bench_thread *t);

/* The phase now in force.  Cheap enough to poll once per batch. */
enum bench_phase bench_phase(const struct bench_thread *t);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Sleep for ns nanoseconds (nanosleep, restarted after a signal). */
void bench_sleep_ns(uint64_t ns);

/*
 * bench_pace(next, interval): for a thread that acts every interval ns
 * (a churn thread).  If *next is still ahead, sleep towards it (5 ms at
 * most, so that the caller polls the phase) and return false; else
 * advance *next by one interval, or restart from now when more than 100
 * intervals behind (a slow operation is not caught up), and return true:
 * act now.  Start with *next = bench_now_ns().
 */
bool bench_pace(uint64_t *next, uint64_t interval);

/*
 * bench_clock_overhead_ns(): the median time between two consecutive
 * bench_now_ns() calls on this thread, measured once per call (a few
 * thousand pairs); subtract it from a timed interval per clock pair.
 */
uint64_t bench_clock_overhead_ns(void);

/*
 * bench_futex_wait(word, expected): sleep while *word == expected, until
 * bench_futex_wake(word) (spurious returns allowed: the caller rechecks).
 * Process-private futexes on Linux; elsewhere a short sleep.
 */
void bench_futex_wait(_Atomic uint32_t *word, uint32_t expected);
void bench_futex_wake(_Atomic uint32_t *word);

/* Spin-wait hint for busy loops. */
static inline void
bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst); /* compiler barrier only */
#endif
}

/*
 * bench_spin_then_yield(spins)
 *
 *	One step of a writer's wait loop: pause while *spins is small, then
 *	sched_yield() so that a reader preempted on the same CPU can run.
 */
void bench_spin_then_yield(unsigned *spins);

/*
 * bench_reader_thread(t): the body of a reader thread, shared by every
 * workload: register, wait for the start, call read_loop() in batches of
 * BENCH_READ_BATCH until the phase is STOP, counting the operations and
 * time of the measured phase only; unregister.
 */
void bench_reader_thread(struct bench_thread *t);

/* Combine per-thread results into res (ops, seconds, ops/s, ns/op). */
void bench_result_from_threads(struct bench_result *res,
    const struct bench_thread *threads, unsigned n, uint64_t measured_ns);

/* --- latency histogram ---------------------------------------------------- */

/*
 * Log-linear histogram of nanosecond samples: 32 linear sub-buckets per
 * power of two, so a percentile is exact to about 3% whatever the range,
 * in constant memory.
 */
#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_BUCKETS \
	((64 - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS)

struct bench_hist {
	uint64_t count;
	uint64_t bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_add(struct bench_hist *h, uint64_t ns);
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);
/* Value at quantile q (0 < q <= 1); 0 for an empty histogram. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* --- pending-memory accounting for strategies without their own ---------- */

void bench_pending_reset(void);
void bench_pending_add(size_t bytes);
void bench_pending_sub(size_t bytes);
size_t bench_pending_bytes(void);
size_t bench_pending_peak(void);
void bench_pending_reset_peak(void);

/* --- objects ------------------------------------------------------------ */

/*
 * bench_obj_alloc(size, value): a cache-line aligned object of size bytes
 * (at least sizeof(struct bench_obj)) holding value, with dtor set to
 * bench_obj_free.  Aborts when out of memory.
 */
struct bench_obj *bench_obj_alloc(size_t size, uint64_t value);
/* bench_obj_init(o, size, value): initialise a header, dtor bench_obj_free. */
void bench_obj_init(struct bench_obj *o, size_t size, uint64_t value);
void bench_obj_free(struct bench_obj *o);

/* Print a message prefixed with the program name to stderr. */
void bench_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* BENCH_H */
