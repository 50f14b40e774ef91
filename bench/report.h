/*
 * bench/report.h: CSV output and the machine description recorded with
 * every row (used by main.c only).
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* The CSV header line, without the newline. */
extern const char bench_csv_header[];

/*
 * bench_machine_init(): collect the machine columns (CPU model, cores,
 * kernel, compiler, build type, liburcu and ck versions, date) once.
 */
void bench_machine_init(void);

/* One-line description of the machine, for the summary's heading. */
void bench_machine_print(FILE *fp);

/*
 * bench_csv_open(path): open path for appending rows; write the header
 * if the file is new or empty.  Returns NULL after a message if the file
 * cannot be opened or starts with a different header.
 */
FILE *bench_csv_open(const char *path);

/* bench_csv_row(fp, ...): append one result row and flush. */
void bench_csv_row(FILE *fp, const char *workload, const char *strategy,
    unsigned threads, const struct bench_result *res);

#endif /* BENCH_REPORT_H */
