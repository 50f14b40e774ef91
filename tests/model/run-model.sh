#!/bin/sh
# run-model.sh MODEL [-DNAME[=VALUE]...] EXPECT
#
# Model-check one Promela model of tests/model with Spin and compare the
# outcome with EXPECT:
#   expect-pass           no error in the safety search (assertions and
#                         invalid end states: deadlocks, lost wake-ups),
#                         the search complete, and no non-progress cycle
#                         (a second search, pan -l: no livelock)
#   expect-fail           the safety search finds an error (any kind)
#   expect-fail=assert    ... an assertion violation (use after free,
#                         destroy or drain returning with references held)
#   expect-fail=deadlock  ... an invalid end state (a thread blocked for
#                         ever: deadlock or lost wake-up)
# MODEL is a path or a name in this directory (pserialize, psref,
# localcount, workqueue, wqinput, defer, lpm_short, route_update,
# route_reap; ".pml" may be left out).  The -D options select the
# configuration and the deliberately broken variants (see each model).
#
# Environment: SPIN (spin), CC (cc), MODEL_WORKDIR (where pan is built and
# a counterexample trail is left; default: a temporary directory, removed
# afterwards), PAN_DEPTH (20000), PAN_HASH (22: 2^22 hash slots),
# PAN_MEMLIM (1024 MiB), PAN_CFLAGS (-O0).  Exit status: 0 on the expected outcome, 1
# otherwise, 2 on a usage or tool error.
set -eu

usage() {
	echo "usage: $0 MODEL [-DNAME[=VALUE]...] expect-pass|expect-fail[=assert|=deadlock]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
model=$1
shift
defines=""
while [ $# -gt 1 ]; do
	case $1 in
	-D*) defines="$defines $1" ;;
	*) usage ;;
	esac
	shift
done
expect=$1
case $expect in
expect-pass | expect-fail | expect-fail=assert | expect-fail=deadlock) ;;
*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
case $model in
*/*) ;;
*) model=$here/$model ;;
esac
case $model in
*.pml) ;;
*) model=$model.pml ;;
esac
[ -f "$model" ] || {
	echo "run-model: no model $model" >&2
	exit 2
}
modeldir=$(cd "$(dirname "$model")" && pwd)
name=$(basename "$model")

SPIN=${SPIN:-spin}
CC=${CC:-cc}
depth=${PAN_DEPTH:-20000}
hash=${PAN_HASH:-22}
memlim=${PAN_MEMLIM:-1024}
# -O0: pan.c compiles 6x faster than with -O2 and these searches are
# dominated by hashing, not by the code the optimiser would speed up.
cflags=${PAN_CFLAGS:--O0}

command -v "$SPIN" >/dev/null 2>&1 || {
	echo "run-model: $SPIN not found: install Debian's spin (scripts/deps.sh)" >&2
	exit 2
}

if [ -n "${MODEL_WORKDIR:-}" ]; then
	work=$MODEL_WORKDIR
	rm -rf "$work"
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/mpsafe-model.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
# The model and the files it includes, next to pan.
cp "$modeldir"/*.pml "$work"/
cd "$work"

echo "model: $name$defines, $expect"
echo "spin: $("$SPIN" -V 2>&1 | head -n 1)"

# spin -a: generate the verifier (the defines go through spin's cpp).
# shellcheck disable=SC2086 # the defines are words on purpose
if ! "$SPIN" -a $defines "$name" >spin-a.log 2>&1; then
	cat spin-a.log >&2
	echo "run-model: spin -a failed" >&2
	exit 2
fi

# One search: build pan with $1 (cc -D flags), run it with $2.  Prints
# the summary lines; leaves pan's output in $3.
search() {
	# shellcheck disable=SC2086
	if ! "$CC" $cflags -w $1 -DMEMLIM="$memlim" -o pan pan.c >cc.log 2>&1; then
		cat cc.log >&2
		echo "run-model: compiling pan failed" >&2
		exit 2
	fi
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	./pan -m"$depth" -w"$hash" $2 >"$3" 2>&1 || true
	end=$(date +%s.%N)
	grep -E '^pan:[0-9]|^pan: (out of memory|reached -DMEMLIM)|error: max search depth|Search not completed|State-vector|states, stored|total actual memory|elapsed time' "$3" |
	    sed 's/^/  /'
	awk -v s="$start" -v e="$end" 'BEGIN { printf "  wall time %.2f s\n", e - s }'
}

errors_of() {
	sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$1" | tail -n 1
}

incomplete() {
	grep -qE 'error: max search depth too small|^pan: out of memory|reached -DMEMLIM' "$1"
}

echo "safety search (assertions, invalid end states):"
search "-DSAFETY -DNOCLAIM" "" safety.out
errors=$(errors_of safety.out)
if [ -z "$errors" ]; then
	cat safety.out >&2
	echo "run-model: pan did not report its errors" >&2
	exit 2
fi

case $expect in
expect-pass)
	if [ "$errors" != 0 ]; then
		echo "FAIL: spin found an error in a model that must pass:"
		grep -E '^pan:[0-9]' safety.out || true
		if [ -n "${MODEL_WORKDIR:-}" ]; then
			echo "replay: cd $work && $SPIN -t -p -g$defines $name"
		fi
		# shellcheck disable=SC2086
		"$SPIN" -t -p $defines "$name" 2>&1 | tail -n 40 || true
		exit 1
	fi
	if incomplete safety.out; then
		echo "FAIL: the safety search was not complete (depth or memory limit)"
		exit 1
	fi
	echo "non-progress search (pan -l: no cycle without progress, no livelock):"
	search "-DNP -DNOCLAIM" "-l" np.out
	nperrors=$(errors_of np.out)
	if [ "$nperrors" != 0 ]; then
		echo "FAIL: spin found a non-progress cycle:"
		grep -E '^pan:[0-9]' np.out || true
		exit 1
	fi
	if incomplete np.out; then
		echo "FAIL: the non-progress search was not complete"
		exit 1
	fi
	echo "PASS: no error (as expected)"
	;;
expect-fail*)
	if [ "$errors" = 0 ]; then
		echo "FAIL: spin found no error in a deliberately broken variant"
		exit 1
	fi
	line=$(grep -E '^pan:[0-9]' safety.out | head -n 1)
	case $expect in
	expect-fail=assert) want='assertion violated' ;;
	expect-fail=deadlock) want='invalid end state' ;;
	*) want='' ;;
	esac
	if [ -n "$want" ] && ! echo "$line" | grep -q "$want"; then
		echo "FAIL: spin found an error, but not the expected kind ($want): $line"
		exit 1
	fi
	steps=$(echo "$line" | sed -n 's/.*at depth \([0-9][0-9]*\).*/\1/p')
	# Replay the counterexample: it must be a real trail of the model.
	# shellcheck disable=SC2086
	"$SPIN" -t $defines "$name" >replay.out 2>&1 || true
	replay=$(grep -E 'trail ends after [0-9]+ steps' replay.out | head -n 1)
	echo "counterexample: $line"
	echo "  trail of $steps steps; replay: ${replay:-no trail}"
	if [ -n "${MODEL_WORKDIR:-}" ]; then
		echo "  see it with: cd $work && $SPIN -t -p -g$defines $name"
	fi
	echo "PASS: spin rejects the broken variant (as expected)"
	;;
esac
exit 0
