/*
 * bench/strategy_biglock.c: one global mutex around the whole packet
 * path, taken also by every writer: the network stack before NetBSD's
 * NET_MPSAFE (the kernel lock and splsoftnet).  It has no bench_strategy
 * operations: only the forward workload, which implements it (see
 * workload_forward.c), runs it; every other workload skips it.
 */
#include "bench.h"

const struct bench_strategy strategy_biglock = {
    .name = "biglock",
    .description = "one global mutex around each packet and each change "
                   "(forward workload only: the stack before NET_MPSAFE)",
};
