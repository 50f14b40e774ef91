/*
 * net_glibc_uses.h: the body shared by net_glibc_after.c and
 * net_glibc_before.c, which include glibc's networking headers and
 * mpsafe_net's in the two orders and then this file.  It defines
 * NET_GLIBC_FN(void), using names from both: glibc's struct ifaddr,
 * struct ifreq, struct rtentry, IFF_UP, if_nametoindex; our struct
 * if_addr, struct ifnet, if_get_byindex.  The check is the build.
 */
int NET_GLIBC_FN(void);

int
NET_GLIBC_FN(void)
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
