/*
 * route.c: the routing table (NetBSD's sys/net/route.c, 8/9, rebuilt):
 * entries, requests, lookups, walks, in two synchronisation designs over
 * one lookup structure (lpm.c).
 *
 * Structures.  Per family, a multibit trie (lpm.c) answers longest-prefix
 * lookups; one hash table over (family, prefix length, masked address)
 * answers exact matches for RTM_ADD/DELETE/CHANGE/GET and finds the
 * covering prefix a deleted one hands its slots to; a list holds every
 * entry for rt_walktree().  All three change under the writer lock: the
 * write side of t_rwlock (RT_SYNC_RWLOCK) or the mutex t_wlock
 * (RT_SYNC_PSERIALIZE).  Lookups take the read side of t_rwlock, or only
 * a pserialize read section (the trie publishes with release stores, see
 * lpm.c); psref acquires always happen inside a read section.
 *
 * Keys.  A key is the address, most significant bit first (lpm.h), and
 * for IPv6 zoned addresses also its zone.  A link-local unicast address
 * (fe80::/10), or an interface-local or link-local multicast one (scope
 * 1 or 2 without the P flag: ff01::, ff02::, ff11::, ff12::), means
 * nothing without its zone (sin6_scope_id, an interface index), so its
 * key carries the zone in the address's bits 16..31 (in6_zoned()), which
 * such addresses leave zero in practice (RFC 4291's link-local format;
 * multicast group ids are allocated in the low 32 bits, RFC 3307): KAME's
 * embedded form, as in NetBSD's kernel.  Multicast with the P flag
 * (ff3x, ff7x: RFC 3306, 3956, 4489) puts a prefix length in those bits,
 * so its zone stays out of the key.  fe80::/64 on interfaces 1 and 2 are
 * then two routes, and a lookup finds the one of its own zone.  Scope 0
 * leaves the address as it is, so a caller may pass the embedded form
 * itself (the raw-address lookups take only that form).  A non-zero scope
 * must fit the 16 bits and the bits must be 0 or equal to it
 * (rt_sa_key(): RT_KEY_BADZONE; EINVAL for requests, a miss for lookups).
 * A zoned prefix covers every zone (/16 or shorter: bits 16..31 lie past
 * it) or one (/32 or longer); /17 to /31 would cover some zones, and is
 * refused (EINVAL).  Entries and next hops hand the zone back in
 * sin6_scope_id with the bits zero (rt_zone_out()).  Other addresses'
 * scope ids are not part of the key; an entry's rt_dst has scope id 0.
 *
 * Entry life.  ADD allocates and fills the entry before it is linked.
 * DELETE unlinks it from trie, hash and list, clears RTF_UP and advances
 * the family's generation, all under the writer lock; then destruction:
 *  1. wait until rt_refcnt is 0 (rt_unref() wakes us, see below): a
 *     change of the entry that began before the delete holds a count
 *     until its own psref drain is over, and two drains of one target
 *     must not overlap;
 *  2. psref_target_destroy_begin() (never blocks), then, with
 *     RT_SYNC_PSERIALIZE, pserialize_perform(): lookups that found the
 *     entry have ended, so every count and psref on it has been taken
 *     (with RT_SYNC_RWLOCK they ended before the unlink: the read lock);
 *  3. psref_target_destroy_end(): waits for psref holders (route caches,
 *     RT_REF_PSREF lookups); the grace period of step 2 is the one it
 *     needs (with RT_SYNC_RWLOCK it runs one; the reaper runs one in both
 *     designs and ends drains without waiting, see "Reaping");
 *  4. wait until rt_refcnt is 0 again: a psref holder may have turned
 *     its psref into a count (rt_ref()), and a lookup of step 2 may hold
 *     one.  Once it is 0 none can be added: the entry is unreachable, no
 *     psref holder is left, and only a count's holder copies it;
 *  5. poison and free.
 * (Until 2026-12-01 step 4 was missing, and an entry was freed under a
 * count taken from a psref during the drain.  Until 2026-12-02 the psref
 * drain ran a grace period of its own: two per entry.)
 * The deleter runs it, blocking, unless it passed MPSAFE_RTM_F_NOWAIT or
 * asked for the entry back (it then holds a count, so it must not wait
 * for itself): the reaper runs it then.
 *
 * Lookups that meet a deleted entry.  Without the read lock a walk may
 * return an entry whose delete has begun.  A lookup that goes on to read
 * its flags and finds RTF_UP clear walks again (rt_lookup_hold(),
 * rt_nh_lookup(), rtcache_lookup_noref()): the delete gave the entry's
 * slots to the covering route before it cleared RTF_UP (seq_cst, after
 * the trie's release stores), so the acquire load that saw the flag
 * clear makes the next walk see what replaced the entry.  Answering NULL
 * instead would be a miss that no state of the table gives when a route
 * is replaced (the new one added, then the old one deleted); answering
 * the entry would hand out a deleted route.  The entry is never linked
 * again, so each walk sees a later table, and a lookup walks again only
 * as often as deletes of its route end while it runs.
 *
 * Reaping.  A deleter that does not wait puts the entry on the table's
 * reap list and returns; the reaper, a work item on the table's
 * workqueue, takes the whole list and, RT_REAP_CHUNK entries at a time,
 * begins their psref drains, waits for one grace period, and ends the
 * drains (rt_reap_batch()): a chunk shares a grace period.  An entry
 * still counted at step 1 or 4 stays with the reaper (its lists early and
 * late), which goes on with the others and takes the entry on when its
 * count falls (rt_reap_unstick()); so does an entry that a psref holder
 * keeps at step 3 (list drain: the reaper ends drains with
 * psref_target_destroy_tryend(), and psref_drain_watch() makes the
 * releases of draining targets broadcast rt_wait_cv, where the reaper
 * sleeps; at most RT_REAP_DRAINS of them, past which it waits for the
 * holders, since each sits in psref's draining set).  The reaper looks
 * at the entries it holds back after each batch, and when it has none
 * to take, before it sleeps.  So an entry held for long (a count from
 * rtalloc1(), a route cache's psref, kept by a slow caller) holds back
 * only itself; NetBSD's rt_free work, which waits for each entry in turn,
 * lets it hold back every entry deleted after it.  (Until 2026-12-02 ours
 * did too: counts until commit 683f6ca, psref holders until 5fdc9fc.)
 * Having emptied the list, the reaper lingers up to RT_REAP_LINGER_NS for
 * more before it goes idle, and a deleter wakes it (a system call) only
 * when it is idle: under steady churn deleters never pay for a wake-up.
 * A deleter that finds RT_REAP_KICK entries waiting wakes a lingering
 * reaper at once, and rt_table_destroy() stops the lingering of a reaper
 * that holds no entry back, so the list stays short.  Idle with no entry
 * held back, the reaper ends (a deleter queues it again); with some, it
 * sleeps where their rt_unref() and psref_release() calls wake it
 * (below), and deleters wake it there.  Invariant (t_reap_lock): the
 * list is empty, or t_reap_active is set and the reaper will take it.
 * tests/model/route_reap.pml checks this paragraph and the next.
 *
 * Waiting for counts.  rt_unref() must not touch the entry after its
 * decrement (the entry may be freed at once), so the count's word itself
 * says whether anyone waits: rt_refcnt holds the count in its low 28
 * bits and the number of registered waits above them.  A waiter adds a
 * wait (rt_wait_enter(), a read-modify-write of that word), then, under
 * rt_wait_lock, loads the count and sleeps on rt_wait_cv while it is too
 * high; rt_unref() decrements, and if the old value it gets back shows a
 * wait, broadcasts under the lock.  Read-modify-writes of one word are
 * totally ordered: a decrement before the registration is seen by the
 * waiter's load; one after it returns the wait bits; and the broadcast
 * cannot fall between the waiter's check and its sleep since both hold
 * the lock.  An rt_unref() of an entry nobody waits for pays nothing
 * more than its decrement.  (Until 2026-12-02 one library-wide count
 * stood for every waiter: while one deleted entry was held, every
 * rt_unref() in the process took the lock and woke the waiter, and
 * counted lookups ran about 3 times slower, docs/net/route.md.)
 * RTF_UPDATING waiters wait on the same lock and condition for
 * t_changes_done to move (the table outlives its requests), counted in
 * rt_update_waiters.
 *
 * RTM_CHANGE (the RTF_UPDATING protocol).  Under the writer lock: find
 * the entry (if RTF_UPDATING is already set, another change of it runs:
 * wait for that one to end and look again), take a count on it, set
 * RTF_UPDATING, advance the generation; from then on lookups miss
 * (NOWAIT) or wait, RTM_GET with ret_nrt waits (F_NOWAIT: EWOULDBLOCK),
 * and route caches are invalid.  Then, without any lock, wait for
 * readers: a grace period (lockless lookups, and rt_lookup_noref readers
 * that saw the flag clear), psref holders (a psref destroy begun before
 * that grace period, which it shares, then the target re-initialised),
 * and counts down to our own.  Retake the writer lock and
 * check the count once more: a count can still be added while
 * RTF_UPDATING is set, by RTM_DELETE's ret_nrt, by rt_walktree()'s fn
 * and by a holder's rt_ref() (a psref holder may turn its psref into a
 * count before it releases it), and each of those runs under the writer
 * lock or by a holder; with the lock held, the count ours alone and the
 * psrefs drained, no holder is left to add one.  If it is not ours
 * alone, unlock, wait, and check again.  (Until 2026-12-01 the changer
 * did not check again, and RTM_GET did not wait: a count taken while the
 * changer drained psrefs saw the fields change under it.)  Nobody else
 * looks at the fields now; change them under the writer lock
 * (rwlock-mode rt_lookup_noref readers), clear RTF_UPDATING with a
 * release compare-and-swap, advance t_changes_done, and wake the
 * waiters.
 *
 * Changes of different entries run at once: RTF_UPDATING, set and
 * cleared under the writer lock, is the only exclusion, and it is per
 * entry.  (Until 2026-12-01 a table mutex held across the wait
 * serialised all changes, as NetBSD's rt_update_prepare() serialises
 * them system-wide: a thread holding a reference to one entry then
 * blocked in a change of another behind a change that waited for it.)
 * A waiter for a change reads t_changes_done and then the entry's flag
 * again while the entry cannot go away (in the read side, or under the
 * writer lock); if the flag is still set, the change it saw has yet to
 * advance the count, so "the count moved" cannot be missed.
 *
 * Changes nobody has read.  Every path that gives a reader an entry, or
 * reads its changeable fields, outside the writer lock first marks it
 * with MPSAFE_RTF_READ (rt_flags_read(): a fetch_or the first time after
 * a change, a load after that).  The changer sets RTF_UPDATING and clears
 * the mark in one compare-and-swap, and read-modify-writes of one word
 * are totally ordered: a mark before it shows in the old flags the
 * changer gets back, and the changer then waits for the reader.  A mark
 * after it is made while RTF_UPDATING is set; its caller backs off while
 * it sees the flag, but may see the flag clear later in its read section
 * and then read the new fields, so the compare-and-swap that ends the
 * change keeps that mark, and the next change waits for that reader.  A
 * reader that only loaded the mark did so after some reader's fetch_or
 * that no change start has cleared since, and the next change start
 * sees it.  So a changer that finds the mark clear has no reader to wait
 * for: it skips the grace period and the psref drain (psref holders got
 * their reference through a marking lookup) and waits only for counts,
 * which rtrequest()'s ret_nrt hands out without a lookup.  (Until
 * 2026-12-01 the change set RTF_UPDATING with a fetch_or that left the
 * mark and ended with a store that dropped it: a reader that marked, or
 * saw the old mark, during a change and read the fields after it raced
 * with the next change, which ThreadSanitizer caught in the long route
 * torture.)  Next-hop lookups do not mark (a next hop is immutable and
 * retired after a grace period), so on a table the data path reads
 * through rt_lookup_nexthop() a change costs no grace period.
 *
 * Next hops.  Each entry points to a next hop (route.h: struct
 * rt_nexthop), the forwarding data of the entry, immutable once published
 * and shared by the entries of a family whose data is equal (hash-consed
 * in t_nhhash, counted by the entries using it, both under the writer
 * lock).  A next hop has an id 1..65535 (0: none, when ids ran out) and
 * then lives in element id of the table's next-hop array (t_nhvec,
 * allocated with the table, its pages touched as ids are handed out; a
 * next hop without an id is allocated alone).  On 64-bit platforms a
 * trie slot of an entry holds rt | id << 48 (rt_nh_slot(); lpm.c, I1),
 * so rt_lookup_nexthop() reads the slot and computes the next hop's
 * address from the id: no load between the slot and the caller's read
 * of the next hop, never the entry; id 0 (32-bit platforms, no id)
 * falls back to the entry's rt_nh.  An entry or node whose address does
 * not fit in 48 bits (tagged pointers, a 57-bit address space) cannot
 * stand in a slot at all: its allocation is refused with ENOMEM
 * (lpm_slot_fits()).  Publication:
 * a next hop's fields, then the trie slots naming its id (release);
 * lookups load the slot with acquire.  RTM_CHANGE swaps rt_nh
 * (release) and re-stores every slot of the prefix from rt | old id to
 * rt | new id (rt_lpm_replace()) in one writer-locked step, so a
 * next-hop lookup sees the old next hop or the new one; it neither waits
 * nor misses for RTF_UPDATING (entry lookups still do).
 * Reclamation: an entry drops its next hop when it is destroyed (so
 * holders of the entry may read rt_getnexthop()) or changed.  At count 0
 * the next hop leaves the hash at once; with RT_SYNC_RWLOCK it is freed
 * and its id reused at once (lookups hold the read lock, we the write
 * lock).  With RT_SYNC_PSERIALIZE a lookup may have loaded a slot naming
 * its id just before the last one changed, so its element must stay
 * and the id must not be handed out again until a grace period has
 * passed: the writer hands it to mpsafe_defer() after dropping the lock
 * (mpsafe_defer() may wait for the reclaimer, which must not need our
 * lock), the destructor (rt_nh_reclaim()) only pushes it on t_nh_done,
 * and the writer, under its lock, later poisons the element and frees
 * the id, or frees the memory of one without an id (rt_nh_drain(): when
 * a writer leaves the lock, before each new next hop, and at table
 * destruction, after mpsafe_defer_barrier()).  Allocation failure (a next
 * hop without an id) fails RTM_ADD/RTM_CHANGE with ENOMEM and the table
 * unchanged; running out of ids only costs the fast path.
 *
 * Memory.  Every allocation goes through rt_alloc() (the config's
 * allocator; by default rt_default_alloc(), which maps blocks of 1 MiB
 * and more with mpsafe_map_zeroed(); with rtc_hugepages the table's
 * slab, rt_slab.c): fault injection fails it, and it counts the bytes
 * for rt_table_stats().  An ADD
 * allocates its entry and its trie nodes before it changes anything, so
 * ENOMEM leaves the table as it was; the hash table grows opportunistically
 * (a failed growth leaves it smaller, not broken).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/alloc.h>
#include <mpsafe/thread.h>

#include "route_impl.h"

/* How long an idle reaper waits for more deleted entries; its kick. */
#define RT_REAP_LINGER_NS 10000000L /* 10 ms */
#define RT_REAP_KICK 256
/* Deleted entries whose psref drains share a grace period. */
#define RT_REAP_CHUNK 32
/*
 * Most entries the reaper leaves draining while psref holders keep them
 * (its list drain); past that it waits for the holders.  Each is in
 * psref's draining set (224 slots) meanwhile.
 */
