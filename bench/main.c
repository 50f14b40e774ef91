/*
 * bench/main.c: the mpsafe-bench command line.
 *
 *	mpsafe-bench --list
 *	mpsafe-bench WORKLOAD [--strategy A,B,...] [--threads N,M,...]
 *	    [--seconds S] [--warmup S] [--writers N] [--repeat N]
 *	    [--hold-us US] [--interval-us US] [--baseline NAME]
 *	    [--cpu-latency US] [--csv FILE] [--quiet]
 *
 * Runs the cross product of thread counts and strategies (for each thread
 * count, every strategy in the order given, so that the runs compared with
 * each other are close in time), appends one CSV row per combination, and
 * prints a summary table with each combination's ratio to the baseline
 * strategy at the same thread count.
 *
 * --repeat N runs the whole cross product N times over (round after
 * round, so that slow drift of the machine hits every strategy alike)
 * and reports, for each combination, the median of each figure over its N
 * runs; ratios are taken between medians, and the spread column is the
 * largest over the smallest value of the workload's metric.
 *
 * --cpu-latency US holds a PM QoS CPU latency request of US microseconds
 * (Linux /dev/cpu_dma_latency, as cyclictest does) for the whole
 * invocation, so that an idle CPU waits in an idle state that it leaves
 * within US: with 0, a polling one.  It is for the latency workloads,
 * whose figure otherwise includes how long an idle CPU takes to wake
 * (on a VM, a halted vCPU: tens of microseconds).  Its rows are named
 * WORKLOAD@qosUS (destroy-latency@qos0) in the table and the CSV, so
 * that they are never mistaken for the plain workload's, and their extra
 * column says cpuidle=DRIVER, the kernel's cpuidle driver ("none": idle
 * CPUs halt whatever is requested, and the request changes nothing).
 * Exit status:
 * 0; 1 if a run failed or a reader saw a poisoned object; 2 for a usage
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"

#define MAX_LIST 64
#define MAX_THREADS 1024
#define MAX_REPEAT 1000

/* One (strategy, thread count) combination and its repetitions. */
struct run_record {
	const struct bench_strategy *strategy;
	unsigned threads;
	bool ok;                   /* every repetition ran to completion */
	bool skipped;              /* strategy does not support the workload */
	struct bench_result *reps; /* [repeat] */
	struct bench_result res;   /* the medians */
};

static void
usage(FILE *fp)
{
	fputs("usage: mpsafe-bench --list\n"
	      "       mpsafe-bench WORKLOAD [--strategy A,B,...] "
	      "[--threads N,M,...]\n"
	      "           [--seconds S] [--warmup S] [--writers N] "
	      "[--repeat N]\n"
	      "           [--hold-us US] [--interval-us US] "
	      "[--baseline NAME]\n"
	      "           [--table-size N] [--churn-rate N] [--held N] "
	      "[--held-by HOW]\n"
	      "           [--pages huge|small] [--ctl-permille N]\n"
	      "           [--cpu-latency US] [--csv FILE] [--quiet]\n"
	      "\n"
	      "  --list           workloads and strategies, one line each\n"
	      "  --strategy LIST  comma-separated strategies (default: all "
	      "that apply)\n"
	      "  --threads LIST   comma-separated reader thread counts "
	      "(default 1)\n"
	      "  --seconds S      measured time per run (default 1)\n"
	      "  --warmup S       warm-up per run, not counted (default 0.2)\n"
	      "  --writers N      writer threads (the workload's range; "
	      "default 1)\n"
	      "  --repeat N       run everything N times (round-robin), "
	      "report medians\n"
	      "  --hold-us US     hold, destroy-latency: time a reference "
	      "is held (default 5, 200)\n"
	      "  --interval-us US hold: writer's pause between "
	      "replacements (default 1000)\n"
	      "  --table-size N   route workloads: prefixes in the generated "
	      "table\n"
	      "                   (default 1000000, at most 1860000; "
	      "IPv6 200000,\n"
	      "                   at most 4000000)\n"
	      "  --churn-rate N   route-lookup, route-bulk, rtcache: updates "
	      "per second of\n"
	      "                   the churn thread (--writers 1, default "
	      "1000)\n"
	      "  --held N         route-lookup, route-bulk, rtcache: N deleted "
	      "entries stay\n"
	      "                   held through each run (default 0)\n"
	      "  --held-by HOW    --held: count (rtalloc1(), the default) or "
	      "rtcache\n"
	      "                   (a route cache's psref)\n"
	      "  --pages P        route workloads, forward: tables on huge "
	      "pages (huge, the\n"
	      "                   default: rtc_hugepages) or on the heap's "
	      "4 KiB pages (small)\n"
	      "  --ctl-permille N forward: control messages (redirects) per "
	      "1000 packets\n"
	      "                   when the run has churn (default 10: 1%)\n"
	      "  --baseline NAME  strategy the ratios are taken against "
	      "(default: the first)\n"
	      "  --cpu-latency US hold a PM QoS CPU latency request of US "
	      "(Linux\n"
	      "                   /dev/cpu_dma_latency) for the whole run; "
	      "rows are named\n"
	      "                   WORKLOAD@qosUS\n"
	      "  --csv FILE       append one row per combination (header if "
	      "new)\n"
	      "  --quiet          no progress lines on stderr\n"
	      "\n"
	      "Runs every strategy at every thread count; prints a summary "
	      "with ratios.\n"
	      "With --repeat, each figure is the median of N runs.\n"
	      "Exit status: 0 ok, 1 a run failed or readers saw a retired "
	      "object, 2 usage.\n",
	    fp);
}

