/*
 * localcount.c: reference counts kept per thread, drained by summing.
 *
 * State.  localcount_init() gives each count a small integer id from a
 * global allocator (a bitmap under id_lock, lowest free id first, but
 * not one whose counter would share the count's line within a page or sit
 * on a page's first line, see id_aliasing(); ids reused after fini).  Every
 * registry record carries a pointer to an array of LOCALCOUNT_IDS int64
 * counters (mt_private[MPSAFE_PRIV_LOCALCOUNT] holds the pointer's word,
 * allocated with the record; the array is mapped by the record's owner the
 * first time it counts, and like the record never freed; its pages are backed
 * as ids are written, and ids are handed out lowest first, so the few pages in
 * use are the first). Thread T's counter for count lc is element lc_id of T's
 * array: memory only T writes while lc is active.  The owner's fast path reads
 * the array's address from its TLS reader state, set at registration and when
 * the array is mapped.  A count also has a state word and a shared total,
 * lc_total, which holds BIAS plus the references counted outside the
 * per-thread counters, until drain folds the counters in and takes the
 * bias out.
 *
 *   FRESH --first acquire/release--> ACTIVE (has an id) or SHARED (none)
 *   FRESH, ACTIVE, SHARED --drain--> DRAINING --total reaches 0--> DRAINED
 *   FRESH, DRAINED --fini--> DEAD (poison)
 *
 * Acquire and release (inline, mpsafe/localcount.h), inside the caller's
 * read section, with the state ACTIVE and the thread's array present,
 * add +1 or -1 to the thread's counter with a relaxed load and store.
 * Everything else goes to mpsafe_localcount_adjust_slow(): outside a
 * section it opens one around the same update (counter_add()), FRESH
 * takes the first-use transition, a missing array is mapped, and
 * the SHARED and DRAINING states (and a failed array mapping) add to
 * lc_total with an atomic read-modify-write.  Counters may go negative; only
 * the sum over all threads plus lc_total - BIAS is the number of references.
 *
 * Drain of an ACTIVE count:
 *   1. CAS the state to DRAINING (seq_cst);
 *   2. mpsafe_gp_wait(): one full grace period;
 *   3. under id_lock, add up every record's counter for the id, zeroing
 *      each, and add (sum - BIAS) to lc_total in one atomic RMW; the
 *      result v is the number of references still held;
 *   4. v == 0: CAS DRAINING to DRAINED and, if a drainer is inside
 *      drain_wait() on the wait word (a second drain, in builds that
 *      allow one), wake it as a release would; return.  Otherwise sleep
 *      until a release brings lc_total to 0; that release CASes DRAINING
 *      to DRAINED and wakes the drainer through a library-owned futex
 *      word.
 * A FRESH or SHARED count never used the per-thread counters: drain skips
 * steps 2 and 3 (FRESH: nobody can hold a reference).
 *
 * Invariants.
 *  I1. While lc is ACTIVE, only thread T writes T's counter for lc_id.
 *      Drain and fini write it only after a grace period that began after
 *      the state left ACTIVE (then nobody else can, see P1).
 *  I2. When an id is free, its counter is zero in every record (arrays
 *      start zeroed; drain and an undrained fini zero the counters before
 *      the id is freed; nothing updates them after the state left ACTIVE).
 *  I3. lc_total >= BIAS - (releases counted there) before the fold, so it
 *      cannot reach zero before the fold (a count would need 2^62
 *      releases); after the fold it is exactly the number of references
 *      held, and is changed only by slow-path RMWs.
 *  I4. Only the RMW that brings lc_total to zero after the fold moves the
 *      state to DRAINED (the drainer's own fold RMW, or one release).
 *
 * Proof sketch.
 *  P1 (no update is lost or counted twice).  Take a fast-path update U in
 *  read section S.  If S's load of lc_state returned ACTIVE, it preceded
 *  drain's CAS to DRAINING in the state's modification order, so S began
 *  before the grace period's barrier and the grace period waits for S to
 *  end; S's exit is a release store, which the grace-period scan reads
 *  with acquire, so U happens before the fold, which sees it and zeroes
 *  it.  (By the barrier argument of pserialize.c, a section that begins
 *  after the barrier sees DRAINING.)  If S saw any other state, U went to
 *  the slow path, which adds to lc_total with an RMW; RMWs on one word
 *  are totally ordered, so the fold RMW and every slow update are each
 *  counted exactly once.  The fold is the only reader of the counters and
 *  runs once.
 *  P2 (drain returns only when no reference is held).  By P1, after the
 *  fold lc_total equals acquires minus releases; DRAINED is stored only
 *  when it is zero (I4).
 *  P3 (no lost wake-up).  The releaser CASes the state (seq_cst), then
 *  increments the wait word (seq_cst) and wakes it; the drainer loads the
 *  wait word, then the state (both seq_cst), and sleeps only if the word
 *  still holds the value it loaded.  If its state load missed DRAINED,
 *  its word load precedes the increment in the seq_cst order, and the
 *  futex either sees the new value or is woken.  A drainer whose own
 *  fold reached zero wakes a second drain (builds without contract
 *  checks) the same way, but only if its seq_cst load of dw_sleepers,
 *  after its CAS, is not zero: a drainer increments dw_sleepers (seq_cst)
 *  before its loads, so either that load sees the increment (and wakes
 *  as above) or it precedes the increment in the seq_cst order, and then
 *  so does the CAS, and the second drain's state load sees DRAINED.
 *  P4 (no use after free).  A releaser's last access to lc is the RMW or
 *  CAS that let the drainer go (the wait word is the library's, found by
 *  hashing lc's address, not by reading lc).  A fast-path release ends in
 *  its read section, which the drain's grace period waits out.
 *
 * Memory order for the caller: a release (fast: read-section exit, then
 * the scan's acquire; slow: acq_rel RMW, then the release CAS of DRAINED
 * and the drainer's acquire load) orders everything the releasing thread
 * did with the object before localcount_drain() returns.
 *
 * Threads that exit leave their counters in their record (the counts are
 * anonymous; the next owner of the record carries on from them).  After
 * fork() the child keeps every record's counters, so references taken by
 * the parent's other threads stay counted and can be released by the
 * child; the id lock is held across fork() so the child never sees a
 * half-done fold or allocation.  A count that another thread was draining
 * at the fork stays DRAINING in the child: if the fold had run, the
 * child's releases still bring it to DRAINED, unless the fold itself
 * found zero (the drainer, between the id lock's release and
 * drain_done(), was to mark it, and no release is left to); if the
 * drain was in its grace period, nobody folds its counters in the child (the
 * forking thread may be inside a read section that saw ACTIVE, so the child
 * cannot fold for it), lc_total keeps its bias and the count is never
 * DRAINED there.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>

#include <mpsafe/alloc.h>
#include <mpsafe/localcount.h>

#include "mpsafe_impl.h"

#define LC_FRESH 0x4c434672u /* "LCFr": initialised, never used */
#define LC_ACTIVE LOCALCOUNT_STATE_ACTIVE
#define LC_SHARED 0x4c435368u   /* "LCSh": used, counts in lc_total only */
#define LC_DRAINING 0x4c434472u /* "LCDr" */
#define LC_DRAINED 0x4c434464u  /* "LCDd" */
#define LC_DEAD 0xdeadc0c0u     /* after localcount_fini */

