/*
 * src/net/rtredirect.c: ip_redirect_input(), an IPv4 ICMP redirect applied
 * to a routing table, as NetBSD's ip_input() -> icmp_input() ->
 * rtredirect() do (see mpsafe/net/redirect.h).
 *
 * The packet.  It starts at the outer IP header and is checked in this
 * order, every length before anything it describes is read (NetBSD once
 * fixed an ARP input that trusted a header's address length and read past
 * the packet):
 *   1. len >= 20, else EMSGSIZE (the fixed header is not all there);
 *   2. version 4, else EPROTO; IHL >= 5, else EPROTO;
 *   3. IHL * 4 <= len, else EMSGSIZE;
 *   4. the header checksum over IHL * 4 bytes, else EBADMSG (as ip_input()
 *      does: the function takes raw packets, so nobody checked it before);
 *   5. IHL * 4 <= total length <= len, else EMSGSIZE; bytes past the
 *      total length are trailing padding and ignored;
 *   6. not a fragment (MF clear, offset 0; DF is allowed), else EPROTO:
 *      reassembly is the caller's;
 *   7. protocol 1 (ICMP), else EPROTO;
 *   8. icmp_redirect_parse() of the total - IHL * 4 bytes after the
 *      header (type, code, ICMP checksum, inner header), its error.
 * IP options (IHL > 5) are skipped, not interpreted.
 *
 * The route change (NetBSD's rtredirect(), rules rewritten here):
 *   a. the new gateway must be usable: not 0.0.0.0, not multicast, not
 *      the limited broadcast 255.255.255.255, not the destination itself;
 *      else EHOSTUNREACH; and it must not be the redirect's own source
 *      (a router redirecting to itself changes nothing): EALREADY, so
 *      that a repeated no-op redirect does not advance the generation
 *      and empty every route cache, as rewriting the same gateway would;
 *   b. find the route for the redirected destination (rtalloc1(), a
 *      longest match, with a counted reference); if there is one it must
 *      be a gateway route (else EHOSTUNREACH: a directly connected
 *      destination is not redirected) whose gateway is the packet's source
 *      (else EPERM: the redirect does not come from the current first
 *      hop, it is old or forged).  The fields needed below are copied and
 *      the reference dropped before any rtrequest() (RTM_CHANGE waits for
 *      holders, ours included);
 *   c. a host redirect (code 1 or 3) when the route found is a network
 *      route, or when there is none, and any redirect whose route found is
 *      the default route (prefix length 0: NetBSD's "wildcard entry",
 *      never smashed, or one redirect would move all traffic): RTM_ADD a
 *      host route dst/32 via the
 *      new gateway, MPSAFE_RTF_GATEWAY | MPSAFE_RTF_HOST |
 *      MPSAFE_RTF_DYNAMIC, on the output interface of the route found (0
 *      if none).  If the add finds a host route already there (EEXIST: it
 *      was added since step b), steps b-d run once more, so that route is
 *      checked and changed instead;
 *   d. otherwise (a net redirect, code 0 or 2, for a route of prefix
 *      length 1 to 31, or the route found is already a host route,
 *      prefix length 32): RTM_CHANGE that route's
 *      gateway to the new one, keeping its prefix, interface, metrics and
 *      flags, adding MPSAFE_RTF_MODIFIED.  If it went away meanwhile
 *      (ESRCH), steps b-d run once more;
 *   e. a net redirect with no route at all: EHOSTUNREACH.
 * Any other rtrequest() error (ENOMEM, ...) is returned, the table
 * unchanged (rtrequest() changes nothing on error).
 *
 * Differences from NetBSD.  NetBSD's icmp_input() hands rtredirect()
 * RTF_HOST for every code (net redirects are obsolete, RFC 1812); here
 * the code decides, as in 4.4BSD.  There are no interface addresses in a
 * table, so NetBSD's checks that the new gateway is on a directly
 * connected network (ifa_ifwithnet(): ENETUNREACH) and is not one of our
 * own addresses (ifa_ifwithaddr()), and that the route's ifaddr matches,
 * are the caller's; likewise whether to accept redirects at all
 * (icmp_rediraccept) and the expiry of dynamic routes
 * (icmp_redirtimeout): rt_walktree() finds MPSAFE_RTF_DYNAMIC entries.  No
 * routing-socket message, no statistics.  IPv4 only: IPv6's
 * icmp6_redirect_input() (neighbour cache, target link-layer address) is
 * not done.  The check in b and the change in c/d are not atomic: a
 * concurrent writer may change the route in between, and the last writer
 * wins, as with any two rtrequest() callers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <mpsafe/net/redirect.h>
#include <mpsafe/net/route.h>

#define IP_MINHLEN 20
#define IP_PROTO_ICMP 1
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff
#define IP_HOST_PLEN 32

static void
sin_set(union rt_sockaddr *u, struct in_addr a)
{
	memset(u, 0, sizeof(*u));
	u->sin.sin_family = AF_INET;
	u->sin.sin_addr = a;
}

/* Rule a: whether gw may be a first hop for dst. */
static bool
gateway_usable(struct in_addr gw, struct in_addr dst)
{
	uint32_t g = ntohl(gw.s_addr);

	if (g == INADDR_ANY || g == INADDR_BROADCAST || IN_MULTICAST(g))
		return false;
	return gw.s_addr != dst.s_addr;
}

