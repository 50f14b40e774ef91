/*
 * lpm.h: the longest-prefix-match trie behind the routing table (private
 * to src/net; see lpm.c for the algorithm).
 */
#ifndef MPSAFE_NET_LPM_H
#define MPSAFE_NET_LPM_H

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/defer.h>
#include <mpsafe/net/route.h>

/*
 * A key: the address as a 128-bit big-endian number, hi holding bits
 * 0..63.  An IPv4 address sits in the top 32 bits of hi.
 */
struct lpm_key {
	uint64_t hi, lo;
};

/*
 * A slot: 0 (no route), an entry value, or a link to a child node.  An
 * entry value is the entry pointer, on 64-bit platforms with its next
 * hop's id in bits 48..63 (rt | id << 48, see rt_nh_slot() in route.c)
 * when the pointer fits in 48 bits; id 0: not encoded, read the entry's
 * next-hop pointer.  LPM_SLOT_PTR() strips the id.  A link is the node
 * pointer | LPM_SLOT_NODE when the child sits at the next level (its
 * depth is the parent's depth + stride), or pointer | LPM_SLOT_NODE |
 * LPM_SLOT_SKIP when levels between are left out (path compression,
 * lpm.c): then the child's key must be compared, and on 64-bit platforms
 * bits 48..52 hold the child's level, so that a lookup can compute the
 * child's slot index without first reading the child's header.  IPv4's
 * 24-8 trie has no levels to leave out, so its links are never skips
 * (route.h's inline lookups rely on it).
 */
typedef uintptr_t lpm_slot_t;
/* One encoding with route.h's inline lookups, which read root slots. */
#define LPM_SLOT_NODE MPSAFE_RT_SLOT_NODE
#define LPM_SLOT_SKIP ((lpm_slot_t)2)
#ifdef MPSAFE_RT_SLOT_IDSHIFT
#define LPM_SLOT_IDSHIFT MPSAFE_RT_SLOT_IDSHIFT
#endif
#define LPM_SLOT_PTRMASK MPSAFE_RT_SLOT_PTRMASK
#define LPM_SLOT_ID(s) MPSAFE_RT_SLOT_ID(s)
#define LPM_SLOT_PTR(s) ((s)&LPM_SLOT_PTRMASK)

/*
 * Whether an entry or node at p can stand in a slot: every decoder
 * (LPM_SLOT_PTR(), route.h's inline lookups) keeps only the bits of
 * LPM_SLOT_PTRMASK, so on 64-bit platforms an address with any bit above
 * 47 set (a tagged pointer, a 57-bit address space) would come back
 * truncated.  The trie and the table refuse such allocations (ENOMEM).
 */
static inline int
lpm_slot_fits(const void *p)
{
	return ((uintptr_t)p & ~LPM_SLOT_PTRMASK) == 0;
}

struct lpm;

struct lpm_node {
	/*
	 * Read by lookups that reach the node through a skip link, so
	 * first in the node.  ln_key: the key bits above ln_depth (the
	 * rest 0), set before the node is linked and never changed.
	 * ln_miss: the value of every address that reaches the node
	 * but whose bits above ln_depth differ from ln_key (the value the
	 * left-out levels' slots would hold; kept in every node, skip-linked
	 * or not, so that a node can become one); written with release
	 * stores, read with acquire loads (pairs with them).
	 */
	struct lpm_key ln_key;
	MPSAFE_ATOMIC(lpm_slot_t) ln_miss;
	uint16_t ln_depth;          /* key bits above this node */
	uint8_t ln_stride;          /* bits this node consumes */
	uint8_t ln_level;           /* index in the stride table */
	uint32_t ln_pidx;           /* slot index in the parent */
	struct lpm_node *ln_parent; /* NULL: a root */
	/* Every linked non-root node, for rt_lpm_fini() (writer). */
	struct lpm_node *ln_next, **ln_prevp;
	uint32_t ln_nprefix; /* prefixes stored here (writer) */
	uint32_t ln_nchild;  /* child nodes (writer) */
	struct lpm *ln_lpm;
	struct mpsafe_defer ln_defer;
	/*
	 * Written by the writer with release stores, read by lookups with
	 * acquire loads (pairs with them).
	 */
	MPSAFE_ATOMIC(lpm_slot_t) ln_slot[];
};

