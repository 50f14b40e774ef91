/*
 * fault-injection.c: the fault-injection loop of
 * docs/design/verification.md, as a layer above the core writes it for
 * its own constructors: fail the 1st, 2nd, ... allocation of a call until
 * the call makes fewer allocations than the one armed, and check each
 * failure returns the documented error and leaves nothing behind.  Here
 * the call is a constructor of the example's own, which allocates through
 * <mpsafe/alloc.h> twice and then creates a workqueue (allocations and
 * threads of the core).  Needs a library built with
 * MPSAFE_FAULT_INJECTION=ON; built and run by the example_fault_injection
 * test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpsafe/alloc.h>
#include <mpsafe/workqueue.h>

struct frob {
	int *fb_table;
	struct workqueue *fb_wq;
};

static void
frob_work(struct work *wk, void *arg)
{
	(void)wk;
	(void)arg;
}

/* Returns 0 or ENOMEM (or workqueue_create's error); *fbp set on 0 only. */
static int
frob_create(struct frob **fbp)
{
	struct frob *fb = mpsafe_calloc(1, sizeof(*fb));
	int error;

	if (fb == NULL)
		return ENOMEM;
	fb->fb_table = mpsafe_calloc(64, sizeof(int));
	if (fb->fb_table == NULL) {
		mpsafe_free(fb);
		return ENOMEM;
	}
	error = workqueue_create(&fb->fb_wq, "frob", frob_work, NULL, 0, 0);
	if (error != 0) {
		mpsafe_free(fb->fb_table);
		mpsafe_free(fb);
		return error;
	}
	*fbp = fb;
	return 0;
}

static void
frob_destroy(struct frob *fb)
{
	workqueue_destroy(fb->fb_wq);
	mpsafe_free(fb->fb_table);
	mpsafe_free(fb);
}

int
main(void)
{
	struct frob *fb = NULL;
	unsigned n, failures = 0;
	int error;

	/* Every allocation in turn. */
	for (n = 1;; n++) {
		mpsafe_fault_alloc_fail_nth(n);
		error = frob_create(&fb);
		if (mpsafe_fault_alloc_count() < n)
			break; /* fewer than n allocations: the call ran */
		failures++;
		if (error != ENOMEM || fb != NULL) {
			fprintf(stderr, "allocation %u: error %d\n", n, error);
			return 1;
		}
	}
	mpsafe_fault_alloc_fail_nth(0);
	if (error != 0 || failures != 3) { /* frob, table, workqueue */
		fprintf(
		    stderr, "error %d after %u failures\n", error, failures);
		return 1;
	}
	frob_destroy(fb);

	/* The workqueue's thread. */
	fb = NULL;
	mpsafe_fault_thread_create_fail_nth(1, EAGAIN);
	if (frob_create(&fb) != EAGAIN || fb != NULL)
		return 1;
	if (frob_create(&fb) != 0)
		return 1;
	frob_destroy(fb);
	printf("fault injection: %u allocation failures handled\n", failures);
	return 0;
}
