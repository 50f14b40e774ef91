/*
 * if_hash.h: library-private hash tables of pointers that readers search
 * without a lock (the interface collection's name and address tables,
 * if.c).  if_hash.c explains the algorithm and its invariants.
 *
 * Writers hold the lock of the table's owner: if_hash_reserve(),
 * if_hash_put() and if_hash_remove() assume it.  Readers call
 * if_hash_find() inside a read section, on the table they loaded with
 * acquire from the owner's pointer.
 */
#ifndef MPSAFE_NET_IF_HASH_H
#define MPSAFE_NET_IF_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/defer.h>
#include <mpsafe/thread.h>

/* A table: open addressing, linear probing, 2^k slots (mask 2^k - 1). */
struct if_hash {
	struct mpsafe_defer ih_defer; /* retirement after a rebuild */
	unsigned ih_mask;
	unsigned ih_used; /* slots not NULL: elements and tombstones */
	unsigned ih_live; /* elements */
	MPSAFE_ATOMIC(void *) ih_slot[];
};

/* How a table's owner hashes and matches its elements. */
struct if_hash_ops {
	/* The hash of an element, as if_hash_find()'s caller computes it. */
	uint32_t (*iho_hash)(const void *elem);
	/* Whether an element matches the key passed to if_hash_find(). */
	bool (*iho_match)(const void *elem, const void *key);
};

/* if_hash_bytes(p, n, h): FNV-1a of n bytes at p, continuing from h. */
uint32_t if_hash_bytes(const void *p, size_t n, uint32_t h);

/* The starting value of if_hash_bytes()' h. */
#define IF_HASH_INIT 2166136261u

/*
 * if_hash_find(t, ops, hash, key)
 *
 *	The first element of t along hash's probe sequence that matches key
 *	(ops->iho_match), or NULL; t may be NULL.  Inside a read section, or
 *	with the owner's lock held.  Never blocks.
 */
void *if_hash_find(const struct if_hash *t, const struct if_hash_ops *ops,
    uint32_t hash, const void *key);

/*
 * if_hash_reserve(tp, ops)
 *
 *	Make room in *tp for one more element: allocate the table, or
 *	rebuild it from its elements (a quarter full afterwards, at most)
 *	when one more would fill half of its slots, publish the new table
 *	with a release store and retire the old one through mpsafe_defer()
 *	(freed after a grace period).  Returns 0, or ENOMEM with *tp
 *	unchanged.  Owner's lock held.  May wait in mpsafe_defer() (its
 *	pending-memory bound).
 */
int if_hash_reserve(
    MPSAFE_ATOMIC(struct if_hash *) * tp, const struct if_hash_ops *ops);

/*
 * if_hash_put(t, elem, hash)
 *
 *	Store elem, every field a reader may read already set, in the first
 *	free or vacated slot of hash's probe sequence (a release store).
 *	if_hash_reserve() made room.  Owner's lock held.  Never blocks.
 */
void if_hash_put(struct if_hash *t, void *elem, uint32_t hash);

/*
 * if_hash_remove(t, elem, hash)
 *
 *	Turn elem's slot into a tombstone.  elem is in t.  Readers may find
 *	elem until a grace period has passed.  Owner's lock held.  Never
 *	blocks.
 */
void if_hash_remove(struct if_hash *t, const void *elem, uint32_t hash);

/*
 * if_hash_check(t, ops, live, elem_ok)
 *
 *	NULL if t is consistent and holds live elements, each found from
 *	its hash and accepted by elem_ok (which returns NULL or what is
 *	wrong), else what is wrong.  For tests; owner's lock held.
 */
const char *if_hash_check(const struct if_hash *t,
    const struct if_hash_ops *ops, unsigned live,
    const char *(*elem_ok)(const void *elem));

#endif /* MPSAFE_NET_IF_HASH_H */
