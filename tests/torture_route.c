/*
 * torture_route.c: readers look routes up (rtalloc1, rt_lookup, per-thread
 * route caches, the no-reference fast path, its batched form
 * rt_lookup_noref_bulk() on up to RT_LOOKUP_BULK_MAX addresses of one
 * family, and route caches without a reference, rtcache_lookup_noref(),
 * inside read sections) and use the entries (now and then holding a route
 * cache's psref across a sleep), and look next hops up
 * (rt_lookup_nexthop() and its bulk form) and use them, while a
 * writer adds, deletes (blocking, NOWAIT, returning the entry) and
 * changes routes at full speed; in every design.
 *
 * The pool holds IPv4 prefixes from /0 to /7 (the trie's short node)
 * and from /8 to /32 under 10/8, and IPv6 ones under 2001:db8::/32.
 *
 * What readers check, on each entry they get:
 *  - it is live (rt_magic; freed entries are poisoned with 0x6b by the
 *    library, so a use after free shows, and ASan reports it);
 *  - it covers the address looked up (the longest-prefix answer may be
 *    any prefix of the pool, but never a non-covering one);
 *  - its fields are consistent: the writer always sets ifindex and the
 *    gateway's last byte together (ifindex % 256 == gateway byte), so a
 *    half-updated entry shows; and while the reader holds the entry they
 *    do not change (RTM_CHANGE waits for holders).
 * And on each next hop (found by rt_lookup_nexthop() or read from an entry
 * with rt_getnexthop()): it is live (nh_magic; freed next hops are
 * poisoned with 0x6b, and their ids reused only after a grace period),
 * its gateway and interface agree (the same rule), and they stay put
 * until the read section ends.
 * MPSAFE_TORTURE_SECONDS sets the time per design (default 1).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/net/route.h>

#include "route_helpers.h"

/* The table's private knob t_nh_idmax, for the run without ids. */
#include "route_impl.h"

TestSuite(torture_route, .timeout = 600);

#define NPOOL 256
#define NREADERS 2

struct pool_pfx {
	uint8_t a[16];
	int af;
	unsigned plen;
	int present;
};

static struct pool_pfx pool[NPOOL];
static struct rt_table *tbl;
static struct rtcache_perthread *pcache;
static atomic_int stop;
static atomic_long violations, lookups, hits, noref_hits, bulk_hits,
    nexthop_hits, short_hits;

static double
torture_seconds(void)
{
	const char *env = getenv("MPSAFE_TORTURE_SECONDS");
	double s = env != NULL ? atof(env) : 1.0;

	return s > 0 ? s : 1.0;
}

static uint64_t
xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The first pool entries: prefixes shorter than /8, which live in the
 * trie's short node (lpm.c, "Short prefixes"), so that lookups under
 * 10/8 that match no prefix of /8 or longer take lpm_short4()'s paired
 * reads while the writer adds and deletes these and the /8s under them.
 */
static const struct {
	uint8_t a0;
	unsigned plen;
} shorts[] = {{0, 0}, {0, 4}, {8, 6}, {10, 7}};
#define NSHORT (sizeof(shorts) / sizeof(shorts[0]))

