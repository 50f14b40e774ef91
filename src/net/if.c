/*
 * if.c: the interface collection (if_attach, if_detach, lookups by index,
 * name and address, per-thread statistics, interface addresses).
 *
 * Published state, and who writes it:
 *  - ifnet_pslist, the list of attached interfaces (pslist; writers hold
 *    the global lock ifnet_lock).
 *  - ifindex2ifnet, a pointer to the index table: an array of it_limit
 *    slots, slot i the interface whose index is i or NULL (slot 0 never
 *    used).  Slots are written under ifnet_lock with release stores when
 *    an interface is published (its fields were set before) and relaxed
 *    stores of NULL when it is unpublished; readers load the table pointer
 *    and a slot with acquire.  The table grows (doubles) under ifnet_lock:
 *    the writer builds a copy, publishes it with a release store and hands
 *    the old one to mpsafe_defer(), which frees it after a grace period:
 *    a reader still inside the old table finishes its read section first.
 *    (NetBSD's if_getindex() freed the old array at once.)
 *  - ifname2ifnet, the name table: a hash table of the attached
 *    interfaces by if_xname (if_hash.c: open addressing, tombstones,
 *    rebuilt and retired through mpsafe_defer() when half full), so that
 *    ifunit() and if_attach()'s duplicate check cost a few probes however
 *    many interfaces there are (NetBSD walks its list).  Writers hold
 *    ifnet_lock: attach puts the interface, detach removes it when it
 *    unpublishes the index slot.
 *  - Each interface's address list (pslist; writers hold IFNET_LOCK).
 *  - ifaddr_table, the address table: a hash table (if_hash.c) of every
 *    address on the list of an attached interface, by family and
 *    address bytes, for ifa_ifwithaddr() and ifa_insert()'s duplicate
 *    check (NetBSD's ifa_ifwithaddr() walks every interface's list; its
 *    in_ifaddrhash is IPv4's alone).  Writers hold ifa_table_lock, a
 *    leaf lock taken inside IFNET_LOCK(ifp): ifa_insert() puts the
 *    address before it links it, ifa_remove() removes it when it unlinks
 *    it, and if_detach() removes all of ifp's addresses when it
 *    unpublishes ifp, so that no reader finds an address whose interface
 *    is being detached.  Invariant: an address is in the table if and
 *    only if it is inserted (IFA_STATE_INSERTED) and its interface is
 *    attached (IFNET_STATE_ATTACHED); both change under IFNET_LOCK(ifp).
 *    A zoned IPv6 address (in6_zone.h) is of its interface's zone: the
 *    table keys it without KAME's embedded zone bits, and a lookup that
 *    names a zone finds only the address of the interface of that index.
 *
 * Lifetime of an interface.  A reader that found ifp inside a read section
 * may use it until the section ends, or take a psref (if_psref) to keep
 * it.  if_detach() unpublishes ifp (table slot and list) under the lock,
 * waits for a grace period (no reader still inside a section that may
 * have found it, so no new psref can appear), then psref_target_destroy()
 * waits for every holder.  Only then are the addresses removed: while ifp
 * was reachable, readers could reach its addresses through it; each
 * address is unlinked, one grace period covers them all, and each
 * address's own psref target is drained before the list's reference is
 * dropped.  Invariant: from the moment ifp's slot is NULL, its index may
 * be given to a new interface; a packet holding the old index then finds
 * the new interface (published after it was set up) or NULL, never ifp.
 *
 * Limbo: walking on from an unlinked entry.  NetBSD's iterate-and-sleep
 * pattern (find ifp in IFNET_READER_FOREACH, if_acquire(), leave the read
 * section, sleep, re-enter, if_put(), follow ifp's link) reads the link of
 * an entry that may have been unlinked while its holder slept.  pslist
 * keeps an unlinked entry's link, but the entry it names may have been
 * unlinked since by another detach, one that no reader held and that
 * therefore finished and was freed: the walk would step into freed
 * memory.  So each list keeps a writer-side "limbo" of the entries
 * unlinked but not yet finished (interfaces from if_detach()'s unlink to
 * its end: ifnet_limbo, global lock; addresses from their unlink to the
 * end of their removal: if_addr_limbo, IFNET_LOCK), and unlinking an
 * entry X re-points (release store) every limbo entry whose link is X to
 * X's successor (pslist_writer_skip()).  Invariant, under the writer's
 * lock: the link of a limbo entry is NULL or a linked entry.  (Linked
 * entries link only linked ones; an entry enters limbo with a linked
 * successor; when that successor is unlinked, the link moves on to its
 * own linked successor.)  An entry leaves limbo only after the last grace
 * period of its removal, which follows its last holder, so nobody walks
 * on from it later.  A holder that loads the link before a re-pointing
 * lands on X inside a read section that began before X's grace period
 * ended: X's remover waits for that section (and for any reference it
 * takes there) before finishing.  Readers are unchanged: they load links
 * as before; the cost is a scan of the limbo (the detaches in progress)
 * per unlink.
 *
 * Removals the detach must wait for.  ifa_remove() unlinks an address and
 * then waits, without the interface lock, for its ifa_acquire() holders,
 * who may still use ifa->ifa_ifp; a concurrent if_detach() no longer sees
 * that address on the list.  So ifa_remove() counts itself in
 * if_ifa_removing (under IFNET_LOCK, from the unlink until its end) and
 * if_detach() waits for the count to drop to 0 before it frees anything.
 *
 * Statistics.  Each interface has IF_STAT_THREADS + 1 cache-line slots of
 * counters.  A thread takes a slot number on its first count (a bitmap
 * under a mutex) and gives it back when it exits (a pthread key
 * destructor).  The owner of a slot is its only writer and updates it with
 * a relaxed load and store, no atomic read-modify-write; threads beyond
 * IF_STAT_THREADS share the last slot and use atomic adds.  if_stat_get()
 * sums the slots with relaxed loads.  A slot number passed from an exited
 * thread to a new one keeps its counts (the mutex orders the two).
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/net/if.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/psref.h>
#include <mpsafe/thread.h>

#include "if_hash.h"
#include "if_impl.h"
#include "in6_zone.h"

#include <stdatomic.h>

/* Index table slots before the first growth. */
#define IF_INDEX_INITIAL 8

/* Addresses whose psref drains share a grace period (ifa_reap()). */
#define IFA_REAP_CHUNK 32

struct pslist_head ifnet_pslist = PSLIST_INITIALIZER;

static pthread_mutex_t ifnet_lock = PTHREAD_MUTEX_INITIALIZER;
static MPSAFE_ATOMIC(int) ifnet_lock_held; /* for if_global_locked() */
/*
 * Whether the calling thread holds ifnet_lock (its own variable): every
 * build checks it, since a second lock would hang and an unlock by
 * another thread would let two threads in.
 */
