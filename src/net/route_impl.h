/*
 * route_impl.h: the routing table's private definitions, shared by
 * route.c (table, entries) and rtcache.c (route caches).
 */
#ifndef MPSAFE_NET_ROUTE_IMPL_H
#define MPSAFE_NET_ROUTE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/net/route.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>
#include <mpsafe/workqueue.h>

#include "in6_zone.h"
#include "lpm.h"
#include "rt_slab.h"

#define RT_MAGIC_LIVE 0x52544c56u /* "RTLV" */
#define RT_MAGIC_DEAD 0x72746464u /* "rtdd" */

/* Family index of the per-family arrays. */
#define RT_INET 0
#define RT_INET6 1

#define RT_NH_MAGIC_LIVE 0x4e484c56u /* "NHLV" */

/* Next-hop ids: 1..RT_NH_ID_MAX. */
#define RT_NH_ID_MAX 65535u

/*
 * The next hops that have an id, each in the element of its id, so that
 * a lookup finds a next hop from its id with no load (route.c, "Next
 * hops").  Allocated with the table; its pages are touched as ids are
 * handed out (the allocator's large blocks are mapped fresh and zero).
 */
struct rt_nhvec {
	struct rt_nexthop nv_nh[RT_NH_ID_MAX + 1]; /* element 0 unused */
	uint16_t nv_next[RT_NH_ID_MAX + 1];        /* free ids (writer) */
};

/* Kinds of reference in struct rt_hold.rh_kind. */
#define RT_HOLD_NONE 0
#define RT_HOLD_COUNT 1
#define RT_HOLD_PSREF 2

struct rt_table {
	/* What route.h's inline lookups read: first (see route.c). */
	struct mpsafe_rt_fastpath t_fast;
	enum rt_sync t_sync;
	enum rt_refmode t_ref;
	char t_name[16];
	/* The allocator: the config's hooks, the default or t_slab. */
	void *(*t_alloc)(size_t, void *);
	void (*t_free)(void *, size_t, void *);
	void *t_alloc_arg;
	bool t_huge; /* rtc_hugepages: t_slab is the allocator */
	struct rt_slab t_slab;
	/* Bytes allocated and not freed (relaxed; rt_table_stats()). */
	MPSAFE_ATOMIC(size_t) t_alloc_bytes;

	/*
	 * RT_SYNC_RWLOCK: lookups read-lock, writers write-lock t_rwlock.
	 * RT_SYNC_PSERIALIZE: writers hold t_wlock, lookups nothing.
	 */
	pthread_rwlock_t t_rwlock;
	pthread_mutex_t t_wlock;
	pserialize_t t_psz;
	struct psref_class *t_psref_class;
	struct workqueue *t_wq; /* runs the reaper (t_reap_work) */

	/*
	 * Deleted entries waiting to be destroyed (route.c, "Reaping"):
	 * a list through rt_reapnext, under t_reap_lock.
	 */
	pthread_mutex_t t_reap_lock;
	pthread_cond_t t_reap_cv; /* the reaper waits here for more */
	struct rt_entry *t_reap_list;
	size_t t_reap_count;
	bool t_reap_active; /* t_reap_work is queued or running */
	bool t_reap_flush;  /* rt_table_destroy(): stop lingering */
	/* How the reaper sleeps (RT_REAP_*), and on what: */
	uint8_t t_reap_sleep;
	bool t_reap_on_counts; /* route.c's rt_wait_cv, not t_reap_cv */
	struct work t_reap_work;

	/*
	 * RTM_CHANGE: the number of changes that have ended, advanced
	 * (seq_cst) under the writer lock after a change clears
	 * MPSAFE_RTF_UPDATING; read by whoever waits for a change to end
	 * (route.c, rt_update_wait()).  Changes of different entries run
	 * at once; RTF_UPDATING keeps a second change of one entry out.
	 */
	MPSAFE_ATOMIC(uint64_t) t_changes_done;

	/* Route cache generations per family (seq_cst updates). */
	MPSAFE_ATOMIC(uint64_t) t_gen[2];