#define RT_REAP_DRAINS 32

/*
 * t_reap_sleep: awake (or queued), lingering (a deleter wakes it at
 * RT_REAP_KICK entries), idle (any deleter wakes it).  0 in a new table.
 */
enum { RT_REAP_AWAKE, RT_REAP_LINGER, RT_REAP_IDLE };

/*
 * Library-wide meeting point of count and update waiters (see above):
 * rt_wait_cv runs on CLOCK_MONOTONIC (rt_wait_init()).
 */
static pthread_mutex_t rt_wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rt_wait_cv;
static pthread_once_t rt_wait_once = PTHREAD_ONCE_INIT;
/*
 * Whether psref releases that may end a drain broadcast rt_wait_cv
 * (psref_drain_watch()): set by rt_wait_init(), read after its
 * pthread_once(); false only if other callers took every watch.
 */
static bool rt_drain_watched;

/* --- allocation ----------------------------------------------------------- */

/* A lookup's fields share one line of a line-aligned entry (route.h). */
_Static_assert(offsetof(struct rt_entry, rt_gateway) +
                       sizeof(((struct rt_entry *)0)->rt_gateway) <=
                   64,
    "rt_entry's hot fields fit one cache line");

/* route.h's inline lookups read a table through its first member. */
_Static_assert(offsetof(struct rt_table, t_fast) == 0,
    "struct rt_table begins with its fast-path view");

/* Blocks this large are mapped directly (see rt_default_alloc()). */
#define RT_MAP_MIN ((size_t)1 << 20)

/*
 * Zeroed, and line-aligned when at least a line long (entries, nodes).
 * Blocks of RT_MAP_MIN and more (the IPv4 trie's 128 MiB root, the
 * next-hop array, a big hash) are mapped fresh (mpsafe_map_zeroed()), so
 * a table only pays for the pages its routes write.
 */
