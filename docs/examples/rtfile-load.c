/*
 * rtfile-load.c: routing-table input with route_file.h (rtfile(3)): load
 * a table from a stream and count its routes, report the first bad line
 * of another, then generate a synthetic table, print its first routes
 * the way a table dump would and parse one back.  Built and run by the
 * example_rtfile test; rtfile(3) shows an excerpt.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/net/route_file.h>

static int
count(const struct rtfile_record *rec, void *arg)
{
	(void)rec;
	(*(size_t *)arg)++;
	return 0;
}

/* Load text with rtfile_load_stream(); returns the routes, -1 on error. */
static long
load(const char *text)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	struct rtfile_error err;
	size_t n = 0;
	int error;

	if (fp == NULL)
		return -1;
	error = rtfile_load_stream(fp, RTFILE_TABLE, 0, count, &n, &err);
	fclose(fp);
	if (error != 0) {
		printf("line %lu: %s\n", err.re_line, strerror(error));
		return -1;
	}
	return (long)n;
}

int
main(void)
{
	static const char good[] = "# a table dump\n"
	                           "1.0.0.0/24 203.0.113.1\n"
	                           "2001:db8::/32 2001:db8::1\n"
	                           "192.0.2.0/24\n";
	static const char bad[] = "1.0.0.0/24 203.0.113.1\n"
	                          "1.0.0.1/24 203.0.113.1\n"; /* host bits */
	struct rtgen_route *rt;
	struct rtfile_record rec;
	char line[128], hop[INET6_ADDRSTRLEN];
	uint8_t gw[16];
	int n;

	if (load(good) != 3 || load(bad) != -1)
		return 1;

	if (rtgen_table(AF_INET, 10000, 16, 1, &rt) != 0)
		return 1;
	for (size_t i = 0; i < 3; i++) {
		rtgen_nexthop(AF_INET, rt[i].rg_nexthop, gw);
		n = rtfile_format_prefix(&rt[i].rg_dst, line, sizeof(line));
		if (n < 0 || inet_ntop(AF_INET, gw, hop, sizeof(hop)) == NULL)
			return 1;
		snprintf(line + n, sizeof(line) - (size_t)n, " %s", hop);
		printf("%s\n", line);
	}
	/* The last line printed parses back to the same route. */
	if (rtfile_parse_line(line, strlen(line), RTFILE_TABLE, 0, &rec) != 0 ||
	    memcmp(&rec.rr_dst, &rt[2].rg_dst, sizeof(rec.rr_dst)) != 0)
		return 1;
	free(rt);
	return 0;
}
