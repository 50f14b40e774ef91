/*
 * lpm.c: a multibit trie with leaf pushing, the lookup structure of the
 * routing table, one per address family.
 *
 * Shape.  A node consumes a fixed number of key bits (its stride) and
 * has 2^stride slots; the strides per level are IPv4 24-8 and IPv6 16,
 * then twelve levels of 4 bits (down to /64), then eight of 8.  The root
 * always exists.  A slot holds a link to a child node (see "Path
 * compression"), or the entry value of the longest prefix that covers
 * the whole of the slot's address range (0: none).  An entry value is
 * the entry pointer, with on 64-bit platforms its next hop's id in bits
 * 48..63 when the pointer fits in 48 bits (id 0: not encoded; see lpm.h
 * and route.c): lookups of the next hop alone then read no entry.  The
 * trie compares and orders entry values by their pointer
 * (LPM_SLOT_PTR()), never by the id bits.  That is leaf pushing
 * (controlled prefix expansion): a prefix of length L stored in a node
 * of depth d and stride s (d < L <= d + s; the root also takes L = 0)
 * fills the 2^(d+s-L) slots it covers, and inside child nodes under
 * those slots every slot whose entry is shorter than L.  A lookup
 * therefore reads one slot per node on its path and stops at the first
 * slot that is not a link: IPv4 takes one load up to /24 and two
 * beyond.
 *
 * Path compression.  A node exists only at a level that stores a prefix
 * or where paths part: a link may leave levels out (a skip link), and
 * the node it reaches keeps the key bits above it (ln_key) and the value
 * the left-out levels' slots would all hold (ln_miss: the longest prefix
 * covering the whole parent slot, stored at the parent or above).  A
 * lookup through a skip link compares its key with ln_key and, if they
 * differ, its answer is ln_miss.  So a lone /48 under a /32 is one
 * node below the /32's, not four, and random IPv6 tables, whose paths
 * part near the root, take three or four loads where the full path took
 * up to seven (IPv4's 24-8 has no levels to leave out).  An insert whose
 * prefix belongs to a left-out level, or whose path leaves the linked
 * node's key there, puts a node of that level between (lpm_split()); a
 * delete that leaves a node with no prefix and one child links the child
 * from the grandparent instead (lpm_prune()).  Small strides below the
 * root cost no loads on lone paths and keep nodes small (a 4-bit node
 * is about 230 bytes), so IPv6 uses 4 bits down to /64: measured on the
 * project's 2-vCPU VM, 200k generated prefixes, the IPv6 trie took 50
 * MiB with 16-4..., 112 MiB with 16-8-8-4...-8, 369 MiB without path
 * compression; lookups 0.3 us against 0.9-1.8 us.
 *
 * Why 24-8 for IPv4 (DIR-24-8's shape).  With a 16-bit root every lookup
 * made two dependent loads, the root's (cached) and then the node's (a
 * miss).  Measured on a 2-vCPU EPYC VM, 1M prefixes, single lookups in a
 * loop: the second load cannot start until the first returns, which
 * (we infer; the VM has no counters) halves the misses a core keeps in
 * flight; the same slot read from a flat 2^24-slot array cost 7-8 ns
 * against 13-16 ns through a 16-bit root.  The
 * root is 2^24 slots (128 MiB on 64-bit platforms) allocated once; the
 * table's allocator maps it fresh and zero, so only the pages that
 * routes write are ever touched.
 *
 * Short prefixes.  A /L prefix at the 24-bit root fills 2^(24-L) slots,
 * 16M for a default route.  So IPv4 prefixes shorter than /8 (l_split)
 * live in l_short instead, a 256-slot node of their own with the same
 * leaf pushing, and the main trie never holds one: a delete whose
 * covering prefix is short gives its slots 0, not the short entry.  A
 * lookup that ends on 0 in the main trie reads the short node's slot.
 * The costliest IPv4 update is then a /8's 65536 slots (as in DIR-24-8).
 *
 * Invariants (writer side, under the table's writer lock):
 *  I1 every slot holds the longest prefix covering its range among the
 *     prefixes stored at this node or above (of the trie it is in),
 *     unless it holds a node; and every slot holding entry rt holds the
 *     same value, rt's current value (rt | id << 48 of rt's next hop, or
 *     rt), which rt_lpm_replace() changes in all of them at once;
 *  I2 a node other than a root stores a prefix or has two children or
 *     more; one left with neither prefix nor child gives its parent slot
 *     its miss value (every one of its slots holds it) and is removed,
 *     one left with one child and no prefix is left out (the parent slot
 *     links the child);
 *  I3 a node is filled completely before it is published, and removed
 *     from the trie before it is retired;
 *  I4 a node's ln_miss is the longest prefix covering the whole of its
 *     parent slot's range stored at the parent or above (updates that
 *     push or pull such a prefix through the parent slot change it with
 *     the node's slots); a slot of the node that no prefix stored at
 *     the node covers holds the same value.
 *
 * Concurrency.  Each slot changes by one release store, from one valid
 * value to another: lookups (acquire loads) see for each slot either the
 * old or the new value.  An address is decided by its slot in the main
 * trie, or when that is 0 by its slot in the short node, and an update
 * changes only one of the two (its prefix is in one trie).  A lookup
 * that finds 0 in the main trie must not pair a main slot and a short
 * slot that the table never held together: say the main slot's 0 from
 * before a /16's add with the short slot after the delete of the /4 that
 * the /16 replaced, a miss for an address covered at every moment.  Two
 * loads cannot be made simultaneous, and a reader may stall between any
 * two (preempted, or an emulator's slow thread), so the trie counts the
 * updates it completes: l_updates, advanced with release after each
 * update's stores (lpm_updated()).  The lookup (lpm_short4()) reads
 * l_updates (acquire), the short slot, walks the main trie again
 * (acquire loads, in that order), and reads l_updates once more.  A
 * match in the second walk is the answer.  Otherwise, if l_updates is
 * unchanged, the pair is one the table held: if the reads saw a store of
 * an update Y and missed one of an earlier update X, then X's increment
 * is sequenced before Y's release store that a read saw, so the second
 * read of l_updates counts X; and the first did not, or its acquire
 * would have shown X's stores to the reads after it.  At most one update,
 * the one in progress, can then lie between the reads, and it changes
 * one of the two slots, so the pair is the table's before or after it.
 * If l_updates moved, the lookup starts again: it retries only when an
 * update ended during its few loads, and never waits for a writer (one
 * preempted in the middle of an update leaves the count alone).  An
 * entry value changed by rt_lpm_replace() (a next-hop change) is such an
 * update too: a lookup sees the old id or the new one.  A new node is
 * filled before the release store that links it (I3); a node unlinked
 * by a delete is retired through mpsafe_defer() when lookups run without
 * lock (freed after a grace period, with the pending memory bounded by
 * the defer limit), or freed at once when they run under the table's
 * rwlock (l_deferred 0).  Every linked non-root node is also on l_list,
 * so that rt_lpm_fini() frees them without scanning 2^24 root slots.
 *
 * Skip links and stalled lookups.  A node's key never changes, and its
 * miss value, like a slot, changes by release stores between values that
 * hold for the range it stands for.  That range is the parent slot's
 * outside the node's key, and it must not shrink while the node is
 * linked: a lookup that read the old link may go on much later.  Putting
 * a node m between a parent slot and its skip child c would shrink c's
 * range to one slot of m, and a prefix then stored in that slot of m
 * would reach c's miss value, where the stalled lookup (its address in
 * the old range, maybe outside the prefix) would read it.  So the insert
 * links a copy of c under m and retires c, whose values stay those of
 * the table before the update (test_lpm's stalled lookup checks this).
 * Leaving a node out only widens its child's range, over left-out
 * levels that store nothing, where the child's miss value already holds
 * (I4): no copy is needed.  IPv4 has no skip links, so lpm_short4()'s
 * pairing argument above is unchanged.
 *
 * Costs.  Insert and delete touch 2^(d+s-L) slots plus the slots of the
 * child nodes under them: one slot for a /24, 256 for a /16, 65536 for
 * a /8, fewer in the short node (at most 256); a split also copies one
 * node.  Memory: 128 MiB for the IPv4 root (touched as routes write it),
 * 512 KiB for the IPv6 root, 2 KiB per 8-bit node, 128 B per 4-bit
 * node, plus a header of about 100 bytes.
 */
