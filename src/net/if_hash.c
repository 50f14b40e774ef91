/*
 * if_hash.c: hash tables of pointers read without a lock, for the
 * interface collection's lookups by name and by address (if.c), which
 * would otherwise walk every interface (NetBSD walks its lists).
 *
 * Algorithm.  Open addressing with linear probing over 2^k slots; a slot
 * holds NULL (never used), an element, or the tombstone IF_HASH_GONE (an
 * element was removed).  An element's probe sequence starts at its hash
 * modulo 2^k.  Equal keys may occur several times (two interfaces may
 * own the same address): a search returns the first match along the
 * sequence.
 *
 * Writers (the owner's lock held):
 *  - put stores the element in the first NULL or tombstone slot of its
 *    sequence, with a release store, after every field readers compare;
 *  - remove turns the element's slot into a tombstone, never into NULL;
 *  - when elements and tombstones would fill half the slots, reserve
 *    builds a new table from the elements alone, a quarter full at most,
 *    publishes it (release store of the owner's pointer) and hands the
 *    old one to mpsafe_defer(), which frees it after a grace period.
 *
 * Invariants.
 *  T1 Within one table a slot is never NULL again once written, so every
 *     slot between an element's home and its slot is not NULL, and a
 *     search that stops at NULL has passed every slot where its key may
 *     be.
 *  T2 At most half of the slots are used (ih_used counts elements and
 *     tombstones), so a search meets NULL within a few probes on average
 *     and always ends.
 *  T3 An element in a table has every field a reader compares set
 *     before its slot's release store (or, in a table being built, before
 *     the table's own publication).
 *
 * Readers (inside a read section) load the owner's pointer with acquire,
 * then slots with acquire (pairs with the release store of T3), and
 * compare.  A reader still in a table that has since been replaced may
 * find an element removed after the replacement: its read section began
 * before the removal's grace period, so it may use the element as any
 * reader that found it earlier.  The old table itself stays valid until
 * that reader's section ends (the deferred free).
 */
#include "if_hash.h"

#include <errno.h>

#include <mpsafe/alloc.h>

/* What a vacated slot holds; never an element, never dereferenced. */
static char if_hash_gone;
#define IF_HASH_GONE ((void *)&if_hash_gone)

