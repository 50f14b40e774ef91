/*
 * bench/route_bench.h: what the routing workloads share: building
 * requests for generated routes (defined in workload_route.c, used by
 * workload_route.c and workload_forward.c), and DPDK's rte_lpm behind
 * the dpdk-lpm strategy of the route workloads.
 *
 * The strategy exists only when CMake found libdpdk (pkg-config) and
 * defined BENCH_HAVE_DPDK; then strategy_dpdk_lpm.c is built with DPDK's
 * compiler flags, which no other file sees.  Like the workqueue
 * strategies it has no bench_strategy read or write operations: the
 * route workloads call the functions below instead, and every other
 * workload skips it (no read_loop, no wait_for_readers, no retire, no
 * hold).
 *
 * DPDK's environment (EAL) is started once per process, on first use,
 * without hugepages, PCI, telemetry or shared files (see
 * strategy_dpdk_lpm.c for the arguments); the calling thread's CPU
 * affinity is restored afterwards.
 */
#ifndef ROUTE_BENCH_H
#define ROUTE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpsafe/net/route.h>
#include <mpsafe/net/route_file.h>

/*
 * The output interface of generated next hop nh: the benchmarks spread
 * next hops over interfaces 1 to 4.
 */
#define BENCH_RT_IFINDEX(nh) (1u + (nh) % 4u)

/* bench_rt_sockaddr(family, addr, sa): *sa = the address bytes addr. */
void bench_rt_sockaddr(int family, const uint8_t *addr, union rt_sockaddr *sa);

/*
 * bench_rt_request(t, req, r, nh, flags): rtrequest(t, req, ...) for the
 * generated route r; for anything but RTM_DELETE with gateway
 * rtgen_nexthop(nh), interface BENCH_RT_IFINDEX(nh) and the flags
 * MPSAFE_RTF_GATEWAY | flags.  Returns rtrequest()'s value.
 */
int bench_rt_request(struct rt_table *t, int req, const struct rtgen_route *r,
    uint32_t nh, uint32_t flags);

struct bench_lpm;

#ifdef BENCH_HAVE_DPDK
/*
 * bench_lpm_create(routes, n, fib, lpmp): start the EAL if needed, create
 * an rte_lpm (fib: an rte_fib DIR24_8) sized for routes[0..n-1] (IPv4)
 * and add them all, next hop id = rg_nexthop.  *lpmp receives it.
 * Returns 0 or -1 after a message.
 */
int bench_lpm_create(const struct rtgen_route *routes, size_t n, bool fib,
    struct bench_lpm **lpmp);

/*
 * bench_lpm_lookup_loop(lpm, addrs, mask, pos, n, misses): n single
 * lookups of addrs[(*pos)++ & mask] (host byte order): rte_lpm_lookup()
 * inlined, or rte_fib_lookup_bulk() of one address; returns the sum of
 * the gateway addresses of the next hops found (bench_lpm_create()'s
 * table of them, indexed by next-hop id), adds the misses to *misses.
 */
uint64_t bench_lpm_lookup_loop(struct bench_lpm *lpm, const uint32_t *addrs,
    size_t mask, size_t *pos, uint64_t n, uint64_t *misses);

/* Largest burst of bench_lpm_lookup_bulk_loop(). */
#define BENCH_LPM_BURST_MAX 64

/*
 * bench_lpm_lookup_bulk_loop(lpm, addrs, mask, pos, n, burst, misses):
 * the same n lookups in bursts of burst addresses (at most
 * BENCH_LPM_BURST_MAX; mask + 1 a multiple of burst is not needed):
 * rte_lpm_lookup_bulk() (inlined; a hit has RTE_LPM_LOOKUP_SUCCESS set)
 * or rte_fib_lookup_bulk().
 */
uint64_t bench_lpm_lookup_bulk_loop(struct bench_lpm *lpm,
    const uint32_t *addrs, size_t mask, size_t *pos, uint64_t n, unsigned burst,
    uint64_t *misses);

/*
 * bench_lpm_update(lpm, routes, u): apply u (add, delete, change =
 * add over the existing rule) to lpm.  One writer at a time.  Returns
 * 0 or DPDK's negative errno.
 */
int bench_lpm_update(struct bench_lpm *lpm, const struct rtgen_route *routes,
    const struct rtgen_update *u);

/* Bytes DPDK's heap holds for lpm (measured around its creation). */
size_t bench_lpm_mem(const struct bench_lpm *lpm);

/* Prefixes added at creation. */
size_t bench_lpm_prefixes(const struct bench_lpm *lpm);

void bench_lpm_destroy(struct bench_lpm *lpm);
#endif

#endif /* ROUTE_BENCH_H */
