/*
 * torture_pslist.c: the pslist torture test.
 *
 * Two writer threads, serialised by one mutex, keep changing a list of up
 * to MAXLIVE objects: they insert new objects at random positions (at the
 * head, before or after a random live object) and remove random ones.  A
 * removed object is reclaimed after a grace period (pserialize_perform,
 * sometimes with the mutex held, sometimes after a batch of removals):
 * its magic is overwritten with poison, PSLIST_ENTRY_DESTROY poisons its
 * link, its payload is scribbled on, and it is freed.  Readers, more of
 * them than there are cores, walk the whole list inside read sections
 * (sometimes nested, sometimes yielding the CPU mid-walk) and check that
 * every object they reach
 *   - is not poisoned (magic LIVE): reaching a poisoned object means it
 *     was reclaimed while a reader could still reach it;
 *   - has a consistent payload (t_check == ~t_key, plain fields written
 *     before publication): publication ordering holds, and under
 *     ThreadSanitizer a missing release/acquire pair is a reported race;
 *   - is reached in fewer than WALK_MAX steps (no cycle).
 * Writers also check the list's back pointers against their own record of
 * the live objects every so often.  Any violation fails the test; freed
 * memory is really freed, so AddressSanitizer catches a use after free.
 *
 * Built a second time against a library whose grace periods do not wait
 * (MPSAFE_TEST_BROKEN_NO_WAIT, TORTURE_EXPECT_BROKEN): then objects are
 * recycled through a pool instead of freed, so that early reclamation
 * shows up as poison rather than as a crash, readers walk with the
 * functions and check for the poisoned link themselves, and the first
 * violation aborts the process: the test passes only if it aborts
 * (SIGABRT; diagnostic builds may abort earlier, inside the pslist
 * reader's own poison check).  The torture has teeth.
 *
 * MPSAFE_TORTURE_SECONDS sets each run's length (default 2).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/thread.h>

#define LIVE 0x4c495645aaaaaaaaULL
#define POISON 0xdeaddeaddeaddeadULL
#define NREADERS 4
#define NWRITERS 2
#define MAXLIVE 64
#define MAXBATCH 16
#define WALK_MAX (1u << 20)
#define POOL_SIZE 4096

struct tobj {
	uint64_t t_pad[3]; /* keeps the checked fields clear of malloc's */
	/* LIVE until a grace period after removal, then POISON. */
	_Atomic uint64_t t_magic;
	uint64_t t_key;   /* plain: set before publication */
	uint64_t t_check; /* plain: ~t_key */
	struct pslist_entry t_entry;
	uint64_t t_tail[2];
};

struct config {
	int fence;
	int batch; /* removals per grace period, 1..MAXBATCH */
};

static struct pslist_head list = PSLIST_INITIALIZER;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct tobj *live[MAXLIVE]; /* wlock */
static int nlive;                  /* wlock */
static uint64_t next_key;          /* wlock */
static pserialize_t psz;
static struct config cfg;
static double deadline;

static _Atomic int stop;
static _Atomic uint64_t violations, walks, visits, inserts, removals, grace;

static int pool_mode;
static struct tobj *pool[POOL_SIZE];
static unsigned pool_head, pool_tail; /* pool_lock */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
violation(void)
{
	atomic_fetch_add_explicit(&violations, 1, memory_order_relaxed);
	if (pool_mode)
		abort(); /* the teeth test expects SIGABRT */
}

static struct tobj *
tobj_alloc(void)
{
	struct tobj *o = NULL;

	if (pool_mode) {
		pthread_mutex_lock(&pool_lock);
		if (pool_tail - pool_head >= POOL_SIZE / 2)
			o = pool[pool_head++ % POOL_SIZE];
		pthread_mutex_unlock(&pool_lock);
	}
	if (o == NULL)
		o = calloc(1, sizeof(*o));
	return o;
}

