/*
 * test_route_oracle.c: differential test of the routing table against a
 * brute-force longest-prefix oracle (a plain array scanned in full).
 * Random tables with nested prefixes (new prefixes often extend existing
 * ones), random lookups (half inside a prefix of the table, half
 * uniform), IPv4 and IPv6, in every design, after the adds and again
 * after random deletes and changes: zero mismatches, in prefix length
 * and in the entry's interface (which changes update).  The batched
 * lookup (rt_lookup_noref_bulk()) is checked there too, for every batch
 * size from 0 to RT_LOOKUP_BULK_MAX: each result equals the single
 * lookup's and the oracle's.  So are the next-hop lookups
 * (rt_lookup_nexthop() and its bulk form): the next hop's interface and
 * gateway are the oracle's (half the prefixes have a gateway, which
 * changes toggle), after the adds and after the deletes and changes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/route.h>

#include "route_helpers.h"

TestSuite(route_oracle, .timeout = 240);

struct pfx {
	uint8_t a[16];
	unsigned plen;
	unsigned ifindex;
	uint32_t gw; /* gateway: the address's low 32 bits; 0: none */
	int live;
};

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
mask(uint8_t *a, unsigned alen, unsigned plen)
{
	unsigned i;

	for (i = 0; i < alen; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		if (plen <= 8 * i)
			a[i] = 0;
		else
			a[i] &= (uint8_t)(0xff << (8 - (plen - 8 * i)));
	}
}

static int
covers(const struct pfx *p, const uint8_t *addr, unsigned alen)
{
	uint8_t m[16];

	memcpy(m, addr, alen);
	mask(m, alen, p->plen);
	return memcmp(m, p->a, alen) == 0;
}

static unsigned
rand_plen(int af)
{
	uint64_t r = rnd() % 100;

	if (af == AF_INET) /* mostly /16-/24, some short, some long */
		return r < 50   ? 24
		       : r < 80 ? 16 + (unsigned)(rnd() % 8)
		       : r < 90 ? (unsigned)(rnd() % 16)
		                : 25 + (unsigned)(rnd() % 8);
	return r < 40   ? 48
	       : r < 60 ? 32
	       : r < 80 ? 33 + (unsigned)(rnd() % 31)
	                : (unsigned)(rnd() % 129);
}

static int
req(struct rt_table *t, int cmd, int af, const struct pfx *p)
{
	union rt_sockaddr d, gu;
	struct rt_addrinfo info;

	sa_from_bytes(af, p->a, &d);
	memset(&info, 0, sizeof(info));
	info.rti_dst = &d.sa;
	info.rti_plen = (int)p->plen;
	info.rti_ifindex = p->ifindex;
	if (p->gw != 0) {
		uint8_t g[16] = {0x20, 0x01, 0x0d, 0xb8};
		unsigned alen = af == AF_INET ? 4 : 16;

		g[alen - 4] = (uint8_t)(p->gw >> 24);
		g[alen - 3] = (uint8_t)(p->gw >> 16);
		g[alen - 2] = (uint8_t)(p->gw >> 8);
		g[alen - 1] = (uint8_t)p->gw;
		sa_from_bytes(af, g, &gu);
		info.rti_gateway = &gu.sa;
		info.rti_flags = MPSAFE_RTF_GATEWAY;
	}
	return rtrequest(t, cmd, &info, NULL);
}

/* Does next hop nh carry the oracle's interface and gateway of p? */
static int
nh_ok(const struct rt_nexthop *nh, int af, const struct pfx *p)
{
	const uint8_t *g;
	unsigned alen = af == AF_INET ? 4 : 16;

	if ((nh == NULL) != (p == NULL))
		return 0;
	if (nh == NULL)
		return 1;
	if (nh->nh_ifindex != p->ifindex)
		return 0;
	if (p->gw == 0)
		return nh->nh_gateway.sa.sa_family == AF_UNSPEC &&
		       !(nh->nh_flags & MPSAFE_RTF_GATEWAY);
	if (nh->nh_gateway.sa.sa_family != af ||
	    !(nh->nh_flags & MPSAFE_RTF_GATEWAY))
		return 0;
	g = af == AF_INET ? (const uint8_t *)&nh->nh_gateway.sin.sin_addr
	                  : (const uint8_t *)&nh->nh_gateway.sin6.sin6_addr;
	return ((uint32_t)g[alen - 4] << 24 | (uint32_t)g[alen - 3] << 16 |
	           (uint32_t)g[alen - 2] << 8 | g[alen - 1]) == p->gw;
}

