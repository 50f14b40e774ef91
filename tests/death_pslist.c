/*
 * death_pslist.c: every rule of pslist(3) whose breach diagnostic builds
 * (MPSAFE_DIAGNOSTIC) report: each test breaks one rule and expects the
 * process to abort (SIGABRT) with a message naming it.
 *
 *  - inserting an entry that is not freshly initialised: never
 *    initialised, already linked, removed but not initialised again,
 *    destroyed; at the head, before and after a neighbour;
 *  - inserting next to an entry that is not linked (never inserted,
 *    removed, destroyed);
 *  - removing an entry that is not linked (twice, never inserted);
 *  - destroying a list that is not empty, or twice; inserting into a
 *    destroyed list;
 *  - destroying an entry that is still linked;
 *  - a reader (or writer walk) reaching a destroyed entry or list.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>

#include "death_expect.h"

#ifndef MPSAFE_DIAGNOSTIC
#error "death_pslist.c needs MPSAFE_DIAGNOSTIC"
#endif

TestSuite(death_pslist, .timeout = 30);

struct obj {
	int o_key;
	struct pslist_entry o_entry;
};

static struct pslist_head head = PSLIST_INITIALIZER;
static struct obj a, b, c;

/* head: a b, both linked; c initialised, not linked. */
static void
setup(void)
{
	PSLIST_INIT(&head);
	PSLIST_ENTRY_INIT(&a, o_entry);
	PSLIST_ENTRY_INIT(&b, o_entry);
	PSLIST_ENTRY_INIT(&c, o_entry);
	PSLIST_WRITER_INSERT_HEAD(&head, &a, o_entry);
	PSLIST_WRITER_INSERT_AFTER(&a, &b, o_entry);
}

/* --- inserting an entry that is not freshly initialised ------------- */

Test(death_pslist, insert_head_never_initialised, .signal = SIGABRT)
{
	death_expect("is already in a list, or was never initialised");
	struct obj x;

	setup();
	memset(&x, 0xa5, sizeof(x)); /* what malloc might leave */
	PSLIST_WRITER_INSERT_HEAD(&head, &x, o_entry);
}

Test(death_pslist, insert_head_already_linked, .signal = SIGABRT)
{
	death_expect("is already in a list, or was never initialised");
	setup();
	PSLIST_WRITER_INSERT_HEAD(&head, &b, o_entry);
}

Test(death_pslist, reinsert_removed_without_entry_init, .signal = SIGABRT)
{
	death_expect("a removed entry keeps its next link");
	setup();
	PSLIST_WRITER_REMOVE(&a, o_entry);
	PSLIST_WRITER_INSERT_HEAD(&head, &a, o_entry);
}

Test(death_pslist, insert_destroyed_entry, .signal = SIGABRT)
{
	death_expect("was destroyed (PSLIST_ENTRY_DESTROY): PSLIST_ENTRY_INIT");
	setup();
	PSLIST_ENTRY_DESTROY(&c, o_entry);
	PSLIST_WRITER_INSERT_HEAD(&head, &c, o_entry);
}

Test(death_pslist, insert_after_with_linked_new, .signal = SIGABRT)
{
	death_expect("is already in a list, or was never initialised");
	setup();
	PSLIST_WRITER_INSERT_AFTER(&b, &a, o_entry);
}

Test(death_pslist, insert_before_with_removed_new, .signal = SIGABRT)
{
	death_expect("a removed entry keeps its next link");
	setup();
	PSLIST_WRITER_REMOVE(&a, o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&b, &a, o_entry);
}

/* --- inserting next to an entry that is not linked ------------------ */

Test(death_pslist, insert_after_unlinked_neighbour, .signal = SIGABRT)
{
	death_expect("is not in a list (never inserted, or removed)");
	struct obj x;

	setup();
	PSLIST_ENTRY_INIT(&x, o_entry);
	PSLIST_WRITER_INSERT_AFTER(&c, &x, o_entry);
}

Test(death_pslist, insert_before_unlinked_neighbour, .signal = SIGABRT)
{
	death_expect("is not in a list (never inserted, or removed)");
	struct obj x;

	setup();
	PSLIST_ENTRY_INIT(&x, o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&c, &x, o_entry);
}

