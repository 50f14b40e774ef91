/*
 * mpsafe/net/sockaddr.h: socket address helpers, after NetBSD's sockaddr_*
 * functions (sys/sys/socket.h, sys/kern/uipc_domain.c).
 *
 * They work on the system's own struct sockaddr_in and struct sockaddr_in6.
 * Linux has no sa_len field: a sockaddr's length follows from its family
 * (sockaddr_getlen()), and every function here refuses a family it does not
 * know with EAFNOSUPPORT.  Supported families: AF_INET and AF_INET6.
 *
 * Differences from NetBSD:
 *  - sockaddr_alloc(af, flags) takes no length (the family gives it) and
 *    allocates from a per-family pool of right-sized sockaddrs.  The
 *    pool's first use, whichever call it is, primes it with
 *    SOCKADDR_POOL_INITIAL sockaddrs (allocating them); from then on
 *    M_NOWAIT never calls malloc() and returns NULL (errno ENOBUFS) when
 *    the pool is empty.  Code that must never allocate calls
 *    sockaddr_pool_reserve() at start-up, which also fills the pool ahead.
 *    Only sockaddrs from sockaddr_alloc()/sockaddr_dup() may be handed to
 *    sockaddr_free().
 *  - sockaddr_copy() returns an errno value and refuses to copy between
 *    families or into a short destination (NetBSD returns dst, copies
 *    across families, and panics on a short destination).
 *  - sockaddr_format() returns an errno value, not a length.
 */
#ifndef MPSAFE_NET_SOCKADDR_H
#define MPSAFE_NET_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <mpsafe/export.h>

MPSAFE_BEGIN_DECLS

/* Allocation flags (NetBSD's malloc(9) flags), for sockaddrs and mbufs. */
#define M_WAITOK 0x0001 /* may call malloc(); fails only with ENOMEM */
#define M_NOWAIT 0x0002 /* from the pool only; NULL when it is empty */
#define M_ZERO 0x0100   /* zero the memory (sockaddrs always are) */

/* Longest text sockaddr_format() writes, terminator included. */
#define SOCKADDR_FORMAT_MAX 64

/* Sockaddrs a family's pool allocates on its first use (sockaddr_alloc). */
#define SOCKADDR_POOL_INITIAL 64

/*
 * sockaddr_getlen(sa)
 *
 *	The length of sa, from its family: sizeof(struct sockaddr_in) or
 *	sizeof(struct sockaddr_in6); 0 for an unknown family or a NULL sa.
 *	Never blocks.
 */
MPSAFE_API socklen_t sockaddr_getlen(const struct sockaddr *sa);

/*
 * sockaddr_in_init(sin, addr, port)
 *
 *	Make *sin an AF_INET sockaddr for addr and port (both in network byte
 *	order), zeroing the rest.  Never blocks.
 */
MPSAFE_API void sockaddr_in_init(
    struct sockaddr_in *sin, const struct in_addr *addr, in_port_t port);

/*
 * sockaddr_in6_init(sin6, addr, port, flowinfo, scope_id)
 *
 *	Make *sin6 an AF_INET6 sockaddr (port and flowinfo in network byte
 *	order), zeroing the rest.  Never blocks.
 */
MPSAFE_API void sockaddr_in6_init(struct sockaddr_in6 *sin6,
    const struct in6_addr *addr, in_port_t port, uint32_t flowinfo,
    uint32_t scope_id);

/*
 * sockaddr_alloc(af, flags)
 *
 *	A zeroed sockaddr of family af (its family field set) from af's
 *	pool.  flags: M_WAITOK or M_NOWAIT, optionally | M_ZERO.  Returns
 *	NULL with errno EAFNOSUPPORT (unknown af), EINVAL (neither or both
 *	of M_WAITOK and M_NOWAIT), ENOBUFS (M_NOWAIT and the pool is empty)
 *	or ENOMEM.  With M_NOWAIT it never blocks except briefly on the
 *	pool's lock; with M_WAITOK it may call malloc().  Exception: the
 *	pool's first use (this call with either flag, sockaddr_dup(),
 *	sockaddr_pool_reserve() or sockaddr_pool_count()) primes it,
 *	allocating SOCKADDR_POOL_INITIAL sockaddrs under the pool's lock;
 *	call sockaddr_pool_reserve() at start-up where even that must not
 *	happen later.  The caller frees the sockaddr with sockaddr_free().
 */
