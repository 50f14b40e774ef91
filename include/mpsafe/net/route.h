/*
 * mpsafe/net/route.h: a longest-prefix-match routing table for AF_INET
 * and AF_INET6 and route caches, after NetBSD's sys/net/route.h (8/9),
 * in NetBSD's locked design and in a lockless one.
 *
 * A table (struct rt_table) maps prefixes to entries (struct rt_entry):
 * destination and prefix length, gateway, output interface (an index),
 * flags and metrics.  Entries are added, deleted, changed and fetched
 * with rtrequest(); rtalloc1() and rt_lookup() find the longest prefix
 * that matches an address and hand out a protected entry; route caches
 * (struct route) remember the entry for one destination until the table
 * changes.
 *
 * Two synchronisation designs over one lookup structure, chosen when the
 * table is created (struct rt_table_config):
 *  - RT_SYNC_RWLOCK (NetBSD 8/9): lookups and updates take a table
 *    rwlock (read / write); entries handed out by rtalloc1() carry a
 *    reference count, entries handed out by route caches a psref.
 *  - RT_SYNC_PSERIALIZE (lockless reads): lookups run inside a
 *    pserialize read section and take no lock; writers are serialised by
 *    a mutex, publish with release stores, and retire replaced trie
 *    nodes with mpsafe_defer() (bounded pending memory).
 * Independently, rtc_ref chooses how rt_lookup() protects the entry it
 * returns: RT_REF_REFCOUNT (an atomic count in the entry) or RT_REF_PSREF.
 * rtalloc1() always counts (NetBSD's contract) and route caches always
 * use psref, in both designs.  See docs/net/route.md for the reasons.
 *
 * Entries live until they are deleted: RTM_DELETE unpublishes an entry
 * at once (lookups stop finding it, caches see a new generation); its
 * memory is freed only after every reference (count and psref) is
 * released, by the deleter (which then blocks) or by the table's
 * workqueue (MPSAFE_RTM_F_NOWAIT, or when the deleter asked for the
 * entry back).  RTM_CHANGE uses NetBSD's RTF_UPDATING protocol: while
 * the flag is set, lookups that may block wait for the change and
 * lookups that must not (MPSAFE_RT_NOWAIT) miss; the changer first
 * waits for every holder of the entry, so nobody sees a half-changed
 * entry.  That wait costs a grace period only when a lookup has found
 * the entry since its last change (next-hop lookups do not count).
 * Changes of different entries run at once; a second change of one
 * entry waits for the first.
 *
 * Names.  glibc's <net/route.h> defines struct rtentry and RTF_* macros
 * with Linux values (RTF_REJECT is 0x0200 there, 0x8 in NetBSD), and a
 * program must be able to include both headers.  So, NetBSD's name
 * first and ours after the arrow:
 *   struct rtentry -> struct rt_entry;
 *   RTF_UP, RTF_GATEWAY, ... -> MPSAFE_RTF_UP, ... (NetBSD's values);
 *   RTM_ADD, RTM_DELETE, RTM_CHANGE, RTM_GET -> MPSAFE_RTM_* (same);
 *   RTV_MTU, RTV_EXPIRE -> MPSAFE_RTV_MTU, MPSAFE_RTV_EXPIRE;
 *   struct rt_metrics, struct route keep their names; struct
 *   rt_addrinfo keeps its name, with fields instead of the RTAX_ array;
 *   rtcache_percpu_* -> rtcache_perthread_* (one cache per thread).
 * Functions keep NetBSD's names with the table as a first argument where
 * NetBSD uses its global table (rtrequest, rtalloc1, rt_walktree,
 * rtflushall); the rest keep NetBSD's arguments.  No field is named
 * rt_mss (a glibc macro).
 *
 * Other differences from NetBSD: no netmask sockaddr (prefix lengths
 * only), no ifaddr (an interface index), no routing-socket messages, no
 * RTF_CLONING; a destination with bits set beyond its prefix length is
 * refused (EINVAL), not masked.
 *
 * Functions that exist (all implemented): rt_table_create,
 * rt_table_destroy, rt_table_stats, rtrequest, rtalloc1, rt_ref,
 * rt_unref, rt_lookup, rt_release, rt_read_enter, rt_read_exit,
 * rt_lookup_noref (inline; its out-of-line part rt_lookup_noref_slow),
 * rt_lookup_noref_bulk, rt_check_reject_route, rt_lookup_nexthop
 * (inline; rt_lookup_nexthop_slow), rt_lookup_nexthop_bulk,
 * rt_nexthop_check_reject,
 * rt_walktree, rtflushall,
 * rtcache_attach, rtcache_init, rtcache_lookup2, rtcache_lookup1,
 * rtcache_lookup, rtcache_lookup_noref (inline; its out-of-line part
 * rtcache_lookup_noref_slow), rtcache_validate,
 * rtcache_update, rtcache_unref, rtcache_free, rtcache_copy,
 * rtcache_setdst, rtcache_getdst,
 * rtcache_perthread_alloc, rtcache_perthread_getref,
 * rtcache_perthread_putref, rtcache_perthread_free; inline accessors
 * rt_getkey, rt_getplen, rt_getflags, rt_getgate, rt_getnexthop.
 *
 * Next hops (struct rt_nexthop), as Linux's nexthop objects and DPDK's
 * next-hop ids: the forwarding data of an entry (gateway, interface,
 * forwarding flags, MTU, expiry), immutable once published, shared by
 * the entries with identical data, each with a small id that the lookup
 * structure stores next to the entry pointer, so rt_lookup_nexthop()
 * reads no entry.  See docs/net/route.md, "Next hops".
 */
#ifndef MPSAFE_NET_ROUTE_H
#define MPSAFE_NET_ROUTE_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mpsafe/atomic.h>
#include <mpsafe/defer.h>
#include <mpsafe/export.h>
#include <mpsafe/psref.h>
#include <mpsafe/workqueue.h>

MPSAFE_BEGIN_DECLS

/* Entry flags (struct rt_entry.rt_flags), NetBSD's names and values. */
#define MPSAFE_RTF_UP 0x1            /* usable; cleared by RTM_DELETE */
#define MPSAFE_RTF_GATEWAY 0x2       /* next hop is rt_gateway */
#define MPSAFE_RTF_HOST 0x4          /* host route (full-length prefix) */
#define MPSAFE_RTF_REJECT 0x8        /* send an error (rt_check_reject_route) */
#define MPSAFE_RTF_DYNAMIC 0x10      /* set by a redirect (kept, not used) */
#define MPSAFE_RTF_MODIFIED 0x20     /* changed by a redirect (kept) */
#define MPSAFE_RTF_STATIC 0x800      /* added by hand (kept, not used) */
#define MPSAFE_RTF_BLACKHOLE 0x1000  /* discard silently */
#define MPSAFE_RTF_LOCAL 0x40000     /* address of this host (kept) */
#define MPSAFE_RTF_UPDATING 0x100000 /* RTM_CHANGE in progress (library) */
/*
 * Found by a lookup since the entry's last change (library; never shown
 * by rt_getflags()): an RTM_CHANGE of an entry without it has no reader
 * to wait for (route.c, "RTM_CHANGE").
 */
