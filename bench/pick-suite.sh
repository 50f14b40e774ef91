#!/bin/sh
# bench/pick-suite.sh: which of several suite runs to record.
#
#   bench/pick-suite.sh OUT_DIR OUT_DIR...
#
# The rule (docs/bench.md, "Choosing the run to record"), fixed before
# the runs it judges: run the suite two or more times on the final code,
# back to back, and record the run the host disturbed least, judged on
# the rows whose figures the issues' read-side targets quote:
#
#   steal   the largest steal_pct of the read-side and read-scaling rows
#           (the hypervisor's share of CPU time during their runs);
#   spread  the largest spread of the read-side rows of none,
#           pserialize, psref, localcount and refcount, at every thread
#           count.
#
# A run whose steal is above 5 (percent) is set aside while some run's is
# not (or is not known: CSV files without the column); among the runs
# left, the smallest spread (to two decimals) wins; ties go to the
# smaller steal, then to the run named first.  Prints one line per run
# (its directory, the suite's date, spread, steal, and "set aside" where
# so), then "record: OUT_DIR".  Exit status 0; 1 if a run has no
# results.csv or no read-side rows; 2 usage.
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 OUT_DIR OUT_DIR..." >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)

# Per run, one tab-separated line: directory, date, spread, steal ("-":
# the CSV has no steal_pct column).
judge='
NR == 1 {
	n = csvsplit($0, h)
	for (i = 1; i <= n; i++)
		ci[h[i]] = i
	next
}
{
	csvsplit($0, f)
	if (date == "")
		date = f[ci["date"]]
	w = f[ci["workload"]]
	s = f[ci["strategy"]]
	if (w == "read-side" &&
	    s ~ /^(none|pserialize|psref|localcount|refcount)$/) {
		rows++
		if (f[ci["spread"]] != "" && f[ci["spread"]] + 0 > spread)
			spread = f[ci["spread"]] + 0
	}
	if ((w == "read-side" || w == "read-scaling") &&
	    ("steal_pct" in ci) && f[ci["steal_pct"]] != "") {
		hassteal = 1
		if (f[ci["steal_pct"]] + 0 > steal)
			steal = f[ci["steal_pct"]] + 0
	}
}
END {
	if (rows == 0) {
		print "pick-suite.sh: " dir ": no read-side rows" >"/dev/stderr"
		exit 1
	}
	printf "%s\t%s\t%.2f\t%s\n", dir, date, spread,
	    hassteal ? sprintf("%.1f", steal) : "-"
}'
prog="$(cat "$here/csv.awk")
$judge"

runs=$(for d in "$@"; do
	if [ ! -s "$d/results.csv" ]; then
		echo "pick-suite.sh: $d/results.csv missing or empty" >&2
		exit 1
	fi
	awk -v dir="$d" "$prog" "$d/results.csv" || exit 1
done)

printf '%s\n' "$runs" | awk -F '\t' '
{
	dir[NR] = $1; date[NR] = $2; spread[NR] = $3 + 0; steal[NR] = $4
	if ($4 == "-" || $4 + 0 <= 5)
		quiet++
}
END {
	best = 0
	for (i = 1; i <= NR; i++) {
		aside = quiet > 0 && steal[i] != "-" && steal[i] + 0 > 5
		printf "%s  run %s  spread %.2f  steal %s%s\n", dir[i], date[i],
		    spread[i], steal[i] == "-" ? "-" : steal[i] "%",
		    aside ? "  (set aside: steal above 5%)" : ""
		if (aside)
			continue
		if (best == 0 || spread[i] < spread[best] ||
		    (spread[i] == spread[best] && steal[i] + 0 < steal[best] + 0))
			best = i
	}
	print "record: " dir[best]
}'