static void *
rt_default_alloc(size_t size, void *arg)
{
	void *p;

	(void)arg;
	if (size >= RT_MAP_MIN)
		return mpsafe_map_zeroed(size);
	if (size < 64)
		return mpsafe_calloc(1, size);
	p = mpsafe_aligned_alloc(64, size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

static void
rt_default_free(void *p, size_t size, void *arg)
{
	(void)arg;
	if (size >= RT_MAP_MIN)
		mpsafe_unmap(p, size);
	else
		mpsafe_free(p);
}

/*
 * The one allocation function of the table (fault injection hooks it),
 * and the one free: both count the bytes for rt_table_stats().
 */
static void *
rt_alloc(struct rt_table *t, size_t size)
{
	void *p = t->t_alloc(size, t->t_alloc_arg);

	if (p != NULL)
		/* Relaxed: a statistic; frees run on other threads. */
		atomic_fetch_add_explicit(
		    &t->t_alloc_bytes, size, memory_order_relaxed);
	return p;
}

static void
rt_free_mem(struct rt_table *t, void *p, size_t size)
{
	if (p == NULL)
		return;
	/* Relaxed: as in rt_alloc(). */
	atomic_fetch_sub_explicit(
	    &t->t_alloc_bytes, size, memory_order_relaxed);
	t->t_free(p, size, t->t_alloc_arg);
}

/* rt_alloc() and rt_free_mem() as the trie's hooks (arg: the table). */
static void *
rt_lpm_alloc(size_t size, void *arg)
{
	return rt_alloc(arg, size);
}

static void
rt_lpm_free(void *p, size_t size, void *arg)
{
	rt_free_mem(arg, p, size);
}

/* --- keys and locks ------------------------------------------------------- */

static uint64_t
rt_load_be64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

static struct lpm_key
rt_addr_key(int fi, const void *addr)
{
	struct lpm_key k = {0, 0};
	const uint8_t *b = addr;

	if (fi == RT_INET) {
		k.hi = (uint64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		                  (uint32_t)b[2] << 8 | b[3])
		       << 32;
	} else {
		k.hi = rt_load_be64(b);
		k.lo = rt_load_be64(b + 8);
	}
	return k;
}

/*
 * Put a zoned address (checked by rt_sa_key()) in the form the table
 * hands out: the zone in sin6_scope_id, the address's bits 16..31 zero.
 * Addresses of other scopes are left as they are.
 */
static void
rt_zone_out(struct sockaddr_in6 *sin6)
{
	uint8_t *a = sin6->sin6_addr.s6_addr;

	if (!in6_zoned(a))
		return;
	if (sin6->sin6_scope_id == 0)
		sin6->sin6_scope_id = (uint32_t)a[2] << 8 | a[3];
	a[2] = 0;
	a[3] = 0;
}

int
rt_sa_key(const struct sockaddr *sa, struct lpm_key *k)
{
	struct sockaddr_in6 sin6;
	int fi;

	k->hi = 0; /* defined for every family, even an unknown one */
	k->lo = 0;
	if (sa == NULL)
		return -1;
	fi = rt_afidx(sa->sa_family);
	if (fi == RT_INET) {
		*k = rt_addr_key(fi,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	} else if (fi == RT_INET6) {
		uint32_t zone;

		memcpy(&sin6, sa, sizeof(sin6));
		*k = rt_addr_key(fi, &sin6.sin6_addr);
		/*
		 * Zones (file comment, "Keys"): sin6_scope_id goes into the
		 * address's bits 16..31, which must then be 0 or say the
		 * same zone (so the OR below changes nothing when they are
		 * set); scope 0 leaves the address as it is.
		 */
		if (!in6_zone_of(&sin6, &zone))
			return RT_KEY_BADZONE;
		k->hi |= (uint64_t)zone << 32;
	}
	return fi;
}

static unsigned
rt_maxlen(int fi)
{
	return fi == RT_INET ? RT_PLEN_MAX_INET : RT_PLEN_MAX_INET6;
}

static void
rt_wlock(struct rt_table *t)
{
	if (t->t_sync == RT_SYNC_RWLOCK)
		pthread_rwlock_wrlock(&t->t_rwlock);
	else
		pthread_mutex_lock(&t->t_wlock);
}

static void rt_nh_drain(struct rt_table *t);

/*
 * Leaving the writer lock also frees the next hops whose grace period
 * has passed (lockless tables), so that they do not wait for the next
 * next hop to be created.
 */
static void
rt_wunlock(struct rt_table *t)
{
	if (t->t_sync == RT_SYNC_RWLOCK) {
		pthread_rwlock_unlock(&t->t_rwlock);
	} else {
		rt_nh_drain(t);
		pthread_mutex_unlock(&t->t_wlock);
	}
}

/*
 * Diagnostic builds: the read sides this thread is in that no other check
 * sees, per table: the read lock of an RT_SYNC_RWLOCK table taken by
 * rt_read_enter(), and rt_walktree() of either design (its fn runs under
 * the read lock, or under the writer mutex).  A pserialize read section
 * is seen by pserialize_in_read_section().  rtrequest() there would wait
 * for its own thread's lock (rt_require_outside_read_side()), and so
 * would a lookup that waits for a change (rt_require_may_wait()).  A few
 * tables per thread; beyond RT_SIDE_MAX nothing is tracked (no check).
 */
#ifdef MPSAFE_DIAGNOSTIC
#define RT_SIDE_MAX 4
static _Thread_local struct rt_side {
	const struct rt_table *rs_table;
	unsigned rs_depth;
} rt_side[RT_SIDE_MAX];

static void
rt_side_enter(const struct rt_table *t)
{
	struct rt_side *slot = NULL;

	for (int i = 0; i < RT_SIDE_MAX; i++) {
		if (rt_side[i].rs_table == t) {
			rt_side[i].rs_depth++;
			return;
		}
		if (rt_side[i].rs_table == NULL && slot == NULL)
			slot = &rt_side[i];
	}
	if (slot != NULL) {
		slot->rs_table = t;
		slot->rs_depth = 1;
	}
}

static void
rt_side_exit(const struct rt_table *t)
{
	for (int i = 0; i < RT_SIDE_MAX; i++)
		if (rt_side[i].rs_table == t) {
			if (--rt_side[i].rs_depth == 0)
				rt_side[i].rs_table = NULL;
			return;
		}
}

static bool
rt_side_in(const struct rt_table *t)
{
	for (int i = 0; i < RT_SIDE_MAX; i++)
		if (rt_side[i].rs_table == t)
			return true;
	return false;
}
#endif

/*
 * Diagnostic builds: rtrequest(), rt_table_stats() and rt_walktree() (fn
 * names which) must not run inside the read side of t (rt_read_enter(),
 * any pserialize read section, rt_walktree()'s fn), with
 * MPSAFE_RTM_F_NOWAIT or without: they take the writer lock (a walk on an
 * RT_SYNC_PSERIALIZE table: the writer mutex), which on an RT_SYNC_RWLOCK
 * table (and inside a walk, on either) waits for the caller's own read
 * lock or mutex, and on an RT_SYNC_PSERIALIZE table may be held by a
 * writer that waits for a grace period (mpsafe_defer()), which waits for
 * the caller's section.
 */
static void
rt_require_outside_read_side(struct rt_table *t, const char *fn)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (rt_side_in(t) || pserialize_in_read_section())
		mpsafe_panic("%s on table %s inside its read side "
		             "(rt_read_enter, a read section, or rt_walktree's "
		             "fn): the writer lock would wait for the caller "
		             "itself",
		    fn, t->t_name);
#else
	(void)t;
	(void)fn;
#endif
}

/*
 * Diagnostic builds: a lookup about to wait for a change (it met
 * MPSAFE_RTF_UPDATING without MPSAFE_RT_NOWAIT) must be outside the read
 * side: inside rt_walktree()'s fn or rt_read_enter() the change cannot
 * take the writer lock to end, and a read section must not block.  Only
 * the waiting path checks, so the check costs lookups nothing.
 */
static void
rt_require_may_wait(struct rt_table *t)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (rt_side_in(t) || pserialize_in_read_section())
		mpsafe_panic(
		    "lookup without MPSAFE_RT_NOWAIT on table %s met "
		    "an entry being changed inside the read side "
		    "(rt_read_enter, a read section, or rt_walktree's "
		    "fn): the change needs the lock held there, so the "
		    "lookup would wait for ever",
		    t->t_name);
#else
	(void)t;
#endif
}

int
rt_reader_enter(struct rt_table *t, bool psref)
{
	int s = 0;

	if (t->t_sync == RT_SYNC_RWLOCK) {
		pthread_rwlock_rdlock(&t->t_rwlock);
		if (psref)
			s = pserialize_read_enter();
	} else {
		s = pserialize_read_enter();
	}
	return s;
}

void
rt_reader_exit(struct rt_table *t, bool psref, int s)
{
	if (t->t_sync == RT_SYNC_RWLOCK) {
		if (psref)
			pserialize_read_exit(s);
		pthread_rwlock_unlock(&t->t_rwlock);
	} else {
		pserialize_read_exit(s);
	}
}

/* --- waiting -------------------------------------------------------------- */

/* Threads in rt_update_wait() (seq_cst, see there). */
static MPSAFE_ATOMIC(uint32_t) rt_update_waiters;

/*
 * rt_refcnt holds the count in its low RT_COUNT_BITS bits and, above
 * them, the number of count waits registered for the entry (file
 * comment, "Waiting for counts").
 */
#define RT_COUNT_BITS 28
#define RT_COUNT_MASK ((UINT32_C(1) << RT_COUNT_BITS) - 1)
#define RT_COUNT_WAIT (UINT32_C(1) << RT_COUNT_BITS)

/*
 * rt's count.  seq_cst: an acquire, so that the uses of the holders
 * whose decrements it reads happen before, and after a registration.
 */
static uint32_t
rt_count(const struct rt_entry *rt)
{
	return atomic_load(&rt->rt_refcnt) & RT_COUNT_MASK;
}

/*
 * Register a wait for rt's count to fall, so that every rt_unref() of rt
 * from now on wakes rt_wait_cv; the caller then loads the count.  Never
 * blocks.
 */
static void
rt_wait_enter(struct rt_entry *rt)
{
	/* A read-modify-write of the count's own word: see the file comment. */
	uint32_t old = atomic_fetch_add(&rt->rt_refcnt, RT_COUNT_WAIT);

	/* A changer and a destroyer (or the reaper) at most: far less. */
	if (old >> RT_COUNT_BITS == UINT32_MAX >> RT_COUNT_BITS)
		mpsafe_panic("rt: too many waits for entry %p", (void *)rt);
}

/* Undo one rt_wait_enter(rt); rt must still be alive. */
static void
rt_wait_leave(struct rt_entry *rt)
{
	/* Relaxed: one more wake-up is all a late decrement costs. */
	atomic_fetch_sub_explicit(
	    &rt->rt_refcnt, RT_COUNT_WAIT, memory_order_relaxed);
}

/* Wake the count waiters (an rt_unref() of a waited-for entry). */
static void
rt_wake_counts(void)
{
	pthread_mutex_lock(&rt_wait_lock);
	pthread_cond_broadcast(&rt_wait_cv);
	pthread_mutex_unlock(&rt_wait_lock);
}

/* Wait until rt's count is at most n.  Blocks. */
static void
rt_wait_refcnt(struct rt_entry *rt, uint32_t n)
{
	rt_wait_enter(rt);
	pthread_mutex_lock(&rt_wait_lock);
	while (rt_count(rt) > n)
		mpsafe_cond_wait(&rt_wait_cv, &rt_wait_lock);
	pthread_mutex_unlock(&rt_wait_lock);
	rt_wait_leave(rt);
}

/*
 * rt_update_wait(t, done)
 *
 *	Wait until t_changes_done differs from done, which the caller read
 *	before it saw MPSAFE_RTF_UPDATING still set on an entry it could
 *	not yet lose (file comment, "RTM_CHANGE"): the change it saw then
 *	has ended.  Caller must hold no lock of t and be outside the read
 *	side.  Blocks.
 */
static void
rt_update_wait(struct rt_table *t, uint64_t done)
{
	/* seq_cst: pairs with rt_update_wake()'s load. */
	atomic_fetch_add(&rt_update_waiters, 1);
	pthread_mutex_lock(&rt_wait_lock);
	while (atomic_load(&t->t_changes_done) == done) /* seq_cst, as above */
		mpsafe_cond_wait(&rt_wait_cv, &rt_wait_lock);
	pthread_mutex_unlock(&rt_wait_lock);
	/* Relaxed: a stale count costs a needless wake-up. */
	atomic_fetch_sub_explicit(&rt_update_waiters, 1, memory_order_relaxed);
}

/* Wake rt_update_wait()ers; after advancing t_changes_done (seq_cst). */
static void
rt_update_wake(void)
{
	/* seq_cst: pairs with the waiter's increment. */
	if (atomic_load(&rt_update_waiters) != 0) {
		pthread_mutex_lock(&rt_wait_lock);
		pthread_cond_broadcast(&rt_wait_cv);
		pthread_mutex_unlock(&rt_wait_lock);
	}
}

void
rt_ref(struct rt_entry *rt)
{
	/* Relaxed: the caller's reference keeps rt alive. */
	uint32_t old =
	    atomic_fetch_add_explicit(&rt->rt_refcnt, 1, memory_order_relaxed);

	/* Every build: a count carried into the wait bits would hang. */
	if (MPSAFE_UNLIKELY((old & RT_COUNT_MASK) == RT_COUNT_MASK))
		mpsafe_panic(
		    "rt_ref: the count of entry %p overflows", (void *)rt);
#ifdef MPSAFE_DIAGNOSTIC
	if (rt->rt_magic != RT_MAGIC_LIVE)
		mpsafe_panic("rt_ref: entry %p is freed", (void *)rt);
#endif
}

void
rt_unref(struct rt_entry *rt)
{
	/*
	 * seq_cst: releases our uses of rt to the destroyer's load of the
	 * count.  After it rt may be freed: not touched again; whether
	 * anyone waits comes with the old value.
	 */
	uint32_t old = atomic_fetch_sub(&rt->rt_refcnt, 1);

	if (MPSAFE_UNLIKELY((old & RT_COUNT_MASK) == 0))
		mpsafe_panic("rt_unref: reference count of %p below zero "
		             "(released more than taken)",
		    (void *)rt);
	if (MPSAFE_UNLIKELY(old >= RT_COUNT_WAIT))
		rt_wake_counts();
}

/* --- exact-match index ---------------------------------------------------- */

static struct lpm_key
rt_entry_key(const struct rt_entry *rt, int *fip)
{
	struct lpm_key k;

	*fip = rt_sa_key(&rt->rt_dst.sa, &k);
	return k;
}

/*
 * Mix all key bits into the low ones (a finaliser in the style of
 * MurmurHash3's): prefixes have many zero low bits, which a plain
 * multiply would leave in the bucket index.
 */
static uint64_t
rt_hash(int fi, struct lpm_key k, unsigned plen)
{
	uint64_t h = k.hi ^ (k.lo * UINT64_C(0x9e3779b97f4a7c15)) ^
	             ((uint64_t)plen << 1 | (uint64_t)fi);

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/*
 * The index: t_hmask + 1 chain heads, then as many filter bytes in the
 * same block (rt_hash_alloc()).  A bucket's filter byte has bit
 * rt_hash_bit(h) set for every entry of its chain (and may have more set
 * after a removal recomputes it: never fewer), so a probe whose bit is
 * clear is a miss without reading an entry.  Most probes of an add (is
 * it there?) and of a covering-prefix search are misses, and each entry
 * read is a cache miss at a million entries.
 */
static size_t
rt_hash_bytes(size_t nbuckets)
{
	return nbuckets * (sizeof(struct rt_entry *) + 1);
}

static uint8_t
rt_hash_bit(uint64_t h)
{
	return (uint8_t)(1u << (h >> 61)); /* far from the bucket bits */
}

static struct rt_entry **
rt_hash_alloc(struct rt_table *t, size_t nbuckets, uint8_t **filterp)
{
	struct rt_entry **b = rt_alloc(t, rt_hash_bytes(nbuckets));

	if (b != NULL)
		*filterp = (uint8_t *)(void *)(b + nbuckets);
	return b;
}

static bool
rt_entry_is(const struct rt_entry *rt, int fi, struct lpm_key k, unsigned plen)
{
	struct lpm_key rk;
	int rfi;

	if (rt->rt_plen != plen)
		return false;
	rk = rt_entry_key(rt, &rfi);
	return rfi == fi && rk.hi == k.hi && rk.lo == k.lo;
}

/* The entry of (fi, k, plen), whose hash is h, or NULL. */
static struct rt_entry *
rt_hash_find_h(
    struct rt_table *t, int fi, struct lpm_key k, unsigned plen, uint64_t h)
{
	size_t b = h & t->t_hmask;
	struct rt_entry *rt;

	if ((t->t_hfilter[b] & rt_hash_bit(h)) == 0)
		return NULL;
	for (rt = t->t_hash[b]; rt != NULL; rt = rt->rt_hnext)
		if (rt_entry_is(rt, fi, k, plen))
			return rt;
	return NULL;
}

static struct rt_entry *
rt_hash_find(struct rt_table *t, int fi, struct lpm_key k, unsigned plen)
{
	return rt_hash_find_h(t, fi, k, plen, rt_hash(fi, k, plen));
}

static uint64_t
rt_entry_hash(const struct rt_entry *rt)
{
	int fi;
	struct lpm_key k = rt_entry_key(rt, &fi);

	return rt_hash(fi, k, rt->rt_plen);
}

static void
rt_hash_insert(struct rt_table *t, struct rt_entry *rt)
{
	uint64_t h = rt_entry_hash(rt);
	size_t b = h & t->t_hmask;

	rt->rt_hnext = t->t_hash[b];
	t->t_hash[b] = rt;
	t->t_hfilter[b] |= rt_hash_bit(h);
}

/* Unlink rt from its chain and recompute the chain's filter byte. */
static void
rt_hash_remove(struct rt_table *t, struct rt_entry *rt)
{
	size_t b = rt_entry_hash(rt) & t->t_hmask;
	struct rt_entry **pp = &t->t_hash[b], *o;
	uint8_t f = 0;

	while (*pp != rt)
		pp = &(*pp)->rt_hnext;
	*pp = rt->rt_hnext;
	for (o = t->t_hash[b]; o != NULL; o = o->rt_hnext)
		f |= rt_hash_bit(rt_entry_hash(o));
	t->t_hfilter[b] = f;
}

/* Double the buckets when there are more entries than buckets. */
static void
rt_hash_grow(struct rt_table *t)
{
	size_t n = t->t_hmask + 1, i;
	struct rt_entry **nb;
	uint8_t *nf;

	if (t->t_nentries[0] + t->t_nentries[1] <= n)
		return;
	nb = rt_hash_alloc(t, 2 * n, &nf);
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < n; i++) {
		struct rt_entry *rt = t->t_hash[i], *next;
		for (; rt != NULL; rt = next) {
			uint64_t h = rt_entry_hash(rt);
			size_t b = h & (2 * n - 1);

			next = rt->rt_hnext;
			rt->rt_hnext = nb[b];
			nb[b] = rt;
			nf[b] |= rt_hash_bit(h);
		}
	}
	rt_free_mem(t, t->t_hash, rt_hash_bytes(n));
	t->t_hash = nb;
	t->t_hfilter = nf;
	t->t_hmask = 2 * n - 1;
}

/*
 * The longest prefix shorter than plen covering k, or NULL.  Writer lock
 * held.  One probe per prefix length that has entries, longest first.
 * The probes' cache misses are made to overlap instead of following one
 * another (a /24 with no covering prefix probes up to 24 random
 * buckets): first every probe's filter byte is prefetched, then the
 * chain heads of the probes that pass their filter, then the probes run.
 */
static struct rt_entry *
rt_covering(struct rt_table *t, int fi, struct lpm_key k, unsigned plen)
{
	unsigned len[128];
	uint64_t h[128];
	unsigned n = 0, i;

	while (plen-- > 0) {
		if (t->t_nlen[fi][plen] == 0)
			continue;
		len[n] = plen;
		h[n] = rt_hash(fi, lpm_key_mask(k, plen), plen);
		LPM_PREFETCH(&t->t_hfilter[h[n] & t->t_hmask]);
		n++;
	}
	for (i = 0; i < n; i++) {
		size_t b = h[i] & t->t_hmask;

		if (t->t_hfilter[b] & rt_hash_bit(h[i]))
			LPM_PREFETCH(&t->t_hash[b]);
	}
	for (i = 0; i < n; i++) {
		struct rt_entry *rt = rt_hash_find_h(
		    t, fi, lpm_key_mask(k, len[i]), len[i], h[i]);

		if (rt != NULL)
			return rt;
	}
	return NULL;
}

/* --- next hops ------------------------------------------------------------ */

static uint32_t
rt_nh_hash(const struct rt_nexthop *k)
{
	const uint8_t *b = (const uint8_t *)&k->nh_gateway;
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(k->nh_gateway); i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	h ^= (uint64_t)k->nh_flags << 32 ^ k->nh_ifindex ^ (uint64_t)k->nh_fi;
	h ^= (uint64_t)k->nh_mtu * UINT64_C(0x9e3779b97f4a7c15);
	h ^= (uint64_t)k->nh_expire * UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 29;
	return (uint32_t)(h ^ h >> 32);
}

static bool
rt_nh_equal(const struct rt_nexthop *a, const struct rt_nexthop *b)
{
	return a->nh_fi == b->nh_fi && a->nh_flags == b->nh_flags &&
	       a->nh_ifindex == b->nh_ifindex && a->nh_mtu == b->nh_mtu &&
	       a->nh_expire == b->nh_expire &&
	       memcmp(&a->nh_gateway, &b->nh_gateway, sizeof(a->nh_gateway)) ==
	           0;
}

/* The trie value of rt with next hop nh (lpm.h, lpm_slot_t). */
static lpm_slot_t
rt_nh_slot(const struct rt_entry *rt, const struct rt_nexthop *nh)
{
	lpm_slot_t v = (lpm_slot_t)rt;

#ifdef LPM_SLOT_IDSHIFT
	if (nh->nh_id != 0 && (v & ~LPM_SLOT_PTRMASK) == 0)
		v |= (lpm_slot_t)nh->nh_id << LPM_SLOT_IDSHIFT;
#else
	(void)nh;
#endif
	return v;
}

/* rt's current trie value, or 0 for NULL rt (writer lock held). */
static lpm_slot_t
rt_slot_of(const struct rt_entry *rt)
{
	if (rt == NULL)
		return 0;
	/* Relaxed: the writer lock orders every store of rt_nh. */
	return rt_nh_slot(
	    rt, atomic_load_explicit(&rt->rt_nh, memory_order_relaxed));
}

/* A fresh id (0: none left).  Writer lock held. */
static unsigned
rt_nh_id_alloc(struct rt_table *t)
{
	unsigned id = t->t_nh_free;

	if (id != 0) {
		t->t_nh_free = t->t_nhvec->nv_next[id];
		return id;
	}
	id = t->t_nh_next;
	if (id > t->t_nh_idmax)
		return 0; /* out of ids: the entries fall back */
	t->t_nh_next = id + 1;
	return id;
}

/* Free nh, unhashed, whose id no lookup can hold.  Writer lock held. */
static void
rt_nh_free(struct rt_table *t, struct rt_nexthop *nh)
{
	unsigned id = nh->nh_id;

	memset(nh, 0x6b, sizeof(*nh)); /* poison: nh_magic is no longer LIVE */
	if (id != 0) {
		/*
		 * No lookup can reach id any more (grace period passed, or
		 * the write lock excludes them): its element is free.
		 */
		t->t_nhvec->nv_next[id] = (uint16_t)t->t_nh_free;
		t->t_nh_free = id;
	} else {
		t->t_nnh_heap--;
		rt_free_mem(t, nh, sizeof(*nh));
	}
}

/* Free the next hops whose grace period has passed.  Writer lock held. */
static void
rt_nh_drain(struct rt_table *t)
{
	struct rt_nexthop *nh;

	/*
	 * Relaxed: only a shortcut for the usual empty list; a push it
	 * misses is taken by the next drain.
	 */
	if (atomic_load_explicit(&t->t_nh_done, memory_order_relaxed) == NULL)
		return;
	/* Acquire: pairs with rt_nh_reclaim()'s release push. */
	nh =
	    atomic_exchange_explicit(&t->t_nh_done, NULL, memory_order_acquire);

	while (nh != NULL) {
		struct rt_nexthop *next = nh->nh_hnext;

		rt_nh_free(t, nh);
		nh = next;
	}
}

/* Destructor of a retired next hop, after a grace period; any thread. */
static void
rt_nh_reclaim(struct mpsafe_defer *d)
{
	struct rt_nexthop *nh =
	    (struct rt_nexthop *)(void *)((char *)d -
	                                  offsetof(
	                                      struct rt_nexthop, nh_defer));
	struct rt_table *t = nh->nh_table;
	/* Relaxed: the CAS below publishes. */
	struct rt_nexthop *head =
	    atomic_load_explicit(&t->t_nh_done, memory_order_relaxed);

	do {
		nh->nh_hnext = head;
		/* Release: pairs with rt_nh_drain()'s acquire exchange. */
	} while (!atomic_compare_exchange_weak_explicit(&t->t_nh_done, &head,
	    nh, memory_order_release, memory_order_relaxed));
}

/* Double the next-hop hash when there are more next hops than buckets. */
static void
rt_nh_hash_grow(struct rt_table *t)
{
	size_t n = t->t_nhmask + 1, i;
	struct rt_nexthop **nh;

	if (t->t_nnh <= n)
		return;
	nh = rt_alloc(t, 2 * n * sizeof(*nh));
	if (nh == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < n; i++) {
		struct rt_nexthop *p = t->t_nhhash[i], *next;
		for (; p != NULL; p = next) {
			next = p->nh_hnext;
			p->nh_hnext = nh[p->nh_hash & (2 * n - 1)];
			nh[p->nh_hash & (2 * n - 1)] = p;
		}
	}
	rt_free_mem(t, t->t_nhhash, n * sizeof(*nh));
	t->t_nhhash = nh;
	t->t_nhmask = 2 * n - 1;
}

/*
 * The next hop equal to key, with one more entry counted: an existing
 * one, or a new one published in the directory.  NULL: ENOMEM, nothing
 * changed.  Writer lock held.
 */
static struct rt_nexthop *
rt_nh_get(struct rt_table *t, const struct rt_nexthop *key)
{
	uint32_t h = rt_nh_hash(key);
	struct rt_nexthop *nh;
	unsigned id;

	for (nh = t->t_nhhash[h & t->t_nhmask]; nh != NULL; nh = nh->nh_hnext)
		if (nh->nh_hash == h && rt_nh_equal(nh, key)) {
			nh->nh_refcnt++;
			return nh;
		}
	rt_nh_drain(t); /* ids whose grace period has passed */
	id = rt_nh_id_alloc(t);
	if (id != 0) {
		nh = &t->t_nhvec->nv_nh[id];
		memset(nh, 0, sizeof(*nh));
	} else {
		nh = rt_alloc(t, sizeof(*nh));
		if (nh == NULL)
			return NULL;
		t->t_nnh_heap++;
	}
	nh->nh_flags = key->nh_flags;
	nh->nh_ifindex = key->nh_ifindex;
	nh->nh_gateway = key->nh_gateway;
	nh->nh_mtu = key->nh_mtu;
	nh->nh_expire = key->nh_expire;
	nh->nh_magic = RT_NH_MAGIC_LIVE;
	nh->nh_id = (uint16_t)id;
	nh->nh_fi = key->nh_fi;
	nh->nh_refcnt = 1;
	nh->nh_hash = h;
	nh->nh_table = t;
	nh->nh_hnext = t->t_nhhash[h & t->t_nhmask];
	t->t_nhhash[h & t->t_nhmask] = nh;
	t->t_nnh++;
	rt_nh_hash_grow(t);
	/*
	 * nh's fields happen before a lookup that finds it by id: the
	 * trie slots naming the id are stored later, with release.
	 */
	return nh;
}

/*
 * Drop one entry's use of nh.  Writer lock held.  At 0: unhashed, and
 * freed now (RT_SYNC_RWLOCK, or never in a slot when now is true), or
 * returned for rt_nh_retire() after the lock is dropped.
 */
static struct rt_nexthop *
rt_nh_put(struct rt_table *t, struct rt_nexthop *nh, bool now)
{
	struct rt_nexthop **pp;

	if (nh->nh_refcnt == 0)
		mpsafe_panic("rt: next hop %p count below zero", (void *)nh);
	if (--nh->nh_refcnt != 0)
		return NULL;
	pp = &t->t_nhhash[nh->nh_hash & t->t_nhmask];
	while (*pp != nh)
		pp = &(*pp)->nh_hnext;
	*pp = nh->nh_hnext;
	t->t_nnh--;
	if (now || t->t_sync == RT_SYNC_RWLOCK) {
		rt_nh_free(t, nh);
		return NULL;
	}
	return nh;
}

/* Hand nh (from rt_nh_put(), or NULL) to a grace period.  No lock held. */
static void
rt_nh_retire(struct rt_nexthop *nh)
{
	if (nh != NULL &&
	    mpsafe_defer(&nh->nh_defer, rt_nh_reclaim, sizeof(*nh)) != 0)
		mpsafe_panic("rt: mpsafe_defer refused a next hop");
}

/* --- table ---------------------------------------------------------------- */

static void rt_reap_work(struct work *wk, void *arg);
static void rt_cond_init(pthread_cond_t *cv);
static void rt_wait_init(void);

int
rt_table_create(struct rt_table **tp, const struct rt_table_config *cfg)
{
	static const struct rt_table_config lockless = RT_TABLE_CONFIG_LOCKLESS;
	struct rt_table *t;
	int error;

	if (tp == NULL)
		return EINVAL;
	if (cfg == NULL)
		cfg = &lockless;
	if ((cfg->rtc_sync != 0 && cfg->rtc_sync != RT_SYNC_RWLOCK &&
	        cfg->rtc_sync != RT_SYNC_PSERIALIZE) ||
	    (cfg->rtc_ref != 0 && cfg->rtc_ref != RT_REF_REFCOUNT &&
	        cfg->rtc_ref != RT_REF_PSREF) ||
	    (cfg->rtc_alloc == NULL) != (cfg->rtc_free == NULL) ||
	    (cfg->rtc_hugepages && cfg->rtc_alloc != NULL))
		return EINVAL;
	t = cfg->rtc_alloc != NULL
	        ? cfg->rtc_alloc(sizeof(*t), cfg->rtc_alloc_arg)
	        : mpsafe_calloc(1, sizeof(*t));
	if (t == NULL)
		return ENOMEM;
	t->t_sync = cfg->rtc_sync != 0 ? cfg->rtc_sync : RT_SYNC_PSERIALIZE;
	t->t_ref = cfg->rtc_ref != 0 ? cfg->rtc_ref : RT_REF_PSREF;
	snprintf(t->t_name, sizeof(t->t_name), "%s",
	    cfg->rtc_name != NULL ? cfg->rtc_name : "rt");
	t->t_alloc = cfg->rtc_alloc != NULL ? cfg->rtc_alloc : rt_default_alloc;
	t->t_free = cfg->rtc_free != NULL ? cfg->rtc_free : rt_default_free;
	t->t_alloc_arg = cfg->rtc_alloc_arg;
	if (cfg->rtc_hugepages) {
		if ((error = rt_slab_init(&t->t_slab)) != 0) {
			mpsafe_free(t);
			return error;
		}
		t->t_huge = true;
		t->t_alloc = rt_slab_alloc;
		t->t_free = rt_slab_free;
		t->t_alloc_arg = &t->t_slab;
	}
	mpsafe_atomic_init(&t->t_alloc_bytes, sizeof(*t));
	pthread_rwlock_init(&t->t_rwlock, NULL);
	pthread_mutex_init(&t->t_wlock, NULL);
	mpsafe_atomic_init(&t->t_changes_done, 0);
	mpsafe_atomic_init(&t->t_gen[0], 1);
	mpsafe_atomic_init(&t->t_gen[1], 1);
	mpsafe_atomic_init(&t->t_dying, 0);
	mpsafe_atomic_init(&t->t_nh_done, NULL);
	t->t_nh_next = 1;
	t->t_nh_idmax = RT_NH_ID_MAX;

	error = ENOMEM;
	t->t_nhvec = rt_alloc(t, sizeof(*t->t_nhvec));
	if (t->t_nhvec == NULL)
		goto fail_nhvec;
	t->t_nhmask = 255;
	t->t_nhhash = rt_alloc(t, (t->t_nhmask + 1) * sizeof(*t->t_nhhash));
	if (t->t_nhhash == NULL)
		goto fail_nhhash;
	t->t_hmask = 255;
	t->t_hash = rt_hash_alloc(t, t->t_hmask + 1, &t->t_hfilter);
	if (t->t_hash == NULL)
		goto fail_hash;
	t->t_psz = pserialize_create();
	if (t->t_psz == NULL)
		goto fail_psz;
	t->t_psref_class = psref_class_create("rtentry");
	if (t->t_psref_class == NULL)
		goto fail_class;
	if (rt_lpm_init(&t->t_lpm[RT_INET], AF_INET, rt_lpm_alloc, rt_lpm_free,
	        t, t->t_sync == RT_SYNC_PSERIALIZE) != 0)
		goto fail_lpm4;
	if (rt_lpm_init(&t->t_lpm[RT_INET6], AF_INET6, rt_lpm_alloc,
	        rt_lpm_free, t, t->t_sync == RT_SYNC_PSERIALIZE) != 0)
		goto fail_lpm6;
	t->t_fast.rf_root4 = t->t_lpm[RT_INET].l_root->ln_slot;
	t->t_fast.rf_nh = t->t_nhvec->nv_nh;
	error = workqueue_create(
	    &t->t_wq, "rt_free", rt_reap_work, t, 0, WQ_MPSAFE);
	if (error != 0)
		goto fail_wq;
	pthread_mutex_init(&t->t_reap_lock, NULL);
	rt_cond_init(&t->t_reap_cv);
	pthread_once(&rt_wait_once, rt_wait_init);
	*tp = t;
	return 0;

fail_wq:
	rt_lpm_fini(&t->t_lpm[RT_INET6]);
fail_lpm6:
	rt_lpm_fini(&t->t_lpm[RT_INET]);
fail_lpm4:
	psref_class_destroy(t->t_psref_class);
fail_class:
	pserialize_destroy(t->t_psz);
fail_psz:
	rt_free_mem(t, t->t_hash, rt_hash_bytes(t->t_hmask + 1));
fail_hash:
	rt_free_mem(t, t->t_nhhash, (t->t_nhmask + 1) * sizeof(*t->t_nhhash));
fail_nhhash:
	rt_free_mem(t, t->t_nhvec, sizeof(*t->t_nhvec));
fail_nhvec:
	pthread_rwlock_destroy(&t->t_rwlock);
	pthread_mutex_destroy(&t->t_wlock);
	if (t->t_huge)
		rt_slab_fini(&t->t_slab);
	if (cfg->rtc_free != NULL)
		cfg->rtc_free(t, sizeof(*t), cfg->rtc_alloc_arg);
	else
		mpsafe_free(t);
	return error;
}

/* --- entry destruction ---------------------------------------------------- */

/* Step 5 of the file comment: rt is unreachable, uncounted, drained. */
static void
rt_free_entry(struct rt_table *t, struct rt_entry *rt)
{
	struct rt_nexthop *dead;

	rt_wlock(t);
	/* Relaxed: the writer lock orders the stores of rt_nh. */
	dead = rt_nh_put(t,
	    (struct rt_nexthop *)atomic_load_explicit(
	        &rt->rt_nh, memory_order_relaxed),
	    false);
	rt_wunlock(t);
	rt_nh_retire(dead);
	rt->rt_magic = RT_MAGIC_DEAD;
	memset(rt, 0x6b, sizeof(*rt)); /* poison */
	rt_free_mem(t, rt, sizeof(*rt));
	/* Relaxed: a statistic. */
	atomic_fetch_sub_explicit(&t->t_dying, 1, memory_order_relaxed);
}

/*
 * Steps 1-5 of the file comment for a chain of unlinked entries (linked
 * by rt_reapnext, NULL-terminated): their psref drains begin together,
 * and one grace period (the explicit one, or the first end's) serves
 * them all.  Blocks.
 */
static void
rt_destroy(struct rt_table *t, struct rt_entry *chain)
{
	struct rt_entry *rt;

	for (rt = chain; rt != NULL; rt = rt->rt_reapnext) {
		rt_wait_refcnt(rt, 0);
		psref_target_destroy_begin(&rt->rt_psref, t->t_psref_class);
	}
	if (chain != NULL && t->t_sync == RT_SYNC_PSERIALIZE)
		pserialize_perform(t->t_psz);
	while ((rt = chain) != NULL) {
		chain = rt->rt_reapnext;
		psref_target_destroy_end(&rt->rt_psref, t->t_psref_class);
		rt_wait_refcnt(rt, 0);
		rt_free_entry(t, rt);
	}
}

/* pthread_cond_init() on CLOCK_MONOTONIC, for rt_linger(). */
static void
rt_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* rt_wait_cv's set-up (pthread_once() from rt_table_create()). */
static void
rt_wait_init(void)
{
	rt_cond_init(&rt_wait_cv);
	rt_drain_watched = psref_drain_watch(&rt_wait_lock, &rt_wait_cv) == 0;
}

/* Wait on cv (lock held) until signalled or RT_REAP_LINGER_NS passed. */
static void
rt_linger(pthread_cond_t *cv, pthread_mutex_t *lock)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += RT_REAP_LINGER_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	mpsafe_cond_timedwait(cv, lock, &ts);
}

