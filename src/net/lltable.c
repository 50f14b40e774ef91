/*
 * src/net/lltable.c: per-interface neighbour tables (see
 * mpsafe/net/lltable.h).
 *
 * A table is an array of hash chains (pslists) of entries keyed by the
 * layer-3 address bytes.  Writers are serialised by the table's lock:
 * a mutex for LLT_SYNC_PSERIALIZE, the write side of the rwlock for
 * LLT_SYNC_RWLOCK.  Lookups copy the entry they find into the caller's
 * struct lla_info.  A key is the address bytes; a zoned IPv6 address's
 * (in6_zone.h) without its embedded zone, which can only be the table's
 * interface (llt_key() refuses another).
 *
 * Invariants:
 *  - A key appears at most once in the table, except during
 *    lla_update()'s replacement in the lockless design, where the new
 *    entry is linked just before the old one and the old one is removed
 *    at once (both under the writer lock): a reader walking the chain
 *    then meets the new entry first, or, standing on the old one
 *    already, finishes with it.  Either is a complete entry.
 *  - LLT_SYNC_PSERIALIZE: a published entry is never written again
 *    (readers copy it without a lock); it is freed only by lle_reclaim(),
 *    which mpsafe_defer() runs after a grace period that began after
 *    its removal, so no reader still stands on it.  lle_reclaim() touches
 *    only the entry, never the table, so a table may be destroyed while
 *    entries it retired are still pending.
 *  - LLT_SYNC_RWLOCK: entries are read only under the read lock and
 *    written (in place) or freed only under the write lock.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/defer.h>
#include <mpsafe/net/lltable.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/thread.h>

#include "in6_zone.h"

#define LLE_MAGIC 0x4c4c4531u      /* "LLE1": linked or being retired */
#define LLE_MAGIC_DEAD 0x6c6c6564u /* "llde": reclaimed */
#define LLT_POISON_BYTE 0x6b

struct llentry {
	struct pslist_entry lle_chain; /* in llt_chain[]; writer lock */
	uint32_t lle_magic;
	uint8_t lle_key[16];      /* layer-3 address, llt_keylen bytes */
	struct lla_info lle_info; /* immutable once published (lockless) */
	struct mpsafe_defer lle_defer;
};

struct lltable {
	int llt_af;
	unsigned llt_ifindex;
	enum lltable_sync llt_sync;
	uint32_t llt_mask;           /* chains - 1 */
	size_t llt_keylen;           /* 4 or 16 */
	pthread_mutex_t llt_lock;    /* writers, LLT_SYNC_PSERIALIZE */
	pthread_rwlock_t llt_rwlock; /* everyone, LLT_SYNC_RWLOCK */
	/* Written under the writer lock; read relaxed by lltable_count(). */
	MPSAFE_ATOMIC(size_t) llt_count;
	struct pslist_head llt_chain[];
};

/* Every allocation of this file, so that a test can make it fail. */
static void *
llt_alloc(size_t size)
{
	return mpsafe_calloc(1, size);
}

static void
llt_free(void *p)
{
	mpsafe_free(p);
}

/*
 * A hash of the key's 32-bit words, each folded in by multiplication, and
 * a full avalanche at the end (MurmurHash3's finaliser) so that every key
 * bit reaches the low bits the chain index is taken from: addresses of
 * one subnet differ only in their last bytes, and without the final
 * mixing those bytes never reached the index (a table of 128 next hops
 * ended up in one or two chains).
 */
