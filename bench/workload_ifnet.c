/*
 * bench/workload_ifnet.c: resolving packets' receive interfaces while
 * interfaces come and go.
 *
 * IFB_IFS interfaces are attached at the start.  N reader threads
 * (--threads) each own a ring of IFB_PKTS packets whose receive interface
 * is recorded by index (spread over the IFB_IFS indexes).  One operation:
 * take the next packet, resolve its receive interface, read the MTU,
 * count the packet in the interface's statistics (the reader's own
 * counter slot: no shared line is written for it), release the interface.
 * Meanwhile a churn thread detaches one interface and attaches a
 * replacement (which reuses the index) every --interval-us microseconds
 * (default 1000), rotating over the interfaces; packets naming an
 * interface that is away resolve to nothing.  Detached interfaces are
 * poisoned before they are freed or reused; a reader that sees poison
 * counts a violation.
 *
 * Reported: ops = lookups of the measured phase, ops_per_sec, ns_per_op
 * (a reader's time per lookup); lat_p50_ns and lat_p99_ns = how long one
 * detach took (unpublish to "free to reuse"), over the measured phase;
 * writer_ops = detaches.  Ratios are taken on ns_per_op.
 *
 * Strategies (each one a complete interface table, in this file):
 *   psref     mpsafe_net itself: m_get_rcvif_psref() (pserialize read
 *             section, index table, psref_acquire) / m_put_rcvif_psref();
 *             if_detach(): unlink, grace periods, psref_target_destroy().
 *   pserialize the same table with the packet path proper: m_get_rcvif()
 *             / m_put_rcvif(), a read section and no reference (what a
 *             receive path that does not block uses).
 *   refcount  a table under a pthread_rwlock, held for the lookup only;
 *             an atomic reference count on each interface held during use
 *             (FreeBSD's ifnet_rlock + if_ref); detach unlinks under the
 *             write lock, then waits (spin, then yield) for the count to
 *             drop to zero.
 *   rwlock    the table under a pthread_rwlock held in read mode during
 *             lookup and use; detach unlinks under the write lock.  The
 *             lock prefers writers (glibc's default would let a steady
 *             stream of readers starve the churn thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>

#include "bench.h"

/* Interfaces in the table (indexes 1..IFB_IFS). */
#define IFB_IFS 16
/* Packets in each reader's ring (a power of two). */
#define IFB_PKTS 256
/* Counter slots of the baseline interfaces (readers beyond share). */
#define IFB_THREADS 64
#define IFB_MTU 1500u
#define IFB_POISON_MTU 0xdeadu

/* --- the baselines' interface --------------------------------------------- */

struct bif {
	unsigned b_index;
	_Atomic unsigned b_mtu; /* IFB_POISON_MTU once detached */
	/* refcount: references held; its own line. */
	alignas(BENCH_CACHELINE) _Atomic unsigned b_refcnt;
	/* One counter line per reader: written by its reader only. */
	struct {
		alignas(BENCH_CACHELINE) _Atomic uint64_t c_ipackets;
	} b_stats[IFB_THREADS];
};

static pthread_rwlock_t bif_lock;
static struct bif *bif_table[IFB_IFS + 1]; /* bif_lock */

/* --- per-strategy operations ---------------------------------------------- */

struct ifb_ops {
	const char *name;
	int (*init)(void);
	void (*fini)(void);
	/* One lookup of packet m's interface; returns MTU read, 0 if none. */
	uint64_t (*lookup)(struct mbuf *m, unsigned tid, uint64_t *bad);
	/* Replace the interface at index idx (detach, attach anew). */
	void (*replace)(unsigned idx, struct bench_hist *lat, bool measure);
};

/* psref: mpsafe_net. */

static struct ifnet *ifb_ifp[IFB_IFS + 1]; /* churn thread */

static struct ifnet *
ifb_psref_new(void)
{
	struct ifnet *ifp = aligned_alloc(
	    BENCH_CACHELINE, (sizeof(*ifp) + BENCH_CACHELINE - 1) &
	                         ~(size_t)(BENCH_CACHELINE - 1));
	static unsigned serial;

	if (ifp == NULL)
		return NULL;
	memset(ifp, 0, sizeof(*ifp));
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "bif%u", serial++);
	ifp->if_mtu = IFB_MTU;
	return ifp;
}

