/*
 * route_file.c: the prefix-table and update-trace parser, and the
 * synthetic table, lookup and churn generators of route_file.h.
 *
 * Parser.  A line is checked as a whole before any field is read: after
 * dropping one trailing "\n" and then one "\r", it must be at most
 * RTFILE_LINE_MAX bytes (E2BIG), hold no control character but tabs
 * anywhere (EILSEQ: catches NUL bytes, DEL, stray carriage returns and
 * newlines inside the buffer) and no byte above 0x7f before its first
 * '#' (EILSEQ; the comment after it may hold any such byte, UTF-8 text
 * for one).  The part before the first '#' is then split into at most
 * five blank-separated fields; each field is a (pointer, length) pair
 * inside the line, copied into a small NUL-terminated stack buffer only
 * after its length has been checked, so no read ever goes
 * past buf[len - 1] and inet_pton() only sees bounded strings.
 * Invariant: a record is reported only when every field parsed and
 * nothing is left over.
 *
 * Loaders.  rtfile_load_buf() cuts the buffer at each '\n' (memchr) and
 * parses each piece; rtfile_load_stream() reads the stream in 64 KiB
 * chunks, keeps the unfinished last line at the front of its buffer and,
 * once that piece is longer than any acceptable line, reports it as
 * overlong (E2BIG) and discards input up to the next newline, so memory
 * stays bounded whatever the input.
 *
 * Generators.  Everything is drawn from a splitmix64 sequence seeded by
 * the caller, so equal arguments give equal output on every platform.
 * rtgen_table() turns the per-length shares below (per 100,000 entries)
 * into counts that sum to n (largest remainders), refuses a request
 * where some length would need more than half of its possible distinct
 * prefixes (so that rejection sampling always ends quickly; for IPv4 the
 * /12s bind first, past 1,861,488 prefixes, so the documented limit
 * RTGEN_MAX_INET sits just below that), and then
 * generates lengths in increasing order.  Each new prefix is, with
 * probability RTGEN_NEST_PERCENT, a random more-specific of a random
 * prefix generated earlier (hence strictly shorter), otherwise a random
 * prefix of the family's unicast space; an open-addressing hash set of
 * route indices rejects duplicates, after which the draw is repeated.
 * Invariants: every prefix has no host bits, all prefixes are distinct,
 * routes are ordered by length.
 *
 * The churn stream keeps, per route, whether it is present and its
 * current next hop, plus an array of the deleted ones (removal by swap
 * with the last).  It deletes a random present route, re-adds a random
 * deleted one or changes a present route's next hop to a different one;
 * the deleted set is kept between 0 and n / 8 routes, so a random index
 * is present with probability at least 7/8 and picking one ends quickly.
 * n >= 8 (so the bound is at least 1) and nexthops >= 2 (so a change has
 * a different next hop to go to) are checked at creation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/alloc.h>
#include <mpsafe/net/route_file.h>

/* Longest address text inet_pton() can accept, plus one. */
#define ADDR_TEXT_MAX 46

/* At most this many fields are looked at (trace: 4, one more is garbage). */
#define MAX_FIELDS 5

struct field {
	const char *f_ptr;
	size_t f_len;
};

static size_t
family_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

static unsigned
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Clear every bit of addr beyond plen; returns whether one was set. */
static bool
clear_host_bits(uint8_t *addr, size_t bytes, unsigned plen)
{
	bool had = false;

	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = plen > 8 * i ? plen - 8 * (unsigned)i : 0;
		uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);

		if (addr[i] & ~mask)
			had = true;
		addr[i] &= mask;
	}
	return had;
}

/* Parse an address field into addr (16 bytes); family out. */
static int
parse_addr(const struct field *f, int *family, uint8_t *addr)
{
	char text[ADDR_TEXT_MAX];

	if (f->f_len == 0 || f->f_len >= sizeof(text))
		return EINVAL;
	memcpy(text, f->f_ptr, f->f_len);
	text[f->f_len] = '\0';
	memset(addr, 0, 16);
	*family = memchr(text, ':', f->f_len) != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(*family, text, addr) != 1)
		return EINVAL;
	return 0;
}

