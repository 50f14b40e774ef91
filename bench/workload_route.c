/*
 * bench/workload_route.c: the routing-table workloads, on mpsafe_net's
 * rt_table (route.h) loaded with a generated table shaped like the
 * global BGP table (route_file.h), and on DPDK's rte_lpm (dpdk-lpm).
 *
 *   route-lookup  N readers doing uncached longest-prefix lookups of a
 *                 fixed set of 2^20 addresses (90% inside a table
 *                 prefix, 10% random), each reading the next hop, while
 *                 one churn thread (--writers 1, the default; 0 for
 *                 none) applies --churn-rate updates per second (default
 *                 1000: 40% next-hop changes, 30% deletes, 30% re-adds).
 *                 One address per lookup call in every strategy (dpdk-fib:
 *                 rte_fib_lookup_bulk() with n = 1), so single lookups
 *                 are compared with single lookups.
 *   route-bulk    the same table, addresses and churn, but each reader
 *                 looks addresses up in batches of RB_BULK (32), the
 *                 misses of a batch overlapping: pserialize calls
 *                 rt_lookup_noref_bulk() inside one rt_read_enter()/
 *                 rt_read_exit() per batch, then reads each entry's
 *                 gateway; rwlock the same with the read lock held across
 *                 the batch (the lock amortised over 32 lookups);
 *                 dpdk-fib rte_fib_lookup_bulk(32); dpdk-lpm
 *                 rte_lpm_lookup_bulk(32).  Other strategies are skipped.
 *   rtcache       the same, but each reader looks its destinations up
 *                 through its own route caches (struct route, one per
 *                 flow, RB_FLOWS flows per thread, each destination
 *                 inside a table prefix), as a forwarding path does: a
 *                 hit checks the generation and takes a psref
 *                 (rtcache_lookup2()), or, in the lockless design
 *                 (pserialize), takes nothing inside a read section
 *                 (rtcache_lookup_noref() in pserialize_read_enter()/
 *                 _exit(), which on a lockless table stand in for
 *                 rt_read_enter()/rt_read_exit()); each table update
 *                 invalidates every cache.
 *   route-lookup6 route-lookup in the generated IPv6 table (--table-size,
 *                 default 200,000; 2^20 addresses, 90% inside a
 *                 prefix), with the same churn, for the designs with an
 *                 entry lookup (rwlock, refcount, psref, pserialize).
 *   route-mem     build the IPv4 table (--table-size, default 1,000,000)
 *   route-mem6    and the IPv6 one (default 200,000): build time per
 *                 prefix (ns_per_op) and memory (mem_bytes, mem_prefixes).
 *
 * Strategies map onto the table's designs (route.h):
 *   rwlock      RT_SYNC_RWLOCK table; a lookup takes the table's read
 *               lock around rt_lookup_noref() and the next-hop read.
 *   refcount    RT_SYNC_PSERIALIZE walk (lock-free), RT_REF_REFCOUNT:
 *               rt_lookup() takes an atomic count on the entry,
 *               rt_release() drops it.
 *   psref       NetBSD 8/9: RT_SYNC_RWLOCK table, rtalloc1() (read lock
 *               + refcount) for uncached lookups, psref through route
 *               caches, generation invalidation.
 *   pserialize  lockless: RT_SYNC_PSERIALIZE, RT_REF_PSREF; an uncached
 *               lookup is rt_lookup_noref() inside a pserialize read
 *               section opened inline (pserialize_read_enter(), which
 *               on a lockless table is what rt_read_enter() opens).
 *   pserialize-nh  a table of the pserialize design of its own (entry
 *               lookups mark the entries they find, and a change of a
 *               marked entry waits for a grace period: sharing the
 *               pserialize table would bill this design for its
 *               readers), read
 *               through its next hops: rt_lookup_nexthop() inside a
 *               pserialize read section, summing the next hop's
 *               gateway (route-lookup; route-bulk:
 *               rt_lookup_nexthop_bulk()); the FIB-style lookup that
 *               reads no entry when the slot carries the next hop's id.
 *   rwlock-nh   rwlock's table read through its next hops:
 *               rt_lookup_nexthop() under the table's read lock (route-
 *               bulk: rt_lookup_nexthop_bulk() with the lock held across
 *               the batch); pserialize-nh's work with the lock, so the
 *               two compare like for like (rwlock, refcount and psref
 *               read the entry too: one more dependent miss).
 *   dpdk-lpm    rte_lpm (route-lookup, route-mem; see strategy_dpdk_lpm.c).
 *   dpdk-fib    rte_fib DIR24_8: rte_lpm's lookup table with a trie as
 *               its rule store (fast loads and updates); its lookup is
 *               rte_fib_lookup_bulk() (n = 1 in route-lookup).
 *   pserialize-pair  rtcache only: pserialize's cached-lookup loop with
 *               the lookup taken out (the read section and one load of
 *               the cache), on pserialize's table under the same churn:
 *               the cache hit's baseline, measured in the same
 *               invocation and, under --repeat, between its runs.
 * Route caches take a psref in every design but the lockless one
 * (pserialize: rtcache_lookup_noref() in a pserialize read section),
 * so in rtcache rwlock, refcount and psref differ only in the miss path
 * (rwlock and psref share one table).
 *
 * Figures: ops/ns_per_op of the readers; lat_p50_ns/lat_p99_ns of one
 * update (rtrequest(), or rte_lpm_add/delete) as timed by the churn
 * thread; writer_ops = updates done; pending_peak_bytes = the most memory
 * the table had allocated but no longer held, sampled after each update
 * on lockless tables (rt_table_stats()'s allocated bytes minus its
 * total: deleted entries not yet destroyed, retired trie nodes), or the
 * peak of mpsafe_defer()'s pending bytes over the measured phase if
 * larger (the only figure for RWLOCK tables); mem_bytes = bytes the
 * table allocated (rts_alloc_bytes after the load; DPDK: its heap's
 * growth), mem_prefixes = the prefixes loaded.
 *
 * Our tables are built with rtc_hugepages unless --pages small
 * (cfg->small_pages): the configuration for a full-size table.
 *
 * One table per (family, size, design) is built on first use and kept
 * for the whole invocation (building 1M prefixes takes seconds); its
 * churn stream continues from run to run, so the table stays valid.  At
 * build time a check looks up 1000 addresses inside random table
 * prefixes: each must match a prefix that contains it and is at least as
 * long; a failure fails the run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/net/route.h>
#include <mpsafe/net/route_file.h>

#include "bench.h"
#include "route_bench.h"

#define RB_DEFAULT_SIZE4 1000000ul
#define RB_DEFAULT_SIZE6 200000ul
#define RB_NEXTHOPS 512
#define RB_SEED UINT64_C(0x6d70736166652d72)
#define RB_ADDRS (1u << 20) /* lookup addresses, a power of two */
#define RB_HIT_PERCENT 90
#define RB_FLOWS 64        /* rtcache: route caches per reader thread */
#define RB_FLOW_ADDRS 4096 /* rtcache: destinations, each in a prefix */
#define RB_MAX_TABLES 8
#define RB_CHECKS 1000
#define RB_BULK 32 /* route-bulk: addresses per batch */

