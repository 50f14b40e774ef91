#!/bin/sh
# bench-scripts.sh SRCDIR: the benchmark's record-keeping scripts on
# made-up input.  bench/pick-suite.sh must apply the rule of docs/bench.md
# ("Choosing the run to record"): a run with more than 5% steal in its
# read-side or read-scaling rows is set aside while another is not; then
# the smallest largest spread of the read-side rows of none, pserialize,
# psref, localcount and refcount wins (other strategies' spreads do not
# count).  bench/machine-info.sh must describe the machine and exit 0.
set -eu
src=$1
pick=$src/bench/pick-suite.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# run DIR STEAL ROWS...: a results.csv whose rows are
# "workload,strategy,spread" triples (threads 2, the steal given; "-"
# for a CSV without the steal_pct column).
run() {
	d=$tmp/$1 steal=$2
	shift 2
	mkdir -p "$d"
	if [ "$steal" = "-" ]; then
		echo "workload,strategy,threads,date,spread" >"$d/results.csv"
	else
		echo "workload,strategy,threads,date,spread,steal_pct" \
		    >"$d/results.csv"
	fi
	for r in "$@"; do
		w=${r%%,*} rest=${r#*,}
		s=${rest%%,*} sp=${rest#*,}
		if [ "$steal" = "-" ]; then
			echo "$w,$s,2,2026-01-01T00:00:00Z,$sp"
		else
			echo "$w,$s,2,2026-01-01T00:00:00Z,$sp,$steal"
		fi >>"$d/results.csv"
	done
}

# expect WANT ARGS...: pick-suite.sh ARGS must say "record: $tmp/WANT".
expect() {
	want=$1
	shift
	out=$(sh "$pick" "$@") || {
		echo "FAIL: pick-suite.sh $* exited $?"
		fail=1
		return
	}
	if ! printf '%s\n' "$out" | grep -qx "record: $tmp/$want"; then
		echo "FAIL: pick-suite.sh $*: want $want, got:"
		printf '%s\n' "$out"
		fail=1
	fi
}

# a: spread 1.60, rwlock's 5.0 and read-scaling's 4.0 ignored; steal 1%.
run a 1.0 read-side,none,1.2 read-side,psref,1.6 read-side,rwlock,5.0 \
    read-scaling,refcount,4.0
# b: the smallest spread, but 7% steal.
run b 7.0 read-side,none,1.1 read-side,psref,1.3 read-scaling,none,
# c: spread 1.70, steal 2%.
run c 2.0 read-side,pserialize,1.7 read-side,localcount,1.6
# g: spread 2.00, refcount's.
run g 0.0 read-side,none,1.0 read-side,refcount,2.0
# d: spread 1.20, 9% steal.
run d 9.0 read-side,none,1.2
# e: no steal column, spread 1.50.
run e - read-side,psref,1.5 read-side,ck-hp,9.9
# f: no read-side rows.
run f 0.0 hold,psref,1.0

expect a "$tmp/a" "$tmp/b" "$tmp/c"      # b set aside, a < c
expect c "$tmp/g" "$tmp/c"               # refcount's spread counts
expect a "$tmp/b" "$tmp/a"               # b set aside
expect d "$tmp/b" "$tmp/d"               # both above 5%: spread decides
expect e "$tmp/a" "$tmp/e" "$tmp/d"      # unknown steal is not set aside
if sh "$pick" "$tmp/a" "$tmp/f" >/dev/null 2>&1; then
	echo "FAIL: pick-suite.sh accepted a run without read-side rows"
	fail=1
fi
if sh "$pick" "$tmp/a" "$tmp/none" >/dev/null 2>&1; then
	echo "FAIL: pick-suite.sh accepted a missing results.csv"
	fail=1
fi
set +e
sh "$pick" "$tmp/a" >/dev/null 2>&1
rc=$?
set -e
if [ $rc -ne 2 ]; then
	echo "FAIL: pick-suite.sh with one run exited $rc, not 2 (usage)"
	fail=1
fi

# machine-info.sh: every section, exit 0.
out=$(sh "$src/bench/machine-info.sh") || {
	echo "FAIL: machine-info.sh exited $?"
	fail=1
}
for section in lscpu "uname -a" "transparent huge pages" cpuidle steal; do
	if ! printf '%s\n' "$out" | grep -q "^== $section"; then
		echo "FAIL: machine-info.sh printed no \"$section\" section"
		fail=1
	fi
done
exit $fail
