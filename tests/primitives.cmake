# primitives.cmake: the tests of the core primitives (see CMakeLists.txt in
# this directory for mpsafe_add_test and the label vocabulary).

# mpsafe_add_broken_library(NAME DEFINITION): a copy of the core library
# built with DEFINITION=1, a switch that breaks one mechanism on purpose;
# torture tests link it to show they catch the breakage (their teeth).
function(mpsafe_add_broken_library name definition)
	list(TRANSFORM MPSAFE_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/
	    OUTPUT_VARIABLE _sources)
	add_library(${name} STATIC EXCLUDE_FROM_ALL ${_sources})
	target_include_directories(${name}
	    PUBLIC ${PROJECT_SOURCE_DIR}/include
	    PRIVATE ${PROJECT_SOURCE_DIR}/src)
	target_compile_definitions(${name} PRIVATE
	    ${MPSAFE_LIBRARY_PRIVATE_DEFINITIONS} ${definition}=1)
	target_link_libraries(${name} PUBLIC Threads::Threads)
endfunction()

# Grace periods (and workqueue_wait) that do not wait.
mpsafe_add_broken_library(mpsafe_broken MPSAFE_TEST_BROKEN_NO_WAIT)

mpsafe_add_test(NAME test_registry SOURCES test_registry.c LABELS unit)
mpsafe_add_test(NAME test_pserialize SOURCES test_pserialize.c LABELS unit)
mpsafe_add_test(NAME test_defer SOURCES test_defer.c LABELS unit)
# Death tests need the contract checks (MPSAFE_DIAGNOSTIC: debug and
# sanitizer presets).
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_pserialize SOURCES death_pserialize.c
	    LABELS death)
endif()
# The rules every build enforces: in every preset, release included.
mpsafe_add_test(NAME death_every_build SOURCES death_every_build.c
    LABELS death)

# Torture: a short run in every `make test`, a long one on request.
mpsafe_add_test(NAME torture_pserialize SOURCES torture_pserialize.c
    LABELS stress TIMEOUT 300)
mpsafe_add_test(NAME torture_pserialize_long SOURCES torture_pserialize.c
    LABELS stress-long TIMEOUT 1800)
set_property(TEST torture_pserialize_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)
mpsafe_add_test(NAME torture_pserialize_teeth SOURCES torture_pserialize.c
    LABELS stress LIBS mpsafe_broken DEFINITIONS TORTURE_EXPECT_BROKEN=1
    TIMEOUT 300)

# Manual pages: mdoc lint at warning level.
find_program(MPSAFE_MANDOC mandoc)
if(MPSAFE_MANDOC)
	add_test(NAME man_lint COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/man-lint.sh
	    ${PROJECT_SOURCE_DIR}/docs/man)
	set_tests_properties(man_lint PROPERTIES LABELS unit TIMEOUT 60)
endif()
