/*
 * test_net_fault.c: fault injection in the reference stack (mpsafe_net),
 * through the allocation door of mpsafe/alloc.h (MPSAFE_FAULT_INJECTION).
 *
 * For route add and change (both table designs; the next hop and the id
 * directory's block of a first add, the new next hop of a change),
 * interface attach (also the one that rebuilds the name table and grows
 * the index table), address creation and insertion (also the insertions
 * that allocate and rebuild the address table), neighbour-table
 * update and sockaddr allocation: fail the
 * call's 1st, 2nd, 3rd ... allocation in turn until the call makes fewer
 * than N and succeeds.  Each failure must return ENOMEM (or the
 * documented NULL and errno), leave the structure as it was (the route
 * absent and the table's counts unchanged, the interface unattached and
 * its name free, the address list unchanged), and leak nothing: under
 * AddressSanitizer each test ends with LeakSanitizer's check.  A call
 * may also absorb a failed allocation that was only opportunistic (the
 * sockaddr pool's priming): then it must succeed completely.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/net/if.h>
#include <mpsafe/net/lltable.h>
#include <mpsafe/net/route.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/pserialize.h>

#include "if_impl.h"
#include "leak_check.h"
/* The table's private knob t_nh_idmax (next-hop ids). */
#include "route_impl.h"

TestSuite(net_fault, .timeout = 120);

/* Retired objects are freed by the reclaimer: let it finish first. */
static void
assert_no_net_leak(void)
{
	mpsafe_defer_barrier();
	assert_no_leak();
}

static struct sockaddr_in
sin_of(const char *text)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	cr_assert_eq(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return sin;
}

/* --- route add ------------------------------------------------------------ */

static void
route_add_loop(const struct rt_table_config *cfg)
{
	struct rt_table *t;
	struct rt_table_stats before, after;
	struct sockaddr_in dst = sin_of("10.1.0.0"), gw = sin_of("192.0.2.1");
	struct sockaddr_in probe = sin_of("10.1.0.7");
	struct rt_addrinfo info = {0};
	unsigned n, failures = 0;
	int error;

	cr_assert_eq(rt_table_create(&t, cfg), 0);
	/* A covering route, so that the add must split trie nodes. */
	info.rti_dst = (const struct sockaddr *)&dst;
	info.rti_plen = 8;
	dst = sin_of("10.0.0.0");
	info.rti_ifindex = 1;
	cr_assert_eq(rtrequest(t, MPSAFE_RTM_ADD, &info, NULL), 0);
	dst = sin_of("10.1.0.0");
	info.rti_plen = 24;
	info.rti_gateway = (const struct sockaddr *)&gw;
	info.rti_flags = MPSAFE_RTF_GATEWAY;
	info.rti_ifindex = 2;
	rt_table_stats(t, &before);
	for (n = 1;; n++) {
		struct rt_entry *rt;

		mpsafe_fault_alloc_fail_nth(n);
		error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		rt_table_stats(t, &after);
		cr_assert_eq(after.rts_entries_inet, before.rts_entries_inet);
		cr_assert_eq(after.rts_trie_nodes, before.rts_trie_nodes,
		    "allocation %u failed: trie nodes left behind", n);
		cr_assert_eq(after.rts_generation_inet,
		    before.rts_generation_inet,
		    "a failed add invalidated the route caches");
		/* The /8 still answers; the /24 is not there. */
		rt = rtalloc1(t, (const struct sockaddr *)&probe, 0);
		cr_assert_not_null(rt);
		cr_assert_eq(rt_getplen(rt), 8);
		rt_unref(rt);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert_gt(failures, 0, "the add allocated nothing");
	{
		struct rt_entry *rt =
		    rtalloc1(t, (const struct sockaddr *)&probe, 0);

		cr_assert_not_null(rt);
		cr_assert_eq(rt_getplen(rt), 24);
		rt_unref(rt);
	}
	rt_table_destroy(t);
	assert_no_net_leak();
}

Test(net_fault, route_add_netbsd_design)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_NETBSD;

	route_add_loop(&cfg);
}

Test(net_fault, route_add_lockless_design)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_LOCKLESS;

	route_add_loop(&cfg);
}

/*
 * On huge pages the entry and trie nodes come from the table's slab,
 * which fails them through mpsafe_alloc_point() (rt_slab.c).
 */
Test(net_fault, route_add_lockless_hugepages)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_LOCKLESS;

	cfg.rtc_hugepages = true;
	route_add_loop(&cfg);
}

/* --- next hops: first add (directory block), change (new next hop) ------- */

