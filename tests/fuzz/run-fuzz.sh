#!/bin/sh
# run-fuzz.sh HARNESS SECONDS SEED_DIR WORK_DIR
#
# Run a libFuzzer harness for SECONDS from the seeds in SEED_DIR (read
# only), growing a working corpus in WORK_DIR; crash inputs are written to
# WORK_DIR/../crash-*.  Exits with libFuzzer's status: 0 when nothing
# failed in the time given.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 HARNESS SECONDS SEED_DIR WORK_DIR" >&2; exit 2; }
harness=$1 secs=$2 seeds=$3 work=$4
mkdir -p "$work"
cd "$(dirname "$work")"
# -rss_limit_mb: the harnesses' tables stay small; a leak or a runaway
# allocation shows up as a failure rather than as a slow machine.
exec "$harness" -max_total_time="$secs" -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 "$work" "$seeds"
