/*
 * test_mbuf.c: packets that name their receive interface by index
 * (mpsafe/net/mbuf.h): the pool, the rcvif helpers inside a read section
 * and with a psref, and a stale index after detach and reuse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/pserialize.h>

TestSuite(mbuf, .timeout = 60);

static struct ifnet *
attach(const char *name)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp));

	cr_assert_not_null(ifp);
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "%s", name);
	ifp->if_mtu = 1280;
	cr_assert_eq(if_attach(ifp), 0);
	return ifp;
}

Test(mbuf, pool)
{
	enum { MAX = 100000 };
	static struct mbuf *held[MAX];
	size_t n = 0, before = m_pool_count();
	struct mbuf *m;

	cr_assert_geq(before, MBUF_POOL_INITIAL);
	m = m_gethdr(M_WAITOK);
	cr_assert_not_null(m);
	cr_assert(m->m_flags & M_PKTHDR);
	cr_assert_eq(m->m_len, 0);
	cr_assert_eq(m->m_data, m->m_databuf);
	cr_assert_eq(m->m_pkthdr.rcvif_index, 0);
	m_freem(m);
	m_freem(NULL);
	while (n < MAX && (m = m_gethdr(M_NOWAIT)) != NULL)
		held[n++] = m;
	cr_assert_eq(n, before, "M_NOWAIT never calls malloc");
	cr_assert_eq(errno, ENOBUFS);
	m = m_gethdr(M_WAITOK);
	cr_assert_not_null(m);
	m_freem(m);
	while (n > 0)
		m_freem(held[--n]);
	cr_assert_eq(m_pool_count(), before + 1);
	cr_assert_eq(m_pool_reserve(before + 10), 0);
	cr_assert_geq(m_pool_count(), before + 10);
	errno = 0;
	cr_assert_null(m_gethdr(0));
	cr_assert_eq(errno, EINVAL);
}

/*
 * The pool at its bounds: its first use (here m_gethdr(M_NOWAIT))
 * primes it with exactly MBUF_POOL_INITIAL packets, so exactly that many
 * M_NOWAIT packets are handed out and the next is ENOBUFS; from empty, a
 * reservation of n makes (at least) n M_NOWAIT packets possible.
 */
Test(mbuf, pool_at_its_bounds)
{
	enum { RES = 40 };
	static struct mbuf *held[MBUF_POOL_INITIAL + RES];
	size_t n = 0;
	struct mbuf *m;

	while (n < MBUF_POOL_INITIAL + 1 && (m = m_gethdr(M_NOWAIT)) != NULL)
		held[n++] = m;
	cr_assert_eq(n, MBUF_POOL_INITIAL, "first use primed %zu", n);
	cr_assert_null(m_gethdr(M_NOWAIT));
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_eq(m_pool_count(), 0);
	cr_assert_eq(m_pool_reserve(RES), 0);
	cr_assert_geq(m_pool_count(), RES);
	while (n < MBUF_POOL_INITIAL + RES && (m = m_gethdr(M_NOWAIT)) != NULL)
		held[n++] = m;
	cr_assert_eq(n, MBUF_POOL_INITIAL + RES,
	    "a reservation of %d from empty gave %zu", RES,
	    n - MBUF_POOL_INITIAL);
	while (n > 0)
		m_freem(held[--n]);
	cr_assert_geq(m_pool_count(), MBUF_POOL_INITIAL + RES);
}

Test(mbuf, rcvif_in_a_read_section)
{
	struct ifnet *ifp = attach("rx0"), *got;
	struct mbuf *m = m_gethdr(M_WAITOK), *m2 = m_gethdr(M_WAITOK);
	int s;

	/* No interface: NULL, and the section is already left. */
	cr_assert_null(m_get_rcvif(m, &s));
	cr_assert_not(pserialize_in_read_section());
	m_put_rcvif(NULL, &s);

	m_set_rcvif(m, ifp);
	cr_assert_eq(m->m_pkthdr.rcvif_index, ifp->if_index);
	got = m_get_rcvif(m, &s);
	cr_assert_eq(got, ifp);
	cr_assert(pserialize_in_read_section());
	cr_assert_eq(got->if_mtu, 1280);
	m_put_rcvif(got, &s);
	cr_assert_not(pserialize_in_read_section());

	m_copy_rcvif(m2, m);
	cr_assert_eq(m_get_rcvif_NOMPSAFE(m2), ifp);
	m_reset_rcvif(m2);
	cr_assert_null(m_get_rcvif_NOMPSAFE(m2));

	cr_assert_eq(if_detach(ifp), 0);
	cr_assert_null(m_get_rcvif(m, &s), "detached: not found");
	cr_assert_not(pserialize_in_read_section());
	free(ifp);
	m_freem(m);
	m_freem(m2);
}

Test(mbuf, rcvif_with_a_psref)
{
	struct ifnet *ifp = attach("rx1"), *got;
	struct mbuf *m = m_gethdr(M_NOWAIT);
	struct psref ref;

	cr_assert_not_null(m);
	m_set_rcvif(m, ifp);
	got = m_get_rcvif_psref(m, &ref);
	cr_assert_eq(got, ifp);
	cr_assert_not(pserialize_in_read_section());
	cr_assert(if_held(ifp));
	if_statinc(got, if_ipackets);
	m_put_rcvif_psref(got, &ref);
	cr_assert_not(if_held(ifp));
	m_put_rcvif_psref(NULL, &ref);
	cr_assert_eq(if_stat_get(ifp, if_ipackets), 1);
	cr_assert_eq(if_detach(ifp), 0);
	cr_assert_null(m_get_rcvif_psref(m, &ref));
	free(ifp);
	m_freem(m);
}

Test(mbuf, stale_index_finds_the_new_interface_or_nothing)
{
	struct ifnet *old = attach("old0"), *new;
	struct mbuf *m = m_gethdr(M_WAITOK);
	unsigned idx = old->if_index;
	struct psref ref;

	m_set_rcvif(m, old);
	cr_assert_eq(if_detach(old), 0);
	memset(old, 0x5a, sizeof(*old)); /* poison */
	free(old);
	cr_assert_null(m_get_rcvif_psref(m, &ref));
	new = attach("new0");
	cr_assert_eq(new->if_index, idx);
	cr_assert_eq(m_get_rcvif_psref(m, &ref), new);
	cr_assert_eq(strcmp(new->if_xname, "new0"), 0);
	m_put_rcvif_psref(new, &ref);
	cr_assert_eq(if_detach(new), 0);
	free(new);
	m_freem(m);
}
