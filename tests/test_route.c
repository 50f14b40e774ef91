/*
 * test_route.c: the routing table (mpsafe/net/route.h) in every design:
 * longest-prefix match, requests and their errors (each bad input of
 * issue 7), reject routes, walks, statistics, entry lifetime, and the
 * RTF_UPDATING protocol (waiters and non-blocking misses), and the
 * publication of a pruned trie slot to a reader with no other news of
 * the writer (see docs/design/verification.md, "Mutation").
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/net/route.h>

#include "route_helpers.h"
/* The table's private knob t_nh_idmax (next-hop ids), for three tests. */
#include "route_impl.h"

TestSuite(route, .timeout = 60);

static struct rt_table *
make(size_t d)
{
	struct rt_table *t = NULL;

	cr_assert_eq(rt_table_create(&t, &route_designs[d]), 0);
	cr_assert_not_null(t);
	return t;
}

#define FOR_EACH_DESIGN(d) for (size_t d = 0; d < ROUTE_NDESIGNS; d++)

Test(route, create_rejects_bad_config)
{
	struct rt_table *t;
	struct rt_table_config c = RT_TABLE_CONFIG_NETBSD;

	cr_assert_eq(rt_table_create(NULL, NULL), EINVAL);
	c.rtc_sync = (enum rt_sync)7;
	cr_assert_eq(rt_table_create(&t, &c), EINVAL);
	c.rtc_sync = RT_SYNC_RWLOCK;
	c.rtc_ref = (enum rt_refmode)9;
	cr_assert_eq(rt_table_create(&t, &c), EINVAL);
	cr_assert_eq(rt_table_create(&t, NULL), 0);
	rt_table_destroy(t);
}

/* Bytes a table's hooks saw, to check rts_alloc_bytes against. */
static void *
bytes_alloc(size_t size, void *arg)
{
	atomic_fetch_add((atomic_size_t *)arg, size);
	return calloc(1, size);
}

static void
bytes_free(void *p, size_t size, void *arg)
{
	atomic_fetch_sub((atomic_size_t *)arg, size);
	free(p);
}

/* Add (or delete, blocking) n routes: /24s, /28s and IPv6 /48s. */
static void
huge_routes(struct rt_table *t, int req, int n)
{
	char a[64];

	for (int i = 0; i < n; i++) {
		int plen = i % 3 == 0 ? 48 : i % 3 == 1 ? 24 : 28;

		if (plen == 48)
			snprintf(a, sizeof(a), "2001:db8:%x::", i);
		else
			snprintf(a, sizeof(a), "10.%d.%d.%d", i >> 8 & 255,
			    i & 255, plen == 28 ? 16 : 0);
		cr_assert_eq(route_req(t, req, a, plen,
		                 req != MPSAFE_RTM_ADD ? NULL
		                 : plen == 48          ? "2001:db8::1"
		                                       : "192.0.2.1",
		                 1 + (unsigned)(i % 7), 0, NULL),
		    0, "%s %s/%d", req == MPSAFE_RTM_ADD ? "add" : "delete", a,
		    plen);
	}
}

/* rts_alloc_bytes counts what the allocator was asked for, the table too. */
Test(route, stats_count_allocated_bytes)
{
	FOR_EACH_DESIGN(d)
	{
		atomic_size_t live;
		struct rt_table_config c = route_designs[d];
		struct rt_table *t;
		struct rt_table_stats st;

		if (c.rtc_hugepages)
			continue; /* no hooks */
		atomic_init(&live, 0);
		c.rtc_alloc = bytes_alloc;
		c.rtc_free = bytes_free;
		c.rtc_alloc_arg = &live;
		cr_assert_eq(rt_table_create(&t, &c), 0);
		huge_routes(t, MPSAFE_RTM_ADD, 600);
		rt_table_stats(t, &st);
		cr_assert_eq(
		    st.rts_alloc_bytes, atomic_load(&live), "%s", c.rtc_name);
		cr_assert_geq(st.rts_alloc_bytes, st.rts_total_bytes);
		cr_assert_eq(st.rts_mapped_bytes, 0);
		huge_routes(t, MPSAFE_RTM_DELETE, 300);
		mpsafe_defer_barrier(); /* retired nodes freed */
		rt_table_stats(t, &st);
		cr_assert_eq(
		    st.rts_alloc_bytes, atomic_load(&live), "%s", c.rtc_name);
		rt_table_destroy(t);
		cr_assert_eq(atomic_load(&live), 0, "%s", c.rtc_name);
	}
}

/*
 * rtc_hugepages: refused with hooks; maps 2 MiB chunks; a table that
 * deletes its routes and adds them again reuses its freed objects.
 */
Test(route, hugepages_reuse_their_chunks)
{
	struct rt_table_config c = RT_TABLE_CONFIG_LOCKLESS;
	atomic_size_t live;
	struct rt_table *t;
	struct rt_table_stats st;
	size_t mapped;

	atomic_init(&live, 0);
	c.rtc_hugepages = true;
	c.rtc_alloc = bytes_alloc;
	c.rtc_free = bytes_free;
	c.rtc_alloc_arg = &live;
	cr_assert_eq(rt_table_create(&t, &c), EINVAL);
	c.rtc_alloc = NULL;
	c.rtc_free = NULL;
	c.rtc_alloc_arg = NULL;
	cr_assert_eq(rt_table_create(&t, &c), 0);
	huge_routes(t, MPSAFE_RTM_ADD, 3000);
	cr_assert_eq(route_match_plen(t, "10.0.5.20"), 28);
	cr_assert_eq(route_match_plen(t, "10.0.4.20"), 24);
	rt_table_stats(t, &st);
	mapped = st.rts_mapped_bytes;
	cr_assert_gt(mapped, 0);
	cr_assert_eq(mapped % ((size_t)2 << 20), 0, "%zu", mapped);
	cr_assert_geq(st.rts_alloc_bytes, st.rts_total_bytes);
	for (int round = 0; round < 3; round++) {
		huge_routes(t, MPSAFE_RTM_DELETE, 3000);
		mpsafe_defer_barrier(); /* retired nodes back in the slab */
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet + st.rts_entries_inet6, 0);
		huge_routes(t, MPSAFE_RTM_ADD, 3000);
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_mapped_bytes, mapped,
		    "round %d: %zu bytes mapped, %zu before", round,
		    st.rts_mapped_bytes, mapped);
	}
	cr_assert_eq(route_match_plen(t, "10.0.5.20"), 28);
	rt_table_destroy(t);
}

Test(route, longest_prefix_inet)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);

		cr_assert_eq(route_match_plen(t, "10.1.2.3"), -1);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "0.0.0.0", 0,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, NULL,
		                 3, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.0", 24, NULL,
		                 4, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.128", 25,
		                 NULL, 5, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.200", -1,
		                 NULL, 6, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "10.1.2.3"), 24);
		cr_assert_eq(route_match_plen(t, "10.1.2.129"), 25);
		cr_assert_eq(route_match_plen(t, "10.1.2.200"), 32);
		cr_assert_eq(route_match_plen(t, "10.1.3.1"), 16);
		cr_assert_eq(route_match_plen(t, "10.2.3.1"), 8);
		cr_assert_eq(route_match_plen(t, "11.0.0.1"), 0);
		/* Deletes hand the slots back to the covering prefix. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.0.0", 16,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "10.1.3.1"), 8);
		cr_assert_eq(route_match_plen(t, "10.1.2.3"), 24);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.2.0", 24,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "10.1.2.3"), 8);
		cr_assert_eq(route_match_plen(t, "10.1.2.130"), 25);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "0.0.0.0", 0, NULL,
		                 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "11.0.0.1"), -1);
		rt_table_destroy(t);
	}
}

/*
 * IPv4 prefixes shorter than /8 live in a trie of their own (lpm.c,
 * "Short prefixes"); lookups fall back to it where no /8 or longer
 * prefix matches.  Every crossing of that boundary, both ways.
 */
Test(route, short_prefixes_inet)
{
	/* Each step: a request (0: none), then a lookup and its length. */
	static const struct {
		int req;
		const char *dst;
		int plen;
		const char *probe;
		int want; /* matching prefix length, -1: no route */
	} step[] = {
	    {MPSAFE_RTM_ADD, "0.0.0.0", 0, NULL, 0},
	    {MPSAFE_RTM_ADD, "0.0.0.0", 1, NULL, 0},
	    {MPSAFE_RTM_ADD, "16.0.0.0", 4, NULL, 0},
	    {MPSAFE_RTM_ADD, "20.0.0.0", 7, NULL, 0},
	    {MPSAFE_RTM_ADD, "20.0.0.0", 8, NULL, 0},
	    {MPSAFE_RTM_ADD, "20.16.0.0", 12, NULL, 0},
	    {MPSAFE_RTM_ADD, "20.16.1.0", 24, NULL, 0},
	    {MPSAFE_RTM_ADD, "20.16.1.64", 26, "20.16.1.65", 26},
	    {0, NULL, 0, "20.16.1.1", 24},
	    {0, NULL, 0, "20.16.2.1", 12},
	    {0, NULL, 0, "20.32.0.1", 8},
	    {0, NULL, 0, "21.0.0.1", 7},
	    {0, NULL, 0, "23.0.0.1", 4},
	    {0, NULL, 0, "64.0.0.1", 1},
	    {0, NULL, 0, "200.0.0.1", 0},
	    /* A delete hands /8 and longer slots to a shorter prefix. */
	    {MPSAFE_RTM_DELETE, "20.0.0.0", 8, "20.32.0.1", 7},
	    {0, NULL, 0, "20.16.2.1", 12},
	    {MPSAFE_RTM_DELETE, "20.16.0.0", 12, "20.16.2.1", 7},
	    {0, NULL, 0, "20.16.1.65", 26},
	    {MPSAFE_RTM_DELETE, "20.0.0.0", 7, "20.16.2.1", 4},
	    {0, NULL, 0, "20.16.1.1", 24},
	    {MPSAFE_RTM_DELETE, "16.0.0.0", 4, "20.16.2.1", 1},
	    {MPSAFE_RTM_DELETE, "0.0.0.0", 1, "20.16.2.1", 0},
	    {MPSAFE_RTM_DELETE, "0.0.0.0", 0, "20.16.2.1", -1},
	    {0, NULL, 0, "20.16.1.65", 26},
	    /* And a short prefix added under longer ones. */
	    {MPSAFE_RTM_ADD, "20.0.0.0", 6, "22.0.0.1", 6},
	    {0, NULL, 0, "20.16.1.1", 24},
	};

	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);

		for (size_t i = 0; i < sizeof(step) / sizeof(step[0]); i++) {
			if (step[i].req != 0)
				cr_assert_eq(
				    route_req(t, step[i].req, step[i].dst,
				        step[i].plen, NULL, (unsigned)i + 1, 0,
				        NULL),
				    0, "step %zu: request on %s/%d", i,
				    step[i].dst, step[i].plen);
			if (step[i].probe != NULL)
				cr_assert_eq(route_match_plen(t, step[i].probe),
				    step[i].want, "step %zu: %s", i,
				    step[i].probe);
		}
		rt_table_destroy(t);
	}
}

/*
 * An address covered at every moment, first by a short prefix (/4, the
 * short trie), then by a /16 (the main trie), back and forth, the writer
 * adding the new route before deleting the old.  A lookup that finds no
 * match in the main trie reads the short one; it must never pair the
 * main trie before the /16's add with the short trie after the /4's
 * delete (a miss no state of the table gives), however long it is
 * delayed between the two (lpm.c, "Concurrency"); nor may a lookup that
 * reads the entry it found (the next hop's entry path, a route cache's
 * walk, rtalloc1()) miss because the entry was deleted meanwhile
 * (route.c, "Lookups that meet a deleted entry").  One reader more than
 * there are CPUs, so that readers are preempted in the middle of lookups
 * while the writer goes on, for SHORT_RACE_MS per design, with next-hop
 * ids and without (the entry path, 32-bit's only one).  The deletes
 * leave the entries to the table's workqueue (a grace period waits for
 * the preempted readers), so that many updates pass while a reader is
 * off its CPU.  Readers count misses and wrong lengths of entry,
 * next-hop, cached and counted lookups.
 */
#define SHORT_RACE_MAX_READERS 17
#define SHORT_RACE_MS 500

struct short_race {
	struct rt_table *t;
	atomic_bool stop;
	atomic_long lookups, bad;
};

static void *
short_race_reader(void *arg)
{
	struct short_race *r = arg;
	union rt_sockaddr a = sa_of("20.1.2.3");
	struct route ro;
	long n = 0, bad = 0;

	rtcache_attach(&ro, r->t, MPSAFE_RT_NOWAIT);
	while (!atomic_load(&r->stop)) {
		int s = rt_read_enter(r->t);
		struct rt_entry *rt =
		    rt_lookup_noref(r->t, AF_INET, &a.sin.sin_addr);
		const struct rt_nexthop *nh =
		    rt_lookup_nexthop(r->t, AF_INET, &a.sin.sin_addr);

		if (rt == NULL || (rt_getplen(rt) != 4 && rt_getplen(rt) != 16))
			bad++;
		if (nh == NULL)
			bad++;
		if (rtcache_lookup_noref(&ro, &a.sa, NULL) == NULL)
			bad++;
		rt_read_exit(r->t, s);
		/* A counted lookup, outside the read section. */
		rt = rtalloc1(r->t, &a.sa, MPSAFE_RT_NOWAIT);
		if (rt == NULL)
			bad++;
		else
			rt_unref(rt);
		n++;
	}
	rtcache_free(&ro);
	atomic_fetch_add(&r->lookups, n);
	atomic_fetch_add(&r->bad, bad);
	return NULL;
}

