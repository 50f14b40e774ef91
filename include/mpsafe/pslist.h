/*
 * mpsafe/pslist.h: pserialize-safe linked lists, after NetBSD's pslist(9).
 * Header-only.
 *
 * Readers see a singly linked list and walk it forwards with no lock, inside a
 * pserialize read section, while one writer at a time (the caller supplies the
 * lock) inserts and removes entries.  Each entry has a forward link (ple_next)
 * that readers load and a back pointer (ple_prevp: the address of the link that
 * points at the entry, either the head's plh_first or the predecessor's
 * ple_next) that only writers use, so insertion and removal anywhere cost O(1).
 *
 * Algorithm.
 *  - Insert: the writer fills in the new entry completely (its ple_next
 *    and ple_prevp) and fixes the successor's ple_prevp, all while the
 *    entry is still unreachable; then ONE release store into the link
 *    that is to point at it (plh_first, the predecessor's ple_next, or
 *    the neighbour's old predecessor link) publishes it.  A reader that
 *    loads the new pointer (acquire, or consume) sees the entry, and the
 *    caller's object around it, fully initialised.
 *  - Remove: one store (a release, see pslist_writer_remove) makes the
 *    predecessor's link skip the entry.  The
 *    removed entry's own ple_next is left alone, so a reader standing on
 *    it still reaches its old successor and the rest of the list; its
 *    ple_prevp becomes NULL ("not linked").
 *  - Reclaim: after a grace period (pserialize_perform()) no reader can
 *    stand on a removed entry; only then may the caller destroy it
 *    (PSLIST_ENTRY_DESTROY, which poisons ple_next so a straggling reader
 *    crashes or, in diagnostic builds, aborts with a message), free it,
 *    or initialise it again and re-insert it.
 *
 * Invariants (writer's view, under the writer lock):
 *  - For every linked entry e: *e->ple_prevp == e, and e->ple_next is
 *    NULL or a linked entry whose ple_prevp == &e->ple_next.
 *  - An entry not in any list has ple_prevp == NULL; it is insertable
 *    only if also ple_next == NULL (freshly initialised).  A removed
 *    entry keeps its successor in ple_next until PSLIST_ENTRY_INIT, so
 *    re-inserting it without a new PSLIST_ENTRY_INIT is caught (except
 *    for an entry that was last: its links look fresh, as in NetBSD).
 *  - A destroyed entry or list holds PSLIST_POISON in ple_next/plh_first.
 *
 * Why readers are safe (sketch): a reader only ever follows links it
 * loaded itself.  Every link value was made visible by a release store
 * whose writer had initialised the target entry first, so the target is
 * initialised when the reader reaches it.  Removal never changes the
 * removed entry, so a reader on it walks on into entries that were
 * linked when it was removed; those entries are themselves not reclaimed
 * before a grace period that covers the reader's section.  A reader may
 * miss an entry inserted behind it, or see one removed after it started:
 * that is the usual pserialize contract.
 *
 * Differences from NetBSD (see pslist(3)): the links readers load are C11
 * atomics (MPSAFE_ATOMIC, so the header also compiles as C++17); there is
 * no leading-underscore name; the container helpers are named
 * pslist_{reader,writer}_{first,next}_container; PSLIST_DESTROY poisons
 * the head; diagnostic checks are on only with MPSAFE_DIAGNOSTIC.
 */
#ifndef MPSAFE_PSLIST_H
#define MPSAFE_PSLIST_H

#include <stddef.h>
#include <stdint.h>

#include <mpsafe/atomic.h>
#include <mpsafe/export.h>
#include <mpsafe/thread.h> /* mpsafe_panic() for diagnostic builds */

MPSAFE_BEGIN_DECLS

struct pslist_entry;

/*
 * A list head.  plh_first: written by writers (release when it
 * publishes an entry), read by readers (acquire/consume) and writers.
 */
struct pslist_head {
	MPSAFE_ATOMIC(struct pslist_entry *) plh_first;
};