/* Parse "address/length" into p. */
static int
parse_prefix(const struct field *f, unsigned flags, struct rtfile_prefix *p)
{
	const char *slash = memchr(f->f_ptr, '/', f->f_len);
	struct field a, l;
	unsigned plen = 0;
	int family, error;

	if (slash == NULL)
		return EINVAL;
	a.f_ptr = f->f_ptr;
	a.f_len = (size_t)(slash - f->f_ptr);
	l.f_ptr = slash + 1;
	l.f_len = f->f_len - a.f_len - 1;
	if ((error = parse_addr(&a, &family, p->rp_addr)) != 0)
		return error;
	if (l.f_len == 0 || (l.f_len > 1 && l.f_ptr[0] == '0'))
		return EINVAL;
	for (size_t i = 0; i < l.f_len; i++) {
		if (l.f_ptr[i] < '0' || l.f_ptr[i] > '9')
			return EINVAL;
		if (plen <= 1000)
			plen = plen * 10 + (unsigned)(l.f_ptr[i] - '0');
	}
	if (plen > family_bits(family))
		return ERANGE;
	if (clear_host_bits(p->rp_addr, family_bytes(family), plen) &&
	    !(flags & RTFILE_NORMALIZE))
		return EINVAL;
	p->rp_family = (uint8_t)family;
	p->rp_plen = (uint8_t)plen;
	return 0;
}

/* Parse "seconds[.fraction]" (fraction: 1 to 9 digits). */
static int
parse_time(const struct field *f, uint64_t *sec, uint32_t *nsec)
{
	size_t i = 0, digits = 0;
	uint64_t s = 0;
	uint32_t ns = 0;

	for (; i < f->f_len && f->f_ptr[i] >= '0' && f->f_ptr[i] <= '9'; i++) {
		unsigned d = (unsigned)(f->f_ptr[i] - '0');

		if (s > (UINT64_MAX - d) / 10)
			return ERANGE;
		s = s * 10 + d;
	}
	if (i == 0)
		return EINVAL;
	if (i < f->f_len) {
		if (f->f_ptr[i++] != '.')
			return EINVAL;
		for (; i < f->f_len; i++, digits++) {
			if (f->f_ptr[i] < '0' || f->f_ptr[i] > '9' ||
			    digits == 9)
				return EINVAL;
			ns = ns * 10 + (uint32_t)(f->f_ptr[i] - '0');
		}
		if (digits == 0)
			return EINVAL;
		for (; digits < 9; digits++)
			ns *= 10;
	}
	*sec = s;
	*nsec = ns;
	return 0;
}

/* Parse the next hop into rec; it must be of the prefix's family. */
static int
parse_gateway(const struct field *f, struct rtfile_record *rec)
{
	int family, error;

	if ((error = parse_addr(f, &family, rec->rr_gateway)) != 0)
		return error;
	if (family != rec->rr_dst.rp_family)
		return EAFNOSUPPORT;
	rec->rr_has_gateway = 1;
	return 0;
}

int
rtfile_parse_line(const char *buf, size_t len, int format, unsigned flags,
    struct rtfile_record *rec)
{
	struct field fld[MAX_FIELDS];
	size_t nf = 0, i, end;
	int error;

