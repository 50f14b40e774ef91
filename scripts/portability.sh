#!/bin/sh
# scripts/portability.sh: the portability tier (`make portability`).
#
#  1. gcc and clang: the whole tree (library, network stack, tests,
#     benchmarks) builds with warnings as errors (build/port-gcc,
#     build/port-clang).
#  1b. the fallbacks of a platform without futex(2) and membarrier(2)
#     (build/port-fallbacks: the parking-lot sleep, fence mode only):
#     builds, and the tests run.
#  2. i386 (-m32, preset i386): builds with warnings as errors; the tests
#     run, natively or, where the kernel cannot run 32-bit programs, under
#     qemu-i386.
#  3. aarch64 (preset aarch64, Debian's cross gcc): builds with warnings
#     as errors; the unit tests run under qemu-aarch64; then the torture
#     programs (preset aarch64-torture, MPSAFE_DEBUG_YIELD) run under
#     qemu-aarch64 for PORT_TORTURE_SECONDS (default 30) in all.
#
# Under qemu-user some tests cannot mean what they check, and are left
# out there (EMULATED_EXCLUDE below): counting threads in /proc/self/task
# (qemu adds its own), fork() of a many-threaded program (qemu 7.2 aborts
# in its own RCU code), and the teeth tests, which need real parallelism
# to catch the broken libraries in the time they have.  Tests inside
# other programs that fork a threaded program skip themselves when
# MPSAFE_TEST_EMULATED is set, as it is for every emulated run here; and
# test_wqinput's one 32-bit-only test (ring sizes that overflow size_t)
# runs on its own under qemu-i386.
#
# Environment: JOBS (parallel build jobs, default 2), PORT_TORTURE_SECONDS.
set -eu

jobs=${JOBS:-2}
torture_s=${PORT_TORTURE_SECONDS:-30}
EMULATED_EXCLUDE='test_workqueue|test_fault|test_lifecycle|_teeth|test_wqinput|example_workqueue'

say() { echo "portability: $*"; }

for cc in gcc clang; do
	say "$cc, warnings as errors"
	cmake -S . -B "build/port-$cc" -DCMAKE_C_COMPILER="$cc" \
	    -DCMAKE_BUILD_TYPE=Debug -DMPSAFE_WERROR=ON \
	    -DMPSAFE_FAULT_INJECTION=ON -DMPSAFE_BUILD_BENCH=ON >/dev/null
	cmake --build "build/port-$cc" --parallel "$jobs" >/dev/null
	say "$cc: built warning-free"
done

# i386: can this kernel run 32-bit programs?
# The fallbacks a platform without Linux's futex(2) and membarrier(2)
# gets (the parking-lot sleep of src/futex.c, fence mode only): the
# probes' cache entries preset to "absent", then the tests, which no
# other tier runs against this build.
say "fallbacks (no futex, no membarrier): build and tests"
cmake -S . -B build/port-fallbacks -DCMAKE_BUILD_TYPE=Debug \
    -DMPSAFE_WERROR=ON -DMPSAFE_DIAGNOSTIC=ON -DMPSAFE_FAULT_INJECTION=ON \
    -DMPSAFE_BUILD_BENCH=OFF -D_mpsafe_have_futex_h=OFF \
    -DMPSAFE_HAVE_LINUX_MEMBARRIER_H=OFF >/dev/null
cmake --build build/port-fallbacks --parallel "$jobs" >/dev/null
ctest --test-dir build/port-fallbacks -LE '^(stress-long|model)$' \
    --parallel "$jobs" --output-on-failure
say "fallbacks: tests passed"

probe=$(mktemp -d "${TMPDIR:-/tmp}/port.XXXXXX")
trap 'rm -rf "$probe"' EXIT
echo 'int main(void) { return 0; }' >"$probe/p.c"
i386_emu=""
if ! gcc -m32 -o "$probe/p" "$probe/p.c"; then
	echo "portability: gcc -m32 cannot link: install libc6-dev-i386" \
	    "lib32gcc-12-dev lib32stdc++-12-dev (MPSAFE_DEPS_PORTABILITY=1" \
	    "make deps)" >&2
	exit 1
fi
if ! "$probe/p" 2>/dev/null; then
	i386_emu=qemu-i386
	say "this kernel cannot run 32-bit programs: tests under qemu-i386"
fi
cmake --preset i386 ${i386_emu:+-DMPSAFE_I386_EMULATOR=$i386_emu} >/dev/null
cmake --build --preset i386 --parallel "$jobs" >/dev/null
say "i386: built warning-free"
if [ -n "$i386_emu" ]; then
	MPSAFE_TEST_EMULATED=1 ctest --test-dir build/i386 \
	    -LE '^stress-long$' -E "$EMULATED_EXCLUDE" --parallel "$jobs" \
	    --output-on-failure
	MPSAFE_TEST_EMULATED=1 "$i386_emu" build/i386/tests/test_wqinput \
	    --filter=wqinput/create_refuses_rings_whose_size_overflows
else
	ctest --test-dir build/i386 -LE '^stress-long$' --parallel "$jobs" \
	    --output-on-failure
fi
say "i386: tests passed"

cmake --preset aarch64 >/dev/null
cmake --build --preset aarch64 --parallel "$jobs" >/dev/null
say "aarch64: cross-built warning-free"
MPSAFE_TEST_EMULATED=1 ctest --test-dir build/aarch64 -LE '^stress-long$' \
    -E "$EMULATED_EXCLUDE" --parallel "$jobs" --output-on-failure
say "aarch64: tests passed under qemu-aarch64"
cmake --preset aarch64-torture >/dev/null
cmake --build --preset aarch64-torture --parallel "$jobs" >/dev/null
TORTURE_SECONDS=$torture_s \
    TORTURE_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
    sh scripts/torture.sh build/aarch64-torture
say "all passed"
