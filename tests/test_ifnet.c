/*
 * test_ifnet.c: the interface collection (mpsafe/net/if.h): attach, the
 * index table and its growth, index reuse, lookups by index, name and
 * address, references, the detach that waits for a sleeping holder (and
 * for an address removal in flight), the iterate-and-sleep walk that goes
 * on past a successor detached meanwhile (interfaces and addresses),
 * addresses, per-thread statistics, thousands of interfaces and names
 * that come and go (the name table, the index search, the list's order),
 * thousands of addresses found by the address table through removals,
 * detaches and rebuilds, every bad input's error with the collection
 * left unchanged, and the set-up, the first index table and a resumed
 * walk's successor published to a thread whose only news of the writer
 * is a relaxed flag (docs/design/verification.md, "Mutation").
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/pserialize.h>

#include "if_impl.h"

TestSuite(ifnet, .timeout = 60);

static struct ifnet *
new_if(const char *name)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	cr_assert_not_null(ifp);
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "%s", name);
	ifp->if_mtu = 1500;
	return ifp;
}

static struct ifnet *
attach(const char *name)
{
	struct ifnet *ifp = new_if(name);

	cr_assert_eq(if_attach(ifp), 0, "attach %s", name);
	return ifp;
}

static void
detach(struct ifnet *ifp)
{
	cr_assert_eq(if_detach(ifp), 0);
	free(ifp);
}

/* A fingerprint of the collection: names and indexes in list order. */
static void
snapshot(char *buf, size_t size)
{
	struct ifnet *ifp;
	size_t off = 0;
	int s = pserialize_read_enter();

	buf[0] = '\0';
	IFNET_READER_FOREACH (ifp) {
		struct if_addr *ifa;

		off += (size_t)snprintf(buf + off, size - off, "%s=%u[",
		    ifp->if_xname, ifp->if_index);
		cr_assert_eq(if_byindex(ifp->if_index), ifp);
		IFADDR_READER_FOREACH (ifa, ifp) {
			off += (size_t)snprintf(buf + off, size - off, "%d,",
			    ifa->ifa_addr->sa_family);
		}
		off += (size_t)snprintf(buf + off, size - off, "] ");
		cr_assert_lt(off, size);
	}
	pserialize_read_exit(s);
}

static struct sockaddr_in
sin_of(const char *addr)
{
	struct sockaddr_in sin;
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, addr, &a), 1);
	sockaddr_in_init(&sin, &a, 0);
	return sin;
}

static struct sockaddr_in6
sin6_of(const char *addr)
{
	struct sockaddr_in6 sin6;
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, addr, &a), 1);
	sockaddr_in6_init(&sin6, &a, 0, 0, 0);
	return sin6;
}

Test(ifnet, attach_lookup_detach)
{
	struct ifnet *a = attach("ta0"), *b = attach("tb0"), *ifp;
	struct psref ref;
	unsigned n = 0;
	int s;

	cr_assert_neq(a->if_index, 0);
	cr_assert_neq(a->if_index, b->if_index);
	s = pserialize_read_enter();
	cr_assert_eq(if_byindex(a->if_index), a);
	cr_assert_eq(ifunit("tb0"), b);
	IFNET_READER_FOREACH (ifp) {
		n++;
	}
	pserialize_read_exit(s);
	cr_assert_eq(n, 2);

	cr_assert_eq(if_get_byindex(b->if_index, &ref), b);
	cr_assert(if_held(b));
	if_put(b, &ref);
	cr_assert_not(if_held(b));
	cr_assert_eq(if_get("ta0", &ref), a);
	if_put(a, &ref);
	char idx[16];
	snprintf(idx, sizeof(idx), "%u", b->if_index);
	cr_assert_eq(if_get(idx, &ref), b, "an all-digit name is an index");
	if_put(b, &ref);
	cr_assert_null(if_get("nosuch0", &ref));
	cr_assert_null(if_get(NULL, &ref));
	if_put(NULL, &ref); /* ignored */

	cr_assert_eq(if_set_mtu(a, 9000), 0);
	cr_assert_eq(a->if_mtu, 9000);
	cr_assert_eq(if_set_mtu(a, 0), EINVAL);
	cr_assert_eq(if_set_flags(a, 0x1), 0);
	cr_assert_eq(a->if_flags, 0x1);

	unsigned ia = a->if_index;
	detach(a);
	cr_assert_null(if_get_byindex(ia, &ref));
	cr_assert_null(if_get("ta0", &ref));
	detach(b);
}

/*
 * Names at IFNET_NAMESIZE - 1 characters attach and are found; a longer
 * key that shares them finds nothing.  An all-digit name past
 * IFNET_INDEX_MAX is no index, even one that a 32-bit wrap would turn
 * into an attached interface's.
 */
Test(ifnet, names_and_digit_names_at_their_limits)
{
	char longest[IFNET_NAMESIZE], longer[IFNET_NAMESIZE + 1], idx[32];
	struct ifnet *a;
	struct psref ref;

	memset(longest, 'n', IFNET_NAMESIZE - 1);
	longest[IFNET_NAMESIZE - 1] = '\0';
	a = attach(longest);
	memcpy(longer, longest, IFNET_NAMESIZE - 1);
	longer[IFNET_NAMESIZE - 1] = 'n';
	longer[IFNET_NAMESIZE] = '\0';
	cr_assert_eq(if_get(longest, &ref), a);
	if_put(a, &ref);
	cr_assert_null(if_get(longer, &ref), "a name one byte longer");

	snprintf(idx, sizeof(idx), "%u", a->if_index);
	cr_assert_eq(if_get(idx, &ref), a);
	if_put(a, &ref);
	snprintf(idx, sizeof(idx), "%lu", IFNET_INDEX_MAX + 1ul + a->if_index);
	cr_assert_null(if_get(idx, &ref), "%s", idx);
	snprintf(idx, sizeof(idx), "%llu", (1ull << 32) + a->if_index);
	cr_assert_null(if_get(idx, &ref), "%s wraps to a's index", idx);
	snprintf(idx, sizeof(idx), "%u", IFNET_INDEX_MAX);
	cr_assert_null(if_get(idx, &ref), "the top index, unused");
	detach(a);
}

Test(ifnet, lookup_bad_indexes)
{
	struct psref ref;
	int s = pserialize_read_enter();

	cr_assert_null(if_byindex(0));
	cr_assert_null(if_byindex(IFNET_INDEX_MAX + 7));
	cr_assert_null(if_byindex(~0u));
	cr_assert_null(if_byindex(5000));
	pserialize_read_exit(s);
	cr_assert_null(if_get_byindex(0, &ref));
	cr_assert_null(if_get_byindex(123456, &ref));
}

