/*
 * bench/strategies.c: the strategy registry.
 *
 * To add a strategy: write bench/strategy_<name>.c defining
 * `const struct bench_strategy strategy_<name>` and add one X(<name>) line
 * below (CMake picks up the file by its name).  The order here is the
 * order of --list and of the default strategy set.
 */
#include <string.h>

#include "bench.h"

#define BENCH_STRATEGY_LIST(X) \
	X(none)                \
	X(refcount)            \
	X(rwlock)              \
	X(rwlock_nh)           \
	X(pserialize)          \
	X(pserialize_nh)       \
	X(pserialize_pair)     \
	X(psref)               \
	X(localcount)          \
	X(urcu_memb)           \
	X(urcu_qsbr)           \
	X(urcu_bp)             \
	X(ck_epoch)            \
	X(ck_hp)               \
	X(ck_brlock)           \
	X(workqueue)           \
	X(mutex_queue)         \
	X(biglock)             \
	/* one line per strategy above: X(<name>) \ */

/*
 * Optional strategies, after the others: built only when CMake found
 * their library (bench/CMakeLists.txt).
 */
#ifdef BENCH_HAVE_DPDK
#define BENCH_STRATEGY_LIST_OPTIONAL(X) X(dpdk_lpm) X(dpdk_fib)
#else
#define BENCH_STRATEGY_LIST_OPTIONAL(X)
#endif

#define BENCH_DECLARE(n) extern const struct bench_strategy strategy_##n;
BENCH_STRATEGY_LIST(BENCH_DECLARE)
BENCH_STRATEGY_LIST_OPTIONAL(BENCH_DECLARE)
#undef BENCH_DECLARE

#define BENCH_ENTRY(n) &strategy_##n,
const struct bench_strategy *const bench_strategies[] = {
    BENCH_STRATEGY_LIST(BENCH_ENTRY) BENCH_STRATEGY_LIST_OPTIONAL(BENCH_ENTRY)
        NULL,
};
#undef BENCH_ENTRY

const struct bench_strategy *
bench_strategy_find(const char *name)
{
	for (size_t i = 0; bench_strategies[i] != NULL; i++)
		if (strcmp(bench_strategies[i]->name, name) == 0)
			return bench_strategies[i];
	return NULL;
}
