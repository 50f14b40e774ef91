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
 *  - A registered thread's reader state lives in its TLS
 *    (mpsafe_reader_self) and its record points at it; a free record
 *    points at its own parked state, whose depth is zero.  A thread that
 *    unregisters parks its record and then waits for any grace period in
 *    progress, which may have loaded the old pointer, so no writer reads
 *    the TLS of a thread that has gone.
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
 * Thread exit.  A pthread key (registry_key) holds the record; its
 * destructor unregisters the thread.  Key destructors run in passes
 * (glibc, musl: in key order; another pass only while some destructor
 * stored a value, and at most PTHREAD_DESTRUCTOR_ITERATIONS), so the
 * program's own destructors may run after ours and release psref
 * references or leave read sections there.  While the thread holds
 * references or is inside a read section, our destructor stores the
 * record again and returns; only the last pass unregisters it by force
 * (the broken contract of psref.c and pserialize.c).  Once the thread is
 * unregistered the key keeps a non-record value (KEY_PARKED) until the
 * last pass, so that our destructor runs, and exit_passes counts, every
 * pass: a thread that registers again from a later destructor is seen
 * by ours on the next pass, and one that would register after our last
 * pass, whose record nothing would ever free, aborts instead.
 * Limitation: a thread that first registers inside a key destructor
 * (never before) is counted from its own first pass, possibly later
 * than the system's; if it then still holds references or a read
 * section on what is really the last pass, its record stays in use for
 * ever (pointing at dead TLS).  NetBSD has no such case: psref and
 * pserialize state is per CPU, and an LWP's exit path is the kernel's.
 *
 * The ordering mode is chosen once, at the first registration: membarrier
 * where the kernel grants it, the fence mode otherwise or when the
 * environment says MPSAFE_ORDERING=fence.  mpsafe_set_ordering() may
 * change it while no other thread is registered and no grace period or
 * psref destroy is in progress: both pair barriers of the two modes.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpsafe/alloc.h>

#include "mpsafe_impl.h"

const struct mpsafe_thread mpsafe_thread_unregistered;

__thread struct mpsafe_thread *mpsafe_curthread
    __attribute__((tls_model("initial-exec"))) =
        (struct mpsafe_thread *)&mpsafe_thread_unregistered;

#define UNREGISTERED ((struct mpsafe_thread *)&mpsafe_thread_unregistered)

__thread struct mpsafe_reader mpsafe_reader_self
    __attribute__((tls_model("initial-exec"))) = {
        .mr_word = MPSAFE_READ_NEST,
};

#define RECORD_FREE 0u
#define RECORD_USED 1u

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Pushed under registry_lock (release); walked lock-free (acquire). */
static _Atomic(struct mpsafe_thread *) registry_head;
static unsigned registry_used; /* registry_lock */
static _Atomic(enum mpsafe_ordering) ordering_mode;
static pthread_key_t registry_key;
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

/* Passes of key destructors at thread exit (POSIX requires at least 4). */
#ifdef PTHREAD_DESTRUCTOR_ITERATIONS
#define KEY_PASSES PTHREAD_DESTRUCTOR_ITERATIONS
#else
#define KEY_PASSES 4
#endif

/*
 * registry_key's value for a thread that registered once and is not
 * registered now: not a record, but non-NULL so that every destructor
 * pass at thread exit is counted (see the top).
 */
#define KEY_PARKED ((void *)&mpsafe_thread_unregistered)

/* Owner only: passes of registry_key_destructor() on this thread. */
static __thread unsigned exit_passes;

/*
 * Test builds (MPSAFE_FAULT_INJECTION): a death test names the rule it
 * breaks in MPSAFE_TEST_PANIC_EXPECT (tests/death_expect.h); a panic
 * whose message does not contain it exits with status 125 instead of
 * aborting, so the test, which expects SIGABRT, fails: an abort from
 * another check than the one the test is about no longer passes.
 */
#ifdef MPSAFE_FAULT_INJECTION
static MPSAFE_PRINTFLIKE(1, 0) void panic_check_expected(
    const char *fmt, va_list ap)
{
	const char *want = getenv("MPSAFE_TEST_PANIC_EXPECT");
	char msg[2048];

	if (want == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, want) != NULL)
		return;
	fprintf(stderr,
	    "mpsafe: test: the panic above is not the one expected (its "
	    "message lacks \"%s\")\n",
	    want);
	fflush(stderr);
	_exit(125);
}
#endif

