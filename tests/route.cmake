# route.cmake: the tests of the routing table and route caches
# (mpsafe/net/route.h; label net, see CMakeLists.txt in this directory for
# mpsafe_add_test).  Included next to net.cmake when mpsafe_net exists.

# test_route sets a private knob (route_impl.h) to force the next-hop
# lookup's fallback path and to run ids out.
mpsafe_add_test(NAME test_route SOURCES test_route.c
    LABELS net LIBS mpsafe_net_static
    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
# test_lpm drives the trie (src/net/lpm.c) directly.
mpsafe_add_test(NAME test_lpm SOURCES test_lpm.c
    LABELS net LIBS mpsafe_net_static
    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
mpsafe_add_test(NAME test_route_oracle SOURCES test_route_oracle.c
    LABELS net LIBS mpsafe_net_static TIMEOUT 300)
mpsafe_add_test(NAME test_rtcache SOURCES test_rtcache.c
    LABELS net LIBS mpsafe_net_static)
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_route SOURCES death_route.c
	    LABELS net death LIBS mpsafe_net_static
	    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
endif()

# Torture: readers and writers on every design, short by default; the
# private knob (route_impl.h) runs the lockless design once more without
# next-hop ids (the lookups' fallback through the entry).
mpsafe_add_test(NAME torture_route SOURCES torture_route.c
    LABELS net stress LIBS mpsafe_net_static TIMEOUT 300
    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
mpsafe_add_test(NAME torture_route_long SOURCES torture_route.c
    LABELS net stress-long LIBS mpsafe_net_static TIMEOUT 1800
    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
set_property(TEST torture_route_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)

# A program includes glibc's <net/route.h> and ours, in either order.
mpsafe_add_test(NAME hygiene_route_glibc SOURCES route_glibc.c
    PLAIN LABELS net hygiene LIBS mpsafe_net_static)

# The note's example, compiled and run (its own main(); exit status).
mpsafe_add_test(NAME example_route
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/route-life.c
    PLAIN LABELS net LIBS mpsafe_net_static)