static int
ifb_psref_init(void)
{
	for (unsigned i = 1; i <= IFB_IFS; i++) {
		struct ifnet *ifp = ifb_psref_new();

		if (ifp == NULL || if_attach(ifp) != 0)
			return ENOMEM;
		if (ifp->if_index != i) {
			bench_warn("ifnet: interface table not empty");
			return EEXIST;
		}
		ifb_ifp[i] = ifp;
	}
	return 0;
}

static void
ifb_psref_fini(void)
{
	for (unsigned i = 1; i <= IFB_IFS; i++) {
		if_detach(ifb_ifp[i]);
		free(ifb_ifp[i]);
		ifb_ifp[i] = NULL;
	}
}

static uint64_t
ifb_psref_lookup(struct mbuf *m, unsigned tid, uint64_t *bad)
{
	struct psref ref;
	struct ifnet *ifp = m_get_rcvif_psref(m, &ref);
	unsigned mtu;

	(void)tid;
	if (ifp == NULL)
		return 0;
	/* Relaxed: a value (see struct ifnet). */
	mtu = atomic_load_explicit(&ifp->if_mtu, memory_order_relaxed);
	*bad += mtu == IFB_POISON_MTU;
	if_statinc(ifp, if_ipackets);
	m_put_rcvif_psref(ifp, &ref);
	return mtu;
}

/* pserialize: the packet path proper, a read section and no reference. */
static uint64_t
ifb_pserialize_lookup(struct mbuf *m, unsigned tid, uint64_t *bad)
{
	int s;
	struct ifnet *ifp = m_get_rcvif(m, &s);
	unsigned mtu;

	(void)tid;
	if (ifp == NULL)
		return 0;
	/* Relaxed: a value (see struct ifnet). */
	mtu = atomic_load_explicit(&ifp->if_mtu, memory_order_relaxed);
	*bad += mtu == IFB_POISON_MTU;
	if_statinc(ifp, if_ipackets);
	m_put_rcvif(ifp, &s);
	return mtu;
}

static void
ifb_psref_replace(unsigned idx, struct bench_hist *lat, bool measure)
{
	struct ifnet *old = ifb_ifp[idx], *ifp;
	uint64_t t0 = bench_now_ns(), t1;

	if_detach(old);
	t1 = bench_now_ns();
	if (measure)
		bench_hist_add(lat, t1 - t0);
	/* Poison, then attach it again (index idx is the lowest free). */
	memset(old, 0x5a, sizeof(*old));
	/* Relaxed: nobody may read it now (a reader that does: violation). */
	atomic_store_explicit(
	    &old->if_mtu, IFB_POISON_MTU, memory_order_relaxed);
	ifp = old;
	memset(ifp, 0, sizeof(*ifp));
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "bif%u", idx);
	ifp->if_mtu = IFB_MTU;
	if (if_attach(ifp) != 0 || ifp->if_index != idx)
		bench_warn("ifnet: reattach of index %u failed", idx);
}

/* The baselines share table set-up. */

static struct bif *
bif_new(unsigned idx)
{
	struct bif *b = aligned_alloc(BENCH_CACHELINE, sizeof(*b));

	if (b == NULL)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->b_index = idx;
	atomic_store_explicit(&b->b_mtu, IFB_MTU, memory_order_relaxed);
	return b;
}

static int
bif_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
	    &a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&bif_lock, &a);
	pthread_rwlockattr_destroy(&a);
	for (unsigned i = 1; i <= IFB_IFS; i++)
		if ((bif_table[i] = bif_new(i)) == NULL)
			return ENOMEM;
	return 0;
}

static void
bif_fini(void)
{
	for (unsigned i = 1; i <= IFB_IFS; i++) {
		free(bif_table[i]);
		bif_table[i] = NULL;
	}
	pthread_rwlock_destroy(&bif_lock);
}