void
mpsafe_panic(const char *fmt, ...)
{
	va_list ap;
	int cs;

	/* stdio's write() is a cancellation point: the abort must happen. */
	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	fputs("mpsafe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
#ifdef MPSAFE_FAULT_INJECTION
	va_start(ap, fmt);
	panic_check_expected(fmt, ap);
	va_end(ap);
#endif
	abort();
}

/*
 * No library call is a cancellation point.  pthread_cond_wait(),
 * pthread_cond_timedwait() and pthread_join() are: a thread cancelled in
 * one inside the library would unwind holding the library's mutex (a
 * cancelled condition wait takes it back first) with its state half
 * changed, and every later call would hang on that mutex.  NetBSD's
 * kernel primitives know no cancellation; here each wait turns it off
 * for its duration, so a cancellation requested meanwhile stays pending
 * and acts at the caller's next cancellation point, after the library
 * call has returned.  Only slow paths wait.
 */
int
mpsafe_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
	int old, error;

	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	error = pthread_cond_wait(cv, m);
	(void)pthread_setcancelstate(old, NULL);
	return error;
}

int
mpsafe_cond_timedwait(
    pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *until)
{
	int old, error;

	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	error = pthread_cond_timedwait(cv, m, until);
	(void)pthread_setcancelstate(old, NULL);
	return error;
}

int
mpsafe_join(pthread_t t, void **ret)
{
	int old, error;

	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	error = pthread_join(t, ret);
	(void)pthread_setcancelstate(old, NULL);
	return error;
}

enum mpsafe_ordering
mpsafe_ordering_now(void)
{
	/*
	 * Relaxed: changed only while no other thread is registered and no
	 * grace period runs (mpsafe_set_ordering()).
	 */
	return atomic_load_explicit(&ordering_mode, memory_order_relaxed);
}

struct mpsafe_thread *
mpsafe_registry_first(void)
{
	/* Acquire: pairs with the release push in record_alloc(). */
	return atomic_load_explicit(&registry_head, memory_order_acquire);
}

static uint32_t
self_word(void)
{
	/* Relaxed: the owner reads its own word. */
	return atomic_load_explicit(
	    &mpsafe_reader_self.mr_word, memory_order_relaxed);
}

static uint32_t
self_depth(void)
{
	return self_word() & MPSAFE_READ_NEST;
}

/* Store the calling thread's word (depth 0 or "unregistered" only). */
static void
self_set_word(uint32_t w)
{
	/* Release: pairs with the grace-period scan's acquire. */
	atomic_store_explicit(
	    &mpsafe_reader_self.mr_word, w, memory_order_release);
}

static void
record_release(struct mpsafe_thread *t, const char *why)
{
	uint32_t w = self_word();

	mpsafe_psref_thread_exit(t, why);
	if ((w & MPSAFE_READ_NEST) != 0) {
#ifdef MPSAFE_DIAGNOSTIC
		mpsafe_panic("thread %s inside a read section (depth %u): "
		             "every pserialize_read_enter needs its exit first",
		    why, w & MPSAFE_READ_NEST);
#else
		/*
		 * End the section by force: the thread's pointers die with
		 * it, and grace periods must not wait for ever.
		 */
		(void)why;
		self_set_word(w & ~MPSAFE_READ_NEST);
		mpsafe_futex_wake(&mpsafe_reader_self.mr_word);
#endif
	}
	pthread_mutex_lock(&registry_lock);
	/* Release: pairs with the scan's acquire load of mt_reader. */
	atomic_store_explicit(
	    &t->mt_reader, &t->mt_parked, memory_order_release);
	/* Relaxed: mt_state is read and written under registry_lock. */
	atomic_store_explicit(&t->mt_state, RECORD_FREE, memory_order_relaxed);
	registry_used--;
	pthread_mutex_unlock(&registry_lock);
	MPSAFE_YIELD_POINT(); /* a scan may hold the old mt_reader */
	/* A scan that loaded &mpsafe_reader_self must end before our TLS. */
	mpsafe_gp_wait_running();
	self_set_word(self_word() | MPSAFE_READ_NEST);
	mpsafe_reader_self.mr_private[MPSAFE_PRIV_PSREF] = NULL;
	mpsafe_reader_self.mr_private[MPSAFE_PRIV_LOCALCOUNT] = NULL;
	mpsafe_curthread = UNREGISTERED;
}

