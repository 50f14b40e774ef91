/*
 * rtcache.c: route caches (NetBSD's struct route and rtcache_*), and
 * per-thread caches for forwarding paths.
 *
 * A cache remembers a destination, an entry (ro_rt) and the family's
 * generation (ro_gen) at the time it found the entry.  The table advances
 * the generation, with a seq_cst update under its writer lock, on every
 * add, delete and change and on rtflushall(); a cache is valid only while
 * the generation is still ro_gen.
 *
 * Between rtcache_unref() and the next validation ro_rt is a weak pointer:
 * no count, no psref.  Validation reads it only after comparing the
 * generation, inside the read side of the table: with the rwlock, a delete
 * (which advances the generation under the write lock before the entry
 * can be freed) cannot be in progress; without it, the comparison is in a
 * pserialize read section, and destruction waits for a grace period after
 * the advance, so if we saw the old generation the entry outlives our
 * section.  The psref is then taken in the same read section.
 *
 * rtcache_lookup_noref() is the same validation without the psref: its
 * caller is already inside the read side (rt_read_enter()), which is what
 * makes the generation comparison sufficient, and the entry is used only
 * until the caller leaves it.  A fill reads the generation (acquire)
 * before the trie walk, so a change that lands between the two makes the
 * cache look stale at the next lookup, never fresh when it is not.  It
 * sets no ro_held: the cache's pointer stays weak.
 *
 * One reference at a time: ro_held is set while an entry obtained from
 * the cache is not yet released.  A second lookup on the cache before
 * rtcache_unref() would overwrite ro_psref and lose a reference (the
 * entry could then never be destroyed): diagnostic builds abort, other
 * builds return a miss and leave the cache as it was.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/thread.h>

#include "route_impl.h"

#define RO_MAGIC MPSAFE_RO_MAGIC

/* Whether a lookup may start on ro; aborts in diagnostic builds if not. */
static bool
rtcache_may_lookup(struct route *ro, const char *fn)
{
	if (MPSAFE_UNLIKELY(ro->ro_magic != RO_MAGIC))
		mpsafe_panic("%s: route cache %p not attached "
		             "(rtcache_attach)",
		    fn, (void *)ro);
	if (MPSAFE_UNLIKELY(ro->ro_held)) {
#ifdef MPSAFE_DIAGNOSTIC
		mpsafe_panic("%s: second lookup on route cache %p before "
		             "rtcache_unref (a cache holds one reference at a "
		             "time)",
		    fn, (void *)ro);
#else
		return false;
#endif
	}
	return true;
}

static void
rtcache_require_unheld(struct route *ro, const char *fn)
{
	if (MPSAFE_UNLIKELY(ro->ro_held))
		mpsafe_panic("%s: route cache %p still holds a reference "
		             "(call rtcache_unref first)",
		    fn, (void *)ro);
}

void
rtcache_attach(struct route *ro, struct rt_table *t, int flags)
{
	memset(ro, 0, sizeof(*ro));
	ro->ro_table = t;
	ro->ro_dst.sa.sa_family = AF_UNSPEC;
	ro->ro_flags = (uint32_t)flags & MPSAFE_RT_NOWAIT;
	ro->ro_magic = RO_MAGIC;
}

/* Look up ro's destination and cache the entry, psref'd.  Not held. */
static struct rt_entry *
rtcache_fill(struct route *ro)
{
	struct rt_table *t = ro->ro_table;
	struct lpm_key k;
	int fi = rt_sa_key(&ro->ro_dst.sa, &k);
	struct rt_entry *rt;
	uint64_t gen;

	ro->ro_rt = NULL;
	if (fi < 0)
		return NULL;
	/*
	 * Acquire, before the lookup: a change after this load makes the
	 * cache look stale later (conservative), never the other way.
	 */
	gen = atomic_load_explicit(&t->t_gen[fi], memory_order_acquire);
	rt = rt_lookup_hold(
	    t, fi, k, (int)ro->ro_flags, RT_HOLD_PSREF, &ro->ro_psref);
	if (rt != NULL) {
		ro->ro_rt = rt;
		ro->ro_gen = gen;
		ro->ro_genp = &t->t_gen[fi];
		ro->ro_held = 1;
	}
	return rt;
}

