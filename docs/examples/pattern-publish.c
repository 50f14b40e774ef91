/*
 * pattern-publish.c: publish, look up, retire (docs/patterns/
 * 01-publish-lookup-retire.md).  A writer publishes a frotz on a pslist;
 * a reader finds it inside a read section; the writer unpublishes it,
 * waits for a grace period, and frees it.  With PATTERN_UNSAFE the writer
 * skips the grace period: the reader, still inside the section that
 * found the frotz, reads the poison of a retired object.  A second frotz
 * is retired without waiting for a grace period: mpsafe_defer() frees it
 * after one, on the library's reclaimer thread.  (mpsafe_defer() may still
 * wait when the memory pending reclamation passes the limit; a writer that
 * must never block calls mpsafe_defer_try() and handles EAGAIN.)
 * Built and run by the example_pattern_publish tests.
 */
#include <stdatomic.h>
#include <stddef.h>

#include <mpsafe/defer.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>

#include "pattern.h"

#define FOUND 0x1        /* the reader holds f inside its read section */
#define WRITER_WAITS 0x2 /* the writer waits for readers from now on */
#define RETIRED 0x4      /* f is poisoned and freed */

struct frotz {
	int f_key;
	atomic_int f_datum; /* atomic only so the unsafe build races legally */
	struct pslist_entry f_entry;
	struct mpsafe_defer f_defer; /* for frotz_retire_nowait() */
};

/* Writers: frotz_lock.  Readers: a read section. */
static pthread_mutex_t frotz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pslist_head frotz_list = PSLIST_INITIALIZER;
static pserialize_t frotz_psz;

/* Publish: initialise f completely, then insert (the publishing store). */
static void
frotz_publish(struct frotz *f)
{
	PSLIST_ENTRY_INIT(f, f_entry);
	pthread_mutex_lock(&frotz_lock);
	PSLIST_WRITER_INSERT_HEAD(&frotz_list, f, f_entry);
	pthread_mutex_unlock(&frotz_lock);
}

/* Look up: the caller is in a read section; f is valid until it ends. */
static struct frotz *
frotz_lookup(int key)
{
	struct frotz *f;

	PSLIST_READER_FOREACH (f, &frotz_list, struct frotz, f_entry) {
		if (f->f_key == key)
			return f;
	}
	return NULL;
}

/* Retire: unpublish, wait until no reader can hold f, then free it. */
static void
frotz_retire(struct frotz *f)
{
	pthread_mutex_lock(&frotz_lock);
	PSLIST_WRITER_REMOVE(f, f_entry);
#ifndef PATTERN_UNSAFE
	step_post(WRITER_WAITS);
	pserialize_perform(frotz_psz); /* readers never take frotz_lock */
#endif
	pthread_mutex_unlock(&frotz_lock);
	PSLIST_ENTRY_DESTROY(f, f_entry);
	atomic_store_explicit(
	    &f->f_datum, PATTERN_POISON, memory_order_relaxed);
	pattern_free(f);
	step_post(RETIRED);
}

/* Runs on the reclaimer thread, after a grace period. */
static void
frotz_free_deferred(struct mpsafe_defer *d)
{
	struct frotz *f =
	    (struct frotz *)(void *)((char *)d -
	                             offsetof(struct frotz, f_defer));

	PSLIST_ENTRY_DESTROY(f, f_entry);
	free(f);
}

/*
 * Retire without waiting for a grace period: the library frees f after
 * one.  May still block while the memory pending reclamation is past the
 * limit; mpsafe_defer_try() never blocks and returns EAGAIN instead.
 */
static int
frotz_retire_nowait(struct frotz *f)
{
	pthread_mutex_lock(&frotz_lock);
	PSLIST_WRITER_REMOVE(f, f_entry);
	pthread_mutex_unlock(&frotz_lock);
	return mpsafe_defer(&f->f_defer, frotz_free_deferred, sizeof(*f));
}

static atomic_int seen_datum;

/* The reader: one read section, held until the writer has done its part. */
static void *
frotz_reader(void *arg)
{
	struct frotz *f;
	int s;

	(void)arg;
	s = pserialize_read_enter();
	f = frotz_lookup(7);
	step_post(FOUND);
	step_spin(WRITER_WAITS | RETIRED); /* a read section must not sleep */
	if (f != NULL)
		atomic_store(&seen_datum,
		    atomic_load_explicit(&f->f_datum, memory_order_relaxed));
	pserialize_read_exit(s);
	return NULL;
}

int
main(void)
{
	struct frotz *f = calloc(1, sizeof(*f)), *g = calloc(1, sizeof(*g));
	pthread_t t;
	bool g_gone;
	int s;

	frotz_psz = pserialize_create();
	if (f == NULL || g == NULL || frotz_psz == NULL)
		return 1;
	f->f_key = 7;
	atomic_init(&f->f_datum, 42);
	frotz_publish(f);
	if (pthread_create(&t, NULL, frotz_reader, NULL) != 0)
		return 1;
	step_wait(FOUND);
	frotz_retire(f);
	pthread_join(t, NULL);

	g->f_key = 8;
	atomic_init(&g->f_datum, 43);
	frotz_publish(g);
	if (frotz_retire_nowait(g) != 0 || mpsafe_defer_barrier() != 0)
		return 1; /* the barrier: g's destructor has run */
	s = pserialize_read_enter();
	g_gone = frotz_lookup(8) == NULL;
	pserialize_read_exit(s);

	pserialize_destroy(frotz_psz);
	if (!g_gone || (atomic_load(&seen_datum) != 42 &&
	                   atomic_load(&seen_datum) != PATTERN_POISON))
		return 1;
	return pattern_result("pattern-publish",
	    atomic_load(&seen_datum) == PATTERN_POISON,
	    "the reader used a frotz after it was freed");
}
