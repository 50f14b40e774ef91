/*
 * bench/workload_forward.c: the whole forwarding path under load.
 *
 * N forwarding threads (--threads) each own a ring of FW_PKTS packets (a
 * fixed set, recycled: no allocation per packet), IPv4, whose receive
 * interface is recorded by index.  For each data packet a thread:
 *   1. resolves the receive interface from the packet's index (reads its
 *      MTU, checks it is not poison, counts the packet on it);
 *   2. looks the destination up through its route cache for the packet's
 *      flow (FW_FLOWS caches per thread, struct route; the flow is what a
 *      NIC's receive hash would give), falling back to the table;
 *   3. drops the packet on a reject or blackhole route, or when there is
 *      no route;
 *   4. resolves the output interface by the route's interface index and
 *      the next hop's link-layer address in that interface's neighbour
 *      table (struct lltable: L2 next hops are kept apart from routes, as
 *      in NetBSD since 2015), counts the packet on the interface;
 *   5. recycles the packet.
 * A control message (an IPv4 ICMP redirect; --ctl-permille of the
 * ring's packets when the run has churn, default 10 per 1000) is copied
 * into a packet from the pool and handed to wqinput; its handler, on a
 * workqueue thread, validates the message and applies it to the routing table
 * (ip_redirect_input(): RTM_CHANGE of the gateway, NetBSD's rtredirect
 * rules).  One control slot of the ring in FW_CTL_BAD_EVERY is
 * malformed (a truncated packet or a header that lies about a length):
 * the handler must drop and count it.  A well-formed redirect changes
 * its route once, then is refused (no longer from the current first
 * hop); each thread rewrites one in FW_CTL_REGEN from the route as it
 * is then, so that routes keep changing in the measured phase.
 *
 * With --writers 1 (churn), two more threads run: a control thread
 * applying --churn-rate route updates per second (synthetic adds, deletes
 * and changes from rtgen_churn, or a route-update file replayed, see
 * MPSAFE_BENCH_FORWARD_UPDATES below), and an interface thread that
 * detaches one interface and attaches a replacement (same index, a fresh
 * neighbour table) every --interval-us microseconds, rotating over them.
 * With --writers 0 nothing changes: no control messages either.
 *
 * Strategies, each one applied to all three lookups (interface, route,
 * neighbour):
 *   none        no protection at all (run without churn only: the floor):
 *               m_get_rcvif_NOMPSAFE(), rtcache_lookup_noref() with no
 *               read section, if_byindex(); the lockless tables.
 *   biglock     none's path with one global mutex around each packet,
 *               also taken by every writer (route updates, redirects,
 *               interface detach): the world before NET_MPSAFE.
 *   rwlock      the interface table (bench-local, struct fw_if) under a
 *               pthread_rwlock held in read mode for the whole packet, an
 *               RT_SYNC_RWLOCK routing table whose read lock is held from
 *               lookup to last use, LLT_SYNC_RWLOCK neighbour tables.
 *   refcount    the bench-local interface table: read lock for the
 *               lookup, an atomic count on the interface while in use;
 *               routes: lockless walk, an atomic count on the entry
 *               (rt_ref()/rt_unref(), RT_REF_REFCOUNT); neighbour tables
 *               under their rwlock (copy-out lookups hold no entry).
 *   psref       NetBSD 9's path: m_get_rcvif_psref(), rtcache_lookup2()
 *               (psref on the entry), if_get_byindex() (psref), lockless
 *               neighbour tables; the lockless routing table.
 *   pserialize  one pserialize read section per packet, opened by
 *               m_get_rcvif(), covering rtcache_lookup_noref() (on a
 *               lockless table a read section is what rt_read_enter()
 *               opens), if_byindex() and the lockless neighbour tables;
 *               no reference is taken.
 * Interfaces are detached with if_detach() (psref, pserialize, biglock)
 * or, for the bench-local table, unlinked under the write lock then
 * waited for (rwlock: nothing more; refcount: the count drops to zero);
 * either way the interface is poisoned (MTU FW_POISON_MTU) before it is
 * freed, and a forwarding thread that reads poison counts a violation.
 *
 * stale_routes: the control thread raises del_seq to an odd value before
 * each delete and to the next even value after rtrequest() returns.  A
 * forwarding thread reads it before its lookup; if the entry it got has
 * RTF_UP clear (deleted) and del_seq still holds the same even value
 * afterwards, the deletion completed before the lookup began: a stale
 * route, counted as a violation.  (Ambiguous cases, a delete overlapping
 * the lookup, are not counted: they are legal.)
 *
 * Reported: ops = packets (data and control) of the measured phase,
 * ns_per_op = a thread's time per packet, ops_per_sec = packets per
 * second over all threads; lat_p50_ns/lat_p99_ns = one packet's path
 * (every FW_LAT_EVERY-th packet timed, the clock's cost subtracted);
 * writer_ops = route updates; pending_peak_bytes = mpsafe_defer()'s
 * pending peak; violations = poison seen + stale routes; and in the
 * `extra` column: upd_p50_ns/upd_p99_ns (one route update), detaches and
 * detach_p50_ns, cache_hit_pct, stale_routes, the drop counts (no_rcvif,
 * no_route, reject, blackhole, no_ofif, unresolved), control messages
 * sent, wq_drops (wqinput queue full), and the handler's outcomes
 * (ctl_applied, ctl_refused, ctl_malformed).
 *
 * MPSAFE_BENCH_FORWARD_UPDATES=FILE (environment): the control thread
 * replays FILE's updates (route-update format, "timestamp a|w prefix
 * next-hop", rtfile(3)) in a loop instead of synthetic churn, at
 * --churn-rate; withdrawals of prefixes not in the table and
 * announcements of prefixes already there become changes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/defer.h>
#include <mpsafe/net/if.h>
#include <mpsafe/net/lltable.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/redirect.h>
#include <mpsafe/net/route.h>
#include <mpsafe/net/route_file.h>
#include <mpsafe/net/wqinput.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/thread.h>

#include "bench.h"
#include "route_bench.h"

#define FW_IFS 8      /* interfaces, indexes 1..FW_IFS (1..4 for output) */
#define FW_PKTS 1024  /* packets in each thread's ring, a power of two */
#define FW_FLOWS 256  /* flows (route caches) per thread */
#define FW_DESTS 4096 /* destination addresses shared out to the flows */
#define FW_THREADS 64 /* forwarding threads at most */
#define FW_DEFAULT_SIZE 1000000ul
#define FW_NEXTHOPS 512
#define FW_SEED UINT64_C(0x6d70736166652d66)
#define FW_HIT_PERCENT 95   /* destinations inside a table prefix */
#define FW_SPECIAL 100      /* route i % 100: 1 reject, 2 blackhole */
#define FW_CTL_BAD_EVERY 10 /* one malformed control slot in 10 */
#define FW_LAT_EVERY 64     /* packets per latency sample */
#define FW_CTL_REGEN 256    /* control messages per rewritten one */
#define FW_MTU 1500u
#define FW_POISON_MTU 0xdeadu
#define FW_DATA_LEN 64
#define FW_MAX_TABLES 3

enum fw_kind {
	FW_NONE,
	FW_BIGLOCK,
	FW_RWLOCK,
	FW_REFCOUNT,
	FW_PSREF,
	FW_PSERIALIZE,
};

static const struct {
	const char *name;
	enum fw_kind kind;
} fw_map[] = {
    {"none", FW_NONE},
    {"biglock", FW_BIGLOCK},
    {"rwlock", FW_RWLOCK},
    {"refcount", FW_REFCOUNT},
    {"psref", FW_PSREF},
    {"pserialize", FW_PSERIALIZE},
};