enum rb_kind {
	RB_NONE,
	RB_RWLOCK,
	RB_REFCOUNT,
	RB_PSREF,
	RB_PSERIALIZE,
	RB_PSERIALIZE_NH, /* pserialize-nh: next-hop lookups */
	RB_RWLOCK_NH,     /* rwlock-nh: next-hop lookups, read lock */
	RB_PAIR,          /* pserialize-pair: rtcache's read section alone */
	RB_DPDK,          /* dpdk-lpm */
	RB_DPDK_FIB,      /* dpdk-fib */
};

static bool
rb_is_dpdk(enum rb_kind k)
{
	return k == RB_DPDK || k == RB_DPDK_FIB;
}

static enum rb_kind
rb_kind_of(const struct bench_strategy *s)
{
	static const struct {
		const char *name;
		enum rb_kind kind;
	} map[] = {
	    {"rwlock", RB_RWLOCK},
	    {"refcount", RB_REFCOUNT},
	    {"psref", RB_PSREF},
	    {"pserialize", RB_PSERIALIZE},
	    {"pserialize-nh", RB_PSERIALIZE_NH},
	    {"rwlock-nh", RB_RWLOCK_NH},
	    {"pserialize-pair", RB_PAIR},
	    {"dpdk-lpm", RB_DPDK},
	    {"dpdk-fib", RB_DPDK_FIB},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s->name, map[i].name) == 0)
			return map[i].kind;
	return RB_NONE;
}

static void
rb_config(enum rb_kind k, struct rt_table_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rtc_name = "bench";
	switch (k) {
	case RB_REFCOUNT:
		c->rtc_sync = RT_SYNC_PSERIALIZE;
		c->rtc_ref = RT_REF_REFCOUNT;
		break;
	case RB_PSERIALIZE:
	case RB_PSERIALIZE_NH: /* the same design, a table of its own */
	case RB_PAIR:          /* pserialize's table */
		c->rtc_sync = RT_SYNC_PSERIALIZE;
		c->rtc_ref = RT_REF_PSREF;
		break;
	default: /* rwlock, rwlock-nh, psref: NetBSD's design */
		c->rtc_sync = RT_SYNC_RWLOCK;
		c->rtc_ref = RT_REF_REFCOUNT;
		break;
	}
}

/* --- data: routes and lookup addresses, one set per family and size ---- */

struct rb_data {
	int family;
	size_t n;
	struct rtgen_route *routes;
	uint8_t *addrs;            /* RB_ADDRS * 4 or 16 bytes, network order */
	uint32_t *addrs_host;      /* IPv4: the same, host order (DPDK) */
	struct sockaddr_in *sins;  /* IPv4: the same, as sockaddrs */
	struct sockaddr_in *flows; /* rtcache: RB_FLOW_ADDRS, all in routes */
	struct sockaddr_in6 *sins6; /* IPv6: addrs as sockaddrs */
};

static struct rb_data rb_data[2];

static struct rb_data *
rb_data_get(int family, size_t n)
{
	struct rb_data *d = &rb_data[family == AF_INET6];
	int error;

	if (d->routes != NULL && d->n == n)
		return d;
	free(d->routes);
	free(d->addrs);
	free(d->addrs_host);
	free(d->sins);
	free(d->flows);
	free(d->sins6);
	memset(d, 0, sizeof(*d));
	if (n > (family == AF_INET ? RTGEN_MAX_INET : RTGEN_MAX_INET6)) {
		bench_warn("--table-size %zu: the generator makes at most %d "
		           "IPv4 and %d IPv6 prefixes",
		    n, RTGEN_MAX_INET, RTGEN_MAX_INET6);
		return NULL;
	}
	error = rtgen_table(family, n, RB_NEXTHOPS, RB_SEED, &d->routes);
	if (error != 0) {
		bench_warn("generating %zu prefixes: %s", n, strerror(error));
		return NULL;
	}
	d->family = family;
	d->n = n;
	if (family != AF_INET) {
		d->addrs = malloc((size_t)RB_ADDRS * 16);
		d->sins6 = calloc(RB_ADDRS, sizeof(*d->sins6));
		if (d->addrs == NULL || d->sins6 == NULL) {
			bench_warn("out of memory");
			return NULL;
		}
		rtgen_lookups(d->routes, n, RB_ADDRS, RB_HIT_PERCENT,
		    RB_SEED + 1, d->addrs);
		for (size_t i = 0; i < RB_ADDRS; i++) {
			d->sins6[i].sin6_family = AF_INET6;
			memcpy(&d->sins6[i].sin6_addr, d->addrs + 16 * i, 16);
		}
		return d;
	}
	d->addrs = malloc((size_t)RB_ADDRS * 4);
	d->addrs_host = malloc((size_t)RB_ADDRS * sizeof(uint32_t));
	d->sins = calloc(RB_ADDRS, sizeof(*d->sins));
	d->flows = calloc(RB_FLOW_ADDRS, sizeof(*d->flows));
	if (d->addrs == NULL || d->addrs_host == NULL || d->sins == NULL ||
	    d->flows == NULL) {
		bench_warn("out of memory");
		return NULL;
	}
	rtgen_lookups(
	    d->routes, n, RB_ADDRS, RB_HIT_PERCENT, RB_SEED + 1, d->addrs);
	/* Flow destinations: every one inside a table prefix. */
	{
		uint8_t fa[RB_FLOW_ADDRS * 4];

		rtgen_lookups(
		    d->routes, n, RB_FLOW_ADDRS, 100, RB_SEED + 4, fa);
		for (size_t i = 0; i < RB_FLOW_ADDRS; i++) {
			d->flows[i].sin_family = AF_INET;
			memcpy(&d->flows[i].sin_addr, fa + 4 * i, 4);
		}
	}
	for (size_t i = 0; i < RB_ADDRS; i++) {
		uint32_t a;

		memcpy(&a, d->addrs + 4 * i, 4);
		d->addrs_host[i] = ntohl(a);
		d->sins[i].sin_family = AF_INET;
		d->sins[i].sin_addr.s_addr = a;
	}
	return d;
}

