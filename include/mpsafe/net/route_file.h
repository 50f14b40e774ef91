/*
 * mpsafe/net/route_file.h: routing-table input for the reference stack:
 * a strict parser of prefix tables and BGP update traces, and generators
 * of synthetic tables, lookup addresses and update streams shaped like
 * today's global routing table.
 *
 * Text formats (one record per line, fields separated by blanks or tabs;
 * a line ends at "\n", an optional "\r" before it is dropped; '#' starts a
 * comment that runs to the end of the line; blank lines and comment lines
 * are skipped):
 *
 *   table (RTFILE_TABLE):  prefix [next-hop]
 *       1.0.0.0/24 203.0.113.1
 *       2001:db8::/32 2001:db8::1
 *       192.0.2.0/24                  (no next hop)
 *   trace (RTFILE_TRACE):  timestamp a|w prefix [next-hop]
 *       1700000000.250 a 198.51.100.0/24 203.0.113.9
 *       1700000001 w 198.51.100.0/24
 *     a = announce (next hop required), w = withdraw (next hop refused);
 *     timestamp = decimal seconds, optionally with up to 9 decimals.
 *
 * Validation is strict: a prefix is address "/" length with the length in
 * decimal, no sign, no leading zero, at most 32 (IPv4) or 128 (IPv6); the
 * next hop is of the prefix's family.  A prefix with host bits set (bits
 * beyond its length) is refused unless the caller passes
 * RTFILE_NORMALIZE, which clears them.  Errors (the errno values
 * returned):
 *   EINVAL       garbage: a bad address, a missing or extra field, a bad
 *                number, an unknown trace action, host bits set
 *   ERANGE       prefix length beyond the family's, timestamp overflow
 *   EAFNOSUPPORT next hop of the other family
 *   E2BIG        a line longer than RTFILE_LINE_MAX bytes
 *   EILSEQ       a NUL byte or another control character (DEL included,
 *                tab excepted) anywhere in a line, or a non-ASCII byte
 *                (0x80 and above) outside a comment; a comment may hold
 *                any other byte (UTF-8 text, for one)
 * The parser reads only the bytes it is given (no NUL terminator needed)
 * and never allocates.
 *
 * Not a NetBSD interface: NetBSD reads routes from routing sockets.  The
 * names use rtfile_ and rtgen_ (prefix "rt" of the stack's API).
 */
#ifndef MPSAFE_NET_ROUTE_FILE_H
#define MPSAFE_NET_ROUTE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

/* Longest line accepted, newline excluded (bytes). */
#define RTFILE_LINE_MAX 256

/*
 * Largest tables rtgen_table() generates: IPv4 where the /12s run out,
 * IPv6 a round bound well inside 2000::/3.
 */
#define RTGEN_MAX_INET 1860000
#define RTGEN_MAX_INET6 4000000

/* Formats (the format argument). */
#define RTFILE_TABLE 1 /* prefix [next-hop] */
#define RTFILE_TRACE 2 /* timestamp a|w prefix [next-hop] */

/* Flags. */
#define RTFILE_NORMALIZE 0x1u /* clear host bits instead of refusing */
#define RTFILE_KEEPGOING 0x2u /* loaders: skip bad lines, count them */

/* What a parsed line holds (rr_kind). */
enum rtfile_kind {
	RTFILE_EMPTY = 0, /* blank or comment line: nothing else is set */
	RTFILE_ROUTE,     /* table line */
	RTFILE_ANNOUNCE,  /* trace line "a" */
	RTFILE_WITHDRAW,  /* trace line "w" */
};

/*
 * One prefix: family (AF_INET or AF_INET6), length, and the address in
 * network byte order in the first 4 or 16 bytes of rp_addr (the rest
 * zero; bits beyond the length zero).
 */
struct rtfile_prefix {
	uint8_t rp_addr[16];
	uint8_t rp_family; /* AF_INET or AF_INET6 */
	uint8_t rp_plen;
};

/* One parsed line. */
struct rtfile_record {
	enum rtfile_kind rr_kind;
	struct rtfile_prefix rr_dst;
	int rr_has_gateway;     /* next hop present */
	uint8_t rr_gateway[16]; /* of rr_dst.rp_family, network order */
	uint64_t rr_sec;        /* trace: timestamp, whole seconds */
	uint32_t rr_nsec;       /* trace: and nanoseconds */
	unsigned long rr_line;  /* loaders: line number, from 1 */
};