/*
 * The reaper's entries held back (rt_reapnext lists): counted before
 * their psref drain began (early: step 1) or after it ended (late: step
 * 4), with a count wait registered for each; psref held (drain: step 3,
 * ndrain of them, at most RT_REAP_DRAINS); drain over, to be taken on
 * (drained).
 */
struct rt_reap_lists {
	struct rt_entry *early, *late, *drain, *drained;
	unsigned ndrain;
};

/*
 * Put rt on *list (through rt_reapnext) with a count wait registered for
 * it (rt_wait_enter(): rt_reap_wait() loads the count again).
 */
static void
rt_reap_stick(struct rt_entry *rt, struct rt_entry **list)
{
	rt_wait_enter(rt);
	rt->rt_reapnext = *list;
	*list = rt;
}

/*
 * Step 3 for rt, whose drain began before a grace period that has ended:
 * whether it is over (psref_target_destroy_tryend()).  Without the drain
 * watch (rt_drain_watched false) it waits for the holders instead.
 */
static bool
rt_reap_drained(struct rt_table *t, struct rt_entry *rt)
{
	int error;

	if (!rt_drain_watched) {
		psref_target_destroy_end(&rt->rt_psref, t->t_psref_class);
		return true;
	}
	error = psref_target_destroy_tryend(&rt->rt_psref, t->t_psref_class);
	if (error != 0 && error != EBUSY)
		mpsafe_panic("rt: reaper: psref drain of entry %p: error %d "
		             "after its grace period",
		    (void *)rt, error);
	return error == 0;
}

