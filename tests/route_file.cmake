# route_file.cmake: tests of the route-file parser and the synthetic
# table, lookup and churn generators of mpsafe_net (route_file.h; label
# net).  Included next to net.cmake when the mpsafe_net target exists.

mpsafe_add_test(NAME test_route_file SOURCES test_route_file.c
    LABELS net LIBS mpsafe_net_static)

# The man page's example, compiled and run (its own main(); exit status).
mpsafe_add_test(NAME example_rtfile
    SOURCES ${PROJECT_SOURCE_DIR}/docs/examples/rtfile-load.c
    PLAIN LABELS net LIBS mpsafe_net_static)
