/*
 * test_pslist.c: unit tests of pslist(3): every macro and function, on one
 * thread.  Insertion at the head, before and after an entry, removal of
 * the first, a middle, the last and the only entry, writer and reader
 * walks (FIRST/NEXT and FOREACH, macros and the functions behind them),
 * the static initialisers, destroy poisoning, re-insertion after a new
 * PSLIST_ENTRY_INIT, a reader standing on a removed entry, and a long
 * random sequence of operations checked against a model after each step.
 * After every change the back pointers are checked too (check_links).
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>

TestSuite(pslist, .timeout = 60);

/* The entry is not the first member, so container arithmetic matters. */
struct obj {
	uint64_t o_pad[3];
	int o_key;
	struct pslist_entry o_entry;
	int o_tail;
};

#define NOBJ 8

static struct obj objs[NOBJ];

static void
objs_init(void)
{
	memset(objs, 0, sizeof(objs));
	for (int i = 0; i < NOBJ; i++) {
		objs[i].o_key = i;
		objs[i].o_tail = 1000 + i;
		PSLIST_ENTRY_INIT(&objs[i], o_entry);
	}
}

/*
 * The writer's invariants: every linked entry's back pointer names the
 * link that points at it, and the list is no longer than max.  Returns
 * the length.
 */
static int
check_links(struct pslist_head *head, int max)
{
	struct pslist_entry *e;
	int n = 0;

	for (e = pslist_writer_first(head); e != NULL;
	     e = pslist_writer_next(e)) {
		cr_assert_not_null(e->ple_prevp, "linked entry without prevp");
		cr_assert_eq(
		    atomic_load_explicit(e->ple_prevp, memory_order_relaxed), e,
		    "back pointer does not name the link to the entry");
		cr_assert_leq(++n, max, "list longer than expected (cycle?)");
	}
	return n;
}

/* The keys along a writer walk (FOREACH) and a reader walk must be want. */
static void
expect_keys(struct pslist_head *head, const int *want, int n)
{
	struct obj *o;
	int i, s;

	cr_assert_eq(check_links(head, NOBJ), n);
	i = 0;
	PSLIST_WRITER_FOREACH (o, head, struct obj, o_entry) {
		cr_assert_lt(i, n);
		cr_assert_eq(o->o_key, want[i], "writer walk: position %d", i);
		cr_assert_eq(o->o_tail, 1000 + o->o_key, "bad container");
		i++;
	}
	cr_assert_eq(i, n, "writer walk: %d entries, want %d", i, n);

	s = pserialize_read_enter();
	i = 0;
	PSLIST_READER_FOREACH (o, head, struct obj, o_entry) {
		cr_assert_lt(i, n);
		cr_assert_eq(o->o_key, want[i], "reader walk: position %d", i);
		cr_assert_eq(o->o_tail, 1000 + o->o_key, "bad container");
		i++;
	}
	pserialize_read_exit(s);
	cr_assert_eq(i, n, "reader walk: %d entries, want %d", i, n);
}

#define EXPECT(head, ...)                                               \
	do {                                                            \
		static const int want_[] = {__VA_ARGS__};               \
		expect_keys(                                            \
		    (head), want_, (int)(sizeof(want_) / sizeof(int))); \
	} while (0)

#define EXPECT_EMPTY(head) expect_keys((head), NULL, 0)

Test(pslist, static_initializers)
{
	static struct pslist_head head = PSLIST_INITIALIZER;
	static struct obj o = {
	    .o_key = 7, .o_entry = PSLIST_ENTRY_INITIALIZER, .o_tail = 1007};

	cr_assert_null(pslist_reader_first(&head));
	cr_assert_null(pslist_writer_first(&head));
	cr_assert_null(PSLIST_READER_FIRST(&head, struct obj, o_entry));
	cr_assert_null(PSLIST_WRITER_FIRST(&head, struct obj, o_entry));
	cr_assert_null(o.o_entry.ple_prevp);
	cr_assert_null(atomic_load(&o.o_entry.ple_next));
	/* An initialiser is as good as PSLIST_ENTRY_INIT. */
	PSLIST_WRITER_INSERT_HEAD(&head, &o, o_entry);
	EXPECT(&head, 7);
	PSLIST_WRITER_REMOVE(&o, o_entry);
	EXPECT_EMPTY(&head);
	PSLIST_ENTRY_DESTROY(&o, o_entry);
	PSLIST_DESTROY(&head);
}

