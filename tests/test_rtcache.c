/*
 * test_rtcache.c: route caches (struct route, rtcache_*): hits, and
 * invalidation by add, delete, change and rtflushall() (per family), as
 * NetBSD's route tests check them; setdst/getdst, copy, update, NOWAIT
 * caches during a change, per-thread caches; in every design.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <mpsafe/net/route.h>

#include "route_helpers.h"

TestSuite(rtcache, .timeout = 60);

#define FOR_EACH_DESIGN(d) for (size_t d = 0; d < ROUTE_NDESIGNS; d++)

static struct rt_table *
make(size_t d)
{
	struct rt_table *t = NULL;

	cr_assert_eq(rt_table_create(&t, &route_designs[d]), 0);
	return t;
}

/* Look dst up through ro; returns hit (1/0) and the ifindex (0: miss). */
static int
through(struct route *ro, const char *dst, unsigned *ifindex)
{
	union rt_sockaddr a = sa_of(dst);
	int hit = -1;
	struct rt_entry *rt = rtcache_lookup2(ro, &a.sa, 1, &hit);

	*ifindex = rt != NULL ? rt->rt_ifindex : 0;
	rtcache_unref(rt, ro);
	return hit;
}

Test(rtcache, hit_then_invalidated_by_add_delete_change)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro;
		unsigned ifx;

		rtcache_attach(&ro, t, 0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(
		    through(&ro, "10.1.2.3", &ifx), 1, "second is a hit");
		cr_assert_eq(ifx, 1u);
		/* Add of a more specific route: the cache must not hide it. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 0);
		cr_assert_eq(ifx, 2u);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 1);
		/* Change. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.1.0.0", 16,
		                 NULL, 3, 0, NULL),
		    0);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 0);
		cr_assert_eq(ifx, 3u);
		/* Delete. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.0.0", 16,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(through(&ro, "10.1.2.3", &ifx), 0);
		cr_assert_eq(ifx, 0u, "no route left");
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

Test(rtcache, rtflushall_per_family)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route r4, r6;
		unsigned ifx;

		rtcache_attach(&r4, t, 0);
		rtcache_attach(&r6, t, 0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 6, 0, NULL),
		    0);
		through(&r4, "10.0.0.1", &ifx);
		through(&r6, "2001:db8::1", &ifx);
		cr_assert_eq(through(&r4, "10.0.0.1", &ifx), 1);
		cr_assert_eq(through(&r6, "2001:db8::1", &ifx), 1);
		cr_assert_eq(rtflushall(t, AF_INET6), 0);
		cr_assert_eq(through(&r4, "10.0.0.1", &ifx), 1, "v4 untouched");
		cr_assert_eq(through(&r6, "2001:db8::1", &ifx), 0);
		cr_assert_eq(rtflushall(t, AF_UNSPEC), 0);
		cr_assert_eq(through(&r4, "10.0.0.1", &ifx), 0);
		cr_assert_eq(through(&r6, "2001:db8::1", &ifx), 0);
		cr_assert_eq(rtflushall(t, AF_UNIX), EAFNOSUPPORT);
		/* An add in one family leaves the other's caches valid. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "11.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(through(&r6, "2001:db8::1", &ifx), 1);
		rt_table_destroy(t);
	}
}

Test(rtcache, setdst_getdst_validate_update_copy)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro, ro2;
		union rt_sockaddr a = sa_of("10.9.8.7"),
		                  b = sa_of("2001:db8::7");
		struct {
			sa_family_t f;
			char p[14];
		} bad = {AF_UNIX, "x"};
		struct rt_entry *rt;
		const struct sockaddr *g;

		rtcache_attach(&ro, t, 0);
		cr_assert_null(rtcache_getdst(&ro));
		cr_assert_null(rtcache_init(&ro), "no destination yet");
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 4, 0, NULL),
		    0);
		cr_assert_eq(rtcache_setdst(&ro, &a.sa), 0);
		g = rtcache_getdst(&ro);
		cr_assert_not_null(g);
		cr_assert_eq(g->sa_family, AF_INET);
		cr_assert_eq(
		    memcmp(&((const struct sockaddr_in *)(const void *)g)
		                ->sin_addr,
		        &a.sin.sin_addr, 4),
		    0);
		cr_assert_eq(rtcache_setdst(&ro,
		                 (const struct sockaddr *)(const void *)&bad),
		    EAFNOSUPPORT);
		cr_assert_eq(
		    rtcache_getdst(&ro)->sa_family, AF_INET, "unchanged");
		cr_assert_eq(rtcache_setdst(&ro, NULL), EINVAL);
		rt = rtcache_init(&ro);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 4u);
		rtcache_unref(rt, &ro);
		rt = rtcache_validate(&ro);
		cr_assert_not_null(rt);
		rtcache_unref(rt, &ro);
		rt = rtcache_update(&ro, 1);
		cr_assert_not_null(rt);
		rtcache_unref(rt, &ro);
		/* Copy: same destination and entry, no reference. */
		rtcache_attach(&ro2, t, 0);
		rtcache_copy(&ro2, &ro);
		cr_assert_eq(rtcache_getdst(&ro2)->sa_family, AF_INET);
		rt = rtcache_validate(&ro2);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 4u);
		rtcache_unref(rt, &ro2);
		/* After a delete validate fails and the cache empties. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_null(rtcache_validate(&ro));
		cr_assert_null(rtcache_validate(&ro2));
		/* Another family through the same cache. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 6, 0, NULL),
		    0);
		rt = rtcache_lookup(&ro, &b.sa);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 6u);
		rtcache_unref(rt, &ro);
		rt = rtcache_lookup1(&ro, &b.sa, 0);
		cr_assert_not_null(rt);
		rtcache_unref(rt, &ro);
		rtcache_unref(NULL, &ro); /* no-op */
		rtcache_free(&ro);
		cr_assert_null(rtcache_getdst(&ro));
		rtcache_free(&ro2);
		rt_table_destroy(t);
	}
}