/* Most levels of a trie (IPv6: 16, twelve of 4, eight of 8). */
#define LPM_MAX_LEVELS 21

struct lpm {
	struct lpm_node *l_root;
	/*
	 * IPv4: prefixes shorter than l_split (/0 to /7) live in l_short, a
	 * one-node trie of 256 slots that lookups read when l_root gives
	 * no match (see lpm.c, "Short prefixes").  IPv6: none (l_split 0).
	 */
	struct lpm_node *l_short;
	unsigned l_split;
	struct lpm_node *l_list; /* the non-root nodes (writer) */
	/*
	 * Updates completed (insert, replace, delete), advanced with
	 * release at the end of each (lpm_updated() in lpm.c).  A lookup
	 * that falls back to l_short reads it around its two reads, to see
	 * whether an update ended in between (lpm.c, "Concurrency").
	 */
	MPSAFE_ATOMIC(uint64_t) l_updates;
	/* Per level: key bits above it, bits it consumes (read by lookups). */
	uint8_t l_depth[LPM_MAX_LEVELS];
	uint8_t l_stride[LPM_MAX_LEVELS];
	unsigned l_nlevels;
	unsigned l_maxlen;
	size_t l_nodes;
	size_t l_bytes;
	/* The table's allocator and how to retire an unlinked node. */
	void *(*l_alloc)(size_t, void *);
	void (*l_free)(void *, size_t, void *);
	void *l_arg;
	int l_deferred; /* retire through mpsafe_defer(), else free now */
};

int rt_lpm_init(struct lpm *l, int af, void *(*alloc)(size_t, void *),
    void (*freef)(void *, size_t, void *), void *arg, int deferred);
void rt_lpm_fini(struct lpm *l);
int rt_lpm_insert(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v);
void rt_lpm_replace(struct lpm *l, struct lpm_key k, unsigned plen,
    lpm_slot_t v, lpm_slot_t repl);
void rt_lpm_delete(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v,
    lpm_slot_t repl);
/*
 * rt_lpm_check(l): NULL if the trie's shape is consistent (links, keys,
 * levels, counts, miss values: lpm.c's invariants), else what is wrong.
 * For tests: walks every node, under the writer lock or with no update
 * running.
 */
const char *rt_lpm_check(const struct lpm *l);

/* The key with bits past plen cleared. */
static inline struct lpm_key
lpm_key_mask(struct lpm_key k, unsigned plen)
{
	if (plen == 0) {
		k.hi = 0;
		k.lo = 0;
	} else if (plen <= 64) {
		k.hi &= ~(uint64_t)0 << (64 - plen);
		k.lo = 0;
	} else {
		k.lo &= ~(uint64_t)0 << (128 - plen);
	}
	return k;
}

/* Slot index of key k in a node of depth d and stride s. */
static inline unsigned
lpm_index_at(unsigned d, unsigned s, struct lpm_key k)
{
	uint64_t w = d < 64 ? k.hi >> (64 - d - s) : k.lo >> (128 - d - s);
	return (unsigned)(w & ((UINT64_C(1) << s) - 1));
}

static inline unsigned
lpm_index(const struct lpm_node *n, struct lpm_key k)
{
	return lpm_index_at(n->ln_depth, n->ln_stride, k);
}

/* The node a link (a slot with LPM_SLOT_NODE) points to. */
static inline struct lpm_node *
lpm_slot_node(lpm_slot_t s)
{
	return (struct lpm_node *)(LPM_SLOT_PTR(s) &
	                           ~(LPM_SLOT_NODE | LPM_SLOT_SKIP));
}

/* The level of node n, reached through skip link s. */
static inline unsigned
lpm_skip_level(lpm_slot_t s, const struct lpm_node *n)
{
#ifdef LPM_SLOT_IDSHIFT
	(void)n;
	return (unsigned)(s >> LPM_SLOT_IDSHIFT);
#else
	(void)s;
	return n->ln_level;
#endif
}