#include "lpm.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/thread.h>

static const uint8_t lpm_strides_inet[] = {24, 8};
static const uint8_t lpm_strides_inet6[LPM_MAX_LEVELS] = {
    16, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8};

/* IPv4 prefixes shorter than this live in l_short's 2^8 slots. */
#define LPM_SHORT_BITS 8

static size_t
lpm_node_size(unsigned stride)
{
	return sizeof(struct lpm_node) + (sizeof(lpm_slot_t) << stride);
}

/*
 * A node of the given level whose key is k's first bits, every slot and
 * its miss value v (not linked yet), or NULL (out of memory).  The
 * allocator returns zeroed memory, so a node filled with 0 (a root: the
 * IPv4 one is 128 MiB, mapped fresh) writes nothing but its header.
 */
static struct lpm_node *
lpm_node_alloc(struct lpm *l, unsigned level, struct lpm_key k, lpm_slot_t v)
{
	unsigned stride =
	    level < l->l_nlevels ? l->l_stride[level] : LPM_SHORT_BITS;
	size_t size = lpm_node_size(stride), i;
	struct lpm_node *n = l->l_alloc(size, l->l_arg);

	if (n == NULL)
		return NULL;
	if (!lpm_slot_fits(n)) { /* unusable in a slot: as out of memory */
		l->l_free(n, size, l->l_arg);
		return NULL;
	}
	n->ln_level = (uint8_t)level;
	n->ln_stride = (uint8_t)stride;
	n->ln_depth = level < l->l_nlevels ? l->l_depth[level] : 0;
	n->ln_key = lpm_key_mask(k, n->ln_depth);
	n->ln_lpm = l;
	/* Relaxed: published by the release store that links the node. */
	mpsafe_store_relaxed(&n->ln_miss, v);
	if (v != 0)
		for (i = 0; i < ((size_t)1 << stride); i++)
			mpsafe_store_relaxed(&n->ln_slot[i], v);
	return n;
}

