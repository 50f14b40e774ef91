/*
 * tests/death_expect.h: a death test names the rule it breaks.
 *
 * death_expect(phrase), first in a test that expects SIGABRT: in test
 * builds (MPSAFE_FAULT_INJECTION) the library's mpsafe_panic() then
 * aborts only if its message contains phrase; another panic exits with
 * status 125 and the test fails.  Criterion's .signal = SIGABRT alone
 * accepts any abort, and two death tests once passed on a check other
 * than the one they named.  Each test runs in a process of its own, so
 * the setting ends with it.
 */
#ifndef MPSAFE_TESTS_DEATH_EXPECT_H
#define MPSAFE_TESTS_DEATH_EXPECT_H

#include <stdlib.h>

/*
 * UNDER_SANITIZER: ASan or TSan (gcc's and clang's spellings).  Tests of
 * a use after free leave the report to the sanitizer there.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static inline void
death_expect(const char *phrase)
{
	setenv("MPSAFE_TEST_PANIC_EXPECT", phrase, 1);
}

#endif /* MPSAFE_TESTS_DEATH_EXPECT_H */
