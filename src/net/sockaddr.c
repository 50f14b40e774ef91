/*
 * sockaddr.c: socket address helpers and the per-family sockaddr pools.
 *
 * Every sockaddr handed out by sockaddr_alloc() sits in a block behind a
 * small header that records its pool and a magic word:
 *
 *	struct sa_block { sb_magic, sb_pool, sb_next | sockaddr_in or _in6 }
 *
 * so sockaddr_free() finds the pool without trusting the family field (the
 * caller may have overwritten it) and catches a pointer that never came
 * from here, or a double free of a block still on its pool's list (the
 * magic says "free"; a block that went back to malloc is gone, and a
 * second free of it is not caught).  Each family has one pool: a LIFO
 * free list under a mutex.  Invariants: a block is on its pool's free
 * list iff its magic is SB_MAGIC_FREE; sp_count is the length of that
 * list; the list never holds more than sp_keep blocks (the larger of
 * SOCKADDR_POOL_KEEP and the largest reservation), extra frees go back to
 * malloc.  The pool's first use (sockaddr_alloc(), _pool_reserve() or
 * _pool_count()) primes it under its lock with SOCKADDR_POOL_INITIAL
 * fresh blocks (a failure there is absorbed: the pool holds fewer).
 * After that, M_NOWAIT allocations only take from the list, so they
 * never call malloc() and fail (ENOBUFS) when it is empty; M_WAITOK ones
 * fall back to malloc().  The pools are not on any packet fast path
 * (routes and addresses allocate sockaddrs when they change), so one
 * lock is enough.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsafe/alloc.h>
#include <mpsafe/net/sockaddr.h>
#include <mpsafe/thread.h>

#define SB_MAGIC_USED 0x53414455u /* "SADU" */
#define SB_MAGIC_FREE 0x53414446u /* "SADF" */
/* Free blocks a pool keeps at least before returning them to malloc. */
#define SOCKADDR_POOL_KEEP 1024

struct sa_pool;

struct sa_block {
	uint32_t sb_magic;
	struct sa_pool *sb_pool;
	struct sa_block *sb_next; /* free list, under sp_lock */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} sb_u;
};

struct sa_pool {
	pthread_mutex_t sp_lock;
	sa_family_t sp_af;
	socklen_t sp_len;
	bool sp_primed;           /* SOCKADDR_POOL_INITIAL added: sp_lock */
	size_t sp_count;          /* blocks on sp_free: sp_lock */
	size_t sp_keep;           /* most blocks kept on sp_free: sp_lock */
	struct sa_block *sp_free; /* sp_lock */
};

static struct sa_pool sa_pools[] = {
    {PTHREAD_MUTEX_INITIALIZER, AF_INET, sizeof(struct sockaddr_in), false, 0,
        SOCKADDR_POOL_KEEP, NULL},
    {PTHREAD_MUTEX_INITIALIZER, AF_INET6, sizeof(struct sockaddr_in6), false, 0,
        SOCKADDR_POOL_KEEP, NULL},
};

static struct sa_pool *
sa_pool_of(sa_family_t af)
{
	for (size_t i = 0; i < sizeof(sa_pools) / sizeof(sa_pools[0]); i++)
		if (sa_pools[i].sp_af == af)
			return &sa_pools[i];
	return NULL;
}

static struct sa_block *
sa_block_of(const struct sockaddr *sa)
{
	return (struct sa_block *)(void *)((char *)(uintptr_t)sa -
	                                   offsetof(struct sa_block, sb_u));
}

/* Add up to n fresh blocks to sp's free list.  Called with sp_lock held. */
static int
sa_pool_fill_locked(struct sa_pool *sp, size_t n)
{
	while (sp->sp_count < n) {
		struct sa_block *b = mpsafe_calloc(1, sizeof(*b));

		if (b == NULL)
			return ENOMEM;
		b->sb_magic = SB_MAGIC_FREE;
		b->sb_pool = sp;
		b->sb_next = sp->sp_free;
		sp->sp_free = b;
		sp->sp_count++;
	}
	return 0;
}

/* Prime the pool on first use.  Called with sp_lock held. */
static void
sa_pool_prime_locked(struct sa_pool *sp)
{
	if (sp->sp_primed)
		return;
	sp->sp_primed = true;
	(void)sa_pool_fill_locked(sp, SOCKADDR_POOL_INITIAL);
}

socklen_t
sockaddr_getlen(const struct sockaddr *sa)
{
	const struct sa_pool *sp;

	if (sa == NULL)
		return 0;
	sp = sa_pool_of(sa->sa_family);
	return sp != NULL ? sp->sp_len : 0;
}

void
sockaddr_in_init(
    struct sockaddr_in *sin, const struct in_addr *addr, in_port_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	sin->sin_addr = *addr;
}

void
sockaddr_in6_init(struct sockaddr_in6 *sin6, const struct in6_addr *addr,
    in_port_t port, uint32_t flowinfo, uint32_t scope_id)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = port;
	sin6->sin6_flowinfo = flowinfo;
	sin6->sin6_addr = *addr;
	sin6->sin6_scope_id = scope_id;
}