#define LC_NOID UINT32_MAX       /* no per-thread counters */
#define LC_ID_POISON 0xdeadbeefu /* lc_id after fini */
#define LC_TOTAL_POISON ((int64_t)0x7eadbeefdeadbeefLL)

/* lc_total's offset until the fold: the total cannot reach 0 early. */
#define LC_BIAS ((int64_t)1 << 62)

/* Yields of the CPU before a drainer sleeps. */
#define DRAIN_YIELD_LIMIT 4

#define ID_WORDS (LOCALCOUNT_IDS / 64)

/*
 * The id allocator.  id_lock also covers drain's fold and fini's zeroing,
 * and is held across fork(), so that a child never inherits either half
 * done.  Lock order: never held while waiting for a grace period, and no
 * other library lock is taken under it.
 */
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t id_used[ID_WORDS];         /* id_lock: bit set = id in use */
static unsigned id_hint;                   /* id_lock: no free id below */
static uint32_t id_limit = LOCALCOUNT_IDS; /* id_lock: test hook lowers */
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

/* Test hook: counter arrays fail to map (written by tests, read relaxed). */
static _Atomic(bool) counters_fail;

/*
 * Futex words drainers sleep on, hashed by the count's address (a releaser
 * finds the word without touching the count once it may be freed).
 * dw_seq: bumped by whoever moves a count to DRAINED and wakes its
 * drainers (drain_done()), loaded by drain_wait().  dw_sleepers: the
 * drainers inside drain_wait() on any count of this word (RMWs by them;
 * read by a drainer whose own fold reached zero, to wake a second drain
 * only when one may be there).
 */
