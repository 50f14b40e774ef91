/*
 * A minimal stand-in for Criterion's <criterion/criterion.h>, used only
 * for ThreadSanitizer builds: Criterion 2.4 cannot start under TSan (its
 * sandbox maps memory at a fixed address that TSan reserves;
 * Snaipe/Criterion#274).  It provides the subset the tests use, with the
 * same meaning: each test runs in a child process of its own, with a
 * watchdog (.timeout) and an expected signal (.signal).  The runner is
 * tests/shim/criterion_shim.c.
 */
#ifndef MPSAFE_CRITERION_SHIM_H
#define MPSAFE_CRITERION_SHIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct shim_params {
	int shim_unused; /* lets every initializer start with a field */
	int signal;
	int exit_code;
	double timeout;
	void (*init)(void); /* before the test, in its process */
	void (*fini)(void); /* after it, if it returns */
};

struct shim_test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	struct shim_params params;
	const struct shim_params *suite_params;
	struct shim_test *next;
};

void shim_register(struct shim_test *t);
void shim_fail(const char *file, int line, const char *what, const char *fmt,
    ...) __attribute__((noreturn, format(printf, 4, 5)));
void shim_skip(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TestSuite(S, ...)                                  \
	static const struct shim_params shim_suite_##S = { \
	    .shim_unused = 0, __VA_ARGS__}

#define Test(S, N, ...)                                                   \
	static void shim_fn_##S##_##N(void);                              \
	static struct shim_test shim_test_##S##_##N = {.suite = #S,       \
	    .name = #N,                                                   \
	    .fn = shim_fn_##S##_##N,                                      \
	    .params = {.shim_unused = 0, __VA_ARGS__},                    \
	    .suite_params = &shim_suite_##S};                             \
	__attribute__((constructor)) static void shim_reg_##S##_##N(void) \
	{                                                                 \
		shim_register(&shim_test_##S##_##N);                      \
	}                                                                 \
	static void shim_fn_##S##_##N(void)

#define cr_assert(cond, ...)                                                   \
	do {                                                                   \
		if (!(cond))                                                   \
			shim_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__); \
	} while (0)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_skip_test(...) shim_skip(" " __VA_ARGS__)
#define cr_log_info(...) shim_log(__VA_ARGS__)

#endif /* MPSAFE_CRITERION_SHIM_H */