/* --- tables ----------------------------------------------------------- */

struct rb_table {
	bool used;
	int family;
	size_t n;
	enum rb_kind kind; /* RB_DPDK, or the design's first kind */
	enum rt_sync sync;
	enum rt_refmode ref;
	struct rt_table *t;
	struct bench_lpm *lpm;
	struct rtgen_churn *churn;
	const struct rtgen_route *routes;
	size_t mem;         /* rts_alloc_bytes after the build */
	size_t mapped;      /* rts_mapped_bytes after the build */
	size_t stats_total; /* rt_table_stats() after the build */
	double build_s;
};

static struct rb_table rb_tables[RB_MAX_TABLES];

void
bench_rt_sockaddr(int family, const uint8_t *addr, union rt_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		sa->sin.sin_family = AF_INET;
		memcpy(&sa->sin.sin_addr, addr, 4);
	} else {
		sa->sin6.sin6_family = AF_INET6;
		memcpy(&sa->sin6.sin6_addr, addr, 16);
	}
}

int
bench_rt_request(struct rt_table *t, int req, const struct rtgen_route *r,
    uint32_t nh, uint32_t flags)
{
	union rt_sockaddr dst, gw;
	uint8_t hop[16];
	struct rt_addrinfo info;

	bench_rt_sockaddr(r->rg_dst.rp_family, r->rg_dst.rp_addr, &dst);
	memset(&info, 0, sizeof(info));
	info.rti_dst = &dst.sa;
	info.rti_plen = r->rg_dst.rp_plen;
	if ((req & 0xff) != MPSAFE_RTM_DELETE) {
		rtgen_nexthop(r->rg_dst.rp_family, nh, hop);
		bench_rt_sockaddr(r->rg_dst.rp_family, hop, &gw);
		info.rti_gateway = &gw.sa;
		info.rti_flags = MPSAFE_RTF_GATEWAY | flags;
		info.rti_ifindex = BENCH_RT_IFINDEX(nh);
	}
	return rtrequest(t, req, &info, NULL);
}

/* Whether prefix p contains the address a (family bytes). */
static bool
rb_contains(const struct sockaddr *key, unsigned plen, const uint8_t *a)
{
	const uint8_t *k =
	    key->sa_family == AF_INET
	        ? (const uint8_t *)&(
	              (const struct sockaddr_in *)(const void *)key)
	              ->sin_addr
	        : (const uint8_t *)&(
	              (const struct sockaddr_in6 *)(const void *)key)
	              ->sin6_addr;

	for (unsigned i = 0; i < plen / 8; i++)
		if (k[i] != a[i])
			return false;
	if (plen % 8) {
		uint8_t m = (uint8_t)(0xff00u >> (plen % 8));

		if ((k[plen / 8] & m) != (a[plen / 8] & m))
			return false;
	}
	return true;
}

/* Look up addresses inside random prefixes; check what comes back. */
static int
rb_check(struct rt_table *t, const struct rtgen_route *routes, size_t n)
{
	int family = routes[0].rg_dst.rp_family;
	size_t bytes = family == AF_INET ? 4 : 16;
	uint8_t *a = malloc(RB_CHECKS * bytes);

	if (a == NULL)
		return -1;
	rtgen_lookups(routes, n, RB_CHECKS, 100, RB_SEED + 2, a);
	for (size_t i = 0; i < RB_CHECKS; i++) {
		int s = rt_read_enter(t);
		struct rt_entry *rt = rt_lookup_noref(t, family, a + i * bytes);
		bool ok = rt != NULL && rb_contains(rt_getkey(rt),
		                            rt_getplen(rt), a + i * bytes);

		rt_read_exit(t, s);
		if (!ok) {
			bench_warn("route table check: lookup %zu %s", i,
			    rt == NULL ? "missed an address inside a prefix"
			               : "returned a prefix not containing it");
			free(a);
			return -1;
		}
	}
	free(a);
	return 0;
}

/* The table for (family, n, design of kind), built on first use. */
static struct rb_table *
rb_table_get(enum rb_kind kind, int family, size_t n, bool small_pages)
{
	struct rt_table_config cfg;
	struct rb_table *tb = NULL;
	struct rb_data *d;
	uint64_t t0;
	int error;

	rb_config(kind, &cfg);
	for (size_t i = 0; i < RB_MAX_TABLES; i++) {
		struct rb_table *x = &rb_tables[i];

		if (!x->used || x->family != family || x->n != n)
			continue;
		if (rb_is_dpdk(kind)
		        ? x->kind == kind
		        : (!rb_is_dpdk(x->kind) && x->sync == cfg.rtc_sync &&
		              x->ref == cfg.rtc_ref &&
		              (x->kind == RB_PSERIALIZE_NH) ==
		                  (kind == RB_PSERIALIZE_NH)))
			return x;
	}
	for (size_t i = 0; i < RB_MAX_TABLES && tb == NULL; i++)
		if (!rb_tables[i].used)
			tb = &rb_tables[i];
	if (tb == NULL) {
		bench_warn("too many route tables in one invocation");
		return NULL;
	}
	d = rb_data_get(family, n);
	if (d == NULL)
		return NULL;
	tb->family = family;
	tb->n = n;
	tb->kind = kind;
	tb->sync = cfg.rtc_sync;
	tb->ref = cfg.rtc_ref;
	tb->routes = d->routes;
	t0 = bench_now_ns();
	if (rb_is_dpdk(kind)) {
#ifdef BENCH_HAVE_DPDK
		if (bench_lpm_create(
		        d->routes, n, kind == RB_DPDK_FIB, &tb->lpm) != 0)
			return NULL;
		tb->mem = bench_lpm_mem(tb->lpm);
#else
		return NULL;
#endif
	} else {
		cfg.rtc_hugepages = !small_pages;
		error = rt_table_create(&tb->t, &cfg);
		if (error != 0) {
			bench_warn("rt_table_create: %s", strerror(error));
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			error = bench_rt_request(tb->t, MPSAFE_RTM_ADD,
			    &d->routes[i], d->routes[i].rg_nexthop, 0);
			if (error != 0) {
				bench_warn(
				    "rtrequest(RTM_ADD) of route %zu: %s", i,
				    strerror(error));
				rt_table_destroy(tb->t);
				return NULL;
			}
		}
		{
			struct rt_table_stats st;

			memset(&st, 0, sizeof(st));
			rt_table_stats(tb->t, &st);
			tb->mem = st.rts_alloc_bytes;
			tb->mapped = st.rts_mapped_bytes;
			tb->stats_total = st.rts_total_bytes;
		}
		if (rb_check(tb->t, d->routes, n) != 0) {
			rt_table_destroy(tb->t);
			return NULL;
		}
	}
	tb->build_s = (double)(bench_now_ns() - t0) / 1e9;
	tb->churn = rtgen_churn_create(d->routes, n, RB_NEXTHOPS, RB_SEED + 3);
	if (tb->churn == NULL) {
		bench_warn("out of memory");
		return NULL;
	}
	tb->used = true;
	fprintf(stderr, " (built %zu %s prefixes in %.2f s, %.1f B/prefix%s)",
	    n, family == AF_INET ? "IPv4" : "IPv6", tb->build_s,
	    (double)tb->mem / (double)n,
	    rb_is_dpdk(kind)  ? ", DPDK heap"
	    : tb->mapped == 0 ? ", 4 KiB pages"
	                      : ", on huge pages");
	return tb;
}