static struct drain_word {
	_Alignas(MPSAFE_RECORD_ALIGN) _Atomic(uint32_t) dw_seq;
	_Atomic(uint32_t) dw_sleepers;
} drain_words[16];

static struct drain_word *
drain_word(const struct localcount *lc)
{
	uintptr_t h = (uintptr_t)lc;

	h ^= h >> 6;
	h ^= h >> 11;
	return &drain_words[h % (sizeof(drain_words) / sizeof(drain_words[0]))];
}

static void
lc_atfork_prepare(void)
{
	pthread_mutex_lock(&id_lock);
}

static void
lc_atfork_parent(void)
{
	pthread_mutex_unlock(&id_lock);
}

static void
lc_atfork_child(void)
{
	pthread_mutex_unlock(&id_lock);
}

static void
lc_init_once(void)
{
	/* After the registry's handlers: ours run first in prepare. */
	mpsafe_library_init();
	pthread_atfork(lc_atfork_prepare, lc_atfork_parent, lc_atfork_child);
}

static struct mpsafe_localcount_dir *
thread_dir(const struct mpsafe_thread *t)
{
	return (struct mpsafe_localcount_dir *)
	    t->mt_private[MPSAFE_PRIV_LOCALCOUNT];
}

int
mpsafe_localcount_record_init(struct mpsafe_thread *t)
{
	struct mpsafe_localcount_dir *dir =
	    mpsafe_aligned_alloc(MPSAFE_RECORD_ALIGN, sizeof(*dir));

	if (dir == NULL)
		return ENOMEM;
	atomic_init(&dir->lcd_counters, NULL);
	/* Published with the record (release push in record_alloc()). */
	t->mt_private[MPSAFE_PRIV_LOCALCOUNT] = dir;
	return 0;
}

void *
mpsafe_localcount_record_counters(struct mpsafe_thread *t)
{
	/*
	 * Relaxed: the registering thread owns t; an earlier owner's
	 * stores happen before, through registry_lock (unlocked in its
	 * record_release(), locked in our record_alloc()).
	 */
	return atomic_load_explicit(
	    &thread_dir(t)->lcd_counters, memory_order_relaxed);
}

/* Test hook (library-private, not exported): see tests. */
void mpsafe_localcount_test_limits(uint32_t max_ids, bool fail_counters);

void
mpsafe_localcount_test_limits(uint32_t max_ids, bool fail_counters)
{
	pthread_mutex_lock(&id_lock);
	id_limit = max_ids < LOCALCOUNT_IDS ? max_ids : LOCALCOUNT_IDS;
	pthread_mutex_unlock(&id_lock);
	/* Relaxed: a test sets it before the counts it concerns are used. */
	atomic_store_explicit(
	    &counters_fail, fail_counters, memory_order_relaxed);
}

/* --- ids ------------------------------------------------------------- */

/*
 * Which ids alias lc.  A counter lives at page offset (id * 8) % 4096 of
 * its array (arrays are page-aligned).  The fast path loads lc_state and
 * lc_id right after the previous acquire or release stored the counter;
 * if the counter and lc share their address bits below 4 KiB, the CPU
 * cannot tell at first that the load does not depend on the store (the
 * "4K aliasing" of x86 store-to-load forwarding) and the load waits, or
 * is replayed.  Measured on a 2-vCPU EPYC VM: acquire and release in a
 * read section took 1.85 ns instead of 1.45 with lc on the counter's
 * page offset, and 13 ns with some higher bits equal too; the read-side
 * benchmark's localcount row went from 2.3 to 5-8 ns in the processes
 * whose heap happened to put the object there.  So id_alloc() avoids the
 * 8 ids whose counters share lc's 64-byte line offset within a page, and
 * the 8 on the first line of a page: page-aligned memory puts its first,
 * often hottest, word there (in mpsafe-bench, the published pointer every
 * read loads sat at page offset 0, as counter 0 did, and about one
 * process in four ran localcount at 5-15 ns).  Other coincidences with
 * the caller's data remain possible; these are the ones the library can
 * see coming.  Returns the bit mask of those ids within word w of id_used.
 */