Test(route, short_and_long_prefix_handover)
{
	/* The new route first, then the old one goes: always covered. */
	static const struct {
		int req;
		const char *dst;
		int plen;
		unsigned ifindex;
	} cycle[4] = {{MPSAFE_RTM_ADD, "20.1.0.0", 16, 2},
	    {MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, "16.0.0.0", 4, 0},
	    {MPSAFE_RTM_ADD, "16.0.0.0", 4, 1},
	    {MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, "20.1.0.0", 16, 0}};

	/* Every design, with next-hop ids and without (32-bit's path). */
	for (size_t run = 0; run < 2 * ROUTE_NDESIGNS; run++) {
		size_t d = run / 2;
		bool ids = run % 2 == 0;
		struct short_race r;
		pthread_t th[SHORT_RACE_MAX_READERS];
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		int nreaders = ncpu > 0 && ncpu < SHORT_RACE_MAX_READERS
		                   ? (int)ncpu + 1
		                   : SHORT_RACE_MAX_READERS;
		struct timespec t0, now;
		long cycles = 0;

		r.t = make(d);
		if (!ids)
			r.t->t_nh_idmax = 0;
		atomic_init(&r.stop, false);
		atomic_init(&r.lookups, 0);
		atomic_init(&r.bad, 0);
		cr_assert_eq(route_req(r.t, MPSAFE_RTM_ADD, "16.0.0.0", 4, NULL,
		                 1, 0, NULL),
		    0);
		for (int i = 0; i < nreaders; i++)
			cr_assert_eq(
			    pthread_create(&th[i], NULL, short_race_reader, &r),
			    0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (size_t j = 0; j < 4; j++)
				cr_assert_eq(
				    route_req(r.t, cycle[j].req, cycle[j].dst,
				        cycle[j].plen, NULL, cycle[j].ifindex,
				        0, NULL),
				    0);
			cycles++;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while ((now.tv_sec - t0.tv_sec) * 1000 +
		             (now.tv_nsec - t0.tv_nsec) / 1000000 <
		         SHORT_RACE_MS);
		atomic_store(&r.stop, true);
		for (int i = 0; i < nreaders; i++)
			pthread_join(th[i], NULL);
		cr_assert_gt(atomic_load(&r.lookups), 0);
		cr_assert_eq(atomic_load(&r.bad), 0,
		    "%s%s: %ld of %ld lookups (%d readers, %ld cycles) missed "
		    "or found another prefix",
		    route_designs[d].rtc_name, ids ? "" : " (no ids)",
		    atomic_load(&r.bad), atomic_load(&r.lookups), nreaders,
		    cycles);
		cr_log_info("%s%s: %ld lookups, %d readers, %ld cycles",
		    route_designs[d].rtc_name, ids ? "" : " (no ids)",
		    atomic_load(&r.lookups), nreaders, cycles);
		cr_assert_eq(route_req(r.t, MPSAFE_RTM_DELETE, "16.0.0.0", 4,
		                 NULL, 0, 0, NULL),
		    0);
		rt_table_destroy(r.t);
	}
}

Test(route, longest_prefix_inet6)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8:1::", 48,
		                 "fe80::1", 2, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8:1:2::", 64,
		                 NULL, 3, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8:1:2::5", -1,
		                 NULL, 4, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD,
		                 "2001:db8:1:2:8000::", 65, NULL, 5, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2::5"), 128);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2::6"), 64);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2:8000::1"), 65);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:3::1"), 48);
		cr_assert_eq(route_match_plen(t, "2001:db8:2::1"), 32);
		cr_assert_eq(route_match_plen(t, "2001:db9::1"), -1);
		/* Families do not mix. */
		cr_assert_eq(route_match_plen(t, "32.1.13.184"), -1);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "2001:db8:1::", 48,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:3::1"), 32);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2::6"), 64);
		rt_table_destroy(t);
	}
}

Test(route, entry_fields)
{
	struct rt_table *t = make(0);
	struct rt_entry *rt = NULL;
	union rt_sockaddr a = sa_of("198.51.100.7");
	char buf[INET_ADDRSTRLEN];

	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "198.51.100.0", 24,
	                 "192.0.2.254", 7, MPSAFE_RTF_STATIC, &rt),
	    0);
	cr_assert_not_null(rt);
	rt_unref(rt);
	rt = rtalloc1(t, &a.sa, 0);
	cr_assert_not_null(rt);
	cr_assert_eq(rt_getflags(rt),
	    MPSAFE_RTF_UP | MPSAFE_RTF_GATEWAY | MPSAFE_RTF_STATIC);
	cr_assert_eq(rt->rt_ifindex, 7u);
	cr_assert_eq(rt_getkey(rt)->sa_family, AF_INET);
	inet_ntop(AF_INET, &rt->rt_dst.sin.sin_addr, buf, sizeof(buf));
	cr_assert(strcmp(buf, "198.51.100.0") == 0, "%s", buf);
	cr_assert_not_null(rt_getgate(rt));
	inet_ntop(AF_INET, &rt->rt_gateway.sin.sin_addr, buf, sizeof(buf));
	cr_assert(strcmp(buf, "192.0.2.254") == 0, "%s", buf);
	rt_unref(rt);
	rt_table_destroy(t);
}

/* Each bad input of issue 7, with the table unchanged after it. */
Test(route, bad_input)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_addrinfo info;
		struct sockaddr_un_like {
			sa_family_t f;
			char p[30];
		} un = {AF_UNIX, "x"};
		union rt_sockaddr g6 = sa_of("2001:db8::1"),
		                  d4 = sa_of("10.0.0.0");
		struct rt_table_stats st;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		/* Prefix length out of range. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 33, NULL,
		                 1, 0, NULL),
		    EINVAL);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", -2, NULL,
		                 1, 0, NULL),
		    EINVAL);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 129,
		                 NULL, 1, 0, NULL),
		    EINVAL);
		/* Host bits beyond the prefix: refused, not masked. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.3", 16, NULL,
		                 1, 0, NULL),
		    EINVAL);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::1", 64,
		                 NULL, 1, 0, NULL),
		    EINVAL);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.1", 8,
		                 NULL, 0, 0, NULL),
		    EINVAL);
		/* Family mismatch between destination and gateway. */
		memset(&info, 0, sizeof(info));
		info.rti_dst = &d4.sa;
		info.rti_plen = 24;
		info.rti_flags = MPSAFE_RTF_GATEWAY;
		info.rti_gateway = &g6.sa;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		/* Gateway flag without a gateway. */
		info.rti_gateway = NULL;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		/* Flags a request may not set. */
		info.rti_flags = MPSAFE_RTF_UPDATING;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		info.rti_flags = MPSAFE_RTF_READ;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		/* Unknown family. */
		info.rti_flags = 0;
		info.rti_dst = (const struct sockaddr *)(const void *)&un;
		cr_assert_eq(
		    rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EAFNOSUPPORT);
		cr_assert_null(rtalloc1(t, info.rti_dst, 0));
		/* Unknown request, missing arguments. */
		info.rti_dst = &d4.sa;
		cr_assert_eq(rtrequest(t, 9, &info, NULL), EINVAL);
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, NULL, NULL), EINVAL);
		info.rti_dst = NULL;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		/* Delete of a missing route, add of an existing one. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 9,
		                 NULL, 0, 0, NULL),
		    ESRCH);
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "11.0.0.0", 8,
		                 NULL, 0, 0, NULL),
		    ESRCH);
		cr_assert_eq(route_req(t, MPSAFE_RTM_GET, "11.0.0.0", 8, NULL,
		                 0, 0, NULL),
		    ESRCH);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    EEXIST);
		/* A change that would have to wait, from a non-blocking caller.
		 */
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_CHANGE | MPSAFE_RTM_F_NOWAIT,
		        "10.0.0.0", 8, NULL, 0, 0, NULL),
		    EWOULDBLOCK);
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet, 1u);
		cr_assert_eq(st.rts_entries_inet6, 0u);
		cr_assert_eq(route_match_plen(t, "10.9.9.9"), 8);
		rt_table_destroy(t);
	}
}

/*
 * Prefix lengths at their bounds, in every request: 0 and the family's
 * longest (RT_PLEN_MAX_INET, RT_PLEN_MAX_INET6) are routes, -1 names the
 * longest (a host route), and one past either end is EINVAL for ADD,
 * DELETE, CHANGE and GET alike, leaving the table unchanged.
 */
Test(route, prefix_length_bounds)
{
	static const struct {
		const char *dst, *probe;
		int max;
	} fam[] = {
	    {"10.1.2.3", "10.1.2.3", RT_PLEN_MAX_INET},
	    {"2001:db8::7", "2001:db8::7", RT_PLEN_MAX_INET6},
	};
	static const int reqs[] = {MPSAFE_RTM_ADD, MPSAFE_RTM_DELETE,
	    MPSAFE_RTM_CHANGE, MPSAFE_RTM_GET};

	cr_assert_eq(RT_PLEN_MAX_INET, 32);
	cr_assert_eq(RT_PLEN_MAX_INET6, 128);
	FOR_EACH_DESIGN(d)
	for (size_t f = 0; f < 2; f++) {
		struct rt_table *t = make(d);
		const char *any = f == 0 ? "0.0.0.0" : "::";
		struct rt_table_stats st;
		struct rt_entry *rt = NULL;

		/* The longest, spelt out. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, fam[f].dst,
		                 fam[f].max, NULL, 1, 0, NULL),
		    0, "%s: /%d refused", route_designs[d].rtc_name,
		    fam[f].max);
		cr_assert_eq(route_match_plen(t, fam[f].probe), fam[f].max);
		/* -1 names the same route. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, fam[f].dst, -1, NULL,
		                 1, 0, NULL),
		    EEXIST);
		cr_assert_eq(route_req(t, MPSAFE_RTM_GET, fam[f].dst, -1, NULL,
		                 0, 0, &rt),
		    0);
		cr_assert_eq(rt_getplen(rt), (unsigned)fam[f].max);
		rt_unref(rt);
		/* The shortest. */
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_ADD, any, 0, NULL, 2, 0, NULL), 0);
		/* One past either end, every request. */
		for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
			cr_assert_eq(route_req(t, reqs[r], fam[f].dst,
			                 fam[f].max + 1, NULL, 1, 0, NULL),
			    EINVAL, "%s: req %d /%d", route_designs[d].rtc_name,
			    reqs[r], fam[f].max + 1);
			cr_assert_eq(
			    route_req(t, reqs[r], any, -2, NULL, 1, 0, NULL),
			    EINVAL, "req %d /-2", reqs[r]);
		}
		rt_table_stats(t, &st);
		cr_assert_eq(
		    f == 0 ? st.rts_entries_inet : st.rts_entries_inet6, 2u);
		cr_assert_eq(route_match_plen(t, fam[f].probe), fam[f].max);
		/* The longest and the shortest delete by their lengths. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, fam[f].dst,
		                 fam[f].max, NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, fam[f].probe), 0);
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_DELETE, any, 0, NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, fam[f].probe), -1);
		rt_table_destroy(t);
	}
}

/* An allocator that fails once its budget is spent. */
struct budget {
	atomic_long left;
	atomic_long live;
};

static void *
budget_alloc(size_t size, void *arg)
{
	struct budget *b = arg;

	if (atomic_fetch_sub(&b->left, 1) <= 0)
		return NULL;
	atomic_fetch_add(&b->live, 1);
	return calloc(1, size);
}

static void
budget_free(void *p, size_t size, void *arg)
{
	struct budget *b = arg;

	(void)size;
	atomic_fetch_sub(&b->live, 1);
	free(p);
}

static int
count_fn(struct rt_entry *rt, void *arg)
{
	(void)rt;
	(*(int *)arg)++;
	return 0;
}

/*
 * Let the next call make n allocations and fail the one after: through
 * the budget's hooks, or on huge pages (whose slab the hooks would
 * replace) through injected faults, which the slab honours per object
 * (mpsafe_alloc_point()).  A huge-pages table needs a library built
 * with fault injection (the test presets); release builds skip it.
 */
static void
arm_enomem(const struct rt_table_config *c, struct budget *b, long n)
{
	if (!c->rtc_hugepages) {
		atomic_store(&b->left, n);
		return;
	}
#ifdef MPSAFE_FAULT_INJECTION
	mpsafe_fault_alloc_fail_nth((unsigned)n + 1);
#endif
}

/* ENOMEM at every allocation of an add: table unchanged each time. */
Test(route, enomem_leaves_table_unchanged)
{
	FOR_EACH_DESIGN(d)
	{
		struct budget b;
		struct rt_table_config c = route_designs[d];
		struct rt_table *t;
		struct rt_table_stats before, after;
		long n;
		int error, count;

#ifndef MPSAFE_FAULT_INJECTION
		if (c.rtc_hugepages)
			continue; /* see arm_enomem() */
#endif
		atomic_init(&b.left, 1000000);
		atomic_init(&b.live, 0);
		if (!c.rtc_hugepages) {
			c.rtc_alloc = budget_alloc;
			c.rtc_free = budget_free;
			c.rtc_alloc_arg = &b;
		}
		cr_assert_eq(rt_table_create(&t, &c), 0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rt_table_stats(t, &before);
		/* A /30 and a v6 /80 need an entry and nodes. */
		for (n = 0;; n++) {
			arm_enomem(&c, &b, n);
			error = route_req(t, MPSAFE_RTM_ADD, "10.1.2.4", 30,
			    NULL, 2, 0, NULL);
			if (error == 0)
				break;
			cr_assert_eq(error, ENOMEM);
			rt_table_stats(t, &after);
			cr_assert_eq(after.rts_entries_inet, 1u);
			cr_assert_eq(
			    after.rts_trie_nodes, before.rts_trie_nodes);
			cr_assert_eq(
			    after.rts_trie_bytes, before.rts_trie_bytes);
			cr_assert_eq(route_match_plen(t, "10.1.2.5"), 8);
			count = 0;
			rt_walktree(t, AF_UNSPEC, count_fn, &count);
			cr_assert_eq(count, 1);
		}
		cr_assert_geq(n, 2, "an entry and a node: %ld", n);
		cr_assert_eq(route_match_plen(t, "10.1.2.5"), 30);
		for (n = 0;; n++) {
			arm_enomem(&c, &b, n);
			error = route_req(t, MPSAFE_RTM_ADD,
			    "2001:db8:1:2:3::", 80, NULL, 2, 0, NULL);
			if (error == 0)
				break;
			cr_assert_eq(error, ENOMEM);
			cr_assert_eq(
			    route_match_plen(t, "2001:db8:1:2:3::1"), -1);
		}
		cr_assert_geq(n, 2, "an entry and a node: %ld", n);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2:3::1"), 80);
		/*
		 * A /80 whose path leaves the first one's at bit 63, in the
		 * levels the first one's link leaves out: the entry, the
		 * node between, the copy of the first /80's node and a node
		 * for the new one.
		 */
		rt_table_stats(t, &before);
		for (n = 0;; n++) {
			arm_enomem(&c, &b, n);
			error = route_req(t, MPSAFE_RTM_ADD,
			    "2001:db8:1:3::", 80, NULL, 3, 0, NULL);
			if (error == 0)
				break;
			cr_assert_eq(error, ENOMEM);
			rt_table_stats(t, &after);
			cr_assert_eq(
			    after.rts_trie_nodes, before.rts_trie_nodes);
			cr_assert_eq(
			    after.rts_trie_bytes, before.rts_trie_bytes);
			cr_assert_null(rt_lpm_check(&t->t_lpm[RT_INET6]));
			cr_assert_eq(
			    route_match_plen(t, "2001:db8:1:3::1"), -1);
			cr_assert_eq(
			    route_match_plen(t, "2001:db8:1:2:3::1"), 80);
		}
		cr_assert_geq(n, 4, "an entry and three nodes: %ld", n);
		cr_assert_null(rt_lpm_check(&t->t_lpm[RT_INET6]));
		cr_assert_eq(route_match_plen(t, "2001:db8:1:3::1"), 80);
		cr_assert_eq(route_match_plen(t, "2001:db8:1:2:3::1"), 80);
		atomic_store(&b.left, 1000000);
#ifdef MPSAFE_FAULT_INJECTION
		mpsafe_fault_alloc_fail_nth(0);
#endif
		rt_table_destroy(t);
		cr_assert_eq(atomic_load(&b.live), 0, "leaked %ld allocations",
		    atomic_load(&b.live));
	}
}

#if UINTPTR_MAX > 0xffffffffu
/*
 * An allocator whose entries (or trie nodes) come back with a bit at or
 * above 48 set (48, the limit itself, 56 as a tagged pointer or a 57-bit
 * address would, and 63): a trie slot keeps 48 bits of an address, so the
 * table must refuse them (ENOMEM, table unchanged) rather than store them
 * and decode them truncated.
 */
enum tag_what { TAG_NONE, TAG_ENTRIES, TAG_NODES };

struct tagger {
	_Atomic int what;
	atomic_long live;
	uintptr_t bit; /* set in tagged addresses */
};

static void *
tag_alloc(size_t size, void *arg)
{
	struct tagger *tg = arg;
	void *p = calloc(1, size);
	int what = atomic_load(&tg->what);
	/* A stride-8 node holds 256 slots; the roots were made untagged. */
	bool tag = (what == TAG_ENTRIES && size == sizeof(struct rt_entry)) ||
	           (what == TAG_NODES && size > 256 * sizeof(uintptr_t) &&
	               size < ((size_t)1 << 20));

	if (p == NULL)
		return NULL;
	atomic_fetch_add(&tg->live, 1);
	return tag ? (void *)((uintptr_t)p | tg->bit) : p;
}

static void
tag_free(void *p, size_t size, void *arg)
{
	struct tagger *tg = arg;

	(void)size;
	atomic_fetch_sub(&tg->live, 1);
	free((void *)((uintptr_t)p & ~tg->bit));
}

Test(route, allocations_above_48_bits_are_refused)
{
	/* The lowest bit at or above 2^48, a middle one, the highest. */
	static const unsigned bits[] = {48, 56, 63};

	FOR_EACH_DESIGN(d)
	for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
		struct tagger tg;
		struct rt_table_config c = route_designs[d];
		struct rt_table *t;
		struct rt_table_stats before, after;

		if (c.rtc_hugepages)
			continue; /* the hooks would replace its allocator */

		atomic_init(&tg.what, TAG_NONE);
		atomic_init(&tg.live, 0);
		tg.bit = (uintptr_t)1 << bits[b];
		c.rtc_alloc = tag_alloc;
		c.rtc_free = tag_free;
		c.rtc_alloc_arg = &tg;
		cr_assert_eq(rt_table_create(&t, &c), 0);
		/* The /30 below shares this next hop: no next-hop allocation.
		 */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rt_table_stats(t, &before);
		for (int w = TAG_ENTRIES; w <= TAG_NODES; w++) {
			atomic_store(&tg.what, w);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.4",
			                 30, NULL, 1, 0, NULL),
			    ENOMEM, "%s: tagged %s (bit %u) stored", c.rtc_name,
			    w == TAG_ENTRIES ? "entry" : "node", bits[b]);
			rt_table_stats(t, &after);
			cr_assert_eq(after.rts_entries_inet, 1u);
			cr_assert_eq(
			    after.rts_trie_nodes, before.rts_trie_nodes);
			cr_assert_eq(route_match_plen(t, "10.1.2.5"), 8);
		}
		atomic_store(&tg.what, TAG_NONE);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.4", 30, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(route_match_plen(t, "10.1.2.5"), 30);
		rt_table_destroy(t);
		cr_assert_eq(atomic_load(&tg.live), 0, "leaked %ld allocations",
		    atomic_load(&tg.live));
	}
}
#endif