static __thread bool ifnet_lock_mine;
/* Interfaces unlinked whose if_detach() has not ended (ifnet_lock). */
static struct ifnet *ifnet_limbo;
/* The last interface on ifnet_pslist, or NULL (ifnet_lock). */
static struct ifnet *ifnet_tail;
/* Every index below it is taken (ifnet_lock): where the free search starts. */
static unsigned if_index_hint = 1;
/* The highest index if_attach() gives out (ifnet_lock; tests lower it). */
static unsigned if_index_max = IFNET_INDEX_MAX;
MPSAFE_ATOMIC(struct if_index_table *) ifindex2ifnet;

/* The name table (opening comment): writers hold ifnet_lock. */
static MPSAFE_ATOMIC(struct if_hash *) ifname2ifnet;
/* The address table (opening comment): writers hold ifa_table_lock. */
static MPSAFE_ATOMIC(struct if_hash *) ifaddr_table;
static pthread_mutex_t ifa_table_lock = PTHREAD_MUTEX_INITIALIZER;

static pserialize_t ifnet_psz;
struct psref_class *ifnet_psref_class;
static struct psref_class *ifa_psref_class;

/* Statistics slot numbers: bit i of stat_slots_used: slot i is taken. */
static pthread_mutex_t stat_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t stat_slots_used;
static pthread_key_t stat_slot_key;
__thread int if_stat_self = -1;

/*
 * The exiting thread's key destructor: give its slot back.  Counts the
 * thread makes later in its exit (a program's key destructor that runs
 * after this one) go to the shared slot: the slot may already be
 * another thread's, and a slot has one writer.
 */
static void
stat_slot_exit(void *arg)
{
	unsigned slot = (unsigned)(uintptr_t)arg - 1;

	if_stat_self = IF_STAT_THREADS;
	pthread_mutex_lock(&stat_slots_lock);
	stat_slots_used &= ~(UINT64_C(1) << slot);
	pthread_mutex_unlock(&stat_slots_lock);
}

/*
 * ifnet_init(): create the collection's pserialize object and psref
 * classes on first use.  Returns 0, or ENOMEM with nothing half-made
 * visible: what was created stays for the next try, and ifnet_ready is
 * raised only when everything exists.  Retryable, unlike pthread_once(),
 * so that an allocation failure here is an error for the caller, not a
 * process-wide state that can never be left.
 */
static pthread_mutex_t ifnet_init_lock = PTHREAD_MUTEX_INITIALIZER;
static MPSAFE_ATOMIC(int) ifnet_ready; /* set once, under ifnet_init_lock */
static bool ifnet_key_made;            /* ifnet_init_lock */

static int
ifnet_init(void)
{
	int error = 0;

	/* Acquire: pairs with the release below; the objects are set up. */
	if (mpsafe_load_acquire(&ifnet_ready))
		return 0;
	pthread_mutex_lock(&ifnet_init_lock);
	if (ifnet_psz == NULL)
		ifnet_psz = pserialize_create();
	if (ifnet_psref_class == NULL)
		ifnet_psref_class = psref_class_create("ifnet");
	if (ifa_psref_class == NULL)
		ifa_psref_class = psref_class_create("ifa");
	if (!ifnet_key_made)
		ifnet_key_made =
		    pthread_key_create(&stat_slot_key, stat_slot_exit) == 0;
	if (ifnet_psz == NULL || ifnet_psref_class == NULL ||
	    ifa_psref_class == NULL || !ifnet_key_made)
		error = ENOMEM;
	else
		/* Release: pairs with the acquire above. */
		mpsafe_store_release(&ifnet_ready, 1);
	pthread_mutex_unlock(&ifnet_init_lock);
	return error;
}

/*
 * if_assert_not_global_locked(fn): abort with a message when the calling
 * thread already holds the global lock, which fn is about to take (the
 * mutex is not recursive: it would hang silently).
 */
static void
if_assert_not_global_locked(const char *fn)
{
	if (MPSAFE_UNLIKELY(ifnet_lock_mine))
		mpsafe_panic(
		    "%s: the calling thread already holds the global "
		    "ifnet lock (IFNET_GLOBAL_LOCK); if_attach() and "
		    "if_detach() take it themselves: call them without "
		    "it",
		    fn);
}

/*
 * if_assert_not_reading(fn): abort with a message when the calling thread
 * is inside a read section.  fn takes a lock that if_attach() or
 * ifa_insert() may hold while a table's deferred free waits for a grace
 * period; that grace period would wait for this thread, for ever.
 */
static void
if_assert_not_reading(const char *fn)
{
	if (MPSAFE_UNLIKELY(pserialize_in_read_section()))
		mpsafe_panic("%s inside a read section: if_attach() and "
		             "ifa_insert() may hold the lock it takes while "
		             "they wait for a grace period, which would wait "
		             "for this thread",
		    fn);
}

void
if_global_lock(void)
{
	if_assert_not_reading("if_global_lock");
	if_assert_not_global_locked("if_global_lock");
	pthread_mutex_lock(&ifnet_lock);
	ifnet_lock_mine = true;
	/* Relaxed: for assertions only. */
	mpsafe_store_relaxed(&ifnet_lock_held, 1);
}

void
if_global_unlock(void)
{
	if (MPSAFE_UNLIKELY(!ifnet_lock_mine))
		mpsafe_panic("if_global_unlock: the calling thread does not "
		             "hold the global ifnet lock");
	ifnet_lock_mine = false;
	/* Relaxed: for assertions only. */
	mpsafe_store_relaxed(&ifnet_lock_held, 0);
	pthread_mutex_unlock(&ifnet_lock);
}

bool
if_global_locked(void)
{
	/* Relaxed: for assertions only. */
	return mpsafe_load_relaxed(&ifnet_lock_held) != 0;
}

static int
if_nulloutput(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst)
{
	(void)ifp;
	(void)m;
	(void)dst;
	return ENXIO;
}

/* --- index table ---------------------------------------------------------- */

static struct if_index_table *
if_table_alloc(unsigned limit)
{
	struct if_index_table *t;

	t = mpsafe_calloc(1, sizeof(*t) + (size_t)limit * sizeof(t->it_ifp[0]));
	if (t != NULL) {
		t->it_limit = limit;
		t->it_ifp = (void *)(t + 1);
	}
	return t;
}

static void
if_table_free(struct mpsafe_defer *d)
{
	mpsafe_free((struct if_index_table *)(void *)d);
}

/*
 * The lowest free index, growing the table if every slot is taken.  The
 * search starts at if_index_hint, which the caller moves past the index
 * once it is used.  Returns 0 (and sets *errorp) when none.  Called with
 * ifnet_lock held.
 */
