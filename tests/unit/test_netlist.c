/* test_netlist.c - CIDR parsing and matching. */
#include <string.h>

#include "check.h"
#include "util/netlist.h"

static bool parse(const char *s, struct net_prefix *p) { return netlist_parse_prefix(s, strlen(s), p); }

static struct peer_addr ip(const char *s)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    addr_parse_ip(&a, s, strlen(s));
    return a;
}

TEST(parse_forms)
{
    struct net_prefix p;
    CHECK(parse("10.0.0.0/8", &p));
    CHECK_EQ_INT(p.bits, 8);
    CHECK(parse("192.0.2.7", &p));
    CHECK_EQ_INT(p.bits, 32);
    CHECK(parse("::1", &p));
    CHECK_EQ_INT(p.bits, 128);
    CHECK(parse("2001:db8::/32", &p));
    CHECK_EQ_INT(p.bits, 32);
    CHECK(parse("0.0.0.0/0", &p));
    CHECK_EQ_INT(p.bits, 0);
    CHECK(parse("10.1.2.3/8", &p)); /* host bits are cleared */
    CHECK_EQ_INT(p.addr.ip[1], 0);
    CHECK(parse("10.1.2.3/12", &p));
    CHECK_EQ_INT(p.addr.ip[1], 0);
    CHECK(parse("10.31.2.3/12", &p));
    CHECK_EQ_INT(p.addr.ip[1], 16);
}

TEST(parse_rejects)
{
    struct net_prefix p;
    CHECK(!parse("", &p));
    CHECK(!parse("10.0.0.0/33", &p));
    CHECK(!parse("::/129", &p));
    CHECK(!parse("10.0.0.0/", &p));
    CHECK(!parse("10.0.0.0/8x", &p));
    CHECK(!parse("10.0.0.0/-1", &p));
    CHECK(!parse("10.0.0.0/0008", &p));
    CHECK(!parse("example.org", &p));
    CHECK(!parse("/8", &p));
}

TEST(matching)
{
    struct netlist l;
    memset(&l, 0, sizeof l);
    struct net_prefix p;
    CHECK(parse("127.0.0.0/8", &p) && netlist_add(&l, &p));
    CHECK(parse("2001:db8::/33", &p) && netlist_add(&l, &p));
    CHECK(netlist_contains(&l, &(struct peer_addr){0}) == false);
    struct peer_addr a = ip("127.3.4.5");
    CHECK(netlist_contains(&l, &a));
    a = ip("128.0.0.1");
    CHECK(!netlist_contains(&l, &a));
    a = ip("2001:db8:7fff::1");
    CHECK(netlist_contains(&l, &a));
    a = ip("2001:db8:8000::1");
    CHECK(!netlist_contains(&l, &a));
    a = ip("::1"); /* another family's loopback is not 127/8 */
    CHECK(!netlist_contains(&l, &a));
    a = ip("::ffff:127.0.0.1"); /* v4-mapped is IPv4 */
    CHECK(netlist_contains(&l, &a));
}

TEST(everything_and_full)
{
    struct netlist l;
    memset(&l, 0, sizeof l);
    struct net_prefix p;
    CHECK(parse("0.0.0.0/0", &p) && netlist_add(&l, &p));
    struct peer_addr a = ip("203.0.113.9");
    CHECK(netlist_contains(&l, &a));
    a = ip("::2");
    CHECK(!netlist_contains(&l, &a));
    while (l.n < NETLIST_MAX)
        CHECK(netlist_add(&l, &p));
    CHECK(!netlist_add(&l, &p));
}

int main(void)
{
    RUN(parse_forms);
    RUN(parse_rejects);
    RUN(matching);
    RUN(everything_and_full);
    return CHECK_DONE();
}