/* Step 4 and 5 for rt, whose psref drain is over: free, or wait on *late. */
static void
rt_reap_drained_entry(
    struct rt_table *t, struct rt_entry *rt, struct rt_entry **late)
{
	if (rt_count(rt) != 0)
		rt_reap_stick(rt, late);
	else
		rt_free_entry(t, rt);
}

/*
 * Steps 1-5 for deleted entries linked through rt_reapnext (file
 * comment, "Reaping"): an entry still counted waits on l->early (step
 * 1); the others, RT_REAP_CHUNK at a time, begin their psref drains,
 * share a grace period and end the drains, or wait on l->drain while a
 * psref holder remains; then each is freed, or waits on l->late while
 * counted (step 4).  Blocks: grace periods, the writer lock (to free),
 * and psref holders once l->drain holds RT_REAP_DRAINS entries (or
 * without the drain watch).
 */
static void
rt_reap_batch(
    struct rt_table *t, struct rt_entry *batch, struct rt_reap_lists *l)
{
	while (batch != NULL) {
		struct rt_entry *chunk = NULL, *rt;
		unsigned n = 0;

		while (n < RT_REAP_CHUNK && (rt = batch) != NULL) {
			batch = rt->rt_reapnext;
			if (rt_count(rt) != 0) {
				rt_reap_stick(rt, &l->early);
				continue;
			}
			psref_target_destroy_begin(
			    &rt->rt_psref, t->t_psref_class);
			rt->rt_reapnext = chunk;
			chunk = rt;
			n++;
		}
		/*
		 * Step 2's grace period, in both designs (with RT_SYNC_RWLOCK
		 * the read lock kept lookups out, but the psref drain needs
		 * one): tryend does not wait for it.
		 */
		if (n != 0)
			pserialize_perform(t->t_psz);
		while ((rt = chunk) != NULL) {
			chunk = rt->rt_reapnext;
			if (!rt_reap_drained(t, rt)) {
				if (l->ndrain < RT_REAP_DRAINS) {
					rt->rt_reapnext = l->drain;
					l->drain = rt;
					l->ndrain++;
					continue;
				}
				psref_target_destroy_end(
				    &rt->rt_psref, t->t_psref_class);
			}
			rt_reap_drained_entry(t, rt, &l->late);
		}
	}
}

/*
 * Take the entries of l's lists that can go on: counted ones whose count
 * has fallen to 0 (through rt_reap_batch(), or freed), and those of
 * l->drained.  Blocks as rt_reap_batch().
 */
static void
rt_reap_unstick(struct rt_table *t, struct rt_reap_lists *l)
{
	struct rt_entry *list = l->early, *ready = NULL, *rt;

	l->early = NULL;
	while ((rt = list) != NULL) {
		list = rt->rt_reapnext;
		if (rt_count(rt) == 0) {
			rt_wait_leave(rt);
			rt->rt_reapnext = ready;
			ready = rt;
		} else {
			rt->rt_reapnext = l->early;
			l->early = rt;
		}
	}
	list = l->late;
	l->late = NULL;
	while ((rt = list) != NULL) {
		list = rt->rt_reapnext;
		if (rt_count(rt) == 0) {
			rt_wait_leave(rt);
			rt_free_entry(t, rt);
		} else {
			rt->rt_reapnext = l->late;
			l->late = rt;
		}
	}
	list = l->drained;
	l->drained = NULL;
	while ((rt = list) != NULL) {
		list = rt->rt_reapnext;
		rt_reap_drained_entry(t, rt, &l->late);
	}
	rt_reap_batch(t, ready, l);
}

/* Whether an entry of list has no count left (rt_wait_lock held). */
static bool
rt_reap_ready(const struct rt_entry *list)
{
	for (const struct rt_entry *rt = list; rt != NULL; rt = rt->rt_reapnext)
		if (rt_count(rt) == 0)
			return true;
	return false;
}

/*
 * Move the entries of l->drain whose psref drain is over to l->drained.
 * Called with rt_wait_lock held when the reaper decides on the result
 * whether to sleep (rt_reap_wait()).  Never blocks for long.
 */
static void
rt_reap_drains(struct rt_table *t, struct rt_reap_lists *l)
{
	struct rt_entry *list = l->drain, *rt;

	l->drain = NULL;
	while ((rt = list) != NULL) {
		list = rt->rt_reapnext;
		if (rt_reap_drained(t, rt)) {
			rt->rt_reapnext = l->drained;
			l->drained = rt;
			l->ndrain--;
		} else {
			rt->rt_reapnext = l->drain;
			l->drain = rt;
		}
	}
}

/*
 * Whether deleted entries waiting in t's list should wake the reaper
 * now (t_reap_lock held): any, once it has lingered; RT_REAP_KICK of
 * them, or a table being destroyed, while it lingers.
 */
static bool
rt_reap_kicked(const struct rt_table *t, bool lingering)
{
	return t->t_reap_list != NULL &&
	       (!lingering || t->t_reap_count >= RT_REAP_KICK ||
	           t->t_reap_flush);
}

/*
 * The reaper's sleep while l's lists hold entries (t_reap_lock held, and
 * held again on return): until the count of one of them may have fallen
 * (their rt_unref() calls wake rt_wait_cv), or the psref drain of one may
 * have ended (so do the releases, psref_drain_watch()), until
 * rt_reap_kicked(), or, when lingering, until RT_REAP_LINGER_NS have
 * passed.  Checking the counts and drains under rt_wait_lock, which the
 * wakers take to broadcast, loses no wake-up.  Returns whether it slept.
 * Lock order: rt_wait_lock, then t_reap_lock.
 */
static bool
rt_reap_wait(struct rt_table *t, struct rt_reap_lists *l, bool linger)
{
	bool sleep;

	pthread_mutex_unlock(&t->t_reap_lock);
	pthread_mutex_lock(&rt_wait_lock);
	rt_reap_drains(t, l);
	pthread_mutex_lock(&t->t_reap_lock);
	sleep = l->drained == NULL && !rt_reap_ready(l->early) &&
	        !rt_reap_ready(l->late) && !rt_reap_kicked(t, linger);
	if (sleep) {
		/* rt_reap() wakes us under rt_wait_lock: no lost wake-up. */
		t->t_reap_sleep = linger ? RT_REAP_LINGER : RT_REAP_IDLE;
		t->t_reap_on_counts = true;
		pthread_mutex_unlock(&t->t_reap_lock);
		if (linger)
			rt_linger(&rt_wait_cv, &rt_wait_lock);
		else
			mpsafe_cond_wait(&rt_wait_cv, &rt_wait_lock);
		pthread_mutex_lock(&t->t_reap_lock);
		t->t_reap_sleep = RT_REAP_AWAKE;
		t->t_reap_on_counts = false;
	}
	pthread_mutex_unlock(&rt_wait_lock);
	return sleep;
}

/*
 * Hand deleted (unlinked) rt to the reaper.  Never blocks for long: a
 * mutex, and a wake-up only when the reaper sleeps and rt_reap_kicked()
 * (file comment).
 */
static void
rt_reap(struct rt_table *t, struct rt_entry *rt)
{
	bool queue = false, wake_counts = false;

	pthread_mutex_lock(&t->t_reap_lock);
	rt->rt_reapnext = t->t_reap_list;
	t->t_reap_list = rt;
	t->t_reap_count++;
	if (!t->t_reap_active) {
		t->t_reap_active = true;
		queue = true;
	} else if (t->t_reap_sleep != RT_REAP_AWAKE &&
	           rt_reap_kicked(t, t->t_reap_sleep == RT_REAP_LINGER)) {
		t->t_reap_sleep = RT_REAP_AWAKE; /* one wake-up is enough */
		if (t->t_reap_on_counts)
			wake_counts = true;
		else
			pthread_cond_signal(&t->t_reap_cv);
	}
	pthread_mutex_unlock(&t->t_reap_lock);
	if (wake_counts) {
		pthread_mutex_lock(&rt_wait_lock);
		pthread_cond_broadcast(&rt_wait_cv);
		pthread_mutex_unlock(&rt_wait_lock);
	}
	if (queue)
		workqueue_enqueue(t->t_wq, &t->t_reap_work, NULL);
}