/* Compare nlook lookups with the oracle; returns mismatches. */
static int
check(struct rt_table *t, int af, struct pfx *ps, size_t n, size_t nlook)
{
	unsigned alen = af == AF_INET ? 4 : 16;
	int bad = 0;
	size_t i, j;

	for (i = 0; i < nlook; i++) {
		uint8_t addr[16];
		union rt_sockaddr u;
		const struct pfx *best = NULL;
		struct rt_entry *rt;
		struct rt_hold h;
		int s;

		for (j = 0; j < alen; j++)
			addr[j] = (uint8_t)rnd();
		if (i % 2 == 0) { /* inside a random prefix of the table */
			const struct pfx *p = &ps[rnd() % n];
			uint8_t m[16];
			memcpy(m, addr, alen);
			for (j = 0; j < alen; j++) {
				unsigned bit;
				for (bit = 0; bit < 8; bit++)
					if (8 * j + bit < p->plen) {
						uint8_t b =
						    (uint8_t)(0x80 >> bit);
						m[j] = (uint8_t)((m[j] & ~b) |
						                 (p->a[j] & b));
					}
			}
			memcpy(addr, m, alen);
		}
		for (j = 0; j < n; j++)
			if (ps[j].live && covers(&ps[j], addr, alen) &&
			    (best == NULL || ps[j].plen > best->plen))
				best = &ps[j];
		sa_from_bytes(af, addr, &u);
		rt = rt_lookup(t, &u.sa, 0, &h);
		if ((rt == NULL) != (best == NULL) ||
		    (rt != NULL && (rt_getplen(rt) != best->plen ||
		                       rt->rt_ifindex != best->ifindex)))
			bad++;
		if (rt != NULL)
			rt_release(rt, &h);
		/* The no-reference fast path agrees. */
		s = rt_read_enter(t);
		rt = rt_lookup_noref(t, af, addr);
		if ((rt == NULL) != (best == NULL) ||
		    (rt != NULL && rt_getplen(rt) != best->plen))
			bad++;
		/* So does the next-hop lookup, and it is the entry's. */
		{
			const struct rt_nexthop *nh =
			    rt_lookup_nexthop(t, af, addr);

			if (!nh_ok(nh, af, best) ||
			    (rt != NULL && nh != rt_getnexthop(rt)))
				bad++;
		}
		rt_read_exit(t, s);
	}
	return bad;
}

/* An address: half inside a random prefix of ps, half uniform. */
static void
rand_addr(int af, const struct pfx *ps, size_t n, uint8_t *addr)
{
	unsigned alen = af == AF_INET ? 4 : 16;
	const struct pfx *p = &ps[rnd() % n];

	for (unsigned j = 0; j < alen; j++)
		addr[j] = (uint8_t)rnd();
	if (rnd() % 2 == 0)
		return;
	for (unsigned j = 0; j < alen && 8 * j < p->plen; j++) {
		uint8_t m = p->plen >= 8 * (j + 1)
		                ? 0xff
		                : (uint8_t)(0xff << (8 - (p->plen - 8 * j)));

		addr[j] = (uint8_t)((addr[j] & ~m) | (p->a[j] & m));
	}
}

/*
 * Batches of every size 0..RT_LOOKUP_BULK_MAX (reps each): every result
 * of rt_lookup_noref_bulk() equals rt_lookup_noref()'s and the oracle's
 * (prefix length); slots past n are untouched.  Returns mismatches.
 */
static int
check_bulk(struct rt_table *t, int af, struct pfx *ps, size_t n, int reps)
{
	unsigned alen = af == AF_INET ? 4 : 16;
	struct rt_entry *const poison = (struct rt_entry *)(uintptr_t)0x5a5a;
	int bad = 0;

	for (int r = 0; r < reps; r++) {
		for (size_t k = 0; k <= RT_LOOKUP_BULK_MAX; k++) {
			uint8_t addrs[RT_LOOKUP_BULK_MAX * 16];
			struct rt_entry *rts[RT_LOOKUP_BULK_MAX + 1];
			const struct rt_nexthop *nhs[RT_LOOKUP_BULK_MAX + 1];
			int s;

			for (size_t i = 0; i < k; i++)
				rand_addr(af, ps, n, addrs + alen * i);
			for (size_t i = 0; i <= RT_LOOKUP_BULK_MAX; i++)
				rts[i] = poison;
			s = rt_read_enter(t);
			cr_assert_eq(
			    rt_lookup_noref_bulk(t, af, addrs, k, rts), 0);
			for (size_t i = 0; i < k; i++)
				if (rts[i] !=
				    rt_lookup_noref(t, af, addrs + alen * i))
					bad++;
			for (size_t i = 0; i <= RT_LOOKUP_BULK_MAX; i++)
				nhs[i] = (const struct rt_nexthop *)poison;
			cr_assert_eq(
			    rt_lookup_nexthop_bulk(t, af, addrs, k, nhs), 0);
			for (size_t i = 0; i < k; i++)
				if (nhs[i] !=
				    rt_lookup_nexthop(t, af, addrs + alen * i))
					bad++;
			for (size_t i = k; i <= RT_LOOKUP_BULK_MAX; i++)
				cr_assert_eq(nhs[i],
				    (const struct rt_nexthop *)poison,
				    "nexthop bulk of %zu wrote slot %zu", k, i);
			rt_read_exit(t, s);
			for (size_t i = k; i <= RT_LOOKUP_BULK_MAX; i++)
				cr_assert_eq(rts[i], poison,
				    "bulk of %zu wrote slot %zu", k, i);
			for (size_t i = 0; i < k; i++) {
				const struct pfx *best = NULL;

				for (size_t j = 0; j < n; j++)
					if (ps[j].live &&
					    covers(&ps[j], addrs + alen * i,
					        alen) &&
					    (best == NULL ||
					        ps[j].plen > best->plen))
						best = &ps[j];
				if ((rts[i] == NULL) != (best == NULL) ||
				    (rts[i] != NULL &&
				        rt_getplen(rts[i]) != best->plen))
					bad++;
				if (!nh_ok(nhs[i], af, best))
					bad++;
			}
		}
	}
	return bad;
}