static unsigned
if_index_alloc_locked(int *errorp)
{
	/* Relaxed: writers are serialised by ifnet_lock. */
	struct if_index_table *t = mpsafe_load_relaxed(&ifindex2ifnet), *nt;
	unsigned limit, idx;

	if (t == NULL) {
		t = if_table_alloc(IF_INDEX_INITIAL);
		if (t == NULL) {
			*errorp = ENOMEM;
			return 0;
		}
		/* Release: pairs with the readers' acquire in if_byindex. */
		mpsafe_store_release(&ifindex2ifnet, t);
	}
	for (idx = if_index_hint; idx < t->it_limit && idx <= if_index_max;
	     idx++)
		/* Relaxed: slots are written under ifnet_lock only. */
		if (mpsafe_load_relaxed(&t->it_ifp[idx]) == NULL)
			return idx;
	if (t->it_limit > if_index_max) {
		*errorp = ENOSPC;
		return 0;
	}
	limit = t->it_limit * 2;
	if (limit > if_index_max + 1)
		limit = if_index_max + 1;
	nt = if_table_alloc(limit);
	if (nt == NULL) {
		*errorp = ENOMEM;
		return 0;
	}
	for (unsigned i = 1; i < t->it_limit; i++)
		/* Relaxed: nt is not published yet; see below. */
		mpsafe_store_relaxed(
		    &nt->it_ifp[i], mpsafe_load_relaxed(&t->it_ifp[i]));
	/*
	 * Release: the copied slots are visible to a reader that loads nt
	 * (pairs with the acquire in if_byindex).
	 */
	mpsafe_store_release(&ifindex2ifnet, nt);
	/* Free the old table once no reader can be inside it. */
	(void)mpsafe_defer(&t->it_defer, if_table_free,
	    sizeof(*t) + (size_t)t->it_limit * sizeof(t->it_ifp[0]));
	return idx;
}

/* --- name table (see the opening comment) -------------------------------- */

static uint32_t
if_name_hash(const char *name)
{
	return if_hash_bytes(name, strnlen(name, IFNET_NAMESIZE), IF_HASH_INIT);
}

static uint32_t
if_name_hash_elem(const void *elem)
{
	return if_name_hash(((const struct ifnet *)elem)->if_xname);
}

static bool
if_name_match(const void *elem, const void *key)
{
	return strncmp(((const struct ifnet *)elem)->if_xname, key,
	           IFNET_NAMESIZE) == 0;
}

static const struct if_hash_ops if_name_ops = {
    .iho_hash = if_name_hash_elem,
    .iho_match = if_name_match,
};

/* The interface named name, or NULL.  Inside a read section or ifnet_lock. */
static struct ifnet *
if_name_find(const char *name)
{
	/* Acquire: pairs with if_hash_reserve()'s release store. */
	const struct if_hash *t = mpsafe_load_acquire(&ifname2ifnet);

	return if_hash_find(t, &if_name_ops, if_name_hash(name), name);
}

static const char *
if_name_elem_ok(const void *elem)
{
	const struct ifnet *ifp = elem;

	return ifp->if_state == IFNET_STATE_ATTACHED
	           ? NULL
	           : "a slot holds an interface not attached";
}

/* if_name_table_check()'s work, with the global lock held. */
static const char *
if_name_table_check_locked(void)
{
	unsigned listed = 0;
	struct ifnet *ifp;

	IFNET_WRITER_FOREACH (ifp) {
		listed++;
		if (if_name_find(ifp->if_xname) != ifp)
			return "an attached interface is not found by its name";
	}
	/* Relaxed: writers hold the lock we hold. */
	return if_hash_check(mpsafe_load_relaxed(&ifname2ifnet), &if_name_ops,
	    listed, if_name_elem_ok);
}

const char *
if_name_table_check(void)
{
	const char *why;

	if (ifnet_init() != 0)
		return "the collection could not be set up";
	IFNET_GLOBAL_LOCK();
	why = if_name_table_check_locked();
	IFNET_GLOBAL_UNLOCK();
	return why;
}

int
if_test_index_max(unsigned max)
{
	if (max == 0 || max > IFNET_INDEX_MAX)
		return EINVAL;
	if (ifnet_init() != 0)
		return ENOMEM;
	IFNET_GLOBAL_LOCK();
	if_index_max = max;
	IFNET_GLOBAL_UNLOCK();
	return 0;
}

/* --- address table (see the opening comment) ----------------------------- */

/*
 * An address as the interface tables compare it: its family, its address
 * bytes and, for a zoned IPv6 address (in6_zone.h), the bytes without the
 * embedded zone (bits 16..31 cleared) and the zone it names (0: none).
 * Ports, flow info and the scope id of an address without a zone play no
 * part.
 */
struct ifa_cmp {
	sa_family_t ic_family;
	socklen_t ic_len;
	uint32_t ic_zone;
	uint8_t ic_bytes[sizeof(struct in6_addr)];
};

/*
 * Fill *c from sa; false when sa has no address bytes (unknown family)
 * or names an impossible zone (over 0xffff, or two that differ).
 */
static bool
ifa_cmp_of(const struct sockaddr *sa, struct ifa_cmp *c)
{
	const void *p = sockaddr_const_addr(sa, &c->ic_len);

	if (p == NULL)
		return false;
	c->ic_family = sa->sa_family;
	c->ic_zone = 0;
	memcpy(c->ic_bytes, p, c->ic_len);
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		if (!in6_zone_of(&sin6, &c->ic_zone))
			return false;
		if (in6_zoned(c->ic_bytes))
			c->ic_bytes[2] = c->ic_bytes[3] = 0;
	}
	return true;
}

/*
 * Whether address a, of the interface with index ifindex, equals the
 * address c describes: the same family and bytes, and, when c names a
 * zone, ifindex is that zone.
 */
static bool
ifa_cmp_match(
    const struct sockaddr *a, unsigned ifindex, const struct ifa_cmp *c)
{
	struct ifa_cmp ca;

	return ifa_cmp_of(a, &ca) && ca.ic_family == c->ic_family &&
	       ca.ic_len == c->ic_len &&
	       memcmp(ca.ic_bytes, c->ic_bytes, c->ic_len) == 0 &&
	       (c->ic_zone == 0 || c->ic_zone == ifindex);
}

/* The hash of what ifa_cmp_match() compares but the zone. */
static uint32_t
ifa_hash_of(const struct ifa_cmp *c)
{
	uint8_t family = (uint8_t)c->ic_family;

	return if_hash_bytes(
	    c->ic_bytes, c->ic_len, if_hash_bytes(&family, 1, IF_HASH_INIT));
}

/* What a search of the address table looks for. */
struct ifa_key {
	struct ifa_cmp ik_addr;
	const struct ifnet *ik_ifp; /* that interface's only, or NULL: any */
};

static uint32_t
ifa_hash_elem(const void *elem)
{
	struct ifa_cmp c;

	/* An inserted address has bytes and a zone (ifa_insert() checked). */
	(void)ifa_cmp_of(((const struct if_addr *)elem)->ifa_addr, &c);
	return ifa_hash_of(&c);
}

static bool
ifa_match(const void *elem, const void *key)
{
	const struct if_addr *ifa = elem;
	const struct ifa_key *k = key;

	return (k->ik_ifp == NULL || ifa->ifa_ifp == k->ik_ifp) &&
	       ifa_cmp_match(ifa->ifa_addr, ifa->ifa_ifindex, &k->ik_addr);
}

static const struct if_hash_ops ifa_ops = {
    .iho_hash = ifa_hash_elem,
    .iho_match = ifa_match,
};