Test(death_pslist, insert_after_removed_neighbour, .signal = SIGABRT)
{
	death_expect("is not in a list (never inserted, or removed)");
	setup();
	PSLIST_WRITER_REMOVE(&a, o_entry);
	PSLIST_WRITER_INSERT_AFTER(&a, &c, o_entry);
}

Test(death_pslist, insert_before_destroyed_neighbour, .signal = SIGABRT)
{
	death_expect("was destroyed (PSLIST_ENTRY_DESTROY) and is in no list");
	setup();
	PSLIST_WRITER_REMOVE(&b, o_entry);
	PSLIST_ENTRY_DESTROY(&b, o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&b, &c, o_entry);
}

/* --- removing an entry that is not linked --------------------------- */

Test(death_pslist, remove_twice, .signal = SIGABRT)
{
	death_expect("is not in a list (never inserted, or removed)");
	setup();
	PSLIST_WRITER_REMOVE(&a, o_entry);
	PSLIST_WRITER_REMOVE(&a, o_entry);
}

Test(death_pslist, remove_never_inserted, .signal = SIGABRT)
{
	death_expect("is not in a list (never inserted, or removed)");
	setup();
	PSLIST_WRITER_REMOVE(&c, o_entry);
}

/* --- destroying lists ----------------------------------------------- */

Test(death_pslist, destroy_non_empty_list, .signal = SIGABRT)
{
	death_expect("is not empty");
	setup();
	PSLIST_DESTROY(&head);
}

Test(death_pslist, destroy_list_twice, .signal = SIGABRT)
{
	death_expect("destroyed twice");
	struct pslist_head h;

	PSLIST_INIT(&h);
	PSLIST_DESTROY(&h);
	PSLIST_DESTROY(&h);
}

Test(death_pslist, insert_into_destroyed_list, .signal = SIGABRT)
{
	death_expect("is a destroyed list");
	struct pslist_head h;

	setup();
	PSLIST_INIT(&h);
	PSLIST_DESTROY(&h);
	PSLIST_WRITER_INSERT_HEAD(&h, &c, o_entry);
}

/* --- destroying entries --------------------------------------------- */

Test(death_pslist, destroy_linked_entry, .signal = SIGABRT)
{
	death_expect("is still in a list");
	setup();
	PSLIST_ENTRY_DESTROY(&b, o_entry);
}

Test(death_pslist, destroy_linked_first_entry, .signal = SIGABRT)
{
	death_expect("is still in a list");
	setup();
	PSLIST_ENTRY_DESTROY(&a, o_entry);
}

/* --- walks reaching poison ------------------------------------------ */

/*
 * The writer destroys the entry a reader stands on without waiting for a
 * grace period; the reader's next step aborts.
 */
Test(death_pslist, reader_reaches_destroyed_entry, .signal = SIGABRT)
{
	death_expect("destroyed while a reader could still reach it");
	struct obj *o;
	int s;

	setup();
	s = pserialize_read_enter();
	o = PSLIST_READER_FIRST(&head, struct obj, o_entry);
	PSLIST_WRITER_REMOVE(&a, o_entry);
	PSLIST_ENTRY_DESTROY(&a, o_entry); /* no pserialize_perform */
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	pserialize_read_exit(s);
	cr_assert(0, "reader went on past a destroyed entry (%p)", (void *)o);
}

Test(death_pslist, reader_foreach_reaches_destroyed_entry, .signal = SIGABRT)
{
	death_expect("destroyed while a reader could still reach it");
	struct obj *o;
	int s, n = 0;

	setup();
	s = pserialize_read_enter();
	PSLIST_READER_FOREACH (o, &head, struct obj, o_entry) {
		if (n++ == 0) {
			PSLIST_WRITER_REMOVE(&a, o_entry);
			PSLIST_ENTRY_DESTROY(&a, o_entry);
		}
	}
	pserialize_read_exit(s);
}

Test(death_pslist, reader_first_of_destroyed_list, .signal = SIGABRT)
{
	death_expect("destroyed while a reader could still reach it");
	struct pslist_head h = PSLIST_INITIALIZER;

	PSLIST_DESTROY(&h);
	(void)PSLIST_READER_FIRST(&h, struct obj, o_entry);
}

Test(death_pslist, writer_next_of_destroyed_entry, .signal = SIGABRT)
{
	death_expect("is a destroyed list");
	setup();
	PSLIST_ENTRY_DESTROY(&c, o_entry);
	(void)PSLIST_WRITER_NEXT(&c, struct obj, o_entry);
}