/*
 * A list entry, embedded in the caller's object.
 *  ple_prevp	the link that points at this entry, NULL when not linked.
 *		Writers only (under the writer lock); readers never load it.
 *  ple_next	the next entry, NULL at the end, PSLIST_POISON once
 *		destroyed.  Written by writers, read by readers.
 */
/* clang-format off */
struct pslist_entry {
	MPSAFE_ATOMIC(struct pslist_entry *) *ple_prevp;
	MPSAFE_ATOMIC(struct pslist_entry *) ple_next;
};
/* clang-format on */

/* What a destroyed entry's ple_next (and a destroyed head) hold. */
#define PSLIST_POISON ((struct pslist_entry *)(uintptr_t)1)

/* Static initialisers: an empty list, an unlinked entry. */
/* clang-format off */
#define PSLIST_INITIALIZER { NULL }
#define PSLIST_ENTRY_INITIALIZER { NULL, NULL }
/* clang-format on */

/*
 * Diagnostic checks (MPSAFE_DIAGNOSTIC): each aborts through
 * mpsafe_panic() with a message naming the broken rule.  Other builds
 * compile them out, as NetBSD's do its KASSERTs: inserting an entry that
 * is still linked there makes the list a cycle that readers walk for
 * ever.
 */
#ifdef MPSAFE_DIAGNOSTIC
/* The entry about to be inserted is freshly initialised. */
static inline void
pslist_assert_insertable(const struct pslist_entry *entry, const char *fn)
{
	/* Relaxed: the writer's own entry; the writer lock orders writers. */
	struct pslist_entry *next = mpsafe_load_relaxed(&entry->ple_next);

	if (MPSAFE_UNLIKELY(next == PSLIST_POISON))
		mpsafe_panic("%s: new entry %p was destroyed "
		             "(PSLIST_ENTRY_DESTROY): PSLIST_ENTRY_INIT it "
		             "before inserting it again",
		    fn, (const void *)entry);
	if (MPSAFE_UNLIKELY(entry->ple_prevp != NULL))
		mpsafe_panic("%s: new entry %p is already in a list, or was "
		             "never initialised: PSLIST_ENTRY_INIT an entry "
		             "before each insertion",
		    fn, (const void *)entry);
	if (MPSAFE_UNLIKELY(next != NULL))
		mpsafe_panic("%s: new entry %p is not initialised (a removed "
		             "entry keeps its next link): PSLIST_ENTRY_INIT "
		             "it, after a grace period, before inserting it "
		             "again",
		    fn, (const void *)entry);
}

/* entry (a neighbour for insertion, or one to remove) is in a list. */
static inline void
pslist_assert_linked(
    const struct pslist_entry *entry, const char *fn, const char *role)
{
	/* Relaxed loads, here and below: the writer lock orders writers. */
	if (MPSAFE_UNLIKELY(
	        mpsafe_load_relaxed(&entry->ple_next) == PSLIST_POISON))
		mpsafe_panic("%s: %s %p was destroyed (PSLIST_ENTRY_DESTROY) "
		             "and is in no list",
		    fn, role, (const void *)entry);
	if (MPSAFE_UNLIKELY(entry->ple_prevp == NULL))
		mpsafe_panic("%s: %s %p is not in a list (never inserted, "
		             "or removed)",
		    fn, role, (const void *)entry);
	if (MPSAFE_UNLIKELY(mpsafe_load_relaxed(entry->ple_prevp) != entry))
		mpsafe_panic("%s: %s %p: the link its back pointer names "
		             "does not point at it (list corrupted, or writers "
		             "not serialised)",
		    fn, role, (const void *)entry);
}

