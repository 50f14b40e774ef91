#!/bin/sh
# bench/plot.sh: PNG plots from an mpsafe-bench CSV file.
#
#   bench/plot.sh RESULTS.csv OUT_DIR
#
# Writes, for the workloads present in the file:
#   read-side.png     ns per read vs reader threads, one line per strategy
#                     (log y)
#   grace-period.png  wait latency p50 and p99 vs reader threads, one line
#                     per strategy (1 writer; log y)
#   defer.png         retires per second and pending-memory peak vs reader
#                     threads, one line per strategy
#   hold.png          mean and p99 take+drop time of a reference held
#                     across a sleep vs reader threads (log y)
#   destroy-latency.png  release-to-destroy-return latency, p50 and p99,
#                     with hollow marks for the run with idle CPUs polling
#                     (destroy-latency@qos0) when the CSV has one,
#                     one column per strategy, at the lowest holder count
#                     (log y)
#   route-lookup.png  ns per uncached route lookup vs reader threads (1
#                     churn thread), one line per strategy (log y)
# Any thread counts work: x is log2 (linear when a run has 0 readers), with
# a tick at every count present.  Needs gnuplot (pngcairo, else png);
# without it, prints a note and exits 0.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 RESULTS.csv OUT_DIR" >&2
	exit 2
fi
csv=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "plot.sh: gnuplot not found, no plots (apt-get install gnuplot-nox)" >&2
	exit 0
fi
if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
	term="pngcairo size 1100,650 font ',10' noenhanced"
else
	term="png size 1100,650 noenhanced"
fi

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# data WORKLOAD WRITERS: $tmp/WORKLOAD.dat and $tmp/WORKLOAD.names;
# fails (returns 1) when the workload has no rows.
data() {
	awk -v workload="$1" -v writers="$2" -v names="$tmp/$1.names" \
	    -f "$here/csv.awk" -f "$here/plotdata.awk" "$csv" >"$tmp/$1.dat"
	[ -s "$tmp/$1.names" ]
}

# xaxis WORKLOAD: gnuplot commands for the x axis (ticks at the counts).
xaxis() {
	awk '
	/^[0-9]/ { t[$1] = 1; if (min == "" || $1 < min) min = $1
		   if (max == "" || $1 > max) max = $1 }
	END {
		tics = ""
		for (x in t) tics = tics (tics == "" ? "" : ", ") x
		print "set xtics (" tics ")"
		if (min > 0) {
			print "set logscale x 2"
			printf "set xrange [%g:%g]\n", min / 1.3, max * 1.3
		} else {
			printf "set xrange [%g:%g]\n", min - 0.5, max + 0.5
		}
	}' "$tmp/$1.dat"
}

# Each strategy keeps its colour and point type in every plot: known names
# get fixed line types (pserialize's family drawn thicker), others follow.
known="none refcount rwlock pserialize psref localcount"
known="$known urcu-memb urcu-qsbr urcu-bp ck-epoch ck-hp ck-brlock biglock"
# styles WORKLOAD: gnuplot strings lts (line types) and lws (widths).
styles() {
	awk -v known="$known" '{
		nk = split(known, k, " ")
		extra = nk
		lts = ""; lws = ""
		for (i = 1; i <= NF; i++) {
			lt = 0
			for (j = 1; j <= nk; j++)
				if (k[j] == $i)
					lt = j
			if (lt == 0)
				lt = ++extra
			lw = ($i == "pserialize" || $i == "psref" || $i == "localcount") ? 3.5 : 1.8
			lts = lts (i > 1 ? " " : "") lt
			lws = lws (i > 1 ? " " : "") lw
		}
		printf "lts = \"%s\"\nlws = \"%s\"\n", lts, lws
	}' "$tmp/$1.names"
}

common="set terminal $term
set datafile missing '?'
set grid
set key outside right top
set xlabel 'reader threads'
set pointsize 1.3
set linetype 1 lc rgb '#7f7f7f' pt 1
set linetype 2 lc rgb '#d62728' pt 2
set linetype 3 lc rgb '#8c564b' pt 3
set linetype 4 lc rgb '#000000' pt 7
set linetype 5 lc rgb '#444444' pt 5
set linetype 6 lc rgb '#555599' pt 9
set linetype 7 lc rgb '#1f77b4' pt 4
set linetype 8 lc rgb '#17becf' pt 6
set linetype 9 lc rgb '#9467bd' pt 8
set linetype 10 lc rgb '#ff7f0e' pt 10
set linetype 11 lc rgb '#bcbd22' pt 12
set linetype 12 lc rgb '#2ca02c' pt 14
set linetype 13 lc rgb '#e377c2' pt 13
set linetype 14 lc rgb '#aec7e8' pt 11
set linetype 15 lc rgb '#98df8a' pt 15
set linetype 16 lc rgb '#ff9896' pt 3
set linetype cycle 16"

