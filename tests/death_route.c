/*
 * death_route.c: the rules of route.h whose breach the library reports.
 * Each test breaks one rule and expects an abort (SIGABRT) with a message
 * naming it.  Built with MPSAFE_DIAGNOSTIC.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include <mpsafe/net/route.h>

#include "route_helpers.h"

TestSuite(death_route, .timeout = 30);

static struct rt_table *t;
static struct route ro;
static union rt_sockaddr a;

static void
setup(void)
{
	if (rt_table_create(&t, NULL) != 0)
		abort();
	if (route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL, 1, 0, NULL) != 0)
		abort();
	rtcache_attach(&ro, t, 0);
	a = sa_of("10.1.1.1");
}

/* A cache holds one reference at a time. */
Test(death_route, second_lookup_before_rtcache_unref, .init = setup,
    .signal = SIGABRT)
{
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	(void)rtcache_lookup(&ro, &a.sa);
}

Test(death_route, validate_before_rtcache_unref, .init = setup,
    .signal = SIGABRT)
{
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	(void)rtcache_validate(&ro);
}

Test(death_route, rtcache_free_while_held, .init = setup, .signal = SIGABRT)
{
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	rtcache_free(&ro);
}

Test(death_route, rtcache_unref_of_a_foreign_entry, .init = setup,
    .signal = SIGABRT)
{
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	cr_assert_not_null(rt);
	rtcache_unref(rt, &ro);
}

Test(death_route, rt_unref_more_than_taken, .init = setup, .signal = SIGABRT)
{
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	cr_assert_not_null(rt);
	rt_unref(rt);
	rt_unref(rt);
}

Test(death_route, rt_release_of_an_empty_hold, .init = setup, .signal = SIGABRT)
{
	struct rt_hold h;
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	memset(&h, 0, sizeof(h));
	rt_release(rt, &h);
}

Test(death_route, cache_not_attached, .signal = SIGABRT)
{
	struct route bad;

	memset(&bad, 0, sizeof(bad));
	a = sa_of("10.1.1.1");
	(void)rtcache_lookup(&bad, &a.sa);
}

Test(death_route, perthread_putref_while_held, .init = setup, .signal = SIGABRT)
{
	struct rtcache_perthread *pc = rtcache_perthread_alloc(t);
	struct route *r = rtcache_perthread_getref(pc);
	struct rt_entry *rt = rtcache_lookup(r, &a.sa);

	cr_assert_not_null(rt);
	rtcache_perthread_putref(pc);
}

/* rtcache_lookup_noref() on a cache that still holds a reference. */
Test(death_route, noref_lookup_before_rtcache_unref, .init = setup,
    .signal = SIGABRT)
{
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);
	int s;

	cr_assert_not_null(rt);
	s = rt_read_enter(t);
	(void)rtcache_lookup_noref(&ro, &a.sa, NULL);
	rt_read_exit(t, s);
}

/* Lookups without a reference, outside a read section (lockless table). */
Test(death_route, noref_lookup_outside_read_section, .init = setup,
    .signal = SIGABRT)
{
	(void)rt_lookup_noref(t, AF_INET, &a.sin.sin_addr);
}

Test(death_route, nexthop_lookup_outside_read_section, .init = setup,
    .signal = SIGABRT)
{
	(void)rt_lookup_nexthop(t, AF_INET, &a.sin.sin_addr);
}

/* Inside one, the same calls are fine. */
Test(death_route, lookups_inside_read_section, .init = setup)
{
	int s = rt_read_enter(t);

	cr_assert_not_null(rt_lookup_noref(t, AF_INET, &a.sin.sin_addr));
	cr_assert_not_null(rt_lookup_nexthop(t, AF_INET, &a.sin.sin_addr));
	rt_read_exit(t, s);
}
