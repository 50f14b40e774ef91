# workqueue.cmake: the tests of workqueue(3) (see CMakeLists.txt in this
# directory for mpsafe_add_test and the label vocabulary).

mpsafe_add_test(NAME test_workqueue SOURCES test_workqueue.c LABELS unit)
# The tests that need more than 10 CPUs, on a table of 12 unpinned ones
# (MPSAFE_TEST_NCPU, a hook of test builds): one Criterion filter, which
# the single-process shim (ThreadSanitizer builds) lacks.
if(MPSAFE_FAULT_INJECTION
    AND MPSAFE_TEST_RUNNER_TARGET STREQUAL "PkgConfig::CRITERION")
	add_test(NAME test_workqueue_ncpu12
	    COMMAND test_workqueue
	        --filter workqueue/worker_names_fit_the_limit_with_two_digit_cpus)
	set_tests_properties(test_workqueue_ncpu12 PROPERTIES
	    LABELS unit TIMEOUT 120
	    ENVIRONMENT "${MPSAFE_TEST_ENVIRONMENT};MPSAFE_TEST_NCPU=12")
	if(NOT MPSAFE_CRITERION_RUNNABLE)
		set_tests_properties(test_workqueue_ncpu12 PROPERTIES
		    DISABLED TRUE)
	endif()
endif()

# Death tests need the contract checks (MPSAFE_DIAGNOSTIC: debug and
# sanitizer presets).
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_workqueue SOURCES death_workqueue.c
	    LABELS death)
endif()

# Torture: a short run in every `make test`, a long one on request.
mpsafe_add_test(NAME torture_workqueue SOURCES torture_workqueue.c
    LABELS stress TIMEOUT 300)
mpsafe_add_test(NAME torture_workqueue_long SOURCES torture_workqueue.c
    LABELS stress-long TIMEOUT 1800)
set_property(TEST torture_workqueue_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)
# The torture's own test: against a library whose workqueue_wait skips the
# running batch (mpsafe_broken, from primitives.cmake), it must fail.
if(TARGET mpsafe_broken)
	mpsafe_add_test(NAME torture_workqueue_teeth SOURCES torture_workqueue.c
	    LABELS stress LIBS mpsafe_broken
	    DEFINITIONS TORTURE_EXPECT_BROKEN=1 TIMEOUT 300)
endif()

# The manual's example, compiled and run (its own main(); exit status).
mpsafe_add_test(NAME example_workqueue
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/workqueue-life.c
    PLAIN LABELS unit TIMEOUT 60)
