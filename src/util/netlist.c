/* netlist.c - CIDR prefix parsing and matching for operator-granted networks. */
#include "util/netlist.h"

#include <string.h>

static unsigned family_bits(const struct peer_addr *a) { return a->family == ADDR_V4 ? 32 : 128; }

/* Clear every bit after the first `bits` of the address. */
static void mask_host_bits(struct peer_addr *a, unsigned bits)
{
    unsigned total = family_bits(a) / 8;
    for (unsigned i = 0; i < total; i++) {
        unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
        if (keep < 8)
            a->ip[i] &= (uint8_t)(0xff00u >> keep);
    }
}

bool netlist_parse_prefix(const char *s, size_t len, struct net_prefix *out)
{
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash ? (size_t)(slash - s) : len;
    struct net_prefix p;
    memset(&p, 0, sizeof p);
    if (!addr_parse_ip(&p.addr, s, addr_len))
        return false;
    unsigned max = family_bits(&p.addr);
    p.bits = max;
    if (slash) {
        const char *d = slash + 1, *end = s + len;
        if (d == end || end - d > 3)
            return false;
        unsigned v = 0;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return false;
            v = v * 10 + (unsigned)(*d - '0');
        }
        if (v > max)
            return false;
        p.bits = v;
    }
    p.addr.port = 0;
    mask_host_bits(&p.addr, p.bits);
    *out = p;
    return true;
}

bool netlist_add(struct netlist *l, const struct net_prefix *p)
{
    if (l->n >= NETLIST_MAX)
        return false;
    l->v[l->n++] = *p;
    return true;
}

static bool prefix_matches(const struct net_prefix *p, const struct peer_addr *a)
{
    if (p->addr.family != a->family)
        return false;
    unsigned full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr.ip, a->ip, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a->ip[full] & mask) == p->addr.ip[full];
}

bool netlist_contains(const struct netlist *l, const struct peer_addr *a)
{
    for (unsigned i = 0; i < l->n; i++)
        if (prefix_matches(&l->v[i], a))
            return true;
    return false;
}
