/*
 * pattern-psref-block.c: look up, then take a psref to block (docs/patterns/
 * 02-lookup-then-psref.md).  An ioctl-like thread finds an interface by
 * index with if_get_byindex(), which takes a psref inside the look-up's
 * read section; it then sleeps holding the interface, while the main
 * thread detaches it.  if_detach() waits for the if_put(), and only then
 * does the caller free the interface.  With PATTERN_UNSAFE the thread
 * looks the interface up with if_byindex() in a read section and keeps
 * the pointer after the section ends: if_detach() has no holder to wait
 * for, returns, and the caller poisons and "frees" the interface; the
 * thread wakes up to the poison.
 * Built and run by the example_pattern_psref_block tests.
 */
#include <stdatomic.h>
#include <stdio.h>

#include <mpsafe/net/if.h>
#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>

#include "pattern.h"

#define HELD 0x1         /* the thread has the interface and sleeps */
#define WRITER_WAITS 0x2 /* if_detach() waits for holders from now on */
#define RETIRED 0x4      /* the interface is detached, poisoned and freed */

static unsigned vif_index;
static atomic_uint seen_mtu;

/* Sleeps while it holds the interface: a psref allows that. */
static void *
slow_ioctl(void *arg)
{
	struct ifnet *ifp;
#ifndef PATTERN_UNSAFE
	struct psref psref;

	ifp = if_get_byindex(vif_index, &psref); /* a psref: may block */
#else
	int s = pserialize_read_enter();

	ifp = if_byindex(vif_index); /* valid only until the section ends */
	pserialize_read_exit(s);
#endif
	(void)arg;
	step_post(HELD);
	if (ifp == NULL)
		return NULL;
	step_wait(WRITER_WAITS | RETIRED); /* sleeps */
	atomic_store(&seen_mtu, mpsafe_load_relaxed(&ifp->if_mtu));
#ifndef PATTERN_UNSAFE
	if_put(ifp, &psref); /* on the thread that took it; lets detach end */
#endif
	return NULL;
}

/* Detach, then free: if_detach() returns once nobody holds ifp. */
static void
vif_destroy(struct ifnet *ifp)
{
#ifndef PATTERN_UNSAFE
	step_post(WRITER_WAITS);
#endif
	if (if_detach(ifp) != 0)
		abort();
	mpsafe_store_relaxed(&ifp->if_mtu, PATTERN_POISON);
	pattern_free(ifp);
	step_post(RETIRED);
}

int
main(void)
{
	struct ifnet *ifp = calloc(1, sizeof(*ifp));
	pthread_t t;

	if (ifp == NULL)
		return 1;
	snprintf(ifp->if_xname, sizeof(ifp->if_xname), "vnet0");
	ifp->if_mtu = 1500;
	if (if_attach(ifp) != 0)
		return 1;
	vif_index = ifp->if_index;
	if (pthread_create(&t, NULL, slow_ioctl, NULL) != 0)
		return 1;
	step_wait(HELD);
	vif_destroy(ifp);
	pthread_join(t, NULL);
	if (atomic_load(&seen_mtu) != 1500 &&
	    atomic_load(&seen_mtu) != PATTERN_POISON)
		return 1;
	return pattern_result("pattern-psref-block",
	    atomic_load(&seen_mtu) == PATTERN_POISON,
	    "the thread used an interface after it was freed");
}
