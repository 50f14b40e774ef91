/*
 * route_glibc.c: mpsafe/net/route.h and glibc's <net/route.h> in one
 * program, ours first (the header check compiles the other order).  glibc
 * defines struct rtentry and RTF_* with Linux values; ours uses struct
 * rt_entry and MPSAFE_RTF_* with NetBSD's.  PLAIN test: exit status.
 */
#include <mpsafe/net/route.h>

#include <net/route.h>
#include <stdio.h>

int
main(void)
{
	struct rtentry linux_rt;      /* glibc's ioctl structure */
	struct rt_entry *ours = NULL; /* ours */
	int bad = 0;

	(void)linux_rt;
	(void)ours;
	/* Same names in NetBSD and Linux, different values: both usable. */
	if (RTF_REJECT == MPSAFE_RTF_REJECT) {
		fprintf(
		    stderr, "RTF_REJECT: Linux and NetBSD values coincide?\n");
		bad = 1;
	}
	if (RTF_UP != MPSAFE_RTF_UP || RTF_GATEWAY != MPSAFE_RTF_GATEWAY ||
	    RTF_HOST != MPSAFE_RTF_HOST) {
		fprintf(stderr, "the low flags should agree\n");
		bad = 1;
	}
	if (MPSAFE_RTF_REJECT != 0x8 || MPSAFE_RTF_BLACKHOLE != 0x1000 ||
	    MPSAFE_RTF_UPDATING != 0x100000) {
		fprintf(stderr, "NetBSD values changed\n");
		bad = 1;
	}
	return bad;
}
