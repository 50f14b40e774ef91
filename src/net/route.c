/*
 * route.c: stub (ENOSYS) while the routing table is written.
 */
#include <errno.h>
#include <stddef.h>

#include <mpsafe/net/route.h>

int
rt_table_create(struct rt_table **tp, const struct rt_table_config *cfg)
{
	(void)tp;
	(void)cfg;
	return ENOSYS;
}

void
rt_table_destroy(struct rt_table *t)
{
	(void)t;
}

void
rt_table_stats(struct rt_table *t, struct rt_table_stats *st)
{
	(void)t;
	(void)st;
}

int
rtrequest(struct rt_table *t, int req, const struct rt_addrinfo *info,
    struct rt_entry **ret_nrt)
{
	(void)t;
	(void)req;
	(void)info;
	(void)ret_nrt;
	return ENOSYS;
}

struct rt_entry *
rtalloc1(struct rt_table *t, const struct sockaddr *dst, int flags)
{
	(void)t;
	(void)dst;
	(void)flags;
	return NULL;
}

void
rt_ref(struct rt_entry *rt)
{
	(void)rt;
}

void
rt_unref(struct rt_entry *rt)
{
	(void)rt;
}

struct rt_entry *
rt_lookup(struct rt_table *t, const struct sockaddr *dst, int flags,
    struct rt_hold *hold)
{
	(void)t;
	(void)dst;
	(void)flags;
	(void)hold;
	return NULL;
}

void
rt_release(struct rt_entry *rt, struct rt_hold *hold)
{
	(void)rt;
	(void)hold;
}

int
rt_read_enter(struct rt_table *t)
{
	(void)t;
	return 0;
}

void
rt_read_exit(struct rt_table *t, int s)
{
	(void)t;
	(void)s;
}

struct rt_entry *
rt_lookup_noref(struct rt_table *t, int af, const void *addr)
{
	(void)t;
	(void)af;
	(void)addr;
	return NULL;
}

int
rt_check_reject_route(const struct rt_entry *rt, bool ifp_is_loopback)
{
	(void)rt;
	(void)ifp_is_loopback;
	return ENOSYS;
}

int
rt_walktree(struct rt_table *t, int af,
    int (*fn)(struct rt_entry *rt, void *arg), void *arg)
{
	(void)t;
	(void)af;
	(void)fn;
	(void)arg;
	return ENOSYS;
}

int
rtflushall(struct rt_table *t, int af)
{
	(void)t;
	(void)af;
	return ENOSYS;
}

void
rtcache_attach(struct route *ro, struct rt_table *t, int flags)
{
	(void)ro;
	(void)t;
	(void)flags;
}

struct rt_entry *
rtcache_init(struct route *ro)
{
	(void)ro;
	return NULL;
}

struct rt_entry *
rtcache_lookup2(
    struct route *ro, const struct sockaddr *dst, int flags, int *hitp)
{
	(void)ro;
	(void)dst;
	(void)flags;
	(void)hitp;
	return NULL;
}

struct rt_entry *
rtcache_lookup1(struct route *ro, const struct sockaddr *dst, int flags)
{
	(void)ro;
	(void)dst;
	(void)flags;
	return NULL;
}

struct rt_entry *
rtcache_lookup(struct route *ro, const struct sockaddr *dst)
{
	(void)ro;
	(void)dst;
	return NULL;
}

struct rt_entry *
rtcache_validate(struct route *ro)
{
	(void)ro;
	return NULL;
}

struct rt_entry *
rtcache_update(struct route *ro, int flags)
{
	(void)ro;
	(void)flags;
	return NULL;
}

void
rtcache_unref(struct rt_entry *rt, struct route *ro)
{
	(void)rt;
	(void)ro;
}

void
rtcache_free(struct route *ro)
{
	(void)ro;
}

void
rtcache_copy(struct route *new_ro, struct route *old_ro)
{
	(void)new_ro;
	(void)old_ro;
}

int
rtcache_setdst(struct route *ro, const struct sockaddr *dst)
{
	(void)ro;
	(void)dst;
	return ENOSYS;
}

const struct sockaddr *
rtcache_getdst(const struct route *ro)
{
	(void)ro;
	return NULL;
}

struct rtcache_perthread *
rtcache_perthread_alloc(struct rt_table *t)
{
	(void)t;
	return NULL;
}

struct route *
rtcache_perthread_getref(struct rtcache_perthread *pc)
{
	(void)pc;
	return NULL;
}

void
rtcache_perthread_putref(struct rtcache_perthread *pc)
{
	(void)pc;
}

void
rtcache_perthread_free(struct rtcache_perthread *pc)
{
	(void)pc;
}
