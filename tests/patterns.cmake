# patterns.cmake: the examples of docs/patterns/ (docs/examples/pattern-*.c),
# each built and run as a test (see CMakeLists.txt in this directory for
# mpsafe_add_test and the labels).
#
# Where the bug a pattern prevents can be shown deterministically, the same
# source is built a second time with PATTERN_UNSAFE defined (the safety
# removed) as example_pattern_<name>_unsafe, whose test passes only when
# the program ends with the status that says it observed the bug: 3 (the
# example saw it: docs/examples/pattern.h), or 134 (SIGABRT: the library
# caught the misuse and aborted).  The unsafe programs never touch freed
# memory (they retire into a quarantine), so they run under every preset.

find_program(MPSAFE_SH sh REQUIRED)

# mpsafe_pattern_example(NAME <name> [UNSAFE_STATUS <status>] [TIMEOUT <s>]
#     [LIBS <libraries>])
# LIBS: what the example links instead of mpsafe_static (mpsafe_net_static
# for the examples that use the reference stack).
function(mpsafe_pattern_example)
	cmake_parse_arguments(PARSE_ARGV 0 P "" "NAME;UNSAFE_STATUS;TIMEOUT"
	    "LIBS")
	if(NOT P_TIMEOUT)
		set(P_TIMEOUT 60)
	endif()
	if(NOT P_LIBS)
		set(P_LIBS mpsafe_static)
	endif()
	set(_src ${PROJECT_SOURCE_DIR}/docs/examples/pattern-${P_NAME}.c)
	string(REPLACE "-" "_" _id ${P_NAME})
	mpsafe_add_test(NAME example_pattern_${_id} SOURCES ${_src}
	    PLAIN LABELS unit TIMEOUT ${P_TIMEOUT} LIBS ${P_LIBS})
	if(NOT P_UNSAFE_STATUS)
		return()
	endif()

	set(_t example_pattern_${_id}_unsafe)
	add_executable(${_t} ${_src})
	target_link_libraries(${_t} PRIVATE
	    ${P_LIBS} Threads::Threads mpsafe_warnings)
	target_compile_definitions(${_t} PRIVATE PATTERN_UNSAFE=1
	    $<$<BOOL:${MPSAFE_DIAGNOSTIC}>:MPSAFE_DIAGNOSTIC=1>
	    $<$<BOOL:${MPSAFE_DEBUG}>:MPSAFE_DEBUG=1>)
	# The program runs under the cross-compiling emulator when there is
	# one (the i386 and aarch64 presets), as add_test() does by itself
	# for a target named first.
	list(JOIN CMAKE_CROSSCOMPILING_EMULATOR " " _emu)
	add_test(NAME ${_t}
	    COMMAND ${MPSAFE_SH} -c
	        "${_emu} \"$0\"; st=$?; echo \"exit status $st, expected ${P_UNSAFE_STATUS}\"; test $st -eq ${P_UNSAFE_STATUS}"
	        $<TARGET_FILE:${_t}>)
	math(EXPR _timeout "${P_TIMEOUT} * ${MPSAFE_TEST_TIMEOUT_SCALE}")
	set_tests_properties(${_t} PROPERTIES
	    TIMEOUT ${_timeout} LABELS "unit;unsafe")
	if(MPSAFE_TEST_ENVIRONMENT)
		set_tests_properties(${_t} PROPERTIES
		    ENVIRONMENT "${MPSAFE_TEST_ENVIRONMENT}")
	endif()
endfunction()

# 1. publish, look up, retire: without the grace period a reader sees
#    the poison of a freed object.
mpsafe_pattern_example(NAME publish UNSAFE_STATUS 3)
# 2, 4, 5, 6 use the reference stack (mpsafe_net), when it is built.
if(TARGET mpsafe_net_static)
	# 2. look up, then take a psref to block: without the psref the
	#    interface is freed while a thread sleeps holding its pointer.
	mpsafe_pattern_example(NAME psref-block UNSAFE_STATUS 3
	    LIBS mpsafe_net_static)
	# 4. store an index, not a pointer: a queued packet that keeps a
	#    pointer leads to a freed interface.
	mpsafe_pattern_example(NAME index UNSAFE_STATUS 3
	    LIBS mpsafe_net_static)
	# 5. one holder per cache: an entry kept without the generation
	#    check is used after its route was deleted.
	mpsafe_pattern_example(NAME rtcache UNSAFE_STATUS 3
	    LIBS mpsafe_net_static)
	# 6. update in place without tearing: without RTF_UPDATING a reader
	#    sees half the change.
	mpsafe_pattern_example(NAME updating UNSAFE_STATUS 3
	    LIBS mpsafe_net_static)
endif()
# 3. drain before free: without the drain a reference outlives the object.
mpsafe_pattern_example(NAME drain UNSAFE_STATUS 3)
# 7. leave a context that must not block: a grace period inside a read
#    section would wait for itself; the library aborts (every build).
mpsafe_pattern_example(NAME defer UNSAFE_STATUS 134)
# 8. waiting while holding a lock: the deadlock, found by a timed lock.
mpsafe_pattern_example(NAME lock-order UNSAFE_STATUS 3)
# 9. choosing a mechanism: no unsafe form (nothing is removed).
mpsafe_pattern_example(NAME choose)

# Every code excerpt in docs/patterns/ must come from a compiled example.
add_test(NAME doc_excerpts
    COMMAND ${MPSAFE_SH} ${CMAKE_CURRENT_SOURCE_DIR}/doc-excerpts.sh
        ${PROJECT_SOURCE_DIR}/docs/patterns ${PROJECT_SOURCE_DIR}/docs/examples)
set_tests_properties(doc_excerpts PROPERTIES LABELS unit TIMEOUT 60)

# Not a pattern: the example of mpsafe_thread(3), the registry's page.
mpsafe_add_test(NAME example_thread_register
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/thread-register.c
    PLAIN LABELS unit)
