/*
 * thread.c: the registry of threads, shared by every primitive.
 *
 * Algorithm.  Each registered thread owns a record (struct mpsafe_thread).
 * Records sit on one singly linked list that only grows: a new record is
 * pushed at the head, under registry_lock, with a release store; writers
 * walk the list without any lock from an acquire load of the head.  A
 * record is never freed.  When its thread unregisters (explicitly, or at
 * thread exit through a pthread key destructor) the record is marked free
 * and the next thread to register takes it over.
 *
 * Invariants.
 *  - A free record's depth (mt_read & MPSAFE_READ_NEST) is zero, so a
 *    writer waiting for a section of the record's last owner is released
 *    both by the section's exit and by the thread's exit.
 *  - mpsafe_curthread points at the thread's record exactly while it owns
 *    one, and at the read-only mpsafe_thread_unregistered otherwise.
 *  - Records not owned by a live thread are free (after fork() too: the
 *    child frees every record but the forking thread's).
 *
 * Why it is safe for a writer to miss a record pushed during its scan:
 * the writer's barrier (membarrier, or its fence) precedes its load of the
 * head; a thread whose push is not seen therefore pushed after that
 * barrier point, and its read sections, which begin after the push, see
 * everything the writer did before the barrier.
 *
 * The ordering mode is chosen once, at the first registration: membarrier
 * where the kernel grants it, the fence mode otherwise or when the
 * environment says MPSAFE_ORDERING=fence.  mpsafe_set_ordering() may
 * change it while no other thread is registered.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpsafe_impl.h"

const struct mpsafe_thread mpsafe_thread_unregistered = {
    .mt_read = MPSAFE_READ_NEST,
};

__thread struct mpsafe_thread *mpsafe_curthread
    __attribute__((tls_model("initial-exec"))) =
        (struct mpsafe_thread *)&mpsafe_thread_unregistered;

#define UNREGISTERED ((struct mpsafe_thread *)&mpsafe_thread_unregistered)

#define RECORD_FREE 0u
#define RECORD_USED 1u

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Pushed under registry_lock (release); walked lock-free (acquire). */
static _Atomic(struct mpsafe_thread *) registry_head;
static unsigned registry_used; /* registry_lock */
static _Atomic(enum mpsafe_ordering) ordering_mode;
static pthread_key_t registry_key;
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