static uint64_t
id_aliasing(const struct localcount *lc, unsigned w)
{
	unsigned line = (unsigned)((uintptr_t)lc & 4095u) / 64; /* 0..63 */
	uint64_t mask = 0;

	/* Word w holds ids w * 64 .. w * 64 + 63: lines (w % 8) * 8 .. +7. */
	if (w % 8 == line / 8)
		mask |= UINT64_C(0xff) << (line % 8 * 8);
	if (w % 8 == 0)
		mask |= UINT64_C(0xff); /* line 0 */
	return mask;
}

/*
 * The lowest free id that does not alias lc (above), else the lowest free
 * id (a count with a slow fast path beats one with none), else LC_NOID.
 */
static uint32_t
id_alloc(const struct localcount *lc)
{
	uint32_t id = LC_NOID;
	bool hinted = false;

	pthread_mutex_lock(&id_lock);
	for (unsigned w = id_hint; w < ID_WORDS && w * 64 < id_limit; w++) {
		uint64_t free = ~id_used[w], good;

		if (id_limit - w * 64 < 64) /* ids from id_limit on: none */
			free &= (UINT64_C(1) << (id_limit - w * 64)) - 1;
		if (free == 0)
			continue;
		if (!hinted) { /* no free id below this word */
			id_hint = w;
			hinted = true;
		}
		if (id == LC_NOID)
			id = w * 64 + (unsigned)__builtin_ctzll(free);
		good = free & ~id_aliasing(lc, w);
		if (good != 0) {
			id = w * 64 + (unsigned)__builtin_ctzll(good);
			break;
		}
	}
	if (id != LC_NOID)
		id_used[id / 64] |= UINT64_C(1) << (id % 64);
	pthread_mutex_unlock(&id_lock);
	return id;
}

/* Free id, whose counters are zero in every record (I2). */
static void
id_free(uint32_t id)
{
	unsigned w = id / 64;

	pthread_mutex_lock(&id_lock);
	MPSAFE_DIAG(id_used[w] & (UINT64_C(1) << (id % 64)),
	    "localcount: id %u freed twice (internal error)", id);
	id_used[w] &= ~(UINT64_C(1) << (id % 64));
	if (w < id_hint)
		id_hint = w;
	pthread_mutex_unlock(&id_lock);
}

/*
 * Add up every record's counter for id and zero them.  Called with
 * id_lock held, after a grace period that began once the count had left
 * ACTIVE: no owner writes these counters any more (P1).
 */
static int64_t
fold_counters(uint32_t id)
{
	int64_t sum = 0;

	for (struct mpsafe_thread *t = mpsafe_registry_first(); t != NULL;
	     t = t->mt_next) {
		/* Acquire: pairs with the owner's release store of the array.
		 */
		_Atomic(int64_t) *c = atomic_load_explicit(
		    &thread_dir(t)->lcd_counters, memory_order_acquire);
		int64_t v;

		if (c == NULL)
			continue;
		c += id;
		/*
		 * Relaxed: the grace period ordered the owner's last update
		 * before this load (read-section exit, release; scan, acquire).
		 */
		v = atomic_load_explicit(c, memory_order_relaxed);
		if (v !=
		    0) { /* a zero counter's page may be unbacked: leave it */
			sum += v;
			atomic_store_explicit(c, 0, memory_order_relaxed);
		}
	}
	return sum;
}

/* --- diagnostics ----------------------------------------------------- */

void
mpsafe_localcount_null(const char *fn)
{
	mpsafe_panic("%s: NULL localcount", fn);
}

static MPSAFE_NORETURN void
state_panic(const char *fn, const struct localcount *lc, uint32_t st)
{
	if (st == LC_DEAD)
		mpsafe_panic("%s: localcount %p was destroyed by "
		             "localcount_fini (use after fini)",
		    fn, (const void *)lc);
	mpsafe_panic("%s: %p is not an initialised localcount (state %#x)", fn,
	    (const void *)lc, (unsigned)st);
}

/* --- draining -------------------------------------------------------- */

/*
 * drain_done(lc, by_drainer)
 *
 *	The count reached zero after the fold: move it to DRAINED and wake
 *	the threads in drain_wait() on it.  Called by the RMW that reached
 *	zero (I4): a release (by_drainer false: the drainer may be asleep,
 *	always wake), or the drainer's own fold (by_drainer true: only a
 *	second drain, in builds without contract checks, can be waiting, so
 *	wake only if dw_sleepers says a drainer is in drain_wait(); this
 *	spares every drain that finds zero a futex system call).  lc may be
 *	freed as soon as the CAS lands; only the library's wait word is
 *	touched after it.  Never blocks.
 */