uint32_t
if_hash_bytes(const void *p, size_t n, uint32_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

void *
if_hash_find(const struct if_hash *t, const struct if_hash_ops *ops,
    uint32_t hash, const void *key)
{
	unsigned i;

	if (t == NULL)
		return NULL;
	i = hash & t->ih_mask;
	for (unsigned n = 0; n <= t->ih_mask; n++, i = (i + 1) & t->ih_mask) {
		/*
		 * Acquire: pairs with if_hash_put()'s release store, so the
		 * element's compared fields are visible (T3).
		 */
		void *e = mpsafe_load_acquire(&t->ih_slot[i]);

		if (e == NULL)
			return NULL; /* T1: nothing further along */
		if (e != IF_HASH_GONE && ops->iho_match(e, key))
			return e;
	}
	return NULL;
}

static void
if_hash_free(struct mpsafe_defer *d)
{
	mpsafe_free((struct if_hash *)(void *)d);
}

static size_t
if_hash_size(unsigned slots)
{
	struct if_hash *t = NULL;

	return sizeof(*t) + (size_t)slots * sizeof(t->ih_slot[0]);
}

void
if_hash_put(struct if_hash *t, void *elem, uint32_t hash)
{
	unsigned i = hash & t->ih_mask;
	void *cur;

	/* Relaxed: slots are written under the owner's lock only. */
	while ((cur = mpsafe_load_relaxed(&t->ih_slot[i])) != NULL &&
	       cur != IF_HASH_GONE)
		i = (i + 1) & t->ih_mask;
	if (cur == NULL)
		t->ih_used++;
	t->ih_live++;
	/* Release: elem's fields first; pairs with if_hash_find() (T3). */
	mpsafe_store_release(&t->ih_slot[i], elem);
}

int
if_hash_reserve(
    MPSAFE_ATOMIC(struct if_hash *) * tp, const struct if_hash_ops *ops)
{
	/* Relaxed: writers are serialised by the owner's lock. */
	struct if_hash *t = mpsafe_load_relaxed(tp), *nt;
	unsigned slots = 16, live = t == NULL ? 0 : t->ih_live;

	if (t != NULL && (t->ih_used + 1) * 2 <= t->ih_mask + 1)
		return 0; /* T2 holds with one more */
	while (slots < (live + 1) * 4)
		slots *= 2;
	nt = mpsafe_calloc(1, if_hash_size(slots));
	if (nt == NULL)
		return ENOMEM;
	nt->ih_mask = slots - 1;
	for (unsigned i = 0; t != NULL && i <= t->ih_mask; i++) {
		/* Relaxed: written under the owner's lock only. */
		void *e = mpsafe_load_relaxed(&t->ih_slot[i]);

		if (e != NULL && e != IF_HASH_GONE)
			if_hash_put(nt, e, ops->iho_hash(e));
	}
	/*
	 * Release: the copied slots are visible to a reader that loads nt
	 * (pairs with the readers' acquire of the owner's pointer).
	 */
	mpsafe_store_release(tp, nt);
	/*
	 * Refused only inside a read section (EDEADLK, against the callers'
	 * rules; diagnostic builds abort): the old table then leaks rather
	 * than be freed under a reader.
	 */
	if (t != NULL)
		(void)mpsafe_defer(
		    &t->ih_defer, if_hash_free, if_hash_size(t->ih_mask + 1));
	return 0;
}

/* The slot of elem in t, found along its probe sequence, or -1. */
static long
if_hash_slot_of(const struct if_hash *t, const void *elem, uint32_t hash)
{
	unsigned i = hash & t->ih_mask;

	for (unsigned n = 0; n <= t->ih_mask; n++, i = (i + 1) & t->ih_mask) {
		/* Relaxed: the owner's lock is held. */
		void *e = mpsafe_load_relaxed(&t->ih_slot[i]);

		if (e == elem)
			return (long)i;
		if (e == NULL)
			return -1;
	}
	return -1;
}

void
if_hash_remove(struct if_hash *t, const void *elem, uint32_t hash)
{
	long i = if_hash_slot_of(t, elem, hash);

	if (i < 0)
		mpsafe_panic("if_hash_remove: %p is not in the table it is "
		             "removed from",
		    elem);
	/*
	 * Relaxed: a tombstone publishes nothing; the owner's grace period
	 * orders it before elem is reused or freed.
	 */
	mpsafe_store_relaxed(&t->ih_slot[i], IF_HASH_GONE);
	t->ih_live--;
}

const char *
if_hash_check(const struct if_hash *t, const struct if_hash_ops *ops,
    unsigned live, const char *(*elem_ok)(const void *elem))
{
	unsigned used = 0, found = 0;

	if (t == NULL)
		return live == 0 ? NULL : "elements but no table";
	for (unsigned i = 0; i <= t->ih_mask; i++) {
		/* Relaxed: the owner's lock is held. */
		void *e = mpsafe_load_relaxed(&t->ih_slot[i]);
		const char *why;

		if (e == NULL)
			continue;
		used++;
		if (e == IF_HASH_GONE)
			continue;
		found++;
		if (if_hash_slot_of(t, e, ops->iho_hash(e)) != (long)i)
			return "an element is not found from its hash";
		if ((why = elem_ok(e)) != NULL)
			return why;
	}
	if (found != live)
		return "the table does not hold exactly the expected elements";
	if (used != t->ih_used || found != t->ih_live)
		return "the used or live count is wrong";
	if (used * 2 > t->ih_mask + 1)
		return "more than half of the slots are used";
	return NULL;
}
