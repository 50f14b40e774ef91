/*
 * mpsafe/net/lltable.h: per-interface neighbour tables (link-layer
 * next-hop caches), after NetBSD's lltable/llentry (sys/net/if_llatbl.h).
 *
 * NetBSD keeps the link-layer address of a next hop (ARP, NDP) in a
 * table of the interface, apart from the routing table: a gateway
 * route names the next hop's IP address, and output looks that address
 * up in the output interface's lltable.  This is that table: one per
 * (interface, address family), mapping an AF_INET or AF_INET6 address
 * to a link-layer address and flags.  Resolving addresses (sending ARP
 * or NDP) is out of scope: entries are set by lla_update().
 *
 * Lookups copy the entry out (struct lla_info) instead of returning a
 * referenced entry, as NetBSD's lla_lookup() does with a locked one: a
 * link-layer address is a few bytes, and a copy needs no reference to
 * give back.  Two synchronisation designs, chosen at creation:
 *  - LLT_SYNC_PSERIALIZE (lockless reads): a lookup walks a hash
 *    chain (pslist) inside a pserialize read section, takes no lock
 *    and writes nothing shared.  Entries are never changed in place:
 *    an update publishes a new entry and retires the old one, freed by
 *    mpsafe_defer() after a grace period (pending memory bounded by
 *    mpsafe_defer_set_limit()).  A reader sees the old entry or the new
 *    one, never a mixture.
 *  - LLT_SYNC_RWLOCK: lookups take the table's read lock, updates its
 *    write lock; removed entries are freed at once.
 *
 * IPv6 zones.  A table's addresses are all of its interface's link, so a
 * zoned address (link-local unicast fe80::/10, and interface- or
 * link-local multicast without the P flag: ff01::, ff02::, ff11::,
 * ff12::) is one key however it names its zone: not at all, in
 * sin6_scope_id, or in bits 16..31 (KAME's embedded form); fe80::1,
 * fe80::1 with scope ifindex and fe80:<ifindex>::1 are one entry.  A zone
 * other than the table's ifindex (or two that differ, or one over
 * 0xffff) is EINVAL; lla_lookup_addr() of such an embedded form finds
 * nothing.  Other addresses' scope ids are ignored.
 *
 * Differences from NetBSD: no per-entry lock or reference count (copies
 * instead), no timers or resolution state machine, no LLE_* flags but
 * the ones below, the table is not reached through struct ifnet (the
 * caller keeps it with its interface), and the interface is named by
 * index.
 */
#ifndef MPSAFE_NET_LLTABLE_H
#define MPSAFE_NET_LLTABLE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

/* Longest link-layer address kept (bytes); Ethernet's is 6. */
#define LLT_ADDR_MAX 16

/* Entry flags (struct lla_info.lli_flags). */
#define LLE_VALID 0x1  /* lli_addr holds a resolved address */
#define LLE_STATIC 0x2 /* set by hand; kept, not used by the library */
#define LLE_PUB 0x4    /* published (proxy); kept, not used */
#define LLE_USERMASK (LLE_VALID | LLE_STATIC | LLE_PUB)

/* Default number of hash chains (lltable_create() with 0). */
#define LLT_BUCKETS_DEFAULT 64
#define LLT_BUCKETS_MAX (1u << 20)

enum lltable_sync {
	LLT_SYNC_RWLOCK = 1,     /* table rwlock */
	LLT_SYNC_PSERIALIZE = 2, /* lockless reads */
};

/* What a lookup copies out of an entry. */
struct lla_info {
	uint8_t lli_addr[LLT_ADDR_MAX]; /* link-layer address */
	uint8_t lli_len;                /* its length, 0 if not LLE_VALID */
	uint32_t lli_flags;             /* LLE_* */
};

struct lltable; /* opaque */