	/* Writer-lock protected below. */
	struct lpm t_lpm[2];
	struct rt_entry **t_hash; /* exact-match index (route.c) */
	uint8_t *t_hfilter;       /* its filter bytes, after the heads */
	size_t t_hmask;
	size_t t_nentries[2];
	/* Entries per prefix length (rt_covering() skips empty lengths). */
	uint32_t t_nlen[2][129];
	struct rt_entry *t_list; /* every entry, for rt_walktree() */
	MPSAFE_ATOMIC(size_t) t_dying;

	/* Next hops by id (route.c, "Next hops"); fixed at creation. */
	struct rt_nhvec *t_nhvec;
	/* Writer-lock protected: hash of live next hops, id allocation. */
	struct rt_nexthop **t_nhhash;
	size_t t_nhmask;
	size_t t_nnh;        /* live next hops */
	size_t t_nnh_heap;   /* of which allocated alone (no id) */
	unsigned t_nh_next;  /* lowest id never handed out */
	unsigned t_nh_free;  /* head of the free id list; 0: empty */
	unsigned t_nh_idmax; /* highest id to hand out (tests lower it) */
	/*
	 * Next hops whose grace period has passed (lockless tables),
	 * pushed by rt_nh_reclaim() (any thread, no lock), taken whole by
	 * the writer, which then frees their ids and memory.
	 */
	MPSAFE_ATOMIC(struct rt_nexthop *) t_nh_done;
};

static inline int
rt_afidx(int af)
{
	return af == AF_INET ? RT_INET : af == AF_INET6 ? RT_INET6 : -1;
}

/*
 * dst's key and family index; -1 for an unknown family (or NULL),
 * RT_KEY_BADZONE for an IPv6 zone that cannot be in a key (route.c,
 * "Keys"): over 0xffff, or other than the one in the address's bits
 * 16..31.
 */
#define RT_KEY_BADZONE (-2)
int rt_sa_key(const struct sockaddr *sa, struct lpm_key *k);

/*
 * rt_lookup_noref() of a key (family index fi): for callers that have a
 * sockaddr, whose zone the raw address may lack.
 */
struct rt_entry *rt_lookup_noref_key(
    struct rt_table *t, int fi, struct lpm_key k);

/*
 * Look up k (family index fi) and take a reference of the given kind
 * (RT_HOLD_COUNT or RT_HOLD_PSREF into *psref); see rt_lookup().
 */
struct rt_entry *rt_lookup_hold(struct rt_table *t, int fi, struct lpm_key k,
    int flags, int kind, struct psref *psref);

/* Read side of the table: a read section and, with the rwlock, the lock. */
int rt_reader_enter(struct rt_table *t, bool psref);
void rt_reader_exit(struct rt_table *t, bool psref, int s);

/*
 * The flags of rt, which a lookup found, after marking it read (route.c,
 * "RTM_CHANGE"): every path that hands an entry to a reader, or reads its
 * changeable fields, outside the writer lock goes through here.  The mark
 * is a read-modify-write only the first time after a change; later
 * readers find it set and only load.  Inside the read side.
 */
static inline uint32_t
rt_flags_read(struct rt_entry *rt)
{
	/* Acquire: pairs with the release that ends RTM_CHANGE. */
	uint32_t fl = mpsafe_load_acquire(&rt->rt_flags);

	if (MPSAFE_UNLIKELY(!(fl & MPSAFE_RTF_READ))) {
		/*
		 * Acquire, as the load.  Against the changer's
		 * compare-and-swap that sets MPSAFE_RTF_UPDATING no fence is
		 * needed: both modify rt_flags, so one reads the other's bit.
		 */
		fl = atomic_fetch_or_explicit(
		         &rt->rt_flags, MPSAFE_RTF_READ, memory_order_acquire) |
		     MPSAFE_RTF_READ;
	}
	return fl;
}

#endif /* MPSAFE_NET_ROUTE_IMPL_H */