#define MPSAFE_RTF_READ 0x200000

/* Flags a request may set; UP is always set, UPDATING never. */
#define MPSAFE_RTF_USERMASK                                                \
	(MPSAFE_RTF_GATEWAY | MPSAFE_RTF_HOST | MPSAFE_RTF_REJECT |        \
	    MPSAFE_RTF_DYNAMIC | MPSAFE_RTF_MODIFIED | MPSAFE_RTF_STATIC | \
	    MPSAFE_RTF_BLACKHOLE | MPSAFE_RTF_LOCAL)

/* Requests (rtrequest()), NetBSD's values. */
#define MPSAFE_RTM_ADD 0x1
#define MPSAFE_RTM_DELETE 0x2
#define MPSAFE_RTM_CHANGE 0x3
#define MPSAFE_RTM_GET 0x4
/*
 * OR'ed into a request: the caller must not block.  RTM_DELETE then
 * leaves the destruction of the entry to the table's workqueue;
 * RTM_CHANGE returns EWOULDBLOCK (it must wait for holders).
 */
#define MPSAFE_RTM_F_NOWAIT 0x100

/* Which metrics a request sets (struct rt_addrinfo.rti_inits). */
#define MPSAFE_RTV_MTU 0x1
#define MPSAFE_RTV_EXPIRE 0x4

/*
 * Lookup flags (rtalloc1(), rt_lookup(), rtcache_attach()): the caller
 * must not wait for a change.  An entry being changed (RTF_UPDATING) is
 * then a miss instead of a wait.  On an RT_SYNC_RWLOCK table a lookup
 * still takes the table's read lock, so it may wait behind a writer for
 * the length of one update (writers never wait for anything while they
 * hold it); on an RT_SYNC_PSERIALIZE table it takes no lock.
 */
#define MPSAFE_RT_NOWAIT 0x1

/* Longest prefixes. */
#define RT_PLEN_MAX_INET 32
#define RT_PLEN_MAX_INET6 128

/* A destination or gateway address, of either family. */
union rt_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* Metrics, NetBSD's names. */
struct rt_metrics {
	uint32_t rmx_mtu;   /* 0: the interface's */
	int64_t rmx_expire; /* CLOCK_MONOTONIC seconds; 0: never */
};

/*
 * How lookups (the trie walk and rt_walktree()) are protected, chosen at
 * creation.
 */
enum rt_sync {
	RT_SYNC_RWLOCK = 1,     /* NetBSD 8/9: table rwlock */
	RT_SYNC_PSERIALIZE = 2, /* lockless: pserialize read section */
};

/* How rt_lookup() protects the entry it returns, chosen at creation. */
enum rt_refmode {
	RT_REF_REFCOUNT = 1, /* atomic count in the entry */
	RT_REF_PSREF = 2,    /* passive reference (thread-local slot) */
};

/*
 * Creation parameters.  A zeroed config (or NULL) means the lockless
 * design: RT_SYNC_PSERIALIZE and RT_REF_PSREF.  rtc_alloc/rtc_free, if
 * set, replace calloc()/free() for every allocation of the table (trie
 * nodes, entries, hash buckets): for accounting or fault injection.
 * rtc_alloc returns zeroed memory or NULL.  On 64-bit platforms an
 * entry or trie node must lie below 2^48 (no pointer tags, no 57-bit
 * addresses): a trie slot keeps 48 bits of the address, and an
 * allocation above is refused as ENOMEM.
 *
 * rtc_hugepages puts the table on 2 MiB pages (Linux transparent huge
 * pages, no set-up needed; with THP "never" or off Linux it changes
 * nothing but the allocator): the IPv4 root, the large arrays, and
 * entries, trie nodes and next hops carved from 2 MiB chunks.  For
 * full-size tables, whose lookups wait on page walks: with a million
 * IPv4 prefixes lookups ran 12-36% faster (docs/net/route.md, "Huge
 * pages").  The costs: a table takes memory 2 MiB at a time (a table
 * with a few routes holds several MiB), and keeps its chunks, reusing
 * freed objects, until rt_table_destroy().  Not with rtc_alloc
 * (EINVAL): the hooks are the allocator.
 */
struct rt_table_config {
	enum rt_sync rtc_sync;   /* 0: RT_SYNC_PSERIALIZE */
	enum rt_refmode rtc_ref; /* 0: RT_REF_PSREF */
	const char *rtc_name;    /* for messages; NULL: "rt" */
	void *(*rtc_alloc)(size_t size, void *arg);
	void (*rtc_free)(void *p, size_t size, void *arg);
	void *rtc_alloc_arg;
	bool rtc_hugepages; /* see above; false: the C library's heap */
};

/* NetBSD's design and the lockless one, as configs. */
#define RT_TABLE_CONFIG_NETBSD                                                 \
	{                                                                      \
		RT_SYNC_RWLOCK, RT_REF_REFCOUNT, NULL, NULL, NULL, NULL, false \
	}
#define RT_TABLE_CONFIG_LOCKLESS                                          \
	{                                                                 \
		RT_SYNC_PSERIALIZE, RT_REF_PSREF, NULL, NULL, NULL, NULL, \
		    false                                                 \
	}

struct rt_table; /* opaque */

/*
 * Library-private: what the inline IPv4 lookups (rt_lookup_noref(),
 * rt_lookup_nexthop()) read of a table, its first member.  Both
 * pointers are set by rt_table_create() and never change until
 * rt_table_destroy().
 *
 * A root slot (src/net/lpm.h, lpm_slot_t) is 0 (no route), a node
 * pointer | MPSAFE_RT_SLOT_NODE (a prefix longer than /24 below: the
 * out-of-line walk goes on), or an entry pointer, on 64-bit platforms
 * with its next hop's id in the bits from MPSAFE_RT_SLOT_IDSHIFT up (0:
 * not encoded).
 */
struct mpsafe_rt_fastpath {
	/* The IPv4 trie's 2^24 root slots, indexed by address >> 8. */
	const MPSAFE_ATOMIC(uintptr_t) * rf_root4;
	/* The next-hop array, indexed by id (element 0 unused). */
	const struct rt_nexthop *rf_nh;
};
#define MPSAFE_RT_SLOT_NODE ((uintptr_t)1)
#if UINTPTR_MAX > 0xffffffffu
#define MPSAFE_RT_SLOT_IDSHIFT 48
#define MPSAFE_RT_SLOT_PTRMASK ((uintptr_t)0xffffffffffff)
#define MPSAFE_RT_SLOT_ID(s) ((unsigned)((s) >> MPSAFE_RT_SLOT_IDSHIFT))
#else
#define MPSAFE_RT_SLOT_PTRMASK (~(uintptr_t)0)
#define MPSAFE_RT_SLOT_ID(s) ((void)(s), 0u)
#endif

