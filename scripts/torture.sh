#!/bin/sh
# scripts/torture.sh: the long torture tier (`make torture`).
#
#   scripts/torture.sh BUILD_DIR
#
# Runs every torture program in BUILD_DIR/tests (torture_*, not the
# *_long copies nor the *_teeth self-checks) for a configurable total
# time, in both ordering modes, confined to fewer CPUs than the programs
# have threads, and prints what each run checked (the programs' own
# "[----]" count lines: objects retired, reads validated, grace periods,
# violations) and a final tally.  Fails if any run fails: a run fails on
# any violation, sanitizer report or library diagnostic.
#
# BUILD_DIR should be a MPSAFE_DEBUG_YIELD build (the torture preset),
# whose library yields and spins at random at marked points.
#
# Environment:
#   TORTURE_SECONDS  total time to spread over all runs (default 600)
#   TORTURE_CPUS     CPUs to confine the runs to with taskset (default 2;
#                    0 = no confinement).  Every torture program runs at
#                    least 4 threads, so 2 CPUs means more threads than
#                    cores on any machine.
#   TORTURE_RUNNER   a command to run each program under (e.g.
#                    "qemu-aarch64 -L /usr/aarch64-linux-gnu")
#   TORTURE_FILTER   only programs whose name contains this string
#
# Tests of one program run one at a time (--jobs=1), so the total holds.
#
# Both modes: a program whose test names mention "fence" sets each mode
# itself (mpsafe_set_ordering); any other runs twice, with the default
# mode (membarrier where the kernel grants it) and MPSAFE_ORDERING=fence.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
dir=$1/tests
total=${TORTURE_SECONDS:-600}
cpus=${TORTURE_CPUS:-2}
runner=${TORTURE_RUNNER:-}
filter=${TORTURE_FILTER:-}

if [ ! -d "$dir" ]; then
	echo "torture: $dir does not exist (build the torture preset first)" >&2
	exit 2
fi

programs=""
for p in "$dir"/torture_*; do
	[ -x "$p" ] || continue
	case $p in
	*_long | *_teeth | *.*) continue ;;
	esac
	case $(basename "$p") in
	*"$filter"*) programs="$programs $p" ;;
	esac
done
if [ -z "$programs" ]; then
	echo "torture: no torture programs in $dir" >&2
	exit 2
fi

# How many test runs each program needs (tests x modes), to share time.
runs=0
plan=""
for p in $programs; do
	# shellcheck disable=SC2086 # the runner is words on purpose
	list=$($runner "$p" --list 2>/dev/null || true)
	n=$(printf '%s\n' "$list" |
	    sed -n 's/.*: \([0-9][0-9]*\) tests.*/\1/p' |
	    awk '{ s += $1 } END { print s + 0 }')
	[ "$n" -gt 0 ] || n=1
	if printf '%s\n' "$list" | grep -q fence; then
		modes="self"
		runs=$((runs + n))
	else
		modes="default:fence"
		runs=$((runs + 2 * n))
	fi
	plan="$plan $p:$modes"
done
each=$((total / runs))
[ "$each" -ge 1 ] || each=1

confine=""
if [ "$cpus" -gt 0 ] && command -v taskset >/dev/null 2>&1; then
	last=$((cpus - 1))
	confine="taskset -c 0-$last"
fi
echo "torture: $(echo "$programs" | wc -w) programs, $runs test runs of" \
    "${each}s each (TORTURE_SECONDS=$total), on" \
    "${confine:-all $(nproc) CPUs (no taskset)}${runner:+, under $runner}"

failed=0
passed=0
log=$(mktemp "${TMPDIR:-/tmp}/torture.XXXXXX")
trap 'rm -f "$log"' EXIT
for entry in $plan; do
	p=${entry%%:*}
	modes=$(echo "${entry#*:}" | tr ':' ' ')
	for mode in $modes; do
		name=$(basename "$p")
		case $mode in
		fence) env="MPSAFE_ORDERING=fence" ;;
		*) env="-u MPSAFE_ORDERING" ;;
		esac
		start=$(date +%s)
		# shellcheck disable=SC2086
		if env $env MPSAFE_TORTURE_SECONDS="$each" \
		    $confine $runner "$p" --verbose --jobs=1 >"$log" 2>&1; then
			status=ok
			passed=$((passed + 1))
		else
			status=FAILED
			failed=$((failed + 1))
		fi
		end=$(date +%s)
		echo "== $name ($mode mode): $status in $((end - start))s"
		# The programs' count lines, and any failure detail.
		grep -E '^\[----\]|Synthesis' "$log" | grep -v 'Criterion v' |
		    sed 's/^/   /' || true
		if [ "$status" = FAILED ]; then
			tail -n 30 "$log" | sed 's/^/   | /'
		fi
	done
done
echo "torture: $passed runs passed, $failed failed (a run fails on any" \
    "violation)"
[ "$failed" -eq 0 ]
