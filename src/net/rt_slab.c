/*
 * rt_slab.c: the routing table's huge-page allocator.
 *
 * Why.  A lookup in a full-size table (a million prefixes) reads a root
 * slot in a 128 MiB array and then an entry somewhere in a few hundred
 * MiB of entries: two random lines, each on a page the TLB does not
 * hold, so each load waits for a page walk before its cache miss (on a
 * virtual machine, a two-dimensional walk through the guest's and the
 * host's tables).  On 2 MiB pages the walks mostly hit the paging
 * structure caches and the loop keeps more misses in flight.  Measured
 * (docs/net/route.md, "Huge pages"): the root alone on huge pages
 * changed nothing; the root and the entries together made lookups
 * 12-36% faster.  DPDK gets the same from its hugepage memory.
 *
 * How.  Transparent huge pages, which need no set-up: memory is mapped
 * 2 MiB-aligned and marked with madvise(MADV_HUGEPAGE), so that the
 * kernel backs it with huge pages when THP is "always" or "madvise"
 * (with "never", or off Linux, the slab still works on small pages).
 *
 *  - Objects up to RT_SLAB_MAX bytes (entries, trie nodes, next hops)
 *    are rounded up to 64 bytes and carved from 2 MiB chunks, one after
 *    the other.  A freed object goes on the free list of its size class
 *    and is the next one of that class handed out; chunks are given
 *    back only by rt_slab_fini().  So the slab holds the table's peak,
 *    and a churning table reuses its own holes.
 *  - Blocks of 1 MiB and more (the IPv4 root, the next-hop array, a big
 *    hash) get a mapping of their own, rounded up to 2 MiB and aligned,
 *    unmapped when freed.
 *  - Blocks in between (hash tables while small) come from
 *    mpsafe_aligned_alloc(), as with the default allocator.
 *
 * Invariants: every object handed out is zeroed, 64-byte aligned, and
 * either on no free list or on exactly one (the class of its size);
 * s_next .. s_end is untouched memory of the newest chunk (zero since
 * the mapping); the lock covers the lists, the bump range and the chunk
 * list.  The cost against the default allocator: a table that touches
 * one slot of the root takes a 2 MiB page rather than 4 KiB, and a
 * table's chunks stay mapped until it is destroyed.  Under
 * AddressSanitizer free objects are poisoned (but their link word), so
 * a use after free of a slab object is still reported.  Allocation
 * failure: mapping a new chunk or large block can fail (as
 * mpsafe_map_zeroed()); carving an object from a chunk cannot, but
 * passes mpsafe_alloc_point() first, so that tests that inject
 * allocation faults fail it as they would a malloc().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <mpsafe/alloc.h>

#include "rt_slab.h"

#define RT_SLAB_CHUNK ((size_t)2 << 20)
/* Blocks this large get a mapping of their own. */
#define RT_SLAB_MAP_MIN ((size_t)1 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define RT_SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_SLAB_ASAN 1
#endif
#endif
#ifdef RT_SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define RT_SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define RT_SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RT_SLAB_POISON(p, n) ((void)(p), (void)(n))
#define RT_SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * A zeroed mapping of len bytes (a multiple of RT_SLAB_CHUNK) aligned to
 * RT_SLAB_CHUNK and marked for huge pages, or NULL.  Maps len plus one
 * chunk and gives back what lies outside the aligned range.
 */
static void *
rt_slab_map(size_t len)
{
	char *m = mpsafe_map_zeroed(len + RT_SLAB_CHUNK);
	char *p;
	size_t head;

	if (m == NULL)
		return NULL;
	p = (char *)(((uintptr_t)m + RT_SLAB_CHUNK - 1) &
	             ~(uintptr_t)(RT_SLAB_CHUNK - 1));
	head = (size_t)(p - m);
	if (head > 0)
		mpsafe_unmap(m, head);
	mpsafe_unmap(p + len, RT_SLAB_CHUNK - head); /* head < a chunk */
#ifdef MADV_HUGEPAGE
	/* Advice only: without THP the mapping keeps small pages. */
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	return p;
}

static size_t
rt_slab_map_len(size_t size)
{
	return (size + RT_SLAB_CHUNK - 1) & ~(RT_SLAB_CHUNK - 1);
}

