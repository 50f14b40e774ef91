/*
 * test_sockaddr.c: the sockaddr helpers (mpsafe/net/sockaddr.h): init,
 * pool allocation with and without waiting, copy, dup, compare, format,
 * and every bad input's error; a second free of a sockaddr still in its
 * pool aborts.  With MPSAFE_FAULT_INJECTION: a pool's first use allocates
 * (primes it), and after that, or after a reservation, M_NOWAIT never
 * does.  Each test runs in its own process, so every pool starts unused.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

#include <mpsafe/net/sockaddr.h>
#ifdef MPSAFE_FAULT_INJECTION
#include <mpsafe/alloc.h>
#endif

#include "death_expect.h"

TestSuite(sockaddr, .timeout = 30);

static struct sockaddr_in
sin_of(const char *addr, unsigned port)
{
	struct sockaddr_in sin;
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, addr, &a), 1);
	sockaddr_in_init(&sin, &a, htons((in_port_t)port));
	return sin;
}

static struct sockaddr_in6
sin6_of(const char *addr, unsigned port, uint32_t scope)
{
	struct sockaddr_in6 sin6;
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, addr, &a), 1);
	sockaddr_in6_init(&sin6, &a, htons((in_port_t)port), 0, scope);
	return sin6;
}

Test(sockaddr, init_and_length)
{
	struct sockaddr_in sin = sin_of("192.0.2.1", 80);
	struct sockaddr_in6 sin6 = sin6_of("2001:db8::1", 53, 0);
	struct sockaddr other = {.sa_family = AF_UNIX};

	cr_assert_eq(sin.sin_family, AF_INET);
	cr_assert_eq(ntohs(sin.sin_port), 80);
	cr_assert_eq(sin6.sin6_family, AF_INET6);
	cr_assert_eq(sockaddr_getlen((struct sockaddr *)&sin), sizeof(sin));
	cr_assert_eq(sockaddr_getlen((struct sockaddr *)&sin6), sizeof(sin6));
	cr_assert_eq(sockaddr_getlen(&other), 0);
	cr_assert_eq(sockaddr_getlen(NULL), 0);
}

Test(sockaddr, alloc_free_and_family)
{
	struct sockaddr *a = sockaddr_alloc(AF_INET, M_WAITOK);
	struct sockaddr *b = sockaddr_alloc(AF_INET6, M_NOWAIT | M_ZERO);

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(a->sa_family, AF_INET);
	cr_assert_eq(b->sa_family, AF_INET6);
	cr_assert_eq(((struct sockaddr_in *)(void *)a)->sin_addr.s_addr, 0);
	sockaddr_free(a);
	sockaddr_free(b);
	sockaddr_free(NULL);
}

Test(sockaddr, alloc_bad_input)
{
	errno = 0;
	cr_assert_null(sockaddr_alloc(AF_UNIX, M_WAITOK));
	cr_assert_eq(errno, EAFNOSUPPORT);
	cr_assert_null(sockaddr_alloc(AF_INET, 0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(sockaddr_alloc(AF_INET, M_WAITOK | M_NOWAIT));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sockaddr_pool_reserve(AF_UNIX, 1), EAFNOSUPPORT);
	cr_assert_eq(sockaddr_pool_count(AF_UNIX), 0);
}

Test(sockaddr, nowait_fails_when_the_pool_is_empty)
{
	enum { MAX = 100000 };
	static struct sockaddr *held[MAX];
	size_t n = 0, before = sockaddr_pool_count(AF_INET6);
	struct sockaddr *sa;

	cr_assert_geq(before, SOCKADDR_POOL_INITIAL);
	while (n < MAX && (sa = sockaddr_alloc(AF_INET6, M_NOWAIT)) != NULL)
		held[n++] = sa;
	cr_assert_lt(n, MAX, "M_NOWAIT must not fall back to malloc");
	cr_assert_eq(n, before);
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_eq(sockaddr_pool_count(AF_INET6), 0);
	/* M_WAITOK still works, and the other family's pool is separate. */
	sa = sockaddr_alloc(AF_INET6, M_WAITOK);
	cr_assert_not_null(sa);
	sockaddr_free(sa);
	cr_assert_eq(sockaddr_pool_count(AF_INET6), 1);
	sa = sockaddr_alloc(AF_INET, M_NOWAIT);
	cr_assert_not_null(sa);
	sockaddr_free(sa);
	/* Freed sockaddrs return to the pool. */
	while (n > 0)
		sockaddr_free(held[--n]);
	cr_assert_eq(sockaddr_pool_count(AF_INET6), before + 1);
	/* Reserving makes room for that many M_NOWAIT allocations. */
	cr_assert_eq(sockaddr_pool_reserve(AF_INET6, 3000), 0);
	cr_assert_geq(sockaddr_pool_count(AF_INET6), 3000);
}

