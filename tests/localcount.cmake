# localcount.cmake: the tests of localcount(3) (see CMakeLists.txt in this
# directory for mpsafe_add_test and the label vocabulary).

mpsafe_add_test(NAME test_localcount SOURCES test_localcount.c LABELS unit)

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
