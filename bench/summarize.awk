# bench/summarize.awk: summary tables from an mpsafe-bench CSV file.
#
#   awk -v fmt=text|md -v baseline=urcu-memb [-v baseline2=pserialize] \
#       -f bench/csv.awk -f bench/summarize.awk results.csv
#
# One table per workload, rows in file order: strategy, reader threads,
# writers, ns/op, ops/s, and where the workload measures them the
# latency (p50, p99), writer operations per second and the pending-memory
# peak; then the ratio to the baseline strategy's row with the same
# workload, threads and writers; then, where the file has rows of
# baseline2 (default pserialize) for that workload, a second ratio to
# those; then, for rows that are medians of several runs (mpsafe-bench
# --repeat), the spread (largest / smallest metric over the runs).
#
# The metric (lower is better) is lat_p50_ns for grace-period (wait) and
# destroy-latency, ns_per_op for hold (mean take+drop; see docs/bench.md),
# for ifnet (ns per lookup; its latency columns are the detach latency),
# for the route workloads (whose p50 is the churn thread's update) and
# for every other workload (a workload named W@qosN, a run under
# mpsafe-bench --cpu-latency N, as W), except that a workload unknown to this
# script with a lat_p50_ns column uses it.  A workload with no row of the
# baseline strategy takes its ratios against its first strategy.
#
# After the read-side table, when the file has psref or localcount rows,
# a short block compares them with pserialize (times its ns/op) and
# refcount (how many times cheaper) at each thread count, and another
# the per-thread cost at each thread count against 1 thread's, raw and
# over none's (the empty loop's) own ratio; both blocks also give the
# same ratios taken between the rows' best runs (CSV column best).
#
# Workloads with mem_bytes/mem_prefixes (route-*) get a B/prefix column.
# forward's ratios are against none's row without churn at the same
# threads (none runs only without churn); a block after the routing
# block lists its own figures from the extra column (see
# bench/workload_forward.c): packets/s over none's, path latency, cache
# hits, stale routes, update and detach latency, control messages.
# At the end, when the file has routing-table rows, a block lists the
# routing table's figures: pserialize's route-lookup against rwlock,
# refcount and psref (times faster; the same in route-lookup6, the IPv6
# table), its lookup rate over dpdk-lpm's and
# dpdk-fib's, pserialize-nh's (next-hop lookups) rate over pserialize's
# and the locked designs' (route-lookup) and dpdk-lpm's and dpdk-fib's
# in route-lookup and route-bulk, rtcache's cached lookup against the
# pserialize enter/exit pair (times its cost): rtcache's own
# pserialize-pair row of the same invocation when there is one, else
# read-side's pserialize row, each strategy's update p50/p99 and
# pending peak, and bytes per prefix from route-mem and route-mem6.
#
# fmt=md writes Markdown tables and a machine table (for docs/results);
# fmt=text aligned columns; fmt=runinfo one line: the number of rows, the
# runs behind them and the mean measured seconds per run; fmt=rundate the
# first row's date (the run's name in docs/results/reading.md).  Columns are
# found by header name, so the script keeps working when columns are
# added and reads files written before a column existed.  Plain POSIX awk
# (mawk).

# The DPDK version of row r ("-" in files written before the column).
function dpdk() { return col("dpdk_version") == "" ? "-" : col("dpdk_version") }
function get_f(name) { return (name in ci) ? f[ci[name]] : "" }
function col(name) { return (name in ci) ? row[r, ci[name]] : "" }
function get(k, name) { return (name in ci) ? row[k, ci[name]] : "" }

# Workload w without the @qosN of a run under mpsafe-bench --cpu-latency
# (destroy-latency@qos0 is measured and named as destroy-latency).
function plain(w) {
	sub(/@qos[0-9]+$/, "", w)
	return w
}

# Whether workload w's ratios are taken on lat_p50_ns.
function latmetric(w) {
	w = plain(w)
	if (w == "grace-period" || w == "destroy-latency")
		return 1
	if (w == "hold" || w == "read-side" || w == "defer" || w == "ifnet")
		return 0
	# Route workloads: lookups per thread; their p50 is the churn's.
	if (w == "rtcache" || w ~ /^route-/)
		return 0
	# forward: ns per packet per thread; its p50 is one packet's path.
	if (w == "forward")
		return 0
	return haslat[w]
}

