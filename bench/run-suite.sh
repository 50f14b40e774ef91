#!/bin/sh
# bench/run-suite.sh: the default benchmark suite (what `make bench` runs).
#
#   bench/run-suite.sh [--full] BUILD_DIR OUT_DIR
#
# Runs BUILD_DIR/bench/mpsafe-bench over the suite below, writing every row
# to OUT_DIR/results.csv (started afresh), then prints one summary for the
# whole suite (also OUT_DIR/summary.txt and summary.md) and draws the plots
# OUT_DIR/*.png.  OUT_DIR/machine.txt describes the machine
# (bench/machine-info.sh, run first).  Each mpsafe-bench invocation's own
# table goes to OUT_DIR/bench.log; its progress lines go to stderr.
#
# Default suite (reader threads 1,2; six to ten minutes on 2 cores,
# most of it rte_lpm's table load).  Runs
# marked "x N" are repeated N times, round-robin over the strategies, and
# each row is the median (mpsafe-bench --repeat):
#   read-side       all 12 strategies, 0.5 s x 5
#   read-scaling    all 12 strategies at 2 readers (--full: every thread
#                   count from 2 up to the CPU count), 3 s: each reader's
#                   cost with the others running over its cost alone on
#                   its own CPU, in 10 ms slices taken in turn
#   grace-period    every strategy that can wait for all readers (all but
#                   none and ck-hp), 1 writer, 0.5 s x 3; and pserialize,
#                   urcu-memb with 2 writers at 1 reader, 0.5 s x 3
#   defer           pserialize, urcu-memb, ck-epoch, ck-hp, 1 s
#   hold            psref, localcount, refcount, rwlock, ck-hp, 1 writer,
#                   0.5 s x 3
#   destroy-latency psref, localcount, refcount, rwlock, ck-hp, 1 holder,
#                   0.5 s x 3; then, when /dev/cpu_dma_latency is
#                   writable (Linux, as root), the same again under a
#                   PM QoS CPU latency request of 0 us (mpsafe-bench
#                   --cpu-latency 0; rows destroy-latency@qos0): idle
#                   CPUs poll instead of halting, so the figure is the
#                   wake-up itself, without the idle CPU's exit latency
#                   (see docs/bench.md)
#   workqueue       workqueue, mutex-queue, producers 1,2, 0.5 s x 3
#                   (ratios in mpsafe-bench's own table are against
#                   mutex-queue; summary.txt's, with no row of the
#                   summary's baseline, against the first strategy,
#                   workqueue)
#   ifnet           psref, refcount, rwlock, churn every 1 ms, 0.5 s x 3
#                   (ratios on ns per lookup, against psref; p50/p99 are
#                   the detach latency)
#   route-lookup    when built with DPDK, dpdk-lpm and dpdk-fib (first,
#                   see below), then rwlock, rwlock-nh (next-hop lookups
#                   on rwlock's table, under its read lock), refcount,
#                   psref, pserialize, pserialize-nh (next-hop lookups on
#                   a pserialize table of their own); one generated
#                   1M-prefix IPv4 table per design, built once; churn
#                   thread at 1000 updates/s; 0.5 s x 3
#   route-bulk      pserialize, pserialize-nh and, when built with DPDK,
#                   dpdk-fib
#                   (--full: rwlock too): route-lookup in batches of 32 addresses
#                   (rt_lookup_noref_bulk, rte_fib_lookup_bulk); its own
#                   tables (one mpsafe-bench invocation per workload),
#                   churn 1000/s, 0.5 s x 3
#   rtcache         psref, pserialize (route caches: psref in every
#                   design but pserialize's, which takes no reference; the
#                   others differ only on a miss), and pserialize-pair
#                   (the read section alone in the same loop: the cache
#                   hit's baseline, measured between its runs), churn
#                   1000/s, 0.5 s x 3
#   route-lookup6   rwlock, refcount, psref, pserialize: route-lookup in a
#                   generated 200k-prefix IPv6 table, churn 1000/s,
#                   0.5 s x 3
#   route-mem6      rwlock, pserialize: memory of a 200k-prefix IPv6 table
#                   (IPv4's is in the route-lookup rows)
#   forward         none, biglock, rwlock, refcount, psref, pserialize
#                   without churn, then all but none with churn (1000
#                   route updates/s, an interface replaced every 10 ms,
#                   1% redirects); forwarding threads 1,2,4 (4: more
#                   threads than these 2 cores, where a preempted lock
#                   holder stalls the others); 0.3 s x 3; its own
#                   generated IPv4 table (MPSAFE_BENCH_FORWARD_PREFIXES,
#                   default 1000000)
# --full: 2 s x 5 (read-side), 5 s (read-scaling), 5 s x 3 (grace-period, hold), 5 s
# (defer), 3 s x 3 (destroy-latency, route-lookup, route-bulk, rtcache),
# 2 s x 3 (ifnet, forward); reader threads 1,2,4 and the powers of two up
# to the CPU count and the CPU count (forward: and twice the CPU count;
# destroy-latency keeps 1 holder); route-bulk and route-mem add dpdk-lpm
# (its 1M-prefix load alone takes minutes: rte_lpm scans its rules
# linearly on each add; the default suite loads it once, for
# route-lookup), rtcache all four designs, route-mem the IPv4 build for
# every design and DPDK.
# Ratios in the summary are against urcu-memb (read-side, grace-period,
# defer; read-side and grace-period also against pserialize, and
# read-side has a psref/localcount block), psref (hold, ifnet,
# destroy-latency) and pserialize (route-lookup, route-bulk, rtcache,
# route-mem6; then a block of the routing table's figures; summary.txt's
# route-lookup table, whose baseline has no row there, takes its ratios
# against the first strategy, dpdk-lpm when built with DPDK) and none
# without churn
# (forward, then a block of its own figures).
#
# MPSAFE_BENCH_ROUTE_PREFIXES=N (environment) sets the IPv4 table size
# of route-lookup, route-bulk and rtcache (default 1000000).
#
# Exit status: 0; 1 if any run failed or saw a violation; 2 usage.
set -u