Test(pslist, init_and_destroy)
{
	struct pslist_head head;
	struct obj o;

	memset(&head, 0xa5, sizeof(head));
	PSLIST_INIT(&head);
	EXPECT_EMPTY(&head);
	PSLIST_DESTROY(&head);
	cr_assert_eq(atomic_load(&head.plh_first), PSLIST_POISON,
	    "a destroyed head is poisoned");
	PSLIST_INIT(&head); /* a destroyed head can be initialised again */
	EXPECT_EMPTY(&head);
	pslist_destroy(&head);

	memset(&o, 0xa5, sizeof(o));
	PSLIST_ENTRY_INIT(&o, o_entry);
	cr_assert_null(o.o_entry.ple_prevp);
	cr_assert_null(atomic_load(&o.o_entry.ple_next));
	PSLIST_ENTRY_DESTROY(&o, o_entry);
	cr_assert_eq(atomic_load(&o.o_entry.ple_next), PSLIST_POISON,
	    "a destroyed entry is poisoned");
	cr_assert_null(o.o_entry.ple_prevp);
	pslist_entry_init(&o.o_entry); /* and can be initialised again */
	cr_assert_null(atomic_load(&o.o_entry.ple_next));
	pslist_entry_destroy(&o.o_entry);
}

Test(pslist, insert_head_order)
{
	struct pslist_head head = PSLIST_INITIALIZER;

	objs_init();
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[1], o_entry);
	EXPECT(&head, 1);
	cr_assert_eq(objs[1].o_entry.ple_prevp, &head.plh_first);
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[2], o_entry);
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[3], o_entry);
	EXPECT(&head, 3, 2, 1);
	cr_assert_eq(objs[3].o_entry.ple_prevp, &head.plh_first);
	cr_assert_eq(objs[2].o_entry.ple_prevp, &objs[3].o_entry.ple_next);
}

Test(pslist, insert_after)
{
	struct pslist_head head = PSLIST_INITIALIZER;

	objs_init();
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[1], o_entry);
	PSLIST_WRITER_INSERT_AFTER(&objs[1], &objs[3], o_entry); /* last */
	EXPECT(&head, 1, 3);
	PSLIST_WRITER_INSERT_AFTER(&objs[1], &objs[2], o_entry); /* middle */
	EXPECT(&head, 1, 2, 3);
	PSLIST_WRITER_INSERT_AFTER(&objs[3], &objs[4], o_entry); /* last */
	EXPECT(&head, 1, 2, 3, 4);
	pslist_writer_insert_after(&objs[4].o_entry, &objs[5].o_entry);
	EXPECT(&head, 1, 2, 3, 4, 5);
}

Test(pslist, insert_before)
{
	struct pslist_head head = PSLIST_INITIALIZER;

	objs_init();
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[4], o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&objs[4], &objs[2], o_entry); /* first */
	EXPECT(&head, 2, 4);
	cr_assert_eq(objs[2].o_entry.ple_prevp, &head.plh_first);
	PSLIST_WRITER_INSERT_BEFORE(&objs[4], &objs[3], o_entry); /* middle */
	EXPECT(&head, 2, 3, 4);
	PSLIST_WRITER_INSERT_BEFORE(&objs[2], &objs[1], o_entry); /* first */
	EXPECT(&head, 1, 2, 3, 4);
	pslist_writer_insert_before(&objs[1].o_entry, &objs[0].o_entry);
	EXPECT(&head, 0, 1, 2, 3, 4);
}

/* A list 1 2 3 4, built with every kind of insertion. */
static void
build_1234(struct pslist_head *head)
{
	objs_init();
	PSLIST_INIT(head);
	PSLIST_WRITER_INSERT_HEAD(head, &objs[3], o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&objs[3], &objs[1], o_entry);
	PSLIST_WRITER_INSERT_AFTER(&objs[1], &objs[2], o_entry);
	PSLIST_WRITER_INSERT_AFTER(&objs[3], &objs[4], o_entry);
	EXPECT(head, 1, 2, 3, 4);
}