Test(sockaddr, copy_dup_and_refusals)
{
	struct sockaddr_in sin = sin_of("198.51.100.7", 443), dst4;
	struct sockaddr_in6 sin6 = sin6_of("2001:db8::7", 443, 0);
	struct sockaddr *d = sockaddr_dup((struct sockaddr *)&sin, M_WAITOK);
	struct sockaddr other = {.sa_family = AF_UNIX};

	cr_assert_not_null(d);
	cr_assert_eq(sockaddr_cmp(d, (struct sockaddr *)&sin), 0);
	cr_assert_eq(memcmp(d, &sin, sizeof(sin)), 0);

	sockaddr_in_init(&dst4, &(struct in_addr){0}, 0);
	cr_assert_eq(sockaddr_copy((struct sockaddr *)&dst4, sizeof(dst4),
	                 (struct sockaddr *)&sin),
	    0);
	cr_assert_eq(memcmp(&dst4, &sin, sizeof(sin)), 0);

	/* Between families: refused, dst unchanged. */
	cr_assert_eq(sockaddr_copy(d, sizeof(struct sockaddr_in),
	                 (struct sockaddr *)&sin6),
	    EINVAL);
	cr_assert_eq(memcmp(d, &sin, sizeof(sin)), 0);
	/* Too short, unknown family, NULL. */
	cr_assert_eq(
	    sockaddr_copy((struct sockaddr *)&dst4, 4, (struct sockaddr *)&sin),
	    ENOSPC);
	cr_assert_eq(sockaddr_copy(d, 16, &other), EAFNOSUPPORT);
	cr_assert_eq(sockaddr_copy(NULL, 16, d), EINVAL);
	errno = 0;
	cr_assert_null(sockaddr_dup(&other, M_WAITOK));
	cr_assert_eq(errno, EAFNOSUPPORT);
	cr_assert_null(sockaddr_dup(NULL, M_WAITOK));
	cr_assert_eq(errno, EINVAL);
	sockaddr_free(d);
}

Test(sockaddr, compare)
{
	struct sockaddr_in a = sin_of("10.0.0.1", 1), b = sin_of("10.0.0.2", 1);
	struct sockaddr_in c = sin_of("10.0.0.1", 2);
	struct sockaddr_in6 x = sin6_of("fe80::1", 0, 1);
	struct sockaddr_in6 y = sin6_of("fe80::1", 0, 2);

	cr_assert_lt(sockaddr_cmp((void *)&a, (void *)&b), 0);
	cr_assert_gt(sockaddr_cmp((void *)&b, (void *)&a), 0);
	cr_assert_lt(sockaddr_cmp((void *)&a, (void *)&c), 0);
	cr_assert_eq(sockaddr_cmp((void *)&a, (void *)&a), 0);
	cr_assert_lt(sockaddr_cmp((void *)&x, (void *)&y), 0);
	/* AF_INET (2) sorts before AF_INET6 (10). */
	cr_assert_lt(sockaddr_cmp((void *)&a, (void *)&x), 0);
}

Test(sockaddr, const_addr)
{
	struct sockaddr_in a = sin_of("10.1.2.3", 0);
	struct sockaddr other = {.sa_family = AF_UNIX};
	socklen_t len = 99;

	cr_assert_eq(sockaddr_const_addr((void *)&a, &len), &a.sin_addr);
	cr_assert_eq(len, 4);
	cr_assert_null(sockaddr_const_addr(&other, &len));
	cr_assert_eq(len, 0);
}

