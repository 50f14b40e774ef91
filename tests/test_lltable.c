/*
 * test_lltable.c: unit tests of the neighbour tables (mpsafe/net/lltable.h),
 * each run in both designs.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <mpsafe/defer.h>
#include <mpsafe/net/lltable.h>
#include <mpsafe/pserialize.h>

#include "death_expect.h"

TestSuite(lltable, .timeout = 60);

static const enum lltable_sync designs[] = {
    LLT_SYNC_PSERIALIZE, LLT_SYNC_RWLOCK};

static struct sockaddr_in
sin_of(const char *text)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	cr_assert_eq(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
sin6_of(const char *text)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

	cr_assert_eq(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	return sin6;
}

#define SA(p) ((const struct sockaddr *)(const void *)(p))

static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};

Test(lltable, create_bad_arguments)
{
	struct lltable *llt = NULL;

	cr_assert_eq(
	    lltable_create(NULL, AF_INET, 1, LLT_SYNC_RWLOCK, 0), EINVAL);
	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, (enum lltable_sync)7, 0), EINVAL);
	cr_assert_eq(lltable_create(&llt, AF_INET, 1, LLT_SYNC_RWLOCK,
	                 LLT_BUCKETS_MAX + 1),
	    EINVAL);
	cr_assert_eq(
	    lltable_create(&llt, AF_UNIX, 1, LLT_SYNC_RWLOCK, 0), EAFNOSUPPORT);
	cr_assert_null(llt, "a failed create stored a table");
	lltable_destroy(NULL); /* allowed, does nothing */
}

static void
add_lookup_update_delete(enum lltable_sync sync)
{
	struct lltable *llt;
	struct sockaddr_in a = sin_of("192.0.2.1"), b = sin_of("192.0.2.2");
	struct lla_info info;

	cr_assert_eq(lltable_create(&llt, AF_INET, 3, sync, 5), 0);
	cr_assert_eq(lltable_count(llt), 0);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), ENOENT);

	cr_assert_eq(lla_update(llt, SA(&a), mac1, 6, LLE_STATIC), 0);
	cr_assert_eq(lltable_count(llt), 1);
	memset(&info, 0xff, sizeof(info));
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	cr_assert_eq(info.lli_len, 6);
	cr_assert_eq(memcmp(info.lli_addr, mac1, 6), 0);
	cr_assert_eq(info.lli_flags, LLE_STATIC | LLE_VALID);
	cr_assert_eq(lla_lookup(llt, SA(&b), &info), ENOENT);

	/* Update replaces, does not add. */
	cr_assert_eq(lla_update(llt, SA(&a), mac2, 6, 0), 0);
	cr_assert_eq(lltable_count(llt), 1);
	cr_assert_eq(lla_lookup_addr(llt, &a.sin_addr, &info), 0);
	cr_assert_eq(memcmp(info.lli_addr, mac2, 6), 0);
	cr_assert_eq(info.lli_flags, LLE_VALID);

	/* An unresolved entry: no address, LLE_VALID cleared. */
	cr_assert_eq(lla_update(llt, SA(&b), NULL, 0, LLE_VALID), 0);
	cr_assert_eq(lla_lookup(llt, SA(&b), &info), 0);
	cr_assert_eq(info.lli_len, 0);
	cr_assert_eq(info.lli_flags, 0);
	cr_assert_eq(lltable_count(llt), 2);

	cr_assert_eq(lla_delete(llt, SA(&a)), 0);
	cr_assert_eq(lla_delete(llt, SA(&a)), ESRCH);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), ENOENT);
	cr_assert_eq(lltable_count(llt), 1);
	lltable_destroy(llt);
	mpsafe_defer_barrier();
}

Test(lltable, add_lookup_update_delete)
{
	for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
		add_lookup_update_delete(designs[i]);
}