static void
run(int af, size_t n, size_t nlook)
{
	unsigned alen = af == AF_INET ? 4 : 16;

	for (size_t d = 0; d < ROUTE_NDESIGNS; d++) {
		struct rt_table *t;
		struct pfx *ps = calloc(n, sizeof(*ps));
		size_t i, j, live = 0;
		int bad;

		cr_assert_not_null(ps);
		cr_assert_eq(rt_table_create(&t, &route_designs[d]), 0);
		for (i = 0; i < n; i++) {
			struct pfx *p = &ps[i];
			int error, dup = 0;

			if (i > 0 && rnd() % 3 == 0) { /* nest under one */
				const struct pfx *q = &ps[rnd() % i];
				memcpy(p->a, q->a, alen);
				for (j = 0; j < alen; j++)
					if (8 * (j + 1) > q->plen)
						p->a[j] =
						    (uint8_t)(p->a[j] ^ rnd());
				p->plen = q->plen + (unsigned)(rnd() % 9);
				if (p->plen > 8 * alen)
					p->plen = 8 * alen;
				/* keep q's bits */
				for (j = 0; j < alen; j++) {
					unsigned bit;
					for (bit = 0; bit < 8; bit++)
						if (8 * j + bit < q->plen) {
							uint8_t b =
							    (uint8_t)(0x80 >>
							              bit);
							p->a[j] =
							    (uint8_t)((p->a[j] &
							                  ~b) |
							              (q->a[j] &
							                  b));
						}
				}
			} else {
				for (j = 0; j < alen; j++)
					p->a[j] = (uint8_t)rnd();
				p->plen = rand_plen(af);
			}
			mask(p->a, alen, p->plen);
			p->ifindex = (unsigned)(i + 1);
			p->gw = i % 2 ? (uint32_t)(rnd() % 64 + 1) : 0;
			for (j = 0; j < i; j++)
				if (ps[j].live && ps[j].plen == p->plen &&
				    memcmp(ps[j].a, p->a, alen) == 0)
					dup = 1;
			error = req(t, MPSAFE_RTM_ADD, af, p);
			cr_assert_eq(
			    error, dup ? EEXIST : 0, "add %zu: %d", i, error);
			p->live = !dup;
			live += !dup;
		}
		bad = check(t, af, ps, n, nlook);
		cr_assert_eq(bad, 0, "%s: %d mismatches after adds",
		    route_designs[d].rtc_name, bad);
		bad = check_bulk(t, af, ps, n, 1);
		cr_assert_eq(bad, 0, "%s: %d bulk mismatches after adds",
		    route_designs[d].rtc_name, bad);
		/* Delete a third, change a third. */
		for (i = 0; i < n; i++) {
			struct pfx *p = &ps[i];
			uint64_t r = rnd() % 3;

			if (!p->live)
				continue;
			if (r == 0) {
				cr_assert_eq(
				    req(t, MPSAFE_RTM_DELETE, af, p), 0);
				p->live = 0;
				cr_assert_eq(
				    req(t, MPSAFE_RTM_DELETE, af, p), ESRCH);
			} else if (r == 1) {
				p->ifindex += 100000;
				p->gw = p->gw ? 0 : (uint32_t)(rnd() % 64 + 1);
				cr_assert_eq(
				    req(t, MPSAFE_RTM_CHANGE, af, p), 0);
			}
		}
		bad = check(t, af, ps, n, nlook);
		cr_assert_eq(bad, 0, "%s: %d mismatches after deletes/changes",
		    route_designs[d].rtc_name, bad);
		bad = check_bulk(t, af, ps, n, 1);
		cr_assert_eq(bad, 0,
		    "%s: %d bulk mismatches after deletes/changes",
		    route_designs[d].rtc_name, bad);
		/* Delete everything: the trie is back to its roots. */
		for (i = 0; i < n; i++)
			if (ps[i].live)
				cr_assert_eq(
				    req(t, MPSAFE_RTM_DELETE, af, &ps[i]), 0);
		{
			struct rt_table_stats st;
			rt_table_stats(t, &st);
			cr_assert_eq(st.rts_trie_nodes, 3u); /* the roots */
			cr_assert_eq(
			    st.rts_entries_inet + st.rts_entries_inet6, 0u);
		}
		rt_table_destroy(t);
		free(ps);
		(void)live;
	}
}

Test(route_oracle, inet)
{
	run(AF_INET, 2000, 5000);
}

Test(route_oracle, inet6)
{
	run(AF_INET6, 2000, 5000);
}

/* Few prefixes, many short and host ones: the expansion paths. */
Test(route_oracle, inet_dense)
{
	run(AF_INET, 200, 10000);
}