/* rt_lookup_nexthop() for text address a; its ifindex, 0: none. */
static unsigned
nexthop_ifindex(struct rt_table *t, const char *a)
{
	struct sockaddr_in sin = sin_of(a);
	const struct rt_nexthop *nh;
	unsigned ifindex;
	int s;

	s = rt_read_enter(t);
	nh = rt_lookup_nexthop(t, AF_INET, &sin.sin_addr);
	ifindex = nh != NULL ? nh->nh_ifindex : 0;
	rt_read_exit(t, s);
	return ifindex;
}

static void
route_nexthop_loop(const struct rt_table_config *cfg)
{
	struct rt_table *t;
	struct rt_table_stats before, after;
	struct sockaddr_in dst = sin_of("10.0.0.0"), gw = sin_of("192.0.2.1");
	struct rt_addrinfo info = {0};
	unsigned n, failures = 0;
	int error;

	cr_assert_eq(rt_table_create(&t, cfg), 0);
	/*
	 * A next hop with an id takes its id's element of the table's
	 * array, with no allocation; with ids run out it is allocated
	 * alone, and that allocation's failure is what this checks.
	 */
	t->t_nh_idmax = 0;
	info.rti_dst = (const struct sockaddr *)&dst;
	info.rti_plen = 8;
	info.rti_gateway = (const struct sockaddr *)&gw;
	info.rti_flags = MPSAFE_RTF_GATEWAY;
	info.rti_ifindex = 1;
	/* The first add: entry and next hop. */
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		rt_table_stats(t, &after);
		cr_assert_eq(after.rts_entries_inet, 0);
		cr_assert_eq(nexthop_ifindex(t, "10.1.2.3"), 0);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert_geq(failures, 2, "entry and next hop: %u", failures);
	cr_assert_eq(nexthop_ifindex(t, "10.1.2.3"), 1);
	/* A change to a next hop that does not exist yet. */
	gw = sin_of("192.0.2.2");
	info.rti_ifindex = 2;
	rt_table_stats(t, &before);
	failures = 0;
	for (n = 1;; n++) {
		struct rt_entry *rt;
		struct sockaddr_in probe = sin_of("10.1.2.3");

		mpsafe_fault_alloc_fail_nth(n);
		error = rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		rt_table_stats(t, &after);
		cr_assert_eq(after.rts_generation_inet,
		    before.rts_generation_inet,
		    "a failed change invalidated the route caches");
		cr_assert_eq(nexthop_ifindex(t, "10.1.2.3"), 1);
		rt = rtalloc1(
		    t, (const struct sockaddr *)&probe, MPSAFE_RT_NOWAIT);
		cr_assert_not_null(rt, "a failed change left RTF_UPDATING");
		cr_assert_eq(rt->rt_ifindex, 1);
		cr_assert_eq(rt_getnexthop(rt)->nh_ifindex, 1);
		rt_unref(rt);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert_gt(failures, 0, "the change allocated nothing");
	cr_assert_eq(nexthop_ifindex(t, "10.1.2.3"), 2);
	rt_table_destroy(t);
	assert_no_net_leak();
}

Test(net_fault, route_nexthop_netbsd_design)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_NETBSD;

	route_nexthop_loop(&cfg);
}

Test(net_fault, route_nexthop_lockless_design)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_LOCKLESS;

	route_nexthop_loop(&cfg);
}

Test(net_fault, route_nexthop_lockless_hugepages)
{
	struct rt_table_config cfg = RT_TABLE_CONFIG_LOCKLESS;

	cfg.rtc_hugepages = true;
	route_nexthop_loop(&cfg);
}

/* --- interface attach ------------------------------------------------------
 */

