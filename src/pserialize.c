/*
 * pserialize.c: grace periods for passive serialization.
 *
 * Readers (pserialize.h, inline) keep one word per registered thread, in
 * its TLS (mpsafe_reader_self.mr_word): a nesting depth, and a generation that
 * each outermost entry advances.  Leaving a section stores the word with
 * release semantics.  The word is written only by its owner, so a read section
 * writes no cache line that another thread writes, and it reads no shared line
 * at all.
 *
 * A grace period (gp_run) is:
 *   1. a barrier: membarrier() in the membarrier mode, a seq_cst fence in
 *      the fence mode (where readers fence too);
 *   2. a scan of the registry: a record whose depth is non-zero belongs to
 *      a section that may have begun before the barrier, and we wait until
 *      that section ends: the depth reads zero, or the generation differs
 *      (only a new outermost entry changes it, and that follows the exit).
 *
 * Why one barrier suffices.  Take a reader section S and the writer's
 * barrier point B in the reader's program order.  If S's entry store
 * precedes B, the scan (after B) sees S's word, or a later one, and waits
 * for S to end; S's loads happen before its release exit, which the scan's
 * acquire load reads, so they happen before whatever the writer does next
 * (typically free).  If the entry store follows B, every load of S follows
 * B and sees every store the writer made before the grace period (the
 * unpublish).  (urcu-memb pays two membarriers per grace period; its
 * second orders the readers' exits, which the release store gives us.)
 *
 * Waiting.  The writer spins briefly on a word, then yields its CPU a few
 * times (a reader preempted inside its section may be waiting for one);
 * then it raises the
 * record's mr_waiters, issues another barrier and sleeps on the word with a
 * futex.  The barrier pairs with the reader's exit, which stores mr_word
 * and then (compiler barrier, or fence) loads mr_waiters: either the
 * reader's store is visible to the writer's re-check, or the reader sees
 * the raised count and wakes the writer.  There is no timed polling.
 *
 * Sharing.  Concurrent callers share grace periods through a sequence
 * number gp_seq (even: idle, odd: a grace period runs), as in Linux's
 * rcu_seq: a caller needs a grace period that starts after it arrives, so
 * it waits until gp_seq reaches (gp_seq + 3) & ~1, running grace periods
 * itself whenever none is running.  N simultaneous callers cost about two
 * grace periods, not N.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/pserialize.h>

#include "mpsafe_impl.h"

/* Spins on a reader's word before yielding (each spin is a CPU pause). */
#define GP_SPIN_LIMIT 1000
/* Yields of the CPU before sleeping. */
#define GP_YIELD_LIMIT 4

#define PSZ_MAGIC 0x7073727aU  /* "psrz" */
#define PSZ_POISON 0xdeadbeefU /* after pserialize_destroy */

struct pserialize {
	_Atomic(uint32_t) psz_inflight; /* pserialize_perform calls running */
	/*
	 * free() reuses a small block's first 16 bytes (glibc: its free
	 * list links), which would overwrite a poison there: the magic lies
	 * past them, so a use after pserialize_destroy() is reported as one.
	 */
	uint32_t psz_pad[3];
	_Atomic(uint32_t) psz_magic;
};

static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gp_cv = PTHREAD_COND_INITIALIZER;
static uint64_t gp_seq; /* gp_lock: even idle, odd running */

/*
 * Full barrier on every thread that may be inside a read section.  The
 * mode cannot change while gp_seq is odd: mpsafe_set_ordering() refuses.
 */
static void
gp_barrier(void)
{
	if (mpsafe_ordering_now() == MPSAFE_ORDERING_MEMBARRIER)
		mpsafe_membarrier(); /* pairs with readers' compiler barriers */
	else
		atomic_thread_fence(memory_order_seq_cst); /* readers' fences */
}

/* Has the section that t's word showed as w ended? */
static inline bool
gp_section_ended(uint32_t w, uint32_t now)
{
	return (now & MPSAFE_READ_NEST) == 0 ||
	       (now & MPSAFE_READ_NEST) == MPSAFE_READ_NEST ||
	       (now & ~(MPSAFE_READ_GEN_ONE - 1)) !=
	           (w & ~(MPSAFE_READ_GEN_ONE - 1));
}