/* Where the first bad line was (filled by the loaders). */
struct rtfile_error {
	int re_error;           /* errno value of the first bad line, or 0 */
	unsigned long re_line;  /* its line number, from 1 */
	unsigned long re_bad;   /* bad lines seen (RTFILE_KEEPGOING: all) */
	unsigned long re_lines; /* lines read */
};

/*
 * rtfile_parse_line(buf, len, format, flags, rec)
 *
 *	Parse the one line buf[0..len-1] (a trailing "\n" or "\r\n" may be
 *	included; no other newline may) in format RTFILE_TABLE or
 *	RTFILE_TRACE into *rec.  Returns 0 (rec->rr_kind says what the line
 *	held) or one of the errno values listed at the top of this header,
 *	or EINVAL for a NULL argument or an unknown format or flag; on error
 *	*rec is unspecified.  rr_line is left as the caller set it.  Reads
 *	only buf[0..len-1].  Never blocks; allocates nothing.
 */
MPSAFE_API int rtfile_parse_line(const char *buf, size_t len, int format,
    unsigned flags, struct rtfile_record *rec);

/*
 * rtfile_load_buf(buf, len, format, flags, cb, arg, err)
 *
 *	Parse every line of buf[0..len-1] (the last line needs no newline)
 *	and call cb(rec, arg) for each record that is not RTFILE_EMPTY, in
 *	order, with rec->rr_line set.  Stops at the first bad line and
 *	returns its errno value, unless flags has RTFILE_KEEPGOING: then
 *	bad lines are skipped and counted, and the return value is the
 *	first bad line's error (0 when there was none).  A non-zero value
 *	returned by cb stops the load and is returned.  err (may be NULL)
 *	receives the counts and the first bad line.  Blocks only if cb
 *	does.
 */
MPSAFE_API int rtfile_load_buf(const char *buf, size_t len, int format,
    unsigned flags, int (*cb)(const struct rtfile_record *, void *), void *arg,
    struct rtfile_error *err);

/*
 * rtfile_load_stream(fp, format, flags, cb, arg, err)
 *
 *	rtfile_load_buf() over the lines read from fp until end of file.
 *	Returns as rtfile_load_buf(), or EIO when reading fp fails.  The
 *	caller owns fp (not closed).  Blocks reading fp.  Not a
 *	cancellation point: the reads and cb run with cancellation off.
 */
MPSAFE_API int rtfile_load_stream(FILE *fp, int format, unsigned flags,
    int (*cb)(const struct rtfile_record *, void *), void *arg,
    struct rtfile_error *err);

/*
 * rtfile_format_prefix(p, buf, size)
 *
 *	Write p as "address/length" (NUL-terminated) into buf.  Returns the
 *	length written, or -1 with errno EINVAL (bad family or length) or
 *	ENOSPC (size too small; 64 bytes always suffice).
 */
MPSAFE_API int rtfile_format_prefix(
    const struct rtfile_prefix *p, char *buf, size_t size);

/* --- synthetic tables ------------------------------------------------- */

/*
 * One generated route: a prefix and the index of its next hop (see
 * rtgen_nexthop()).  24 bytes.
 */
struct rtgen_route {
	struct rtfile_prefix rg_dst;
	uint32_t rg_nexthop;
};

/*
 * rtgen_table(family, n, nexthops, seed, routesp)
 *
 *	Generate n unique prefixes of family AF_INET or AF_INET6 whose
 *	length distribution follows the global BGP table (IPv4: 54% /24,
 *	96% /24 or shorter; IPv6: /48 first, then /32, /44, /40, /29...:
 *	see rtgen_share()), about a third of them nested in a shorter
 *	generated prefix (more-specifics of a covering route), with next
 *	hops drawn from [0, nexthops).  IPv4 prefixes lie in 1.0.0.0 to
 *	223.255.255.255 outside 10/8 and 127/8; IPv6 ones in 2000::/3.
 *	The same arguments give the same table, in the same order:
 *	shortest prefixes first.  *routesp receives an array of n routes
 *	taken through mpsafe_calloc() (mpsafe/alloc.h, so fault injection
 *	reaches it) from the C library's allocator, which the caller frees
 *	with free().  Returns 0, EINVAL (bad family, n = 0, more prefixes
 *	than the distribution can hold uniquely: n above RTGEN_MAX_INET
 *	(1,860,000) for AF_INET, where the /12s run out, or above
 *	RTGEN_MAX_INET6 (4,000,000) for AF_INET6;
 *	nexthops = 0 or above 2^22 - 1, the indices rtgen_nexthop() maps)
 *	or ENOMEM.  Blocks (allocates; about 0.6 s of CPU for 1,000,000
 *	IPv4).
 */
