#!/bin/sh
# bench/run-suite.sh: the default benchmark suite (what `make bench` runs).
#
#   bench/run-suite.sh [--full] BUILD_DIR OUT_DIR
#
# Runs BUILD_DIR/bench/mpsafe-bench over the suite below, writing every row
# to OUT_DIR/results.csv (started afresh), then prints one summary for the
# whole suite (also OUT_DIR/summary.txt and summary.md) and draws the plots
# OUT_DIR/*.png.  Each mpsafe-bench invocation's own table goes to
# OUT_DIR/bench.log; its progress lines go to stderr.
#
# Default suite (1 s measured + 0.2 s warm-up per run, reader threads 1,2;
# about a minute on 2 cores):
#   read-side     all 9 strategies
#   grace-period  every strategy that can wait (all but none), 1 writer;
#                 and pserialize, urcu-memb with 2 writers at 1 reader
#   defer         pserialize, urcu-memb, ck-epoch
# --full: 5 s per run, reader threads 1,2,4 (and the CPU count if larger).
# Ratios in the summary are against urcu-memb.
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

if [ $full -eq 1 ]; then
	secs=5
	threads=1,2,4
	ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	if [ "$ncpu" -gt 4 ]; then
		threads=$threads,$ncpu
	fi
else
	secs=1
	threads=1,2
fi
warmup=0.2
base=urcu-memb
all=none,refcount,rwlock,pserialize,urcu-memb,urcu-qsbr,urcu-bp,ck-epoch,ck-brlock
waiting=refcount,rwlock,pserialize,urcu-memb,urcu-qsbr,urcu-bp,ck-epoch,ck-brlock
deferring=pserialize,urcu-memb,ck-epoch

mkdir -p "$out" || exit 2
csv=$out/results.csv
log=$out/bench.log
rm -f "$csv" "$log" "$out/summary.txt" "$out/summary.md" \
    "$out/read-side.png" "$out/grace-period.png" "$out/defer.png"

status=0
start=$(date +%s)

# bench WORKLOAD ARGS...: one mpsafe-bench invocation into the CSV.
bench() {
	echo "== mpsafe-bench $*" >>"$log"
	if ! "$bin" "$@" --seconds "$secs" --warmup "$warmup" \
	    --baseline "$base" --csv "$csv" >>"$log"; then
		echo "run-suite.sh: FAILED: mpsafe-bench $*" >&2
		status=1
	fi
}

echo "run-suite.sh: $bin, $secs s per run, reader threads $threads" >&2
bench read-side --strategy "$all" --threads "$threads"
bench grace-period --strategy "$waiting" --threads "$threads"
bench grace-period --strategy pserialize,urcu-memb --threads 1 --writers 2
bench defer --strategy "$deferring" --threads "$threads"

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