Test(route, get_and_change)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_entry *rt = NULL;
		struct rt_addrinfo info;
		union rt_sockaddr dst = sa_of("203.0.113.0"),
		                  gw = sa_of("192.0.2.9");
		char buf[INET_ADDRSTRLEN];

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "203.0.113.0", 24,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		memset(&info, 0, sizeof(info));
		info.rti_dst = &dst.sa;
		info.rti_plen = 24;
		info.rti_flags = MPSAFE_RTF_GATEWAY | MPSAFE_RTF_STATIC;
		info.rti_gateway = &gw.sa;
		info.rti_ifindex = 9;
		info.rti_inits = MPSAFE_RTV_MTU;
		info.rti_rmx.rmx_mtu = 1400;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL), 0);
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_GET, &info, &rt), 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 9u);
		cr_assert_eq(rt->rt_rmx.rmx_mtu, 1400u);
		cr_assert_eq(rt_getflags(rt),
		    MPSAFE_RTF_UP | MPSAFE_RTF_GATEWAY | MPSAFE_RTF_STATIC);
		inet_ntop(
		    AF_INET, &rt->rt_gateway.sin.sin_addr, buf, sizeof(buf));
		cr_assert(strcmp(buf, "192.0.2.9") == 0, "%s", buf);
		rt_unref(rt);
		/* A change without RTF_GATEWAY clears the gateway. */
		info.rti_flags = 0;
		info.rti_gateway = NULL;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL), 0);
		rt = rtalloc1(t, &dst.sa, 0);
		cr_assert_null(rt_getgate(rt));
		cr_assert_eq(rt->rt_rmx.rmx_mtu, 1400u);
		rt_unref(rt);
		rt_table_destroy(t);
	}
}

Test(route, reject_route_errnos)
{
	struct rt_table *t = make(1);
	struct rt_entry *rt;
	struct rt_addrinfo info;
	union rt_sockaddr dst = sa_of("192.0.2.0");
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "192.0.2.0", 24, NULL, 1,
	                 MPSAFE_RTF_REJECT, &rt),
	    0);
	cr_assert_eq(rt_check_reject_route(rt, true), ENETUNREACH);
	cr_assert_eq(rt_check_reject_route(rt, false), EHOSTDOWN);
	rt_unref(rt);
	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "192.0.2.1", -1, NULL, 1,
	                 MPSAFE_RTF_REJECT, &rt),
	    0);
	cr_assert_eq(rt_check_reject_route(rt, true), EHOSTUNREACH);
	rt_unref(rt);
	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "198.51.100.0", 24,
	                 "192.0.2.1", 1, MPSAFE_RTF_REJECT, &rt),
	    0);
	cr_assert_eq(rt_check_reject_route(rt, false), EHOSTUNREACH);
	rt_unref(rt);
	/* Not yet expired, then expired. */
	memset(&info, 0, sizeof(info));
	info.rti_dst = &dst.sa;
	info.rti_plen = 24;
	info.rti_flags = MPSAFE_RTF_REJECT;
	info.rti_inits = MPSAFE_RTV_EXPIRE;
	info.rti_rmx.rmx_expire = now.tv_sec + 3600;
	cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, &rt), 0);
	cr_assert_eq(rt_check_reject_route(rt, false), EHOSTDOWN);
	rt_unref(rt);
	info.rti_rmx.rmx_expire = now.tv_sec - 1;
	cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, &rt), 0);
	cr_assert_eq(rt_check_reject_route(rt, false), 0);
	rt_unref(rt);
	/* A plain route and a blackhole reject nothing. */
	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "203.0.113.0", 24, NULL, 1,
	                 MPSAFE_RTF_BLACKHOLE, &rt),
	    0);
	cr_assert_eq(rt_check_reject_route(rt, false), 0);
	rt_unref(rt);
	rt_table_destroy(t);
}

struct walk_acc {
	int inet, inet6, stop_after;
};

static int
walk_fn(struct rt_entry *rt, void *arg)
{
	struct walk_acc *w = arg;

	if (rt_getkey(rt)->sa_family == AF_INET)
		w->inet++;
	else
		w->inet6++;
	if (w->stop_after > 0 && w->inet + w->inet6 == w->stop_after)
		return 42;
	return 0;
}

Test(route, walk_and_stats)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_table_stats st0, st;
		struct walk_acc w = {0, 0, 0};
		char a[64];
		int i;

		rt_table_stats(t, &st0);
		cr_assert_eq(st0.rts_trie_nodes, 3u,
		    "three roots: IPv4 (and its short-prefix node), IPv6");
		for (i = 0; i < 100; i++) {
			snprintf(
			    a, sizeof(a), "10.%d.%d.0", i / 10, i % 10 * 16);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, a, 28, NULL,
			                 1, 0, NULL),
			    0);
			snprintf(a, sizeof(a), "2001:db8:%x::", i);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, a, 48, NULL,
			                 1, 0, NULL),
			    0);
		}
		cr_assert_eq(rt_walktree(t, AF_UNSPEC, walk_fn, &w), 0);
		cr_assert_eq(w.inet, 100);
		cr_assert_eq(w.inet6, 100);
		memset(&w, 0, sizeof(w));
		cr_assert_eq(rt_walktree(t, AF_INET6, walk_fn, &w), 0);
		cr_assert_eq(w.inet, 0);
		cr_assert_eq(w.inet6, 100);
		memset(&w, 0, sizeof(w));
		w.stop_after = 5;
		cr_assert_eq(rt_walktree(t, AF_UNSPEC, walk_fn, &w), 42);
		cr_assert_eq(w.inet + w.inet6, 5);
		cr_assert_eq(
		    rt_walktree(t, AF_UNIX, walk_fn, &w), EAFNOSUPPORT);
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet, 100u);
		cr_assert_eq(st.rts_entries_inet6, 100u);
		cr_assert_gt(st.rts_trie_nodes, st0.rts_trie_nodes);
		cr_assert_gt(st.rts_total_bytes,
		    st.rts_trie_bytes + st.rts_entry_bytes - 1);
		for (i = 0; i < 100; i++) {
			snprintf(
			    a, sizeof(a), "10.%d.%d.0", i / 10, i % 10 * 16);
			cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, a, 28,
			                 NULL, 0, 0, NULL),
			    0);
			snprintf(a, sizeof(a), "2001:db8:%x::", i);
			cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, a, 48,
			                 NULL, 0, 0, NULL),
			    0);
		}
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet + st.rts_entries_inet6, 0u);
		cr_assert_eq(st.rts_trie_nodes, 3u, "empty nodes removed");
		cr_assert_eq(st.rts_trie_bytes, st0.rts_trie_bytes);
		cr_assert_eq(st.rts_dying, 0u);
		rt_table_destroy(t);
	}
}

Test(route, lookup_hold_and_noref)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.1.2.3");
		struct rt_hold h;
		struct rt_entry *rt;
		uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
		int s;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, NULL,
		                 3, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 4, 0, NULL),
		    0);
		rt = rt_lookup(t, &a.sa, 0, &h);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 3u);
		rt_release(rt, &h);
		s = rt_read_enter(t);
		rt = rt_lookup_noref(t, AF_INET, &a.sin.sin_addr);
		cr_assert_not_null(rt);
		cr_assert_eq(rt_getplen(rt), 16u);
		rt = rt_lookup_noref(t, AF_INET6, v6);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 4u);
		cr_assert_null(rt_lookup_noref(t, AF_UNIX, v6));
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

/*
 * The inline IPv4 lookups (route.h) and their way out: a root slot's
 * entry, marked or not yet read; a node below the root (a /24 with a /25
 * inside); a short prefix under /8; no match; the next hop of each; a
 * change, which clears the mark.
 */
Test(route, lookup_noref_inline_paths)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		/* Root slot, node (twice), root slot of a /8, short. */
		static const char *const dsts[] = {"10.1.2.5", "10.1.1.5",
		    "10.1.1.200", "10.2.3.4", "11.0.0.1"};
		static const unsigned plens[] = {24, 24, 25, 8, 4};
		static const struct {
			const char *dst;
			int plen;
			unsigned ifindex;
		} adds[] = {{"10.0.0.0", 8, 1}, {"10.1.1.0", 24, 2},
		    {"10.1.2.0", 24, 6}, {"10.1.1.128", 25, 3},
		    {"0.0.0.0", 4, 4}};
		struct rt_entry *rt, *rt24;
		const struct rt_nexthop *nh;
		union rt_sockaddr a;
		int s;

		for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++)
			cr_assert_eq(
			    route_req(t, MPSAFE_RTM_ADD, adds[i].dst,
			        adds[i].plen, NULL, adds[i].ifindex, 0, NULL),
			    0, "%s/%d", adds[i].dst, adds[i].plen);
		s = rt_read_enter(t);
		/* Not read since it was added: the first lookup marks it. */
		a = sa_of("10.1.2.5");
		rt24 = rt_lookup_noref(t, AF_INET, &a.sin.sin_addr);
		cr_assert_not_null(rt24);
		cr_assert_eq(rt_getplen(rt24), 24u);
		cr_assert(
		    mpsafe_load_relaxed(&rt24->rt_flags) & MPSAFE_RTF_READ);
		/* Marked: the inline path answers, with the same entry. */
		cr_assert_eq(
		    rt_lookup_noref(t, AF_INET, &a.sin.sin_addr), rt24);
		for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
			a = sa_of(dsts[i]);
			for (int round = 0; round < 2; round++) {
				rt = rt_lookup_noref(
				    t, AF_INET, &a.sin.sin_addr);
				cr_assert_not_null(rt, "%s", dsts[i]);
				cr_assert_eq(rt_getplen(rt), plens[i],
				    "%s: /%u", dsts[i], rt_getplen(rt));
				nh = rt_lookup_nexthop(
				    t, AF_INET, &a.sin.sin_addr);
				cr_assert_eq(
				    nh, rt_getnexthop(rt), "%s", dsts[i]);
				cr_assert_eq(nh->nh_ifindex, rt->rt_ifindex);
			}
		}
		/* No match; a family the inline path leaves alone. */
		a = sa_of("192.0.2.1");
		cr_assert_null(rt_lookup_noref(t, AF_INET, &a.sin.sin_addr));
		cr_assert_null(rt_lookup_nexthop(t, AF_INET, &a.sin.sin_addr));
		cr_assert_null(rt_lookup_noref(t, AF_UNSPEC, &a.sin.sin_addr));
		cr_assert_null(
		    rt_lookup_nexthop(t, AF_UNSPEC, &a.sin.sin_addr));
		rt_read_exit(t, s);
		/* A change clears the mark; the next lookup sets it again. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.1.2.0", 24,
		                 NULL, 5, 0, NULL),
		    0);
		cr_assert(
		    !(mpsafe_load_relaxed(&rt24->rt_flags) & MPSAFE_RTF_READ));
		s = rt_read_enter(t);
		a = sa_of("10.1.2.5");
		cr_assert_eq(
		    rt_lookup_noref(t, AF_INET, &a.sin.sin_addr), rt24);
		cr_assert_eq(rt24->rt_ifindex, 5u);
		cr_assert(
		    mpsafe_load_relaxed(&rt24->rt_flags) & MPSAFE_RTF_READ);
		cr_assert_eq(
		    rt_lookup_nexthop(t, AF_INET, &a.sin.sin_addr)->nh_ifindex,
		    5u);
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

struct pruned_reader {
	struct rt_table *t;
	atomic_int ready; /* registered as a reader */
	atomic_int go;    /* relaxed: orders nothing on purpose */
	unsigned plen[2], ifindex[2];
	uint8_t gw[2];
};

static void *
pruned_reader(void *arg)
{
	static const char *const addrs[2] = {"10.0.0.20", "10.0.0.200"};
	struct pruned_reader *pr = arg;
	int s = rt_read_enter(pr->t); /* registers: before the updates */

	rt_read_exit(pr->t, s);
	atomic_store(&pr->ready, 1);
	while (!atomic_load_explicit(&pr->go, memory_order_relaxed))
		sched_yield();
	s = rt_read_enter(pr->t);
	for (int i = 0; i < 2; i++) {
		union rt_sockaddr a = sa_of(addrs[i]);
		const struct rt_entry *rt =
		    rt_lookup_noref(pr->t, AF_INET, &a.sin.sin_addr);

		if (rt == NULL || (rt_getflags(rt) & MPSAFE_RTF_UPDATING))
			continue;
		pr->plen[i] = rt_getplen(rt);
		pr->ifindex[i] = rt->rt_ifindex;
		pr->gw[i] = ((const uint8_t *)&rt->rt_gateway.sin.sin_addr)[3];
	}
	rt_read_exit(pr->t, s);
	return NULL;
}