struct rt_entry *
rtcache_init(struct route *ro)
{
	if (!rtcache_may_lookup(ro, "rtcache_init"))
		return NULL;
	return rtcache_fill(ro);
}

struct rt_entry *
rtcache_update(struct route *ro, int flags)
{
	(void)flags;
	if (!rtcache_may_lookup(ro, "rtcache_update"))
		return NULL;
	return rtcache_fill(ro);
}

/* validate without the held check (callers did it). */
static struct rt_entry *
rtcache_validate1(struct route *ro)
{
	struct rt_table *t = ro->ro_table;
	struct rt_entry *rt;
	int fi = rt_afidx(ro->ro_dst.sa.sa_family);
	uint32_t fl;
	int s;

	if (ro->ro_rt == NULL || fi < 0)
		return NULL;
	s = rt_reader_enter(t, true);
	/* Acquire: pairs with the table's seq_cst advance. */
	if (atomic_load_explicit(&t->t_gen[fi], memory_order_acquire) !=
	    ro->ro_gen) {
		rt_reader_exit(t, true, s);
		ro->ro_rt = NULL;
		return NULL;
	}
	rt = ro->ro_rt;
	/*
	 * Acquire: pairs with the release that ends RTM_CHANGE.  A change
	 * or delete advances the generation, so with ro_gen current the
	 * entry is normally up and not updating; checked all the same.
	 */
	fl = rt_flags_read(rt);
	if ((fl & (MPSAFE_RTF_UP | MPSAFE_RTF_UPDATING)) != MPSAFE_RTF_UP) {
		rt_reader_exit(t, true, s);
		ro->ro_rt = NULL;
		return NULL;
	}
	psref_acquire(&ro->ro_psref, &rt->rt_psref, t->t_psref_class);
	ro->ro_held = 1;
	rt_reader_exit(t, true, s);
	return rt;
}

struct rt_entry *
rtcache_validate(struct route *ro)
{
	if (!rtcache_may_lookup(ro, "rtcache_validate"))
		return NULL;
	return rtcache_validate1(ro);
}

static bool
rtcache_same_dst(const struct route *ro, const struct sockaddr *dst)
{
	if (ro->ro_dst.sa.sa_family != dst->sa_family)
		return false;
	if (dst->sa_family == AF_INET)
		return memcmp(&ro->ro_dst.sin.sin_addr,
		           &((const struct sockaddr_in *)(const void *)dst)
		                ->sin_addr,
		           sizeof(struct in_addr)) == 0;
	if (dst->sa_family == AF_INET6) {
		struct sockaddr_in6 d;

		/* And the scope where it is the zone (route.c, "Keys"). */
		memcpy(&d, dst, sizeof(d));
		return memcmp(&ro->ro_dst.sin6.sin6_addr, &d.sin6_addr,
		           sizeof(struct in6_addr)) == 0 &&
		       (ro->ro_dst.sin6.sin6_scope_id == d.sin6_scope_id ||
		           !in6_zoned(d.sin6_addr.s6_addr));
	}
	return false;
}

struct rt_entry *
rtcache_lookup2(
    struct route *ro, const struct sockaddr *dst, int flags, int *hitp)
{
	struct rt_entry *rt;

	(void)flags;
	if (hitp != NULL)
		*hitp = 0;
	if (!rtcache_may_lookup(ro, "rtcache_lookup2") || dst == NULL)
		return NULL;
	if (rtcache_same_dst(ro, dst)) {
		rt = rtcache_validate1(ro);
		if (rt != NULL) {
			if (hitp != NULL)
				*hitp = 1;
			return rt;
		}
	} else if (rtcache_setdst(ro, dst) != 0) {
		return NULL;
	}
	return rtcache_fill(ro);
}

/* rtcache_lookup_noref() past its inline hit (route.h). */
struct rt_entry *
rtcache_lookup_noref_slow(
    struct route *ro, const struct sockaddr *dst, int *hitp)
{
	struct rt_table *t;
	struct rt_entry *rt;
	const void *addr;
	struct lpm_key k = {0, 0};
	uint64_t gen;
	uint32_t fl;
	int fi;

