/*
 * pattern-lock-order.c: waiting while holding a lock (docs/patterns/
 * 08-waiting-while-holding-a-lock.md).  A socket's set-up takes a
 * reference to an interface and then needs big_lock to finish; the
 * interface's destroy path takes big_lock to unpublish the interface and
 * then waits for the references to go.  Safe order: drop big_lock, then
 * wait.  With PATTERN_UNSAFE the destroy path waits while still holding
 * big_lock, NetBSD's softnet_lock deadlock: the set-up waits for the lock,
 * the lock's holder waits for the set-up.  A timed lock detects the cycle
 * and backs out (releases its reference) so that the program can end.
 * Built and run by the example_pattern_lock_order tests.
 */
#include <errno.h>
#include <time.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/psref.h>

#include "pattern.h"

#define HELD 0x1     /* the set-up holds a reference to the interface */
#define UNLINKED 0x2 /* the destroy path has unpublished it, under big_lock */

struct iface {
	int if_index;
	struct psref_target if_target;
};

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER; /* writers too */
static _Atomic(struct iface *) iface_current;
static struct psref_class *iface_class;
static atomic_bool deadlocked;

/* The socket's set-up: a reference first, then big_lock. */
static void *
socket_setup(void *arg)
{
	struct timespec deadline;
	struct iface *ifp;
	struct psref psref;
	int s;

	(void)arg;
	s = pserialize_read_enter();
	ifp = atomic_load_explicit(&iface_current, memory_order_acquire);
	psref_acquire(&psref, &ifp->if_target, iface_class);
	pserialize_read_exit(s);
	step_post(HELD);
	step_wait(UNLINKED);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3; /* no lock is held this long unless deadlocked */
	if (pthread_mutex_timedlock(&big_lock, &deadline) == ETIMEDOUT) {
		/* Deadlock: report it, back out (drop the reference). */
		atomic_store(&deadlocked, true);
	} else {
		/* ... attach the socket to ifp ... */
		pthread_mutex_unlock(&big_lock);
	}
	psref_release(&psref, &ifp->if_target, iface_class);
	return NULL;
}

/* The destroy path: unpublish under the lock, wait for holders outside. */
static void
iface_destroy(struct iface *ifp)
{
	pthread_mutex_lock(&big_lock);
	atomic_store_explicit(&iface_current, NULL, memory_order_relaxed);
	step_post(UNLINKED);
#ifdef PATTERN_UNSAFE
	psref_target_destroy(&ifp->if_target, iface_class); /* lock held */
	pthread_mutex_unlock(&big_lock);
#else
	pthread_mutex_unlock(&big_lock);
	psref_target_destroy(&ifp->if_target, iface_class); /* no lock held */
#endif
	free(ifp);
}

int
main(void)
{
	struct iface *ifp = calloc(1, sizeof(*ifp));
	pthread_t t;

	iface_class = psref_class_create("iface");
	if (ifp == NULL || iface_class == NULL)
		return 1;
	ifp->if_index = 1;
	psref_target_init(&ifp->if_target, iface_class);
	atomic_store_explicit(&iface_current, ifp, memory_order_release);
	if (pthread_create(&t, NULL, socket_setup, NULL) != 0)
		return 1;
	step_wait(HELD);
	iface_destroy(ifp);
	pthread_join(t, NULL);
	psref_class_destroy(iface_class);
	return pattern_result("pattern-lock-order", atomic_load(&deadlocked),
	    "deadlock: destroy waited for the set-up, holding the lock it "
	    "needs");
}