/*
 * ifa_table_find(addr, ifp): an address equal to addr, of ifp (or of any
 * interface when ifp is NULL), in the address table, or NULL.  Inside a
 * read section, or with ifa_table_lock held.  Never blocks.
 */
static struct if_addr *
ifa_table_find(const struct sockaddr *addr, const struct ifnet *ifp)
{
	struct ifa_key k = {.ik_ifp = ifp};

	if (!ifa_cmp_of(addr, &k.ik_addr))
		return NULL;
	/* Acquire: pairs with if_hash_reserve()'s release store. */
	return if_hash_find(mpsafe_load_acquire(&ifaddr_table), &ifa_ops,
	    ifa_hash_of(&k.ik_addr), &k);
}

/*
 * ifa_table_remove_locked(ifa): take ifa out of the address table.
 * IFNET_LOCK(ifa->ifa_ifp) held; takes ifa_table_lock.  Never blocks.
 */
static void
ifa_table_remove_locked(struct if_addr *ifa)
{
	pthread_mutex_lock(&ifa_table_lock);
	/* Relaxed: writers are serialised by ifa_table_lock. */
	if_hash_remove(
	    mpsafe_load_relaxed(&ifaddr_table), ifa, ifa_hash_elem(ifa));
	pthread_mutex_unlock(&ifa_table_lock);
}

static const char *
ifa_elem_ok(const void *elem)
{
	const struct if_addr *ifa = elem;

	if (ifa->ifa_state != IFA_STATE_INSERTED)
		return "the address table holds an address not inserted";
	if (ifa->ifa_ifp->if_state != IFNET_STATE_ATTACHED)
		return "the address table holds an address of an interface "
		       "not attached";
	return NULL;
}

const char *
if_addr_table_check(void)
{
	const char *why = NULL;
	unsigned listed = 0;
	struct ifnet *ifp;
	struct if_addr *ifa;

	if (ifnet_init() != 0)
		return "the collection could not be set up";
	IFNET_GLOBAL_LOCK();
	IFNET_WRITER_FOREACH (ifp) {
		IFNET_LOCK(ifp);
		pthread_mutex_lock(&ifa_table_lock);
		IFADDR_WRITER_FOREACH (ifa, ifp) {
			listed++;
			if (why == NULL &&
			    ifa_table_find(ifa->ifa_addr, ifp) != ifa)
				why = "an address of an attached interface is "
				      "not found by its address";
		}
		pthread_mutex_unlock(&ifa_table_lock);
		IFNET_UNLOCK(ifp);
	}
	pthread_mutex_lock(&ifa_table_lock);
	if (why == NULL)
		/* Relaxed: writers hold ifa_table_lock, which we hold. */
		why = if_hash_check(mpsafe_load_relaxed(&ifaddr_table),
		    &ifa_ops, listed, ifa_elem_ok);
	pthread_mutex_unlock(&ifa_table_lock);
	IFNET_GLOBAL_UNLOCK();
	return why;
}

/* --- limbo (see the opening comment) ------------------------------------- */

/*
 * pslist_writer_skip(removed, gone)
 *
 *	removed was unlinked earlier and a holder may still walk on from it;
 *	gone has just been unlinked (its own link kept).  If removed's link
 *	is gone, make it gone's successor, so that a walk resumed from
 *	removed never reaches gone after gone is reclaimed.  The caller
 *	holds the list's writer lock.  Never blocks.  (A pslist operation
 *	that pslist.h lacks; kept here until pslist grows one.)
 */
static inline void
pslist_writer_skip(
    struct pslist_entry *removed, const struct pslist_entry *gone)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(removed->ple_prevp != NULL))
		mpsafe_panic(
		    "pslist_writer_skip: %p is still linked", (void *)removed);
#endif
	/* Relaxed: writers are ordered by the caller's writer lock. */
	if (mpsafe_load_relaxed(&removed->ple_next) != gone)
		return;
	/*
	 * Release: pairs with the readers' consume load in
	 * pslist_reader_next(), as pslist_writer_remove()'s store does: a
	 * reader that reaches the successor through this link sees it
	 * initialised.
	 */
	mpsafe_store_release(
	    &removed->ple_next, mpsafe_load_relaxed(&gone->ple_next));
}

/*
 * pslist_writer_cut(removed)
 *
 *	removed was unlinked earlier and its list has since been emptied:
 *	end its link, so that a walk resumed from removed ends there.  The
 *	caller holds the list's writer lock.  Never blocks.
 */
static inline void
pslist_writer_cut(struct pslist_entry *removed)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(removed->ple_prevp != NULL))
		mpsafe_panic(
		    "pslist_writer_cut: %p is still linked", (void *)removed);
#endif
	/* Relaxed: writers are ordered by the caller's writer lock. */
	if (mpsafe_load_relaxed(&removed->ple_next) != NULL)
		/* Relaxed: NULL publishes nothing; a reader's walk ends. */
		mpsafe_store_relaxed(&removed->ple_next, NULL);
}

/*
 * pslist_writer_prev(head, entry): the entry before the linked entry on
 * head's list, or NULL when entry is the first.  The list's writer lock
 * held.  (pslist.h has no writer's "previous": a linked entry keeps the
 * address of the link that names it, the head's or its predecessor's
 * ple_next.)
 */
static struct pslist_entry *
pslist_writer_prev(struct pslist_head *head, struct pslist_entry *entry)
{
	char *prevp = (char *)entry->ple_prevp;

	if (prevp == (char *)&head->plh_first)
		return NULL;
	return (
	    struct pslist_entry *)(void *)(prevp - offsetof(struct pslist_entry,
	                                               ple_next));
}

/*
 * if_prev_locked(ifp): the interface before ifp on ifnet_pslist, or NULL
 * when ifp is the first.  Global lock held.
 */
static struct ifnet *
if_prev_locked(struct ifnet *ifp)
{
	struct pslist_entry *e =
	    pslist_writer_prev(&ifnet_pslist, &ifp->if_pslist_entry);

	return e == NULL
	           ? NULL
	           : (struct ifnet *)(void *)((char *)e - offsetof(struct ifnet,
	                                                      if_pslist_entry));
}

/* ifa_prev_locked(ifp, ifa): the same on ifp's list.  IFNET_LOCK(ifp). */
static struct if_addr *
ifa_prev_locked(struct ifnet *ifp, struct if_addr *ifa)
{
	struct pslist_entry *e =
	    pslist_writer_prev(&ifp->if_addr_pslist, &ifa->ifa_pslist_entry);

	return e == NULL ? NULL
	                 : (struct if_addr *)(void *)((char *)e -
	                                              offsetof(struct if_addr,
	                                                  ifa_pslist_entry));
}

/*
 * if_unlink_locked(ifp): unlink ifp from ifnet_pslist and put it in
 * ifnet_limbo, re-pointing the limbo interfaces that led to it.  Global
 * lock held.
 */
