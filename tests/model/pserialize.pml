/*
 * pserialize.pml: the grace period of src/pserialize.c and the read
 * sections of include/mpsafe/pserialize.h, as written, in both ordering
 * modes, over the store-buffer memory model of memory.pml.
 *
 * Threads: NR readers (ids 0..NR-1) and NW writers (ids NR..NR+NW-1).
 * Writer j owns pointer PTR(j); it makes NUPD updates, each: store a new
 * object into PTR(j) (which unpublishes the old one), mpsafe_gp_wait(),
 * free the old object.  Each reader runs NSECT read sections; a section
 * loads every pointer and then uses the object it found.
 *
 * Safety: assert(!freed[o]) at every use: no reader uses an object after
 * it was freed.  Deadlock freedom, lost wake-ups included: spin's
 * end-state check (a writer asleep in futex_wait, or on gp_cv, when
 * everything else has finished is an invalid end state).
 *
 * Switches (-D):
 *   FENCE_MODE   the fence ordering mode (default: membarrier mode)
 *   NEST         each section opens and closes a nested one between the
 *                lookup and the use (as localcount_acquire, psref_copy)
 *   NR, NW, NSECT, NUPD  sizes (defaults 2, 1, 2, 2)
 * Broken variants, each the bug class a line of the C code avoids; spin
 * must find a counterexample for each:
 *   BROKEN_NO_WAIT          gp_run() returns after its barrier, without
 *                           scanning (src/pserialize.c, gp_run: the
 *                           MPSAFE_TEST_BROKEN_NO_WAIT return)
 *   BROKEN_NO_MEMBARRIER    membarrier mode, but gp_barrier() issues only
 *                           the writer's own fence (gp_barrier:
 *                           mpsafe_membarrier())
 *   BROKEN_NO_ENTER_FENCE   fence mode, no fence after the entry store
 *                           (pserialize.h, read_enter: "pairs with the
 *                           scan's fence")
 *   BROKEN_NO_EXIT_FENCE    fence mode, no fence between the exit store and
 *                           the mr_waiters load (pserialize.h, read_exit:
 *                           "pairs with the waiter's fence")
 *   BROKEN_NO_WAITER_BARRIER  no barrier between raising mr_waiters and the
 *                           re-check (gp_wait_reader: gp_barrier() after
 *                           the fetch_add of mr_waiters)
 *   BROKEN_WAKE_BEFORE_STORE  read_exit loads mr_waiters before it stores
 *                           the word (pserialize.h, read_exit: the store
 *                           comes first)
 *   BROKEN_NESTED_GEN       a nested entry advances the generation too
 *                           (pserialize.h, read_enter: nested "w += 1")
 *   BROKEN_SHARE            a caller may finish with a grace period that
 *                           was already running when it arrived
 *                           (mpsafe_gp_wait: target = (gp_seq + 3) & ~1)
 */
#ifndef NR
#define NR 2
#endif
#ifndef NW
#define NW 1
#endif
#ifndef NSECT
#define NSECT 2
#endif
#ifndef NUPD
#define NUPD 2
#endif

#define NT (NR + NW)
#define WORD(r) (r)           /* mpsafe_reader_self.mr_word of reader r */
#define WAITERS(r) (NR + (r)) /* its mr_waiters */
#define PTR(j) (2 * NR + (j)) /* writer j's published pointer */
#define NVARS (2 * NR + NW)

/* Objects: writer j's versions 1..NUPD+1 are j * 4 + version. */
#define OBJ(j, k) ((j) * 4 + (k))

#include "memory.pml"
#include "gp.pml"

bit freed[4 * NW + 4];

/* ---- the threads ------------------------------------------------------- */

proctype reader(byte me)
{
	byte c, c2, x, o, j, i;

	do
	:: i < NSECT ->
		read_enter(me, c);
#ifdef NEST
		read_enter(me, c2);
#endif
		j = 0;
		do
		:: j < NW ->
			ld(me, PTR(j), o); /* the lookup */
#ifdef NEST
			/* A nested section after the lookup (localcount_acquire). */
			read_enter(me, c2);
			read_exit(me, c2, x);
#endif
			assert(!freed[o]); /* the use */
			o = 0;
			j++
		:: else -> break
		od;
		j = 0;
		read_exit(me, c, x);
		i++
	:: else -> break
	od
}

proctype writer(byte me; byte j)
{
	byte k, target, snap, r, w, now, x;

	k = 1;
	do
	:: k <= NUPD ->
		st(me, PTR(j), OBJ(j, k + 1)); /* unpublish version k */
		gp_wait(me, target, snap, r, w, now, x);
		freed[OBJ(j, k)] = 1;
		k++
	:: else -> break
	od
}

init
{
	byte i;

	atomic {
		i = 0;
		do
		:: i < NW -> mem[PTR(i)] = OBJ(i, 1); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NR -> run reader(i); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NW -> run writer(NR + i, i); i++
		:: else -> break
		od;
		i = 0
	}
}