void
mpsafe_panic(const char *fmt, ...)
{
	va_list ap;

	fputs("mpsafe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

enum mpsafe_ordering
mpsafe_ordering_now(void)
{
	/* Relaxed: changed only while no other thread is registered. */
	return atomic_load_explicit(&ordering_mode, memory_order_relaxed);
}

struct mpsafe_thread *
mpsafe_registry_first(void)
{
	/* Acquire: pairs with the release push in record_alloc(). */
	return atomic_load_explicit(&registry_head, memory_order_acquire);
}

#ifndef MPSAFE_DIAGNOSTIC
/*
 * End the calling thread's read section by force.  Used when a thread
 * exits or unregisters inside one: its pointers die with it, so ending the
 * section is safe and keeps grace periods from waiting for ever.
 */
static void
record_end_section(struct mpsafe_thread *t)
{
	uint32_t w = atomic_load_explicit(&t->mt_read, memory_order_relaxed);

	if (w & MPSAFE_READ_NEST) {
		/* Release: pairs with the grace-period scan's acquire. */
		atomic_store_explicit(
		    &t->mt_read, w & ~MPSAFE_READ_NEST, memory_order_release);
		mpsafe_futex_wake(&t->mt_read);
	}
}
#endif

static uint32_t
record_depth(struct mpsafe_thread *t)
{
	/* Relaxed: the owner reads its own word. */
	return atomic_load_explicit(&t->mt_read, memory_order_relaxed) &
	       MPSAFE_READ_NEST;
}

static void
record_release(struct mpsafe_thread *t, const char *why)
{
	if (record_depth(t) != 0) {
#ifdef MPSAFE_DIAGNOSTIC
		mpsafe_panic("thread %s inside a read section (depth %u): "
		             "every pserialize_read_enter needs its exit first",
		    why, record_depth(t));
#else
		(void)why;
		record_end_section(t);
#endif
	}
	pthread_mutex_lock(&registry_lock);
	atomic_store_explicit(&t->mt_state, RECORD_FREE, memory_order_relaxed);
	registry_used--;
	pthread_mutex_unlock(&registry_lock);
	mpsafe_curthread = UNREGISTERED;
}

static void
registry_key_destructor(void *arg)
{
	record_release(arg, "exited");
}

static void
registry_atfork_prepare(void)
{
	mpsafe_defer_atfork_prepare();
	mpsafe_gp_atfork_prepare();
	pthread_mutex_lock(&registry_lock);
}

static void
registry_atfork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
	mpsafe_gp_atfork_parent();
	mpsafe_defer_atfork_parent();
}

/*
 * In the child only the forking thread exists: free every other record,
 * ending any read section its (now absent) owner was in.  Nothing runs
 * concurrently, so plain stores suffice.
 */
static void
registry_atfork_child(void)
{
	struct mpsafe_thread *self = mpsafe_curthread; /* or UNREGISTERED */
	struct mpsafe_thread *t;

	registry_used = 0;
	for (t = mpsafe_registry_first(); t != NULL; t = t->mt_next) {
		atomic_store_explicit(&t->mt_waiters, 0, memory_order_relaxed);
		if (t == self) {
			registry_used++;
			continue;
		}
		atomic_store_explicit(&t->mt_read,
		    atomic_load_explicit(&t->mt_read, memory_order_relaxed) &
		        ~MPSAFE_READ_NEST,
		    memory_order_relaxed);
		atomic_store_explicit(
		    &t->mt_state, RECORD_FREE, memory_order_relaxed);
	}
	pthread_mutex_unlock(&registry_lock);
	mpsafe_gp_atfork_child();
	mpsafe_defer_atfork_child();
}

static void
library_init_once(void)
{
	const char *env = getenv("MPSAFE_ORDERING");
	enum mpsafe_ordering mode = MPSAFE_ORDERING_FENCE;

	if (pthread_key_create(&registry_key, registry_key_destructor) != 0)
		mpsafe_panic("pthread_key_create failed: cannot track thread "
		             "exit");
	if (env == NULL || strcmp(env, "fence") != 0) {
		if (mpsafe_membarrier_setup() == 0)
			mode = MPSAFE_ORDERING_MEMBARRIER;
	}
	atomic_store_explicit(&ordering_mode, mode, memory_order_relaxed);
	pthread_atfork(registry_atfork_prepare, registry_atfork_parent,
	    registry_atfork_child);
}

void
mpsafe_library_init(void)
{
	pthread_once(&library_once, library_init_once);
}

/* Set the fence-mode bit of a record that is in no read section. */
static void
record_set_fence(struct mpsafe_thread *t, bool fence)
{
	uint32_t w = atomic_load_explicit(&t->mt_read, memory_order_relaxed);

	w = fence ? (w | MPSAFE_READ_FENCE) : (w & ~MPSAFE_READ_FENCE);
	/* Relaxed: only the owner reads the bit; the word's depth is 0. */
	atomic_store_explicit(&t->mt_read, w, memory_order_relaxed);
}

/* Take a free record or make one.  Called with registry_lock held. */
static struct mpsafe_thread *
record_alloc(void)
{
	struct mpsafe_thread *t;
	size_t size = (sizeof(*t) + MPSAFE_RECORD_ALIGN - 1) &
	              ~(size_t)(MPSAFE_RECORD_ALIGN - 1);

	for (t = mpsafe_registry_first(); t != NULL; t = t->mt_next) {
		if (atomic_load_explicit(&t->mt_state, memory_order_relaxed) ==
		    RECORD_FREE)
			goto claim;
	}
	t = aligned_alloc(MPSAFE_RECORD_ALIGN, size);
	if (t == NULL)
		return NULL;
	memset(t, 0, size);
	t->mt_next = atomic_load_explicit(&registry_head, memory_order_relaxed);
	/* Release: the record is initialised before a scan can reach it. */
	atomic_store_explicit(&registry_head, t, memory_order_release);
claim:
	atomic_store_explicit(&t->mt_state, RECORD_USED, memory_order_relaxed);
	t->mt_flags = 0;
	record_set_fence(t, mpsafe_ordering_now() == MPSAFE_ORDERING_FENCE);
	registry_used++;
	return t;
}

static int
thread_register(struct mpsafe_thread **tp)
{
	struct mpsafe_thread *t;

	mpsafe_library_init();
	if (mpsafe_curthread != UNREGISTERED) {
		*tp = mpsafe_curthread;
		return EALREADY;
	}
	pthread_mutex_lock(&registry_lock);
	t = record_alloc();
	pthread_mutex_unlock(&registry_lock);
	if (t == NULL)
		return ENOMEM;
	if (pthread_setspecific(registry_key, t) != 0) {
		pthread_mutex_lock(&registry_lock);
		atomic_store_explicit(
		    &t->mt_state, RECORD_FREE, memory_order_relaxed);
		registry_used--;
		pthread_mutex_unlock(&registry_lock);
		return ENOMEM;
	}
	mpsafe_curthread = t;
	*tp = t;
	return 0;
}

int
mpsafe_thread_register(void)
{
	struct mpsafe_thread *t;

	return thread_register(&t);
}

struct mpsafe_thread *
mpsafe_thread_attach(void)
{
	struct mpsafe_thread *t = NULL;
	int error = thread_register(&t);

	if (error != 0 && error != EALREADY)
		mpsafe_panic("cannot register thread: %s", strerror(error));
	return t;
}

int
mpsafe_thread_unregister(void)
{
	struct mpsafe_thread *t = mpsafe_curthread;

	if (t == UNREGISTERED)
		return EINVAL;
	if (record_depth(t) != 0) {
		MPSAFE_DIAG(0,
		    "mpsafe_thread_unregister inside a read section "
		    "(depth %u)",
		    record_depth(t));
		return EBUSY;
	}
	pthread_setspecific(registry_key, NULL);
	record_release(t, "unregistered");
	return 0;
}

void
mpsafe_thread_wake_writers(struct mpsafe_thread *t)
{
	mpsafe_futex_wake(&t->mt_read);
}

int
mpsafe_set_ordering(enum mpsafe_ordering mode)
{
	struct mpsafe_thread *self =
	    mpsafe_thread_registered() ? mpsafe_curthread : NULL;
	int error = 0;

	if (mode != MPSAFE_ORDERING_MEMBARRIER && mode != MPSAFE_ORDERING_FENCE)
		return EINVAL;
	mpsafe_library_init();
	pthread_mutex_lock(&registry_lock);
	if (registry_used > (self != NULL ? 1u : 0u) ||
	    (self != NULL && record_depth(self) != 0)) {
		error = EBUSY;
	} else if (mode == MPSAFE_ORDERING_MEMBARRIER &&
	           mpsafe_membarrier_setup() != 0) {
		error = ENOTSUP;
	} else {
		atomic_store_explicit(
		    &ordering_mode, mode, memory_order_relaxed);
		if (self != NULL)
			record_set_fence(self, mode == MPSAFE_ORDERING_FENCE);
	}
	pthread_mutex_unlock(&registry_lock);
	return error;
}

enum mpsafe_ordering
mpsafe_get_ordering(void)
{
	mpsafe_library_init();
	return mpsafe_ordering_now();
}