static void
if_unlink_locked(struct ifnet *ifp)
{
	if (ifnet_tail == ifp)
		ifnet_tail = if_prev_locked(ifp);
	PSLIST_WRITER_REMOVE(ifp, if_pslist_entry);
	for (struct ifnet *it = ifnet_limbo; it != NULL; it = it->if_limbo_next)
		pslist_writer_skip(&it->if_pslist_entry, &ifp->if_pslist_entry);
	ifp->if_limbo_next = ifnet_limbo;
	ifnet_limbo = ifp;
}

/* if_limbo_remove_locked(ifp): take ifp out of ifnet_limbo.  Global lock. */
static void
if_limbo_remove_locked(struct ifnet *ifp)
{
	struct ifnet **pp = &ifnet_limbo;

	while (*pp != ifp)
		pp = &(*pp)->if_limbo_next;
	*pp = ifp->if_limbo_next;
	ifp->if_limbo_next = NULL;
}

/*
 * ifa_unlink_locked(ifp, ifa): unlink ifa from ifp's address list, mark it
 * removed and put it in ifp's address limbo, re-pointing the limbo
 * addresses that led to it.  IFNET_LOCK(ifp) held.
 */
static void
ifa_unlink_locked(struct ifnet *ifp, struct if_addr *ifa)
{
	if (ifp->if_addr_tail == ifa)
		ifp->if_addr_tail = ifa_prev_locked(ifp, ifa);
	PSLIST_WRITER_REMOVE(ifa, ifa_pslist_entry);
	for (struct if_addr *it = ifp->if_addr_limbo; it != NULL;
	     it = it->ifa_limbo_next)
		pslist_writer_skip(
		    &it->ifa_pslist_entry, &ifa->ifa_pslist_entry);
	ifa->ifa_limbo_next = ifp->if_addr_limbo;
	ifp->if_addr_limbo = ifa;
	ifa->ifa_state = IFA_STATE_REMOVED;
}

/*
 * ifa_unlink_all_locked(ifp): what ifa_unlink_locked() does, for every
 * address on ifp's list; returns them chained by ifa_reap_next, the last
 * one first.  With the list empty no address is linked, so the limbo's
 * invariant asks every limbo address's link to be NULL: one pass at the
 * end sets them, where an ifa_unlink_locked() per address would scan the
 * growing limbo each time (quadratic: 16k addresses took 0.34 s).  Until
 * then a limbo link may name an address just unlinked, which is not
 * reclaimed before the lock is dropped.  IFNET_LOCK(ifp) held.
 */
static struct if_addr *
ifa_unlink_all_locked(struct ifnet *ifp)
{
	struct if_addr *ifa, *chain = NULL;

	while ((ifa = PSLIST_WRITER_FIRST(&ifp->if_addr_pslist, struct if_addr,
	            ifa_pslist_entry)) != NULL) {
		PSLIST_WRITER_REMOVE(ifa, ifa_pslist_entry);
		ifa->ifa_limbo_next = ifp->if_addr_limbo;
		ifp->if_addr_limbo = ifa;
		ifa->ifa_state = IFA_STATE_REMOVED;
		ifa->ifa_reap_next = chain;
		chain = ifa;
	}
	ifp->if_addr_tail = NULL;
	for (ifa = ifp->if_addr_limbo; ifa != NULL; ifa = ifa->ifa_limbo_next)
		pslist_writer_cut(&ifa->ifa_pslist_entry);
	return chain;
}

/* ifa_limbo_remove_locked(ifp, ifa): the reverse.  IFNET_LOCK(ifp). */
static void
ifa_limbo_remove_locked(struct ifnet *ifp, struct if_addr *ifa)
{
	struct if_addr **pp = &ifp->if_addr_limbo;

	while (*pp != ifa)
		pp = &(*pp)->ifa_limbo_next;
	*pp = ifa->ifa_limbo_next;
	ifa->ifa_limbo_next = NULL;
}

/* --- attach and detach ---------------------------------------------------- */

static bool
if_name_valid(const struct ifnet *ifp)
{
	size_t n = strnlen(ifp->if_xname, IFNET_NAMESIZE);
	bool digits = true;

	if (n == 0 || n == IFNET_NAMESIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ifp->if_xname[i] < '0' || ifp->if_xname[i] > '9')
			digits = false;
	return !digits;
}

int
if_attach(struct ifnet *ifp)
{
	struct if_stat_slot *stats;
	struct if_index_table *t;
	unsigned idx;
	int error = 0;

	if (ifp == NULL || !if_name_valid(ifp) ||
	    ifp->if_addrlen > IFNET_LLADDR_MAX)
		return EINVAL;
	if (ifnet_init() != 0)
		return ENOMEM;
	if (pserialize_in_read_section())
		mpsafe_panic("if_attach inside a read section: it may wait for "
		             "a grace period (a table's deferred free)");
	if_assert_not_global_locked("if_attach");
	stats = mpsafe_aligned_alloc(alignof(struct if_stat_slot),
	    sizeof(*stats) * (IF_STAT_THREADS + 1));
	if (stats == NULL)
		return ENOMEM;
	memset(stats, 0, sizeof(*stats) * (IF_STAT_THREADS + 1));

	IFNET_GLOBAL_LOCK();
	if (ifp->if_state != IFNET_STATE_NEW &&
	    ifp->if_state != IFNET_STATE_DETACHED) {
		error = EINVAL;
		goto fail;
	}
	if (if_name_find(ifp->if_xname) != NULL) {
		error = EEXIST;
		goto fail;
	}
	if ((error = if_hash_reserve(&ifname2ifnet, &if_name_ops)) != 0)
		goto fail;
	idx = if_index_alloc_locked(&error);
	if (idx == 0)
		goto fail;

	/* Set up everything a reader may touch, then publish. */
	ifp->if_index = idx;
	ifp->if_stats = stats;
	if (ifp->if_output == NULL)
		ifp->if_output = if_nulloutput;
	pthread_mutex_init(&ifp->if_ioctl_lock, NULL);
	pthread_cond_init(&ifp->if_ifa_removed, NULL);
	ifp->if_ifa_removing = 0;
	ifp->if_addr_limbo = NULL;
	ifp->if_addr_tail = NULL;
	ifp->if_limbo_next = NULL;
	PSLIST_INIT(&ifp->if_addr_pslist);
	PSLIST_ENTRY_INIT(ifp, if_pslist_entry);
	psref_target_init(&ifp->if_psref, ifnet_psref_class);
	ifp->if_state = IFNET_STATE_ATTACHED;

	/* Relaxed: writers are serialised by ifnet_lock. */
	t = mpsafe_load_relaxed(&ifindex2ifnet);
	/* Release: ifp's fields first; pairs with if_byindex's acquire. */
	mpsafe_store_release(&t->it_ifp[idx], ifp);
	if_index_hint = idx + 1;
	/* Relaxed: writers are serialised by ifnet_lock; put releases. */
	if_hash_put(mpsafe_load_relaxed(&ifname2ifnet), ifp,
	    if_name_hash(ifp->if_xname));
	/* The pslist insertion is a release store of its own. */
	if (ifnet_tail == NULL)
		PSLIST_WRITER_INSERT_HEAD(&ifnet_pslist, ifp, if_pslist_entry);
	else
		PSLIST_WRITER_INSERT_AFTER(ifnet_tail, ifp, if_pslist_entry);
	ifnet_tail = ifp;
	IFNET_GLOBAL_UNLOCK();
	return 0;
fail:
	IFNET_GLOBAL_UNLOCK();
	mpsafe_free(stats);
	return error;
}

