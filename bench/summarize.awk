# bench/summarize.awk: summary tables from an mpsafe-bench CSV file.
#
#   awk -v fmt=text|md -v baseline=urcu-memb -f bench/csv.awk \
#       -f bench/summarize.awk results.csv
#
# One table per workload, rows in file order: strategy, reader threads,
# writers, ns/op, ops/s, and where the workload measures them the wait
# latency (p50, p99), writer operations per second and the pending-memory
# peak; then the ratio to the baseline strategy's row with the same
# workload, threads and writers.  The ratio is taken on lat_p50_ns where
# the workload measures a latency, else on ns_per_op (lower is better).
# fmt=md writes Markdown tables and a machine table (for docs/results);
# fmt=text aligned columns; fmt=runinfo one line: the number of runs and
# the mean measured seconds per run.  Columns are found by header name, so the
# script keeps working when columns are added.  Plain POSIX awk (mawk).

function get_f(name) { return (name in ci) ? f[ci[name]] : "" }
function col(name) { return (name in ci) ? row[r, ci[name]] : "" }
function get(k, name) { return (name in ci) ? row[k, ci[name]] : "" }

function metric(k) {
	if (get(k, "lat_p50_ns") != "")
		return get(k, "lat_p50_ns") + 0
	if (get(k, "ns_per_op") != "")
		return get(k, "ns_per_op") + 0
	return -1
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
		line = sprintf("%-13s %-12s %4s %3s", cell[1], cell[2],
		    cell[3], cell[4])
		for (i = 5; i <= nc; i++)
			line = line sprintf(" %12s", cell[i])
		print line
	}
}

BEGIN {
	if (fmt == "")
		fmt = "text"
	if (baseline == "")
		baseline = "urcu-memb"
	nrows = 0; nw = 0
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
	secs += get_f("seconds")
	for (i = 1; i <= n; i++)
		row[nrows, i] = f[i]
	w = f[ci["workload"]]
	if (!(w in seen)) {
		seen[w] = 1
		worder[++nw] = w
	}
	# Which optional columns a workload uses.
	if (get(nrows, "lat_p50_ns") != "")
		haslat[w] = 1
	if (get(nrows, "pending_peak_bytes") != "")
		haspend[w] = 1
	if (get(nrows, "writer_ops") != "")
		haswops[w] = 1
	# The baseline of a row is the baseline strategy's row of the same
	# invocation (same date) if there is one, else the latest such row.
	key = w SUBSEP get(nrows, "threads") SUBSEP get(nrows, "writers")
	if (get(nrows, "strategy") == baseline) {
		base[key SUBSEP get(nrows, "date")] = metric(nrows)
		base[key] = metric(nrows)
	}
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

END {
	if (fmt == "runinfo") {
		if (nrows > 0)
			printf "%d runs, %.1f s measured per run\n", nrows, secs / nrows
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
		    "| date (first run) |"
		print "|---|---|---|---|---|---|---|---|"
		printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", \
		    col("cpu_model"), col("cores"), col("kernel"), \
		    col("compiler"), col("build_type"), col("liburcu_version"), \
		    col("ck_version"), col("date")
	} else {
		printf "# %s, %s cores, %s, %s, %s build, liburcu %s, ck %s, " \
		    "%s\n", col("cpu_model"), col("cores"), col("kernel"), \
		    col("compiler"), col("build_type"), col("liburcu_version"), \
		    col("ck_version"), col("date")
	}
	for (wi = 1; wi <= nw; wi++) {
		w = worder[wi]
		mname = haslat[w] ? "wait p50" : "ns/op"
		print ""
		if (fmt == "md")
			printf "### %s\n\nratio = %s / %s's %s at the same " \
			    "threads and writers (lower is better)\n\n", \
			    w, mname, baseline, mname
		else
			printf "== %s (ratio = %s / %s's, same threads and " \
			    "writers; lower is better)\n", w, mname, baseline
		nc = 0
		cell[++nc] = "workload"; cell[++nc] = "strategy"
		cell[++nc] = "thr"; cell[++nc] = "wr"
		cell[++nc] = "ns/op"; cell[++nc] = "ops/s"
		if (haslat[w]) { cell[++nc] = "p50_ns"; cell[++nc] = "p99_ns" }
		if (haswops[w]) cell[++nc] = "writer_ops/s"
		if (haspend[w]) cell[++nc] = "pend_peak_MiB"
		cell[++nc] = "ratio"
		emit(nc)
		if (fmt == "md") {
			sep = "|"
			for (i = 1; i <= nc; i++)
				sep = sep (i <= 2 ? "---|" : "---:|")
			print sep
		}
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
			key = w SUBSEP col("threads") SUBSEP col("writers")
			if ((key SUBSEP col("date")) in base)
				key = key SUBSEP col("date")
			m = metric(r)
			if ((key in base) && base[key] > 0 && m >= 0)
				cell[++nc] = ratio(m / base[key])
			else
				cell[++nc] = "-"
			if (col("violations") != "" && col("violations") + 0 > 0)
				cell[nc] = cell[nc] " VIOLATIONS=" col("violations")
			emit(nc)
		}
	}
}
