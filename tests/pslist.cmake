# pslist.cmake: the tests of pslist(3), the header-only pserialize-safe
# list (see CMakeLists.txt in this directory for mpsafe_add_test and the
# label vocabulary).

mpsafe_add_test(NAME test_pslist SOURCES test_pslist.c LABELS unit)

# Death tests need the contract checks (MPSAFE_DIAGNOSTIC: debug and
# sanitizer presets).
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_pslist SOURCES death_pslist.c LABELS death)
endif()

# Torture: a short run in every `make test`, a long one on request.
mpsafe_add_test(NAME torture_pslist SOURCES torture_pslist.c
    LABELS stress TIMEOUT 300)
mpsafe_add_test(NAME torture_pslist_long SOURCES torture_pslist.c
    LABELS stress-long TIMEOUT 1800)
set_property(TEST torture_pslist_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)
# The torture's own test: against the library whose grace periods do not
# wait (mpsafe_broken, from primitives.cmake) it must abort.
if(TARGET mpsafe_broken)
	mpsafe_add_test(NAME torture_pslist_teeth SOURCES torture_pslist.c
	    LABELS stress LIBS mpsafe_broken
	    DEFINITIONS TORTURE_EXPECT_BROKEN=1 TIMEOUT 300)
endif()

# The manual's example, compiled and run (its own main(); exit status).
mpsafe_add_test(NAME example_pslist
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/pslist-life.c
    PLAIN LABELS unit)