/*
 * Bytes the table has allocated and not yet freed that are no longer part
 * of it: deleted entries waiting for their holders and for the workqueue,
 * trie nodes waiting for a grace period: rt_table_stats()'s allocated
 * bytes minus what the table holds (equal right after the load).  Takes
 * the table's writer lock briefly.
 */
static size_t
rb_pending(struct rb_table *tb)
{
	struct rt_table_stats st;

	memset(&st, 0, sizeof(st));
	rt_table_stats(tb->t, &st);
	return st.rts_alloc_bytes > st.rts_total_bytes
	           ? st.rts_alloc_bytes - st.rts_total_bytes
	           : 0;
}

/* Apply update u to the table; returns 0 or an errno. */
static int
rb_update(struct rb_table *tb, const struct rtgen_update *u)
{
	const struct rtgen_route *r = &tb->routes[u->ru_index];

	if (rb_is_dpdk(tb->kind)) {
#ifdef BENCH_HAVE_DPDK
		int error = bench_lpm_update(tb->lpm, tb->routes, u);

		return error < 0 ? -error : error;
#else
		return ENOSYS;
#endif
	}
	switch (u->ru_op) {
	case RTGEN_ADD:
		return bench_rt_request(
		    tb->t, MPSAFE_RTM_ADD, r, u->ru_nexthop, 0);
	case RTGEN_DELETE:
		/* A routing daemon does not wait for readers to go. */
		return bench_rt_request(
		    tb->t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, r, 0, 0);
	case RTGEN_CHANGE:
	default:
		return bench_rt_request(
		    tb->t, MPSAFE_RTM_CHANGE, r, u->ru_nexthop, 0);
	}
}

/* --- runs ------------------------------------------------------------- */

/* Entries held through a run (--held), and how (--held-by). */
struct rb_held {
	unsigned n;
	struct rt_entry **rt;
	struct route *ro; /* --held-by rtcache: the caches; else NULL */
};

/*
 * Drop the references of rb_hold_deleted() (the first n of h): the
 * table destroys the entries.
 */
static void
rb_unhold(struct rb_held *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (h->rt[i] == NULL)
			continue;
		if (h->ro != NULL) {
			rtcache_unref(h->rt[i], &h->ro[i]);
			rtcache_free(&h->ro[i]);
		} else {
			rt_unref(h->rt[i]);
		}
	}
	free(h->rt);
	free(h->ro);
	h->rt = NULL;
	h->ro = NULL;
}

/*
 * --held: add n host routes in 240.0.0.0/8 (reserved, outside every
 * generated table), take a reference to each (a count with rtalloc1(),
 * or with --held-by rtcache a route cache's psref), and delete each
 * without waiting, as a slow caller would leave them: deleted entries
 * that stay held through the run, by the calling thread.  Fills *h (to
 * rb_unhold()); returns 0, or -1 on failure.
 */
static int
rb_hold_deleted(struct rt_table *t, unsigned n, bool psref, struct rb_held *h)
{
	h->n = n;
	h->rt = calloc(n, sizeof(*h->rt));
	h->ro = psref ? calloc(n, sizeof(*h->ro)) : NULL;
	if (h->rt == NULL || (psref && h->ro == NULL)) {
		bench_warn("--held: out of memory");
		rb_unhold(h, 0);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t a[4] = {240, 0, (uint8_t)(i >> 8), (uint8_t)i};
		union rt_sockaddr dst, gw;
		struct rt_addrinfo info;
		int error;

		bench_rt_sockaddr(AF_INET, a, &dst);
		a[0] = 192; /* 192.0.x.y as the gateway */
		bench_rt_sockaddr(AF_INET, a, &gw);
		memset(&info, 0, sizeof(info));
		info.rti_dst = &dst.sa;
		info.rti_plen = 32;
		info.rti_gateway = &gw.sa;
		info.rti_flags = MPSAFE_RTF_GATEWAY;
		info.rti_ifindex = 1;
		error = rtrequest(t, MPSAFE_RTM_ADD, &info, NULL);
		if (error == 0) {
			if (psref) {
				rtcache_attach(&h->ro[i], t, 0);
				h->rt[i] = rtcache_lookup(&h->ro[i], &dst.sa);
			} else {
				h->rt[i] = rtalloc1(t, &dst.sa, 0);
			}
			error = rtrequest(t,
			    MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, &info,
			    NULL);
		}
		if (error != 0 || h->rt[i] == NULL) {
			bench_warn("--held: route %u: %s", i,
			    error != 0 ? strerror(error) : "not found");
			rb_unhold(h, i + 1);
			return -1;
		}
	}
	return 0;
}

struct rb_run {
	enum rb_kind kind;
	int family;  /* route-lookup6: AF_INET6 */
	bool cached; /* rtcache */
	bool bulk;   /* route-bulk */
	struct rb_table *tb;
	struct rb_data *d;
	double rate;
	/* churn thread results */
	uint64_t updates;
	uint64_t update_errors;
	size_t pending_peak; /* most bytes allocated but not in the table */
	int first_error;
	struct bench_hist hist;
	struct bench_hist op_hist[4]; /* by enum rtgen_op */
};

/* Per-reader statistics, in the thread's own memory. */
struct rb_reader {
	struct rb_run *run;
	uint64_t misses;
	uint64_t hits; /* rtcache: cache hits */
};

/*
 * What a reader does with an entry it found: its gateway (the next hop),
 * or 0 and one more miss if there is none or it is being changed.
 */
