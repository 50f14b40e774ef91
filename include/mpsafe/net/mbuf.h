/*
 * mpsafe/net/mbuf.h: packets that name their receive interface by index,
 * after NetBSD's struct mbuf and its rcvif helpers (sys/sys/mbuf.h).
 *
 * A packet must not hold a pointer to an interface: the interface can be
 * detached and freed at any moment while the packet waits in a queue.  It
 * holds the interface's index (m_pkthdr.rcvif_index), and code that needs
 * the interface looks it up: m_get_rcvif() inside a pserialize read section
 * (no blocking until m_put_rcvif()), or m_get_rcvif_psref() with a psref
 * reference when it must block in between.  A detached interface is simply
 * not found; an index reused by a newer interface finds that one.
 *
 * This is a small packet: one data buffer of MLEN bytes with a packet
 * header, no chains of clusters.  m_gethdr() takes packets from a pool, so
 * benchmarks do not measure malloc.  The pool's first use, whichever call
 * it is, primes it with MBUF_POOL_INITIAL packets (allocating them); from
 * then on M_NOWAIT never calls malloc().  Code whose packet path must never
 * allocate calls m_pool_reserve() at start.
 */
#ifndef MPSAFE_NET_MBUF_H
#define MPSAFE_NET_MBUF_H

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/export.h>
#include <mpsafe/net/if.h>
#include <mpsafe/net/sockaddr.h> /* M_WAITOK, M_NOWAIT */
#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>
#include <mpsafe/thread.h>

MPSAFE_BEGIN_DECLS

/* Bytes of data a packet holds. */
#define MLEN 2048
/* m_flags */
#define M_PKTHDR 0x0002 /* m_pkthdr is valid (always, from m_gethdr) */
/* Packets the pool's first use allocates (see m_gethdr()). */
#define MBUF_POOL_INITIAL 256

struct m_pkthdr {
	unsigned rcvif_index; /* receive interface's index, 0 for none */
	int len;              /* total packet length */
};

/*
 * A packet.  Owned by one thread at a time (whoever holds the pointer);
 * handing it over (a queue) orders the accesses.
 */
struct mbuf {
	struct mbuf *m_nextpkt; /* queue link; pool free list */
	uint8_t *m_data;        /* start of the data in m_databuf */
	int m_len;              /* bytes at m_data */
	int m_flags;            /* M_PKTHDR */
	uint32_t m_magic;       /* library-private: allocated or free */
	struct m_pkthdr m_pkthdr;
	uint8_t m_databuf[MLEN];
};

/*
 * m_gethdr(how)
 *
 *	A packet with a zeroed header (no receive interface), m_len 0,
 *	m_data at the start of its buffer.  how: M_WAITOK (may call
 *	malloc()) or M_NOWAIT (from the pool only).  NULL with errno EINVAL
 *	(bad how), ENOBUFS (M_NOWAIT, pool empty) or ENOMEM.  Never blocks
 *	with M_NOWAIT except briefly on the pool's lock.  Exception: the
 *	pool's first use (this call with either flag, m_pool_reserve() or
 *	m_pool_count()) primes it, allocating MBUF_POOL_INITIAL packets
 *	under the pool's lock; call m_pool_reserve() first where even that
 *	must not happen on the packet path.  Free with m_freem().
 */
MPSAFE_API struct mbuf *m_gethdr(int how);

/*
 * m_freem(m)
 *
 *	Give m back to the pool.  NULL is ignored; a packet freed twice, or
 *	not from m_gethdr(), aborts with a message.  Never blocks except
 *	briefly on the pool's lock.
 */
MPSAFE_API void m_freem(struct mbuf *m);

/*
 * m_pool_reserve(n)
 *
 *	Make sure the pool holds at least n free packets (priming it first,
 *	see m_gethdr()).  Returns 0 or ENOMEM.  May block (allocates).
 *	m_pool_count(): free packets now (priming the pool on its first
 *	use).
 */
MPSAFE_API int m_pool_reserve(size_t n);
MPSAFE_API size_t m_pool_count(void);