static void
build_pool(void)
{
	uint64_t r = 12345;
	int i;

	for (i = 0; i < NPOOL; i++) {
		struct pool_pfx *p = &pool[i];

		memset(p, 0, sizeof(*p));
		/* IPv4 shorter than /8 (each covers 10/8), then the rest. */
		if ((size_t)i < NSHORT) {
			p->af = AF_INET;
			p->plen = shorts[i].plen;
			p->a[0] = shorts[i].a0;
		} else if (i % 4 != 3) { /* IPv4 under 10/8, nested lengths */
			static const unsigned lens[] = {
			    8, 12, 16, 20, 24, 28, 32};
			uint32_t v =
			    0x0a000000u | (uint32_t)(xs(&r) & 0x00f3f3f3u);
			p->af = AF_INET;
			p->plen = lens[xs(&r) % 7];
			v &= p->plen == 0 ? 0 : ~0u << (32 - p->plen);
			p->a[0] = (uint8_t)(v >> 24);
			p->a[1] = (uint8_t)(v >> 16);
			p->a[2] = (uint8_t)(v >> 8);
			p->a[3] = (uint8_t)v;
		} else { /* IPv6 under 2001:db8::/32 */
			static const unsigned lens[] = {
			    32, 40, 48, 56, 64, 128};
			p->af = AF_INET6;
			p->a[0] = 0x20;
			p->a[1] = 0x01;
			p->a[2] = 0x0d;
			p->a[3] = 0xb8;
			p->a[5] = (uint8_t)(xs(&r) & 0xf3);
			p->a[6] = (uint8_t)(xs(&r) & 0xf3);
			p->a[7] = (uint8_t)(xs(&r) & 3);
			p->a[15] = (uint8_t)(xs(&r) & 3);
			p->plen = lens[xs(&r) % 6];
			for (unsigned b = p->plen; b < 128; b++)
				p->a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		}
		for (int j = 0; j < i; j++)
			if (pool[j].af == p->af && pool[j].plen == p->plen &&
			    memcmp(pool[j].a, p->a, 16) == 0) {
				i--; /* a duplicate: draw again */
				break;
			}
	}
}

static int
covers(const struct rt_entry *rt, int af, const uint8_t *a)
{
	const uint8_t *k = af == AF_INET
	                       ? (const uint8_t *)&rt->rt_dst.sin.sin_addr
	                       : (const uint8_t *)&rt->rt_dst.sin6.sin6_addr;
	unsigned b;

	if (rt->rt_dst.sa.sa_family != af)
		return 0;
	for (b = 0; b < rt->rt_plen; b++)
		if ((k[b / 8] ^ a[b / 8]) & (0x80 >> (b % 8)))
			return 0;
	return 1;
}

static uint8_t
gw_byte(const struct rt_entry *rt)
{
	if (rt->rt_gateway.sa.sa_family == AF_INET)
		return ((const uint8_t *)&rt->rt_gateway.sin.sin_addr)[3];
	if (rt->rt_gateway.sa.sa_family == AF_INET6)
		return rt->rt_gateway.sin6.sin6_addr.s6_addr[15];
	return 0;
}

/* Checks on a held entry; the fields must not move while held. */
static void
use_entry(const struct rt_entry *rt, int af, const uint8_t *a)
{
	unsigned ifx;
	uint8_t g;
	int i;

	if (rt->rt_magic != 0x52544c56u) { /* RT_MAGIC_LIVE */
		atomic_fetch_add(&violations, 1);
		return;
	}
	if (!covers(rt, af, a))
		atomic_fetch_add(&violations, 1);
	if (af == AF_INET && rt->rt_plen < 8) /* from the short node */
		atomic_fetch_add_explicit(&short_hits, 1, memory_order_relaxed);
	ifx = rt->rt_ifindex;
	g = gw_byte(rt);
	if (ifx % 256 != g)
		atomic_fetch_add(&violations, 1);
	for (i = 0; i < 20; i++) /* use it a while */
		if (rt->rt_ifindex != ifx || gw_byte(rt) != g)
			atomic_fetch_add(&violations, 1);
}

/* Checks on a next hop found in a read section (still inside it). */
static void
use_nexthop(const struct rt_nexthop *nh, int af)
{
	unsigned ifx;
	uint8_t g;

	if (nh->nh_magic != 0x4e484c56u) { /* RT_NH_MAGIC_LIVE */
		atomic_fetch_add(&violations, 1);
		return;
	}
	if (nh->nh_gateway.sa.sa_family != af ||
	    nh->nh_flags != MPSAFE_RTF_GATEWAY) {
		atomic_fetch_add(&violations, 1);
		return;
	}
	ifx = nh->nh_ifindex;
	g = af == AF_INET ? ((const uint8_t *)&nh->nh_gateway.sin.sin_addr)[3]
	                  : nh->nh_gateway.sin6.sin6_addr.s6_addr[15];
	if (ifx % 256 != g)
		atomic_fetch_add(&violations, 1);
	for (int i = 0; i < 20; i++) /* use it a while */
		if (nh->nh_ifindex != ifx || nh->nh_magic != 0x4e484c56u)
			atomic_fetch_add(&violations, 1);
}

/*
 * Fill addrs with k addresses of family af, each inside a random pool
 * prefix (its host bits random).
 */
