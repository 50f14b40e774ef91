/*
 * mpsafe/net/if.h: the collection of network interfaces, after NetBSD's
 * MP-safe ifnet (sys/net/if.h, sys/net/if.c).
 *
 * An interface (struct ifnet) is found three ways, all lock-free for
 * readers: through the index table (if_byindex(), if_get_byindex()),
 * through the list of interfaces (IFNET_READER_FOREACH), and by name
 * (if_get(), ifunit()).  Inside a pserialize read section a reader may use
 * what it found without a reference; to keep it across blocking it takes a
 * psref (if_get_byindex(), if_get(), if_acquire()) and drops it with
 * if_put() on the same thread.  if_detach() unpublishes the interface,
 * waits for a grace period and for every psref holder, removes its
 * addresses the same way, and only then returns: the caller may free the
 * interface.  Packets never hold a pointer to an interface, only its index
 * (mpsafe/net/mbuf.h); an index may be reused by a later if_attach(), so a
 * stale index finds the new interface or nothing.
 *
 * Addresses (struct if_addr, NetBSD's struct ifaddr) are on a pslist per
 * interface with a psref target of their own (ifa_acquire()/ifa_release())
 * and a plain reference count for long-term owners (ifaref()/ifafree()).
 *
 * Names and glibc.  A program may include glibc's <net/if.h> and
 * <net/route.h> together with this header.  glibc's <net/if.h> defines
 * struct ifaddr (under _DEFAULT_SOURCE, i.e. by default), struct ifreq,
 * struct ifconf, struct ifmap, if_nametoindex(), if_indextoname(),
 * IFNAMSIZ, IF_NAMESIZE and the IFF_* flags, and it defines the macros
 * ifa_broadaddr and ifa_dstaddr.  So here:
 *  - NetBSD's struct ifaddr is struct if_addr (same ifa_* fields, without
 *    ifa_dstaddr/ifa_broadaddr, which glibc turns into macros);
 *  - the name length is IFNET_NAMESIZE, not IFNAMSIZ;
 *  - if_flags holds the system's IFF_* values: include <net/if.h> to name
 *    them; this header does not define them.
 * NetBSD's function names (if_attach, if_get_byindex, ifa_insert...) do not
 * clash with glibc and are kept.
 *
 * Writers (attach, detach, address insertion and removal) run in thread
 * context, outside read sections, and may block; they serialise among
 * themselves on the global ifnet lock (IFNET_GLOBAL_LOCK()) and, for an
 * interface's addresses, on that interface's lock (IFNET_LOCK()).  Lock
 * order: IFNET_GLOBAL_LOCK() before IFNET_LOCK() (if_detach() takes both
 * in that order); never call if_attach() or if_detach() holding the
 * global lock or any interface's IFNET_LOCK().
 */
#ifndef MPSAFE_NET_IF_H
#define MPSAFE_NET_IF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <mpsafe/atomic.h>
#include <mpsafe/defer.h>
#include <mpsafe/export.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/psref.h>

MPSAFE_BEGIN_DECLS

struct mbuf;

/* Longest interface name, terminator included (glibc's IFNAMSIZ). */
#define IFNET_NAMESIZE 16
/* Longest link-layer address. */
#define IFNET_LLADDR_MAX 16
/* Largest interface index (the index table never grows past it). */
#define IFNET_INDEX_MAX 65535u

/*
 * Statistics counters (NetBSD's if_stat_t).  Kept per registered thread and
 * summed by if_stat_get(): counting a packet writes only the counting
 * thread's own cache line.
 */
typedef enum {
	if_ipackets = 0, /* packets received */
	if_ierrors,      /* input errors */
	if_opackets,     /* packets sent */
	if_oerrors,      /* output errors */
	if_collisions,   /* collisions */
	if_ibytes,       /* bytes received */
	if_obytes,       /* bytes sent */
	if_iqdrops,      /* input packets dropped */
	if_noproto,      /* input for an unsupported protocol */
	IF_NSTATS
} if_stat_t;