/*
 * registry_key_destructor(arg)
 *
 *	Thread exit, one pass of the key destructors; arg is the thread's
 *	record, or KEY_PARKED.  Keeps the thread registered, by storing the
 *	record again, while it holds psref references or is inside a read
 *	section and a later pass will come: another key's destructor may
 *	still release them.  Unregisters it otherwise (by force on the last
 *	pass, see record_release()).  Stores KEY_PARKED until the last pass
 *	so that the passes go on being counted.
 */
static void
registry_key_destructor(void *arg)
{
	struct mpsafe_thread *t = arg;
	bool last = ++exit_passes >= KEY_PASSES;

	if (t != KEY_PARKED) {
		if (!last &&
		    (self_depth() != 0 || mpsafe_psref_thread_held(t) != 0) &&
		    pthread_setspecific(registry_key, t) == 0)
			return;
		record_release(t, "exited");
	}
	if (!last)
		(void)pthread_setspecific(registry_key, KEY_PARKED);
}

static void
registry_atfork_prepare(void)
{
	mpsafe_defer_atfork_prepare();
	mpsafe_gp_atfork_prepare();
	mpsafe_psref_atfork_prepare();
	pthread_mutex_lock(&registry_lock);
}

static void
registry_atfork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
	mpsafe_psref_atfork_parent();
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

	/* Relaxed stores below: the child runs one thread, no scan. */
	struct mpsafe_thread *t;

	mpsafe_futex_atfork_child();
	registry_used = 0;
	atomic_store_explicit(
	    &mpsafe_reader_self.mr_waiters, 0, memory_order_relaxed);
	for (t = mpsafe_registry_first(); t != NULL; t = t->mt_next) {
		if (t == self) {
			registry_used++;
			continue;
		}
		atomic_store_explicit(
		    &t->mt_reader, &t->mt_parked, memory_order_relaxed);
		atomic_store_explicit(
		    &t->mt_state, RECORD_FREE, memory_order_relaxed);
	}
	pthread_mutex_unlock(&registry_lock);
	mpsafe_psref_atfork_child(self);
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
	/* Relaxed: set before any other thread registers. */
	atomic_store_explicit(&ordering_mode, mode, memory_order_relaxed);
	pthread_atfork(registry_atfork_prepare, registry_atfork_parent,
	    registry_atfork_child);
}

void
mpsafe_library_init(void)
{
	pthread_once(&library_once, library_init_once);
}

/* Set the fence-mode bit of the calling thread's word (depth 0). */
static void
self_set_fence(bool fence)
{
	uint32_t w = self_word();

	/* Relaxed: only the owner reads the bit. */
	atomic_store_explicit(&mpsafe_reader_self.mr_word,
	    fence ? (w | MPSAFE_READ_FENCE) : (w & ~MPSAFE_READ_FENCE),
	    memory_order_relaxed);
}