/*
 * A delete that leaves a trie node with nothing in it gives the node's
 * parent slot the node's miss value, the covering entry (lpm_prune()).
 * That store is a publication of its own: a reader whose only news of
 * the writer is a relaxed flag (ThreadSanitizer agrees it orders
 * nothing) reaches the covering entry through that slot alone, so the
 * store's release is what makes the entry's fields visible to it.  Under
 * the tsan preset this fails with a data race if the release is missing
 * (the mutation tier, docs/design/verification.md); elsewhere it checks
 * that the reader finds the covering route whole.  The lockless design
 * only: the rwlock's read lock would order everything.
 */
Test(route, a_pruned_slot_publishes_the_covering_entry)
{
	struct pruned_reader pr = {.t = make(1)};
	pthread_t th;

	cr_assert_eq(route_designs[1].rtc_sync, RT_SYNC_PSERIALIZE);
	cr_assert_eq(pthread_create(&th, NULL, pruned_reader, &pr), 0);
	while (!atomic_load(&pr.ready))
		sched_yield();
	/* The /28 first: the /24 is then only the node's miss value. */
	cr_assert_eq(route_req(pr.t, MPSAFE_RTM_ADD, "10.0.0.16", 28,
	                 "192.0.2.9", 9, 0, NULL),
	    0);
	cr_assert_eq(route_req(pr.t, MPSAFE_RTM_ADD, "10.0.0.0", 24,
	                 "192.0.2.7", 7, 0, NULL),
	    0);
	cr_assert_eq(route_req(pr.t, MPSAFE_RTM_DELETE, "10.0.0.16", 28, NULL,
	                 0, 0, NULL),
	    0);
	atomic_store_explicit(&pr.go, 1, memory_order_relaxed);
	cr_assert_eq(pthread_join(th, NULL), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pr.plen[i], 24u, "lookup %d: /%u", i, pr.plen[i]);
		cr_assert_eq(pr.ifindex[i], 7u);
		cr_assert_eq(pr.gw[i], 7);
	}
	rt_table_destroy(pr.t);
}

/* The batched lookup: each trie level, misses, IPv6, the errors. */
Test(route, lookup_noref_bulk)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		static const char *const v4[] = {"10.9.9.9", "10.1.9.9",
		    "10.1.2.7", "10.1.2.200", "11.0.0.1", "10.1.2.128"};
		/* Expected prefix lengths; 0: miss. */
		static const unsigned want4[] = {8, 16, 24, 25, 0, 25};
		uint8_t a4[6 * 4], a6[2 * 16] = {0x20, 0x01, 0x0d, 0xb8};
		struct rt_entry *rts[RT_LOOKUP_BULK_MAX + 1];
		struct rt_entry *const poison =
		    (struct rt_entry *)(uintptr_t)0x5a5a;
		int s;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.0", 24, NULL,
		                 3, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.128", 25,
		                 NULL, 4, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 5, 0, NULL),
		    0);
		for (size_t i = 0; i < 6; i++) {
			union rt_sockaddr u = sa_of(v4[i]);

			memcpy(a4 + 4 * i, &u.sin.sin_addr, 4);
		}
		a6[16] = 0x30; /* 3000::: a miss */
		s = rt_read_enter(t);
		cr_assert_eq(rt_lookup_noref_bulk(t, AF_INET, a4, 6, rts), 0);
		for (size_t i = 0; i < 6; i++) {
			if (want4[i] == 0) {
				cr_assert_null(rts[i], "%s", v4[i]);
				continue;
			}
			cr_assert_not_null(rts[i], "%s", v4[i]);
			cr_assert_eq(rt_getplen(rts[i]), want4[i], "%s", v4[i]);
			cr_assert_eq(
			    rts[i], rt_lookup_noref(t, AF_INET, a4 + 4 * i));
		}
		cr_assert_eq(rt_lookup_noref_bulk(t, AF_INET6, a6, 2, rts), 0);
		cr_assert_not_null(rts[0]);
		cr_assert_eq(rts[0]->rt_ifindex, 5u);
		cr_assert_null(rts[1]);
		/* Errors leave rts alone. */
		rts[0] = poison;
		cr_assert_eq(
		    rt_lookup_noref_bulk(t, AF_UNIX, a4, 1, rts), EAFNOSUPPORT);
		cr_assert_eq(
		    rt_lookup_noref_bulk(t, AF_INET, a4, 0, NULL), EINVAL);
		cr_assert_eq(
		    rt_lookup_noref_bulk(t, AF_INET, NULL, 1, rts), EINVAL);
		cr_assert_eq(
		    rt_lookup_noref_bulk(NULL, AF_INET, a4, 1, rts), EINVAL);
		cr_assert_eq(rts[0], poison);
		{
			uint8_t big[(RT_LOOKUP_BULK_MAX + 1) * 4];

			memset(big, 0, sizeof(big));
			cr_assert_eq(rt_lookup_noref_bulk(t, AF_INET, big,
			                 RT_LOOKUP_BULK_MAX + 1, rts),
			    EINVAL);
			cr_assert_eq(rt_lookup_noref_bulk(t, AF_INET, big,
			                 RT_LOOKUP_BULK_MAX, rts),
			    0);
			for (size_t i = 0; i < RT_LOOKUP_BULK_MAX; i++)
				cr_assert_null(rts[i]); /* 0.0.0.0: none */
		}
		rts[0] = poison;
		cr_assert_eq(rt_lookup_noref_bulk(t, AF_INET, a4, 0, rts), 0);
		cr_assert_eq(rts[0], poison);
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

/* --- lifetime ------------------------------------------------------------- */

struct deleter {
	struct rt_table *t;
	const char *dst;
	int plen;
	atomic_int done;
	int error;
};

static void *
delete_thread(void *arg)
{
	struct deleter *dl = arg;

	dl->error = route_req(
	    dl->t, MPSAFE_RTM_DELETE, dl->dst, dl->plen, NULL, 0, 0, NULL);
	atomic_store(&dl->done, 1);
	return NULL;
}

static void
pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

/* A blocking delete returns only once the holder has released. */
Test(route, destroy_waits_for_holders)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct deleter dl = {t, "10.0.0.0", 8, 0, -1};
		union rt_sockaddr a = sa_of("10.1.1.1");
		struct rt_hold h;
		struct rt_entry *rt;
		pthread_t th;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rt = rt_lookup(t, &a.sa, 0, &h);
		cr_assert_not_null(rt);
		pthread_create(&th, NULL, delete_thread, &dl);
		/*
		 * Unpublished at once: the route is gone for lookups, and
		 * then (the same writer-locked step, after the trie's 65536
		 * slots of a /8) RTF_UP is cleared.
		 */
		while (route_match_plen(t, "10.1.1.1") != -1 ||
		       (rt_getflags(rt) & MPSAFE_RTF_UP) != 0)
			sched_yield();
		/* A wrong destroy would return within this pause. */
		pause_ms(50);
		cr_assert_eq(atomic_load(&dl.done), 0,
		    "delete returned while a holder used the entry");
		cr_assert_eq(rt->rt_ifindex, 1u);
		rt_release(rt, &h);
		pthread_join(th, NULL);
		cr_assert_eq(dl.error, 0);
		rt_table_destroy(t);
	}
}

/* A delete that returns the entry: the caller reads it, then unrefs. */
Test(route, delete_returning_entry_and_nowait)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_entry *rt = NULL;
		struct rt_table_stats st;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 5, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8,
		                 NULL, 0, 0, &rt),
		    0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 5u);
		cr_assert_eq(rt_getflags(rt) & MPSAFE_RTF_UP, 0u);
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_dying, 1u);
		rt_unref(rt);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 5, 0, NULL),
		    0);
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
		        "10.0.0.0", 8, NULL, 0, 0, NULL),
		    0);
		/* The workqueue destroys both (destroy also waits for it). */
		do {
			rt_table_stats(t, &st);
			sched_yield();
		} while (st.rts_dying != 0);
		rt_table_destroy(t);
	}
}

/* Add 10.(i/256).(i%256).0/24 for i in [0, n). */
static void
add_slash24s(struct rt_table *t, int n)
{
	char buf[32];

	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.0", i / 256, i % 256);
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_ADD, buf, 24, NULL, 1, 0, NULL), 0);
	}
}

/*
 * Delete those of [from, n) without waiting; every pause_every deletes
 * (0: never) pause past the reaper's linger, so a new batch begins.
 */
static void
delete_slash24s_nowait(struct rt_table *t, int from, int n, int pause_every)
{
	char buf[32];

	for (int i = from; i < n; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.0", i / 256, i % 256);
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, buf,
		        24, NULL, 0, 0, NULL),
		    0);
		if (pause_every != 0 && i % pause_every == 0)
			pause_ms(30);
	}
}

struct destroyer {
	struct rt_table *t;
	atomic_int done;
};

static void *
destroy_thread(void *arg)
{
	struct destroyer *ds = arg;

	rt_table_destroy(ds->t);
	atomic_store(&ds->done, 1);
	return NULL;
}

/*
 * rt_table_destroy() destroys its entries a chunk at a time: it waits
 * for every holder, whichever chunk its entry falls in, with a count
 * (rtalloc1()) or the table's own protection (rt_lookup()), and frees
 * no held entry before its release.
 */
Test(route, table_destroy_waits_for_holders_in_every_chunk)
{
	FOR_EACH_DESIGN(d)
	{
		enum { N = 100, HELD = 3 };
		static const char *const addr[HELD] = {
		    "10.0.0.1", "10.0.50.1", "10.0.99.1"};
		struct destroyer ds = {.t = make(d)};
		struct rt_entry *rt[HELD + 1];
		struct rt_hold h[HELD];
		union rt_sockaddr a;
		pthread_t th;

		add_slash24s(ds.t, N);
		for (int i = 0; i < HELD; i++) {
			a = sa_of(addr[i]);
			rt[i] = rt_lookup(ds.t, &a.sa, 0, &h[i]);
			cr_assert_not_null(rt[i]);
		}
		a = sa_of("10.0.70.1");
		rt[HELD] = rtalloc1(ds.t, &a.sa, 0);
		cr_assert_not_null(rt[HELD]);
		pthread_create(&th, NULL, destroy_thread, &ds);
		for (int i = 0; i <= HELD; i++) {
			/* A wrong destroy would return within this pause. */
			pause_ms(30);
			cr_assert_eq(atomic_load(&ds.done), 0,
			    "destroy returned with %d entries held",
			    HELD + 1 - i);
			for (int j = i; j <= HELD; j++)
				cr_assert_eq(rt[j]->rt_ifindex, 1u);
			if (i < HELD)
				rt_release(rt[i], &h[i]);
			else
				rt_unref(rt[i]);
		}
		pthread_join(th, NULL);
		cr_assert_eq(atomic_load(&ds.done), 1);
	}
}

/*
 * The reaper: many deletes that do not wait, one entry among them still
 * held; all are destroyed once the holder lets go, and a table destroyed
 * right after deletes (reaper queued or lingering) ends cleanly.
 */
Test(route, nowait_deletes_reaped_in_batches)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_entry *held = NULL;
		struct rt_table_stats st;

		add_slash24s(t, 600);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 24,
		                 NULL, 0, 0, &held),
		    0);
		delete_slash24s_nowait(t, 1, 600, 0);
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet, 0u);
		cr_assert_geq(st.rts_dying, 1u);
		/* The held entry is intact: only its holder may end it. */
		cr_assert_eq(held->rt_ifindex, 1u);
		rt_unref(held);
		do {
			rt_table_stats(t, &st);
			sched_yield();
		} while (st.rts_dying != 0);

		/* Deletes, then destroy at once: nothing left behind. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.9.0.0", 16, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(
		    route_req(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
		        "10.9.0.0", 16, NULL, 0, 0, NULL),
		    0);
		rt_table_destroy(t);
	}
}

/* rts_dying reaches want within seconds; false if it did not. */
static bool
dying_within(struct rt_table *t, size_t want, long seconds)
{
	struct timespec t0, now;
	struct rt_table_stats st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		rt_table_stats(t, &st);
		if (st.rts_dying == want)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= seconds)
			return false;
		pause_ms(1);
	}
}

/*
 * An entry held long does not hold back the destruction of the entries
 * deleted after it, whether the holder has a count (from rtalloc1()
 * before its delete, or from the delete itself) or a route cache's psref:
 * the reaper waits for counts and psref drains without stopping.  The
 * deletes come in rounds a linger apart, so the held entry is in an
 * early batch.  (The reaper used to wait for each entry in turn, and
 * everything deleted after a held entry stayed; until the psref drain
 * watch, a psref holder still stopped it.)
 */
Test(route, held_entry_does_not_hold_back_the_reaper)
{
	static const char *const how[] = {"rtalloc1", "ret_nrt", "rtcache"};

	FOR_EACH_DESIGN(d)
	for (int via = 0; via < 3; via++) {
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.0.0.1");
		struct rt_entry *held = NULL;
		struct route ro;

		add_slash24s(t, 500);
		if (via == 1) {
			cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0",
			                 24, NULL, 0, 0, &held),
			    0);
		} else {
			if (via == 0) {
				held = rtalloc1(t, &a.sa, 0);
			} else {
				rtcache_attach(&ro, t, 0);
				held = rtcache_lookup(&ro, &a.sa);
			}
			cr_assert_not_null(held);
			cr_assert_eq(
			    route_req(t,
			        MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
			        "10.0.0.0", 24, NULL, 0, 0, NULL),
			    0);
		}
		delete_slash24s_nowait(t, 1, 500, 100);
		cr_assert(dying_within(t, 1, 10),
		    "%s (%s): entries deleted after a held one were not "
		    "destroyed",
		    route_designs[d].rtc_name, how[via]);
		cr_assert_eq(held->rt_ifindex, 1u); /* still intact */
		/*
		 * Past the reaper's linger (10 ms), so that it sleeps with
		 * no timeout: only the release itself can wake it.
		 */
		pause_ms(50);
		if (via == 2) {
			rtcache_unref(held, &ro);
			rtcache_free(&ro);
		} else {
			rt_unref(held);
		}
		cr_assert(dying_within(t, 0, 10),
		    "%s (%s): the held entry was not destroyed after its "
		    "release",
		    route_designs[d].rtc_name, how[via]);
		rt_table_destroy(t);
	}
}

/*
 * More deleted entries held by psref holders than the reaper leaves
 * draining (RT_REAP_DRAINS, 32): past them it waits for the holders.
 * Forty route caches hold forty entries while all 500 are deleted
 * without waiting; once they are let go (each after a pause, so the
 * reaper is asleep or blocked when it comes), every entry is destroyed.
 */
#define NHELD 40

Test(route, more_psref_held_entries_than_the_reaper_leaves_draining)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		static struct route ro[NHELD];
		struct rt_entry *held[NHELD];
		char buf[32];

		add_slash24s(t, 500);
		for (int i = 0; i < NHELD; i++) {
			union rt_sockaddr a;

			snprintf(
			    buf, sizeof(buf), "10.%d.%d.1", i / 256, i % 256);
			a = sa_of(buf);
			rtcache_attach(&ro[i], t, 0);
			held[i] = rtcache_lookup(&ro[i], &a.sa);
			cr_assert_not_null(held[i]);
		}
		delete_slash24s_nowait(t, 0, 500, 0);
		pause_ms(50);
		for (int i = 0; i < NHELD; i++) {
			cr_assert_eq(held[i]->rt_ifindex, 1u); /* intact */
			rtcache_unref(held[i], &ro[i]);
			rtcache_free(&ro[i]);
			if (i % 8 == 0)
				pause_ms(15);
		}
		cr_assert(dying_within(t, 0, 10),
		    "%s: held entries not destroyed after their release",
		    route_designs[d].rtc_name);
		rt_table_destroy(t);
	}
}

