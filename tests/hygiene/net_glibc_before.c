/*
 * net_glibc_before.c: a program includes mpsafe_net's networking headers first,
 * then glibc's, and uses names from both (glibc's struct ifaddr,
 * struct ifreq, IFF_UP, if_nametoindex; our struct if_addr, struct ifnet,
 * if_get_byindex).  Compiled into hygiene_header_check_c: the check is
 * the build.  net_glibc_after.c includes them the other way round.
 */
#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/sockaddr.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <net/route.h>

int hygiene_net_glibc_before(void);

int
hygiene_net_glibc_before(void)
{
	struct ifaddr glibc_ifa;     /* glibc's (__USE_MISC) */
	struct ifreq ifr;            /* glibc's */
	struct rtentry rt;           /* glibc's <net/route.h> */
	struct if_addr *ours = NULL; /* ours: NetBSD's struct ifaddr */
	struct ifnet ifp;
	struct psref psref;
	unsigned (*glibc_fn)(const char *) = if_nametoindex;
	struct ifnet *(*our_fn)(unsigned, struct psref *) = if_get_byindex;

	(void)glibc_fn;
	(void)our_fn;
	(void)glibc_ifa;
	(void)ifr;
	(void)rt;
	(void)ours;
	(void)ifp;
	(void)psref;
	return IFF_UP + (IFNET_NAMESIZE == IFNAMSIZ);
}