static void
list(void)
{
	printf("Workloads:\n");
	for (size_t i = 0; bench_workloads[i] != NULL; i++)
		printf("  %-16s %s\n", bench_workloads[i]->name,
		    bench_workloads[i]->description);
	printf("Strategies:\n");
	for (size_t i = 0; bench_strategies[i] != NULL; i++)
		printf("  %-16s %s\n", bench_strategies[i]->name,
		    bench_strategies[i]->description);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mpsafe-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(mpsafe-bench --help for usage, --list for names)\n", stderr);
	exit(2);
}

static double
parse_seconds(const char *opt, const char *s, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min ||
	    v > 86400)
		usage_error("%s: bad number of seconds '%s'", opt, s);
	return v;
}

static double
parse_micros(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
	    v > 1e9)
		usage_error("%s: bad number of microseconds '%s'", opt, s);
	return v;
}

static unsigned
parse_count(const char *opt, const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		usage_error("%s: bad number '%s'", opt, s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		usage_error("%s: bad number '%s' (0..%u)", opt, s, max);
	return (unsigned)v;
}

/* Split a comma-separated list in place; returns the number of items. */
static size_t
split(char *s, char **items, const char *opt)
{
	size_t n = 0;

	if (s == NULL) {
		bench_warn("out of memory");
		exit(1);
	}
	for (char *tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
		if (n == MAX_LIST)
			usage_error("%s: more than %d items", opt, MAX_LIST);
		items[n++] = tok;
	}
	if (n == 0)
		usage_error("%s: empty list", opt);
	return n;
}

/* The figure ratios are taken on; NAN when the run did not produce it. */
static double
result_metric(const struct bench_workload *w, const struct bench_result *r)
{
	if (w->metric == BENCH_METRIC_LAT_P50)
		return r->has_lat && r->lat_p50_ns > 0 ? (double)r->lat_p50_ns
		                                       : NAN;
	return r->has_ns_per_op ? r->ns_per_op : NAN;
}

static double
metric_of(const struct bench_workload *w, const struct run_record *r)
{
	if (!r->ok)
		return NAN;
	return result_metric(w, &r->res);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n-1] (n >= 1; sorts v): the mean of the middle two. */
static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Fill r->res with the median of each figure over r->reps[0..n-1], taken
 * figure by figure over the runs that have it (has_*: a run that timed
 * nothing does not count as 0; the figure is absent only if no run has
 * it); violations are summed; spread is the largest over the smallest
 * metric value, best the smallest.
 */
static void
combine_reps(const struct bench_workload *w, struct run_record *r, unsigned n)
{
	const struct bench_result *rep = r->reps;
	struct bench_result *res = &r->res;
	double v[MAX_REPEAT], lo = NAN, hi = NAN;

	*res = rep[0];
	res->violations = 0;
	/*
	 * has: the runs' flag for the figure (true: every run has it);
	 * conv: what turns the median into the field's type.
	 */
#define MEDIAN_OF(field, has, conv)                            \
	do {                                                   \
		unsigned m = 0;                                \
		for (unsigned i = 0; i < n; i++)               \
			if (has)                               \
				v[m++] = (double)rep[i].field; \
		if (m > 0)                                     \
			res->field = conv(median(v, m));       \
	} while (0)
#define ANY_HAS(flag)                             \
	do {                                      \
		for (unsigned i = 0; i < n; i++)  \
			res->flag |= rep[i].flag; \
	} while (0)
	ANY_HAS(has_ns_per_op);
	ANY_HAS(has_lat);
	ANY_HAS(has_pending);
	ANY_HAS(has_writer_ops);
	ANY_HAS(has_mem);
	MEDIAN_OF(seconds, true, (double));
	MEDIAN_OF(ops_per_sec, rep[i].has_ns_per_op, (double));
	MEDIAN_OF(ns_per_op, rep[i].has_ns_per_op, (double));
	MEDIAN_OF(ops, true, (uint64_t)llround);
	MEDIAN_OF(lat_p50_ns, rep[i].has_lat, (uint64_t)llround);
	MEDIAN_OF(lat_p99_ns, rep[i].has_lat, (uint64_t)llround);
	MEDIAN_OF(pending_peak_bytes, rep[i].has_pending, (uint64_t)llround);
	MEDIAN_OF(writer_ops, rep[i].has_writer_ops, (uint64_t)llround);
	MEDIAN_OF(mem_bytes, rep[i].has_mem, (uint64_t)llround);
	MEDIAN_OF(mem_prefixes, rep[i].has_mem, (uint64_t)llround);
#undef MEDIAN_OF
#undef ANY_HAS
	for (unsigned i = 0; i < n; i++) {
		double m = result_metric(w, &rep[i]);

		res->violations += rep[i].violations;
		if (isnan(m))
			continue;
		if (isnan(lo) || m < lo)
			lo = m;
		if (isnan(hi) || m > hi)
			hi = m;
	}
	/* The workload's own figures: those of the run nearest the median. */
	{
		double med, best = NAN;

		for (unsigned i = 0; i < n; i++)
			v[i] = result_metric(w, &rep[i]);
		med = median(v, n);
		for (unsigned i = 0; i < n; i++) {
			double d = fabs(result_metric(w, &rep[i]) - med);

			if (!isnan(d) && (isnan(best) || d < best)) {
				best = d;
				memcpy(res->extra, rep[i].extra,
				    sizeof(res->extra));
			}
		}
	}
	/* Steal: the worst run's, so that a disturbed median is not hid. */
	res->has_steal = true;
	res->steal_pct = 0;
	for (unsigned i = 0; i < n; i++) {
		res->has_steal &= rep[i].has_steal;
		if (rep[i].steal_pct > res->steal_pct)
			res->steal_pct = rep[i].steal_pct;
	}
	res->repeat = n;
	res->has_spread = n > 1 && !isnan(lo) && lo > 0;
	res->spread = res->has_spread ? hi / lo : 0;
	res->best = res->has_spread ? lo : 0;
}

/* One summary column: v with prec decimals, or "-" when v is NAN. */
static void
print_num(double v, int prec)
{
	if (isnan(v))
		printf(" %12s", "-");
	else
		printf(" %12.*f", prec, v);
}

/* A ratio with about three significant digits, never in e-notation. */
static void
print_ratio(double v)
{
	if (v >= 100)
		printf(" %8.0f", v);
	else if (v >= 10)
		printf(" %8.1f", v);
	else if (v >= 0.1)
		printf(" %8.2f", v);
	else if (v >= 0.001)
		printf(" %8.4f", v);
	else
		printf(" %8.2g", v);
}

static void
summary(const struct bench_workload *w, const char *name,
    const struct run_record *runs, size_t nruns,
    const struct bench_strategy *baseline, unsigned repeat)
{
	int width = strlen(name) > 15 ? (int)strlen(name) : 15;

	printf("\n");
	bench_machine_print(stdout);
	printf("# %s: ratio = %s / %s's at the same thread count "
	       "(lower is better)",
	    name, w->metric == BENCH_METRIC_LAT_P50 ? "p50" : "ns/op",
	    baseline->name);
	if (repeat > 1)
		printf("; medians of %u runs, spread = max/min of the %s",
		    repeat,
		    w->metric == BENCH_METRIC_LAT_P50 ? "p50" : "ns/op");
	printf("\n");
	printf("%-*s %-12s %4s %3s %12s %12s %12s %12s %12s %12s %8s%s\n",
	    width, "workload", "strategy", "thr", "wr", "ns/op", "ops/s",
	    "p50_ns", "p99_ns", "pend_peak_B", "writer_ops", "ratio",
	    repeat > 1 ? "   spread" : "");
	for (size_t i = 0; i < nruns; i++) {
		const struct run_record *r = &runs[i];
		double base = NAN, m;

		if (r->skipped)
			continue;
		for (size_t j = 0; j < nruns; j++)
			if (runs[j].strategy == baseline &&
			    runs[j].threads == r->threads)
				base = metric_of(w, &runs[j]);
		m = metric_of(w, r);
		printf("%-*s %-12s %4u %3u", width, name, r->strategy->name,
		    r->threads, r->res.writers);
		if (!r->ok) {
			printf(" %12s\n", "FAILED");
			continue;
		}
		print_num(r->res.has_ns_per_op ? r->res.ns_per_op : NAN, 3);
		print_num(r->res.ops_per_sec, 0);
		print_num(r->res.has_lat ? (double)r->res.lat_p50_ns : NAN, 0);
		print_num(r->res.has_lat ? (double)r->res.lat_p99_ns : NAN, 0);
		print_num(r->res.has_pending ? (double)r->res.pending_peak_bytes
		                             : NAN,
		    0);
		print_num(
		    r->res.has_writer_ops ? (double)r->res.writer_ops : NAN, 0);
		if (isnan(m) || isnan(base) || base == 0)
			printf(" %8s", "-");
		else
			print_ratio(m / base);
		if (repeat > 1) {
			if (r->res.has_spread)
				printf(" %8.2f", r->res.spread);
			else
				printf(" %8s", "-");
		}
		if (r->res.violations > 0)
			printf("  VIOLATIONS %" PRIu64, r->res.violations);
		printf("\n");
	}
}

/*
 * --cpu-latency: open /dev/cpu_dma_latency and write the request (a
 * 32-bit count of microseconds).  The descriptor is left open on
 * purpose: the kernel keeps the request while it is open and drops it
 * when the process exits.  Returns false, after saying why, when the
 * request cannot be made (no such device, not privileged, not Linux).
 */
static bool
hold_cpu_latency(unsigned us)
{
#ifdef __linux__
	const char *dev = "/dev/cpu_dma_latency";
	int32_t req = (int32_t)us;
	int fd = open(dev, O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		bench_warn("--cpu-latency: %s: %s", dev, strerror(errno));
		return false;
	}
	if (write(fd, &req, sizeof(req)) != (ssize_t)sizeof(req)) {
		bench_warn(
		    "--cpu-latency: writing %s: %s", dev, strerror(errno));
		close(fd);
		return false;
	}
	return true;
#else
	(void)us;
	bench_warn("--cpu-latency: PM QoS requests are Linux's");
	return false;
#endif
}

/* Append "key=value" to res's extra column (";"-separated). */
static void
append_extra(struct bench_result *res, const char *key, const char *value)
{
	size_t len = strlen(res->extra);

	snprintf(res->extra + len, sizeof(res->extra) - len, "%s%s=%s",
	    len > 0 ? ";" : "", key, value);
}

/*
 * The kernel's cpuidle driver, into buf ("none" where there is none, as
 * on a VM whose idle vCPUs always halt): whether a --cpu-latency request
 * can keep idle CPUs polling at all.  Recorded in the rows' extra column.
 */
static void
cpuidle_driver(char *buf, size_t len)
{
	FILE *fp = fopen("/sys/devices/system/cpu/cpuidle/current_driver", "r");

	snprintf(buf, len, "none");
	if (fp == NULL)
		return;
	if (fgets(buf, (int)len, fp) == NULL)
		snprintf(buf, len, "none");
	buf[strcspn(buf, "\n, ")] = '\0';
	fclose(fp);
}

/*
 * The machine's CPU time so far, all of it and the part the hypervisor
 * took (steal), in clock ticks: the first line of /proc/stat.  false
 * where there is no such file or no steal field.
 */
static bool
cpu_ticks(uint64_t *total, uint64_t *steal)
{
	unsigned long long v[8];
	FILE *fp = fopen("/proc/stat", "r");
	int n;

	if (fp == NULL)
		return false;
	n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(fp);
	if (n != 8)
		return false;
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*steal = v[7];
	return true;
}

/*
 * run_one(w, r, cfg, rep, repeat, idx, total, quiet): the rep-th
 * repetition of combination r.  Returns the violations it saw; clears
 * r->ok when the run fails.
 */
static uint64_t
run_one(const struct bench_workload *w, struct run_record *r,
    struct bench_config *cfg, unsigned rep, unsigned repeat, size_t idx,
    size_t total, bool quiet)
{
	struct bench_result *res = &r->reps[rep];
	uint64_t total0 = 0, steal0 = 0, total1, steal1;
	bool have_ticks;

	cfg->threads = r->threads;
	if (!quiet) {
		fprintf(stderr,
		    "mpsafe-bench: [%zu/%zu] %s %s threads=%u "
		    "writers=%u",
		    idx, total, w->name, r->strategy->name, r->threads,
		    cfg->writers);
		if (repeat > 1)
			fprintf(stderr, " run %u/%u", rep + 1, repeat);
		fprintf(stderr, " ...");
	}
	have_ticks = cpu_ticks(&total0, &steal0);
	if (w->run(r->strategy, cfg, res) != 0) {
		r->ok = false;
		if (!quiet)
			fprintf(stderr, " FAILED\n");
		return 0;
	}
	if (have_ticks && cpu_ticks(&total1, &steal1) && total1 > total0) {
		res->has_steal = true;
		res->steal_pct = 100.0 * (double)(steal1 - steal0) /
		                 (double)(total1 - total0);
	}
	if (!quiet) {
		if (res->has_ns_per_op)
			fprintf(stderr, " %.3f ns/op", res->ns_per_op);
		if (res->has_lat)
			fprintf(stderr,
			    " p50 %" PRIu64 " ns p99 %" PRIu64 " ns",
			    res->lat_p50_ns, res->lat_p99_ns);
		if (res->has_mem && res->mem_prefixes > 0)
			fprintf(stderr, " %.1f B/prefix",
			    (double)res->mem_bytes / (double)res->mem_prefixes);
		if (res->has_steal)
			fprintf(stderr, " steal %.1f%%", res->steal_pct);
		fprintf(stderr, "\n");
	}
	if (res->violations > 0)
		bench_warn("%s %s threads=%u: readers saw %" PRIu64
		           " poisoned objects",
		    w->name, r->strategy->name, r->threads, res->violations);
	return res->violations;
}

int
main(int argc, char **argv)
{
	const struct bench_workload *w = NULL;
	const struct bench_strategy *strategies[MAX_LIST], *baseline = NULL;
	const char *baseline_name = NULL, *csv_path = NULL;
	char *items[MAX_LIST], name[64], idle[64] = "";
	long cpu_latency = -1; /* --cpu-latency; -1: none */
	unsigned threads[MAX_LIST], repeat = 1;
	size_t nstrategies = 0, nthreads = 0, nruns = 0, ndone = 0, total;
	struct bench_config cfg = {
	    .seconds = 1.0,
	    .warmup = 0.2,
	    .hold_us = NAN,
	    .interval_us = 1000,
	    .table_size = 0,
	    .churn_rate = 1000,
	    .ctl_permille = 10,
	};
	bool quiet = false, writers_given = false, failed = false;
	uint64_t violations = 0;
	struct run_record *runs;
	struct bench_result *reps;
	FILE *csv = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--list") == 0) {
			list();
			return 0;
		}
		if (strcmp(a, "--quiet") == 0) {
			quiet = true;
			continue;
		}
		if (a[0] != '-') {
			if (w != NULL)
				usage_error("more than one workload ('%s')", a);
			w = bench_workload_find(a);
			if (w == NULL)
				usage_error("unknown workload '%s'", a);
			continue;
		}
		if (v == NULL)
			usage_error("%s needs a value", a);
		i++;
		if (strcmp(a, "--strategy") == 0) {
			char *copy = strdup(v);
			size_t n = split(copy, items, a);

			for (size_t k = 0; k < n; k++) {
				strategies[k] = bench_strategy_find(items[k]);
				if (strategies[k] == NULL)
					usage_error(
					    "unknown strategy '%s'", items[k]);
			}
			nstrategies = n;
			free(copy);
		} else if (strcmp(a, "--threads") == 0) {
			char *copy = strdup(v);
			size_t n = split(copy, items, a);

			for (size_t k = 0; k < n; k++)
				threads[k] =
				    parse_count(a, items[k], MAX_THREADS);
			nthreads = n;
			free(copy);
		} else if (strcmp(a, "--seconds") == 0) {
			cfg.seconds = parse_seconds(a, v, 0.001);
		} else if (strcmp(a, "--warmup") == 0) {
			cfg.warmup = parse_seconds(a, v, 0);
		} else if (strcmp(a, "--writers") == 0) {
			cfg.writers = parse_count(a, v, MAX_THREADS);
			writers_given = true;
		} else if (strcmp(a, "--repeat") == 0) {
			repeat = parse_count(a, v, MAX_REPEAT);
			if (repeat == 0)
				usage_error("--repeat: at least 1");
		} else if (strcmp(a, "--hold-us") == 0) {
			cfg.hold_us = parse_micros(a, v);
		} else if (strcmp(a, "--interval-us") == 0) {
			cfg.interval_us = parse_micros(a, v);
		} else if (strcmp(a, "--table-size") == 0) {
			cfg.table_size = parse_count(a, v, 4000000);
			if (cfg.table_size == 0)
				usage_error("--table-size: at least 1");
		} else if (strcmp(a, "--pages") == 0) {
			if (strcmp(v, "huge") == 0)
				cfg.small_pages = false;
			else if (strcmp(v, "small") == 0)
				cfg.small_pages = true;
			else
				usage_error("--pages: huge or small");
		} else if (strcmp(a, "--churn-rate") == 0) {
			cfg.churn_rate = parse_seconds(a, v, 0.001);
		} else if (strcmp(a, "--held") == 0) {
			cfg.held = parse_count(a, v, 4096);
		} else if (strcmp(a, "--held-by") == 0) {
			if (strcmp(v, "count") == 0)
				cfg.held_psref = false;
			else if (strcmp(v, "rtcache") == 0)
				cfg.held_psref = true;
			else
				usage_error("--held-by: count or rtcache");
		} else if (strcmp(a, "--ctl-permille") == 0) {
			cfg.ctl_permille = parse_count(a, v, 1000);
		} else if (strcmp(a, "--cpu-latency") == 0) {
			cpu_latency = (long)parse_count(a, v, 100000000);
		} else if (strcmp(a, "--baseline") == 0) {
			baseline_name = v;
		} else if (strcmp(a, "--csv") == 0) {
			csv_path = v;
		} else {
			usage_error("unknown option '%s'", a);
		}
	}
	if (w == NULL)
		usage_error("no workload given");

	if (nstrategies == 0) {
		for (size_t k = 0; bench_strategies[k] != NULL; k++)
			if (w->supports(bench_strategies[k]) == NULL)
				strategies[nstrategies++] = bench_strategies[k];
		if (nstrategies == 0)
			usage_error("%s: no strategy can run it", w->name);
	}
	if (nthreads == 0)
		threads[nthreads++] = 1;
	for (size_t k = 0; k < nthreads; k++)
		if (threads[k] < w->min_threads)
			usage_error("%s needs at least %u reader thread(s)",
			    w->name, w->min_threads);
	if (!writers_given)
		cfg.writers = w->default_writers;
	else if (cfg.writers < w->min_writers || cfg.writers > w->max_writers) {
		if (w->max_writers == 0)
			usage_error("--writers: %s takes no writers", w->name);
		else if (w->min_writers == w->max_writers)
			usage_error("--writers: %s takes exactly %u writer(s)",
			    w->name, w->max_writers);
		else
			usage_error("--writers: %s takes %u to %u writers",
			    w->name, w->min_writers, w->max_writers);
	}
	baseline = strategies[0];
	if (baseline_name != NULL) {
		baseline = bench_strategy_find(baseline_name);
		if (baseline == NULL)
			usage_error(
			    "unknown baseline strategy '%s'", baseline_name);
	}

	if (cpu_latency < 0) {
		snprintf(name, sizeof(name), "%s", w->name);
	} else {
		snprintf(name, sizeof(name), "%s@qos%ld", w->name, cpu_latency);
		if (!hold_cpu_latency((unsigned)cpu_latency))
			return 1;
		cpuidle_driver(idle, sizeof(idle));
	}

	bench_machine_init();
	if (csv_path != NULL) {
		csv = bench_csv_open(csv_path);
		if (csv == NULL)
			return 2;
	}

	total = nthreads * nstrategies;
	runs = calloc(total, sizeof(*runs));
	reps = calloc(total * repeat, sizeof(*reps));
	if (runs == NULL || reps == NULL) {
		bench_warn("out of memory");
		return 1;
	}
	for (size_t t = 0; t < nthreads; t++) {
		for (size_t k = 0; k < nstrategies; k++) {
			struct run_record *r = &runs[nruns];
			const char *why = w->supports(strategies[k]);

			r->strategy = strategies[k];
			r->threads = threads[t];
			r->reps = &reps[nruns * repeat];
			r->ok = true;
			nruns++;
			if (why != NULL) {
				r->skipped = true;
				r->ok = false;
				if (t == 0)
					bench_warn("%s: skipping %s: %s",
					    w->name, strategies[k]->name, why);
			} else {
				ndone++;
			}
		}
	}
	/*
	 * Round after round: every combination once per round, in the
	 * order given, so that drift of the machine over the invocation
	 * reaches every strategy alike.  A combination that failed once is
	 * not run again.
	 */
	for (unsigned rep = 0; rep < repeat; rep++) {
		size_t idx = 0;

		for (size_t i = 0; i < nruns; i++) {
			struct run_record *r = &runs[i];

			if (r->skipped)
				continue;
			idx++;
			if (!r->ok)
				continue;
			violations +=
			    run_one(w, r, &cfg, rep, repeat, idx, ndone, quiet);
			if (!r->ok)
				failed = true;
			if (r->ok && rep == repeat - 1) {
				combine_reps(w, r, repeat);
				if (idle[0] != '\0')
					append_extra(&r->res, "cpuidle", idle);
				if (csv != NULL)
					bench_csv_row(csv, name,
					    r->strategy->name, r->threads,
					    &r->res);
			}
		}
	}
	summary(w, name, runs, nruns, baseline, repeat);
	if (csv != NULL)
		fclose(csv);
	free(reps);
	free(runs);
	if (violations > 0) {
		bench_warn("FAIL: readers saw %" PRIu64 " poisoned (retired) "
		           "objects",
		    violations);
		return 1;
	}
	return failed ? 1 : 0;
}
