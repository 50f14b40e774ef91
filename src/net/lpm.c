/*
 * lpm.c: a multibit trie with leaf pushing, the lookup structure of the
 * routing table, one per address family.
 *
 * Shape.  A node consumes a fixed number of key bits (its stride) and
 * has 2^stride slots; the strides per level are IPv4 24-8 and IPv6
 * 16-8-8 then eight levels of 4 bits (down to /64) then eight of 8.  The
 * root always exists.  A slot holds a child node (pointer | 1), or the
 * entry value of the longest prefix that covers the whole of the slot's
 * address range (0: none).  An entry value is the entry pointer, with on
 * 64-bit platforms its next hop's id in bits 48..63 when the pointer fits
 * in 48 bits (id 0: not encoded; see lpm.h and route.c): lookups of the
 * next hop alone then read no entry.  The trie compares and orders entry
 * values by their pointer (LPM_SLOT_PTR()), never by the id bits.  That
 * is leaf pushing (controlled prefix expansion): a prefix of length L
 * stored in a node of depth d and stride s (d < L <= d + s; the root
 * also takes L = 0) fills the 2^(d+s-L) slots it covers, and inside
 * child nodes under those slots every slot whose entry is shorter than
 * L.  A lookup therefore reads one slot per level and stops at the first
 * slot that is not a node: IPv4 takes one load up to /24 and two beyond,
 * IPv6 one per level.
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
 *  I2 a node whose ln_nprefix and ln_nchild are both 0 has all slots
 *     equal (the prefix inherited from above), and is removed from its
 *     parent, whose slot takes that value;
 *  I3 a node is filled completely before it is published, and removed
 *     from the trie before it is retired.
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
 * Costs.  Insert and delete touch 2^(d+s-L) slots plus the slots of the
 * child nodes under them: one slot for a /24, 256 for a /16, 65536 for
 * a /8, fewer in the short node (at most 256).  Memory: 128 MiB for the
 * IPv4 root (touched as routes write it), 512 KiB for the IPv6 root, 2
 * KiB per 8-bit node, 128 B per 4-bit node, plus a header.
 */
#include "lpm.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/thread.h>

static const uint8_t lpm_strides_inet[] = {24, 8};
static const uint8_t lpm_strides_inet6[] = {
    16, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8};

#define LPM_MAX_LEVELS (sizeof(lpm_strides_inet6) / sizeof(uint8_t))

/* IPv4 prefixes shorter than this live in l_short's 2^8 slots. */
#define LPM_SHORT_BITS 8

static size_t
lpm_node_size(unsigned stride)
{
	return sizeof(struct lpm_node) + (sizeof(lpm_slot_t) << stride);
}