MPSAFE_API int rtgen_table(int family, size_t n, uint32_t nexthops,
    uint64_t seed, struct rtgen_route **routesp);

/*
 * rtgen_share(family, plen)
 *
 *	The share of prefixes of length plen (0..1) in the distribution
 *	rtgen_table() follows; 0 for an unknown family or length.
 */
MPSAFE_API double rtgen_share(int family, unsigned plen);

/*
 * rtgen_nexthop(family, index, addr)
 *
 *	The next-hop address of index into addr (4 or 16 bytes, network
 *	order): 100.64.0.0/10 + index + 1 for IPv4, 2001:db8:ffff::/48 +
 *	index + 1 for IPv6.  Returns 0 or EINVAL (bad family, index of
 *	2^22 - 1 or more).
 */
MPSAFE_API int rtgen_nexthop(int family, uint32_t index, uint8_t *addr);

/*
 * rtgen_lookups(routes, n, count, hit_percent, seed, addrs)
 *
 *	Fill addrs with count destination addresses of the family of
 *	routes[0]: hit_percent of them (0..100) inside a prefix of routes
 *	picked at random (random host bits), the rest random unicast
 *	addresses (which may or may not match).  addrs holds count * 4
 *	bytes (IPv4) or count * 16 (IPv6), each address in network byte
 *	order.  Deterministic from seed.  Returns 0 or EINVAL (NULL, n = 0,
 *	hit_percent above 100).  Never blocks.
 */
MPSAFE_API int rtgen_lookups(const struct rtgen_route *routes, size_t n,
    size_t count, unsigned hit_percent, uint64_t seed, uint8_t *addrs);

/* --- synthetic update streams ---------------------------------------- */

enum rtgen_op {
	RTGEN_ADD = 1, /* the prefix is absent; add it */
	RTGEN_DELETE,  /* the prefix is present; delete it */
	RTGEN_CHANGE,  /* the prefix is present; change its next hop */
};

struct rtgen_update {
	enum rtgen_op ru_op;
	size_t ru_index;     /* the route, an index into the table */
	uint32_t ru_nexthop; /* ADD, CHANGE: the new next hop */
};

struct rtgen_churn;

/*
 * rtgen_churn_create(routes, n, nexthops, seed)
 *
 *	An endless update stream over the table routes[0..n-1], all
 *	present at the start: about 40% changes of next hop (each to a
 *	different one, drawn from [0, nexthops)), 30% deletes, 30% re-adds
 *	of deleted prefixes (the way BGP withdraws and re-announces), each
 *	one valid against the state the earlier ones leave.  At most n / 8
 *	routes are deleted at a time, so small tables see fewer changes
 *	(about 25% for n below 16).  The stream keeps no pointer to
 *	routes.  Returns NULL with errno EINVAL (NULL routes, n below 8,
 *	nexthops below 2 or above 2^22 - 1) or ENOMEM.  Free with
 *	rtgen_churn_destroy().
 */
MPSAFE_API struct rtgen_churn *rtgen_churn_create(
    const struct rtgen_route *routes, size_t n, uint32_t nexthops,
    uint64_t seed);

/*
 * rtgen_churn_next(ch, u)
 *
 *	The next update of the stream into *u; records it (deleted
 *	prefixes, next hops) for those that follow.  One thread at a time
 *	per stream.  Never blocks.
 */
MPSAFE_API void rtgen_churn_next(
    struct rtgen_churn *ch, struct rtgen_update *u);

/* rtgen_churn_destroy(ch): free ch (NULL is fine). */
MPSAFE_API void rtgen_churn_destroy(struct rtgen_churn *ch);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_ROUTE_FILE_H */