static int
fw_kind_of(const struct bench_strategy *s)
{
	for (size_t i = 0; i < sizeof(fw_map) / sizeof(fw_map[0]); i++)
		if (strcmp(s->name, fw_map[i].name) == 0)
			return (int)fw_map[i].kind;
	return -1;
}

/* Whether kind uses the bench-local interface table (struct fw_if). */
static bool
fw_local_ifs(enum fw_kind k)
{
	return k == FW_RWLOCK || k == FW_REFCOUNT;
}

/* --- routing tables: one per design, built on first use, kept ----------- */

struct fw_table {
	bool used;
	size_t n;
	enum rt_sync sync;
	enum rt_refmode ref;
	struct rt_table *t;
	struct rtgen_churn *churn;
	double build_s;
};

static struct fw_table fw_tables[FW_MAX_TABLES];
static struct rtgen_route *fw_routes; /* the generated table */
static size_t fw_nroutes;
static uint8_t fw_dests[FW_DESTS * 4]; /* flow destinations */

/* Flags of generated route i beyond MPSAFE_RTF_GATEWAY. */
static uint32_t
fw_route_flags(size_t i)
{
	switch (i % FW_SPECIAL) {
	case 1:
		return MPSAFE_RTF_REJECT;
	case 2:
		return MPSAFE_RTF_BLACKHOLE;
	default:
		return 0;
	}
}

static void
fw_design(enum fw_kind k, enum rt_sync *sync, enum rt_refmode *ref)
{
	*sync = k == FW_RWLOCK ? RT_SYNC_RWLOCK : RT_SYNC_PSERIALIZE;
	*ref =
	    k == FW_RWLOCK || k == FW_REFCOUNT ? RT_REF_REFCOUNT : RT_REF_PSREF;
}

static struct fw_table *
fw_table_get(enum fw_kind k, size_t n, bool small_pages)
{
	struct rt_table_config cfg;
	struct fw_table *tb = NULL;
	uint64_t t0;
	int error;

	memset(&cfg, 0, sizeof(cfg));
	fw_design(k, &cfg.rtc_sync, &cfg.rtc_ref);
	cfg.rtc_name = "forward";
	cfg.rtc_hugepages = !small_pages;
	if (fw_routes == NULL || fw_nroutes != n) {
		for (size_t i = 0; i < FW_MAX_TABLES; i++) {
			if (fw_tables[i].used) {
				rt_table_destroy(fw_tables[i].t);
				rtgen_churn_destroy(fw_tables[i].churn);
			}
			memset(&fw_tables[i], 0, sizeof(fw_tables[i]));
		}
		free(fw_routes);
		fw_routes = NULL;
		if (n > RTGEN_MAX_INET) {
			bench_warn("--table-size %zu: the generator makes at "
			           "most %d IPv4 prefixes",
			    n, RTGEN_MAX_INET);
			return NULL;
		}
		error =
		    rtgen_table(AF_INET, n, FW_NEXTHOPS, FW_SEED, &fw_routes);
		if (error != 0) {
			bench_warn(
			    "generating %zu prefixes: %s", n, strerror(error));
			return NULL;
		}
		fw_nroutes = n;
		rtgen_lookups(fw_routes, n, FW_DESTS, FW_HIT_PERCENT,
		    FW_SEED + 1, fw_dests);
	}
	for (size_t i = 0; i < FW_MAX_TABLES; i++)
		if (fw_tables[i].used && fw_tables[i].sync == cfg.rtc_sync &&
		    fw_tables[i].ref == cfg.rtc_ref)
			return &fw_tables[i];
	for (size_t i = 0; i < FW_MAX_TABLES && tb == NULL; i++)
		if (!fw_tables[i].used)
			tb = &fw_tables[i];
	if (tb == NULL)
		return NULL; /* cannot happen: three designs, three slots */
	t0 = bench_now_ns();
	error = rt_table_create(&tb->t, &cfg);
	if (error != 0) {
		bench_warn("rt_table_create: %s", strerror(error));
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		error = bench_rt_request(tb->t, MPSAFE_RTM_ADD, &fw_routes[i],
		    fw_routes[i].rg_nexthop, fw_route_flags(i));
		if (error != 0) {
			bench_warn("rtrequest(RTM_ADD) of route %zu: %s", i,
			    strerror(error));
			rt_table_destroy(tb->t);
			return NULL;
		}
	}
	tb->churn = rtgen_churn_create(fw_routes, n, FW_NEXTHOPS, FW_SEED + 3);
	if (tb->churn == NULL) {
		bench_warn("out of memory");
		rt_table_destroy(tb->t);
		return NULL;
	}
	tb->n = n;
	tb->sync = cfg.rtc_sync;
	tb->ref = cfg.rtc_ref;
	tb->build_s = (double)(bench_now_ns() - t0) / 1e9;
	tb->used = true;
	fprintf(stderr, " (built %zu IPv4 prefixes in %.2f s)", n, tb->build_s);
	return tb;
}

/* --- interfaces ----------------------------------------------------------- */

/*
 * The bench-local interface of rwlock and refcount (FreeBSD's ifnet with
 * if_ref()): found through fw_iftab under fw_iflock.
 */
struct fw_if {
	unsigned fi_index;
	_Atomic unsigned fi_mtu; /* FW_POISON_MTU once detached */
	struct lltable *fi_llt;
	/* refcount: references held; its own line. */
	alignas(BENCH_CACHELINE) _Atomic unsigned fi_refcnt;
	/* One counter line per forwarding thread, written by it only. */
	struct {
		alignas(BENCH_CACHELINE) uint64_t c_ipackets;
		uint64_t c_opackets;
	} fi_stats[FW_THREADS];
};

static pthread_rwlock_t fw_iflock;
static struct fw_if *fw_iftab[FW_IFS + 1]; /* fw_iflock */
/* psref, pserialize, none, biglock: mpsafe_net's interfaces. */
static struct ifnet *fw_ifp[FW_IFS + 1]; /* the interface thread's */
/* biglock: around each packet and each change. */
static pthread_mutex_t fw_biglock = PTHREAD_MUTEX_INITIALIZER;

/* A neighbour table for interface idx holding its next hops. */
static struct lltable *
fw_llt_new(unsigned idx, enum lltable_sync sync)
{
	struct lltable *llt;

	if (lltable_create(&llt, AF_INET, idx, sync, 0) != 0)
		return NULL;
	for (uint32_t nh = 0; nh < FW_NEXTHOPS; nh++) {
		union rt_sockaddr sa;
		uint8_t a[4],
		    mac[6] = {0x02, 0, 0, 0, (uint8_t)(nh >> 8), (uint8_t)nh};

		if (BENCH_RT_IFINDEX(nh) != idx)
			continue;
		rtgen_nexthop(AF_INET, nh, a);
		bench_rt_sockaddr(AF_INET, a, &sa);
		if (lla_update(llt, &sa.sa, mac, sizeof(mac), 0) != 0) {
			lltable_destroy(llt);
			return NULL;
		}
	}
	return llt;
}

static struct ifnet *
fw_ifnet_new(unsigned idx)
{
	static unsigned serial;
	struct ifnet *ifp = aligned_alloc(
	    BENCH_CACHELINE, (sizeof(*ifp) + BENCH_CACHELINE - 1) &
	                         ~(size_t)(BENCH_CACHELINE - 1));

	if (ifp == NULL)
		return NULL;
	memset(ifp, 0, sizeof(*ifp));
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "fwd%u", serial++);
	ifp->if_mtu = FW_MTU;
	ifp->if_softc = fw_llt_new(idx, LLT_SYNC_PSERIALIZE);
	if (ifp->if_softc == NULL) {
		free(ifp);
		return NULL;
	}
	return ifp;
}