static inline uint64_t
rb_use_entry(const struct rt_entry *rt, uint64_t *miss)
{
	if (rt != NULL && !(rt_getflags(rt) & MPSAFE_RTF_UPDATING))
		return rt->rt_gateway.sin.sin_addr.s_addr;
	(*miss)++;
	return 0;
}

/*
 * route-bulk: n lookups starting at *pos in batches of RB_BULK; returns
 * the next-hop sum.  A batch whose addresses wrap around the list is
 * copied first (rare); otherwise the lookups read the list in place.
 */
static uint64_t
rb_bulk_batch(struct rb_run *r, size_t *pos, uint64_t n, uint64_t *misses)
{
	struct rt_table *t = r->tb->t;
	const struct rb_data *d = r->d;
	const size_t mask = RB_ADDRS - 1;
	uint64_t sum = 0, miss = 0;
	size_t p = *pos;

	if (rb_is_dpdk(r->kind)) {
#ifdef BENCH_HAVE_DPDK
		return bench_lpm_lookup_bulk_loop(
		    r->tb->lpm, d->addrs_host, mask, pos, n, RB_BULK, misses);
#else
		return 0;
#endif
	}
	for (uint64_t i = 0; i < n; i += RB_BULK) {
		struct rt_entry *rts[RB_BULK];
		uint8_t buf[RB_BULK * 4];
		size_t k = n - i < RB_BULK ? (size_t)(n - i) : RB_BULK;
		const uint8_t *a = d->addrs + 4 * (p & mask);
		int s;

		if ((p & mask) + k > RB_ADDRS) {
			for (size_t j = 0; j < k; j++)
				memcpy(buf + 4 * j,
				    d->addrs + 4 * ((p + j) & mask), 4);
			a = buf;
		}
		p += k;
		if (r->kind == RB_PSERIALIZE_NH || r->kind == RB_RWLOCK_NH) {
			const struct rt_nexthop *nhs[RB_BULK];

			s = rt_read_enter(t);
			if (rt_lookup_nexthop_bulk(t, AF_INET, a, k, nhs) != 0)
				abort(); /* k <= RB_BULK: cannot fail */
			for (size_t j = 0; j < k; j++) {
				if (nhs[j] != NULL)
					sum += nhs[j]
					           ->nh_gateway.sin.sin_addr
					           .s_addr;
				else
					miss++;
			}
			rt_read_exit(t, s);
			continue;
		}
		s = rt_read_enter(t);
		if (rt_lookup_noref_bulk(t, AF_INET, a, k, rts) != 0)
			abort(); /* k <= RB_BULK: cannot fail */
		for (size_t j = 0; j < k; j++)
			sum += rb_use_entry(rts[j], &miss);
		rt_read_exit(t, s);
	}
	*pos = p;
	*misses += miss;
	return sum;
}

/* n uncached lookups starting at *pos; returns the next-hop sum. */
/*
 * What an IPv6 reader does with an entry it found: as rb_use_entry(),
 * the gateway's low 32 bits.
 */
static inline uint64_t
rb_use_entry6(const struct rt_entry *rt, uint64_t *miss)
{
	uint32_t w;

	if (rt != NULL && !(rt_getflags(rt) & MPSAFE_RTF_UPDATING)) {
		memcpy(&w, rt->rt_gateway.sin6.sin6_addr.s6_addr + 12, 4);
		return w;
	}
	(*miss)++;
	return 0;
}

/*
 * route-lookup6: rb_lookup_batch() on the IPv6 table, apart so that the
 * IPv4 loops stay as they were measured.
 */
static uint64_t
rb_lookup6_batch(struct rb_run *r, size_t *pos, uint64_t n, uint64_t *misses)
{
	struct rt_table *t = r->tb->t;
	const struct rb_data *d = r->d;
	const size_t mask = RB_ADDRS - 1;
	uint64_t sum = 0, miss = 0;
	size_t p = *pos;

	switch (r->kind) {
	case RB_RWLOCK:
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = rt_read_enter(t);
			struct rt_entry *rt = rt_lookup_noref(
			    t, AF_INET6, d->addrs + 16 * (p & mask));

			sum += rb_use_entry6(rt, &miss);
			rt_read_exit(t, s);
		}
		break;
	case RB_PSERIALIZE:
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = pserialize_read_enter(); /* as route-lookup */
			struct rt_entry *rt = rt_lookup_noref(
			    t, AF_INET6, d->addrs + 16 * (p & mask));

			sum += rb_use_entry6(rt, &miss);
			pserialize_read_exit(s);
		}
		break;
	case RB_REFCOUNT:
		for (uint64_t i = 0; i < n; i++, p++) {
			struct rt_hold h;
			struct rt_entry *rt = rt_lookup(t,
			    (const struct sockaddr *)&d->sins6[p & mask],
			    MPSAFE_RT_NOWAIT, &h);

			sum += rb_use_entry6(rt, &miss);
			if (rt != NULL)
				rt_release(rt, &h);
		}
		break;
	case RB_PSREF:
	default:
		for (uint64_t i = 0; i < n; i++, p++) {
			struct rt_entry *rt = rtalloc1(t,
			    (const struct sockaddr *)&d->sins6[p & mask],
			    MPSAFE_RT_NOWAIT);

			sum += rb_use_entry6(rt, &miss);
			if (rt != NULL)
				rt_unref(rt);
		}
		break;
	}
	*pos = p;
	*misses += miss;
	return sum;
}

