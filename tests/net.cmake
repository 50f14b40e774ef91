# net.cmake: the tests of the reference network stack, mpsafe_net (label
# net; see CMakeLists.txt in this directory for mpsafe_add_test).  Included
# only when the mpsafe_net target exists.

mpsafe_add_test(NAME test_wqinput SOURCES test_wqinput.c
    LABELS net LIBS mpsafe_net_static)

# Neighbour tables (mpsafe/net/lltable.h): unit tests, and a torture test
# (short in every run, long on request), in both designs.
mpsafe_add_test(NAME test_lltable SOURCES test_lltable.c
    LABELS net unit LIBS mpsafe_net_static)
mpsafe_add_test(NAME torture_lltable SOURCES torture_lltable.c
    LABELS net stress LIBS mpsafe_net_static TIMEOUT 300)
mpsafe_add_test(NAME torture_lltable_long SOURCES torture_lltable.c
    LABELS net stress-long LIBS mpsafe_net_static TIMEOUT 1800)
set_property(TEST torture_lltable_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)

# Death tests of wqinput and lltable (wqinput.h, lltable.h): they need
# the contract checks (MPSAFE_DIAGNOSTIC), as every death test.
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_net SOURCES death_net.c
	    LABELS net death LIBS mpsafe_net_static)
endif()

# Redirect parsers (mpsafe/net/redirect.h): truncated and lying headers.
mpsafe_add_test(NAME test_redirect SOURCES test_redirect.c
    LABELS net unit LIBS mpsafe_net_static)
# ip_redirect_input(): a redirect applied to a routing table, and every
# truncated or lying outer header.
mpsafe_add_test(NAME test_rtredirect SOURCES test_rtredirect.c
    LABELS net unit LIBS mpsafe_net_static)

# sockaddr, ifnet and mbuf (issue 6).
include(${CMAKE_CURRENT_LIST_DIR}/ifnet.cmake)

# Fault injection in the stack (mpsafe/alloc.h): route add, interface
# attach, address add, neighbour tables, sockaddr pools.  It sets the
# routing table's private knob t_nh_idmax (route_impl.h).
if(MPSAFE_FAULT_INJECTION)
	mpsafe_add_test(NAME test_net_fault SOURCES test_net_fault.c
	    LABELS net unit LIBS mpsafe_net_static
	    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
endif()
