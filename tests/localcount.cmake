# localcount.cmake: the tests of localcount(3) (see CMakeLists.txt in this
# directory for mpsafe_add_test and the label vocabulary).

mpsafe_add_test(NAME test_localcount SOURCES test_localcount.c LABELS unit)

# The same tests against a copy of the core library built without the
# contract checks, in builds that have them (every test preset): what a
# misuse does in a release build (a second drain waits as the first) is
# tested too.  The tests' own MPSAFE_DIAGNOSTIC only concerns the inline
# checks of the headers; MPSAFE_TEST_LIBRARY_UNCHECKED tells them the
# library has none.
if(MPSAFE_DIAGNOSTIC)
	list(TRANSFORM MPSAFE_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/
	    OUTPUT_VARIABLE _lc_sources)
	set(_lc_defs ${MPSAFE_LIBRARY_PRIVATE_DEFINITIONS})
	list(REMOVE_ITEM _lc_defs MPSAFE_DIAGNOSTIC=1)
	add_library(mpsafe_unchecked STATIC EXCLUDE_FROM_ALL ${_lc_sources})
	target_include_directories(mpsafe_unchecked
	    PUBLIC ${PROJECT_SOURCE_DIR}/include
	    PRIVATE ${PROJECT_SOURCE_DIR}/src)
	target_compile_definitions(mpsafe_unchecked PRIVATE ${_lc_defs})
	target_link_libraries(mpsafe_unchecked
	    PRIVATE mpsafe_warnings PUBLIC Threads::Threads)
	mpsafe_add_test(NAME test_localcount_unchecked
	    SOURCES test_localcount.c LIBS mpsafe_unchecked
	    DEFINITIONS MPSAFE_TEST_LIBRARY_UNCHECKED=1 LABELS unit)
endif()

# Death tests need the contract checks (MPSAFE_DIAGNOSTIC: debug and
# sanitizer presets).
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_localcount SOURCES death_localcount.c
	    LABELS death)
endif()

# Torture: a short run in every `make test`, a long one on request.
mpsafe_add_test(NAME torture_localcount SOURCES torture_localcount.c
    LABELS stress TIMEOUT 300)
mpsafe_add_test(NAME torture_localcount_long SOURCES torture_localcount.c
    LABELS stress-long TIMEOUT 1800)
set_property(TEST torture_localcount_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)

# The manual's example, compiled and run (its own main(); exit status).
mpsafe_add_test(NAME example_localcount
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/localcount-life.c
    PLAIN LABELS unit TIMEOUT 60)
