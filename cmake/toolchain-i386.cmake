# cmake/toolchain-i386.cmake: 32-bit x86 (i386 multilib) build on an
# amd64 Debian host, with the host's gcc or clang and -m32.
#
#   cmake --preset i386        (or: cmake -DCMAKE_TOOLCHAIN_FILE=this ...)
#
# Needs libc6-dev-i386 and lib32gcc-12-dev (scripts/deps.sh installs them
# with MPSAFE_DEPS_PORTABILITY=1).  Not a cross build: the programs run
# on the host, so ctest runs them directly.  No i386 libcriterion exists
# on the host, so the presets build the tests with tests/shim.
#
# Debian's gcc-multilib would supply /usr/include/asm, but it conflicts
# with the aarch64 cross compiler; without it the x86 <asm/*> headers of
# the amd64 libc (which serve both sizes, by __i386__) are put after the
# system directories through a link made here.
# Hosts whose kernel cannot run 32-bit programs (no IA32 emulation, as
# in some VMs) run them under qemu-i386: configure with
# -DMPSAFE_I386_EMULATOR=qemu-i386 (scripts/portability.sh probes and
# does); the build then counts as a cross build.
if(MPSAFE_I386_EMULATOR)
	set(CMAKE_SYSTEM_NAME Linux)
	set(CMAKE_SYSTEM_PROCESSOR i686)
	find_program(_mpsafe_i386_emu ${MPSAFE_I386_EMULATOR} REQUIRED)
	set(CMAKE_CROSSCOMPILING_EMULATOR ${_mpsafe_i386_emu})
endif()

# -Wno-psabi: gcc notes that _Atomic 64-bit fields changed alignment in
# gcc 11 (a note about older compilers' ABI, not about this code).
set(CMAKE_C_FLAGS_INIT "-m32 -Wno-psabi")
set(CMAKE_CXX_FLAGS_INIT "-m32 -Wno-psabi")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-m32")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-m32")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-m32")
set(CMAKE_LIBRARY_ARCHITECTURE i386-linux-gnu)

if(NOT EXISTS /usr/include/asm AND EXISTS /usr/include/x86_64-linux-gnu/asm)
	set(_mpsafe_asm_dir ${CMAKE_BINARY_DIR}/i386-asm)
	if(NOT EXISTS ${_mpsafe_asm_dir}/asm)
		file(MAKE_DIRECTORY ${_mpsafe_asm_dir})
		file(CREATE_LINK /usr/include/x86_64-linux-gnu/asm
		    ${_mpsafe_asm_dir}/asm SYMBOLIC)
	endif()
	string(APPEND CMAKE_C_FLAGS_INIT " -idirafter ${_mpsafe_asm_dir}")
	string(APPEND CMAKE_CXX_FLAGS_INIT " -idirafter ${_mpsafe_asm_dir}")
endif()

# pkg-config must not hand out the amd64 libraries.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig)