static void
inet6_and_collisions(enum lltable_sync sync)
{
	struct lltable *llt;
	struct lla_info info;
	char text[64];

	/* One chain: every key collides. */
	cr_assert_eq(lltable_create(&llt, AF_INET6, 1, sync, 1), 0);
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in6 s;
		uint8_t mac[6] = {0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};

		snprintf(text, sizeof(text), "2001:db8::%x", i);
		s = sin6_of(text);
		cr_assert_eq(lla_update(llt, SA(&s), mac, 6, 0), 0);
	}
	cr_assert_eq(lltable_count(llt), 200);
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in6 s;

		snprintf(text, sizeof(text), "2001:db8::%x", i);
		s = sin6_of(text);
		cr_assert_eq(lla_lookup(llt, SA(&s), &info), 0, "%s", text);
		cr_assert_eq(info.lli_addr[5], (uint8_t)i);
		cr_assert_eq(info.lli_addr[4], (uint8_t)(i >> 8));
		if (i % 2 == 0)
			cr_assert_eq(lla_delete(llt, SA(&s)), 0);
	}
	cr_assert_eq(lltable_count(llt), 100);
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in6 s;

		snprintf(text, sizeof(text), "2001:db8::%x", i);
		s = sin6_of(text);
		cr_assert_eq(lla_lookup(llt, SA(&s), &info),
		    i % 2 == 0 ? ENOENT : 0, "%s", text);
	}
	lltable_destroy(llt);
	mpsafe_defer_barrier();
}

Test(lltable, inet6_and_collisions)
{
	for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
		inet6_and_collisions(designs[i]);
}

/*
 * IPv6 zones (lltable.h): a zoned address is one entry however it names
 * the table's zone; another zone is refused (EINVAL), or, embedded in
 * lla_lookup_addr()'s bytes, not found.
 */
static void
inet6_zones(enum lltable_sync sync)
{
	struct lltable *llt;
	struct lla_info info;
	struct sockaddr_in6 plain = sin6_of("fe80::1");
	struct sockaddr_in6 scoped = plain, embedded = sin6_of("fe80:7::1");
	struct sockaddr_in6 other = plain, both = embedded, wide = plain;
	struct sockaddr_in6 global = sin6_of("2001:db8::1");
	struct sockaddr_in6 mcast = sin6_of("ff02::1:ff00:1");
	struct sockaddr_in6 pflag = sin6_of("ff32:7::1");
	uint8_t raw[16];

	scoped.sin6_scope_id = 7;
	other.sin6_scope_id = 8;
	both.sin6_scope_id = 8; /* bits 16..31 say 7 */
	wide.sin6_scope_id = 0x10007;
	cr_assert_eq(lltable_create(&llt, AF_INET6, 7, sync, 0), 0);

	/* One entry, three spellings. */
	cr_assert_eq(lla_update(llt, SA(&embedded), mac1, 6, 0), 0);
	cr_assert_eq(lla_update(llt, SA(&scoped), mac2, 6, 0), 0);
	cr_assert_eq(lltable_count(llt), 1);
	cr_assert_eq(lla_lookup(llt, SA(&plain), &info), 0);
	cr_assert_eq(info.lli_addr[5], 0x02, "the second update replaced it");
	cr_assert_eq(lla_lookup(llt, SA(&embedded), &info), 0);
	memcpy(raw, &embedded.sin6_addr, 16);
	cr_assert_eq(lla_lookup_addr(llt, raw, &info), 0);
	memcpy(raw, &plain.sin6_addr, 16);
	cr_assert_eq(lla_lookup_addr(llt, raw, &info), 0);

	/* Another zone, two zones, an impossible one. */
	cr_assert_eq(lla_update(llt, SA(&other), mac1, 6, 0), EINVAL);
	cr_assert_eq(lla_lookup(llt, SA(&other), &info), EINVAL);
	cr_assert_eq(lla_delete(llt, SA(&other)), EINVAL);
	cr_assert_eq(lla_lookup(llt, SA(&both), &info), EINVAL);
	cr_assert_eq(lla_update(llt, SA(&wide), mac1, 6, 0), EINVAL);
	raw[3] = 8; /* fe80:8::1 */
	cr_assert_eq(lla_lookup_addr(llt, raw, &info), ENOENT);
	cr_assert_eq(lltable_count(llt), 1);

	/* Link-local multicast has a zone; unicast global and P-flag don't. */
	cr_assert_eq(lla_update(llt, SA(&mcast), mac1, 6, 0), 0);
	mcast.sin6_scope_id = 7;
	cr_assert_eq(lla_lookup(llt, SA(&mcast), &info), 0);
	mcast.sin6_scope_id = 9;
	cr_assert_eq(lla_lookup(llt, SA(&mcast), &info), EINVAL);
	global.sin6_scope_id = 9; /* no zone: ignored */
	cr_assert_eq(lla_update(llt, SA(&global), mac1, 6, 0), 0);
	global.sin6_scope_id = 0;
	cr_assert_eq(lla_lookup(llt, SA(&global), &info), 0);
	cr_assert_eq(lla_update(llt, SA(&pflag), mac1, 6, 0), 0);
	memcpy(raw, &pflag.sin6_addr, 16);
	cr_assert_eq(lla_lookup_addr(llt, raw, &info), 0);
	raw[3] = 0; /* bits 16..31 are part of a P-flag address */
	cr_assert_eq(lla_lookup_addr(llt, raw, &info), ENOENT);

	cr_assert_eq(lla_delete(llt, SA(&plain)), 0);
	cr_assert_eq(lla_lookup(llt, SA(&embedded), &info), ENOENT);
	cr_assert_eq(lltable_count(llt), 3);
	lltable_destroy(llt);
	mpsafe_defer_barrier();
}

