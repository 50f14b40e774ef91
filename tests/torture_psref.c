/*
 * torture_psref.c: readers find objects in a pslist and hold psrefs across
 * blocking while a writer removes, destroys and frees them.
 *
 * Objects live on one pslist.  Reader threads (more than there are cores)
 * loop: inside a read section, walk the list to a random position, check
 * the object found is live, take a psref (sometimes two, or a copy), leave
 * the section; then block for a random while (sleep, yield, or nothing)
 * while holding, check the object again (magic and generation unchanged),
 * and release.  The writer inserts new objects at random places (head,
 * before, after) and removes random ones: unlink, pserialize_perform,
 * psref_target_destroy (waits for every holder), PSLIST_ENTRY_DESTROY,
 * poison, free; or it removes several at once and destroys them in
 * halves (psref_target_destroy_begin() before the unlink's grace period,
 * which they share, then psref_target_destroy_end() for each, or, as a
 * reaper does, psref_target_destroy_tryend() for each, sleeping on a
 * psref_drain_watch() condition variable while some are held).
 * Sometimes it uses the "wait but keep" idiom instead:
 * psref_target_destroy followed by psref_target_init on a linked object
 * (allowed only because the object stays unreachable meanwhile: it is
 * unlinked first, then re-inserted after PSLIST_ENTRY_INIT).
 *
 * A reader that sees poison, or a changed generation while holding a
 * reference, counts a violation; any violation fails the test, and freed
 * memory is really freed, so AddressSanitizer sees a use after free.
 * Built a second time against a library whose psref_target_destroy does
 * not wait for holders (MPSAFE_TEST_BROKEN_PSREF_NO_WAIT); then
 * TORTURE_EXPECT_BROKEN is defined and the test passes only if it ends in
 * SIGABRT: a reader saw a destroyed object, or the library's own check
 * caught a release of a destroyed target.  Freed objects are then kept on
 * a graveyard list until the end, so that late readers see poison rather
 * than memory handed out again.
 *
 * MPSAFE_TORTURE_SECONDS sets the length (default 2).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>
#include <mpsafe/psref.h>

#define LIVE 0x4c495645aaaaaaaaULL
#define POISON 0xdeaddeaddeaddeadULL
#define NREADERS 4
#define MAX_OBJECTS 64

TestSuite(torture_psref, .timeout = 600);

struct tobj {
	uint64_t t_pad[4]; /* keeps the checked fields clear of malloc's */
	_Atomic uint64_t t_magic;
	_Atomic uint64_t t_gen;
	struct psref_target t_target;
	struct pslist_entry t_entry;
	struct tobj *t_grave; /* TORTURE_EXPECT_BROKEN: freed at the end */
};

static struct pslist_head list = PSLIST_INITIALIZER;
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct psref_class *class;
static pserialize_t psz;
static _Atomic int stop;
static _Atomic uint64_t violations, holds, destroys, rearms, batches;
static _Atomic uint64_t trybatches, trywaits;
/* The writer's psref_drain_watch() pair, for batches ended by tryend. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static struct tobj *graveyard; /* writer_lock */

static unsigned
rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static double
torture_seconds(void)
{
	const char *env = getenv("MPSAFE_TORTURE_SECONDS");
	double s = env != NULL ? atof(env) : 2.0;

	return s > 0 ? s : 2.0;
}

static void
check(struct tobj *o, uint64_t gen)
{
	/* Relaxed: the psref (or the read section) keeps o alive. */
	if (atomic_load_explicit(&o->t_magic, memory_order_relaxed) != LIVE ||
	    atomic_load_explicit(&o->t_gen, memory_order_relaxed) != gen)
		atomic_fetch_add(&violations, 1);
}

static void *
reader_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct psref ref, ref2;
		struct tobj *o, *found = NULL;
		unsigned skip = rnd(&seed) % MAX_OBJECTS, mode;
		uint64_t gen = 0;
		int s, copied = 0;

		s = pserialize_read_enter();
		PSLIST_READER_FOREACH (o, &list, struct tobj, t_entry) {
			found = o;
			if (skip-- == 0)
				break;
		}
		if (found != NULL) {
			gen = atomic_load_explicit(
			    &found->t_gen, memory_order_relaxed);
			check(found, gen);
			psref_acquire(&ref, &found->t_target, class);
		}
		pserialize_read_exit(s);
		if (found == NULL) {
			sched_yield();
			continue;
		}
		mode = rnd(&seed) % 8;
		if (mode == 0) {
			psref_copy(&ref2, &ref, class);
			copied = 1;
		}
		switch (rnd(&seed) % 4) {
		case 0:
			usleep(rnd(&seed) % 200); /* blocks holding it */
			break;
		case 1:
			sched_yield();
			break;
		default:
			break;
		}
		check(found, gen);
		if (copied) {
			/* Drop the original first: the copy keeps it. */
			psref_release(&ref, &found->t_target, class);
			check(found, gen);
			psref_release(&ref2, &found->t_target, class);
		} else {
			psref_release(&ref, &found->t_target, class);
		}
		atomic_fetch_add_explicit(&holds, 1, memory_order_relaxed);
	}
	return NULL;
}

