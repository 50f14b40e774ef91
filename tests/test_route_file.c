/*
 * test_route_file.c: unit tests of the route-file parser and of the
 * synthetic table, lookup and churn generators (route_file.h).
 *
 * Parser: good table and trace lines of both families, comments and
 * blank lines, every kind of malformed line with its errno, host bits
 * refused or normalised, every prefix of a line given as a buffer of
 * exactly that many bytes (so a read past the end is an ASan report),
 * 200,000 randomly mutated lines (only documented results), the buffer
 * and stream loaders with line numbers, KEEPGOING, callback
 * stops and overlong lines in a stream.  Generators: the length
 * distribution within tolerance of rtgen_share(), the shares summing to
 * one, unique prefixes without host bits, nesting present, determinism
 * from the seed, lookups that hit, a churn stream that stays valid
 * against a model of the table.  Limits: the largest tables of each
 * family, the most next hops (every index has an address), the smallest
 * churn stream; comments may hold non-ASCII bytes.  With
 * MPSAFE_FAULT_INJECTION: every allocation of the generators and the
 * stream loader fails in turn, each with ENOMEM and nothing leaked.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/net/route_file.h>
#ifdef MPSAFE_FAULT_INJECTION
#include <mpsafe/alloc.h>

#include "leak_check.h"
#endif

TestSuite(route_file, .timeout = 120);

/* Parse s (strlen bytes, copied into a buffer of exactly that size). */
static int
parse(const char *s, int format, unsigned flags, struct rtfile_record *rec)
{
	size_t len = strlen(s);
	char *b = malloc(len > 0 ? len : 1);
	int error;

	cr_assert_not_null(b, "out of memory");
	memcpy(b, s, len);
	error = rtfile_parse_line(b, len, format, flags, rec);
	free(b);
	return error;
}

static void
check_prefix(
    const struct rtfile_prefix *p, int family, const char *addr, unsigned plen)
{
	uint8_t want[16] = {0};

	cr_assert_eq(inet_pton(family, addr, want), 1, "bad test address");
	cr_assert_eq(p->rp_family, family, "family %u", p->rp_family);
	cr_assert_eq(p->rp_plen, plen, "plen %u", p->rp_plen);
	cr_assert(memcmp(p->rp_addr, want, 16) == 0, "address of %s", addr);
}

Test(route_file, table_lines)
{
	struct rtfile_record r;
	uint8_t gw[16] = {0};

	cr_assert_eq(
	    parse("1.0.0.0/24 203.0.113.1", RTFILE_TABLE, 0, &r), 0, "v4 line");
	cr_assert_eq(r.rr_kind, RTFILE_ROUTE, "kind");
	check_prefix(&r.rr_dst, AF_INET, "1.0.0.0", 24);
	cr_assert(r.rr_has_gateway, "gateway");
	inet_pton(AF_INET, "203.0.113.1", gw);
	cr_assert(memcmp(r.rr_gateway, gw, 16) == 0, "gateway address");

	cr_assert_eq(
	    parse("2001:db8::/32\t 2001:db8::1  # c\r\n", RTFILE_TABLE, 0, &r),
	    0, "v6 line");
	check_prefix(&r.rr_dst, AF_INET6, "2001:db8::", 32);
	memset(gw, 0, sizeof(gw));
	inet_pton(AF_INET6, "2001:db8::1", gw);
	cr_assert(memcmp(r.rr_gateway, gw, 16) == 0, "v6 gateway");

	cr_assert_eq(
	    parse("  192.0.2.0/24\n", RTFILE_TABLE, 0, &r), 0, "plain prefix");
	cr_assert_eq(r.rr_kind, RTFILE_ROUTE, "kind");
	cr_assert_not(r.rr_has_gateway, "no gateway");

	cr_assert_eq(parse("0.0.0.0/0 192.0.2.1", RTFILE_TABLE, 0, &r), 0,
	    "default route");
	cr_assert_eq(r.rr_dst.rp_plen, 0, "plen 0");
	cr_assert_eq(parse("::/0", RTFILE_TABLE, 0, &r), 0, "v6 default");
	cr_assert_eq(parse("192.0.2.1/32", RTFILE_TABLE, 0, &r), 0, "host");
	cr_assert_eq(parse("2001:db8::1/128", RTFILE_TABLE, 0, &r), 0, "host6");

	const char *empty[] = {"", "\n", "\r\n", "   \t ", "# comment",
	    "  # comment 1.0.0.0/24 x", "#"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		r.rr_kind = RTFILE_ROUTE;
		cr_assert_eq(parse(empty[i], RTFILE_TABLE, 0, &r), 0,
		    "empty line %zu", i);
		cr_assert_eq(r.rr_kind, RTFILE_EMPTY, "empty kind %zu", i);
	}
}

Test(route_file, trace_lines)
{
	struct rtfile_record r;

	cr_assert_eq(parse("1700000000.25 a 198.51.100.0/24 203.0.113.9",
	                 RTFILE_TRACE, 0, &r),
	    0, "announce");
	cr_assert_eq(r.rr_kind, RTFILE_ANNOUNCE, "kind");
	cr_assert_eq(r.rr_sec, 1700000000u, "sec");
	cr_assert_eq(r.rr_nsec, 250000000u, "nsec %u", r.rr_nsec);
	check_prefix(&r.rr_dst, AF_INET, "198.51.100.0", 24);
	cr_assert(r.rr_has_gateway, "gateway");

	cr_assert_eq(parse("17 w 2001:db8:1::/48\n", RTFILE_TRACE, 0, &r), 0,
	    "withdraw");
	cr_assert_eq(r.rr_kind, RTFILE_WITHDRAW, "kind");
	cr_assert_eq(r.rr_sec, 17u, "sec");
	cr_assert_eq(r.rr_nsec, 0u, "nsec");
	cr_assert_not(r.rr_has_gateway, "no gateway");

	cr_assert_eq(parse("1.000000001 w 10.0.0.0/8", RTFILE_TRACE, 0, &r), 0,
	    "nanoseconds");
	cr_assert_eq(r.rr_nsec, 1u, "nsec");

	struct {
		const char *line;
		int error;
	} bad[] = {
	    {"1 a 10.0.0.0/8", EINVAL},            /* announce without hop */
	    {"1 w 10.0.0.0/8 10.0.0.1", EINVAL},   /* withdraw with hop */
	    {"1 x 10.0.0.0/8", EINVAL},            /* unknown action */
	    {"1 aa 10.0.0.0/8 1.2.3.4", EINVAL},   /* long action */
	    {"x1 a 10.0.0.0/8 1.2.3.4", EINVAL},   /* bad time */
	    {"1. w 10.0.0.0/8", EINVAL},           /* empty fraction */
	    {".5 w 10.0.0.0/8", EINVAL},           /* no seconds */
	    {"1.0000000001 w 10.0.0.0/8", EINVAL}, /* 10 decimals */
	    {"1.5.5 w 10.0.0.0/8", EINVAL}, {"-1 w 10.0.0.0/8", EINVAL},
	    {"99999999999999999999 w 10.0.0.0/8", ERANGE}, {"1 w", EINVAL},
	    {"1 w 10.0.0.0/33", ERANGE},
	    {"1 a 10.0.0.0/8 2001:db8::1", EAFNOSUPPORT},
	    {"1 a 10.0.0.0/8 1.2.3.4 extra", EINVAL},
	    {"10.0.0.0/8 1.2.3.4", EINVAL}, /* a table line */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i].line, RTFILE_TRACE, 0, &r),
		    bad[i].error, "trace line '%s'", bad[i].line);
}