static void
drain_done(struct localcount *lc, bool by_drainer)
{
	struct drain_word *dw = drain_word(lc);
	uint32_t st = LC_DRAINING;

	/*
	 * Seq_cst (a release): the releasers' uses of the object happen
	 * before the drainer's acquire of DRAINED; ordered before the
	 * increment of the wait word, and the load of dw_sleepers, for P3.
	 */
	if (!atomic_compare_exchange_strong_explicit(&lc->lc_state, &st,
	        LC_DRAINED, memory_order_seq_cst, memory_order_relaxed))
		return;
	/* Seq_cst: pairs with drain_wait()'s increment, then loads (P3). */
	if (by_drainer &&
	    atomic_load_explicit(&dw->dw_sleepers, memory_order_seq_cst) == 0)
		return;
	/* Seq_cst: pairs with drain_wait()'s loads (P3). */
	atomic_fetch_add_explicit(&dw->dw_seq, 1, memory_order_seq_cst);
	mpsafe_futex_wake(&dw->dw_seq);
}

/*
 * Add delta to the shared total.  The last access to lc when it brings a
 * draining count to zero (P4).
 */
static void
total_add(struct localcount *lc, int64_t delta)
{
	/*
	 * Acq_rel: each release RMW passes the releaser's uses of the object
	 * down the chain to the RMW that reaches zero, and from there (a
	 * release CAS) to the drainer.
	 */
	int64_t v = atomic_fetch_add_explicit(
	                &lc->lc_total, delta, memory_order_acq_rel) +
	            delta;

	if (MPSAFE_LIKELY(v > 0))
		return;
	if (v == 0) {
		drain_done(lc, false);
		return;
	}
	/* Every build: the drain may have returned already (see above). */
	mpsafe_panic("localcount_release: the count of %p fell to %lld: "
	             "more releases than acquires",
	    (void *)lc, (long long)v);
}

/*
 * Sleep until lc is DRAINED (counted in dw_sleepers meanwhile, so that a
 * first drain's own fold knows to wake a second one).
 */
static void
drain_wait(struct localcount *lc)
{
	struct drain_word *dw = drain_word(lc);

	/* Seq_cst: before the loads below; pairs with drain_done() (P3). */
	atomic_fetch_add_explicit(&dw->dw_sleepers, 1, memory_order_seq_cst);
	for (int i = 0;; i++) {
		/* Seq_cst, both: pair with drain_done() (P3). */
		uint32_t seq =
		    atomic_load_explicit(&dw->dw_seq, memory_order_seq_cst);

		if (atomic_load_explicit(&lc->lc_state, memory_order_seq_cst) ==
		    LC_DRAINED)
			break;
		/* The last holder may be waiting for our CPU. */
		if (i < DRAIN_YIELD_LIMIT)
			sched_yield();
		else
			mpsafe_futex_wait(&dw->dw_seq, seq);
	}
	/* Relaxed: this drainer saw DRAINED; nobody need wake it now. */
	atomic_fetch_sub_explicit(&dw->dw_sleepers, 1, memory_order_relaxed);
}

/* --- slow path of acquire and release -------------------------------- */

/*
 * Make sure the calling thread has its counter array; false if it cannot
 * be mapped.  The array is fresh anonymous memory: every counter reads
 * as 0, the representation of an int64 0 and so of a lock-free atomic
 * one (nothing is written, so no page is backed until a count is).
 */
static bool
counters_ensure(void)
{
	struct mpsafe_thread *t = mpsafe_thread_self();
	struct mpsafe_localcount_dir *dir = thread_dir(t);
	_Atomic(int64_t) *c;

	/* Relaxed: only this thread stores the pointer. */
	c = atomic_load_explicit(&dir->lcd_counters, memory_order_relaxed);
	if (c == NULL) {
		/* Relaxed: a test switch. */
		if (atomic_load_explicit(&counters_fail, memory_order_relaxed))
			return false;
		c = mpsafe_map_zeroed(
		    LOCALCOUNT_IDS * sizeof(_Atomic(int64_t)));
		if (c == NULL)
			return false;
		/* Release: zeroed counters before a fold's acquire. */
		atomic_store_explicit(
		    &dir->lcd_counters, c, memory_order_release);
	}
	/* The fast path's copy (this thread's TLS). */
	mpsafe_reader_self.mr_private[MPSAFE_PRIV_LOCALCOUNT] = c;
	return true;
}

