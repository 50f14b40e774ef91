# ifnet.cmake: the tests of the sockaddr helpers, the interface collection
# and packets (mpsafe/net/sockaddr.h, if.h, mbuf.h); label net.  Included
# from net.cmake, only when the mpsafe_net target exists.

mpsafe_add_test(NAME test_sockaddr SOURCES test_sockaddr.c
    LABELS net LIBS mpsafe_net_static)
mpsafe_add_test(NAME test_ifnet SOURCES test_ifnet.c
    LABELS net LIBS mpsafe_net_static)
mpsafe_add_test(NAME test_mbuf SOURCES test_mbuf.c
    LABELS net LIBS mpsafe_net_static)