Test(route_file, malformed_lines)
{
	struct rtfile_record r;
	struct {
		const char *line;
		int error;
	} bad[] = {
	    {"1.0.0.0", EINVAL},     /* no length */
	    {"1.0.0.0/", EINVAL},    /* empty length */
	    {"1.0.0.0/024", EINVAL}, /* leading zero */
	    {"1.0.0.0/+8", EINVAL},  /* sign */
	    {"1.0.0.0/-1", EINVAL},  /* sign */
	    {"1.0.0.0/2x", EINVAL},  /* garbage in the length */
	    {"1.0.0.0/33", ERANGE},  /* too long for IPv4 */
	    {"1.0.0.0/99999999999", ERANGE},
	    {"::/129", ERANGE}, /* too long for IPv6 */
	    {"1.0.0.0/8/8", EINVAL},
	    {"1.0.0/24", EINVAL},    /* short address */
	    {"256.0.0.0/8", EINVAL}, /* octet out of range */
	    {"01.0.0.0/8", EINVAL},  /* leading zero octet */
	    {"1.0.0.0.0/8", EINVAL},
	    {"2001:db8:::/32", EINVAL}, /* bad IPv6 */
	    {"2001:db8::g/32", EINVAL},
	    {"fe80::1%eth0/64", EINVAL}, /* zone */
	    {"/24", EINVAL},
	    {"hello world", EINVAL},
	    {"1.0.0.1/24", EINVAL},               /* host bits set */
	    {"2001:db8::1/32", EINVAL},           /* host bits set */
	    {"1.0.0.0/24 203.0.113.1 x", EINVAL}, /* extra field */
	    {"1.0.0.0/24 a b c d e f", EINVAL},
	    {"1.0.0.0/24 203.0.113", EINVAL}, /* bad next hop */
	    {"1.0.0.0/24 2001:db8::1", EAFNOSUPPORT},
	    {"2001:db8::/32 192.0.2.1", EAFNOSUPPORT},
	    {"1.0.0.0/24\r203.0.113.1", EILSEQ}, /* stray CR */
	    {"1.0.0.0/24\n203.0.113.1", EILSEQ}, /* two lines */
	    {"1.0.0.0/24 \x01", EILSEQ},
	    {"1.0.0.0/24 \x7f", EILSEQ},
	    {"1.0.0.0/24 \xc3\xa9", EILSEQ}, /* non-ASCII */
	    {"# \x02 even in a comment", EILSEQ},
	    {"1111111111111111111111111111111111111111111111111/8", EINVAL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i].line, RTFILE_TABLE, 0, &r),
		    bad[i].error, "line '%s'", bad[i].line);

	/* Embedded NUL: a buffer of 12 bytes with a NUL inside. */
	cr_assert_eq(
	    rtfile_parse_line("1.0.0.0/8\0 x", 12, RTFILE_TABLE, 0, &r), EILSEQ,
	    "NUL inside");

	/* Overlong: RTFILE_LINE_MAX + 1 bytes, even of blanks. */
	{
		char *b = malloc(RTFILE_LINE_MAX + 2);

		cr_assert_not_null(b, "out of memory");
		memset(b, ' ', RTFILE_LINE_MAX + 1);
		cr_assert_eq(
		    rtfile_parse_line(b, RTFILE_LINE_MAX, RTFILE_TABLE, 0, &r),
		    0, "longest line");
		cr_assert_eq(rtfile_parse_line(
		                 b, RTFILE_LINE_MAX + 1, RTFILE_TABLE, 0, &r),
		    E2BIG, "overlong line");
		b[RTFILE_LINE_MAX] = '\n';
		cr_assert_eq(rtfile_parse_line(
		                 b, RTFILE_LINE_MAX + 1, RTFILE_TABLE, 0, &r),
		    0, "longest line with its newline");
		free(b);
	}

	/* Bad arguments. */
	cr_assert_eq(rtfile_parse_line(NULL, 0, RTFILE_TABLE, 0, &r), EINVAL,
	    "NULL buf");
	cr_assert_eq(rtfile_parse_line("", 0, RTFILE_TABLE, 0, NULL), EINVAL,
	    "NULL rec");
	cr_assert_eq(rtfile_parse_line("", 0, 7, 0, &r), EINVAL, "format");
	cr_assert_eq(
	    rtfile_parse_line("", 0, RTFILE_TABLE, 0x80, &r), EINVAL, "flags");
}

/* Any byte but a control character in a comment; non-ASCII nowhere else. */
Test(route_file, non_ascii_only_in_comments)
{
	struct rtfile_record r;

	cr_assert_eq(parse("# caf\xc3\xa9", RTFILE_TABLE, 0, &r), 0,
	    "UTF-8 in a comment line");
	cr_assert_eq(r.rr_kind, RTFILE_EMPTY, "comment line");
	cr_assert_eq(parse("1.0.0.0/24 203.0.113.1 # caf\xc3\xa9 \xff\x80\n",
	                 RTFILE_TABLE, 0, &r),
	    0, "non-ASCII in a trailing comment");
	cr_assert_eq(r.rr_kind, RTFILE_ROUTE, "route");
	check_prefix(&r.rr_dst, AF_INET, "1.0.0.0", 24);
	cr_assert_eq(
	    parse("17 w 2001:db8::/32#\xe2\x82\xac", RTFILE_TRACE, 0, &r), 0,
	    "trace line with a comment");
	cr_assert_eq(r.rr_kind, RTFILE_WITHDRAW, "withdraw");
	/* Outside the comment, and control characters inside it: refused. */
	cr_assert_eq(parse("1.0.0.0/24 \xc3\xa9 # x", RTFILE_TABLE, 0, &r),
	    EILSEQ, "non-ASCII before the comment");
	cr_assert_eq(parse("\xc3\xa9# x", RTFILE_TABLE, 0, &r), EILSEQ,
	    "non-ASCII first");
	cr_assert_eq(
	    parse("# caf\xc3\xa9\x7f", RTFILE_TABLE, 0, &r), EILSEQ, "DEL");
	cr_assert_eq(
	    parse("# caf\xc3\xa9\x1b", RTFILE_TABLE, 0, &r), EILSEQ, "ESC");
}

