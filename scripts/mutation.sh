#!/bin/bash
# scripts/mutation.sh: do the tests notice a missing memory order?
#
# Each mutant weakens exactly one ordering in the library's sources to
# relaxed: one memory_order_acquire, _release, _acq_rel, _consume or
# _seq_cst argument, one mpsafe_store_release(), mpsafe_load_acquire() or
# mpsafe_load_consume(), or one mpsafe_fence_seq_cst() (which becomes a
# compiler barrier).  Comment lines are skipped.  For each mutant the
# script rebuilds a ThreadSanitizer build of a scratch copy of the tree
# (a git worktree of HEAD: the sources are HEAD's, and the checkout is
# neither read nor touched, so it may be edited meanwhile; not this
# script, which bash reads as it runs), runs the tests of the mutated
# layer there, and calls the mutant
#
#   killed    a test failed (ThreadSanitizer's report, a check, a hang)
#   survived  every test passed: either the order is not needed for what
#             the tests check, or no test reaches the interleaving it
#             guards.  Each survivor deserves a look.
#   invalid   the mutant did not compile (a compare-exchange whose
#             failure order would be stronger than its success order)
#
# ThreadSanitizer models acquire and release on atomics but not
# stand-alone fences, and x86 reorders only a store with a later load, so
# fences are left out unless MUTATION_FENCES=1 (the Spin models of
# docs/design/verification.md remove them instead), and a seq_cst mutant
# that survives here is not necessarily a test gap.
#
# Usage: scripts/mutation.sh [-k] [-o REPORT] [FILE[:FIRST[-LAST]]...]
#   FILE   sources to mutate, relative to the repository root (default:
#          the core library: src/*.c and include/mpsafe/*.h except
#          atomic.h, whose macros every mutant goes through); FILE:FIRST
#          mutates only the sites at line FIRST or below (to go on with a
#          run that stopped part way), FILE:FIRST-LAST those from FIRST
#          to LAST (to rerun a few)
#   -o     the report (default build/mutation/report.txt), one line per
#          mutant: verdict, file:line, the operator, the line
#   -k     keep the worktree (build/mutation/tree) for a later run
#   MUTATION_TESTS   ctest -R regular expression of the tests to run
#          (default: the core layer's tests; src/net files: the stack's)
#   MUTATION_REPEAT  how many times a survivor's tests are run before it
#          counts as survived (default 2: ThreadSanitizer sees a race
#          only when the racing accesses both happen in one run)
#
# Cost on a 2-vCPU VM: about a minute per mutant (the rebuild of one file
# and the relinking of the tests, then about 30 s of tests, more for a
# survivor's repeats); the core layer's 68 mutants took 69 minutes.
set -u

root=$(git rev-parse --show-toplevel) || exit 1
cd "$root" || exit 1

keep=0
report=build/mutation/report.txt
while getopts ko: opt; do
	case $opt in
	k) keep=1 ;;
	o) report=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