static uint64_t
rb_lookup_batch(struct rb_run *r, size_t *pos, uint64_t n, uint64_t *misses)
{
	struct rt_table *t = r->tb->t;
	const struct rb_data *d = r->d;
	const size_t mask = RB_ADDRS - 1;
	uint64_t sum = 0, miss = 0;
	size_t p = *pos;

	if (r->bulk)
		return rb_bulk_batch(r, pos, n, misses);
	if (r->family == AF_INET6)
		return rb_lookup6_batch(r, pos, n, misses);
	switch (r->kind) {
	case RB_DPDK:
	case RB_DPDK_FIB:
#ifdef BENCH_HAVE_DPDK
		return bench_lpm_lookup_loop(
		    r->tb->lpm, d->addrs_host, mask, pos, n, misses);
#else
		return 0;
#endif
	case RB_RWLOCK:
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = rt_read_enter(t);
			struct rt_entry *rt = rt_lookup_noref(
			    t, AF_INET, d->addrs + 4 * (p & mask));

			sum += rb_use_entry(rt, &miss);
			rt_read_exit(t, s);
		}
		break;
	case RB_PSERIALIZE:
		/*
		 * On a lockless table a pserialize section is the table's
		 * read side (route.h, rt_read_enter()): opened inline.
		 */
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = pserialize_read_enter();
			struct rt_entry *rt = rt_lookup_noref(
			    t, AF_INET, d->addrs + 4 * (p & mask));

			sum += rb_use_entry(rt, &miss);
			pserialize_read_exit(s);
		}
		break;
	case RB_PSERIALIZE_NH:
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = pserialize_read_enter(); /* as RB_PSERIALIZE */
			const struct rt_nexthop *nh = rt_lookup_nexthop(
			    t, AF_INET, d->addrs + 4 * (p & mask));

			if (nh != NULL)
				sum += nh->nh_gateway.sin.sin_addr.s_addr;
			else
				miss++;
			pserialize_read_exit(s);
		}
		break;
	case RB_RWLOCK_NH:
		for (uint64_t i = 0; i < n; i++, p++) {
			int s = rt_read_enter(t); /* the read lock */
			const struct rt_nexthop *nh = rt_lookup_nexthop(
			    t, AF_INET, d->addrs + 4 * (p & mask));

			if (nh != NULL)
				sum += nh->nh_gateway.sin.sin_addr.s_addr;
			else
				miss++;
			rt_read_exit(t, s);
		}
		break;
	case RB_REFCOUNT:
		for (uint64_t i = 0; i < n; i++, p++) {
			struct rt_hold h;
			struct rt_entry *rt = rt_lookup(t,
			    (const struct sockaddr *)&d->sins[p & mask],
			    MPSAFE_RT_NOWAIT, &h);

			if (rt != NULL) {
				sum += rt->rt_gateway.sin.sin_addr.s_addr;
				rt_release(rt, &h);
			} else {
				miss++;
			}
		}
		break;
	case RB_PSREF:
	default:
		for (uint64_t i = 0; i < n; i++, p++) {
			struct rt_entry *rt = rtalloc1(t,
			    (const struct sockaddr *)&d->sins[p & mask],
			    MPSAFE_RT_NOWAIT);

			if (rt != NULL) {
				sum += rt->rt_gateway.sin.sin_addr.s_addr;
				rt_unref(rt);
			} else {
				miss++;
			}
		}
		break;
	}
	*pos = p;
	*misses += miss;
	return sum;
}

static void
rb_reader_thread(struct bench_thread *t)
{
	struct rb_reader *rd = t->arg;
	struct rb_run *r = rd->run;
	/* Threads start far apart in the address list. */
	size_t pos = (size_t)t->id * (RB_ADDRS / 8 + 4099);
	uint64_t sink = 0, ops = 0, miss = 0, t0, t1;

	bench_thread_ready(t);
	while (bench_phase(t) == BENCH_PHASE_WARMUP)
		sink += rb_lookup_batch(r, &pos, BENCH_READ_BATCH, &miss);
	miss = 0;
	t0 = bench_now_ns();
	while (bench_phase(t) == BENCH_PHASE_MEASURE) {
		sink += rb_lookup_batch(r, &pos, BENCH_READ_BATCH, &miss);
		ops += BENCH_READ_BATCH;
	}
	t1 = bench_now_ns();
	t->ops = ops;
	t->elapsed_ns = ops > 0 ? t1 - t0 : 0;
	t->sink = sink;
	rd->misses = miss;
}

/* rtcache: n lookups through the thread's caches; returns the sum. */
static uint64_t
rb_cache_batch(struct rb_run *r, struct route *ro,
    const struct sockaddr_in *dst, unsigned *flow, uint64_t n, uint64_t *hits,
    uint64_t *misses)
{
	uint64_t sum = 0, h = 0, miss = 0;
	unsigned k = *flow;

	if (r->kind == RB_PAIR) {
		/*
		 * The baseline: the same loop with the lookup taken out,
		 * leaving the read section and one load of the cache (the
		 * read-side workload's section with its one load).
		 */
		for (uint64_t i = 0; i < n; i++) {
			int s = pserialize_read_enter();

			sum += (uintptr_t)ro[k].ro_rt;
			pserialize_read_exit(s);
			h++;
			k = (k + 1) % RB_FLOWS;
		}
		*flow = k;
		*hits += h;
		return sum;
	}
	if (r->kind == RB_PSERIALIZE) {
		/*
		 * The lockless design's cached lookup: no reference, inside
		 * a read section (one per lookup, as a packet path has).  On
		 * a lockless table a pserialize section is the table's read
		 * side (rt_read_enter() in route.h); opened inline here, as
		 * a packet path does for all its lookups at once.
		 */
		for (uint64_t i = 0; i < n; i++) {
			int hit = 0, s = pserialize_read_enter();
			struct rt_entry *rt = rtcache_lookup_noref(
			    &ro[k], (const struct sockaddr *)&dst[k], &hit);

			if (rt != NULL)
				sum += rt->rt_gateway.sin.sin_addr.s_addr;
			else
				miss++;
			pserialize_read_exit(s);
			h += (uint64_t)hit;
			k = (k + 1) % RB_FLOWS;
		}
		*flow = k;
		*hits += h;
		*misses += miss;
		return sum;
	}
	for (uint64_t i = 0; i < n; i++) {
		int hit = 0;
		struct rt_entry *rt = rtcache_lookup2(
		    &ro[k], (const struct sockaddr *)&dst[k], 0, &hit);

		if (rt != NULL) {
			sum += rt->rt_gateway.sin.sin_addr.s_addr;
			rtcache_unref(rt, &ro[k]);
		} else {
			miss++;
		}
		h += (uint64_t)hit;
		k = (k + 1) % RB_FLOWS;
	}
	*flow = k;
	*hits += h;
	*misses += miss;
	return sum;
}