	if (hitp != NULL)
		*hitp = 0;
	if (MPSAFE_UNLIKELY(ro == NULL || dst == NULL))
		return NULL;
	if (!rtcache_may_lookup(ro, "rtcache_lookup_noref"))
		return NULL;
	fi = rt_afidx(dst->sa_family);
	if (MPSAFE_UNLIKELY(fi < 0))
		return NULL;
	t = ro->ro_table;
	if (MPSAFE_LIKELY(rtcache_same_dst(ro, dst))) {
		rt = ro->ro_rt;
		/*
		 * Acquire: pairs with the table's seq_cst advance; an equal
		 * generation inside the read side means rt is not yet
		 * destroyed (file comment), so rt may be dereferenced.
		 */
		if (rt != NULL && atomic_load_explicit(&t->t_gen[fi],
		                      memory_order_acquire) == ro->ro_gen) {
			/* Acquire: pairs with the release ending RTM_CHANGE. */
			fl = rt_flags_read(rt);
			if (MPSAFE_LIKELY(
			        (fl & (MPSAFE_RTF_UP | MPSAFE_RTF_UPDATING)) ==
			        MPSAFE_RTF_UP)) {
				if (hitp != NULL)
					*hitp = 1;
				return rt;
			}
		}
		ro->ro_rt = NULL;
	} else if (rtcache_setdst(ro, dst) != 0) {
		return NULL;
	}

	/* IPv6 by key: the raw address lacks the scope's zone (route.c). */
	addr = &ro->ro_dst.sin.sin_addr;
	if (fi == RT_INET6)
		(void)rt_sa_key(&ro->ro_dst.sa, &k); /* setdst checked it */
	for (;;) {
		/*
		 * Acquire, before the walk: pairs with the table's seq_cst
		 * advance; a change after this load makes the cache stale
		 * later.
		 */
		gen = atomic_load_explicit(&t->t_gen[fi], memory_order_acquire);
		rt = fi == RT_INET ? rt_lookup_noref(t, AF_INET, addr)
		                   : rt_lookup_noref_key(t, fi, k);
		if (rt == NULL)
			return NULL;
		/*
		 * Acquire: pairs with the release ending RTM_CHANGE, and
		 * with the delete's seq_cst clear of RTF_UP.
		 */
		fl = rt_flags_read(rt);
		if (fl & MPSAFE_RTF_UP)
			break;
		/* Deleted since the walk: again (route.c, file comment). */
	}
	if (fl & MPSAFE_RTF_UPDATING)
		return NULL; /* being changed: a miss, not cached */
	ro->ro_rt = rt;
	ro->ro_gen = gen;
	ro->ro_genp = &t->t_gen[fi];
	return rt;
}

struct rt_entry *
rtcache_lookup1(struct route *ro, const struct sockaddr *dst, int flags)
{
	return rtcache_lookup2(ro, dst, flags, NULL);
}

struct rt_entry *
rtcache_lookup(struct route *ro, const struct sockaddr *dst)
{
	return rtcache_lookup2(ro, dst, 1, NULL);
}

void
rtcache_unref(struct rt_entry *rt, struct route *ro)
{
	if (rt == NULL)
		return;
	if (MPSAFE_UNLIKELY(!ro->ro_held || rt != ro->ro_rt))
		mpsafe_panic("rtcache_unref: entry %p was not obtained through "
		             "route cache %p (or was released already)",
		    (void *)rt, (void *)ro);
	psref_release(
	    &ro->ro_psref, &rt->rt_psref, ro->ro_table->t_psref_class);
	ro->ro_held = 0;
}

void
rtcache_free(struct route *ro)
{
	rtcache_require_unheld(ro, "rtcache_free");
	ro->ro_rt = NULL;
	memset(&ro->ro_dst, 0, sizeof(ro->ro_dst));
	ro->ro_dst.sa.sa_family = AF_UNSPEC;
}

void
rtcache_copy(struct route *new_ro, struct route *old_ro)
{
	struct rt_entry *rt;

	rtcache_require_unheld(new_ro, "rtcache_copy");
	rtcache_require_unheld(old_ro, "rtcache_copy");
	rt = rtcache_validate1(old_ro);
	new_ro->ro_table = old_ro->ro_table;
	new_ro->ro_magic = RO_MAGIC;
	new_ro->ro_dst = old_ro->ro_dst;
	new_ro->ro_rt = rt; /* weak, checked against ro_gen */
	new_ro->ro_gen = old_ro->ro_gen;
	new_ro->ro_genp = old_ro->ro_genp;
	if (rt != NULL)
		rtcache_unref(rt, old_ro);
}