function metric(k,    w) {
	w = get(k, "workload")
	if (latmetric(w) && get(k, "lat_p50_ns") != "")
		return get(k, "lat_p50_ns") + 0
	if (!latmetric(w) && get(k, "ns_per_op") != "")
		return get(k, "ns_per_op") + 0
	return -1
}

function mname(w) {
	w = plain(w)
	if (w == "grace-period")
		return "wait p50"
	if (w == "destroy-latency")
		return "destroy latency p50"
	if (w == "hold")
		return "mean take+drop ns"
	if (w == "ifnet")
		return "ns/lookup"
	if (w == "forward")
		return "ns/packet"
	return latmetric(w) ? "p50" : "ns/op"
}

function num(v, prec) {
	if (v == "")
		return "-"
	return sprintf("%." prec "f", v)
}

# Print one table row (cells in cell[1..nc]).
function emit(nc,    i, line) {
	if (fmt == "md") {
		line = "|"
		for (i = 1; i <= nc; i++)
			line = line " " cell[i] " |"
		print line
	} else {
		line = sprintf("%-15s %-12s %4s %3s", cell[1], cell[2],
		    cell[3], cell[4])
		for (i = 5; i <= nc; i++)
			line = line sprintf(" %12s", cell[i])
		print line
	}
}

# The Markdown separator line for nc columns (first two left-aligned).
function mdsep(nc, left,    i, sep) {
	sep = "|"
	for (i = 1; i <= nc; i++)
		sep = sep (i <= left ? "---|" : "---:|")
	print sep
}

BEGIN {
	if (fmt == "")
		fmt = "text"
	if (baseline == "")
		baseline = "urcu-memb"
	if (baseline2 == "")
		baseline2 = "pserialize"
	nrows = 0; nw = 0; nruns = 0
}

{
	sub(/\r$/, "")
	n = csvsplit($0, f)
	if (NR == 1) {
		for (i = 1; i <= n; i++)
			ci[f[i]] = i
		next
	}
	if ($0 == "")
		next
	nrows++
	reps = get_f("repeat") == "" ? 1 : get_f("repeat") + 0
	nruns += reps
	secs += get_f("seconds")
	for (i = 1; i <= n; i++)
		row[nrows, i] = f[i]
	w = f[ci["workload"]]
	s = get(nrows, "strategy")
	if (!(w in seen)) {
		seen[w] = 1
		worder[++nw] = w
		first[w] = s
	}
	# Which optional columns a workload uses.
	if (get(nrows, "lat_p50_ns") != "")
		haslat[w] = 1
	if (get(nrows, "pending_peak_bytes") != "")
		haspend[w] = 1
	if (get(nrows, "writer_ops") != "")
		haswops[w] = 1
	if (get(nrows, "spread") != "")
		hasspread[w] = 1
	if (get(nrows, "mem_bytes") != "" && get(nrows, "mem_prefixes") + 0 > 0)
		hasmem[w] = 1
	if (reps > maxrep[w])
		maxrep[w] = reps
	if (s == baseline)
		hasbase[w] = 1
	if (s == baseline2)
		hasbase2[w] = 1
}

function ratio(v) {
	if (v >= 100)
		return sprintf("%.0f", v)
	if (v >= 10)
		return sprintf("%.1f", v)
	if (v >= 0.1)
		return sprintf("%.2f", v)
	return sprintf("%.2g", v)
}

# Metric of strategy bs's row for the same workload, threads and writers
# as row k: the one of the same invocation (same date) if there is one,
# else the latest; -1 if none.
function base_of(k, bs,    j, m, w, t, wr, d) {
	m = -1
	w = get(k, "workload"); t = get(k, "threads")
	wr = get(k, "writers"); d = get(k, "date")
	for (j = 1; j <= nrows; j++) {
		if (get(j, "strategy") != bs || get(j, "workload") != w ||
		    get(j, "threads") != t || get(j, "writers") != wr)
			continue
		m = metric(j)
		if (get(j, "date") == d)
			return m
	}
	# forward: none runs without churn only; churn rows compare with it.
	if (m == -1 && w == "forward" && wr != "0")
		for (j = 1; j <= nrows; j++)
			if (get(j, "strategy") == bs && get(j, "workload") == w &&
			    get(j, "threads") == t && get(j, "writers") == "0")
				m = metric(j)
	return m
}