usage() {
	echo "usage: $0 [--full] BUILD_DIR OUT_DIR" >&2
	exit 2
}

full=0
if [ "${1:-}" = "--full" ]; then
	full=1
	shift
fi
[ $# -eq 2 ] || usage
build=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/mpsafe-bench

if [ ! -x "$bin" ]; then
	echo "run-suite.sh: $bin not found: build the release preset first" \
	    "(make bench does)" >&2
	exit 2
fi

# Per workload: measured seconds per run and repetitions.
if [ $full -eq 1 ]; then
	rs_secs=2 rs_rep=5
	sc_secs=5
	gp_secs=5 gp_rep=3
	df_secs=5
	hd_secs=5 hd_rep=3
	dl_secs=3 dl_rep=3
	wq_secs=2 wq_rep=3
	rt_secs=3 rt_rep=3
	if_secs=2 if_rep=3
	fw_secs=2 fw_rep=3
	# 1, 2, 4, then powers of two up to the CPU count, and the CPU
	# count itself (1,2,4,8,16 on 16 cores).
	threads=1,2,4
	n=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	t=8
	while [ $t -lt "$n" ]; do
		threads=$threads,$t
		t=$((t * 2))
	done
	if [ "$n" -gt 4 ]; then
		threads=$threads,$n
	fi
	warmup=0.2
else
	rs_secs=0.5 rs_rep=5
	sc_secs=3
	gp_secs=0.5 gp_rep=3
	df_secs=1
	hd_secs=0.5 hd_rep=3
	dl_secs=0.5 dl_rep=3
	wq_secs=0.5 wq_rep=3
	rt_secs=0.5 rt_rep=3
	if_secs=0.5 if_rep=3
	fw_secs=0.3 fw_rep=3
	threads=1,2
	warmup=0.1
fi
base=urcu-memb
all=none,refcount,rwlock,pserialize,psref,localcount,urcu-memb,urcu-qsbr
all=$all,urcu-bp,ck-epoch,ck-hp,ck-brlock
waiting=refcount,rwlock,pserialize,psref,localcount,urcu-memb,urcu-qsbr
waiting=$waiting,urcu-bp,ck-epoch,ck-brlock
deferring=pserialize,urcu-memb,ck-epoch,ck-hp
holding=psref,localcount,refcount,rwlock,ck-hp
routing=rwlock,rwlock-nh,refcount,psref,pserialize,pserialize-nh
rt_size=${MPSAFE_BENCH_ROUTE_PREFIXES:-1000000}
fw_size=${MPSAFE_BENCH_FORWARD_PREFIXES:-1000000}
forwarding=none,biglock,rwlock,refcount,psref,pserialize
# More forwarding threads than cores: 4, or twice the CPU count (--full).
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
fw_threads=1,2,4
if [ $full -eq 1 ] && [ "$ncpu" -gt 2 ]; then
	fw_threads=$threads,$((ncpu * 2))
fi
# read-scaling: the thread counts from 2 up to the CPU count (at least 2).
sc_threads=
for t in $(echo "$threads" | tr , ' '); do
	if [ "$t" -ge 2 ] && [ "$t" -le "$ncpu" ]; then
		sc_threads=${sc_threads:+$sc_threads,}$t
	fi
done
sc_threads=${sc_threads:-2}
caching=psref,pserialize,pserialize-pair
routemem=rwlock,pserialize
bulk=pserialize,pserialize-nh
# DPDK strategies exist only when mpsafe-bench was built with libdpdk.
# route-lookup runs both DPDK tables (rte_lpm is the issue's speed
# anchor; its 1M-prefix load alone takes one to five minutes here);
# route-bulk and route-mem add rte_lpm with --full.  They come first in
# route-lookup: a table is built at its strategy's first run, and built
# after ours rte_lpm's load left them idle that long, which on the
# project's VM makes their memory slow to reach (random reads of a
# 512 MiB array: 0.5 us after 1 s idle, 1.1-2.7 us after 30 s) and the
# updates after it 2-4x slower (deletes 5 -> 21 us, measured).
if "$bin" --list | grep -q '^  dpdk-fib '; then
	routing=dpdk-lpm,dpdk-fib,$routing
	routemem=$routemem,dpdk-fib
	bulk=$bulk,dpdk-fib
	if [ $full -eq 1 ]; then
		routemem=$routemem,dpdk-lpm
		bulk=$bulk,dpdk-lpm
	fi
fi
if [ $full -eq 1 ]; then
	caching=rwlock,refcount,psref,pserialize,pserialize-pair
	bulk=$bulk,rwlock
fi

mkdir -p "$out" || exit 2
csv=$out/results.csv
log=$out/bench.log
rm -f "$csv" "$log" "$out/summary.txt" "$out/summary.md" "$out/machine.txt" \
    "$out/read-side.png" "$out/grace-period.png" "$out/defer.png" \
    "$out/hold.png" "$out/destroy-latency.png" "$out/route-lookup.png" \
    "$out/forward.png"

status=0
start=$(date +%s)

# bench WORKLOAD ARGS...: one mpsafe-bench invocation into the CSV (ARGS
# give --seconds, --repeat, --baseline and the rest).
bench() {
	echo "== mpsafe-bench $*" >>"$log"
	if ! "$bin" "$@" --warmup "$warmup" --csv "$csv" >>"$log"; then
		echo "run-suite.sh: FAILED: mpsafe-bench $*" >&2
		status=1
	fi
}

# The machine, as the run starts (its idle and huge-page settings too).
"$here/machine-info.sh" >"$out/machine.txt"
echo "run-suite.sh: $bin, reader threads $threads" >&2
bench read-side --strategy "$all" --threads "$threads" \
    --seconds "$rs_secs" --repeat "$rs_rep" --baseline "$base"
bench read-scaling --strategy "$all" --threads "$sc_threads" \
    --seconds "$sc_secs" --baseline pserialize
bench grace-period --strategy "$waiting" --threads "$threads" \
    --seconds "$gp_secs" --repeat "$gp_rep" --baseline "$base"
bench grace-period --strategy pserialize,urcu-memb --threads 1 --writers 2 \
    --seconds "$gp_secs" --repeat "$gp_rep" --baseline "$base"
bench defer --strategy "$deferring" --threads "$threads" \
    --seconds "$df_secs" --baseline "$base"
bench hold --strategy "$holding" --threads "$threads" \
    --seconds "$hd_secs" --repeat "$hd_rep" --baseline psref
bench destroy-latency --strategy "$holding" --threads 1 \
    --seconds "$dl_secs" --repeat "$dl_rep" --baseline psref
if [ -w /dev/cpu_dma_latency ]; then
	bench destroy-latency --strategy "$holding" --threads 1 \
	    --seconds "$dl_secs" --repeat "$dl_rep" --baseline psref \
	    --cpu-latency 0
else
	echo "run-suite.sh: /dev/cpu_dma_latency not writable: no" \
	    "destroy-latency@qos0 rows" >&2
fi
bench workqueue --strategy workqueue,mutex-queue --threads "$threads" \
    --seconds "$wq_secs" --repeat "$wq_rep" --baseline mutex-queue
if "$bin" --list | grep -q '^  route-lookup '; then
	bench route-lookup --strategy "$routing" --threads "$threads" \
	    --seconds "$rt_secs" --repeat "$rt_rep" --baseline pserialize \
	    --table-size "$rt_size"
	if "$bin" --list | grep -q '^  route-bulk '; then
		bench route-bulk --strategy "$bulk" --threads "$threads" \
		    --seconds "$rt_secs" --repeat "$rt_rep" \
		    --baseline pserialize --table-size "$rt_size"
	fi
	bench rtcache --strategy "$caching" --threads "$threads" \
	    --seconds "$rt_secs" --repeat "$rt_rep" --baseline pserialize \
	    --table-size "$rt_size"
	if [ $full -eq 1 ]; then
		bench route-mem --strategy "$routemem" --threads 1 \
		    --baseline pserialize --table-size "$rt_size"
	fi
	bench route-lookup6 --strategy rwlock,refcount,psref,pserialize \
	    --threads "$threads" --seconds "$rt_secs" --repeat "$rt_rep" \
	    --baseline pserialize
	bench route-mem6 --strategy rwlock,pserialize --threads 1 \
	    --baseline pserialize
fi
bench ifnet --strategy psref,refcount,rwlock --threads "$threads" \
    --seconds "$if_secs" --repeat "$if_rep" --baseline psref
if "$bin" --list | grep -q '^  forward '; then
	bench forward --strategy "$forwarding" --threads "$fw_threads" \
	    --writers 0 --seconds "$fw_secs" --repeat "$fw_rep" \
	    --baseline none --table-size "$fw_size"
	bench forward --strategy "${forwarding#none,}" \
	    --threads "$fw_threads" --writers 1 --interval-us 10000 \
	    --churn-rate 1000 --seconds "$fw_secs" --repeat "$fw_rep" \
	    --baseline pserialize --table-size "$fw_size"
fi

if [ -s "$csv" ]; then
	awk -v fmt=text -v baseline="$base" -f "$here/csv.awk" \
	    -f "$here/summarize.awk" "$csv" >"$out/summary.txt"
	awk -v fmt=md -v baseline="$base" -f "$here/csv.awk" \
	    -f "$here/summarize.awk" "$csv" >"$out/summary.md"
	echo
	cat "$out/summary.txt"
	"$here/plot.sh" "$csv" "$out" || status=1
fi

end=$(date +%s)
echo
echo "run-suite.sh: $((end - start)) s; results in $csv, summary in" \
    "$out/summary.txt, plots $out/*.png"
if [ $status -ne 0 ]; then
	echo "run-suite.sh: some runs FAILED (see above and $log)" >&2
fi
exit $status
