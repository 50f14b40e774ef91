/*
 * death_route.c: the rules of route.h whose breach the library reports.
 * Each test breaks one rule and expects an abort (SIGABRT) with a message
 * naming it.  Built with MPSAFE_DIAGNOSTIC.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <mpsafe/net/route.h>

#include "lpm.h" /* the trie's own checks, below the table's */
#include "route_helpers.h"

#include "death_expect.h"

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
	death_expect("second lookup on route cache");
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	(void)rtcache_lookup(&ro, &a.sa);
}

Test(death_route, validate_before_rtcache_unref, .init = setup,
    .signal = SIGABRT)
{
	death_expect("rtcache_validate: second lookup");
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	(void)rtcache_validate(&ro);
}

Test(death_route, rtcache_free_while_held, .init = setup, .signal = SIGABRT)
{
	death_expect("still holds a reference (call rtcache_unref first)");
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	rtcache_free(&ro);
}

Test(death_route, rtcache_unref_of_a_foreign_entry, .init = setup,
    .signal = SIGABRT)
{
	death_expect("was not obtained through route cache");
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	cr_assert_not_null(rt);
	rtcache_unref(rt, &ro);
}

Test(death_route, rt_unref_more_than_taken, .init = setup, .signal = SIGABRT)
{
	death_expect("below zero (released more than taken)");
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	cr_assert_not_null(rt);
	rt_unref(rt);
	rt_unref(rt);
}

Test(death_route, rt_release_of_an_empty_hold, .init = setup, .signal = SIGABRT)
{
	death_expect("holds no reference");
	struct rt_hold h;
	struct rt_entry *rt = rtalloc1(t, &a.sa, 0);

	memset(&h, 0, sizeof(h));
	rt_release(rt, &h);
}

Test(death_route, cache_not_attached, .signal = SIGABRT)
{
	death_expect("not attached (rtcache_attach)");
	struct route bad;

	memset(&bad, 0, sizeof(bad));
	a = sa_of("10.1.1.1");
	(void)rtcache_lookup(&bad, &a.sa);
}

Test(death_route, perthread_putref_while_held, .init = setup, .signal = SIGABRT)
{
	death_expect("still holds a reference (call rtcache_unref first)");
	struct rtcache_perthread *pc = rtcache_perthread_alloc(t);
	struct route *r = rtcache_perthread_getref(pc);
	struct rt_entry *rt = rtcache_lookup(r, &a.sa);

	cr_assert_not_null(rt);
	rtcache_perthread_putref(pc);
}

/* rtcache_copy() from a cache that holds a reference (every build). */
Test(death_route, rtcache_copy_from_a_cache_holding_a_reference, .init = setup,
    .signal = SIGABRT)
{
	death_expect("still holds a reference (call rtcache_unref first)");
	struct route copy;
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	rtcache_attach(&copy, t, 0);
	rtcache_copy(&copy, &ro);
}

/* rtcache_copy() into a cache that holds a reference (every build). */
Test(death_route, rtcache_copy_into_a_cache_holding_a_reference, .init = setup,
    .signal = SIGABRT)
{
	death_expect("still holds a reference (call rtcache_unref first)");
	struct route other;
	struct rt_entry *rt = rtcache_lookup(&ro, &a.sa);

	cr_assert_not_null(rt);
	rtcache_attach(&other, t, 0);
	rtcache_copy(&ro, &other);
}

/* A second getref on the same thread before putref. */
Test(death_route, perthread_nested_getref, .init = setup, .signal = SIGABRT)
{
	death_expect("nested getref on this thread");
	struct rtcache_perthread *pc = rtcache_perthread_alloc(t);

	cr_assert_not_null(pc);
	cr_assert_not_null(rtcache_perthread_getref(pc));
	(void)rtcache_perthread_getref(pc);
}

/* rtcache_lookup_noref() on a cache that still holds a reference. */
Test(death_route, noref_lookup_before_rtcache_unref, .init = setup,
    .signal = SIGABRT)
{
	death_expect("rtcache_lookup_noref: second lookup");
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
	death_expect("outside a read section (rt_read_enter)");
	(void)rt_lookup_noref(t, AF_INET, &a.sin.sin_addr);
}

Test(death_route, nexthop_lookup_outside_read_section, .init = setup,
    .signal = SIGABRT)
{
	death_expect("outside a read section (rt_read_enter)");
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

/*
 * rtrequest() inside the read side of its table, even with
 * MPSAFE_RTM_F_NOWAIT: on an RT_SYNC_RWLOCK table the writer lock waits
 * for the caller's own read lock (it used to hang there), on a lockless
 * one the writer may wait for a grace period that waits for the caller.
 */
static void
rtrequest_in_section(size_t design)
{
	int s;

	if (rt_table_create(&t, &route_designs[design]) != 0)
		abort();
	if (route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL, 1, 0, NULL) != 0)
		abort();
	s = rt_read_enter(t);
	(void)route_req(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, "10.0.0.0",
	    8, NULL, 0, 0, NULL);
	rt_read_exit(t, s);
}

Test(
    death_route, rtrequest_nowait_inside_read_section_rwlock, .signal = SIGABRT)
{
	death_expect("rtrequest on table");
	rtrequest_in_section(0); /* netbsd: RT_SYNC_RWLOCK */
}