/* The fast path again, once the array exists; false if lc left ACTIVE. */
static bool
counter_add(struct localcount *lc, int64_t delta)
{
	int s = pserialize_read_enter();
	bool done = false;

	/* Relaxed: ordered by the read section (P1). */
	if (atomic_load_explicit(&lc->lc_state, memory_order_relaxed) ==
	    LC_ACTIVE) {
		/* Relaxed: this thread stored the pointer (counters_ensure). */
		_Atomic(int64_t) *c = atomic_load_explicit(
		    &thread_dir(mpsafe_curthread)->lcd_counters,
		    memory_order_relaxed);

		c += lc->lc_id;
		/* Relaxed: owner-only while ACTIVE (I1). */
		atomic_store_explicit(c,
		    atomic_load_explicit(c, memory_order_relaxed) + delta,
		    memory_order_relaxed);
		done = true;
	}
	pserialize_read_exit(s);
	return done;
}

void
mpsafe_localcount_adjust_slow(struct localcount *lc, int64_t delta)
{
	const char *fn =
	    delta > 0 ? "localcount_acquire" : "localcount_release";
	uint32_t st;

	if (lc == NULL)
		mpsafe_localcount_null(fn);
	/* Relaxed: every transition below is a CAS, or ordered by P1. */
	st = atomic_load_explicit(&lc->lc_state, memory_order_relaxed);
	for (;;) {
		switch (st) {
		case LC_FRESH:
			/* First use: per-thread counters if lc has an id. */
			(void)atomic_compare_exchange_strong_explicit(
			    &lc->lc_state, &st,
			    lc->lc_id != LC_NOID ? LC_ACTIVE : LC_SHARED,
			    memory_order_relaxed, memory_order_relaxed);
			st = atomic_load_explicit(
			    &lc->lc_state, memory_order_relaxed);
			continue;
		case LC_ACTIVE:
			if (!counters_ensure()) {
				total_add(lc, delta); /* no memory: shared */
				return;
			}
			if (counter_add(lc, delta))
				return;
			/* lc left ACTIVE meanwhile: look again. */
			st = atomic_load_explicit(
			    &lc->lc_state, memory_order_relaxed);
			continue;
		case LC_SHARED:
			total_add(lc, delta);
			return;
		case LC_DRAINING:
			MPSAFE_DIAG(delta < 0,
			    "localcount_acquire of %p after localcount_drain "
			    "began: unpublish the object and wait for a grace "
			    "period before draining it",
			    (void *)lc);
			total_add(lc, delta);
			return;
		case LC_DRAINED:
			MPSAFE_DIAG(delta < 0,
			    "localcount_acquire of %p after localcount_drain: "
			    "a drained count takes no new reference",
			    (void *)lc);
			MPSAFE_DIAG(delta > 0,
			    "localcount_release of %p after localcount_drain "
			    "returned: more releases than acquires",
			    (void *)lc);
			total_add(lc, delta); /* other builds: keep counting */
			return;
		default:
			state_panic(fn, lc, st);
		}
	}
}

/* --- life cycle ------------------------------------------------------ */

int
localcount_init(struct localcount *lc)
{
	if (lc == NULL)
		return EINVAL;
	pthread_once(&lc_once, lc_init_once);
	lc->lc_id = id_alloc(lc);
	atomic_init(&lc->lc_total, LC_BIAS);
	/* Relaxed: the caller publishes lc (with release) before any use. */
	atomic_store_explicit(&lc->lc_state, LC_FRESH, memory_order_relaxed);
	return 0;
}

