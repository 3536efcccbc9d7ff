/* test_connid.c - connection IDs: deterministic, bound to address, port, family and time
 * window, unforgeable without the key; plus rng_os_bytes and the clock they rely on. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "proto/connid.h"
#include "util/clock.h"
#include "util/rng.h"

static struct connid_key key;

static struct peer_addr addr(const char *s, uint16_t port)
{
    struct peer_addr a;
    memset(&a, 0, sizeof(a));
    if (!addr_parse_ip(&a, s, strlen(s)))
        CHECK(0);
    a.port = port;
    return a;
}

TEST(init)
{
    struct connid_key a, b;
    CHECK(connid_init(&a));
    CHECK(connid_init(&b));
    CHECK(memcmp(a.k, b.k, 16) != 0); /* 2^-128 chance of a false failure */
    CHECK(connid_init(&key));
}

TEST(deterministic)
{
    struct peer_addr a = addr("192.0.2.1", 6881);
    CHECK(connid_make(&key, &a, 1000) == connid_make(&key, &a, 1000));
    /* Same window, different second: same id. */
    CHECK(connid_make(&key, &a, 960) == connid_make(&key, &a, 1019));
    CHECK(connid_make(&key, &a, 1019) != connid_make(&key, &a, 1020));
    CHECK(connid_check(&key, &a, 1000, connid_make(&key, &a, 1000)));
}

TEST(bound_to_source)
{
    uint32_t now = 5000;
    struct peer_addr a = addr("192.0.2.1", 6881);
    uint64_t id = connid_make(&key, &a, now);

    struct peer_addr other_port = addr("192.0.2.1", 6882);
    struct peer_addr other_ip = addr("192.0.2.2", 6881);
    struct peer_addr v6 = addr("2001:db8::1", 6881);
    struct peer_addr v6b = addr("2001:db8::2", 6881);
    CHECK(connid_make(&key, &other_port, now) != id);
    CHECK(connid_make(&key, &other_ip, now) != id);
    CHECK(connid_make(&key, &v6, now) != connid_make(&key, &v6b, now));
    CHECK(!connid_check(&key, &other_port, now, id));
    CHECK(!connid_check(&key, &other_ip, now, id));
    CHECK(!connid_check(&key, &v6, now, id));

    /* Family is hashed: an IPv6 address whose first four bytes equal an IPv4 address, with
     * the rest zero, gets a different id. */
    struct peer_addr fake6 = a;
    fake6.family = ADDR_V6;
    CHECK(connid_make(&key, &fake6, now) != id);
    CHECK(!connid_check(&key, &fake6, now, id));

    /* Another key, another id. */
    struct connid_key k2 = key;
    k2.k[0] ^= 1;
    CHECK(connid_make(&k2, &a, now) != id);
    CHECK(!connid_check(&k2, &a, now, id));
}

TEST(lifetime)
{
    struct peer_addr a = addr("198.51.100.7", 1234);
    /* Made at the start of a window: valid through the next two full windows. */
    uint32_t t0 = 60 * 100;
    uint64_t id = connid_make(&key, &a, t0);
    CHECK(connid_check(&key, &a, t0, id));
    CHECK(connid_check(&key, &a, t0 + 60, id));
    CHECK(connid_check(&key, &a, t0 + 120, id));
    CHECK(connid_check(&key, &a, t0 + 179, id));
    CHECK(!connid_check(&key, &a, t0 + 180, id));
    CHECK(!connid_check(&key, &a, t0 + 3600, id));
    /* Made at the end of a window: still at least two minutes. */
    uint32_t t1 = 60 * 200 + 59;
    id = connid_make(&key, &a, t1);
    for (uint32_t dt = 0; dt <= 120; dt++)
        CHECK(connid_check(&key, &a, t1 + dt, id));
    CHECK(!connid_check(&key, &a, t1 + 121, id));
    /* Never valid before it was made. */
    CHECK(!connid_check(&key, &a, t1 - 60, id));
    /* Every id lives between 2 and 3 minutes. */
    for (uint32_t t = 1000; t < 1060; t++) {
        uint64_t x = connid_make(&key, &a, t);
        CHECK(connid_check(&key, &a, t + 120, x));
        CHECK(!connid_check(&key, &a, t + 180, x));
    }
}

TEST(near_clock_origin)
{
    struct peer_addr a = addr("10.0.0.1", 1);
    for (uint32_t t = 1; t < 200; t++) {
        uint64_t x = connid_make(&key, &a, t);
        CHECK(connid_check(&key, &a, t, x));
        CHECK(connid_check(&key, &a, t + 120, x));
    }
    /* A made-up id at the very start is refused. */
    CHECK(!connid_check(&key, &a, 1, 0));
    /* And at the far end of uint32 time. */
    uint64_t x = connid_make(&key, &a, UINT32_MAX);
    CHECK(connid_check(&key, &a, UINT32_MAX, x));
}