Test(ifnet, bad_input_changes_nothing)
{
	struct ifnet *a = attach("bad0"), *b;
	char before[4096], after[4096];

	snapshot(before, sizeof(before));

	b = new_if("bad0");
	cr_assert_eq(if_attach(b), EEXIST);
	cr_assert_eq(b->if_index, 0);
	strcpy(b->if_xname, "");
	cr_assert_eq(if_attach(b), EINVAL);
	strcpy(b->if_xname, "12");
	cr_assert_eq(if_attach(b), EINVAL, "all-digit names are indexes");
	memset(b->if_xname, 'x', sizeof(b->if_xname));
	cr_assert_eq(if_attach(b), EINVAL, "unterminated name");
	strcpy(b->if_xname, "bad1");
	b->if_addrlen = IFNET_LLADDR_MAX + 1;
	cr_assert_eq(if_attach(b), EINVAL);
	b->if_addrlen = 6;
	cr_assert_eq(if_attach(NULL), EINVAL);
	cr_assert_eq(if_attach(a), EINVAL, "attached twice");
	cr_assert_eq(if_detach(b), EINVAL, "never attached");
	cr_assert_eq(if_detach(NULL), EINVAL);

	/* Addresses: wrong family, duplicate, detached interface. */
	struct sockaddr un = {.sa_family = AF_UNIX};
	struct sockaddr_in sin = sin_of("10.9.9.9");
	struct sockaddr_in6 sin6 = sin6_of("ff02::1");
	errno = 0;
	cr_assert_null(ifa_create(&un, NULL));
	cr_assert_eq(errno, EAFNOSUPPORT);
	cr_assert_null(ifa_create(NULL, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(ifa_create((void *)&sin, (void *)&sin6));
	cr_assert_eq(errno, EINVAL);
	struct if_addr *ifa = ifa_create((void *)&sin, NULL);
	cr_assert_not_null(ifa);
	cr_assert_eq(ifa_insert(b, ifa), EINVAL, "b is not attached");
	cr_assert_eq(ifa_remove(a, ifa), ENOENT, "never inserted");
	cr_assert_eq(if_set_mtu(b, 1000), EINVAL);

	snapshot(after, sizeof(after));
	cr_assert_eq(strcmp(before, after), 0, "%s\n%s", before, after);

	cr_assert_eq(ifa_insert(a, ifa), 0);
	struct if_addr *dup = ifa_create((void *)&sin, NULL);
	cr_assert_eq(ifa_insert(a, dup), EEXIST);
	cr_assert_eq(ifa_insert(a, ifa), EINVAL, "inserted twice");
	ifafree(dup);
	snapshot(before, sizeof(before));
	cr_assert_eq(ifa_remove(b, ifa), ENOENT, "not b's");
	snapshot(after, sizeof(after));
	cr_assert_eq(strcmp(before, after), 0);

	cr_assert_eq(if_attach(b), 0);
	detach(a);
	cr_assert_eq(if_detach(b), 0);
	cr_assert_eq(if_detach(b), EINVAL, "detached twice");
	free(b);
}

Test(ifnet, table_grows_and_indexes_are_reused)
{
	enum { N = 70 };
	struct ifnet *ifs[N], *c;
	char name[IFNET_NAMESIZE];
	struct psref ref;
	unsigned old;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "grow%d", i);
		ifs[i] = attach(name);
	}
	for (int i = 0; i < N; i++) {
		int s = pserialize_read_enter();

		cr_assert_eq(if_byindex(ifs[i]->if_index), ifs[i]);
		pserialize_read_exit(s);
	}
	/* A stale index finds nothing, then the interface that reuses it. */
	old = ifs[5]->if_index;
	detach(ifs[5]);
	cr_assert_null(if_get_byindex(old, &ref));
	c = attach("reuse0");
	cr_assert_eq(c->if_index, old, "the lowest free index is reused");
	cr_assert_eq(if_get_byindex(old, &ref), c);
	cr_assert_eq(strcmp(c->if_xname, "reuse0"), 0);
	if_put(c, &ref);
	ifs[5] = c;
	for (int i = 0; i < N; i++)
		detach(ifs[i]);
	int s = pserialize_read_enter();
	cr_assert_null(ifunit("grow1"));
	pserialize_read_exit(s);
}

/*
 * Every index in use: if_attach() says ENOSPC and changes nothing, and a
 * detach frees an index for it.  The hook lowers the last index (20:
 * past the first growth of the table, below the second's doubling) so
 * that the test need not attach IFNET_INDEX_MAX interfaces.
 */
Test(ifnet, attach_past_the_last_index_is_enospc)
{
	enum { MAX = 20 };
	struct ifnet *ifs[MAX], *extra;
	char name[IFNET_NAMESIZE], before[2048], after[2048];
	int s;

	cr_assert_eq(if_test_index_max(0), EINVAL);
	cr_assert_eq(if_test_index_max(IFNET_INDEX_MAX + 1), EINVAL);
	cr_assert_eq(if_test_index_max(MAX), 0);
	for (int i = 0; i < MAX; i++) {
		snprintf(name, sizeof(name), "full%d", i);
		ifs[i] = attach(name);
		cr_assert_eq(ifs[i]->if_index, (unsigned)i + 1);
	}
	snapshot(before, sizeof(before));
	extra = new_if("extra0");
	cr_assert_eq(if_attach(extra), ENOSPC);
	cr_assert_eq(if_attach(extra), ENOSPC, "and again");
	snapshot(after, sizeof(after));
	cr_assert_eq(strcmp(after, before), 0,
	    "a refused attach changed the list: %s", after);
	s = pserialize_read_enter();
	cr_assert_null(ifunit("extra0"), "a refused name was published");
	cr_assert_null(if_byindex(MAX + 1));
	pserialize_read_exit(s);
	cr_assert_null(if_name_table_check());

	/* A detach gives its index to the refused interface. */
	detach(ifs[6]);
	cr_assert_eq(if_attach(extra), 0);
	cr_assert_eq(extra->if_index, 7u);
	ifs[6] = extra;
	extra = new_if("extra1");
	cr_assert_eq(if_attach(extra), ENOSPC);
	free(extra);
	for (int i = 0; i < MAX; i++)
		detach(ifs[i]);
	cr_assert_eq(if_test_index_max(IFNET_INDEX_MAX), 0);
}

/* The name table's own check (if_impl.h). */
static void
assert_name_table(void)
{
	const char *why = if_name_table_check();

	cr_assert_null(why, "name table: %s", why);
}

/*
 * The list in order, checked against want[0..n-1]; each interface found
 * by its name (ifunit()) and its index; the name table consistent.
 */
static void
assert_list_is(struct ifnet *const *want, unsigned n)
{
	struct ifnet *ifp;
	unsigned i = 0;
	int s = pserialize_read_enter();

	IFNET_READER_FOREACH (ifp) {
		cr_assert_lt(i, n, "more interfaces listed than attached");
		cr_assert_eq(ifp, want[i], "list position %u: %s, want %s", i,
		    ifp->if_xname, want[i]->if_xname);
		cr_assert_eq(
		    ifunit(ifp->if_xname), ifp, "%s by name", ifp->if_xname);
		cr_assert_eq(if_byindex(ifp->if_index), ifp);
		i++;
	}
	pserialize_read_exit(s);
	cr_assert_eq(i, n, "%u interfaces listed, want %u", i, n);
	assert_name_table();
}

/*
 * Thousands of interfaces: names and indexes answer for each, detaches
 * from the head, the tail and the middle keep the list in attach order,
 * the freed indexes go out again lowest first, and a detached name is
 * free again while a live one is not.
 */
Test(ifnet, many_interfaces_keep_names_indexes_and_order)
{
	enum { N = 3000 };
	static struct ifnet *ifs[N], *live[N];
	static unsigned freed[N];
	char name[IFNET_NAMESIZE];
	unsigned nlive = 0, nfreed = 0;
	struct ifnet *dup;

	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "m%u", i);
		ifs[i] = attach(name);
		if (i > 0)
			cr_assert_eq(
			    ifs[i]->if_index, ifs[i - 1]->if_index + 1);
	}
	assert_list_is(ifs, N);

	/* The tail, the head, then every third from the top down. */
	freed[nfreed++] = ifs[N - 1]->if_index;
	detach(ifs[N - 1]);
	ifs[N - 1] = NULL;
	freed[nfreed++] = ifs[0]->if_index;
	detach(ifs[0]);
	ifs[0] = NULL;
	for (unsigned i = N - 2; i > 0; i--) {
		if (i % 3 != 0)
			continue;
		freed[nfreed++] = ifs[i]->if_index;
		detach(ifs[i]);
		ifs[i] = NULL;
	}
	for (unsigned i = 0; i < N; i++)
		if (ifs[i] != NULL)
			live[nlive++] = ifs[i];
	assert_list_is(live, nlive);
	int s = pserialize_read_enter();
	cr_assert_null(ifunit("m0"));
	cr_assert_null(ifunit("m3"));
	cr_assert_null(ifunit("m2999"));
	cr_assert_eq(ifunit("m1"), ifs[1]);
	pserialize_read_exit(s);

	/* A live name is taken; a detached one is free. */
	dup = new_if("m1");
	cr_assert_eq(if_attach(dup), EEXIST);
	free(dup);

	/* New interfaces get the freed indexes, lowest first, at the tail. */
	for (unsigned i = 1; i < nfreed; i++)
		for (unsigned j = i; j > 0 && freed[j - 1] > freed[j]; j--) {
			unsigned tmp = freed[j];

			freed[j] = freed[j - 1];
			freed[j - 1] = tmp;
		}
	for (unsigned i = 0; i < nfreed; i++) {
		snprintf(name, sizeof(name), i == 0 ? "m3" : "n%u", i);
		live[nlive] = attach(name);
		cr_assert_eq(live[nlive]->if_index, freed[i],
		    "attach %u got index %u, want %u", i, live[nlive]->if_index,
		    freed[i]);
		nlive++;
	}
	assert_list_is(live, nlive);
	for (unsigned i = 0; i < nlive; i++)
		detach(live[i]);
	assert_list_is(live, 0);

	/* The list emptied, a new interface is its head and tail. */
	live[0] = attach("again0");
	assert_list_is(live, 1);
	live[1] = attach("again1");
	assert_list_is(live, 2);
	detach(live[0]);
	detach(live[1]);
}

