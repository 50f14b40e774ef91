/*
 * net_glibc_before.c: mpsafe_net's networking headers first, then
 * glibc's, then the uses of net_glibc_uses.h.  Compiled into
 * hygiene_header_check_c: the check is the build.  net_glibc_after.c
 * includes them the other way round.
 */
#include <mpsafe/net/if.h>
#include <mpsafe/net/mbuf.h>
#include <mpsafe/net/sockaddr.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <net/route.h>

#define NET_GLIBC_FN hygiene_net_glibc_before
#include "net_glibc_uses.h"
