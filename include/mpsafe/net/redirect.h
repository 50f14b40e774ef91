/*
 * mpsafe/net/redirect.h: parsing ICMP and ICMPv6 redirect messages,
 * the control messages the reference stack defers to wqinput and turns
 * into route changes.
 *
 * A redirect tells a host that a better first hop exists for a
 * destination.  The parsers here check every length a message states
 * against the bytes actually there before reading anything it
 * describes: the inner IP header's IHL, the ICMPv6 options' lengths
 * (an option length of 0 is refused rather than looped on).  NetBSD
 * once had an ARP input that trusted a header's address length and
 * read past the packet; a parser here never reads outside [buf,
 * buf + len).  A message that fails a check is refused with an errno
 * for the caller to count as a drop.
 *
 * Wire formats (RFC 792, RFC 4861 section 4.5), all in network order:
 *   ICMP:   type 5, code 0-3, checksum, gateway (4 bytes), then the
 *           original datagram's IP header (IHL * 4 bytes, 20 to 60)
 *           and at least 8 bytes of its payload; the destination is
 *           that inner header's destination address.
 *   ICMPv6: type 137, code 0, checksum, 4 reserved bytes, target (the
 *           better first hop, 16 bytes), destination (16 bytes), then
 *           options of (type, length in units of 8 bytes, data).  The
 *           target link-layer address option (type 2) is returned when
 *           present.
 *
 * Differences from NetBSD's icmp_input()/icmp6_redirect_input(): the
 * parsers only parse (no mbuf, no route change, no source-address checks,
 * which need the outer IP header); the ICMPv6 checksum, which covers an
 * IPv6 pseudo-header, is not verified (the caller's IPv6 layer does that).
 *
 * ip_redirect_input() does the rest for IPv4: it checks the outer IP
 * header, parses the redirect and applies it to a routing table as
 * NetBSD's rtredirect() does (src/net/rtredirect.c lists every rule and
 * the differences).  This header only forward-declares struct rt_table:
 * include <mpsafe/net/route.h> to create one.
 */
#ifndef MPSAFE_NET_REDIRECT_H
#define MPSAFE_NET_REDIRECT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

#define ICMP_REDIRECT_MINLEN 36  /* 8 + a 20-byte IP header + 8 */
#define ICMP6_REDIRECT_MINLEN 40 /* 8 + target + destination */
#define REDIRECT_LLADDR_MAX 16

/* What a valid redirect says. */
struct redirect_info {
	int ri_af;       /* AF_INET or AF_INET6 */
	uint8_t ri_code; /* ICMP code (0 net, 1 host, 2 tos+net, 3 tos+host) */
	union {
		struct in_addr ri_dst4;
		struct in6_addr ri_dst6;
	} ri_dst; /* the destination to redirect */
	union {
		struct in_addr ri_gw4;
		struct in6_addr ri_gw6;
	} ri_gw; /* the better first hop */
	/*
	 * The target link-layer address option's data (ICMPv6), padding
	 * included: 6 bytes for Ethernet's option of 8; 0: no option.
	 */
	uint8_t ri_lladdr[REDIRECT_LLADDR_MAX];
	uint8_t ri_lladdr_len;
};

/*
 * icmp_redirect_parse(buf, len, ri)
 *
 *	Parse the ICMP message of len bytes at buf (starting at the ICMP
 *	type byte) into *ri.  Returns 0; EINVAL (NULL argument); EMSGSIZE
 *	(shorter than its own headers claim, or than the minimum); EPROTO
 *	(not a redirect, unknown code, not an IPv4 inner header, IHL below
 *	5); EBADMSG (bad checksum).  Reads only buf[0..len).  *ri is
 *	written only on success.  Never blocks; any context.
 */
MPSAFE_API int icmp_redirect_parse(
    const void *buf, size_t len, struct redirect_info *ri);

/*
 * icmp6_redirect_parse(buf, len, ri)
 *
 *	As icmp_redirect_parse() for an ICMPv6 redirect (starting at the
 *	ICMPv6 type byte).  Returns 0, EINVAL, EMSGSIZE (truncated, or an
 *	option running past the end), EPROTO (not a redirect, code not 0,
 *	an option of length 0, a link-layer option longer than
 *	REDIRECT_LLADDR_MAX, a multicast destination).
 */
