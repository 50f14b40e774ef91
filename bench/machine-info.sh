#!/bin/sh
# bench/machine-info.sh: describe this machine for a benchmark record.
#
#   bench/machine-info.sh
#
# Prints, for the machine.txt that bench/run-suite.sh writes next to its
# results: lscpu, uname -a and free -g, then the settings that move the
# figures without showing in the CPU model: transparent huge pages
# (route tables use them), the cpuidle driver and governor with each
# idle state's exit latency (destroy-latency pays the wake-up of an idle
# CPU), the haltpoll governor's parameters when it is loaded (with
# guest_halt_poll_ns 0 a guest's idle vCPU halts at once, never polls),
# whether /dev/cpu_dma_latency is writable (the suite's
# destroy-latency@qos0 rows need it), and the hypervisor's steal time
# so far (/proc/stat).  A missing tool or file prints a note instead;
# the exit status is always 0.
set -u

section() {
	printf '\n== %s\n' "$1"
}

# show FILE: its contents on one line, or "(absent)".
show() {
	if [ -r "$1" ]; then
		printf '%s: %s\n' "$1" "$(tr '\n' ' ' <"$1" | sed 's/ *$//')"
	else
		printf '%s: (absent)\n' "$1"
	fi
}

section "lscpu"
lscpu 2>/dev/null || echo "(no lscpu)"
section "uname -a"
uname -a
section "free -g"
free -g 2>/dev/null || echo "(no free)"

section "transparent huge pages"
show /sys/kernel/mm/transparent_hugepage/enabled
show /sys/kernel/mm/transparent_hugepage/defrag

section "cpuidle (CPU 0)"
show /sys/devices/system/cpu/cpuidle/current_driver
show /sys/devices/system/cpu/cpuidle/current_governor
show /sys/devices/system/cpu/cpuidle/current_governor_ro
for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do
	[ -d "$s" ] || continue
	printf '%s: %s, exit latency %s us, disabled %s\n' "${s##*/}" \
	    "$(cat "$s/name" 2>/dev/null)" "$(cat "$s/latency" 2>/dev/null)" \
	    "$(cat "$s/disable" 2>/dev/null)"
done
for p in /sys/module/haltpoll/parameters/*; do
	[ -r "$p" ] && show "$p"
done
if [ -w /dev/cpu_dma_latency ]; then
	echo "/dev/cpu_dma_latency: writable"
else
	echo "/dev/cpu_dma_latency: not writable (no destroy-latency@qos0 rows)"
fi

section "steal"
# The cpu line's eighth value: ticks the hypervisor took from this guest.
awk '$1 == "cpu" { print "steal since boot: " $9 " ticks of " \
    ($2 + $3 + $4 + $5 + $6 + $7 + $8 + $9) " (/proc/stat)" }' \
    /proc/stat 2>/dev/null || echo "(no /proc/stat)"
exit 0
