#!/bin/sh
# scripts/deps.sh: install what mpsafe needs to build, test and benchmark,
# on Debian 12 (bookworm), non-interactively.  A no-op when everything is
# installed already.  `make deps` runs it; so do `make test` and `make bench`.
#
# Environment:
#   MPSAFE_DEPS_SKIP=1       do nothing (you manage packages yourself)
#   MPSAFE_DEPS_OPTIONAL=1   also install the optional packages below
#   MPSAFE_DEPS_PORTABILITY=1  also the portability tier's (see below)
set -eu

# What the build, the tests and the benchmarks need.  libclang-rt-14-dev
# holds clang's libFuzzer and sanitizer runtimes (the fuzz preset); clang
# only recommends it, and recommends are not installed here.  spin: the
# model checks of tests/model, label "model"; spin -a preprocesses the
# models with gcc's cpp, and the verifiers it writes are compiled with gcc.
PACKAGES="
cmake
make
gcc
g++
clang
libclang-rt-14-dev
clang-format
pkg-config
binutils
liburcu-dev
libck-dev
libcriterion-dev
gnuplot-nox
mandoc
spin
"

# Hook for later issues: packages a tier will need, installed only with
# MPSAFE_DEPS_OPTIONAL=1 until that tier is wired into `make test`.
#   libdpdk-dev  a comparison baseline for the network stack
OPTIONAL_PACKAGES="
libdpdk-dev
"

# The portability tier (`make portability`, `make torture-aarch64`):
# 32-bit x86 libraries for -m32, Debian's aarch64 cross compiler and
# qemu-user.  About 250 MB, so installed only with
# MPSAFE_DEPS_PORTABILITY=1 (the make targets set it).  Not gcc-multilib:
# on Debian 12 it conflicts with every cross gcc; lib32gcc-12-dev and
# libc6-dev-i386 are what -m32 needs (cmake/toolchain-i386.cmake supplies
# the <asm/*> link that gcc-multilib would).
PORTABILITY_PACKAGES="
libc6-dev-i386
lib32gcc-12-dev
lib32stdc++-12-dev
gcc-aarch64-linux-gnu
libc6-dev-arm64-cross
qemu-user
"

if [ "${MPSAFE_DEPS_SKIP:-0}" = 1 ]; then
	echo "deps: MPSAFE_DEPS_SKIP=1, not checking packages"
	exit 0
fi

want=$PACKAGES
if [ "${MPSAFE_DEPS_OPTIONAL:-0}" = 1 ]; then
	want="$want $OPTIONAL_PACKAGES"
fi
if [ "${MPSAFE_DEPS_PORTABILITY:-0}" = 1 ]; then
	want="$want $PORTABILITY_PACKAGES"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system (no dpkg-query); install these yourself:" >&2
	# shellcheck disable=SC2086 # one line, words split on purpose
	echo "deps: " $want >&2
	exit 0
fi

missing=""
for pkg in $want; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case $status in
	*" ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all build dependencies are installed"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: missing packages:$missing" >&2
	echo "deps: installing them needs root, and sudo is not available;" >&2
	echo "deps: run as root: apt-get install$missing" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -q update
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -q install \
    --no-install-recommends $missing

# Check again: apt-get can succeed without installing (held packages).
still=""
for pkg in $missing; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case $status in
	*" ok installed") ;;
	*) still="$still $pkg" ;;
	esac
done
if [ -n "$still" ]; then
	echo "deps: still missing after apt-get:$still" >&2
	exit 1
fi
echo "deps: installed:$missing"