/*
 * Counter slots per interface: one per registered thread up to
 * IF_STAT_THREADS threads at once, then one shared slot (atomic adds) for
 * the rest.
 */
#define IF_STAT_THREADS 64

/* One thread's counters of one interface (library-private layout). */
struct if_stat_slot {
	/* Written by the slot's thread (or atomically, the shared slot). */
	MPSAFE_ATOMIC(uint64_t) ss_count[IF_NSTATS];
} __attribute__((aligned(128)));

/* Values of if_state (library-private). */
#define IFNET_STATE_NEW 0u
#define IFNET_STATE_ATTACHED 0x49464e41u  /* "IFNA" */
#define IFNET_STATE_DETACHING 0x49464e44u /* "IFND" */
#define IFNET_STATE_DETACHED 0x69666e64u  /* "ifnd" */

struct ifnet {
	/*
	 * Set by the caller before if_attach(), then read-only while the
	 * interface is attached.
	 */
	char if_xname[IFNET_NAMESIZE]; /* unique name, NUL-terminated */
	uint8_t if_addrlen;            /* link-layer address length */
	uint8_t if_lladdr[IFNET_LLADDR_MAX];
	/*
	 * Output routine: never NULL while attached (if_attach() installs
	 * one that drops the packet with ENXIO if the caller set none).  The
	 * callee owns the packet.
	 */
	int (*if_output)(
	    struct ifnet *, struct mbuf *, const struct sockaddr *);
	void *if_softc; /* the driver's */

	/*
	 * Changed by writers holding IFNET_LOCK(ifp) (if_set_flags(),
	 * if_set_mtu()), read by anyone: relaxed atomics, no ordering (a
	 * reader sees the old or the new value).
	 */
	MPSAFE_ATOMIC(int) if_flags; /* the system's IFF_* flags */
	MPSAFE_ATOMIC(unsigned) if_mtu;

	/* Set by if_attach(); stable until if_detach() returns. */
	unsigned if_index;

	/* Library-private from here on. */
	struct pslist_entry if_pslist_entry; /* ifnet_pslist: global lock */
	struct psref_target if_psref;
	struct pslist_head if_addr_pslist; /* addresses: IFNET_LOCK */
	pthread_mutex_t if_ioctl_lock;     /* IFNET_LOCK */
	struct if_stat_slot *if_stats;     /* IF_STAT_THREADS + 1 slots */
	uint32_t if_state;                 /* IFNET_STATE_*: global lock */
	/*
	 * Unlinked but still being detached (if.c's "limbo"): the next
	 * interface on that list; written and read under the global lock.
	 */
	struct ifnet *if_limbo_next;
	/*
	 * Addresses unlinked from if_addr_pslist whose removal has not
	 * finished (chained by ifa_limbo_next), the ifa_remove() calls
	 * between their unlink and their end, and the condition
	 * if_detach() waits on until that count is 0: all IFNET_LOCK.
	 */
	struct if_addr *if_addr_limbo;
	unsigned if_ifa_removing;
	pthread_cond_t if_ifa_removed;
	struct if_addr *if_addr_tail; /* the list's last address: IFNET_LOCK */
};

/*
 * An interface address (NetBSD's struct ifaddr; renamed, see above).
 * Created by ifa_create(), inserted by ifa_insert(), which hands the
 * creator's reference to the interface's list.
 */
struct if_addr {
	/* Set by ifa_create(); read-only afterwards. */
	struct sockaddr *ifa_addr;    /* AF_INET or AF_INET6 */
	struct sockaddr *ifa_netmask; /* same family, or NULL */
	/*
	 * Set by ifa_insert() under IFNET_LOCK, read-only while the address
	 * is on the list.  ifa_ifp may be dereferenced by a reader that
	 * found the address on the list (inside the read section, or with
	 * an ifa_acquire() reference): if_detach() waits for those before
	 * it returns, also when a concurrent ifa_remove() unlinked the
	 * address first.  A holder of an ifaref() reference alone must not use
	 * ifa_ifp: it uses ifa_ifindex with if_get_byindex().
	 */
	struct ifnet *ifa_ifp;
	unsigned ifa_ifindex;

