# psref.cmake: the tests of psref(3) (see CMakeLists.txt in this directory
# for mpsafe_add_test and the label vocabulary).

mpsafe_add_test(NAME test_psref SOURCES test_psref.c LABELS unit)
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_psref SOURCES death_psref.c LABELS death)
endif()

# Torture: pslist + psref, a short run by default, a long one on request.
mpsafe_add_test(NAME torture_psref SOURCES torture_psref.c
    LABELS stress TIMEOUT 300)
mpsafe_add_test(NAME torture_psref_long SOURCES torture_psref.c
    LABELS stress-long TIMEOUT 1800)
set_property(TEST torture_psref_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)

# Its teeth: against a library whose psref_target_destroy does not wait
# for holders, it must see violations.  Not under ThreadSanitizer, which
# rightly reports the broken library's races.
if(NOT "thread" IN_LIST MPSAFE_SANITIZE_LIST)
	mpsafe_add_broken_library(mpsafe_broken_psref
	    MPSAFE_TEST_BROKEN_PSREF_NO_WAIT)
	mpsafe_add_test(NAME torture_psref_teeth SOURCES torture_psref.c
	    LABELS stress LIBS mpsafe_broken_psref
	    DEFINITIONS TORTURE_EXPECT_BROKEN=1 TIMEOUT 300)
endif()

# The manual page's example, compiled and run.
mpsafe_add_test(NAME example_psref
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/psref-life.c
    PLAIN LABELS unit)
