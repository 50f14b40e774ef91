/*
 * bench/main.c: the mpsafe-bench command line.
 *
 *	mpsafe-bench --list
 *	mpsafe-bench WORKLOAD [--strategy A,B,...] [--threads N,M,...]
 *	    [--seconds S] [--warmup S] [--writers N] [--baseline NAME]
 *	    [--csv FILE] [--quiet]
 *
 * Runs the cross product of thread counts and strategies (for each thread
 * count, every strategy in the order given, so that the runs compared with
 * each other are close in time), appends one CSV row per run, and prints a
 * summary table with each run's ratio to the baseline strategy at the same
 * thread count.  Exit status: 0; 1 if a run failed or a reader saw a
 * poisoned object; 2 for a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "report.h"

#define MAX_LIST 64
#define MAX_THREADS 1024

struct run_record {
	const struct bench_strategy *strategy;
	unsigned threads;
	bool ok;      /* ran to completion */
	bool skipped; /* strategy does not support the workload */
	struct bench_result res;
};

static void
usage(FILE *fp)
{
	fputs("usage: mpsafe-bench --list\n"
	      "       mpsafe-bench WORKLOAD [--strategy A,B,...] "
	      "[--threads N,M,...]\n"
	      "           [--seconds S] [--warmup S] [--writers N] "
	      "[--baseline NAME]\n"
	      "           [--csv FILE] [--quiet]\n"
	      "\n"
	      "  --list           workloads and strategies, one line each\n"
	      "  --strategy LIST  comma-separated strategies (default: all "
	      "that apply)\n"
	      "  --threads LIST   comma-separated reader thread counts "
	      "(default 1)\n"
	      "  --seconds S      measured time per run (default 1)\n"
	      "  --warmup S       warm-up per run, not counted (default 0.2)\n"
	      "  --writers N      writer threads (grace-period; default 1)\n"
	      "  --baseline NAME  strategy the ratios are taken against "
	      "(default: the first)\n"
	      "  --csv FILE       append one row per run (header if new)\n"
	      "  --quiet          no progress lines on stderr\n"
	      "\n"
	      "Runs every strategy at every thread count; prints a summary "
	      "with ratios.\n"
	      "Exit status: 0 ok, 1 a run failed or readers saw a retired "
	      "object, 2 usage.\n",
	    fp);
}