/* Flags an entry passes on to its next hop (rt_nexthop.nh_flags). */
#define MPSAFE_RTF_NHMASK                                                \
	(MPSAFE_RTF_GATEWAY | MPSAFE_RTF_REJECT | MPSAFE_RTF_BLACKHOLE | \
	    MPSAFE_RTF_HOST)

/*
 * A next hop: what forwarding needs of an entry, read-only to callers.
 * Created by RTM_ADD / RTM_CHANGE (or shared with the entries whose data
 * is equal, per table and family), never changed once published (a
 * change gives the entry another next hop), and freed when no entry uses
 * it any more: at once in RT_SYNC_RWLOCK tables (under the writer lock,
 * which excludes the readers), after a grace period in RT_SYNC_PSERIALIZE
 * ones.  Valid while the caller stays in the read section that found it,
 * or holds a reference to an entry whose rt_getnexthop() it is.
 */
struct rt_nexthop {
	uint32_t nh_flags;            /* MPSAFE_RTF_NHMASK bits of the entry */
	unsigned nh_ifindex;          /* output interface; 0: none */
	union rt_sockaddr nh_gateway; /* AF_UNSPEC unless RTF_GATEWAY */
	uint32_t nh_mtu;              /* rmx_mtu; 0: the interface's */
	int64_t nh_expire;            /* rmx_expire; 0: never */

	/* library-private */
	uint32_t nh_magic;
	uint16_t nh_id;     /* 1..65535; 0: none (entries fall back) */
	uint8_t nh_fi;      /* family index */
	uint32_t nh_refcnt; /* entries using it (writer lock) */
	uint32_t nh_hash;
	struct rt_nexthop *nh_hnext; /* hash chain (writer lock) */
	struct rt_table *nh_table;
	struct mpsafe_defer nh_defer; /* retirement (lockless tables) */
};

/*
 * A route.  The fields above "library-private" may be read by anyone
 * holding a reference (or inside the read section that found it, see
 * rt_lookup_noref()).  rt_dst and rt_plen never change; the fields marked
 * "RTM_CHANGE" change only while RTF_UPDATING is set and no one holds a
 * reference, so holders see them stable (a count taken during a change,
 * by rt_ref() or rtrequest()'s ret_nrt, holds the change off until it is
 * dropped: the changer checks, under the writer lock, that its own count
 * is the only one before it writes).
 *
 * Layout: what a forwarding lookup reads (flags, output interface,
 * gateway) comes first, in the first 36 bytes, so that it costs one
 * cache line when the entry is line-aligned (the default allocator
 * aligns entries to 64 bytes; a custom rtc_alloc should too).
 */
struct rt_entry {
	/*
	 * MPSAFE_RTF_*.  Written under the table's writer lock; read
	 * (acquire, see rt_getflags()) by lookups.
	 */
	MPSAFE_ATOMIC(uint32_t) rt_flags;
	/* RTM_CHANGE: output interface; 0: none */
	unsigned rt_ifindex;
	/* RTM_CHANGE: next hop; AF_UNSPEC unless RTF_GATEWAY */
	union rt_sockaddr rt_gateway;
	uint8_t rt_plen; /* prefix length */
	/*
	 * RTM_CHANGE: the entry's next hop, never NULL while the entry
	 * lives.  Stored with release (a change swaps it after setting the
	 * fields above); read with acquire (rt_getnexthop()).
	 */
	MPSAFE_ATOMIC(const struct rt_nexthop *) rt_nh;
	union rt_sockaddr rt_dst; /* destination, bits past rt_plen zero */
	struct rt_metrics rt_rmx; /* RTM_CHANGE: MTU, expiry */

	/* library-private */
	/* rtalloc1(), RT_REF_REFCOUNT; and count waits (route.c) */
	MPSAFE_ATOMIC(uint32_t) rt_refcnt;
	uint32_t rt_magic;
	struct psref_target rt_psref; /* rtcaches, RT_REF_PSREF */
	struct rt_table *rt_table;
	struct rt_entry *rt_hnext;    /* exact-match hash chain (writer) */
	struct rt_entry *rt_lnext;    /* list of all entries (writer) */
	struct rt_entry **rt_lprevp;  /* (writer) */
	struct rt_entry *rt_reapnext; /* deleted, waiting to be destroyed */
};

/*
 * A request, NetBSD's struct rt_addrinfo with fields instead of the
 * RTAX_* array.  rti_dst is required (AF_INET or AF_INET6, no bits set
 * past rti_plen); rti_gateway is required with MPSAFE_RTF_GATEWAY (same
 * family as rti_dst) and ignored without it.  rti_plen -1 means a host
 * route (full length, RTF_HOST set).  rti_inits says which rti_rmx
 * fields RTM_ADD / RTM_CHANGE set.
 *
 * IPv6 zones.  For a link-local unicast address (fe80::/10) and an
 * interface-local or link-local multicast one without the P flag
 * (ff01::, ff02::, ff11::, ff12::), sin6_scope_id (the zone: an
 * interface index, at most 0xffff) is part of the route's key, as in
 * NetBSD (KAME): fe80::/64 with scope 1 and with scope 2 are two routes,
 * and a lookup of fe80::1 with scope 2 finds the second.  The key holds
 * the zone in the address's bits 16..31 (KAME's embedded form), so
 * those bits must be 0 or equal the scope (EINVAL otherwise; lookups
 * miss).  A zoned prefix covers every zone (/16 or shorter) or one (/32
 * or longer): /17 to /31 is EINVAL.  Scope 0 takes the address as it
 * is: the embedded form may be passed with scope 0, and
 * rt_lookup_noref() and the other lookups of raw address bytes take only
 * that form.  Entries (rt_dst) and gateways come back with the zone in
 * sin6_scope_id and the bits zero.  Every other address's scope id is
 * not part of the key (multicast with the P flag, ff3x and ff7x, keeps
 * a prefix length in bits 16..31), and rt_dst's is 0.
 */
struct rt_addrinfo {
	const struct sockaddr *rti_dst;
	const struct sockaddr *rti_gateway;
	int rti_plen;
	uint32_t rti_flags; /* MPSAFE_RTF_USERMASK bits */
	unsigned rti_ifindex;
	uint32_t rti_inits; /* MPSAFE_RTV_* */
	struct rt_metrics rti_rmx;
};

/*
 * Memory and size, for the benchmarks' memory-per-prefix report.  A
 * snapshot taken under the writer lock.
 */