/* What step b copies out of the route found before dropping it. */
struct found {
	union rt_sockaddr f_dst;
	int f_plen;
	uint32_t f_flags;
	unsigned f_ifindex;
};

/*
 * Step b: look dst up; 0 with *present and *f filled, or EHOSTUNREACH /
 * EPERM.  Blocks (rtalloc1() waits for a change in progress).
 */
static int
redirect_find(struct rt_table *t, const union rt_sockaddr *dst,
    struct in_addr src, bool *present, struct found *f)
{
	struct rt_entry *rt = rtalloc1(t, &dst->sa, 0);
	const struct sockaddr *gw;
	int error = 0;

	*present = rt != NULL;
	if (rt == NULL)
		return 0;
	gw = rt_getgate(rt);
	if (gw == NULL) {
		error = EHOSTUNREACH; /* directly connected */
	} else if (gw->sa_family != AF_INET ||
	           memcmp(&((const struct sockaddr_in *)(const void *)gw)
	                       ->sin_addr,
	               &src, sizeof(src)) != 0) {
		error = EPERM; /* not from the current first hop */
	} else {
		/* Stable: a change waits for our count (route.h). */
		f->f_dst = rt->rt_dst;
		f->f_plen = (int)rt_getplen(rt);
		f->f_flags = rt_getflags(rt) & MPSAFE_RTF_USERMASK;
		f->f_ifindex = rt->rt_ifindex;
	}
	rt_unref(rt);
	return error;
}

/* Steps a-e on a parsed redirect from src.  Blocks. */
static int
redirect_apply(
    struct rt_table *t, const struct redirect_info *ri, struct in_addr src)
{
	union rt_sockaddr dst, gw;
	struct rt_addrinfo info;
	bool host = ri->ri_code == 1 || ri->ri_code == 3;
	int attempt, error;

	if (!gateway_usable(ri->ri_gw.ri_gw4, ri->ri_dst.ri_dst4))
		return EHOSTUNREACH;
	if (ri->ri_gw.ri_gw4.s_addr == src.s_addr)
		return EALREADY; /* rule a: redirected to the sender itself */
	sin_set(&dst, ri->ri_dst.ri_dst4);
	sin_set(&gw, ri->ri_gw.ri_gw4);
	for (attempt = 0;; attempt++) {
		struct found f;
		bool present;

		error = redirect_find(t, &dst, src, &present, &f);
		if (error != 0)
			return error;
		memset(&info, 0, sizeof(info));
		info.rti_gateway = &gw.sa;
		if ((host && (!present || f.f_plen < IP_HOST_PLEN)) ||
		    (present && f.f_plen == 0)) {
			info.rti_dst = &dst.sa;
			info.rti_plen = IP_HOST_PLEN;
			info.rti_flags = MPSAFE_RTF_GATEWAY | MPSAFE_RTF_HOST |
			                 MPSAFE_RTF_DYNAMIC;
			info.rti_ifindex = present ? f.f_ifindex : 0;
			error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
			if (error == EEXIST && attempt == 0)
				continue; /* a host route appeared: change it */
			return error;
		}
		if (!present)
			return EHOSTUNREACH; /* rule e */
		info.rti_dst = &f.f_dst.sa;
		info.rti_plen = f.f_plen;
		info.rti_flags =
		    f.f_flags | MPSAFE_RTF_GATEWAY | MPSAFE_RTF_MODIFIED;
		info.rti_ifindex = f.f_ifindex;
		error = rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL);
		if (error == ESRCH && attempt == 0)
			continue; /* deleted meanwhile: look again */
		return error;
	}
}

int
ip_redirect_input(struct rt_table *t, const void *pkt, size_t len)
{
	const uint8_t *p = pkt;
	struct redirect_info ri;
	struct in_addr src;
	size_t ihl, total;
	unsigned frag;
	int error;

	if (t == NULL || pkt == NULL)
		return EINVAL;
	if (len < IP_MINHLEN) /* 1 */
		return EMSGSIZE;
	if ((p[0] >> 4) != 4) /* 2 */
		return EPROTO;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < IP_MINHLEN)
		return EPROTO;
	if (ihl > len) /* 3 */
		return EMSGSIZE;
	if (inet_cksum(p, ihl) != 0) /* 4 */
		return EBADMSG;
	total = (size_t)p[2] << 8 | p[3]; /* 5 */
	if (total < ihl || total > len)
		return EMSGSIZE;
	frag = (unsigned)p[6] << 8 | p[7]; /* 6 */
	if (frag & (IP_MF | IP_OFFMASK))
		return EPROTO;
	if (p[9] != IP_PROTO_ICMP) /* 7 */
		return EPROTO;
	error = icmp_redirect_parse(p + ihl, total - ihl, &ri); /* 8 */
	if (error != 0)
		return error;
	memcpy(&src, p + 12, sizeof(src));
	return redirect_apply(t, &ri, src);
}