# The ratio cell of row k against strategy bs.
function ratio_cell(k, bs,    m, b) {
	m = metric(k)
	b = base_of(k, bs)
	if (b > 0 && m >= 0)
		return ratio(m / b)
	return "-"
}

# Row of strategy s in workload w at threads t (latest; 0 if none).
function find_row(w, s, t,    j, found) {
	found = 0
	for (j = 1; j <= nrows; j++)
		if (get(j, "workload") == w && get(j, "strategy") == s &&
		    get(j, "threads") == t)
			found = j
	return found
}

# psref and localcount against pserialize and refcount, read-side.
function ref_block(    j, t, s, k, p, c, nt, nc, tl, m, tseen, names) {
	nt = 0
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "read-side")
			continue
		s = get(j, "strategy")
		if (s != "psref" && s != "localcount")
			continue
		t = get(j, "threads")
		if (!(t in tseen)) {
			tseen[t] = 1
			tl[++nt] = t
		}
	}
	if (nt == 0)
		return
	print ""
	if (fmt == "md")
		printf "#### psref and localcount against pserialize and " \
		    "refcount\n\nx pserialize = ns/op / pserialize's; refcount / " \
		    "= refcount's ns/op / this one's (times cheaper); best x " \
		    "pser = the same as x pserialize, between the best runs\n\n"
	else
		print "== read-side: psref and localcount against pserialize" \
		    " (x = ns/op / pserialize's) and refcount (refcount/ =" \
		    " times cheaper); best x pser: x between the best runs"
	nc = 0
	cell[++nc] = "workload"; cell[++nc] = "strategy"
	cell[++nc] = "thr"; cell[++nc] = "wr"
	cell[++nc] = "ns/op"; cell[++nc] = "x pserialize"
	cell[++nc] = "refcount /"; cell[++nc] = "best x pser"
	emit(nc)
	if (fmt == "md")
		mdsep(nc, 2)
	for (k = 1; k <= nt; k++) {
		t = tl[k]
		p = find_row("read-side", "pserialize", t)
		c = find_row("read-side", "refcount", t)
		split("psref localcount", names, " ")
		for (s = 1; s <= 2; s++) {
			j = find_row("read-side", names[s], t)
			if (j == 0)
				continue
			m = get(j, "ns_per_op")
			nc = 0
			cell[++nc] = "read-side"; cell[++nc] = names[s]
			cell[++nc] = t; cell[++nc] = get(j, "writers")
			cell[++nc] = num(m, 3)
			if (p > 0 && get(p, "ns_per_op") + 0 > 0 && m != "")
				cell[++nc] = ratio(m / get(p, "ns_per_op"))
			else
				cell[++nc] = "-"
			if (c > 0 && m + 0 > 0 && get(c, "ns_per_op") != "")
				cell[++nc] = ratio(get(c, "ns_per_op") / m)
			else
				cell[++nc] = "-"
			cell[++nc] = best_ratio(j, p)
			emit(nc)
		}
	}
}

# Ratio of row j's best (the fastest of its runs) to row b's, or "-"
# where either has none (one run, or a file from before the column).
function best_ratio(j, b) {
	if (j > 0 && b > 0 && get(j, "best") + 0 > 0 && get(b, "best") + 0 > 0)
		return ratio(get(j, "best") / get(b, "best"))
	return "-"
}