Test(pslist, remove_first_middle_last_only)
{
	struct pslist_head head;

	build_1234(&head);
	PSLIST_WRITER_REMOVE(&objs[1], o_entry); /* first */
	EXPECT(&head, 2, 3, 4);
	cr_assert_eq(objs[2].o_entry.ple_prevp, &head.plh_first);
	PSLIST_WRITER_REMOVE(&objs[3], o_entry); /* middle */
	EXPECT(&head, 2, 4);
	cr_assert_eq(objs[4].o_entry.ple_prevp, &objs[2].o_entry.ple_next);
	PSLIST_WRITER_REMOVE(&objs[4], o_entry); /* last */
	EXPECT(&head, 2);
	pslist_writer_remove(&objs[2].o_entry); /* only */
	EXPECT_EMPTY(&head);
	PSLIST_DESTROY(&head);
}

Test(pslist, removed_entry_keeps_next_and_loses_prevp)
{
	struct pslist_head head;

	build_1234(&head);
	PSLIST_WRITER_REMOVE(&objs[2], o_entry);
	cr_assert_null(objs[2].o_entry.ple_prevp, "removed: prevp NULL");
	cr_assert_eq(atomic_load(&objs[2].o_entry.ple_next), &objs[3].o_entry,
	    "removed: next kept for readers");
	PSLIST_WRITER_REMOVE(&objs[4], o_entry);
	cr_assert_null(atomic_load(&objs[4].o_entry.ple_next));
	cr_assert_null(objs[4].o_entry.ple_prevp);
	EXPECT(&head, 1, 3);
	/* After the grace period the removed entries may be destroyed. */
	PSLIST_ENTRY_DESTROY(&objs[2], o_entry);
	PSLIST_ENTRY_DESTROY(&objs[4], o_entry);
}

/*
 * A reader standing on an entry that is removed under it walks on to the
 * entry's old successor, and from there along the live list; entries
 * inserted after its position are seen, entries removed behind it are
 * not missed.
 */
Test(pslist, reader_on_removed_entry_continues)
{
	struct pslist_head head;
	struct obj *o;
	int s;

	build_1234(&head);
	s = pserialize_read_enter();
	o = PSLIST_READER_FIRST(&head, struct obj, o_entry);
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[2]);
	/* The writer removes 2 (the reader's position) and then 3. */
	PSLIST_WRITER_REMOVE(&objs[2], o_entry);
	PSLIST_WRITER_REMOVE(&objs[3], o_entry);
	/* and inserts 5 after 4. */
	PSLIST_WRITER_INSERT_AFTER(&objs[4], &objs[5], o_entry);
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[3], "reader lost the removed entry's successor");
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[4]);
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[5], "reader missed an entry inserted ahead");
	cr_assert_null(PSLIST_READER_NEXT(o, struct obj, o_entry));
	pserialize_read_exit(s);
	EXPECT(&head, 1, 4, 5);
}

/* Re-insertion: remove, (grace period), PSLIST_ENTRY_INIT, insert. */
Test(pslist, reinsert_after_entry_init)
{
	struct pslist_head head;
	pserialize_t psz = pserialize_create();

	cr_assert_not_null(psz);
	build_1234(&head);
	PSLIST_WRITER_REMOVE(&objs[1], o_entry);
	pserialize_perform(psz);
	PSLIST_ENTRY_INIT(&objs[1], o_entry);
	PSLIST_WRITER_INSERT_AFTER(&objs[4], &objs[1], o_entry);
	EXPECT(&head, 2, 3, 4, 1);

	PSLIST_WRITER_REMOVE(&objs[3], o_entry);
	pserialize_perform(psz);
	PSLIST_ENTRY_DESTROY(&objs[3], o_entry); /* destroyed, then reused */
	PSLIST_ENTRY_INIT(&objs[3], o_entry);
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[3], o_entry);
	EXPECT(&head, 3, 2, 4, 1);

	PSLIST_WRITER_REMOVE(&objs[4], o_entry);
	pserialize_perform(psz);
	PSLIST_ENTRY_INIT(&objs[4], o_entry);
	PSLIST_WRITER_INSERT_BEFORE(&objs[3], &objs[4], o_entry);
	EXPECT(&head, 4, 3, 2, 1);
	pserialize_destroy(psz);
}

