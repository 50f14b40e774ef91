/*
 * leak_check.h: assert_no_leak() for the fault-injection tests.
 *
 * Under AddressSanitizer it runs LeakSanitizer's check and fails the
 * test if any block allocated so far is unreachable; in other builds it
 * does nothing.  Include after <criterion/criterion.h>.
 */
#ifndef MPSAFE_TESTS_LEAK_CHECK_H
#define MPSAFE_TESTS_LEAK_CHECK_H

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static inline void
assert_no_leak(void)
{
#ifdef TEST_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
	    "LeakSanitizer found a leak (report above)");
#endif
}

#endif /* MPSAFE_TESTS_LEAK_CHECK_H */