/*
 * Names that come and go, each new: the name table fills with vacated
 * slots and is rebuilt many times; at every step the window of live names
 * answers and the name detached last does not.
 */
Test(ifnet, names_answer_through_churn)
{
	enum { WINDOW = 40, STEPS = 3000 };
	struct ifnet *win[WINDOW] = {NULL};
	char name[IFNET_NAMESIZE], gone[IFNET_NAMESIZE] = "";
	unsigned seed = 12345;

	for (unsigned step = 0; step < STEPS; step++) {
		struct ifnet **slot = &win[step % WINDOW];

		if (*slot != NULL) {
			snprintf(gone, sizeof(gone), "%s", (*slot)->if_xname);
			detach(*slot);
		}
		snprintf(name, sizeof(name), "c%u", step);
		*slot = attach(name);
		assert_name_table();

		int s = pserialize_read_enter();

		cr_assert_null(
		    ifunit(gone), "step %u: %s still answers", step, gone);
		for (unsigned k = 0; k < 4; k++) {
			struct ifnet *want;

			seed = seed * 1103515245u + 12345u;
			want = win[(seed >> 8) % WINDOW];
			if (want != NULL)
				cr_assert_eq(ifunit(want->if_xname), want,
				    "step %u: %s not found", step,
				    want->if_xname);
		}
		pserialize_read_exit(s);
	}
	for (unsigned i = 0; i < WINDOW; i++) {
		int s = pserialize_read_enter();

		cr_assert_eq(ifunit(win[i]->if_xname), win[i]);
		pserialize_read_exit(s);
		detach(win[i]);
	}
}

struct name_reader {
	struct ifnet *keep;
	_Atomic int stop;
	_Atomic unsigned long lookups;
};

/* Look names up back to back: one that stays, and churned ones. */
static void *
name_reader_main(void *arg)
{
	struct name_reader *r = arg;
	char name[IFNET_NAMESIZE];
	unsigned long n = 0;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int s = pserialize_read_enter();
		struct ifnet *ifp = ifunit("keep0");

		cr_assert_eq(ifp, r->keep, "keep0 not found during a rebuild");
		snprintf(name, sizeof(name), "r%lu", n % 64);
		ifp = ifunit(name);
		if (ifp != NULL)
			cr_assert_eq(strcmp(ifp->if_xname, name), 0);
		pserialize_read_exit(s);
		/* Relaxed: a progress count; the join orders the last one. */
		atomic_store_explicit(&r->lookups, ++n, memory_order_relaxed);
	}
	return NULL;
}

static unsigned long
reader_lookups(struct name_reader *r)
{
	return atomic_load_explicit(&r->lookups, memory_order_relaxed);
}

/*
 * A reader looks names up back to back while the name table is rebuilt
 * under it, about 150 times (more if the reader is slow to make its
 * lookups): it always finds the interface that stays, and (under ASan)
 * never reads a table freed under it.
 */
Test(ifnet, name_lookups_race_rebuilds)
{
	enum { WINDOW = 4, STEPS = 2000, LOOKUPS = 2000 };
	struct ifnet *win[WINDOW] = {NULL};
	struct name_reader r = {.keep = attach("keep0")};
	char name[IFNET_NAMESIZE];
	unsigned long first;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, name_reader_main, &r), 0);
	while ((first = reader_lookups(&r)) == 0)
		sched_yield(); /* the suite's timeout bounds the wait */
	/* At least STEPS steps, and LOOKUPS lookups made during them. */
	for (unsigned step = 0;
	     step < STEPS || reader_lookups(&r) - first < LOOKUPS; step++) {
		struct ifnet **slot = &win[step % WINDOW];

		if (*slot != NULL)
			detach(*slot);
		snprintf(name, sizeof(name), "r%u", step);
		*slot = attach(name);
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	assert_name_table();
	for (unsigned i = 0; i < WINDOW; i++)
		detach(win[i]);
	detach(r.keep);
}

/* --- the address table --------------------------------------------------- */

static void
assert_addr_table(void)
{
	const char *why = if_addr_table_check();

	cr_assert_null(why, "address table: %s", why);
}

/* Address k of interface i: 10.i.k.1 for even k, 2001:db8:i::k for odd. */
static struct sockaddr_storage
addr_of(unsigned i, unsigned k)
{
	struct sockaddr_storage ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	if (k % 2 == 0) {
		snprintf(buf, sizeof(buf), "10.%u.%u.1", i, k);
		*(struct sockaddr_in *)&ss = sin_of(buf);
	} else {
		snprintf(buf, sizeof(buf), "2001:db8:%x::%x", i, k);
		*(struct sockaddr_in6 *)&ss = sin6_of(buf);
	}
	return ss;
}

static struct if_addr *
add_addr(struct ifnet *ifp, const struct sockaddr_storage *ss)
{
	struct if_addr *ifa = ifa_create((const struct sockaddr *)ss, NULL);

	cr_assert_not_null(ifa);
	cr_assert_eq(ifa_insert(ifp, ifa), 0);
	return ifa;
}

static struct if_addr *
find_addr(const struct sockaddr_storage *ss)
{
	int s = pserialize_read_enter();
	struct if_addr *ifa = ifa_ifwithaddr((const struct sockaddr *)ss);

	pserialize_read_exit(s);
	return ifa;
}

/* The addresses of ifp in list order: *n of them in out[]. */
static void
addr_order(struct ifnet *ifp, struct if_addr **out, unsigned max, unsigned *n)
{
	struct if_addr *ifa;
	int s = pserialize_read_enter();

	*n = 0;
	IFADDR_READER_FOREACH (ifa, ifp) {
		cr_assert_lt(*n, max);
		out[(*n)++] = ifa;
	}
	pserialize_read_exit(s);
}

/*
 * 2,000 addresses on 100 interfaces, IPv4 and IPv6: each is found by its
 * address through removals, a shared address, detaches and the table's
 * rebuilds, and no address removed or of a detached interface is; each
 * list keeps insertion order with the tail moving back on removal.
 */
/* fe80:<embedded>::<low> with sin6_scope_id scope, as a sockaddr_storage. */
static struct sockaddr_storage
ll_of(unsigned embedded, unsigned low, uint32_t scope)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	*sin6 = sin6_of("fe80::");
	sin6->sin6_addr.s6_addr[2] = (uint8_t)(embedded >> 8);
	sin6->sin6_addr.s6_addr[3] = (uint8_t)embedded;
	sin6->sin6_addr.s6_addr[15] = (uint8_t)low;
	sin6->sin6_scope_id = scope;
	return ss;
}

/*
 * IPv6 zones: a link-local address is of its interface's zone, named by
 * sin6_scope_id or KAME's embedded bits; a lookup naming a zone finds
 * that interface's address only, an impossible zone finds nothing, and
 * an insert naming another zone is refused.
 */
