/*
 * mpsafe/workqueue.h: deferred work run by worker threads, after NetBSD's
 * workqueue(9).
 *
 * A workqueue owns one worker thread, or one per CPU (WQ_PERCPU), and a
 * function.  workqueue_enqueue(wq, wk, ci) hands the work item wk, which
 * the caller embeds in its own structure, to a worker, which later calls
 * func(wk, arg) in thread context: there the function may block, take
 * locks, and wait for grace periods.  An item is queued at most once at a
 * time; its function may free it or enqueue it again.
 * workqueue_wait(wq, wk) returns once wk is neither queued nor running,
 * and stays correct when the function has freed wk and its memory has
 * been reused (it compares addresses and never reads an item that may
 * have run).  workqueue_destroy() runs everything queued, then joins the
 * workers.
 *
 * Enqueueing pushes the item on its worker's lock-free list (one atomic
 * compare-and-swap on a word only that worker's producers share, and one
 * load); an idle worker sleeps on a futex and is woken only by the
 * enqueue that finds it asleep.
 *
 * A "CPU" is one of the CPUs the process may run on, numbered from 0 in
 * the order of the operating system's numbers: mpsafe_ncpu(),
 * mpsafe_cpu_lookup(), mpsafe_curcpu().  WQ_PERCPU workers are pinned to
 * their CPUs where the system allows it.
 *
 * Differences from NetBSD (see workqueue(3)):
 *  - No ipl argument: enqueue never blocks and may be called from any
 *    thread (not from signal handlers).
 *  - prio is accepted and ignored: workers are ordinary threads with the
 *    creating thread's scheduling policy and nice value.
 *  - ci is NULL ("the calling thread's CPU") or a struct cpu_info * from
 *    mpsafe_cpu_lookup() or mpsafe_curcpu(); with WQ_PERCPU it picks the
 *    worker, otherwise it must be NULL.
 *  - workqueue_wait() from a worker of the same workqueue, and
 *    workqueue_destroy() with items still queued, are defined here:
 *    the first aborts in diagnostic builds, the second runs them.
 */
#ifndef MPSAFE_WORKQUEUE_H
#define MPSAFE_WORKQUEUE_H

#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

struct workqueue;

/* One CPU (opaque); see mpsafe_cpu_lookup(). */
struct cpu_info;

/*
 * A work item, embedded by the caller in the structure the work concerns.
 * Needs no initialisation.  The fields are library-private.
 */
struct work {
	/*
	 * Link in the worker's list.  Written by the enqueuer before it
	 * publishes the item; read by the worker, and by waiters while the
	 * item is queued.
	 */
	struct work *wk_next;
	/*
	 * Queued-or-not tag for the "enqueued twice" check of diagnostic
	 * builds (an atomic exchange by the enqueuer, a store by the worker
	 * before it calls the function); unused otherwise.
	 */
	MPSAFE_ATOMIC(uintptr_t) wk_check;
};

/* Flags of workqueue_create(). */
#define WQ_MPSAFE 0x01 /* accepted; there is no big lock to skip */
#define WQ_PERCPU 0x02 /* one worker per CPU, pinned to it */
#define WQ_FPU 0x04    /* accepted; threads may always use the FPU */

/* Longest name kept (longer names are truncated). */
#define WORKQUEUE_NAMELEN 32

/*
 * workqueue_create(wqp, name, func, arg, prio, flags)
 *
 *	Create a workqueue whose workers call func(wk, arg) for each item
 *	wk enqueued, and store it in *wqp.  name names the worker threads
 *	("name", or "name/<cpu index>" with the name cut so that the
 *	whole fits the 15 characters Linux allows).  prio is ignored.
 *	flags: WQ_MPSAFE, WQ_PERCPU, WQ_FPU.
 *	Returns 0; EINVAL for a NULL wqp, name or func or an unknown flag;
 *	ENOMEM; or the error of pthread_create() (EAGAIN...), in which case
 *	the workers already started have been stopped and joined and
 *	nothing is left allocated.  Blocks (creates threads).
 */