/*
 * ifa_reap(ifp, chain)
 *
 *	Wait out readers and holders of a chain of addresses of ifp that the
 *	caller unlinked (ifa_unlink_locked(); possibly an interface too)
 *	before the call, take them out of ifp's address limbo, and drop the
 *	list's reference to each.  The psref drains begin IFA_REAP_CHUNK
 *	addresses at a time, so the first psref_target_destroy_end() of a
 *	chunk waits for one grace period, which covers every unlink and
 *	every begin made before it, and the chunk's other ends find it
 *	passed; with no address an explicit one stands in for it.  The
 *	grace period after
 *	the holders covers a holder that released inside a read section and
 *	may still follow the address's list link until that section ends
 *	(the iterate-and-sleep pattern); only after it may the address leave
 *	the limbo.  Thread context, not in a read section, not holding
 *	IFNET_LOCK(ifp), which must stay valid (the caller is if_detach(),
 *	or an ifa_remove() that if_detach() waits for).  Blocks.
 */
static void
ifa_reap(struct ifnet *ifp, struct if_addr *chain)
{
	struct if_addr *ifa, *next, *first, *stop;

	if (chain == NULL) {
		pserialize_perform(ifnet_psz);
		return;
	}
	for (first = chain; first != NULL; first = stop) {
		unsigned n = 0;

		for (ifa = first; ifa != NULL && n < IFA_REAP_CHUNK;
		     ifa = ifa->ifa_reap_next, n++)
			psref_target_destroy_begin(
			    &ifa->ifa_psref, ifa_psref_class);
		stop = ifa;
		for (ifa = first; ifa != stop; ifa = ifa->ifa_reap_next)
			psref_target_destroy_end(
			    &ifa->ifa_psref, ifa_psref_class);
	}
	pserialize_perform(ifnet_psz);
	IFNET_LOCK(ifp);
	for (ifa = chain; ifa != NULL; ifa = ifa->ifa_reap_next)
		ifa_limbo_remove_locked(ifp, ifa);
	IFNET_UNLOCK(ifp);
	for (ifa = chain; ifa != NULL; ifa = next) {
		next = ifa->ifa_reap_next;
		ifa->ifa_reap_next = NULL;
		PSLIST_ENTRY_DESTROY(ifa, ifa_pslist_entry);
		ifafree(ifa);
	}
}

int
if_detach(struct ifnet *ifp)
{
	struct if_index_table *t;
	struct if_addr *ifa, *chain;

	if (ifp == NULL)
		return EINVAL;
	if (ifnet_init() != 0)
		return EINVAL; /* then nothing was ever attached */
	if (pserialize_in_read_section())
		mpsafe_panic("if_detach inside a read section: it waits for "
		             "a grace period");
	if_assert_not_global_locked("if_detach");

	/* 1. Unpublish: from now on lookups do not find ifp. */
	IFNET_GLOBAL_LOCK();
	if (ifp->if_state != IFNET_STATE_ATTACHED) {
		IFNET_GLOBAL_UNLOCK();
		return EINVAL;
	}
	IFNET_LOCK(ifp);
	ifp->if_state = IFNET_STATE_DETACHING; /* ifa_insert now refuses */
	/* ifp's addresses leave the address table with ifp (invariant). */
	pthread_mutex_lock(&ifa_table_lock);
	IFADDR_WRITER_FOREACH (ifa, ifp)
		/* Relaxed: writers are serialised by ifa_table_lock. */
		if_hash_remove(mpsafe_load_relaxed(&ifaddr_table), ifa,
		    ifa_hash_elem(ifa));
	pthread_mutex_unlock(&ifa_table_lock);
	IFNET_UNLOCK(ifp);
	/* Relaxed: writers are serialised by ifnet_lock. */
	t = mpsafe_load_relaxed(&ifindex2ifnet);
	/*
	 * Relaxed: storing NULL publishes nothing; the grace period below
	 * orders it before ifp is reused or freed.
	 */
	mpsafe_store_relaxed(&t->it_ifp[ifp->if_index], NULL);
	if (ifp->if_index < if_index_hint)
		if_index_hint = ifp->if_index;
	/* Relaxed: writers are serialised by ifnet_lock. */
	if_hash_remove(mpsafe_load_relaxed(&ifname2ifnet), ifp,
	    if_name_hash(ifp->if_xname));
	if_unlink_locked(ifp); /* into the limbo until step 5 */
	IFNET_GLOBAL_UNLOCK();

	/*
	 * 2. Grace period and 3. holders: psref_target_destroy() first waits
	 * for a grace period (after which no reader can still be inside a
	 * section that found ifp, so no new reference can appear: that is
	 * the detach order's grace period), then for every if_get*() or
	 * m_get_rcvif_psref() holder.
	 */
#ifndef MPSAFE_TEST_BROKEN_IFNET_NO_WAIT
	psref_target_destroy(&ifp->if_psref, ifnet_psref_class);
#endif /* else: tests/ifnet.cmake's teeth library, which must be caught */

	/*
	 * 4. Addresses.  Nobody reaches them through ifp any more, but
	 * ifa_ifwithaddr_psref() holders may still use them: unlink all,
	 * one grace period, then wait for each one's holders, and a grace
	 * period again (ifa_reap()).  That first grace period also covers
	 * the last ifp holders: one that released its reference inside a read
	 * section (the iterate-and-sleep pattern: acquire, leave, sleep,
	 * re-enter, release, follow if_pslist_entry to the next interface)
	 * may use ifp until that section ends, and psref_target_destroy()
	 * does not wait for it.  (NetBSD's if_detach gets this from the
	 * cross-calls it makes later.)  So ifa_reap() runs even without
	 * addresses.  Then wait for the ifa_remove() calls still in flight:
	 * each unlinked its address before we looked, and that address's
	 * holders may use ifp until the call ends.
	 */
	IFNET_LOCK(ifp);
	chain = ifa_unlink_all_locked(ifp);
	IFNET_UNLOCK(ifp);
	ifa_reap(ifp, chain);
	IFNET_LOCK(ifp);
	while (ifp->if_ifa_removing != 0)
		mpsafe_cond_wait(&ifp->if_ifa_removed, &ifp->if_ioctl_lock);
#ifdef MPSAFE_DIAGNOSTIC
	if (ifp->if_addr_limbo != NULL)
		mpsafe_panic("if_detach: %s: address %p is still being "
		             "removed after every removal ended",
		    ifp->if_xname, (void *)ifp->if_addr_limbo);
#endif
	IFNET_UNLOCK(ifp);

	/*
	 * 5. Free what if_attach() set up.  The grace period in ifa_reap()
	 * came after the last holder: nobody walks on from ifp any more, so
	 * it leaves the limbo.
	 */
	PSLIST_DESTROY(&ifp->if_addr_pslist);
	pthread_cond_destroy(&ifp->if_ifa_removed);
	pthread_mutex_destroy(&ifp->if_ioctl_lock);
	mpsafe_free(ifp->if_stats);
	ifp->if_stats = NULL;
	IFNET_GLOBAL_LOCK();
	if_limbo_remove_locked(ifp);
	PSLIST_ENTRY_DESTROY(ifp, if_pslist_entry);
	ifp->if_index = 0;
	ifp->if_state = IFNET_STATE_DETACHED;
	IFNET_GLOBAL_UNLOCK();
	return 0;
}