static struct tobj *
tobj_new(uint64_t gen)
{
	struct tobj *o = calloc(1, sizeof(*o));

	cr_assert_not_null(o);
	atomic_store_explicit(&o->t_magic, LIVE, memory_order_relaxed);
	atomic_store_explicit(&o->t_gen, gen, memory_order_relaxed);
	psref_target_init(&o->t_target, class);
	PSLIST_ENTRY_INIT(o, t_entry);
	return o;
}

/* The n-th object on the list (writer_lock held), or NULL. */
static struct tobj *
nth(unsigned n)
{
	struct tobj *o;

	PSLIST_WRITER_FOREACH (o, &list, struct tobj, t_entry) {
		if (n-- == 0)
			return o;
	}
	return NULL;
}

static void
insert(struct tobj *o, unsigned *seed, unsigned count)
{
	struct tobj *at = count > 0 ? nth(rnd(seed) % count) : NULL;

	if (at == NULL || rnd(seed) % 3 == 0)
		PSLIST_WRITER_INSERT_HEAD(&list, o, t_entry);
	else if (rnd(seed) % 2 == 0)
		PSLIST_WRITER_INSERT_BEFORE(at, o, t_entry);
	else
		PSLIST_WRITER_INSERT_AFTER(at, o, t_entry);
}

/* The end of retire(), once no holder is left. */
static void
bury(struct tobj *o)
{
	PSLIST_ENTRY_DESTROY(o, t_entry);
	atomic_store_explicit(&o->t_magic, POISON, memory_order_relaxed);
	atomic_store_explicit(&o->t_gen, 0, memory_order_relaxed);
#ifdef TORTURE_EXPECT_BROKEN
	o->t_grave = graveyard;
	graveyard = o;
#else
	free(o);
#endif
	atomic_fetch_add_explicit(&destroys, 1, memory_order_relaxed);
}

static void
retire(struct tobj *o)
{
	psref_target_destroy(&o->t_target, class);
	bury(o);
}

/*
 * End the begun destroys of batch[0..k) as a reaper does: tryend each,
 * bury those that ended, and sleep on the drain watch's cv while some
 * are held (a lost wake-up hangs here: the test's watchdog fails it).
 */
static void
end_without_waiting(struct tobj **batch, unsigned k)
{
	unsigned left = k;

	pthread_mutex_lock(&watch_lock);
	for (;;) {
		for (unsigned i = 0; i < k; i++) {
			int error;

			if (batch[i] == NULL)
				continue;
			error = psref_target_destroy_tryend(
			    &batch[i]->t_target, class);
			if (error == 0) {
				bury(batch[i]);
				batch[i] = NULL;
				left--;
			} else if (error != EBUSY) {
				atomic_fetch_add(&violations, 1);
			}
		}
		if (left == 0)
			break;
		atomic_fetch_add_explicit(&trywaits, 1, memory_order_relaxed);
		pthread_cond_wait(&watch_cv, &watch_lock);
	}
	pthread_mutex_unlock(&watch_lock);
	atomic_fetch_add_explicit(&trybatches, 1, memory_order_relaxed);
}