/* Nodes up to this size are poisoned when freed (not the IPv4 root). */
#define LPM_POISON_MAX ((size_t)64 << 10)

static void
lpm_node_free(struct lpm *l, struct lpm_node *n)
{
	size_t size = lpm_node_size(n->ln_stride);

	if (size <= LPM_POISON_MAX)
		memset(n, 0x6b, size); /* poison */
	l->l_free(n, size, l->l_arg);
}

static void
lpm_node_reclaim(struct mpsafe_defer *d)
{
	struct lpm_node *n =
	    (struct lpm_node *)(void *)((char *)d -
	                                offsetof(struct lpm_node, ln_defer));

	lpm_node_free(n->ln_lpm, n);
}

/* Unlinked n goes after a grace period, or now (see the file comment). */
static void
lpm_node_retire(struct lpm *l, struct lpm_node *n)
{
	*n->ln_prevp = n->ln_next;
	if (n->ln_next != NULL)
		n->ln_next->ln_prevp = n->ln_prevp;
	l->l_nodes--;
	l->l_bytes -= lpm_node_size(n->ln_stride);
	if (l->l_deferred) {
		if (mpsafe_defer(&n->ln_defer, lpm_node_reclaim,
		        lpm_node_size(n->ln_stride)) != 0)
			mpsafe_panic("lpm: mpsafe_defer refused a node");
	} else {
		lpm_node_free(l, n);
	}
}

