/*
 * alloc.c: the libraries' allocation and thread-creation door, with fault
 * injection in test builds.
 *
 * Algorithm.  Each wrapper forwards to the C library.  With
 * MPSAFE_FAULT_INJECTION each also advances the calling thread's counter
 * (TLS, so concurrent threads never disturb a test's count) and fails
 * when the counter reaches the armed value; the armed value is then
 * cleared (one shot).  The membarrier answer is process-wide, an atomic
 * read by mpsafe_membarrier_setup().
 *
 * Invariants.  Without MPSAFE_FAULT_INJECTION no state exists and the
 * control functions are not compiled, so a release library has neither
 * the cost nor the symbols.  A failed allocation sets errno ENOMEM and a
 * failed thread creation starts no thread, exactly as the real calls do.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <mpsafe/alloc.h>

#include "mpsafe_impl.h"

#ifdef MPSAFE_FAULT_INJECTION
static __thread unsigned fault_alloc_at, fault_alloc_n;
static __thread unsigned fault_thr_at, fault_thr_n;
static __thread int fault_thr_error;
static _Atomic(int) fault_membarrier_error;

/* True if this allocation is the one armed to fail. */
static bool
fault_alloc_now(void)
{
	fault_alloc_n++;
	if (fault_alloc_at != 0 && fault_alloc_n == fault_alloc_at) {
		fault_alloc_at = 0;
		errno = ENOMEM;
		return true;
	}
	return false;
}

void
mpsafe_fault_alloc_fail_nth(unsigned n)
{
	fault_alloc_at = n;
	fault_alloc_n = 0;
}

unsigned
mpsafe_fault_alloc_count(void)
{
	return fault_alloc_n;
}

void
mpsafe_fault_thread_create_fail_nth(unsigned n, int error)
{
	fault_thr_at = n;
	fault_thr_n = 0;
	fault_thr_error = error != 0 ? error : EAGAIN;
}

unsigned
mpsafe_fault_thread_create_count(void)
{
	return fault_thr_n;
}

void
mpsafe_fault_membarrier(int error)
{
	/* Relaxed: set by a test before the library's first use. */
	atomic_store_explicit(
	    &fault_membarrier_error, error, memory_order_relaxed);
}

int
mpsafe_fault_membarrier_error(void)
{
	/* Relaxed: see mpsafe_fault_membarrier(). */
	return atomic_load_explicit(
	    &fault_membarrier_error, memory_order_relaxed);
}
#define FAULT_ALLOC() fault_alloc_now()
#else
#define FAULT_ALLOC() false
#endif

void *
mpsafe_malloc(size_t size)
{
	if (FAULT_ALLOC())
		return NULL;
	return malloc(size);
}

void *
mpsafe_calloc(size_t n, size_t size)
{
	if (FAULT_ALLOC())
		return NULL;
	return calloc(n, size);
}

void *
mpsafe_aligned_alloc(size_t align, size_t size)
{
	size_t rounded;

	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	rounded = (size + align - 1) & ~(align - 1);
	if (rounded < size) {
		errno = ENOMEM;
		return NULL;
	}
	if (FAULT_ALLOC())
		return NULL;
	return aligned_alloc(align, rounded);
}

void
mpsafe_free(void *p)
{
	free(p);
}

bool
mpsafe_alloc_point(void)
{
	return FAULT_ALLOC();
}

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

void *
mpsafe_map_zeroed(size_t size)
{
	void *p;

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (FAULT_ALLOC())
		return NULL;
	/* Anonymous pages read as zero and are backed when first written. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void
mpsafe_unmap(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}

int
mpsafe_thread_create(pthread_t *tid, const pthread_attr_t *attr,
    void *(*start)(void *), void *arg)
{
#ifdef MPSAFE_FAULT_INJECTION
	fault_thr_n++;
	if (fault_thr_at != 0 && fault_thr_n == fault_thr_at) {
		fault_thr_at = 0;
		return fault_thr_error;
	}
#endif
	return pthread_create(tid, attr, start, arg);
}