/* A zeroed node of the given level and stride (the allocator zeroes). */
static struct lpm_node *
lpm_node_alloc(struct lpm *l, unsigned level, unsigned stride)
{
	size_t size = lpm_node_size(stride);
	struct lpm_node *n = l->l_alloc(size, l->l_arg);

	if (n == NULL)
		return NULL;
	if (!lpm_slot_fits(n)) { /* unusable in a slot: as out of memory */
		l->l_free(n, size, l->l_arg);
		return NULL;
	}
	n->ln_level = (uint8_t)level;
	n->ln_stride = (uint8_t)stride;
	n->ln_lpm = l;
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
	memset(l, 0, sizeof(*l));
	if (af == AF_INET) {
		l->l_strides = lpm_strides_inet;
		l->l_nlevels = sizeof(lpm_strides_inet);
		l->l_maxlen = 32;
		l->l_split = LPM_SHORT_BITS;
	} else {
		l->l_strides = lpm_strides_inet6;
		l->l_nlevels = sizeof(lpm_strides_inet6);
		l->l_maxlen = 128;
	}
	l->l_alloc = alloc;
	l->l_free = freef;
	l->l_arg = arg;
	l->l_deferred = deferred;
	l->l_root = lpm_node_alloc(l, 0, l->l_strides[0]);
	if (l->l_root == NULL)
		return ENOMEM;
	l->l_nodes = 1;
	l->l_bytes = lpm_node_size(l->l_root->ln_stride);
	if (l->l_split != 0) {
		l->l_short = lpm_node_alloc(l, 0, LPM_SHORT_BITS);
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

/* Give slot i of n, and its subtree, entry value v of length plen (I1). */
static void
lpm_push(struct lpm_node *n, size_t i, lpm_slot_t v, unsigned plen)
{
	lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[i]);

	if (s & LPM_SLOT_NODE) {
		struct lpm_node *c = (struct lpm_node *)(s - LPM_SLOT_NODE);
		size_t j;

		for (j = 0; j < ((size_t)1 << c->ln_stride); j++)
			lpm_push(c, j, v, plen);
	} else if (s == 0 || lpm_plen(s) < plen) {
		/* Release: pairs with lpm_lookup()'s acquire load. */
		mpsafe_store_release(&n->ln_slot[i], v);
	}
}

/*
 * Replace entry value v by repl (another entry, or the same entry with
 * another id, or 0) in slot i of n and its subtree.
 */
static void
lpm_pull(struct lpm_node *n, size_t i, lpm_slot_t v, lpm_slot_t repl)
{
	lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[i]);

	if (s & LPM_SLOT_NODE) {
		struct lpm_node *c = (struct lpm_node *)(s - LPM_SLOT_NODE);
		size_t j;

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
 * rt_lpm_insert(l, k, plen, v): add the entry of entry value v, whose key
 * k has no bits past plen and which is not in the trie yet.  Returns 0,
 * or ENOMEM with nothing changed (the nodes it needs are all allocated
 * before any is linked).
 */
int
rt_lpm_insert(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v)
{
	struct lpm_node *fresh[LPM_MAX_LEVELS];
	struct lpm_node *n = lpm_root(l, plen);
	unsigned need = 0, level, j;
	size_t first, count, i;

	lpm_check_prefix(l, k, plen, "rt_lpm_insert");
	/* Walk the existing nodes towards plen. */
	while (plen > (unsigned)n->ln_depth + n->ln_stride) {
		lpm_slot_t s =
		    mpsafe_load_relaxed(&n->ln_slot[lpm_index(n, k)]);
		if (!(s & LPM_SLOT_NODE))
			break;
		n = (struct lpm_node *)(s - LPM_SLOT_NODE);
	}
	/* Allocate the missing levels first. */
	for (level = n->ln_level, j = (unsigned)n->ln_depth + n->ln_stride;
	     plen > j; j += l->l_strides[level]) {
		level++;
		fresh[need] = lpm_node_alloc(l, level, l->l_strides[level]);
		if (fresh[need] == NULL) {
			while (need > 0)
				lpm_node_free(l, fresh[--need]);
			return ENOMEM;
		}
		need++;
	}
	/* Link them, each filled with the value it replaces (I3). */
	for (j = 0; j < need; j++) {
		struct lpm_node *c = fresh[j];
		size_t idx = lpm_index(n, k);
		lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[idx]);

		c->ln_depth = (uint16_t)(n->ln_depth + n->ln_stride);
		c->ln_parent = n;
		c->ln_pidx = (uint32_t)idx;
		for (i = 0; i < ((size_t)1 << c->ln_stride); i++)
			mpsafe_store_relaxed(&c->ln_slot[i], s);
		/*
		 * Release: the slots above happen before a lookup that
		 * finds c (pairs with lpm_lookup()'s acquire load).
		 */
		mpsafe_store_release(
		    &n->ln_slot[idx], (lpm_slot_t)c | LPM_SLOT_NODE);
		n->ln_nchild++;
		c->ln_next = l->l_list;
		c->ln_prevp = &l->l_list;
		if (l->l_list != NULL)
			l->l_list->ln_prevp = &c->ln_next;
		l->l_list = c;
		l->l_nodes++;
		l->l_bytes += lpm_node_size(c->ln_stride);
		n = c;
	}
	first = lpm_index(n, k);
	count = (size_t)1 << ((unsigned)n->ln_depth + n->ln_stride - plen);
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

	while (plen > (unsigned)n->ln_depth + n->ln_stride) {
		lpm_slot_t s =
		    mpsafe_load_relaxed(&n->ln_slot[lpm_index(n, k)]);
		if (!(s & LPM_SLOT_NODE))
			mpsafe_panic("lpm: prefix not in the trie");
		n = (struct lpm_node *)(s - LPM_SLOT_NODE);
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
	count = (size_t)1 << ((unsigned)n->ln_depth + n->ln_stride - plen);
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
 * rt_lpm_delete(l, k, plen, v, repl): remove the entry of value v
 * (present), giving its slots to repl, the value of the longest prefix
 * shorter than plen that covers it (0: none); then remove the nodes left
 * empty (I2).
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
	while (
	    n->ln_parent != NULL && n->ln_nprefix == 0 && n->ln_nchild == 0) {
		struct lpm_node *p = n->ln_parent;
		lpm_slot_t s0 = mpsafe_load_relaxed(&n->ln_slot[0]);

		/* Release: pairs with lpm_lookup()'s acquire load. */
		mpsafe_store_release(&p->ln_slot[n->ln_pidx], s0);
		p->ln_nchild--;
		lpm_node_retire(l, n);
		n = p;
	}
	lpm_updated(l);
}
