/*
 * lpm_short.pml: an IPv4 lookup that finds no match at /8 or longer and
 * reads the short node (lpm_lookup4_slot() and lpm_short4() of
 * src/net/lpm.h), against a writer that adds and deletes prefixes on
 * both sides, as written: the "Concurrency" paragraph of src/net/lpm.c.
 *
 * One address, decided by two slots: MAIN, its slot in the main trie (a
 * prefix of /8 or longer, X), and SHORT, its slot in the short node (a
 * prefix shorter than /8, Y); the answer is MAIN if it holds an entry,
 * else SHORT.  The writer (the table's one writer, under its lock) makes
 * NUPD updates, each changing one slot by one store and then advancing
 * l_updates (lpm_updated()), chosen at each step among those that keep
 * the address covered at every moment (X added while Y is present, Y
 * deleted while X is, and the reverse): so a correct lookup never
 * misses.  The reader makes NLOOKUP lookups: the main slot; if 0, the
 * loop of lpm_short4(): l_updates, the short slot, the main slot again
 * (a match is the answer), l_updates again (unchanged: the short slot is
 * the answer; moved: again).
 *
 * Memory: sequentially consistent, plain Promela variables.  The writer
 * loads nothing the reader writes, and x86 (like the C11 release stores
 * and acquire loads of the code) keeps its stores and the reader's loads
 * in order, so a store buffer would only delay the writer; what the
 * model checks is the pairing argument over every interleaving, the
 * part a reader stalled between two loads can break.
 *
 * Safety: each lookup's answer is an entry (never a miss), and one the
 * table gave for the address at some moment during the lookup (a ghost
 * set of the answers the table held since the lookup began).
 *
 * Switches: NUPD (writer updates, default 6), NLOOKUP (default 2).
 * Broken variants:
 *   BROKEN_SHORT_AT_ONCE  the lookup returns the short slot as soon as
 *                         the main slot is 0 (no count, no second walk)
 *   BROKEN_NO_SECOND_WALK lpm_short4() reads l_updates and the short slot
 *                         and checks the count, but does not walk the
 *                         main trie again
 *   BROKEN_NO_RECHECK     lpm_short4() walks again but returns the short
 *                         slot without checking l_updates
 * COUNT_FIRST (not a bug here): the writer advances l_updates before
 * its store instead of after.  It verifies: two updates that could pair
 * wrongly are ordered by coverage, and the second's count comes after
 * the first's store, inside the lookup's window.  The code's order
 * (store, then release of the count) is what lets the count's acquire
 * load publish the slots in C11, which this model does not check.
 */
#ifndef NUPD
#define NUPD 6
#endif
#ifndef NLOOKUP
#define NLOOKUP 2
#endif

#define X 1 /* the entry of the long prefix (a bit: answers are sets) */
#define Y 2 /* the entry of the short prefix */

byte main_slot;      /* the address's slot in the main trie: 0 or X */
byte short_slot = Y; /* its slot in the short node: 0 or Y */
byte updates;        /* l_updates */
byte seen;           /* ghost: answers the table held since the lookup began */

/* The table's answer for the address now. */
#define ANSWER (main_slot != 0 -> main_slot : short_slot)

proctype writer()
{
	byte n;

	do
	:: n < NUPD ->
#ifdef COUNT_FIRST
		updates++;
#endif
		if
		:: main_slot == 0 ->
			d_step { main_slot = X; seen = seen | ANSWER }
		:: main_slot != 0 && short_slot != 0 ->
			d_step { main_slot = 0; seen = seen | ANSWER }
		:: main_slot != 0 && short_slot != 0 ->
			d_step { short_slot = 0; seen = seen | ANSWER }
		:: short_slot == 0 ->
			d_step { short_slot = Y; seen = seen | ANSWER }
		fi;
#ifndef COUNT_FIRST
		updates++; /* lpm_updated(): release, after the slot's store */
#endif
		n++
	:: else -> break
	od
}

proctype reader()
{
	byte i, s, sh, u;

	do
	:: i < NLOOKUP ->
		d_step { seen = ANSWER; s = 0 };
		s = main_slot; /* lpm_walk4() */
		if
		:: s == 0 ->
#ifdef BROKEN_SHORT_AT_ONCE
			s = short_slot
#else
			do
			:: u = updates;
				sh = short_slot;
#ifndef BROKEN_NO_SECOND_WALK
				s = main_slot;
#endif
				if
				:: s != 0 -> break
				:: else -> skip
				fi;
#ifdef BROKEN_NO_RECHECK
				s = sh;
				break
#else
				if
				:: updates == u -> s = sh; break
				:: else -> skip /* an update ended: again */
				fi
#endif
			od
#endif
		:: else -> skip
		fi;
		assert(s != 0);          /* covered at every moment: no miss */
		assert((seen & s) != 0); /* an answer the table gave meanwhile */
		i++
	:: else -> break
	od
}

init
{
	atomic {
		run writer();
		run reader()
	}
}
