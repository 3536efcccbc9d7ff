/* test_addr.c - peer_addr conversions: sockaddrs, literals, host:port, formatting, packing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "util/addr.h"

/* Parse a C string literal with addr_parse_ip. */
static bool pip(struct peer_addr *a, const char *s) { return addr_parse_ip(a, s, strlen(s)); }

static bool php(struct peer_addr *a, const char *s, bool *has_port)
{
    return addr_parse_hostport(a, s, strlen(s), has_port);
}

static const char *fmt(const struct peer_addr *a, bool with_port)
{
    static char out[ADDR_STRLEN];
    size_t n = addr_format(a, with_port, out);
    CHECK_EQ_INT(n, strlen(out));
    return out;
}

TEST(parse_ipv4)
{
    struct peer_addr a;
    memset(&a, 0xaa, sizeof(a));
    CHECK(pip(&a, "1.2.3.4"));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x01\x02\x03\x04\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(a.port, 0);
    CHECK(pip(&a, "255.255.255.255"));
    CHECK_MEM(a.ip, "\xff\xff\xff\xff", 4);
    CHECK(pip(&a, "0.0.0.0"));
    CHECK_EQ_INT(a.family, ADDR_V4);
}

TEST(parse_ipv4_bad)
{
    struct peer_addr a;
    const char *bad[] = {"",          "1.2.3",     "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
                         " 1.2.3.4",  "a.b.c.d",   "1.2.3.4:80", "[1.2.3.4]", "1..2.3",
                         "1.2.3.-4",  "0x1.2.3.4", "1.2.3.4/8", "01.2.3.4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pip(&a, bad[i])) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    /* Embedded NUL: the length, not the NUL, delimits the slice. */
    CHECK(!addr_parse_ip(&a, "1.2.3.4\0x", 9));
    CHECK(!addr_parse_ip(&a, NULL, 0));
    /* A slice of a longer buffer: only len bytes are read. */
    CHECK(addr_parse_ip(&a, "10.0.0.1garbage", 8));
    CHECK_MEM(a.ip, "\x0a\x00\x00\x01", 4);
}

TEST(parse_ipv6)
{
    struct peer_addr a;
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    CHECK(pip(&a, "::1"));
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_MEM(a.ip, one, 16);
    CHECK(pip(&a, "[::1]"));
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_MEM(a.ip, one, 16);
    CHECK(pip(&a, "2001:db8::42"));
    CHECK_MEM(a.ip, doc, 16);
    CHECK(pip(&a, "2001:DB8:0:0:0:0:0:42"));
    CHECK_MEM(a.ip, doc, 16);
    CHECK(pip(&a, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"));
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK(pip(&a, "::"));
    CHECK_EQ_INT(a.family, ADDR_V6);
}

TEST(parse_ipv6_bad)
{
    struct peer_addr a;
    const char *bad[] = {":::",     "1::2::3", "[::1",   "::1]",    "[]",       "[::1]:80",
                         "fe80::1%eth0", "gggg::1", "[1.2.3.4]", "12345::1", "::1 ",
                         "1:2:3:4:5:6:7:8:9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pip(&a, bad[i])) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    /* Longer than any literal: refused before the copy. */
    char longs[200];
    memset(longs, '1', sizeof(longs));
    longs[0] = ':';
    longs[1] = ':';
    CHECK(!addr_parse_ip(&a, longs, sizeof(longs)));
}

TEST(parse_v4mapped_is_v4)
{
    struct peer_addr a;
    CHECK(pip(&a, "::ffff:1.2.3.4"));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x01\x02\x03\x04\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK(pip(&a, "[::ffff:10.20.30.40]"));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x0a\x14\x1e\x28", 4);
    CHECK(pip(&a, "::FFFF:0102:0304"));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x01\x02\x03\x04", 4);
    /* ::ffff:0:a.b.c.d (SIIT) and the deprecated v4-compatible ::a.b.c.d stay IPv6. */
    CHECK(pip(&a, "::ffff:0:1.2.3.4"));
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK(pip(&a, "::1.2.3.4"));
    CHECK_EQ_INT(a.family, ADDR_V6);
}

TEST(hostport)
{
    struct peer_addr a;
    bool hp = true;

    CHECK(php(&a, "1.2.3.4", &hp));
    CHECK(!hp);
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_EQ_INT(a.port, 0);

    CHECK(php(&a, "1.2.3.4:6969", &hp));
    CHECK(hp);
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x01\x02\x03\x04", 4);
    CHECK_EQ_INT(a.port, 6969);

    CHECK(php(&a, "[::1]:80", &hp));
    CHECK(hp);
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_EQ_INT(a.port, 80);
    CHECK(addr_is_loopback(&a));

    CHECK(php(&a, "[::1]", &hp));
    CHECK(!hp);
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_EQ_INT(a.port, 0);

    /* A bare v6 literal has no port: the last group is part of the address. */
    CHECK(php(&a, "2001:db8::1:80", &hp));
    CHECK(!hp);
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_EQ_INT(a.ip[15], 0x80);
    CHECK_EQ_INT(a.port, 0);

    CHECK(php(&a, "[::ffff:1.2.3.4]:65535", &hp));
    CHECK(hp);
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_EQ_INT(a.port, 65535);

    CHECK(php(&a, "0.0.0.0:0", &hp));
    CHECK(hp);
    CHECK_EQ_INT(a.port, 0);

    CHECK(php(&a, "1.2.3.4:080", NULL)); /* has_port may be NULL */
    CHECK_EQ_INT(a.port, 80);

    /* Only len bytes count. */
    CHECK(addr_parse_hostport(&a, "1.2.3.4:12345678", 12, &hp));
    CHECK(hp);
    CHECK_EQ_INT(a.port, 1234);
}

TEST(hostport_bad)
{
    struct peer_addr a, before;
    bool hp;
    const char *bad[] = {"",          ":80",         "1.2.3.4:",     "1.2.3.4:65536",
                         "1.2.3.4:-1", "1.2.3.4:+80", "1.2.3.4:8 0", "1.2.3.4:123456",
                         "[::1]:",     "[::1]x",      "[::1]:80x",   "[::1]]:80",
                         "[::1",       "[1.2.3.4]:80", "[]:80",      "host:80",
                         "1.2.3.4:0x50", "[::1]:99999", "1.2.3.4:80:81"};
    memset(&a, 0x5a, sizeof(a));
    before = a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (php(&a, bad[i], &hp)) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    /* A failed parse leaves the output alone. */
    CHECK_MEM(&a, &before, sizeof(a));
    CHECK(!addr_parse_hostport(&a, NULL, 0, &hp));
}

TEST(format)
{
    struct peer_addr a;
    CHECK(pip(&a, "1.2.3.4"));
    a.port = 6969;
    CHECK_STR(fmt(&a, true), "1.2.3.4:6969");
    CHECK_STR(fmt(&a, false), "1.2.3.4");
    CHECK(pip(&a, "2001:db8::42"));
    a.port = 80;
    CHECK_STR(fmt(&a, true), "[2001:db8::42]:80");
    CHECK_STR(fmt(&a, false), "2001:db8::42");

    /* The longest form fits. */
    CHECK(pip(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    a.port = 65535;
    CHECK_STR(fmt(&a, true), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

    /* Round trip through hostport. */
    struct peer_addr b;
    bool hp;
    CHECK(php(&b, fmt(&a, true), &hp));
    CHECK(hp);
    CHECK(addr_equal(&a, &b));

    char out[ADDR_STRLEN];
    memset(&a, 0, sizeof(a));
    CHECK_EQ_INT(addr_format(&a, true, out), 0);
    CHECK_STR(out, "");
}

TEST(sockaddr_v4)
{
    struct sockaddr_in sin;
    struct peer_addr a;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(6881);
    sin.sin_addr.s_addr = htonl(0xc0a80102); /* 192.168.1.2 */
    CHECK(addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\xc0\xa8\x01\x02\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(a.port, 6881);
    /* Too short. */
    CHECK(!addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin) - 1));
    CHECK(!addr_from_sockaddr(&a, (struct sockaddr *)&sin, 0));
    CHECK(!addr_from_sockaddr(&a, NULL, sizeof(sin)));

    struct sockaddr_storage ss;
    socklen_t len = addr_to_sockaddr(&a, &ss);
    CHECK_EQ_INT(len, sizeof(struct sockaddr_in));
    struct sockaddr_in back;
    memcpy(&back, &ss, sizeof(back));
    CHECK_EQ_INT(back.sin_family, AF_INET);
    CHECK_EQ_INT(ntohs(back.sin_port), 6881);
    CHECK_EQ_INT(ntohl(back.sin_addr.s_addr), 0xc0a80102);
}

TEST(sockaddr_v6_and_mapped)
{
    struct sockaddr_in6 sin6;
    struct peer_addr a;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(443);
    CHECK(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr) == 1);
    CHECK(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)));
    CHECK_EQ_INT(a.family, ADDR_V6);
    CHECK_EQ_INT(a.port, 443);
    CHECK_EQ_INT(a.ip[0], 0x20);
    CHECK_EQ_INT(a.ip[15], 7);
    CHECK(!addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6) - 1));

    struct sockaddr_storage ss;
    CHECK_EQ_INT(addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
    struct sockaddr_in6 back;
    memcpy(&back, &ss, sizeof(back));
    CHECK_EQ_INT(back.sin6_family, AF_INET6);
    CHECK_EQ_INT(ntohs(back.sin6_port), 443);
    CHECK_MEM(&back.sin6_addr, &sin6.sin6_addr, 16);

    /* ::ffff:5.6.7.8 from a dual-stack socket is IPv4. */
    CHECK(inet_pton(AF_INET6, "::ffff:5.6.7.8", &sin6.sin6_addr) == 1);
    CHECK(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)));
    CHECK_EQ_INT(a.family, ADDR_V4);
    CHECK_MEM(a.ip, "\x05\x06\x07\x08\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(a.port, 443);
    CHECK_EQ_INT(addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in));

    /* Unknown families. */
    struct sockaddr_storage un;
    memset(&un, 0, sizeof(un));
    un.ss_family = AF_UNIX;
    CHECK(!addr_from_sockaddr(&a, (struct sockaddr *)&un, sizeof(un)));
    memset(&a, 0, sizeof(a));
    CHECK_EQ_INT(addr_to_sockaddr(&a, &ss), 0);
}