struct sockaddr *
sockaddr_alloc(sa_family_t af, int flags)
{
	struct sa_pool *sp = sa_pool_of(af);
	struct sa_block *b;
	int how = flags & (M_WAITOK | M_NOWAIT);

	if (sp == NULL) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (how != M_WAITOK && how != M_NOWAIT) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&sp->sp_lock);
	sa_pool_prime_locked(sp);
	b = sp->sp_free;
	if (b != NULL) {
		sp->sp_free = b->sb_next;
		sp->sp_count--;
	}
	pthread_mutex_unlock(&sp->sp_lock);
	if (b == NULL) {
		if (how == M_NOWAIT) {
			errno = ENOBUFS;
			return NULL;
		}
		b = mpsafe_calloc(1, sizeof(*b));
		if (b == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		b->sb_pool = sp;
	}
	b->sb_magic = SB_MAGIC_USED;
	b->sb_next = NULL;
	memset(&b->sb_u, 0, sizeof(b->sb_u));
	b->sb_u.sa.sa_family = af;
	return &b->sb_u.sa;
}

struct sockaddr *
sockaddr_dup(const struct sockaddr *src, int flags)
{
	struct sockaddr *sa;

	if (src == NULL) {
		errno = EINVAL;
		return NULL;
	}
	sa = sockaddr_alloc(src->sa_family, flags);
	if (sa != NULL)
		memcpy(sa, src, sockaddr_getlen(src));
	return sa;
}

void
sockaddr_free(struct sockaddr *sa)
{
	struct sa_block *b;
	struct sa_pool *sp;

	if (sa == NULL)
		return;
	b = sa_block_of(sa);
	if (b->sb_magic != SB_MAGIC_USED)
		mpsafe_panic("sockaddr_free: %p did not come from "
		             "sockaddr_alloc, or is freed twice",
		    (void *)sa);
	sp = b->sb_pool;
	b->sb_magic = SB_MAGIC_FREE;
	pthread_mutex_lock(&sp->sp_lock);
	if (sp->sp_count < sp->sp_keep) {
		b->sb_next = sp->sp_free;
		sp->sp_free = b;
		sp->sp_count++;
		b = NULL;
	}
	pthread_mutex_unlock(&sp->sp_lock);
	mpsafe_free(b);
}

int
sockaddr_copy(
    struct sockaddr *dst, socklen_t dstlen, const struct sockaddr *src)
{
	socklen_t len;

	if (dst == NULL || src == NULL)
		return EINVAL;
	len = sockaddr_getlen(src);
	if (len == 0)
		return EAFNOSUPPORT;
	if (dst->sa_family != src->sa_family)
		return EINVAL;
	if (dstlen < len)
		return ENOSPC;
	memmove(dst, src, len);
	return 0;
}

static int
cmp_bytes(const void *a, const void *b, size_t n)
{
	int c = memcmp(a, b, n);

	return c < 0 ? -1 : c > 0;
}

static int
cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

int
sockaddr_cmp(const struct sockaddr *a, const struct sockaddr *b)
{
	int c;

	if (a->sa_family != b->sa_family)
		return a->sa_family < b->sa_family ? -1 : 1;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		c = cmp_bytes(&x->sin_addr, &y->sin_addr, sizeof(x->sin_addr));
		if (c == 0)
			c = cmp_u32(ntohs(x->sin_port), ntohs(y->sin_port));
		return c;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		c = cmp_bytes(
		    &x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
		if (c == 0)
			c = cmp_u32(ntohs(x->sin6_port), ntohs(y->sin6_port));
		if (c == 0)
			c = cmp_u32(x->sin6_scope_id, y->sin6_scope_id);
		if (c == 0)
			c = cmp_u32(x->sin6_flowinfo, y->sin6_flowinfo);
		return c;
	}
	return 0;
}

const void *
sockaddr_const_addr(const struct sockaddr *sa, socklen_t *lenp)
{
	const void *p = NULL;
	socklen_t len = 0;

	if (sa != NULL && sa->sa_family == AF_INET) {
		p = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		len = sizeof(struct in_addr);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		p = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		len = sizeof(struct in6_addr);
	}
	if (lenp != NULL)
		*lenp = len;
	return p;
}

int
sockaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned port;
	int n;

	if (sa == NULL || buf == NULL || size == 0)
		return EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
		if (port != 0)
			n = snprintf(buf, size, "%s:%u", addr, port);
		else
			n = snprintf(buf, size, "%s", addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		char scope[16] = "";

		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		if (sin6->sin6_scope_id != 0)
			snprintf(scope, sizeof(scope), "%%%u",
			    (unsigned)sin6->sin6_scope_id);
		port = ntohs(sin6->sin6_port);
		if (port != 0)
			n = snprintf(buf, size, "[%s%s]:%u", addr, scope, port);
		else
			n = snprintf(buf, size, "%s%s", addr, scope);
	} else {
		snprintf(buf, size, "af=%u", (unsigned)sa->sa_family);
		return EAFNOSUPPORT;
	}
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

int
sockaddr_pool_reserve(sa_family_t af, size_t n)
{
	struct sa_pool *sp = sa_pool_of(af);
	int error;

	if (sp == NULL)
		return EAFNOSUPPORT;
	pthread_mutex_lock(&sp->sp_lock);
	sa_pool_prime_locked(sp);
	if (n > sp->sp_keep)
		sp->sp_keep = n;
	error = sa_pool_fill_locked(sp, n);
	pthread_mutex_unlock(&sp->sp_lock);
	return error;
}

size_t
sockaddr_pool_count(sa_family_t af)
{
	struct sa_pool *sp = sa_pool_of(af);
	size_t n;

	if (sp == NULL)
		return 0;
	pthread_mutex_lock(&sp->sp_lock);
	sa_pool_prime_locked(sp);
	n = sp->sp_count;
	pthread_mutex_unlock(&sp->sp_lock);
	return n;
}