/* After a grace period: poison, destroy, scribble, free (or recycle). */
static void
tobj_reclaim(struct tobj *o)
{
	atomic_store_explicit(&o->t_magic, POISON, memory_order_relaxed);
	PSLIST_ENTRY_DESTROY(o, t_entry);
	o->t_key = POISON;
	o->t_check = POISON;
	if (!pool_mode) {
		free(o);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	pool[pool_tail++ % POOL_SIZE] = o;
	pthread_mutex_unlock(&pool_lock);
}

static void
check_obj(const struct tobj *o)
{
	/* Relaxed: the read section, not this load, is what is tested. */
	if (atomic_load_explicit(&o->t_magic, memory_order_relaxed) != LIVE)
		violation();
	/* Plain fields: racy (and so skipped) only in the teeth build. */
	if (!pool_mode && o->t_check != ~o->t_key)
		violation();
}

/* One walk of the whole list with the macros. */
static uint64_t
walk_macros(uint64_t r)
{
	struct tobj *o;
	uint64_t n = 0;

	PSLIST_READER_FOREACH (o, &list, struct tobj, t_entry) {
		check_obj(o);
		if (++n >= WALK_MAX) {
			violation();
			break;
		}
		if (n == (r & 63)) {
			/* Linger on this object: writers move on. */
			for (unsigned spin = (r >> 6) & 1023; spin > 0; spin--)
				atomic_signal_fence(memory_order_seq_cst);
			if ((r & 0xf000) == 0)
				sched_yield(); /* preempted mid-walk */
			check_obj(o);
		}
	}
	return n;
}

/* The same with the functions, checking for the poisoned link first. */
static uint64_t
walk_functions(uint64_t r)
{
	struct pslist_entry *e = pslist_reader_first(&list);
	uint64_t n = 0;

	while (e != NULL) {
		struct tobj *o;

		if (e == PSLIST_POISON) {
			violation();
			break;
		}
		o = (struct tobj *)(void *)((char *)e -
		                            offsetof(struct tobj, t_entry));
		check_obj(o);
		if (++n >= WALK_MAX) {
			violation();
			break;
		}
		if (n == (r & 63) && (r & 0xf000) == 0)
			sched_yield();
		e = pslist_reader_next(e);
	}
	return n;
}

static void *
reader_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	uint64_t nwalks = 0, nvisits = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = xorshift(&rnd);
		int s = pserialize_read_enter();
		int s2 = 0;

		if ((r & 0x70000) == 0)
			s2 = pserialize_read_enter(); /* nested */
		nvisits += pool_mode ? walk_functions(r) : walk_macros(r);
		if ((r & 0x70000) == 0)
			pserialize_read_exit(s2);
		pserialize_read_exit(s);
		nwalks++;
	}
	atomic_fetch_add(&walks, nwalks);
	atomic_fetch_add(&visits, nvisits);
	return NULL;
}

/* Under wlock: the list is exactly live[0..nlive) and its links agree. */
static void
check_list_locked(void)
{
	struct tobj *o;
	int n = 0;

	PSLIST_WRITER_FOREACH (o, &list, struct tobj, t_entry) {
		int found = 0;

		if (o->t_entry.ple_prevp == NULL ||
		    atomic_load_explicit(o->t_entry.ple_prevp,
		        memory_order_relaxed) != &o->t_entry)
			violation();
		for (int i = 0; i < nlive && !found; i++)
			found = live[i] == o;
		if (!found || ++n > nlive) {
			violation();
			return;
		}
	}
	if (n != nlive)
		violation();
}

static void
writer_insert(uint64_t r)
{
	struct tobj *o = tobj_alloc();

	if (o == NULL)
		abort(); /* not cr_assert: this is not the test's thread */
	atomic_store_explicit(&o->t_magic, LIVE, memory_order_relaxed);
	PSLIST_ENTRY_INIT(o, t_entry);
	pthread_mutex_lock(&wlock);
	o->t_key = next_key++;
	o->t_check = ~o->t_key;
	if (nlive == 0 || (r & 3) == 0) {
		PSLIST_WRITER_INSERT_HEAD(&list, o, t_entry);
	} else {
		struct tobj *at = live[(r >> 8) % (uint64_t)nlive];

		if (r & 4)
			PSLIST_WRITER_INSERT_BEFORE(at, o, t_entry);
		else
			PSLIST_WRITER_INSERT_AFTER(at, o, t_entry);
	}
	live[nlive++] = o;
	pthread_mutex_unlock(&wlock);
	atomic_fetch_add_explicit(&inserts, 1, memory_order_relaxed);
}

/* Remove one object; reclaim the batch once it is full (or forced). */
static void
writer_remove(uint64_t r, struct tobj **batch, int *nbatch, int force)
{
	int locked_wait = (r & 0x10) != 0;

	pthread_mutex_lock(&wlock);
	if (nlive > 0) {
		int i = (int)((r >> 8) % (uint64_t)nlive);

		PSLIST_WRITER_REMOVE(live[i], t_entry);
		batch[(*nbatch)++] = live[i];
		live[i] = live[--nlive];
		atomic_fetch_add_explicit(&removals, 1, memory_order_relaxed);
	}
	if (*nbatch == 0 || (*nbatch < cfg.batch && !force)) {
		pthread_mutex_unlock(&wlock);
		return;
	}
	/* As in the manual: wait with the writer lock held, or after it. */
	if (locked_wait)
		pserialize_perform(psz);
	pthread_mutex_unlock(&wlock);
	if (!locked_wait)
		pserialize_perform(psz);
	atomic_fetch_add_explicit(&grace, 1, memory_order_relaxed);
	for (int i = 0; i < *nbatch; i++)
		tobj_reclaim(batch[i]);
	*nbatch = 0;
}