	/* Library-private from here on. */
	struct pslist_entry ifa_pslist_entry; /* if_addr_pslist: IFNET_LOCK */
	struct psref_target ifa_psref;
	MPSAFE_ATOMIC(unsigned) ifa_refcnt; /* ifaref()/ifafree() */
	uint32_t ifa_state;                 /* IFA_STATE_*: IFNET_LOCK */
	struct if_addr *ifa_reap_next;      /* removal chain: the remover */
	struct if_addr *ifa_limbo_next;     /* if_addr_limbo: IFNET_LOCK */
};

#define IFA_STATE_NEW 0x69666130u      /* "ifa0" */
#define IFA_STATE_INSERTED 0x69666131u /* "ifa1" */
#define IFA_STATE_REMOVED 0x69666132u  /* "ifa2" */

/* The list of attached interfaces (readers: IFNET_READER_FOREACH). */
extern MPSAFE_API struct pslist_head ifnet_pslist;

/*
 * Library-private, public only for the inline lookups below.  The index
 * table: it_ifp[i] is the interface whose index is i, or NULL.  The
 * pointer is published with a release store when the table grows; the
 * old table is freed after a grace period.
 */
struct if_index_table {
	struct mpsafe_defer it_defer;           /* retirement after growth */
	unsigned it_limit;                      /* slots; indexes 1..limit-1 */
	MPSAFE_ATOMIC(struct ifnet *) * it_ifp; /* it_limit slots */
};
extern MPSAFE_API MPSAFE_ATOMIC(struct if_index_table *) ifindex2ifnet;
extern MPSAFE_API struct psref_class *ifnet_psref_class;
#if defined(__GNUC__) || defined(__clang__)
extern MPSAFE_API __thread int if_stat_self
    __attribute__((tls_model("initial-exec")));
#else
extern MPSAFE_API _Thread_local int if_stat_self;
#endif
MPSAFE_API MPSAFE_COLD int if_stat_attach(void);
MPSAFE_API MPSAFE_COLD void if_stat_bad(int stat);
MPSAFE_API void if_stat_add_shared(
    struct ifnet *ifp, if_stat_t stat, uint64_t n);

/* --- lock and lists ------------------------------------------------------- */

/*
 * if_global_lock(), if_global_unlock() (IFNET_GLOBAL_LOCK/UNLOCK)
 *
 *	The writers' lock over the interface list and the index table.
 *	Thread context, not inside a read section (it aborts there with
 *	a message: see IFNET_LOCK() below).  Not recursive.  Held by
 *	if_attach()/if_detach() internally: a caller holding it must not
 *	call them.  Every build aborts with a message when a thread breaks
 *	that rule, takes the lock twice, or unlocks it without holding it
 *	(the lock would hang, or let two threads in).
 *	if_global_locked(): for assertions, whether some thread holds it
 *	(not necessarily the caller).
 */
MPSAFE_API void if_global_lock(void);
MPSAFE_API void if_global_unlock(void);
MPSAFE_API bool if_global_locked(void);

#define IFNET_GLOBAL_LOCK() if_global_lock()
#define IFNET_GLOBAL_UNLOCK() if_global_unlock()
#define IFNET_GLOBAL_LOCKED() if_global_locked()

/*
 * IFNET_LOCK(ifp), IFNET_UNLOCK(ifp)
 *
 *	ifp's own lock (NetBSD's if_ioctl_lock): writers of ifp's address
 *	list, MTU and flags hold it.  Thread context; may block.  Taken
 *	after the global lock, never before it.  Neither lock may be taken
 *	inside a read section: if_attach() and ifa_insert() may hold them
 *	while a table's deferred free waits for a grace period, which would
 *	wait for the caller.  if_global_lock() aborts with a message there;
 *	IFNET_LOCK() does in diagnostic builds (MPSAFE_DIAGNOSTIC).
 */