# Per-thread cost at each thread count against 1 thread's, read-side:
# none (the empty loop), pserialize, psref and localcount.  "x 1 thr" is
# ns/op at N threads / ns/op at 1 thread; "x none's" divides that by
# none's own ratio.  none shares nothing, so its ratio is what the
# machine alone adds at N threads (a vCPU whose core's other hardware
# thread is busy, a host that slows one vCPU): the figure for "no shared
# writes" is the raw ratio on a machine where none's is 1.
function scale_block(    j, t, s, k, nt, nc, tl, tseen, names, one, m,
    r, rn, nn, bn) {
	nt = 0
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "read-side" ||
		    get(j, "strategy") != "pserialize")
			continue
		t = get(j, "threads")
		if (t != 1 && !(t in tseen)) {
			tseen[t] = 1
			tl[++nt] = t
		}
	}
	if (nt == 0 || find_row("read-side", "pserialize", 1) == 0)
		return
	print ""
	if (fmt == "md")
		printf "#### Per-thread cost against 1 thread\n\nx 1 thr = " \
		    "ns/op / the same strategy's at 1 thread; x none's = that " \
		    "/ none's (the empty loop: what the machine adds); best x 1, " \
		    "best x none = the same between the best runs\n\n"
	else
		print "== read-side: per-thread cost against 1 thread (x 1" \
		    " thr = ns/op / the same at 1 thread; x none's = that /" \
		    " none's, the empty loop: what the machine adds; best x 1," \
		    " best x none: the same between the best runs)"
	nc = 0
	cell[++nc] = "workload"; cell[++nc] = "strategy"
	cell[++nc] = "thr"; cell[++nc] = "wr"
	cell[++nc] = "ns/op"; cell[++nc] = "x 1 thr"
	cell[++nc] = "x none's"; cell[++nc] = "best x 1"
	cell[++nc] = "best x none"
	emit(nc)
	if (fmt == "md")
		mdsep(nc, 2)
	split("none pserialize psref localcount", names, " ")
	for (k = 1; k <= nt; k++) {
		t = tl[k]
		rn = ""
		j = find_row("read-side", "none", t)
		nn = find_row("read-side", "none", 1)
		if (j > 0 && nn > 0 && get(nn, "ns_per_op") + 0 > 0)
			rn = get(j, "ns_per_op") / get(nn, "ns_per_op")
		bn = ""
		if (j > 0 && nn > 0 && get(nn, "best") + 0 > 0)
			bn = get(j, "best") / get(nn, "best")
		for (s = 1; s <= 4; s++) {
			j = find_row("read-side", names[s], t)
			one = find_row("read-side", names[s], 1)
			if (j == 0 || one == 0 || get(one, "ns_per_op") + 0 <= 0)
				continue
			m = get(j, "ns_per_op")
			r = m / get(one, "ns_per_op")
			nc = 0
			cell[++nc] = "read-side"; cell[++nc] = names[s]
			cell[++nc] = t; cell[++nc] = get(j, "writers")
			cell[++nc] = num(m, 3)
			cell[++nc] = ratio(r)
			cell[++nc] = rn + 0 > 0 ? ratio(r / rn) : "-"
			cell[++nc] = best_ratio(j, one)
			cell[++nc] = bn + 0 > 0 && best_ratio(j, one) != "-" ? \
			    ratio(get(j, "best") / get(one, "best") / bn) : "-"
			emit(nc)
		}
	}
}

# read-scaling: each reader's cost with the others running over its cost
# alone on the same CPU, from slices interleaved every 10 ms (x_alone in
# the extra column); "x none's" divides it by none's, the empty loop's.
function scaling_block(    j, nc, x, xn, nn) {
	print ""
	if (fmt == "md")
		printf "#### Each reader together against alone\n\nx alone = " \
		    "a reader's ns/op while the others run / its ns/op alone, " \
		    "on its own CPU, in 10 ms slices taken in turn (1.00: the " \
		    "others cost it nothing); x none's = that / none's\n\n"
	else
		print "== read-scaling: each reader together against alone (x" \
		    " alone = ns/op while the others run / ns/op alone, same" \
		    " CPU, 10 ms slices in turn; x none's = that / none's)"
	nc = 0
	cell[++nc] = "workload"; cell[++nc] = "strategy"
	cell[++nc] = "thr"; cell[++nc] = "ns/op together"
	cell[++nc] = "ns/op alone"; cell[++nc] = "x alone"
	cell[++nc] = "x none's"; cell[++nc] = "slices"
	emit(nc)
	if (fmt == "md")
		mdsep(nc, 2)
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "read-scaling")
			continue
		x = xget(j, "x_alone")
		nn = find_row("read-scaling", "none", get(j, "threads"))
		xn = nn > 0 ? xget(nn, "x_alone") : ""
		nc = 0
		cell[++nc] = "read-scaling"; cell[++nc] = get(j, "strategy")
		cell[++nc] = get(j, "threads")
		cell[++nc] = num(get(j, "ns_per_op"), 3)
		cell[++nc] = xget(j, "alone_ns") == "" ? "-" : \
		    num(xget(j, "alone_ns"), 3)
		cell[++nc] = x == "" ? "-" : sprintf("%.3f", x)
		cell[++nc] = x == "" || xn + 0 <= 0 ? "-" : \
		    sprintf("%.3f", x / xn)
		cell[++nc] = xget(j, "slices") == "" ? "-" : xget(j, "slices")
		emit(nc)
	}
}

