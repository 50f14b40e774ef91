/*
 * pattern-rtcache.c: one holder per cache (docs/patterns/
 * 05-one-holder-per-cache.md).  A forwarding path keeps a route cache
 * (struct route).  Each lookup through it returns the entry with a psref,
 * which the path releases with rtcache_unref() before its next lookup on
 * the same cache; between the two the cache keeps a weak pointer, checked
 * against the table's generation.  Any add, delete or change advances the
 * generation: after a route is added (even one that does not cover the
 * destination) and after the cached route is deleted, the next lookup
 * misses and finds the right route.  With PATTERN_UNSAFE the path keeps
 * the entry it found first and uses it without asking the cache: after
 * the delete it forwards on a deleted route.  (It reads the deleted entry
 * only because the example deleted it with rtrequest(..., &dead), which
 * keeps a count on the dead entry: a real program would read freed
 * memory.)
 * Built and run by the example_pattern_rtcache tests.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <mpsafe/net/route.h>

#include "pattern.h"

/* One forwarding thread's state: its cache, one holder at a time. */
struct fwd {
	struct route f_ro;
#ifdef PATTERN_UNSAFE
	struct rt_entry *f_last; /* the safety removed: kept, never checked */
#endif
};

/* Forward to dst: the output interface, 0 for no route. */
static unsigned
fwd_output(struct fwd *f, const struct sockaddr *dst, int *hitp, bool *deadp)
{
	struct rt_entry *rt;
	unsigned ifindex;

#ifdef PATTERN_UNSAFE
	if (f->f_last != NULL) { /* no generation check */
		*hitp = 1;
		*deadp = !(rt_getflags(f->f_last) & MPSAFE_RTF_UP);
		return f->f_last->rt_ifindex;
	}
#endif
	rt = rtcache_lookup2(&f->f_ro, dst, 0, hitp); /* a psref, or NULL */
	if (rt == NULL)
		return 0;
	*deadp = !(rt_getflags(rt) & MPSAFE_RTF_UP);
	ifindex = rt->rt_ifindex; /* the packet would go out here */
#ifdef PATTERN_UNSAFE
	f->f_last = rt;
#endif
	rtcache_unref(rt, &f->f_ro); /* before the next lookup on f_ro */
	return ifindex;
}

static void
sin_set(struct sockaddr_in *sin, const char *addr)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
}

/* RTM_ADD or RTM_DELETE of dst/plen via interface ifindex. */
static int
route_req(struct rt_table *t, int req, const char *dst, int plen,
    unsigned ifindex, struct rt_entry **ret)
{
	struct sockaddr_in d;
	struct rt_addrinfo info;

	sin_set(&d, dst);
	memset(&info, 0, sizeof(info));
	info.rti_dst = (const struct sockaddr *)&d;
	info.rti_plen = plen;
	info.rti_ifindex = ifindex;
	return rtrequest(t, req, &info, ret);
}

int
main(void)
{
	struct rt_table *t;
	struct rt_entry *dead = NULL;
	struct fwd f = {0};
	struct sockaddr_in dst;
	const struct sockaddr *sa = (const struct sockaddr *)&dst;
	unsigned out[5];
	int hit[5];
	bool dead_used[5] = {false};
	bool ok;
	int i;

	if (rt_table_create(&t, NULL) != 0)
		return 1;
	if (route_req(t, MPSAFE_RTM_ADD, "0.0.0.0", 0, 1, NULL) != 0 ||
	    route_req(t, MPSAFE_RTM_ADD, "198.51.100.0", 24, 2, NULL) != 0)
		return 1;
	rtcache_attach(&f.f_ro, t, MPSAFE_RT_NOWAIT);
	sin_set(&dst, "198.51.100.200");

	i = 0;
	out[i] = fwd_output(&f, sa, &hit[i], &dead_used[i]); /* miss: fills */
	i++;
	out[i] = fwd_output(&f, sa, &hit[i], &dead_used[i]); /* hit */
	i++;
	/* A route that does not cover dst: a new generation all the same. */
	if (route_req(t, MPSAFE_RTM_ADD, "198.51.100.0", 25, 3, NULL) != 0)
		return 1;
	out[i] = fwd_output(&f, sa, &hit[i], &dead_used[i]); /* miss: /24 */
	i++;
	/* Delete the cached route; the example keeps the dead entry. */
	if (route_req(t, MPSAFE_RTM_DELETE, "198.51.100.0", 24, 0, &dead) != 0)
		return 1;
	out[i] = fwd_output(&f, sa, &hit[i], &dead_used[i]); /* miss: /0 */
	i++;
	out[i] = fwd_output(&f, sa, &hit[i], &dead_used[i]); /* hit */
	i++;
	rt_unref(dead); /* the entry may now be destroyed */

	for (i = 0; i < 5; i++)
		printf("lookup %d: %s, ifindex %u%s\n", i,
		    hit[i] ? "hit" : "miss", out[i],
		    dead_used[i] ? " (a deleted route)" : "");
	rtcache_free(&f.f_ro);
	rt_table_destroy(t);
	ok = hit[0] == 0 && out[0] == 2 && hit[1] == 1 && out[1] == 2 &&
	     hit[2] == 0 && out[2] == 2 && hit[3] == 0 && out[3] == 1 &&
	     hit[4] == 1 && out[4] == 1;
#ifndef PATTERN_UNSAFE
	if (!ok)
		return 1;
#endif
	return pattern_result("pattern-rtcache",
	    !ok && (dead_used[3] || dead_used[4]),
	    "the path forwarded on a deleted route");
}
