/*
 * localcount-life.c: the whole life of an object counted with
 * localcount(3): initialise, publish, look up inside a read section and
 * take a reference, hand the reference to another thread, which uses the
 * object after the section has ended and releases it; meanwhile the
 * writer unpublishes the object, waits out the readers, drains the count
 * (waiting for that release), destroys the count and frees the object.
 * Built and run by the example_localcount test; localcount(3) shows an
 * excerpt.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>

struct frotz {
	int f_datum;
	struct localcount f_lc;
};

static pthread_mutex_t frotz_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct frotz *) frotz_current;
static pserialize_t frotz_psz;
static atomic_int used;

/* Find the current frotz and take a reference: it outlives the section. */
static struct frotz *
frotz_get(void)
{
	struct frotz *f;
	int s;

	s = pserialize_read_enter();
	f = atomic_load_explicit(&frotz_current, memory_order_acquire);
	if (f != NULL)
		localcount_acquire(&f->f_lc);
	pserialize_read_exit(s);
	return f;
}

/* Drop a reference; any thread may, not only the one that took it. */
static void
frotz_put(struct frotz *f)
{
	localcount_release(&f->f_lc);
}

/* Another thread: sleeps (blocking is fine with a reference), uses f. */
static void *
frotz_user(void *arg)
{
	struct frotz *f = arg;
	struct timespec ts = {0, 20 * 1000 * 1000};

	nanosleep(&ts, NULL);
	atomic_store(&used, f->f_datum);
	frotz_put(f);
	return NULL;
}

/* Unpublish, wait for readers, then for references; destroy and free. */
static void
frotz_remove(void)
{
	struct frotz *f;

	pthread_mutex_lock(&frotz_lock);
	f = atomic_exchange_explicit(
	    &frotz_current, NULL, memory_order_acq_rel);
	pserialize_perform(frotz_psz);
	pthread_mutex_unlock(&frotz_lock);
	if (f == NULL)
		return;
	localcount_drain(&f->f_lc); /* sleeps until the last release */
	localcount_fini(&f->f_lc);
	free(f);
}

int
main(void)
{
	struct frotz *f = malloc(sizeof(*f));
	pthread_t t;
	int ok;

	frotz_psz = pserialize_create();
	if (f == NULL || frotz_psz == NULL || localcount_init(&f->f_lc) != 0)
		return 1;
	f->f_datum = 42;
	atomic_store_explicit(&frotz_current, f, memory_order_release);

	f = frotz_get();
	if (f == NULL || pthread_create(&t, NULL, frotz_user, f) != 0)
		return 1;
	frotz_remove(); /* returns only after frotz_user's release */
	ok = atomic_load(&used) == 42;
	pthread_join(t, NULL);
	pserialize_destroy(frotz_psz);
	printf("localcount-life: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