Test(death_route, rtrequest_nowait_inside_read_section_lockless,
    .signal = SIGABRT)
{
	death_expect("rtrequest on table");
	rtrequest_in_section(1); /* lockless: RT_SYNC_PSERIALIZE */
}

static int
walk_request(struct rt_entry *rt, void *arg)
{
	(void)rt;
	(void)arg;
	return route_req(t, MPSAFE_RTM_GET, "10.0.0.0", 8, NULL, 0, 0, NULL);
}

/* rt_walktree()'s fn calls rtrequest() (it used to hang on the lock). */
Test(
    death_route, rtrequest_inside_walktree_fn, .init = setup, .signal = SIGABRT)
{
	death_expect("rtrequest on table");
	(void)rt_walktree(t, AF_INET, walk_request, NULL);
}

static int
walk_stats(struct rt_entry *rt, void *arg)
{
	struct rt_table_stats st;

	(void)rt;
	(void)arg;
	rt_table_stats(t, &st);
	return 1;
}

static int
walk_nested(struct rt_entry *rt, void *arg)
{
	(void)rt;
	return rt_walktree(t, AF_INET, walk_stats, arg);
}

/*
 * rt_table_stats() and a nested rt_walktree() in a walk's fn wait for the
 * lock the walk holds (both hung, on the lockless table, before the
 * check); lockless design, whose walk holds the writer mutex.
 */
static void
lockless_setup(void)
{
	if (rt_table_create(&t, &route_designs[1]) != 0)
		abort();
	if (route_req(t, MPSAFE_RTM_ADD, "10.0.0.0", 8, NULL, 1, 0, NULL) != 0)
		abort();
}

Test(death_route, stats_inside_walktree_fn, .init = lockless_setup,
    .signal = SIGABRT)
{
	death_expect("rt_table_stats on table");
	(void)rt_walktree(t, AF_INET, walk_stats, NULL);
}

Test(death_route, walktree_inside_walktree_fn, .init = lockless_setup,
    .signal = SIGABRT)
{
	death_expect("rt_walktree on table");
	(void)rt_walktree(t, AF_INET, walk_nested, NULL);
}

Test(death_route, stats_inside_read_section, .init = lockless_setup,
    .signal = SIGABRT)
{
	death_expect("rt_table_stats on table");
	struct rt_table_stats st;
	int s = rt_read_enter(t);

	rt_table_stats(t, &st);
	rt_read_exit(t, s);
}

static void *
change_slash8(void *arg)
{
	(void)arg;
	(void)route_req(t, MPSAFE_RTM_CHANGE, "10.0.0.0", 8, NULL, 7, 0, NULL);
	return NULL;
}

static int
walk_blocking_lookup(struct rt_entry *rt, void *arg)
{
	struct rt_entry *found;

	(void)rt;
	(void)arg;
	found = rtalloc1(t, &a.sa, 0);
	if (found != NULL)
		rt_unref(found);
	return 0;
}

/*
 * rt_walktree()'s fn does a lookup that may block and meets an entry
 * being changed: the change needs the lock the walk holds to end, so
 * the lookup would wait for ever (it used to).  The change waits for
 * our count, so it is still running when the walk starts.
 */
Test(death_route, blocking_lookup_inside_walktree_fn_meets_a_change,
    .init = setup, .signal = SIGABRT)
{
	death_expect("met an entry being changed inside the read side");
	struct rt_entry *held = rtalloc1(t, &a.sa, 0);
	pthread_t th;

	cr_assert_not_null(held);
	pthread_create(&th, NULL, change_slash8, NULL);
	while (!(rt_getflags(held) & MPSAFE_RTF_UPDATING))
		sched_yield();
	(void)rt_walktree(t, AF_INET, walk_blocking_lookup, NULL);
}

/*
 * The trie under the table trusts its callers (rt_check_info() refuses
 * bad prefixes first); diagnostic builds still check what it is given,
 * since a key with host bits or a length past the family would index
 * past a node's slots.
 */
static void *
lpm_test_alloc(size_t size, void *arg)
{
	(void)arg;
	return calloc(1, size);
}

static void
lpm_test_free(void *p, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	free(p);
}

static struct lpm lpm6;

static void
lpm6_setup(void)
{
	if (rt_lpm_init(
	        &lpm6, AF_INET6, lpm_test_alloc, lpm_test_free, NULL, 0) != 0)
		abort();
}

/* 2001:db8::1/16: bits set past the prefix. */
Test(death_route, lpm_insert_key_with_host_bits, .init = lpm6_setup,
    .signal = SIGABRT)
{
	death_expect("key has bits set past its prefix length");
	struct lpm_key k = {UINT64_C(0x20010db800000000), 1};
	static struct rt_entry fake; /* never read: the check comes first */

	(void)rt_lpm_insert(&lpm6, k, 16, (lpm_slot_t)&fake);
}

Test(death_route, lpm_insert_prefix_longer_than_the_family, .init = lpm6_setup,
    .signal = SIGABRT)
{
	death_expect("beyond the family's");
	struct lpm_key k = {UINT64_C(0x20010db800000000), 0};
	static struct rt_entry fake;

	(void)rt_lpm_insert(&lpm6, k, 129, (lpm_slot_t)&fake);
}