static void
fw_ifnet_free(struct ifnet *ifp)
{
	/* Relaxed: detached, no reader can reach it any more. */
	atomic_store_explicit(
	    &ifp->if_mtu, FW_POISON_MTU, memory_order_relaxed);
	lltable_destroy(ifp->if_softc);
	free(ifp);
}

/* Attach a new interface at index idx (the lowest free one). */
static int
fw_ifnet_attach(unsigned idx)
{
	struct ifnet *ifp = fw_ifnet_new(idx);
	int error;

	if (ifp == NULL)
		return ENOMEM;
	error = if_attach(ifp);
	if (error == 0 && ifp->if_index != idx) {
		bench_warn("forward: interface table not empty (index %u)",
		    ifp->if_index);
		if_detach(ifp);
		error = EEXIST;
	}
	if (error != 0) {
		lltable_destroy(ifp->if_softc);
		free(ifp);
		return error;
	}
	fw_ifp[idx] = ifp;
	return 0;
}

static struct fw_if *
fw_if_new(unsigned idx)
{
	struct fw_if *fi = aligned_alloc(BENCH_CACHELINE, sizeof(*fi));

	if (fi == NULL)
		return NULL;
	memset(fi, 0, sizeof(*fi));
	fi->fi_index = idx;
	atomic_init(&fi->fi_mtu, FW_MTU);
	atomic_init(&fi->fi_refcnt, 0);
	fi->fi_llt = fw_llt_new(idx, LLT_SYNC_RWLOCK);
	if (fi->fi_llt == NULL) {
		free(fi);
		return NULL;
	}
	return fi;
}

static void
fw_if_free(struct fw_if *fi)
{
	/* Relaxed: unlinked and waited for, no reader can reach it. */
	atomic_store_explicit(&fi->fi_mtu, FW_POISON_MTU, memory_order_relaxed);
	lltable_destroy(fi->fi_llt);
	free(fi);
}

static int
fw_ifs_init(enum fw_kind k)
{
	pthread_rwlockattr_t a;

	if (!fw_local_ifs(k)) {
		for (unsigned i = 1; i <= FW_IFS; i++) {
			int error = fw_ifnet_attach(i);

			if (error != 0)
				return error;
		}
		return 0;
	}
	/* Prefer writers: readers never stop, detach must get in. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
	    &a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fw_iflock, &a);
	pthread_rwlockattr_destroy(&a);
	for (unsigned i = 1; i <= FW_IFS; i++) {
		fw_iftab[i] = fw_if_new(i);
		if (fw_iftab[i] == NULL)
			return ENOMEM;
	}
	return 0;
}

static void
fw_ifs_fini(enum fw_kind k)
{
	for (unsigned i = 1; i <= FW_IFS; i++) {
		if (fw_ifp[i] != NULL) {
			if_detach(fw_ifp[i]);
			fw_ifnet_free(fw_ifp[i]);
			fw_ifp[i] = NULL;
		}
		if (fw_iftab[i] != NULL) {
			fw_if_free(fw_iftab[i]);
			fw_iftab[i] = NULL;
		}
	}
	if (fw_local_ifs(k))
		pthread_rwlock_destroy(&fw_iflock);
}

/* refcount: the interface at idx with a count taken, or NULL. */
static inline struct fw_if *
fw_if_get(unsigned idx)
{
	struct fw_if *fi;

	pthread_rwlock_rdlock(&fw_iflock);
	fi = idx <= FW_IFS ? fw_iftab[idx] : NULL;
	if (fi != NULL)
		/* Relaxed: the read lock orders it against the unlink. */
		atomic_fetch_add_explicit(
		    &fi->fi_refcnt, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&fw_iflock);
	return fi;
}

static inline void
fw_if_put(struct fw_if *fi)
{
	/* Release: our reads of fi happen before the detacher's free. */
	atomic_fetch_sub_explicit(&fi->fi_refcnt, 1, memory_order_release);
}

/* --- a run ---------------------------------------------------------------- */

struct fw_run {
	enum fw_kind kind;
	bool churn;
	struct fw_table *tb;
	struct wqinput *wqi;
	double rate;
	unsigned ctl_permille; /* control slots per 1000 of the ring */
	uint64_t if_interval_ns;
	/* Deletes: odd while one is in progress (see the top comment). */
	alignas(BENCH_CACHELINE) _Atomic uint64_t del_seq;
	/* The control-message handler's outcomes (workqueue threads). */
	alignas(BENCH_CACHELINE) _Atomic uint64_t ctl_applied;
	_Atomic uint64_t ctl_refused;
	_Atomic uint64_t ctl_malformed;
	_Atomic uint64_t ctl_failed;
	int ctl_first_error;
	/* The outcomes when the measured phase began (control thread). */
	uint64_t ctl_base[3];
	/* Control thread. */
	alignas(BENCH_CACHELINE) uint64_t updates;
	uint64_t update_errors;
	int first_error;
	struct bench_hist upd_hist;
	/* Interface thread. */
	uint64_t detaches;
	int if_error;
	struct bench_hist det_hist;
	/* Updates replayed from a file, if any (see fw_replay_load()). */
	struct fw_replay *replay;
	size_t nreplay, replay_pos;
	uint64_t replay_noops;
};

/* The run in progress: the wqinput handler's context. */
static struct fw_run *fw_cur;

/* Per forwarding thread, in its own memory. */
struct fw_worker {
	struct fw_run *run;
	unsigned id;
	struct mbuf *pkt[FW_PKTS];
	uint16_t flow[FW_PKTS];
	uint8_t ctl_bad[FW_PKTS]; /* malformed variant of a control slot */
	uint64_t ctl_total;       /* control messages, warm-up included */
	struct route ro[FW_FLOWS];
	union rt_sockaddr dst[FW_FLOWS];
	uint64_t forwarded, no_rcvif, no_route, reject, blackhole, no_ofif,
	    unresolved, ctl, wq_drops, hits, lookups, stale, poison;
	struct bench_hist lat;
};

/* Recompute the checksum at offset off of the len bytes at p. */
static void
fw_fix_cksum(uint8_t *p, size_t off, size_t len)
{
	uint16_t c;

	p[off] = p[off + 1] = 0;
	c = inet_cksum(p, len);
	p[off] = (uint8_t)(c >> 8);
	p[off + 1] = (uint8_t)c;
}

/* Write a 20-byte IPv4 header: proto, src, dst, total length tot. */
static void
fw_iphdr(uint8_t *ip, uint8_t proto, const uint8_t *src, const uint8_t *dst,
    size_t tot)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	fw_fix_cksum(ip, 10, 20);
}

/*
 * Fill m with a redirect for dst from its route's current gateway to
 * another next hop on the same interface; malformed (variant bad, 1..4)
 * if bad is not 0.
 */