Test(route_file, host_bits_normalised)
{
	struct rtfile_record r;

	cr_assert_eq(
	    parse("1.2.3.4/16 192.0.2.1", RTFILE_TABLE, RTFILE_NORMALIZE, &r),
	    0, "normalised v4");
	check_prefix(&r.rr_dst, AF_INET, "1.2.0.0", 16);
	cr_assert_eq(
	    parse("2001:db8:ffff::1/33", RTFILE_TABLE, RTFILE_NORMALIZE, &r), 0,
	    "normalised v6");
	check_prefix(&r.rr_dst, AF_INET6, "2001:db8:8000::", 33);
	cr_assert_eq(parse("1.2.3.4/0", RTFILE_TABLE, RTFILE_NORMALIZE, &r), 0,
	    "normalised to default");
	check_prefix(&r.rr_dst, AF_INET, "0.0.0.0", 0);
}

/* Every prefix of each line, as a buffer of exactly that length. */
Test(route_file, truncated_buffers)
{
	const char *lines[] = {
	    "1.0.0.0/24 203.0.113.1\n",
	    "2001:db8:abcd::/48 2001:db8::ffff:1\r\n",
	    "1700000000.123456789 a 198.51.100.0/24 203.0.113.9\n",
	    "1700000000 w 2001:db8::/32 # gone\n",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = strlen(lines[i]);
		int format = i < 2 ? RTFILE_TABLE : RTFILE_TRACE;

		for (size_t n = 0; n <= len; n++) {
			char *b = malloc(n > 0 ? n : 1);
			struct rtfile_record r;
			int error;

			cr_assert_not_null(b, "out of memory");
			memcpy(b, lines[i], n);
			error = rtfile_parse_line(b, n, format, 0, &r);
			cr_assert(error == 0 || error == EINVAL ||
			              error == ERANGE || error == EAFNOSUPPORT,
			    "line %zu cut at %zu: error %d", i, n, error);
			if (n == len)
				cr_assert_eq(error, 0, "whole line %zu", i);
			free(b);
		}
	}
}

struct collect {
	size_t n;
	unsigned long lines[16];
	struct rtfile_record last;
	size_t stop_after;
};

static int
collect_cb(const struct rtfile_record *rec, void *arg)
{
	struct collect *c = arg;

	if (c->n < 16)
		c->lines[c->n] = rec->rr_line;
	c->n++;
	c->last = *rec;
	return c->stop_after != 0 && c->n == c->stop_after ? ECANCELED : 0;
}

static const char table_text[] = "# a table\n"
                                 "1.0.0.0/24 203.0.113.1\n"
                                 "\n"
                                 "2001:db8::/32 2001:db8::1\n"
                                 "bad line here\n"
                                 "10.0.0.0/8\n"
                                 "10.1.0.0/16 10.0.0.1"; /* no final newline */

Test(route_file, load_buf)
{
	struct collect c = {0};
	struct rtfile_error e;

	cr_assert_eq(rtfile_load_buf(table_text, sizeof(table_text) - 1,
	                 RTFILE_TABLE, 0, collect_cb, &c, &e),
	    EINVAL, "stops at the bad line");
	cr_assert_eq(c.n, 2, "two records before it (%zu)", c.n);
	cr_assert_eq(c.lines[0], 2, "line of the first");
	cr_assert_eq(c.lines[1], 4, "line of the second");
	cr_assert_eq(e.re_error, EINVAL, "error");
	cr_assert_eq(e.re_line, 5, "bad line %lu", e.re_line);
	cr_assert_eq(e.re_bad, 1, "bad count");

	memset(&c, 0, sizeof(c));
	cr_assert_eq(rtfile_load_buf(table_text, sizeof(table_text) - 1,
	                 RTFILE_TABLE, RTFILE_KEEPGOING, collect_cb, &c, &e),
	    EINVAL, "keepgoing returns the first error");
	cr_assert_eq(c.n, 4, "four records (%zu)", c.n);
	cr_assert_eq(c.lines[3], 7, "last line without newline");
	check_prefix(&c.last.rr_dst, AF_INET, "10.1.0.0", 16);
	cr_assert_eq(e.re_lines, 7, "lines %lu", e.re_lines);
	cr_assert_eq(e.re_bad, 1, "bad count");

	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	cr_assert_eq(rtfile_load_buf(table_text, sizeof(table_text) - 1,
	                 RTFILE_TABLE, RTFILE_KEEPGOING, collect_cb, &c, NULL),
	    ECANCELED, "callback stops the load");
	cr_assert_eq(c.n, 1, "one record");

	cr_assert_eq(
	    rtfile_load_buf("", 0, RTFILE_TABLE, 0, collect_cb, &c, &e), 0,
	    "empty buffer");
	cr_assert_eq(e.re_lines, 0, "no lines");
	cr_assert_eq(rtfile_load_buf("", 0, RTFILE_TABLE, 0, NULL, &c, &e),
	    EINVAL, "NULL callback");
}

Test(route_file, load_stream)
{
	struct collect c = {0};
	struct rtfile_error e;
	size_t biglen = 200000;
	char *text = malloc(biglen + 200);
	FILE *fp;
	size_t n = 0;

	cr_assert_not_null(text, "out of memory");
	/* A good line, an overlong line (longer than one chunk), a good one. */
	n += (size_t)sprintf(text, "1 a 192.0.2.0/24 192.0.2.1\n");
	memset(text + n, 'x', biglen);
	n += biglen;
	text[n++] = '\n';
	n += (size_t)sprintf(text + n, "2 w 192.0.2.0/24");
	fp = fmemopen(text, n, "r");
	cr_assert_not_null(fp, "fmemopen");
	cr_assert_eq(rtfile_load_stream(fp, RTFILE_TRACE, RTFILE_KEEPGOING,
	                 collect_cb, &c, &e),
	    E2BIG, "overlong line reported");
	fclose(fp);
	cr_assert_eq(c.n, 2, "both good lines (%zu)", c.n);
	cr_assert_eq(c.lines[0], 1, "first line");
	cr_assert_eq(c.lines[1], 3, "third line (%lu)", c.lines[1]);
	cr_assert_eq(c.last.rr_kind, RTFILE_WITHDRAW, "withdraw last");
	cr_assert_eq(e.re_line, 2, "overlong line number");
	cr_assert_eq(e.re_lines, 3, "three lines");

	/* The same table through a stream and through a buffer. */
	memset(&c, 0, sizeof(c));
	fp = fmemopen((void *)table_text, sizeof(table_text) - 1, "r");
	cr_assert_not_null(fp, "fmemopen");
	cr_assert_eq(rtfile_load_stream(fp, RTFILE_TABLE, RTFILE_KEEPGOING,
	                 collect_cb, &c, &e),
	    EINVAL, "stream of the table");
	fclose(fp);
	cr_assert_eq(c.n, 4, "four records");
	cr_assert_eq(e.re_line, 5, "bad line");
	free(text);
}

