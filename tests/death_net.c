/*
 * death_net.c: the rules of wqinput.h and lltable.h whose breach aborts
 * (SIGABRT) with a message naming it.  Built with MPSAFE_DIAGNOSTIC, as
 * the other death tests: wqinput_drain() from its input function and
 * lltable_destroy() in a read section abort in every build, lla_delete()
 * in a read section only in these (other builds return EDEADLK).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include <mpsafe/net/lltable.h>
#include <mpsafe/net/wqinput.h>
#include <mpsafe/pserialize.h>

#include "death_expect.h"

TestSuite(death_net, .timeout = 30);

#define SA(p) ((const struct sockaddr *)(const void *)(p))

/* --- wqinput ------------------------------------------------------------- */

static struct wqinput *_Atomic wqi;

/* The input function drains its own wqinput: it would wait for itself. */
static void
draining_input(struct mbuf *m, int off, int proto)
{
	(void)m;
	(void)off;
	(void)proto;
	wqinput_drain(atomic_load(&wqi));
}

Test(death_net, wqinput_drain_from_its_input_function, .signal = SIGABRT)
{
	death_expect("from its input function: it would wait for itself");
	static char pkt[64]; /* the packet is opaque to wqinput: any pointer */
	struct wqinput *w = wqinput_create("deathdrain", draining_input);

	cr_assert_not_null(w);
	atomic_store(&wqi, w);
	cr_assert_eq(wqinput_input(w, (struct mbuf *)(void *)pkt, 0, 0), 0);
	/* The worker aborts the process. */
	for (;;) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
	}
}

/*
 * Every build aborts on a NULL wqinput and on any use of a wqinput after
 * wqinput_destroy() (wqinput(3)).
 */
Test(death_net, wqinput_input_on_a_null_wqinput, .signal = SIGABRT)
{
	death_expect("wqinput_input: NULL wqinput");
	static char pkt[64];

	(void)wqinput_input(NULL, (struct mbuf *)(void *)pkt, 0, 0);
}

Test(death_net, wqinput_drain_of_a_null_wqinput, .signal = SIGABRT)
{
	death_expect("wqinput_drain: NULL wqinput");
	wqinput_drain(NULL);
}

/* Under a sanitizer, the sanitizer reports these uses after free itself. */
#ifndef UNDER_SANITIZER
static void
nop_input(struct mbuf *m, int off, int proto)
{
	(void)m;
	(void)off;
	(void)proto;
}

Test(death_net, wqinput_input_after_destroy, .signal = SIGABRT)
{
	death_expect("is not a live wqinput (used after wqinput_destroy)");
	static char pkt[64];
	struct wqinput *w = wqinput_create("deathafter", nop_input);

	cr_assert_not_null(w);
	wqinput_destroy(w);
	(void)wqinput_input(w, (struct mbuf *)(void *)pkt, 0, 0);
}

Test(death_net, wqinput_destroy_twice, .signal = SIGABRT)
{
	death_expect("is not a live wqinput (used after wqinput_destroy)");
	struct wqinput *w = wqinput_create("deathtwice", nop_input);

	cr_assert_not_null(w);
	wqinput_destroy(w);
	wqinput_destroy(w);
}
#endif /* !UNDER_SANITIZER */

/* --- lltable ------------------------------------------------------------- */

static struct lltable *
table_with_an_entry(enum lltable_sync sync, struct sockaddr_in *a)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
	struct lltable *llt;

	*a = (struct sockaddr_in){.sin_family = AF_INET};
	cr_assert_eq(inet_pton(AF_INET, "192.0.2.1", &a->sin_addr), 1);
	cr_assert_eq(lltable_create(&llt, AF_INET, 1, sync, 0), 0);
	cr_assert_eq(lla_update(llt, SA(a), mac, sizeof(mac), 0), 0);
	return llt;
}

Test(death_net, lltable_destroy_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("lltable_destroy: called inside a read section");
	struct sockaddr_in a;
	struct lltable *llt = table_with_an_entry(LLT_SYNC_PSERIALIZE, &a);

	(void)pserialize_read_enter();
	lltable_destroy(llt);
}

Test(death_net, lltable_destroy_inside_a_read_section_rwlock, .signal = SIGABRT)
{
	death_expect("lltable_destroy: called inside a read section");
	struct sockaddr_in a;
	struct lltable *llt = table_with_an_entry(LLT_SYNC_RWLOCK, &a);

	(void)pserialize_read_enter();
	lltable_destroy(llt);
}

Test(death_net, lla_delete_inside_a_read_section, .signal = SIGABRT)
{
	death_expect("lla_delete: called inside a read section");
	struct sockaddr_in a;
	struct lltable *llt = table_with_an_entry(LLT_SYNC_PSERIALIZE, &a);

	(void)pserialize_read_enter();
	(void)lla_delete(llt, SA(&a));
}

Test(death_net, lla_delete_inside_a_read_section_rwlock, .signal = SIGABRT)
{
	death_expect("lla_delete: called inside a read section");
	struct sockaddr_in a;
	struct lltable *llt = table_with_an_entry(LLT_SYNC_RWLOCK, &a);

	(void)pserialize_read_enter();
	(void)lla_delete(llt, SA(&a));
}