/*
 * The edge of the re-insertion check (pslist.h): "re-inserting it
 * without a new PSLIST_ENTRY_INIT is caught (except for an entry that was
 * last: its links look fresh, as in NetBSD)".  The entry that was last is
 * the one case let through, in every build, and the list stays sound;
 * the one before it is caught (death_pslist's
 * reinsert_removed_without_entry_init).
 */
Test(pslist, reinsert_of_removed_last_entry_is_let_through)
{
	struct pslist_head head;
	pserialize_t psz = pserialize_create();

	cr_assert_not_null(psz);
	build_1234(&head);
	PSLIST_WRITER_REMOVE(&objs[4], o_entry);
	pserialize_perform(psz);
	cr_assert_null(objs[4].o_entry.ple_prevp);
	cr_assert_null(atomic_load_explicit(
	    &objs[4].o_entry.ple_next, memory_order_relaxed));
	PSLIST_WRITER_INSERT_HEAD(&head, &objs[4], o_entry);
	EXPECT(&head, 4, 1, 2, 3);
	pserialize_destroy(psz);
}

/* The functions and container helpers behind the macros. */
Test(pslist, functions_and_container_helpers)
{
	struct pslist_head head;
	const size_t off = offsetof(struct obj, o_entry);
	struct obj *o;

	build_1234(&head);
	cr_assert_eq(pslist_reader_first(&head), &objs[1].o_entry);
	cr_assert_eq(pslist_writer_first(&head), &objs[1].o_entry);
	cr_assert_eq(pslist_reader_next(&objs[1].o_entry), &objs[2].o_entry);
	cr_assert_eq(pslist_writer_next(&objs[1].o_entry), &objs[2].o_entry);
	cr_assert_null(pslist_reader_next(&objs[4].o_entry));
	cr_assert_null(pslist_writer_next(&objs[4].o_entry));

	cr_assert_eq(pslist_reader_first_container(&head, off), &objs[1]);
	cr_assert_eq(pslist_writer_first_container(&head, off), &objs[1]);
	cr_assert_eq(
	    pslist_reader_next_container(&objs[3].o_entry, off), &objs[4]);
	cr_assert_eq(
	    pslist_writer_next_container(&objs[3].o_entry, off), &objs[4]);
	cr_assert_null(pslist_reader_next_container(&objs[4].o_entry, off));
	cr_assert_null(pslist_writer_next_container(&objs[4].o_entry, off));

	o = PSLIST_WRITER_FIRST(&head, struct obj, o_entry);
	cr_assert_eq(o, &objs[1]);
	o = PSLIST_WRITER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[2]);
	o = PSLIST_READER_NEXT(o, struct obj, o_entry);
	cr_assert_eq(o, &objs[3]);
	o = PSLIST_READER_NEXT(&objs[4], struct obj, o_entry);
	cr_assert_null(o);

	PSLIST_INIT(&head); /* forget the entries: empty list */
	cr_assert_null(pslist_reader_first_container(&head, off));
	cr_assert_null(pslist_writer_first_container(&head, off));
}

/* FOREACH over an empty list runs no iteration; a break leaves VAR set. */
Test(pslist, foreach_empty_and_break)
{
	struct pslist_head head = PSLIST_INITIALIZER;
	struct obj *o;
	int n = 0, s;

	PSLIST_WRITER_FOREACH (o, &head, struct obj, o_entry)
		n++;
	s = pserialize_read_enter();
	PSLIST_READER_FOREACH (o, &head, struct obj, o_entry)
		n++;
	pserialize_read_exit(s);
	cr_assert_eq(n, 0);
	cr_assert_null(o);

	build_1234(&head);
	PSLIST_READER_FOREACH (o, &head, struct obj, o_entry) {
		if (o->o_key == 3)
			break;
	}
	cr_assert_eq(o, &objs[3]);
	PSLIST_WRITER_FOREACH (o, &head, struct obj, o_entry) {
		if (o->o_key == 9)
			break;
	}
	cr_assert_null(o, "FOREACH ends with VAR NULL");
}