static void
fw_make_ctl(struct fw_run *r, struct mbuf *m, const uint8_t *dst, unsigned bad)
{
	struct rt_table *t = r->tb->t;
	struct in_addr gw, d;
	uint8_t src[4] = {192, 0, 2, 1};
	uint32_t nh = 0;
	size_t icmp_len, tot;
	int s = rt_read_enter(t);
	struct rt_entry *rt = rt_lookup_noref(t, AF_INET, dst);

	if (rt != NULL && (rt_getflags(rt) & MPSAFE_RTF_GATEWAY)) {
		const uint8_t *g =
		    (const uint8_t *)&rt->rt_gateway.sin.sin_addr;

		memcpy(src, g, 4);
		/* The generated next hop's index (rtgen_nexthop()). */
		nh = (((uint32_t)g[1] & 0x3f) << 16 | (uint32_t)g[2] << 8 |
		         g[3]) -
		     1;
	}
	rt_read_exit(t, s);
	/*
	 * Another next hop on the same interface (BENCH_RT_IFINDEX): a
	 * redirect that changes something, once; repeated, it is refused
	 * (it no longer comes from the current first hop).
	 */
	nh = (nh + 4 * (1 + (dst[3] % 16))) % FW_NEXTHOPS;
	rtgen_nexthop(AF_INET, nh, (uint8_t *)&gw);
	memcpy(&d, dst, 4);
	icmp_len = icmp_redirect_build(
	    m->m_data + 20, MLEN - 20, 0 /* net redirect */, &gw, &d);
	tot = 20 + icmp_len;
	fw_iphdr(m->m_data, IPPROTO_ICMP, src, dst, tot);
	m->m_len = (int)tot;
	switch (bad) {
	case 1: /* truncated: the packet is shorter than its header says */
		m->m_len = (int)tot - 5;
		break;
	case 2: /* an IHL beyond the packet */
		m->m_data[0] = 0x4f;
		m->m_len = 40;
		break;
	case 3: /* a total length beyond the packet (checksum redone) */
		m->m_data[2] = 0x0f;
		fw_fix_cksum(m->m_data, 10, 20);
		break;
	case 4: /* an inner IHL beyond the message (checksum redone) */
		m->m_data[20 + 8] = 0x4f;
		fw_fix_cksum(m->m_data + 20, 2, icmp_len);
		break;
	default:
		break;
	}
	m->m_pkthdr.len = m->m_len;
}

/* Set up w's ring, flows and caches. */
static int
fw_worker_init(struct fw_worker *w, struct fw_run *r, unsigned id)
{
	memset(w, 0, sizeof(*w));
	w->run = r;
	w->id = id;
	for (unsigned k = 0; k < FW_FLOWS; k++) {
		size_t di = ((size_t)id * FW_FLOWS + k) % FW_DESTS;

		bench_rt_sockaddr(AF_INET, fw_dests + 4 * di, &w->dst[k]);
		rtcache_attach(&w->ro[k], r->tb->t, MPSAFE_RT_NOWAIT);
	}
	for (unsigned i = 0, ctl_slots = 0; i < FW_PKTS; i++) {
		struct mbuf *m = m_gethdr(M_WAITOK);
		/* A fixed scramble: consecutive packets, different flows. */
		unsigned k =
		    (unsigned)(((uint64_t)i * 2654435761u) >> 7) % FW_FLOWS;
		uint8_t src[4] = {198, 51, 100, (uint8_t)id};

		if (m == NULL)
			return ENOMEM;
		w->pkt[i] = m;
		w->flow[i] = (uint16_t)k;
		m->m_pkthdr.rcvif_index = 1 + (i * 7 + id) % FW_IFS;
		/* Control slots: permille of the ring, spread evenly. */
		if (r->churn && ((i + 1) * r->ctl_permille) / 1000 !=
		                    (i * r->ctl_permille) / 1000) {
			unsigned c = ctl_slots++;

			w->ctl_bad[i] =
			    c % FW_CTL_BAD_EVERY == FW_CTL_BAD_EVERY - 1
			        ? (uint8_t)(1 + (c / FW_CTL_BAD_EVERY + id) % 4)
			        : 0;
			fw_make_ctl(r, m,
			    (const uint8_t *)&w->dst[k].sin.sin_addr,
			    w->ctl_bad[i]);
		} else {
			fw_iphdr(m->m_data, IPPROTO_UDP, src,
			    (const uint8_t *)&w->dst[k].sin.sin_addr,
			    FW_DATA_LEN);
			m->m_len = FW_DATA_LEN;
			m->m_pkthdr.len = FW_DATA_LEN;
		}
	}
	return 0;
}

static void
fw_worker_fini(struct fw_worker *w)
{
	for (unsigned k = 0; k < FW_FLOWS; k++)
		rtcache_free(&w->ro[k]);
	for (unsigned i = 0; i < FW_PKTS; i++)
		m_freem(w->pkt[i]);
}

/* --- the forwarding path -------------------------------------------------- */

/*
 * A control message: copy it into a packet from the pool and queue it
 * for the handler.  The same in every strategy.
 */
static void
fw_ctl(struct fw_worker *w, struct mbuf *tmpl, unsigned slot)
{
	struct mbuf *m = m_gethdr(M_NOWAIT);

	w->ctl++;
	if (m != NULL) {
		memcpy(m->m_data, tmpl->m_data, (size_t)tmpl->m_len);
		m->m_len = tmpl->m_len;
		m->m_pkthdr = tmpl->m_pkthdr;
		if (wqinput_input(w->run->wqi, m, 0, IPPROTO_ICMP) != 0) {
			w->wq_drops++;
			m_freem(m);
		}
	} else {
		w->wq_drops++;
	}
	/*
	 * A redirect changes its route once; sent again it no longer comes
	 * from the current first hop and is refused.  Now and then rewrite
	 * a well-formed one from the route as it is now, so that redirects
	 * keep changing routes in the measured phase (at most one in
	 * FW_CTL_REGEN of them).
	 */
	if (++w->ctl_total % FW_CTL_REGEN == 0 && w->ctl_bad[slot] == 0)
		fw_make_ctl(w->run, tmpl,
		    (const uint8_t *)&w->dst[w->flow[slot]].sin.sin_addr, 0);
}

/*
 * The route part, once found (rt NULL: none): count drops, check
 * staleness; returns whether to go on, with *oif and *nh (the next hop's
 * address) set.
 */
static inline __attribute__((always_inline)) bool
fw_route(struct fw_worker *w, const struct rt_entry *rt, uint64_t seq0,
    const uint8_t *dst, unsigned *oif, uint32_t *nh)
{
	uint32_t fl;

	if (rt == NULL) {
		w->no_route++;
		return false;
	}
	fl = rt_getflags(rt);
	if (MPSAFE_UNLIKELY(!(fl & MPSAFE_RTF_UP)) && w->run->churn) {
		/* Acquire: pairs with the control thread's even store. */
		uint64_t seq1 = atomic_load_explicit(
		    &w->run->del_seq, memory_order_acquire);

		if (seq1 == seq0 && (seq0 & 1) == 0)
			w->stale++;
	}
	if (MPSAFE_UNLIKELY(fl & (MPSAFE_RTF_REJECT | MPSAFE_RTF_BLACKHOLE))) {
		if (fl & MPSAFE_RTF_REJECT)
			w->reject++;
		else
			w->blackhole++;
		return false;
	}
	*oif = rt->rt_ifindex;
	if (fl & MPSAFE_RTF_GATEWAY)
		memcpy(nh, &rt->rt_gateway.sin.sin_addr, 4);
	else
		memcpy(nh, dst, 4);
	return true;
}

/* The neighbour lookup; returns a byte of the address for the sink. */
static inline __attribute__((always_inline)) uint64_t
fw_resolve(struct fw_worker *w, struct lltable *llt, const uint32_t *nh)
{
	struct lla_info info;

	if (lla_lookup_addr(llt, nh, &info) != 0) {
		w->unresolved++;
		return 0;
	}
	w->forwarded++;
	return info.lli_addr[5];
}

/* Whether the MTU read is poison (a detached interface was reached). */
static inline bool
fw_poisoned(struct fw_worker *w, unsigned mtu)
{
	if (MPSAFE_UNLIKELY(mtu == FW_POISON_MTU)) {
		w->poison++;
		return true;
	}
	return false;
}

/*
 * none, biglock, pserialize: the path once the receive interface rcv is
 * found, taking no reference (the caller provides the protection: a
 * read section, the big lock, or none).
 */