/* A link that a reader (reader != 0) or a writer loaded is not poison. */
static inline void
pslist_assert_not_poison(const struct pslist_entry *link, const void *from,
    const char *fn, int reader)
{
	if (MPSAFE_UNLIKELY(link == PSLIST_POISON && reader))
		mpsafe_panic("%s: %p leads to a destroyed entry or list: it "
		             "was destroyed while a reader could still reach "
		             "it; remove, pserialize_perform(), then destroy",
		    fn, from);
	if (MPSAFE_UNLIKELY(link == PSLIST_POISON))
		mpsafe_panic("%s: %p is a destroyed list, or leads to a "
		             "destroyed entry (PSLIST_DESTROY or "
		             "PSLIST_ENTRY_DESTROY of something still in use)",
		    fn, from);
}
#define PSLIST_ASSERT_INSERTABLE(e, fn) pslist_assert_insertable((e), (fn))
#define PSLIST_ASSERT_LINKED(e, fn, role) \
	pslist_assert_linked((e), (fn), (role))
#define PSLIST_ASSERT_NOT_POISON(l, from, fn, reader) \
	pslist_assert_not_poison((l), (from), (fn), (reader))
#else
#define PSLIST_ASSERT_INSERTABLE(e, fn) ((void)0)
#define PSLIST_ASSERT_LINKED(e, fn, role) ((void)0)
#define PSLIST_ASSERT_NOT_POISON(l, from, fn, reader) ((void)0)
#endif

/*
 * Exclusive operations: no reader or writer may use the list or the
 * entry at the same time (before publication, or after unpublication and
 * a grace period).  Never block.
 */

/*
 * pslist_init(head)
 *
 *	Make head an empty list.  Also re-initialises a destroyed head.
 */
static inline void
pslist_init(struct pslist_head *head)
{
	/* Relaxed: exclusive; whatever makes head shared publishes it. */
	mpsafe_store_relaxed(&head->plh_first, (struct pslist_entry *)NULL);
}

/*
 * pslist_destroy(head)
 *
 *	Finish with head, which must be empty (diagnostic builds abort
 *	otherwise).  Poisons it: a reader or writer that uses it later
 *	crashes, or aborts in diagnostic builds.  Frees nothing.
 */
static inline void
pslist_destroy(struct pslist_head *head)
{
#ifdef MPSAFE_DIAGNOSTIC
	/* Relaxed: exclusive use. */
	struct pslist_entry *first = mpsafe_load_relaxed(&head->plh_first);

	if (MPSAFE_UNLIKELY(first == PSLIST_POISON))
		mpsafe_panic(
		    "pslist_destroy: list %p destroyed twice", (void *)head);
	if (MPSAFE_UNLIKELY(first != NULL))
		mpsafe_panic("pslist_destroy: list %p is not empty (first "
		             "entry %p): remove every entry first",
		    (void *)head, (void *)first);
#endif
	/* Relaxed: exclusive; no reader may still use head. */
	mpsafe_store_relaxed(&head->plh_first, PSLIST_POISON);
}

/*
 * pslist_entry_init(entry)
 *
 *	Make entry insertable: before its first insertion, and again
 *	before each re-insertion (after removal and a grace period).
 */
static inline void
pslist_entry_init(struct pslist_entry *entry)
{
	entry->ple_prevp = NULL;
	/* Relaxed: entry is unreachable; its insertion publishes it. */
	mpsafe_store_relaxed(&entry->ple_next, (struct pslist_entry *)NULL);
}

/*
 * pslist_entry_destroy(entry)
 *
 *	Finish with entry, which must not be in a list (diagnostic builds
 *	abort otherwise) and which no reader may still stand on: the
 *	caller removed it and then waited for a grace period.  Poisons
 *	ple_next so that a straggling reader crashes (or aborts in
 *	diagnostic builds) instead of silently seeing the end of the list.
 *	The caller frees the memory.
 */
static inline void
pslist_entry_destroy(struct pslist_entry *entry)
{
#ifdef MPSAFE_DIAGNOSTIC
	if (MPSAFE_UNLIKELY(entry->ple_prevp != NULL))
		mpsafe_panic("pslist_entry_destroy: entry %p is still in a "
		             "list: PSLIST_WRITER_REMOVE it and wait for a "
		             "grace period first",
		    (void *)entry);
#endif
	/* Relaxed: exclusive (after the grace period that removal needs). */
	mpsafe_store_relaxed(&entry->ple_next, PSLIST_POISON);
}