static void
rb_cache_thread(struct bench_thread *t)
{
	struct rb_reader *rd = t->arg;
	struct rb_run *r = rd->run;
	struct route *ro = aligned_alloc(
	    BENCH_CACHELINE, ((RB_FLOWS * sizeof(*ro)) + BENCH_CACHELINE - 1) &
	                         ~(size_t)(BENCH_CACHELINE - 1));
	struct sockaddr_in dst[RB_FLOWS];
	uint64_t sink = 0, ops = 0, miss = 0, hits = 0, t0, t1;
	unsigned flow = 0;

	if (ro == NULL) {
		bench_warn("out of memory");
		abort();
	}
	for (unsigned k = 0; k < RB_FLOWS; k++) {
		size_t i = ((size_t)t->id * RB_FLOWS + k) % RB_FLOW_ADDRS;

		dst[k] = r->d->flows[i];
		rtcache_attach(&ro[k], r->tb->t, MPSAFE_RT_NOWAIT);
	}
	bench_thread_ready(t);
	while (bench_phase(t) == BENCH_PHASE_WARMUP)
		sink += rb_cache_batch(
		    r, ro, dst, &flow, BENCH_READ_BATCH, &hits, &miss);
	miss = hits = 0;
	t0 = bench_now_ns();
	while (bench_phase(t) == BENCH_PHASE_MEASURE) {
		sink += rb_cache_batch(
		    r, ro, dst, &flow, BENCH_READ_BATCH, &hits, &miss);
		ops += BENCH_READ_BATCH;
	}
	t1 = bench_now_ns();
	for (unsigned k = 0; k < RB_FLOWS; k++)
		rtcache_free(&ro[k]);
	free(ro);
	t->ops = ops;
	t->elapsed_ns = ops > 0 ? t1 - t0 : 0;
	t->sink = sink;
	rd->misses = miss;
	rd->hits = hits;
}

/* The churn thread: rate updates per second, each one timed. */
static void
rb_churn_thread(struct bench_thread *t)
{
	struct rb_run *r = t->arg;
	uint64_t interval = (uint64_t)(1e9 / r->rate), next;
	bool measuring = false;

	bench_thread_ready(t);
	next = bench_now_ns();
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct rtgen_update u;
		uint64_t a, b;
		int error;

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			mpsafe_defer_reset_peak();
		}
		if (!bench_pace(&next, interval))
			continue;
		rtgen_churn_next(r->tb->churn, &u);
		a = bench_now_ns();
		error = rb_update(r->tb, &u);
		b = bench_now_ns();
		if (error != 0) {
			if (r->update_errors++ == 0)
				r->first_error = error;
		}
		if (measuring) {
			r->updates++;
			bench_hist_add(&r->hist, b - a);
			bench_hist_add(&r->op_hist[u.ru_op], b - a);
			/*
			 * Not on RWLOCK tables: there rt_table_stats()
			 * takes the write lock, and doing that after each
			 * update stalled rtcache readers (27 ms a lookup,
			 * 1.5% cache hits, measured); their deleted
			 * entries are freed by the table's workqueue once
			 * released.
			 */
			if (r->tb->t != NULL &&
			    r->tb->sync == RT_SYNC_PSERIALIZE) {
				size_t p = rb_pending(r->tb);

				if (p > r->pending_peak)
					r->pending_peak = p;
			}
		}
	}
}

static const char *
rb_supports_lookup(const struct bench_strategy *s)
{
	enum rb_kind k = rb_kind_of(s);

#ifndef BENCH_HAVE_DPDK
	if (rb_is_dpdk(k))
		return "built without DPDK";
#endif
	if (k == RB_NONE)
		return "not a routing-table design (rwlock, rwlock-nh, "
		       "refcount, psref, pserialize, pserialize-nh, dpdk-lpm, "
		       "dpdk-fib)";
	if (k == RB_PAIR)
		return "rtcache's baseline, no lookup";
	return NULL;
}

static const char *
rb_supports_bulk(const struct bench_strategy *s)
{
	enum rb_kind k = rb_kind_of(s);

	if (k != RB_PSERIALIZE && k != RB_PSERIALIZE_NH && k != RB_RWLOCK &&
	    k != RB_RWLOCK_NH && !rb_is_dpdk(k))
		return "no bulk lookup (pserialize, pserialize-nh, rwlock, "
		       "rwlock-nh, dpdk-fib, dpdk-lpm)";
	return rb_supports_lookup(s);
}

static const char *
rb_supports_cache(const struct bench_strategy *s)
{
	enum rb_kind k = rb_kind_of(s);

	if (k == RB_NONE || k == RB_PSERIALIZE_NH || k == RB_RWLOCK_NH ||
	    rb_is_dpdk(k))
		return "not a routing-table design with route caches "
		       "(rwlock, refcount, psref, pserialize)";
	return NULL;
}

static const char *
rb_supports_lookup6(const struct bench_strategy *s)
{
	enum rb_kind k = rb_kind_of(s);

	if (k != RB_RWLOCK && k != RB_REFCOUNT && k != RB_PSREF &&
	    k != RB_PSERIALIZE)
		return "not a routing-table design with an IPv6 entry lookup "
		       "(rwlock, refcount, psref, pserialize)";
	return NULL;
}

static const char *
rb_supports_mem(const struct bench_strategy *s)
{
	if (rb_kind_of(s) == RB_PSERIALIZE_NH)
		return "the pserialize table (route-mem measures it)";
	if (rb_kind_of(s) == RB_RWLOCK_NH)
		return "the rwlock table (route-mem measures it)";
	return rb_supports_lookup(s);
}

static const char *
rb_supports_mem6(const struct bench_strategy *s)
{
	if (rb_is_dpdk(rb_kind_of(s)))
		return "rte_lpm and rte_fib DIR24_8 are IPv4 only";
	return rb_supports_mem(s);
}

static size_t
rb_size(const struct bench_config *cfg, int family)
{
	if (cfg->table_size > 0)
		return cfg->table_size;
	return family == AF_INET ? RB_DEFAULT_SIZE4 : RB_DEFAULT_SIZE6;
}

