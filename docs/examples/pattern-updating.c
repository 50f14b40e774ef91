/*
 * pattern-updating.c: update in place without tearing (docs/patterns/
 * 06-update-without-tearing.md).  A route 198.51.100.0/24 goes via
 * gateway 192.0.2.1 on interface 1; RTM_CHANGE moves it to 192.0.2.9 on
 * interface 9, in place (the entry stays the same object), while a
 * holder thread keeps a reference to the entry.  The change sets
 * RTF_UPDATING and waits for the holder: the holder sees the old pair,
 * whole, for as long as it holds the entry; a MPSAFE_RT_NOWAIT lookup
 * during the change misses; a lookup that may block waits and gets the
 * new pair, whole.
 *
 * With PATTERN_UNSAFE the protocol is removed.  The library's entry
 * cannot be written behind its back without a data race, so the example
 * changes its own copy of the next hop (gateway and interface) in place,
 * one field after the other, while the holder reads it: the holder reads
 * the new gateway with the old interface, a pair that never existed.
 * Built and run by the example_pattern_updating tests.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mpsafe/net/route.h>

#include "pattern.h"

#define HELD 0x1     /* the holder read the old next hop and holds it */
#define UPDATING 0x2 /* the holder saw RTF_UPDATING set on its entry */
#define RELEASE 0x4  /* main tells the holder to let go */
#define HALF 0x8     /* unsafe: the changer has written the gateway */
#define READ 0x10    /* unsafe: the holder has read the pair again */

/* What a forwarding path needs of a route: the next hop, as a pair. */
struct nexthop {
	uint32_t nh_gateway; /* host order */
	unsigned nh_ifindex;
};

static const struct nexthop old_nh = {0xc0000201, 1}; /* 192.0.2.1 */
static const struct nexthop new_nh = {0xc0000209, 9}; /* 192.0.2.9 */

static struct rt_table *table;
static struct sockaddr_in dst; /* 198.51.100.7 */
static struct nexthop seen_first, seen_later, seen_waiter;

static bool
nh_equal(struct nexthop a, struct nexthop b)
{
	return a.nh_gateway == b.nh_gateway && a.nh_ifindex == b.nh_ifindex;
}

/* RTM_ADD (req) or RTM_CHANGE of 198.51.100.0/24 to next hop nh. */
static int
route_set(int req, struct nexthop nh)
{
	struct sockaddr_in d, g;
	struct rt_addrinfo info;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	d.sin_family = g.sin_family = AF_INET;
	d.sin_addr.s_addr = htonl(0xc6336400); /* 198.51.100.0 */
	g.sin_addr.s_addr = htonl(nh.nh_gateway);
	memset(&info, 0, sizeof(info));
	info.rti_dst = (const struct sockaddr *)&d;
	info.rti_plen = 24;
	info.rti_gateway = (const struct sockaddr *)&g;
	info.rti_flags = MPSAFE_RTF_GATEWAY;
	info.rti_ifindex = nh.nh_ifindex;
	return rtrequest(table, req, &info, NULL);
}

#ifndef PATTERN_UNSAFE
static bool nowait_missed; /* a MPSAFE_RT_NOWAIT lookup missed */

/* The next hop of an entry the caller holds: stable while held. */
static struct nexthop
nh_read(const struct rt_entry *rt)
{
	const struct sockaddr_in *gw =
	    (const struct sockaddr_in *)(const void *)rt_getgate(rt);
	struct nexthop nh = {0, rt->rt_ifindex};

	if (gw != NULL)
		nh.nh_gateway = ntohl(gw->sin_addr.s_addr);
	return nh;
}

/* Holds the entry across the start of the change, then lets go. */
static void *
holder(void *arg)
{
	struct rt_entry *rt = rtalloc1(table, (struct sockaddr *)&dst, 0);

	(void)arg;
	if (rt == NULL)
		abort();
	seen_first = nh_read(rt);
	step_post(HELD);
	while (!(rt_getflags(rt) & MPSAFE_RTF_UPDATING))
		sched_yield(); /* the change has begun: it now waits for us */
	step_post(UPDATING);
	step_wait(RELEASE);
	seen_later = nh_read(rt); /* still the old pair, whole */
	rt_unref(rt);             /* lets the change go on */
	return NULL;
}