int
rt_lpm_init(struct lpm *l, int af, void *(*alloc)(size_t, void *),
    void (*freef)(void *, size_t, void *), void *arg, int deferred)
{
	static const struct lpm_key k0;
	const uint8_t *strides;
	unsigned i, d;

	memset(l, 0, sizeof(*l));
	if (af == AF_INET) {
		strides = lpm_strides_inet;
		l->l_nlevels = sizeof(lpm_strides_inet);
		l->l_maxlen = 32;
		l->l_split = LPM_SHORT_BITS;
	} else {
		strides = lpm_strides_inet6;
		l->l_nlevels = sizeof(lpm_strides_inet6);
		l->l_maxlen = 128;
	}
	for (i = 0, d = 0; i < l->l_nlevels; d += strides[i++]) {
		l->l_depth[i] = (uint8_t)d;
		l->l_stride[i] = strides[i];
	}
	l->l_alloc = alloc;
	l->l_free = freef;
	l->l_arg = arg;
	l->l_deferred = deferred;
	l->l_root = lpm_node_alloc(l, 0, k0, 0);
	if (l->l_root == NULL)
		return ENOMEM;
	l->l_nodes = 1;
	l->l_bytes = lpm_node_size(l->l_root->ln_stride);
	if (l->l_split != 0) {
		/* Level l_nlevels: the short node (see lpm_node_alloc()). */
		l->l_short = lpm_node_alloc(l, l->l_nlevels, k0, 0);
		if (l->l_short == NULL) {
			lpm_node_free(l, l->l_root);
			l->l_root = NULL;
			return ENOMEM;
		}
		l->l_nodes++;
		l->l_bytes += lpm_node_size(LPM_SHORT_BITS);
	}
	return 0;
}

/* No lookups may run: frees every node at once. */
void
rt_lpm_fini(struct lpm *l)
{
	while (l->l_list != NULL) {
		struct lpm_node *n = l->l_list;

		l->l_list = n->ln_next;
		lpm_node_free(l, n);
	}
	if (l->l_short != NULL)
		lpm_node_free(l, l->l_short);
	if (l->l_root != NULL)
		lpm_node_free(l, l->l_root);
	l->l_short = NULL;
	l->l_root = NULL;
}

/* The root of the trie that stores prefixes of length plen. */
static struct lpm_node *
lpm_root(const struct lpm *l, unsigned plen)
{
	return plen < l->l_split ? l->l_short : l->l_root;
}

static unsigned
lpm_plen(lpm_slot_t s)
{
	return ((const struct rt_entry *)LPM_SLOT_PTR(s))->rt_plen;
}

/* The first key bit past node n (the depth of its children). */
static unsigned
lpm_end(const struct lpm_node *n)
{
	return (unsigned)n->ln_depth + n->ln_stride;
}

/* The level whose nodes consume key bit b. */
static unsigned
lpm_level_of(const struct lpm *l, unsigned b)
{
	unsigned level = 0;

	while ((unsigned)l->l_depth[level] + l->l_stride[level] <= b)
		level++;
	return level;
}

/* The link from parent p to its child c: plain, or a skip (lpm_slot_t). */
static lpm_slot_t
lpm_link(const struct lpm_node *p, const struct lpm_node *c)
{
	if (c->ln_depth == lpm_end(p))
		return (lpm_slot_t)c | LPM_SLOT_NODE;
#ifdef LPM_SLOT_IDSHIFT
	return (lpm_slot_t)c | LPM_SLOT_NODE | LPM_SLOT_SKIP |
	       (lpm_slot_t)c->ln_level << LPM_SLOT_IDSHIFT;
#else
	return (lpm_slot_t)c | LPM_SLOT_NODE | LPM_SLOT_SKIP;
#endif
}

/* The first bit at which keys a and b differ (128: none). */
static unsigned
lpm_key_diff(struct lpm_key a, struct lpm_key b)
{
	uint64_t x = a.hi != b.hi ? a.hi ^ b.hi : a.lo ^ b.lo;
	unsigned base = a.hi != b.hi ? 0 : 64;

	if (x == 0)
		return 128;
#if defined(__GNUC__) || defined(__clang__)
	return base + (unsigned)__builtin_clzll(x);
#else
	while (!(x & UINT64_C(1) << 63)) {
		x <<= 1;
		base++;
	}
	return base;
#endif
}

/* Count a new node c as part of l (writer; c not linked yet). */
static void
lpm_list_add(struct lpm *l, struct lpm_node *c)
{
	c->ln_next = l->l_list;
	c->ln_prevp = &l->l_list;
	if (l->l_list != NULL)
		l->l_list->ln_prevp = &c->ln_next;
	l->l_list = c;
	l->l_nodes++;
	l->l_bytes += lpm_node_size(c->ln_stride);
}

/* Make c the child of p in slot i (writer; the link is not stored). */
static void
lpm_adopt(struct lpm_node *p, size_t i, struct lpm_node *c)
{
	c->ln_parent = p;
	c->ln_pidx = (uint32_t)i;
}