/* Wait until the read section that r's word showed as w ends. */
static void
gp_wait_reader(struct mpsafe_reader *r, uint32_t w)
{
	uint32_t now;

	/* Acquire: pairs with the release store of pserialize_read_exit. */
	for (int i = 0; i < GP_SPIN_LIMIT; i++) {
		now = atomic_load_explicit(&r->mr_word, memory_order_acquire);
		if (gp_section_ended(w, now))
			return;
		mpsafe_cpu_relax();
	}
	/*
	 * The reader may be preempted inside its section, waiting for a CPU
	 * (more threads than CPUs): yielding ours lets it run.  Any change of
	 * its word ends the wait, so a reader that re-enters at once cannot
	 * hold us up, unlike an epoch scheme's.
	 */
	for (int i = 0; i < GP_YIELD_LIMIT; i++) {
		sched_yield();
		now = atomic_load_explicit(&r->mr_word, memory_order_acquire);
		if (gp_section_ended(w, now))
			return;
	}
	atomic_fetch_add_explicit(&r->mr_waiters, 1, memory_order_seq_cst);
	gp_barrier(); /* pairs with the barrier between exit's store and load */
	for (;;) {
		now = atomic_load_explicit(&r->mr_word, memory_order_acquire);
		if (gp_section_ended(w, now))
			break;
		mpsafe_futex_wait(&r->mr_word, now);
	}
	/* Relaxed: the reader only tests the count for non-zero. */
	atomic_fetch_sub_explicit(&r->mr_waiters, 1, memory_order_relaxed);
}

/* One grace period.  Called with no lock held. */
static void
gp_run(void)
{
	struct mpsafe_thread *t;

	gp_barrier();
	MPSAFE_YIELD_POINT(); /* readers enter between barrier and scan */
#ifdef MPSAFE_TEST_BROKEN_NO_WAIT
	/* Deliberately broken build for the torture test's own test. */
	return;
#endif
	for (t = mpsafe_registry_first(); t != NULL; t = t->mt_next) {
		/* Acquire: pairs with the release in thread registration. */
		struct mpsafe_reader *r =
		    atomic_load_explicit(&t->mt_reader, memory_order_acquire);
		/* Acquire: pairs with the release store at read-section exit.
		 */
		uint32_t w;

		MPSAFE_YIELD_POINT(); /* the owner may unregister here */
		w = atomic_load_explicit(&r->mr_word, memory_order_acquire);
		/*
		 * All depth bits set: the word of a thread that is not
		 * registered, never a section (MPSAFE_NEST_MAX is one less).
		 * A record can show one only when its owner broke the rules
		 * (a first registration on the last pthread key destructor
		 * pass, thread.h): its TLS may then belong to a new thread
		 * that has not registered; waiting would never end.
		 */
		if ((w & MPSAFE_READ_NEST) != 0 &&
		    (w & MPSAFE_READ_NEST) != MPSAFE_READ_NEST)
			gp_wait_reader(r, w);
	}
}

/*
 * mpsafe_gp_wait()
 *
 *	Return after a full grace period that began after the call.  Shares
 *	grace periods with concurrent callers.  Blocks.
 */
void
mpsafe_gp_wait(void)
{
	uint64_t target;

	mpsafe_library_init();
	pthread_mutex_lock(&gp_lock);
	target = (gp_seq + 3) & ~(uint64_t)1;
	while (gp_seq < target) {
		if (gp_seq & 1) {
			mpsafe_cond_wait(&gp_cv, &gp_lock);
			continue;
		}
		gp_seq++;
		pthread_mutex_unlock(&gp_lock);
		MPSAFE_YIELD_POINT();
		gp_run();
		pthread_mutex_lock(&gp_lock);
		gp_seq++;
		pthread_cond_broadcast(&gp_cv);
	}
	pthread_mutex_unlock(&gp_lock);
}

uint32_t
mpsafe_gp_ticket(void)
{
	uint64_t target;

	mpsafe_library_init();
	pthread_mutex_lock(&gp_lock);
	target = (gp_seq + 3) & ~(uint64_t)1; /* as mpsafe_gp_wait() */
	pthread_mutex_unlock(&gp_lock);
	return (uint32_t)target;
}

bool
mpsafe_gp_passed(uint32_t ticket)
{
	uint32_t seq;

	pthread_mutex_lock(&gp_lock);
	seq = (uint32_t)gp_seq;
	pthread_mutex_unlock(&gp_lock);
	return (int32_t)(seq - ticket) >= 0;
}

/*
 * mpsafe_gp_wait_running()
 *
 *	Return once the grace period running at the call, if any, is over.
 *	Used by a thread leaving the registry: a scan that may have loaded a
 *	pointer to its TLS ends before that TLS goes away.  Blocks.
 */
