/*
 * fuzz_route.c: libFuzzer harness of the routing table and route caches
 * (mpsafe/net/route.h) against a brute-force model.
 *
 * The input is a program: its first byte picks the table's design
 * (NetBSD's locked one or the lockless one), then each op takes 8 bytes:
 *   [0] op (add, delete, change, get, rtalloc1, cache lookup, flush)
 *   [1] family (bit 0) and whether to keep host bits (bit 1, rare)
 *   [2] prefix length (mod 33 or 129)
 *   [3..6] address bits, spread over a small space so prefixes nest
 *   [7] interface index and gateway choice
 * The model is an array of the routes the table should hold.  Every
 * answer of the table is compared with the model: errno values of
 * rtrequest(), and for lookups the longest matching prefix found by
 * scanning the model (rtalloc1() and rt_lookup_nexthop() both).  Any
 * difference aborts (a finding).  The tables
 * live across inputs (creating one starts a thread); each input ends by
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

struct mroute {
	int af;
	uint8_t addr[16];
	unsigned plen;
	unsigned ifindex;
};

static struct mroute model[MODEL_MAX];
static unsigned nmodel;
static struct rt_table *tables[2];

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

static int
model_find(int af, const uint8_t *a, unsigned plen)
{
	for (unsigned i = 0; i < nmodel; i++)
		if (model[i].af == af && model[i].plen == plen &&
		    memcmp(model[i].addr, a, addr_bytes(af)) == 0)
			return (int)i;
	return -1;
}

/* The longest prefix of the model that matches a, or -1. */
static int
model_lpm(int af, const uint8_t *a)
{
	int best = -1;

	for (unsigned i = 0; i < nmodel; i++)
		if (model[i].af == af &&
		    prefix_match(model[i].addr, a, model[i].plen) &&
		    (best < 0 || model[i].plen > model[best].plen))
			best = (int)i;
	return best;
}

static void
make_sa(union rt_sockaddr *sa, int af, const uint8_t *a)
{
	memset(sa, 0, sizeof(*sa));
	if (af == AF_INET) {
		sa->sin.sin_family = AF_INET;
		memcpy(&sa->sin.sin_addr, a, 4);
	} else {
		sa->sin6.sin6_family = AF_INET6;
		memcpy(&sa->sin6.sin6_addr, a, 16);
	}
}

/* An entry must be the model's route m. */
static void
check_entry(const struct rt_entry *rt, int m, int af)
{
	const uint8_t *key;

	if ((rt == NULL) != (m < 0))
		abort(); /* hit where the model misses, or the reverse */
	if (rt == NULL)
		return;
	if (af == AF_INET)
		key = (const uint8_t *)&(
		    (const struct sockaddr_in *)(const void *)rt_getkey(rt))
		          ->sin_addr;
	else
		key = (const uint8_t *)&(
		    (const struct sockaddr_in6 *)(const void *)rt_getkey(rt))
		          ->sin6_addr;
	if (rt_getkey(rt)->sa_family != af || rt_getplen(rt) != model[m].plen ||
	    memcmp(key, model[m].addr, addr_bytes(af)) != 0 ||
	    rt->rt_ifindex != model[m].ifindex)
		abort();
}

static void
reset(struct rt_table *t)
{
	while (nmodel > 0) {
		struct mroute *m = &model[--nmodel];
		union rt_sockaddr dst;
		struct rt_addrinfo info = {0};

		make_sa(&dst, m->af, m->addr);
		info.rti_dst = &dst.sa;
		info.rti_plen = (int)m->plen;
		if (rtrequest(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, &info,
		        NULL) != 0)
			abort(); /* a route the model holds is missing */
	}
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
		int af = (data[1] & 1) ? AF_INET6 : AF_INET;
		int keep_host_bits = (data[1] & 0x06) == 0x06;
		unsigned bytes = addr_bytes(af);
		unsigned plen = data[2] % (bytes * 8 + 1);
		uint8_t a[16] = {0};
		union rt_sockaddr dst, gw;
		struct rt_addrinfo info = {0};
		struct rt_entry *rt;
		int m, error, host_bits = 0;

		/* A small space: 10.x or 2001:db8::, with 4 varied bytes. */
		if (af == AF_INET) {
			a[0] = 10;
			memcpy(a + 1, data + 3, 3);
		} else {
			a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
			memcpy(a + 4, data + 3, 4);
		}
		if (op == OP_ALLOC || op == OP_CACHE) {
			m = model_lpm(af, a);
			make_sa(&dst, af, a);
			if (op == OP_ALLOC) {
				const struct rt_nexthop *nh;
				int s;

				rt = rtalloc1(t, &dst.sa, 0);
				check_entry(rt, m, af);
				if (rt != NULL)
					rt_unref(rt);
				/* The next-hop lookup answers the same. */
				s = rt_read_enter(t);
				nh = rt_lookup_nexthop(t, af, a);
				if ((nh == NULL) != (m < 0) ||
				    (nh != NULL &&
				        nh->nh_ifindex != model[m].ifindex))
					abort();
				rt_read_exit(t, s);
			} else {
				rt = rtcache_lookup(&ro, &dst.sa);
				check_entry(rt, m, af);
				rtcache_unref(rt, &ro);
			}
			continue;
		}
		if (op == OP_FLUSH) {
			if (rtflushall(t, af) != 0)
				abort();
			continue;
		}
		if (keep_host_bits) {
			uint8_t c[16];

			memcpy(c, a, bytes);
			clear_host_bits(c, bytes, plen);
			host_bits = memcmp(c, a, bytes) != 0;
		} else {
			clear_host_bits(a, bytes, plen);
		}
		make_sa(&dst, af, a);
		info.rti_dst = &dst.sa;
		info.rti_plen = (int)plen;
		info.rti_ifindex = 1 + data[7] % 4;
		if (data[7] & 0x80) {
			uint8_t g[16] = {0};

			g[0] = af == AF_INET ? 192 : 0xfe;
			g[1] = af == AF_INET ? 0 : 0x80;
			g[bytes - 1] = (uint8_t)(1 + (data[7] & 0x3));
			make_sa(&gw, af, g);
			info.rti_gateway = &gw.sa;
			info.rti_flags = MPSAFE_RTF_GATEWAY;
		}
		m = model_find(af, a, plen);
		switch (op) {
		case OP_ADD:
			error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
			if (host_bits) {
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
				memcpy(model[nmodel].addr, a, 16);
				model[nmodel].plen = plen;
				model[nmodel].ifindex = info.rti_ifindex;
				nmodel++;
			}
			break;
		case OP_DELETE:
			error = rtrequest(t,
			    MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, &info,
			    NULL);
			if (host_bits) {
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
			if (host_bits) {
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
			if (host_bits) {
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
