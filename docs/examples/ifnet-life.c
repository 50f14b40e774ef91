/*
 * ifnet-life.c: the whole life of a network interface with mpsafe_net:
 * attach it and give it an address; receive a packet, which records the
 * interface by index; resolve the packet's interface on the fast path
 * (inside a read section) and on a path that blocks (with a psref); detach
 * the interface while a thread sleeps holding it (detach waits for it);
 * see the stale index resolve to nothing, then to the interface that
 * reuses the index.  Built and run by the example_ifnet test;
 * docs/net/ifnet.md shows excerpts.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/sockaddr.h>

static atomic_int held, detaching, failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "ifnet-life: %s:%d: %s\n", __FILE__, \
			    __LINE__, #cond);                                \
			atomic_fetch_add(&failures, 1);                      \
		}                                                            \
	} while (0)

/* The receive path: inside a read section, no blocking, no reference. */
static unsigned
input(struct mbuf *m)
{
	unsigned mtu = 0;
	int s;
	struct ifnet *ifp = m_get_rcvif(m, &s);

	if (ifp == NULL)
		return 0; /* the interface is gone: drop the packet */
	if_statinc(ifp, if_ipackets);
	mtu = ifp->if_mtu;
	m_put_rcvif(ifp, &s);
	return mtu;
}

/* An ioctl-like operation: holds the interface across a sleep. */
static void *
slow_ioctl(void *arg)
{
	struct mbuf *m = arg;
	struct psref psref;
	struct ifnet *ifp = m_get_rcvif_psref(m, &psref);

	CHECK(ifp != NULL);
	atomic_store(&held, 1);
	while (!atomic_load(&detaching)) /* until detach has begun */
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	nanosleep(&(struct timespec){0, 20000000}, NULL); /* blocks: fine */
	CHECK(strcmp(ifp->if_xname, "vnet0") == 0);       /* still valid */
	m_put_rcvif_psref(ifp, &psref); /* lets if_detach() finish */
	return NULL;
}

int
main(void)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp)), *ifp2;
	struct sockaddr_in sin;
	struct if_addr *ifa;
	struct mbuf *m;
	struct psref psref;
	pthread_t t;
	unsigned idx;

	/* Attach: the interface gets the lowest free index. */
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "vnet0");
	ifp->if_mtu = 1500;
	CHECK(if_attach(ifp) == 0);
	idx = ifp->if_index;
	sockaddr_in_init(&sin, &(struct in_addr){htonl(0xc0000201)}, 0);
	ifa = ifa_create((struct sockaddr *)&sin, NULL);
	CHECK(ifa != NULL && ifa_insert(ifp, ifa) == 0);

	/* A packet arrives: it records the interface's index. */
	m = m_gethdr(M_WAITOK);
	m_set_rcvif(m, ifp);
	CHECK(input(m) == 1500);
	CHECK(if_stat_get(ifp, if_ipackets) == 1);

	/* Who owns 192.0.2.1? */
	ifp2 = if_get_byaddr((struct sockaddr *)&sin, &psref);
	CHECK(ifp2 == ifp);
	if_put(ifp2, &psref);

	/* Detach while another thread sleeps holding the interface. */
	pthread_create(&t, NULL, slow_ioctl, m);
	while (!atomic_load(&held))
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	atomic_store(&detaching, 1);
	CHECK(if_detach(ifp) == 0); /* returns after the thread's put */
	pthread_join(t, NULL);
	free(ifp); /* nobody can reach it any more */

	/* The packet's index is stale: the interface is simply not found. */
	CHECK(input(m) == 0);

	/* A new interface may reuse the index; the packet then finds it. */
	ifp2 = calloc(1, sizeof(*ifp2));
	snprintf(ifp2->if_xname, sizeof(ifp2->if_xname), "vnet1");
	ifp2->if_mtu = 9000;
	CHECK(if_attach(ifp2) == 0 && ifp2->if_index == idx);
	CHECK(input(m) == 9000);
	CHECK(if_detach(ifp2) == 0);
	free(ifp2);
	m_freem(m);

	if (atomic_load(&failures) != 0)
		return 1;
	printf("ifnet-life: ok\n");
	return 0;
}
