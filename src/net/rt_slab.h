/*
 * rt_slab.h: the routing table's huge-page allocator (rt_slab.c), used
 * instead of the default one when a table is created with
 * rtc_hugepages.  Library-private.
 */
#ifndef MPSAFE_NET_RT_SLAB_H
#define MPSAFE_NET_RT_SLAB_H

#include <pthread.h>
#include <stddef.h>

#include <mpsafe/atomic.h>

/* Objects up to this size are carved from chunks, in 64-byte classes. */
#define RT_SLAB_MAX 4096
#define RT_SLAB_CLASSES (RT_SLAB_MAX / 64)

struct rt_slab {
	pthread_mutex_t s_lock;
	/* Freed objects of each class, linked through their first word. */
	void *s_free[RT_SLAB_CLASSES];
	/* What is left of the newest chunk. */
	char *s_next, *s_end;
	/* Every chunk, linked through its first word (for rt_slab_fini()). */
	void *s_chunks;
	/* Bytes mapped: chunks and large blocks (relaxed; statistics). */
	MPSAFE_ATOMIC(size_t) s_mapped;
};

/*
 * rt_slab_init(s): an empty slab; maps nothing yet.  Returns 0 or the
 * errno of pthread_mutex_init().
 */
int rt_slab_init(struct rt_slab *s);

/*
 * rt_slab_fini(s): unmap every chunk.  Large blocks must have been freed
 * and no object may be used any more (objects need not be freed).
 */
void rt_slab_fini(struct rt_slab *s);

/*
 * rt_slab_alloc(size, s), rt_slab_free(p, size, s): the table's allocator
 * hooks (struct rt_table_config's signature, arg the slab).  Zeroed
 * memory, 64-byte aligned, or NULL; size must be the one allocated.  Any
 * thread; may block on the slab's lock and map memory.
 */
void *rt_slab_alloc(size_t size, void *s);
void rt_slab_free(void *p, size_t size, void *s);

/* Bytes the slab has mapped (chunks and large blocks). */
size_t rt_slab_mapped(struct rt_slab *s);

#endif /* MPSAFE_NET_RT_SLAB_H */