Test(net_fault, interface_attach)
{
	struct ifnet *ifp = mpsafe_calloc(1, sizeof(*ifp));
	struct psref psref;
	unsigned n, failures = 0;
	int error;

	cr_assert_not_null(ifp);
	for (n = 1;; n++) {
		memset(ifp, 0, sizeof(*ifp));
		strcpy(ifp->if_xname, "fault0");
		ifp->if_mtu = 1500;
		mpsafe_fault_alloc_fail_nth(n);
		error = if_attach(ifp);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		/* Not attached: the name is free, no index answers. */
		cr_assert_null(if_get("fault0", &psref));
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert_gt(failures, 0, "attach allocated nothing");
	cr_assert_eq(if_get("fault0", &psref), ifp);
	if_put(ifp, &psref);
	cr_assert_eq(if_detach(ifp), 0);
	mpsafe_free(ifp);
	assert_no_net_leak();
}

/*
 * Attach after attach, so that some of them rebuild the name table or
 * grow the index table: each failed allocation leaves every earlier
 * interface found by name and by index, and the new one found by neither.
 */
Test(net_fault, interface_attach_grows_tables)
{
	enum { N = 40 }; /* the index table grows at 8, 16, 32 */
	struct ifnet *ifs[N];
	unsigned failures = 0;

	for (int k = 0; k < N; k++) {
		unsigned n;
		int error;

		ifs[k] = mpsafe_calloc(1, sizeof(*ifs[k]));
		cr_assert_not_null(ifs[k]);
		for (n = 1;; n++) {
			memset(ifs[k], 0, sizeof(*ifs[k]));
			snprintf(ifs[k]->if_xname, sizeof(ifs[k]->if_xname),
			    "grow%d", k);
			mpsafe_fault_alloc_fail_nth(n);
			error = if_attach(ifs[k]);
			if (mpsafe_fault_alloc_count() < n)
				break;
			failures++;
			cr_assert_eq(error, ENOMEM,
			    "attach %d, allocation %u: %d", k, n, error);
			int s = pserialize_read_enter();

			cr_assert_null(ifunit(ifs[k]->if_xname));
			cr_assert_null(if_byindex((unsigned)k + 1));
			for (int i = 0; i < k; i++) {
				cr_assert_eq(ifunit(ifs[i]->if_xname), ifs[i],
				    "attach %d, allocation %u: %s lost", k, n,
				    ifs[i]->if_xname);
				cr_assert_eq(
				    if_byindex(ifs[i]->if_index), ifs[i]);
			}
			pserialize_read_exit(s);
			const char *why = if_name_table_check();

			cr_assert_null(
			    why, "attach %d, allocation %u: %s", k, n, why);
		}
		mpsafe_fault_alloc_fail_nth(0);
		cr_assert_eq(error, 0);
		cr_assert_eq(ifs[k]->if_index, (unsigned)k + 1);
	}
	/*
	 * One statistics block per attach, and the tables' allocations:
	 * both first tables, three index-table growths, two name-table
	 * rebuilds.
	 */
	cr_assert_eq(failures, N + 7, "%u allocations failed", failures);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(if_detach(ifs[i]), 0);
		mpsafe_free(ifs[i]);
	}
	assert_no_net_leak();
}

/* --- address creation and insertion ----------------------------------------
 */

static unsigned
address_count(struct ifnet *ifp)
{
	struct if_addr *ifa;
	unsigned count = 0;
	int s = pserialize_read_enter();

	IFADDR_READER_FOREACH (ifa, ifp) {
		count++;
	}
	pserialize_read_exit(s);
	return count;
}