# ns/op of strategy s in workload w at threads t: the row of the
# invocation that started at date d if there is one, else the latest;
# -1 if none.
function ns_of(w, s, t, d,    j, k) {
	j = 0
	for (k = 1; k <= nrows; k++)
		if (get(k, "workload") == w && get(k, "strategy") == s &&
		    get(k, "threads") == t && (j == 0 || get(j, "date") != d))
			j = k
	if (j == 0 || get(j, "ns_per_op") == "")
		return -1
	return get(j, "ns_per_op") + 0
}

# One line of the route block: name, then value (or "-").
function route_line(name, v, unit) {
	if (fmt == "md")
		printf "| %s | %s |\n", name, v == "" ? "-" : v unit
	else
		printf "  %-58s %s\n", name, v == "" ? "-" : v unit
}

# One line of the routing table's block: workload w's pserialize row
# against strategy other's latest row at t threads (other's ns/op over
# pserialize's of the same invocation), labelled what; none without the
# rows.
function pser_line(w, other, t, what,    j, x, p) {
	j = find_row(w, other, t)
	if (j == 0)
		return
	x = ns_of(w, other, t, "")
	p = ns_of(w, "pserialize", t, get(j, "date"))
	route_line(w " thr " t ": pserialize " what,
	    p > 0 && x > 0 ? ratio(x / p) : "", "")
}