struct rt_table_stats {
	size_t rts_entries_inet; /* routes in the table */
	size_t rts_entries_inet6;
	size_t rts_trie_nodes;  /* lookup structure nodes */
	size_t rts_trie_bytes;  /* their memory */
	size_t rts_entry_bytes; /* memory of the entries */
	size_t rts_hash_bytes;  /* the exact-match index */
	size_t rts_total_bytes; /* all of the above and the table */
	/*
	 * Bytes allocated and not yet freed, the table included: the
	 * total and what deleted entries and retired nodes still hold.
	 */
	size_t rts_alloc_bytes;
	size_t rts_mapped_bytes; /* rtc_hugepages: chunks and blocks mapped */
	size_t rts_dying;        /* deleted, awaiting destruction */
	uint64_t rts_generation_inet; /* route cache generations */
	uint64_t rts_generation_inet6;
};

/*
 * rt_table_create(tp, cfg)
 *
 *	Create an empty table with the design cfg names (NULL: lockless)
 *	and store it in *tp.  Returns 0, EINVAL (NULL tp, unknown
 *	rtc_sync or rtc_ref, rtc_alloc without rtc_free, rtc_hugepages
 *	with rtc_alloc), ENOMEM, or the error of workqueue_create().  Blocks
 *(allocates, starts the workqueue thread).
 */
MPSAFE_API int rt_table_create(
    struct rt_table **tp, const struct rt_table_config *cfg);

/*
 * rt_table_destroy(t)
 *
 *	Delete every entry, wait until each is destroyed (so every
 *	reference must be released, or this waits for ever), and free t.
 *	Caller must: make no other call on t during or after it; have
 *	rtcache_free()d every cache attached to t and freed every
 *	rtcache_perthread of t.  Blocks.  Not in a read section.
 */
MPSAFE_API void rt_table_destroy(struct rt_table *t);

/*
 * rt_table_stats(t, st)
 *
 *	Fill *st.  Blocks briefly (takes the writer lock).  Not inside
 *	the read side of t (rt_read_enter(), a read section, rt_walktree()'s
 *	fn): the writer lock would wait for the caller; diagnostic builds
 *	abort.
 */
MPSAFE_API void rt_table_stats(struct rt_table *t, struct rt_table_stats *st);

/*
 * rtrequest(t, req, info, ret_nrt)
 *
 *	req is MPSAFE_RTM_ADD, _DELETE, _CHANGE or _GET, optionally OR'ed
 *	with MPSAFE_RTM_F_NOWAIT.  The route is named by info->rti_dst and
 *	info->rti_plen (exact match, not longest).
 *	 ADD: insert a new entry (flags rti_flags | MPSAFE_RTF_UP).
 *	 DELETE: unpublish the entry: clear MPSAFE_RTF_UP, stop lookups
 *	   finding it; it is destroyed once every reference is released.
 *	 CHANGE: set the gateway (with MPSAFE_RTF_GATEWAY in rti_flags;
 *	   without it the gateway is cleared), interface, the metrics
 *	   rti_inits names, and the flags MPSAFE_RTF_USERMASK, under the
 *	   RTF_UPDATING protocol (waits for every holder of the entry).
 *	   Changes of different entries run at once; a change of an entry
 *	   being changed waits for the first change to end.
 *	 GET: find the entry.  With ret_nrt, an entry being changed
 *	   (RTF_UPDATING) is treated as by a lookup: GET waits for the
 *	   change and looks again, or with F_NOWAIT fails with EWOULDBLOCK
 *	   (a count must not be handed out while the fields change).
 *	   Without ret_nrt it reports presence and never waits.
 *	ADD, DELETE and CHANGE invalidate the family's route caches.  If
 *	ret_nrt is not NULL, on success *ret_nrt is the entry with one
 *	reference count, which the caller drops with rt_unref() (after a
 *	DELETE, the entry is dead: only its fields may be read).
 *	Returns 0; EINVAL (NULL t or info or rti_dst, unknown req, prefix
 *	length out of range, bits set past the prefix, gateway missing or
 *	of another family, flags outside MPSAFE_RTF_USERMASK); EAFNOSUPPORT
 *	(family not AF_INET/AF_INET6); EEXIST (ADD of a present route);
 *	ESRCH (DELETE/CHANGE/GET of an absent one); ENOMEM (ADD or
 *	CHANGE, table unchanged); EWOULDBLOCK (CHANGE with F_NOWAIT;
 *	GET with F_NOWAIT and ret_nrt of an entry being changed).  On
 *	error the table is unchanged.
 *	Caller must:
 *	 - not be inside a read section (rt_read_enter(), or any pserialize
 *	   read section) nor in rt_walktree()'s fn on t, with F_NOWAIT or
 *	   without: every request takes the writer lock, which waits for
 *	   the caller's own read lock (RT_SYNC_RWLOCK) or walk, and a
 *	   delete, or an IPv6 add that puts a trie node between two,
 *	   hands trie nodes to mpsafe_defer(), which refuses read
 *	   sections.  Diagnostic builds abort.  F_NOWAIT only spares the
 *	   wait for holders and grace periods (a context that must not
 *	   block at all hands the request to a workqueue; ADD and DELETE
 *	   alike may wait for a grace period inside mpsafe_defer() when
 *	   the memory pending reclamation is at its bound);
 *	 - for CHANGE, and for GET with ret_nrt, hold no reference (count
 *	   or psref, rtcache_* included) to the entry named if it may be
 *	   being changed: the change waits for every holder, the GET for
 *	   the change;
 *	 - for DELETE without F_NOWAIT and without ret_nrt, hold no
 *	   reference to the entry named: the destruction waits for every
 *	   holder;
 *	 - while holding references to other entries, make no such waiting
 *	   request (CHANGE, blocking DELETE, GET with ret_nrt) unless no
 *	   holder of the entry named can be waiting, directly or through
 *	   others, for one of the caller's references: a holder waits like
 *	   a reader and a request like a writer, and threads whose holds
 *	   and requests cross deadlock (T1 holds A and changes B, T2 holds
 *	   B and changes A).  The simple rule: release references first,
 *	   or delete with F_NOWAIT and look up with MPSAFE_RT_NOWAIT.
 *	   CHANGE has no form that does not wait (F_NOWAIT: EWOULDBLOCK).
 *	Blocks: takes the writer lock; DELETE without F_NOWAIT and without
 *	ret_nrt waits for holders and a grace period; CHANGE waits for
 *	holders (and for a change of the same entry); GET with ret_nrt
 *	waits for a change of the entry.  The library frees entries.
 */
MPSAFE_API int rtrequest(struct rt_table *t, int req,
    const struct rt_addrinfo *info, struct rt_entry **ret_nrt);

/*
 * rtalloc1(t, dst, flags)
 *
 *	Longest-prefix match for dst (AF_INET or AF_INET6; port ignored,
 *	scope only for zoned IPv6 addresses, see struct rt_addrinfo).
 *	Returns the entry with one reference count, or NULL if no route
 *	matches (or the family is unknown, or the zone invalid).  An entry
 *	being changed (RTF_UPDATING) makes the call wait for the change and
 *	look again, or, with MPSAFE_RT_NOWAIT, miss.  An entry deleted
 *	during the call is never returned: the call looks again and finds
 *	what replaced it (the covering route, or none).
 *	Caller must: release with rt_unref(); without MPSAFE_RT_NOWAIT, not
 *	be in a read section nor in rt_walktree()'s fn on t (the change
 *	would need the lock held there: diagnostic builds abort when the
 *	lookup meets a change), and hold no reference to an entry it may
 *	find being changed (the change waits for it).  Blocks only as said
 *	(and on the rwlock in RT_SYNC_RWLOCK tables).
 */