Test(lltable, inet6_zones)
{
	for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
		inet6_zones(designs[i]);
}

static void
bad_input_changes_nothing(enum lltable_sync sync)
{
	struct lltable *llt;
	struct sockaddr_in a = sin_of("198.51.100.7");
	struct sockaddr_in6 a6 = sin6_of("2001:db8::7");
	uint8_t big[LLT_ADDR_MAX + 1] = {0};
	struct lla_info info;

	cr_assert_eq(lltable_create(&llt, AF_INET, 1, sync, 0), 0);
	cr_assert_eq(lla_update(llt, SA(&a), mac1, 6, 0), 0);

	cr_assert_eq(lla_update(NULL, SA(&a), mac2, 6, 0), EINVAL);
	cr_assert_eq(lla_update(llt, NULL, mac2, 6, 0), EINVAL);
	cr_assert_eq(lla_update(llt, SA(&a), big, sizeof(big), 0), EINVAL);
	cr_assert_eq(lla_update(llt, SA(&a), NULL, 6, 0), EINVAL);
	cr_assert_eq(lla_update(llt, SA(&a), mac2, 6, 0x80000000u), EINVAL);
	cr_assert_eq(lla_update(llt, SA(&a6), mac2, 6, 0), EAFNOSUPPORT);
	cr_assert_eq(lla_delete(llt, SA(&a6)), EAFNOSUPPORT);
	cr_assert_eq(lla_delete(NULL, SA(&a)), EINVAL);
	cr_assert_eq(lla_lookup(llt, SA(&a6), &info), EAFNOSUPPORT);
	cr_assert_eq(lla_lookup(llt, SA(&a), NULL), EINVAL);

	/* Nothing changed. */
	cr_assert_eq(lltable_count(llt), 1);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	cr_assert_eq(memcmp(info.lli_addr, mac1, 6), 0);
	lltable_destroy(llt);
	mpsafe_defer_barrier();
}

Test(lltable, bad_input_changes_nothing)
{
	for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
		bad_input_changes_nothing(designs[i]);
}

/*
 * Limits at their bounds, both sides, in both designs: a link-layer
 * address of exactly LLT_ADDR_MAX bytes is kept whole and one more is
 * EINVAL; flags of exactly LLE_USERMASK are taken and the first bit past
 * it is EINVAL; len 0 with a NULL address is an unresolved entry (no
 * LLE_VALID); a table of LLT_BUCKETS_MAX chains (and of one below, rounded
 * up to it) is created and one more is EINVAL.
 */