Test(ifnet, link_local_addresses_belong_to_their_interface)
{
	struct ifnet *a = attach("zl0"), *b = attach("zl1");
	unsigned ia = a->if_index, ib = b->if_index;
	struct sockaddr_storage ss, mask;
	struct if_addr *la, *lb, *net, *g, *dup;
	int s;

	ss = ll_of(0, 1, 0);
	la = add_addr(a, &ss); /* fe80::1, no zone named */
	ss = ll_of(0, 1, ib);
	lb = add_addr(b, &ss); /* fe80::1 of b's zone */

	ss = ll_of(0, 1, ia);
	cr_assert_eq(find_addr(&ss), la, "by scope id");
	ss = ll_of(ib, 1, 0);
	cr_assert_eq(find_addr(&ss), lb, "by the embedded zone");
	ss = ll_of(ib, 1, ib);
	cr_assert_eq(find_addr(&ss), lb, "both, agreeing");
	ss = ll_of(0, 1, 0);
	cr_assert(find_addr(&ss) == la || find_addr(&ss) == lb, "no zone");
	ss = ll_of(0, 1, ib + 100);
	cr_assert_null(find_addr(&ss), "a zone no interface has");
	ss = ll_of(ia, 1, ib);
	cr_assert_null(find_addr(&ss), "two zones");
	ss = ll_of(0, 1, 0x10000 + ia);
	cr_assert_null(find_addr(&ss), "a zone over 0xffff");

	/* Inserts: another zone, the embedded form of one there already. */
	ss = ll_of(0, 2, ib);
	dup = ifa_create((const struct sockaddr *)&ss, NULL);
	cr_assert_eq(ifa_insert(a, dup), EINVAL, "b's zone on a");
	ifafree(dup);
	ss = ll_of(ia, 1, 0);
	dup = ifa_create((const struct sockaddr *)&ss, NULL);
	cr_assert_eq(ifa_insert(a, dup), EEXIST, "fe80:<ia>::1 is fe80::1");
	ifafree(dup);

	/* A global address's scope id is no zone. */
	ss = addr_of(9, 1);
	((struct sockaddr_in6 *)&ss)->sin6_scope_id = ib;
	g = add_addr(a, &ss);
	ss = addr_of(9, 1);
	cr_assert_eq(find_addr(&ss), g);

	/* ifaof_ifpforaddr(): the network match honours the zone too. */
	ss = ll_of(0, 0x10, 0);
	mask = ll_of(0, 0, 0);
	memset(((struct sockaddr_in6 *)&mask)->sin6_addr.s6_addr, 0xff, 8);
	net = ifa_create(
	    (const struct sockaddr *)&ss, (const struct sockaddr *)&mask);
	cr_assert_not_null(net);
	cr_assert_eq(ifa_insert(a, net), 0);
	s = pserialize_read_enter();
	ss = ll_of(ia, 0x99, 0);
	cr_assert_eq(ifaof_ifpforaddr((const struct sockaddr *)&ss, a), net,
	    "fe80:<ia>::99 is on fe80::/64 of a");
	ss = ll_of(0, 0x99, ia);
	cr_assert_eq(ifaof_ifpforaddr((const struct sockaddr *)&ss, a), net);
	ss = ll_of(0, 0x99, ib);
	cr_assert_eq(ifaof_ifpforaddr((const struct sockaddr *)&ss, a), la,
	    "of b's zone: not a's network, so a's first IPv6 address");
	ss = ll_of(0, 1, ia);
	cr_assert_eq(ifaof_ifpforaddr((const struct sockaddr *)&ss, a), la);
	pserialize_read_exit(s);
	assert_addr_table();

	detach(a);
	detach(b);
	assert_addr_table();
}

Test(ifnet, many_addresses_found_by_address)
{
	enum { NIF = 100, NADDR = 20 };
	static struct if_addr *ifas[NIF][NADDR];
	struct ifnet *ifs[NIF];
	struct if_addr *order[NADDR + 2], *shared0, *shared1, *dup;
	struct sockaddr_storage shared = addr_of(250, 0), ss;
	struct sockaddr_in with_port;
	struct sockaddr unknown = {.sa_family = AF_UNIX};
	char name[IFNET_NAMESIZE];
	unsigned n;

	for (unsigned i = 0; i < NIF; i++) {
		snprintf(name, sizeof(name), "ha%u", i);
		ifs[i] = attach(name);
		for (unsigned k = 0; k < NADDR; k++) {
			ss = addr_of(i, k);
			ifas[i][k] = add_addr(ifs[i], &ss);
		}
	}
	assert_addr_table();
	for (unsigned i = 0; i < NIF; i++)
		for (unsigned k = 0; k < NADDR; k++) {
			ss = addr_of(i, k);
			cr_assert_eq(find_addr(&ss), ifas[i][k],
			    "address %u of ha%u not found", k, i);
			cr_assert_eq(ifas[i][k]->ifa_ifp, ifs[i]);
		}

	/* Ports are ignored; a family without addresses finds nothing. */
	with_port =
	    *(const struct sockaddr_in *)(const void *)ifas[3][4]->ifa_addr;
	with_port.sin_port = htons(80);
	cr_assert_eq(find_addr((void *)&with_port), ifas[3][4]);
	cr_assert_null(find_addr((void *)&unknown));

	/* The same address on two interfaces, not twice on one. */
	shared0 = add_addr(ifs[0], &shared);
	shared1 = add_addr(ifs[1], &shared);
	dup = ifa_create((const struct sockaddr *)&shared, NULL);
	cr_assert_eq(ifa_insert(ifs[0], dup), EEXIST);
	ifafree(dup);
	ss = addr_of(5, 7);
	dup = ifa_create((void *)&ss, NULL);
	cr_assert_eq(ifa_insert(ifs[5], dup), EEXIST,
	    "an IPv6 address twice on one interface");
	ifafree(dup);
	cr_assert(
	    find_addr(&shared) == shared0 || find_addr(&shared) == shared1);
	cr_assert_eq(ifa_remove(ifs[0], shared0), 0);
	cr_assert_eq(find_addr(&shared), shared1, "the other owner's copy");
	assert_addr_table();

	/* The tail moves back: a new address after removing the last one. */
	addr_order(ifs[2], order, NADDR + 2, &n);
	cr_assert_eq(n, NADDR);
	cr_assert_eq(order[NADDR - 1], ifas[2][NADDR - 1]);
	cr_assert_eq(ifa_remove(ifs[2], ifas[2][NADDR - 1]), 0);
	ss = addr_of(2, NADDR - 1);
	ifas[2][NADDR - 1] = add_addr(ifs[2], &ss);
	ss = addr_of(2, NADDR);
	dup = add_addr(ifs[2], &ss);
	addr_order(ifs[2], order, NADDR + 2, &n);
	cr_assert_eq(n, NADDR + 1);
	for (unsigned k = 0; k < NADDR; k++)
		cr_assert_eq(order[k], ifas[2][k], "ha2's order at %u", k);
	cr_assert_eq(order[NADDR], dup);
	cr_assert_eq(ifa_remove(ifs[2], dup), 0);

	/* Every third address removed: gone, the others still found. */
	for (unsigned i = 0; i < NIF; i++)
		for (unsigned k = i % 3; k < NADDR; k += 3) {
			cr_assert_eq(ifa_remove(ifs[i], ifas[i][k]), 0);
			ifas[i][k] = NULL;
		}
	assert_addr_table();
	for (unsigned i = 0; i < NIF; i++)
		for (unsigned k = 0; k < NADDR; k++) {
			ss = addr_of(i, k);
			cr_assert_eq(find_addr(&ss), ifas[i][k],
			    "address %u of ha%u after the removals", k, i);
		}

	/* An interface emptied and refilled: its first address is the head. */
	for (unsigned k = 0; k < NADDR; k++)
		if (ifas[7][k] != NULL) {
			cr_assert_eq(ifa_remove(ifs[7], ifas[7][k]), 0);
			ifas[7][k] = NULL;
		}
	ss = addr_of(7, 0);
	ifas[7][0] = add_addr(ifs[7], &ss);
	ss = addr_of(7, 1);
	ifas[7][1] = add_addr(ifs[7], &ss);
	addr_order(ifs[7], order, NADDR + 2, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(order[0], ifas[7][0]);
	cr_assert_eq(order[1], ifas[7][1]);

	/* Odd interfaces detached: their addresses go with them. */
	for (unsigned i = 1; i < NIF; i += 2) {
		detach(ifs[i]);
		ifs[i] = NULL;
	}
	assert_addr_table();
	cr_assert_null(find_addr(&shared), "a detached interface's address");
	for (unsigned i = 0; i < NIF; i++)
		for (unsigned k = 0; k < NADDR; k++) {
			ss = addr_of(i, k);
			cr_assert_eq(find_addr(&ss),
			    ifs[i] == NULL ? NULL : ifas[i][k],
			    "address %u of ha%u after the detaches", k, i);
		}
	for (unsigned i = 0; i < NIF; i += 2)
		detach(ifs[i]);
	assert_addr_table();
}

/* Churned address x: 2001:db8:ffff:X::x, never one of addr_of()'s. */
static struct sockaddr_storage
churn_addr(unsigned long x)
{
	struct sockaddr_storage ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	snprintf(buf, sizeof(buf), "2001:db8:ffff:%lx::%lx", (x >> 16) & 0xffff,
	    x & 0xffff);
	*(struct sockaddr_in6 *)&ss = sin6_of(buf);
	return ss;
}

struct addr_reader {
	struct if_addr *keep;
	_Atomic int stop;
	_Atomic unsigned long lookups;
};

/* Look addresses up back to back: one that stays, and churned ones. */
static void *
addr_reader_main(void *arg)
{
	struct addr_reader *r = arg;
	struct sockaddr_storage keep = addr_of(200, 0), ss;
	unsigned long n = 0;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int s = pserialize_read_enter();
		struct if_addr *ifa = ifa_ifwithaddr((void *)&keep);

		cr_assert_eq(ifa, r->keep, "the kept address not found");
		ss = churn_addr(n % 4096);
		ifa = ifa_ifwithaddr((void *)&ss);
		if (ifa != NULL)
			cr_assert_eq(
			    sockaddr_cmp(ifa->ifa_addr, (void *)&ss), 0);
		pserialize_read_exit(s);
		/* Relaxed: a progress count; the join orders the last one. */
		atomic_store_explicit(&r->lookups, ++n, memory_order_relaxed);
	}
	return NULL;
}