MPSAFE_API struct rt_entry *rtalloc1(
    struct rt_table *t, const struct sockaddr *dst, int flags);

/*
 * rt_ref(rt)
 *
 *	Take one more reference count on rt, which the caller holds a
 *	reference to (of any kind, or rt_walktree()'s call).  A count
 *	taken on an entry being changed holds the change off until it is
 *	dropped.  Never blocks.
 */
MPSAFE_API void rt_ref(struct rt_entry *rt);

/*
 * rt_unref(rt)
 *
 *	Drop a reference count taken by rtalloc1(), rt_ref(), rtrequest()
 *	or rt_lookup() (RT_REF_REFCOUNT); wakes a destroyer or changer
 *	waiting for it.  Any thread.  Never blocks (briefly takes a lock
 *	when someone waits).  Diagnostic builds abort on a count below 0.
 */
MPSAFE_API void rt_unref(struct rt_entry *rt);

/*
 * A reference handed out by rt_lookup(): whichever the table's rtc_ref
 * says.  Caller-allocated (on its stack), one reference at a time.
 */
struct rt_hold {
	struct psref rh_psref;
	uint32_t rh_kind; /* library-private */
};

/*
 * rt_lookup(t, dst, flags, hold)
 *
 *	As rtalloc1(), but the entry is protected the way the table's
 *	rtc_ref says (a count or a psref), recorded in *hold.  Release with
 *	rt_release(rt, hold) on the same thread (psref).  For the
 *	benchmarks' comparison of protections over one structure.
 */
MPSAFE_API struct rt_entry *rt_lookup(struct rt_table *t,
    const struct sockaddr *dst, int flags, struct rt_hold *hold);

/*
 * rt_release(rt, hold)
 *
 *	Drop the reference rt_lookup() recorded in *hold.  The thread that
 *	took it.  Never blocks (may wake a destroyer).
 */
MPSAFE_API void rt_release(struct rt_entry *rt, struct rt_hold *hold);

/*
 * rt_read_enter(t), rt_read_exit(t, s)
 *
 *	Bracket rt_lookup_noref() calls: a pserialize read section
 *	(RT_SYNC_PSERIALIZE) or the table's read lock (RT_SYNC_RWLOCK).
 *	Inside, the caller must not block nor call rtrequest() on t, not
 *	even with MPSAFE_RTM_F_NOWAIT (diagnostic builds abort).
 *	rt_read_enter() returns the cookie for rt_read_exit().  On an
 *	RT_SYNC_PSERIALIZE table a read section opened otherwise
 *	(pserialize_read_enter(), m_get_rcvif()) is the same thing and
 *	may stand in for rt_read_enter(): a packet path opens one section
 *	for its interface, route and neighbour lookups.
 */
MPSAFE_API int rt_read_enter(struct rt_table *t);
MPSAFE_API void rt_read_exit(struct rt_table *t, int s);

/*
 * rt_lookup_noref(t, af, addr)
 *
 *	Longest-prefix match for the address bytes addr (4 bytes for
 *	AF_INET, 16 for AF_INET6, network order; a zoned IPv6 address in
 *	its embedded form, see struct rt_addrinfo) without taking any
 *	reference: the entry may be read only until rt_read_exit().  An
 *	entry being changed or deleted is returned as it is: if
 *	rt_getflags() shows MPSAFE_RTF_UPDATING, only rt_dst and rt_plen
 *	may be read (the other fields may be changing).  Returns NULL on a
 *	miss or unknown family.  Caller must be between rt_read_enter(t) and
 *	rt_read_exit(t) (diagnostic builds abort outside a read section on
 *	a lockless table).  Never blocks.  The raw fast path the benchmarks
 *	compare with DPDK.
 */
MPSAFE_API struct rt_entry *rt_lookup_noref_slow(
    struct rt_table *t, int af, const void *addr);
/* Library-private: the diagnostic read-side check of the inline lookups. */
MPSAFE_API void mpsafe_net_lookup_check(struct rt_table *t, const char *fn);

/*
 * The root slot of IPv4 address addr (network order, 4 bytes).  Acquire:
 * pairs with the writer's release store of the slot (lpm.c), so a new
 * entry's fields are seen initialised.
 */
static inline uintptr_t
mpsafe_rt_root4_slot(const struct rt_table *t, const void *addr)
{
	const struct mpsafe_rt_fastpath *f =
	    (const struct mpsafe_rt_fastpath *)(const void *)t;
	uint32_t a;

	memcpy(&a, addr, sizeof(a)); /* addr may be unaligned */
	return mpsafe_load_acquire(&f->rf_root4[ntohl(a) >> 8]);
}

/*
 * Inline: an IPv4 match up to /24 whose entry readers have already
 * marked (MPSAFE_RTF_READ) is decided here, in one load of the root and
 * one of the entry; rt_lookup_noref_slow() does the rest (a longer
 * prefix, a short one, no match, a first read, IPv6), and is called
 * only through rt_lookup_noref().
 */
static inline struct rt_entry *
rt_lookup_noref(struct rt_table *t, int af, const void *addr)
{
#ifdef MPSAFE_DIAGNOSTIC
	mpsafe_net_lookup_check(t, "rt_lookup_noref");
#endif
	if (MPSAFE_LIKELY(af == AF_INET)) {
		uintptr_t s = mpsafe_rt_root4_slot(t, addr);
		struct rt_entry *rt =
		    (struct rt_entry *)(s & MPSAFE_RT_SLOT_PTRMASK);

		if (MPSAFE_LIKELY(
		        !(s & MPSAFE_RT_SLOT_NODE) && rt != NULL &&
		        /* Acquire: pairs with RTM_CHANGE's release. */
		        (mpsafe_load_acquire(&rt->rt_flags) & MPSAFE_RTF_READ)))
			return rt;
	}
	return rt_lookup_noref_slow(t, af, addr);
}

/* Largest batch of rt_lookup_noref_bulk(). */
#define RT_LOOKUP_BULK_MAX 64