struct changer {
	struct rt_table *t;
	int error;
};

static void *
change_thread(void *arg)
{
	struct changer *c = arg;

	c->error = route_req(
	    c->t, MPSAFE_RTM_CHANGE, "10.0.0.0", 8, NULL, 77, 0, NULL);
	return NULL;
}

/*
 * A NOWAIT cache misses while its entry is being changed (a forwarding
 * path must not block); once the change is done it finds the new entry.
 * The change waits for the psref that a second cache holds.
 */
Test(rtcache, nowait_cache_misses_during_change)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route holder, fwd;
		union rt_sockaddr a = sa_of("10.3.3.3");
		struct changer c = {t, -1};
		struct rt_entry *held, *rt;
		pthread_t th;

		rtcache_attach(&holder, t, 0);
		rtcache_attach(&fwd, t, MPSAFE_RT_NOWAIT);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		held = rtcache_lookup(&holder, &a.sa);
		cr_assert_not_null(held);
		pthread_create(&th, NULL, change_thread, &c);
		while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
			sched_yield();
		rt = rtcache_lookup(&fwd, &a.sa);
		cr_assert_null(rt, "NOWAIT cache must miss during a change");
		cr_assert_eq(held->rt_ifindex, 1u, "holder sees the old entry");
		rtcache_unref(held, &holder);
		pthread_join(th, NULL);
		cr_assert_eq(c.error, 0);
		rt = rtcache_lookup(&fwd, &a.sa);
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 77u);
		rtcache_unref(rt, &fwd);
		rtcache_free(&holder);
		rtcache_free(&fwd);
		rt_table_destroy(t);
	}
}

/*
 * rtcache_validate() never waits for a change, on any cache: the change
 * advanced the generation when it began, so the cached entry is stale
 * and validation misses at once (it would wait for ever here, since this
 * thread holds the count the change waits for).  A fresh lookup through
 * a cache that may block then waits for the change and sees it.
 */
