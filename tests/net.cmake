# net.cmake: the tests of the reference network stack, mpsafe_net (label
# net; see CMakeLists.txt in this directory for mpsafe_add_test).  Included
# only when the mpsafe_net target exists.

mpsafe_add_test(NAME test_wqinput SOURCES test_wqinput.c
    LABELS net LIBS mpsafe_net_static)

# sockaddr, ifnet and mbuf (issue 6).
include(${CMAKE_CURRENT_LIST_DIR}/ifnet.cmake)