/* The reaper (file comment, "Reaping"); t_reap_work's function. */
static void
rt_reap_work(struct work *wk, void *arg)
{
	struct rt_table *t = arg;
	struct rt_entry *batch;
	struct rt_reap_lists l = {NULL, NULL, NULL, NULL, 0};
	bool lingered = false;

	(void)wk;
	pthread_mutex_lock(&t->t_reap_lock);
	for (;;) {
		if (t->t_reap_list != NULL) {
			batch = t->t_reap_list;
			t->t_reap_list = NULL;
			t->t_reap_count = 0;
			lingered = false;
			pthread_mutex_unlock(&t->t_reap_lock);
			rt_reap_batch(t, batch, &l);
			/*
			 * Under steady churn the list is never empty: take
			 * the held-back entries that can go on here too.
			 */
			rt_reap_drains(t, &l);
			rt_reap_unstick(t, &l);
		} else if (l.early != NULL || l.late != NULL ||
		           l.drain != NULL) {
			if (rt_reap_wait(t, &l, !lingered))
				lingered = true;
			pthread_mutex_unlock(&t->t_reap_lock);
			rt_reap_unstick(t, &l);
		} else if (lingered || t->t_reap_flush) {
			break;
		} else {
			t->t_reap_sleep = RT_REAP_LINGER;
			rt_linger(&t->t_reap_cv, &t->t_reap_lock);
			t->t_reap_sleep = RT_REAP_AWAKE;
			lingered = true;
			continue;
		}
		pthread_mutex_lock(&t->t_reap_lock);
	}
	t->t_reap_active = false;
	pthread_mutex_unlock(&t->t_reap_lock);
}

/* Unlink rt (writer lock held): trie, index, list, flags, generation. */
static void
rt_unlink(struct rt_table *t, struct rt_entry *rt)
{
	int fi;
	struct lpm_key k = rt_entry_key(rt, &fi);

	rt_lpm_delete(&t->t_lpm[fi], k, rt->rt_plen, rt_slot_of(rt),
	    rt_slot_of(rt_covering(t, fi, k, rt->rt_plen)));
	rt_hash_remove(t, rt);
	*rt->rt_lprevp = rt->rt_lnext;
	if (rt->rt_lnext != NULL)
		rt->rt_lnext->rt_lprevp = rt->rt_lprevp;
	t->t_nentries[fi]--;
	t->t_nlen[fi][rt->rt_plen]--;
	/* seq_cst: lookups and caches see the entry down (file comment). */
	atomic_fetch_and(&rt->rt_flags, ~(uint32_t)MPSAFE_RTF_UP);
	atomic_fetch_add(&t->t_gen[fi], 1);
	/* Relaxed: a statistic. */
	atomic_fetch_add_explicit(&t->t_dying, 1, memory_order_relaxed);
}

void
rt_table_destroy(struct rt_table *t)
{
	struct rt_entry *chunk, *rt;
	unsigned n;

	/*
	 * RT_REAP_CHUNK entries per rt_destroy(), as the reaper's chunks:
	 * one at a time, a 1M-entry table took a grace period per entry.
	 */
	do {
		n = 0;
		chunk = NULL;
		rt_wlock(t);
		while (n < RT_REAP_CHUNK && (rt = t->t_list) != NULL) {
			rt_unlink(t, rt);
			rt->rt_reapnext = chunk;
			chunk = rt;
			n++;
		}
		rt_wunlock(t);
		rt_destroy(t, chunk);
	} while (n != 0);
	/* Wakes a lingering reaper; workqueue_destroy() waits for it. */
	pthread_mutex_lock(&t->t_reap_lock);
	t->t_reap_flush = true;
	pthread_cond_signal(&t->t_reap_cv);
	pthread_mutex_unlock(&t->t_reap_lock);
	workqueue_destroy(t->t_wq);
	pthread_mutex_destroy(&t->t_reap_lock);
	pthread_cond_destroy(&t->t_reap_cv);
	/* Trie nodes retired through mpsafe_defer() name t's allocator. */
	/* So do next hops (rt_nh_reclaim() pushes onto t). */
	if (t->t_sync == RT_SYNC_PSERIALIZE)
		mpsafe_defer_barrier();
	rt_lpm_fini(&t->t_lpm[RT_INET]);
	rt_lpm_fini(&t->t_lpm[RT_INET6]);
	rt_nh_drain(t); /* every entry is gone, so every next hop */
	if (t->t_nnh != 0)
		mpsafe_panic("rt_table_destroy: %zu next hops left", t->t_nnh);
	rt_free_mem(t, t->t_nhvec, sizeof(*t->t_nhvec));
	rt_free_mem(t, t->t_nhhash, (t->t_nhmask + 1) * sizeof(*t->t_nhhash));
	rt_free_mem(t, t->t_hash, rt_hash_bytes(t->t_hmask + 1));
	psref_class_destroy(t->t_psref_class);
	pserialize_destroy(t->t_psz);
	pthread_rwlock_destroy(&t->t_rwlock);
	pthread_mutex_destroy(&t->t_wlock);
	if (t->t_huge)
		rt_slab_fini(&t->t_slab); /* everything above is freed */
	{
		/* t itself came from the hooks or the C library. */
		void (*freef)(void *, size_t, void *) =
		    t->t_huge ? rt_default_free : t->t_free;
		void *arg = t->t_alloc_arg;

		memset(t, 0x6b, sizeof(*t)); /* poison */
		freef(t, sizeof(*t), arg);
	}
}

void
rt_table_stats(struct rt_table *t, struct rt_table_stats *st)
{
	memset(st, 0, sizeof(*st));
	rt_require_outside_read_side(t, "rt_table_stats");
	rt_wlock(t);
	st->rts_entries_inet = t->t_nentries[RT_INET];
	st->rts_entries_inet6 = t->t_nentries[RT_INET6];
	st->rts_trie_nodes = t->t_lpm[0].l_nodes + t->t_lpm[1].l_nodes;
	st->rts_trie_bytes = t->t_lpm[0].l_bytes + t->t_lpm[1].l_bytes;
	st->rts_entry_bytes = (st->rts_entries_inet + st->rts_entries_inet6) *
	                      sizeof(struct rt_entry);
	st->rts_hash_bytes = rt_hash_bytes(t->t_hmask + 1);
	st->rts_total_bytes =
	    st->rts_trie_bytes + st->rts_entry_bytes + st->rts_hash_bytes +
	    sizeof(*t) + t->t_nnh_heap * sizeof(struct rt_nexthop) +
	    (t->t_nhmask + 1) * sizeof(*t->t_nhhash) + sizeof(*t->t_nhvec);
	/* Relaxed: statistics. */
	st->rts_alloc_bytes =
	    atomic_load_explicit(&t->t_alloc_bytes, memory_order_relaxed);
	st->rts_mapped_bytes = t->t_huge ? rt_slab_mapped(&t->t_slab) : 0;
	st->rts_dying = atomic_load_explicit(&t->t_dying, memory_order_relaxed);
	st->rts_generation_inet =
	    atomic_load_explicit(&t->t_gen[RT_INET], memory_order_relaxed);
	st->rts_generation_inet6 =
	    atomic_load_explicit(&t->t_gen[RT_INET6], memory_order_relaxed);
	rt_wunlock(t);
}

/* --- requests ------------------------------------------------------------- */

/* Checked request: family index, key, prefix length, flags. */
struct rt_req {
	int fi;
	struct lpm_key k;
	unsigned plen;
	uint32_t flags;
};

static int
rt_check_info(const struct rt_addrinfo *info, int cmd, struct rt_req *r)
{
	struct lpm_key gk;
	unsigned max;

	if (info->rti_dst == NULL)
		return EINVAL;
	r->fi = rt_sa_key(info->rti_dst, &r->k);
	if (r->fi == RT_KEY_BADZONE)
		return EINVAL;
	if (r->fi < 0)
		return EAFNOSUPPORT;
	max = rt_maxlen(r->fi);
	r->flags = info->rti_flags;
	if (info->rti_plen == -1) {
		r->plen = max;
		r->flags |= MPSAFE_RTF_HOST;
	} else if (info->rti_plen < 0 || (unsigned)info->rti_plen > max) {
		return EINVAL; /* prefix length out of range */
	} else {
		r->plen = (unsigned)info->rti_plen;
		if ((r->flags & MPSAFE_RTF_HOST) && r->plen != max)
			return EINVAL;
	}
	{
		struct lpm_key m = lpm_key_mask(r->k, r->plen);
		if (m.hi != r->k.hi || m.lo != r->k.lo)
			return EINVAL; /* bits set past the prefix: refused */
	}
	if (r->fi == RT_INET6 && r->plen > 16 && r->plen < 32) {
		const uint8_t a[2] = {
		    (uint8_t)(r->k.hi >> 56), (uint8_t)(r->k.hi >> 48)};

		if (in6_zoned(a))
			return EINVAL; /* neither every zone nor one ("Keys") */
	}
	if (cmd != MPSAFE_RTM_ADD && cmd != MPSAFE_RTM_CHANGE)
		return 0;
	if (r->flags & ~(uint32_t)MPSAFE_RTF_USERMASK)
		return EINVAL;
	if (r->flags & MPSAFE_RTF_GATEWAY) {
		if (info->rti_gateway == NULL)
			return EINVAL;
		if (rt_sa_key(info->rti_gateway, &gk) != r->fi)
			return EINVAL; /* family mismatch (or unknown) */
	}
	return 0;
}

/* The next-hop key of a request: info's data over the current metrics. */
static void
rt_nh_fill(struct rt_nexthop *key, const struct rt_addrinfo *info,
    const struct rt_req *r, const struct rt_metrics *cur)
{
	memset(key, 0, sizeof(*key));
	key->nh_fi = (uint8_t)r->fi;
	key->nh_flags = r->flags & MPSAFE_RTF_NHMASK;
	key->nh_ifindex = info->rti_ifindex;
	/*
	 * The gateway's family and address (IPv6: and scope) only: a port,
	 * sin_zero or flow label left in the caller's sockaddr would make
	 * equal gateways distinct next hops, and come back from rt_getgate().
	 */
	if (r->flags & MPSAFE_RTF_GATEWAY) {
		if (r->fi == RT_INET) {
			struct sockaddr_in g;

			memcpy(&g, info->rti_gateway, sizeof(g));
			key->nh_gateway.sin.sin_family = AF_INET;
			key->nh_gateway.sin.sin_addr = g.sin_addr;
		} else {
			struct sockaddr_in6 g;

			memcpy(&g, info->rti_gateway, sizeof(g));
			key->nh_gateway.sin6.sin6_family = AF_INET6;
			key->nh_gateway.sin6.sin6_addr = g.sin6_addr;
			key->nh_gateway.sin6.sin6_scope_id = g.sin6_scope_id;
			rt_zone_out(&key->nh_gateway.sin6);
		}
	} else {
		key->nh_gateway.sa.sa_family = AF_UNSPEC;
	}
	key->nh_mtu = (info->rti_inits & MPSAFE_RTV_MTU) ? info->rti_rmx.rmx_mtu
	                                                 : cur->rmx_mtu;
	key->nh_expire = (info->rti_inits & MPSAFE_RTV_EXPIRE)
	                     ? info->rti_rmx.rmx_expire
	                     : cur->rmx_expire;
}

/* Set rt's changeable fields from a next-hop key (rt_nh_fill()). */
static void
rt_set_fields(struct rt_entry *rt, const struct rt_nexthop *key)
{
	rt->rt_gateway = key->nh_gateway;
	rt->rt_ifindex = key->nh_ifindex;
	rt->rt_rmx.rmx_mtu = key->nh_mtu;
	rt->rt_rmx.rmx_expire = key->nh_expire;
}

static int
rt_add(struct rt_table *t, const struct rt_addrinfo *info,
    const struct rt_req *r, struct rt_entry **ret_nrt)
{
	struct rt_entry *rt;
	struct rt_nexthop key, *nh;
	int error;

	rt = rt_alloc(t, sizeof(*rt));
	if (rt == NULL)
		return ENOMEM;
	if (!lpm_slot_fits(rt)) { /* unusable in a trie slot (lpm.h) */
		rt_free_mem(t, rt, sizeof(*rt));
		return ENOMEM;
	}
	if (r->fi == RT_INET) {
		rt->rt_dst.sin.sin_family = AF_INET;
		memcpy(&rt->rt_dst.sin.sin_addr,
		    &((const struct sockaddr_in *)(const void *)info->rti_dst)
		         ->sin_addr,
		    sizeof(struct in_addr));
	} else {
		struct sockaddr_in6 d;

		memcpy(&d, info->rti_dst, sizeof(d));
		rt->rt_dst.sin6.sin6_family = AF_INET6;
		rt->rt_dst.sin6.sin6_addr = d.sin6_addr;
		/* The zone, or 0 where the scope is not part of the key. */
		rt->rt_dst.sin6.sin6_scope_id =
		    in6_zoned(d.sin6_addr.s6_addr) ? d.sin6_scope_id : 0;
		rt_zone_out(&rt->rt_dst.sin6);
	}
	rt->rt_plen = (uint8_t)r->plen;
	rt_nh_fill(&key, info, r, &rt->rt_rmx);
	rt_set_fields(rt, &key);
	mpsafe_atomic_init(&rt->rt_flags, r->flags | MPSAFE_RTF_UP);
	mpsafe_atomic_init(&rt->rt_refcnt, ret_nrt != NULL ? 1 : 0);
	rt->rt_magic = RT_MAGIC_LIVE;
	rt->rt_table = t;
	psref_target_init(&rt->rt_psref, t->t_psref_class);

	rt_wlock(t);
	if (rt_hash_find(t, r->fi, r->k, r->plen) != NULL) {
		error = EEXIST;
		goto fail;
	}
	nh = rt_nh_get(t, &key);
	if (nh == NULL) {
		error = ENOMEM;
		goto fail;
	}
	/* Relaxed: the trie's release store below publishes rt. */
	atomic_store_explicit(&rt->rt_nh, nh, memory_order_relaxed);
	error =
	    rt_lpm_insert(&t->t_lpm[r->fi], r->k, r->plen, rt_nh_slot(rt, nh));
	if (error != 0) {
		(void)rt_nh_put(t, nh, true); /* in no slot: freed now if new */
		goto fail;
	}
	rt_hash_insert(t, rt);
	rt->rt_lnext = t->t_list;
	if (rt->rt_lnext != NULL)
		rt->rt_lnext->rt_lprevp = &rt->rt_lnext;
	rt->rt_lprevp = &t->t_list;
	t->t_list = rt;
	t->t_nentries[r->fi]++;
	t->t_nlen[r->fi][r->plen]++;
	rt_hash_grow(t);
	atomic_fetch_add(&t->t_gen[r->fi], 1); /* seq_cst: caches */
	rt_wunlock(t);
	if (ret_nrt != NULL)
		*ret_nrt = rt;
	return 0;

fail:
	rt_wunlock(t);
	/* Never published: no reader can hold it. */
	psref_target_destroy(&rt->rt_psref, t->t_psref_class);
	rt_free_mem(t, rt, sizeof(*rt));
	return error;
}