	if (buf == NULL || rec == NULL ||
	    (format != RTFILE_TABLE && format != RTFILE_TRACE) ||
	    (flags & ~(RTFILE_NORMALIZE | RTFILE_KEEPGOING)) != 0)
		return EINVAL;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > RTFILE_LINE_MAX)
		return E2BIG;
	end = len;
	{
		const char *hash = memchr(buf, '#', len);

		if (hash != NULL)
			end = (size_t)(hash - buf);
	}
	/* Control characters nowhere; non-ASCII only in the comment. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f ||
		    (c > 0x7f && i < end))
			return EILSEQ;
	}

	rec->rr_kind = RTFILE_EMPTY;
	memset(&rec->rr_dst, 0, sizeof(rec->rr_dst));
	rec->rr_has_gateway = 0;
	memset(rec->rr_gateway, 0, sizeof(rec->rr_gateway));
	rec->rr_sec = 0;
	rec->rr_nsec = 0;

	for (i = 0; i < end;) {
		size_t start;

		while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i == end)
			break;
		start = i;
		while (i < end && buf[i] != ' ' && buf[i] != '\t')
			i++;
		if (nf == MAX_FIELDS)
			return EINVAL;
		fld[nf].f_ptr = buf + start;
		fld[nf].f_len = i - start;
		nf++;
	}
	if (nf == 0)
		return 0;

	if (format == RTFILE_TABLE) {
		if (nf > 2)
			return EINVAL;
		if ((error = parse_prefix(&fld[0], flags, &rec->rr_dst)) != 0)
			return error;
		if (nf == 2 && (error = parse_gateway(&fld[1], rec)) != 0)
			return error;
		rec->rr_kind = RTFILE_ROUTE;
		return 0;
	}

	/* RTFILE_TRACE: timestamp a|w prefix [next-hop] */
	if (nf < 3 || nf > 4)
		return EINVAL;
	if ((error = parse_time(&fld[0], &rec->rr_sec, &rec->rr_nsec)) != 0)
		return error;
	if (fld[1].f_len != 1 ||
	    (fld[1].f_ptr[0] != 'a' && fld[1].f_ptr[0] != 'w'))
		return EINVAL;
	if ((error = parse_prefix(&fld[2], flags, &rec->rr_dst)) != 0)
		return error;
	if (fld[1].f_ptr[0] == 'a') {
		if (nf != 4)
			return EINVAL;
		if ((error = parse_gateway(&fld[3], rec)) != 0)
			return error;
		rec->rr_kind = RTFILE_ANNOUNCE;
	} else {
		if (nf != 3)
			return EINVAL;
		rec->rr_kind = RTFILE_WITHDRAW;
	}
	return 0;
}

/* --- loaders ------------------------------------------------------------ */

struct loader {
	int l_format;
	unsigned l_flags;
	int (*l_cb)(const struct rtfile_record *, void *);
	void *l_arg;
	struct rtfile_error l_err;
};

/*
 * One line (error already known if error != 0).  Returns 0 to go on, or
 * the value the load returns.
 */
static int
loader_line(struct loader *ld, const char *line, size_t len, int error)
{
	struct rtfile_record rec;

	ld->l_err.re_lines++;
	if (error == 0)
		error = rtfile_parse_line(
		    line, len, ld->l_format, ld->l_flags, &rec);
	if (error != 0) {
		if (ld->l_err.re_bad++ == 0) {
			ld->l_err.re_error = error;
			ld->l_err.re_line = ld->l_err.re_lines;
		}
		return (ld->l_flags & RTFILE_KEEPGOING) ? 0 : error;
	}
	if (rec.rr_kind == RTFILE_EMPTY)
		return 0;
	rec.rr_line = ld->l_err.re_lines;
	return ld->l_cb(&rec, ld->l_arg);
}

static int
loader_init(struct loader *ld, int format, unsigned flags,
    int (*cb)(const struct rtfile_record *, void *), void *arg)
{
	if (cb == NULL || (format != RTFILE_TABLE && format != RTFILE_TRACE) ||
	    (flags & ~(RTFILE_NORMALIZE | RTFILE_KEEPGOING)) != 0)
		return EINVAL;
	memset(ld, 0, sizeof(*ld));
	ld->l_format = format;
	ld->l_flags = flags;
	ld->l_cb = cb;
	ld->l_arg = arg;
	return 0;
}