static void *
writer_main(void *arg)
{
	uint64_t rnd = (uintptr_t)arg * 0xd1b54a32d192ed03ULL + 7;
	struct tobj *batch[MAXBATCH];
	int nbatch = 0;
	unsigned ops = 0;

	while (now_s() < deadline &&
	       !atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int burst = 0; burst < 64; burst++, ops++) {
			uint64_t r = xorshift(&rnd);
			int n;

			pthread_mutex_lock(&wlock);
			n = nlive;
			if ((ops & 255) == 0)
				check_list_locked();
			pthread_mutex_unlock(&wlock);
			/* Hover around half full. */
			if (n < MAXLIVE / 4 ||
			    (n < MAXLIVE - NWRITERS && (r & 0x100000) != 0))
				writer_insert(r);
			else
				writer_remove(r, batch, &nbatch, 0);
		}
	}
	if (nbatch > 0)
		writer_remove(
		    0, batch, &nbatch, 1); /* flush (removes one more) */
	return NULL;
}

static void
run_torture(struct config c, double seconds)
{
	pthread_t readers[NREADERS], writers[NWRITERS];
	int error = mpsafe_set_ordering(
	    c.fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);

	if (error != 0)
		cr_skip_test("ordering mode unavailable (error %d)", error);
	cfg = c;
	psz = pserialize_create();
	cr_assert_not_null(psz);
	PSLIST_INIT(&list);
	atomic_store(&stop, 0);
	deadline = now_s() + seconds;
	for (uintptr_t i = 0; i < NREADERS; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader_main,
		                 (void *)(i + 1)),
		    0);
	for (uintptr_t i = 0; i < NWRITERS; i++)
		cr_assert_eq(pthread_create(&writers[i], NULL, writer_main,
		                 (void *)(i + 1)),
		    0);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(writers[i], NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(readers[i], NULL);

	/* Tear down: empty the list, wait, reclaim, destroy. */
	pthread_mutex_lock(&wlock);
	check_list_locked();
	for (int i = 0; i < nlive; i++)
		PSLIST_WRITER_REMOVE(live[i], t_entry);
	pserialize_perform(psz);
	for (int i = 0; i < nlive; i++)
		tobj_reclaim(live[i]);
	nlive = 0;
	pthread_mutex_unlock(&wlock);
	PSLIST_DESTROY(&list);
	pserialize_destroy(psz);
	while (pool_head != pool_tail)
		free(pool[pool_head++ % POOL_SIZE]);

	cr_log_info("%s, %d removal(s) per grace period: %llu walks, %llu "
	            "objects visited, %llu inserted, %llu removed, %llu grace "
	            "periods, %llu violations",
	    c.fence ? "fence" : "membarrier", c.batch,
	    (unsigned long long)atomic_load(&walks),
	    (unsigned long long)atomic_load(&visits),
	    (unsigned long long)atomic_load(&inserts),
	    (unsigned long long)atomic_load(&removals),
	    (unsigned long long)atomic_load(&grace),
	    (unsigned long long)atomic_load(&violations));
	if (!pool_mode) {
		cr_assert_gt(atomic_load(&walks), 0);
		cr_assert_gt(atomic_load(&visits), 0);
		cr_assert_gt(atomic_load(&removals), 0);
		cr_assert_gt(atomic_load(&grace), 0);
	}
}

#ifndef TORTURE_EXPECT_BROKEN

static double
torture_seconds(void)
{
	const char *e = getenv("MPSAFE_TORTURE_SECONDS");
	double s = e != NULL ? atof(e) : 0;

	return s > 0 ? s : 2.0;
}

TestSuite(torture_pslist, .timeout = 300);

#define TORTURE(name, ...)                                                    \
	Test(torture_pslist, name)                                            \
	{                                                                     \
		run_torture((struct config){__VA_ARGS__}, torture_seconds()); \
		cr_assert_eq(atomic_load(&violations), 0,                     \
		    "%llu violations: readers reached reclaimed objects",     \
		    (unsigned long long)atomic_load(&violations));            \
	}

TORTURE(membarrier_each, .fence = 0, .batch = 1)
TORTURE(fence_each, .fence = 1, .batch = 1)
TORTURE(membarrier_batched, .fence = 0, .batch = MAXBATCH)

#else /* the library's grace periods do not wait: expect an abort */

TestSuite(torture_pslist_teeth, .timeout = 120);

static void
expect_caught(struct config c)
{
	pool_mode = 1;
	/* Up to 20 s: caught in the first second in practice. */
	for (int i = 0; i < 20; i++)
		run_torture(c, 1.0);
	cr_log_info("the torture test did not notice grace periods that do "
	            "not wait");
}

/* Without membarrier(2) the run would skip: see torture_psref.c. */
#ifdef MPSAFE_TEST_HAVE_MEMBARRIER
Test(torture_pslist_teeth, catches_missing_wait_membarrier, .signal = SIGABRT)
{
	expect_caught((struct config){.fence = 0, .batch = 1});
}
#endif

Test(torture_pslist_teeth, catches_missing_wait_fence, .signal = SIGABRT)
{
	expect_caught((struct config){.fence = 1, .batch = 1});
}

#endif