void
mpsafe_gp_wait_running(void)
{
	uint64_t seq;

	pthread_mutex_lock(&gp_lock);
	seq = gp_seq;
	while ((seq & 1) && gp_seq == seq)
		mpsafe_cond_wait(&gp_cv, &gp_lock);
	pthread_mutex_unlock(&gp_lock);
}

bool
mpsafe_gp_lock(void)
{
	pthread_mutex_lock(&gp_lock);
	return (gp_seq & 1) != 0;
}

void
mpsafe_gp_unlock(void)
{
	pthread_mutex_unlock(&gp_lock);
}

void
mpsafe_gp_atfork_prepare(void)
{
	pthread_mutex_lock(&gp_lock);
}

void
mpsafe_gp_atfork_parent(void)
{
	pthread_mutex_unlock(&gp_lock);
}

/*
 * The thread that ran a grace period is gone in the child: call that grace
 * period finished, as no reader of the child can have begun before it.
 */
void
mpsafe_gp_atfork_child(void)
{
	if (gp_seq & 1)
		gp_seq++;
	pthread_cond_init(&gp_cv, NULL);
	pthread_mutex_unlock(&gp_lock);
}

/*
 * mpsafe_read_enter_slow()
 *
 *	The rare path of pserialize_read_enter(): register the thread and
 *	enter, or report nesting too deep.
 */
int
mpsafe_read_enter_slow(void)
{
	if (!mpsafe_thread_registered()) {
		(void)mpsafe_thread_attach();
		return pserialize_read_enter();
	}
	mpsafe_panic("pserialize_read_enter: read sections nested deeper than "
	             "%u (a pserialize_read_exit is missing)",
	    MPSAFE_NEST_MAX);
}

void
mpsafe_read_exit_broken(int s)
{
	/* Relaxed: the owner reads its own word. */
	uint32_t w = atomic_load_explicit(
	    &mpsafe_reader_self.mr_word, memory_order_relaxed);

	if (!mpsafe_thread_registered() || (w & MPSAFE_READ_NEST) == 0)
		mpsafe_panic("pserialize_read_exit without a matching "
		             "pserialize_read_enter (unbalanced exit)");
	mpsafe_panic("pserialize_read_exit(%#x) does not match the innermost "
	             "pserialize_read_enter (depth %u, expected cookie %#x)",
	    (unsigned)s, w & MPSAFE_READ_NEST, w);
}

pserialize_t
pserialize_create(void)
{
	struct pserialize *psz = mpsafe_malloc(sizeof(*psz));

	if (psz == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&psz->psz_magic, PSZ_MAGIC);
	atomic_init(&psz->psz_inflight, 0);
	mpsafe_library_init();
	return psz;
}

static void
psz_check(pserialize_t psz, const char *fn)
{
	/* Relaxed: a diagnostic; the caller owns psz. */
	uint32_t magic =
	    atomic_load_explicit(&psz->psz_magic, memory_order_relaxed);

	if (magic != PSZ_MAGIC)
		mpsafe_panic("%s: %p is not a live pserialize_t (%s)", fn,
		    (void *)psz,
		    magic == PSZ_POISON ? "used after pserialize_destroy"
		                        : "never created");
}

void
pserialize_destroy(pserialize_t psz)
{
	if (psz == NULL)
		mpsafe_panic("pserialize_destroy: NULL pserialize_t");
	psz_check(psz, "pserialize_destroy");
	/*
	 * Every build: the perform would write its count into freed memory.
	 * Relaxed: a check of a broken contract, not a synchronisation.
	 */
	if (atomic_load_explicit(&psz->psz_inflight, memory_order_relaxed) != 0)
		mpsafe_panic(
		    "pserialize_destroy while pserialize_perform is in "
		    "progress on the same object");
	/* Relaxed: a poison for diagnostics; the caller owns psz. */
	atomic_store_explicit(
	    &psz->psz_magic, PSZ_POISON, memory_order_relaxed);
	mpsafe_free(psz);
}

void
pserialize_perform(pserialize_t psz)
{
	/* Always checked: the call would wait for its own section forever. */
	if (pserialize_in_read_section())
		mpsafe_panic("pserialize_perform inside a read section: a "
		             "grace period would wait for the caller itself");
	if (psz == NULL)
		mpsafe_panic("pserialize_perform: NULL pserialize_t");
	psz_check(psz, "pserialize_perform");
	/* Relaxed: a count for the destroy diagnostic only. */
	atomic_fetch_add_explicit(&psz->psz_inflight, 1, memory_order_relaxed);
	mpsafe_gp_wait();
	atomic_fetch_sub_explicit(&psz->psz_inflight, 1, memory_order_relaxed);
}