Test(net_fault, address_add)
{
	struct ifnet *ifp = mpsafe_calloc(1, sizeof(*ifp));
	struct sockaddr_in addr = sin_of("198.51.100.1");
	struct sockaddr_in mask = sin_of("255.255.255.0");
	struct if_addr *ifa;
	unsigned n, failures = 0;

	cr_assert_not_null(ifp);
	strcpy(ifp->if_xname, "fault1");
	cr_assert_eq(if_attach(ifp), 0);
	for (n = 1;; n++) {
		int error;

		mpsafe_fault_alloc_fail_nth(n);
		errno = 0;
		ifa = ifa_create((const struct sockaddr *)&addr,
		    (const struct sockaddr *)&mask);
		error = ifa == NULL ? errno : ifa_insert(ifp, ifa);
		if (mpsafe_fault_alloc_count() < n)
			break;
		if (error == 0) {
			/* An absorbed failure: complete, so undo it. */
			cr_assert_eq(address_count(ifp), 1);
			cr_assert_eq(ifa_remove(ifp, ifa), 0);
			continue;
		}
		failures++;
		cr_assert_eq(
		    error, ENOMEM, "allocation %u: error %d", n, error);
		cr_assert_eq(address_count(ifp), 0);
		if (ifa != NULL)
			ifafree(ifa); /* insert failed: the reference is ours */
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_not_null(ifa);
	cr_assert_gt(failures, 0, "creating an address allocated nothing");
	cr_assert_eq(address_count(ifp), 1);
	cr_assert_eq(if_detach(ifp), 0);
	mpsafe_free(ifp);
	assert_no_net_leak();
}

/*
 * Insert after insert, so that some of them allocate or rebuild the
 * address table: each failed allocation leaves every earlier address
 * found by its address and on the list, and the new one on neither.
 */
Test(net_fault, address_insert_grows_table)
{
	enum { N = 40 };
	struct ifnet *ifp = mpsafe_calloc(1, sizeof(*ifp));
	struct if_addr *ifas[N];
	struct sockaddr_in sins[N];
	unsigned failures = 0;

	cr_assert_not_null(ifp);
	strcpy(ifp->if_xname, "fault2");
	cr_assert_eq(if_attach(ifp), 0);
	for (int k = 0; k < N; k++) {
		char buf[32];
		unsigned n;
		int error;

		snprintf(buf, sizeof(buf), "198.51.100.%d", k + 1);
		sins[k] = sin_of(buf);
		ifas[k] = ifa_create((const struct sockaddr *)&sins[k], NULL);
		cr_assert_not_null(ifas[k]);
		for (n = 1;; n++) {
			mpsafe_fault_alloc_fail_nth(n);
			error = ifa_insert(ifp, ifas[k]);
			if (mpsafe_fault_alloc_count() < n)
				break;
			failures++;
			cr_assert_eq(error, ENOMEM,
			    "insert %d, allocation %u: %d", k, n, error);
			cr_assert_eq(address_count(ifp), (unsigned)k);
			int s = pserialize_read_enter();

			cr_assert_null(ifa_ifwithaddr((void *)&sins[k]));
			for (int i = 0; i < k; i++)
				cr_assert_eq(ifa_ifwithaddr((void *)&sins[i]),
				    ifas[i],
				    "insert %d, allocation %u: %d lost", k, n,
				    i);
			pserialize_read_exit(s);
			const char *why = if_addr_table_check();

			cr_assert_null(
			    why, "insert %d, allocation %u: %s", k, n, why);
		}
		mpsafe_fault_alloc_fail_nth(0);
		cr_assert_eq(error, 0);
	}
	/* The first table, and its rebuilds at the 9th and 33rd inserts. */
	cr_assert_eq(failures, 3, "%u allocations failed", failures);
	cr_assert_eq(address_count(ifp), N);
	cr_assert_eq(if_detach(ifp), 0);
	mpsafe_free(ifp);
	assert_no_net_leak();
}

/* --- neighbour table ---------------------------------------------------------
 */

static void
lltable_loop(enum lltable_sync sync)
{
	struct lltable *llt = NULL;
	struct sockaddr_in a = sin_of("192.0.2.7");
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 7};
	struct lla_info info;
	unsigned n, failures = 0;
	int error;

	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		error = lltable_create(&llt, AF_INET, 1, sync, 0);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(error, ENOMEM);
	}
	cr_assert_eq(error, 0);
	cr_assert_gt(failures, 0);
	failures = 0;
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		error = lla_update(llt, (const struct sockaddr *)&a, mac, 6, 0);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_eq(error, ENOMEM);
		cr_assert_eq(lltable_count(llt), 0);
		cr_assert_eq(
		    lla_lookup(llt, (const struct sockaddr *)&a, &info),
		    ENOENT);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_eq(error, 0);
	cr_assert_gt(failures, 0);
	cr_assert_eq(lla_lookup(llt, (const struct sockaddr *)&a, &info), 0);
	lltable_destroy(llt);
	assert_no_net_leak();
}

Test(net_fault, lltable_lockless)
{
	lltable_loop(LLT_SYNC_PSERIALIZE);
}

Test(net_fault, lltable_rwlock)
{
	lltable_loop(LLT_SYNC_RWLOCK);
}

/* --- sockaddrs
 * ---------------------------------------------------------------- */

Test(net_fault, sockaddr_alloc_waitok)
{
	struct sockaddr *sa;
	unsigned n, failures = 0;

	/* Empty the pool first, so that the allocation must grow it. */
	struct sockaddr *held[4096];
	unsigned nheld = 0;

	while (nheld < 4096 &&
	       (held[nheld] = sockaddr_alloc(AF_INET6, M_NOWAIT)) != NULL)
		nheld++;
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		errno = 0;
		sa = sockaddr_alloc(AF_INET6, M_WAITOK);
		if (mpsafe_fault_alloc_count() < n)
			break;
		failures++;
		cr_assert_null(sa);
		cr_assert_eq(errno, ENOMEM);
	}
	mpsafe_fault_alloc_fail_nth(0);
	cr_assert_not_null(sa);
	cr_assert_gt(failures, 0, "an empty pool grew without allocating");
	sockaddr_free(sa);
	while (nheld > 0)
		sockaddr_free(held[--nheld]);
}
