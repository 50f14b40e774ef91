# tests/verification.cmake: fault injection and lifecycle tests (see
# docs/design/verification.md).  Included by tests/CMakeLists.txt.

# Fault injection needs a library built with MPSAFE_FAULT_INJECTION=ON
# (the debug, asan, tsan and ubsan presets).  With the network stack the
# same program also covers wqinput_create.
if(MPSAFE_FAULT_INJECTION)
	if(TARGET mpsafe_net_static)
		mpsafe_add_test(NAME test_fault SOURCES test_fault.c
		    LABELS unit LIBS mpsafe_net_static
		    DEFINITIONS MPSAFE_TEST_NET=1)
	else()
		mpsafe_add_test(NAME test_fault SOURCES test_fault.c
		    LABELS unit)
	endif()
endif()

mpsafe_add_test(NAME test_lifecycle SOURCES test_lifecycle.c
    LABELS unit TIMEOUT 180)
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_lifecycle SOURCES death_lifecycle.c
	    LABELS death)
endif()

# The loop of docs/design/verification.md, compiled and run.
if(MPSAFE_FAULT_INJECTION)
	mpsafe_add_test(NAME example_fault_injection
	    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/fault-injection.c
	    PLAIN LABELS unit TIMEOUT 60)
endif()

# The cheap part of `make portability`: every library source compiles
# warning-free with gcc, clang, -m32 and the aarch64 cross gcc where
# installed, with and without the Linux probes (tests/portability-quick.sh).
# Plain builds only (the compilers run without sanitizer flags anyway).
if(NOT MPSAFE_SANITIZE_LIST AND NOT CMAKE_CROSSCOMPILING)
	find_program(MPSAFE_SH sh REQUIRED)
	add_test(NAME portability_quick
	    COMMAND ${MPSAFE_SH} ${CMAKE_CURRENT_SOURCE_DIR}/portability-quick.sh
	        ${PROJECT_SOURCE_DIR})
	set_tests_properties(portability_quick PROPERTIES
	    LABELS "unit;portability" TIMEOUT 300)
endif()
