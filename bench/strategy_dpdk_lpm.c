/*
 * bench/strategy_dpdk_lpm.c: DPDK's rte_lpm (DIR-24-8: one 2^24-entry
 * table indexed by the top 24 bits, 256-entry tbl8 groups for longer
 * prefixes) as the reference point of the route workloads (see
 * route_bench.h), and rte_fib (strategy dpdk-fib).  Built only when CMake
 * found libdpdk.
 *
 * Why two.  rte_lpm keeps its rules in one array grouped by length and
 * finds a rule by a linear scan of its length's group, so each add costs
 * O(rules of that length): loading 1M prefixes (540k of them /24) takes
 * one to five minutes (60-295 s measured on the 2-core machine), and one
 * update 20-160 us.  rte_fib's DIR24_8 has the same lookup table (tbl24 + tbl8
 * groups, 4-byte next hops) but keeps its rules in rte_rib, a trie, so it
 * loads 1M prefixes in seconds.  Its lookup exists only in bulk
 * (rte_fib_lookup_bulk()): route-lookup calls it with one address per
 * call (single lookups against single lookups), route-bulk with bursts
 * of 32 addresses, as a DPDK forwarder would (and rte_lpm_lookup_bulk()
 * for dpdk-lpm).
 *
 * Readers call rte_lpm_lookup() with no protection at all: rte_lpm lets
 * one writer update the table under lock-free readers (the writer fills a
 * tbl8 group before it publishes it with an atomic 32-bit store).  No
 * RCU (QSBR) is attached, as in DPDK's default, so a tbl8 group freed by
 * a delete may be reused while a reader still walks it: a reader may then
 * get a wrong next hop, but memory is never unmapped, so the lookup rate
 * is the one a DPDK forwarder would see.  Next hops are the generator's
 * next-hop indices (24 bits in DPDK 22.11's rte_lpm).  A lookup's result
 * is used as a forwarder uses it: the index selects the next hop's data,
 * here its gateway address in a table of them (bl_gw, 512 x 4 bytes), as
 * the mpsafe strategies read the gateway from the next hop or entry
 * their lookup returns.
 *
 * EAL arguments: "-l CPU --no-huge -m 1024 --no-pci --no-shconf
 * --no-telemetry --log-level=*:error": no hugepages (containers have no
 * hugetlbfs); -m 1024 because --no-huge defaults to 64 MiB, tbl24 alone
 * is 64 MiB and rte_fib at 1M prefixes needs about 300 MiB (-m 512
 * fails there with ENOMEM); no devices; no files under /var/run
 * (--in-memory refuses --no-huge; --no-shconf is its equivalent here);
 * one lcore: the first CPU this thread may run on.  rte_eal_init() pins the
 * calling thread to that lcore; its previous affinity is restored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_malloc.h>

#include "bench.h"
#include "route_bench.h"

struct bench_lpm {
	struct rte_lpm *bl_lpm; /* dpdk-lpm */
	struct rte_fib *bl_fib; /* dpdk-fib */
	uint32_t *bl_gw; /* gateway address by next-hop id (network order) */
	size_t bl_mem;
	size_t bl_prefixes;
};

static pthread_once_t eal_once = PTHREAD_ONCE_INIT;
static int eal_error;

static void
eal_start(void)
{
	char lcore[32], *argv[16];
	int argc = 0, cpu = 0;
	cpu_set_t saved;
	bool have_saved;

	have_saved =
	    pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	if (have_saved)
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved);
		     cpu++)
			continue;
	if (cpu == CPU_SETSIZE)
		cpu = 0;
	snprintf(lcore, sizeof(lcore), "%d", cpu);
	argv[argc++] = (char *)"mpsafe-bench";
	argv[argc++] = (char *)"-l";
	argv[argc++] = lcore;
	argv[argc++] = (char *)"--no-huge";
	argv[argc++] = (char *)"-m";
	argv[argc++] = (char *)"1024";
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = (char *)"--no-shconf";
	argv[argc++] = (char *)"--no-telemetry";
	argv[argc++] = (char *)"--log-level=*:error";
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		eal_error = rte_errno != 0 ? rte_errno : EINVAL;
		bench_warn("dpdk-lpm: rte_eal_init failed: %s",
		    rte_strerror(rte_errno));
	}
	if (have_saved)
		(void)pthread_setaffinity_np(
		    pthread_self(), sizeof(saved), &saved);
}

static size_t
heap_bytes(void)
{
	struct rte_malloc_socket_stats st;
	size_t total = 0;

	for (unsigned s = 0; s < rte_socket_count(); s++)
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) ==
		    0)
			total += st.heap_allocsz_bytes;
	return total;
}

static uint32_t
host_addr(const struct rtfile_prefix *p)
{
	return (uint32_t)p->rp_addr[0] << 24 | (uint32_t)p->rp_addr[1] << 16 |
	       (uint32_t)p->rp_addr[2] << 8 | p->rp_addr[3];
}

