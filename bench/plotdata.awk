# bench/plotdata.awk: gnuplot data from an mpsafe-bench CSV file.
#
#   awk -v workload=W [-v writers=N] -v names=FILE -f bench/csv.awk \
#       -f bench/plotdata.awk results.csv > W.dat
#
# For each strategy of workload W (and, if given, N writers), in the order
# the strategies first appear, one gnuplot data block (blocks separated by
# two blank lines, so `index i` selects one), rows sorted by thread count:
#   threads ns_per_op lat_p50_us lat_p99_us ops_per_sec_M pending_peak_MiB
# "?" marks a missing value.  The strategy names, one per block, are
# written space-separated to FILE.  When a (strategy, threads) pair occurs
# more than once, the last row wins.  Plain POSIX awk (mawk).

function v(name, scale) {
	if (!(name in ci) || f[ci[name]] == "")
		return "?"
	return sprintf("%.6g", f[ci[name]] / scale)
}

{
	sub(/\r$/, "")
	n = csvsplit($0, f)
	if (NR == 1) {
		for (i = 1; i <= n; i++)
			ci[f[i]] = i
		next
	}
	if ($0 == "" || f[ci["workload"]] != workload)
		next
	if (writers != "" && ("writers" in ci) && f[ci["writers"]] != writers)
		next
	s = f[ci["strategy"]]
	t = f[ci["threads"]] + 0
	if (!(s in sidx)) {
		sidx[s] = ++ns
		sname[ns] = s
		nt[ns] = 0
	}
	k = sidx[s]
	if (!((k, t) in line)) {
		thr[k, ++nt[k]] = t
	}
	line[k, t] = t " " v("ns_per_op", 1) " " v("lat_p50_ns", 1000) " " \
	    v("lat_p99_ns", 1000) " " v("ops_per_sec", 1e6) " " \
	    v("pending_peak_bytes", 1048576)
}

END {
	list = ""
	for (k = 1; k <= ns; k++) {
		# insertion sort of this strategy's thread counts
		for (i = 2; i <= nt[k]; i++) {
			x = thr[k, i]
			for (j = i - 1; j >= 1 && thr[k, j] > x; j--)
				thr[k, j + 1] = thr[k, j]
			thr[k, j + 1] = x
		}
		if (k > 1)
			printf "\n\n"
		printf "# %s\n", sname[k]
		for (i = 1; i <= nt[k]; i++)
			print line[k, thr[k, i]]
		list = list (k > 1 ? " " : "") sname[k]
	}
	if (names != "" && ns > 0)
		print list > names
}