static void
list(void)
{
	printf("Workloads:\n");
	for (size_t i = 0; bench_workloads[i] != NULL; i++)
		printf("  %-14s %s\n", bench_workloads[i]->name,
		    bench_workloads[i]->description);
	printf("Strategies:\n");
	for (size_t i = 0; bench_strategies[i] != NULL; i++)
		printf("  %-14s %s\n", bench_strategies[i]->name,
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
metric_of(const struct bench_workload *w, const struct run_record *r)
{
	if (!r->ok)
		return NAN;
	if (w->metric == BENCH_METRIC_LAT_P50)
		return r->res.has_lat && r->res.lat_p50_ns > 0
		           ? (double)r->res.lat_p50_ns
		           : NAN;
	return r->res.has_ns_per_op ? r->res.ns_per_op : NAN;
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
summary(const struct bench_workload *w, const struct run_record *runs,
    size_t nruns, const struct bench_strategy *baseline)
{
	printf("\n");
	bench_machine_print(stdout);
	printf("# %s: ratio = %s / %s's at the same thread count "
	       "(lower is better)\n",
	    w->name, w->metric == BENCH_METRIC_LAT_P50 ? "wait p50" : "ns/op",
	    baseline->name);
	printf("%-13s %-12s %4s %3s %12s %12s %12s %12s %12s %12s %8s\n",
	    "workload", "strategy", "thr", "wr", "ns/op", "ops/s", "p50_ns",
	    "p99_ns", "pend_peak_B", "writer_ops", "ratio");
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
		printf("%-13s %-12s %4u %3u", w->name, r->strategy->name,
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
		if (r->res.violations > 0)
			printf("  VIOLATIONS %" PRIu64, r->res.violations);
		printf("\n");
	}
}

int
main(int argc, char **argv)
{
	const struct bench_workload *w = NULL;
	const struct bench_strategy *strategies[MAX_LIST], *baseline = NULL;
	const char *baseline_name = NULL, *csv_path = NULL;
	char *items[MAX_LIST];
	unsigned threads[MAX_LIST];
	size_t nstrategies = 0, nthreads = 0, nruns = 0, idx = 0;
	struct bench_config cfg = {
	    .seconds = 1.0,
	    .warmup = 0.2,
	};
	bool quiet = false, writers_given = false, failed = false;
	uint64_t violations = 0;
	struct run_record *runs;
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
	}
	if (nthreads == 0)
		threads[nthreads++] = 1;
	for (size_t k = 0; k < nthreads; k++)
		if (threads[k] < w->min_threads)
			usage_error("%s needs at least %u reader thread(s)",
			    w->name, w->min_threads);
	if (!writers_given)
		cfg.writers = w->default_writers;
	else if (cfg.writers > w->max_writers ||
	         (w->max_writers > 0 && cfg.writers == 0))
		usage_error("--writers: %s takes %s", w->name,
		    w->max_writers == 0   ? "no writers"
		    : w->max_writers == 1 ? "exactly 1 writer"
		                          : "1 to 64 writers");
	baseline = strategies[0];
	if (baseline_name != NULL) {
		baseline = bench_strategy_find(baseline_name);
		if (baseline == NULL)
			usage_error(
			    "unknown baseline strategy '%s'", baseline_name);
	}

	bench_machine_init();
	if (csv_path != NULL) {
		csv = bench_csv_open(csv_path);
		if (csv == NULL)
			return 2;
	}

	runs = calloc(nthreads * nstrategies, sizeof(*runs));
	if (runs == NULL) {
		bench_warn("out of memory");
		return 1;
	}
	for (size_t t = 0; t < nthreads; t++) {
		for (size_t k = 0; k < nstrategies; k++) {
			struct run_record *r = &runs[nruns++];
			const char *why = w->supports(strategies[k]);

			r->strategy = strategies[k];
			r->threads = threads[t];
			idx++;
			if (why != NULL) {
				r->skipped = true;
				if (t == 0)
					bench_warn("%s: skipping %s: %s",
					    w->name, strategies[k]->name, why);
				continue;
			}
			cfg.threads = threads[t];
			if (!quiet)
				fprintf(stderr,
				    "mpsafe-bench: [%zu/%zu] %s %s "
				    "threads=%u writers=%u ...",
				    idx, nthreads * nstrategies, w->name,
				    strategies[k]->name, threads[t],
				    cfg.writers);
			r->ok = w->run(strategies[k], &cfg, &r->res) == 0;
			if (!r->ok) {
				failed = true;
				if (!quiet)
					fprintf(stderr, " FAILED\n");
				continue;
			}
			if (!quiet) {
				if (r->res.has_ns_per_op)
					fprintf(stderr, " %.3f ns/op",
					    r->res.ns_per_op);
				if (r->res.has_lat)
					fprintf(stderr,
					    " p50 %" PRIu64 " ns p99 %" PRIu64
					    " ns",
					    r->res.lat_p50_ns,
					    r->res.lat_p99_ns);
				fprintf(stderr, "\n");
			}
			if (r->res.violations > 0) {
				bench_warn(
				    "%s %s threads=%u: readers saw %" PRIu64
				    " poisoned objects",
				    w->name, strategies[k]->name, threads[t],
				    r->res.violations);
				violations += r->res.violations;
			}
			if (csv != NULL)
				bench_csv_row(csv, w->name, strategies[k]->name,
				    threads[t], &r->res);
		}
	}
	summary(w, runs, nruns, baseline);
	if (csv != NULL)
		fclose(csv);
	free(runs);
	if (violations > 0) {
		bench_warn("FAIL: readers saw %" PRIu64 " poisoned (retired) "
		           "objects",
		    violations);
		return 1;
	}
	return failed ? 1 : 0;
}