/* Take a free record or make one.  Called with registry_lock held. */
static struct mpsafe_thread *
record_alloc(void)
{
	struct mpsafe_thread *t;
	size_t size = (sizeof(*t) + MPSAFE_RECORD_ALIGN - 1) &
	              ~(size_t)(MPSAFE_RECORD_ALIGN - 1);

	for (t = mpsafe_registry_first(); t != NULL; t = t->mt_next) {
		/* Relaxed: mt_state is guarded by registry_lock (held). */
		if (atomic_load_explicit(&t->mt_state, memory_order_relaxed) ==
		    RECORD_FREE)
			goto claim;
	}
	t = mpsafe_aligned_alloc(MPSAFE_RECORD_ALIGN, size);
	if (t == NULL)
		return NULL;
	memset(t, 0, size);
	atomic_init(&t->mt_reader, &t->mt_parked);
	/* The primitives' per-thread state, fixed for the record's life. */
	if (mpsafe_psref_record_init(t) != 0 ||
	    mpsafe_localcount_record_init(t) != 0) {
		mpsafe_free(t->mt_private[MPSAFE_PRIV_PSREF]);
		mpsafe_free(t->mt_private[MPSAFE_PRIV_LOCALCOUNT]);
		mpsafe_free(t);
		return NULL;
	}
	MPSAFE_YIELD_POINT(); /* scans run while the record is built */
	/* Relaxed: pushes are serialised by registry_lock (held). */
	t->mt_next = atomic_load_explicit(&registry_head, memory_order_relaxed);
	/* Release: the record is initialised before a scan can reach it. */
	atomic_store_explicit(&registry_head, t, memory_order_release);
claim:
	/* Relaxed: registry_lock (held) orders mt_state. */
	atomic_store_explicit(&t->mt_state, RECORD_USED, memory_order_relaxed);
	t->mt_flags = 0;
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
	if (exit_passes >= KEY_PASSES)
		mpsafe_panic(
		    "thread registers in a pthread key destructor after "
		    "the library's last thread-exit pass (%u): nothing "
		    "would unregister it; use the primitives in "
		    "earlier destructor passes only",
		    (unsigned)KEY_PASSES);
	pthread_mutex_lock(&registry_lock);
	t = record_alloc();
	if (t != NULL) {
		/* Depth 0 before any scan can reach the word. */
		self_set_word(self_word() & ~MPSAFE_READ_NEST);
		self_set_fence(mpsafe_ordering_now() == MPSAFE_ORDERING_FENCE);
		/* Release: pairs with the scan's acquire of mt_reader. */
		atomic_store_explicit(
		    &t->mt_reader, &mpsafe_reader_self, memory_order_release);
	}
	pthread_mutex_unlock(&registry_lock);
	if (t == NULL)
		return ENOMEM;
	if (pthread_setspecific(registry_key, t) != 0) {
		record_release(t, "failed to register");
		return ENOMEM;
	}
	mpsafe_reader_self.mr_private[MPSAFE_PRIV_PSREF] =
	    t->mt_private[MPSAFE_PRIV_PSREF];
	mpsafe_reader_self.mr_private[MPSAFE_PRIV_LOCALCOUNT] =
	    mpsafe_localcount_record_counters(t);
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
	if (self_depth() != 0) {
		MPSAFE_DIAG(0,
		    "mpsafe_thread_unregister inside a read section "
		    "(depth %u)",
		    self_depth());
		return EBUSY;
	}
	if (mpsafe_psref_thread_held(t) != 0) {
		/* The thread goes on: its references must stay counted. */
		MPSAFE_DIAG(0,
		    "mpsafe_thread_unregister holding %u psref reference(s)",
		    mpsafe_psref_thread_held(t));
		return EBUSY;
	}
	/* Keep counting exit passes (see the top). */
	(void)pthread_setspecific(registry_key, KEY_PARKED);
	record_release(t, "unregistered");
	return 0;
}

void
mpsafe_thread_wake_writers(struct mpsafe_reader *r)
{
	mpsafe_futex_wake(&r->mr_word);
}

/*
 * mpsafe_set_ordering(mode)
 *
 *	Change the ordering mode.  Refused (EBUSY) while another thread is
 *	registered, the caller is in a read section, a grace period runs, or
 *	a psref destroy is in progress: each pairs a barrier of its own with
 *	the readers' or releasers', and both sides must use the same mode.
 *	Holding gp_lock (taken before registry_lock, as in the fork
 *	handlers) keeps a grace period from starting until the mode is set.
 *	Blocks briefly on those locks.
 *
 *	A psref destroy whose raise of the draining count we miss has not
 *	taken gp_lock for its grace period yet (or that grace period would
 *	have ended, and its unlock would show us the raise), so its grace
 *	period and scan follow our unlock and run in the new mode, and
 *	every release the caller made in the old mode happens before them.
 *	A localcount drain needs no such check: after its grace period it
 *	waits on read-modify-writes only, which no mode weakens.
 */
int
mpsafe_set_ordering(enum mpsafe_ordering mode)
{
	struct mpsafe_thread *self =
	    mpsafe_thread_registered() ? mpsafe_curthread : NULL;
	int error = 0;
	bool gp_running;

	if (mode != MPSAFE_ORDERING_MEMBARRIER && mode != MPSAFE_ORDERING_FENCE)
		return EINVAL;
	mpsafe_library_init();
	gp_running = mpsafe_gp_lock();
	pthread_mutex_lock(&registry_lock);
	if (registry_used > (self != NULL ? 1u : 0u) ||
	    (self != NULL && self_depth() != 0) || gp_running ||
	    mpsafe_psref_destroying()) {
		error = EBUSY;
	} else if (mode == MPSAFE_ORDERING_MEMBARRIER &&
	           mpsafe_membarrier_setup() != 0) {
		error = ENOTSUP;
	} else {
		/* Relaxed: no other thread is registered (checked above). */
		atomic_store_explicit(
		    &ordering_mode, mode, memory_order_relaxed);
		if (self != NULL)
			self_set_fence(mode == MPSAFE_ORDERING_FENCE);
	}
	pthread_mutex_unlock(&registry_lock);
	mpsafe_gp_unlock();
	return error;
}

enum mpsafe_ordering
mpsafe_get_ordering(void)
{
	mpsafe_library_init();
	return mpsafe_ordering_now();
}