/*
 * A stream whose line of len bytes (a prefix padded with blanks, then
 * eol) begins at byte at, after comment lines, with one more route after
 * it: the status of rtfile_load_stream() and the routes it reported.
 */
static int
stream_line_at(size_t at, size_t len, const char *eol, size_t *routes)
{
	struct collect c = {0};
	size_t n = 0, size = at + len + 64;
	char *text = malloc(size);
	FILE *fp;
	int error;

	cr_assert_not_null(text, "out of memory");
	while (n < at) { /* comment lines of at most 100 bytes */
		size_t l = at - n > 100 ? 100 : at - n;

		memset(text + n, '#', l - 1);
		text[n + l - 1] = '\n';
		n += l;
	}
	memset(text + n, ' ', len);
	memcpy(text + n, "10.0.0.0/8", 10);
	n += len;
	n += (size_t)sprintf(text + n, "%s192.0.2.0/24\n", eol);
	fp = fmemopen(text, n, "r");
	cr_assert_not_null(fp, "fmemopen");
	error = rtfile_load_stream(
	    fp, RTFILE_TABLE, RTFILE_KEEPGOING, collect_cb, &c, NULL);
	fclose(fp);
	free(text);
	*routes = c.n;
	return error;
}

/*
 * RTFILE_LINE_MAX at the edges of the loader's 64 KiB reads
 * (route_file.c): a line of exactly the limit loads and one byte more is
 * E2BIG, with LF or CRLF, wherever the line falls against a read's end;
 * the next line loads either way.
 */
Test(route_file, load_stream_line_limit_at_read_edges)
{
	static const size_t ats[] = {0, 65536 - 259, 65536 - 258, 65536 - 257,
	    65536 - 256, 65536 - 255, 65536 - 128, 65536 - 1, 65536};
	static const char *const eols[] = {"\n", "\r\n"};

	for (size_t i = 0; i < sizeof(ats) / sizeof(ats[0]); i++)
		for (size_t len = RTFILE_LINE_MAX - 1;
		     len <= RTFILE_LINE_MAX + 1; len++)
			for (size_t k = 0; k < 2; k++) {
				size_t routes;
				int error = stream_line_at(
				    ats[i], len, eols[k], &routes);
				bool over = len > RTFILE_LINE_MAX;

				cr_assert_eq(error, over ? E2BIG : 0,
				    "line of %zu bytes at %zu, %s: %d", len,
				    ats[i], k ? "CRLF" : "LF", error);
				cr_assert_eq(routes, over ? 1u : 2u,
				    "line of %zu bytes at %zu, %s: %zu routes",
				    len, ats[i], k ? "CRLF" : "LF", routes);
			}
}

/* --- generators --------------------------------------------------------- */

static int
prefix_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct rtgen_route *)a)->rg_dst,
	    &((const struct rtgen_route *)b)->rg_dst,
	    sizeof(struct rtfile_prefix));
}

/* Whether b lies inside a (a no longer than b). */
static int
contains(const struct rtfile_prefix *a, const struct rtfile_prefix *b)
{
	unsigned bits = a->rp_plen;

	if (a->rp_plen > b->rp_plen)
		return 0;
	for (unsigned i = 0; i < bits / 8; i++)
		if (a->rp_addr[i] != b->rp_addr[i])
			return 0;
	if (bits % 8) {
		uint8_t m = (uint8_t)(0xff00u >> (bits % 8));

		if ((a->rp_addr[bits / 8] & m) != (b->rp_addr[bits / 8] & m))
			return 0;
	}
	return 1;
}

/* Whether a covers b (a shorter, b inside a). */
static int
covers(const struct rtfile_prefix *a, const struct rtfile_prefix *b)
{
	return a->rp_plen < b->rp_plen && contains(a, b);
}

/* Distribution, uniqueness, clean host bits, nesting, for one family. */
static void
check_table(int family, size_t n)
{
	struct rtgen_route *rt, *sorted;
	size_t count[129] = {0}, nested = 0, bytes = family == AF_INET ? 4 : 16;
	double sum = 0;

	cr_assert_eq(rtgen_table(family, n, 500, 42, &rt), 0, "generate");
	for (size_t i = 0; i < n; i++) {
		struct rtfile_prefix p = rt[i].rg_dst;
		unsigned plen = p.rp_plen;

		cr_assert_eq(p.rp_family, family, "family");
		cr_assert_lt(rt[i].rg_nexthop, 500u, "next hop");
		cr_assert(i == 0 || rt[i - 1].rg_dst.rp_plen <= plen,
		    "ordered by length");
		for (size_t b = 0; b < 16; b++) {
			unsigned keep =
			    plen > 8 * b ? plen - 8 * (unsigned)b : 0;
			uint8_t mask =
			    keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);

			cr_assert_eq(p.rp_addr[b] & ~mask, 0, "host bits");
			cr_assert(b < bytes || p.rp_addr[b] == 0, "tail zero");
		}
		if (family == AF_INET)
			cr_assert(p.rp_addr[0] >= 1 && p.rp_addr[0] <= 223 &&
			              p.rp_addr[0] != 10 && p.rp_addr[0] != 127,
			    "v4 space");
		else
			cr_assert_eq(p.rp_addr[0] & 0xe0, 0x20, "2000::/3");
		count[plen]++;
	}
	for (unsigned l = 0; l <= 128; l++) {
		double want = rtgen_share(family, l) * (double)n;

		sum += rtgen_share(family, l);
		cr_assert(
		    count[l] + 0.0 >= want - 1 && count[l] + 0.0 <= want + 1,
		    "/%u: %zu, want %.1f", l, count[l], want);
	}
	cr_assert(sum > 0.99999 && sum < 1.00001, "shares sum to %f", sum);
	if (family == AF_INET) {
		size_t le24 = 0;

		for (unsigned l = 0; l <= 24; l++)
			le24 += count[l];
		cr_assert(count[24] > n * 53 / 100 && count[24] < n * 56 / 100,
		    "/24 share");
		cr_assert(
		    le24 > n * 95 / 100 && le24 < n * 97 / 100, "<= /24 share");
	} else {
		for (unsigned l = 0; l <= 128; l++)
			cr_assert(l == 48 || count[l] < count[48], "/48 first");
		for (unsigned l = 0; l <= 128; l++)
			cr_assert(l == 48 || l == 32 || count[l] < count[32],
			    "/32 second");
	}

	/* Unique: no two equal after sorting. */
	sorted = malloc(n * sizeof(*sorted));
	cr_assert_not_null(sorted, "out of memory");
	memcpy(sorted, rt, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), prefix_cmp);
	for (size_t i = 1; i < n; i++)
		cr_assert_neq(prefix_cmp(&sorted[i - 1], &sorted[i]), 0,
		    "duplicate prefix at %zu", i);
	free(sorted);

	/* Nesting: sample 500 routes, look for a covering one. */
	for (size_t k = 0; k < 500; k++) {
		const struct rtfile_prefix *p = &rt[(k * 7919) % n].rg_dst;

		for (size_t j = 0; j < n && rt[j].rg_dst.rp_plen < p->rp_plen;
		     j++)
			if (covers(&rt[j].rg_dst, p)) {
				nested++;
				break;
			}
	}
	cr_assert_gt(nested, 500 * 20 / 100, "nested: %zu of 500", nested);
	free(rt);
}