static uint64_t
bif_use(struct bif *b, unsigned tid, uint64_t *bad)
{
	/* Relaxed: the lock or the reference keeps b alive. */
	unsigned mtu = atomic_load_explicit(&b->b_mtu, memory_order_relaxed);
	_Atomic uint64_t *c = &b->b_stats[tid % IFB_THREADS].c_ipackets;

	*bad += mtu == IFB_POISON_MTU;
	if (tid < IFB_THREADS)
		/* Relaxed: this reader is the slot's only writer. */
		atomic_store_explicit(c,
		    atomic_load_explicit(c, memory_order_relaxed) + 1,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	return mtu;
}

static struct bif *
bif_unlink(unsigned idx)
{
	struct bif *b;

	pthread_rwlock_wrlock(&bif_lock);
	b = bif_table[idx];
	bif_table[idx] = NULL;
	pthread_rwlock_unlock(&bif_lock);
	return b;
}

static void
bif_relink(struct bif *b, unsigned idx)
{
	/* Poison, then make it a new interface at the same index. */
	atomic_store_explicit(&b->b_mtu, IFB_POISON_MTU, memory_order_relaxed);
	memset(b->b_stats, 0, sizeof(b->b_stats));
	atomic_store_explicit(&b->b_mtu, IFB_MTU, memory_order_relaxed);
	pthread_rwlock_wrlock(&bif_lock);
	bif_table[idx] = b;
	pthread_rwlock_unlock(&bif_lock);
}

/* refcount */

static uint64_t
ifb_refcount_lookup(struct mbuf *m, unsigned tid, uint64_t *bad)
{
	unsigned idx = m->m_pkthdr.rcvif_index;
	struct bif *b;
	uint64_t mtu;

	pthread_rwlock_rdlock(&bif_lock);
	b = idx <= IFB_IFS ? bif_table[idx] : NULL;
	if (b != NULL)
		/* Relaxed: the lock keeps b alive while we take it. */
		atomic_fetch_add_explicit(
		    &b->b_refcnt, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&bif_lock);
	if (b == NULL)
		return 0;
	mtu = bif_use(b, tid, bad);
	/* Release: our uses of b first; pairs with the detacher's acquire. */
	atomic_fetch_sub_explicit(&b->b_refcnt, 1, memory_order_release);
	return mtu;
}

static void
ifb_refcount_replace(unsigned idx, struct bench_hist *lat, bool measure)
{
	uint64_t t0 = bench_now_ns(), t1;
	struct bif *b = bif_unlink(idx);
	unsigned spins = 0;

	/* Acquire: pairs with the readers' release decrements. */
	while (atomic_load_explicit(&b->b_refcnt, memory_order_acquire) != 0)
		bench_spin_then_yield(&spins);
	t1 = bench_now_ns();
	if (measure)
		bench_hist_add(lat, t1 - t0);
	bif_relink(b, idx);
}

/* rwlock */

static uint64_t
ifb_rwlock_lookup(struct mbuf *m, unsigned tid, uint64_t *bad)
{
	unsigned idx = m->m_pkthdr.rcvif_index;
	struct bif *b;
	uint64_t mtu = 0;

	pthread_rwlock_rdlock(&bif_lock);
	b = idx <= IFB_IFS ? bif_table[idx] : NULL;
	if (b != NULL)
		mtu = bif_use(b, tid, bad);
	pthread_rwlock_unlock(&bif_lock);
	return mtu;
}

static void
ifb_rwlock_replace(unsigned idx, struct bench_hist *lat, bool measure)
{
	uint64_t t0 = bench_now_ns(), t1;
	struct bif *b = bif_unlink(idx); /* no reader can hold it now */

	t1 = bench_now_ns();
	if (measure)
		bench_hist_add(lat, t1 - t0);
	bif_relink(b, idx);
}

static const struct ifb_ops ifb_all[] = {
    {"psref", ifb_psref_init, ifb_psref_fini, ifb_psref_lookup,
        ifb_psref_replace},
    {"pserialize", ifb_psref_init, ifb_psref_fini, ifb_pserialize_lookup,
        ifb_psref_replace},
    {"refcount", bif_init, bif_fini, ifb_refcount_lookup, ifb_refcount_replace},
    {"rwlock", bif_init, bif_fini, ifb_rwlock_lookup, ifb_rwlock_replace},
};

static const struct ifb_ops *
ifb_find(const struct bench_strategy *s)
{
	for (size_t i = 0; i < sizeof(ifb_all) / sizeof(ifb_all[0]); i++)
		if (strcmp(ifb_all[i].name, s->name) == 0)
			return &ifb_all[i];
	return NULL;
}

static const char *
ifb_supports(const struct bench_strategy *s)
{
	if (ifb_find(s) == NULL)
		return "no interface table (psref, pserialize, refcount, "
		       "rwlock only)";
	return NULL;
}

/* --- threads -------------------------------------------------------------- */

struct ifb_churn {
	const struct ifb_ops *ops;
	uint64_t interval_ns;
	struct bench_hist hist;
};

static void
ifb_reader_thread(struct bench_thread *t)
{
	const struct ifb_ops *ops = t->arg;
	struct mbuf *pkts[IFB_PKTS];
	uint64_t sink = 0, bad = 0, ops_n = 0, t0 = 0, t1;
	unsigned next = 0;
	bool measuring = false;

	for (unsigned i = 0; i < IFB_PKTS; i++) {
		pkts[i] = m_gethdr(M_WAITOK);
		if (pkts[i] == NULL)
			abort();
		/* Spread over the interfaces, differently per reader. */
		pkts[i]->m_pkthdr.rcvif_index = 1 + (i * 7 + t->id) % IFB_IFS;
	}
	mpsafe_thread_register();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);

		if (ph == BENCH_PHASE_STOP)
			break;
		if (ph == BENCH_PHASE_MEASURE && !measuring) {
			measuring = true;
			t0 = bench_now_ns();
		}
		for (unsigned i = 0; i < BENCH_READ_BATCH; i++) {
			sink += ops->lookup(pkts[next], t->id, &bad);
			next = (next + 1) & (IFB_PKTS - 1);
		}
		if (measuring)
			ops_n += BENCH_READ_BATCH;
	}
	t1 = bench_now_ns();
	mpsafe_thread_unregister();
	for (unsigned i = 0; i < IFB_PKTS; i++)
		m_freem(pkts[i]);
	t->ops = ops_n;
	t->elapsed_ns = measuring ? t1 - t0 : 0;
	t->violations = bad;
	t->sink = sink;
}