# The routing-table targets, from route-lookup, route-bulk, rtcache,
# read-side and the route-mem rows: lockless lookups against rwlock and
# refcount (times faster), a cached lookup against a pserialize read pair
# (times its cost), the lockless rate against DPDK's (our lookups/s over
# dpdk's), single and batched, update cost, pending memory, memory per
# prefix.
function route_block(    j, t, nt, tl, tseen, k, p, x, d, s, lo, names, w) {
	nt = 0
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "route-lookup" &&
		    get(j, "workload") != "route-lookup6" &&
		    get(j, "workload") != "route-bulk" &&
		    get(j, "workload") != "rtcache")
			continue
		t = get(j, "threads")
		if (!(t in tseen)) {
			tseen[t] = 1
			tl[++nt] = t
		}
	}
	lo = 0
	for (j = 1; j <= nrows; j++)
		if (get(j, "workload") ~ /^route-mem/)
			lo = 1
	if (nt == 0 && !lo)
		return
	print ""
	if (fmt == "md") {
		print "#### routing table: lockless against the others\n"
		print "| figure | value |"
		print "|---|---:|"
	} else {
		print "== routing table (route-lookup, route-lookup6, " \
		    "route-bulk, rtcache, route-mem*): lockless = pserialize"
	}
	split("rwlock refcount psref dpdk-lpm dpdk-fib", names, " ")
	for (k = 1; k <= nt; k++) {
		t = tl[k]
		# Each comparison: the other strategy's latest row and
		# pserialize's row of the same invocation (if any).
		for (s = 1; s <= 5; s++)
			pser_line("route-lookup", names[s], t, s <= 3 \
			    ? "faster than " names[s] " (x)" \
			    : "rate / " names[s] " rate")
		# The same in the IPv6 table (route-lookup6).
		for (s = 1; s <= 3; s++)
			pser_line("route-lookup6", names[s], t,
			    "faster than " names[s] " (x)")
		# Batched lookups (route-bulk) against DPDK's bulk lookups,
		# and against our own single lookups.
		for (s = 4; s <= 5; s++)
			pser_line("route-bulk", names[s], t,
			    "rate / " names[s] " rate")
		# Next-hop lookups (pserialize-nh, the same table) against
		# the rwlock table's next-hop lookups (rwlock-nh: the same
		# work), pserialize's entry lookups, the locked designs' entry
		# lookups (one dependent miss more) and DPDK's rte_lpm and
		# rte_fib.
		for (s = 1; s <= 2; s++) {
			w = s == 1 ? "route-lookup" : "route-bulk"
			x = ns_of(w, "pserialize-nh", t, "")
			if (x <= 0)
				continue
			j = find_row(w, "rwlock-nh", t)
			if (j > 0) {
				d = ns_of(w, "rwlock-nh", t, "")
				p = ns_of(w, "pserialize-nh", t, get(j, "date"))
				route_line(w " thr " t ": pserialize-nh faster " \
				    "than rwlock-nh, same work (x)", \
				    p > 0 && d > 0 ? ratio(d / p) : "", "")
			}
			p = ns_of(w, "pserialize", t, "")
			if (p > 0)
				route_line(w " thr " t ": pserialize-nh faster " \
				    "than pserialize (x)", ratio(p / x), "")
			for (q = 1; q <= 5; q++) {
				if (q <= 3 && s == 2)
					continue
				j = find_row(w, names[q], t)
				if (j == 0)
					continue
				d = ns_of(w, names[q], t, "")
				p = ns_of(w, "pserialize-nh", t, get(j, "date"))
				if (q <= 3)
					route_line(w " thr " t ": pserialize-nh " \
					    "faster than " names[q] "'s entry " \
					    "lookup (x)", \
					    p > 0 && d > 0 ? ratio(d / p) : "", "")
				else
					route_line(w " thr " t ": pserialize-nh " \
					    "rate / " names[q] " rate", \
					    p > 0 && d > 0 ? ratio(d / p) : "", "")
			}
		}
		x = ns_of("route-lookup", "pserialize", t, "")
		p = ns_of("route-bulk", "pserialize", t, "")
		if (p > 0 && x > 0)
			route_line("route-bulk thr " t ": pserialize bulk " \
			    "faster than single, other invocation (x)", \
			    ratio(x / p), "")
		x = ns_of("rtcache", "pserialize", t, "")
		d = ns_of("rtcache", "pserialize-pair", t, "")
		if (x > 0 && d > 0)
			route_line("rtcache thr " t ": cached lookup / " \
			    "pserialize pair, same invocation (x)", \
			    ratio(x / d), "")
		d = ns_of("read-side", "pserialize", t, "")
		if (x > 0)
			route_line("rtcache thr " t ": cached lookup / " \
			    "read-side pserialize pair (x)", \
			    d > 0 ? ratio(x / d) : "", "")
		for (s = 1; s <= nrows; s++) {
			if (get(s, "workload") != "route-lookup" ||
			    get(s, "threads") != t || get(s, "lat_p50_ns") == "")
				continue
			route_line("route-lookup thr " t ": " get(s, "strategy") \
			    " update p50 / p99 (us), pending peak (KiB), " \
			    "updates/s", \
			    sprintf("%.1f / %.1f, %s, %s", \
			    get(s, "lat_p50_ns") / 1000, \
			    get(s, "lat_p99_ns") / 1000, \
			    get(s, "pending_peak_bytes") == "" ? "-" : \
			    sprintf("%.0f", get(s, "pending_peak_bytes") / 1024), \
			    get(s, "seconds") > 0 ? \
			    sprintf("%.0f", get(s, "writer_ops") / get(s, "seconds")) \
			    : "-"), "")
		}
	}
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") !~ /^route-mem/ ||
		    get(j, "mem_prefixes") + 0 <= 0)
			continue
		route_line(get(j, "workload") " " get(j, "strategy") " (" \
		    get(j, "mem_prefixes") " prefixes): bytes per prefix, " \
		    "ns per insert", sprintf("%.1f, %.0f", \
		    get(j, "mem_bytes") / get(j, "mem_prefixes"), \
		    get(j, "ns_per_op")), "")
	}
}

# Value of key in row k's extra column ("key=value;..."), or "".
function xget(k, key,    x, n, i, kv, parts) {
	x = get(k, "extra")
	n = split(x, parts, ";")
	for (i = 1; i <= n; i++) {
		split(parts[i], kv, "=")
		if (kv[1] == key)
			return kv[2]
	}
	return ""
}