int
rtcache_setdst(struct route *ro, const struct sockaddr *dst)
{
	if (dst == NULL)
		return EINVAL;
	rtcache_require_unheld(ro, "rtcache_setdst");
	if (dst->sa_family == AF_INET) {
		memset(&ro->ro_dst, 0, sizeof(ro->ro_dst));
		memcpy(&ro->ro_dst.sin, dst, sizeof(struct sockaddr_in));
	} else if (dst->sa_family == AF_INET6) {
		struct lpm_key k;

		if (rt_sa_key(dst, &k) == RT_KEY_BADZONE)
			return EINVAL; /* a zone no key can carry */
		memset(&ro->ro_dst, 0, sizeof(ro->ro_dst));
		memcpy(&ro->ro_dst.sin6, dst, sizeof(struct sockaddr_in6));
	} else {
		return EAFNOSUPPORT;
	}
	ro->ro_rt = NULL;
	return 0;
}

const struct sockaddr *
rtcache_getdst(const struct route *ro)
{
	return ro->ro_dst.sa.sa_family == AF_UNSPEC ? NULL : &ro->ro_dst.sa;
}

/* --- per-thread caches ---------------------------------------------------- */

struct rtcache_pt_node {
	struct route pn_ro;
	struct rtcache_pt_node *pn_next;
	int pn_inuse;
};

struct rtcache_perthread {
	struct rt_table *pc_table;
	pthread_key_t pc_key;
	pthread_mutex_t pc_lock; /* pc_list */
	struct rtcache_pt_node *pc_list;
};

struct rtcache_perthread *
rtcache_perthread_alloc(struct rt_table *t)
{
	struct rtcache_perthread *pc = mpsafe_calloc(1, sizeof(*pc));
	int error;

	if (pc == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	error = pthread_key_create(&pc->pc_key, NULL);
	if (error != 0) {
		mpsafe_free(pc);
		errno = error;
		return NULL;
	}
	pthread_mutex_init(&pc->pc_lock, NULL);
	pc->pc_table = t;
	return pc;
}

struct route *
rtcache_perthread_getref(struct rtcache_perthread *pc)
{
	struct rtcache_pt_node *pn = pthread_getspecific(pc->pc_key);

	if (pn == NULL) {
		pn = mpsafe_calloc(1, sizeof(*pn));
		if (pn == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		rtcache_attach(&pn->pn_ro, pc->pc_table, MPSAFE_RT_NOWAIT);
		if (pthread_setspecific(pc->pc_key, pn) != 0) {
			mpsafe_free(pn);
			errno = ENOMEM;
			return NULL;
		}
		pthread_mutex_lock(&pc->pc_lock);
		pn->pn_next = pc->pc_list;
		pc->pc_list = pn;
		pthread_mutex_unlock(&pc->pc_lock);
	}
#ifdef MPSAFE_DIAGNOSTIC
	if (pn->pn_inuse)
		mpsafe_panic("rtcache_perthread_getref: nested getref on this "
		             "thread (putref first)");
#endif
	pn->pn_inuse = 1;
	return &pn->pn_ro;
}

void
rtcache_perthread_putref(struct rtcache_perthread *pc)
{
	struct rtcache_pt_node *pn = pthread_getspecific(pc->pc_key);

	if (pn == NULL || !pn->pn_inuse)
		mpsafe_panic("rtcache_perthread_putref: no getref on this "
		             "thread");
#ifdef MPSAFE_DIAGNOSTIC
	rtcache_require_unheld(&pn->pn_ro, "rtcache_perthread_putref");
#endif
	pn->pn_inuse = 0;
}

void
rtcache_perthread_free(struct rtcache_perthread *pc)
{
	struct rtcache_pt_node *pn, *next;

	pthread_key_delete(pc->pc_key);
	for (pn = pc->pc_list; pn != NULL; pn = next) {
		next = pn->pn_next;
		rtcache_require_unheld(&pn->pn_ro, "rtcache_perthread_free");
		memset(pn, 0x6b, sizeof(*pn)); /* poison */
		mpsafe_free(pn);
	}
	pthread_mutex_destroy(&pc->pc_lock);
	memset(pc, 0x6b, sizeof(*pc));
	mpsafe_free(pc);
}