/*
 * Give slot i of n, and its subtree, entry value v of length plen (I1):
 * a child's slots, and its miss value (the slots of the levels it
 * leaves out, all in slot i's range).
 */
static void
lpm_push(struct lpm_node *n, size_t i, lpm_slot_t v, unsigned plen)
{
	lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[i]);

	if (s & LPM_SLOT_NODE) {
		struct lpm_node *c = lpm_slot_node(s);
		/* Relaxed: the writer's own store (writer lock held). */
		lpm_slot_t m = mpsafe_load_relaxed(&c->ln_miss);
		size_t j;

		if (m == 0 || lpm_plen(m) < plen)
			/* Release: pairs with lpm_walk()'s acquire load. */
			mpsafe_store_release(&c->ln_miss, v);
		for (j = 0; j < ((size_t)1 << c->ln_stride); j++)
			lpm_push(c, j, v, plen);
	} else if (s == 0 || lpm_plen(s) < plen) {
		/* Release: pairs with lpm_lookup()'s acquire load. */
		mpsafe_store_release(&n->ln_slot[i], v);
	}
}

/*
 * Replace entry value v by repl (another entry, or the same entry with
 * another id, or 0) in slot i of n and its subtree, miss values too.
 */
static void
lpm_pull(struct lpm_node *n, size_t i, lpm_slot_t v, lpm_slot_t repl)
{
	lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[i]);

	if (s & LPM_SLOT_NODE) {
		struct lpm_node *c = lpm_slot_node(s);
		/* Relaxed: the writer's own store (writer lock held). */
		lpm_slot_t m = mpsafe_load_relaxed(&c->ln_miss);
		size_t j;

		if (m != 0 && LPM_SLOT_PTR(m) == LPM_SLOT_PTR(v))
			/* Release: pairs with lpm_walk()'s acquire load. */
			mpsafe_store_release(&c->ln_miss, repl);
		for (j = 0; j < ((size_t)1 << c->ln_stride); j++)
			lpm_pull(c, j, v, repl);
	} else if (s != 0 && LPM_SLOT_PTR(s) == LPM_SLOT_PTR(v)) {
		/* Release: pairs with lpm_lookup()'s acquire load. */
		mpsafe_store_release(&n->ln_slot[i], repl);
	}
}

/*
 * The end of an update of l (writer lock held): count it for lookups
 * that pair the main trie with the short node (lpm_short4()).  Release:
 * the update's slot stores happen before a lookup's acquire load that
 * reads the new count; and the increment is sequenced before the next
 * update's release stores, so a lookup that sees one of those sees it.
 */
static void
lpm_updated(struct lpm *l)
{
	atomic_fetch_add_explicit(&l->l_updates, 1, memory_order_release);
}

/*
 * Diagnostic builds: the callers (route.c, rt_check_info()) pass only
 * prefixes no longer than the family's addresses and keys with no bits
 * past plen; anything else would index past a node's slots.
 */
static void
lpm_check_prefix(
    const struct lpm *l, struct lpm_key k, unsigned plen, const char *fn)
{
#ifdef MPSAFE_DIAGNOSTIC
	struct lpm_key m;

	if (plen > l->l_maxlen)
		mpsafe_panic("%s: prefix length %u beyond the family's %u bits",
		    fn, plen, l->l_maxlen);
	m = lpm_key_mask(k, plen);
	if (m.hi != k.hi || m.lo != k.lo)
		mpsafe_panic(
		    "%s: key has bits set past its prefix length %u", fn, plen);
#else
	(void)l;
	(void)k;
	(void)plen;
	(void)fn;
#endif
}

/*
 * Slot i of n links skip child c, whose path key k (of prefix length
 * plen) leaves above c's depth, or which the prefix ends above (it
 * would be stored at a level that c's link leaves out).  Put a node m
 * of that level between them: m's key is k's (and c's) first bits, its
 * slots and miss value are c's miss value (the value of the levels left
 * out), its slot on c's path links a copy of c, and, if k/plen goes
 * below m, another of its slots links a new node q of plen's level.
 * Then link m in place of c and retire c.  c is copied, not moved:
 * c's miss value stands for the whole of n's slot i outside c's key,
 * and a lookup that read the old link may still read it; under m that
 * range shrinks to m's slot, so a prefix pushed into m's slot would
 * reach c's miss value and show it to addresses outside the prefix.
 * The copy, under m from the start, has the narrower range all its
 * life (lpm.c's file comment, "Path compression").  Returns the node
 * that is to store k/plen (m or q), or NULL with nothing changed
 * (out of memory).
 */