static uint32_t
llt_hash(const uint8_t *key, size_t len)
{
	uint32_t h = 0x9e3779b9u;

	for (size_t i = 0; i < len; i += 4) {
		uint32_t w;

		memcpy(&w, key + i, sizeof(w));
		h = (h ^ w) * 0x85ebca6bu;
		h = (h << 13) | (h >> 19);
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Whether entry key a equals key b (len 4 or 16 bytes). */
static inline bool
llt_key_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t x[2], y[2];

	if (len == 4) {
		uint32_t u, v;

		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		return u == v;
	}
	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * The key of sa, in key (llt_keylen bytes): its address bytes, a zoned
 * IPv6 address's without the embedded zone (in6_zone.h: the table's
 * addresses are all of its interface's zone).  Returns 0, EAFNOSUPPORT
 * (not the table's family) or EINVAL (a zone other than the table's
 * interface, or an impossible one).
 */
static int
llt_key(const struct lltable *llt, const struct sockaddr *sa, uint8_t *key)
{
	struct sockaddr_in6 sin6;
	uint32_t zone;

	if (sa->sa_family != llt->llt_af)
		return EAFNOSUPPORT;
	if (llt->llt_af == AF_INET) {
		memcpy(key,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4);
		return 0;
	}
	memcpy(&sin6, sa, sizeof(sin6));
	if (!in6_zone_of(&sin6, &zone) ||
	    (zone != 0 && zone != llt->llt_ifindex))
		return EINVAL;
	memcpy(key, &sin6.sin6_addr, 16);
	if (in6_zoned(key))
		key[2] = key[3] = 0;
	return 0;
}

static struct pslist_head *
llt_chain(struct lltable *llt, const uint8_t *key)
{
	return &llt->llt_chain[llt_hash(key, llt->llt_keylen) & llt->llt_mask];
}

int
lltable_create(struct lltable **lltp, int af, unsigned ifindex,
    enum lltable_sync sync, unsigned nbuckets)
{
	struct lltable *llt;
	unsigned n = 1;

	if (lltp == NULL || nbuckets > LLT_BUCKETS_MAX ||
	    (sync != LLT_SYNC_RWLOCK && sync != LLT_SYNC_PSERIALIZE))
		return EINVAL;
	if (af != AF_INET && af != AF_INET6)
		return EAFNOSUPPORT;
	if (nbuckets == 0)
		nbuckets = LLT_BUCKETS_DEFAULT;
	while (n < nbuckets)
		n <<= 1;
	llt = llt_alloc(sizeof(*llt) + n * sizeof(llt->llt_chain[0]));
	if (llt == NULL)
		return ENOMEM;
	llt->llt_af = af;
	llt->llt_ifindex = ifindex;
	llt->llt_sync = sync;
	llt->llt_mask = n - 1;
	llt->llt_keylen = af == AF_INET ? 4 : 16;
	if (pthread_mutex_init(&llt->llt_lock, NULL) != 0) {
		llt_free(llt);
		return ENOMEM;
	}
	if (pthread_rwlock_init(&llt->llt_rwlock, NULL) != 0) {
		pthread_mutex_destroy(&llt->llt_lock);
		llt_free(llt);
		return ENOMEM;
	}
	for (unsigned i = 0; i < n; i++)
		PSLIST_INIT(&llt->llt_chain[i]);
	*lltp = llt;
	return 0;
}

/* Poison and free an entry no reader can reach. */
static void
lle_free(struct llentry *e)
{
	PSLIST_ENTRY_DESTROY(e, lle_chain);
	e->lle_magic = LLE_MAGIC_DEAD;
	memset(&e->lle_info, LLT_POISON_BYTE, sizeof(e->lle_info));
	llt_free(e);
}

/* mpsafe_defer() destructor: a grace period has passed since removal. */
static void
lle_reclaim(struct mpsafe_defer *d)
{
	lle_free((struct llentry *)(void *)((char *)d - offsetof(struct llentry,
	                                                    lle_defer)));
}

void
lltable_destroy(struct lltable *llt)
{
	if (llt == NULL)
		return;
	if (pserialize_in_read_section())
		mpsafe_panic("lltable_destroy: called inside a read section");
	for (uint32_t i = 0; i <= llt->llt_mask; i++) {
		struct llentry *e;

		while ((e = PSLIST_WRITER_FIRST(&llt->llt_chain[i],
		            struct llentry, lle_chain)) != NULL) {
			PSLIST_WRITER_REMOVE(e, lle_chain);
			lle_free(e); /* the caller waited out the readers */
		}
		PSLIST_DESTROY(&llt->llt_chain[i]);
	}
	pthread_rwlock_destroy(&llt->llt_rwlock);
	pthread_mutex_destroy(&llt->llt_lock);
	memset(llt, LLT_POISON_BYTE, sizeof(*llt));
	llt_free(llt);
}

static void
llt_writer_lock(struct lltable *llt)
{
	if (llt->llt_sync == LLT_SYNC_RWLOCK)
		pthread_rwlock_wrlock(&llt->llt_rwlock);
	else
		pthread_mutex_lock(&llt->llt_lock);
}

static void
llt_writer_unlock(struct lltable *llt)
{
	if (llt->llt_sync == LLT_SYNC_RWLOCK)
		pthread_rwlock_unlock(&llt->llt_rwlock);
	else
		pthread_mutex_unlock(&llt->llt_lock);
}

/* The entry for key; the caller holds the writer lock. */
static struct llentry *
llt_writer_find(struct lltable *llt, const uint8_t *key)
{
	struct llentry *e;

	PSLIST_WRITER_FOREACH (
	    e, llt_chain(llt, key), struct llentry, lle_chain) {
		if (llt_key_eq(e->lle_key, key, llt->llt_keylen))
			return e;
	}
	return NULL;
}

/* Writers may block; inside a read section they would stall grace periods. */
static int
llt_writer_check(const char *fn)
{
	if (!pserialize_in_read_section())
		return 0;
#ifdef MPSAFE_DIAGNOSTIC
	mpsafe_panic(
	    "%s: called inside a read section (writers may block)", fn);
#else
	(void)fn;
	return EDEADLK;
#endif
}

static void
llt_fill_info(
    struct lla_info *info, const void *lladdr, size_t len, uint32_t flags)
{
	memset(info, 0, sizeof(*info));
	if (len > 0) {
		memcpy(info->lli_addr, lladdr, len);
		flags |= LLE_VALID;
	} else {
		flags &= ~(uint32_t)LLE_VALID;
	}
	info->lli_len = (uint8_t)len;
	info->lli_flags = flags;
}

int
lla_update(struct lltable *llt, const struct sockaddr *l3addr,
    const void *lladdr, size_t len, uint32_t flags)
{
	struct llentry *e, *n = NULL;
	uint8_t key[16];
	int error = 0;

	if (llt == NULL || l3addr == NULL || len > LLT_ADDR_MAX ||
	    (lladdr == NULL && len > 0) || (flags & ~(uint32_t)LLE_USERMASK))
		return EINVAL;
	if ((error = llt_key(llt, l3addr, key)) != 0)
		return error;
	if ((error = llt_writer_check("lla_update")) != 0)
		return error;
	/* Allocated first, so that failure leaves the table unchanged. */
	if (llt->llt_sync == LLT_SYNC_PSERIALIZE) {
		n = llt_alloc(sizeof(*n));
		if (n == NULL)
			return ENOMEM;
		PSLIST_ENTRY_INIT(n, lle_chain);
		n->lle_magic = LLE_MAGIC;
		memcpy(n->lle_key, key, llt->llt_keylen);
		llt_fill_info(&n->lle_info, lladdr, len, flags);
	}

	llt_writer_lock(llt);
	e = llt_writer_find(llt, key);
	if (llt->llt_sync == LLT_SYNC_RWLOCK) {
		if (e != NULL) {
			/* In place: readers hold the read lock. */
			llt_fill_info(&e->lle_info, lladdr, len, flags);
		} else if ((e = llt_alloc(sizeof(*e))) == NULL) {
			error = ENOMEM;
		} else {
			PSLIST_ENTRY_INIT(e, lle_chain);
			e->lle_magic = LLE_MAGIC;
			memcpy(e->lle_key, key, llt->llt_keylen);
			llt_fill_info(&e->lle_info, lladdr, len, flags);
			PSLIST_WRITER_INSERT_HEAD(
			    llt_chain(llt, key), e, lle_chain);
			/* Relaxed: a statistic; the lock orders writers. */
			mpsafe_store_relaxed(&llt->llt_count,
			    mpsafe_load_relaxed(&llt->llt_count) + 1);
		}
		llt_writer_unlock(llt);
		return error;
	}
	if (e == NULL) {
		PSLIST_WRITER_INSERT_HEAD(llt_chain(llt, key), n, lle_chain);
		/* Relaxed: a statistic; the lock orders writers. */
		mpsafe_store_relaxed(
		    &llt->llt_count, mpsafe_load_relaxed(&llt->llt_count) + 1);
		llt_writer_unlock(llt);
		return 0;
	}
	/* Replace: the new entry first, so no reader misses the key. */
	PSLIST_WRITER_INSERT_BEFORE(e, n, lle_chain);
	PSLIST_WRITER_REMOVE(e, lle_chain);
	/*
	 * Retired under the lock: mpsafe_defer() may wait for room, which
	 * only delays other writers.
	 */
	error = mpsafe_defer(&e->lle_defer, lle_reclaim, sizeof(*e));
	llt_writer_unlock(llt);
	return error;
}

int
lla_delete(struct lltable *llt, const struct sockaddr *l3addr)
{
	struct llentry *e;
	uint8_t key[16];
	int error;

	if (llt == NULL || l3addr == NULL)
		return EINVAL;
	if ((error = llt_key(llt, l3addr, key)) != 0)
		return error;
	if ((error = llt_writer_check("lla_delete")) != 0)
		return error;
	llt_writer_lock(llt);
	e = llt_writer_find(llt, key);
	if (e == NULL) {
		llt_writer_unlock(llt);
		return ESRCH;
	}
	PSLIST_WRITER_REMOVE(e, lle_chain);
	/* Relaxed: a statistic; the lock orders writers. */
	mpsafe_store_relaxed(
	    &llt->llt_count, mpsafe_load_relaxed(&llt->llt_count) - 1);
	if (llt->llt_sync == LLT_SYNC_RWLOCK)
		lle_free(e); /* no reader: we hold the write lock */
	else
		error = mpsafe_defer(&e->lle_defer, lle_reclaim, sizeof(*e));
	llt_writer_unlock(llt);
	return error;
}

/* The lookup proper; the caller is in a read section or holds a lock. */
static int
llt_lookup_locked(
    struct lltable *llt, const uint8_t *key, struct lla_info *info)
{
	struct llentry *e;

	PSLIST_READER_FOREACH (
	    e, llt_chain(llt, key), struct llentry, lle_chain) {
		if (llt_key_eq(e->lle_key, key, llt->llt_keylen)) {
#ifdef MPSAFE_DIAGNOSTIC
			if (e->lle_magic != LLE_MAGIC)
				mpsafe_panic("lla_lookup: entry %p of table "
				             "%p was freed under a reader",
				    (void *)e, (void *)llt);
#endif
			*info = e->lle_info;
			return 0;
		}
	}
	return ENOENT;
}

int
lla_lookup_addr(struct lltable *llt, const void *addr, struct lla_info *info)
{
	uint8_t key[16];
	int error, s;

	/* A zoned IPv6 address: without its embedded zone, if it is ours. */
	if (llt->llt_keylen == 16 && in6_zoned(addr)) {
		uint32_t zone = in6_zone_embedded(addr);

		if (zone != 0 && zone != llt->llt_ifindex)
			return ENOENT;
		memcpy(key, addr, 16);
		key[2] = key[3] = 0;
		addr = key;
	}
	if (llt->llt_sync == LLT_SYNC_RWLOCK) {
		pthread_rwlock_rdlock(&llt->llt_rwlock);
		error = llt_lookup_locked(llt, addr, info);
		pthread_rwlock_unlock(&llt->llt_rwlock);
		return error;
	}
	s = pserialize_read_enter();
	error = llt_lookup_locked(llt, addr, info);
	pserialize_read_exit(s);
	return error;
}

int
lla_lookup(
    struct lltable *llt, const struct sockaddr *l3addr, struct lla_info *info)
{
	uint8_t key[16];
	int error;

	if (llt == NULL || l3addr == NULL || info == NULL)
		return EINVAL;
	if ((error = llt_key(llt, l3addr, key)) != 0)
		return error;
	return lla_lookup_addr(llt, key, info);
}

size_t
lltable_count(const struct lltable *llt)
{
	/* Relaxed: a snapshot of a statistic. */
	return mpsafe_load_relaxed(&llt->llt_count);
}