static int
loader_done(struct loader *ld, int rv, struct rtfile_error *err)
{
	if (err != NULL)
		*err = ld->l_err;
	if (rv == 0 && (ld->l_flags & RTFILE_KEEPGOING))
		rv = ld->l_err.re_error;
	return rv;
}

int
rtfile_load_buf(const char *buf, size_t len, int format, unsigned flags,
    int (*cb)(const struct rtfile_record *, void *), void *arg,
    struct rtfile_error *err)
{
	struct loader ld;
	size_t pos = 0;
	int rv = 0;

	if ((buf == NULL && len > 0) ||
	    loader_init(&ld, format, flags, cb, arg) != 0)
		return EINVAL;
	while (pos < len && rv == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n =
		    nl != NULL ? (size_t)(nl - (buf + pos)) + 1 : len - pos;

		rv = loader_line(&ld, buf + pos, n, 0);
		pos += n;
	}
	return loader_done(&ld, rv, err);
}

#define STREAM_CHUNK 65536

int
rtfile_load_stream(FILE *fp, int format, unsigned flags,
    int (*cb)(const struct rtfile_record *, void *), void *arg,
    struct rtfile_error *err)
{
	struct loader ld;
	char *buf;
	size_t have = 0;
	bool skipping = false, eof = false;
	int rv = 0, cs;

