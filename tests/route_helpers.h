/*
 * route_helpers.h: helpers shared by the routing table tests: sockaddrs
 * from strings, requests in one call, the table designs to run under.
 */
#ifndef MPSAFE_TESTS_ROUTE_HELPERS_H
#define MPSAFE_TESTS_ROUTE_HELPERS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/net/route.h>

/*
 * The four combinations of lookup protection and entry protection, and
 * the lockless design again on huge pages (its own allocator).
 */
static const struct rt_table_config route_designs[] = {
    {RT_SYNC_RWLOCK, RT_REF_REFCOUNT, "netbsd", NULL, NULL, NULL, false},
    {RT_SYNC_PSERIALIZE, RT_REF_PSREF, "lockless", NULL, NULL, NULL, false},
    {RT_SYNC_RWLOCK, RT_REF_PSREF, "rw-psref", NULL, NULL, NULL, false},
    {RT_SYNC_PSERIALIZE, RT_REF_REFCOUNT, "psz-count", NULL, NULL, NULL, false},
    {RT_SYNC_PSERIALIZE, RT_REF_PSREF, "lockless-huge", NULL, NULL, NULL, true},
};
#define ROUTE_NDESIGNS (sizeof(route_designs) / sizeof(route_designs[0]))

/* An AF_INET (4 bytes) or AF_INET6 (16) sockaddr from address bytes. */
static inline void
sa_from_bytes(int af, const uint8_t *a, union rt_sockaddr *u)
{
	memset(u, 0, sizeof(*u));
	if (af == AF_INET) {
		u->sin.sin_family = AF_INET;
		memcpy(&u->sin.sin_addr, a, 4);
	} else {
		u->sin6.sin6_family = AF_INET6;
		memcpy(&u->sin6.sin6_addr, a, 16);
	}
}

/* An AF_INET or AF_INET6 sockaddr from text (abort on a bad string). */
static inline union rt_sockaddr
sa_of(const char *s)
{
	union rt_sockaddr u;

	memset(&u, 0, sizeof(u));
	if (strchr(s, ':') != NULL) {
		u.sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, s, &u.sin6.sin6_addr) != 1)
			abort();
	} else {
		u.sin.sin_family = AF_INET;
		if (inet_pton(AF_INET, s, &u.sin.sin_addr) != 1)
			abort();
	}
	return u;
}

/* An IPv6 sockaddr from text with scope id scope (abort if not IPv6). */
static inline union rt_sockaddr
sa6z(const char *s, uint32_t scope)
{
	union rt_sockaddr u = sa_of(s);

	if (u.sa.sa_family != AF_INET6)
		abort();
	u.sin6.sin6_scope_id = scope;
	return u;
}

/* rtrequest() with the usual fields. */
static inline int
route_req(struct rt_table *t, int req, const char *dst, int plen,
    const char *gw, unsigned ifindex, uint32_t flags, struct rt_entry **ret)
{
	union rt_sockaddr d = sa_of(dst), g;
	struct rt_addrinfo info;

	memset(&info, 0, sizeof(info));
	info.rti_dst = &d.sa;
	info.rti_plen = plen;
	info.rti_flags = flags;
	info.rti_ifindex = ifindex;
	if (gw != NULL) {
		g = sa_of(gw);
		info.rti_gateway = &g.sa;
		info.rti_flags |= MPSAFE_RTF_GATEWAY;
	}
	return rtrequest(t, req, &info, ret);
}

/* The prefix length of the route rtalloc1() finds for addr, or -1. */
static inline int
route_match_plen(struct rt_table *t, const char *addr)
{
	union rt_sockaddr a = sa_of(addr);
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);
	int plen;

	if (rt == NULL)
		return -1;
	plen = (int)rt_getplen(rt);
	rt_unref(rt);
	return plen;
}

#endif /* MPSAFE_TESTS_ROUTE_HELPERS_H */