static void
limits_at_their_bounds(enum lltable_sync sync)
{
	struct lltable *llt = NULL;
	struct sockaddr_in a = sin_of("192.0.2.9"), b = sin_of("192.0.2.10");
	uint8_t big[LLT_ADDR_MAX + 1];
	struct lla_info info;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(0xc0 + i);
	cr_assert_eq(lltable_create(&llt, AF_INET, 1, sync, 0), 0);
	cr_assert_eq(lla_update(llt, SA(&a), big, LLT_ADDR_MAX, 0), 0);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	cr_assert_eq(info.lli_len, LLT_ADDR_MAX);
	cr_assert_eq(memcmp(info.lli_addr, big, LLT_ADDR_MAX), 0);
	cr_assert(info.lli_flags & LLE_VALID);
	cr_assert_eq(lla_update(llt, SA(&a), big, LLT_ADDR_MAX + 1, 0), EINVAL);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	cr_assert_eq(info.lli_len, LLT_ADDR_MAX, "refused update changed it");

	cr_assert_eq(lla_update(llt, SA(&b), mac1, 6, LLE_USERMASK), 0);
	cr_assert_eq(lla_lookup(llt, SA(&b), &info), 0);
	cr_assert_eq(info.lli_flags, LLE_USERMASK);
	cr_assert_eq(lla_update(llt, SA(&b), mac2, 6,
	                 (LLE_USERMASK << 1) & ~LLE_USERMASK),
	    EINVAL);
	cr_assert_eq(lla_lookup(llt, SA(&b), &info), 0);
	cr_assert_eq(memcmp(info.lli_addr, mac1, 6), 0);
	/* Unresolved: no address, no LLE_VALID. */
	cr_assert_eq(lla_update(llt, SA(&b), NULL, 0, LLE_STATIC), 0);
	cr_assert_eq(lla_lookup(llt, SA(&b), &info), 0);
	cr_assert_eq(info.lli_len, 0);
	cr_assert_eq(info.lli_flags, LLE_STATIC);
	cr_assert_eq(lltable_count(llt), 2);
	lltable_destroy(llt);

	llt = NULL;
	cr_assert_eq(
	    lltable_create(&llt, AF_INET6, 1, sync, LLT_BUCKETS_MAX), 0);
	cr_assert_not_null(llt);
	lltable_destroy(llt);
	llt = NULL;
	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, sync, LLT_BUCKETS_MAX - 1), 0);
	cr_assert_eq(lla_update(llt, SA(&a), mac1, 6, 0), 0);
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	lltable_destroy(llt);
	llt = NULL;
	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, sync, LLT_BUCKETS_MAX + 1),
	    EINVAL);
	cr_assert_null(llt);
	mpsafe_defer_barrier();
}

Test(lltable, limits_at_their_bounds)
{
	for (size_t i = 0; i < sizeof(designs) / sizeof(designs[0]); i++)
		limits_at_their_bounds(designs[i]);
}

/* A lookup may run inside the caller's read section (lockless design). */
Test(lltable, lookup_inside_read_section)
{
	struct lltable *llt;
	struct sockaddr_in a = sin_of("203.0.113.9");
	struct lla_info info;
	int s;

	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, LLT_SYNC_PSERIALIZE, 0), 0);
	cr_assert_eq(lla_update(llt, SA(&a), mac1, 6, 0), 0);
	s = pserialize_read_enter();
	cr_assert_eq(lla_lookup(llt, SA(&a), &info), 0);
	pserialize_read_exit(s);
	cr_assert_eq(memcmp(info.lli_addr, mac1, 6), 0);
	lltable_destroy(llt);
	mpsafe_defer_barrier();
}

#ifndef MPSAFE_DIAGNOSTIC
/* Without contract checks a writer inside a read section gets EDEADLK. */
Test(lltable, writer_inside_read_section_is_refused)
{
	struct lltable *llt;
	struct sockaddr_in a = sin_of("203.0.113.10");
	int s;

	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, LLT_SYNC_PSERIALIZE, 0), 0);
	s = pserialize_read_enter();
	cr_assert_eq(lla_update(llt, SA(&a), mac1, 6, 0), EDEADLK);
	cr_assert_eq(lla_delete(llt, SA(&a)), EDEADLK);
	pserialize_read_exit(s);
	cr_assert_eq(lltable_count(llt), 0);
	lltable_destroy(llt);
}
#else
Test(lltable, writer_inside_read_section_aborts, .signal = SIGABRT)
{
	death_expect("lla_update: called inside a read section");
	struct lltable *llt;
	struct sockaddr_in a = sin_of("203.0.113.10");

	cr_assert_eq(
	    lltable_create(&llt, AF_INET, 1, LLT_SYNC_PSERIALIZE, 0), 0);
	(void)pserialize_read_enter();
	(void)lla_update(llt, SA(&a), mac1, 6, 0);
}
#endif