static inline __attribute__((always_inline)) uint64_t
fw_path_noref(struct fw_worker *w, struct mbuf *m, struct ifnet *rcv,
    unsigned k, uint64_t seq0)
{
	const uint8_t *dst = m->m_data + 16;
	struct ifnet *ofp;
	struct rt_entry *rt;
	unsigned oif = 0;
	uint32_t nh;
	int hit = 0;

	if (rcv == NULL) {
		w->no_rcvif++;
		return 0;
	}
	if (fw_poisoned(w, mpsafe_load_relaxed(&rcv->if_mtu)))
		return 0;
	if_statinc(rcv, if_ipackets);
	/*
	 * pserialize: the packet's read section covers the lookup (on an
	 * RT_SYNC_PSERIALIZE table rt_read_enter() opens nothing more than
	 * a pserialize read section, see route.h).
	 */
	rt = rtcache_lookup_noref(&w->ro[k], &w->dst[k].sa, &hit);
	w->hits += (uint64_t)hit;
	if (!fw_route(w, rt, seq0, dst, &oif, &nh))
		return 0;
	ofp = if_byindex(oif);
	if (ofp == NULL) {
		w->no_ofif++;
		return 0;
	}
	if (fw_poisoned(w, mpsafe_load_relaxed(&ofp->if_mtu)))
		return 0;
	if_statinc(ofp, if_opackets);
	return fw_resolve(w, ofp->if_softc, &nh);
}

static inline __attribute__((always_inline)) uint64_t
fw_packet(
    struct fw_worker *w, struct mbuf *m, unsigned k, const enum fw_kind kind)
{
	struct rt_table *t = w->run->tb->t;
	const uint8_t *dst = m->m_data + 16;
	uint64_t seq0 = 0, sum = 0;
	unsigned oif = 0;
	uint32_t nh;
	int hit = 0, s, rs;

	if (w->run->churn)
		/* Acquire: pairs with the control thread's stores. */
		seq0 = atomic_load_explicit(
		    &w->run->del_seq, memory_order_acquire);
	switch (kind) {
	case FW_NONE:
		return fw_path_noref(w, m, m_get_rcvif_NOMPSAFE(m), k, seq0);
	case FW_BIGLOCK:
		pthread_mutex_lock(&fw_biglock);
		sum = fw_path_noref(w, m, m_get_rcvif_NOMPSAFE(m), k, seq0);
		pthread_mutex_unlock(&fw_biglock);
		return sum;
	case FW_PSERIALIZE: {
		/* One read section for the whole packet. */
		struct ifnet *rcv = m_get_rcvif(m, &s);

		sum = fw_path_noref(w, m, rcv, k, seq0);
		m_put_rcvif(rcv, &s);
		return sum;
	}
	case FW_PSREF: {
		struct psref pr, po;
		struct ifnet *rcv = m_get_rcvif_psref(m, &pr), *ofp;
		struct rt_entry *rt;

		if (rcv == NULL) {
			w->no_rcvif++;
			return 0;
		}
		if (fw_poisoned(w, mpsafe_load_relaxed(&rcv->if_mtu)))
			goto psref_out;
		if_statinc(rcv, if_ipackets);
		rt = rtcache_lookup2(&w->ro[k], &w->dst[k].sa, 0, &hit);
		w->hits += (uint64_t)hit;
		if (fw_route(w, rt, seq0, dst, &oif, &nh)) {
			ofp = if_get_byindex(oif, &po);
			if (ofp == NULL) {
				w->no_ofif++;
			} else {
				if (!fw_poisoned(
				        w, mpsafe_load_relaxed(&ofp->if_mtu))) {
					if_statinc(ofp, if_opackets);
					sum = fw_resolve(w, ofp->if_softc, &nh);
				}
				if_put(ofp, &po);
			}
		}
		rtcache_unref(rt, &w->ro[k]);
	psref_out:
		m_put_rcvif_psref(rcv, &pr);
		return sum;
	}
	case FW_RWLOCK: {
		unsigned idx = m->m_pkthdr.rcvif_index;
		struct fw_if *rcv, *ofp;
		struct rt_entry *rt;

		pthread_rwlock_rdlock(&fw_iflock);
		rcv = idx <= FW_IFS ? fw_iftab[idx] : NULL;
		if (rcv == NULL) {
			w->no_rcvif++;
			goto rw_out;
		}
		if (fw_poisoned(w, atomic_load_explicit(
		                       &rcv->fi_mtu, memory_order_relaxed)))
			goto rw_out;
		rcv->fi_stats[w->id].c_ipackets++;
		rs = rt_read_enter(t);
		rt = rtcache_lookup_noref(&w->ro[k], &w->dst[k].sa, &hit);
		w->hits += (uint64_t)hit;
		if (fw_route(w, rt, seq0, dst, &oif, &nh)) {
			ofp = oif <= FW_IFS ? fw_iftab[oif] : NULL;
			if (ofp == NULL)
				w->no_ofif++;
			else if (!fw_poisoned(
			             w, atomic_load_explicit(&ofp->fi_mtu,
			                    memory_order_relaxed))) {
				ofp->fi_stats[w->id].c_opackets++;
				sum = fw_resolve(w, ofp->fi_llt, &nh);
			}
		}
		rt_read_exit(t, rs);
	rw_out:
		pthread_rwlock_unlock(&fw_iflock);
		return sum;
	}
	case FW_REFCOUNT:
	default: {
		struct fw_if *rcv = fw_if_get(m->m_pkthdr.rcvif_index), *ofp;
		struct rt_entry *rt;
		bool go;

		if (rcv == NULL) {
			w->no_rcvif++;
			return 0;
		}
		if (fw_poisoned(w, atomic_load_explicit(
		                       &rcv->fi_mtu, memory_order_relaxed)))
			goto rc_out;
		rcv->fi_stats[w->id].c_ipackets++;
		rs = rt_read_enter(t);
		rt = rtcache_lookup_noref(&w->ro[k], &w->dst[k].sa, &hit);
		if (rt != NULL)
			rt_ref(rt);
		rt_read_exit(t, rs);
		w->hits += (uint64_t)hit;
		go = fw_route(w, rt, seq0, dst, &oif, &nh);
		if (go) {
			ofp = fw_if_get(oif);
			if (ofp == NULL) {
				w->no_ofif++;
			} else {
				if (!fw_poisoned(
				        w, atomic_load_explicit(&ofp->fi_mtu,
				               memory_order_relaxed))) {
					ofp->fi_stats[w->id].c_opackets++;
					sum = fw_resolve(w, ofp->fi_llt, &nh);
				}
				fw_if_put(ofp);
			}
		}
		if (rt != NULL)
			rt_unref(rt);
	rc_out:
		fw_if_put(rcv);
		return sum;
	}
	}
}

/* FW_PKTS... one batch of n packets from *pos, the kind inlined. */
static inline __attribute__((always_inline)) uint64_t
fw_batch_kind(struct fw_worker *w, unsigned *pos, unsigned n, uint64_t clk,
    const enum fw_kind kind)
{
	uint64_t sum = 0;
	unsigned p = *pos;

	for (unsigned i = 0; i < n; i++, p = (p + 1) & (FW_PKTS - 1)) {
		struct mbuf *m = w->pkt[p];
		uint64_t t0 = 0;
		bool timed = (p & (FW_LAT_EVERY - 1)) == 0;

		if (MPSAFE_UNLIKELY(m->m_data[9] == IPPROTO_ICMP)) {
			fw_ctl(w, m, p);
			continue;
		}
		if (timed)
			t0 = bench_now_ns();
		sum += fw_packet(w, m, w->flow[p], kind);
		if (timed) {
			uint64_t d = bench_now_ns() - t0;

			bench_hist_add(&w->lat, d > clk ? d - clk : 0);
		}
	}
	w->lookups += n;
	*pos = p;
	return sum;
}