/* RTM_CHANGE: sets RTF_UPDATING, waits for holders, then changes. */
static void *
changer(void *arg)
{
	(void)arg;
	if (route_set(MPSAFE_RTM_CHANGE, new_nh) != 0)
		abort();
	return NULL;
}

/* A lookup that may block: waits for the change, sees the new pair. */
static void *
waiter(void *arg)
{
	struct rt_entry *rt = rtalloc1(table, (struct sockaddr *)&dst, 0);

	(void)arg;
	if (rt == NULL)
		abort();
	seen_waiter = nh_read(rt);
	rt_unref(rt);
	return NULL;
}
#else
/* The example's own copy of the next hop, changed without a protocol. */
static atomic_uint copy_gateway, copy_ifindex;

static struct nexthop
nh_read_copy(void)
{
	struct nexthop nh = {
	    atomic_load_explicit(&copy_gateway, memory_order_relaxed),
	    atomic_load_explicit(&copy_ifindex, memory_order_relaxed)};

	return nh;
}

static void *
holder(void *arg)
{
	(void)arg;
	seen_first = nh_read_copy();
	step_post(HELD);
	step_wait(HALF);
	seen_later = nh_read_copy(); /* between the changer's two stores */
	step_post(READ);
	return NULL;
}

/* In place, field by field: a reader can come between the stores. */
static void *
changer(void *arg)
{
	(void)arg;
	atomic_store_explicit(
	    &copy_gateway, new_nh.nh_gateway, memory_order_relaxed);
	step_post(HALF);
	step_wait(READ);
	atomic_store_explicit(
	    &copy_ifindex, new_nh.nh_ifindex, memory_order_relaxed);
	return NULL;
}

static void *
waiter(void *arg)
{
	(void)arg;
	seen_waiter = nh_read_copy();
	return NULL;
}
#endif

int
main(void)
{
	pthread_t th, tc, tw;
	bool torn;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_addr.s_addr = htonl(0xc6336407); /* 198.51.100.7 */
	if (rt_table_create(&table, NULL) != 0 ||
	    route_set(MPSAFE_RTM_ADD, old_nh) != 0)
		return 1;
#ifdef PATTERN_UNSAFE
	atomic_init(&copy_gateway, old_nh.nh_gateway);
	atomic_init(&copy_ifindex, old_nh.nh_ifindex);
#endif
	if (pthread_create(&th, NULL, holder, NULL) != 0)
		return 1;
	step_wait(HELD);
	if (pthread_create(&tc, NULL, changer, NULL) != 0)
		return 1;
#ifndef PATTERN_UNSAFE
	step_wait(UPDATING);
	/* During the change a lookup that must not block misses. */
	{
		struct rt_entry *rt =
		    rtalloc1(table, (struct sockaddr *)&dst, MPSAFE_RT_NOWAIT);

		nowait_missed = rt == NULL;
		if (rt != NULL)
			rt_unref(rt);
	}
#endif
	if (pthread_create(&tw, NULL, waiter, NULL) != 0)
		return 1;
	step_post(RELEASE);
	pthread_join(th, NULL);
	pthread_join(tc, NULL);
	pthread_join(tw, NULL);
	rt_table_destroy(table);

	printf("holder: %#x/%u, then %#x/%u\n", seen_first.nh_gateway,
	    seen_first.nh_ifindex, seen_later.nh_gateway,
	    seen_later.nh_ifindex);
#ifndef PATTERN_UNSAFE
	printf("during the change: NOWAIT lookup %s; blocking lookup: %#x/%u\n",
	    nowait_missed ? "missed" : "hit", seen_waiter.nh_gateway,
	    seen_waiter.nh_ifindex);
#endif
	torn = !nh_equal(seen_later, old_nh) && !nh_equal(seen_later, new_nh);
#ifndef PATTERN_UNSAFE
	if (!nh_equal(seen_first, old_nh) || !nh_equal(seen_later, old_nh) ||
	    !nowait_missed || !nh_equal(seen_waiter, new_nh))
		return 1;
#endif
	return pattern_result("pattern-updating", torn,
	    "the holder read a next hop that never existed (torn)");
}