static inline void
if_ioctl_lock_enter(struct ifnet *ifp)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(pserialize_in_read_section()))
		mpsafe_panic("IFNET_LOCK inside a read section: ifa_insert() "
		             "may hold the lock while it waits for a grace "
		             "period, which would wait for this thread");
#endif
	pthread_mutex_lock(&ifp->if_ioctl_lock);
}

#define IFNET_LOCK(ifp) if_ioctl_lock_enter(ifp)
#define IFNET_UNLOCK(ifp) pthread_mutex_unlock(&(ifp)->if_ioctl_lock)

/* Readers: inside a pserialize read section. */
#define IFNET_READER_FIRST() \
	PSLIST_READER_FIRST(&ifnet_pslist, struct ifnet, if_pslist_entry)
#define IFNET_READER_NEXT(ifp) \
	PSLIST_READER_NEXT((ifp), struct ifnet, if_pslist_entry)
#define IFNET_READER_FOREACH(ifp) \
	PSLIST_READER_FOREACH (   \
	    (ifp), &ifnet_pslist, struct ifnet, if_pslist_entry)
#define IFNET_READER_EMPTY() (IFNET_READER_FIRST() == NULL)

/* Writers: holding IFNET_GLOBAL_LOCK().  Insertion is if_attach()'s. */
#define IFNET_WRITER_FIRST() \
	PSLIST_WRITER_FIRST(&ifnet_pslist, struct ifnet, if_pslist_entry)
#define IFNET_WRITER_NEXT(ifp) \
	PSLIST_WRITER_NEXT((ifp), struct ifnet, if_pslist_entry)
#define IFNET_WRITER_FOREACH(ifp) \
	PSLIST_WRITER_FOREACH (   \
	    (ifp), &ifnet_pslist, struct ifnet, if_pslist_entry)
#define IFNET_WRITER_EMPTY() (IFNET_WRITER_FIRST() == NULL)

/* An interface's addresses; readers inside a read section. */
#define IFADDR_READER_FIRST(ifp) \
	PSLIST_READER_FIRST(     \
	    &(ifp)->if_addr_pslist, struct if_addr, ifa_pslist_entry)
#define IFADDR_READER_NEXT(ifa) \
	PSLIST_READER_NEXT((ifa), struct if_addr, ifa_pslist_entry)
#define IFADDR_READER_FOREACH(ifa, ifp) \
	PSLIST_READER_FOREACH (         \
	    (ifa), &(ifp)->if_addr_pslist, struct if_addr, ifa_pslist_entry)
#define IFADDR_READER_EMPTY(ifp) (IFADDR_READER_FIRST(ifp) == NULL)
/* Writers hold IFNET_LOCK(ifp). */
#define IFADDR_WRITER_FOREACH(ifa, ifp) \
	PSLIST_WRITER_FOREACH (         \
	    (ifa), &(ifp)->if_addr_pslist, struct if_addr, ifa_pslist_entry)

/* --- attach and detach ---------------------------------------------------- */

/*
 * if_attach(ifp)
 *
 *	Give ifp an index (the lowest free one; the index table grows as
 *	needed) and publish it in the index table, the name table and on the
 *	interface list.
 *	The caller has zeroed ifp (or has it from a detach) and set
 *	if_xname, and may have set if_mtu, if_flags, if_output, if_softc,
 *	if_addrlen and if_lladdr.  Returns 0; EINVAL for a NULL ifp, an
 *	empty or unterminated name, an all-digit name (if_get() reads those
 *	as indexes), if_addrlen > IFNET_LLADDR_MAX, or an ifp already
 *	attached; EEXIST when an attached interface has the name; ENOSPC
 *	when all IFNET_INDEX_MAX indexes are in use; ENOMEM.  On error
 *	nothing changed.  Thread context, not in a read section.  May block
 *	(allocates, takes the global lock).
 */
MPSAFE_API int if_attach(struct ifnet *ifp);