Test(rtcache, validate_during_change_misses_without_waiting)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro;
		union rt_sockaddr a = sa_of("10.3.3.3");
		struct changer c = {t, -1};
		struct rt_entry *held, *rt;
		pthread_t th;

		rtcache_attach(&ro, t, 0); /* may block */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		rt = rtcache_lookup(&ro, &a.sa);
		cr_assert_not_null(rt);
		rtcache_unref(rt, &ro); /* cached, weak */
		held = rtalloc1(t, &a.sa, 0);
		cr_assert_not_null(held);
		pthread_create(&th, NULL, change_thread, &c);
		while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
			sched_yield();
		cr_assert_null(rtcache_validate(&ro),
		    "validation during a change must miss");
		cr_assert_eq(held->rt_ifindex, 1u);
		rt_unref(held);
		rt =
		    rtcache_update(&ro, 1); /* waits for the change if needed */
		cr_assert_not_null(rt);
		cr_assert_eq(rt->rt_ifindex, 77u);
		rtcache_unref(rt, &ro);
		pthread_join(th, NULL);
		cr_assert_eq(c.error, 0);
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

struct pt_arg {
	struct rtcache_perthread *pc;
	struct route *mine;
	unsigned ifx;
};

static void *
pt_thread(void *arg)
{
	struct pt_arg *p = arg;
	union rt_sockaddr a = sa_of("10.4.4.4");
	struct route *ro = rtcache_perthread_getref(p->pc);
	struct rt_entry *rt;

	p->mine = ro;
	rt = rtcache_lookup(ro, &a.sa);
	p->ifx = rt != NULL ? rt->rt_ifindex : 0;
	rtcache_unref(rt, ro);
	rtcache_perthread_putref(p->pc);
	return NULL;
}

Test(rtcache, perthread_caches_are_distinct)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct rtcache_perthread *pc = rtcache_perthread_alloc(t);
		struct pt_arg a1 = {pc, NULL, 0}, a2 = {pc, NULL, 0};
		struct route *m1, *m2;
		pthread_t t1, t2;

		cr_assert_not_null(pc);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 8, 0, NULL),
		    0);
		pthread_create(&t1, NULL, pt_thread, &a1);
		pthread_create(&t2, NULL, pt_thread, &a2);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		cr_assert_neq(a1.mine, a2.mine, "one cache per thread");
		cr_assert_eq(a1.ifx, 8u);
		cr_assert_eq(a2.ifx, 8u);
		m1 = rtcache_perthread_getref(pc);
		rtcache_perthread_putref(pc);
		m2 = rtcache_perthread_getref(pc);
		rtcache_perthread_putref(pc);
		cr_assert_eq(m1, m2, "same thread, same cache");
		cr_assert_neq(m1, a1.mine);
		rtcache_perthread_free(pc);
		rt_table_destroy(t);
	}
}

/* --- rtcache_lookup_noref ------------------------------------------------ */

/*
 * Look dst up through ro with rtcache_lookup_noref() inside a read
 * section; returns hit (1/0) and the ifindex (0: miss), *rtp the entry.
 */
static int
noref(struct rt_table *t, struct route *ro, const char *dst, unsigned *ifindex,
    struct rt_entry **rtp)
{
	union rt_sockaddr a = sa_of(dst);
	int hit = -1, s = rt_read_enter(t);
	struct rt_entry *rt = rtcache_lookup_noref(ro, &a.sa, &hit);

	*ifindex = rt != NULL ? rt->rt_ifindex : 0;
	if (rt != NULL)
		cr_assert_eq(
		    rt_getflags(rt) & (MPSAFE_RTF_UP | MPSAFE_RTF_UPDATING),
		    MPSAFE_RTF_UP);
	rt_read_exit(t, s);
	cr_assert(hit == 0 || hit == 1);
	if (rtp != NULL)
		*rtp = rt;
	return hit;
}