/*
 * A reader looks addresses up back to back while addresses that are
 * always new come and go, so that tombstones pile up and the address
 * table is rebuilt under the reader: it always finds the address that
 * stays, and (under ASan) never reads a table freed under it.
 */
Test(ifnet, address_lookups_race_rebuilds)
{
	enum { WINDOW = 4, STEPS = 2000, LOOKUPS = 2000 };
	struct if_addr *win[WINDOW] = {NULL};
	struct ifnet *ifp = attach("ar0");
	struct sockaddr_storage keep = addr_of(200, 0), ss;
	struct addr_reader r = {.keep = add_addr(ifp, &keep)};
	unsigned long first;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, addr_reader_main, &r), 0);
	while ((first = atomic_load(&r.lookups)) == 0)
		sched_yield(); /* the suite's timeout bounds the wait */
	for (unsigned step = 0;
	     step < STEPS || atomic_load(&r.lookups) - first < LOOKUPS;
	     step++) {
		struct if_addr **slot = &win[step % WINDOW];

		if (*slot != NULL)
			cr_assert_eq(ifa_remove(ifp, *slot), 0);
		ss = churn_addr(step);
		*slot = add_addr(ifp, &ss);
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	assert_addr_table();
	detach(ifp);
	assert_addr_table();
}

static void *
if_detach_main(void *arg)
{
	cr_assert_eq(if_detach(arg), 0);
	return NULL;
}

/*
 * While a detach waits for a holder of its interface, the interface's
 * addresses are already out of the address table (no lookup hands out
 * an interface being detached), and an ifa_remove() of one of them
 * still succeeds, the table untouched.
 */
Test(ifnet, addresses_leave_the_table_when_the_detach_begins)
{
	struct ifnet *ifp = attach("dt0");
	struct sockaddr_storage s1 = addr_of(210, 0), s2 = addr_of(210, 1);
	struct if_addr *a1 = add_addr(ifp, &s1);
	struct psref ref;
	pthread_t td;
	int s;

	(void)add_addr(ifp, &s2);
	cr_assert_eq(if_get_byindex(ifp->if_index, &ref), ifp);
	cr_assert_eq(pthread_create(&td, NULL, if_detach_main, ifp), 0);
	for (;;) { /* until the detach has unpublished ifp */
		s = pserialize_read_enter();
		bool gone = ifunit("dt0") == NULL;

		pserialize_read_exit(s);
		if (gone)
			break;
		sched_yield();
	}
	/* The detach now waits for our reference. */
	cr_assert_null(find_addr(&s1));
	cr_assert_null(find_addr(&s2));
	cr_assert_null(if_get_byaddr((void *)&s1, &ref));
	assert_addr_table();
	cr_assert_eq(ifa_remove(ifp, a1), 0);
	assert_addr_table();
	if_put(ifp, &ref);
	cr_assert_eq(pthread_join(td, NULL), 0);
	assert_addr_table();
	free(ifp);
}

/*
 * NetBSD's case: an ioctl-like operation holds the interface across a
 * sleep; if_detach() must wait for it and finish after if_put().
 */
struct holder {
	unsigned idx;
	_Atomic int held, release, done;
	/* Set by the holder just before if_put(). */
	_Atomic int released;
	/* released, as the detacher read it right after if_detach(). */
	_Atomic int released_at_return;
	struct ifnet *ifp;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	struct psref ref;
	struct ifnet *ifp = if_get_byindex(h->idx, &ref);

	cr_assert_not_null(ifp);
	atomic_store(&h->held, 1);
	while (!atomic_load(&h->release)) {
		/* Sleeps holding the reference: the interface stays valid. */
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		cr_assert_eq(ifp->if_mtu, 1500);
	}
	atomic_store(&h->released, 1);
	if_put(ifp, &ref);
	return NULL;
}

static void *
detacher_main(void *arg)
{
	struct holder *h = arg;

	cr_assert_eq(if_detach(h->ifp), 0);
	atomic_store(&h->released_at_return, atomic_load(&h->released));
	atomic_store(&h->done, 1);
	return NULL;
}

/*
 * For about ms milliseconds, check that the detach (thread td) has not
 * returned (*done clear); then let the holder (thread th) go and join
 * both.
 */
static void
detach_waits_then_release(_Atomic int *done, _Atomic int *release, pthread_t td,
    pthread_t th, int ms, const char *holder)
{
	for (int i = 0; i < ms / 2; i++) {
		struct timespec ts = {0, 2000000};

		nanosleep(&ts, NULL);
		cr_assert_not(atomic_load(done),
		    "if_detach returned while %s slept", holder);
	}
	atomic_store(release, 1);
	pthread_join(td, NULL);
	pthread_join(th, NULL);
}

Test(ifnet, detach_waits_for_a_sleeping_holder)
{
	struct holder h = {0};
	pthread_t th, td;
	struct psref ref;

	h.ifp = attach("ioctl0");
	h.idx = h.ifp->if_index;
	pthread_create(&th, NULL, holder_main, &h);
	while (!atomic_load(&h.held))
		sched_yield();
	pthread_create(&td, NULL, detacher_main, &h);
	/* Unpublished at once: lookups fail while detach waits. */
	while (if_get_byindex(h.idx, &ref) != NULL) {
		if_put(h.ifp, &ref);
		sched_yield();
	}
	detach_waits_then_release(&h.done, &h.release, td, th, 100, "a holder");
	cr_assert(atomic_load(&h.released_at_return),
	    "if_detach returned before the holder's if_put");
	cr_assert_eq(h.ifp->if_index, 0);
	free(h.ifp);
}

Test(ifnet, addresses)
{
	struct ifnet *a = attach("addr0"), *b = attach("addr1"), *ifp;
	struct sockaddr_in s1 = sin_of("192.0.2.1"),
	                   m24 = sin_of("255.255.255.0");
	struct sockaddr_in s2 = sin_of("198.51.100.1"),
	                   q = sin_of("192.0.2.77");
	struct sockaddr_in6 s6 = sin6_of("2001:db8::1");
	struct if_addr *i1 = ifa_create((void *)&s1, (void *)&m24);
	struct if_addr *i2 = ifa_create((void *)&s2, NULL);
	struct if_addr *i6 = ifa_create((void *)&s6, NULL), *ifa;
	struct psref ref;
	unsigned n = 0;
	int s;

	cr_assert_eq(ifa_insert(a, i1), 0);
	cr_assert_eq(ifa_insert(a, i6), 0);
	cr_assert_eq(ifa_insert(b, i2), 0);
	cr_assert_eq(i1->ifa_ifp, a);
	cr_assert_eq(i1->ifa_ifindex, a->if_index);

	s = pserialize_read_enter();
	IFADDR_READER_FOREACH (ifa, a) {
		n++;
	}
	cr_assert_eq(n, 2);
	cr_assert_eq(IFADDR_READER_FIRST(a), i1, "insertion order");
	cr_assert_eq(ifa_ifwithaddr((void *)&s2), i2);
	cr_assert_eq(ifa_ifwithaddr((void *)&s6)->ifa_ifp, a);
	cr_assert_null(ifa_ifwithaddr((void *)&q));
	cr_assert_eq(ifaof_ifpforaddr((void *)&q, a), i1, "same /24");
	cr_assert_eq(ifaof_ifpforaddr((void *)&s1, a), i1);
	pserialize_read_exit(s);

	ifp = if_get_byaddr((void *)&s2, &ref);
	cr_assert_eq(ifp, b);
	if_put(ifp, &ref);
	ifa = ifa_ifwithaddr_psref((void *)&s1, &ref);
	cr_assert_eq(ifa, i1);
	ifa_release(ifa, &ref);
	ifa_release(NULL, &ref);

	/* A long-term reference outlives removal. */
	ifaref(i1);
	cr_assert_eq(ifa_remove(a, i1), 0);
	cr_assert_eq(ifa_remove(a, i1), ENOENT);
	cr_assert_null(ifa_ifwithaddr_psref((void *)&s1, &ref));
	cr_assert_eq(sockaddr_cmp(i1->ifa_addr, (void *)&s1), 0);
	ifafree(i1);

	/* Detach removes the rest. */
	detach(a);
	cr_assert_null(ifa_ifwithaddr_psref((void *)&s6, &ref));
	detach(b);
	cr_assert_null(if_get_byaddr((void *)&s2, &ref));
}

