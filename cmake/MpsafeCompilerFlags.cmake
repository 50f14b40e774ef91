# MpsafeCompilerFlags.cmake: warnings and sanitizers for everything the
# project builds.
#
# Defines:
#   mpsafe_warnings      INTERFACE target carrying the project's warning
#                        flags (and -Werror when MPSAFE_WERROR is in force).
#                        Link it PRIVATE from any target the project owns;
#                        it is never installed or exported.
#   MPSAFE_WARNING_FLAGS the list of warning flags the compiler accepted.
#   MPSAFE_WERROR_EFFECTIVE  ON when -Werror is added (option or $CI).
#   MPSAFE_SANITIZE_LIST the sanitizers asked for, as a CMake list.
#
# Sanitizer flags are added with add_compile_options()/add_link_options()
# in the calling directory, so they reach every target of this project
# (library, tests, benchmarks) but not a parent project that embeds us.

include_guard(GLOBAL)
include(CheckCCompilerFlag)
include(CheckCSourceCompiles)

# --- warnings --------------------------------------------------------------

# Flags both gcc 12 and clang 14 understand; each is still probed, so an
# older or different compiler drops what it does not know.
set(_mpsafe_candidate_warnings
	-Wall
	-Wextra
	-Wshadow
	-Wstrict-prototypes
	-Wmissing-prototypes
	-Wmissing-declarations
	-Wold-style-definition
	-Wpointer-arith
	-Wcast-align
	-Wwrite-strings
	-Wformat=2
	-Wundef
	-Wvla
	-Wmissing-include-dirs
	-Werror=implicit-function-declaration
	-Werror=incompatible-pointer-types
	-Werror=return-type)

set(MPSAFE_WARNING_FLAGS "")
foreach(_flag IN LISTS _mpsafe_candidate_warnings)
	string(MAKE_C_IDENTIFIER "MPSAFE_CC_HAS${_flag}" _var)
	check_c_compiler_flag("${_flag}" ${_var})
	if(${_var})
		list(APPEND MPSAFE_WARNING_FLAGS "${_flag}")
	endif()
endforeach()

# -Werror: on request, and always in CI (the environment variable CI is set
# to something other than 0/false/no by every CI system we know of).
set(MPSAFE_WERROR_EFFECTIVE OFF)
if(MPSAFE_WERROR)
	set(MPSAFE_WERROR_EFFECTIVE ON)
elseif(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL ""
    AND NOT "$ENV{CI}" MATCHES "^(0|[Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|[Oo][Ff][Ff])$")
	set(MPSAFE_WERROR_EFFECTIVE ON)
endif()

if(NOT TARGET mpsafe_warnings)
	add_library(mpsafe_warnings INTERFACE)
	target_compile_options(mpsafe_warnings INTERFACE
		$<$<COMPILE_LANGUAGE:C>:${MPSAFE_WARNING_FLAGS}>)
	if(MPSAFE_WERROR_EFFECTIVE)
		target_compile_options(mpsafe_warnings INTERFACE
			$<$<COMPILE_LANGUAGE:C>:-Werror>)
	endif()
endif()

# --- sanitizers ------------------------------------------------------------

string(REPLACE "," ";" MPSAFE_SANITIZE_LIST "${MPSAFE_SANITIZE}")
list(TRANSFORM MPSAFE_SANITIZE_LIST STRIP)
list(REMOVE_ITEM MPSAFE_SANITIZE_LIST "")
list(REMOVE_DUPLICATES MPSAFE_SANITIZE_LIST)
foreach(_san IN LISTS MPSAFE_SANITIZE_LIST)
	if(NOT _san MATCHES "^(address|thread|undefined)$")
		message(FATAL_ERROR
		    "MPSAFE_SANITIZE: unknown sanitizer '${_san}' "
		    "(use address, thread, undefined, or address,undefined)")
	endif()
endforeach()
if("thread" IN_LIST MPSAFE_SANITIZE_LIST
    AND "address" IN_LIST MPSAFE_SANITIZE_LIST)
	message(FATAL_ERROR
	    "MPSAFE_SANITIZE: thread and address cannot be combined")
endif()

set(MPSAFE_SANITIZE_FLAGS "")
if(MPSAFE_SANITIZE_LIST)
	list(JOIN MPSAFE_SANITIZE_LIST "," _san_joined)
	set(MPSAFE_SANITIZE_FLAGS
	    "-fsanitize=${_san_joined}" -fno-omit-frame-pointer -g)
	if("undefined" IN_LIST MPSAFE_SANITIZE_LIST)
		# A UBSan report must fail the test, not scroll past.
		list(APPEND MPSAFE_SANITIZE_FLAGS
		    -fno-sanitize-recover=undefined)
	endif()

	# Compile and link a program with the flags: a missing runtime
	# library shows up here rather than at the first test.
	list(JOIN MPSAFE_SANITIZE_FLAGS " " CMAKE_REQUIRED_FLAGS)
	set(CMAKE_REQUIRED_LINK_OPTIONS ${MPSAFE_SANITIZE_FLAGS})
	string(MAKE_C_IDENTIFIER "MPSAFE_CC_SANITIZE_${_san_joined}_WORKS"
	    _san_var)
	check_c_source_compiles("int main(void) { return 0; }" ${_san_var})
	unset(CMAKE_REQUIRED_FLAGS)
	unset(CMAKE_REQUIRED_LINK_OPTIONS)
	if(NOT ${_san_var})
		message(FATAL_ERROR
		    "MPSAFE_SANITIZE=${MPSAFE_SANITIZE}: ${CMAKE_C_COMPILER_ID} "
		    "cannot compile and link with ${MPSAFE_SANITIZE_FLAGS} "
		    "(is the sanitizer runtime installed?)")
	endif()

	if("thread" IN_LIST MPSAFE_SANITIZE_LIST)
		# gcc >= 11 warns that TSan does not model atomic_thread_fence;
		# the library uses fences deliberately and tells TSan about the
		# ordering itself (see mpsafe/thread.h, MPSAFE_TSAN).
		check_c_compiler_flag(-Wtsan MPSAFE_CC_HAS_WTSAN)
		if(MPSAFE_CC_HAS_WTSAN)
			list(APPEND MPSAFE_SANITIZE_FLAGS -Wno-tsan)
		endif()
	endif()

	add_compile_options(${MPSAFE_SANITIZE_FLAGS})
	add_link_options(${MPSAFE_SANITIZE_FLAGS})
endif()
