/*
 * bench/report.c: the CSV file mpsafe-bench appends to, and the machine
 * description recorded with every row.
 *
 * Columns: the benchmark contract's workload,strategy,threads,seconds,ops,
 * ops_per_sec,ns_per_op; then lat_p50_ns,lat_p99_ns,pending_peak_bytes,
 * writer_ops (empty where a workload does not measure them); then the
 * machine: cpu_model,cores,kernel,compiler,build_type,liburcu_version,
 * ck_version,date; then writers,violations; then repeat (the runs each
 * row is the median of) and spread (largest / smallest value of the
 * workload's metric over those runs; empty for one run); then, for the
 * route workloads, mem_bytes and mem_prefixes (the lookup structure's
 * memory and the prefixes in it; empty elsewhere); then dpdk_version
 * (the DPDK the dpdk-* strategies were built with, "none" without);
 * then extra, the
 * workload's own figures as "key=value;..." (forward; empty elsewhere).  Fields
 * that contain a comma, a quote or a newline are quoted (RFC 4180).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

#ifndef BENCH_LIBURCU_VERSION
#define BENCH_LIBURCU_VERSION "unknown"
#endif
#ifndef BENCH_CK_VERSION
#define BENCH_CK_VERSION "unknown"
#endif
#ifndef BENCH_DPDK_VERSION
#define BENCH_DPDK_VERSION "none"
#endif
#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif

#if defined(__clang__)
#define BENCH_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "unknown"
#endif

const char bench_csv_header[] =
    "workload,strategy,threads,seconds,ops,ops_per_sec,ns_per_op,"
    "lat_p50_ns,lat_p99_ns,pending_peak_bytes,writer_ops,"
    "cpu_model,cores,kernel,compiler,build_type,liburcu_version,"
    "ck_version,date,writers,violations,repeat,spread,mem_bytes,"
    "mem_prefixes,dpdk_version,extra,best,steal_pct";

static struct {
	char cpu_model[256];
	long cores;
	char kernel[256];
	char compiler[128];
	char date[32];
} machine;

/* Copy src into dst (size n), trimming surrounding white space. */
static void
copy_trimmed(char *dst, size_t n, const char *src)
{
	size_t len;

	while (*src == ' ' || *src == '\t')
		src++;
	snprintf(dst, n, "%s", src);
	len = strlen(dst);
	while (len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == '\n' ||
	                      dst[len - 1] == '\t'))
		dst[--len] = '\0';
}

static void
cpu_model_init(void)
{
	char line[512];
	FILE *fp;

	snprintf(machine.cpu_model, sizeof(machine.cpu_model), "unknown");
	fp = fopen("/proc/cpuinfo", "r");
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *colon = strchr(line, ':');

		/* x86: "model name"; some arm64 kernels: "Model"/"Hardware" */
		if (colon != NULL && (strncmp(line, "model name", 10) == 0 ||
		                         strncmp(line, "Model", 5) == 0 ||
		                         strncmp(line, "Hardware", 8) == 0)) {
			copy_trimmed(machine.cpu_model,
			    sizeof(machine.cpu_model), colon + 1);
			break;
		}
	}
	fclose(fp);
}

void
bench_machine_init(void)
{
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;

	cpu_model_init();
	machine.cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(machine.kernel, sizeof(machine.kernel), "%s %s",
		    u.sysname, u.release);
	else
		snprintf(machine.kernel, sizeof(machine.kernel), "unknown");
	copy_trimmed(
	    machine.compiler, sizeof(machine.compiler), BENCH_COMPILER);
	gmtime_r(&now, &tm);
	strftime(machine.date, sizeof(machine.date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
bench_machine_print(FILE *fp)
{
	fprintf(fp,
	    "# %s, %ld cores, %s, %s, %s build, liburcu %s, ck %s, DPDK %s, "
	    "%s\n",
	    machine.cpu_model, machine.cores, machine.kernel, machine.compiler,
	    BENCH_BUILD_TYPE, BENCH_LIBURCU_VERSION, BENCH_CK_VERSION,
	    BENCH_DPDK_VERSION, machine.date);
}

/* Write s as one CSV field, quoted if it needs to be. */
static void
csv_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

FILE *
bench_csv_open(const char *path)
{
	char first[1024];
	FILE *fp;
	long size;

	fp = fopen(path, "a+");
	if (fp == NULL) {
		bench_warn("%s: cannot open: %m", path);
		return NULL;
	}
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	if (size > 0) {
		rewind(fp);
		if (fgets(first, sizeof(first), fp) == NULL)
			first[0] = '\0';
		first[strcspn(first, "\r\n")] = '\0';
		if (strcmp(first, bench_csv_header) != 0) {
			bench_warn("%s: the file has a different header; "
			           "write to a new file",
			    path);
			fclose(fp);
			return NULL;
		}
	} else {
		fprintf(fp, "%s\n", bench_csv_header);
	}
	fflush(fp);
	return fp;
}

void
bench_csv_row(FILE *fp, const char *workload, const char *strategy,
    unsigned threads, const struct bench_result *r)
{
	char cores[32];

	csv_field(fp, workload);
	fputc(',', fp);
	csv_field(fp, strategy);
	fprintf(fp, ",%u,%.6f,%" PRIu64 ",%.1f,", threads, r->seconds, r->ops,
	    r->ops_per_sec);
	if (r->has_ns_per_op)
		fprintf(fp, "%.4f", r->ns_per_op);
	fputc(',', fp);
	if (r->has_lat)
		fprintf(
		    fp, "%" PRIu64 ",%" PRIu64, r->lat_p50_ns, r->lat_p99_ns);
	else
		fputc(',', fp);
	fputc(',', fp);
	if (r->has_pending)
		fprintf(fp, "%" PRIu64, r->pending_peak_bytes);
	fputc(',', fp);
	if (r->has_writer_ops)
		fprintf(fp, "%" PRIu64, r->writer_ops);
	fputc(',', fp);
	csv_field(fp, machine.cpu_model);
	snprintf(cores, sizeof(cores), ",%ld,", machine.cores);
	fputs(cores, fp);
	csv_field(fp, machine.kernel);
	fputc(',', fp);
	csv_field(fp, machine.compiler);
	fputc(',', fp);
	csv_field(fp, BENCH_BUILD_TYPE);
	fputc(',', fp);
	csv_field(fp, BENCH_LIBURCU_VERSION);
	fputc(',', fp);
	csv_field(fp, BENCH_CK_VERSION);
	fputc(',', fp);
	csv_field(fp, machine.date);
	fprintf(fp, ",%u,%" PRIu64 ",%u,", r->writers, r->violations,
	    r->repeat > 0 ? r->repeat : 1);
	if (r->has_spread)
		fprintf(fp, "%.4f", r->spread);
	fputc(',', fp);
	if (r->has_mem)
		fprintf(
		    fp, "%" PRIu64 ",%" PRIu64, r->mem_bytes, r->mem_prefixes);
	else
		fputc(',', fp);
	fputc(',', fp);
	csv_field(fp, BENCH_DPDK_VERSION);
	fputc(',', fp);
	csv_field(fp, r->extra);
	fputc(',', fp);
	if (r->has_spread)
		fprintf(fp, "%.4f", r->best);
	fputc(',', fp);
	if (r->has_steal)
		fprintf(fp, "%.2f", r->steal_pct);
	fputc('\n', fp);
	fflush(fp);
}