/* --- lookups and references ----------------------------------------------- */

static bool
if_name_is_index(const char *name, unsigned *idxp)
{
	unsigned long v = 0;

	if (*name == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > IFNET_INDEX_MAX)
			v = IFNET_INDEX_MAX + 1;
	}
	*idxp = v > IFNET_INDEX_MAX ? 0 : (unsigned)v;
	return true;
}

struct ifnet *
ifunit(const char *name)
{
	unsigned idx;

	if (name == NULL)
		return NULL;
	if (if_name_is_index(name, &idx))
		return if_byindex(idx);
	return if_name_find(name);
}

struct ifnet *
if_get(const char *name, struct psref *psref)
{
	struct ifnet *ifp;
	int s;

	s = pserialize_read_enter();
	ifp = ifunit(name);
	if (ifp != NULL)
		psref_acquire(psref, &ifp->if_psref, ifnet_psref_class);
	pserialize_read_exit(s);
	return ifp;
}

void
if_acquire(struct ifnet *ifp, struct psref *psref)
{
	psref_acquire(psref, &ifp->if_psref, ifnet_psref_class);
}

bool
if_held(const struct ifnet *ifp)
{
	if (ifnet_init() != 0)
		return false; /* then nothing was ever attached */
	return psref_held(&ifp->if_psref, ifnet_psref_class);
}

int
if_set_mtu(struct ifnet *ifp, unsigned mtu)
{
	int error = 0;

	if (ifp == NULL || mtu == 0)
		return EINVAL;
	if_assert_not_reading("if_set_mtu");
	IFNET_LOCK(ifp);
	if (ifp->if_state != IFNET_STATE_ATTACHED)
		error = EINVAL;
	else
		/* Relaxed: a value, no ordering (see struct ifnet). */
		mpsafe_store_relaxed(&ifp->if_mtu, mtu);
	IFNET_UNLOCK(ifp);
	return error;
}

int
if_set_flags(struct ifnet *ifp, int flags)
{
	int error = 0;

	if (ifp == NULL)
		return EINVAL;
	if_assert_not_reading("if_set_flags");
	IFNET_LOCK(ifp);
	if (ifp->if_state != IFNET_STATE_ATTACHED)
		error = EINVAL;
	else
		/* Relaxed: a value, no ordering (see struct ifnet). */
		mpsafe_store_relaxed(&ifp->if_flags, flags);
	IFNET_UNLOCK(ifp);
	return error;
}

/* --- statistics ----------------------------------------------------------- */