static struct lpm_node *
lpm_split(struct lpm *l, struct lpm_node *n, size_t i, struct lpm_node *c,
    struct lpm_key k, unsigned plen)
{
	unsigned e = lpm_key_diff(k, c->ln_key), f;
	struct lpm_node *m, *cc, *q = NULL;
	/* Relaxed: the writer's own store (writer lock held). */
	lpm_slot_t miss = mpsafe_load_relaxed(&c->ln_miss);
	size_t j, ci;

	if (e > c->ln_depth)
		e = c->ln_depth;
	/* k leaves c's path at bit e, or ends at plen above it. */
	f = e < plen ? e : plen - 1;
	if (f >= c->ln_depth || f < lpm_end(n))
		mpsafe_panic("lpm: split of a link that leaves nothing out");
	m = lpm_node_alloc(l, lpm_level_of(l, f), k, miss);
	cc = lpm_node_alloc(l, c->ln_level, c->ln_key, 0);
	if (m != NULL && plen > lpm_end(m))
		q = lpm_node_alloc(l, lpm_level_of(l, plen - 1), k, miss);
	if (m == NULL || cc == NULL || (plen > lpm_end(m) && q == NULL)) {
		if (m != NULL)
			lpm_node_free(l, m);
		if (cc != NULL)
			lpm_node_free(l, cc);
		if (q != NULL)
			lpm_node_free(l, q);
		return NULL;
	}
	/*
	 * The copy of c, with c's children.  Relaxed stores: published by
	 * the release store linking m; relaxed loads: the writer's own.
	 */
	mpsafe_store_relaxed(&cc->ln_miss, miss);
	for (j = 0; j < ((size_t)1 << c->ln_stride); j++) {
		lpm_slot_t s = mpsafe_load_relaxed(&c->ln_slot[j]);

		/* Relaxed: published by the release store linking m. */
		mpsafe_store_relaxed(&cc->ln_slot[j], s);
		if (s & LPM_SLOT_NODE)
			lpm_adopt(cc, j, lpm_slot_node(s));
	}
	cc->ln_nprefix = c->ln_nprefix;
	cc->ln_nchild = c->ln_nchild;
	ci = lpm_index(m, c->ln_key);
	lpm_adopt(m, ci, cc);
	/* Relaxed: published by the release store linking m. */
	mpsafe_store_relaxed(&m->ln_slot[ci], lpm_link(m, cc));
	m->ln_nchild = 1;
	lpm_list_add(l, cc);
	if (q != NULL) {
		size_t qi = lpm_index(m, k);

		lpm_adopt(m, qi, q);
		/* Relaxed: published by the release store linking m. */
		mpsafe_store_relaxed(&m->ln_slot[qi], lpm_link(m, q));
		m->ln_nchild = 2;
		lpm_list_add(l, q);
	}
	lpm_adopt(n, i, m);
	lpm_list_add(l, m);
	/*
	 * Release: m, the copy and q are filled before a lookup that finds
	 * m (pairs with lpm_walk()'s acquire load).
	 */
	mpsafe_store_release(&n->ln_slot[i], lpm_link(n, m));
	lpm_node_retire(l, c);
	return q != NULL ? q : m;
}

/*
 * rt_lpm_insert(l, k, plen, v): add the entry of entry value v, whose key
 * k has no bits past plen and which is not in the trie yet.  Returns 0,
 * or ENOMEM with nothing changed (the nodes it needs are all allocated
 * before any is linked).
 */