/* Whether the first d bits of k are key's (which has no bits past d). */
static inline int
lpm_key_has_prefix(struct lpm_key k, struct lpm_key key, unsigned d)
{
	struct lpm_key m = lpm_key_mask(k, d);

	return m.hi == key.hi && m.lo == key.lo;
}

/*
 * The value of k's last slot in the main trie (0: no match there).  The
 * level, and with it the slot index, is known before a node is read: a
 * plain link goes one level down, a skip link carries its child's level
 * (64-bit platforms), so the load of the slot does not wait for the
 * node's header; a skip link's key comparison reads the header, in
 * parallel.
 */
static inline lpm_slot_t
lpm_walk(const struct lpm *l, struct lpm_key k)
{
	const struct lpm_node *n = l->l_root;
	unsigned level = 0;
	lpm_slot_t s;

	for (;;) {
		/*
		 * Acquire: pairs with the writer's release store of the
		 * slot, so a new node's slots and key and a new entry's
		 * fields are seen initialised.
		 */
		s = mpsafe_load_acquire(&n->ln_slot[lpm_index_at(
		    l->l_depth[level], l->l_stride[level], k)]);
		if (!(s & LPM_SLOT_NODE))
			return s;
		n = lpm_slot_node(s);
		if (!(s & LPM_SLOT_SKIP)) {
			level++;
			continue;
		}
		level = lpm_skip_level(s, n);
		if (!lpm_key_has_prefix(k, n->ln_key, l->l_depth[level]))
			/* Acquire: pairs with the writer's release store. */
			return mpsafe_load_acquire(&n->ln_miss);
	}
}

/* lpm_walk() for an IPv4 address a (host order), unrolled for 24-8. */
static inline lpm_slot_t
lpm_walk4(const struct lpm *l, uint32_t a)
{
	lpm_slot_t s;

	/*
	 * Acquire loads: pair with the writer's release stores.  The
	 * root's links are never skips (lpm_slot_t).
	 */
	s = mpsafe_load_acquire(&l->l_root->ln_slot[a >> 8]);
	if (MPSAFE_UNLIKELY(s & LPM_SLOT_NODE))
		s = mpsafe_load_acquire(
		    &((const struct lpm_node *)(s - LPM_SLOT_NODE))
		         ->ln_slot[a & 0xff]);
	return s;
}

/*
 * lpm_short4(l, a): the result of an IPv4 lookup whose main-trie walk
 * found no match: read the short slot and walk the main trie again; a
 * match there is the answer, else the short slot, unless an update
 * ended between the two reads (l_updates moved), which may have paired
 * them wrongly: then again (lpm.c, "Concurrency").  Never waits for a
 * writer.  Rare in a full table.
 */
static inline lpm_slot_t
lpm_short4(const struct lpm *l, uint32_t a)
{
	for (;;) {
		/*
		 * Acquire: pairs with lpm_updated()'s release, so the slots
		 * read below are at least as new as the updates counted.
		 */
		uint64_t u = mpsafe_load_acquire(&l->l_updates);
		/* Acquire: as in lpm_walk4(), and orders the walk after it. */
		lpm_slot_t sh =
		    mpsafe_load_acquire(&l->l_short->ln_slot[a >> 24]);
		lpm_slot_t s = lpm_walk4(l, a);

		if (s != 0)
			return s;
		/*
		 * Relaxed: the acquire loads above keep it after them; an
		 * update whose slot store they saw is counted here if an
		 * earlier update was (file comment of lpm.c).
		 */
		if (mpsafe_load_relaxed(&l->l_updates) == u)
			return sh;
	}
}

/*
 * lpm_lookup_slot(l, k): the entry value (an entry pointer and maybe a
 * next-hop id, see lpm_slot_t) of the longest prefix matching k, or 0.
 * Inside a read section (or under the table lock).  Never blocks.
 */
static inline lpm_slot_t
lpm_lookup_slot(const struct lpm *l, struct lpm_key k)
{
	lpm_slot_t s = lpm_walk(l, k);

	if (s != 0 || l->l_short == NULL)
		return s;
	/* No match at /8 or longer in IPv4 (the top 32 bits of hi). */
	return lpm_short4(l, (uint32_t)(k.hi >> 32));
}

