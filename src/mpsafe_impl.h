/*
 * mpsafe_impl.h: library-private declarations shared by the core sources.
 * Nothing here is API; the network stack must not include it.
 */
#ifndef MPSAFE_IMPL_H
#define MPSAFE_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mpsafe/thread.h>

/*
 * MPSAFE_DIAG(cond, fmt, ...): in diagnostic builds, abort with a message
 * naming the broken rule when cond is false.  Compiled out otherwise, so
 * cond must have no side effects.
 */
#ifdef MPSAFE_DIAGNOSTIC
#define MPSAFE_DIAG(cond, ...)                     \
	do {                                       \
		if (MPSAFE_UNLIKELY(!(cond)))      \
			mpsafe_panic(__VA_ARGS__); \
	} while (0)
#else
#define MPSAFE_DIAG(cond, ...) \
	do {                   \
	} while (0)
#endif

/* The registry's records are laid out one per this many bytes. */
#define MPSAFE_RECORD_ALIGN 128

/* thread.c: registry and ordering mode. */
enum mpsafe_ordering mpsafe_ordering_now(void);
struct mpsafe_thread *mpsafe_registry_first(void);
void mpsafe_library_init(void);

/* pserialize.c: the grace-period engine used by every primitive. */
void mpsafe_gp_wait(void);
void mpsafe_gp_wait_running(void);
/*
 * mpsafe_gp_ticket() names the end of a grace period that begins after
 * the call; mpsafe_gp_passed(ticket) says whether one has ended since
 * (mpsafe_gp_wait() by any thread, pserialize_perform() included).  The
 * ticket is the low 32 bits of a sequence number that advances by two
 * per grace period: a ticket older than 2^30 grace periods reads as not
 * passed, which costs only a needless wait.  Neither blocks for long
 * (gp_lock).
 */
uint32_t mpsafe_gp_ticket(void);
bool mpsafe_gp_passed(uint32_t ticket);
/*
 * mpsafe_gp_lock() takes the lock that starts and ends grace periods
 * (before registry_lock, as the fork handlers do) and returns whether a
 * grace period is running; none starts until mpsafe_gp_unlock().
 */
bool mpsafe_gp_lock(void);
void mpsafe_gp_unlock(void);
void mpsafe_gp_atfork_prepare(void);
void mpsafe_gp_atfork_parent(void);
void mpsafe_gp_atfork_child(void);

/*
 * psref.c, localcount.c: per-thread state kept with each registry record.
 * *_record_init() runs once when a record is created, before any other
 * thread can reach it (0 or ENOMEM; the record then is not created);
 * the state stays with the record when it passes to another thread.  Each
 * keeps its state in mt_private[MPSAFE_PRIV_*], allocated with
 * mpsafe_calloc() or mpsafe_aligned_alloc() (<mpsafe/alloc.h>; freed with
 * mpsafe_free() if the record cannot be made).
 * mpsafe_psref_thread_exit() runs when a thread unregisters or exits,
 * before its record is parked (at exit, on the last pass of the key
 * destructors if references are still held: see thread.c); the atfork hooks
 * hold the overflow lock across fork(), and the child's runs after every record
 * but self's was freed.
 */
int mpsafe_psref_record_init(struct mpsafe_thread *t);
void mpsafe_psref_thread_exit(struct mpsafe_thread *t, const char *why);
/* References t holds (slots and overflow list); called by t's owner. */
unsigned mpsafe_psref_thread_held(struct mpsafe_thread *t);
/*
 * Whether some psref_target_destroy() is in progress; exact for one that
 * has run a grace period, if read under the grace-period lock
 * (mpsafe_set_ordering()).
 */
bool mpsafe_psref_destroying(void);
void mpsafe_psref_atfork_prepare(void);
void mpsafe_psref_atfork_parent(void);
void mpsafe_psref_atfork_child(struct mpsafe_thread *self);
int mpsafe_localcount_record_init(struct mpsafe_thread *t);
/* t's counter array, or NULL until its owner first counted (for the TLS). */
void *mpsafe_localcount_record_counters(struct mpsafe_thread *t);

/* defer.c */
void mpsafe_defer_atfork_prepare(void);
void mpsafe_defer_atfork_parent(void);
void mpsafe_defer_atfork_child(void);

/* futex.c: sleep while *addr == val; wake sleepers on addr. */
void mpsafe_futex_wait(_Atomic(uint32_t) *addr, uint32_t val);
void mpsafe_futex_wake(_Atomic(uint32_t) *addr);
/* In a fork child, first: forget the parent's sleepers (futex.c). */
void mpsafe_futex_atfork_child(void);

/* membarrier.c */
int mpsafe_membarrier_setup(void);
void mpsafe_membarrier(void);

/* alloc.c: the injected membarrier answer (0: ask the kernel). */
#ifdef MPSAFE_FAULT_INJECTION
int mpsafe_fault_membarrier_error(void);
#endif

/*
 * MPSAFE_YIELD_POINT(): a marked point where a race window is widest.  In
 * MPSAFE_DEBUG_YIELD builds (the torture tier) it sometimes yields the CPU
 * or spins a random while (debug.c), so that other threads run in the
 * middle of the library's steps; otherwise it compiles to nothing.
 */
#ifdef MPSAFE_DEBUG_YIELD
void mpsafe_debug_yield(void);
#define MPSAFE_YIELD_POINT() mpsafe_debug_yield()
#else
#define MPSAFE_YIELD_POINT() \
	do {                 \
	} while (0)
#endif

/* A pause for spin loops (a hint to the CPU; no inline assembly). */
static inline void
mpsafe_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif /* MPSAFE_IMPL_H */
