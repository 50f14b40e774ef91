/*
 * torture_ifnet.c: readers resolve packets' receive interfaces (inside a
 * read section and with psrefs held across sleeps), walk the interface
 * list and address lists, and look interfaces up by name and by address,
 * while CHURNERS churn threads, each owning its own range of interface
 * slots, attach and detach interfaces (reusing their indexes), replace
 * addresses, change MTUs and grow the index table (and, with names that
 * vary, fill the name table with vacated slots so that it is rebuilt).  With
 * more than one, detaches overlap: one may unlink and free the successor of an
 * interface that another is still detaching while a reader holds it (the
 * iterate-and-sleep case walks on from it).
 *
 * Every interface carries a magic word and a generation.  After
 * if_detach() returns, its churn thread poisons the interface (magic DEAD,
 * the struct ifnet overwritten) and frees every other one at once (so
 * ASan sees a use after free) or keeps it in a graveyard until the end (so
 * that poison stays visible).  A reader that sees poison, a generation
 * that changed under its reference, or an interface whose index is not the
 * one it looked up, counts a violation; the test fails on any.  Packets
 * hold only indexes, some of them stale or never used.
 *
 * With TORTURE_EXPECT_BROKEN (torture_ifnet_teeth, linked against a copy
 * of the library whose if_detach() does not wait for holders) the test
 * passes only if it ends in SIGABRT: a reader counted a violation, or
 * followed a poisoned pointer (SIGSEGV, turned into SIGABRT).  Detached
 * interfaces are then all kept in the graveyard, so that late readers see
 * poison rather than memory handed out again.
 *
 * MPSAFE_TORTURE_SECONDS sets the duration (default 2 s).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/pserialize.h>

TestSuite(torture_ifnet, .timeout = 1800);

#define LIVE UINT64_C(0x4c4956454c495645)
#define DEAD UINT64_C(0xdeaddeaddeaddead)
#define SLOTS 100 /* interfaces at most: the table grows to 128 */
#define READERS 3
#define CHURNERS 2 /* each owns SLOTS / CHURNERS slots */
#define PACKETS 64
#define NAME_LETTERS "tuvw" /* slot 7 is named tt7, tu7, tv7 or tw7 */

struct tif {
	struct ifnet t_if; /* first: a struct ifnet * is a struct tif * */
	_Atomic uint64_t t_magic;
	_Atomic uint64_t t_gen;
	struct tif *t_grave;
};

static _Atomic int stop;
static _Atomic uint64_t violations, lookups, hits, sleeps, attaches, detaches,
    renames;
static _Atomic uint32_t last_addr; /* host order, last address inserted */

static unsigned
rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static double
torture_seconds(void)
{
	const char *env = getenv("MPSAFE_TORTURE_SECONDS");
	double s = env != NULL ? atof(env) : 2.0;

	return s > 0 ? s : 2.0;
}

static void
bad(void)
{
	atomic_fetch_add(&violations, 1);
}

/* ifp is protected (section or reference); check it is alive. */
static uint64_t
check_if(struct ifnet *ifp, unsigned idx)
{
	struct tif *t = (struct tif *)ifp;

	/* Relaxed: the section or the reference keeps t alive. */
	if (atomic_load_explicit(&t->t_magic, memory_order_relaxed) != LIVE)
		bad();
	if (idx != 0 && ifp->if_index != idx)
		bad();
	return atomic_load_explicit(&t->t_gen, memory_order_relaxed);
}

/* Inside a read section: the addresses of ifp. */
static void
check_addrs(struct ifnet *ifp)
{
	struct if_addr *ifa;

	IFADDR_READER_FOREACH (ifa, ifp) {
		if (ifa->ifa_ifp != ifp || ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET)
			bad();
	}
}

static void
nap(unsigned *seed)
{
	if (rnd(seed) % 2 == 0) {
		sched_yield();
	} else {
		struct timespec ts = {0, (long)(rnd(seed) % 50) * 1000};
		nanosleep(&ts, NULL);
	}
	atomic_fetch_add_explicit(&sleeps, 1, memory_order_relaxed);
}