int
rt_lpm_insert(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v)
{
	struct lpm_node *n = lpm_root(l, plen), *c;
	size_t first, count, i;

	lpm_check_prefix(l, k, plen, "rt_lpm_insert");
	/* Walk the existing nodes towards the one that is to store plen. */
	while (plen > lpm_end(n)) {
		size_t idx = lpm_index(n, k);
		lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[idx]);

		if (!(s & LPM_SLOT_NODE)) {
			/* No node below: one at plen's level, as a skip. */
			c = lpm_node_alloc(l, lpm_level_of(l, plen - 1), k, s);
			if (c == NULL)
				return ENOMEM;
			lpm_adopt(n, idx, c);
			lpm_list_add(l, c);
			/*
			 * Release: c's fields and slots happen before a
			 * lookup that finds c (pairs with lpm_walk()'s
			 * acquire load).
			 */
			mpsafe_store_release(&n->ln_slot[idx], lpm_link(n, c));
			n->ln_nchild++;
			n = c;
			break;
		}
		c = lpm_slot_node(s);
		if (plen > c->ln_depth &&
		    lpm_key_diff(k, c->ln_key) >= c->ln_depth) {
			n = c; /* k/plen lies under c */
			continue;
		}
		/* It belongs to a level that the skip link leaves out. */
		n = lpm_split(l, n, idx, c, k, plen);
		if (n == NULL)
			return ENOMEM;
		break;
	}
	first = lpm_index(n, k);
	count = (size_t)1 << (lpm_end(n) - plen);
	for (i = first; i < first + count; i++)
		lpm_push(n, i, v, plen);
	n->ln_nprefix++;
	lpm_updated(l);
	return 0;
}

/* The node that stores prefix k/plen (present). */
static struct lpm_node *
lpm_find_node(struct lpm *l, struct lpm_key k, unsigned plen)
{
	struct lpm_node *n = lpm_root(l, plen);

	while (plen > lpm_end(n)) {
		lpm_slot_t s =
		    mpsafe_load_relaxed(&n->ln_slot[lpm_index(n, k)]);
		if (!(s & LPM_SLOT_NODE))
			mpsafe_panic("lpm: prefix not in the trie");
		n = lpm_slot_node(s);
		if (plen <= n->ln_depth ||
		    lpm_key_diff(k, n->ln_key) < n->ln_depth)
			mpsafe_panic("lpm: prefix not in the trie");
	}
	return n;
}

/* Replace v by repl in every slot of prefix k/plen stored at n. */
static void
lpm_pull_prefix(struct lpm_node *n, struct lpm_key k, unsigned plen,
    lpm_slot_t v, lpm_slot_t repl)
{
	size_t first, count, i;

	first = lpm_index(n, k);
	count = (size_t)1 << (lpm_end(n) - plen);
	for (i = first; i < first + count; i++)
		lpm_pull(n, i, v, repl);
}

/*
 * rt_lpm_replace(l, k, plen, v, repl): the entry of value v (present,
 * prefix k/plen) takes value repl (the same entry with another next-hop
 * id) in every slot holding it, pushed-down copies included.
 */
void
rt_lpm_replace(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v,
    lpm_slot_t repl)
{
	lpm_check_prefix(l, k, plen, "rt_lpm_replace");
	lpm_pull_prefix(lpm_find_node(l, k, plen), k, plen, v, repl);
	lpm_updated(l);
}

/*
 * After n lost a prefix or a child: remove the nodes that no longer
 * hold one, upwards (I2).  A node with neither prefixes nor children
 * gives its parent slot its miss value (which every one of its slots
 * holds); one with no prefix and a single child gives its parent slot a
 * skip link to that child, whose miss value is already the left-out
 * node's (I4).  The child's range outside its key grows: a lookup that
 * went through the old node reads a value that holds there too.
 */
static void
lpm_prune(struct lpm *l, struct lpm_node *n)
{
	while (n->ln_parent != NULL && n->ln_nprefix == 0) {
		struct lpm_node *p = n->ln_parent;
		/* Relaxed loads here: the writer's own stores (writer lock). */
		lpm_slot_t miss = mpsafe_load_relaxed(&n->ln_miss), s = 0;
		size_t j;

		if (n->ln_nchild > 1)
			return;
		for (j = 0; n->ln_nchild == 1; j++) {
			s = mpsafe_load_relaxed(&n->ln_slot[j]);
			if (s & LPM_SLOT_NODE)
				break;
		}
		if (n->ln_nchild == 0) {
			/* Release: pairs with lpm_walk()'s acquire load. */
			mpsafe_store_release(&p->ln_slot[n->ln_pidx], miss);
			p->ln_nchild--;
			lpm_node_retire(l, n);
			n = p;
			continue;
		}
		lpm_adopt(p, n->ln_pidx, lpm_slot_node(s));
		/* Release: pairs with lpm_walk()'s acquire load. */
		mpsafe_store_release(
		    &p->ln_slot[n->ln_pidx], lpm_link(p, lpm_slot_node(s)));
		lpm_node_retire(l, n);
		return;
	}
}

