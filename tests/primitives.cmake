# primitives.cmake: the tests of the core primitives (see CMakeLists.txt in
# this directory for mpsafe_add_test and the label vocabulary).

# A copy of the core library whose grace periods do not wait, used only to
# show that the torture test catches that (the torture test's own test).
list(TRANSFORM MPSAFE_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/
    OUTPUT_VARIABLE _mpsafe_broken_sources)
add_library(mpsafe_broken STATIC EXCLUDE_FROM_ALL ${_mpsafe_broken_sources})
target_include_directories(mpsafe_broken
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(mpsafe_broken PRIVATE
    ${MPSAFE_LIBRARY_PRIVATE_DEFINITIONS} MPSAFE_TEST_BROKEN_NO_WAIT=1)
target_link_libraries(mpsafe_broken PUBLIC Threads::Threads)

mpsafe_add_test(NAME test_registry SOURCES test_registry.c LABELS unit)
mpsafe_add_test(NAME test_pserialize SOURCES test_pserialize.c LABELS unit)
mpsafe_add_test(NAME test_defer SOURCES test_defer.c LABELS unit)
# Death tests need the contract checks (MPSAFE_DIAGNOSTIC: debug and
# sanitizer presets).
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_pserialize SOURCES death_pserialize.c
	    LABELS death)
endif()

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