# The forward workload's figures: packets per second against none's
# without churn (the cost of safety), the path's latency, route-cache
# hits, stale routes, and under churn the writers' figures.
function forward_block(    j, nc, nb, pps, base, us) {
	nb = 0
	for (j = 1; j <= nrows; j++)
		if (get(j, "workload") == "forward")
			nb++
	if (nb == 0)
		return
	print ""
	if (fmt == "md")
		printf "#### forward: the cost of safety and the path under " \
		    "churn\n\nMpps/thr = one thread's packets per second (1 / " \
		    "its ns per packet); pps/none = packets per second / none's without " \
		    "churn at the same threads (1 = as fast as no protection; " \
		    "higher is better); upd = one route update, det = one " \
		    "interface detach; ctl = control messages sent, their " \
		    "wqinput drops and the handler's outcomes " \
		    "(applied/refused/malformed)\n\n"
	else
		print "== forward: Mpps/thr = one thread's packets/s; pps/none =" \
		    " packets/s over none's without" \
		    " churn, same threads (higher is better); upd, det = route" \
		    " update, interface detach p50; ctl = sent/wq drops," \
		    " applied/refused/malformed"
	nc = 0
	cell[++nc] = "workload"; cell[++nc] = "strategy"
	cell[++nc] = "thr"; cell[++nc] = "wr"
	cell[++nc] = "Mpps"; cell[++nc] = "Mpps/thr"; cell[++nc] = "pps/none"
	cell[++nc] = "p50_ns"; cell[++nc] = "p99_ns"
	cell[++nc] = "hit%"; cell[++nc] = "stale"
	cell[++nc] = "upd_p50_us"; cell[++nc] = "det_p50_us"
	cell[++nc] = "ctl/drop"; cell[++nc] = "app/ref/mal"
	emit(nc)
	if (fmt == "md")
		mdsep(nc, 2)
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "forward")
			continue
		nc = 0
		cell[++nc] = "forward"; cell[++nc] = get(j, "strategy")
		cell[++nc] = get(j, "threads"); cell[++nc] = get(j, "writers")
		pps = get(j, "ops_per_sec") + 0
		cell[++nc] = sprintf("%.2f", pps / 1e6)
		cell[++nc] = get(j, "ns_per_op") + 0 > 0 ? \
		    sprintf("%.2f", 1e3 / get(j, "ns_per_op")) : "-"
		base = find_none(get(j, "threads"), get(j, "date"))
		cell[++nc] = base > 0 ? sprintf("%.3f", pps / base) : "-"
		cell[++nc] = num(get(j, "lat_p50_ns"), 0)
		cell[++nc] = num(get(j, "lat_p99_ns"), 0)
		cell[++nc] = xget(j, "cache_hit_pct") == "" ? "-" : \
		    xget(j, "cache_hit_pct")
		cell[++nc] = xget(j, "stale_routes") == "" ? "-" : \
		    xget(j, "stale_routes")
		if (get(j, "writers") + 0 > 0) {
			us = xget(j, "upd_p50_ns")
			cell[++nc] = us == "" ? "-" : sprintf("%.1f", us / 1000)
			us = xget(j, "detach_p50_ns")
			cell[++nc] = us == "" ? "-" : sprintf("%.1f", us / 1000)
			cell[++nc] = xget(j, "ctl") "/" xget(j, "wq_drops")
			cell[++nc] = xget(j, "ctl_applied") "/" \
			    xget(j, "ctl_refused") "/" xget(j, "ctl_malformed")
		} else {
			cell[++nc] = "-"; cell[++nc] = "-"
			cell[++nc] = "-"; cell[++nc] = "-"
		}
		if (get(j, "violations") + 0 > 0)
			cell[nc] = cell[nc] " VIOLATIONS=" get(j, "violations")
		emit(nc)
	}
}

# none's packets per second without churn at threads t: the row of the
# invocation of date d if any, else the latest; 0 if none.
function find_none(t, d,    j, v) {
	v = 0
	for (j = 1; j <= nrows; j++) {
		if (get(j, "workload") != "forward" ||
		    get(j, "strategy") != "none" || get(j, "threads") != t ||
		    get(j, "writers") != "0")
			continue
		v = get(j, "ops_per_sec") + 0
		if (get(j, "date") == d)
			return v
	}
	return v
}