/*
 * Writer operations: the caller excludes other writers (one lock per
 * list, say), not readers, which may walk the list concurrently.  Never
 * block.  An entry passed for insertion must be freshly initialised
 * (pslist_entry_init) and the caller's object around it complete: the
 * insertion publishes both.
 */

/*
 * pslist_writer_insert_head(head, nentry)
 *
 *	Insert nentry at the front of head.
 */
static inline void
pslist_writer_insert_head(struct pslist_head *head, struct pslist_entry *nentry)
{
	/* Relaxed: writers are ordered by the caller's writer lock. */
	struct pslist_entry *first = mpsafe_load_relaxed(&head->plh_first);

	PSLIST_ASSERT_INSERTABLE(nentry, "pslist_writer_insert_head");
	PSLIST_ASSERT_NOT_POISON(
	    first, (void *)head, "pslist_writer_insert_head", 0);
	nentry->ple_prevp = &head->plh_first;
	/* Relaxed: nentry is unreachable until the release store below. */
	mpsafe_store_relaxed(&nentry->ple_next, first);
	if (first != NULL)
		first->ple_prevp = &nentry->ple_next;
	/* Release: publishes nentry; pairs with the readers' consume load. */
	mpsafe_store_release(&head->plh_first, nentry);
}

/*
 * pslist_writer_insert_before(entry, nentry)
 *
 *	Insert nentry just before entry, which must be in a list.
 */
static inline void
pslist_writer_insert_before(
    struct pslist_entry *entry, struct pslist_entry *nentry)
{
	MPSAFE_ATOMIC(struct pslist_entry *) *prevp = entry->ple_prevp;

	PSLIST_ASSERT_LINKED(entry, "pslist_writer_insert_before", "neighbour");
	PSLIST_ASSERT_INSERTABLE(nentry, "pslist_writer_insert_before");
	nentry->ple_prevp = prevp;
	/* Relaxed: nentry is unreachable until the release store below. */
	mpsafe_store_relaxed(&nentry->ple_next, entry);
	entry->ple_prevp = &nentry->ple_next;
	/* Release: publishes nentry; pairs with the readers' consume load. */
	mpsafe_store_release(prevp, nentry);
}

/*
 * pslist_writer_insert_after(entry, nentry)
 *
 *	Insert nentry just after entry, which must be in a list.
 */
static inline void
pslist_writer_insert_after(
    struct pslist_entry *entry, struct pslist_entry *nentry)
{
	/* Relaxed: writers are ordered by the caller's writer lock. */
	struct pslist_entry *next = mpsafe_load_relaxed(&entry->ple_next);

	PSLIST_ASSERT_LINKED(entry, "pslist_writer_insert_after", "neighbour");
	PSLIST_ASSERT_INSERTABLE(nentry, "pslist_writer_insert_after");
	nentry->ple_prevp = &entry->ple_next;
	/* Relaxed: nentry is unreachable until the release store below. */
	mpsafe_store_relaxed(&nentry->ple_next, next);
	if (next != NULL)
		next->ple_prevp = &nentry->ple_next;
	/* Release: publishes nentry; pairs with the readers' consume load. */
	mpsafe_store_release(&entry->ple_next, nentry);
}

/*
 * pslist_writer_remove(entry)
 *
 *	Unlink entry, which must be in a list.  Readers may still stand on
 *	it and walk on from it: its ple_next is kept.  Before destroying,
 *	freeing or re-initialising it, wait for a grace period
 *	(pserialize_perform()).
 */
