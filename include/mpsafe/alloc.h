/*
 * mpsafe/alloc.h: the one door through which the mpsafe libraries take
 * memory and start threads, so that tests can make any one of them fail.
 *
 * Every allocation of libmpsafe and libmpsafe_net goes through
 * mpsafe_malloc(), mpsafe_calloc() or mpsafe_aligned_alloc() and is
 * released with mpsafe_free(), or through mpsafe_map_zeroed() and is
 * released with mpsafe_unmap(); every thread the libraries start goes
 * through mpsafe_thread_create().  In an ordinary build these are plain
 * forwarders to the C library (allocation is never on a fast path, so the
 * extra call costs nothing measurable).  In a library configured with
 * MPSAFE_FAULT_INJECTION=ON (the test presets) they also consult a
 * per-thread countdown, armed by the test-only control functions below,
 * and fail the Nth call: an allocation returns NULL with errno ENOMEM, a
 * thread creation returns the error the test chose.  See
 * docs/design/verification.md ("Fault injection") for the test pattern.
 *
 * The control functions (mpsafe_fault_*) exist only in a library built
 * with MPSAFE_FAULT_INJECTION=ON; a program that calls them does not link
 * against a release library.  Programs built against such a library see
 * MPSAFE_FAULT_INJECTION defined by the build (the test targets do).
 * Struct layouts do not depend on the option.
 */
#ifndef MPSAFE_ALLOC_H
#define MPSAFE_ALLOC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

/*
 * mpsafe_malloc(size), mpsafe_calloc(n, size)
 *
 *	As malloc() and calloc().  Return NULL with errno ENOMEM when no
 *	memory is left or an injected fault says so.  Never block beyond
 *	the C library's allocator.  The caller frees with mpsafe_free().
 */
MPSAFE_API void *mpsafe_malloc(size_t size);
MPSAFE_API void *mpsafe_calloc(size_t n, size_t size);

/*
 * mpsafe_aligned_alloc(align, size)
 *
 *	Memory of at least size bytes aligned to align (a power of two);
 *	size need not be a multiple of align (it is rounded up).  Returns
 *	NULL with errno ENOMEM (also for an align that is not a power of
 *	two: errno EINVAL).  The caller frees with mpsafe_free().
 */
MPSAFE_API void *mpsafe_aligned_alloc(size_t align, size_t size);

/*
 * mpsafe_map_zeroed(size)
 *
 *	size bytes of fresh, zeroed, page-aligned memory mapped directly
 *	(mmap()), for large tables that are filled sparsely: no page is
 *	touched, by this call or by a sanitizer's allocator, until it is
 *	written.  Returns NULL with errno ENOMEM (EINVAL for size 0).  The
 *	caller releases it with mpsafe_unmap(p, size), never mpsafe_free().
 *	Memory reached only through such a block is not scanned by
 *	LeakSanitizer: keep another path to any heap block it points to.
 */
MPSAFE_API void *mpsafe_map_zeroed(size_t size);

/*
 * mpsafe_unmap(p, size)
 *
 *	Release a block of mpsafe_map_zeroed(size); NULL is ignored.
 */
MPSAFE_API void mpsafe_unmap(void *p, size_t size);

/*
 * mpsafe_free(p)
 *
 *	Release memory from the functions above; NULL is ignored.  Never
 *	blocks beyond the allocator.
 */
MPSAFE_API void mpsafe_free(void *p);

/*
 * mpsafe_alloc_point()
 *
 *	Library-private.  For allocators of the libraries that carve
 *	objects from memory they already hold (the routing table's
 *	huge-page slab): call it once per object handed out, and fail that
 *	allocation with ENOMEM when it returns true, so that injected
 *	allocation faults (below) reach those objects as they reach
 *	mpsafe_malloc()'s.  It counts as one allocation of the calling
 *	thread; without MPSAFE_FAULT_INJECTION it always returns false.
 *	Never blocks.
 */
MPSAFE_API bool mpsafe_alloc_point(void);

/*
 * mpsafe_thread_create(tid, attr, start, arg)
 *
 *	As pthread_create(): returns 0 or an errno value (EAGAIN when the
 *	system or an injected fault refuses), and on failure no thread was
 *	started.  The caller joins or detaches the thread as usual.
 */
MPSAFE_API int mpsafe_thread_create(pthread_t *tid, const pthread_attr_t *attr,
    void *(*start)(void *), void *arg);

/*
 * Test-only controls: defined only with MPSAFE_FAULT_INJECTION=ON.
 * Counts and faults are per calling thread, so a test that arms a fault
 * and then makes one call sees exactly the allocations that call makes
 * on its own thread (threads the call starts are not counted).
 *
 * mpsafe_fault_alloc_fail_nth(n)
 *	Reset the calling thread's allocation count to zero and make its
 *	nth allocation from now fail (n >= 1); n = 0 disarms.  One shot:
 *	after the failure later allocations succeed.
 * mpsafe_fault_alloc_count()
 *	Allocations the calling thread attempted since the last
 *	mpsafe_fault_alloc_fail_nth() (the failed one included).
 * mpsafe_fault_thread_create_fail_nth(n, error)
 *	The same for mpsafe_thread_create(), which fails with error.
 * mpsafe_fault_thread_create_count()
 *	Thread creations attempted since the last arming.
 * mpsafe_fault_membarrier(error)
 *	Process-wide: from now on the kernel's answer to membarrier
 *	registration is taken to be error (EPERM, ENOSYS, ...); 0 restores
 *	the real answer.  Takes effect at the library's first use in the
 *	process, or at mpsafe_set_ordering(MPSAFE_ORDERING_MEMBARRIER).
 */
MPSAFE_API void mpsafe_fault_alloc_fail_nth(unsigned n);
MPSAFE_API unsigned mpsafe_fault_alloc_count(void);
MPSAFE_API void mpsafe_fault_thread_create_fail_nth(unsigned n, int error);
MPSAFE_API unsigned mpsafe_fault_thread_create_count(void);
MPSAFE_API void mpsafe_fault_membarrier(int error);

MPSAFE_END_DECLS

#endif /* MPSAFE_ALLOC_H */