/* --- RTF_UPDATING --------------------------------------------------------- */

struct changer {
	struct rt_table *t;
	atomic_int done;
	int error;
};

static void *
change_thread(void *arg)
{
	struct changer *c = arg;

	c->error = route_req(
	    c->t, MPSAFE_RTM_CHANGE, "10.0.0.0", 8, "192.0.2.99", 99, 0, NULL);
	atomic_store(&c->done, 1);
	return NULL;
}

struct waiter {
	struct rt_table *t;
	atomic_int done;
	unsigned ifindex;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;
	union rt_sockaddr a = sa_of("10.2.3.4");
	struct rt_entry *rt = rtalloc1(w->t, &a.sa, 0);

	w->ifindex = rt != NULL ? rt->rt_ifindex : 0;
	if (rt != NULL)
		rt_unref(rt);
	atomic_store(&w->done, 1);
	return NULL;
}

/*
 * While a change waits for a holder: non-blocking lookups miss, blocking
 * ones wait and then see the changed entry; the change completes once
 * the holder releases.
 */
Test(route, updating_waiters_and_nonblocking_misses)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct changer c = {t, 0, -1};
		struct waiter w = {t, 0, 0};
		struct rt_hold h, h2;
		struct rt_entry *rt, *rt2;
		pthread_t tc, tw;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		rt = rt_lookup(t, &a.sa, 0, &h);
		cr_assert_not_null(rt);
		pthread_create(&tc, NULL, change_thread, &c);
		while (!(rt_getflags(rt) & MPSAFE_RTF_UPDATING))
			sched_yield();
		/* Non-blocking callers miss. */
		cr_assert_null(rtalloc1(t, &a.sa, MPSAFE_RT_NOWAIT));
		rt2 = rt_lookup(t, &a.sa, MPSAFE_RT_NOWAIT, &h2);
		cr_assert_null(rt2);
		/* A blocking caller waits. */
		pthread_create(&tw, NULL, wait_thread, &w);
		pause_ms(50);
		cr_assert_eq(atomic_load(&w.done), 0, "lookup did not wait");
		cr_assert_eq(atomic_load(&c.done), 0, "change did not wait");
		/* The holder's view is untouched. */
		cr_assert_eq(rt->rt_ifindex, 1u);
		rt_release(rt, &h);
		pthread_join(tc, NULL);
		pthread_join(tw, NULL);
		cr_assert_eq(c.error, 0);
		cr_assert_eq(
		    w.ifindex, 99u, "waiter saw ifindex %u", w.ifindex);
		cr_assert_eq(route_match_plen(t, "10.2.3.4"), 8);
		rt_table_destroy(t);
	}
}

/* A reader that keeps a read section open across the steps of the test. */
struct section_reader {
	struct rt_table *t;
	atomic_int phase;
	bool nh_found;
	unsigned ifindex;
};

static void
phase_wait(atomic_int *phase, int want)
{
	while (atomic_load(phase) != want)
		sched_yield();
}

static void *
section_reader_thread(void *arg)
{
	struct section_reader *r = arg;
	union rt_sockaddr a = sa_of("10.2.3.4");
	struct rt_entry *rt;
	int s = rt_read_enter(r->t);

	r->nh_found = rt_lookup_nexthop(r->t, AF_INET, &a.sin.sin_addr) != NULL;
	atomic_store(&r->phase, 1);
	phase_wait(&r->phase, 2);
	rt = rt_lookup_noref(r->t, AF_INET, &a.sin.sin_addr);
	r->ifindex = rt != NULL ? rt->rt_ifindex : 0;
	atomic_store(&r->phase, 3);
	phase_wait(&r->phase, 4);
	rt_read_exit(r->t, s);
	return NULL;
}

/*
 * A change waits for the read sections of a lockless table only when a
 * lookup has found the entry since its last change: with a section open
 * that did a next-hop lookup only, it completes; once that section has
 * found the entry, it waits until the section ends.
 */
