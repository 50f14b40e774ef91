/*
 * death_ifnet.c: the rules of the interface collection, packets and
 * sockaddrs whose breach aborts (SIGABRT) with a message rather than
 * corrupting memory.  Built with MPSAFE_DIAGNOSTIC.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/pserialize.h>

#include "death_expect.h"

TestSuite(death_ifnet, .timeout = 30);

static struct ifnet *
attach(const char *name)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	cr_assert_not_null(ifp);
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "%s", name);
	cr_assert_eq(if_attach(ifp), 0);
	return ifp;
}

Test(death_ifnet, detach_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("if_detach inside a read section");
	struct ifnet *ifp = attach("d0");

	(void)pserialize_read_enter();
	if_detach(ifp);
}

Test(death_ifnet, attach_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("if_attach inside a read section");
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	cr_assert_not_null(ifp);
	strcpy(ifp->if_xname, "d9");
	(void)pserialize_read_enter();
	if_attach(ifp);
}

Test(death_ifnet, ifa_insert_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("ifa_insert inside a read section");
	struct ifnet *ifp = attach("d8");
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct if_addr *ifa = ifa_create((struct sockaddr *)&sin, NULL);

	cr_assert_not_null(ifa);
	(void)pserialize_read_enter();
	ifa_insert(ifp, ifa);
}

/*
 * The locks writers hold while a table's deferred free may wait for a
 * grace period: taking one inside a read section would wait for ever.
 */
Test(death_ifnet, set_mtu_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("if_set_mtu inside a read section");
	struct ifnet *ifp = attach("d7");

	(void)pserialize_read_enter();
	if_set_mtu(ifp, 1400);
}

Test(death_ifnet, set_flags_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("if_set_flags inside a read section");
	struct ifnet *ifp = attach("d6");

	(void)pserialize_read_enter();
	if_set_flags(ifp, 1);
}

Test(death_ifnet, global_lock_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("if_global_lock inside a read section");
	(void)pserialize_read_enter();
	IFNET_GLOBAL_LOCK();
}

Test(death_ifnet, ifnet_lock_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("IFNET_LOCK inside a read section");
	struct ifnet *ifp = attach("d5");

	(void)pserialize_read_enter();
	IFNET_LOCK(ifp);
}

Test(death_ifnet, detach_while_holding_a_reference, .signal = SIGABRT)
{
	death_expect("(class ifnet) by a thread that holds a reference to it");
	struct ifnet *ifp = attach("d1");
	struct psref ref;

	cr_assert_eq(if_get_byindex(ifp->if_index, &ref), ifp);
	if_detach(ifp); /* would wait for ever for itself */
}

Test(death_ifnet, ifa_remove_holding_a_reference, .signal = SIGABRT)
{
	death_expect("(class ifa) by a thread that holds a reference to it");
	struct ifnet *ifp = attach("d2");
	struct sockaddr_in sin;
	struct if_addr *ifa;
	struct psref ref;

	sockaddr_in_init(&sin, &(struct in_addr){htonl(0x0a000001)}, 0);
	ifa = ifa_create((struct sockaddr *)&sin, NULL);
	cr_assert_eq(ifa_insert(ifp, ifa), 0);
	cr_assert_eq(ifa_ifwithaddr_psref((struct sockaddr *)&sin, &ref), ifa);
	ifa_remove(ifp, ifa);
}

Test(death_ifnet, if_put_twice, .signal = SIGABRT)
{
	death_expect("(class ifnet): released twice");
	struct ifnet *ifp = attach("d3");
	struct psref ref;

	cr_assert_eq(if_get_byindex(ifp->if_index, &ref), ifp);
	if_put(ifp, &ref);
	if_put(ifp, &ref);
}

Test(death_ifnet, rcvif_of_a_packet_without_header, .signal = SIGABRT)
{
	death_expect("is not a packet with a header (M_PKTHDR)");
	struct mbuf *m = m_gethdr(M_WAITOK);
	int s;

	m->m_flags &= ~M_PKTHDR;
	(void)m_get_rcvif(m, &s);
}

Test(death_ifnet, m_freem_twice, .signal = SIGABRT)
{
	death_expect("did not come from m_gethdr, or is freed twice");
	struct mbuf *m = m_gethdr(M_WAITOK);

	m_freem(m);
	m_freem(m);
}

/* m_freem() of a packet that did not come from m_gethdr() (mbuf(3)). */
Test(death_ifnet, m_freem_of_a_foreign_packet, .signal = SIGABRT)
{
	death_expect("did not come from m_gethdr, or is freed twice");
	static struct mbuf fake;

	fake.m_flags = M_PKTHDR;
	m_freem(&fake);
}

Test(death_ifnet, sockaddr_free_twice, .signal = SIGABRT)
{
	death_expect("did not come from sockaddr_alloc, or is freed twice");
	struct sockaddr *sa = sockaddr_alloc(AF_INET, M_WAITOK);

	sockaddr_free(sa);
	sockaddr_free(sa);
}

Test(death_ifnet, sockaddr_free_of_a_foreign_sockaddr, .signal = SIGABRT)
{
	death_expect("did not come from sockaddr_alloc");
	/* Room before the sockaddr, so that the check reads our memory. */
	struct {
		char pad[64];
		struct sockaddr_in6 sin6;
	} *p = calloc(1, sizeof(*p));

	sockaddr_free((struct sockaddr *)&p->sin6);
}

Test(death_ifnet, statadd_out_of_range, .signal = SIGABRT)
{
	death_expect("out of range");
	struct ifnet *ifp = attach("d4");

	if_statadd(ifp, IF_NSTATS, 1);
}

/*
 * The global lock is not recursive; if_attach() and if_detach() take it.
 * Without the check these hang until the timeout instead of aborting.
 */
Test(death_ifnet, attach_holding_the_global_lock, .signal = SIGABRT)
{
	death_expect("if_attach: the calling thread already holds the global "
	             "ifnet lock");
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "g0");
	IFNET_GLOBAL_LOCK();
	if_attach(ifp);
}

Test(death_ifnet, detach_holding_the_global_lock, .signal = SIGABRT)
{
	death_expect("if_detach: the calling thread already holds the global "
	             "ifnet lock");
	struct ifnet *ifp = attach("g1");

	IFNET_GLOBAL_LOCK();
	if_detach(ifp);
}

Test(death_ifnet, global_lock_twice, .signal = SIGABRT)
{
	death_expect("if_global_lock: the calling thread already holds the "
	             "global ifnet lock");
	IFNET_GLOBAL_LOCK();
	IFNET_GLOBAL_LOCK();
}

Test(death_ifnet, global_unlock_without_holding, .signal = SIGABRT)
{
	death_expect("does not hold the global ifnet lock");
	IFNET_GLOBAL_UNLOCK();
}
