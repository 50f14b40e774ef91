/*
 * pattern-choose.c: choosing a mechanism (docs/patterns/
 * 09-choosing-a-mechanism.md).  One object, found the same way each time,
 * kept by the cheapest mechanism that covers what the finder does next:
 * use it and leave (pserialize alone), block on the same thread (psref),
 * hand it to another thread (localcount).  The destroy path waits for all
 * three.  Built and run by the example_pattern_choose test.
 */
#include <stddef.h>
#include <time.h>

#include <mpsafe/localcount.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>
#include <mpsafe/workqueue.h>

#include "pattern.h"

struct frotz {
	int f_datum;
	struct psref_target f_target; /* for holders that block */
	struct localcount f_lc;       /* for holders on other threads */
};

struct job {
	struct work j_work;
	struct frotz *j_frotz; /* holds a localcount reference */
};

static _Atomic(struct frotz *) frotz_current; /* writer: main */
static pserialize_t frotz_psz;
static struct psref_class *frotz_class;
static atomic_int total;

/* The worker: releases the reference another thread took. */
static void
job_run(struct work *wk, void *arg)
{
	struct job *j =
	    (struct job *)(void *)((char *)wk - offsetof(struct job, j_work));

	(void)arg;
	atomic_fetch_add(&total, j->j_frotz->f_datum);
	localcount_release(&j->j_frotz->f_lc);
	free(j);
}

int
main(void)
{
	struct timespec nap = {0, 1000 * 1000};
	struct frotz *f = calloc(1, sizeof(*f));
	struct job *j = calloc(1, sizeof(*j));
	struct workqueue *wq;
	struct psref psref;
	int s;

	frotz_psz = pserialize_create();
	frotz_class = psref_class_create("frotz");
	if (f == NULL || j == NULL || frotz_psz == NULL ||
	    frotz_class == NULL || localcount_init(&f->f_lc) != 0 ||
	    workqueue_create(&wq, "job", job_run, NULL, 0, WQ_MPSAFE) != 0)
		return 1;
	f->f_datum = 1;
	psref_target_init(&f->f_target, frotz_class);
	atomic_store_explicit(&frotz_current, f, memory_order_release);

	/* 1. Use and leave, never blocking: the read section is enough. */
	s = pserialize_read_enter();
	f = atomic_load_explicit(&frotz_current, memory_order_acquire);
	atomic_fetch_add(&total, f->f_datum);
	pserialize_read_exit(s);

	/* 2. Block while holding it, same thread: a psref. */
	s = pserialize_read_enter();
	f = atomic_load_explicit(&frotz_current, memory_order_acquire);
	psref_acquire(&psref, &f->f_target, frotz_class);
	pserialize_read_exit(s);
	nanosleep(&nap, NULL); /* any blocking call */
	atomic_fetch_add(&total, f->f_datum);
	psref_release(&psref, &f->f_target, frotz_class);

	/* 3. Hand it to another thread, which releases it: a localcount. */
	s = pserialize_read_enter();
	j->j_frotz = atomic_load_explicit(&frotz_current, memory_order_acquire);
	localcount_acquire(&j->j_frotz->f_lc);
	pserialize_read_exit(s);
	workqueue_enqueue(wq, &j->j_work, NULL);

	/* Destroy: unpublish, grace period, drain both kinds, free. */
	atomic_store_explicit(&frotz_current, NULL, memory_order_relaxed);
	pserialize_perform(frotz_psz);
	psref_target_destroy(&f->f_target, frotz_class);
	localcount_drain(&f->f_lc);
	localcount_fini(&f->f_lc);
	free(f);

	workqueue_destroy(wq);
	psref_class_destroy(frotz_class);
	pserialize_destroy(frotz_psz);
	return pattern_result(
	    "pattern-choose", atomic_load(&total) != 3, "a use was lost");
}