static int
rt_delete(struct rt_table *t, const struct rt_req *r, int nowait,
    struct rt_entry **ret_nrt)
{
	struct rt_entry *rt;

	rt_wlock(t);
	rt = rt_hash_find(t, r->fi, r->k, r->plen);
	if (rt == NULL) {
		rt_wunlock(t);
		return ESRCH;
	}
	rt_unlink(t, rt);
	if (ret_nrt != NULL)
		rt_ref(rt);
	rt_wunlock(t);
	if (ret_nrt != NULL) {
		*ret_nrt = rt;
		rt_reap(t, rt);
	} else if (nowait) {
		rt_reap(t, rt);
	} else {
		rt->rt_reapnext = NULL; /* a chain of one */
		rt_destroy(t, rt);
	}
	return 0;
}

/*
 * RTM_CHANGE's publication of rt's new next hop nh (counted for rt):
 * swap rt_nh, then, if rt is in the trie (linked), re-store its slots
 * from rt | old id to rt | new id.  Returns the old next hop if it must
 * be retired (rt_nh_retire() after the lock).  Writer lock held.
 */
static struct rt_nexthop *
rt_nh_publish(
    struct rt_table *t, struct rt_entry *rt, struct rt_nexthop *nh, bool linked)
{
	int fi;
	struct lpm_key k = rt_entry_key(rt, &fi);
	lpm_slot_t oldv = rt_slot_of(rt);
	/* Relaxed: the writer lock orders the stores of rt_nh. */
	struct rt_nexthop *old = (struct rt_nexthop *)atomic_load_explicit(
	    &rt->rt_nh, memory_order_relaxed);

	/*
	 * Release: nh's fields (and the entry's, set before) happen before
	 * a lookup that reads rt_nh with acquire (rt_getnexthop()).
	 */
	mpsafe_store_release(&rt->rt_nh, nh);
	if (linked && oldv != rt_nh_slot(rt, nh))
		rt_lpm_replace(
		    &t->t_lpm[fi], k, rt->rt_plen, oldv, rt_nh_slot(rt, nh));
	return rt_nh_put(t, old, false);
}

/*
 * rt_find_settled(t, r, nowait, rtp)
 *
 *	The entry of r's prefix, once no change of it runs: if
 *	MPSAFE_RTF_UPDATING is set, drop the writer lock, wait for that
 *	change to end (rt_update_wait()) and look again, since the entry may
 *	be gone by then; with nowait, fail with EWOULDBLOCK instead.  The
 *	writer lock is held on entry and on return.  Returns 0 with *rtp
 *	set, ESRCH, or EWOULDBLOCK.  Blocks unless nowait.
 */
static int
rt_find_settled(struct rt_table *t, const struct rt_req *r, int nowait,
    struct rt_entry **rtp)
{
	for (;;) {
		struct rt_entry *rt = rt_hash_find(t, r->fi, r->k, r->plen);
		uint64_t done;

		if (rt == NULL)
			return ESRCH;
		/* Relaxed: RTF_UPDATING changes only under the writer lock. */
		if (!(atomic_load_explicit(
		          &rt->rt_flags, memory_order_relaxed) &
		        MPSAFE_RTF_UPDATING)) {
			*rtp = rt;
			return 0;
		}
		if (nowait)
			return EWOULDBLOCK;
		/* seq_cst: pairs with the change's advance, under this lock. */
		done = atomic_load(&t->t_changes_done);
		rt_wunlock(t);
		rt_update_wait(t, done);
		rt_wlock(t);
	}
}

/*
 * rt_change(t, info, r, ret_nrt)
 *
 *	RTM_CHANGE (file comment, "RTM_CHANGE"): wait for another change
 *	of the entry to end, set MPSAFE_RTF_UPDATING, wait for every holder
 *	(a grace period, counts, psrefs), then, under the writer lock and
 *	with the count ours alone, write the fields, publish the next hop
 *	and clear the flag.  Changes of other entries may run meanwhile.
 *	Caller must hold no reference to the entry (it would wait for
 *	itself) and be outside the read side.  Blocks.
 */
static int
rt_change(struct rt_table *t, const struct rt_addrinfo *info,
    const struct rt_req *r, struct rt_entry **ret_nrt)
{
	struct rt_entry *rt;
	struct rt_nexthop key, *nh, *dead;
	bool readers;
	int error;

	rt_wlock(t);
	error = rt_find_settled(t, r, false, &rt);
	if (error != 0) {
		rt_wunlock(t);
		return error;
	}
	/* The new next hop first: ENOMEM leaves everything as it was. */
	rt_nh_fill(&key, info, r, &rt->rt_rmx);
	nh = rt_nh_get(t, &key);
	if (nh == NULL) {
		rt_wunlock(t);
		return ENOMEM;
	}
	rt_ref(rt); /* ours: keeps rt alive against a concurrent delete */
	/*
	 * Set RTF_UPDATING and clear the mark in one step; the old flags
	 * tell whether a lookup found rt since its last change
	 * (MPSAFE_RTF_READ, rt_flags_read()).  seq_cst: lookups see the
	 * flag before we look at their holds; and this read-modify-write
	 * and the readers' marks are ordered, so a later mark sees
	 * MPSAFE_RTF_UPDATING (file comment, "Changes nobody has read").
	 */
	{
		uint32_t old = atomic_load(&rt->rt_flags);

		while (!atomic_compare_exchange_weak(&rt->rt_flags, &old,
		    (old | MPSAFE_RTF_UPDATING) & ~(uint32_t)MPSAFE_RTF_READ))
			continue;
		readers = (old & MPSAFE_RTF_READ) != 0;
	}
	atomic_fetch_add(&t->t_gen[r->fi], 1);
	rt_wunlock(t);

	/*
	 * Wait for every reader of the entry (file comment): the psref
	 * drain begins first, so that it shares the grace period.
	 */
	if (readers)
		psref_target_destroy_begin(&rt->rt_psref, t->t_psref_class);
	if (readers && t->t_sync == RT_SYNC_PSERIALIZE)
		pserialize_perform(t->t_psz);
	if (readers) {
		psref_target_destroy_end(&rt->rt_psref, t->t_psref_class);
		psref_target_init(&rt->rt_psref, t->t_psref_class);
	}
	rt_wait_refcnt(rt, 1); /* counts from requests too, not only lookups */

	rt_wlock(t);
	/*
	 * Counts added since our wait (RTM_DELETE's ret_nrt, rt_walktree()'s
	 * fn, a holder's rt_ref()) are added under this lock or by a holder;
	 * with the lock held and the count ours alone, none can be added
	 * until we clear the flag (file comment).  seq_cst: as
	 * rt_wait_refcnt()'s load.
	 */
	while (rt_count(rt) != 1) {
		rt_wunlock(t);
		rt_wait_refcnt(rt, 1);
		rt_wlock(t);
	}
	rt_set_fields(rt, &key);
	{
		uint32_t cur =
		    atomic_load_explicit(&rt->rt_flags, memory_order_relaxed);
		uint32_t fl = (cur & MPSAFE_RTF_UP) | r->flags;

		/* Before the flags: who sees them new sees rt_nh new. */
		dead = rt_nh_publish(t, rt, nh, (fl & MPSAFE_RTF_UP) != 0);
		/*
		 * Clear RTF_UPDATING, keeping a mark that a lookup made
		 * during the change: that lookup's caller may read the
		 * fields once it sees the flag clear, so the next change
		 * must wait for it.  Release: the fields above happen
		 * before a lookup that sees RTF_UPDATING clear (its acquire
		 * load of the flags).  A failed exchange only reloads.
		 */
		do /* under the writer lock: only marks change rt_flags */
			fl = (cur & (MPSAFE_RTF_UP | MPSAFE_RTF_READ)) |
			     r->flags;
		while (!atomic_compare_exchange_weak_explicit(&rt->rt_flags,
		    &cur, fl, memory_order_release, memory_order_relaxed));
	}
	atomic_fetch_add(&t->t_gen[r->fi], 1);
	/*
	 * seq_cst, after the clear: pairs with the load of a waiter, which
	 * then reads the flag again (rt_update_wait()), and with its
	 * registration in rt_update_waiters (rt_update_wake() below).
	 */
	atomic_fetch_add(&t->t_changes_done, 1);
	rt_wunlock(t);
	rt_nh_retire(dead);
	rt_update_wake();
	if (ret_nrt != NULL)
		*ret_nrt = rt;
	else
		rt_unref(rt);
	return 0;
}

/*
 * rt_get(t, r, nowait, ret_nrt)
 *
 *	RTM_GET.  Handing out a count on an entry being changed would let
 *	its holder see the fields change, so, as a lookup does, a GET with
 *	ret_nrt of such an entry waits for the change and looks again, or
 *	with F_NOWAIT fails with EWOULDBLOCK (the route exists: not ESRCH).
 *	Without ret_nrt it only reports presence and never waits.  Blocks
 *	(the writer lock; the wait).
 */
static int
rt_get(struct rt_table *t, const struct rt_req *r, int nowait,
    struct rt_entry **ret_nrt)
{
	struct rt_entry *rt;
	int error;

	rt_wlock(t);
	if (ret_nrt == NULL) {
		error =
		    rt_hash_find(t, r->fi, r->k, r->plen) != NULL ? 0 : ESRCH;
	} else {
		error = rt_find_settled(t, r, nowait, &rt);
		if (error == 0) {
			rt_ref(rt);
			*ret_nrt = rt;
		}
	}
	rt_wunlock(t);
	return error;
}

int
rtrequest(struct rt_table *t, int req, const struct rt_addrinfo *info,
    struct rt_entry **ret_nrt)
{
	int cmd = req & ~MPSAFE_RTM_F_NOWAIT;
	int nowait = (req & MPSAFE_RTM_F_NOWAIT) != 0;
	struct rt_req r;
	int error;

	if (t == NULL || info == NULL)
		return EINVAL;
	rt_require_outside_read_side(t, "rtrequest");
	if (cmd < MPSAFE_RTM_ADD || cmd > MPSAFE_RTM_GET)
		return EINVAL;
	error = rt_check_info(info, cmd, &r);
	if (error != 0)
		return error;
	switch (cmd) {
	case MPSAFE_RTM_ADD:
		return rt_add(t, info, &r, ret_nrt);
	case MPSAFE_RTM_DELETE:
		return rt_delete(t, &r, nowait, ret_nrt);
	case MPSAFE_RTM_CHANGE:
		if (nowait)
			return EWOULDBLOCK;
		return rt_change(t, info, &r, ret_nrt);
	default: /* MPSAFE_RTM_GET */
		return rt_get(t, &r, nowait, ret_nrt);
	}
}

/* --- lookups -------------------------------------------------------------- */

struct rt_entry *
rt_lookup_hold(struct rt_table *t, int fi, struct lpm_key k, int flags,
    int kind, struct psref *psref)
{
	bool ps = kind == RT_HOLD_PSREF;
	struct rt_entry *rt;
	uint64_t done;
	uint32_t fl;
	int s;

	for (;;) {
		s = rt_reader_enter(t, ps);
		rt = fi == RT_INET
		         ? lpm_lookup4(&t->t_lpm[fi], (uint32_t)(k.hi >> 32))
		         : lpm_lookup(&t->t_lpm[fi], k);
		if (rt == NULL)
			break;
		fl = rt_flags_read(rt);
		if (!(fl & MPSAFE_RTF_UP)) {
			/* Deleted since the walk: again (file comment). */
			rt_reader_exit(t, ps, s);
			continue;
		}
		if (!(fl & MPSAFE_RTF_UPDATING)) {
			if (ps)
				psref_acquire(
				    psref, &rt->rt_psref, t->t_psref_class);
			else
				rt_ref(rt);
			break;
		}
		/* Being changed. */
		if (flags & MPSAFE_RT_NOWAIT) {
			rt_reader_exit(t, ps, s);
			return NULL;
		}
		/*
		 * seq_cst, in the read side (rt cannot go away): the count of
		 * ended changes, then the flag again.  Still set: the change
		 * advances the count after our load (file comment).  Clear:
		 * look again at once.  Only this slow path reads the count.
		 */
		done = atomic_load(&t->t_changes_done);
		fl = atomic_load(&rt->rt_flags);
		rt_reader_exit(t, ps, s);
		if (fl & MPSAFE_RTF_UPDATING) {
			rt_require_may_wait(t);
			rt_update_wait(t, done);
		}
	}
	rt_reader_exit(t, ps, s);
	return rt;
}