/* Library-private: a broken packet-header rule. */
MPSAFE_API MPSAFE_NORETURN MPSAFE_COLD void m_panic_nopkthdr(
    const struct mbuf *m, const char *fn);

static inline void
m_assert_pkthdr(const struct mbuf *m, const char *fn)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(m == NULL || (m->m_flags & M_PKTHDR) == 0))
		m_panic_nopkthdr(m, fn);
#else
	(void)m;
	(void)fn;
#endif
}

/*
 * m_set_rcvif(m, ifp)
 *
 *	Record ifp as m's receive interface, by index.  The caller holds ifp
 *	(read section or reference).  Never blocks.
 */
static inline void
m_set_rcvif(struct mbuf *m, const struct ifnet *ifp)
{
	m_assert_pkthdr(m, "m_set_rcvif");
	m->m_pkthdr.rcvif_index = ifp->if_index;
}

/* m_reset_rcvif(m): m has no receive interface.  Never blocks. */
static inline void
m_reset_rcvif(struct mbuf *m)
{
	m_assert_pkthdr(m, "m_reset_rcvif");
	m->m_pkthdr.rcvif_index = 0;
}

/* m_copy_rcvif(to, from): to gets from's receive interface. */
static inline void
m_copy_rcvif(struct mbuf *to, const struct mbuf *from)
{
	m_assert_pkthdr(to, "m_copy_rcvif");
	m_assert_pkthdr(from, "m_copy_rcvif");
	to->m_pkthdr.rcvif_index = from->m_pkthdr.rcvif_index;
}

/*
 * m_get_rcvif(m, s)
 *
 *	Enter a pserialize read section (its cookie in *s) and return m's
 *	receive interface.  When there is none (never set, or detached) it
 *	returns NULL having already left the section.  Otherwise the caller
 *	must not block, and ends the section with m_put_rcvif(ifp, s).
 */
static inline struct ifnet *
m_get_rcvif(const struct mbuf *m, int *s)
{
	struct ifnet *ifp;

	m_assert_pkthdr(m, "m_get_rcvif");
	*s = pserialize_read_enter();
	ifp = if_byindex(m->m_pkthdr.rcvif_index);
	if (ifp == NULL)
		pserialize_read_exit(*s);
	return ifp;
}

/* m_put_rcvif(ifp, s): end m_get_rcvif()'s section; NULL ifp: no-op. */
static inline void
m_put_rcvif(struct ifnet *ifp, int *s)
{
	if (ifp == NULL)
		return;
	pserialize_read_exit(*s);
}

/*
 * m_get_rcvif_psref(m, psref)
 *
 *	m's receive interface with a psref reference in *psref, or NULL.
 *	The caller may block, and drops the reference with
 *	m_put_rcvif_psref(ifp, psref) on the same thread.  Never blocks.
 */
static inline struct ifnet *
m_get_rcvif_psref(const struct mbuf *m, struct psref *psref)
{
	m_assert_pkthdr(m, "m_get_rcvif_psref");
	return if_get_byindex(m->m_pkthdr.rcvif_index, psref);
}

/* m_put_rcvif_psref(ifp, psref): if_put(); NULL ifp is ignored. */
static inline void
m_put_rcvif_psref(struct ifnet *ifp, struct psref *psref)
{
	if_put(ifp, psref);
}

/*
 * m_get_rcvif_NOMPSAFE(m)
 *
 *	m's receive interface with no protection at all: NOT MP-SAFE.  The
 *	result may be detached and freed at any moment unless the caller
 *	knows by other means that it cannot be (it is inside a read section,
 *	or holds a reference, or no detach can run).  A transition
 *	interface for code not yet converted, as in NetBSD; new code uses
 *	m_get_rcvif() or m_get_rcvif_psref().
 */
static inline struct ifnet *
m_get_rcvif_NOMPSAFE(const struct mbuf *m)
{
	m_assert_pkthdr(m, "m_get_rcvif_NOMPSAFE");
	return if_byindex(m->m_pkthdr.rcvif_index);
}

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_MBUF_H */
