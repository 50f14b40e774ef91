# cmake/toolchain-aarch64.cmake: cross build for 64-bit Arm Linux with
# Debian's cross compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross).
#
#   cmake --preset aarch64     (or: cmake -DCMAKE_TOOLCHAIN_FILE=this ...)
#
# Test programs run under qemu-aarch64 (package qemu-user) through
# CMAKE_CROSSCOMPILING_EMULATOR, so ctest and scripts/torture.sh work in
# the build tree.  No arm64 libcriterion: the presets use tests/shim.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MPSAFE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${MPSAFE_CROSS_TRIPLE}-gcc)
find_program(_mpsafe_cross_cxx ${MPSAFE_CROSS_TRIPLE}-g++)
if(_mpsafe_cross_cxx)
	set(CMAKE_CXX_COMPILER ${_mpsafe_cross_cxx})
endif()
set(CMAKE_FIND_ROOT_PATH /usr/${MPSAFE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(_mpsafe_qemu NAMES qemu-aarch64 qemu-aarch64-static)
if(_mpsafe_qemu)
	set(CMAKE_CROSSCOMPILING_EMULATOR
	    ${_mpsafe_qemu} -L /usr/${MPSAFE_CROSS_TRIPLE})
endif()
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${MPSAFE_CROSS_TRIPLE}/pkgconfig)