/* lpm_lookup(l, k): the entry of lpm_lookup_slot(), or NULL. */
static inline struct rt_entry *
lpm_lookup(const struct lpm *l, struct lpm_key k)
{
	return (struct rt_entry *)LPM_SLOT_PTR(lpm_lookup_slot(l, k));
}

/*
 * lpm_lookup4_slot(l, a): lpm_lookup_slot() for an IPv4 address a (host
 * order): the forwarding fast path.  One load for a match up to /24, two
 * for a longer one; the short node (small, hot) only when neither
 * matches.  The branch on that is measured to cost nothing, where
 * reading the short slot every time and selecting without a branch
 * cost 40-65%.
 */
static inline lpm_slot_t
lpm_lookup4_slot(const struct lpm *l, uint32_t a)
{
	lpm_slot_t s = lpm_walk4(l, a);

	if (MPSAFE_UNLIKELY(s == 0))
		s = lpm_short4(l, a);
	return s;
}

/* lpm_lookup4(l, a): the entry of lpm_lookup4_slot(), or NULL. */
static inline struct rt_entry *
lpm_lookup4(const struct lpm *l, uint32_t a)
{
	return (struct rt_entry *)LPM_SLOT_PTR(lpm_lookup4_slot(l, a));
}

/* Largest batch of lpm_lookup4_bulk() (its scratch array). */
#define LPM_BULK_MAX 64

/* A hint to fetch the line holding p; no effect on the memory model. */
#if defined(__GNUC__) || defined(__clang__)
#define LPM_PREFETCH(p) __builtin_prefetch((p), 0, 3)
/* Inlined into each caller even at -O1 (a fast path, and its arrays). */
#define LPM_ALWAYS_INLINE __attribute__((always_inline))
#else
#define LPM_PREFETCH(p) ((void)(p))
#define LPM_ALWAYS_INLINE
#endif

/*
 * lpm_lookup4_bulk_slots(l, a, n, s): s[i] = lpm_lookup4_slot(l, a[i])
 * for i < n (host order addresses), the memory accesses of the batch
 * overlapped: first prefetch the root slot of every address, then read
 * them (the first reads wait for a miss, the later ones find their lines
 * arriving), prefetching the node slot of each address that continues
 * into a node; then read those.  n <= LPM_BULK_MAX.  Inside a read
 * section (or under the table lock).  Never blocks.
 */
static inline LPM_ALWAYS_INLINE void
lpm_lookup4_bulk_slots(
    const struct lpm *l, const uint32_t *a, size_t n, lpm_slot_t *s)
{
	const struct lpm_node *root = l->l_root;
	size_t i;

	for (i = 0; i < n; i++)
		LPM_PREFETCH(&root->ln_slot[a[i] >> 8]);
	/* Root slots.  Acquire: pairs with the writer's release stores. */
	for (i = 0; i < n; i++) {
		s[i] = mpsafe_load_acquire(&root->ln_slot[a[i] >> 8]);
		if (s[i] & LPM_SLOT_NODE)
			LPM_PREFETCH(
			    &((const struct lpm_node *)(s[i] - LPM_SLOT_NODE))
			         ->ln_slot[a[i] & 0xff]);
	}
	/* Node slots, and short prefixes.  Acquire: as above. */
	for (i = 0; i < n; i++) {
		if (s[i] & LPM_SLOT_NODE)
			s[i] = mpsafe_load_acquire(
			    &((const struct lpm_node *)(s[i] - LPM_SLOT_NODE))
			         ->ln_slot[a[i] & 0xff]);
		if (s[i] == 0)
			s[i] = lpm_short4(l, a[i]);
	}
}

/*
 * lpm_lookup4_bulk(l, a, n, rts): rts[i] = lpm_lookup4(l, a[i]) for i <
 * n, through lpm_lookup4_bulk_slots(); at the end the line of each
 * entry's rt_flags and rt_gateway (one line, see route.h) is prefetched,
 * so the caller's reads of them hit.  n <= LPM_BULK_MAX.  Inside a read
 * section (or under the table lock).  Never blocks.
 */