/* Walks through a const element type. */
Test(pslist, const_walk)
{
	struct pslist_head head;
	const struct obj *o;
	int sum = 0;

	build_1234(&head);
	for (o = PSLIST_READER_FIRST(&head, const struct obj, o_entry);
	     o != NULL; o = PSLIST_READER_NEXT(o, const struct obj, o_entry))
		sum += o->o_key;
	cr_assert_eq(sum, 1 + 2 + 3 + 4);
}

/* Empty the list by repeatedly removing the first entry. */
Test(pslist, drain_from_the_front)
{
	struct pslist_head head;
	struct obj *o;
	int n = 0;

	build_1234(&head);
	while ((o = PSLIST_WRITER_FIRST(&head, struct obj, o_entry)) != NULL) {
		cr_assert_eq(o->o_key, n + 1);
		PSLIST_WRITER_REMOVE(o, o_entry);
		check_links(&head, NOBJ);
		n++;
	}
	cr_assert_eq(n, 4);
	EXPECT_EMPTY(&head);
	PSLIST_DESTROY(&head);
}

/*
 * A long random sequence of insertions (head, before, after) and
 * removals, compared with a model array after every step.
 */
#define MANY 64

static struct obj many[MANY];

Test(pslist, random_operations_against_a_model)
{
	struct pslist_head head = PSLIST_INITIALIZER;
	int model[MANY], n = 0;
	int in[MANY] = {0};
	uint64_t rnd = 0x2545f4914f6cdd1dULL;

	for (int i = 0; i < MANY; i++) {
		many[i].o_key = i;
		many[i].o_tail = 1000 + i;
		PSLIST_ENTRY_INIT(&many[i], o_entry);
	}
	for (int step = 0; step < 20000; step++) {
		int k, pos, op;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		k = (int)(rnd % MANY);
		op = (int)((rnd >> 8) % 3);
		pos = n > 0 ? (int)((rnd >> 16) % (uint64_t)n) : 0;
		if (in[k]) {
			/* Remove k. */
			int j;

			for (j = 0; model[j] != k; j++)
				continue;
			PSLIST_WRITER_REMOVE(&many[k], o_entry);
			memmove(&model[j], &model[j + 1],
			    (size_t)(n - j - 1) * sizeof(int));
			n--;
			in[k] = 0;
			PSLIST_ENTRY_INIT(&many[k], o_entry);
		} else if (n == 0 || op == 0) {
			PSLIST_WRITER_INSERT_HEAD(&head, &many[k], o_entry);
			memmove(&model[1], &model[0], (size_t)n * sizeof(int));
			model[0] = k;
			n++;
			in[k] = 1;
		} else if (op == 1) {
			PSLIST_WRITER_INSERT_BEFORE(
			    &many[model[pos]], &many[k], o_entry);
			memmove(&model[pos + 1], &model[pos],
			    (size_t)(n - pos) * sizeof(int));
			model[pos] = k;
			n++;
			in[k] = 1;
		} else {
			PSLIST_WRITER_INSERT_AFTER(
			    &many[model[pos]], &many[k], o_entry);
			memmove(&model[pos + 2], &model[pos + 1],
			    (size_t)(n - pos - 1) * sizeof(int));
			model[pos + 1] = k;
			n++;
			in[k] = 1;
		}
		/* Compare both walks with the model. */
		{
			struct obj *o;
			int i = 0;

			PSLIST_WRITER_FOREACH (o, &head, struct obj, o_entry) {
				cr_assert_lt(i, n, "step %d: too long", step);
				cr_assert_eq(o->o_key, model[i],
				    "step %d, position %d", step, i);
				cr_assert_eq(o->o_entry.ple_prevp,
				    i == 0
				        ? &head.plh_first
				        : &many[model[i - 1]].o_entry.ple_next,
				    "step %d: back pointer", step);
				i++;
			}
			cr_assert_eq(i, n, "step %d: too short", step);
			i = 0;
			PSLIST_READER_FOREACH (o, &head, struct obj, o_entry) {
				cr_assert_lt(i, n);
				cr_assert_eq(o->o_key, model[i++]);
			}
			cr_assert_eq(i, n);
		}
	}
}
