#!/bin/sh
# bench/scaling-run.sh: the scaling subset of the suite, for a machine with
# more cores than the one `make bench` usually runs on, in about five
# minutes (the time a borrowed machine allows).
#
#   bench/scaling-run.sh BIN OUT_DIR
#
# BIN is an mpsafe-bench command (the binary, or a wrapper that starts it
# with carried libraries: the machine may have none of liburcu, ck or
# DPDK installed).  Reader threads 1, 2, 4, 8 and the CPU count (when
# above 8), except destroy-latency (1 holder).  Every row goes to
# OUT_DIR/results.csv, the summary (bench/summarize.awk, the suite's) to
# OUT_DIR/summary.txt and summary.md, each invocation's own table to
# OUT_DIR/bench.log.  Plots are left to bench/plot.sh, run where gnuplot
# is.
#   read-side       pserialize, psref, localcount, urcu-memb, urcu-qsbr,
#                   ck-epoch, rwlock, refcount; 0.3 s x 3
#   read-scaling    none, pserialize, psref, localcount, refcount at the
#                   thread counts above 1; 1 s
#   grace-period    pserialize, psref, urcu-memb, rwlock; 0.5 s
#   destroy-latency psref, localcount, refcount, rwlock, ck-hp; 0.5 s x 5
#   route-lookup    rwlock, refcount, psref, pserialize, rwlock-nh,
#                   pserialize-nh, dpdk-fib (when built with DPDK); 1M
#                   prefixes, churn
#                   1000/s; 0.5 s
#   route-bulk      pserialize, pserialize-nh, dpdk-fib; 0.5 s
#   rtcache         psref, pserialize; 0.5 s
#   ifnet           psref, refcount, rwlock; 0.5 s x 3
#   forward         the suite's strategies, without and with churn;
#                   0.3 s x 3
# Exit status: 0, or 1 if a run failed.
set -u

[ $# -eq 2 ] || {
	echo "usage: $0 BIN OUT_DIR" >&2
	exit 2
}
bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
n=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
threads=1,2,4,8
if [ "$n" -gt 8 ]; then
	threads=$threads,$n
fi
mkdir -p "$out" || exit 2
csv=$out/results.csv
log=$out/bench.log
rm -f "$csv" "$log"
status=0
start=$(date +%s)

bench() {
	echo "== mpsafe-bench $*" >>"$log"
	if ! $bin "$@" --warmup 0.1 --csv "$csv" >>"$log"; then
		echo "scaling-run.sh: FAILED: mpsafe-bench $*" >&2
		status=1
	fi
}

routing=rwlock,refcount,psref,pserialize
bulk=pserialize
if $bin --list | grep -q '^  rwlock-nh '; then
	routing=$routing,rwlock-nh
fi
if $bin --list | grep -q '^  pserialize-nh '; then
	routing=$routing,pserialize-nh
	bulk=$bulk,pserialize-nh
fi
if $bin --list | grep -q '^  dpdk-fib '; then
	routing=$routing,dpdk-fib
	bulk=$bulk,dpdk-fib
fi

echo "scaling-run.sh: $bin, $n CPUs, reader threads $threads" >&2
bench read-side --strategy \
    pserialize,psref,localcount,urcu-memb,urcu-qsbr,ck-epoch,rwlock,refcount \
    --threads "$threads" --seconds 0.3 --repeat 3 --baseline urcu-memb
bench read-scaling --strategy none,pserialize,psref,localcount,refcount \
    --threads "${threads#1,}" --seconds 1 --baseline pserialize
bench grace-period --strategy pserialize,psref,urcu-memb,rwlock \
    --threads "$threads" --seconds 0.5 --baseline urcu-memb
bench destroy-latency --strategy psref,localcount,refcount,rwlock,ck-hp \
    --threads 1 --seconds 0.5 --repeat 5 --baseline psref
bench route-lookup --strategy "$routing" --threads "$threads" \
    --seconds 0.5 --baseline pserialize
bench route-bulk --strategy "$bulk" --threads "$threads" --seconds 0.5 \
    --baseline pserialize
bench rtcache --strategy psref,pserialize --threads "$threads" \
    --seconds 0.5 --baseline pserialize
bench ifnet --strategy psref,refcount,rwlock --threads "$threads" \
    --seconds 0.5 --repeat 3 --baseline psref
bench forward --strategy none,biglock,rwlock,refcount,psref,pserialize \
    --threads "$threads" --writers 0 --seconds 0.3 --repeat 3 \
    --baseline none
bench forward --strategy biglock,rwlock,refcount,psref,pserialize \
    --threads "$threads" --writers 1 --interval-us 10000 \
    --churn-rate 1000 --seconds 0.3 --repeat 3 --baseline pserialize

if [ -s "$csv" ]; then
	awk -v fmt=text -v baseline=urcu-memb -f "$here/csv.awk" \
	    -f "$here/summarize.awk" "$csv" >"$out/summary.txt"
	awk -v fmt=md -v baseline=urcu-memb -f "$here/csv.awk" \
	    -f "$here/summarize.awk" "$csv" >"$out/summary.md"
fi
echo "scaling-run.sh: $(($(date +%s) - start)) s" >&2
exit $status