static inline void
pslist_writer_remove(struct pslist_entry *entry)
{
	/* Relaxed: writers are ordered by the caller's writer lock. */
	struct pslist_entry *next = mpsafe_load_relaxed(&entry->ple_next);

	PSLIST_ASSERT_LINKED(entry, "pslist_writer_remove", "entry");
	if (next != NULL)
		next->ple_prevp = entry->ple_prevp;
	/*
	 * Release: pairs with the readers' consume load.  next was
	 * published before, but a reader that reaches it through this
	 * link needs a release here too for C11 (and ThreadSanitizer) to
	 * order next's contents before its own loads.
	 */
	mpsafe_store_release(entry->ple_prevp, next);
	entry->ple_prevp = NULL;
}

/*
 * pslist_writer_first(head), pslist_writer_next(entry)
 *
 *	The first entry of head, the entry after entry; NULL at the end.
 *	For writers, which must not change the list while they walk it with
 *	these unless they stop or restart the walk.
 */
static inline struct pslist_entry *
pslist_writer_first(const struct pslist_head *head)
{
	/* Relaxed: writers are ordered by the caller's writer lock. */
	struct pslist_entry *first = mpsafe_load_relaxed(&head->plh_first);

	PSLIST_ASSERT_NOT_POISON(
	    first, (const void *)head, "pslist_writer_first", 0);
	return first;
}

static inline struct pslist_entry *
pslist_writer_next(const struct pslist_entry *entry)
{
	/* Relaxed: writers are ordered by the caller's writer lock. */
	struct pslist_entry *next = mpsafe_load_relaxed(&entry->ple_next);

	PSLIST_ASSERT_NOT_POISON(
	    next, (const void *)entry, "pslist_writer_next", 0);
	return next;
}

/*
 * Reader operations: inside a pserialize read section (or while
 * otherwise excluding the removal and reclamation of the entries
 * walked, for instance by holding the writer lock).  Never block.  An
 * entry a reader reaches stays valid until the read section ends.
 */

/*
 * pslist_reader_first(head), pslist_reader_next(entry)
 *
 *	The first entry of head, the entry after entry; NULL at the end.
 *	entry may have been removed since the reader reached it: the walk
 *	goes on to its old successor.
 */
static inline struct pslist_entry *
pslist_reader_first(const struct pslist_head *head)
{
	/*
	 * Consume (compilers emit acquire): pairs with the release stores
	 * into plh_first (insert_head, insert_before, remove).
	 */
	struct pslist_entry *first = mpsafe_load_consume(&head->plh_first);

	PSLIST_ASSERT_NOT_POISON(
	    first, (const void *)head, "pslist_reader_first", 1);
	return first;
}

static inline struct pslist_entry *
pslist_reader_next(const struct pslist_entry *entry)
{
	/*
	 * Consume (compilers emit acquire): pairs with the release stores
	 * into ple_next (insert_after, insert_before, remove).
	 */
	struct pslist_entry *next = mpsafe_load_consume(&entry->ple_next);

	PSLIST_ASSERT_NOT_POISON(
	    next, (const void *)entry, "pslist_reader_next", 1);
	return next;
}

/*
 * Container helpers: the same walks, returning the address of the object
 * that embeds the entry at byte offset `offset', or NULL at the end.
 */
static inline void *
pslist_writer_first_container(const struct pslist_head *head, size_t offset)
{
	struct pslist_entry *first = pslist_writer_first(head);

	return first == NULL ? NULL : (void *)((char *)first - offset);
}

static inline void *
pslist_writer_next_container(const struct pslist_entry *entry, size_t offset)
{
	struct pslist_entry *next = pslist_writer_next(entry);

	return next == NULL ? NULL : (void *)((char *)next - offset);
}

static inline void *
pslist_reader_first_container(const struct pslist_head *head, size_t offset)
{
	struct pslist_entry *first = pslist_reader_first(head);

	return first == NULL ? NULL : (void *)((char *)first - offset);
}

static inline void *
pslist_reader_next_container(const struct pslist_entry *entry, size_t offset)
{
	struct pslist_entry *next = pslist_reader_next(entry);

	return next == NULL ? NULL : (void *)((char *)next - offset);
}