/*
 * rt_lookup_noref_bulk(t, af, addrs, n, rts)
 *
 *	rt_lookup_noref() of n addresses at once: addrs holds n addresses
 *	of family af back to back (4 bytes each for AF_INET, 16 for
 *	AF_INET6, network order); rts[i] receives the entry for the i-th
 *	address, or NULL.  The batch goes through the trie level by
 *	level, overlapping its cache misses as DPDK's
 *	rte_lpm_lookup_bulk() and VPP's vectors do: the root slot of every
 *	address is prefetched before any is read, then each address that
 *	continues into a node has its slot there (AF_INET6, through a link
 *	that leaves levels out: and the node's key) prefetched before the
 *	next level is read, and at the end the lines holding each found
 *	entry's rt_gateway and rt_flags are prefetched, so the caller's
 *	reads of them hit.  Each rts[i] is what rt_lookup_noref() would have
 *	returned at some moment of the call: the lookups of one batch are
 *	not one snapshot of the table.  The entries are as
 *	rt_lookup_noref()'s: with MPSAFE_RTF_UPDATING set only rt_dst and
 *	rt_plen may be read, and none may be read after rt_read_exit().
 *	Returns 0; EINVAL (t, addrs or rts NULL, n above
 *	RT_LOOKUP_BULK_MAX), EAFNOSUPPORT (af neither AF_INET nor
 *	AF_INET6), rts untouched.  Caller must be between rt_read_enter(t)
 *	and rt_read_exit(t).  Never blocks.  Nothing to free.
 */
MPSAFE_API int rt_lookup_noref_bulk(struct rt_table *t, int af,
    const void *addrs, size_t n, struct rt_entry **rts);

/*
 * rt_check_reject_route(rt, ifp_is_loopback)
 *
 *	NetBSD's errno rules for output through rt: 0 unless
 *	MPSAFE_RTF_REJECT.  A reject route through a loopback interface
 *	gives EHOSTUNREACH for a host route, ENETUNREACH otherwise; else,
 *	while not expired (rmx_expire 0 or in the future), EHOSTUNREACH for
 *	a gateway route, EHOSTDOWN otherwise; an expired reject route
 *	rejects nothing (0).  Caller holds a reference.  Never blocks.
 */
MPSAFE_API int rt_check_reject_route(
    const struct rt_entry *rt, bool ifp_is_loopback);

/*
 * rt_lookup_nexthop(t, af, addr)
 *
 *	Longest-prefix match for the address bytes addr (as
 *	rt_lookup_noref()), returning the matching entry's next hop
 *	instead of the entry: NULL on a miss, for a NULL t or addr, or
 *	an unknown family.  On the path that reads the entry, an entry
 *	deleted during the call (MPSAFE_RTF_UP clear) makes it walk
 *	again and answer with what replaced it.  For AF_INET with the next hop's
 *	id in the lookup structure (the common case) it reads no entry:
 *	one to three trie slots and the table's small id directory, like
 *	DPDK's rte_fib.  Unlike entry lookups it never misses or waits
 *	because of MPSAFE_RTF_UPDATING: an RTM_CHANGE publishes its new
 *	next hop in one step, so a lookup returns the entry's old next hop
 *	or its new one, never a mix.  A delete during the call may or may
 *	not be seen (the next hop of the table before or after it).  The
 *	next hop may be read only until rt_read_exit().  Caller must be
 *	between rt_read_enter(t) and rt_read_exit(t) (diagnostic builds
 *	abort outside a read section on a lockless table).  Never blocks.
 *	Nothing to free.
 */
MPSAFE_API const struct rt_nexthop *rt_lookup_nexthop_slow(
    struct rt_table *t, int af, const void *addr);

/*
 * Inline: an IPv4 match up to /24 whose slot carries its next hop's id
 * is decided here, in one load of the root; rt_lookup_nexthop_slow()
 * does the rest, and is called only through rt_lookup_nexthop().
 */
static inline const struct rt_nexthop *
rt_lookup_nexthop(struct rt_table *t, int af, const void *addr)
{
	if (MPSAFE_LIKELY(af == AF_INET && t != NULL && addr != NULL)) {
		const struct mpsafe_rt_fastpath *f =
		    (const struct mpsafe_rt_fastpath *)(const void *)t;
		unsigned id;

#ifdef MPSAFE_DIAGNOSTIC
		mpsafe_net_lookup_check(t, "rt_lookup_nexthop");
#endif
		/*
		 * A node pointer carries no id.  The id's element holds the
		 * next hop while a slot names the id; its fields were
		 * written before the slot's release store (route.c).
		 */
		id = MPSAFE_RT_SLOT_ID(mpsafe_rt_root4_slot(t, addr));
		if (MPSAFE_LIKELY(id != 0))
			return &f->rf_nh[id];
	}
	return rt_lookup_nexthop_slow(t, af, addr);
}

/*
 * rt_lookup_nexthop_bulk(t, af, addrs, n, nhs)
 *
 *	rt_lookup_nexthop() of n addresses at once, laid out as for
 *	rt_lookup_noref_bulk() (the same staged, prefetching trie walk);
 *	nhs[i] receives the next hop for the i-th
 *	address, or NULL.  Each nhs[i] is what rt_lookup_nexthop() would
 *	have returned at some moment of the call.  Returns 0; EINVAL (t,
 *	addrs or nhs NULL, n above RT_LOOKUP_BULK_MAX), EAFNOSUPPORT (af
 *	neither AF_INET nor AF_INET6), nhs untouched.  Caller must be
 *	between rt_read_enter(t) and rt_read_exit(t).  Never blocks.
 *	Nothing to free.
 */
MPSAFE_API int rt_lookup_nexthop_bulk(struct rt_table *t, int af,
    const void *addrs, size_t n, const struct rt_nexthop **nhs);

/*
 * rt_nexthop_check_reject(nh, ifp_is_loopback)
 *
 *	rt_check_reject_route()'s errno rules applied to next hop nh (its
 *	nh_flags and nh_expire): 0 unless MPSAFE_RTF_REJECT, else
 *	EHOSTUNREACH, ENETUNREACH or EHOSTDOWN as there.  EINVAL for a
 *	NULL nh.  Caller must be allowed to read nh (see struct
 *	rt_nexthop).  Never blocks.
 */
MPSAFE_API int rt_nexthop_check_reject(
    const struct rt_nexthop *nh, bool ifp_is_loopback);

/*
 * rt_walktree(t, af, fn, arg)
 *
 *	Call fn(rt, arg) for each entry of family af (AF_UNSPEC: both), in
 *	no particular order, until fn returns non-zero; return that value,
 *	or 0.  EAFNOSUPPORT for another af.  Not inside the read side of t
 *	(rt_read_enter(), a read section, another walk's fn), as
 *	rt_table_stats().  fn may block but must not call rtrequest(),
 *	rt_table_stats() or rt_walktree() on t, nor wait for a change of
 *	one of t's entries
 *	(a lookup without MPSAFE_RT_NOWAIT, through rtalloc1(), rt_lookup()
 *	or a route cache attached without it): the change needs the lock
 *	the walk holds to end.  Diagnostic builds abort on either.  rt is
 *	valid during the call only (rt_ref() to keep it; a count on an
 *	entry being changed holds that change off until it is dropped).
 *	Blocks: holds the table's read lock (RWLOCK) or the writer mutex
 *	(PSERIALIZE: writers wait, lookups do not).  fn runs with
 *	cancellation off (a cancelled fn would leave the lock held).
 */
