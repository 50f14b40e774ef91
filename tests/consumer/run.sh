#!/bin/sh
# run.sh MPSAFE_BUILD_DIR MPSAFE_SOURCE_DIR
#
# Install a built mpsafe into a temporary prefix (never the system's), then
# build and run tests/consumer against it three ways:
#   1. CMake: find_package(mpsafe CONFIG) with CMAKE_PREFIX_PATH, linking
#      mpsafe::mpsafe and mpsafe::mpsafe_static;
#   2. pkg-config, shared: cc consumer.c $(pkg-config --cflags --libs mpsafe);
#   3. pkg-config, static: pkg-config --static, linking libmpsafe.a.
# Environment: CC, CMAKE, PKG_CONFIG, MPSAFE_CONFIG (build configuration
# for multi-config generators) override the defaults.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 MPSAFE_BUILD_DIR MPSAFE_SOURCE_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
here=$src/tests/consumer
CC=${CC:-cc}
CMAKE=${CMAKE:-cmake}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
export CC PKG_CONFIG

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpsafe-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step()
{
	echo "== consumer: $*"
}

step "install $build into $prefix"
unset DESTDIR
if [ -n "${MPSAFE_CONFIG:-}" ]; then
	"$CMAKE" --install "$build" --prefix "$prefix" --config "$MPSAFE_CONFIG"
else
	"$CMAKE" --install "$build" --prefix "$prefix"
fi

pc=$(find "$prefix" -name mpsafe.pc -path '*/pkgconfig/*' | head -n 1)
cfg=$(find "$prefix" -name mpsafeConfig.cmake | head -n 1)
if [ -z "$pc" ] || [ -z "$cfg" ]; then
	echo "consumer: install lacks mpsafe.pc or mpsafeConfig.cmake" >&2
	exit 1
fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")

step "CMake find_package(mpsafe CONFIG)"
"$CMAKE" -S "$here" -B "$tmp/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
"$CMAKE" --build "$tmp/cmake-build"
LD_LIBRARY_PATH=$libdir "$tmp/cmake-build/consumer"
"$tmp/cmake-build/consumer_static"

step "pkg-config (shared), PKG_CONFIG_PATH=$pcdir"
PKG_CONFIG_PATH=$pcdir
PKG_CONFIG_LIBDIR=$pcdir # only our prefix, not the system's
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
echo "cflags: $("$PKG_CONFIG" --cflags mpsafe)"
echo "libs:   $("$PKG_CONFIG" --libs mpsafe)"
echo "static: $("$PKG_CONFIG" --static --libs mpsafe)"
mkdir -p "$tmp/pc"
make -s -C "$tmp/pc" -f "$here/Makefile" SRCDIR="$here" consumer consumer-static
LD_LIBRARY_PATH=$libdir "$tmp/pc/consumer"
if ! LD_LIBRARY_PATH=$libdir ldd "$tmp/pc/consumer" | grep -q "$libdir/libmpsafe.so"; then
	echo "consumer: pkg-config build does not use $libdir/libmpsafe.so" >&2
	LD_LIBRARY_PATH=$libdir ldd "$tmp/pc/consumer" >&2
	exit 1
fi

step "pkg-config --static (libmpsafe.a)"
if LD_LIBRARY_PATH=$libdir ldd "$tmp/pc/consumer-static" | grep -q libmpsafe; then
	echo "consumer: static build still needs libmpsafe.so" >&2
	exit 1
fi
"$tmp/pc/consumer-static"

step "all consumer builds ran"
