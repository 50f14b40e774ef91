/*
 * route-life.c: the life of a route, from docs/net/route.md.  Create a
 * lockless table, add routes, look one up three ways (a counted
 * reference, a route cache, the no-reference fast path), change it under
 * the RTF_UPDATING protocol, delete it, destroy the table.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <mpsafe/net/route.h>

static int
add(struct rt_table *t, const char *dst, int plen, const char *gw,
    unsigned ifindex)
{
	struct sockaddr_in d, g;
	struct rt_addrinfo info;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	d.sin_family = g.sin_family = AF_INET;
	inet_pton(AF_INET, dst, &d.sin_addr);
	inet_pton(AF_INET, gw, &g.sin_addr);
	memset(&info, 0, sizeof(info));
	info.rti_dst = (struct sockaddr *)&d;
	info.rti_plen = plen;
	info.rti_gateway = (struct sockaddr *)&g;
	info.rti_flags = MPSAFE_RTF_GATEWAY;
	info.rti_ifindex = ifindex;
	return rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
}

int
main(void)
{
	struct rt_table *t;
	struct rt_entry *rt;
	struct route ro;
	struct sockaddr_in dst;
	struct rt_addrinfo info;
	int s, error;

	/* NULL config: lockless reads (pserialize) and psref'd entries. */
	if (rt_table_create(&t, NULL) != 0)
		return 1;
	if (add(t, "0.0.0.0", 0, "192.0.2.1", 1) != 0 ||
	    add(t, "198.51.100.0", 24, "192.0.2.2", 2) != 0)
		return 1;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &dst.sin_addr);

	/* 1. rtalloc1: a counted reference, released with rt_unref. */
	rt = rtalloc1(t, (struct sockaddr *)&dst, 0);
	if (rt == NULL || rt_getplen(rt) != 24 || rt->rt_ifindex != 2)
		return 1;
	rt_unref(rt);

	/* 2. A route cache: a psref, one at a time, valid until a change. */
	rtcache_attach(&ro, t, 0);
	rt = rtcache_lookup(&ro, (struct sockaddr *)&dst);
	if (rt == NULL)
		return 1;
	printf("via ifindex %u\n", rt->rt_ifindex);
	rtcache_unref(rt, &ro);

	/* 3. The fast path: no reference, valid inside the read section. */
	s = rt_read_enter(t);
	rt = rt_lookup_noref(t, AF_INET, &dst.sin_addr);
	/* While a change is in progress only rt_dst and rt_plen are stable. */
	if (rt != NULL && !(rt_getflags(rt) & MPSAFE_RTF_UPDATING))
		error = rt->rt_ifindex != 2;
	else
		error = 1; /* no route, or one being changed: a miss */
	rt_read_exit(t, s);
	if (error)
		return 1;

	/* Change the route: waits for holders; the cache becomes stale. */
	memset(&info, 0, sizeof(info));
	inet_pton(AF_INET, "198.51.100.0", &dst.sin_addr);
	info.rti_dst = (struct sockaddr *)&dst;
	info.rti_plen = 24;
	info.rti_ifindex = 3;
	if (rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL) != 0)
		return 1;
	inet_pton(AF_INET, "198.51.100.7", &dst.sin_addr);
	rt = rtcache_lookup(&ro, (struct sockaddr *)&dst);
	if (rt == NULL || rt->rt_ifindex != 3)
		return 1;
	rtcache_unref(rt, &ro);

	/* Delete: unpublished now, freed once nobody holds it. */
	inet_pton(AF_INET, "198.51.100.0", &dst.sin_addr);
	if (rtrequest(t, MPSAFE_RTM_DELETE, &info, NULL) != 0)
		return 1;
	inet_pton(AF_INET, "198.51.100.7", &dst.sin_addr);
	rt = rtcache_lookup(&ro, (struct sockaddr *)&dst);
	if (rt == NULL || rt_getplen(rt) != 0) /* the default route now */
		return 1;
	rtcache_unref(rt, &ro);

	rtcache_free(&ro);
	rt_table_destroy(t);
	return 0;
}