struct rt_entry *
rtalloc1(struct rt_table *t, const struct sockaddr *dst, int flags)
{
	struct lpm_key k;
	int fi = rt_sa_key(dst, &k);

	if (t == NULL || fi < 0)
		return NULL;
	return rt_lookup_hold(t, fi, k, flags, RT_HOLD_COUNT, NULL);
}

struct rt_entry *
rt_lookup(struct rt_table *t, const struct sockaddr *dst, int flags,
    struct rt_hold *hold)
{
	struct lpm_key k;
	int fi = rt_sa_key(dst, &k);
	int kind;
	struct rt_entry *rt;

	hold->rh_kind = RT_HOLD_NONE;
	if (t == NULL || fi < 0)
		return NULL;
	kind = t->t_ref == RT_REF_PSREF ? RT_HOLD_PSREF : RT_HOLD_COUNT;
	rt = rt_lookup_hold(t, fi, k, flags, kind, &hold->rh_psref);
	if (rt != NULL)
		hold->rh_kind = (uint32_t)kind;
	return rt;
}

void
rt_release(struct rt_entry *rt, struct rt_hold *hold)
{
	if (hold->rh_kind == RT_HOLD_PSREF)
		psref_release(&hold->rh_psref, &rt->rt_psref,
		    rt->rt_table->t_psref_class);
	else if (hold->rh_kind == RT_HOLD_COUNT)
		rt_unref(rt);
	else
		mpsafe_panic(
		    "rt_release: hold %p holds no reference", (void *)hold);
	hold->rh_kind = RT_HOLD_NONE;
}

int
rt_read_enter(struct rt_table *t)
{
	int s = rt_reader_enter(t, false);

#ifdef MPSAFE_DIAGNOSTIC
	if (t->t_sync == RT_SYNC_RWLOCK)
		rt_side_enter(t); /* a read section is seen without it */
#endif
	return s;
}

void
rt_read_exit(struct rt_table *t, int s)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (t->t_sync == RT_SYNC_RWLOCK)
		rt_side_exit(t);
#endif
	rt_reader_exit(t, false, s);
}

/*
 * Diagnostic builds: a lookup without a reference on a lockless table
 * must run inside a read section (rt_read_enter(), or one that stands in
 * for it); outside one the entry or next hop it returns may be freed
 * under its caller.  (The read lock of an rwlock table is not checked.)
 */
static inline void
rt_require_read_side(struct rt_table *t, const char *fn)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (t->t_sync == RT_SYNC_PSERIALIZE && !pserialize_in_read_section())
		mpsafe_panic("%s: lookup on lockless table %s outside a read "
		             "section (rt_read_enter): what it returns may be "
		             "freed under the caller",
		    fn, t->t_name);
#else
	(void)t;
	(void)fn;
#endif
}

/*
 * The read-side check of route.h's inline lookups (diagnostic builds
 * call it before their fast path; fn names the lookup in the message).
 */
void
mpsafe_net_lookup_check(struct rt_table *t, const char *fn)
{
	rt_require_read_side(t, fn);
}

/* rt_lookup_noref() past its inline part (route.h). */
struct rt_entry *
rt_lookup_noref_slow(struct rt_table *t, int af, const void *addr)
{
	struct rt_entry *rt;

	if (MPSAFE_LIKELY(af == AF_INET)) {
		uint32_t a;

		memcpy(&a, addr, sizeof(a));
		rt = lpm_lookup4(&t->t_lpm[RT_INET], ntohl(a));
	} else if (af == AF_INET6) {
		return rt_lookup_noref_key(
		    t, RT_INET6, rt_addr_key(RT_INET6, addr));
	} else {
		return NULL;
	}
	if (rt != NULL)
		(void)rt_flags_read(rt); /* the caller reads its fields */
	return rt;
}

struct rt_entry *
rt_lookup_noref_key(struct rt_table *t, int fi, struct lpm_key k)
{
	struct rt_entry *rt = lpm_lookup(&t->t_lpm[fi], k);

	if (rt != NULL)
		(void)rt_flags_read(rt); /* the caller reads its fields */
	return rt;
}

_Static_assert(
    RT_LOOKUP_BULK_MAX <= LPM_BULK_MAX, "lpm_lookup4_bulk's scratch");

int
rt_lookup_noref_bulk(struct rt_table *t, int af, const void *addrs, size_t n,
    struct rt_entry **rts)
{
	const uint8_t *p = addrs;

	if (t == NULL || addrs == NULL || rts == NULL || n > RT_LOOKUP_BULK_MAX)
		return EINVAL;
	rt_require_read_side(t, "rt_lookup_noref_bulk");
	if (MPSAFE_LIKELY(af == AF_INET)) {
		uint32_t a[RT_LOOKUP_BULK_MAX];

		for (size_t i = 0; i < n; i++) {
			memcpy(&a[i], p + 4 * i, 4);
			a[i] = ntohl(a[i]);
		}
		lpm_lookup4_bulk(&t->t_lpm[RT_INET], a, n, rts);
	} else if (af == AF_INET6) {
		struct lpm_key k[RT_LOOKUP_BULK_MAX];

		for (size_t i = 0; i < n; i++)
			k[i] = rt_addr_key(RT_INET6, p + 16 * i);
		lpm_lookup_bulk(&t->t_lpm[RT_INET6], k, n, rts);
	} else {
		return EAFNOSUPPORT;
	}
	for (size_t i = 0; i < n; i++)
		if (rts[i] != NULL)
			(void)rt_flags_read(rts[i]); /* lines prefetched */
	return 0;
}

/*
 * The next hop of trie value s (0: none): by id from the directory when
 * s carries one, else from the entry.  Sets *deleted, and returns NULL,
 * if the entry was deleted since the walk that read s (RTF_UP clear):
 * the caller walks again (file comment).  Inside a read section or
 * under the read lock.
 */
static inline const struct rt_nexthop *
rt_nh_of_slot(struct rt_table *t, lpm_slot_t s, bool *deleted)
{
	unsigned id = LPM_SLOT_ID(s);
	const struct rt_entry *rt;

	*deleted = false;
	if (MPSAFE_LIKELY(id != 0)) {
		/*
		 * The id's element holds the next hop while a slot names
		 * the id (the id outlives them by a grace period, or the
		 * read lock); its fields were written before the slot's
		 * release store, which the lookup's acquire load of the
		 * slot pairs with.
		 */
		return &t->t_nhvec->nv_nh[id];
	}
	rt = (const struct rt_entry *)LPM_SLOT_PTR(s);
	if (rt == NULL)
		return NULL;
	/* Acquire (rt_getflags()): pairs with the delete's seq_cst clear. */
	if (!(rt_getflags(rt) & MPSAFE_RTF_UP)) {
		*deleted = true;
		return NULL;
	}
	return rt_getnexthop(rt);
}

/* The next hop for key k of family fi, or NULL.  As rt_nh_of_slot(). */
static const struct rt_nexthop *
rt_nh_lookup(struct rt_table *t, int fi, struct lpm_key k)
{
	const struct rt_nexthop *nh;
	bool deleted;

	do
		nh = rt_nh_of_slot(t,
		    fi == RT_INET ? lpm_lookup4_slot(
		                        &t->t_lpm[fi], (uint32_t)(k.hi >> 32))
		                  : lpm_lookup_slot(&t->t_lpm[fi], k),
		    &deleted);
	while (deleted);
	return nh;
}

/* rt_lookup_nexthop() past its inline part (route.h). */
const struct rt_nexthop *
rt_lookup_nexthop_slow(struct rt_table *t, int af, const void *addr)
{
	if (MPSAFE_UNLIKELY(t == NULL || addr == NULL))
		return NULL;
	rt_require_read_side(t, "rt_lookup_nexthop");
	if (af == AF_INET || af == AF_INET6) {
		int fi = af == AF_INET ? RT_INET : RT_INET6;

		return rt_nh_lookup(t, fi, rt_addr_key(fi, addr));
	}
	return NULL;
}

int
rt_lookup_nexthop_bulk(struct rt_table *t, int af, const void *addrs, size_t n,
    const struct rt_nexthop **nhs)
{
	const uint8_t *p = addrs;

	if (t == NULL || addrs == NULL || nhs == NULL || n > RT_LOOKUP_BULK_MAX)
		return EINVAL;
	rt_require_read_side(t, "rt_lookup_nexthop_bulk");
	if (MPSAFE_LIKELY(af == AF_INET)) {
		uint32_t a[RT_LOOKUP_BULK_MAX];
		lpm_slot_t s[RT_LOOKUP_BULK_MAX];

		for (size_t i = 0; i < n; i++) {
			memcpy(&a[i], p + 4 * i, 4);
			a[i] = ntohl(a[i]);
		}
		lpm_lookup4_bulk_slots(&t->t_lpm[RT_INET], a, n, s);
		for (size_t i = 0; i < n; i++) {
			bool deleted;

			nhs[i] = rt_nh_of_slot(t, s[i], &deleted);
			if (MPSAFE_UNLIKELY(deleted))
				nhs[i] = rt_nh_lookup(t, RT_INET,
				    rt_addr_key(RT_INET, p + 4 * i));
		}
		return 0;
	}
	if (af == AF_INET6) {
		struct lpm_key k[RT_LOOKUP_BULK_MAX];
		lpm_slot_t s[RT_LOOKUP_BULK_MAX];

		for (size_t i = 0; i < n; i++)
			k[i] = rt_addr_key(RT_INET6, p + 16 * i);
		lpm_lookup_bulk_slots(&t->t_lpm[RT_INET6], k, n, s);
		for (size_t i = 0; i < n; i++) {
			bool deleted;

			nhs[i] = rt_nh_of_slot(t, s[i], &deleted);
			if (MPSAFE_UNLIKELY(deleted))
				nhs[i] = rt_nh_lookup(t, RT_INET6, k[i]);
		}
		return 0;
	}
	return EAFNOSUPPORT;
}

/* NetBSD's reject rules, for an entry or a next hop (route.h). */
static int
rt_reject_errno(uint32_t fl, int64_t expire, bool ifp_is_loopback)
{
	struct timespec now;

	if (!(fl & MPSAFE_RTF_REJECT))
		return 0;
	if (ifp_is_loopback)
		return (fl & MPSAFE_RTF_HOST) ? EHOSTUNREACH : ENETUNREACH;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (expire == 0 || now.tv_sec < expire)
		return (fl & MPSAFE_RTF_GATEWAY) ? EHOSTUNREACH : EHOSTDOWN;
	return 0;
}

int
rt_check_reject_route(const struct rt_entry *rt, bool ifp_is_loopback)
{
	return rt_reject_errno(
	    rt_getflags(rt), rt->rt_rmx.rmx_expire, ifp_is_loopback);
}

int
rt_nexthop_check_reject(const struct rt_nexthop *nh, bool ifp_is_loopback)
{
	if (nh == NULL)
		return EINVAL;
	return rt_reject_errno(nh->nh_flags, nh->nh_expire, ifp_is_loopback);
}

int
rt_walktree(
    struct rt_table *t, int af, int (*fn)(struct rt_entry *, void *), void *arg)
{
	struct rt_entry *rt;
	int error = 0, cs;

	if (af != AF_UNSPEC && rt_afidx(af) < 0)
		return EAFNOSUPPORT;
	rt_require_outside_read_side(t, "rt_walktree");
	/* fn runs under the lock: not cancelled there (thread.c). */
	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	if (t->t_sync == RT_SYNC_RWLOCK)
		pthread_rwlock_rdlock(&t->t_rwlock);
	else
		pthread_mutex_lock(&t->t_wlock);
#ifdef MPSAFE_DIAGNOSTIC
	rt_side_enter(t); /* fn must not wait for our lock (rtrequest()) */
#endif
	for (rt = t->t_list; rt != NULL && error == 0; rt = rt->rt_lnext)
		if (af == AF_UNSPEC || rt->rt_dst.sa.sa_family == af)
			error = fn(rt, arg);
#ifdef MPSAFE_DIAGNOSTIC
	rt_side_exit(t);
#endif
	rt_wunlock(t);
	(void)pthread_setcancelstate(cs, NULL);
	return error;
}

int
rtflushall(struct rt_table *t, int af)
{
	int fi = rt_afidx(af);

	if (af != AF_UNSPEC && fi < 0)
		return EAFNOSUPPORT;
	/* seq_cst: caches compare with acquire loads. */
	if (af == AF_UNSPEC || fi == RT_INET)
		atomic_fetch_add(&t->t_gen[RT_INET], 1);
	if (af == AF_UNSPEC || fi == RT_INET6)
		atomic_fetch_add(&t->t_gen[RT_INET6], 1);
	return 0;
}