/*
 * One out-of-line batch function per strategy, each with the path
 * inlined: the compiler lays each loop out on its own (one shared
 * function let it move some strategies' loops into its cold section,
 * which cost them a third of their speed).
 */
#define FW_BATCH_FN(name, kind)                                           \
	static __attribute__((noinline, hot)) uint64_t name(              \
	    struct fw_worker *w, unsigned *pos, unsigned n, uint64_t clk) \
	{                                                                 \
		return fw_batch_kind(w, pos, n, clk, kind);               \
	}
FW_BATCH_FN(fw_batch_none, FW_NONE)
FW_BATCH_FN(fw_batch_biglock, FW_BIGLOCK)
FW_BATCH_FN(fw_batch_rwlock, FW_RWLOCK)
FW_BATCH_FN(fw_batch_refcount, FW_REFCOUNT)
FW_BATCH_FN(fw_batch_psref, FW_PSREF)
FW_BATCH_FN(fw_batch_pserialize, FW_PSERIALIZE)
#undef FW_BATCH_FN

typedef uint64_t (*fw_batch_fn)(
    struct fw_worker *, unsigned *, unsigned, uint64_t);

static fw_batch_fn
fw_batch_of(enum fw_kind k)
{
	switch (k) {
	case FW_NONE:
		return fw_batch_none;
	case FW_BIGLOCK:
		return fw_batch_biglock;
	case FW_RWLOCK:
		return fw_batch_rwlock;
	case FW_REFCOUNT:
		return fw_batch_refcount;
	case FW_PSREF:
		return fw_batch_psref;
	case FW_PSERIALIZE:
	default:
		return fw_batch_pserialize;
	}
}

static void
fw_forward_thread(struct bench_thread *t)
{
	struct fw_worker *w = t->arg;
	uint64_t sink = 0, ops = 0, t0 = 0, t1, clk;
	unsigned pos = (t->id * 131u) & (FW_PKTS - 1);
	fw_batch_fn batch = fw_batch_of(w->run->kind);
	bool measuring = false;

	mpsafe_thread_register();
	clk = bench_clock_overhead_ns();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			/* Count the measured phase only. */
			measuring = true;
			memset(&w->lat, 0, sizeof(w->lat));
			w->forwarded = w->no_rcvif = w->no_route = 0;
			w->reject = w->blackhole = w->no_ofif = 0;
			w->unresolved = w->ctl = w->wq_drops = w->hits = 0;
			w->lookups = 0;
			t0 = bench_now_ns();
		}
		sink += batch(w, &pos, BENCH_READ_BATCH, clk);
		if (measuring)
			ops += BENCH_READ_BATCH;
	}
	t1 = bench_now_ns();
	mpsafe_thread_unregister();
	t->ops = ops;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
	t->violations = w->poison + w->stale;
	t->sink = sink;
}

/* --- replaying a route-update file --------------------------------------- */

/* One replayed update: a prefix, announce or withdraw, a next hop. */
struct fw_replay {
	struct rtgen_route fr_route; /* prefix; rg_nexthop: mapped next hop */
	bool fr_withdraw;
};

struct fw_replay_load {
	struct fw_replay *v;
	size_t n, cap;
};

/*
 * Keep an IPv4 record.  The file's next hop is mapped onto one of the
 * generated next hops (a hash of its address), so that the neighbour
 * tables resolve it.
 */
static int
fw_replay_record(const struct rtfile_record *rec, void *arg)
{
	struct fw_replay_load *l = arg;
	struct fw_replay *x;
	uint32_t h = 0;

	if (rec->rr_dst.rp_family != AF_INET ||
	    (rec->rr_kind != RTFILE_ANNOUNCE &&
	        rec->rr_kind != RTFILE_WITHDRAW))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct fw_replay *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	x = &l->v[l->n++];
	memset(x, 0, sizeof(*x));
	memcpy(&x->fr_route.rg_dst, &rec->rr_dst, sizeof(rec->rr_dst));
	for (unsigned i = 0; rec->rr_has_gateway && i < 4; i++)
		h = h * 31 + rec->rr_gateway[i];
	x->fr_route.rg_nexthop = h % FW_NEXTHOPS;
	x->fr_withdraw = rec->rr_kind == RTFILE_WITHDRAW;
	return 0;
}

/* Load the file named by MPSAFE_BENCH_FORWARD_UPDATES, if set. */
static int
fw_replay_load(struct fw_run *r)
{
	const char *path = getenv("MPSAFE_BENCH_FORWARD_UPDATES");
	struct fw_replay_load l = {NULL, 0, 0};
	struct rtfile_error err;
	FILE *fp;
	int error;

	if (path == NULL || *path == '\0')
		return 0;
	fp = fopen(path, "r");
	if (fp == NULL) {
		bench_warn("%s: %s", path, strerror(errno));
		return -1;
	}
	error = rtfile_load_stream(fp, RTFILE_TRACE,
	    RTFILE_NORMALIZE | RTFILE_KEEPGOING, fw_replay_record, &l, &err);
	fclose(fp);
	if (error == ENOMEM || l.n == 0) {
		bench_warn("%s: %s", path,
		    l.n == 0 ? "no IPv4 update in the file" : strerror(error));
		free(l.v);
		return -1;
	}
	if (err.re_bad > 0)
		fprintf(stderr, " (%s: %lu bad lines skipped, first at %lu)",
		    path, err.re_bad, err.re_line);
	r->replay = l.v;
	r->nreplay = l.n;
	return 0;
}

/*
 * Apply the next replayed update: an announcement adds the prefix or
 * changes its next hop; a withdrawal deletes it (a prefix not in the
 * table is a no-op, counted).
 */
static int
fw_replay_next(struct fw_run *r, struct rt_table *t)
{
	const struct fw_replay *x = &r->replay[r->replay_pos];
	int error;

	r->replay_pos = (r->replay_pos + 1) % r->nreplay;
	if (x->fr_withdraw) {
		/* Release: as in fw_update(). */
		atomic_fetch_add_explicit(&r->del_seq, 1, memory_order_release);
		error =
		    bench_rt_request(t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT,
		        &x->fr_route, 0, 0);
		/* Release: pairs with the forwarders' acquire. */
		atomic_fetch_add_explicit(&r->del_seq, 1, memory_order_release);
	} else {
		error = bench_rt_request(
		    t, MPSAFE_RTM_ADD, &x->fr_route, x->fr_route.rg_nexthop, 0);
		if (error == EEXIST)
			error = bench_rt_request(t, MPSAFE_RTM_CHANGE,
			    &x->fr_route, x->fr_route.rg_nexthop, 0);
	}
	if (error == ESRCH) {
		r->replay_noops++;
		error = 0;
	}
	return error;
}

/* --- writers -------------------------------------------------------------- */

/* The wqinput handler: one control message, on a workqueue thread. */
static void
fw_ctl_input(struct mbuf *m, int off, int proto)
{
	struct fw_run *r = fw_cur;
	int error;

	(void)proto;
	if (r->kind == FW_BIGLOCK)
		pthread_mutex_lock(&fw_biglock);
	error = ip_redirect_input(
	    r->tb->t, m->m_data + off, (size_t)(m->m_len - off));
	if (r->kind == FW_BIGLOCK)
		pthread_mutex_unlock(&fw_biglock);
	/* Relaxed: statistics, read after wqinput_drain(). */
	switch (error) {
	case 0:
		atomic_fetch_add_explicit(
		    &r->ctl_applied, 1, memory_order_relaxed);
		break;
	case EMSGSIZE:
	case EPROTO:
	case EBADMSG:
		atomic_fetch_add_explicit(
		    &r->ctl_malformed, 1, memory_order_relaxed);
		break;
	case EPERM:
	case EHOSTUNREACH:
	case EALREADY:
		atomic_fetch_add_explicit(
		    &r->ctl_refused, 1, memory_order_relaxed);
		break;
	default:
		if (atomic_fetch_add_explicit(
		        &r->ctl_failed, 1, memory_order_relaxed) == 0)
			r->ctl_first_error = error;
		break;
	}
	m_freem(m);
}

