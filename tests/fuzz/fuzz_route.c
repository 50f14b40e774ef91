/*
 * fuzz_route.c: libFuzzer harness of the routing table and route caches
 * (mpsafe/net/route.h) against a brute-force model.
 *
 * The input is a program: its first byte picks the table's design
 * (NetBSD's locked one or the lockless one), then each op takes 8 bytes:
 *   [0] op (add, delete, change, get, rtalloc1, cache lookup, flush)
 *   [1] bit 0: family (IPv6 if set); bits 1-2: both set: keep host bits
 *       (rare); bits 3-4: address space; bits 5-7: scope id choice
 *   [2] prefix length (mod 33 or 129)
 *   [3..6] address bits, spread over a small space so prefixes nest
 *   [7] interface index (bits 0-1), gateway (bit 7: fe80::1..4 or
 *       192.0.0.1..4); for cache lookups bit 6: rtcache_lookup_noref()
 *       instead of rtcache_lookup()
 *
 * Address spaces ([1] bits 3-4):
 *   0  10.x (IPv4) or 2001:db8:: (IPv6), [3..6] the varied bytes as
 *      a[1..3] or a[4..7]; scope id 0 (the inputs of before zones).
 *   1  link-local unicast, IPv6 whatever bit 0 says: a[1] by [6] bits
 *      0-2, fe80 (4 of 8), fe81, febf (in fe80::/10, zoned), fec0, fe7f
 *      (not zoned); the zone field (bits 16..31) from [3] bits 0-2, one
 *      of 0, 0, 0, 1, 1, 2, 3, 0xffff; [4] is a[7] (in the /64), [5] is
 *      a[15].
 *   2  multicast ff<flags><scope>::, same layout; a[1] by [6] bits 0-3:
 *      ff02, ff02, ff01, ff12, ff11, ff42, ff82, ffd1 (zoned), ff32,
 *      ff72, ff21, fff2 (P flag), ff05, ff0e, ff03, ff00 (not zoned).
 *   3  2001:db8:: as in space 0 but with a scope id (not part of the
 *      key: the same routes as space 0).
 * Scope id ([1] bits 5-7; spaces 1-3, else 0), with f the zone field:
 *   0, 1, 2, 0xffff, 0x10000, f (equal), f + 1 (1 if f is 0xffff: not
 *   equal), 0x10000 | f (too wide though its low half equals f).
 *
 * The model (route.c "Keys", docs/net/route.md "IPv6 zones") computes
 * each request's key itself.  Zoned IPv6 addresses: fe80::/10, and
 * multicast of scope 1 or 2 without the P flag.  For those and a
 * non-zero scope id, the scope id must be <= 0xffff and bits 16..31 0
 * or equal to it, else the zone is bad (EINVAL for rtrequest(), a miss
 * for lookups, EINVAL for rtcache_setdst()); the key is the address with
 * the scope id in bits 16..31.  Scope 0 and other addresses: the key is
 * the address.  The key must have no bits past the prefix (so a zone on
 * a prefix of /16 or shorter is EINVAL), and a zoned prefix of /17 to
 * /31 is refused too (EINVAL): a zoned prefix covers every zone or one.
 *
 * The model is an array of the routes (keys) the table should hold.
 * Every answer of the table is compared with the model: errno values of
 * rtrequest(), and for lookups the longest matching prefix found by
 * scanning the model (rtalloc1(), rt_lookup_noref() and
 * rt_lookup_nexthop() of the key's bytes, the embedded form, and of the
 * address's raw bytes; rtcache_lookup() and rtcache_lookup_noref()).
 * Entries must show rt_dst in the socket API's form: for a zoned key the
 * zone in sin6_scope_id and bits 16..31 zero; otherwise the address with
 * scope id 0.  Any difference aborts (a finding).  The tables live
 * across inputs (creating one starts a thread); each input ends by
 * deleting what it added, so every input starts from an empty table.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/defer.h>
#include <mpsafe/net/route.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODEL_MAX 64
#define OP_BYTES 8

enum {
	OP_ADD,
	OP_DELETE,
	OP_CHANGE,
	OP_GET,
	OP_ALLOC,
	OP_CACHE,
	OP_FLUSH,
	OP_COUNT
};

/* Address spaces, op byte [1] bits 3-4. */
enum { SPACE_PLAIN, SPACE_LINKLOCAL, SPACE_MCAST, SPACE_SCOPED };