if data read-side ""; then
	gnuplot <<EOF
$common
$(xaxis read-side)
set output '$out/read-side.png'
names = "$(cat "$tmp/read-side.names")"
$(styles read-side)
set logscale y
set ylabel 'ns per read operation, per thread (log scale)'
set title 'read-side: cost of one read (enter, load pointer, read field, exit); lower is better'
plot for [i=1:words(names)] '$tmp/read-side.dat' index (i-1) \
    using 1:2 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
EOF
fi

if data route-lookup 1; then
	gnuplot <<EOF
$common
$(xaxis route-lookup)
set output '$out/route-lookup.png'
names = "$(cat "$tmp/route-lookup.names")"
$(styles route-lookup)
set logscale y
set ylabel 'ns per lookup, per thread (log scale)'
set title 'route-lookup: one uncached LPM lookup in a 1M-prefix table, churn thread running; lower is better'
plot for [i=1:words(names)] '$tmp/route-lookup.dat' index (i-1) \
    using 1:2 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
EOF
fi

if data grace-period 1; then
	gnuplot <<EOF
$common
$(xaxis grace-period)
set output '$out/grace-period.png'
names = "$(cat "$tmp/grace-period.names")"
$(styles grace-period)
set logscale y
set multiplot layout 1,2 title 'grace-period: writer wait_for_readers() latency, 1 writer, busy readers; lower is better'
set ylabel 'p50 wait (microseconds, log scale)'
set title 'median'
set bmargin 9
set key outside bottom center horizontal
plot for [i=1:words(names)] '$tmp/grace-period.dat' index (i-1) \
    using 1:3 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
set ylabel 'p99 wait (microseconds, log scale)'
set title '99th percentile'
unset key
plot for [i=1:words(names)] '$tmp/grace-period.dat' index (i-1) \
    using 1:4 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
unset multiplot
EOF
fi

if data defer ""; then
	gnuplot <<EOF
$common
$(xaxis defer)
set output '$out/defer.png'
names = "$(cat "$tmp/defer.names")"
$(styles defer)
set multiplot layout 1,2 title 'defer: one writer retiring 64-256 byte objects while readers read'
set yrange [0:*]
set ylabel 'million objects retired per second'
set title 'retire throughput (higher is better)'
set bmargin 7
set key outside bottom center horizontal
plot for [i=1:words(names)] '$tmp/defer.dat' index (i-1) \
    using 1:5 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
set ylabel 'MiB'
set title 'peak memory waiting for reclamation'
unset key
plot for [i=1:words(names)] '$tmp/defer.dat' index (i-1) \
    using 1:6 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
unset multiplot
EOF
fi

if data hold ""; then
	gnuplot <<EOF
$common
$(xaxis hold)
set output '$out/hold.png'
names = "$(cat "$tmp/hold.names")"
$(styles hold)
set logscale y
set multiplot layout 1,2 title 'hold: take a reference, sleep holding it, release (a writer replaces the object); lower is better'
set ylabel 'mean take+drop (ns, log scale)'
set title 'mean (counts readers blocked behind a writer, wake-ups)'
set bmargin 7
set key outside bottom center horizontal
plot for [i=1:words(names)] '$tmp/hold.dat' index (i-1) \
    using 1:2 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
set ylabel 'p99 take+drop (microseconds, log scale)'
set title '99th percentile'
unset key
plot for [i=1:words(names)] '$tmp/hold.dat' index (i-1) \
    using 1:4 with linespoints \
    lt int(word(lts, i)) lw word(lws, i) + 0 title word(names, i)
unset multiplot
EOF
fi