MPSAFE_API int workqueue_create(struct workqueue **wqp, const char *name,
    void (*func)(struct work *, void *), void *arg, int prio, int flags);

/*
 * workqueue_enqueue(wq, wk, ci)
 *
 *	Queue wk for the worker of CPU ci (WQ_PERCPU; NULL: the caller's
 *	current CPU), or for the one worker (ci must be NULL).  wk must
 *	not be queued already: it may be enqueued again once its function
 *	has been called (from the function itself, for instance).
 *	Diagnostic builds abort on a second enqueue of a queued item;
 *	other builds do not check (the check's exchange on the item, and
 *	the worker's store that clears it, made enqueues 3 to 6 times
 *	slower in the workqueue benchmark), and the item's link then makes
 *	the worker's list a cycle that the worker runs for ever.  Items
 *	queued to one worker by one thread run in the order queued.  Never
 *	blocks: one compare-and-swap loop on the worker's list, and a
 *	futex wake-up only when the worker sleeps.  Any thread, including
 *	the workers, may call it; not after workqueue_destroy() has begun,
 *	except from a work function of the same workqueue.
 */
MPSAFE_API void workqueue_enqueue(
    struct workqueue *wq, struct work *wk, struct cpu_info *ci);

/*
 * workqueue_wait(wq, wk)
 *
 *	Return once wk is neither queued on wq nor running: if it was
 *	queued or running at the call, its function has returned.  For
 *	every enqueue of wk that happens before the call, what the
 *	function it led to did (a free included) happens before the
 *	return, also when that function had returned before the call, so
 *	the caller may then read or free what it wrote.  wk may
 *	have been freed by its function, and its memory reused: it is only
 *	compared, never read.  Nobody (the caller, another thread, wk's own
 *	function) may enqueue wk again during the wait, on any CPU's queue
 *	(NetBSD allows a WQ_PERCPU item to be re-enqueued on another CPU).
 *	Not from a worker of wq (diagnostic builds abort; other builds do
 *	not wait for the caller's own queue).  Blocks.
 */
MPSAFE_API void workqueue_wait(struct workqueue *wq, struct work *wk);

/*
 * workqueue_destroy(wq)
 *
 *	Run every item queued (and those the work functions queue while it
 *	runs), then stop and join the workers and free wq, which is
 *	poisoned: any later use aborts.  No other call on wq may be running
 *	or follow, except enqueues by wq's own work functions while it
 *	drains.  Not from a work function of wq (every build aborts: it
 *	would wait for itself).  Blocks.
 */
MPSAFE_API void workqueue_destroy(struct workqueue *wq);

/*
 * CPUs.  The set is fixed at the first call of any function here or of
 * workqueue_create(): the CPUs the process's main thread may run on
 * (sched_getaffinity()), or, where that is unknown, as many as the system
 * has online, unnumbered.
 *
 * mpsafe_ncpu(): how many CPUs.
 * mpsafe_cpu_lookup(i): the CPU of index i, or NULL if i >= mpsafe_ncpu().
 * mpsafe_cpu_index(ci): ci's index.
 * mpsafe_cpu_number(ci): the operating system's number for ci (what
 *	sched_getcpu() returns), or -1 where the system has none.
 * mpsafe_curcpu(): the CPU the calling thread runs on now (it may have
 *	moved by the time the caller looks); a thread on a CPU outside the
 *	set gets one of the set.  Never blocks.
 */
MPSAFE_API unsigned mpsafe_ncpu(void);
MPSAFE_API struct cpu_info *mpsafe_cpu_lookup(unsigned index);
MPSAFE_API unsigned mpsafe_cpu_index(const struct cpu_info *ci);
MPSAFE_API int mpsafe_cpu_number(const struct cpu_info *ci);
MPSAFE_API struct cpu_info *mpsafe_curcpu(void);

MPSAFE_END_DECLS

#endif /* MPSAFE_WORKQUEUE_H */