Test(route_file, table_v4)
{
	check_table(AF_INET, 200000);
}

Test(route_file, table_v6)
{
	check_table(AF_INET6, 100000);
}

Test(route_file, table_determinism_and_errors)
{
	struct rtgen_route *a, *b, *c;

	cr_assert_eq(rtgen_table(AF_INET, 50000, 16, 7, &a), 0, "a");
	cr_assert_eq(rtgen_table(AF_INET, 50000, 16, 7, &b), 0, "b");
	cr_assert_eq(rtgen_table(AF_INET, 50000, 16, 8, &c), 0, "c");
	cr_assert(
	    memcmp(a, b, 50000 * sizeof(*a)) == 0, "same seed, same table");
	cr_assert(memcmp(a, c, 50000 * sizeof(*a)) != 0, "other seed");
	free(a);
	free(b);
	free(c);

	cr_assert_eq(rtgen_table(AF_UNIX, 10, 1, 0, &a), EINVAL, "family");
	cr_assert_eq(rtgen_table(AF_INET, 0, 1, 0, &a), EINVAL, "n = 0");
	cr_assert_eq(rtgen_table(AF_INET, 10, 0, 0, &a), EINVAL, "no hops");
	cr_assert_eq(rtgen_table(AF_INET, 3000000, 1, 0, &a), EINVAL,
	    "more than the distribution holds");
	cr_assert_eq(rtgen_table(AF_INET, 10, 1, 0, NULL), EINVAL, "NULL");

	/* A tiny table still has every prefix valid and unique. */
	cr_assert_eq(rtgen_table(AF_INET6, 3, 1, 1, &a), 0, "tiny");
	cr_assert_neq(prefix_cmp(&a[0], &a[1]), 0, "distinct");
	free(a);
}

/*
 * The documented table sizes: 1,860,000 IPv4 prefixes (the /12s run out
 * just above), 4,000,000 IPv6 ones (the largest in table_limit_v6).
 */
Test(route_file, table_limits)
{
	struct rtgen_route *rt;

	cr_assert_eq(
	    rtgen_table(AF_INET, RTGEN_MAX_INET, 1, 3, &rt), 0, "v4 max");
	free(rt);
	cr_assert_eq(rtgen_table(AF_INET, RTGEN_MAX_INET + 1, 1, 3, &rt),
	    EINVAL, "v4 past the limit");
	cr_assert_eq(rtgen_table(AF_INET6, RTGEN_MAX_INET6 + 1, 1, 3, &rt),
	    EINVAL, "v6 past the limit");
}

Test(route_file, table_limit_v6)
{
	struct rtgen_route *rt;

	cr_assert_eq(
	    rtgen_table(AF_INET6, RTGEN_MAX_INET6, 1, 3, &rt), 0, "v6 max");
	free(rt);
}

/* At most 2^22 - 1 next hops, so that every index has an address. */
Test(route_file, table_nexthops_limit)
{
	const uint32_t hops_max = (UINT32_C(1) << 22) - 1;
	struct rtgen_route *rt;
	uint8_t hop[16];

	cr_assert_eq(rtgen_table(AF_INET, 5000, hops_max, 4, &rt), 0, "hops");
	for (size_t i = 0; i < 5000; i++) {
		cr_assert_lt(rt[i].rg_nexthop, hops_max, "index");
		cr_assert_eq(rtgen_nexthop(AF_INET, rt[i].rg_nexthop, hop), 0,
		    "index %u has an address", (unsigned)rt[i].rg_nexthop);
		cr_assert_eq(rtgen_nexthop(AF_INET6, rt[i].rg_nexthop, hop), 0,
		    "index %u has an IPv6 address", (unsigned)rt[i].rg_nexthop);
	}
	cr_assert_eq(rtgen_nexthop(AF_INET, hops_max - 1, hop), 0, "last");
	cr_assert_eq(rtgen_nexthop(AF_INET, hops_max, hop), EINVAL, "past");
	errno = 0;
	cr_assert_null(rtgen_churn_create(rt, 5000, hops_max + 1, 1), "churn");
	cr_assert_eq(errno, EINVAL, "churn: EINVAL");
	free(rt);
	cr_assert_eq(rtgen_table(AF_INET, 10, hops_max + 1, 4, &rt), EINVAL,
	    "more next hops than rtgen_nexthop() maps");
	cr_assert_eq(rtgen_table(AF_INET6, 10, UINT32_C(1) << 24, 4, &rt),
	    EINVAL, "2^24 next hops");
}

/*
 * Limits at their bounds, both sides: the largest timestamp (2^64 - 1
 * seconds and 9 decimals) parses and one more second is ERANGE;
 * rtfile_format_prefix() fits in exactly its length plus the terminator
 * and is ENOSPC one byte short, the longest prefix text fits in the 64
 * bytes promised, and a length one past the family's is EINVAL; the last
 * next-hop index (2^22 - 2) maps to the last address of its block in
 * both families and 2^22 - 1 is EINVAL; rtgen_churn_create() takes
 * exactly 2^22 - 1 next hops.
 */