MPSAFE_API struct sockaddr *sockaddr_alloc(sa_family_t af, int flags);

/*
 * sockaddr_dup(src, flags)
 *
 *	sockaddr_alloc(src's family, flags), then a copy of src.  Returns
 *	NULL with errno as sockaddr_alloc() (EINVAL for a NULL src).  The
 *	caller frees the copy with sockaddr_free().
 */
MPSAFE_API struct sockaddr *sockaddr_dup(const struct sockaddr *src, int flags);

/*
 * sockaddr_free(sa)
 *
 *	Give back a sockaddr from sockaddr_alloc() or sockaddr_dup() to its
 *	pool (or to malloc when the pool is full).  NULL is ignored.  A
 *	sockaddr that did not come from them, or a second free of one still
 *	in its pool, aborts with a message; a second free of one that went
 *	back to malloc (its pool was full) reads freed memory and may go
 *	unnoticed.  Never blocks except briefly on the pool's lock.
 */
MPSAFE_API void sockaddr_free(struct sockaddr *sa);

/*
 * sockaddr_copy(dst, dstlen, src)
 *
 *	Copy src into dst, which holds dstlen bytes and already carries
 *	src's family (from sockaddr_alloc() or an _init function).  Returns
 *	0; EAFNOSUPPORT if src's family is unknown; EINVAL for a NULL
 *	argument or when dst is of another family (copies between families
 *	are refused); ENOSPC if dstlen is too short.  On error dst is
 *	unchanged.  Never blocks.
 */
MPSAFE_API int sockaddr_copy(
    struct sockaddr *dst, socklen_t dstlen, const struct sockaddr *src);

/*
 * sockaddr_cmp(a, b)
 *
 *	Order two sockaddrs: by family, then address, then port (then, for
 *	AF_INET6, scope id and flow info).  Returns <0, 0 or >0.  Sockaddrs
 *	of an unknown family compare by family only.  Never blocks.
 */
MPSAFE_API int sockaddr_cmp(const struct sockaddr *a, const struct sockaddr *b);

/*
 * sockaddr_const_addr(sa, lenp)
 *
 *	The address bytes inside sa (a struct in_addr or struct in6_addr),
 *	their length in *lenp if lenp is not NULL.  NULL (and *lenp = 0) for
 *	an unknown family.  Never blocks.
 */
MPSAFE_API const void *sockaddr_const_addr(
    const struct sockaddr *sa, socklen_t *lenp);

/*
 * sockaddr_format(sa, buf, size)
 *
 *	Write sa as text for logs: "192.0.2.1:80", "[2001:db8::1%2]:53", the
 *	port left out when it is 0.  Returns 0; EAFNOSUPPORT for an unknown
 *	family (buf then holds "af=<n>"); EINVAL for a NULL argument or a
 *	zero size; ENOSPC when the text was truncated (buf is always
 *	terminated when size > 0).  SOCKADDR_FORMAT_MAX bytes always
 *	suffice.  Never blocks.
 */
MPSAFE_API int sockaddr_format(
    const struct sockaddr *sa, char *buf, size_t size);

/*
 * sockaddr_pool_reserve(af, n)
 *
 *	Make sure af's pool holds at least n free sockaddrs, so that n
 *	M_NOWAIT allocations succeed.  Returns 0, EAFNOSUPPORT or ENOMEM
 *	(the pool keeps what was added).  May block (allocates).
 */
MPSAFE_API int sockaddr_pool_reserve(sa_family_t af, size_t n);

/*
 * sockaddr_pool_count(af)
 *
 *	For tests and statistics: the free sockaddrs in af's pool now (0 for
 *	an unknown family).  Never blocks except briefly on the pool's lock,
 *	but on the pool's first use it primes the pool (allocates, see
 *	sockaddr_alloc()).
 */
MPSAFE_API size_t sockaddr_pool_count(sa_family_t af);

MPSAFE_END_DECLS

#endif /* MPSAFE_NET_SOCKADDR_H */
