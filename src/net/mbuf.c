/*
 * mbuf.c: the packet pool.
 *
 * Packets live on one LIFO free list under a mutex, primed with
 * MBUF_POOL_INITIAL packets by the pool's first use, whichever call it is
 * (m_gethdr() with either flag, m_pool_reserve(), m_pool_count()): that
 * one call allocates, under mp_lock.  Invariant: a packet is on the free
 * list iff its m_magic is MBUF_MAGIC_FREE, and mp_count is the list's
 * length.  Once the pool is primed, M_NOWAIT takes from the list only
 * (never malloc()); M_WAITOK falls back to malloc().  Freed packets always
 * return to the list (the pool only grows), so a benchmark that recycles
 * packets reaches a steady state with no allocation.  The receive-interface
 * helpers are inline in mbuf.h: a packet holds an index, never a pointer to an
 * interface.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/thread.h>

#define MBUF_MAGIC_USED 0x4d425546u /* "MBUF" */
#define MBUF_MAGIC_FREE 0x6d627566u /* "mbuf" */

static pthread_mutex_t mp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mbuf *mp_free; /* mp_lock */
static size_t mp_count;      /* mp_lock */
static bool mp_primed;       /* mp_lock */

static int
m_pool_fill_locked(size_t n)
{
	while (mp_count < n) {
		struct mbuf *m = mpsafe_malloc(sizeof(*m));

		if (m == NULL)
			return ENOMEM;
		m->m_magic = MBUF_MAGIC_FREE;
		m->m_nextpkt = mp_free;
		mp_free = m;
		mp_count++;
	}
	return 0;
}

static void
m_pool_prime_locked(void)
{
	if (mp_primed)
		return;
	mp_primed = true;
	(void)m_pool_fill_locked(MBUF_POOL_INITIAL);
}

struct mbuf *
m_gethdr(int how)
{
	struct mbuf *m;

	if (how != M_WAITOK && how != M_NOWAIT) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&mp_lock);
	m_pool_prime_locked();
	m = mp_free;
	if (m != NULL) {
		mp_free = m->m_nextpkt;
		mp_count--;
	}
	pthread_mutex_unlock(&mp_lock);
	if (m == NULL) {
		if (how == M_NOWAIT) {
			errno = ENOBUFS;
			return NULL;
		}
		m = mpsafe_malloc(sizeof(*m));
		if (m == NULL) {
			errno = ENOMEM;
			return NULL;
		}
	}
	m->m_nextpkt = NULL;
	m->m_data = m->m_databuf;
	m->m_len = 0;
	m->m_flags = M_PKTHDR;
	m->m_magic = MBUF_MAGIC_USED;
	memset(&m->m_pkthdr, 0, sizeof(m->m_pkthdr));
	return m;
}

void
m_freem(struct mbuf *m)
{
	if (m == NULL)
		return;
	if (m->m_magic != MBUF_MAGIC_USED)
		mpsafe_panic("m_freem: %p did not come from m_gethdr, or is "
		             "freed twice",
		    (void *)m);
	m->m_magic = MBUF_MAGIC_FREE;
	m->m_flags = 0;
	pthread_mutex_lock(&mp_lock);
	m->m_nextpkt = mp_free;
	mp_free = m;
	mp_count++;
	pthread_mutex_unlock(&mp_lock);
}

int
m_pool_reserve(size_t n)
{
	int error;

	pthread_mutex_lock(&mp_lock);
	m_pool_prime_locked();
	error = m_pool_fill_locked(n);
	pthread_mutex_unlock(&mp_lock);
	return error;
}

size_t
m_pool_count(void)
{
	size_t n;

	pthread_mutex_lock(&mp_lock);
	m_pool_prime_locked();
	n = mp_count;
	pthread_mutex_unlock(&mp_lock);
	return n;
}

void
m_panic_nopkthdr(const struct mbuf *m, const char *fn)
{
	mpsafe_panic("%s: %p is not a packet with a header (M_PKTHDR): "
	             "use packets from m_gethdr()",
	    fn, (const void *)m);
}