int
if_stat_attach(void)
{
	int slot = IF_STAT_THREADS; /* the shared slot */

	(void)ifnet_init(); /* done by the attach that preceded */
	pthread_mutex_lock(&stat_slots_lock);
	for (int i = 0; i < IF_STAT_THREADS; i++) {
		if ((stat_slots_used & (UINT64_C(1) << i)) == 0) {
			stat_slots_used |= UINT64_C(1) << i;
			slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&stat_slots_lock);
	if (slot < IF_STAT_THREADS && pthread_setspecific(stat_slot_key,
	                                  (void *)(uintptr_t)(slot + 1)) != 0) {
		stat_slot_exit((void *)(uintptr_t)(slot + 1));
		slot = IF_STAT_THREADS;
	}
	if_stat_self = slot;
	return slot;
}

void
if_stat_bad(int stat)
{
#ifdef MPSAFE_DIAGNOSTIC
	mpsafe_panic("if_statadd: counter %d out of range", stat);
#else
	(void)stat;
#endif
}

void
if_stat_add_shared(struct ifnet *ifp, if_stat_t stat, uint64_t n)
{
	/* Relaxed: a count; the shared slot needs atomicity only. */
	atomic_fetch_add_explicit(
	    &ifp->if_stats[IF_STAT_THREADS].ss_count[stat], n,
	    memory_order_relaxed);
}

uint64_t
if_stat_get(const struct ifnet *ifp, if_stat_t stat)
{
	uint64_t sum = 0;

	if ((unsigned)stat >= IF_NSTATS)
		return 0;
	for (unsigned i = 0; i <= IF_STAT_THREADS; i++)
		/* Relaxed: a sum of counts, no ordering with anything. */
		sum += mpsafe_load_relaxed(&ifp->if_stats[i].ss_count[stat]);
	return sum;
}

/* --- addresses ------------------------------------------------------------ */

struct if_addr *
ifa_create(const struct sockaddr *addr, const struct sockaddr *netmask)
{
	struct if_addr *ifa;

	if (addr == NULL ||
	    (netmask != NULL && netmask->sa_family != addr->sa_family)) {
		errno = EINVAL;
		return NULL;
	}
	if (sockaddr_getlen(addr) == 0) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (ifnet_init() != 0) {
		errno = ENOMEM;
		return NULL;
	}
	ifa = mpsafe_calloc(1, sizeof(*ifa));
	if (ifa == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ifa->ifa_addr = sockaddr_dup(addr, M_WAITOK);
	if (netmask != NULL)
		ifa->ifa_netmask = sockaddr_dup(netmask, M_WAITOK);
	if (ifa->ifa_addr == NULL ||
	    (netmask != NULL && ifa->ifa_netmask == NULL)) {
		sockaddr_free(ifa->ifa_addr);
		sockaddr_free(ifa->ifa_netmask);
		mpsafe_free(ifa);
		errno = ENOMEM;
		return NULL;
	}
	PSLIST_ENTRY_INIT(ifa, ifa_pslist_entry);
	psref_target_init(&ifa->ifa_psref, ifa_psref_class);
	mpsafe_atomic_init(&ifa->ifa_refcnt, 1);
	ifa->ifa_state = IFA_STATE_NEW;
	return ifa;
}

int
ifa_insert(struct ifnet *ifp, struct if_addr *ifa)
{
	struct ifa_cmp c;
	int error = 0;

	if (ifp == NULL || ifa == NULL)
		return EINVAL;
	if (pserialize_in_read_section())
		mpsafe_panic(
		    "ifa_insert inside a read section: it may wait for "
		    "a grace period (the address table's deferred free)");
	/* A zoned address of another interface's zone cannot be ifp's. */
	if (!ifa_cmp_of(ifa->ifa_addr, &c) ||
	    (c.ic_zone != 0 && c.ic_zone != ifp->if_index))
		return EINVAL;
	IFNET_LOCK(ifp);
	if (ifp->if_state != IFNET_STATE_ATTACHED ||
	    ifa->ifa_state != IFA_STATE_NEW) {
		IFNET_UNLOCK(ifp);
		return EINVAL;
	}
	pthread_mutex_lock(&ifa_table_lock);
	/* ifp's addresses are all in the table: ifp is attached. */
	if (ifa_table_find(ifa->ifa_addr, ifp) != NULL)
		error = EEXIST;
	else
		error = if_hash_reserve(&ifaddr_table, &ifa_ops);
	if (error == 0) {
		ifa->ifa_ifp = ifp;
		ifa->ifa_ifindex = ifp->if_index;
		ifa->ifa_state = IFA_STATE_INSERTED;
		/* Relaxed: writers hold ifa_table_lock; put releases. */
		if_hash_put(mpsafe_load_relaxed(&ifaddr_table), ifa,
		    ifa_hash_elem(ifa));
	}
	pthread_mutex_unlock(&ifa_table_lock);
	if (error != 0) {
		IFNET_UNLOCK(ifp);
		return error;
	}
	/* The pslist insertion publishes ifa with a release store. */
	if (ifp->if_addr_tail == NULL)
		PSLIST_WRITER_INSERT_HEAD(
		    &ifp->if_addr_pslist, ifa, ifa_pslist_entry);
	else
		PSLIST_WRITER_INSERT_AFTER(
		    ifp->if_addr_tail, ifa, ifa_pslist_entry);
	ifp->if_addr_tail = ifa;
	IFNET_UNLOCK(ifp);
	return 0;
}

int
ifa_remove(struct ifnet *ifp, struct if_addr *ifa)
{
	if (ifp == NULL || ifa == NULL)
		return ENOENT;
	if (pserialize_in_read_section())
		mpsafe_panic("ifa_remove inside a read section: it waits for "
		             "a grace period");
	IFNET_LOCK(ifp);
	if (ifa->ifa_state != IFA_STATE_INSERTED || ifa->ifa_ifp != ifp) {
		IFNET_UNLOCK(ifp);
		return ENOENT;
	}
	if (ifp->if_state == IFNET_STATE_ATTACHED)
		ifa_table_remove_locked(ifa); /* else if_detach() did */
	ifa_unlink_locked(ifp, ifa);
	ifa->ifa_reap_next = NULL; /* a chain of one */
	ifp->if_ifa_removing++;    /* if_detach(ifp) now waits for us */
	IFNET_UNLOCK(ifp);
	ifa_reap(ifp, ifa);
	IFNET_LOCK(ifp);
	if (--ifp->if_ifa_removing == 0)
		pthread_cond_broadcast(&ifp->if_ifa_removed);
	IFNET_UNLOCK(ifp);
	return 0;
}

void
ifa_acquire(struct if_addr *ifa, struct psref *psref)
{
	psref_acquire(psref, &ifa->ifa_psref, ifa_psref_class);
}

void
ifa_release(struct if_addr *ifa, struct psref *psref)
{
	if (ifa == NULL)
		return;
	psref_release(psref, &ifa->ifa_psref, ifa_psref_class);
}

void
ifaref(struct if_addr *ifa)
{
	/* Relaxed: the caller already holds a reference. */
	atomic_fetch_add_explicit(&ifa->ifa_refcnt, 1, memory_order_relaxed);
}

void
ifafree(struct if_addr *ifa)
{
	unsigned old;

	/* Release: our uses of ifa before the free; pairs with below. */
	old = atomic_fetch_sub_explicit(
	    &ifa->ifa_refcnt, 1, memory_order_release);
	if (old == 0)
		mpsafe_panic("ifafree: %p has no reference left", (void *)ifa);
	if (old != 1)
		return;
	/* Acquire: pairs with the other holders' release decrements. */
	atomic_thread_fence(memory_order_acquire);
	sockaddr_free(ifa->ifa_addr);
	sockaddr_free(ifa->ifa_netmask);
	memset(ifa, 0xa5, sizeof(*ifa)); /* poison */
	mpsafe_free(ifa);
}

struct if_addr *
ifa_ifwithaddr(const struct sockaddr *addr)
{
	if (addr == NULL)
		return NULL;
	return ifa_table_find(addr, NULL);
}

struct if_addr *
ifa_ifwithaddr_psref(const struct sockaddr *addr, struct psref *psref)
{
	struct if_addr *ifa;
	int s;

	s = pserialize_read_enter();
	ifa = ifa_ifwithaddr(addr);
	if (ifa != NULL)
		ifa_acquire(ifa, psref);
	pserialize_read_exit(s);
	return ifa;
}

struct ifnet *
if_get_byaddr(const struct sockaddr *addr, struct psref *psref)
{
	struct if_addr *ifa;
	struct ifnet *ifp = NULL;
	int s;

	s = pserialize_read_enter();
	ifa = ifa_ifwithaddr(addr);
	if (ifa != NULL) {
		ifp = ifa->ifa_ifp;
		if_acquire(ifp, psref);
	}
	pserialize_read_exit(s);
	return ifp;
}

/*
 * Whether ifa, of the interface with index ifindex, is on the network of
 * the address c describes: equal under ifa's netmask (zoned addresses
 * without their embedded zone), and, when c names a zone, ifindex is it.
 */
static bool
ifa_net_match(
    const struct if_addr *ifa, unsigned ifindex, const struct ifa_cmp *c)
{
	struct ifa_cmp ca;
	socklen_t len;
	const uint8_t *pm = sockaddr_const_addr(ifa->ifa_netmask, &len);

	if (pm == NULL || !ifa_cmp_of(ifa->ifa_addr, &ca) ||
	    ca.ic_family != c->ic_family || len != c->ic_len ||
	    (c->ic_zone != 0 && c->ic_zone != ifindex))
		return false;
	for (socklen_t i = 0; i < len; i++)
		if (((ca.ic_bytes[i] ^ c->ic_bytes[i]) & pm[i]) != 0)
			return false;
	return true;
}

struct if_addr *
ifaof_ifpforaddr(const struct sockaddr *addr, const struct ifnet *ifp)
{
	struct if_addr *ifa, *net = NULL, *first = NULL;
	struct ifa_cmp c;
	bool cmp;

	if (addr == NULL || ifp == NULL)
		return NULL;
	/* An unknown family or impossible zone matches nothing. */
	cmp = ifa_cmp_of(addr, &c);

	IFADDR_READER_FOREACH (ifa, ifp) {
		if (ifa->ifa_addr->sa_family != addr->sa_family)
			continue;
		if (cmp && ifa_cmp_match(ifa->ifa_addr, ifp->if_index, &c))
			return ifa;
		if (cmp && net == NULL && ifa->ifa_netmask != NULL &&
		    ifa_net_match(ifa, ifp->if_index, &c))
			net = ifa;
		if (first == NULL)
			first = ifa;
	}
	return net != NULL ? net : first;
}