void
localcount_drain(struct localcount *lc)
{
	uint32_t st;
	int64_t v;

	if (lc == NULL)
		mpsafe_localcount_null("localcount_drain");
	/* Always checked: the grace period would wait for the caller. */
	if (pserialize_in_read_section())
		mpsafe_panic("localcount_drain inside a read section: its "
		             "grace period would wait for the caller itself");
	/* Relaxed: the CAS below decides. */
	st = atomic_load_explicit(&lc->lc_state, memory_order_relaxed);
	do {
		switch (st) {
		case LC_FRESH:
		case LC_ACTIVE:
		case LC_SHARED:
			break;
		case LC_DRAINING:
		case LC_DRAINED:
			MPSAFE_DIAG(0,
			    "localcount_drain called twice on %p: a drain is "
			    "one-shot, only localcount_fini may follow",
			    (void *)lc);
			drain_wait(lc); /* other builds: as the first drain */
			return;
		default:
			state_panic("localcount_drain", lc, st);
		}
		/*
		 * Seq_cst: the store precedes the grace period's barrier, so
		 * a read section that begins after the barrier sees it (P1).
		 */
	} while (!atomic_compare_exchange_weak_explicit(&lc->lc_state, &st,
	    LC_DRAINING, memory_order_seq_cst, memory_order_relaxed));

	if (st == LC_ACTIVE) {
		mpsafe_gp_wait();
		MPSAFE_YIELD_POINT(); /* late releases race the fold */
		pthread_mutex_lock(&id_lock);
		int64_t sum = fold_counters(lc->lc_id);
		/* Acq_rel: see total_add(). */
		v = atomic_fetch_add_explicit(
		        &lc->lc_total, sum - LC_BIAS, memory_order_acq_rel) +
		    sum - LC_BIAS;
		pthread_mutex_unlock(&id_lock);
	} else {
		/* No per-thread counter was used: only the bias goes. */
		v = atomic_fetch_add_explicit(
		        &lc->lc_total, -LC_BIAS, memory_order_acq_rel) -
		    LC_BIAS;
	}
	if (v > 0) {
		drain_wait(lc); /* the release that reaches zero wakes us */
		return;
	}
	/*
	 * Every build: a negative sum means a holder's reference was
	 * released twice; returning would free the object under it.
	 */
	if (MPSAFE_UNLIKELY(v < 0))
		mpsafe_panic("localcount_drain of %p: %lld more releases than "
		             "acquires",
		    (void *)lc, (long long)-v);
	/*
	 * This thread's own RMW above reached zero (I4).  Not a bare store:
	 * in builds without contract checks a second drain may be asleep on
	 * the wait word (it met DRAINING), and only drain_done() wakes it.
	 */
	drain_done(lc, true);
}

/*
 * Fini of a count that was used and not drained, in builds without
 * contract checks: stop every update, then zero the counters so that the
 * id can be reused (I2).  Returns false if the id must be leaked instead
 * (inside a read section no grace period can be waited for).
 */
static bool
fini_undrained(struct localcount *lc, uint32_t st)
{
	/* Seq_cst: before the grace period's barrier, as in drain. */
	atomic_store_explicit(&lc->lc_state, LC_DEAD, memory_order_seq_cst);
	if (st != LC_ACTIVE)
		return true;
	if (pserialize_in_read_section())
		return false;
	mpsafe_gp_wait();
	pthread_mutex_lock(&id_lock);
	(void)fold_counters(lc->lc_id);
	pthread_mutex_unlock(&id_lock);
	return true;
}

void
localcount_fini(struct localcount *lc)
{
	bool free_id = true;
	uint32_t st;

	if (lc == NULL)
		mpsafe_localcount_null("localcount_fini");
	/* Relaxed: drain returned on this thread, or its caller ordered it. */
	st = atomic_load_explicit(&lc->lc_state, memory_order_relaxed);
	switch (st) {
	case LC_FRESH:
	case LC_DRAINED:
		break;
	case LC_ACTIVE:
	case LC_SHARED:
		MPSAFE_DIAG(0,
		    "localcount_fini of %p before localcount_drain: a count "
		    "that was acquired or released must be drained first",
		    (void *)lc);
		free_id = fini_undrained(lc, st);
		break;
	case LC_DRAINING:
		mpsafe_panic("localcount_fini of %p while localcount_drain is "
		             "waiting for its references",
		    (void *)lc);
	default:
		state_panic("localcount_fini", lc, st);
	}
	if (free_id && lc->lc_id != LC_NOID)
		id_free(lc->lc_id);
	/* Relaxed: poison for diagnostics; the caller owns lc. */
	atomic_store_explicit(&lc->lc_state, LC_DEAD, memory_order_relaxed);
	lc->lc_id = LC_ID_POISON;
	atomic_store_explicit(
	    &lc->lc_total, LC_TOTAL_POISON, memory_order_relaxed);
}