/*
 * rtcache_perthread_alloc() at the process's limit of thread-specific
 * keys: with exactly one key left it succeeds (and its caches work);
 * with none left it is NULL with errno EAGAIN; rtcache_perthread_free()
 * gives the key back.
 */
Test(rtcache, perthread_alloc_at_the_key_limit)
{
	static pthread_key_t keys[PTHREAD_KEYS_MAX + 1];
	struct rt_table *t = make(1);
	union rt_sockaddr a = sa_of("10.1.2.3");
	struct rtcache_perthread *warm, *pc, *none;
	struct route *ro;
	struct rt_entry *rt;
	size_t n = 0;

	cr_assert_eq(
	    route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL, 1, 0, NULL), 0);
	/* Whatever the library creates once, before the keys run out. */
	warm = rtcache_perthread_alloc(t);
	cr_assert_not_null(warm);
	ro = rtcache_perthread_getref(warm);
	cr_assert_not_null(ro);
	rt = rtcache_lookup(ro, &a.sa);
	cr_assert_not_null(rt);
	rtcache_unref(rt, ro);
	rtcache_perthread_putref(warm);
	rtcache_perthread_free(warm);

	while (
	    n < PTHREAD_KEYS_MAX + 1 && pthread_key_create(&keys[n], NULL) == 0)
		n++;
	cr_assert_gt(n, 0);
	cr_assert_leq(n, PTHREAD_KEYS_MAX, "no limit on keys");
	cr_assert_eq(pthread_key_delete(keys[--n]), 0); /* one left */

	pc = rtcache_perthread_alloc(t);
	cr_assert_not_null(pc, "the last key was refused (errno %d)", errno);
	errno = 0;
	none = rtcache_perthread_alloc(t);
	cr_assert_null(none, "a set of caches without a key");
	cr_assert_eq(errno, EAGAIN);
	ro = rtcache_perthread_getref(pc);
	cr_assert_not_null(ro);
	rt = rtcache_lookup(ro, &a.sa);
	cr_assert_not_null(rt);
	cr_assert_eq(rt_getplen(rt), 8u);
	rtcache_unref(rt, ro);
	rtcache_perthread_putref(pc);
	rtcache_perthread_free(pc);
	/* Its key is free again. */
	pc = rtcache_perthread_alloc(t);
	cr_assert_not_null(pc, "rtcache_perthread_free() kept its key");
	rtcache_perthread_free(pc);

	while (n > 0)
		pthread_key_delete(keys[--n]);
	rt_table_destroy(t);
}