struct mroute {
	int af;
	uint8_t key[16]; /* IPv6 zoned: the zone in bytes 2..3 */
	unsigned plen;
	unsigned ifindex;
};

static struct mroute model[MODEL_MAX];
static unsigned nmodel;
static struct rt_table *tables[2];

static const uint16_t zone_fields[8] = {0, 0, 0, 1, 1, 2, 3, 0xffff};
/* a[1] of the link-local space: fe80::/10, then two outside it. */
static const uint8_t ll_second[8] = {
    0x80, 0x80, 0x80, 0x80, 0x81, 0xbf, 0xc0, 0x7f};
/*
 * a[1] of the multicast space (flags, scope): zoned (scope 1 or 2, no
 * P flag), then not zoned (P flag 0x20, or another scope).
 */
static const uint8_t mc_second[16] = {0x02, 0x02, 0x01, 0x12, 0x11, 0x42, 0x82,
    0xd1, 0x32, 0x72, 0x21, 0xf2, 0x05, 0x0e, 0x03, 0x00};

static unsigned
addr_bytes(int af)
{
	return af == AF_INET ? 4 : 16;
}

static void
clear_host_bits(uint8_t *a, unsigned bytes, unsigned plen)
{
	for (unsigned bit = plen; bit < bytes * 8; bit++)
		a[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

static int
prefix_match(const uint8_t *a, const uint8_t *key, unsigned plen)
{
	for (unsigned bit = 0; bit < plen; bit++) {
		uint8_t m = (uint8_t)(0x80u >> (bit % 8));

		if ((a[bit / 8] & m) != (key[bit / 8] & m))
			return 0;
	}
	return 1;
}

/*
 * Does the key carry a zone: fe80::/10, or multicast of scope 1 or 2
 * without the P flag (ff01::, ff02::, ff11::, ff12::, ...)?
 */
static int
zoned6(int af, const uint8_t *a)
{
	if (af != AF_INET6)
		return 0;
	if (a[0] == 0xfe)
		return (a[1] & 0xc0) == 0x80;
	return a[0] == 0xff && (a[1] & 0x20) == 0 &&
	       ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2);
}

/*
 * The key of address a with scope id scope, into key; -1 for a zone no
 * key can carry (too wide, or other than a's bits 16..31).
 */
static int
make_key(int af, const uint8_t *a, uint32_t scope, uint8_t *key)
{
	unsigned field = (unsigned)a[2] << 8 | a[3];

	memcpy(key, a, addr_bytes(af));
	if (!zoned6(af, a) || scope == 0)
		return 0;
	if (scope > 0xffff || (field != 0 && field != scope))
		return -1;
	key[2] = (uint8_t)(scope >> 8);
	key[3] = (uint8_t)scope;
	return 0;
}

/*
 * Would rtrequest() refuse key/plen: bits past the prefix (a zone on a
 * prefix of /16 or shorter among them), or a zoned prefix of /17 to /31
 * (neither every zone nor one)?
 */
static int
key_invalid(int af, const uint8_t *key, unsigned plen)
{
	uint8_t c[16];

	memcpy(c, key, addr_bytes(af));
	clear_host_bits(c, addr_bytes(af), plen);
	if (memcmp(c, key, addr_bytes(af)) != 0)
		return 1;
	return zoned6(af, key) && plen > 16 && plen < 32;
}

static int
model_find(int af, const uint8_t *key, unsigned plen)
{
	for (unsigned i = 0; i < nmodel; i++)
		if (model[i].af == af && model[i].plen == plen &&
		    memcmp(model[i].key, key, addr_bytes(af)) == 0)
			return (int)i;
	return -1;
}

/* The longest prefix of the model that matches key, or -1. */
static int
model_lpm(int af, const uint8_t *key)
{
	int best = -1;

	for (unsigned i = 0; i < nmodel; i++)
		if (model[i].af == af &&
		    prefix_match(model[i].key, key, model[i].plen) &&
		    (best < 0 || model[i].plen > model[best].plen))
			best = (int)i;
	return best;
}

static void
make_sa(union rt_sockaddr *sa, int af, const uint8_t *a, uint32_t scope)
{
	memset(sa, 0, sizeof(*sa));
	if (af == AF_INET) {
		sa->sin.sin_family = AF_INET;
		memcpy(&sa->sin.sin_addr, a, 4);
	} else {
		sa->sin6.sin6_family = AF_INET6;
		memcpy(&sa->sin6.sin6_addr, a, 16);
		sa->sin6.sin6_scope_id = scope;
	}
}

/*
 * The rt_dst an entry of model route m shows: for a zoned key the zone
 * as the scope id and bits 16..31 zero, else the key and scope id 0.
 */
static void
model_dst(union rt_sockaddr *sa, int m)
{
	const struct mroute *r = &model[m];

	make_sa(sa, r->af, r->key, 0);
	if (zoned6(r->af, r->key)) {
		sa->sin6.sin6_scope_id = (uint32_t)r->key[2] << 8 | r->key[3];
		sa->sin6.sin6_addr.s6_addr[2] = 0;
		sa->sin6.sin6_addr.s6_addr[3] = 0;
	}
}

/* An entry must be the model's route m. */
static void
check_entry(const struct rt_entry *rt, int m, int af)
{
	union rt_sockaddr want, got;

	if ((rt == NULL) != (m < 0))
		abort(); /* hit where the model misses, or the reverse */
	if (rt == NULL)
		return;
	model_dst(&want, m);
	if (rt_getkey(rt)->sa_family != af || rt_getplen(rt) != model[m].plen ||
	    rt->rt_ifindex != model[m].ifindex)
		abort();
	if (af == AF_INET) {
		memcpy(&got.sin, rt_getkey(rt), sizeof(got.sin));
		if (memcmp(&got.sin.sin_addr, &want.sin.sin_addr, 4) != 0)
			abort();
	} else {
		memcpy(&got.sin6, rt_getkey(rt), sizeof(got.sin6));
		if (memcmp(&got.sin6.sin6_addr, &want.sin6.sin6_addr, 16) !=
		        0 ||
		    got.sin6.sin6_scope_id != want.sin6.sin6_scope_id)
			abort(); /* not the socket API's form of the key */
	}
}

/* The raw-address lookups of bytes (embedded form) must find route m. */
static void
check_raw(struct rt_table *t, int af, const uint8_t *bytes)
{
	int m = model_lpm(af, bytes);
	const struct rt_nexthop *nh;
	int s;

	s = rt_read_enter(t);
	nh = rt_lookup_nexthop(t, af, bytes);
	if ((nh == NULL) != (m < 0) ||
	    (nh != NULL && nh->nh_ifindex != model[m].ifindex))
		abort();
	check_entry(rt_lookup_noref(t, af, bytes), m, af);
	rt_read_exit(t, s);
}

static void
reset(struct rt_table *t)
{
	while (nmodel > 0) {
		union rt_sockaddr dst;
		struct rt_addrinfo info = {0};
		int m = (int)--nmodel;

		/* As the entry shows it: zoned, the zone as the scope id. */
		model_dst(&dst, m);
		info.rti_dst = &dst.sa;
		info.rti_plen = (int)model[m].plen;
		if (rtrequest(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, &info,
		        NULL) != 0)
			abort(); /* a route the model holds is missing */
	}
}

/* The address and scope id of an op (see the top of the file). */
static int
op_address(const uint8_t *op, uint8_t *a, uint32_t *scope)
{
	int space = (op[1] >> 3) & 3;
	int af = (op[1] & 1) ? AF_INET6 : AF_INET;
	unsigned field = zone_fields[op[3] & 7];

	memset(a, 0, 16);
	*scope = 0;
	if (space == SPACE_PLAIN && af == AF_INET) {
		a[0] = 10;
		memcpy(a + 1, op + 3, 3);
		return AF_INET;
	}
	if (space == SPACE_PLAIN || space == SPACE_SCOPED) {
		/* A small space: 2001:db8::, with 4 varied bytes. */
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		memcpy(a + 4, op + 3, 4);
		if (space == SPACE_PLAIN)
			return AF_INET6;
	} else {
		if (space == SPACE_LINKLOCAL)
			a[0] = 0xfe, a[1] = ll_second[op[6] & 7];
		else
			a[0] = 0xff, a[1] = mc_second[op[6] & 15];
		a[2] = (uint8_t)(field >> 8);
		a[3] = (uint8_t)field;
		a[7] = op[4];
		a[15] = op[5];
	}
	switch (op[1] >> 5) {
	case 0:
		*scope = 0;
		break;
	case 1:
		*scope = 1;
		break;
	case 2:
		*scope = 2;
		break;
	case 3:
		*scope = 0xffff;
		break;
	case 4:
		*scope = 0x10000;
		break;
	case 5:
		*scope = field; /* equal to bits 16..31 */
		break;
	case 6:
		*scope = field == 0xffff ? 1 : field + 1; /* another zone */
		break;
	default:
		*scope = 0x10000 | field; /* too wide, low half equal */
		break;
	}
	return AF_INET6;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_table *t;
	struct route ro;
	int design;

	if (size == 0)
		return 0;
	design = data[0] & 1;
	if (tables[design] == NULL) {
		struct rt_table_config netbsd = RT_TABLE_CONFIG_NETBSD;
		struct rt_table_config lockless = RT_TABLE_CONFIG_LOCKLESS;

		if (rt_table_create(
		        &tables[design], design ? &lockless : &netbsd) != 0)
			abort();
	}
	t = tables[design];
	rtcache_attach(&ro, t, 0);
	data++;
	size--;

	for (; size >= OP_BYTES; data += OP_BYTES, size -= OP_BYTES) {
		int op = data[0] % OP_COUNT;
		int keep_host_bits = (data[1] & 0x06) == 0x06;
		uint8_t a[16], key[16];
		uint32_t scope;
		int af = op_address(data, a, &scope);
		unsigned bytes = addr_bytes(af);
		unsigned plen = data[2] % (bytes * 8 + 1);
		union rt_sockaddr dst, gw;
		struct rt_addrinfo info = {0};
		struct rt_entry *rt;
		int m, error, badzone, invalid;

		if (op == OP_ALLOC || op == OP_CACHE) {
			badzone = make_key(af, a, scope, key) != 0;
			m = badzone ? -1 : model_lpm(af, key);
			make_sa(&dst, af, a, scope);
			if (op == OP_ALLOC) {
				rt = rtalloc1(t, &dst.sa, 0);
				check_entry(rt, m, af);
				if (rt != NULL)
					rt_unref(rt);
				/*
				 * The raw-address lookups answer the same for
				 * the key's bytes, and as the embedded form
				 * for the address's own.
				 */
				if (!badzone)
					check_raw(t, af, key);
				if (badzone || memcmp(a, key, bytes) != 0)
					check_raw(t, af, a);
			} else if (data[7] & 0x40) {
				int s = rt_read_enter(t);

				rt = rtcache_lookup_noref(&ro, &dst.sa, NULL);
				check_entry(rt, m, af);
				rt_read_exit(t, s);
			} else {
				struct route ro2;

				rt = rtcache_lookup(&ro, &dst.sa);
				check_entry(rt, m, af);
				rtcache_unref(rt, &ro);
				/* Setting a bad zone as a destination fails. */
				rtcache_attach(&ro2, t, 0);
				if (rtcache_setdst(&ro2, &dst.sa) !=
				    (badzone ? EINVAL : 0))
					abort();
				rtcache_free(&ro2);
			}
			continue;
		}
		if (op == OP_FLUSH) {
			if (rtflushall(t, af) != 0)
				abort();
			continue;
		}
		if (!keep_host_bits)
			clear_host_bits(a, bytes, plen);
		badzone = make_key(af, a, scope, key) != 0;
		invalid = badzone || key_invalid(af, key, plen);
		make_sa(&dst, af, a, scope);
		info.rti_dst = &dst.sa;
		info.rti_plen = (int)plen;
		info.rti_ifindex = 1 + data[7] % 4;
		if (data[7] & 0x80) {
			uint8_t g[16] = {0};

			g[0] = af == AF_INET ? 192 : 0xfe;
			g[1] = af == AF_INET ? 0 : 0x80;
			g[bytes - 1] = (uint8_t)(1 + (data[7] & 0x3));
			make_sa(&gw, af, g, 0);
			info.rti_gateway = &gw.sa;
			info.rti_flags = MPSAFE_RTF_GATEWAY;
		}
		m = invalid ? -1 : model_find(af, key, plen);
		switch (op) {
		case OP_ADD:
			error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
			if (invalid) {
				if (error != EINVAL)
					abort();
			} else if (m >= 0) {
				if (error != EEXIST)
					abort();
			} else if (nmodel == MODEL_MAX) {
				if (error == 0) /* keep the model in step */
					(void)rtrequest(
					    t, MPSAFE_RTM_DELETE, &info, NULL);
			} else {
				if (error != 0)
					abort();
				model[nmodel].af = af;
				memcpy(model[nmodel].key, key, 16);
				model[nmodel].plen = plen;
				model[nmodel].ifindex = info.rti_ifindex;
				nmodel++;
			}
			break;
		case OP_DELETE:
			error = rtrequest(t,
			    MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, &info,
			    NULL);
			if (invalid) {
				if (error != EINVAL)
					abort();
			} else if ((error == 0) != (m >= 0) ||
			           (m < 0 && error != ESRCH)) {
				abort();
			} else if (m >= 0) {
				model[m] = model[--nmodel];
			}
			break;
		case OP_CHANGE:
			error = rtrequest(t, MPSAFE_RTM_CHANGE, &info, NULL);
			if (invalid) {
				if (error != EINVAL)
					abort();
			} else if ((error == 0) != (m >= 0) ||
			           (m < 0 && error != ESRCH)) {
				abort();
			} else if (m >= 0) {
				model[m].ifindex = info.rti_ifindex;
			}
			break;
		case OP_GET:
			rt = NULL;
			error = rtrequest(t, MPSAFE_RTM_GET, &info, &rt);
			if (invalid) {
				if (error != EINVAL)
					abort();
				break;
			}
			if ((error == 0) != (m >= 0))
				abort();
			check_entry(rt, m, af);
			if (rt != NULL)
				rt_unref(rt);
			break;
		}
	}
	rtcache_free(&ro);
	reset(t);
	/*
	 * Let the deletes' deferred frees (trie nodes, next hops) run before
	 * libFuzzer compares this input's allocations and frees and asks
	 * LeakSanitizer.  Since the IPv4 trie's root is mapped outside the
	 * heap (2026-12-01), LeakSanitizer reported nodes still waiting in
	 * the defer queue as leaked; after the barrier none is waiting.
	 */
	if (mpsafe_defer_barrier() != 0)
		abort();
	return 0;
}