int
rt_slab_init(struct rt_slab *s)
{
	memset(s, 0, sizeof(*s));
	mpsafe_atomic_init(&s->s_mapped, 0);
	return pthread_mutex_init(&s->s_lock, NULL);
}

void
rt_slab_fini(struct rt_slab *s)
{
	void *c = s->s_chunks;

	while (c != NULL) {
		void *next;

		RT_SLAB_UNPOISON(c, sizeof(void *));
		memcpy(&next, c, sizeof(next));
		mpsafe_unmap(c, RT_SLAB_CHUNK);
		c = next;
	}
	pthread_mutex_destroy(&s->s_lock);
}

/* A new chunk for the bump range; the lock is held.  false: ENOMEM. */
static bool
rt_slab_grow(struct rt_slab *s)
{
	char *c = rt_slab_map(RT_SLAB_CHUNK);

	if (c == NULL)
		return false;
	/* The chunk's first line links it into the chunk list. */
	memcpy(c, &s->s_chunks, sizeof(s->s_chunks));
	s->s_chunks = c;
	s->s_next = c + 64;
	s->s_end = c + RT_SLAB_CHUNK;
	RT_SLAB_POISON(s->s_next, (size_t)(s->s_end - s->s_next));
	/* Relaxed: a statistic. */
	atomic_fetch_add_explicit(
	    &s->s_mapped, RT_SLAB_CHUNK, memory_order_relaxed);
	return true;
}

void *
rt_slab_alloc(size_t size, void *arg)
{
	struct rt_slab *s = arg;
	size_t sz = (size + 63) & ~(size_t)63;
	unsigned c;
	char *p;

	if (size == 0)
		sz = 64;
	if (sz > RT_SLAB_MAX) {
		if (size < RT_SLAB_MAP_MIN) {
			p = mpsafe_aligned_alloc(64, sz);
			if (p != NULL)
				memset(p, 0, sz);
			return p;
		}
		p = rt_slab_map(rt_slab_map_len(size));
		if (p != NULL)
			/* Relaxed: a statistic. */
			atomic_fetch_add_explicit(&s->s_mapped,
			    rt_slab_map_len(size), memory_order_relaxed);
		return p;
	}
	if (mpsafe_alloc_point()) {
		errno = ENOMEM;
		return NULL;
	}
	c = (unsigned)(sz / 64 - 1);
	pthread_mutex_lock(&s->s_lock);
	p = s->s_free[c];
	if (p != NULL) {
		RT_SLAB_UNPOISON(p, sz);
		memcpy(&s->s_free[c], p, sizeof(void *));
		pthread_mutex_unlock(&s->s_lock);
		memset(p, 0, sz);
		return p;
	}
	if ((size_t)(s->s_end - s->s_next) < sz && !rt_slab_grow(s)) {
		pthread_mutex_unlock(&s->s_lock);
		errno = ENOMEM;
		return NULL;
	}
	p = s->s_next;
	s->s_next += sz;
	pthread_mutex_unlock(&s->s_lock);
	/* Untouched since the mapping: already zero. */
	RT_SLAB_UNPOISON(p, sz);
	return p;
}

void
rt_slab_free(void *ptr, size_t size, void *arg)
{
	struct rt_slab *s = arg;
	size_t sz = (size + 63) & ~(size_t)63;
	char *p = ptr;
	unsigned c;

	if (p == NULL)
		return;
	if (size == 0)
		sz = 64;
	if (sz > RT_SLAB_MAX) {
		if (size < RT_SLAB_MAP_MIN) {
			mpsafe_free(p);
		} else {
			mpsafe_unmap(p, rt_slab_map_len(size));
			/* Relaxed: a statistic. */
			atomic_fetch_sub_explicit(&s->s_mapped,
			    rt_slab_map_len(size), memory_order_relaxed);
		}
		return;
	}
	c = (unsigned)(sz / 64 - 1);
	pthread_mutex_lock(&s->s_lock);
	memcpy(p, &s->s_free[c], sizeof(void *));
	s->s_free[c] = p;
	RT_SLAB_POISON(p + sizeof(void *), sz - sizeof(void *));
	pthread_mutex_unlock(&s->s_lock);
}

size_t
rt_slab_mapped(struct rt_slab *s)
{
	/* Relaxed: a statistic. */
	return mpsafe_load_relaxed(&s->s_mapped);
}