MPSAFE_API int icmp6_redirect_parse(
    const void *buf, size_t len, struct redirect_info *ri);

/*
 * icmp_redirect_build(buf, cap, code, gw, dst), icmp6_redirect_build(buf,
 * cap, gw, dst, lladdr, lladdr_len)
 *
 *	Write a well-formed redirect into buf (cap bytes): for tests,
 *	benchmarks and traffic generators.  Returns the message's length,
 *	or 0 if cap is too small or an argument is bad (code above 3,
 *	NULL pointer, or an lladdr_len whose option, padded to 8-byte
 *	units, would carry more than REDIRECT_LLADDR_MAX bytes: above 14),
 *	so that what is built always parses.  Never blocks.
 */
MPSAFE_API size_t icmp_redirect_build(void *buf, size_t cap, uint8_t code,
    const struct in_addr *gw, const struct in_addr *dst);
MPSAFE_API size_t icmp6_redirect_build(void *buf, size_t cap,
    const struct in6_addr *gw, const struct in6_addr *dst, const void *lladdr,
    size_t lladdr_len);

struct rt_table; /* mpsafe/net/route.h */

/*
 * inet_cksum(buf, len)
 *	The Internet checksum (RFC 1071) of the len bytes at buf: the
 *	one's complement of their one's-complement sum as 16-bit
 *	big-endian words (an odd last byte padded with zero), as a number
 *	to store big-endian.  Over a header whose checksum field holds the
 *	right value it is 0.  Never blocks; any context.
 */
MPSAFE_API uint16_t inet_cksum(const void *buf, size_t len);

/*
 * ip_redirect_input(t, pkt, len)
 *
 *	Handle the IPv4 packet of len bytes at pkt (starting at the IP
 *	header) that carries an ICMP redirect, as NetBSD's icmp_input()
 *	and rtredirect() do, on table t: a redirect from the current first
 *	hop for the destination changes that route's gateway (a net
 *	redirect, or a host route found: RTM_CHANGE, adding
 *	MPSAFE_RTF_MODIFIED) or adds a host route via the new gateway (a
 *	host redirect over a network route, or no route, or any redirect
 *	whose route found is the default route: RTM_ADD with
 *	MPSAFE_RTF_GATEWAY | MPSAFE_RTF_HOST | MPSAFE_RTF_DYNAMIC, on the
 *	interface of the route found).
 *	Returns 0 when the table was changed; otherwise the reason, the
 *	table unchanged:
 *	  EINVAL        NULL t or pkt;
 *	  EMSGSIZE      len below 20, IHL * 4 above len, total length below
 *	                IHL * 4 or above len (bytes past the total length
 *	                are ignored), or the ICMP message shorter than it
 *	                claims (icmp_redirect_parse());
 *	  EPROTO        not version 4, IHL below 5, a fragment (MF or an
 *	                offset), protocol not ICMP, or not a redirect
 *	                (icmp_redirect_parse());
 *	  EBADMSG       bad IP header checksum or bad ICMP checksum;
 *	  EPERM         the redirect does not come from the current first
 *	                hop (the gateway of the route found) for the
 *	                destination;
 *	  EHOSTUNREACH  the route found is not a gateway route (directly
 *	                connected), a net redirect for a destination with no
 *	                route, or the new gateway is unusable (0.0.0.0,
 *	                multicast, 255.255.255.255, or the destination
 *	                itself);
 *	  EALREADY      the new gateway is the redirect's own source: there
 *	                is nothing to change (and the route caches stay
 *	                valid);
 *	  or rtrequest()'s error (ENOMEM, ...).
 *	Malformed packets (EMSGSIZE, EPROTO, EBADMSG) are to be dropped;
 *	pkt[0..len) is all that is read.  Whether to accept redirects, that
 *	the gateway is on a connected network and not our own address, and
 *	expiring MPSAFE_RTF_DYNAMIC routes are the caller's.
 *	Caller must: not be in a read section of t; hold no reference to
 *	the route being changed (RTM_CHANGE waits for every holder).
 *	Blocks (rtalloc1() and rtrequest()).  IPv4 only.
 */
MPSAFE_API int ip_redirect_input(
    struct rt_table *t, const void *pkt, size_t len);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_REDIRECT_H */
