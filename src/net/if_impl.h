/*
 * if_impl.h: what the tests see of the interface collection's private
 * state (src/net/if.c).
 */
#ifndef MPSAFE_NET_IF_IMPL_H
#define MPSAFE_NET_IF_IMPL_H

/*
 * if_name_table_check(): NULL if the name table is consistent, else what
 * is wrong: every attached interface in it once and found by its name,
 * nothing else in it but tombstones, its counts of used and live slots
 * right, and at most half of its slots used (tombstones are reclaimed).
 * For tests: takes the global lock; not with it held.  Never blocks for
 * long (a walk of the table and of the interface list).
 */
const char *if_name_table_check(void);

/*
 * if_addr_table_check(): NULL if the address table is consistent, else
 * what is wrong: every address on an attached interface's list in it and
 * found by its address and interface, nothing else in it (no address of
 * an interface being detached, none removed), its counts right, at most
 * half of its slots used.  For tests, with no address being inserted or
 * removed; takes the global lock, every IFNET_LOCK() in turn and the
 * table's lock: call it holding none.
 */
const char *if_addr_table_check(void);

/*
 * if_test_index_max(max): make max (1 to IFNET_INDEX_MAX, the default)
 * the highest index if_attach() gives out, so that a test reaches ENOSPC
 * without attaching 65535 interfaces.  Indexes above max already given
 * out stay.  Returns 0, EINVAL for max out of range, ENOMEM.  For tests:
 * takes the global lock; not with it held.
 */
int if_test_index_max(unsigned max);

#endif /* MPSAFE_NET_IF_IMPL_H */
