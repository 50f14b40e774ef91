/*
 * pattern-drain.c: drain before free (docs/patterns/03-drain-before-free.md).
 * A reader finds a device inside a read section, takes a localcount
 * reference, leaves the section and blocks.  The detach runs in order:
 * unpublish, wait for a grace period, drain the references, free.  With
 * PATTERN_UNSAFE it skips the drain: the grace period has passed, yet the
 * reader, which kept a reference across its sleep, wakes up to a device
 * that was already freed.
 * Built and run by the example_pattern_drain tests.
 */
#include <stdatomic.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>

#include "pattern.h"

#define HELD 0x1         /* the reader holds a reference and sleeps */
#define WRITER_WAITS 0x2 /* the writer waits for references from now on */
#define RETIRED 0x4      /* the device is poisoned and freed */

struct dev {
	atomic_int d_state; /* atomic only so the unsafe build races legally */
	struct localcount d_lc;
};

/* Writers: dev_lock.  Readers: a read section, acquire loads. */
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct dev *) dev_current;
static pserialize_t dev_psz;

/* Find the device and take a reference that outlives the section. */
static struct dev *
dev_acquire(void)
{
	struct dev *d;
	int s;

	s = pserialize_read_enter();
	d = atomic_load_explicit(&dev_current, memory_order_acquire);
	if (d != NULL)
		localcount_acquire(&d->d_lc);
	pserialize_read_exit(s);
	return d;
}

/* Detach: the four steps, in this order. */
static void
dev_detach(struct dev *d)
{
	pthread_mutex_lock(&dev_lock);
	atomic_store_explicit(&dev_current, NULL, memory_order_relaxed);
	pthread_mutex_unlock(&dev_lock); /* 1. new lookups miss d */
	pserialize_perform(dev_psz);     /* 2. lookups in progress ended */
#ifndef PATTERN_UNSAFE
	step_post(WRITER_WAITS);
	localcount_drain(&d->d_lc); /* 3. every reference released */
	localcount_fini(&d->d_lc);
#endif
	atomic_store_explicit(
	    &d->d_state, PATTERN_POISON, memory_order_relaxed);
	pattern_free(d); /* 4. */
	step_post(RETIRED);
}

static atomic_int seen_state;

/* The reader: holds its reference across a sleep, then uses the device. */
static void *
dev_reader(void *arg)
{
	struct dev *d;

	(void)arg;
	d = dev_acquire();
	step_post(HELD);
	if (d == NULL)
		return NULL;
	step_wait(WRITER_WAITS | RETIRED); /* sleeps: a reference allows it */
	atomic_store(&seen_state,
	    atomic_load_explicit(&d->d_state, memory_order_relaxed));
	localcount_release(&d->d_lc);
	return NULL;
}

int
main(void)
{
	struct dev *d = calloc(1, sizeof(*d));
	pthread_t t;

	dev_psz = pserialize_create();
	if (d == NULL || dev_psz == NULL || localcount_init(&d->d_lc) != 0)
		return 1;
	atomic_init(&d->d_state, 1);
	atomic_store_explicit(&dev_current, d, memory_order_release);
	if (pthread_create(&t, NULL, dev_reader, NULL) != 0)
		return 1;
	step_wait(HELD);
	dev_detach(d);
	pthread_join(t, NULL);
	pserialize_destroy(dev_psz);
	if (atomic_load(&seen_state) != 1 &&
	    atomic_load(&seen_state) != PATTERN_POISON)
		return 1;
	return pattern_result("pattern-drain",
	    atomic_load(&seen_state) == PATTERN_POISON,
	    "the reader used a device after it was freed");
}