Test(rtcache, noref_hit_then_invalidated_by_add_delete_change_flush)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro;
		struct rt_entry *r1, *r2;
		unsigned ifx;

		rtcache_attach(&ro, t, MPSAFE_RT_NOWAIT);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, &r1), 0);
		cr_assert_null(r1, "empty table");
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, &r1), 0,
		    "a miss is not cached as a hit");
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, &r1), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, &r2), 1);
		cr_assert_eq(r1, r2, "a hit returns the cached entry");
		/* Add of a more specific route. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.1.0.0", 16, NULL,
		                 2, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 2u);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 1);
		/* Change. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_CHANGE, "10.1.0.0", 16,
		                 NULL, 3, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 3u);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 1);
		/* rtflushall: per family. */
		cr_assert_eq(rtflushall(t, AF_INET6), 0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 1);
		cr_assert_eq(rtflushall(t, AF_INET), 0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 3u);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 1);
		/* Another destination through the same cache. */
		cr_assert_eq(noref(t, &ro, "10.200.0.1", &ifx, NULL), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(noref(t, &ro, "10.200.0.1", &ifx, NULL), 1);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 3u);
		/* Delete. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.1.0.0", 16,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(route_req(t, MPSAFE_RTM_DELETE, "10.0.0.0", 8,
		                 NULL, 0, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "10.1.2.3", &ifx, &r1), 0);
		cr_assert_null(r1, "no route left");
		/* IPv6. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 6, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &ro, "2001:db8::1", &ifx, NULL), 0);
		cr_assert_eq(ifx, 6u);
		cr_assert_eq(noref(t, &ro, "2001:db8::1", &ifx, NULL), 1);
		cr_assert_eq(rtflushall(t, AF_INET), 0);
		cr_assert_eq(noref(t, &ro, "2001:db8::1", &ifx, NULL), 1);
		cr_assert_eq(noref(t, &ro, "2001:db8::2", &ifx, NULL), 0,
		    "another address of the prefix is another destination");
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

Test(rtcache, noref_bad_arguments_and_mixing_with_counted_lookups)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro;
		union rt_sockaddr a = sa_of("10.5.5.5");
		struct {
			sa_family_t f;
			char p[14];
		} bad = {AF_UNIX, "x"};
		struct rt_entry *rt, *rn;
		unsigned ifx;
		int hit = -1, s;

		rtcache_attach(&ro, t, 0);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 5, 0, NULL),
		    0);
		s = rt_read_enter(t);
		cr_assert_null(rtcache_lookup_noref(&ro, NULL, &hit));
		cr_assert_eq(hit, 0);
		hit = -1;
		cr_assert_null(rtcache_lookup_noref(NULL, &a.sa, &hit));
		cr_assert_eq(hit, 0);
		hit = -1;
		cr_assert_null(rtcache_lookup_noref(
		    &ro, (const struct sockaddr *)(const void *)&bad, &hit));
		cr_assert_eq(hit, 0);
		cr_assert_null(rtcache_getdst(&ro), "destination unchanged");
		rn = rtcache_lookup_noref(&ro, &a.sa, NULL); /* hitp optional */
		cr_assert_not_null(rn);
		rt_read_exit(t, s);
		/* A weak fill is validated by the counted lookup... */
		hit = -1;
		rt = rtcache_lookup2(&ro, &a.sa, 0, &hit);
		cr_assert_eq(hit, 1);
		cr_assert_eq(rt, rn);
		rtcache_unref(rt, &ro);
		/* ...and a counted fill by the weak one. */
		cr_assert_eq(rtflushall(t, AF_INET), 0);
		rt = rtcache_lookup2(&ro, &a.sa, 0, &hit);
		cr_assert_eq(hit, 0);
		cr_assert_not_null(rt);
		rtcache_unref(rt, &ro);
		cr_assert_eq(noref(t, &ro, "10.5.5.5", &ifx, &rn), 1);
		cr_assert_eq(rn, rt);
		cr_assert_eq(ifx, 5u);
		rtcache_free(&ro);
		rt_table_destroy(t);
	}
}

/*
 * An entry being changed (RTF_UPDATING) is a miss for the weak lookup,
 * and is not cached; after the change the new entry is found.
 */
Test(rtcache, noref_misses_during_change)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route holder, fwd;
		union rt_sockaddr a = sa_of("10.3.3.3");
		struct changer c = {t, -1};
		struct rt_entry *held, *rt;
		unsigned ifx;
		pthread_t th;

		rtcache_attach(&holder, t, 0);
		rtcache_attach(&fwd, t, MPSAFE_RT_NOWAIT);
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL,
		                 1, 0, NULL),
		    0);
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, NULL), 0);
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, NULL), 1);
		held = rtcache_lookup(&holder, &a.sa);
		cr_assert_not_null(held);
		pthread_create(&th, NULL, change_thread, &c);
		while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
			sched_yield();
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, &rt), 0);
		cr_assert_null(rt, "an entry being changed is a miss");
		cr_assert_null(fwd.ro_rt, "and is not cached");
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, &rt), 0);
		cr_assert_null(rt);
		rtcache_unref(held, &holder);
		pthread_join(th, NULL);
		cr_assert_eq(c.error, 0);
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, NULL), 0);
		cr_assert_eq(ifx, 77u);
		cr_assert_eq(noref(t, &fwd, "10.3.3.3", &ifx, NULL), 1);
		rtcache_free(&holder);
		rtcache_free(&fwd);
		rt_table_destroy(t);
	}
}