/*
 * Apply update u (or the next replayed one), publishing del_seq around
 * deletes.
 */
static int
fw_update(struct fw_run *r, const struct rtgen_update *u)
{
	const struct rtgen_route *rg = &fw_routes[u->ru_index];
	uint32_t fl = fw_route_flags(u->ru_index);
	struct rt_table *t = r->tb->t;
	int error;

	/* u is not used when replaying (see fw_control_thread()). */

	if (r->kind == FW_BIGLOCK)
		pthread_mutex_lock(&fw_biglock);
	if (r->replay != NULL) {
		error = fw_replay_next(r, t);
		goto out;
	}
	switch (u->ru_op) {
	case RTGEN_ADD:
		error =
		    bench_rt_request(t, MPSAFE_RTM_ADD, rg, u->ru_nexthop, fl);
		break;
	case RTGEN_DELETE:
		/* Release: forwarders that see the odd value see it first. */
		atomic_fetch_add_explicit(&r->del_seq, 1, memory_order_release);
		error = bench_rt_request(
		    t, MPSAFE_RTM_DELETE | MPSAFE_RTM_F_NOWAIT, rg, 0, 0);
		/* Release: pairs with the forwarders' acquire before lookup. */
		atomic_fetch_add_explicit(&r->del_seq, 1, memory_order_release);
		break;
	case RTGEN_CHANGE:
	default:
		error = bench_rt_request(
		    t, MPSAFE_RTM_CHANGE, rg, u->ru_nexthop, fl);
		break;
	}
out:
	if (r->kind == FW_BIGLOCK)
		pthread_mutex_unlock(&fw_biglock);
	return error;
}

static void
fw_control_thread(struct bench_thread *t)
{
	struct fw_run *r = t->arg;
	uint64_t interval = (uint64_t)(1e9 / r->rate), next;
	bool measuring = false;

	mpsafe_thread_register();
	bench_thread_ready(t);
	next = bench_now_ns();
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		struct rtgen_update u = {0};
		uint64_t a, b;
		int error;

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			mpsafe_defer_reset_peak();
			/* Relaxed: statistics (a few may be in flight). */
			r->ctl_base[0] = atomic_load_explicit(
			    &r->ctl_applied, memory_order_relaxed);
			r->ctl_base[1] = atomic_load_explicit(
			    &r->ctl_refused, memory_order_relaxed);
			r->ctl_base[2] = atomic_load_explicit(
			    &r->ctl_malformed, memory_order_relaxed);
		}
		if (!bench_pace(&next, interval))
			continue;
		if (r->replay == NULL)
			rtgen_churn_next(r->tb->churn, &u);
		a = bench_now_ns();
		error = fw_update(r, &u);
		b = bench_now_ns();
		if (error != 0 && r->update_errors++ == 0)
			r->first_error = error;
		if (measuring) {
			r->updates++;
			bench_hist_add(&r->upd_hist, b - a);
		}
	}
	mpsafe_thread_unregister();
}

/* Replace the interface at idx: detach (timed), attach a fresh one. */
static int
fw_replace(struct fw_run *r, unsigned idx, bool measure)
{
	uint64_t a = bench_now_ns(), b;
	int error = 0;

	if (fw_local_ifs(r->kind)) {
		struct fw_if *old, *fi = fw_if_new(idx);

		if (fi == NULL)
			return ENOMEM;
		pthread_rwlock_wrlock(&fw_iflock);
		old = fw_iftab[idx];
		fw_iftab[idx] = NULL;
		pthread_rwlock_unlock(&fw_iflock);
		if (r->kind == FW_REFCOUNT) {
			unsigned spins = 0;

			/* Acquire: pairs with fw_if_put()'s release. */
			while (atomic_load_explicit(
			           &old->fi_refcnt, memory_order_acquire) != 0)
				bench_spin_then_yield(&spins);
		}
		b = bench_now_ns();
		fw_if_free(old);
		pthread_rwlock_wrlock(&fw_iflock);
		fw_iftab[idx] = fi;
		pthread_rwlock_unlock(&fw_iflock);
	} else {
		if (r->kind == FW_BIGLOCK)
			pthread_mutex_lock(&fw_biglock);
		if_detach(fw_ifp[idx]);
		if (r->kind == FW_BIGLOCK)
			pthread_mutex_unlock(&fw_biglock);
		b = bench_now_ns();
		fw_ifnet_free(fw_ifp[idx]);
		fw_ifp[idx] = NULL;
		if (r->kind == FW_BIGLOCK)
			pthread_mutex_lock(&fw_biglock);
		error = fw_ifnet_attach(idx);
		if (r->kind == FW_BIGLOCK)
			pthread_mutex_unlock(&fw_biglock);
	}
	if (measure) {
		r->detaches++;
		bench_hist_add(&r->det_hist, b - a);
	}
	return error;
}

static void
fw_interface_thread(struct bench_thread *t)
{
	struct fw_run *r = t->arg;
	unsigned idx = 1;

	mpsafe_thread_register();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);
		int error;

		if (ph == BENCH_PHASE_STOP)
			break;
		bench_sleep_ns(r->if_interval_ns);
		error = fw_replace(r, idx, ph == BENCH_PHASE_MEASURE);
		if (error != 0) {
			r->if_error = error;
			break;
		}
		idx = idx % FW_IFS + 1;
	}
	mpsafe_thread_unregister();
}

/* --- the run -------------------------------------------------------------- */

static const char *
fw_supports(const struct bench_strategy *s)
{
	if (fw_kind_of(s) < 0)
		return "not a forwarding-path design (none, biglock, rwlock, "
		       "refcount, psref, pserialize)";
	return NULL;
}

static size_t
fw_size(const struct bench_config *cfg)
{
	return cfg->table_size > 0 ? cfg->table_size : FW_DEFAULT_SIZE;
}

/* Sum of the workers' counters, into the progress line and extra. */
static void
fw_report(struct fw_run *r, struct fw_worker *ws, unsigned n,
    struct bench_result *res)
{
	uint64_t fwd = 0, nrcv = 0, nrt = 0, rej = 0, bh = 0, nof = 0, unr = 0,
	         ctl = 0, wqd = 0, hits = 0, looks = 0, stale = 0;
	uint64_t upd50 = bench_hist_quantile(&r->upd_hist, 0.50),
	         upd99 = bench_hist_quantile(&r->upd_hist, 0.99),
	         det50 = bench_hist_quantile(&r->det_hist, 0.50);
	uint64_t applied, refused, malformed;
	double hitpct;
	struct bench_hist lat;