MPSAFE_API int rt_walktree(struct rt_table *t, int af,
    int (*fn)(struct rt_entry *rt, void *arg), void *arg);

/*
 * rtflushall(t, af)
 *
 *	Invalidate every route cache of family af (AF_UNSPEC: both)
 *	attached to t, by advancing the family's generation.  Returns 0 or
 *	EAFNOSUPPORT.  Never blocks.
 */
MPSAFE_API int rtflushall(struct rt_table *t, int af);

/* Inline accessors for holders. */
static inline const struct sockaddr *
rt_getkey(const struct rt_entry *rt)
{
	return &rt->rt_dst.sa;
}

static inline unsigned
rt_getplen(const struct rt_entry *rt)
{
	return rt->rt_plen;
}

/*
 * Acquire: pairs with the release store that ends an RTM_CHANGE, so
 * fields read after seeing MPSAFE_RTF_UPDATING clear are the new ones.
 */
static inline uint32_t
rt_getflags(const struct rt_entry *rt)
{
	return mpsafe_load_acquire(&rt->rt_flags) & ~(uint32_t)MPSAFE_RTF_READ;
}

/* The gateway, or NULL unless MPSAFE_RTF_GATEWAY. */
static inline const struct sockaddr *
rt_getgate(const struct rt_entry *rt)
{
	return (rt_getflags(rt) & MPSAFE_RTF_GATEWAY) ? &rt->rt_gateway.sa
	                                              : NULL;
}

/*
 * rt_getnexthop(rt): rt's current next hop (never NULL).  Valid as long
 * as rt is (a reference, or the read section that found it).  Acquire:
 * pairs with the release store that publishes it (RTM_ADD's linking of
 * the entry, RTM_CHANGE's swap), so its fields are seen initialised.
 */
static inline const struct rt_nexthop *
rt_getnexthop(const struct rt_entry *rt)
{
	return mpsafe_load_acquire(&rt->rt_nh);
}

/*
 * Route caches.  A struct route remembers one destination and the entry
 * found for it, valid while the table's generation for its family is
 * the one it saw.  The library does not lock a cache: one thread uses it
 * at a time (a per-thread cache, or one under the caller's mutex).  A
 * cache holds at most one reference (a psref) at a time: each entry
 * returned by rtcache_init, rtcache_lookup2 (and its wrappers),
 * rtcache_validate or rtcache_update must be released with rtcache_unref() by
 * the same thread before the next of those calls on the same cache (diagnostic
 * builds abort otherwise).  Between unref and the next validation ro_rt is a
 * weak pointer, checked against the generation before use.
 * rtcache_lookup_noref() takes no reference (the caller's read section
 * protects the entry) and leaves ro_rt weak.  Library-private fields.
 */
struct route {
	/* What a hit reads comes first (rtcache_lookup_noref()). */
	struct rt_entry *ro_rt; /* weak unless ro_held */
	/* The table's generation of ro_dst's family; set with ro_rt. */
	const MPSAFE_ATOMIC(uint64_t) * ro_genp;
	uint64_t ro_gen;          /* *ro_genp when ro_rt was found */
	uint32_t ro_held;         /* a reference is out */
	uint32_t ro_magic;        /* MPSAFE_RO_MAGIC once attached */
	union rt_sockaddr ro_dst; /* AF_UNSPEC: none */
	struct rt_table *ro_table;
	struct psref ro_psref;
	uint32_t ro_flags; /* MPSAFE_RT_NOWAIT */
};

#define MPSAFE_RO_MAGIC 0x524f5554u /* "ROUT": struct route attached */

/*
 * rtcache_attach(ro, t, flags)
 *
 *	Initialise ro, empty, for table t.  flags MPSAFE_RT_NOWAIT: lookups
 *	through ro never block (an entry being changed is a miss), as on a
 *	forwarding path.  Never blocks.
 */
MPSAFE_API void rtcache_attach(struct route *ro, struct rt_table *t, int flags);

/*
 * rtcache_init(ro)
 *
 *	Look up ro's destination (set by rtcache_setdst()) and cache the
 *	entry; returns it with a psref, or NULL (no destination, no
 *	route).  Caller must: hold no reference from ro (diagnostic
 *	builds abort); release with rtcache_unref(rt, ro).  Blocks only
 *	as rtalloc1() does: an entry being changed makes it wait for the
 *	change, or miss if ro is MPSAFE_RT_NOWAIT; and on an
 *	RT_SYNC_RWLOCK table it takes the read lock, NOWAIT or not, so it
 *	may wait behind a writer (see MPSAFE_RT_NOWAIT).
 */
MPSAFE_API struct rt_entry *rtcache_init(struct route *ro);

/*
 * rtcache_lookup2(ro, dst, flags, hitp), rtcache_lookup1(ro, dst, flags),
 * rtcache_lookup(ro, dst)
 *
 *	The entry for dst through ro: if ro caches dst and is still valid,
 *	that entry (a hit, *hitp = 1); else set ro's destination to dst,
 *	look it up and cache it (*hitp = 0).  Returns the entry with a
 *	psref, or NULL.  flags is ignored (NetBSD's clone argument; kept
 *	for source compatibility).  Caller must: hold no reference from ro;
 *	release with rtcache_unref().  Blocks as rtcache_init().
 */
MPSAFE_API struct rt_entry *rtcache_lookup2(
    struct route *ro, const struct sockaddr *dst, int flags, int *hitp);
MPSAFE_API struct rt_entry *rtcache_lookup1(
    struct route *ro, const struct sockaddr *dst, int flags);
MPSAFE_API struct rt_entry *rtcache_lookup(
    struct route *ro, const struct sockaddr *dst);

/*
 * rtcache_lookup_noref(ro, dst, hitp)
 *
 *	The entry for dst through ro, without taking a reference: if ro
 *	caches dst and is still valid (the family's generation unchanged
 *	since it was filled, entry MPSAFE_RTF_UP), that entry; otherwise
 *	set ro's destination to dst (if it differs), look it up with the
 *	trie walk (as rt_lookup_noref()) and cache it weakly with the
 *	generation read before the walk.  An entry with MPSAFE_RTF_UPDATING
 *	set is a miss (NULL) and is not cached; one deleted since the walk
 *	(MPSAFE_RTF_UP clear) makes it walk again.
 *	NULL for a NULL ro or dst or a family other than AF_INET/AF_INET6.
 *	Optional hitp (may be NULL): *hitp = 1 on a hit, 0 otherwise.
 *	The entry may be read only until rt_read_exit(); while the caller
 *	stays in the read section its fields do not change.
 *	Caller must: be between rt_read_enter(t) and rt_read_exit(t) of
 *	ro's table t; hold no reference from ro (diagnostic builds abort,
 *	as for rtcache_lookup2(); others return NULL).  Mixes with the
 *	counted lookups on the same cache.  Never blocks.  For the
 *	pserialize forwarding path.  Inline: the IPv4 hit is decided here
 *	(a few loads from ro's first line and one from the entry's);
 *	rtcache_lookup_noref_slow() does the rest, and is called only
 *	through rtcache_lookup_noref().
 */