if data destroy-latency ""; then
	# One line per strategy: name, p50 and p99 (us) and the holder
	# count, at its lowest holder count (blocks are sorted by threads).
	awk '/^# / { name = $2; want = 1; next }
	     want && /^[0-9]/ { print name, $3, $4, $1; want = 0 }' \
	    "$tmp/destroy-latency.dat" >"$tmp/destroy-latency.bars"
	nbars=$(wc -l <"$tmp/destroy-latency.bars")
	holders=$(awk 'NR == 1 { print $4 }' "$tmp/destroy-latency.bars")
	# The run under a CPU latency request (run-suite.sh), when there is
	# one: its p50 and p99 as columns 5 and 6 of the same strategy's
	# line ("?", missing, where it has no row).
	qos=
	if data destroy-latency@qos0 ""; then
		awk 'FNR == NR { if (/^# /) { n = $2; w = 1 }
			else if (w && /^[0-9]/) { q[n] = $3 " " $4; w = 0 }
			next }
		     { print $0, ($1 in q) ? q[$1] : "? ?" }' \
		    "$tmp/destroy-latency@qos0.dat" \
		    "$tmp/destroy-latency.bars" >"$tmp/destroy-latency.qbars"
		mv "$tmp/destroy-latency.qbars" "$tmp/destroy-latency.bars"
		qos=", '' using 0:5 with points pt 6 ps 2.2 lc rgb '#000000' title 'median, idle CPUs polling (--cpu-latency 0)', '' using 0:6 with points pt 8 ps 2.2 lc rgb '#d62728' title '99th percentile, idle CPUs polling'"
	fi
	gnuplot <<EOF
$common
set output '$out/destroy-latency.png'
set datafile missing '?'
set logscale y
set xrange [-0.6:$nbars - 0.4]
set xlabel 'strategy'
set ylabel 'microseconds (log scale)'
set title "destroy-latency: from a holder's release to the return of the destroyer's wait, $holders holder(s); lower is better"
plot '$tmp/destroy-latency.bars' using 0:2:xtic(1) with points pt 7 ps 2.2 lc rgb '#000000' title 'median', \
    '' using 0:3 with points pt 9 ps 2.2 lc rgb '#d62728' title '99th percentile'$qos
EOF
fi

# forward: packets per second and one packet's p99 against threads,
# without churn (left) and with it (right).
if data forward 0; then
	mv "$tmp/forward.dat" "$tmp/forward0.dat"
	mv "$tmp/forward.names" "$tmp/forward0.names"
	if ! data forward 1; then
		: >"$tmp/forward.dat"
		echo "" >"$tmp/forward.names"
	fi
	cp "$tmp/forward0.names" "$tmp/forward-styles.names"
	gnuplot <<EOF
$common
$(xaxis forward0)
set terminal $(echo "$term" | sed 's/size [0-9]*,[0-9]*/size 1200,900/')
set output '$out/forward.png'
set xlabel 'forwarding threads'
names0 = "$(cat "$tmp/forward0.names")"
names1 = "$(cat "$tmp/forward.names")"
$(styles forward-styles)
idx_of(n) = (p = strstrt(" " . names0 . " ", " " . n . " "), p == 0 ? 0 : words(substr(names0, 1, p)))
lt_of(n) = idx_of(n) == 0 ? 1 : int(word(lts, idx_of(n)))
lw_of(n) = (n eq "pserialize" || n eq "psref") ? 3.5 : 1.8
set multiplot layout 2,2 title 'forward: receive interface, route cache / LPM table, output interface, neighbour table per packet'
set key inside left top
set ylabel 'packets per second, all threads (millions)'
set title 'throughput, no churn (higher is better)'
plot for [i=1:words(names0)] '$tmp/forward0.dat' index (i-1) \
    using 1:5 with linespoints lt lt_of(word(names0, i)) \
    lw lw_of(word(names0, i)) title word(names0, i)
set title 'throughput with churn: route updates, interface detach, 1% redirects'
if (words(names1) > 0) {
plot for [i=1:words(names1)] '$tmp/forward.dat' index (i-1) \
    using 1:5 with linespoints lt lt_of(word(names1, i)) \
    lw lw_of(word(names1, i)) title word(names1, i)
}
set logscale y
set ylabel 'p99 of one packet (microseconds, log scale)'
set title 'path latency p99, no churn (lower is better)'
plot for [i=1:words(names0)] '$tmp/forward0.dat' index (i-1) \
    using 1:4 with linespoints lt lt_of(word(names0, i)) \
    lw lw_of(word(names0, i)) title word(names0, i)
set title 'path latency p99 with churn'
if (words(names1) > 0) {
plot for [i=1:words(names1)] '$tmp/forward.dat' index (i-1) \
    using 1:4 with linespoints lt lt_of(word(names1, i)) \
    lw lw_of(word(names1, i)) title word(names1, i)
}
unset multiplot
EOF
fi