/*
 * if_detach(ifp)
 *
 *	Unpublish ifp and wait until nobody uses it, in this order: unlink it
 *	from the interface list and the index table (from now on lookups
 *	return NULL and its index may be reused), wait for a grace period,
 *	wait for every psref holder (psref_target_destroy()), remove each of
 *	its addresses the same way (unlink, grace period, wait for holders,
 *	grace period, drop the list's reference; without addresses one grace
 *	period, for a holder that released inside a read section), wait for
 *	every ifa_remove() on ifp still in progress (whose address's holders
 *	may use ifa_ifp), free the statistics.  Threads may be sleeping
 *	with ifp or one of its addresses referenced: detach waits for their
 *	if_put() or ifa_release().  A thread that holds ifp across a sleep
 *	and then, back in a read section, releases it and walks on along
 *	the list (IFNET_READER_NEXT) reaches an interface that is attached,
 *	or whose detach has begun and waits for this read section (and any
 *	reference taken in it) before it returns, or the end, even if the
 *	detach of the interface that followed ifp has returned meanwhile;
 *	the same holds for addresses.
 *	Returns 0, or EINVAL (nothing changed) when ifp is not attached or
 *	is being detached by another thread.  Thread context, not in a read
 *	section, not holding a reference to ifp or the global lock
 *	(diagnostic builds abort with a message on each).  Blocks.
 *	Afterwards the caller may free ifp, or attach it again.
 */
MPSAFE_API int if_detach(struct ifnet *ifp);

/* --- lookups and references ----------------------------------------------- */

/*
 * if_byindex(idx)
 *
 *	The interface whose index is idx, or NULL (0, out of range, unused).
 *	No reference: the caller is inside a pserialize read section and
 *	uses the result only inside it.  Never blocks.
 */
static inline struct ifnet *
if_byindex(unsigned idx)
{
	/* Acquire: pairs with the release that published the table. */
	struct if_index_table *t = mpsafe_load_acquire(&ifindex2ifnet);

	if (t == NULL || idx == 0 || idx >= t->it_limit)
		return NULL;
	/* Acquire: pairs with if_attach()'s release (ifp set up first). */
	return mpsafe_load_acquire(&t->it_ifp[idx]);
}

/*
 * if_get_byindex(idx, psref)
 *
 *	As if_byindex(), but takes a psref reference (recorded in *psref) to
 *	the interface found, valid across blocking until if_put(ifp, psref)
 *	on the same thread.  Returns NULL, with *psref unused, when there is
 *	none.  Any thread context, in or out of a read section.  Never
 *	blocks.
 */
static inline struct ifnet *
if_get_byindex(unsigned idx, struct psref *psref)
{
	int s = pserialize_read_enter();
	struct ifnet *ifp = if_byindex(idx);

	/* Finding ifp implies if_attach() created the class. */
	if (ifp != NULL)
		psref_acquire(psref, &ifp->if_psref, ifnet_psref_class);
	pserialize_read_exit(s);
	return ifp;
}

/*
 * if_get(name, psref)
 *
 *	As if_get_byindex() for the interface named name; an all-digit name
 *	is an index.  NULL when none (or name is NULL).  Never blocks.
 */
MPSAFE_API struct ifnet *if_get(const char *name, struct psref *psref);

/*
 * ifunit(name)
 *
 *	As if_get() without a reference: inside a read section only.  Both
 *	look the name up in a hash table (NetBSD walks the list), a few
 *	probes however many interfaces are attached.
 */
MPSAFE_API struct ifnet *ifunit(const char *name);

/*
 * if_acquire(ifp, psref)
 *
 *	Take a psref reference to ifp, which the caller found inside the
 *	read section it is still in (IFNET_READER_FOREACH), or already
 *	holds a reference to.  Never blocks.  Drop it with if_put().
 */
MPSAFE_API void if_acquire(struct ifnet *ifp, struct psref *psref);

/*
 * if_put(ifp, psref)
 *
 *	Drop the reference from if_get_byindex(), if_get() or if_acquire(),
 *	on the thread that took it; wakes a waiting if_detach().  NULL ifp
 *	is ignored.  Never blocks.
 */