# from[FILE], to[FILE]: the lines of FILE to mutate (FILE:FIRST-LAST).
declare -A from to
if [ $# -gt 0 ]; then
	files=()
	for a in "$@"; do
		case $a in
		*:*-*)
			r=${a##*:}
			files+=("${a%%:*}") from[${a%%:*}]=${r%-*} to[${a%%:*}]=${r#*-}
			;;
		*:*) files+=("${a%%:*}") from[${a%%:*}]=${a##*:} ;;
		*) files+=("$a") ;;
		esac
	done
else
	files=()
	for f in src/*.c include/mpsafe/*.h; do
		case $f in
		include/mpsafe/atomic.h) ;;
		*) files+=("$f") ;;
		esac
	done
fi

core_tests='^(test|torture|death)_(registry|pserialize|pslist|psref|localcount|workqueue|defer)'
net_tests='^(test|torture)_(ifnet|route|rtcache|lpm|lltable|wqinput|route_oracle)$'
repeat=${MUTATION_REPEAT:-2}

san=
bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
if [ "$bits" -gt 28 ] && command -v setarch >/dev/null; then
	san="setarch $(uname -m) -R"
fi

work=$root/build/mutation
tree=$work/tree
mkdir -p "$work"
if [ ! -d "$tree/.git" ] && [ ! -f "$tree/.git" ]; then
	git worktree add --detach "$tree" HEAD >/dev/null || exit 1
fi
git -C "$tree" checkout -q --detach HEAD 2>/dev/null
git -C "$tree" reset -q --hard "$(git rev-parse HEAD)" || exit 1
(cd "$tree" && cmake --preset tsan >/dev/null &&
    cmake --build build/tsan -j2 >/dev/null) || exit 1

# Every mutation site: file, line, n-th candidate on the line, operator.
# A candidate is one of the patterns below on a line that is not a
# comment (a line starting with "*", "/*" or "//").
sites() {
	awk -v fences="${MUTATION_FENCES:-0}" '
	BEGIN {
		np = split("memory_order_acquire memory_order_release " \
		    "memory_order_acq_rel memory_order_consume " \
		    "memory_order_seq_cst mpsafe_store_release( " \
		    "mpsafe_load_acquire( mpsafe_load_consume( " \
		    "mpsafe_fence_seq_cst(", pat, " ")
	}
	/^[ \t]*(\*|\/\*|\/\/)/ { next }
	!fences && (/atomic_thread_fence\(/ || /mpsafe_fence_seq_cst\(/) { next }
	{
		for (i = 1; i <= np; i++) {
			s = $0; n = 0
			while ((k = index(s, pat[i])) > 0) {
				n++
				print FILENAME "\t" FNR "\t" n "\t" pat[i]
				s = substr(s, k + length(pat[i]))
			}
		}
	}' "$@"
}

# mutate FILE LINE N PATTERN: rewrite the N-th PATTERN on LINE of FILE.
mutate() {
	awk -v line="$2" -v n="$3" -v pat="$4" '
	function weak(p) {
		if (p == "mpsafe_store_release(") return "mpsafe_store_relaxed("
		if (p == "mpsafe_load_acquire(") return "mpsafe_load_relaxed("
		if (p == "mpsafe_load_consume(") return "mpsafe_load_relaxed("
		if (p == "mpsafe_fence_seq_cst(") return "mpsafe_compiler_barrier("
		return "memory_order_relaxed"
	}
	FNR == line {
		out = ""; s = $0
		for (i = 1; i < n; i++) {
			k = index(s, pat)
			out = out substr(s, 1, k + length(pat) - 1)
			s = substr(s, k + length(pat))
		}
		k = index(s, pat)
		$0 = out substr(s, 1, k - 1) weak(pat) substr(s, k + length(pat))
	}
	{ print }' "$1"
}

# targets REGEX: the executables of the tests REGEX selects, so that a
# mutant rebuilds only those.
targets() {
	(cd "$tree" && ctest --test-dir build/tsan -LE '^stress-long$' -R "$1" \
	    --show-only=json-v1) | grep -A2 '"command" *:' | grep / |
	    sed 's/.*"\([^"]*\)".*/\1/' | xargs -n1 basename | sort -u
}

run_tests() {
	local regex=$1
	(cd "$tree" && $san ctest --test-dir build/tsan -LE '^stress-long$' \
	    -R "$regex" --parallel 2 --timeout 180 -Q </dev/null)
}

: >"$report"
total=0 killed=0 survived=0 invalid=0
while IFS=$'\t' read -r file line n pat; do
	if [ "$line" -lt "${from[$file]:-0}" ] ||
	    [ "$line" -gt "${to[$file]:-1000000}" ]; then
		continue
	fi
	total=$((total + 1))
	case $file in
	src/net/* | include/mpsafe/net/*) regex=${MUTATION_TESTS:-$net_tests} ;;
	*) regex=${MUTATION_TESTS:-$core_tests} ;;
	esac
	# HEAD's text, from the worktree: edits in the checkout during a
	# run change nothing.
	cp "$tree/$file" "$work/orig"
	text=$(sed -n "${line}p" "$work/orig" | sed 's/^[ \t]*//')
	mutate "$work/orig" "$line" "$n" "$pat" >"$tree/$file"
	if cmp -s "$work/orig" "$tree/$file"; then
		echo "mutation.sh: no change at $file:$line ($pat)" >&2
		exit 1
	fi
	# shellcheck disable=SC2046 # one target per word
	if ! (cd "$tree" && cmake --build build/tsan -j2 \
	    --target $(targets "$regex" </dev/null) \
	    </dev/null >"$work/build.log" 2>&1); then
		verdict=invalid
		invalid=$((invalid + 1))
	else
		verdict=survived
		for ((r = 0; r < repeat; r++)); do
			if ! run_tests "$regex"; then
				verdict=killed
				break
			fi
		done
		if [ $verdict = killed ]; then
			killed=$((killed + 1))
		else
			survived=$((survived + 1))
		fi
	fi
	cp "$work/orig" "$tree/$file"
	printf '%-8s %s:%s #%s %s\t%s\n' "$verdict" "$file" "$line" "$n" "$pat" "$text" |
	    tee -a "$report"
done < <(cd "$tree" && sites "${files[@]}")

# The tree back as it was, so that a later run starts from a clean build.
(cd "$tree" && cmake --build build/tsan -j2 >/dev/null 2>&1)
echo "mutation.sh: $total mutants: $killed killed, $survived survived, $invalid invalid ($report)"
if [ $keep -eq 0 ]; then
	git worktree remove --force "$tree"
fi