END {
	if (fmt == "rundate") {
		r = 1
		if (nrows > 0)
			print col("date")
		exit 0
	}
	if (fmt == "runinfo") {
		if (nrows > 0) {
			if (nruns > nrows)
				printf "%d rows from %d runs (a row of repeated " \
				    "runs holds their medians), %.2f s measured " \
				    "per run\n", nrows, nruns, secs / nrows
			else
				printf "%d runs, %.1f s measured per run\n", nrows,
				    secs / nrows
		}
		exit 0
	}
	if (nrows == 0) {
		print "(no results)"
		exit 0
	}
	# The machine, from the first row (one suite runs on one machine).
	r = 1
	if (fmt == "md") {
		print "| CPU | cores | kernel | compiler | build | liburcu | ck " \
		    "| DPDK | date (first run) |"
		print "|---|---|---|---|---|---|---|---|---|"
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", \
		    col("cpu_model"), col("cores"), col("kernel"), \
		    col("compiler"), col("build_type"), col("liburcu_version"), \
		    col("ck_version"), dpdk(), col("date")
	} else {
		printf "# %s, %s cores, %s, %s, %s build, liburcu %s, ck %s, " \
		    "DPDK %s, %s\n", col("cpu_model"), col("cores"), \
		    col("kernel"), col("compiler"), col("build_type"), \
		    col("liburcu_version"), col("ck_version"), dpdk(), col("date")
	}
	for (wi = 1; wi <= nw; wi++) {
		w = worder[wi]
		bs = hasbase[w] ? baseline : first[w]
		second = hasbase2[w] && baseline2 != bs
		note = ""
		if (second)
			note = note "; x " baseline2 " = the same against " \
			    baseline2 "'s"
		if (maxrep[w] > 1)
			note = note "; figures are medians of " maxrep[w] \
			    " runs, spread = max/min of the " mname(w)
		print ""
		if (fmt == "md")
			printf "### %s\n\nratio = %s / %s's at the same " \
			    "threads and writers (lower is better)%s\n\n", \
			    w, mname(w), bs, note
		else
			printf "== %s (ratio = %s / %s's, same threads and " \
			    "writers; lower is better%s)\n", w, mname(w), bs, note
		nc = 0
		cell[++nc] = "workload"; cell[++nc] = "strategy"
		cell[++nc] = "thr"; cell[++nc] = "wr"
		cell[++nc] = "ns/op"; cell[++nc] = "ops/s"
		if (haslat[w]) { cell[++nc] = "p50_ns"; cell[++nc] = "p99_ns" }
		if (haswops[w]) cell[++nc] = "writer_ops/s"
		if (haspend[w]) cell[++nc] = "pend_peak_MiB"
		if (hasmem[w]) cell[++nc] = "B/prefix"
		cell[++nc] = "ratio"
		if (second)
			cell[++nc] = "x " baseline2
		if (hasspread[w])
			cell[++nc] = "spread"
		emit(nc)
		if (fmt == "md")
			mdsep(nc, 2)
		for (r = 1; r <= nrows; r++) {
			if (col("workload") != w)
				continue
			nc = 0
			cell[++nc] = w; cell[++nc] = col("strategy")
			cell[++nc] = col("threads"); cell[++nc] = col("writers")
			cell[++nc] = num(col("ns_per_op"), 3)
			cell[++nc] = num(col("ops_per_sec"), 0)
			if (haslat[w]) {
				cell[++nc] = num(col("lat_p50_ns"), 0)
				cell[++nc] = num(col("lat_p99_ns"), 0)
			}
			if (haswops[w]) {
				if (col("writer_ops") == "" || col("seconds") + 0 <= 0)
					cell[++nc] = "-"
				else
					cell[++nc] = sprintf("%.0f",
					    col("writer_ops") / col("seconds"))
			}
			if (haspend[w]) {
				if (col("pending_peak_bytes") == "")
					cell[++nc] = "-"
				else
					cell[++nc] = sprintf("%.1f",
					    col("pending_peak_bytes") / 1048576)
			}
			if (hasmem[w]) {
				if (col("mem_bytes") == "" || col("mem_prefixes") + 0 <= 0)
					cell[++nc] = "-"
				else
					cell[++nc] = sprintf("%.1f",
					    col("mem_bytes") / col("mem_prefixes"))
			}
			cell[++nc] = ratio_cell(r, bs)
			if (second)
				cell[++nc] = ratio_cell(r, baseline2)
			if (hasspread[w])
				cell[++nc] = col("spread") == "" ? "-" : \
				    sprintf("%.2f", col("spread"))
			if (col("violations") != "" && col("violations") + 0 > 0)
				cell[nc] = cell[nc] " VIOLATIONS=" col("violations")
			emit(nc)
		}
		if (w == "read-side") {
			ref_block()
			scale_block()
		}
		if (w == "read-scaling")
			scaling_block()
	}
	route_block()
	forward_block()
}
