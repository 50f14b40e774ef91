/*
 * test_lpm.c: the trie under the routing table (src/net/lpm.c), driven
 * directly with stand-in entries.  Random inserts, deletes and next-hop
 * replaces over clustered keys (so that paths share nodes, part and
 * meet: path compression's splits, copies and left-out nodes); after
 * every update the trie's own shape check (rt_lpm_check()) and lookups
 * compared with a brute-force oracle, aimed inside and just outside the
 * live prefixes (one key bit above the prefix length flipped), where
 * the left-out levels' miss values decide.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mpsafe/pserialize.h>

#include "lpm.h"
#include "wait_flag.h"

TestSuite(lpm, .timeout = 120);

#define NPFX 400

struct pfx {
	struct lpm_key k;
	unsigned plen;
	int live;
};

static struct pfx pfx[NPFX];
static struct rt_entry ents[NPFX];
static unsigned ids[NPFX]; /* each prefix's next-hop id now (1 or 2) */
static uint64_t rng;

/* xorshift64, on a state of the caller's (threads have their own). */
static uint64_t
rnd_r(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static uint64_t
rnd(void)
{
	return rnd_r(&rng);
}

/* Sometimes let the other threads run here, sometimes for long. */
static void
maybe_stall(uint64_t *x)
{
	uint64_t r = rnd_r(x) % 64;

	if (r < 12)
		sched_yield();
	else if (r == 12)
		nanosleep(&(struct timespec){0, 100000}, NULL);
}

static void *
t_alloc(size_t size, void *arg)
{
	(void)arg;
	return calloc(1, size);
}

static void
t_free(void *p, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	free(p);
}

/* The entry value of prefix i; with id bits when they exist (ids 1-2). */
static lpm_slot_t
val(size_t i, unsigned id)
{
	lpm_slot_t v = (lpm_slot_t)&ents[i];
#ifdef LPM_SLOT_IDSHIFT
	v |= (lpm_slot_t)id << LPM_SLOT_IDSHIFT;
#else
	(void)id;
#endif
	return v;
}

/*
 * The live prefix shorter than below that covers k with the longest
 * length (oracle), or -1.
 */
static long
oracle_below(struct lpm_key k, unsigned below)
{
	long best = -1;

	for (size_t i = 0; i < NPFX; i++) {
		struct lpm_key m = lpm_key_mask(k, pfx[i].plen);

		if (pfx[i].live && pfx[i].plen < below && m.hi == pfx[i].k.hi &&
		    m.lo == pfx[i].k.lo &&
		    (best < 0 || pfx[i].plen > pfx[best].plen))
			best = (long)i;
	}
	return best;
}

/* The live prefix covering k with the longest length, or -1. */
static long
oracle(struct lpm_key k)
{
	return oracle_below(k, 129);
}

/* Keys in few clusters: the bits that vary are few and spread out. */
static struct lpm_key
clustered_key(int af)
{
	struct lpm_key k;

	if (af == AF_INET) {
		k.hi = (UINT64_C(0x0a000000) | (rnd() & UINT64_C(0x00c30381)) |
		           (rnd() % 4 == 0 ? rnd() & 0xffffff : 0))
		       << 32;
		k.lo = 0;
		return k;
	}
	k.hi = UINT64_C(0x20010db800000000) |
	       (rnd() & UINT64_C(0x00000000c0311803));
	k.lo = rnd() & UINT64_C(0x8001000000000003);
	if (rnd() % 4 == 0)
		k.hi ^= rnd() & UINT64_C(0x00000000ffffffff);
	return k;
}

static unsigned
rand_plen(int af)
{
	static const unsigned l6[] = {0, 16, 20, 24, 30, 31, 32, 33, 36, 40, 44,
	    47, 48, 52, 56, 60, 62, 63, 64, 65, 72, 80, 96, 127, 128};
	static const unsigned l4[] = {
	    0, 5, 8, 9, 15, 16, 22, 23, 24, 25, 30, 31, 32};

	return af == AF_INET ? l4[rnd() % (sizeof(l4) / sizeof(l4[0]))]
	                     : l6[rnd() % (sizeof(l6) / sizeof(l6[0]))];
}

/* Lookups inside and beside prefix p (random bits past, one above). */
static void
check_lookups(const struct lpm *l, const struct pfx *p, int af)
{
	for (int j = 0; j < 8; j++) {
		struct lpm_key k = p->k;
		unsigned bit;
		long want;
		lpm_slot_t got;

		k.hi |= rnd() &
		        ~lpm_key_mask((struct lpm_key){~0ull, 0}, p->plen).hi;
		k.lo |= rnd() & ~lpm_key_mask((struct lpm_key){~0ull, ~0ull},
		                    p->plen < 64 ? 64 : p->plen)
		                     .lo;
		if (af == AF_INET) {
			k.hi &= UINT64_C(0xffffffff00000000);
			k.lo = 0;
		}
		if (j % 2 == 1 && p->plen > 0) { /* just outside p */
			bit = (unsigned)(rnd() % p->plen);
			if (bit < 64)
				k.hi ^= UINT64_C(1) << (63 - bit);
			else
				k.lo ^= UINT64_C(1) << (127 - bit);
		}
		want = oracle(k);
		got = lpm_lookup_slot(l, k);
		/* The whole value: a stale next-hop id is a mismatch too. */
		cr_assert_eq(got, want < 0 ? 0 : val((size_t)want, ids[want]),
		    "key %016llx:%016llx: got /%d, want /%d",
		    (unsigned long long)k.hi, (unsigned long long)k.lo,
		    got ? ((struct rt_entry *)LPM_SLOT_PTR(got))->rt_plen : -1,
		    want < 0 ? -1 : (int)pfx[want].plen);
	}
}

/*
 * Every node's miss value below n against the oracle: the longest live
 * prefix no longer than n's end that covers the node's key, with its id
 * (rt_lpm_check() sees only the node's own slots).
 */
static void
check_miss(const struct lpm_node *n)
{
	for (size_t j = 0; j < ((size_t)1 << n->ln_stride); j++) {
		lpm_slot_t s = mpsafe_load_relaxed(&n->ln_slot[j]);
		const struct lpm_node *c;
		long want;

		if (!(s & LPM_SLOT_NODE))
			continue;
		c = lpm_slot_node(s);
		want = oracle_below(c->ln_key, n->ln_depth + n->ln_stride + 1u);
		cr_assert_eq(mpsafe_load_relaxed(&c->ln_miss),
		    want < 0 ? 0 : val((size_t)want, ids[want]),
		    "the miss value of the node at depth %u, key "
		    "%016llx:%016llx",
		    c->ln_depth, (unsigned long long)c->ln_key.hi,
		    (unsigned long long)c->ln_key.lo);
		check_miss(c);
	}
}

/*
 * ops random updates of the prefixes, each followed by the checks; then
 * every prefix deleted.  deferred: retire nodes through mpsafe_defer()
 * (the lockless table's mode) rather than free them at once.
 */
static void
run(int af, uint64_t seed, int ops, int deferred)
{
	struct lpm l;

	rng = seed;
	memset(pfx, 0, sizeof(pfx));
	cr_assert_eq(rt_lpm_init(&l, af, t_alloc, t_free, NULL, deferred), 0);
	for (size_t i = 0; i < NPFX; i++) {
		pfx[i].plen = rand_plen(af);
		pfx[i].k = lpm_key_mask(clustered_key(af), pfx[i].plen);
		for (size_t j = 0; j < i; j++)
			if (pfx[j].plen == pfx[i].plen &&
			    pfx[j].k.hi == pfx[i].k.hi &&
			    pfx[j].k.lo == pfx[i].k.lo) {
				pfx[i].plen = af == AF_INET ? 32 : 128;
				pfx[i].k = clustered_key(af); /* rare */
				j = (size_t)-1;
			}
		ents[i].rt_plen = (uint8_t)pfx[i].plen;
		ids[i] = 1;
	}
	for (int op = 0; op < ops; op++) {
		size_t i = rnd() % NPFX;
		struct pfx *p = &pfx[i];
		const char *why;

		if (!p->live) {
			cr_assert_eq(
			    rt_lpm_insert(&l, p->k, p->plen, val(i, ids[i])),
			    0);
			p->live = 1;
		} else if (rnd() % 4 == 0) {
			unsigned id = 3 - ids[i];

			rt_lpm_replace(
			    &l, p->k, p->plen, val(i, ids[i]), val(i, id));
			ids[i] = id;
		} else {
			long c;
			lpm_slot_t repl;

			p->live = 0;
			c = oracle_below(p->k, p->plen); /* the cover */
			repl = c < 0 ? 0 : val((size_t)c, ids[c]);
			rt_lpm_delete(&l, p->k, p->plen, val(i, ids[i]), repl);
		}
		/*
		 * The check reads every slot (IPv6's root has 2^16, IPv4's
		 * 2^24): not after every update, for the sanitizer builds.
		 */
		why = op % (af == AF_INET ? 25 : 4) != 0 ? NULL
		                                         : rt_lpm_check(&l);
		cr_assert_null(why, "op %d: %s", op, why ? why : "");
		if (af != AF_INET && op % 8 == 0) /* O(nodes x prefixes) */
			check_miss(l.l_root);
		check_lookups(&l, p, af);
		check_lookups(&l, &pfx[rnd() % NPFX], af);
	}
	/* Empty it: only the roots remain. */
	for (size_t i = 0; i < NPFX; i++) {
		if (!pfx[i].live)
			continue;
		long c;

		pfx[i].live = 0;
		c = oracle_below(pfx[i].k, pfx[i].plen);
		rt_lpm_delete(&l, pfx[i].k, pfx[i].plen, val(i, ids[i]),
		    c < 0 ? 0 : val((size_t)c, ids[c]));
		if (af != AF_INET)
			cr_assert_null(rt_lpm_check(&l));
	}
	cr_assert_null(rt_lpm_check(&l));
	cr_assert_eq(l.l_nodes, af == AF_INET ? 2u : 1u);
	cr_assert_null(l.l_list);
	/* Retired nodes name l (ln_lpm): let them go while it exists. */
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	rt_lpm_fini(&l);
}

Test(lpm, inet6_clustered)
{
	for (uint64_t s = 1; s <= 4; s++)
		run(AF_INET6, 0x9e3779b97f4a7c15ull * s, 3000, s % 2);
}

Test(lpm, inet_clustered)
{
	run(AF_INET, 0xd1b54a32d192ed03ull, 1000, 0);
}

/*
 * The split cases by hand: a /48 alone (one skip node), a /40 above it
 * (its node is left out: split, the prefix stored in the node between),
 * a /48 beside it (split below, two children), then deletes that leave
 * nodes out again.
 */
Test(lpm, split_and_leave_out)
{
	static const struct {
		uint64_t hi;
		unsigned plen;
	} seq[] = {
	    {UINT64_C(0x20010db800010000), 48},
	    {UINT64_C(0x20010db800000000), 40},
	    {UINT64_C(0x20010db8ff010000), 48},
	    {UINT64_C(0x20010db800000000), 32},
	    {UINT64_C(0x20010db800018000), 49},
	};
	struct lpm l;
	size_t i, n = sizeof(seq) / sizeof(seq[0]);

	memset(pfx, 0, sizeof(pfx));
	cr_assert_eq(rt_lpm_init(&l, AF_INET6, t_alloc, t_free, NULL, 0), 0);
	for (i = 0; i < n; i++) {
		pfx[i].k.hi = seq[i].hi;
		pfx[i].plen = seq[i].plen;
		ents[i].rt_plen = (uint8_t)seq[i].plen;
		ids[i] = 1;
		cr_assert_eq(
		    rt_lpm_insert(&l, pfx[i].k, pfx[i].plen, val(i, 1)), 0);
		pfx[i].live = 1;
		cr_assert_null(rt_lpm_check(&l));
		for (size_t j = 0; j <= i; j++)
			check_lookups(&l, &pfx[j], AF_INET6);
	}
	/*
	 * The root, a node per prefix (the /32's at depth 28, the /40's at
	 * 36, the /48s' at 44, the /49's at 48) and one where the /48s'
	 * paths part (depth 32): 7, where every level on the way would
	 * make 13.
	 */
	cr_assert_eq(l.l_nodes, 7u);
	for (i = 0; i < n; i++) {
		long c;

		pfx[i].live = 0;
		c = oracle_below(pfx[i].k, pfx[i].plen);
		rt_lpm_delete(&l, pfx[i].k, pfx[i].plen, val(i, 1),
		    c < 0 ? 0 : val((size_t)c, 1));
		cr_assert_null(rt_lpm_check(&l));
		for (size_t j = 0; j < n; j++)
			check_lookups(&l, &pfx[j], AF_INET6);
	}
	cr_assert_eq(l.l_nodes, 1u);
	rt_lpm_fini(&l);
}

/*
 * The rest of a lookup (lpm_walk()) that read link s at level and then
 * stalled, as a reader preempted between two loads goes on later; with
 * x, it stalls again between its loads (maybe_stall()).
 */
static lpm_slot_t
walk_from(const struct lpm *l, lpm_slot_t s, unsigned level, struct lpm_key k,
    uint64_t *x)
{
	const struct lpm_node *n;

	for (;;) {
		if (!(s & LPM_SLOT_NODE))
			return s;
		if (x != NULL)
			maybe_stall(x);
		n = lpm_slot_node(s);
		if (!(s & LPM_SLOT_SKIP)) {
			level++;
		} else {
			level = lpm_skip_level(s, n);
			if (!lpm_key_has_prefix(
			        k, n->ln_key, l->l_depth[level])) {
				if (x != NULL)
					maybe_stall(x);
				return mpsafe_load_acquire(&n->ln_miss);
			}
		}
		s = mpsafe_load_acquire(&n->ln_slot[lpm_index_at(
		    l->l_depth[level], l->l_stride[level], k)]);
	}
}

/* The stalled lookup of stalled_lookup_keeps_its_miss_value. */
struct stalled {
	struct lpm *l;
	struct lpm_key a, x;
	lpm_slot_t link, got_x, got_a;
	_Atomic int have_link, go, done;
};

static void *
stalled_reader(void *arg)
{
	struct stalled *st = arg;
	int s = pserialize_read_enter();

	st->link = mpsafe_load_acquire(&st->l->l_root->ln_slot[0x2001]);
	atomic_store(&st->have_link, 1);
	while (!atomic_load(&st->go))
		sched_yield(); /* in the read section: the node stays */
	st->got_x = walk_from(st->l, st->link, 0, st->x, NULL);
	st->got_a = walk_from(st->l, st->link, 0, st->a, NULL);
	pserialize_read_exit(s);
	atomic_store(&st->done, 1);
	return NULL;
}

/*
 * A lookup that read a skip link and stalls while a prefix is stored at
 * a level the link leaves out: the linked node's miss value stands for
 * the whole of the parent slot, so the insert must leave it alone (it
 * links a copy under the new node): 2001:db9::1, outside both prefixes,
 * must still miss when the stalled lookup goes on.  The lockless mode
 * (nodes retired through mpsafe_defer()); the lookup stays in its read
 * section, so the replaced node stays readable.
 */
Test(lpm, stalled_lookup_keeps_its_miss_value)
{
	struct lpm l;
	struct lpm_key p = {UINT64_C(0x20010db800000000), 0}; /* /40 */
	struct stalled st = {.l = &l,
	    .a = {UINT64_C(0x20010db800010000), 0}, /* /48 */
	    .x = {UINT64_C(0x20010db900000000), 1}};
	pthread_t th;

	memset(pfx, 0, sizeof(pfx));
	ents[0].rt_plen = 48;
	ents[1].rt_plen = 40;
	cr_assert_eq(rt_lpm_init(&l, AF_INET6, t_alloc, t_free, NULL, 1), 0);
	cr_assert_eq(rt_lpm_insert(&l, st.a, 48, val(0, 1)), 0);
	cr_assert_eq(pthread_create(&th, NULL, stalled_reader, &st), 0);
	cr_assert(flag_within(&st.have_link, 10));
	cr_assert(st.link & LPM_SLOT_SKIP, "the /48 hangs from a skip link");
	cr_assert_eq(rt_lpm_insert(&l, p, 40, val(1, 1)), 0);
	cr_assert_eq(lpm_lookup_slot(&l, st.x), 0);
	atomic_store(&st.go, 1);
	cr_assert(flag_within(&st.done, 10));
	pthread_join(th, NULL);
	cr_assert_eq(st.got_x, 0, "the stalled lookup of 2001:db9::1 found /%d",
	    st.got_x ? ((struct rt_entry *)LPM_SLOT_PTR(st.got_x))->rt_plen
	             : -1);
	cr_assert_eq(LPM_SLOT_PTR(st.got_a), LPM_SLOT_PTR(val(0, 1)));
	cr_assert_null(rt_lpm_check(&l));
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	rt_lpm_fini(&l);
}

/* --- stalled lookups while the writer splits and leaves nodes out ---- */

#define NPROBE 24
#define NCHURN (NPROBE * 12)

/*
 * Probe addresses whose answer never changes: the anchors (never
 * updated) decide them, and no churned prefix covers one.  The churned
 * prefixes are the probes' neighbours (a probe with one bit flipped, cut
 * at a length past that bit), so their inserts and deletes split, copy
 * and leave out nodes on the probes' paths.
 */
struct churn_world {
	struct lpm l;
	struct lpm_key probe[NPROBE];
	lpm_slot_t want[NPROBE];
	_Atomic int stop;
	_Atomic long lookups, wrong;
	struct lpm_key bad_key;
	lpm_slot_t bad_got, bad_want;
};

static struct rt_entry churn_ents[2 + NCHURN];
static struct pfx churn_pfx[2 + NCHURN]; /* 0, 1: the anchors */

/* lpm_lookup_slot() with stalls between its loads (IPv6: no short node). */
static lpm_slot_t
stalling_lookup(const struct lpm *l, struct lpm_key k, uint64_t *x)
{
	lpm_slot_t s;

	maybe_stall(x);
	s = mpsafe_load_acquire(
	    &l->l_root
	         ->ln_slot[lpm_index_at(l->l_depth[0], l->l_stride[0], k)]);
	return walk_from(l, s, 0, k, x);
}

static void *
churn_reader(void *arg)
{
	struct churn_world *w = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;

	while (!atomic_load(&w->stop)) {
		int s = pserialize_read_enter();
		unsigned i = (unsigned)(rnd_r(&x) % NPROBE);
		lpm_slot_t got = stalling_lookup(&w->l, w->probe[i], &x);

		pserialize_read_exit(s);
		atomic_fetch_add(&w->lookups, 1);
		if (got != w->want[i] && atomic_fetch_add(&w->wrong, 1) == 0) {
			w->bad_key = w->probe[i];
			w->bad_got = got;
			w->bad_want = w->want[i];
		}
	}
	return NULL;
}

/* The longest live churn_pfx covering k shorter than below, or -1. */
static long
churn_cover(struct lpm_key k, unsigned below)
{
	long best = -1;

	for (size_t i = 0; i < 2 + NCHURN; i++) {
		struct lpm_key m = lpm_key_mask(k, churn_pfx[i].plen);

		if (churn_pfx[i].live && churn_pfx[i].plen < below &&
		    m.hi == churn_pfx[i].k.hi && m.lo == churn_pfx[i].k.lo &&
		    (best < 0 || churn_pfx[i].plen > churn_pfx[best].plen))
			best = (long)i;
	}
	return best;
}

static lpm_slot_t
churn_val(long i)
{
	return i < 0 ? 0 : (lpm_slot_t)&churn_ents[i];
}

/*
 * Lookups that stall between their loads (yields, now and then 100 us)
 * while one writer inserts and deletes the probes' neighbours as fast as
 * it can, in the lockless mode: every answer must be the probe's one
 * answer.  A split that moved its child instead of copying it shows
 * here (a lookup that read the old link reads the child's miss value
 * after a neighbour was pushed into it).
 */
Test(lpm, stalled_lookups_under_churn)
{
	static struct churn_world w;
	uint64_t x = 0x2545f4914f6cdd1dull;
	pthread_t th[2];
	struct timespec t0, t;
	long updates = 0;
	size_t i, j;

	memset(&w, 0, sizeof(w));
	memset(churn_pfx, 0, sizeof(churn_pfx));
	cr_assert_eq(rt_lpm_init(&w.l, AF_INET6, t_alloc, t_free, NULL, 1), 0);
	/* Anchors: 2001:db8::/32 and 2001:db8:0:8000::/49. */
	churn_pfx[0].k.hi = UINT64_C(0x20010db800000000);
	churn_pfx[0].plen = 32;
	churn_pfx[1].k.hi = UINT64_C(0x20010db800008000);
	churn_pfx[1].plen = 49;
	for (i = 0; i < NPROBE; i++) {
		w.probe[i].hi = UINT64_C(0x20010db800000000) |
		                (rnd_r(&x) & UINT64_C(0x000000000000c0c1));
		w.probe[i].lo = rnd_r(&x) & UINT64_C(0xc000000000000003);
	}
	/* Neighbours: probe i with bit b flipped, cut at a length past b. */
	for (i = 0; i < NCHURN; i++) {
		struct pfx *p = &churn_pfx[2 + i];
		struct lpm_key k = w.probe[i % NPROBE];
		unsigned b = 33 + (unsigned)(rnd_r(&x) % 95), cover = 0;

		if (b < 64)
			k.hi ^= UINT64_C(1) << (63 - b);
		else
			k.lo ^= UINT64_C(1) << (127 - b);
		p->plen = b + 1 + (unsigned)(rnd_r(&x) % (128 - b));
		p->k = lpm_key_mask(k, p->plen);
		for (j = 0; j < NPROBE; j++)
			cover |= lpm_key_has_prefix(w.probe[j], p->k, p->plen);
		for (j = 0; j < 2 + i; j++)
			cover |= churn_pfx[j].plen == p->plen &&
			         churn_pfx[j].k.hi == p->k.hi &&
			         churn_pfx[j].k.lo == p->k.lo;
		if (cover) /* it would change an answer, or is there */
			p->plen = 0;
	}
	for (i = 0; i < 2 + NCHURN; i++)
		churn_ents[i].rt_plen = (uint8_t)churn_pfx[i].plen;
	for (i = 0; i < 2; i++) {
		cr_assert_eq(rt_lpm_insert(&w.l, churn_pfx[i].k,
		                 churn_pfx[i].plen, churn_val((long)i)),
		    0);
		churn_pfx[i].live = 1;
	}
	for (i = 0; i < NPROBE; i++)
		w.want[i] = churn_val(churn_cover(w.probe[i], 129));
	for (i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn_reader, &w), 0);
	/*
	 * Update for 2 s, and until the readers made 2000 lookups (a slow
	 * emulator starves the yielding readers), but no more than 60 s.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int n = 0; n < 64; n++, updates++) {
			size_t c = 2 + rnd_r(&x) % NCHURN;
			struct pfx *p = &churn_pfx[c];

			if (p->plen == 0)
				continue;
			if (!p->live) {
				cr_assert_eq(rt_lpm_insert(&w.l, p->k, p->plen,
				                 churn_val((long)c)),
				    0);
				p->live = 1;
			} else {
				p->live = 0;
				rt_lpm_delete(&w.l, p->k, p->plen,
				    churn_val((long)c),
				    churn_val(churn_cover(p->k, p->plen)));
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec < 2 || atomic_load(&w.lookups) < 2000) &&
	         t.tv_sec - t0.tv_sec < 60 && atomic_load(&w.wrong) == 0);
	atomic_store(&w.stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cr_assert_null(rt_lpm_check(&w.l));
	cr_log_info("%ld updates, %ld stalled lookups", updates,
	    atomic_load(&w.lookups));
	cr_assert_eq(atomic_load(&w.wrong), 0,
	    "%ld wrong answers; first: %016llx:%016llx got %s/%d, want /%d",
	    atomic_load(&w.wrong), (unsigned long long)w.bad_key.hi,
	    (unsigned long long)w.bad_key.lo,
	    w.bad_got & LPM_SLOT_NODE ? "a node " : "",
	    w.bad_got && !(w.bad_got & LPM_SLOT_NODE)
	        ? ((struct rt_entry *)LPM_SLOT_PTR(w.bad_got))->rt_plen
	        : -1,
	    w.bad_want ? ((struct rt_entry *)LPM_SLOT_PTR(w.bad_want))->rt_plen
	               : -1);
	cr_assert_geq(atomic_load(&w.lookups), 2000);
	cr_assert_eq(mpsafe_defer_barrier(), 0);
	rt_lpm_fini(&w.l);
}
