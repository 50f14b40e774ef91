# ifnet.cmake: the tests of the sockaddr helpers, the interface collection
# and packets (mpsafe/net/sockaddr.h, if.h, mbuf.h); label net.  Included
# from net.cmake, only when the mpsafe_net target exists.

mpsafe_add_test(NAME test_sockaddr SOURCES test_sockaddr.c
    LABELS net LIBS mpsafe_net_static)
# test_ifnet checks the name table with if_impl.h's private check.
mpsafe_add_test(NAME test_ifnet SOURCES test_ifnet.c
    LABELS net LIBS mpsafe_net_static
    INCLUDES ${PROJECT_SOURCE_DIR}/src/net)
mpsafe_add_test(NAME test_mbuf SOURCES test_mbuf.c
    LABELS net LIBS mpsafe_net_static)
if(MPSAFE_DIAGNOSTIC)
	mpsafe_add_test(NAME death_ifnet SOURCES death_ifnet.c
	    LABELS net death LIBS mpsafe_net_static)
endif()

# Torture: a short run by default, a long one on request.
mpsafe_add_test(NAME torture_ifnet SOURCES torture_ifnet.c
    LABELS net stress LIBS mpsafe_net_static TIMEOUT 300)
mpsafe_add_test(NAME torture_ifnet_long SOURCES torture_ifnet.c
    LABELS net stress-long LIBS mpsafe_net_static TIMEOUT 1800)
set_property(TEST torture_ifnet_long APPEND PROPERTY
    ENVIRONMENT MPSAFE_TORTURE_SECONDS=60)

# Its teeth: against a copy of mpsafe_net whose if_detach() does not wait
# for psref holders, it must end in SIGABRT (a violation, or poison
# followed).  Not under the sanitizers, which rightly report the broken
# library's races and wild reads first.
if(NOT MPSAFE_SANITIZE_LIST)
	add_library(mpsafe_net_broken STATIC EXCLUDE_FROM_ALL
	    ${PROJECT_SOURCE_DIR}/src/net/if.c
	    ${PROJECT_SOURCE_DIR}/src/net/if_hash.c
	    ${PROJECT_SOURCE_DIR}/src/net/mbuf.c
	    ${PROJECT_SOURCE_DIR}/src/net/sockaddr.c)
	target_include_directories(mpsafe_net_broken
	    PUBLIC ${PROJECT_SOURCE_DIR}/include)
	target_compile_definitions(mpsafe_net_broken PRIVATE
	    ${MPSAFE_LIBRARY_PRIVATE_DEFINITIONS}
	    MPSAFE_TEST_BROKEN_IFNET_NO_WAIT=1)
	target_link_libraries(mpsafe_net_broken PUBLIC mpsafe_static
	    Threads::Threads)
	mpsafe_add_test(NAME torture_ifnet_teeth SOURCES torture_ifnet.c
	    LABELS net stress LIBS mpsafe_net_broken
	    DEFINITIONS TORTURE_EXPECT_BROKEN=1 TIMEOUT 300)
endif()

# docs/net/ifnet.md's example, compiled and run.
mpsafe_add_test(NAME example_ifnet
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/ifnet-life.c
    PLAIN LABELS net unit LIBS mpsafe_net_static)