static void *
reader_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 3;
	struct mbuf *pk[PACKETS];
	uint64_t n = 0, h = 0;

	for (int i = 0; i < PACKETS; i++) {
		pk[i] = m_gethdr(M_WAITOK);
		cr_assert_not_null(pk[i]);
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct mbuf *m = pk[rnd(&seed) % PACKETS];
		struct ifnet *ifp;
		struct psref ref;
		unsigned idx;
		uint64_t gen;
		int s;

		/* A new packet now and then: indexes valid, stale or unused. */
		if (rnd(&seed) % 4 == 0)
			m->m_pkthdr.rcvif_index = 1 + rnd(&seed) % (SLOTS + 8);
		idx = m->m_pkthdr.rcvif_index;
		n++;
		switch (rnd(&seed) % 6) {
		case 0:
		case 1: /* the packet path: inside a read section */
			ifp = m_get_rcvif(m, &s);
			if (ifp == NULL)
				break;
			h++;
			check_if(ifp, idx);
			if (atomic_load_explicit(
			        &ifp->if_mtu, memory_order_relaxed) < 1000)
				bad();
			if_statinc(ifp, if_ipackets);
			check_addrs(ifp);
			m_put_rcvif(ifp, &s);
			break;
		case 2: /* a reference held across sleeping */
			ifp = m_get_rcvif_psref(m, &ref);
			if (ifp == NULL)
				break;
			h++;
			gen = check_if(ifp, idx);
			nap(&seed);
			if (check_if(ifp, idx) != gen)
				bad();
			if_statinc(ifp, if_ipackets);
			m_put_rcvif_psref(ifp, &ref);
			break;
		case 3: /* iterate and sleep (NetBSD's ifconf pattern) */
			s = pserialize_read_enter();
			IFNET_READER_FOREACH (ifp) {
				if (rnd(&seed) % 4 != 0)
					continue;
				if_acquire(ifp, &ref);
				pserialize_read_exit(s);
				gen = check_if(ifp, 0);
				nap(&seed);
				if (check_if(ifp, 0) != gen)
					bad();
				s = pserialize_read_enter();
				check_addrs(ifp);
				if_put(ifp, &ref);
				h++;
			}
			pserialize_read_exit(s);
			break;
		case 4: { /* the interface owning an address */
			struct sockaddr_in sin;
			struct if_addr *ifa;
			uint32_t a = atomic_load_explicit(
			    &last_addr, memory_order_relaxed);

			sockaddr_in_init(&sin, &(struct in_addr){htonl(a)}, 0);
			ifa =
			    ifa_ifwithaddr_psref((struct sockaddr *)&sin, &ref);
			if (ifa == NULL)
				break;
			h++;
			check_if(ifa->ifa_ifp, 0);
			if (sockaddr_cmp(ifa->ifa_addr, (void *)&sin) != 0)
				bad();
			nap(&seed);
			check_if(ifa->ifa_ifp, 0);
			ifa_release(ifa, &ref);
			break;
		}
		default: { /* by name */
			char name[IFNET_NAMESIZE];

			snprintf(name, sizeof(name), "t%c%u",
			    NAME_LETTERS[rnd(&seed) % 4], idx % SLOTS);
			ifp = if_get(name, &ref);
			if (ifp == NULL)
				break;
			h++;
			check_if(ifp, 0);
			if (strcmp(ifp->if_xname, name) != 0)
				bad();
			if_put(ifp, &ref);
			break;
		}
		}
	}
	for (int i = 0; i < PACKETS; i++)
		m_freem(pk[i]);
	atomic_fetch_add(&lookups, n);
	atomic_fetch_add(&hits, h);
	return NULL;
}

static _Atomic uint64_t next_gen;
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tif *graveyard; /* graveyard_lock */

static void
add_addr(struct tif *t, unsigned slot)
{
	uint32_t a = (10u << 24) | (slot << 16) |
	             ((uint32_t)(atomic_fetch_add(&next_gen, 1) + 1) & 0xffff);
	struct sockaddr_in sin;
	struct if_addr *ifa;

	sockaddr_in_init(&sin, &(struct in_addr){htonl(a)}, 0);
	ifa = ifa_create((struct sockaddr *)&sin, NULL);
	cr_assert_not_null(ifa);
	if (ifa_insert(&t->t_if, ifa) != 0) {
		ifafree(ifa);
		return;
	}
	atomic_store_explicit(&last_addr, a, memory_order_relaxed);
}

static struct tif *
churn_attach(unsigned slot)
{
	struct tif *t = calloc(1, sizeof(*t));

	cr_assert_not_null(t);
	/* A slot's names vary, so vacated name slots pile up (rebuilds). */
	snprintf(t->t_if.if_xname, sizeof(t->t_if.if_xname), "t%c%u",
	    NAME_LETTERS[atomic_fetch_add(&next_gen, 1) % 4], slot);
	t->t_if.if_mtu = 1000 + slot;
	atomic_store_explicit(&t->t_magic, LIVE, memory_order_relaxed);
	atomic_store_explicit(&t->t_gen, atomic_fetch_add(&next_gen, 1) + 1,
	    memory_order_relaxed);
	cr_assert_eq(if_attach(&t->t_if), 0);
	for (unsigned i = slot % 3; i > 0; i--)
		add_addr(t, slot);
	atomic_fetch_add(&attaches, 1);
	return t;
}