/*
 * lltable_create(lltp, af, ifindex, sync, nbuckets)
 *
 *	Create an empty table for addresses of family af (AF_INET or
 *	AF_INET6) on interface ifindex, with the design sync and nbuckets
 *	hash chains (0: LLT_BUCKETS_DEFAULT; rounded up to a power of
 *	two), and store it in *lltp.  The chains never grow (NetBSD's
 *	neither): a lookup walks one chain, so size nbuckets to the
 *	neighbours expected (measured on the project's VM: with the 64
 *	default chains a lookup takes 25 ns among 1k entries and about
 *	100 us among 100k; with nbuckets 100k, 80 ns).  Returns 0,
 *	EINVAL (NULL lltp, unknown sync, nbuckets over LLT_BUCKETS_MAX),
 *	EAFNOSUPPORT or ENOMEM.  May block (allocates).
 */
MPSAFE_API int lltable_create(struct lltable **lltp, int af, unsigned ifindex,
    enum lltable_sync sync, unsigned nbuckets);

/*
 * lltable_destroy(llt)
 *
 *	Free llt and its entries.  Caller must: have made llt unreachable
 *	to lookups and waited for those in progress to end (for a table
 *	kept with an interface, the interface's detach does both); make no
 *	other call on llt during or after it.  Takes no lock and waits for
 *	nothing: entries the table retired earlier may still be waiting for
 *	their grace period, and their reclamation never touches the table.
 *	Not in a read section (aborts).
 */
MPSAFE_API void lltable_destroy(struct lltable *llt);

/*
 * lla_update(llt, l3addr, lladdr, len, flags)
 *
 *	Set the entry for l3addr to the link-layer address lladdr (len
 *	bytes, at most LLT_ADDR_MAX; len 0 with lladdr NULL: an entry
 *	still unresolved, without LLE_VALID) and flags (LLE_USERMASK bits;
 *	LLE_VALID is set when len > 0), adding it if absent.  Returns 0;
 *	EINVAL (NULL llt or l3addr, len over LLT_ADDR_MAX, NULL lladdr
 *	with len > 0, flags outside LLE_USERMASK); EAFNOSUPPORT (l3addr
 *	not of the table's family, or a zone other than the table's
 *	interface: see "IPv6 zones"); ENOMEM (table unchanged); EDEADLK
 *	(called inside a read section; diagnostic builds abort).  Writers
 *	exclude each other.  Blocks (a lock; with LLT_SYNC_PSERIALIZE it
 *	may wait for room under the deferred-reclamation limit).  Not in a
 *	read section.
 */
MPSAFE_API int lla_update(struct lltable *llt, const struct sockaddr *l3addr,
    const void *lladdr, size_t len, uint32_t flags);

/*
 * lla_delete(llt, l3addr)
 *
 *	Remove the entry for l3addr.  Returns 0, EINVAL (NULL argument, or
 *	another zone), EAFNOSUPPORT (wrong family), ESRCH (no such entry)
 *	or EDEADLK
 *	(inside a read section; diagnostic builds abort).  Blocks as
 *	lla_update().  Not in a read section.
 */
MPSAFE_API int lla_delete(struct lltable *llt, const struct sockaddr *l3addr);

/*
 * lla_lookup(llt, l3addr, info)
 *
 *	Copy the entry for l3addr into *info.  Returns 0, ENOENT (no
 *	entry), EINVAL (NULL argument, or another zone) or EAFNOSUPPORT
 *	(wrong family).
 *	LLT_SYNC_PSERIALIZE: never blocks, may be called in or out of a
 *	read section.  LLT_SYNC_RWLOCK: takes the read lock (blocks while
 *	a writer holds it).
 */
MPSAFE_API int lla_lookup(
    struct lltable *llt, const struct sockaddr *l3addr, struct lla_info *info);

/*
 * lla_lookup_addr(llt, addr, info)
 *
 *	As lla_lookup() with the address bytes (4 for AF_INET, 16 for
 *	AF_INET6, network order; a zoned address plain or in the embedded
 *	form) instead of a sockaddr: the forwarding path's call.  Returns 0
 *	or ENOENT (also for an embedded zone other than the table's).
 */
MPSAFE_API int lla_lookup_addr(
    struct lltable *llt, const void *addr, struct lla_info *info);

/*
 * lltable_count(llt)
 *
 *	Number of entries.  Never blocks (a snapshot).
 */
MPSAFE_API size_t lltable_count(const struct lltable *llt);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_LLTABLE_H */
