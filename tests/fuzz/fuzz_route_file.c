/*
 * fuzz_route_file.c: libFuzzer harness of the route-file parser
 * (mpsafe/net/route_file.h).
 *
 * The input's first byte picks the format (bit 0: table or trace) and
 * the flags (bit 1: RTFILE_NORMALIZE); the rest is fed to
 * rtfile_load_buf() from a heap buffer of exactly its length, so that
 * AddressSanitizer reports a read past the end.  Every record the loader
 * accepts must survive a round trip: its prefix, written back out with
 * rtfile_format_prefix() and parsed as a table line, is the same prefix
 * with no host bits set; and the loader's counts must agree with the
 * callback's.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/route_file.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned long records;
	unsigned long last_line;
};

/* Whether the bits of p past its length are all zero. */
static int
host_bits_clear(const struct rtfile_prefix *p)
{
	unsigned bytes = p->rp_family == AF_INET ? 4 : 16;

	for (unsigned bit = p->rp_plen; bit < bytes * 8; bit++)
		if (p->rp_addr[bit / 8] & (0x80 >> (bit % 8)))
			return 0;
	return 1;
}

static int
check_record(const struct rtfile_record *rec, void *arg)
{
	struct seen *seen = arg;
	struct rtfile_record again;
	char text[64];
	int n;

	if (rec->rr_kind == RTFILE_EMPTY || rec->rr_line <= seen->last_line)
		abort(); /* empty records are not delivered; lines go up */
	seen->last_line = rec->rr_line;
	seen->records++;
	if (rec->rr_dst.rp_family != AF_INET &&
	    rec->rr_dst.rp_family != AF_INET6)
		abort();
	if (rec->rr_dst.rp_plen > (rec->rr_dst.rp_family == AF_INET ? 32 : 128))
		abort();
	if (!host_bits_clear(&rec->rr_dst))
		abort(); /* refused, or normalised: never kept */
	n = rtfile_format_prefix(&rec->rr_dst, text, sizeof(text));
	if (n <= 0 || (size_t)n >= sizeof(text))
		abort();
	if (rtfile_parse_line(text, (size_t)n, RTFILE_TABLE, 0, &again) != 0)
		abort(); /* what we print, we must read back */
	if (again.rr_kind != RTFILE_ROUTE ||
	    again.rr_dst.rp_family != rec->rr_dst.rp_family ||
	    again.rr_dst.rp_plen != rec->rr_dst.rp_plen ||
	    memcmp(again.rr_dst.rp_addr, rec->rr_dst.rp_addr,
	        rec->rr_dst.rp_family == AF_INET ? 4 : 16) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtfile_error err;
	struct seen seen = {0, 0};
	int format, error;
	unsigned flags;
	char *buf;

	if (size == 0)
		return 0;
	format = (data[0] & 1) ? RTFILE_TRACE : RTFILE_TABLE;
	flags = RTFILE_KEEPGOING | ((data[0] & 2) ? RTFILE_NORMALIZE : 0);
	buf = malloc(size - 1 > 0 ? size - 1 : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	error = rtfile_load_buf(
	    buf, size - 1, format, flags, check_record, &seen, &err);
	free(buf);
	/* Keep-going loads report the first bad line, and count them all. */
	if ((error != 0) != (err.re_bad != 0))
		abort();
	if (error != 0 && (err.re_error != error || err.re_line == 0 ||
	                      err.re_line > err.re_lines))
		abort();
	if (seen.records + err.re_bad > err.re_lines)
		abort();
	return 0;
}