Test(route, change_waits_only_for_readers_of_the_entry)
{
	FOR_EACH_DESIGN(d)
	{
		struct section_reader r = {0};
		struct changer c1 = {0}, c2 = {0};
		pthread_t tr, tc;
		int ms;

		if (route_designs[d].rtc_sync != RT_SYNC_PSERIALIZE)
			continue; /* the read lock holds every change off */
		r.t = c1.t = c2.t = make(d);
		cr_assert_eq(route_req(r.t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		pthread_create(&tr, NULL, section_reader_thread, &r);
		phase_wait(&r.phase, 1);
		cr_assert(r.nh_found);
		pthread_create(&tc, NULL, change_thread, &c1);
		for (ms = 0; ms < 10000 && !atomic_load(&c1.done); ms++)
			pause_ms(1);
		cr_assert_eq(atomic_load(&c1.done), 1,
		    "a change of an entry no lookup found waited for a read "
		    "section");
		pthread_join(tc, NULL);
		cr_assert_eq(c1.error, 0);

		atomic_store(&r.phase, 2);
		phase_wait(&r.phase, 3);
		cr_assert_eq(r.ifindex, 99u); /* the first change's */
		pthread_create(&tc, NULL, change_thread, &c2);
		pause_ms(50);
		cr_assert_eq(atomic_load(&c2.done), 0,
		    "a change did not wait for a section that found the entry");
		atomic_store(&r.phase, 4);
		pthread_join(tc, NULL);
		pthread_join(tr, NULL);
		cr_assert_eq(c2.error, 0);
		rt_table_destroy(r.t);
	}
}

/*
 * A lookup made while a change runs sees RTF_UPDATING and backs off, but
 * its caller may read the new fields once the change ends, inside the
 * same read section: the change must keep that lookup's mark, and the
 * next change must wait for the section.  (The end of a change used to
 * drop the mark, and the next change raced with the reader.)
 */
Test(route, change_keeps_the_mark_of_a_lookup_during_it)
{
	FOR_EACH_DESIGN(d)
	{
		struct changer c1 = {0}, c2 = {0};
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct rt_entry *held = NULL, *rt;
		pthread_t tc;
		int ms, s;

		if (route_designs[d].rtc_sync != RT_SYNC_PSERIALIZE)
			continue; /* the read lock holds every change off */
		c1.t = c2.t = make(d);
		/* A count without a lookup: the entry is not marked. */
		cr_assert_eq(route_req(c1.t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, &held),
		    0);
		cr_assert_not_null(held);
		/* The change finds no mark, then waits for our count. */
		pthread_create(&tc, NULL, change_thread, &c1);
		while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
			pause_ms(1);
		s = rt_read_enter(c1.t);
		rt = rt_lookup_noref(c1.t, AF_INET, &a.sin.sin_addr);
		cr_assert_eq(rt, held);
		cr_assert(rt_getflags(rt) & MPSAFE_RTF_UPDATING);
		rt_unref(held);
		for (ms = 0; ms < 10000 && !atomic_load(&c1.done); ms++)
			pause_ms(1);
		cr_assert_eq(atomic_load(&c1.done), 1,
		    "a change that found no mark waited for a read section");
		pthread_join(tc, NULL);
		cr_assert_eq(c1.error, 0);
		/* Still in the section: the flag is clear, the fields new. */
		cr_assert(!(rt_getflags(rt) & MPSAFE_RTF_UPDATING));
		cr_assert_eq(rt->rt_ifindex, 99u);
		cr_assert(mpsafe_load_relaxed(&rt->rt_flags) & MPSAFE_RTF_READ,
		    "the change dropped the mark of a lookup made during it");
		pthread_create(&tc, NULL, change_thread, &c2);
		pause_ms(50);
		cr_assert_eq(atomic_load(&c2.done), 0,
		    "a change did not wait for a section whose lookup ran "
		    "during the previous change");
		rt_read_exit(c1.t, s);
		pthread_join(tc, NULL);
		cr_assert_eq(c2.error, 0);
		rt_table_destroy(c1.t);
	}
}

/*
 * Wait (10 s at most) until the change of rt has begun to drain its
 * psrefs: it is then past its wait for counts, in the window where it
 * used to hand the entry's fields to whoever had taken a count since.
 */
static void
wait_draining(const struct rt_entry *rt)
{
	int ms;

	for (ms = 0;
	     ms < 10000 && mpsafe_load_relaxed(&rt->rt_psref.prt_draining) == 0;
	     ms++)
		pause_ms(1);
	cr_assert_neq(mpsafe_load_relaxed(&rt->rt_psref.prt_draining), 0,
	    "the change never began to wait for psref holders");
}

struct getter {
	struct rt_table *t;
	atomic_int done;
	int error;
	unsigned ifindex;
	uint32_t flags;
};

static void *
get_thread(void *arg)
{
	struct getter *g = arg;
	struct rt_entry *rt = NULL;

	g->error =
	    route_req(g->t, MPSAFE_RTM_GET, "10.0.0.0", 8, NULL, 0, 0, &rt);
	if (g->error == 0) {
		g->ifindex = rt->rt_ifindex;
		g->flags = rt_getflags(rt);
		rt_unref(rt);
	}
	atomic_store(&g->done, 1);
	return NULL;
}

/*
 * RTM_GET with ret_nrt of an entry being changed treats it as a lookup
 * does: a GET that may block waits for the change and returns the new
 * entry; with F_NOWAIT it fails with EWOULDBLOCK; without ret_nrt it only
 * reports presence.  The change is held in its wait for psref holders,
 * after its wait for counts, where a GET used to hand out a count under
 * which the fields then changed.
 */
Test(route, get_during_change_waits_for_it)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct changer c = {t, 0, -1};
		struct getter g = {0};
		struct rt_entry *held, *rt = NULL;
		struct route ro;
		pthread_t tc, tg;

		g.t = t;
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		rtcache_attach(&ro, t, 0);
		held = rtcache_lookup(&ro, &a.sa);
		cr_assert_not_null(held);
		pthread_create(&tc, NULL, change_thread, &c);
		wait_draining(held);
		pthread_create(&tg, NULL, get_thread, &g);
		pause_ms(50);
		cr_assert_eq(atomic_load(&g.done), 0,
		    "%s: RTM_GET handed out a count on an entry being changed "
		    "(ifindex %u)",
		    route_designs[d].rtc_name, g.ifindex);
		cr_assert_eq(route_req(t, MPSAFE_RTM_GET | MPSAFE_RTM_F_NOWAIT,
		                 "10.0.0.0", 8, NULL, 0, 0, &rt),
		    EWOULDBLOCK);
		cr_assert_null(rt);
		cr_assert_eq(route_req(t, MPSAFE_RTM_GET | MPSAFE_RTM_F_NOWAIT,
		                 "10.0.0.0", 8, NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(held->rt_ifindex, 1u);
		rtcache_unref(held, &ro);
		pthread_join(tc, NULL);
		pthread_join(tg, NULL);
		cr_assert_eq(c.error, 0);
		cr_assert_eq(g.error, 0);
		cr_assert_eq(g.ifindex, 99u, "GET saw ifindex %u", g.ifindex);
		cr_assert(!(g.flags & MPSAFE_RTF_UPDATING));
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

/* rt_walktree() fn: a count on the /8 into *arg. */
static int
walk_ref_slash8(struct rt_entry *rt, void *arg)
{
	if (rt_getplen(rt) == 8) {
		rt_ref(rt);
		*(struct rt_entry **)arg = rt;
	}
	return 0;
}

enum late_count { LATE_DELETE, LATE_WALK, LATE_RT_REF };

/*
 * A count taken while a change runs, after the change's wait for counts
 * (it is waiting for psref holders), by kind: RTM_DELETE's ret_nrt,
 * rt_ref() in rt_walktree()'s fn, rt_ref() by the psref holder itself.
 * The change must wait for it too: while it is held the fields stay as
 * they were and the change does not end.  (It used to go on once the
 * psrefs were gone and change the fields under the count.)
 */
static void
late_count_holds_change_off(enum late_count kind)
{
	static const char *const names[] = {"delete", "walk", "rt_ref"};

	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct changer c = {t, 0, -1};
		struct rt_entry *held, *cnt = NULL;
		struct route ro;
		pthread_t tc;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		rtcache_attach(&ro, t, 0);
		held = rtcache_lookup(&ro, &a.sa);
		cr_assert_not_null(held);
		pthread_create(&tc, NULL, change_thread, &c);
		wait_draining(held);
		switch (kind) {
		case LATE_DELETE:
			cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0",
			                 8, NULL, 0, 0, &cnt),
			    0);
			break;
		case LATE_WALK:
			cr_assert_eq(
			    rt_walktree(t, AF_INET, walk_ref_slash8, &cnt), 0);
			break;
		case LATE_RT_REF:
			rt_ref(held);
			cnt = held;
			break;
		}
		cr_assert_eq(cnt, held);
		rtcache_unref(held, &ro); /* the change may drain now */
		pause_ms(50);
		cr_assert_eq(atomic_load(&c.done), 0,
		    "%s: the change ended under a count taken during it (%s)",
		    route_designs[d].rtc_name, names[kind]);
		cr_assert_eq(cnt->rt_ifindex, 1u,
		    "%s: the fields changed under a count (%s)",
		    route_designs[d].rtc_name, names[kind]);
		cr_assert_eq(rt_getnexthop(cnt)->nh_ifindex, 1u);
		rt_unref(cnt); /* after a delete, cnt may be freed now */
		pthread_join(tc, NULL);
		cr_assert_eq(c.error, 0);
		if (kind == LATE_DELETE) {
			cr_assert_eq(route_match_plen(t, "10.2.3.4"), -1);
		} else {
			struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

			cr_assert_not_null(rt);
			cr_assert_eq(rt->rt_ifindex, 99u);
			rt_unref(rt);
		}
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

Test(route, count_from_delete_during_change_holds_it_off)
{
	late_count_holds_change_off(LATE_DELETE);
}

Test(route, count_from_walk_during_change_holds_it_off)
{
	late_count_holds_change_off(LATE_WALK);
}

Test(route, count_from_psref_holder_during_change_holds_it_off)
{
	late_count_holds_change_off(LATE_RT_REF);
}

/*
 * A psref holder turns its psref into a count (rt_ref()) while a delete's
 * destruction waits for psref holders, then lets the psref go: the
 * destruction waits for the count too, blocking (the deleter) or not
 * (the reaper).  (It used to free the entry under the count.)
 */
Test(route, count_from_psref_holder_during_destroy_holds_it_off)
{
	FOR_EACH_DESIGN(d)
	for (int nowait = 0; nowait < 2; nowait++) {
		struct rt_table *t = make(d);
		struct deleter dl = {t, "10.0.0.0", 8, 0, -1};
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct rt_table_stats st;
		struct rt_entry *held;
		struct route ro;
		pthread_t th;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rtcache_attach(&ro, t, 0);
		held = rtcache_lookup(&ro, &a.sa);
		cr_assert_not_null(held);
		if (nowait)
			cr_assert_eq(
			    route_req(t,
			        MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
			        "10.0.0.0", 8, NULL, 0, 0, NULL),
			    0);
		else
			pthread_create(&th, NULL, delete_thread, &dl);
		wait_draining(held);
		rt_ref(held);
		rtcache_unref(held, &ro); /* the psref drain may end now */
		pause_ms(50);
		cr_assert_eq(held->rt_ifindex, 1u,
		    "%s: the entry was destroyed under a count (%s)",
		    route_designs[d].rtc_name, nowait ? "reaper" : "deleter");
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_dying, 1u);
		if (!nowait)
			cr_assert_eq(atomic_load(&dl.done), 0,
			    "%s: the delete returned under a count",
			    route_designs[d].rtc_name);
		rt_unref(held);
		if (!nowait) {
			pthread_join(th, NULL);
			cr_assert_eq(dl.error, 0);
		}
		do {
			rt_table_stats(t, &st);
			sched_yield();
		} while (st.rts_dying != 0);
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

struct changer_of {
	struct rt_table *t;
	const char *dst;
	unsigned ifindex;
	atomic_int done;
	int error;
};

static void *
change_of_thread(void *arg)
{
	struct changer_of *c = arg;

	c->error = route_req(
	    c->t, MPSAFE_RTM_CHANGE, c->dst, 8, NULL, c->ifindex, 0, NULL);
	atomic_store(&c->done, 1);
	return NULL;
}

/*
 * A thread that holds a reference to 10/8 (a count, or a psref through a
 * route cache) changes 20/8 while another thread's change of 10/8 waits
 * for that reference: the change of 20/8 completes.  (Changes were
 * serialised by a table mutex held across the wait: the second change
 * waited for the first, which waited for the second's caller.)  A second
 * change of 10/8 itself still waits for the first and lands after it.
 */
Test(route, change_while_another_waits_for_the_caller)
{
	FOR_EACH_DESIGN(d)
	for (int via = 0; via < 2; via++) {
		struct rt_table *t = make(d);
		union rt_sockaddr a = sa_of("10.2.3.4");
		struct changer_of b = {t, "10.0.0.0", 7, 0, -1};
		struct changer_of y = {t, "20.0.0.0", 9, 0, -1};
		struct changer_of b2 = {t, "10.0.0.0", 8, 0, -1};
		struct rt_entry *held;
		struct route ro;
		pthread_t tb, ty, tb2;
		int ms;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "20.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rtcache_attach(&ro, t, 0);
		held = via == 0 ? rtalloc1(t, &a.sa, 0)
		                : rtcache_lookup(&ro, &a.sa);
		cr_assert_not_null(held);
		pthread_create(&tb, NULL, change_of_thread, &b);
		while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
			pause_ms(1);
		pthread_create(&tb2, NULL, change_of_thread, &b2);
		pthread_create(&ty, NULL, change_of_thread, &y);
		for (ms = 0; ms < 10000 && !atomic_load(&y.done); ms++)
			pause_ms(1);
		cr_assert_eq(atomic_load(&y.done), 1,
		    "%s: a change of 20/8 by a holder of 10/8 waited behind a "
		    "change of 10/8 (%s)",
		    route_designs[d].rtc_name, via == 0 ? "count" : "psref");
		cr_assert_eq(y.error, 0);
		cr_assert_eq(atomic_load(&b.done), 0);
		cr_assert_eq(atomic_load(&b2.done), 0,
		    "a second change of one entry did not wait for the first");
		cr_assert_eq(held->rt_ifindex, 1u);
		if (via == 0)
			rt_unref(held);
		else
			rtcache_unref(held, &ro);
		pthread_join(tb, NULL);
		pthread_join(tb2, NULL);
		pthread_join(ty, NULL);
		cr_assert_eq(b.error, 0);
		cr_assert_eq(b2.error, 0);
		{
			union rt_sockaddr ya = sa_of("20.1.1.1");
			struct rt_entry *rt = rtalloc1(t, &ya.sa, 0);

			cr_assert_not_null(rt);
			cr_assert_eq(rt->rt_ifindex, 9u);
			rt_unref(rt);
			rt = rtalloc1(t, &a.sa, 0);
			cr_assert_not_null(rt);
			cr_assert_eq(rt->rt_ifindex, 8u,
			    "the second change of 10/8 did not land last");
			rt_unref(rt);
		}
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

/*
 * rtrequest()'s rule for threads that hold references to other entries:
 * the safe form is to delete with MPSAFE_RTM_F_NOWAIT and to look up
 * with MPSAFE_RT_NOWAIT while holding.  Two threads whose holds and
 * deletes cross (T1 holds 10/8 and deletes 20/8, T2 holds 20/8 and
 * deletes 10/8, both holding before either deletes): both deletes return
 * 0 without waiting for the other's hold, the entries stay intact for
 * their holders, and once both let go the reaper destroys them.  A
 * delete that waited for holders would deadlock here (caught by the
 * bounded wait below).  Held through rtalloc1() (a count) and through
 * rt_lookup() (the table's rtc_ref: a psref in two designs).
 */
struct crossed_deleter {
	struct rt_table *t;
	pthread_barrier_t *both_hold;
	atomic_int *release;
	const char *hold_addr; /* looked up and held */
	const char *del_dst;   /* deleted while holding, /8 */
	int via;               /* 0: rtalloc1(), 1: rt_lookup() */
	struct rt_entry *held;
	atomic_int deleted;
	int error;
	unsigned held_ifindex; /* read after the other's delete */
	uint32_t held_flags;
};

static void *
crossed_deleter_thread(void *arg)
{
	struct crossed_deleter *c = arg;
	union rt_sockaddr a = sa_of(c->hold_addr);
	struct rt_hold hold;

	c->held = c->via == 0 ? rtalloc1(c->t, &a.sa, MPSAFE_RT_NOWAIT)
	                      : rt_lookup(c->t, &a.sa, MPSAFE_RT_NOWAIT, &hold);
	pthread_barrier_wait(c->both_hold);
	c->error = route_req(c->t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
	    c->del_dst, 8, NULL, 0, 0, NULL);
	atomic_store(&c->deleted, 1);
	while (atomic_load(c->release) == 0)
		sched_yield();
	if (c->held != NULL) {
		c->held_ifindex = c->held->rt_ifindex;
		c->held_flags = rt_getflags(c->held);
		if (c->via == 0)
			rt_unref(c->held);
		else
			rt_release(c->held, &hold);
	}
	return NULL;
}

Test(route, crossed_nowait_deletes_while_holding_complete)
{
	FOR_EACH_DESIGN(d)
	for (int via = 0; via < 2; via++) {
		struct rt_table *t = make(d);
		pthread_barrier_t both_hold;
		atomic_int release = 0;
		struct crossed_deleter c1 = {t, &both_hold, &release,
		    "10.1.1.1", "20.0.0.0", via, NULL, 0, -1, 0, 0};
		struct crossed_deleter c2 = {t, &both_hold, &release,
		    "20.1.1.1", "10.0.0.0", via, NULL, 0, -1, 0, 0};
		struct walk_acc w = {0};
		struct rt_table_stats st;
		pthread_t t1, t2;
		int ms;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "20.0.0.0", 8, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(pthread_barrier_init(&both_hold, NULL, 2), 0);
		pthread_create(&t1, NULL, crossed_deleter_thread, &c1);
		pthread_create(&t2, NULL, crossed_deleter_thread, &c2);
		for (ms = 0; ms < 10000 && !(atomic_load(&c1.deleted) &&
		                               atomic_load(&c2.deleted));
		     ms++)
			pause_ms(1);
		cr_assert(atomic_load(&c1.deleted) && atomic_load(&c2.deleted),
		    "%s (%s): a NOWAIT delete by a holder waited for the "
		    "other holder",
		    route_designs[d].rtc_name, via == 0 ? "count" : "lookup");
		cr_assert_not_null(c1.held);
		cr_assert_not_null(c2.held);
		cr_assert_eq(c1.error, 0);
		cr_assert_eq(c2.error, 0);
		/* Unpublished, still held: dying, not yet destroyed. */
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet, 0u);
		cr_assert_eq(st.rts_dying, 2u, "%s: %zu dying",
		    route_designs[d].rtc_name, st.rts_dying);
		cr_assert_eq(route_match_plen(t, "10.1.1.1"), -1);
		cr_assert_eq(route_match_plen(t, "20.1.1.1"), -1);
		atomic_store(&release, 1);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&both_hold);
		/* The holders saw their entries intact, and deleted. */
		cr_assert_eq(c1.held_ifindex, 1u);
		cr_assert_eq(c2.held_ifindex, 2u);
		cr_assert_eq(c1.held_flags & MPSAFE_RTF_UP, 0u);
		cr_assert_eq(c2.held_flags & MPSAFE_RTF_UP, 0u);
		/* The reaper destroys both (bounded by the suite's timeout). */
		do {
			rt_table_stats(t, &st);
			sched_yield();
		} while (st.rts_dying != 0);
		cr_assert_eq(st.rts_entries_inet, 0u);
		cr_assert_eq(rt_walktree(t, AF_UNSPEC, walk_fn, &w), 0);
		cr_assert_eq(w.inet + w.inet6, 0);
		rt_table_destroy(t);
	}
}

/* --- next hops ------------------------------------------------------------ */

/* The next hop rt_lookup_nexthop() finds for text address a, in a section. */
static const struct rt_nexthop *
nh_at(struct rt_table *t, const char *a)
{
	union rt_sockaddr u = sa_of(a);

	if (u.sa.sa_family == AF_INET)
		return rt_lookup_nexthop(t, AF_INET, &u.sin.sin_addr);
	return rt_lookup_nexthop(t, AF_INET6, &u.sin6.sin6_addr);
}

/* nh agrees with entry rt (rt_lookup_noref()'s) field by field. */
static void
assert_nh_matches(const struct rt_nexthop *nh, const struct rt_entry *rt)
{
	if (rt == NULL) {
		cr_assert_null(nh);
		return;
	}
	cr_assert_not_null(nh);
	cr_assert_eq(nh->nh_ifindex, rt->rt_ifindex);
	cr_assert_eq(nh->nh_flags, rt_getflags(rt) & MPSAFE_RTF_NHMASK);
	cr_assert_eq(nh->nh_mtu, rt->rt_rmx.rmx_mtu);
	cr_assert_eq(nh->nh_expire, rt->rt_rmx.rmx_expire);
	cr_assert_eq(
	    memcmp(&nh->nh_gateway, &rt->rt_gateway, sizeof(nh->nh_gateway)),
	    0);
	cr_assert_eq(nh, rt_getnexthop(rt));
}

/*
 * Equal gateways share a next hop whatever else their sockaddrs carry:
 * only the family and address (IPv6: and scope) are kept.  A port or
 * sin_zero bytes used to make them distinct, using up next-hop ids.
 */
Test(route, gateway_port_and_padding_ignored)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr dst = sa_of("20.0.0.0"),
		                  g = sa_of("192.0.2.1");
		struct rt_addrinfo info;
		union rt_sockaddr x = sa_of("10.1.1.1"), y = sa_of("20.1.1.1");
		struct rt_entry *a, *b;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		g.sin.sin_port = htons(80);
		memset(g.sin.sin_zero, 0x5a, sizeof(g.sin.sin_zero));
		memset(&info, 0, sizeof(info));
		info.rti_dst = &dst.sa;
		info.rti_plen = 8;
		info.rti_flags = MPSAFE_RTF_GATEWAY;
		info.rti_ifindex = 1;
		info.rti_gateway = &g.sa;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), 0);
		a = rtalloc1(t, &x.sa, 0);
		b = rtalloc1(t, &y.sa, 0);
		cr_assert_not_null(a);
		cr_assert_not_null(b);
		cr_assert_eq(rt_getnexthop(a), rt_getnexthop(b),
		    "%s: equal gateways, distinct next hops",
		    route_designs[d].rtc_name);
		cr_assert_eq(b->rt_gateway.sin.sin_port, 0);
		rt_unref(a);
		rt_unref(b);
		rt_table_destroy(t);
	}
}

Test(route, nexthops_shared_and_distinct)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		const struct rt_nexthop *a, *b, *c, *e, *f, *g;
		struct rt_entry *rt;
		int s;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "11.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "12.0.0.0", 8,
		                 "192.0.2.2", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "13.0.0.0", 8,
		                 "192.0.2.1", 2, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "14.0.0.0", 8, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 2, 0, NULL),
		    0);
		s = rt_read_enter(t);
		a = nh_at(t, "10.1.2.3");
		b = nh_at(t, "11.1.2.3");
		c = nh_at(t, "12.1.2.3");
		e = nh_at(t, "13.1.2.3");
		f = nh_at(t, "14.1.2.3");
		g = nh_at(t, "2001:db8::1");
		cr_assert_not_null(a);
		cr_assert_eq(a, b, "equal data: one next hop (%zu)", d);
		cr_assert_neq(a, c, "another gateway");
		cr_assert_neq(a, e, "another interface");
		cr_assert_neq(f, g, "another family");
		cr_assert_eq(a->nh_flags, MPSAFE_RTF_GATEWAY);
		cr_assert_eq(a->nh_ifindex, 1);
		cr_assert_eq(a->nh_gateway.sin.sin_family, AF_INET);
		cr_assert_eq(
		    a->nh_gateway.sin.sin_addr.s_addr, inet_addr("192.0.2.1"));
		cr_assert_eq(f->nh_gateway.sa.sa_family, AF_UNSPEC);
		cr_assert_null(nh_at(t, "15.0.0.1"));
		cr_assert_null(nh_at(t, "3000::1"));
		rt_read_exit(t, s);
		/* The entry's accessor, under a reference. */
		{
			union rt_sockaddr u = sa_of("11.9.9.9");

			rt = rtalloc1(t, &u.sa, 0);
			cr_assert_not_null(rt);
			cr_assert_eq(rt_getnexthop(rt), a);
			rt_unref(rt);
		}
		/* Deleting one user keeps the shared next hop. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8,
		                 NULL, 0, 0, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_eq(nh_at(t, "11.1.2.3"), a);
		cr_assert_null(nh_at(t, "10.1.2.3"));
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

Test(route, nexthop_lookup_agrees_with_entries)
{
	static const char *const probes[] = {"10.9.9.9", "10.1.9.9", "10.1.2.7",
	    "10.1.2.200", "10.1.2.130", "11.0.0.1", "0.0.0.0",
	    "255.255.255.255", "2001:db8::1", "2001:db8:1::1", "3000::1"};

	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_addrinfo info;
		union rt_sockaddr dst = sa_of("10.1.0.0");
		int s;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.0", 24, NULL,
		                 3, MPSAFE_RTF_BLACKHOLE, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.128", 25,
		                 "192.0.2.9", 4, MPSAFE_RTF_REJECT, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.200", -1,
		                 NULL, 5, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 "2001:db8::ff", 6, 0, NULL),
		    0);
		/* With an MTU: part of the next hop. */
		memset(&info, 0, sizeof(info));
		info.rti_dst = &dst.sa;
		info.rti_plen = 16;
		info.rti_ifindex = 2;
		info.rti_inits = MPSAFE_RTV_MTU;
		info.rti_rmx.rmx_mtu = 1400;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), 0);
		for (int round = 0; round < 2; round++) {
			s = rt_read_enter(t);
			for (size_t i = 0;
			     i < sizeof(probes) / sizeof(probes[0]); i++) {
				union rt_sockaddr u = sa_of(probes[i]);
				const void *a =
				    u.sa.sa_family == AF_INET
				        ? (const void *)&u.sin.sin_addr
				        : (const void *)&u.sin6.sin6_addr;

				assert_nh_matches(
				    rt_lookup_nexthop(t, u.sa.sa_family, a),
				    rt_lookup_noref(t, u.sa.sa_family, a));
			}
			cr_assert_eq(nh_at(t, "10.1.2.3")->nh_flags,
			    round == 0 ? MPSAFE_RTF_BLACKHOLE
			               : MPSAFE_RTF_GATEWAY);
			cr_assert_eq(
			    nh_at(t, "10.1.2.200")->nh_flags, MPSAFE_RTF_HOST);
			cr_assert_eq(nh_at(t, "10.1.9.9")->nh_mtu, 1400);
			rt_read_exit(t, s);
			/* Again with more-specifics gone (pushed copies). */
			cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.2.0",
			                 24, NULL, 0, 0, NULL),
			    0);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.0",
			                 24, "192.0.2.1", 1, 0, NULL),
			    0);
		}
		rt_table_destroy(t);
	}
}