static inline void
lpm_lookup4_bulk(
    const struct lpm *l, const uint32_t *a, size_t n, struct rt_entry **rts)
{
	lpm_slot_t s[LPM_BULK_MAX];
	size_t i;

	lpm_lookup4_bulk_slots(l, a, n, s);
	for (i = 0; i < n; i++) {
		rts[i] = (struct rt_entry *)LPM_SLOT_PTR(s[i]);
		if (rts[i] != NULL) {
			LPM_PREFETCH(&rts[i]->rt_flags); /* and rt_gateway */
		}
	}
}

/*
 * lpm_lookup_bulk_slots(l, k, n, s): s[i] = lpm_lookup_slot(l, k[i]) for
 * i < n, for a trie without a short node (IPv6), the batch walked level
 * by level so that the misses of its addresses overlap: each round
 * reads the slot that every unfinished address prefetched in the round
 * before, and prefetches the next one (its index is known from the
 * link: lpm_walk()); an address that crossed a skip link prefetches the
 * child's header too and compares its key in the next round.  Each
 * address's loads are those of lpm_walk(), in its order.  n <=
 * LPM_BULK_MAX.  Inside a read section (or under the table lock).
 * Never blocks.
 */
static inline LPM_ALWAYS_INLINE void
lpm_lookup_bulk_slots(
    const struct lpm *l, const struct lpm_key *k, size_t n, lpm_slot_t *s)
{
	const struct lpm_node *node[LPM_BULK_MAX];
	uint8_t level[LPM_BULK_MAX], check[LPM_BULK_MAX];
	size_t i, left = n;

	for (i = 0; i < n; i++) {
		node[i] = l->l_root;
		level[i] = 0;
		check[i] = 0;
		LPM_PREFETCH(&l->l_root->ln_slot[lpm_index_at(
		    l->l_depth[0], l->l_stride[0], k[i])]);
	}
	while (left > 0) {
		left = 0;
		for (i = 0; i < n; i++) {
			const struct lpm_node *c = node[i];
			unsigned lv = level[i];
			lpm_slot_t v;

			if (c == NULL)
				continue;
			if (check[i] && !lpm_key_has_prefix(
			                    k[i], c->ln_key, l->l_depth[lv])) {
				/* Acquire: pairs with the writer's release. */
				s[i] = mpsafe_load_acquire(&c->ln_miss);
				node[i] = NULL;
				continue;
			}
			/* Acquire: as in lpm_walk(). */
			v = mpsafe_load_acquire(&c->ln_slot[lpm_index_at(
			    l->l_depth[lv], l->l_stride[lv], k[i])]);
			if (!(v & LPM_SLOT_NODE)) {
				s[i] = v;
				node[i] = NULL;
				continue;
			}
			c = lpm_slot_node(v);
			check[i] = (v & LPM_SLOT_SKIP) != 0;
			lv = check[i] ? lpm_skip_level(v, c) : lv + 1;
			if (check[i])
				LPM_PREFETCH(&c->ln_key);
			LPM_PREFETCH(&c->ln_slot[lpm_index_at(
			    l->l_depth[lv], l->l_stride[lv], k[i])]);
			node[i] = c;
			level[i] = (uint8_t)lv;
			left++;
		}
	}
}

/*
 * lpm_lookup_bulk(l, k, n, rts): rts[i] = lpm_lookup(l, k[i]) for i < n
 * through lpm_lookup_bulk_slots(), each entry's rt_flags and rt_gateway
 * line prefetched at the end (as lpm_lookup4_bulk()).  Same context.
 */
static inline void
lpm_lookup_bulk(const struct lpm *l, const struct lpm_key *k, size_t n,
    struct rt_entry **rts)
{
	lpm_slot_t s[LPM_BULK_MAX];
	size_t i;

	lpm_lookup_bulk_slots(l, k, n, s);
	for (i = 0; i < n; i++) {
		rts[i] = (struct rt_entry *)LPM_SLOT_PTR(s[i]);
		if (rts[i] != NULL) {
			LPM_PREFETCH(&rts[i]->rt_flags); /* and rt_gateway */
		}
	}
}

#endif /* MPSAFE_NET_LPM_H */