Test(route_file, limits_at_their_bounds)
{
	const uint32_t hops_max = (UINT32_C(1) << 22) - 1;
	struct rtfile_record r;
	struct rtfile_prefix p;
	struct rtgen_route *rt;
	struct rtgen_churn *ch;
	char buf[80];
	uint8_t hop[16], want6[16];

	/* Timestamps. */
	cr_assert_eq(parse("18446744073709551615.999999999 w 10.0.0.0/8",
	                 RTFILE_TRACE, 0, &r),
	    0, "largest timestamp");
	cr_assert_eq(r.rr_sec, UINT64_MAX, "sec");
	cr_assert_eq(r.rr_nsec, 999999999u, "nsec");
	cr_assert_eq(
	    parse("18446744073709551616 w 10.0.0.0/8", RTFILE_TRACE, 0, &r),
	    ERANGE, "one second past");

	/* rtfile_format_prefix(): exact fit, one byte short. */
	memset(&p, 0, sizeof(p));
	p.rp_family = AF_INET;
	p.rp_plen = 32;
	memset(p.rp_addr, 0xff, 4);
	cr_assert_eq(rtfile_format_prefix(&p, buf, 19), 18, "exact fit");
	cr_assert_eq(strcmp(buf, "255.255.255.255/32"), 0, "%s", buf);
	errno = 0;
	cr_assert_eq(rtfile_format_prefix(&p, buf, 18), -1, "one short");
	cr_assert_eq(errno, ENOSPC, "one short: ENOSPC");
	p.rp_plen = 33;
	errno = 0;
	cr_assert_eq(rtfile_format_prefix(&p, buf, 64), -1, "/33");
	cr_assert_eq(errno, EINVAL, "/33: EINVAL");
	p.rp_family = AF_INET6;
	p.rp_plen = 128;
	memset(p.rp_addr, 0xff, 16);
	cr_assert_eq(rtfile_format_prefix(&p, buf, 64), 43, "longest text");
	cr_assert_eq(strcmp(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
	    0, "%s", buf);
	p.rp_plen = 129;
	errno = 0;
	cr_assert_eq(rtfile_format_prefix(&p, buf, 64), -1, "/129");
	cr_assert_eq(errno, EINVAL, "/129: EINVAL");

	/* The last next-hop index and the first past it. */
	cr_assert_eq(rtgen_nexthop(AF_INET, hops_max - 1, hop), 0, "last v4");
	cr_assert_eq(memcmp(hop, (uint8_t[]){100, 127, 255, 255}, 4), 0,
	    "the last v4 index is the last address of 100.64.0.0/10");
	cr_assert_eq(rtgen_nexthop(AF_INET, hops_max, hop), EINVAL, "past v4");
	cr_assert_eq(rtgen_nexthop(AF_INET6, hops_max - 1, hop), 0, "last v6");
	inet_pton(AF_INET6, "2001:db8:ffff::3f:ffff", want6);
	cr_assert_eq(memcmp(hop, want6, 16), 0, "last v6 address");
	cr_assert_eq(rtgen_nexthop(AF_INET6, hops_max, hop), EINVAL, "past v6");

	/* rtgen_churn_create() at its largest next-hop count. */
	cr_assert_eq(rtgen_table(AF_INET, 64, 4, 5, &rt), 0, "gen");
	ch = rtgen_churn_create(rt, 64, hops_max, 6);
	cr_assert_not_null(ch, "2^22 - 1 next hops refused");
	for (int k = 0; k < 1000; k++) {
		struct rtgen_update u;

		rtgen_churn_next(ch, &u);
		if (u.ru_op != RTGEN_DELETE)
			cr_assert_lt(u.ru_nexthop, hops_max, "next hop");
	}
	rtgen_churn_destroy(ch);
	errno = 0;
	cr_assert_null(rtgen_churn_create(rt, 64, hops_max + 1, 6), "past");
	cr_assert_eq(errno, EINVAL, "past: EINVAL");
	free(rt);
}

/*
 * The byte classes at their edges, every byte value: in a line, a
 * control character (below 0x20, tab excepted), DEL (0x7f) and anything
 * from 0x80 up is EILSEQ; in a comment, 0x80 and up is allowed and the
 * rest of the rule holds.  So 0x1f is refused and 0x20 not, 0x7e not and
 * 0x7f refused, 0x80 refused only outside a comment.
 */
Test(route_file, byte_classes_at_their_edges)
{
	struct rtfile_record r;

	for (unsigned b = 0; b < 256; b++) {
		char line[32], comment[32];
		bool control = (b < 0x20 && b != '\t') || b == 0x7f;
		int error;

		memcpy(line, "1.0.0.0/24 ", 11);
		line[11] = (char)b;
		line[12] = 'x';
		error = rtfile_parse_line(line, 13, RTFILE_TABLE, 0, &r);
		if (control || b >= 0x80)
			cr_assert_eq(error, EILSEQ, "byte 0x%02x in a line: %d",
			    b, error);
		else
			cr_assert_neq(
			    error, EILSEQ, "byte 0x%02x in a line", b);

		memcpy(comment, "1.0.0.0/24 # c", 14);
		comment[14] = (char)b;
		comment[15] = 'x';
		error = rtfile_parse_line(comment, 16, RTFILE_TABLE, 0, &r);
		cr_assert_eq(error, control ? EILSEQ : 0,
		    "byte 0x%02x in a comment: %d", b, error);
	}
}

Test(route_file, format_round_trip)
{
	struct rtgen_route *rt;
	char line[160], gw[64];
	struct rtfile_record r;

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		cr_assert_eq(rtgen_table(family, 5000, 64, 3, &rt), 0, "gen");
		for (size_t i = 0; i < 5000; i++) {
			uint8_t hop[16] = {0};
			int n;

			cr_assert_eq(
			    rtgen_nexthop(family, rt[i].rg_nexthop, hop), 0,
			    "next hop");
			n = rtfile_format_prefix(&rt[i].rg_dst, line, 64);
			cr_assert_gt(n, 0, "format");
			cr_assert_not_null(
			    inet_ntop(family, hop, gw, sizeof(gw)), "ntop");
			snprintf(
			    line + n, sizeof(line) - (size_t)n, " %s\n", gw);
			cr_assert_eq(parse(line, RTFILE_TABLE, 0, &r), 0,
			    "parse back '%s'", line);
			cr_assert(memcmp(&r.rr_dst, &rt[i].rg_dst,
			              sizeof(r.rr_dst)) == 0,
			    "same prefix '%s'", line);
			cr_assert(
			    memcmp(r.rr_gateway, hop, 16) == 0, "same hop");
		}
		free(rt);
	}
	{
		struct rtfile_prefix p = {.rp_family = AF_INET, .rp_plen = 33};

		cr_assert_eq(rtfile_format_prefix(&p, line, 64), -1, "plen");
		p.rp_plen = 8;
		cr_assert_eq(rtfile_format_prefix(&p, line, 4), -1, "size");
		cr_assert_eq(errno, ENOSPC, "ENOSPC");
	}
	cr_assert_eq(
	    rtgen_nexthop(AF_UNIX, 0, (uint8_t *)line), EINVAL, "family");
}