Test(route, nexthop_change_publishes_new_next_hop)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		const struct rt_nexthop *before, *after, *inner;
		struct rt_entry *rt;
		int s;

		/* A /8 with its copies pushed into the nodes of a /24. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.128", 25,
		                 "192.0.2.7", 7, 0, NULL),
		    0);
		s = rt_read_enter(t);
		before = nh_at(t, "10.1.2.1");
		inner = nh_at(t, "10.1.2.129");
		cr_assert_eq(before->nh_gateway.sin.sin_addr.s_addr,
		    inet_addr("192.0.2.1"));
		rt_read_exit(t, s);
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.0.0.0", 8,
		                 "192.0.2.5", 3, 0, &rt),
		    0);
		s = rt_read_enter(t);
		after = nh_at(t, "10.1.2.1");
		cr_assert_neq(after, before);
		cr_assert_eq(after, rt_getnexthop(rt));
		cr_assert_eq(after->nh_ifindex, 3);
		cr_assert_eq(after->nh_gateway.sin.sin_addr.s_addr,
		    inet_addr("192.0.2.5"));
		/* Root slots, second-level and third-level copies. */
		cr_assert_eq(nh_at(t, "10.200.0.1"), after);
		cr_assert_eq(nh_at(t, "10.1.200.1"), after);
		cr_assert_eq(nh_at(t, "10.1.2.127"), after);
		cr_assert_eq(nh_at(t, "10.1.2.129"), inner);
		assert_nh_matches(after, rt);
		rt_read_exit(t, s);
		rt_unref(rt);
		/* A change to the data of another route: shares its hop. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.0.0.0", 8,
		                 "192.0.2.7", 7, 0, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_eq(nh_at(t, "10.1.2.1"), inner);
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

Test(route, nexthop_reject_errnos)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_entry *rt;
		struct rt_addrinfo info;
		union rt_sockaddr dst = sa_of("192.0.2.0");
		struct timespec now;
		int s;

		clock_gettime(CLOCK_MONOTONIC, &now);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "192.0.2.0", 24, NULL,
		                 1, MPSAFE_RTF_REJECT, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "192.0.2.1", -1, NULL,
		                 1, MPSAFE_RTF_REJECT, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "198.51.100.0", 24,
		                 "192.0.2.1", 1, MPSAFE_RTF_REJECT, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "203.0.113.0", 24,
		                 NULL, 1, MPSAFE_RTF_BLACKHOLE, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_eq(
		    rt_nexthop_check_reject(nh_at(t, "192.0.2.9"), true),
		    ENETUNREACH);
		cr_assert_eq(
		    rt_nexthop_check_reject(nh_at(t, "192.0.2.9"), false),
		    EHOSTDOWN);
		cr_assert_eq(
		    rt_nexthop_check_reject(nh_at(t, "192.0.2.1"), true),
		    EHOSTUNREACH);
		cr_assert_eq(
		    rt_nexthop_check_reject(nh_at(t, "198.51.100.1"), false),
		    EHOSTUNREACH);
		cr_assert_eq(
		    rt_nexthop_check_reject(nh_at(t, "203.0.113.1"), false), 0);
		cr_assert_eq(
		    nh_at(t, "203.0.113.1")->nh_flags, MPSAFE_RTF_BLACKHOLE);
		/* Every probe agrees with the entry's rules. */
		for (int loop = 0; loop < 2; loop++) {
			static const char *const p[] = {"192.0.2.9",
			    "192.0.2.1", "198.51.100.1", "203.0.113.1"};

			for (size_t i = 0; i < 4; i++) {
				union rt_sockaddr u = sa_of(p[i]);

				cr_assert_eq(rt_nexthop_check_reject(
				                 nh_at(t, p[i]), loop != 0),
				    rt_check_reject_route(
				        rt_lookup_noref(
				            t, AF_INET, &u.sin.sin_addr),
				        loop != 0));
			}
		}
		rt_read_exit(t, s);
		/* Not yet expired, then expired. */
		memset(&info, 0, sizeof(info));
		info.rti_dst = &dst.sa;
		info.rti_plen = 24;
		info.rti_flags = MPSAFE_RTF_REJECT;
		info.rti_inits = MPSAFE_RTV_EXPIRE;
		info.rti_rmx.rmx_expire = now.tv_sec + 3600;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, &rt), 0);
		cr_assert_eq(rt_nexthop_check_reject(rt_getnexthop(rt), false),
		    EHOSTDOWN);
		rt_unref(rt);
		info.rti_rmx.rmx_expire = now.tv_sec - 1;
		cr_assert_eq(rtrequest(t, MPSAFE_RTM_CHANGE, &info, &rt), 0);
		cr_assert_eq(
		    rt_nexthop_check_reject(rt_getnexthop(rt), false), 0);
		cr_assert_eq(rt_getnexthop(rt)->nh_expire, now.tv_sec - 1);
		rt_unref(rt);
		rt_table_destroy(t);
	}
}

Test(route, nexthop_bad_input)
{
	struct rt_table *t = make(1);
	uint8_t a[RT_LOOKUP_BULK_MAX * 16] = {10};
	const struct rt_nexthop *nhs[RT_LOOKUP_BULK_MAX + 1];
	const struct rt_nexthop *const poison =
	    (const struct rt_nexthop *)(uintptr_t)0x5a5a;
	int s;

	cr_assert_eq(
	    route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL, 1, 0, NULL), 0);
	nhs[0] = poison;
	s = rt_read_enter(t);
	cr_assert_null(rt_lookup_nexthop(NULL, AF_INET, a));
	cr_assert_null(rt_lookup_nexthop(t, AF_INET, NULL));
	cr_assert_null(rt_lookup_nexthop(t, AF_UNIX, a));
	cr_assert_not_null(rt_lookup_nexthop(t, AF_INET, a));
	cr_assert_eq(rt_lookup_nexthop_bulk(NULL, AF_INET, a, 1, nhs), EINVAL);
	cr_assert_eq(rt_lookup_nexthop_bulk(t, AF_INET, NULL, 1, nhs), EINVAL);
	cr_assert_eq(rt_lookup_nexthop_bulk(t, AF_INET, a, 1, NULL), EINVAL);
	cr_assert_eq(
	    rt_lookup_nexthop_bulk(t, AF_INET, a, RT_LOOKUP_BULK_MAX + 1, nhs),
	    EINVAL);
	cr_assert_eq(
	    rt_lookup_nexthop_bulk(t, AF_UNIX, a, 1, nhs), EAFNOSUPPORT);
	cr_assert_eq(nhs[0], poison, "failed calls leave nhs untouched");
	cr_assert_eq(rt_lookup_nexthop_bulk(t, AF_INET, a, 0, nhs), 0);
	rt_read_exit(t, s);
	cr_assert_eq(rt_nexthop_check_reject(NULL, false), EINVAL);
	rt_table_destroy(t);
}

Test(route, nexthop_bulk_agrees_with_single)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		uint8_t a4[RT_LOOKUP_BULK_MAX * 4], a6[RT_LOOKUP_BULK_MAX * 16];
		const struct rt_nexthop *nhs[RT_LOOKUP_BULK_MAX];
		uint32_t x = 12345;
		int s;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16,
		                 "192.0.2.2", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.0", 24,
		                 "192.0.2.3", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.2.128", 25,
		                 "192.0.2.4", 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 5, 0, NULL),
		    0);
		for (size_t i = 0; i < RT_LOOKUP_BULK_MAX; i++) {
			x = x * 1103515245u + 12345u;
			a4[4 * i] = 10;
			a4[4 * i + 1] = (uint8_t)(x >> 24) & 3;
			a4[4 * i + 2] = (uint8_t)(x >> 16) & 3;
			a4[4 * i + 3] = (uint8_t)(x >> 8);
			if (i % 7 == 0)
				a4[4 * i] = 11; /* a miss */
			memset(a6 + 16 * i, 0, 16);
			a6[16 * i] = 0x20;
			a6[16 * i + 1] = 0x01;
			a6[16 * i + 2] = 0x0d;
			a6[16 * i + 3] = (i % 3 == 0) ? 0xb9 : 0xb8;
		}
		s = rt_read_enter(t);
		cr_assert_eq(rt_lookup_nexthop_bulk(
		                 t, AF_INET, a4, RT_LOOKUP_BULK_MAX, nhs),
		    0);
		for (size_t i = 0; i < RT_LOOKUP_BULK_MAX; i++)
			cr_assert_eq(nhs[i],
			    rt_lookup_nexthop(t, AF_INET, a4 + 4 * i), "%zu",
			    i);
		cr_assert_eq(rt_lookup_nexthop_bulk(
		                 t, AF_INET6, a6, RT_LOOKUP_BULK_MAX, nhs),
		    0);
		for (size_t i = 0; i < RT_LOOKUP_BULK_MAX; i++) {
			cr_assert_eq(nhs[i],
			    rt_lookup_nexthop(t, AF_INET6, a6 + 16 * i));
			cr_assert_eq(nhs[i] == NULL, i % 3 == 0);
		}
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

/* --- next hops: the fallback and id recycling (private knob) -------------- */

Test(route, nexthop_fallback_without_ids)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		const struct rt_nexthop *a, *b;
		int s;

		/* Two ids, then none: later next hops fall back (id 0). */
		t->t_nh_idmax = 2;
		for (int i = 0; i < 6; i++) {
			char dst[32], gw[32];

			snprintf(dst, sizeof(dst), "10.%d.0.0", i);
			snprintf(gw, sizeof(gw), "192.0.2.%d", i + 1);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, dst, 16, gw,
			                 1, 0, NULL),
			    0);
		}
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.5.1.0", 24,
		                 "192.0.2.1", 1, 0, NULL),
		    0);
		s = rt_read_enter(t);
		for (int i = 0; i < 6; i++) {
			uint8_t addr[4] = {10, (uint8_t)i, 9, 9};
			const struct rt_nexthop *nh =
			    rt_lookup_nexthop(t, AF_INET, addr);

			assert_nh_matches(
			    nh, rt_lookup_noref(t, AF_INET, addr));
			cr_assert_eq(nh->nh_id, i < 2 ? i + 1 : 0, "%d", i);
		}
		a = nh_at(t, "10.5.1.1");
		cr_assert_eq(a, nh_at(t, "10.0.0.1"), "shared, with an id");
		rt_read_exit(t, s);
		/* A change from an id to none and back. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.5.1.0", 24,
		                 "192.0.2.4", 1, 0, NULL),
		    0);
		s = rt_read_enter(t);
		b = nh_at(t, "10.5.1.1");
		cr_assert_eq(b->nh_id, 0);
		cr_assert_eq(b, nh_at(t, "10.3.0.1"));
		rt_read_exit(t, s);
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.5.1.0", 24,
		                 "192.0.2.2", 1, 0, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_eq(nh_at(t, "10.5.1.1")->nh_id, 2);
		cr_assert_eq(nh_at(t, "10.5.1.1"), nh_at(t, "10.1.0.1"));
		rt_read_exit(t, s);
		/* Deleted routes fall back to their cover (none here). */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.4.0.0", 16,
		                 NULL, 0, 0, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_null(nh_at(t, "10.4.0.1"));
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

/*
 * A reader thread that holds a read section open around a next hop it
 * found, so that the main thread's requests (which must not run inside a
 * read section) happen during it.
 */
struct nh_section_reader {
	struct rt_table *t;
	atomic_int phase;
	const struct rt_nexthop *held;
	uint16_t held_id;
	bool intact; /* the next hop was unchanged at the section's end */
};

static void *
nh_section_reader_thread(void *arg)
{
	struct nh_section_reader *r = arg;
	int s = rt_read_enter(r->t);

	r->held = nh_at(r->t, "10.1.1.1");
	r->held_id = r->held != NULL ? r->held->nh_id : 0;
	atomic_store(&r->phase, 1);
	phase_wait(&r->phase, 2);
	r->intact =
	    r->held != NULL && r->held->nh_magic == RT_NH_MAGIC_LIVE &&
	    r->held->nh_id == r->held_id &&
	    r->held->nh_gateway.sin.sin_addr.s_addr == inet_addr("192.0.2.1");
	rt_read_exit(r->t, s);
	return NULL;
}

Test(route, nexthop_ids_wait_for_a_grace_period)
{
	struct nh_section_reader r = {0};
	pthread_t tr;

	r.t = make(1); /* lockless */
	cr_assert_eq(route_req(r.t, MPSAFE_RTM_ADD, "10.0.0.0", 8, "192.0.2.1",
	                 1, 0, NULL),
	    0);
	pthread_create(&tr, NULL, nh_section_reader_thread, &r);
	phase_wait(&r.phase, 1);
	cr_assert_not_null(r.held);
	cr_assert_neq(r.held_id, 0);
	/* Its last user goes (on the workqueue) while the section is open. */
	cr_assert_eq(route_req(r.t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
	                 "10.0.0.0", 8, NULL, 0, 0, NULL),
	    0);
	/* New next hops never get its id before that section ends. */
	for (int i = 0; i < 300; i++) {
		char dst[32], gw[32];
		uint16_t id;
		int s;

		snprintf(dst, sizeof(dst), "11.%d.%d.0", i / 256, i % 256);
		snprintf(gw, sizeof(gw), "198.51.%d.%d", i / 256, i % 256);
		cr_assert_eq(
		    route_req(r.t, MPSAFE_RTM_ADD | MPSAFE_RTM_F_NOWAIT, dst,
		        24, gw, 2, 0, NULL),
		    0);
		s = rt_read_enter(r.t);
		id = nh_at(r.t, dst)->nh_id;
		rt_read_exit(r.t, s);
		cr_assert_neq(id, r.held_id, "id reused in a section");
	}
	atomic_store(&r.phase, 2);
	pthread_join(tr, NULL);
	cr_assert(
	    r.intact, "a next hop changed inside the section that held it");
	rt_table_destroy(r.t);
}

/*
 * A next hop whose grace period has passed is freed when a writer next
 * leaves the table's lock, not only when a next hop is created.
 */