static inline void
if_put(const struct ifnet *ifp, struct psref *psref)
{
	if (ifp != NULL)
		psref_release(psref, &ifp->if_psref, ifnet_psref_class);
}

/*
 * if_held(ifp)
 *
 *	For assertions: whether the calling thread holds a psref to ifp.
 */
MPSAFE_API bool if_held(const struct ifnet *ifp);

/*
 * if_set_mtu(ifp, mtu), if_set_flags(ifp, flags)
 *
 *	Change an attached interface's MTU or flags (taking IFNET_LOCK).
 *	Return 0 or EINVAL (mtu 0, or ifp's detach has begun).  The caller
 *	keeps if_detach(ifp) from returning during the call (a reference,
 *	or its own ordering): ifp's lock is destroyed by then.  Not in a
 *	read section (they abort there with a message): ifa_insert() may
 *	hold the lock while it waits for a grace period.  May block
 *	briefly.
 */
MPSAFE_API int if_set_mtu(struct ifnet *ifp, unsigned mtu);
MPSAFE_API int if_set_flags(struct ifnet *ifp, int flags);

/* --- statistics ----------------------------------------------------------- */

/*
 * if_statadd(ifp, stat, n), if_statinc(ifp, stat)
 *
 *	Add n (1) to counter stat of ifp, in the calling thread's slot: no
 *	shared cache line is written.  The caller holds ifp (read section or
 *	reference).  Never blocks (the first call on a thread takes a lock
 *	once to get its slot).  An out-of-range stat is ignored (diagnostic
 *	builds abort).
 */
static inline void
if_statadd(struct ifnet *ifp, if_stat_t stat, uint64_t n)
{
	int slot = if_stat_self;

	if (MPSAFE_UNLIKELY((unsigned)stat >= IF_NSTATS)) {
		if_stat_bad((int)stat);
		return;
	}
	if (MPSAFE_UNLIKELY(slot < 0))
		slot = if_stat_attach();
	if (MPSAFE_LIKELY(slot < IF_STAT_THREADS)) {
		/* Relaxed: this thread is the slot's only writer. */
		uint64_t v =
		    mpsafe_load_relaxed(&ifp->if_stats[slot].ss_count[stat]);
		mpsafe_store_relaxed(
		    &ifp->if_stats[slot].ss_count[stat], v + n);
	} else {
		if_stat_add_shared(ifp, stat, n);
	}
}
#define if_statinc(ifp, stat) if_statadd((ifp), (stat), 1)

/*
 * if_stat_get(ifp, stat)
 *
 *	The sum of counter stat over every thread's slot (0 for an
 *	out-of-range stat).  The caller holds ifp.  Counts added
 *	concurrently may or may not be included.  Never blocks.
 */
MPSAFE_API uint64_t if_stat_get(const struct ifnet *ifp, if_stat_t stat);

/* --- addresses ------------------------------------------------------------ */

/*
 * ifa_create(addr, netmask)
 *
 *	A new address holding copies of addr and netmask (which may be
 *	NULL), with one reference (the creator's).  NULL with errno
 *	EAFNOSUPPORT (addr is not AF_INET or AF_INET6), EINVAL (NULL addr, or
 *	netmask of another family) or ENOMEM.  May block (allocates).
 */
MPSAFE_API struct if_addr *ifa_create(
    const struct sockaddr *addr, const struct sockaddr *netmask);

/*
 * ifa_insert(ifp, ifa)
 *
 *	Publish ifa at the tail of ifp's address list and in the address
 *	table that ifa_ifwithaddr() searches; the list takes over the
 *	creator's reference.  Returns 0; EINVAL when ifp's detach has begun
 *	(the caller keeps if_detach(ifp) from returning during the call, as
 *	for if_set_mtu()), ifa was inserted before, or its address is a
 *	zoned IPv6 one that names another zone than ifp's index (see
 *	ifa_ifwithaddr()); EEXIST when ifp already has the same address
 *	(another interface may have it; a zoned address equals its
 *	embedded form);
 *	ENOMEM when the address table could not grow.  On error nothing
 *	changed and the caller keeps its reference.  Thread context, not in
 *	a read section: a growth of the table may wait, holding IFNET_LOCK,
 *	for a grace period (mpsafe_defer()'s bound).  May block.
 */