TEST(forged_rejected)
{
    struct peer_addr a = addr("203.0.113.9", 51413);
    uint32_t now = 77777;
    uint64_t real = connid_make(&key, &a, now);
    uint64_t s = 12345;
    int accepted = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t guess = rng_next(&s);
        if (guess != real && connid_check(&key, &a, now, guess))
            accepted++;
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(!connid_check(&key, &a, now, 0));
    CHECK(!connid_check(&key, &a, now, UINT64_MAX));
    CHECK(!connid_check(&key, &a, now, 0x41727101980ULL)); /* the connect magic */
    /* Every single-bit change of a real id is refused. */
    for (int bit = 0; bit < 64; bit++)
        CHECK(!connid_check(&key, &a, now, real ^ (1ULL << bit)));
}

/* A v4-mapped source on a dual-stack socket gets the same id as the plain IPv4 one, and
 * so can connect over one socket and announce over another. */
TEST(v4mapped_normalised)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct peer_addr a4, a6;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(6881);
    CHECK(inet_pton(AF_INET, "192.0.2.55", &sin.sin_addr) == 1);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(6881);
    CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.55", &sin6.sin6_addr) == 1);
    CHECK(addr_from_sockaddr(&a4, (struct sockaddr *)&sin, sizeof(sin)));
    CHECK(addr_from_sockaddr(&a6, (struct sockaddr *)&sin6, sizeof(sin6)));
    CHECK_EQ_INT(a6.family, ADDR_V4);
    uint64_t id = connid_make(&key, &a4, 4242);
    CHECK(connid_make(&key, &a6, 4242) == id);
    CHECK(connid_check(&key, &a6, 4242, id));

    /* Stray bytes after a v4 address do not change the id. */
    struct peer_addr dirty = a4;
    dirty.ip[10] = 0xff;
    dirty.ip[11] = 0xff;
    CHECK(connid_make(&key, &dirty, 4242) == id);
}

TEST(rng_os_bytes_fills)
{
    uint8_t a[4096], b[4096];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK(rng_os_bytes(a, sizeof(a))); /* above getrandom's 256-byte no-short-read size */
    CHECK(rng_os_bytes(b, sizeof(b)));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    /* Every byte gets written: 4096 zero bytes would be astronomically unlikely, so look
     * at the tail in particular. */
    int zeros = 0;
    for (size_t i = sizeof(a) - 64; i < sizeof(a); i++)
        zeros += a[i] == 0;
    CHECK(zeros < 16);
    CHECK(rng_os_bytes(a, 0));
    CHECK(rng_os_bytes(a, 1));
}

TEST(rng_next_below)
{
    uint64_t s = 1;
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = rng_below(&s, 10);
        CHECK(v < 10);
        if (v < 10)
            hist[v]++;
    }
    for (int i = 0; i < 10; i++)
        CHECK(hist[i] > 9000 && hist[i] < 11000);
    CHECK_EQ_INT(rng_below(&s, 1), 0);
}

TEST(clock_monotonic)
{
    clock_init();
    uint32_t s0 = clock_now();
    uint64_t m0 = clock_now_ms();
    CHECK(s0 >= 1);
    CHECK(s0 < 5); /* the test starts within seconds of clock_init */
    CHECK(m0 >= 1000);
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t m1 = clock_now_ms();
    CHECK(m1 >= m0 + 25);
    CHECK(m1 < m0 + 5000);
    uint32_t prev = clock_now();
    for (int i = 0; i < 100000; i++) {
        uint32_t now = clock_now();
        CHECK(now >= prev);
        prev = now;
    }
    /* Same origin: seconds and milliseconds agree. */
    uint64_t ms = clock_now_ms();
    uint32_t sec = clock_now();
    CHECK(ms / 1000 + 1 >= sec && sec + 1 >= ms / 1000);
    clock_init(); /* a second call does not move the origin */
    CHECK(clock_now_ms() >= ms);
}

int main(void)
{
    RUN(init);
    RUN(deterministic);
    RUN(bound_to_source);
    RUN(lifetime);
    RUN(near_clock_origin);
    RUN(forged_rejected);
    RUN(v4mapped_normalised);
    RUN(rng_os_bytes_fills);
    RUN(rng_next_below);
    RUN(clock_monotonic);
    return CHECK_DONE();
}
