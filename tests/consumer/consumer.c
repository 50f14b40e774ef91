/*
 * consumer.c: a program outside the mpsafe tree, built against an
 * installed mpsafe (tests/consumer/run.sh).  It publishes an object, reads
 * it in a read section, unpublishes it, waits for readers with
 * pserialize_perform() and frees it.  Exits 0 on success.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpsafe/pserialize.h>

struct obj {
	int value;
};

static _Atomic(struct obj *) published;

int
main(void)
{
	pserialize_t psz;
	struct obj *o, *seen;
	int s, value;

	psz = pserialize_create();
	if (psz == NULL) {
		perror("consumer: pserialize_create");
		return 1;
	}
	o = malloc(sizeof(*o));
	if (o == NULL) {
		perror("consumer: malloc");
		return 1;
	}
	o->value = 42;
	atomic_store_explicit(&published, o, memory_order_release);

	/* Reader: look up and use the object inside a read section. */
	s = pserialize_read_enter();
	seen = atomic_load_explicit(&published, memory_order_acquire);
	value = seen != NULL ? seen->value : -1;
	pserialize_read_exit(s);

	/* Writer: unpublish, wait out the readers, free. */
	atomic_store_explicit(&published, NULL, memory_order_relaxed);
	pserialize_perform(psz);
	free(o);
	pserialize_destroy(psz);

	if (value != 42) {
		fprintf(stderr, "consumer: read %d, expected 42\n", value);
		return 1;
	}
	printf("consumer: ok\n");
	return 0;
}
