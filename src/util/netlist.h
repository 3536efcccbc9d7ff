/* netlist.h - small lists of networks (CIDR prefixes, IPv4 and IPv6) and membership tests.
 *
 * For the few networks an operator grants extra rights (statistics readers, trusted reverse
 * proxies): a fixed array, no allocation, linear scan. Pure and thread-safe once built. A
 * prefix never matches an address of the other family (v4-mapped addresses are already IPv4,
 * see addr.h). */
#ifndef SWARMD_NETLIST_H
#define SWARMD_NETLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/addr.h"

#define NETLIST_MAX 64

struct net_prefix {
    struct peer_addr addr; /* host bits beyond `bits` are zero; port unused */
    unsigned bits;         /* 0..32 for IPv4, 0..128 for IPv6 */
};

struct netlist {
    struct net_prefix v[NETLIST_MAX];
    unsigned n;
};

/* "10.0.0.0/8", "192.0.2.7" (a host: /32), "::1", "2001:db8::/32", "[::1]". Host bits beyond
 * the prefix are cleared. false on anything else. */
bool netlist_parse_prefix(const char *s, size_t len, struct net_prefix *out);
/* Append (duplicates are harmless); false when the list is full. */
bool netlist_add(struct netlist *l, const struct net_prefix *p);
bool netlist_contains(const struct netlist *l, const struct peer_addr *a);

#endif