/*
 * The macros, with NetBSD's names and argument order.  ELEM arguments
 * point at the caller's objects (TYPE *), FIELD names their struct
 * pslist_entry member.  Compile-time checks, which evaluate nothing:
 * PSLIST_CHECK_TYPE that ELEM is a TYPE * (comparing distinct pointer
 * types warns in C, fails in C++), PSLIST_CHECK_FIELD that FIELD is a
 * struct pslist_entry.
 */
#define PSLIST_CHECK_TYPE(ELEM, TYPE) ((void)sizeof((ELEM) == (TYPE *)0))
#define PSLIST_CHECK_FIELD(TYPE, FIELD) \
	((void)sizeof(&((TYPE *)0)->FIELD == (struct pslist_entry *)0))

#define PSLIST_INIT(HEAD) pslist_init((HEAD))
#define PSLIST_DESTROY(HEAD) pslist_destroy((HEAD))
#define PSLIST_ENTRY_INIT(ELEM, FIELD) pslist_entry_init(&(ELEM)->FIELD)
#define PSLIST_ENTRY_DESTROY(ELEM, FIELD) pslist_entry_destroy(&(ELEM)->FIELD)

#define PSLIST_WRITER_INSERT_HEAD(HEAD, NEW, FIELD) \
	pslist_writer_insert_head((HEAD), &(NEW)->FIELD)
#define PSLIST_WRITER_INSERT_BEFORE(ELEM, NEW, FIELD) \
	((void)sizeof((ELEM) == (NEW)),               \
	    pslist_writer_insert_before(&(ELEM)->FIELD, &(NEW)->FIELD))
#define PSLIST_WRITER_INSERT_AFTER(ELEM, NEW, FIELD) \
	((void)sizeof((ELEM) == (NEW)),              \
	    pslist_writer_insert_after(&(ELEM)->FIELD, &(NEW)->FIELD))
#define PSLIST_WRITER_REMOVE(ELEM, FIELD) pslist_writer_remove(&(ELEM)->FIELD)

#define PSLIST_WRITER_FIRST(HEAD, TYPE, FIELD)     \
	(PSLIST_CHECK_FIELD(TYPE, FIELD),          \
	    (TYPE *)pslist_writer_first_container( \
	        (HEAD), offsetof(TYPE, FIELD)))
#define PSLIST_WRITER_NEXT(ELEM, TYPE, FIELD)     \
	(PSLIST_CHECK_TYPE(ELEM, TYPE),           \
	    (TYPE *)pslist_writer_next_container( \
	        &(ELEM)->FIELD, offsetof(TYPE, FIELD)))
#define PSLIST_WRITER_FOREACH(VAR, HEAD, TYPE, FIELD)                         \
	for ((VAR) = PSLIST_WRITER_FIRST((HEAD), TYPE, FIELD); (VAR) != NULL; \
	     (VAR) = PSLIST_WRITER_NEXT((VAR), TYPE, FIELD))

#define PSLIST_READER_FIRST(HEAD, TYPE, FIELD)     \
	(PSLIST_CHECK_FIELD(TYPE, FIELD),          \
	    (TYPE *)pslist_reader_first_container( \
	        (HEAD), offsetof(TYPE, FIELD)))
#define PSLIST_READER_NEXT(ELEM, TYPE, FIELD)     \
	(PSLIST_CHECK_TYPE(ELEM, TYPE),           \
	    (TYPE *)pslist_reader_next_container( \
	        &(ELEM)->FIELD, offsetof(TYPE, FIELD)))
#define PSLIST_READER_FOREACH(VAR, HEAD, TYPE, FIELD)                         \
	for ((VAR) = PSLIST_READER_FIRST((HEAD), TYPE, FIELD); (VAR) != NULL; \
	     (VAR) = PSLIST_READER_NEXT((VAR), TYPE, FIELD))

MPSAFE_END_DECLS

#endif /* MPSAFE_PSLIST_H */