static void
bulk_addrs(uint64_t *r, int af, uint8_t *addrs, size_t k)
{
	unsigned alen = af == AF_INET ? 4 : 16;
	size_t i = 0;

	while (i < k) {
		const struct pool_pfx *p = &pool[xs(r) % NPOOL];
		uint8_t *a = addrs + alen * i;

		if (p->af != af)
			continue;
		memcpy(a, p->a, alen);
		for (unsigned b = p->plen; b < 8 * alen; b++)
			if (xs(r) & 1)
				a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		i++;
	}
}

/*
 * One batch of rt_lookup_nexthop_bulk(), as bulk_batch() below (k
 * addresses of family af in one read section), each next hop found
 * used (use_nexthop()) inside the section.  Returns the hits.
 */
static long
nexthop_batch(uint64_t *r, int af)
{
	size_t k = (size_t)(xs(r) % RT_LOOKUP_BULK_MAX) + 1, i;
	uint8_t addrs[RT_LOOKUP_BULK_MAX * 16];
	const struct rt_nexthop *nhs[RT_LOOKUP_BULK_MAX];
	long h = 0;
	int s;

	bulk_addrs(r, af, addrs, k);
	s = rt_read_enter(tbl);
	if (rt_lookup_nexthop_bulk(tbl, af, addrs, k, nhs) != 0)
		atomic_fetch_add(&violations, 1);
	else
		for (i = 0; i < k; i++) {
			if (nhs[i] == NULL)
				continue;
			use_nexthop(nhs[i], af);
			h++;
		}
	rt_read_exit(tbl, s);
	return h;
}

/*
 * One batch of rt_lookup_noref_bulk(): 1..RT_LOOKUP_BULK_MAX addresses
 * inside pool prefixes of family af, in one read section.  Returns the
 * hits.
 */
static long
bulk_batch(uint64_t *r, int af)
{
	unsigned alen = af == AF_INET ? 4 : 16;
	size_t k = (size_t)(xs(r) % RT_LOOKUP_BULK_MAX) + 1, i;
	uint8_t addrs[RT_LOOKUP_BULK_MAX * 16];
	struct rt_entry *rts[RT_LOOKUP_BULK_MAX];
	long h = 0;
	int s;

	bulk_addrs(r, af, addrs, k);
	s = rt_read_enter(tbl);
	if (rt_lookup_noref_bulk(tbl, af, addrs, k, rts) != 0)
		atomic_fetch_add(&violations, 1);
	else
		for (i = 0; i < k; i++) {
			const struct rt_entry *rt = rts[i];

			if (rt == NULL)
				continue;
			if (rt->rt_magic != 0x52544c56u ||
			    !covers(rt, af, addrs + alen * i)) {
				atomic_fetch_add(&violations, 1);
				continue;
			}
			if (!(rt_getflags(rt) & MPSAFE_RTF_UPDATING))
				use_entry(rt, af, addrs + alen * i);
			h++;
		}
	rt_read_exit(tbl, s);
	return h;
}