/* The next hop rte_fib returns on a miss (the generator uses fewer). */
#define FIB_MISS UINT64_C(0x7fffffff)

static int
fib_create(struct bench_lpm *bl, const struct rtgen_route *routes, size_t n,
    size_t longer, const char *name)
{
	struct rte_fib_conf fc;

	memset(&fc, 0, sizeof(fc));
	fc.type = RTE_FIB_DIR24_8;
	fc.default_nh = FIB_MISS;
	fc.max_routes = (int)(n + n / 4 + 1024);
	fc.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
	fc.dir24_8.num_tbl8 = (uint32_t)(longer + longer / 4 + 256);
	bl->bl_fib = rte_fib_create(name, (int)rte_socket_id(), &fc);
	if (bl->bl_fib == NULL) {
		bench_warn(
		    "dpdk-fib: rte_fib_create: %s", rte_strerror(rte_errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int error =
		    rte_fib_add(bl->bl_fib, host_addr(&routes[i].rg_dst),
		        routes[i].rg_dst.rp_plen, routes[i].rg_nexthop);

		if (error != 0) {
			bench_warn("dpdk-fib: rte_fib_add of route %zu: %s", i,
			    strerror(-error));
			rte_fib_free(bl->bl_fib);
			return -1;
		}
	}
	return 0;
}

/* Gateway address of each next-hop id of routes (malloc'ed), or NULL. */
static uint32_t *
gateways(const struct rtgen_route *routes, size_t n)
{
	uint32_t max = 0, *gw;

	for (size_t i = 0; i < n; i++)
		if (routes[i].rg_nexthop > max)
			max = routes[i].rg_nexthop;
	gw = calloc((size_t)max + 1, sizeof(*gw));
	for (uint32_t i = 0; gw != NULL && i <= max; i++)
		rtgen_nexthop(AF_INET, i, (uint8_t *)&gw[i]);
	return gw;
}

int
bench_lpm_create(const struct rtgen_route *routes, size_t n, bool fib,
    struct bench_lpm **lpmp)
{
	static unsigned serial;
	struct rte_lpm_config cfg = {0};
	struct bench_lpm *bl;
	size_t longer = 0, before;
	char name[32];

	pthread_once(&eal_once, eal_start);
	if (eal_error != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (routes[i].rg_dst.rp_family != AF_INET) {
			bench_warn("dpdk-lpm: IPv4 tables only");
			return -1;
		}
		longer += routes[i].rg_dst.rp_plen > 24;
	}
	bl = calloc(1, sizeof(*bl));
	if (bl == NULL || (bl->bl_gw = gateways(routes, n)) == NULL) {
		bench_warn("out of memory");
		free(bl);
		return -1;
	}
	cfg.max_rules = (uint32_t)(n + n / 4 + 1024);
	/* One tbl8 group per /24 holding a longer prefix, at most. */
	cfg.number_tbl8s = (uint32_t)(longer + longer / 4 + 256);
	snprintf(name, sizeof(name), "bench-lpm-%u", serial++);
	before = heap_bytes();
	if (fib) {
		if (fib_create(bl, routes, n, longer, name) != 0) {
			free(bl->bl_gw);
			free(bl);
			return -1;
		}
		goto done;
	}
	bl->bl_lpm = rte_lpm_create(name, (int)rte_socket_id(), &cfg);
	if (bl->bl_lpm == NULL) {
		bench_warn(
		    "dpdk-lpm: rte_lpm_create: %s", rte_strerror(rte_errno));
		free(bl->bl_gw);
		free(bl);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int error =
		    rte_lpm_add(bl->bl_lpm, host_addr(&routes[i].rg_dst),
		        routes[i].rg_dst.rp_plen, routes[i].rg_nexthop);

		if (error != 0) {
			bench_warn("dpdk-lpm: rte_lpm_add of route %zu: %s", i,
			    strerror(-error));
			rte_lpm_free(bl->bl_lpm);
			free(bl->bl_gw);
			free(bl);
			return -1;
		}
	}
done:
	bl->bl_mem = heap_bytes() - before;
	bl->bl_prefixes = n;
	*lpmp = bl;
	return 0;
}

uint64_t
bench_lpm_lookup_bulk_loop(struct bench_lpm *lpm, const uint32_t *addrs,
    size_t mask, size_t *pos, uint64_t n, unsigned burst, uint64_t *misses)
{
	uint64_t sum = 0, miss = 0;
	size_t p = *pos;

	if (burst == 0 || burst > BENCH_LPM_BURST_MAX)
		burst = BENCH_LPM_BURST_MAX;
	for (uint64_t i = 0; i < n; i += burst) {
		uint32_t buf[BENCH_LPM_BURST_MAX];
		unsigned k = n - i < burst ? (unsigned)(n - i) : burst;
		const uint32_t *ips = &addrs[p & mask];

		/* The burst in place unless it wraps around the list. */
		if ((p & mask) + k > mask + 1) {
			for (unsigned j = 0; j < k; j++)
				buf[j] = addrs[(p + j) & mask];
			ips = buf;
		}
		p += k;
		if (lpm->bl_fib != NULL) {
			uint64_t nhs[BENCH_LPM_BURST_MAX];

			/* Takes uint32_t *, reads only. */
			rte_fib_lookup_bulk(
			    lpm->bl_fib, (uint32_t *)ips, nhs, (int)k);
			for (unsigned j = 0; j < k; j++) {
				if (nhs[j] != FIB_MISS)
					sum += lpm->bl_gw[nhs[j]];
				else
					miss++;
			}
		} else {
			uint32_t nhs[BENCH_LPM_BURST_MAX];

			rte_lpm_lookup_bulk(lpm->bl_lpm, ips, nhs, k);
			for (unsigned j = 0; j < k; j++) {
				if (nhs[j] & RTE_LPM_LOOKUP_SUCCESS)
					sum += lpm->bl_gw[nhs[j] & 0x00ffffff];
				else
					miss++;
			}
		}
	}
	*pos = p;
	*misses += miss;
	return sum;
}

uint64_t
bench_lpm_lookup_loop(struct bench_lpm *lpm, const uint32_t *addrs, size_t mask,
    size_t *pos, uint64_t n, uint64_t *misses)
{
	const struct rte_lpm *l = lpm->bl_lpm;
	uint64_t sum = 0, miss = 0;
	size_t p = *pos;

	if (lpm->bl_fib != NULL) {
		/* rte_fib has only a bulk lookup: bursts of one address. */
		for (uint64_t i = 0; i < n; i++) {
			uint32_t ip = addrs[p++ & mask];
			uint64_t nh;

			rte_fib_lookup_bulk(lpm->bl_fib, &ip, &nh, 1);
			if (nh != FIB_MISS)
				sum += lpm->bl_gw[nh];
			else
				miss++;
		}
		*pos = p;
		*misses += miss;
		return sum;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint32_t nh;

		if (rte_lpm_lookup(l, addrs[p++ & mask], &nh) == 0)
			sum += lpm->bl_gw[nh];
		else
			miss++;
	}
	*pos = p;
	*misses += miss;
	return sum;
}

int
bench_lpm_update(struct bench_lpm *lpm, const struct rtgen_route *routes,
    const struct rtgen_update *u)
{
	const struct rtfile_prefix *p = &routes[u->ru_index].rg_dst;

	if (lpm->bl_fib != NULL) {
		if (u->ru_op == RTGEN_DELETE)
			return rte_fib_delete(
			    lpm->bl_fib, host_addr(p), p->rp_plen);
		return rte_fib_add(
		    lpm->bl_fib, host_addr(p), p->rp_plen, u->ru_nexthop);
	}
	if (u->ru_op == RTGEN_DELETE)
		return rte_lpm_delete(lpm->bl_lpm, host_addr(p), p->rp_plen);
	/* Add and change: rte_lpm_add() replaces an existing rule's hop. */
	return rte_lpm_add(
	    lpm->bl_lpm, host_addr(p), p->rp_plen, u->ru_nexthop);
}

size_t
bench_lpm_mem(const struct bench_lpm *lpm)
{
	return lpm->bl_mem;
}

size_t
bench_lpm_prefixes(const struct bench_lpm *lpm)
{
	return lpm->bl_prefixes;
}

void
bench_lpm_destroy(struct bench_lpm *lpm)
{
	if (lpm == NULL)
		return;
	if (lpm->bl_fib != NULL)
		rte_fib_free(lpm->bl_fib);
	else
		rte_lpm_free(lpm->bl_lpm);
	free(lpm->bl_gw);
	free(lpm);
}

static int
dpdk_lpm_init(void)
{
	return 0;
}

static void
dpdk_lpm_fini(void)
{
}

static void
dpdk_lpm_thread_register(enum bench_role role)
{
	(void)role;
}

static void
dpdk_lpm_thread_unregister(void)
{
}

const struct bench_strategy strategy_dpdk_lpm = {
    .name = "dpdk-lpm",
    .description = "DPDK rte_lpm (DIR-24-8), lock-free readers, one "
                   "writer, no RCU (route-lookup, route-bulk, route-mem only)",
    .init = dpdk_lpm_init,
    .fini = dpdk_lpm_fini,
    .thread_register = dpdk_lpm_thread_register,
    .thread_unregister = dpdk_lpm_thread_unregister,
};

const struct bench_strategy strategy_dpdk_fib = {
    .name = "dpdk-fib",
    .description = "DPDK rte_fib DIR24_8 (rte_lpm's lookup table, rte_rib "
                   "as RIB: fast updates), one writer (route-lookup, "
                   "route-bulk, route-mem only)",
    .init = dpdk_lpm_init,
    .fini = dpdk_lpm_fini,
    .thread_register = dpdk_lpm_thread_register,
    .thread_unregister = dpdk_lpm_thread_unregister,
};