	if (fp == NULL || loader_init(&ld, format, flags, cb, arg) != 0)
		return EINVAL;
	buf = mpsafe_malloc(STREAM_CHUNK);
	if (buf == NULL)
		return ENOMEM;
	/* Not a cancellation point, cb included (it would leak buf). */
	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	while (rv == 0 && !eof) {
		size_t got = fread(buf + have, 1, STREAM_CHUNK - have, fp),
		       pos = 0;

		if (got == 0) {
			if (ferror(fp)) {
				rv = EIO;
				break;
			}
			eof = true;
		}
		have += got;
		/* Complete lines. */
		while (rv == 0 && pos < have) {
			const char *nl = memchr(buf + pos, '\n', have - pos);
			size_t n;

			if (nl == NULL)
				break;
			n = (size_t)(nl - (buf + pos)) + 1;
			if (skipping)
				skipping = false; /* end of the overlong line */
			else
				rv = loader_line(&ld, buf + pos, n, 0);
			pos += n;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		if (rv != 0)
			break;
		/* An unfinished line already too long for any record. */
		if (have > RTFILE_LINE_MAX + 1) {
			if (!skipping)
				rv = loader_line(&ld, buf, have, E2BIG);
			skipping = true;
			have = 0;
		}
		if (eof && have > 0 && !skipping) {
			rv = loader_line(&ld, buf, have, 0);
			have = 0;
		}
	}
	(void)pthread_setcancelstate(cs, NULL);
	mpsafe_free(buf);
	return loader_done(&ld, rv, err);
}

int
rtfile_format_prefix(const struct rtfile_prefix *p, char *buf, size_t size)
{
	char text[ADDR_TEXT_MAX];
	int n;

	if (p == NULL || buf == NULL ||
	    (p->rp_family != AF_INET && p->rp_family != AF_INET6) ||
	    p->rp_plen > family_bits(p->rp_family)) {
		errno = EINVAL;
		return -1;
	}
	if (inet_ntop(p->rp_family, p->rp_addr, text, sizeof(text)) == NULL)
		return -1;
	n = snprintf(buf, size, "%s/%u", text, (unsigned)p->rp_plen);
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

/* --- generators ----------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): the whole state is one word. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * Uniform in [0, n), n > 0: the high 64 bits of a 64x64-bit product
 * (Lemire's multiply, bias below n / 2^64), computed from 32-bit halves
 * so that 32-bit targets, which have no __int128, build it too.
 */
static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	uint64_t x = rng_next(s);
	uint64_t xl = (uint32_t)x, xh = x >> 32;
	uint64_t nl = (uint32_t)n, nh = n >> 32;
	uint64_t ll = xl * nl, lh = xl * nh, hl = xh * nl, hh = xh * nh;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

	return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* Shares per 100,000 prefixes (see rtgen_share() and docs). */
struct share {
	uint8_t plen;
	uint32_t per100k;
};

/*
 * IPv4: the length mix of a full BGP view (about 54% /24, 96% /24 or
 * shorter, /22 and /23 next, then /19-/21), after the per-length counts
 * of a real router dump quoted by DPDK's LPM tests; /8-/16 are scaled
 * down to what the 221 usable /8s can hold uniquely at RTGEN_MAX_INET
 * prefixes.
 */
static const struct share shares4[] = {
    {8, 2},
    {9, 10},
    {10, 20},
    {11, 40},
    {12, 95},
    {13, 100},
    {14, 220},
    {15, 380},
    {16, 1500},
    {17, 1200},
    {18, 2200},
    {19, 6000},
    {20, 6000},
    {21, 4500},
    {22, 10700},
    {23, 8960},
    {24, 54200},
    {25, 250},
    {26, 520},
    {27, 600},
    {28, 660},
    {29, 1200},
    {30, 560},
    {31, 10},
    {32, 73},
};

/*
 * IPv6: /48 about 46% (the most common), /32 next (14%), then /44, /40,
 * /29, /36, /46, /47...; lengths beyond /48 rare.
 */
static const struct share shares6[] = {
    {19, 10},
    {20, 60},
    {21, 40},
    {22, 60},
    {23, 60},
    {24, 150},
    {25, 30},
    {26, 60},
    {27, 80},
    {28, 400},
    {29, 4100},
    {30, 600},
    {31, 350},
    {32, 14000},
    {33, 900},
    {34, 800},
    {35, 600},
    {36, 3600},
    {37, 300},
    {38, 800},
    {39, 250},
    {40, 6500},
    {41, 250},
    {42, 1200},
    {43, 250},
    {44, 9000},
    {45, 1500},
    {46, 3000},
    {47, 2700},
    {48, 46000},
    {52, 300},
    {56, 1300},
    {64, 700},
    {128, 50},
};

#define NSHARES4 (sizeof(shares4) / sizeof(shares4[0]))
#define NSHARES6 (sizeof(shares6) / sizeof(shares6[0]))

/*
 * Limits of route_file.h: largest tables (RTGEN_MAX_INET and
 * RTGEN_MAX_INET6, in the header; IPv4: the /12s' capacity, see the
 * opening comment), next-hop indices rtgen_nexthop() can map (22 bits,
 * less the all-ones one), smallest churn table (n / 8 >= 1, so deletes
 * happen).
 */
#define RTGEN_NEXTHOPS_MAX ((UINT32_C(1) << 22) - 1)
#define RTGEN_CHURN_MIN 8

/* Percent of new prefixes drawn inside an earlier, shorter one. */
#define RTGEN_NEST_PERCENT 35

/* IPv4 first octets used: 1..223 but 10 and 127. */
#define V4_OCTETS 221

static uint8_t
v4_octet(uint64_t r)
{
	uint8_t o = (uint8_t)(1 + r % V4_OCTETS); /* 1..221 */

	if (o >= 10)
		o++; /* skip 10 */
	if (o >= 127)
		o++; /* skip 127 */
	return o;
}

static void
shares_of(int family, const struct share **sh, size_t *n)
{
	if (family == AF_INET) {
		*sh = shares4;
		*n = NSHARES4;
	} else {
		*sh = shares6;
		*n = NSHARES6;
	}
}

double
rtgen_share(int family, unsigned plen)
{
	const struct share *sh;
	size_t n;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	shares_of(family, &sh, &n);
	for (size_t i = 0; i < n; i++)
		if (sh[i].plen == plen)
			return sh[i].per100k / 100000.0;
	return 0;
}

/* Distinct prefixes of length plen in the family's space, capped. */
static uint64_t
capacity(int family, unsigned plen)
{
	if (family == AF_INET)
		return (uint64_t)V4_OCTETS << (plen - 8);
	return plen - 3 >= 40 ? UINT64_C(1) << 40 : UINT64_C(1) << (plen - 3);
}

/* Fill addr with random bits, keeping the first keep bits of base. */
static void
random_below(uint64_t *rng, uint8_t *addr, const uint8_t *base, unsigned keep,
    size_t bytes)
{
	for (size_t i = 0; i < bytes; i += 8) {
		uint64_t r = rng_next(rng);

		for (size_t j = 0; j < 8 && i + j < bytes; j++)
			addr[i + j] = (uint8_t)(r >> (8 * j));
	}
	for (size_t i = 0; i < bytes; i++) {
		unsigned k = keep > 8 * i ? keep - 8 * (unsigned)i : 0;
		uint8_t mask = k >= 8 ? 0xff : (uint8_t)(0xff00u >> k);

		addr[i] = (uint8_t)((base[i] & mask) | (addr[i] & ~mask));
	}
}

/* A random address of the family's unicast space (see rtgen_table()). */
static void
random_unicast(uint64_t *rng, int family, uint8_t *addr)
{
	static const uint8_t v6base[16] = {0x20};

	if (family == AF_INET) {
		uint64_t r = rng_next(rng);

		addr[0] = v4_octet(r >> 32);
		addr[1] = (uint8_t)(r >> 16);
		addr[2] = (uint8_t)(r >> 8);
		addr[3] = (uint8_t)r;
	} else {
		random_below(rng, addr, v6base, 3, 16); /* 2000::/3 */
	}
}

/* Hash set of route indices (slot value index + 1; 0 empty). */
struct pset {
	uint32_t *ps_slot;
	size_t ps_mask;
	const struct rtgen_route *ps_routes;
};

static uint64_t
prefix_hash(const struct rtfile_prefix *p)
{
	uint64_t a, b;

	memcpy(&a, p->rp_addr, 8);
	memcpy(&b, p->rp_addr + 8, 8);
	a ^= b * UINT64_C(0x9e3779b97f4a7c15) ^ p->rp_plen;
	a ^= a >> 33;
	a *= UINT64_C(0xff51afd7ed558ccd);
	a ^= a >> 33;
	return a;
}

/* Insert routes[idx] unless an equal prefix is there; true if inserted. */
static bool
pset_insert(struct pset *ps, size_t idx)
{
	const struct rtfile_prefix *p = &ps->ps_routes[idx].rg_dst;
	size_t h = (size_t)prefix_hash(p) & ps->ps_mask;

	for (;; h = (h + 1) & ps->ps_mask) {
		uint32_t v = ps->ps_slot[h];

		if (v == 0) {
			ps->ps_slot[h] = (uint32_t)idx + 1;
			return true;
		}
		if (memcmp(&ps->ps_routes[v - 1].rg_dst, p, sizeof(*p)) == 0)
			return false;
	}
}

int
rtgen_table(int family, size_t n, uint32_t nexthops, uint64_t seed,
    struct rtgen_route **routesp)
{
	const struct share *sh;
	size_t nsh, counts[NSHARES6], total = 0, done = 0;
	double rem[NSHARES6];
	struct rtgen_route *routes;
	struct pset ps;
	size_t bytes = family_bytes(family), cap = 1;
	uint64_t rng = seed;

	if ((family != AF_INET && family != AF_INET6) || n == 0 ||
	    n > (family == AF_INET ? RTGEN_MAX_INET : RTGEN_MAX_INET6) ||
	    nexthops == 0 || nexthops > RTGEN_NEXTHOPS_MAX || routesp == NULL)
		return EINVAL;
	shares_of(family, &sh, &nsh);
	for (size_t i = 0; i < nsh; i++) {
		double exact = (double)n * sh[i].per100k / 100000.0;

		counts[i] = (size_t)exact;
		rem[i] = exact - (double)counts[i];
		total += counts[i];
	}
	while (total < n) { /* largest remainder first; ties: shorter */
		size_t best = 0;

		for (size_t i = 1; i < nsh; i++)
			if (rem[i] > rem[best])
				best = i;
		counts[best]++;
		rem[best] = -1;
		total++;
	}
	for (size_t i = 0; i < nsh; i++)
		if (counts[i] > capacity(family, sh[i].plen) / 2)
			return EINVAL;

	/* From the C library's allocator, so the caller may free() it. */
	routes = mpsafe_calloc(n, sizeof(*routes));
	while (cap < 2 * n)
		cap <<= 1;
	ps.ps_slot = mpsafe_calloc(cap, sizeof(*ps.ps_slot));
	ps.ps_mask = cap - 1;
	ps.ps_routes = routes;
	if (routes == NULL || ps.ps_slot == NULL) {
		mpsafe_free(routes);
		mpsafe_free(ps.ps_slot);
		return ENOMEM;
	}

	for (size_t i = 0; i < nsh; i++) {
		unsigned plen = sh[i].plen;
		size_t shorter = done; /* routes[0..shorter-1] are shorter */

		for (size_t k = 0; k < counts[i]; k++) {
			struct rtgen_route *r = &routes[done];
			unsigned tries = 0;

			r->rg_dst.rp_family = (uint8_t)family;
			r->rg_dst.rp_plen = (uint8_t)plen;
			do {
				uint8_t *a = r->rg_dst.rp_addr;

				/* After a few collisions, stop nesting. */
				if (shorter > 0 && tries < 8 &&
				    rng_below(&rng, 100) < RTGEN_NEST_PERCENT) {
					const struct rtfile_prefix *up =
					    &routes[rng_below(&rng, shorter)]
					         .rg_dst;

					random_below(&rng, a, up->rp_addr,
					    up->rp_plen, bytes);
				} else {
					random_unicast(&rng, family, a);
				}
				clear_host_bits(a, bytes, plen);
				tries++;
			} while (!pset_insert(&ps, done));
			r->rg_nexthop = (uint32_t)rng_below(&rng, nexthops);
			done++;
		}
	}
	mpsafe_free(ps.ps_slot);
	*routesp = routes;
	return 0;
}

int
rtgen_nexthop(int family, uint32_t index, uint8_t *addr)
{
	uint32_t v = index + 1;

	if (addr == NULL || index >= RTGEN_NEXTHOPS_MAX)
		return EINVAL;
	if (family == AF_INET) {
		/* 100.64.0.0/10 */
		addr[0] = 100;
		addr[1] = (uint8_t)(64 | (v >> 16));
		addr[2] = (uint8_t)(v >> 8);
		addr[3] = (uint8_t)v;
		return 0;
	}
	if (family == AF_INET6) {
		static const uint8_t base[16] = {
		    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff};

		memcpy(addr, base, 16);
		addr[13] = (uint8_t)(v >> 16);
		addr[14] = (uint8_t)(v >> 8);
		addr[15] = (uint8_t)v;
		return 0;
	}
	return EINVAL;
}

int
rtgen_lookups(const struct rtgen_route *routes, size_t n, size_t count,
    unsigned hit_percent, uint64_t seed, uint8_t *addrs)
{
	uint64_t rng = seed;
	int family;
	size_t bytes;

	if (routes == NULL || n == 0 || hit_percent > 100 ||
	    (addrs == NULL && count > 0))
		return EINVAL;
	family = routes[0].rg_dst.rp_family;
	if (family != AF_INET && family != AF_INET6)
		return EINVAL;
	bytes = family_bytes(family);
	for (size_t i = 0; i < count; i++) {
		uint8_t a[16];

		if (rng_below(&rng, 100) < hit_percent) {
			const struct rtfile_prefix *p =
			    &routes[rng_below(&rng, n)].rg_dst;

			random_below(&rng, a, p->rp_addr, p->rp_plen, bytes);
		} else {
			random_unicast(&rng, family, a);
		}
		memcpy(addrs + i * bytes, a, bytes);
	}
	return 0;
}

/* --- churn ---------------------------------------------------------------- */

struct rtgen_churn {
	size_t ch_n;
	uint32_t ch_nexthops;
	uint64_t ch_rng;
	uint8_t *ch_present;  /* per route: 1 present, 0 deleted */
	uint32_t *ch_nexthop; /* per route: current next hop */
	size_t *ch_deleted;   /* the deleted routes, unordered */
	size_t ch_ndeleted;
};

struct rtgen_churn *
rtgen_churn_create(const struct rtgen_route *routes, size_t n,
    uint32_t nexthops, uint64_t seed)
{
	struct rtgen_churn *ch;

	if (routes == NULL || n < RTGEN_CHURN_MIN || nexthops < 2 ||
	    nexthops > RTGEN_NEXTHOPS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	ch = mpsafe_calloc(1, sizeof(*ch));
	if (ch == NULL)
		return NULL;
	ch->ch_n = n;
	ch->ch_nexthops = nexthops;
	ch->ch_rng = seed;
	ch->ch_present = mpsafe_malloc(n);
	ch->ch_nexthop = mpsafe_malloc(n * sizeof(*ch->ch_nexthop));
	ch->ch_deleted = mpsafe_malloc((n / 8 + 1) * sizeof(*ch->ch_deleted));
	if (ch->ch_present == NULL || ch->ch_nexthop == NULL ||
	    ch->ch_deleted == NULL) {
		rtgen_churn_destroy(ch);
		errno = ENOMEM;
		return NULL;
	}
	memset(ch->ch_present, 1, n);
	for (size_t i = 0; i < n; i++)
		ch->ch_nexthop[i] = routes[i].rg_nexthop;
	return ch;
}

void
rtgen_churn_next(struct rtgen_churn *ch, struct rtgen_update *u)
{
	uint64_t roll = rng_below(&ch->ch_rng, 100);
	size_t i;

	if (ch->ch_ndeleted > 0 &&
	    (ch->ch_ndeleted >= ch->ch_n / 8 || roll >= 70)) {
		/* Re-add a deleted route (30%, or forced at the bound). */
		size_t k = rng_below(&ch->ch_rng, ch->ch_ndeleted);

		i = ch->ch_deleted[k];
		ch->ch_deleted[k] = ch->ch_deleted[--ch->ch_ndeleted];
		ch->ch_present[i] = 1;
		u->ru_op = RTGEN_ADD;
		u->ru_index = i;
		u->ru_nexthop = ch->ch_nexthop[i];
		return;
	}
	do
		i = rng_below(&ch->ch_rng, ch->ch_n);
	while (!ch->ch_present[i]);
	u->ru_index = i;
	if (roll < 40) {
		/* A different next hop (nexthops >= 2, see create). */
		uint32_t nh =
		    (uint32_t)rng_below(&ch->ch_rng, ch->ch_nexthops - 1);

		if (nh >= ch->ch_nexthop[i])
			nh++;
		ch->ch_nexthop[i] = nh;
		u->ru_op = RTGEN_CHANGE;
		u->ru_nexthop = nh;
		return;
	}
	ch->ch_present[i] = 0;
	ch->ch_deleted[ch->ch_ndeleted++] = i;
	u->ru_op = RTGEN_DELETE;
	u->ru_nexthop = 0;
}

void
rtgen_churn_destroy(struct rtgen_churn *ch)
{
	if (ch == NULL)
		return;
	mpsafe_free(ch->ch_present);
	mpsafe_free(ch->ch_nexthop);
	mpsafe_free(ch->ch_deleted);
	mpsafe_free(ch);
}