TEST(pack)
{
    struct peer_addr a;
    uint8_t out[18];
    CHECK(pip(&a, "10.1.2.3"));
    a.port = 0x1ae1; /* 6881 */
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(addr_pack(&a, out), 6);
    CHECK_MEM(out, "\x0a\x01\x02\x03\x1a\xe1\xee", 7);

    CHECK(pip(&a, "2001:db8::1"));
    a.port = 0xabcd;
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(addr_pack(&a, out), 18);
    CHECK_MEM(out, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\xab\xcd", 18);

    memset(&a, 0, sizeof(a));
    CHECK_EQ_INT(addr_pack(&a, out), 0);
}

TEST(equal)
{
    struct peer_addr a, b;
    CHECK(pip(&a, "1.2.3.4"));
    CHECK(pip(&b, "1.2.3.4"));
    CHECK(addr_equal(&a, &b));
    b.port = 1;
    CHECK(!addr_equal(&a, &b));
    CHECK(pip(&b, "1.2.3.5"));
    CHECK(!addr_equal(&a, &b));
    CHECK(pip(&b, "::ffff:1.2.3.4"));
    CHECK(addr_equal(&a, &b));
    CHECK(pip(&b, "::102:304")); /* same last four bytes, but IPv6 */
    CHECK(!addr_equal(&a, &b));
    /* Stray bytes beyond a v4 address are ignored. */
    CHECK(pip(&b, "1.2.3.4"));
    b.ip[9] = 7;
    CHECK(addr_equal(&a, &b));
    CHECK(pip(&a, "2001:db8::1"));
    CHECK(pip(&b, "2001:db8::1"));
    CHECK(addr_equal(&a, &b));
    b.ip[15] = 2;
    CHECK(!addr_equal(&a, &b));
}

TEST(loopback)
{
    struct peer_addr a;
    CHECK(pip(&a, "127.0.0.1") && addr_is_loopback(&a));
    CHECK(pip(&a, "127.255.1.2") && addr_is_loopback(&a));
    CHECK(pip(&a, "::1") && addr_is_loopback(&a));
    CHECK(pip(&a, "::ffff:127.0.0.1") && addr_is_loopback(&a));
    CHECK(pip(&a, "128.0.0.1") && !addr_is_loopback(&a));
    CHECK(pip(&a, "126.255.255.255") && !addr_is_loopback(&a));
    CHECK(pip(&a, "::2") && !addr_is_loopback(&a));
    CHECK(pip(&a, "::") && !addr_is_loopback(&a));
    CHECK(pip(&a, "0.0.0.0") && !addr_is_loopback(&a));
    memset(&a, 0, sizeof(a));
    CHECK(!addr_is_loopback(&a));
}

int main(void)
{
    RUN(parse_ipv4);
    RUN(parse_ipv4_bad);
    RUN(parse_ipv6);
    RUN(parse_ipv6_bad);
    RUN(parse_v4mapped_is_v4);
    RUN(hostport);
    RUN(hostport_bad);
    RUN(format);
    RUN(sockaddr_v4);
    RUN(sockaddr_v6_and_mapped);
    RUN(pack);
    RUN(equal);
    RUN(loopback);
    return CHECK_DONE();
}