MPSAFE_API int ifa_insert(struct ifnet *ifp, struct if_addr *ifa);

/*
 * ifa_remove(ifp, ifa)
 *
 *	Unlink ifa from ifp's list, wait for a grace period and for every
 *	ifa_acquire() holder, then drop the list's reference (which frees
 *	ifa unless ifaref() references remain).  Returns 0, or ENOENT when
 *	ifa is not on ifp's list (nothing changed).  ifp must not be
 *	detached before the call has unlinked ifa (the caller holds a
 *	reference to ifp, or orders the call before if_detach(ifp)); from
 *	then on an if_detach(ifp) in another thread, which no longer sees
 *	ifa on the list, waits for this call to end before it returns.
 *	Thread context, not in a read section, not holding a reference to
 *	ifa.  Blocks.
 */
MPSAFE_API int ifa_remove(struct ifnet *ifp, struct if_addr *ifa);

/*
 * ifa_acquire(ifa, psref), ifa_release(ifa, psref)
 *
 *	Take a psref reference to ifa, found on a list in the read section
 *	the caller is still in; drop it on the same thread (NULL ifa
 *	ignored).  Never block.
 */
MPSAFE_API void ifa_acquire(struct if_addr *ifa, struct psref *psref);
MPSAFE_API void ifa_release(struct if_addr *ifa, struct psref *psref);

/*
 * ifaref(ifa), ifafree(ifa)
 *
 *	Take and drop a long-term reference (a route's).  The caller of
 *	ifaref() holds a reference of some kind.  The last ifafree() frees
 *	ifa and its sockaddrs.  Never block.
 */
MPSAFE_API void ifaref(struct if_addr *ifa);
MPSAFE_API void ifafree(struct if_addr *ifa);

/*
 * ifa_ifwithaddr(addr)
 *
 *	The address equal to addr (family and address bytes; ports are
 *	ignored) on any attached interface, or NULL; its owner is
 *	ifa->ifa_ifp.  When several interfaces have the address, one of
 *	them.  A zoned IPv6 address (link-local unicast, interface- and
 *	link-local multicast without the P flag) is of its interface's
 *	zone: addr naming a zone (sin6_scope_id, or KAME's embedded bits
 *	16..31) finds only the address of the interface with that index;
 *	naming none, any interface's.  A hash table lookup: the cost does
 *	not grow with the number of interfaces or addresses.  Inside a
 *	read section.  Never blocks.
 */
MPSAFE_API struct if_addr *ifa_ifwithaddr(const struct sockaddr *addr);

/*
 * ifa_ifwithaddr_psref(addr, psref)
 *
 *	As ifa_ifwithaddr(), with an ifa_acquire() reference in *psref.
 *	Any thread context.  Never blocks.
 */
MPSAFE_API struct if_addr *ifa_ifwithaddr_psref(
    const struct sockaddr *addr, struct psref *psref);

/*
 * if_get_byaddr(addr, psref)
 *
 *	The interface that owns address addr, with an if_get_byindex()
 *	reference (drop it with if_put()), or NULL.  Never blocks.
 */
MPSAFE_API struct ifnet *if_get_byaddr(
    const struct sockaddr *addr, struct psref *psref);

/*
 * ifaof_ifpforaddr(addr, ifp)
 *
 *	The address of ifp on the same network as addr (same family, equal
 *	under the address's netmask; an exact match is preferred), else the
 *	first address of addr's family, else NULL.  A zoned IPv6 addr
 *	matches only if it names no zone or ifp's (see ifa_ifwithaddr()).
 *	Inside a read section.  Never blocks.
 */
MPSAFE_API struct if_addr *ifaof_ifpforaddr(
    const struct sockaddr *addr, const struct ifnet *ifp);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_IF_H */