Test(route_file, lookups)
{
	struct rtgen_route *rt;
	size_t n = 20000, count = 2000, hits = 0;
	uint8_t *addrs = malloc(count * 4);

	cr_assert_not_null(addrs, "out of memory");
	cr_assert_eq(rtgen_table(AF_INET, n, 8, 5, &rt), 0, "gen");
	cr_assert_eq(rtgen_lookups(rt, n, count, 100, 9, addrs), 0, "hits");
	for (size_t i = 0; i < count; i++) {
		struct rtfile_prefix a = {.rp_family = AF_INET, .rp_plen = 32};

		memcpy(a.rp_addr, addrs + 4 * i, 4);
		for (size_t j = 0; j < n; j++)
			if (contains(&rt[j].rg_dst, &a)) {
				hits++;
				break;
			}
	}
	cr_assert_eq(hits, count, "every address of a 100%% mix hits");
	cr_assert_eq(
	    rtgen_lookups(rt, n, count, 101, 9, addrs), EINVAL, "percent");
	cr_assert_eq(
	    rtgen_lookups(NULL, n, count, 50, 9, addrs), EINVAL, "NULL");
	free(rt);
	free(addrs);
}

Test(route_file, churn_stays_valid)
{
	struct rtgen_route *rt;
	struct rtgen_churn *ch;
	size_t n = 1000, present, counts[4] = {0};
	uint8_t *state = malloc(n);
	uint32_t *hop = malloc(n * sizeof(*hop));

	cr_assert(state != NULL && hop != NULL, "out of memory");
	cr_assert_eq(rtgen_table(AF_INET, n, 4, 11, &rt), 0, "gen");
	memset(state, 1, n);
	for (size_t i = 0; i < n; i++)
		hop[i] = rt[i].rg_nexthop;
	present = n;
	ch = rtgen_churn_create(rt, n, 4, 12);
	cr_assert_not_null(ch, "create");
	for (int k = 0; k < 100000; k++) {
		struct rtgen_update u;

		rtgen_churn_next(ch, &u);
		cr_assert_lt(u.ru_index, n, "index");
		counts[u.ru_op]++;
		switch (u.ru_op) {
		case RTGEN_ADD:
			cr_assert_eq(state[u.ru_index], 0, "add of a present");
			state[u.ru_index] = 1;
			present++;
			break;
		case RTGEN_DELETE:
			cr_assert_eq(state[u.ru_index], 1, "delete of absent");
			state[u.ru_index] = 0;
			present--;
			break;
		case RTGEN_CHANGE:
			cr_assert_eq(state[u.ru_index], 1, "change of absent");
			cr_assert_neq(u.ru_nexthop, hop[u.ru_index],
			    "change to the same hop");
			cr_assert_lt(u.ru_nexthop, 4u, "hop range");
			hop[u.ru_index] = u.ru_nexthop;
			break;
		default:
			cr_assert(0, "bad op %d", (int)u.ru_op);
		}
		cr_assert_geq(present, n - n / 8, "deleted set bounded");
	}
	for (int op = RTGEN_ADD; op <= RTGEN_CHANGE; op++)
		cr_assert_gt(counts[op], 20000u, "op %d: %zu", op, counts[op]);
	rtgen_churn_destroy(ch);
	rtgen_churn_destroy(NULL);
	cr_assert_null(rtgen_churn_create(rt, 0, 4, 1), "n = 0");
	cr_assert_eq(errno, EINVAL, "EINVAL");
	free(rt);
	free(state);
	free(hop);
}

/*
 * The smallest stream: 8 routes (so that up to n / 8 = 1 can be deleted)
 * and 2 next hops (so that a change has one to go to).  Smaller ones are
 * refused; the smallest still has all three kinds of update, and every
 * change changes the next hop.
 */
Test(route_file, churn_smallest)
{
	struct rtgen_route *rt;
	struct rtgen_churn *ch;
	size_t counts[4] = {0};
	uint32_t hop[8];
	uint8_t state[8];

	cr_assert_eq(rtgen_table(AF_INET, 8, 2, 21, &rt), 0, "gen");
	errno = 0;
	cr_assert_null(rtgen_churn_create(rt, 7, 2, 1), "n = 7");
	cr_assert_eq(errno, EINVAL, "n = 7: EINVAL");
	errno = 0;
	cr_assert_null(rtgen_churn_create(rt, 8, 1, 1), "one next hop");
	cr_assert_eq(errno, EINVAL, "one next hop: EINVAL");
	errno = 0;
	cr_assert_null(rtgen_churn_create(NULL, 8, 2, 1), "NULL");
	cr_assert_eq(errno, EINVAL, "NULL: EINVAL");

	ch = rtgen_churn_create(rt, 8, 2, 22);
	cr_assert_not_null(ch, "create");
	memset(state, 1, sizeof(state));
	for (size_t i = 0; i < 8; i++)
		hop[i] = rt[i].rg_nexthop;
	for (int k = 0; k < 10000; k++) {
		struct rtgen_update u;

		rtgen_churn_next(ch, &u);
		cr_assert_lt(u.ru_index, 8u, "index");
		counts[u.ru_op]++;
		switch (u.ru_op) {
		case RTGEN_ADD:
			cr_assert_eq(state[u.ru_index], 0, "add of a present");
			cr_assert_eq(
			    u.ru_nexthop, hop[u.ru_index], "re-add's hop");
			state[u.ru_index] = 1;
			break;
		case RTGEN_DELETE:
			cr_assert_eq(state[u.ru_index], 1, "delete of absent");
			state[u.ru_index] = 0;
			break;
		case RTGEN_CHANGE:
			cr_assert_eq(state[u.ru_index], 1, "change of absent");
			cr_assert_neq(u.ru_nexthop, hop[u.ru_index],
			    "change to the same hop");
			cr_assert_lt(u.ru_nexthop, 2u, "hop range");
			hop[u.ru_index] = u.ru_nexthop;
			break;
		default:
			cr_assert(0, "bad op %d", (int)u.ru_op);
		}
	}
	/* Expected shares at n = 8: 25% changes, 37.5% deletes and adds. */
	cr_assert(counts[RTGEN_CHANGE] > 2000 && counts[RTGEN_CHANGE] < 3000,
	    "changes: %zu", counts[RTGEN_CHANGE]);
	cr_assert_gt(counts[RTGEN_DELETE], 3000u, "deletes");
	cr_assert_gt(counts[RTGEN_ADD], 3000u, "re-adds");
	rtgen_churn_destroy(ch);
	free(rt);
}

