/*
 * pattern-index.c: store an index, not a pointer (docs/patterns/
 * 04-index-not-pointer.md).  A packet received on vnet0 records its
 * receive interface by index (m_set_rcvif()) and waits in a queue.  The
 * interface is detached and freed; the packet's index then resolves to
 * nothing.  A new interface, vnet1, is attached and reuses the index; the
 * packet then resolves to vnet1: a wrong but live interface, never freed
 * memory (the protocol checks what it finds, as for any packet).  With
 * PATTERN_UNSAFE the queue keeps the interface pointer instead: the
 * packet leads to vnet0's poisoned, "freed" memory.
 * Built and run by the example_pattern_index tests.
 */
#include <stdio.h>
#include <string.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>

#include "pattern.h"

/* A one-slot input queue, as between a driver and a protocol thread. */
struct inq {
	struct mbuf *q_m;
#ifdef PATTERN_UNSAFE
	struct ifnet *q_rcvif; /* the safety removed: a pointer */
#endif
};

/* The driver: the packet names its interface by index. */
static void
ether_input(struct inq *q, struct ifnet *ifp, struct mbuf *m)
{
	m_set_rcvif(m, ifp); /* m->m_pkthdr.rcvif_index = ifp->if_index */
#ifdef PATTERN_UNSAFE
	q->q_rcvif = ifp;
#endif
	q->q_m = m;
}

/* The protocol, later: look the index up; NULL means "gone, drop it". */
static unsigned
ip_input(struct inq *q)
{
	struct ifnet *ifp;
	unsigned mtu;
#ifndef PATTERN_UNSAFE
	int s;

	ifp = m_get_rcvif(q->q_m, &s); /* enters a read section if found */
#else
	ifp = q->q_rcvif; /* whatever that memory holds now */
#endif
	if (ifp == NULL)
		return 0; /* the interface was detached: drop the packet */
	mtu = mpsafe_load_relaxed(&ifp->if_mtu);
#ifndef PATTERN_UNSAFE
	m_put_rcvif(ifp, &s); /* ends the read section */
#endif
	return mtu;
}

static struct ifnet *
vif_create(const char *name, unsigned mtu)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	if (ifp == NULL)
		abort();
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "%s", name);
	ifp->if_mtu = mtu;
	if (if_attach(ifp) != 0)
		abort();
	return ifp;
}

static void
vif_destroy(struct ifnet *ifp)
{
	if (if_detach(ifp) != 0)
		abort();
	mpsafe_store_relaxed(&ifp->if_mtu, PATTERN_POISON);
	pattern_free(ifp);
}

int
main(void)
{
	struct inq q = {0};
	struct ifnet *vnet0 = vif_create("vnet0", 1500), *vnet1;
	struct mbuf *m = m_gethdr(M_WAITOK);
	unsigned idx = vnet0->if_index, mtu_before, mtu_gone, mtu_after;

	if (m == NULL)
		return 1;
	ether_input(&q, vnet0, m); /* queued, naming vnet0 */
	mtu_before = ip_input(&q);

	vif_destroy(vnet0); /* while the packet waits */
	mtu_gone = ip_input(&q);

	vnet1 = vif_create("vnet1", 9000); /* the lowest free index: idx */
	if (vnet1->if_index != idx)
		return 1;
	mtu_after = ip_input(&q);

	m_freem(m);
	vif_destroy(vnet1);
	printf("packet's interface: %u, then %u, then %u\n", mtu_before,
	    mtu_gone, mtu_after);
	if (mtu_before != 1500)
		return 1;
#ifndef PATTERN_UNSAFE
	if (mtu_gone != 0 || mtu_after != 9000)
		return 1;
#endif
	return pattern_result("pattern-index",
	    mtu_gone == PATTERN_POISON || mtu_after == PATTERN_POISON,
	    "the packet led to a freed interface");
}