Test(sockaddr, format)
{
	struct sockaddr_in a = sin_of("192.0.2.1", 80),
	                   b = sin_of("10.0.0.9", 0);
	struct sockaddr_in6 x = sin6_of("2001:db8::1", 53, 0);
	struct sockaddr_in6 y = sin6_of("fe80::1", 0, 2);
	struct sockaddr other = {.sa_family = AF_UNIX};
	char buf[SOCKADDR_FORMAT_MAX], tiny[6];

	cr_assert_eq(sockaddr_format((void *)&a, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, "192.0.2.1:80"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&b, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, "10.0.0.9"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&x, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, "[2001:db8::1]:53"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&y, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, "fe80::1%2"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format(&other, buf, sizeof(buf)), EAFNOSUPPORT);
	cr_assert_eq(strcmp(buf, "af=1"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&a, tiny, sizeof(tiny)), ENOSPC);
	cr_assert_eq(strlen(tiny), sizeof(tiny) - 1);
	cr_assert_eq(sockaddr_format(NULL, buf, sizeof(buf)), EINVAL);
	cr_assert_eq(sockaddr_format((void *)&a, buf, 0), EINVAL);
}

/*
 * sockaddr_copy() at the exact length: a destination of exactly the
 * source's length takes the copy, one byte less is ENOSPC (dst
 * unchanged), in both families.
 */
Test(sockaddr, copy_at_the_exact_length)
{
	struct sockaddr_in sin = sin_of("198.51.100.7", 443), d4;
	struct sockaddr_in6 sin6 = sin6_of("2001:db8::7", 443, 3), d6;

	sockaddr_in_init(&d4, &(struct in_addr){0}, 0);
	cr_assert_eq(sockaddr_copy((struct sockaddr *)&d4, sizeof(d4) - 1,
	                 (struct sockaddr *)&sin),
	    ENOSPC);
	cr_assert_eq(d4.sin_addr.s_addr, 0, "dst changed on error");
	cr_assert_eq(sockaddr_copy((struct sockaddr *)&d4, sizeof(d4),
	                 (struct sockaddr *)&sin),
	    0);
	cr_assert_eq(sockaddr_cmp((void *)&d4, (void *)&sin), 0);

	sockaddr_in6_init(&d6, &in6addr_any, 0, 0, 0);
	cr_assert_eq(sockaddr_copy((struct sockaddr *)&d6, sizeof(d6) - 1,
	                 (struct sockaddr *)&sin6),
	    ENOSPC);
	cr_assert_eq(d6.sin6_port, 0, "dst changed on error");
	cr_assert_eq(sockaddr_copy((struct sockaddr *)&d6, sizeof(d6),
	                 (struct sockaddr *)&sin6),
	    0);
	cr_assert_eq(sockaddr_cmp((void *)&d6, (void *)&sin6), 0);
}

/*
 * sockaddr_format() at its bounds: the longest text there is (an IPv6
 * address of eight full groups, the largest scope id and port) fits in
 * SOCKADDR_FORMAT_MAX bytes; a buffer of exactly the text's length plus
 * the terminator takes it, one byte less is ENOSPC with the text cut
 * and terminated.
 */
Test(sockaddr, format_at_its_bounds)
{
	static const char longest[] =
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535";
	struct sockaddr_in6 x = sin6_of(
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, UINT32_MAX);
	struct sockaddr_in a = sin_of("255.255.255.255", 65535);
	struct sockaddr other = {.sa_family = USHRT_MAX};
	char buf[SOCKADDR_FORMAT_MAX], exact[sizeof(longest)];

	cr_assert_leq(sizeof(longest), SOCKADDR_FORMAT_MAX);
	cr_assert_eq(sockaddr_format((void *)&x, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, longest), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&x, exact, sizeof(exact)), 0);
	cr_assert_eq(strcmp(exact, longest), 0, "%s", exact);
	cr_assert_eq(
	    sockaddr_format((void *)&x, exact, sizeof(exact) - 1), ENOSPC);
	cr_assert_eq(strlen(exact), sizeof(exact) - 2);
	cr_assert_eq(strncmp(exact, longest, sizeof(exact) - 2), 0);

	cr_assert_eq(sockaddr_format((void *)&a, buf, sizeof(buf)), 0);
	cr_assert_eq(strcmp(buf, "255.255.255.255:65535"), 0, "%s", buf);
	cr_assert_eq(sockaddr_format((void *)&a, buf, 22), 0);
	cr_assert_eq(sockaddr_format((void *)&a, buf, 21), ENOSPC);
	cr_assert_eq(strcmp(buf, "255.255.255.255:6553"), 0, "%s", buf);
	/* A one-byte buffer: ENOSPC, and still terminated. */
	cr_assert_eq(sockaddr_format((void *)&a, buf, 1), ENOSPC);
	cr_assert_eq(strcmp(buf, ""), 0, "%s", buf);
	/* The unknown family with the widest number also fits. */
	cr_assert_eq(sockaddr_format(&other, buf, sizeof(buf)), EAFNOSUPPORT);
	cr_assert_eq(strcmp(buf, "af=65535"), 0, "%s", buf);
}

/*
 * A pool keeps at most the larger of 1024 and its largest reservation
 * free sockaddrs; frees past that go back to malloc.  Exactly at each
 * bound: 1025 freed leave 1024; after a reservation of 1500 (the new
 * bound) 1501 freed leave 1500; a smaller reservation later does not
 * lower it.
 */