static void
ifb_churn_thread(struct bench_thread *t)
{
	struct ifb_churn *c = t->arg;
	uint64_t n = 0;
	unsigned idx = 1;

	mpsafe_thread_register();
	bench_thread_ready(t);
	for (;;) {
		enum bench_phase ph = bench_phase(t);

		if (ph == BENCH_PHASE_STOP)
			break;
		c->ops->replace(idx, &c->hist, ph == BENCH_PHASE_MEASURE);
		n += ph == BENCH_PHASE_MEASURE;
		idx = idx % IFB_IFS + 1;
		bench_sleep_ns(c->interval_ns);
	}
	mpsafe_thread_unregister();
	t->ops = n;
}

static int
ifb_run(const struct bench_strategy *s, const struct bench_config *cfg,
    struct bench_result *res)
{
	const struct ifb_ops *ops = ifb_find(s);
	unsigned n = cfg->threads;
	struct bench_thread *threads;
	struct ifb_churn *churn;
	uint64_t measured;
	int error;

	if (ops == NULL) {
		bench_warn("%s: not an ifnet strategy", s->name);
		return -1;
	}
	threads = aligned_alloc(BENCH_CACHELINE, sizeof(*threads) * (n + 1));
	churn = calloc(1, sizeof(*churn));
	if (threads == NULL || churn == NULL) {
		bench_warn("out of memory");
		free(threads);
		free(churn);
		return -1;
	}
	error = ops->init();
	if (error != 0) {
		bench_warn("%s: set-up failed (error %d)", s->name, error);
		free(threads);
		free(churn);
		return -1;
	}
	churn->ops = ops;
	churn->interval_ns = (uint64_t)(cfg->interval_us * 1000.0);
	for (unsigned i = 0; i < n; i++)
		threads[i] = (struct bench_thread){
		    .strategy = s,
		    .body = ifb_reader_thread,
		    .arg = (void *)(uintptr_t)ops,
		    .index = i,
		    .id = i,
		};
	threads[n] = (struct bench_thread){
	    .strategy = s,
	    .body = ifb_churn_thread,
	    .arg = churn,
	    .index = n,
	    .id = 0,
	};
	error = bench_run_threads(threads, n + 1, cfg, &measured);
	if (error == 0) {
		bench_result_from_threads(res, threads, n, measured);
		res->has_lat = true;
		res->lat_p50_ns = bench_hist_quantile(&churn->hist, 0.50);
		res->lat_p99_ns = bench_hist_quantile(&churn->hist, 0.99);
		res->has_writer_ops = true;
		res->writer_ops = threads[n].ops;
		res->writers = 1;
	}
	ops->fini();
	free(threads);
	free(churn);
	return error;
}

const struct bench_workload workload_ifnet = {
    .name = "ifnet",
    .description = "N readers resolve packets' receive interfaces (MTU, "
                   "count) while a churn thread detaches and re-attaches "
                   "one interface every --interval-us: lookups/s, "
                   "detach latency p50/p99",
    .metric = BENCH_METRIC_NS_PER_OP,
    .min_threads = 1,
    .min_writers = 0,
    .max_writers = 0,
    .default_writers = 0,
    .supports = ifb_supports,
    .run = ifb_run,
};