static void *
reader(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg * 7919 + 1;
	long n = 0, h = 0, nh = 0, nb = 0, nn = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		const struct pool_pfx *p = &pool[xs(&r) % NPOOL];
		uint8_t a[16];
		union rt_sockaddr u;
		struct rt_entry *rt;
		struct rt_hold hold;
		struct route *ro;
		int s;

		memcpy(a, p->a, 16);
		for (unsigned b = p->plen; b < (p->af == AF_INET ? 32u : 128u);
		     b++)
			if (xs(&r) & 1)
				a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		sa_from_bytes(p->af, a, &u);
		switch (n % 8) {
		case 0:
			rt = rtalloc1(
			    tbl, &u.sa, (n & 4) ? MPSAFE_RT_NOWAIT : 0);
			if (rt != NULL) {
				use_entry(rt, p->af, a);
				rt_unref(rt);
				h++;
			}
			break;
		case 1:
			rt = rt_lookup(tbl, &u.sa, 0, &hold);
			if (rt != NULL) {
				use_entry(rt, p->af, a);
				rt_release(rt, &hold);
				h++;
			}
			break;
		case 2:
			ro = rtcache_perthread_getref(pcache);
			rt = rtcache_lookup(ro, &u.sa);
			if (rt != NULL) {
				use_entry(rt, p->af, a);
				/*
				 * Now and then hold the psref across a
				 * sleep (what psref is for): the reaper
				 * must go on without this entry.
				 */
				if (n % 512 == 2) {
					usleep(200);
					use_entry(rt, p->af, a);
				}
				h++;
			}
			rtcache_unref(rt, ro);
			rtcache_perthread_putref(pcache);
			break;
		case 3:
			/*
			 * The weak cache inside a read section: the entry
			 * must be live and stable until rt_read_exit(); a
			 * second lookup of the same address is normally a
			 * hit (a writer may advance the generation between
			 * them, so only counted, not required per lookup).
			 */
			ro = rtcache_perthread_getref(pcache);
			s = rt_read_enter(tbl);
			for (int k = 0; k < 2; k++) {
				int hit = -1;

				rt = rtcache_lookup_noref(ro, &u.sa, &hit);
				if (hit != 0 && hit != 1)
					atomic_fetch_add(&violations, 1);
				if (rt != NULL) {
					use_entry(rt, p->af, a);
					h++;
				}
				nh += hit == 1;
			}
			rt_read_exit(tbl, s);
			rtcache_perthread_putref(pcache);
			break;
		case 4:
			nb += bulk_batch(&r, p->af);
			break;
		case 5:
			nn += nexthop_batch(&r, p->af);
			break;
		case 6: {
			const struct rt_nexthop *x;

			s = rt_read_enter(tbl);
			x = rt_lookup_nexthop(tbl, p->af, a);
			if (x != NULL) {
				use_nexthop(x, p->af);
				nn++;
			}
			rt_read_exit(tbl, s);
			break;
		}
		default:
			/*
			 * The entry's own next hop (rt_getnexthop()), which
			 * RTM_CHANGE swaps while we look: old or new, it
			 * must be seen whole until the section ends.
			 */
			s = rt_read_enter(tbl);
			rt = rt_lookup_noref(tbl, p->af, a);
			if (rt != NULL) {
				if (rt->rt_magic != 0x52544c56u ||
				    !covers(rt, p->af, a))
					atomic_fetch_add(&violations, 1);
				else
					use_nexthop(rt_getnexthop(rt), p->af);
				h++;
			}
			rt_read_exit(tbl, s);
			break;
		}
		n++;
	}
	atomic_fetch_add(&lookups, n);
	atomic_fetch_add(&hits, h);
	atomic_fetch_add(&noref_hits, nh);
	atomic_fetch_add(&bulk_hits, nb);
	atomic_fetch_add(&nexthop_hits, nn);
	return NULL;
}

static int
wreq(int cmd, const struct pool_pfx *p, unsigned ifx, struct rt_entry **ret)
{
	union rt_sockaddr d, g;
	struct rt_addrinfo info;
	uint8_t ga[16] = {0};

	sa_from_bytes(p->af, p->a, &d);
	if (p->af == AF_INET) {
		ga[0] = 192;
		ga[3] = (uint8_t)(ifx % 256);
	} else {
		ga[0] = 0xfe;
		ga[1] = 0x80;
		ga[15] = (uint8_t)(ifx % 256);
	}
	sa_from_bytes(p->af, ga, &g);
	memset(&info, 0, sizeof(info));
	info.rti_dst = &d.sa;
	info.rti_plen = (int)p->plen;
	info.rti_flags = MPSAFE_RTF_GATEWAY;
	info.rti_gateway = &g.sa;
	info.rti_ifindex = ifx;
	return rtrequest(tbl, cmd, &info, ret);
}