MPSAFE_API struct rt_entry *rtcache_lookup_noref_slow(
    struct route *ro, const struct sockaddr *dst, int *hitp);

static inline struct rt_entry *
rtcache_lookup_noref(struct route *ro, const struct sockaddr *dst, int *hitp)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)(const void *)dst;
	struct rt_entry *rt;
	uint32_t fl;

	/*
	 * The IPv4 hit inline; everything else, every check of misuse
	 * included, in rtcache_lookup_noref_slow().
	 */
	if (MPSAFE_LIKELY(
	        ro != NULL && dst != NULL && ro->ro_magic == MPSAFE_RO_MAGIC &&
	        ro->ro_held == 0 && (rt = ro->ro_rt) != NULL &&
	        dst->sa_family == AF_INET &&
	        ro->ro_dst.sin.sin_family == AF_INET &&
	        ro->ro_dst.sin.sin_addr.s_addr == sin->sin_addr.s_addr &&
	        /*
	         * Acquire: pairs with the table's seq_cst advance of the
	         * generation (see rtcache.c): equal inside the read side,
	         * rt is not yet destroyed.
	         */
	        mpsafe_load_acquire(ro->ro_genp) == ro->ro_gen)) {
		/*
		 * Acquire: pairs with the release that ends RTM_CHANGE.
		 * Without MPSAFE_RTF_READ the slow path marks the entry.
		 */
		fl = mpsafe_load_acquire(&rt->rt_flags);
		if (MPSAFE_LIKELY((fl & (MPSAFE_RTF_UP | MPSAFE_RTF_UPDATING |
		                            MPSAFE_RTF_READ)) ==
		                  (MPSAFE_RTF_UP | MPSAFE_RTF_READ))) {
			if (hitp != NULL)
				*hitp = 1;
			return rt;
		}
	}
	return rtcache_lookup_noref_slow(ro, dst, hitp);
}

/*
 * rtcache_validate(ro)
 *
 *	The cached entry with a psref if ro is still valid (generation
 *	unchanged, entry up), else NULL (the cache is then empty).  Never
 *	waits for a change, NOWAIT or not: a change advances the
 *	generation when it begins, so during one the cache is stale and
 *	this returns NULL; looking up again (rtcache_update(),
 *	rtcache_lookup()) waits for the change unless ro is NOWAIT.
 *	(NetBSD's validate waits for RTF_UPDATING itself; here the
 *	change's advance of the generation comes first, so that case is
 *	a miss.)  Caller must: hold no reference from ro;
 *	release with rtcache_unref().  Blocks only on the read lock of an
 *	RT_SYNC_RWLOCK table (behind a writer); never on a lockless one.
 */
MPSAFE_API struct rt_entry *rtcache_validate(struct route *ro);

/*
 * rtcache_update(ro, flags)
 *
 *	Forget the cached entry and look ro's destination up again
 *	(rtcache_init()).  flags is ignored (NetBSD's clone).
 */
MPSAFE_API struct rt_entry *rtcache_update(struct route *ro, int flags);

/*
 * rtcache_unref(rt, ro)
 *
 *	Release the reference rt obtained through ro (no-op for NULL rt).
 *	The same thread that obtained it.  Never blocks.
 */
MPSAFE_API void rtcache_unref(struct rt_entry *rt, struct route *ro);

/*
 * rtcache_free(ro)
 *
 *	Forget the cached entry and destination (no reference is dropped:
 *	caller must hold none; every build aborts otherwise, since the
 *	reference would be lost).  ro may be
 *	attached or used again.  Never blocks.
 */
MPSAFE_API void rtcache_free(struct route *ro);

/*
 * rtcache_copy(new_ro, old_ro)
 *
 *	Make new_ro cache what old_ro caches (destination, and the entry if
 *	old_ro is valid, without a reference); new_ro takes old_ro's table.
 *	Both must have been attached (rtcache_attach()) and neither may
 *	hold a reference (every build aborts otherwise).  Blocks as
 *	rtcache_validate(old_ro).
 */
MPSAFE_API void rtcache_copy(struct route *new_ro, struct route *old_ro);

/*
 * rtcache_setdst(ro, dst)
 *
 *	Set ro's destination (copied) and forget its entry.  Returns 0,
 *	EINVAL (NULL dst, or an IPv6 zone no key can carry: see struct
 *	rt_addrinfo), or EAFNOSUPPORT (ro unchanged).  Caller must hold no
 *	reference from ro.  Never blocks.
 */
MPSAFE_API int rtcache_setdst(struct route *ro, const struct sockaddr *dst);

/*
 * rtcache_getdst(ro)
 *
 *	ro's destination, or NULL if none.  Never blocks.
 */
MPSAFE_API const struct sockaddr *rtcache_getdst(const struct route *ro);

/*
 * Per-thread caches for a forwarding path (NetBSD's rtcache_percpu_*,
 * keyed by thread since userspace cannot pin a CPU): each thread that
 * calls rtcache_perthread_getref() gets its own struct route, attached
 * with MPSAFE_RT_NOWAIT, created on first use and kept until
 * rtcache_perthread_free(), also after the thread exits (about 160 bytes
 * per thread that ever called getref): meant for long-lived forwarding
 * threads, not for threads made per task.
 */
struct rtcache_perthread; /* opaque */

/*
 * rtcache_perthread_alloc(t)
 *
 *	A set of per-thread caches on t, or NULL with errno ENOMEM or
 *	EAGAIN (no thread-specific key left).  Blocks (allocates).
 */
MPSAFE_API struct rtcache_perthread *rtcache_perthread_alloc(
    struct rt_table *t);

/*
 * rtcache_perthread_getref(pc)
 *
 *	The calling thread's cache, or NULL (ENOMEM on first use).  Use it
 *	until rtcache_perthread_putref(pc) on the same thread, holding no
 *	reference from it past then (diagnostic builds abort on a nested
 *	getref).  Never blocks after the first call.
 */
MPSAFE_API struct route *rtcache_perthread_getref(struct rtcache_perthread *pc);

/*
 * rtcache_perthread_putref(pc)
 *
 *	End the use begun by rtcache_perthread_getref().  Diagnostic builds
 *	abort if the cache still holds a reference.  Never blocks.
 */
MPSAFE_API void rtcache_perthread_putref(struct rtcache_perthread *pc);

/*
 * rtcache_perthread_free(pc)
 *
 *	Free every thread's cache and pc.  No thread may use pc during or
 *	after the call.  Blocks briefly.
 */
MPSAFE_API void rtcache_perthread_free(struct rtcache_perthread *pc);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_ROUTE_H */