Test(sockaddr, pool_keeps_at_most_its_bound)
{
	enum { N = 1600 };
	static struct sockaddr *held[N];
	size_t n;

	for (n = 0; n < 1025; n++) {
		held[n] = sockaddr_alloc(AF_INET, M_WAITOK);
		cr_assert_not_null(held[n]);
	}
	cr_assert_eq(sockaddr_pool_count(AF_INET), 0);
	while (n > 1)
		sockaddr_free(held[--n]);
	cr_assert_eq(sockaddr_pool_count(AF_INET), 1024, "1024 kept");
	sockaddr_free(held[0]);
	cr_assert_eq(sockaddr_pool_count(AF_INET), 1024,
	    "the 1025th free was kept: %zu", sockaddr_pool_count(AF_INET));

	cr_assert_eq(sockaddr_pool_reserve(AF_INET, 1500), 0);
	cr_assert_eq(sockaddr_pool_count(AF_INET), 1500);
	for (int round = 0; round < 2; round++) {
		for (n = 0; n < 1501; n++) {
			held[n] = sockaddr_alloc(AF_INET, M_WAITOK);
			cr_assert_not_null(held[n]);
		}
		cr_assert_eq(sockaddr_pool_count(AF_INET), 0);
		while (n > 1)
			sockaddr_free(held[--n]);
		cr_assert_eq(sockaddr_pool_count(AF_INET), 1500,
		    "round %d: %zu kept", round, sockaddr_pool_count(AF_INET));
		sockaddr_free(held[0]);
		cr_assert_eq(sockaddr_pool_count(AF_INET), 1500,
		    "round %d: the 1501st free was kept", round);
		/* A smaller reservation keeps the larger bound. */
		cr_assert_eq(sockaddr_pool_reserve(AF_INET, 10), 0);
	}
}

/* The double free sockaddr_free() promises to catch: one still pooled. */
Test(sockaddr, second_free_in_pool_aborts, .signal = SIGABRT)
{
	death_expect("did not come from sockaddr_alloc, or is freed twice");
	struct sockaddr *sa = sockaddr_alloc(AF_INET6, M_WAITOK);

	cr_assert_not_null(sa);
	sockaddr_free(sa);
	cr_assert_geq(sockaddr_pool_count(AF_INET6), 1);
	sockaddr_free(sa);
}

#ifdef MPSAFE_FAULT_INJECTION
/*
 * A pool's first use allocates SOCKADDR_POOL_INITIAL sockaddrs, whichever
 * call it is (M_NOWAIT included); later M_NOWAIT allocations never
 * allocate, nor do those a start-up reservation made room for.
 */
Test(sockaddr, first_use_primes_the_pool)
{
	enum { RESERVED = 200 };
	static struct sockaddr *held[RESERVED];
	struct sockaddr *a, *b;

	mpsafe_fault_alloc_fail_nth(UINT_MAX); /* count, never fail */
	a = sockaddr_alloc(AF_INET, M_NOWAIT);
	cr_assert_not_null(a);
	cr_assert_eq(mpsafe_fault_alloc_count(), SOCKADDR_POOL_INITIAL,
	    "first M_NOWAIT allocation primes the pool: %u allocations",
	    mpsafe_fault_alloc_count());
	mpsafe_fault_alloc_fail_nth(UINT_MAX);
	b = sockaddr_alloc(AF_INET, M_NOWAIT);
	cr_assert_not_null(b);
	cr_assert_eq(mpsafe_fault_alloc_count(), 0, "then none");
	sockaddr_free(a);
	sockaddr_free(b);

	mpsafe_fault_alloc_fail_nth(UINT_MAX);
	cr_assert_eq(sockaddr_pool_count(AF_INET6), SOCKADDR_POOL_INITIAL);
	cr_assert_eq(mpsafe_fault_alloc_count(), SOCKADDR_POOL_INITIAL,
	    "pool_count on an unused pool primes it");

	/* Reserved at start-up: no allocation, even one armed to fail. */
	cr_assert_eq(sockaddr_pool_reserve(AF_INET6, RESERVED), 0);
	mpsafe_fault_alloc_fail_nth(1);
	for (size_t i = 0; i < RESERVED; i++) {
		held[i] = sockaddr_alloc(AF_INET6, M_NOWAIT);
		cr_assert_not_null(held[i], "reserved allocation %zu", i);
	}
	cr_assert_eq(mpsafe_fault_alloc_count(), 0, "M_NOWAIT allocated");
	mpsafe_fault_alloc_fail_nth(0);
	for (size_t i = 0; i < RESERVED; i++)
		sockaddr_free(held[i]);
}
#endif /* MPSAFE_FAULT_INJECTION */