static void
writer(double seconds, long *ops)
{
	struct timespec t0, now;
	uint64_t r = 99;
	long n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pool_pfx *p = &pool[xs(&r) % NPOOL];
		unsigned ifx = (unsigned)(xs(&r) % 100000) + 1;
		struct rt_entry *rt = NULL;
		int error;

		if (!p->present) {
			error = wreq(MPSAFE_RTM_ADD, p, ifx, NULL);
			cr_assert_eq(error, 0, "add: %d", error);
			p->present = 1;
		} else if (xs(&r) % 2) {
			cr_assert_eq(wreq(MPSAFE_RTM_CHANGE, p, ifx, NULL), 0);
		} else {
			switch (xs(&r) % 3) {
			case 0:
				error = wreq(MPSAFE_RTM_DELETE, p, 0, NULL);
				break;
			case 1:
				error = wreq(
				    MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, p,
				    0, NULL);
				break;
			default:
				error = wreq(MPSAFE_RTM_DELETE, p, 0, &rt);
				if (error == 0) {
					if (rt->rt_magic != 0x52544c56u)
						atomic_fetch_add(
						    &violations, 1);
					rt_unref(rt);
				}
				break;
			}
			cr_assert_eq(error, 0);
			p->present = 0;
		}
		n++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)(now.tv_sec - t0.tv_sec) +
	             (double)(now.tv_nsec - t0.tv_nsec) / 1e9 <
	         seconds);
	*ops = n;
}

Test(torture_route, all_designs)
{
	double secs = torture_seconds();

	build_pool();
	/*
	 * Every design, then the lockless one again with no next-hop ids
	 * (as when they run out, and on 32-bit platforms): next-hop
	 * lookups then read the entry's rt_nh, which RTM_CHANGE swaps
	 * while they run.
	 */
	for (size_t run = 0; run <= ROUTE_NDESIGNS; run++) {
		size_t d = run < ROUTE_NDESIGNS ? run : 1;
		const char *name = run < ROUTE_NDESIGNS
		                       ? route_designs[d].rtc_name
		                       : "lockless without next-hop ids";
		pthread_t th[NREADERS];
		struct rt_table_stats st;
		long ops = 0;
		int i;

		for (i = 0; i < NPOOL; i++)
			pool[i].present = 0;
		cr_assert_eq(rt_table_create(&tbl, &route_designs[d]), 0);
		cr_assert_eq(route_designs[1].rtc_sync, RT_SYNC_PSERIALIZE);
		if (run == ROUTE_NDESIGNS)
			tbl->t_nh_idmax = 0; /* no ids: the fallback */
		pcache = rtcache_perthread_alloc(tbl);
		cr_assert_not_null(pcache);
		atomic_store(&stop, 0);
		atomic_store(&violations, 0);
		atomic_store(&lookups, 0);
		atomic_store(&hits, 0);
		atomic_store(&noref_hits, 0);
		atomic_store(&bulk_hits, 0);
		atomic_store(&nexthop_hits, 0);
		atomic_store(&short_hits, 0);
		for (i = 0; i < NREADERS; i++)
			pthread_create(
			    &th[i], NULL, reader, (void *)(uintptr_t)(i + 1));
		writer(secs, &ops);
		atomic_store(&stop, 1);
		for (i = 0; i < NREADERS; i++)
			pthread_join(th[i], NULL);
		rt_table_stats(tbl, &st);
		cr_log_info("%s: %ld writer ops, %ld lookups (%ld hits, %ld "
		            "weak-cache hits, %ld bulk hits, %ld next hops, "
		            "%ld entries shorter than /8), %zu routes",
		    name, ops, atomic_load(&lookups), atomic_load(&hits),
		    atomic_load(&noref_hits), atomic_load(&bulk_hits),
		    atomic_load(&nexthop_hits), atomic_load(&short_hits),
		    st.rts_entries_inet + st.rts_entries_inet6);
		cr_assert_eq(atomic_load(&violations), 0, "%s: %ld violations",
		    name, atomic_load(&violations));
		cr_assert_gt(ops, 10);
		cr_assert_gt(atomic_load(&hits), 0);
		cr_assert_gt(atomic_load(&noref_hits), 0,
		    "%s: rtcache_lookup_noref never hit", name);
		cr_assert_gt(atomic_load(&bulk_hits), 0,
		    "%s: rt_lookup_noref_bulk never hit", name);
		cr_assert_gt(atomic_load(&nexthop_hits), 0,
		    "%s: rt_lookup_nexthop never hit", name);
		cr_assert_gt(atomic_load(&short_hits), 0,
		    "%s: no lookup found a prefix shorter than /8", name);
		rtcache_perthread_free(pcache);
		rt_table_destroy(tbl);
	}
}