/* --- IPv6 zones ------------------------------------------------------------
 */

/* through() and noref() of addr%scope (an IPv6 address). */
static int
zthrough(struct route *ro, const char *dst, uint32_t scope, unsigned *ifx)
{
	union rt_sockaddr a = sa6z(dst, scope);
	int hit = -1;
	struct rt_entry *rt = rtcache_lookup2(ro, &a.sa, 1, &hit);

	*ifx = rt != NULL ? rt->rt_ifindex : 0;
	rtcache_unref(rt, ro);
	return hit;
}

static int
znoref(struct rt_table *t, struct route *ro, const char *dst, uint32_t scope,
    unsigned *ifx)
{
	union rt_sockaddr a = sa6z(dst, scope);
	int hit = -1, s = rt_read_enter(t);
	struct rt_entry *rt = rtcache_lookup_noref(ro, &a.sa, &hit);

	*ifx = rt != NULL ? rt->rt_ifindex : 0;
	rt_read_exit(t, s);
	return hit;
}

/*
 * One link-local address on two zones is two destinations: a cache
 * filled for one is a miss for the other, and finds the other's route
 * (route.c, "Keys").  A zone no key can carry is refused by setdst.
 */
Test(rtcache, ipv6_zones_are_different_destinations)
{
	FOR_EACH_DESIGN(d)
	{
		struct rt_table *t = make(d);
		struct route ro, nr;
		union rt_sockaddr bad = sa6z("fe80:3::1", 2);
		unsigned ifx;

		for (unsigned z = 1; z <= 2; z++) {
			union rt_sockaddr p = sa6z("fe80::", z);
			struct rt_addrinfo info;

			memset(&info, 0, sizeof(info));
			info.rti_dst = &p.sa;
			info.rti_plen = 64;
			info.rti_ifindex = z;
			cr_assert_eq(
			    rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), 0);
		}
		rtcache_attach(&ro, t, 0);
		cr_assert_eq(zthrough(&ro, "fe80::5", 1, &ifx), 0);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(zthrough(&ro, "fe80::5", 1, &ifx), 1);
		cr_assert_eq(ifx, 1u);
		cr_assert_eq(zthrough(&ro, "fe80::5", 2, &ifx), 0, "a miss");
		cr_assert_eq(ifx, 2u);
		cr_assert_eq(zthrough(&ro, "fe80::5", 2, &ifx), 1);
		cr_assert_eq(ifx, 2u);
		cr_assert_eq(zthrough(&ro, "fe80::5", 3, &ifx), 0);
		cr_assert_eq(ifx, 0u, "no route on zone 3");
		cr_assert_eq(rtcache_setdst(&ro, &bad.sa), EINVAL);
		/* Where the scope is not the zone, it does not matter. */
		cr_assert_eq(route_req(t, MPSAFE_RTM_ADD, "2001:db8::", 32,
		                 NULL, 6, 0, NULL),
		    0);
		cr_assert_eq(zthrough(&ro, "2001:db8::1", 0, &ifx), 0);
		cr_assert_eq(zthrough(&ro, "2001:db8::1", 5, &ifx), 1, "a hit");
		cr_assert_eq(ifx, 6u);
		rtcache_free(&ro);

		if (route_designs[d].rtc_sync == RT_SYNC_PSERIALIZE) {
			rtcache_attach(&nr, t, 0);
			cr_assert_eq(znoref(t, &nr, "fe80::5", 2, &ifx), 0);
			cr_assert_eq(ifx, 2u);
			cr_assert_eq(znoref(t, &nr, "fe80::5", 2, &ifx), 1);
			cr_assert_eq(znoref(t, &nr, "fe80::5", 1, &ifx), 0);
			cr_assert_eq(ifx, 1u);
			cr_assert_eq(znoref(t, &nr, "fe80::5", 3, &ifx), 0);
			cr_assert_eq(ifx, 0u);
			rtcache_free(&nr);
		}
		rt_table_destroy(t);
	}
}
