#!/bin/sh
# tests/portability-quick.sh SOURCE_DIR
#
# The cheap part of the portability tier, run by `make test` (test
# portability_quick): compile every library source (core and network
# stack) with -fsyntax-only and the project's warnings as errors, with
# each compiler found among gcc, clang and aarch64-linux-gnu-gcc, with
# -m32 where the 32-bit headers are installed, and twice per compiler:
# with the Linux probes and every test option on, and with all off (no
# <linux/membarrier.h>, no futex: the build a non-Linux platform gets,
# fence mode only).  A few
# seconds; the full tier is `make portability`.
set -eu

src=$1
warn="-std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes
-Wmissing-prototypes -Wmissing-declarations -Wold-style-definition
-Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef -Wvla
-Werror"
defs_linux="-DMPSAFE_HAVE_LINUX_MEMBARRIER_H=1 -DMPSAFE_HAVE_LINUX_FUTEX_H=1"
variants="-DMPSAFE_DIAGNOSTIC=1 -DMPSAFE_FAULT_INJECTION=1 -DMPSAFE_DEBUG_YIELD=1"
files=$(ls "$src"/src/*.c "$src"/src/net/*.c)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portq.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo '#include <pthread.h>' >"$tmp/probe.c"
# -m32: gcc notes that _Atomic 64-bit fields changed alignment in gcc 11
# (-Wpsabi, a note about older compilers, not about this code).
# Without gcc-multilib: the x86 <asm/*> headers serve both sizes
# (as in cmake/toolchain-i386.cmake).
m32_extra=""
if [ ! -e /usr/include/asm ] && [ -d /usr/include/x86_64-linux-gnu/asm ]; then
	mkdir "$tmp/asm-inc"
	ln -s /usr/include/x86_64-linux-gnu/asm "$tmp/asm-inc/asm"
	m32_extra="-idirafter $tmp/asm-inc"
fi
m32_extra="$m32_extra -Wno-psabi"

checked=0
for cc in gcc clang aarch64-linux-gnu-gcc; do
	command -v "$cc" >/dev/null 2>&1 || continue
	for arch in "" -m32; do
		case $cc in
		aarch64*) [ -z "$arch" ] || continue ;;
		esac
		[ -z "$arch" ] || arch="$arch $m32_extra"
		# shellcheck disable=SC2086
		if ! $cc $arch -fsyntax-only "$tmp/probe.c" 2>/dev/null; then
			echo "portability_quick: $cc ${arch%% *}: no headers," \
			    "skipped"
			continue
		fi
		# shellcheck disable=SC2086
		$cc $arch $warn $defs_linux $variants -fsyntax-only \
		    -I"$src/include" -I"$src/src" $files
		# shellcheck disable=SC2086
		$cc $arch $warn -fsyntax-only -I"$src/include" -I"$src/src" \
		    $files
		checked=$((checked + 1))
		echo "portability_quick: $cc ${arch%% *}: warning-free"
	done
done
[ "$checked" -gt 0 ]
