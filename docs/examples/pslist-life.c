/*
 * pslist-life.c: the whole life of an object on a pslist(3) list:
 * allocate, initialise, publish under the writer lock, look up from a
 * reader thread inside read sections, unpublish, wait out the readers,
 * destroy, free.  Built and run by the example_pslist test; pslist(3) and
 * docs/design/pslist.md show excerpts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpsafe/pserialize.h>
#include <mpsafe/pslist.h>

struct frotz {
	int f_key;
	int f_datum;
	struct pslist_entry f_entry;
};

static pthread_mutex_t frotz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pslist_head frotz_list = PSLIST_INITIALIZER;
static pserialize_t frotz_psz; /* pserialize_create() at start-up */

/* Publish a new frotz.  Writer: takes frotz_lock. */
static int
frotz_insert(int key, int datum)
{
	struct frotz *f = malloc(sizeof(*f));

	if (f == NULL)
		return -1;
	f->f_key = key;
	f->f_datum = datum;
	PSLIST_ENTRY_INIT(f, f_entry);

	pthread_mutex_lock(&frotz_lock);
	PSLIST_WRITER_INSERT_HEAD(&frotz_list, f, f_entry);
	pthread_mutex_unlock(&frotz_lock);
	return 0;
}

/* Look key up; copy the datum out (f may go once the section ends). */
static int
frotz_lookup(int key, int *datum)
{
	struct frotz *f;
	int s, found = 0;

	s = pserialize_read_enter();
	PSLIST_READER_FOREACH (f, &frotz_list, struct frotz, f_entry) {
		if (f->f_key == key) {
			*datum = f->f_datum;
			found = 1;
			break;
		}
	}
	pserialize_read_exit(s);
	return found;
}

/* Unpublish, wait for readers, destroy, free.  Writer; may block. */
static int
frotz_delete(int key)
{
	struct frotz *f;

	pthread_mutex_lock(&frotz_lock);
	PSLIST_WRITER_FOREACH (f, &frotz_list, struct frotz, f_entry) {
		if (f->f_key == key)
			break;
	}
	if (f == NULL) {
		pthread_mutex_unlock(&frotz_lock);
		return -1;
	}
	PSLIST_WRITER_REMOVE(f, f_entry);
	pserialize_perform(frotz_psz);
	pthread_mutex_unlock(&frotz_lock);

	PSLIST_ENTRY_DESTROY(f, f_entry);
	free(f);
	return 0;
}

static atomic_int done, bad;

/* A reader thread: key 2 is always there, key 1 comes and goes. */
static void *
reader(void *arg)
{
	int datum;

	(void)arg;
	while (!atomic_load(&done)) {
		if (!frotz_lookup(2, &datum) || datum != 20)
			atomic_store(&bad, 1);
		if (frotz_lookup(1, &datum) && datum != 10)
			atomic_store(&bad, 1);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t;
	int datum;

	frotz_psz = pserialize_create();
	if (frotz_psz == NULL || frotz_insert(1, 10) != 0 ||
	    frotz_insert(2, 20) != 0)
		return 1;
	if (pthread_create(&t, NULL, reader, NULL) != 0)
		return 1;
	for (int i = 0; i < 1000; i++) {
		if (frotz_delete(1) != 0 || frotz_lookup(1, &datum) ||
		    frotz_insert(1, 10) != 0)
			atomic_store(&bad, 1);
	}
	atomic_store(&done, 1);
	pthread_join(t, NULL);
	if (frotz_delete(1) != 0 || frotz_delete(2) != 0 ||
	    frotz_lookup(2, &datum))
		atomic_store(&bad, 1);
	PSLIST_DESTROY(&frotz_list);
	pserialize_destroy(frotz_psz);
	printf("pslist-life: %s\n", atomic_load(&bad) ? "FAILED" : "ok");
	return atomic_load(&bad);
}