/*
 * An interface with more addresses than ifa_reap() drains at once (its
 * chunks of 32 share a grace period each), one of them held in the last
 * chunk (if_detach() takes them newest first): if_detach() waits for that
 * holder too, and the address stays intact until its release.
 */
struct addr_holder {
	struct sockaddr_in sin;
	_Atomic int held, release, released;
};

static void *
addr_holder_main(void *arg)
{
	struct addr_holder *h = arg;
	struct psref ref;
	struct if_addr *ifa = ifa_ifwithaddr_psref((void *)&h->sin, &ref);

	cr_assert_not_null(ifa);
	atomic_store(&h->held, 1);
	while (!atomic_load(&h->release)) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
		cr_assert_eq(sockaddr_cmp(ifa->ifa_addr, (void *)&h->sin), 0);
	}
	atomic_store(&h->released, 1);
	ifa_release(ifa, &ref);
	return NULL;
}

struct addr_detacher {
	struct ifnet *ifp;
	struct addr_holder *ah;
	_Atomic int done, released_at_return;
};

static void *
addr_detacher_main(void *arg)
{
	struct addr_detacher *d = arg;

	cr_assert_eq(if_detach(d->ifp), 0);
	atomic_store(&d->released_at_return, atomic_load(&d->ah->released));
	atomic_store(&d->done, 1);
	return NULL;
}

Test(ifnet, detach_with_many_addresses_waits_for_each_holder)
{
	struct addr_holder ah = {.sin = sin_of("10.0.0.3")};
	struct addr_detacher h = {.ah = &ah};
	pthread_t th, td;
	char buf[32];

	h.ifp = attach("many0");
	for (int i = 1; i <= 100; i++) {
		struct sockaddr_in sin;
		struct if_addr *ifa;

		snprintf(buf, sizeof(buf), "10.0.0.%d", i);
		sin = sin_of(buf);
		ifa = ifa_create((void *)&sin, NULL);
		cr_assert_not_null(ifa);
		cr_assert_eq(ifa_insert(h.ifp, ifa), 0);
	}
	pthread_create(&th, NULL, addr_holder_main, &ah);
	while (!atomic_load(&ah.held))
		sched_yield();
	pthread_create(&td, NULL, addr_detacher_main, &h);
	detach_waits_then_release(
	    &h.done, &ah.release, td, th, 50, "an address holder");
	cr_assert(atomic_load(&h.released_at_return),
	    "if_detach returned before the address holder's release");
	cr_assert_eq(h.ifp->if_index, 0);
	free(h.ifp);
}

struct counter_arg {
	struct ifnet *ifp;
	pthread_barrier_t *bar;
	unsigned n;
};

static void *
counter_main(void *arg)
{
	struct counter_arg *c = arg;

	/* All alive at once, so that some share the overflow slot. */
	pthread_barrier_wait(c->bar);
	for (unsigned i = 0; i < c->n; i++) {
		if_statinc(c->ifp, if_ipackets);
		if_statadd(c->ifp, if_ibytes, 100);
	}
	pthread_barrier_wait(c->bar);
	return NULL;
}

