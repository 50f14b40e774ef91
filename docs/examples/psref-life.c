/*
 * psref-life.c: the whole life of an object with psref(3): create the
 * class, initialise the target, publish the object; a reader thread looks
 * it up inside a read section, takes a passive reference, leaves the
 * section and blocks while holding it; the writer unpublishes the object
 * and destroys the target, which waits for the reader's release; then it
 * frees the object and destroys the class.  Built and run by the
 * example_psref test; psref(3) and docs/design/psref.md show excerpts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>

#define FROTZ_SLOTS 4

struct frotz {
	int f_key;
	int f_datum;
	struct psref_target f_target;
};

/* Writers: frotz_lock.  Readers: a read section, acquire loads. */
static pthread_mutex_t frotz_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct frotz *) frotz_table[FROTZ_SLOTS];
static struct psref_class *frotz_class;

/* The reader's progress, so that the run is the same every time. */
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t step_cv = PTHREAD_COND_INITIALIZER;
static int step; /* 1: the reader holds a reference; 2: it may go on */
static atomic_int used;

static void
step_set(int n)
{
	pthread_mutex_lock(&step_lock);
	step = n;
	pthread_cond_broadcast(&step_cv);
	pthread_mutex_unlock(&step_lock);
}

static void
step_wait(int n)
{
	pthread_mutex_lock(&step_lock);
	while (step < n)
		pthread_cond_wait(&step_cv, &step_lock);
	pthread_mutex_unlock(&step_lock);
}

/* Find the frotz with this key and take a reference, in one section. */
static struct frotz *
frotz_lookup(int key, struct psref *psref)
{
	struct frotz *f = NULL;
	int s;

	s = pserialize_read_enter();
	for (int i = 0; i < FROTZ_SLOTS; i++) {
		f = atomic_load_explicit(&frotz_table[i], memory_order_acquire);
		if (f != NULL && f->f_key == key) {
			psref_acquire(psref, &f->f_target, frotz_class);
			break;
		}
		f = NULL;
	}
	pserialize_read_exit(s);
	return f;
}

/* A slow use: psref_target_destroy() is waiting by the time it ends. */
static void
frotz_use(struct frotz *f)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	nanosleep(&ts, NULL);
	if (psref_held(&f->f_target, frotz_class))
		atomic_store(&used, f->f_datum);
}

/* The reader: blocks while it holds the reference, then uses f. */
static void *
frotz_reader(void *arg)
{
	struct psref psref;
	struct frotz *f;

	(void)arg;
	f = frotz_lookup(7, &psref);
	step_set(1);
	if (f == NULL)
		return NULL;
	step_wait(2); /* sleeps on a condition variable */
	frotz_use(f);
	psref_release(&psref, &f->f_target, frotz_class);
	return NULL;
}

/* Unpublish, wait for every holder, free. */
static void
frotz_remove(struct frotz *f)
{
	pthread_mutex_lock(&frotz_lock);
	for (int i = 0; i < FROTZ_SLOTS; i++) {
		if (atomic_load_explicit(
		        &frotz_table[i], memory_order_relaxed) == f)
			atomic_store_explicit(
			    &frotz_table[i], NULL, memory_order_relaxed);
	}
	pthread_mutex_unlock(&frotz_lock);
	/* Grace period, then sleep until the reader's release. */
	psref_target_destroy(&f->f_target, frotz_class);
	free(f);
}

int
main(void)
{
	struct frotz *f = calloc(1, sizeof(*f));
	pthread_t t;
	int ok;

	frotz_class = psref_class_create("frotz");
	if (f == NULL || frotz_class == NULL)
		return 1;
	f->f_key = 7;
	f->f_datum = 42;
	psref_target_init(&f->f_target, frotz_class);
	pthread_mutex_lock(&frotz_lock);
	atomic_store_explicit(&frotz_table[1], f, memory_order_release);
	pthread_mutex_unlock(&frotz_lock);

	if (pthread_create(&t, NULL, frotz_reader, NULL) != 0)
		return 1;
	step_wait(1);    /* the reader holds a reference */
	step_set(2);     /* let it block, then use f */
	frotz_remove(f); /* returns only after frotz_reader's release */
	ok = atomic_load(&used) == 42;
	pthread_join(t, NULL);
	psref_class_destroy(frotz_class);
	printf("psref-life: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
