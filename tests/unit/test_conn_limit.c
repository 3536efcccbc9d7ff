/* test_conn_limit.c - unit tests of the per-address connection counter (net/conn_limit.c):
 * the cap per address, release, independence of addresses and families, no cap at 0. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "net/conn_limit.h"

static struct peer_addr addr(uint8_t family, uint8_t last, uint16_t port)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    a.family = family;
    a.ip[0] = 127;
    a.ip[3] = last;
    if (family == ADDR_V6) {
        memset(a.ip, 0, 16);
        a.ip[15] = last;
    }
    a.port = port;
    return a;
}

TEST(cap_and_release)
{
    struct conn_limit *cl = conn_limit_new(3);
    CHECK(cl != NULL);
    uint32_t t[3];
    for (int i = 0; i < 3; i++) {
        struct peer_addr a = addr(ADDR_V4, 2, (uint16_t)(1000 + i)); /* port is ignored */
        t[i] = conn_limit_acquire(cl, &a);
        CHECK(t[i] != 0);
    }
    struct peer_addr a = addr(ADDR_V4, 2, 5000);
    CHECK_EQ_INT(conn_limit_acquire(cl, &a), 0);
    CHECK_EQ_INT(conn_limit_acquire(cl, &a), 0); /* a refusal takes nothing */
    conn_limit_release(cl, t[1]);
    uint32_t again = conn_limit_acquire(cl, &a);
    CHECK(again != 0);
    CHECK_EQ_INT(conn_limit_acquire(cl, &a), 0);
    conn_limit_release(cl, 0); /* a refused ticket is harmless */
    conn_limit_release(cl, t[0]);
    conn_limit_release(cl, t[2]);
    conn_limit_release(cl, again);
    conn_limit_free(cl);
}

TEST(addresses_are_independent)
{
    struct conn_limit *cl = conn_limit_new(1);
    unsigned ok = 0;
    /* 200 addresses: a shared bucket (probability about 200/65536 each) may refuse one. */
    for (int i = 1; i <= 200; i++) {
        struct peer_addr a = addr(ADDR_V4, (uint8_t)i, 80);
        ok += conn_limit_acquire(cl, &a) != 0;
    }
    CHECK(ok >= 195);
    struct peer_addr v6 = addr(ADDR_V6, 1, 80);
    CHECK(conn_limit_acquire(cl, &v6) != 0);
    conn_limit_free(cl);
}

TEST(zero_means_no_cap)
{
    struct conn_limit *cl = conn_limit_new(0);
    struct peer_addr a = addr(ADDR_V4, 9, 1);
    for (int i = 0; i < 10000; i++)
        CHECK(conn_limit_acquire(cl, &a) != 0);
    conn_limit_free(cl);
}

int main(void)
{
    RUN(cap_and_release);
    RUN(addresses_are_independent);
    RUN(zero_means_no_cap);
    return CHECK_DONE();
}
