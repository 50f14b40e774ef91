/*
 * in6_zone.h: IPv6 zones (RFC 4007), as every table of the stack reads
 * them: which addresses have one, and the zone an address names.
 *
 * A zone is an interface index, at most 0xffff.  Only link-local unicast
 * (fe80::/10) and interface-local or link-local multicast without the P
 * flag (ff01::, ff02::, ff11::, ff12::) have one; multicast with the P
 * flag (RFC 3306, 4489) keeps a prefix length in bits 16..31.  A zoned
 * address names its zone in sin6_scope_id, or in its bits 16..31 (KAME's
 * embedded form, NetBSD's kernel form), or both when they agree; 0 in
 * both names none.  The routing table keeps the zone in a key's bits
 * 16..31 (route.c, "Keys"); an interface's addresses and neighbour table
 * are already of one zone, their interface's, and compare zoned
 * addresses without those bits (if.c, lltable.c).
 *
 * Library-private: included by src/net only.
 */
#ifndef MPSAFE_NET_IN6_ZONE_H
#define MPSAFE_NET_IN6_ZONE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Does the IPv6 address a (network order; its first two bytes suffice)
 * have a zone?
 */
static inline bool
in6_zoned(const uint8_t *a)
{
	if (a[0] == 0xfe)
		return (a[1] & 0xc0) == 0x80;
	return a[0] == 0xff && (a[1] & 0x20) == 0 &&
	       ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2);
}

/* The zone in a zoned address's bits 16..31 (0: none). */
static inline uint32_t
in6_zone_embedded(const uint8_t *a)
{
	return (uint32_t)a[2] << 8 | a[3];
}

/*
 * in6_zone_of(sin6, zonep)
 *
 *	For a zoned address: store the zone sin6 names in *zonep (0: none)
 *	and return true; false when it names one over 0xffff, or two that
 *	differ (sin6_scope_id and the embedded bits).  For any other
 *	address: *zonep = 0 (its scope id is no zone) and true.
 */
static inline bool
in6_zone_of(const struct sockaddr_in6 *sin6, uint32_t *zonep)
{
	const uint8_t *a = sin6->sin6_addr.s6_addr;
	uint32_t field, scope = sin6->sin6_scope_id;

	*zonep = 0;
	if (!in6_zoned(a))
		return true;
	field = in6_zone_embedded(a);
	if (scope > 0xffff || (field != 0 && scope != 0 && field != scope))
		return false;
	*zonep = scope != 0 ? scope : field;
	return true;
}

#endif /* MPSAFE_NET_IN6_ZONE_H */
