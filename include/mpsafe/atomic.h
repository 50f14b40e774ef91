/*
 * mpsafe/atomic.h: the few atomic operations the public inline fast paths
 * use, spelled so that a header compiles both as C11 (<stdatomic.h>) and as
 * C++17 (<atomic>; C++ before C++23 cannot include <stdatomic.h>).
 *
 * MPSAFE_ATOMIC(T) is _Atomic(T) in C and std::atomic<T> in C++; both have
 * the same size and representation on every compiler the project supports,
 * so a C library and a C++ program agree on struct layouts.  Library
 * sources (.c) use <stdatomic.h> directly; only headers use these macros.
 */
#ifndef MPSAFE_ATOMIC_H
#define MPSAFE_ATOMIC_H

#ifdef __cplusplus
#include <atomic>
#define MPSAFE_ATOMIC(T) std::atomic<T>
#define mpsafe_atomic_init(p, v) std::atomic_init((p), (v))
#define mpsafe_load_relaxed(p) \
	std::atomic_load_explicit((p), std::memory_order_relaxed)
#define mpsafe_load_acquire(p) \
	std::atomic_load_explicit((p), std::memory_order_acquire)
#define mpsafe_load_consume(p) \
	std::atomic_load_explicit((p), std::memory_order_consume)
#define mpsafe_store_relaxed(p, v) \
	std::atomic_store_explicit((p), (v), std::memory_order_relaxed)
#define mpsafe_store_release(p, v) \
	std::atomic_store_explicit((p), (v), std::memory_order_release)
#define mpsafe_compiler_barrier() \
	std::atomic_signal_fence(std::memory_order_seq_cst)
#define mpsafe_fence_seq_cst() \
	std::atomic_thread_fence(std::memory_order_seq_cst)
#else
#include <stdatomic.h>
#define MPSAFE_ATOMIC(T) _Atomic(T)
#define mpsafe_atomic_init(p, v) atomic_init((p), (v))
#define mpsafe_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define mpsafe_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define mpsafe_load_consume(p) atomic_load_explicit((p), memory_order_consume)
#define mpsafe_store_relaxed(p, v) \
	atomic_store_explicit((p), (v), memory_order_relaxed)
#define mpsafe_store_release(p, v) \
	atomic_store_explicit((p), (v), memory_order_release)
#define mpsafe_compiler_barrier() atomic_signal_fence(memory_order_seq_cst)
#define mpsafe_fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#endif

#endif /* MPSAFE_ATOMIC_H */
