/*
 * lpm.c: a multibit trie with leaf pushing, the lookup structure of the
 * routing table, one per address family.
 *
 * Shape.  A node consumes a fixed number of key bits (its stride) and
 * has 2^stride slots; the strides per level are IPv4 16-8-8 and IPv6
 * 16-8-8 then eight levels of 4 bits (down to /64) then eight of 8.  The
 * root always exists.  A slot holds a child node (pointer | 1), or the
 * entry value of the longest prefix that covers the whole of the slot's
 * address range (0: none).  An entry value is the entry pointer, with on
 * 64-bit platforms its next hop's id in bits 48..63 when the pointer fits
 * in 48 bits (id 0: not encoded; see lpm.h and route.c): lookups of the
 * next hop alone then read no entry.  The trie compares and orders entry
 * values by their pointer (LPM_SLOT_PTR()), never by the id bits.  That is leaf
 * pushing (controlled prefix expansion): a prefix of length L stored in a node
 * of depth d and stride s (d < L <= d + s; the root also takes L = 0) fills the
 * 2^(d+s-L) slots it covers, and inside child nodes under those slots every
 * slot whose entry is shorter than L.  A lookup therefore reads one slot per
 * level and stops at the first slot that is not a node: IPv4 takes at most
 * three loads (two for prefixes up to /24), IPv6 one per level.
 *
 * Invariants (writer side, under the table's writer lock):
 *  I1 every slot holds the longest prefix covering its range among the
 *     prefixes stored at this node or above, unless it holds a node; and
 *     every slot holding entry rt holds the same value, rt's current
 *     value (rt | id << 48 of rt's next hop, or rt), which
 *     rt_lpm_replace() changes in all of them at once;
 *  I2 a node whose ln_nprefix and ln_nchild are both 0 has all slots
 *     equal (the prefix inherited from above), and is removed from its
 *     parent, whose slot takes that value;
 *  I3 a node is filled completely before it is published, and removed
 *     from the trie before it is retired.
 *
 * Concurrency.  Each slot changes by one release store, from one valid
 * value to another: lookups (acquire loads) see for each slot either the
 * old or the new value, so every lookup returns the longest match of the
 * table before or after the update for the address it looks up, never a
 * mix that was never right (each address is decided by one slot).  An
 * entry value changed by rt_lpm_replace() (a next-hop change) is such an
 * update too: a lookup sees the old id or the new one.  A new
 * node is filled before the release store that links it (I3); a node
 * unlinked by a delete is retired through mpsafe_defer() when lookups
 * run without lock (freed after a grace period, with the pending memory
 * bounded by the defer limit), or freed at once when they run under the
 * table's rwlock (l_deferred 0).
 *
 * Costs.  Insert and delete touch 2^(d+s-L) slots plus the slots of the
 * child nodes under them: one slot for most prefixes (a /24 fills one
 * slot of its /16's node), 256 for a /8, more under short prefixes that
 * have many more-specifics (the churn of expanding short prefixes).
 * Memory: 512 KiB for each root, 2 KiB per 8-bit node, 128 B per 4-bit
 * node, plus a header.
 */
#include "lpm.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <mpsafe/thread.h>

static const uint8_t lpm_strides_inet[] = {16, 8, 8};
static const uint8_t lpm_strides_inet6[] = {
    16, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8};

#define LPM_MAX_LEVELS (sizeof(lpm_strides_inet6) / sizeof(uint8_t))

static size_t
lpm_node_size(unsigned stride)
{
	return sizeof(struct lpm_node) + (sizeof(lpm_slot_t) << stride);
}

static struct lpm_node *
lpm_node_alloc(struct lpm *l, unsigned level)
{
	size_t size = lpm_node_size(l->l_strides[level]);
	struct lpm_node *n = l->l_alloc(size, l->l_arg);

	if (n == NULL)
		return NULL;
	n->ln_level = (uint8_t)level;
	n->ln_stride = l->l_strides[level];
	n->ln_lpm = l;
	return n;
}

static void
lpm_node_free(struct lpm *l, struct lpm_node *n)
{
	size_t size = lpm_node_size(n->ln_stride);

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
	} else {
		l->l_strides = lpm_strides_inet6;
		l->l_nlevels = sizeof(lpm_strides_inet6);
		l->l_maxlen = 128;
	}
	l->l_alloc = alloc;
	l->l_free = freef;
	l->l_arg = arg;
	l->l_deferred = deferred;
	l->l_root = lpm_node_alloc(l, 0);
	if (l->l_root == NULL)
		return ENOMEM;
	l->l_nodes = 1;
	l->l_bytes = lpm_node_size(l->l_root->ln_stride);
	return 0;
}

static void
lpm_free_subtree(struct lpm *l, struct lpm_node *n)
{
	size_t i;

	for (i = 0; i < ((size_t)1 << n->ln_stride); i++) {
		lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[i]);
		if (s & LPM_SLOT_NODE)
			lpm_free_subtree(
			    l, (struct lpm_node *)(s - LPM_SLOT_NODE));
	}
	lpm_node_free(l, n);
}

/* No lookups may run: frees every node at once. */
void
rt_lpm_fini(struct lpm *l)
{
	if (l->l_root != NULL)
		lpm_free_subtree(l, l->l_root);
	l->l_root = NULL;
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
 * rt_lpm_insert(l, k, plen, v): add the entry of entry value v, whose key
 * k has no bits past plen and which is not in the trie yet.  Returns 0,
 * or ENOMEM with nothing changed (the nodes it needs are all allocated
 * before any is linked).
 */
int
rt_lpm_insert(struct lpm *l, struct lpm_key k, unsigned plen, lpm_slot_t v)
{
	struct lpm_node *fresh[LPM_MAX_LEVELS];
	struct lpm_node *n = l->l_root;
	unsigned need = 0, level, j;
	size_t first, count, i;

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
		fresh[need] = lpm_node_alloc(l, level);
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
		l->l_nodes++;
		l->l_bytes += lpm_node_size(c->ln_stride);
		n = c;
	}
	first = lpm_index(n, k);
	count = (size_t)1 << ((unsigned)n->ln_depth + n->ln_stride - plen);
	for (i = first; i < first + count; i++)
		lpm_push(n, i, v, plen);
	n->ln_nprefix++;
	return 0;
}

/* The node that stores prefix k/plen (present). */
static struct lpm_node *
lpm_find_node(struct lpm *l, struct lpm_key k, unsigned plen)
{
	struct lpm_node *n = l->l_root;

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
	lpm_pull_prefix(lpm_find_node(l, k, plen), k, plen, v, repl);
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
	struct lpm_node *n = lpm_find_node(l, k, plen);

	lpm_pull_prefix(n, k, plen, v, repl);
	if (n->ln_nprefix == 0)
		mpsafe_panic("lpm: prefix count underflow");
	n->ln_nprefix--;
	while (n != l->l_root && n->ln_nprefix == 0 && n->ln_nchild == 0) {
		struct lpm_node *p = n->ln_parent;
		lpm_slot_t s0 = mpsafe_load_relaxed(&n->ln_slot[0]);

		/* Release: pairs with lpm_lookup()'s acquire load. */
		mpsafe_store_release(&p->ln_slot[n->ln_pidx], s0);
		p->ln_nchild--;
		lpm_node_retire(l, n);
		n = p;
	}
}