/*
 * Mutated lines (random bytes replaced, inserted, cut), each in a buffer
 * of exactly its length: the parser returns 0 or one of its documented
 * errors, and (under ASan) never reads outside the buffer.
 */
Test(route_file, mutated_lines)
{
	static const char *seeds[] = {
	    "1.0.0.0/24 203.0.113.1\n",
	    "2001:db8::/32 2001:db8::1 # x\n",
	    "1700000000.5 a 198.51.100.0/24 203.0.113.9\n",
	    "17 w 2001:db8:1::/48\n",
	};
	static const char alphabet[] = "0123456789abcdef:./# \taw\n\r\0x";
	uint64_t rng = 12345;

	for (int iter = 0; iter < 200000; iter++) {
		const char *seed = seeds[iter % 4];
		char line[96];
		size_t len = strlen(seed);
		struct rtfile_record r;
		char *b;
		int error;

		memcpy(line, seed, len);
		for (int m = 0; m < 1 + iter % 3; m++) {
			size_t at;

			rng = rng * 6364136223846793005u + 1442695040888963407u;
			at = (size_t)(rng >> 33) % (len + 1);
			switch ((rng >> 20) % 3) {
			case 0: /* replace */
				if (at < len)
					line[at] =
					    alphabet[(rng >> 8) %
					             (sizeof(alphabet) - 1)];
				break;
			case 1: /* insert */
				if (len < sizeof(line) - 1) {
					memmove(
					    line + at + 1, line + at, len - at);
					line[at] =
					    alphabet[(rng >> 8) %
					             (sizeof(alphabet) - 1)];
					len++;
				}
				break;
			default: /* cut */
				len = at;
				break;
			}
		}
		b = malloc(len > 0 ? len : 1);
		cr_assert_not_null(b, "out of memory");
		memcpy(b, line, len);
		error = rtfile_parse_line(
		    b, len, iter % 4 < 2 ? RTFILE_TABLE : RTFILE_TRACE, 0, &r);
		cr_assert(error == 0 || error == EINVAL || error == ERANGE ||
		              error == EAFNOSUPPORT || error == EILSEQ ||
		              error == E2BIG,
		    "iteration %d: error %d", iter, error);
		if (error == 0 && r.rr_kind != RTFILE_EMPTY)
			cr_assert(r.rr_dst.rp_family == AF_INET ||
			              r.rr_dst.rp_family == AF_INET6,
			    "family");
		free(b);
	}
}

#ifdef MPSAFE_FAULT_INJECTION
/*
 * Fail a call's 1st, 2nd ... allocation in turn until it makes fewer and
 * succeeds: each failure must be ENOMEM (rtgen_churn_create(): NULL and
 * errno ENOMEM), and nothing may leak.  At least one failure must have
 * been injected, i.e. the call allocates through mpsafe/alloc.h.
 */
static int
load_count(const struct rtfile_record *rec, void *arg)
{
	(void)rec;
	(*(size_t *)arg)++;
	return 0;
}

Test(route_file, allocation_failures)
{
	static const char text[] = "1.0.0.0/24 203.0.113.1\n2.0.0.0/8\n";
	unsigned nth, failures;

	/* rtgen_table(). */
	for (nth = 1, failures = 0;; nth++) {
		struct rtgen_route *rt = NULL;
		unsigned made;
		int error;

		mpsafe_fault_alloc_fail_nth(nth);
		error = rtgen_table(AF_INET, 1000, 4, 1, &rt);
		made = mpsafe_fault_alloc_count();
		mpsafe_fault_alloc_fail_nth(0);
		if (made < nth) {
			cr_assert_eq(error, 0, "rtgen_table: %d", error);
			free(rt);
			break;
		}
		cr_assert_eq(error, ENOMEM, "rtgen_table, allocation %u: %d",
		    nth, error);
		failures++;
	}
	cr_assert_gt(failures, 0u, "rtgen_table allocates through alloc.h");

	/* rtgen_churn_create(). */
	{
		struct rtgen_route *rt;

		cr_assert_eq(rtgen_table(AF_INET, 1000, 4, 1, &rt), 0, "gen");
		for (nth = 1, failures = 0;; nth++) {
			struct rtgen_churn *ch;
			unsigned made;

			errno = 0;
			mpsafe_fault_alloc_fail_nth(nth);
			ch = rtgen_churn_create(rt, 1000, 4, 2);
			made = mpsafe_fault_alloc_count();
			mpsafe_fault_alloc_fail_nth(0);
			if (made < nth) {
				cr_assert_not_null(ch, "churn");
				rtgen_churn_destroy(ch);
				break;
			}
			cr_assert_null(ch, "churn, allocation %u", nth);
			cr_assert_eq(errno, ENOMEM, "churn: errno %d", errno);
			failures++;
		}
		cr_assert_gt(failures, 0u, "churn allocates through alloc.h");
		free(rt);
	}

	/* rtfile_load_stream(). */
	for (nth = 1, failures = 0;; nth++) {
		FILE *fp =
		    fmemopen((void *)(uintptr_t)text, sizeof(text) - 1, "r");
		size_t n = 0;
		unsigned made;
		int error;

		cr_assert_not_null(fp, "fmemopen");
		mpsafe_fault_alloc_fail_nth(nth);
		error = rtfile_load_stream(
		    fp, RTFILE_TABLE, 0, load_count, &n, NULL);
		made = mpsafe_fault_alloc_count();
		mpsafe_fault_alloc_fail_nth(0);
		fclose(fp);
		if (made < nth) {
			cr_assert_eq(error, 0, "load: %d", error);
			cr_assert_eq(n, 2u, "records");
			break;
		}
		cr_assert_eq(
		    error, ENOMEM, "load, allocation %u: %d", nth, error);
		cr_assert_eq(n, 0u, "no record before the failure");
		failures++;
	}
	cr_assert_gt(failures, 0u, "the loader allocates through alloc.h");
	assert_no_leak();
}
#endif /* MPSAFE_FAULT_INJECTION */
