/*
 * bench/workloads.c: the workload registry.
 *
 * To add a workload: write bench/workload_<name>.c defining
 * `const struct bench_workload workload_<name>` and add one X(<name>) line
 * below (CMake picks up the file by its name).
 */
#include <string.h>

#include "bench.h"

#define BENCH_WORKLOAD_LIST(X) \
	X(read_side)           \
	X(read_scaling)        \
	X(grace_period)        \
	X(defer)               \
	X(hold)                \
	X(destroy_latency)     \
	X(workqueue)           \
	/* one line per workload above: X(<name>) \ */

/*
 * Workloads that need mpsafe_net (interfaces, the routing table), after
 * the others:
 * built only with MPSAFE_BUILD_NET (bench/CMakeLists.txt).
 */
#ifdef BENCH_HAVE_NET
#define BENCH_WORKLOAD_LIST_NET(X) \
	X(ifnet)                   \
	X(route_lookup)            \
	X(route_lookup6)           \
	X(route_bulk)              \
	X(rtcache)                 \
	X(route_mem)               \
	X(route_mem6)              \
	X(forward)
#else
#define BENCH_WORKLOAD_LIST_NET(X)
#endif

#define BENCH_DECLARE(n) extern const struct bench_workload workload_##n;
BENCH_WORKLOAD_LIST(BENCH_DECLARE)
BENCH_WORKLOAD_LIST_NET(BENCH_DECLARE)
#undef BENCH_DECLARE

#define BENCH_ENTRY(n) &workload_##n,
const struct bench_workload *const bench_workloads[] = {
    BENCH_WORKLOAD_LIST(BENCH_ENTRY) BENCH_WORKLOAD_LIST_NET(BENCH_ENTRY) NULL,
};
#undef BENCH_ENTRY

const struct bench_workload *
bench_workload_find(const char *name)
{
	for (size_t i = 0; bench_workloads[i] != NULL; i++)
		if (strcmp(bench_workloads[i]->name, name) == 0)
			return bench_workloads[i];
	return NULL;
}