/*
 * rt_lpm_delete(l, k, plen, v, repl): remove the entry of value v
 * (present), giving its slots to repl, the value of the longest prefix
 * shorter than plen that covers it (0: none); then remove the nodes left
 * without a prefix and with fewer than two children (I2).
 */
void
rt_lpm_delete(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v,
    lpm_slot_t repl)
{
	struct lpm_node *n;

	lpm_check_prefix(l, k, plen, "rt_lpm_delete");
	n = lpm_find_node(l, k, plen);
	/* A short prefix never sits in the main trie (see "Short prefixes"). */
	if (plen >= l->l_split && repl != 0 && lpm_plen(repl) < l->l_split)
		repl = 0;
	lpm_pull_prefix(n, k, plen, v, repl);
	if (n->ln_nprefix == 0)
		mpsafe_panic("lpm: prefix count underflow");
	n->ln_nprefix--;
	lpm_prune(l, n);
	lpm_updated(l);
}

/* rt_lpm_check()'s walk below n; its node count goes to *nodes. */
static const char *
lpm_check_node(const struct lpm *l, const struct lpm_node *n, size_t *nodes)
{
	/* Relaxed loads throughout: no update runs (rt_lpm_check()). */
	unsigned nchild = 0;
	size_t j;

	for (j = 0; j < ((size_t)1 << n->ln_stride); j++) {
		lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[j]), m;
		const struct lpm_node *c;
		const char *why;
		size_t i;

		if (!(s & LPM_SLOT_NODE))
			continue;
		c = lpm_slot_node(s);
		nchild++;
		if (c->ln_parent != n || c->ln_pidx != j)
			return "a child's parent or slot index is not its "
			       "link's";
		if (c->ln_level >= l->l_nlevels ||
		    c->ln_depth != l->l_depth[c->ln_level] ||
		    c->ln_stride != l->l_stride[c->ln_level] ||
		    c->ln_depth < lpm_end(n))
			return "a child's level, depth or stride is wrong";
		if (s != lpm_link(n, c))
			return "a link's skip bit or level is wrong";
		if (!lpm_key_has_prefix(c->ln_key, n->ln_key, n->ln_depth) ||
		    lpm_index(n, c->ln_key) != j ||
		    !lpm_key_has_prefix(c->ln_key, c->ln_key, c->ln_depth))
			return "a child's key is not on its link's path";
		if (c->ln_nprefix == 0 && c->ln_nchild < 2)
			return "a node holds no prefix and fewer than two "
			       "children (I2)";
		m = mpsafe_load_relaxed(&c->ln_miss);
		if (m & LPM_SLOT_NODE || (m != 0 && lpm_plen(m) > lpm_end(n)))
			return "a miss value is a node or a longer prefix than "
			       "its parent slot's range";
		for (i = 0; i < ((size_t)1 << c->ln_stride); i++) {
			lpm_slot_t v = mpsafe_load_relaxed(&c->ln_slot[i]);

			if (!(v & LPM_SLOT_NODE) && v != m &&
			    (v == 0 || lpm_plen(v) <= c->ln_depth))
				return "a slot holds a prefix from above that "
				       "is not its node's miss value (I1, I4)";
		}
		++*nodes;
		if ((why = lpm_check_node(l, c, nodes)) != NULL)
			return why;
	}
	if (nchild != n->ln_nchild)
		return "a node's child count is wrong";
	return NULL;
}

const char *
rt_lpm_check(const struct lpm *l)
{
	size_t nodes = 1 + (l->l_short != NULL);
	const char *why = lpm_check_node(l, l->l_root, &nodes);

	if (why == NULL && nodes != l->l_nodes)
		why = "the node count is not the trie's";
	return why;
}