static void
churn_detach(struct tif *t)
{
	cr_assert_eq(if_detach(&t->t_if), 0);
	/* Nobody may use it now: poison it. */
	atomic_store_explicit(&t->t_magic, DEAD, memory_order_relaxed);
	atomic_store_explicit(&t->t_gen, 0, memory_order_relaxed);
	memset(&t->t_if, 0x5a, sizeof(t->t_if));
#ifdef TORTURE_EXPECT_BROKEN
	if (0) {
#else
	if (atomic_fetch_add(&detaches, 1) % 2 == 0) {
#endif
		free(t);
	} else {
		pthread_mutex_lock(&graveyard_lock);
		t->t_grave = graveyard;
		graveyard = t;
		pthread_mutex_unlock(&graveyard_lock);
	}
#ifdef TORTURE_EXPECT_BROKEN
	atomic_fetch_add(&detaches, 1);
#endif
}

/* Churn thread number arg: slots [arg * N, (arg + 1) * N), N the share. */
static void *
churn_main(void *arg)
{
	enum { N = SLOTS / CHURNERS };
	struct tif *slots[SLOTS] = {0};
	unsigned base = (unsigned)(uintptr_t)arg * N;
	unsigned seed = 99 + base, live = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned i = base + rnd(&seed) % N, op = rnd(&seed) % 8;
		struct tif *t = slots[i];

		if (op < 4) { /* attach, or detach (its index freed) */
			if (t == NULL) {
				slots[i] = churn_attach(i);
				live++;
			} else {
				churn_detach(t);
				slots[i] = NULL;
				live--;
			}
		} else if (op < 6 && t != NULL) { /* replace an address */
			struct if_addr *ifa;

			IFNET_LOCK(&t->t_if);
			ifa = IFADDR_READER_FIRST(&t->t_if);
			IFNET_UNLOCK(&t->t_if);
			if (ifa != NULL)
				cr_assert_eq(ifa_remove(&t->t_if, ifa), 0);
			add_addr(t, i);
			atomic_fetch_add(&renames, 1);
		} else if (op == 6 && t != NULL) {
			cr_assert_eq(
			    if_set_mtu(&t->t_if, 1000 + rnd(&seed)), 0);
		} else if (op == 7 && live < N / 4) {
			/* A burst: the table grows while readers use it. */
			for (unsigned j = base; j < base + N; j++)
				if (slots[j] == NULL) {
					slots[j] = churn_attach(j);
					live++;
				}
		}
	}
	for (unsigned i = base; i < base + N; i++)
		if (slots[i] != NULL)
			churn_detach(slots[i]);
	return NULL;
}

#ifdef TORTURE_EXPECT_BROKEN
static void
on_fault(int sig)
{
	(void)sig;
	abort(); /* a reader followed poison: the teeth bit */
}
#define EXPECT .signal = SIGABRT
#else
#define EXPECT .signal = 0
#endif

Test(torture_ifnet, churn_against_readers, EXPECT)
{
	pthread_t r[READERS], w[CHURNERS];
	double secs = torture_seconds();
	struct timespec ts = {
	    (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};

#ifdef TORTURE_EXPECT_BROKEN
	signal(SIGSEGV, on_fault);
	signal(SIGBUS, on_fault);
#endif
	for (uintptr_t i = 0; i < READERS; i++)
		cr_assert_eq(
		    pthread_create(&r[i], NULL, reader_main, (void *)i), 0);
	for (uintptr_t i = 0; i < CHURNERS; i++)
		cr_assert_eq(
		    pthread_create(&w[i], NULL, churn_main, (void *)i), 0);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(w[i], NULL);
	while (graveyard != NULL) {
		struct tif *t = graveyard;

		graveyard = t->t_grave;
		free(t);
	}
#ifdef TORTURE_EXPECT_BROKEN
	if (atomic_load(&violations) > 0)
		abort();
#endif
	cr_log_info("lookups %llu hits %llu sleeps %llu attaches %llu "
	            "detaches %llu renames %llu",
	    (unsigned long long)lookups, (unsigned long long)hits,
	    (unsigned long long)sleeps, (unsigned long long)attaches,
	    (unsigned long long)detaches, (unsigned long long)renames);
	cr_assert_eq(atomic_load(&violations), 0, "%llu violations",
	    (unsigned long long)atomic_load(&violations));
	cr_assert_gt(atomic_load(&hits), 0);
	cr_assert_gt(atomic_load(&detaches), 0);
	cr_assert_gt(atomic_load(&renames), 0);
	/* Everything was detached: the collection is empty again. */
	int s = pserialize_read_enter();
	cr_assert(IFNET_READER_EMPTY());
	pserialize_read_exit(s);
}