Test(route, nexthop_freed_at_next_writer)
{
	struct rt_table *t = make(1); /* lockless */

	cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, "192.0.2.77",
	                 1, 0, NULL),
	    0);
	cr_assert_eq(
	    route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8, NULL, 0, 0, NULL),
	    0);
	mpsafe_defer_barrier(); /* its grace period has passed */
	/* A request that creates no next hop: a lookup of what is gone. */
	cr_assert_eq(
	    route_req(t, MPSAFE_RTM_GET, "10.0.0.0", 8, NULL, 0, 0, NULL),
	    ESRCH);
	/* Relaxed: this thread is the table's only user. */
	cr_assert_null(
	    atomic_load_explicit(&t->t_nh_done, memory_order_relaxed),
	    "a reclaimed next hop still waits to be freed");
	rt_table_destroy(t);
}

/*
 * Next-hop ids at their real limit (no knob): a table holds 65535
 * (RT_NH_ID_MAX) next hops with ids at once, each distinct and in
 * 1..65535; the 65536th distinct next hop gets none (id 0) and its
 * lookups fall back to the entry, still right.  Once a next hop with an
 * id is gone (and its grace period has passed) a new one gets an id
 * again.
 */
Test(route, nexthop_ids_at_the_limit)
{
	const unsigned total = RT_NH_ID_MAX + 1;
	static uint8_t seen[RT_NH_ID_MAX + 1];

	cr_assert_eq(RT_NH_ID_MAX, 65535u);
	for (size_t d = 0; d < 2; d++) { /* netbsd, lockless */
		struct rt_table *t = make(d);
		const struct rt_nexthop *nh;
		unsigned with_id = 0;
		int s;

		cr_assert_eq(t->t_nh_idmax, RT_NH_ID_MAX);
		memset(seen, 0, sizeof(seen));
		for (unsigned i = 0; i < total; i++) {
			char dst[32], gw[32];

			snprintf(
			    dst, sizeof(dst), "10.%u.%u.0", i / 256, i % 256);
			snprintf(
			    gw, sizeof(gw), "198.18.%u.%u", i / 256, i % 256);
			cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, dst, 24, gw,
			                 1, 0, NULL),
			    0, "route %u", i);
		}
		s = rt_read_enter(t);
		for (unsigned i = 0; i < total; i++) {
			uint8_t a[4] = {
			    10, (uint8_t)(i / 256), (uint8_t)(i % 256), 1};
			uint8_t g[4] = {
			    198, 18, (uint8_t)(i / 256), (uint8_t)(i % 256)};

			nh = rt_lookup_nexthop(t, AF_INET, a);
			cr_assert_not_null(nh, "route %u", i);
			cr_assert_eq(memcmp(&nh->nh_gateway.sin.sin_addr, g, 4),
			    0, "route %u: wrong next hop", i);
			if (nh->nh_id != 0) {
				cr_assert_eq(seen[nh->nh_id], 0,
				    "id %u given twice", nh->nh_id);
				seen[nh->nh_id] = 1;
				with_id++;
			}
		}
		rt_read_exit(t, s);
		cr_assert_eq(with_id, RT_NH_ID_MAX,
		    "%s: %u of %u next hops have ids",
		    route_designs[d].rtc_name, with_id, total);
		/* Free one id; a new next hop gets one again. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 24,
		                 NULL, 0, 0, NULL),
		    0);
		mpsafe_defer_barrier();
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "11.0.0.0", 24,
		                 "198.19.0.1", 1, 0, NULL),
		    0);
		s = rt_read_enter(t);
		nh = nh_at(t, "11.0.0.1");
		cr_assert_not_null(nh);
		cr_assert_neq(nh->nh_id, 0, "%s: a freed id was not handed out",
		    route_designs[d].rtc_name);
		rt_read_exit(t, s);
		rt_table_destroy(t);
	}
}

Test(route, nexthop_ids_recycled)
{
	struct rt_table *t = make(1); /* lockless */
	const unsigned total = RT_NH_ID_MAX + 5000;
	unsigned maxid = 0;

	/* More distinct next hops over time than there are ids. */
	for (unsigned i = 0; i < total; i++) {
		char gw[32];
		const struct rt_nexthop *nh;
		int s;

		snprintf(gw, sizeof(gw), "198.%u.%u.%u", 16 + i / 65536,
		    i / 256 % 256, i % 256);
		/* A /16: 256 slots a time (a /8 writes 65536). */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, gw, 1,
		                 0, NULL),
		    0);
		s = rt_read_enter(t);
		nh = nh_at(t, "10.1.2.3");
		cr_assert_not_null(nh);
		cr_assert_eq(nh->nh_gateway.sin.sin_addr.s_addr, inet_addr(gw));
		cr_assert_neq(nh->nh_id, 0, "ids ran out at %u", i);
		if (nh->nh_id > maxid)
			maxid = nh->nh_id;
		rt_read_exit(t, s);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.0.0", 16,
		                 NULL, 0, 0, NULL),
		    0);
		/* Reclaim often enough that ids come back in time. */
		if (i % 4096 == 4095)
			mpsafe_defer_barrier();
	}
	cr_assert_lt(maxid, 8192, "ids are reused (highest %u)", maxid);
	rt_table_destroy(t);
}

/*
 * rt_walktree()'s function runs under the table's lock: a thread with a
 * cancellation pending that reaches a cancellation point there must not
 * unwind with the lock held (every later request would wait for ever).
 * The walk finishes, and the cancellation acts after it.
 */
static int
walk_sleeps_fn(struct rt_entry *rt, void *arg)
{
	const struct timespec ms = {0, 1000000L};

	(void)rt;
	(void)arg;
	nanosleep(&ms, NULL); /* a cancellation point */
	return 0;
}

static void *
walk_cancelled_thread(void *arg)
{
	pthread_cancel(pthread_self()); /* deferred: pending */
	(void)rt_walktree(arg, AF_UNSPEC, walk_sleeps_fn, NULL);
	pthread_testcancel();
	return NULL;
}

Test(route, walk_function_is_not_cancelled_under_the_lock)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		pthread_t w;
		void *ret;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(
		    pthread_create(&w, NULL, walk_cancelled_thread, t), 0);
		cr_assert_eq(pthread_join(w, &ret), 0);
		cr_assert_eq(ret, PTHREAD_CANCELED);
		/* Hung here when the walk's lock was left held. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "20.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rt_table_destroy(t);
	}
}

/* --- IPv6 zones (route.c, "Keys") ----------------------------------------- */

/* rtrequest() of dst%scope/plen on interface ifindex (gw: none). */
static int
zreq(struct rt_table *t, int req, const char *dst, uint32_t scope, int plen,
    unsigned ifindex)
{
	union rt_sockaddr d = sa6z(dst, scope);
	struct rt_addrinfo info;

	memset(&info, 0, sizeof(info));
	info.rti_dst = &d.sa;
	info.rti_plen = plen;
	info.rti_ifindex = ifindex;
	return rtrequest(t, req, &info, NULL);
}

/* The ifindex of the route rtalloc1() finds for addr%scope; 0: none. */
static unsigned
zmatch(struct rt_table *t, const char *addr, uint32_t scope)
{
	union rt_sockaddr a = sa6z(addr, scope);
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);
	unsigned ifx;

	if (rt == NULL)
		return 0;
	ifx = rt->rt_ifindex;
	rt_unref(rt);
	return ifx;
}

/* The ifindex of rt_lookup_noref() of the raw bytes of addr; 0: none. */
static unsigned
zmatch_raw(struct rt_table *t, const char *addr)
{
	union rt_sockaddr a = sa_of(addr);
	int s = rt_read_enter(t);
	struct rt_entry *rt = rt_lookup_noref(t, AF_INET6, &a.sin6.sin6_addr);
	unsigned ifx = rt != NULL ? rt->rt_ifindex : 0;

	rt_read_exit(t, s);
	return ifx;
}

/*
 * Link-local prefixes of one address on different zones are different
 * routes, each found by lookups of its own zone; the embedded form is
 * the same route; entries give the zone back as the scope id.
 */
Test(route, ipv6_zones_are_part_of_the_key)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a;
		struct rt_entry *rt;

		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 1, 64, 1), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 2, 64, 2), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 0, 64, 9), 0);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 1, 64, 5), EEXIST);
		/* The embedded form, scope 0 or equal: the same routes. */
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80:1::", 0, 64, 5), EEXIST);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80:2::", 2, 64, 5), EEXIST);

		cr_assert_eq(zmatch(t, "fe80::5", 1), 1u);
		cr_assert_eq(zmatch(t, "fe80::5", 2), 2u);
		cr_assert_eq(zmatch(t, "fe80::5", 0), 9u);
		cr_assert_eq(zmatch(t, "fe80::5", 3), 0u, "no route on zone 3");
		cr_assert_eq(zmatch(t, "fe80:2::5", 0), 2u);
		cr_assert_eq(zmatch_raw(t, "fe80:1::5"), 1u);
		cr_assert_eq(zmatch_raw(t, "fe80::5"), 9u);

		/* The entry shows the zone as the scope id, bits 16..31 0. */
		a = sa6z("fe80::5", 2);
		rt = rtalloc1(t, &a.sa, 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_dst.sin6.sin6_scope_id, 2u);
		cr_assert_eq(rt->rt_dst.sin6.sin6_addr.s6_addr[2], 0);
		cr_assert_eq(rt->rt_dst.sin6.sin6_addr.s6_addr[3], 0);
		rt_unref(rt);
		/* Added in the embedded form: shown the same way. */
		cr_assert_eq(zreq(t, MPSAFE_RTM_DELETE, "fe80::", 2, 64, 0), 0);
		cr_assert_eq(zmatch(t, "fe80::5", 2), 0u);
		cr_assert_eq(zmatch(t, "fe80::5", 1), 1u, "zone 1 untouched");
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80:2::", 0, 64, 2), 0);
		rt = rtalloc1(t, &a.sa, 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 2u);
		cr_assert_eq(rt->rt_dst.sin6.sin6_scope_id, 2u);
		cr_assert_eq(rt->rt_dst.sin6.sin6_addr.s6_addr[3], 0);
		rt_unref(rt);

		/* A prefix of /16 or shorter covers every zone. */
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 0, 10, 7), 0);
		cr_assert_eq(zmatch(t, "fe80::5", 3), 7u);
		cr_assert_eq(zmatch(t, "fe80:0:0:1::5", 1), 7u);
		cr_assert_eq(zmatch(t, "fe80::5", 1), 1u);

		/* Multicast: link-local and interface-local are zoned. */
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff02::1", 1, -1, 1), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff02::1", 2, -1, 2), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff11::1", 2, -1, 4), 0);
		cr_assert_eq(zmatch(t, "ff02::1", 2), 2u);
		cr_assert_eq(zmatch(t, "ff11::1", 2), 4u);
		cr_assert_eq(zmatch(t, "ff11::1", 1), 0u);
		/*
		 * With the P flag (RFC 3306, 4489: a prefix length in bits
		 * 16..31) the zone stays out of the key: the address is
		 * kept whole and the scope id ignored.
		 */
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff32:ff:211:22ff:fe33::1",
		                 2, -1, 6),
		    0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff32:ff:211:22ff:fe33::1",
		                 0, -1, 6),
		    EEXIST);
		cr_assert_eq(zmatch(t, "ff32:ff:211:22ff:fe33::1", 1), 6u);
		a = sa6z("ff32:ff:211:22ff:fe33::1", 1);
		rt = rtalloc1(t, &a.sa, 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_dst.sin6.sin6_addr.s6_addr[3], 0xff);
		cr_assert_eq(rt->rt_dst.sin6.sin6_scope_id, 0u);
		rt_unref(rt);
		/* Other scopes ignore the scope id, as before. */
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff0e::1", 5, -1, 1), 0);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "ff0e::1", 0, -1, 1), EEXIST);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "2001:db8::", 5, 32, 1), 0);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "2001:db8::", 0, 32, 1), EEXIST);
		cr_assert_eq(zmatch(t, "2001:db8::1", 9), 1u);
		rt = NULL;
		a = sa6z("2001:db8::1", 9);
		rt = rtalloc1(t, &a.sa, 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_dst.sin6.sin6_scope_id, 0u,
		    "0 where the scope is not part of the key");
		rt_unref(rt);
		rt_table_destroy(t);
	}
}

/* A gateway's zone comes back as its scope id, whichever form. */
Test(route, ipv6_zones_of_gateways)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rt_entry *rt = NULL;
		const struct sockaddr_in6 *g;

		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 "fe80:4::1", 4, 0, &rt),
		    0);
		cr_assert_not_null(rt);
		g = (const struct sockaddr_in6 *)(const void *)rt_getgate(rt);
		cr_assert_not_null(g);
		cr_assert_eq(g->sin6_scope_id, 4u);
		cr_assert_eq(g->sin6_addr.s6_addr[2], 0);
		cr_assert_eq(g->sin6_addr.s6_addr[3], 0);
		cr_assert_eq(g->sin6_addr.s6_addr[15], 1);
		rt_unref(rt);
		rt_table_destroy(t);
	}
}

/* Zones no key can carry: EINVAL, the table unchanged; lookups miss. */
Test(route, ipv6_zones_bad_input)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		union rt_sockaddr a;
		struct rt_table_stats st;

		/* At the limit of 16 bits, and one past it. */
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 0xffff, 64, 1), 0);
		cr_assert_eq(zmatch(t, "fe80::1", 0xffff), 1u);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 0x10000, 64, 1), EINVAL);
		cr_assert_eq(zmatch(t, "fe80::1", 0x10000), 0u);
		/* Bits 16..31 naming another zone than the scope id. */
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80:3::", 2, 64, 1), EINVAL);
		cr_assert_eq(zmatch(t, "fe80:ffff::1", 2), 0u);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_DELETE, "fe80:3::", 2, 64, 0), EINVAL);
		/*
		 * A zoned prefix covers every zone (/16 or shorter) or one
		 * (/32 or longer); /17 to /31, some zones, is refused.
		 */
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 2, 31, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 1, 31, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80:2::", 0, 31, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 1, 16, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 0, 31, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "fe80::", 0, 17, 1), EINVAL);
		cr_assert_eq(
		    zreq(t, MPSAFE_RTM_ADD, "ff02::", 0, 24, 1), EINVAL);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 1, 32, 2), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "fe80::", 0, 16, 3), 0);
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff02::", 2, 32, 4), 0);
		/* Not zoned: any length. */
		cr_assert_eq(zreq(t, MPSAFE_RTM_ADD, "ff32::", 0, 24, 5), 0);
		/* A scope id on a zoned gateway is checked the same way. */
		{
			union rt_sockaddr dst = sa_of("2001:db8::");
			union rt_sockaddr gw = sa6z("fe80:3::1", 2);
			struct rt_addrinfo info;

			memset(&info, 0, sizeof(info));
			info.rti_dst = &dst.sa;
			info.rti_plen = 32;
			info.rti_flags = MPSAFE_RTF_GATEWAY;
			info.rti_gateway = &gw.sa;
			cr_assert_eq(
			    rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), EINVAL);
		}
		rt_table_stats(t, &st);
		cr_assert_eq(st.rts_entries_inet6, 5u);
		cr_assert_eq(
		    zmatch(t, "fe80::1", 7), 3u, "/16 covers every zone");
		a = sa6z("fe80::1", 0x10000);
		cr_assert_null(rtalloc1(t, &a.sa, MPSAFE_RT_NOWAIT));
		rt_table_destroy(t);
	}
}