Test(ifnet, per_thread_statistics_add_up)
{
	enum { T = IF_STAT_THREADS + 8, N = 2000 };
	static pthread_t th[T];
	static struct counter_arg args[T];
	pthread_barrier_t bar;
	struct ifnet *ifp = attach("stat0");

	pthread_barrier_init(&bar, NULL, T);
	for (int i = 0; i < T; i++) {
		args[i] = (struct counter_arg){ifp, &bar, N};
		cr_assert_eq(
		    pthread_create(&th[i], NULL, counter_main, &args[i]), 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	cr_assert_eq(if_stat_get(ifp, if_ipackets), (uint64_t)T * N);
	cr_assert_eq(if_stat_get(ifp, if_ibytes), (uint64_t)T * N * 100);
	cr_assert_eq(if_stat_get(ifp, if_opackets), 0);
	cr_assert_eq(if_stat_get(ifp, IF_NSTATS), 0);
	/* Slots of exited threads are reused and keep their counts. */
	if_statinc(ifp, if_ipackets);
	cr_assert_eq(if_stat_get(ifp, if_ipackets), (uint64_t)T * N + 1);
	detach(ifp);
}

/*
 * A thread that counts in a key destructor running after the library's
 * (its key created later) has given its slot back, and a new thread may
 * have taken it: the exiting thread must count in the shared slot, not in
 * the new owner's (two writers with plain stores lose counts).
 */
static struct ifnet *late_ifp;
static pthread_key_t late_key;
static sem_t late_freed, late_taken;
static int late_slot_exiting, late_slot_new;

static void
late_destructor(void *arg)
{
	(void)arg;
	sem_post(&late_freed); /* the library's destructor has run */
	sem_wait(&late_taken);
	if_statinc(late_ifp, if_opackets);
	late_slot_exiting = if_stat_self;
}

static void *
late_exiting_main(void *arg)
{
	(void)arg;
	if_statinc(late_ifp, if_opackets);
	cr_assert_eq(pthread_setspecific(late_key, late_ifp), 0);
	return NULL;
}

static void *
late_new_main(void *arg)
{
	(void)arg;
	sem_wait(&late_freed);
	if_statinc(late_ifp, if_opackets);
	late_slot_new = if_stat_self;
	sem_post(&late_taken);
	return NULL;
}

Test(ifnet, counts_after_the_slot_is_given_back_go_to_the_shared_slot)
{
	pthread_t a, b;

	late_ifp = attach("stat1"); /* creates the library's key first */
	cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
	cr_assert_eq(sem_init(&late_freed, 0, 0), 0);
	cr_assert_eq(sem_init(&late_taken, 0, 0), 0);
	cr_assert_eq(pthread_create(&b, NULL, late_new_main, NULL), 0);
	cr_assert_eq(pthread_create(&a, NULL, late_exiting_main, NULL), 0);
	cr_assert_eq(pthread_join(a, NULL), 0);
	cr_assert_eq(pthread_join(b, NULL), 0);
	cr_assert_neq(late_slot_exiting, late_slot_new,
	    "an exiting thread counted in the slot of a new thread (%d)",
	    late_slot_new);
	cr_assert_eq(late_slot_exiting, IF_STAT_THREADS);
	cr_assert_eq(if_stat_get(late_ifp, if_opackets), 3);
	pthread_key_delete(late_key);
	detach(late_ifp);
}

Test(ifnet, default_output_drops)
{
	struct ifnet *ifp = attach("out0");

	cr_assert_not_null(ifp->if_output);
	cr_assert_eq(ifp->if_output(ifp, NULL, NULL), ENXIO);
	detach(ifp);
}

/* Wait (yielding) until *flag is set; a watchdog: the suite's timeout. */
static void
wait_for(_Atomic int *flag)
{
	while (!atomic_load(flag))
		sched_yield();
}

/*
 * An address holder may use ifa->ifa_ifp (if.h); when a concurrent
 * ifa_remove() unlinked the address before if_detach() looked, the
 * detach must still wait for that holder.  The holder waits for the
 * detach to return, but no longer than WAIT_MS: with the fix the detach
 * cannot return first, so the holder always gives up and then checks
 * that the interface is still being detached.  (A broken detach returns
 * within two grace periods, far less than WAIT_MS; only on a machine
 * that stalls the detacher for longer could a broken library pass.)
 */
struct inflight {
	struct ifnet *ifp;
	struct if_addr *ifa;
	struct sockaddr_in sin;
	_Atomic int holding, detached, detached_while_held;
	_Atomic uint32_t state_seen;
};

#define WAIT_MS 500

static void *
inflight_holder_main(void *arg)
{
	struct inflight *f = arg;
	struct psref ref;
	struct if_addr *ifa = ifa_ifwithaddr_psref((void *)&f->sin, &ref);
	struct timespec t0, t;

	cr_assert_eq(ifa, f->ifa);
	atomic_store(&f->holding, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (
	    !atomic_load(&f->detached) &&
	    (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 <
	        WAIT_MS);
	atomic_store(&f->detached_while_held, atomic_load(&f->detached));
	/* Allowed while holding the address: ifa_ifp (if_state: the lock). */
	IFNET_GLOBAL_LOCK();
	atomic_store(&f->state_seen, ifa->ifa_ifp->if_state);
	IFNET_GLOBAL_UNLOCK();
	ifa_release(ifa, &ref);
	return NULL;
}

static void *
inflight_remover_main(void *arg)
{
	struct inflight *f = arg;

	cr_assert_eq(ifa_remove(f->ifp, f->ifa), 0); /* waits for the holder */
	return NULL;
}

static void *
inflight_detacher_main(void *arg)
{
	struct inflight *f = arg;

	cr_assert_eq(if_detach(f->ifp), 0);
	atomic_store(&f->detached, 1);
	return NULL;
}

Test(ifnet, detach_waits_for_a_removal_in_flight)
{
	struct inflight f = {0};
	pthread_t th, tr, td;

	f.ifp = attach("fly0");
	f.sin = sin_of("192.0.2.9");
	f.ifa = ifa_create((void *)&f.sin, NULL);
	cr_assert_eq(ifa_insert(f.ifp, f.ifa), 0);
	pthread_create(&th, NULL, inflight_holder_main, &f);
	wait_for(&f.holding);
	pthread_create(&tr, NULL, inflight_remover_main, &f);
	for (;;) { /* until the remover has unlinked the address */
		int s = pserialize_read_enter();
		bool found = ifa_ifwithaddr((void *)&f.sin) != NULL;

		pserialize_read_exit(s);
		if (!found)
			break;
		sched_yield();
	}
	pthread_create(&td, NULL, inflight_detacher_main, &f);
	pthread_join(th, NULL);
	pthread_join(tr, NULL);
	pthread_join(td, NULL);
	cr_assert_not(atomic_load(&f.detached_while_held),
	    "if_detach returned while an address holder could use the "
	    "interface");
	cr_assert_eq(atomic_load(&f.state_seen), IFNET_STATE_DETACHING,
	    "the holder saw if_state %#x",
	    (unsigned)atomic_load(&f.state_seen));
	cr_assert_eq(f.ifp->if_state, IFNET_STATE_DETACHED);
	free(f.ifp);
}

/*
 * NetBSD's iterate-and-sleep pattern with two detaches: the holder of a
 * sleeps outside the read section while a is detached (waiting for it)
 * and b, a's successor, is detached (nobody holds b) and may be freed.
 * Back in a read section, the holder releases a and walks on: it must
 * reach c, never b.  Deterministic: each step waits for the previous one.
 */
struct walker {
	struct ifnet *a;
	_Atomic int holding, go;
	struct ifnet *next_seen;
};

/* Walk the list to a and take a psref to it; NULL if a is not there. */
static struct ifnet *
walk_to_and_hold(struct ifnet *a, struct psref *ref)
{
	struct ifnet *ifp;
	int s = pserialize_read_enter();

	IFNET_READER_FOREACH (ifp) {
		if (ifp == a)
			break;
	}
	if (ifp != NULL)
		if_acquire(ifp, ref);
	pserialize_read_exit(s);
	return ifp;
}

/* Wait until the interface named name is off the list. */
static void
wait_unlinked(const char *name)
{
	for (;;) {
		int s = pserialize_read_enter();
		bool found = ifunit(name) != NULL;

		pserialize_read_exit(s);
		if (!found)
			return;
		sched_yield();
	}
}

static void *
walker_main(void *arg)
{
	struct walker *w = arg;
	struct psref ref;
	struct ifnet *ifp = walk_to_and_hold(w->a, &ref);
	int s;

	cr_assert_eq(ifp, w->a);
	atomic_store(&w->holding, 1);
	wait_for(&w->go); /* "sleeps" holding a */
	s = pserialize_read_enter();
	if_put(ifp, &ref);
	w->next_seen = IFNET_READER_NEXT(ifp);
	pserialize_read_exit(s);
	return NULL;
}

static void *
detach_main(void *arg)
{
	cr_assert_eq(if_detach(arg), 0);
	return NULL;
}

Test(ifnet, walk_resumes_past_a_detached_successor)
{
	struct ifnet *a = attach("wa0"), *b = attach("wb0"), *c = attach("wc0");
	struct walker w = {.a = a};
	pthread_t tw, td;

	pthread_create(&tw, NULL, walker_main, &w);
	wait_for(&w.holding);
	pthread_create(&td, NULL, detach_main, a); /* waits for the walker */
	wait_unlinked("wa0");
	cr_assert_eq(if_detach(b), 0);
	memset(b, 0x5a, sizeof(*b)); /* its owner may free it now */
	atomic_store(&w.go, 1);
	pthread_join(tw, NULL);
	pthread_join(td, NULL);
	cr_assert_neq(w.next_seen, b, "the walk went on into detached b");
	cr_assert_eq(w.next_seen, c);
	free(a);
	free(b);
	detach(c);
}

/*
 * The same walk, for the order of the link it resumes through: b's
 * detach re-points a's link to c, attached after the holder's last news
 * of the writer, which is now only a relaxed flag (ThreadSanitizer agrees
 * it orders nothing).  So that re-pointing store's release is what makes
 * c's fields visible to the holder, who reads them (before it drops a,
 * so that the wake-up of a's detach orders nothing either).  Under the
 * tsan preset this fails with a data race if the release is missing (the
 * mutation tier, docs/design/verification.md).
 */
struct late_walker {
	struct ifnet *a;
	atomic_int holding;
	atomic_int go; /* relaxed */
	struct ifnet *next_seen;
	unsigned next_index;
	char next_name[IFNET_NAMESIZE];
};

static void *
late_walker_main(void *arg)
{
	struct late_walker *w = arg;
	struct psref ref;
	struct ifnet *ifp = walk_to_and_hold(w->a, &ref);
	int s;

	atomic_store(&w->holding, 1);
	if (ifp == NULL)
		return NULL;
	while (!atomic_load_explicit(&w->go, memory_order_relaxed))
		sched_yield();
	s = pserialize_read_enter();
	w->next_seen = IFNET_READER_NEXT(ifp);
	if (w->next_seen != NULL) {
		w->next_index = w->next_seen->if_index;
		memcpy(
		    w->next_name, w->next_seen->if_xname, sizeof(w->next_name));
	}
	if_put(ifp, &ref);
	pserialize_read_exit(s);
	return NULL;
}

Test(ifnet, walk_resumes_to_a_successor_attached_while_it_slept)
{
	struct ifnet *a = attach("la0"), *b = attach("lb0"), *c;
	struct late_walker w = {.a = a};
	pthread_t tw, td;

	pthread_create(&tw, NULL, late_walker_main, &w);
	wait_for(&w.holding);
	pthread_create(&td, NULL, detach_main, a); /* waits for the walker */
	wait_unlinked("la0");
	c = attach("lc0"); /* after b: a's link is still b */
	cr_assert_eq(if_detach(b), 0);
	atomic_store_explicit(&w.go, 1, memory_order_relaxed);
	pthread_join(tw, NULL);
	pthread_join(td, NULL);
	cr_assert_eq(w.next_seen, c, "the walk went on to %p, not c",
	    (void *)w.next_seen);
	cr_assert_eq(w.next_index, c->if_index);
	cr_assert_eq(strcmp(w.next_name, "lc0"), 0, "%s", w.next_name);
	free(a);
	free(b);
	detach(c);
}

/* The same with addresses: a1's holder walks on past removed a2. */
struct addr_walker {
	struct ifnet *ifp;
	struct if_addr *a1;
	_Atomic int holding, go;
	struct if_addr *next_seen;
};

static void *
addr_walker_main(void *arg)
{
	struct addr_walker *w = arg;
	struct if_addr *ifa;
	struct psref ref;
	int s = pserialize_read_enter();

	ifa = IFADDR_READER_FIRST(w->ifp);
	cr_assert_eq(ifa, w->a1);
	ifa_acquire(ifa, &ref);
	pserialize_read_exit(s);
	atomic_store(&w->holding, 1);
	wait_for(&w->go); /* "sleeps" holding a1 (and the interface) */
	s = pserialize_read_enter();
	ifa_release(ifa, &ref);
	w->next_seen = IFADDR_READER_NEXT(ifa);
	pserialize_read_exit(s);
	return NULL;
}

static void *
remove_a1_main(void *arg)
{
	struct addr_walker *w = arg;

	cr_assert_eq(ifa_remove(w->ifp, w->a1), 0); /* waits for the walker */
	return NULL;
}

/* The first address on ifp's list, or NULL. */
static struct if_addr *
first_addr(struct ifnet *ifp)
{
	int s = pserialize_read_enter();
	struct if_addr *ifa = IFADDR_READER_FIRST(ifp);

	pserialize_read_exit(s);
	return ifa;
}

/*
 * Insert w->a1, a2 and a3 on w->ifp, start the walker (thread *tw) and,
 * once it holds a1, a1's removal (thread *tr); return once a1 is
 * unlinked (the removal then waits for the walker).
 */
static void
addr_walk_start(struct addr_walker *w, struct if_addr *a2, struct if_addr *a3,
    pthread_t *tw, pthread_t *tr)
{
	cr_assert_eq(ifa_insert(w->ifp, w->a1), 0);
	cr_assert_eq(ifa_insert(w->ifp, a2), 0);
	cr_assert_eq(ifa_insert(w->ifp, a3), 0);
	pthread_create(tw, NULL, addr_walker_main, w);
	wait_for(&w->holding);
	pthread_create(tr, NULL, remove_a1_main, w);
	while (first_addr(w->ifp) == w->a1)
		sched_yield();
}

Test(ifnet, address_walk_resumes_past_a_removed_successor)
{
	struct addr_walker w = {.ifp = attach("aw0")};
	struct sockaddr_in s1 = sin_of("192.0.2.1"), s2 = sin_of("192.0.2.2"),
	                   s3 = sin_of("192.0.2.3");
	struct if_addr *a2 = ifa_create((void *)&s2, NULL),
	               *a3 = ifa_create((void *)&s3, NULL);
	pthread_t tw, tr;

	w.a1 = ifa_create((void *)&s1, NULL);
	addr_walk_start(&w, a2, a3, &tw, &tr);
	ifaref(a2); /* keep its memory, to compare pointers only */
	cr_assert_eq(ifa_remove(w.ifp, a2), 0);
	atomic_store(&w.go, 1);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	cr_assert_neq(w.next_seen, a2, "the walk went on into removed a2");
	cr_assert_eq(w.next_seen, a3);
	ifafree(a2);
	detach(w.ifp);
}

/*
 * The same when the successors go in a detach: a1's holder sleeps while
 * a1's ifa_remove() waits for it, and if_detach() unlinks a2 and a3 (all
 * at once, the list emptied) and waits for that removal; the holder,
 * resuming, finds the end of the list, never a2 or a3.
 */
Test(ifnet, address_walk_ends_when_a_detach_empties_the_list)
{
	struct addr_walker w = {.ifp = attach("aw1")};
	struct sockaddr_in s1 = sin_of("192.0.2.1"), s2 = sin_of("192.0.2.2"),
	                   s3 = sin_of("192.0.2.3");
	struct if_addr *a2 = ifa_create((void *)&s2, NULL),
	               *a3 = ifa_create((void *)&s3, NULL);
	pthread_t tw, tr, td;

	w.a1 = ifa_create((void *)&s1, NULL);
	ifaref(a2); /* keep their memory, to compare pointers only */
	ifaref(a3);
	addr_walk_start(&w, a2, a3, &tw, &tr);
	pthread_create(&td, NULL, detach_main, w.ifp);
	while (first_addr(w.ifp) != NULL) /* until the detach emptied it */
		sched_yield();
	atomic_store(&w.go, 1);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	pthread_join(td, NULL);
	cr_assert_null(w.next_seen, "the walk went on into %s",
	    w.next_seen == a2 ? "a2" : "a3 or elsewhere");
	ifafree(a2);
	ifafree(a3);
	free(w.ifp);
}

/*
 * The two tests below check a publication for a thread that has no other
 * path to what is published: the second thread learns that the first is
 * done only through a relaxed flag, which orders nothing (ThreadSanitizer
 * agrees), so the library's own acquire and release must.  Under the
 * tsan preset each fails with a data race if that order is missing (the
 * mutation tier, docs/design/verification.md); elsewhere they check that
 * the late thread finds what the first one set up.
 */
struct late_thread {
	atomic_int go;    /* relaxed: orders nothing on purpose */
	atomic_int ready; /* the late thread has registered */
	struct sockaddr_in6 addr;
	struct ifnet *found;
	struct if_addr *ifa;
};

static void
late_wait(struct late_thread *lt)
{
	while (!atomic_load_explicit(&lt->go, memory_order_relaxed))
		sched_yield();
}

static void *
late_ifa_create(void *arg)
{
	struct late_thread *lt = arg;
	struct psref ref;

	late_wait(lt);
	/* The collection is set up: ifnet_init()'s fast path. */
	lt->ifa = ifa_create((const struct sockaddr *)&lt->addr, NULL);
	if (lt->ifa != NULL) {
		/* After: registering may take a lock the first thread took. */
		int s = pserialize_read_enter();

		ifa_acquire(lt->ifa, &ref); /* uses the address class */
		pserialize_read_exit(s);
		ifa_release(lt->ifa, &ref);
	}
	return NULL;
}

/*
 * The first call into the collection sets it up (its pserialize object,
 * its psref classes) once; a thread that comes later sees it set up
 * (ifnet_init()'s acquire of ifnet_ready, paired with the release of the
 * thread that set it up) and uses the objects without the lock.  The
 * first call is if_held(), which takes no other lock: after
 * ifa_create(), the late thread's own ifa_create() would be ordered by
 * the lock of the sockaddr pool.
 */
Test(ifnet, a_later_thread_sees_the_collection_set_up)
{
	struct late_thread lt = {.addr = sin6_of("2001:db8::2")};
	struct ifnet idle;
	pthread_t th;

	memset(&idle, 0, sizeof(idle));
	/* Started first, so that creating it orders nothing below. */
	cr_assert_eq(pthread_create(&th, NULL, late_ifa_create, &lt), 0);
	cr_assert_not(if_held(&idle), "nobody holds an idle interface");
	atomic_store_explicit(&lt.go, 1, memory_order_relaxed);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_not_null(lt.ifa, "a later ifa_create failed");
	cr_assert_eq(lt.ifa->ifa_addr->sa_family, AF_INET6);
	ifafree(lt.ifa);
}

static void *
late_byindex(void *arg)
{
	struct late_thread *lt = arg;
	int s = pserialize_read_enter(); /* registers: before the attach */

	pserialize_read_exit(s);
	atomic_store(&lt->ready, 1);
	late_wait(lt);
	s = pserialize_read_enter();
	lt->found = if_byindex(1); /* the first index (asserted below) */
	if (lt->found != NULL && lt->found->if_mtu != 1500)
		lt->found = NULL; /* seen, but not set up */
	pserialize_read_exit(s);
	return NULL;
}

/*
 * The first attach creates the index table and publishes it (release,
 * paired with if_byindex()'s acquire): a reader that then finds the
 * table finds its size and the interface set up.
 */
Test(ifnet, a_reader_sees_the_first_index_table_set_up)
{
	struct late_thread lt = {.go = 0};
	struct ifnet *ifp;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, late_byindex, &lt), 0);
	while (!atomic_load(&lt.ready))
		sched_yield();
	ifp = attach("late0");
	cr_assert_eq(ifp->if_index, 1);
	atomic_store_explicit(&lt.go, 1, memory_order_relaxed);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(lt.found, ifp, "the reader did not find the interface");
	detach(ifp);
}

#ifndef MPSAFE_DIAGNOSTIC
/*
 * The global lock's misuse aborts in every build (death_ifnet checks the
 * messages in diagnostic builds): a second lock would hang, and an unlock
 * by a thread that does not hold it let two threads in.
 */
Test(ifnet, global_lock_twice_aborts, .signal = SIGABRT)
{
	IFNET_GLOBAL_LOCK();
	IFNET_GLOBAL_LOCK();
}

Test(ifnet, global_unlock_without_holding_aborts, .signal = SIGABRT)
{
	IFNET_GLOBAL_UNLOCK();
}
#endif