static int
rb_run_readers(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res, bool cached, bool bulk, int family)
{
	unsigned nr = cfg->threads, nw = cfg->writers, n = nr + nw;
	struct bench_thread *threads;
	struct rb_reader *readers;
	struct rb_run *r;
	struct mpsafe_defer_stats ds;
	struct rb_held held = {0, NULL, NULL};
	uint64_t measured, misses = 0, hits = 0, ops = 0;
	int error;

	r = calloc(1, sizeof(*r));
	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * (n + 1));
	readers = aligned_alloc(BENCH_CACHELINE,
	    ((sizeof(*readers) * (nr + 1)) + BENCH_CACHELINE - 1) &
	        ~(size_t)(BENCH_CACHELINE - 1));
	if (r == NULL || threads == NULL || readers == NULL) {
		bench_warn("out of memory");
		free(r);
		free(threads);
		free(readers);
		return -1;
	}
	r->kind = rb_kind_of(s);
	r->cached = cached;
	r->bulk = bulk;
	r->rate = cfg->churn_rate > 0 ? cfg->churn_rate : 1000;
	r->family = family;
	r->tb = rb_table_get(
	    r->kind, family, rb_size(cfg, family), cfg->small_pages);
	r->d = rb_data_get(family, rb_size(cfg, family));
	if (r->tb == NULL || r->d == NULL) {
		free(r);
		free(threads);
		free(readers);
		return -1;
	}
	for (unsigned i = 0; i < nr; i++) {
		readers[i] = (struct rb_reader){.run = r};
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = cached ? rb_cache_thread : rb_reader_thread,
		    .arg = &readers[i],
		    .index = i,
		    .id = i,
		};
	}
	for (unsigned j = 0; j < nw; j++)
		threads[nr + j] = (struct bench_thread){
		    .strategy = s,
		    .body = rb_churn_thread,
		    .arg = r,
		    .index = nr + j,
		    .id = j,
		};
	if (cfg->held > 0 && family != AF_INET) {
		bench_warn("--held: route-lookup, route-bulk and rtcache only");
		free(r);
		free(threads);
		free(readers);
		return -1;
	}
	if (cfg->held > 0 && !rb_is_dpdk(r->kind)) {
		if (rb_hold_deleted(
		        r->tb->t, cfg->held, cfg->held_psref, &held) != 0) {
			free(r);
			free(threads);
			free(readers);
			return -1;
		}
	}
	mpsafe_defer_reset_peak();
	error = bench_run_threads(threads, n, cfg, &measured);
	mpsafe_defer_stats(&ds);
	rb_unhold(&held, held.n);

	bench_result_from_threads(res, threads, nr, measured);
	for (unsigned i = 0; i < nr; i++) {
		misses += readers[i].misses;
		hits += readers[i].hits;
		ops += threads[i].ops;
	}
	res->writers = nw;
	res->has_mem = true;
	res->mem_bytes = r->tb->mem;
	res->mem_prefixes = r->tb->n;
	if (nw > 0) {
		res->has_lat = true;
		res->has_writer_ops = true;
		res->writer_ops = r->updates;
		res->lat_p50_ns = bench_hist_quantile(&r->hist, 0.50);
		res->lat_p99_ns = bench_hist_quantile(&r->hist, 0.99);
	}
	if (!rb_is_dpdk(r->kind)) {
		res->has_pending = true;
		res->pending_peak_bytes = ds.pending_peak_bytes;
		if (r->pending_peak > res->pending_peak_bytes)
			res->pending_peak_bytes = r->pending_peak;
	}
	if (ops > 0)
		fprintf(stderr, " [%.1f%% miss%s", 100.0 * misses / ops,
		    cached ? "" : "]");
	if (cached && ops > 0)
		fprintf(stderr, ", %.3f%% cache hits]", 100.0 * hits / ops);
	if (nw > 0 && r->updates > 0)
		fprintf(stderr,
		    " [update p50 add %" PRIu64 " delete %" PRIu64
		    " change %" PRIu64 " ns]",
		    bench_hist_quantile(&r->op_hist[RTGEN_ADD], 0.5),
		    bench_hist_quantile(&r->op_hist[RTGEN_DELETE], 0.5),
		    bench_hist_quantile(&r->op_hist[RTGEN_CHANGE], 0.5));
	if (r->update_errors > 0) {
		bench_warn("%s: %" PRIu64 " updates failed (first: %s)",
		    s->name, r->update_errors, strerror(r->first_error));
		error = -1;
	}
	free(r);
	free(threads);
	free(readers);
	return error;
}

static int
rb_lookup_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_run_readers(s, cfg, res, false, false, AF_INET);
}

static int
rb_lookup6_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_run_readers(s, cfg, res, false, false, AF_INET6);
}

static int
rb_bulk_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_run_readers(s, cfg, res, false, true, AF_INET);
}

static int
rb_cache_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_run_readers(s, cfg, res, true, false, AF_INET);
}

static int
rb_mem_run_family(const struct bench_strategy *s,
    const struct bench_config *cfg, struct bench_result *res, int family)
{
	size_t n = rb_size(cfg, family);
	struct rb_table *tb =
	    rb_table_get(rb_kind_of(s), family, n, cfg->small_pages);

	if (tb == NULL)
		return -1;
	res->ops = n;
	res->seconds = tb->build_s;
	res->ops_per_sec = tb->build_s > 0 ? (double)n / tb->build_s : 0;
	res->has_ns_per_op = true;
	res->ns_per_op = tb->build_s * 1e9 / (double)n;
	res->has_mem = true;
	res->mem_bytes = tb->mem;
	res->mem_prefixes = n;
	if (tb->stats_total > 0)
		fprintf(stderr, " [rt_table_stats: %.1f B/prefix]",
		    (double)tb->stats_total / (double)n);
	return 0;
}

static int
rb_mem_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_mem_run_family(s, cfg, res, AF_INET);
}

static int
rb_mem6_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	return rb_mem_run_family(s, cfg, res, AF_INET6);
}

const struct bench_workload workload_route_lookup = {
    .name = "route-lookup",
    .description = "N readers doing uncached LPM lookups in a generated "
                   "1M-prefix IPv4 table vs a churn thread (--churn-rate "
                   "updates/s): lookup ns/op, update p50/p99, pending bytes",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = rb_supports_lookup,
    .run = rb_lookup_run,
};

const struct bench_workload workload_route_lookup6 = {
    .name = "route-lookup6",
    .description = "route-lookup in the generated 200k-prefix IPv6 table "
                   "(rwlock, refcount, psref, pserialize): lookup ns/op",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = rb_supports_lookup6,
    .run = rb_lookup6_run,
};

const struct bench_workload workload_route_bulk = {
    .name = "route-bulk",
    .description = "route-lookup in batches of 32 addresses "
                   "(rt_lookup_noref_bulk, rte_fib/rte_lpm lookup_bulk): "
                   "lookup ns/op",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = rb_supports_bulk,
    .run = rb_bulk_run,
};

const struct bench_workload workload_rtcache = {
    .name = "rtcache",
    .description = "route-lookup through per-thread route caches (struct "
                   "route, 64 flows per thread): cached lookup ns/op",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = rb_supports_cache,
    .run = rb_cache_run,
};

const struct bench_workload workload_route_mem = {
    .name = "route-mem",
    .description = "build the generated IPv4 table (--table-size, default "
                   "1M): ns per insert, memory per prefix (mem_bytes)",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 0,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = rb_supports_mem,
    .run = rb_mem_run,
};

const struct bench_workload workload_route_mem6 = {
    .name = "route-mem6",
    .description = "the same for the IPv6 table (default 200k prefixes)",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 0,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = rb_supports_mem6,
    .run = rb_mem6_run,
};