	memset(&lat, 0, sizeof(lat));
	for (unsigned i = 0; i < n; i++) {
		fwd += ws[i].forwarded;
		nrcv += ws[i].no_rcvif;
		nrt += ws[i].no_route;
		rej += ws[i].reject;
		bh += ws[i].blackhole;
		nof += ws[i].no_ofif;
		unr += ws[i].unresolved;
		ctl += ws[i].ctl;
		wqd += ws[i].wq_drops;
		hits += ws[i].hits;
		looks += ws[i].lookups - ws[i].ctl;
		stale += ws[i].stale;
		bench_hist_merge(&lat, &ws[i].lat);
	}
	res->has_lat = true;
	res->lat_p50_ns = bench_hist_quantile(&lat, 0.50);
	res->lat_p99_ns = bench_hist_quantile(&lat, 0.99);
	/* Relaxed: the workers are drained (wqinput_drain()). */
	applied = atomic_load_explicit(&r->ctl_applied, memory_order_relaxed) -
	          r->ctl_base[0];
	refused = atomic_load_explicit(&r->ctl_refused, memory_order_relaxed) -
	          r->ctl_base[1];
	malformed =
	    atomic_load_explicit(&r->ctl_malformed, memory_order_relaxed) -
	    r->ctl_base[2];
	hitpct = looks > 0 ? 100.0 * (double)hits / (double)looks : 0.0;
	snprintf(res->extra, sizeof(res->extra),
	    "forwarded=%" PRIu64 ";cache_hit_pct=%.1f;stale_routes=%" PRIu64
	    ";upd_p50_ns=%" PRIu64 ";upd_p99_ns=%" PRIu64 ";detaches=%" PRIu64
	    ";detach_p50_ns=%" PRIu64 ";no_rcvif=%" PRIu64 ";no_route=%" PRIu64
	    ";reject=%" PRIu64 ";blackhole=%" PRIu64 ";no_ofif=%" PRIu64
	    ";unresolved=%" PRIu64 ";ctl=%" PRIu64 ";wq_drops=%" PRIu64
	    ";ctl_applied=%" PRIu64 ";ctl_refused=%" PRIu64
	    ";ctl_malformed=%" PRIu64,
	    fwd, hitpct, stale, upd50, upd99, r->detaches, det50, nrcv, nrt,
	    rej, bh, nof, unr, ctl, wqd, applied, refused, malformed);
	if (r->replay != NULL) {
		size_t len = strlen(res->extra);

		snprintf(res->extra + len, sizeof(res->extra) - len,
		    ";replayed=%zu;replay_noops=%" PRIu64, r->nreplay,
		    r->replay_noops);
	}
	fprintf(stderr, " [%.1f%% cache hits, stale %" PRIu64, hitpct, stale);
	if (r->churn)
		fprintf(stderr,
		    ", update p50 %" PRIu64 " ns, detach p50 %" PRIu64
		    " ns, ctl %" PRIu64 " (wq drops %" PRIu64
		    ", applied %" PRIu64 ", malformed %" PRIu64 ")",
		    upd50, det50, ctl, wqd, applied, malformed);
	fprintf(stderr, "]");
}

static int
fw_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	unsigned nf = cfg->threads, nt;
	struct bench_thread *threads = NULL;
	struct fw_worker *ws = NULL;
	struct fw_run *r = NULL;
	struct mpsafe_defer_stats ds;
	uint64_t measured;
	int error = -1, e;

	if (nf > FW_THREADS) {
		bench_warn("forward: at most %u threads", FW_THREADS);
		return -1;
	}
	r = aligned_alloc(BENCH_CACHELINE, (sizeof(*r) + BENCH_CACHELINE - 1) &
	                                       ~(size_t)(BENCH_CACHELINE - 1));
	if (r == NULL) {
		bench_warn("out of memory");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->kind = (enum fw_kind)fw_kind_of(s);
	r->churn = cfg->writers > 0;
	r->rate = cfg->churn_rate > 0 ? cfg->churn_rate : 1000;
	r->ctl_permille = cfg->ctl_permille;
	r->if_interval_ns = (uint64_t)(cfg->interval_us * 1000.0);
	if (r->churn && r->kind == FW_NONE) {
		bench_warn("forward: none has no protection: run it with "
		           "--writers 0 only");
		free(r);
		return -1;
	}
	r->tb = fw_table_get(r->kind, fw_size(cfg), cfg->small_pages);
	if (r->tb == NULL || (r->churn && fw_replay_load(r) != 0)) {
		free(r);
		return -1;
	}
	nt = nf + (r->churn ? 2 : 0);
	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * nt);
	ws = aligned_alloc(
	    BENCH_CACHELINE, (sizeof(*ws) * nf + BENCH_CACHELINE - 1) &
	                         ~(size_t)(BENCH_CACHELINE - 1));
	if (threads == NULL || ws == NULL ||
	    m_pool_reserve((size_t)nf * FW_PKTS +
	                   (size_t)mpsafe_ncpu() * WQINPUT_LIST_MAXLEN + 64) !=
	        0) {
		bench_warn("out of memory");
		goto out;
	}
	e = fw_ifs_init(r->kind);
	if (e != 0) {
		bench_warn("forward: interfaces: %s", strerror(e));
		fw_ifs_fini(r->kind);
		goto out;
	}
	fw_cur = r;
	if (r->churn) {
		r->wqi = wqinput_create("fwd-ctl", fw_ctl_input);
		if (r->wqi == NULL) {
			bench_warn("wqinput_create: %s", strerror(errno));
			fw_ifs_fini(r->kind);
			goto out;
		}
	}
	for (unsigned i = 0; i < nf; i++) {
		if (fw_worker_init(&ws[i], r, i) != 0) {
			bench_warn("out of packets");
			nf = i + 1;
			goto out_workers;
		}
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = fw_forward_thread,
		    .arg = &ws[i],
		    .index = i,
		    .id = i,
		};
	}
	if (r->churn) {
		threads[nf] = (struct bench_thread){
		    .strategy = s,
		    .body = fw_control_thread,
		    .arg = r,
		    .index = nf,
		    .id = 0,
		};
		/*
		 * The control plane's two threads share one CPU, the one
		 * after the forwarding threads' (index nf): with a spare
		 * CPU they do not compete with a forwarding thread.
		 */
		threads[nf + 1] = (struct bench_thread){
		    .strategy = s,
		    .body = fw_interface_thread,
		    .arg = r,
		    .index = nf,
		    .id = 1,
		};
	}
	mpsafe_defer_reset_peak();
	error = bench_run_threads(threads, nt, cfg, &measured);
	if (r->wqi != NULL)
		wqinput_drain(r->wqi);
	mpsafe_defer_stats(&ds);
	if (error == 0) {
		bench_result_from_threads(res, threads, nf, measured);
		res->writers = cfg->writers;
		res->has_pending = true;
		res->pending_peak_bytes = ds.pending_peak_bytes;
		if (r->churn) {
			res->has_writer_ops = true;
			res->writer_ops = r->updates;
		}
		fw_report(r, ws, nf, res);
		if (r->update_errors > 0) {
			bench_warn("%s: %" PRIu64 " route updates failed "
			           "(first: %s)",
			    s->name, r->update_errors,
			    strerror(r->first_error));
			error = -1;
		}
		if (r->if_error != 0) {
			bench_warn("%s: interface replacement failed: %s",
			    s->name, strerror(r->if_error));
			error = -1;
		}
		if (atomic_load_explicit(&r->ctl_failed, memory_order_relaxed) >
		    0) {
			bench_warn("%s: redirects failed (first: %s)", s->name,
			    strerror(r->ctl_first_error));
			error = -1;
		}
	}
out_workers:
	for (unsigned i = 0; i < nf; i++)
		fw_worker_fini(&ws[i]);
	if (r->wqi != NULL)
		wqinput_destroy(r->wqi);
	fw_cur = NULL;
	fw_ifs_fini(r->kind);
out:
	free(threads);
	free(ws);
	free(r->replay);
	free(r);
	return error;
}

const struct bench_workload workload_forward = {
    .name = "forward",
    .description = "N threads forward packets (receive interface, route "
                   "cache / LPM table, reject and blackhole routes, output "
                   "interface, neighbour table); --writers 1 adds route "
                   "churn, interface detach and 1% ICMP redirects via "
                   "wqinput: packets/s, path p50/p99, stale routes",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 1,
    .default_writers = 1,
    .supports = fw_supports,
    .run = fw_run,
};