static void
writer_loop(double seconds)
{
	unsigned seed = 4242, count = 0;
	uint64_t gen = 1;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		unsigned action = rnd(&seed) % 8;
		struct tobj *o;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - start.tv_sec) +
		        (double)(now.tv_nsec - start.tv_nsec) * 1e-9 >=
		    seconds)
			break;
		pthread_mutex_lock(&writer_lock);
		if (count < MAX_OBJECTS / 2 ||
		    (action < 4 && count < MAX_OBJECTS)) {
			insert(tobj_new(gen++), &seed, count);
			count++;
		} else if (action == 6 && count > 8) {
			/*
			 * Several at once, in halves: the destroys begin
			 * before the grace period of the unlink, which they
			 * share, as the routing table's reaper does.
			 */
			struct tobj *batch[8];
			unsigned k = 2 + rnd(&seed) % 7;

			for (unsigned i = 0; i < k; i++) {
				batch[i] = nth(rnd(&seed) % count);
				PSLIST_WRITER_REMOVE(batch[i], t_entry);
				count--;
				psref_target_destroy_begin(
				    &batch[i]->t_target, class);
			}
			pserialize_perform(psz);
			if (rnd(&seed) % 2 == 0) {
				for (unsigned i = 0; i < k; i++) {
					psref_target_destroy_end(
					    &batch[i]->t_target, class);
					bury(batch[i]);
				}
			} else {
				end_without_waiting(batch, k);
			}
			atomic_fetch_add_explicit(
			    &batches, 1, memory_order_relaxed);
		} else if (action < 7) {
			o = nth(rnd(&seed) % count);
			PSLIST_WRITER_REMOVE(o, t_entry);
			count--;
			pserialize_perform(psz);
			/* Readers may still hold psrefs: destroy waits. */
			retire(o);
		} else {
			/* Wait for holders but keep the object. */
			o = nth(rnd(&seed) % count);
			PSLIST_WRITER_REMOVE(o, t_entry);
			pserialize_perform(psz);
			psref_target_destroy(&o->t_target, class);
			psref_target_init(&o->t_target, class);
			PSLIST_ENTRY_DESTROY(o, t_entry);
			PSLIST_ENTRY_INIT(o, t_entry);
			insert(o, &seed, count - 1);
			atomic_fetch_add_explicit(
			    &rearms, 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&writer_lock);
	}
}

static void
run(int fence)
{
	pthread_t readers[NREADERS];
	struct tobj *o;
	int error;

	error = mpsafe_set_ordering(
	    fence ? MPSAFE_ORDERING_FENCE : MPSAFE_ORDERING_MEMBARRIER);
	if (error == ENOTSUP)
		cr_skip_test("membarrier is not available");
	cr_assert_eq(error, 0);
	class = psref_class_create("torture");
	psz = pserialize_create();
	cr_assert_eq(psref_drain_watch(&watch_lock, &watch_cv), 0);
	cr_assert_not_null(class);
	cr_assert_not_null(psz);
	for (uintptr_t i = 0; i < NREADERS; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, reader_main,
		                 (void *)(i + 1)),
		    0);
	writer_loop(torture_seconds());
	atomic_store(&stop, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(readers[i], NULL);
	pthread_mutex_lock(&writer_lock);
	while ((o = PSLIST_WRITER_FIRST(&list, struct tobj, t_entry)) != NULL) {
		PSLIST_WRITER_REMOVE(o, t_entry);
		pserialize_perform(psz);
		retire(o);
	}
	pthread_mutex_unlock(&writer_lock);
	pserialize_destroy(psz);
	psref_class_destroy(class);
	cr_log_info("%s: %llu holds, %llu destroys (%llu batches in halves, "
	            "%llu of them ended by tryend, which slept %llu times), "
	            "%llu re-arms, %llu violations",
	    fence ? "fence" : "membarrier",
	    (unsigned long long)atomic_load(&holds),
	    (unsigned long long)atomic_load(&destroys),
	    (unsigned long long)atomic_load(&batches),
	    (unsigned long long)atomic_load(&trybatches),
	    (unsigned long long)atomic_load(&trywaits),
	    (unsigned long long)atomic_load(&rearms),
	    (unsigned long long)atomic_load(&violations));
	while (graveyard != NULL) {
		o = graveyard;
		graveyard = o->t_grave;
		free(o);
	}
#ifdef TORTURE_EXPECT_BROKEN
	/*
	 * Either a reader saw a destroyed object, or the library caught a
	 * release of a destroyed target and aborted: both end in SIGABRT.
	 */
	if (atomic_load(&violations) > 0)
		abort();
	cr_assert(0, "destroys that do not wait went unnoticed: the "
	             "torture has no teeth");
#else
	cr_assert_eq(atomic_load(&violations), 0,
	    "readers saw %llu objects destroyed under their psref",
	    (unsigned long long)atomic_load(&violations));
#endif
	cr_assert_gt(atomic_load(&holds), 0);
	cr_assert_gt(atomic_load(&destroys), 0);
}

#ifdef TORTURE_EXPECT_BROKEN
#define EXPECT .signal = SIGABRT
#else
#define EXPECT .signal = 0
#endif

/*
 * Teeth without membarrier(2) (the fallbacks build of make portability):
 * the membarrier run would skip, and a skipped test expecting SIGABRT
 * fails; the fence run keeps its teeth.
 */
#if !defined(TORTURE_EXPECT_BROKEN) || defined(MPSAFE_TEST_HAVE_MEMBARRIER)
Test(torture_psref, membarrier, EXPECT)
{
	run(0);
}
#endif

Test(torture_psref, fence, EXPECT)
{
	run(1);
}
