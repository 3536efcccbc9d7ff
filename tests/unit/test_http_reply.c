/* test_http_reply.c - HTTP heads and bencoded tracker bodies (src/proto/http_reply.c), compared
 * byte for byte with hand-written expectations. */
#include <stdint.h>

#include "check.h"
#include "proto/http_reply.h"

static uint8_t mem[8192];

/* Expect the buffer to hold exactly the n bytes at want. */
#define CHECK_BYTES(b, want, n)                                                              \
    do {                                                                                     \
        CHECK(!(b)->overflow);                                                               \
        CHECK_EQ_INT((b)->len, (n));                                                         \
        if ((b)->len == (size_t)(n))                                                         \
            CHECK_MEM((b)->data, (want), (n));                                               \
        else                                                                                 \
            fprintf(stderr, "  got: %.*s\n", (int)(b)->len, (const char *)(b)->data);        \
    } while (0)
#define CHECK_LIT(b, lit) CHECK_BYTES(b, lit, sizeof(lit) - 1)

static const uint8_t v4peers[] = {
    10, 0, 0, 1, 0x1a, 0xe1,   /* 10.0.0.1:6881 */
    192, 168, 1, 2, 0xff, 0xff /* 192.168.1.2:65535 */
};
static const uint8_t v6peers[] = {
    /* [2001:db8::1]:6881 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1,
    /* [::1]:1 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1,
};

static struct announce_reply reply(unsigned n4, unsigned n6)
{
    struct announce_reply r;
    memset(&r, 0, sizeof r);
    r.counts.seeders = 3;
    r.counts.leechers = 7;
    r.counts.completed = 12;
    r.interval = 1800;
    r.min_interval = 900;
    r.peers4 = v4peers;
    r.n4 = n4;
    r.peers6 = v6peers;
    r.n6 = n6;
    return r;
}

TEST(announce_compact_no_peers)
{
    struct buf b;
    struct announce_reply r = reply(0, 0);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, true);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peers0:e");
}

TEST(announce_compact_v4)
{
    struct buf b;
    struct announce_reply r = reply(2, 0);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, true);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peers12:\x0a\x00\x00\x01\x1a\xe1"
                  "\xc0\xa8\x01\x02\xff\xff"
                  "e");
}

TEST(announce_compact_v4_v6)
{
    struct buf b;
    struct announce_reply r = reply(1, 2);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, true);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peers6:\x0a\x00\x00\x01\x1a\xe1"
                  "6:peers636:"
                  "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1"
                  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"
                  "e");
}

TEST(announce_compact_v6_only)
{
    /* peers is always present (possibly empty) so v4-only clients parse the reply. */
    struct buf b;
    struct announce_reply r = reply(0, 1);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, true);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peers0:6:peers618:"
                  "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1"
                  "e");
}

TEST(announce_non_compact)
{
    struct buf b;
    struct announce_reply r = reply(2, 2);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, false);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peersl"
                  "d2:ip8:10.0.0.14:porti6881ee"
                  "d2:ip11:192.168.1.24:porti65535ee"
                  "d2:ip11:2001:db8::14:porti6881ee"
                  "d2:ip3:::14:porti1ee"
                  "ee");
}

TEST(announce_non_compact_empty)
{
    struct buf b;
    struct announce_reply r = reply(0, 0);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, false);
    CHECK_LIT(&b, "d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e"
                  "12:min intervali900e5:peerslee");
}

TEST(announce_big_counts)
{
    struct buf b;
    struct announce_reply r = reply(0, 0);
    r.counts.seeders = UINT32_MAX;
    r.counts.leechers = 0;
    r.counts.completed = 1000000;
    r.interval = 0;
    r.min_interval = UINT32_MAX;
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, true);
    CHECK_LIT(&b, "d8:completei4294967295e10:downloadedi1000000e10:incompletei0e8:intervali0e"
                  "12:min intervali4294967295e5:peers0:e");
}

TEST(announce_overflow)
{
    struct buf b;
    struct announce_reply r = reply(2, 2);
    buf_init(&b, mem, sizeof mem);
    http_reply_announce_body(&b, &r, false);
    size_t need = b.len;
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t small[512];
        memset(small, 0x5a, sizeof small);
        buf_init(&b, small, cap);
        http_reply_announce_body(&b, &r, false);
        CHECK(b.overflow);
        CHECK(b.len <= cap);
        CHECK_EQ_INT(small[cap], 0x5a);
    }
}

static const uint8_t hashes[3][20] = {
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
     0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13},
    {'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A',
     'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A'},
    {'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e',
     'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e'},
};
static const struct swarm_counts counts[3] = {{1, 2, 3}, {0, 0, 0}, {10, 20, 30}};

TEST(scrape_one)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    http_reply_scrape_body(&b, hashes + 1, counts, NULL, 1);
    CHECK_LIT(&b, "d5:filesd20:AAAAAAAAAAAAAAAAAAAA"
                  "d8:completei1e10:downloadedi3e10:incompletei2eeee");
}

TEST(scrape_many_with_omitted)
{
    struct buf b;
    const bool present[3] = {false, true, true};
    buf_init(&b, mem, sizeof mem);
    http_reply_scrape_body(&b, hashes, counts, present, 3);
    CHECK_LIT(&b, "d5:filesd20:AAAAAAAAAAAAAAAAAAAA"
                  "d8:completei0e10:downloadedi0e10:incompletei0ee"
                  "20:eeeeeeeeeeeeeeeeeeee"
                  "d8:completei10e10:downloadedi30e10:incompletei20eeee");
}

TEST(scrape_binary_hash)
{
    struct buf b;
    const bool present[3] = {true, false, false};
    buf_init(&b, mem, sizeof mem);
    http_reply_scrape_body(&b, hashes, counts, present, 3);
    CHECK_LIT(&b, "d5:filesd20:\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"
                  "\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
                  "d8:completei1e10:downloadedi3e10:incompletei2eeee");
}

TEST(scrape_empty)
{
    struct buf b;
    const bool present[3] = {false, false, false};
    buf_init(&b, mem, sizeof mem);
    http_reply_scrape_body(&b, hashes, counts, present, 3);
    CHECK_LIT(&b, "d5:filesdee");
    buf_init(&b, mem, sizeof mem);
    http_reply_scrape_body(&b, hashes, counts, NULL, 0);
    CHECK_LIT(&b, "d5:filesdee");
}

TEST(failure)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    http_reply_failure_body(&b, "invalid info_hash");
    CHECK_LIT(&b, "d14:failure reason17:invalid info_hashe");
    buf_init(&b, mem, sizeof mem);
    http_reply_failure_body(&b, "");
    CHECK_LIT(&b, "d14:failure reason0:e");
}

TEST(head_keep_alive)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    http_reply_head(&b, 200, NULL, 123, true, NULL);
    CHECK_LIT(&b, "HTTP/1.1 200 OK\r\nServer: swarmd\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 123\r\nConnection: keep-alive\r\n\r\n");
}

TEST(head_close_extra)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    http_reply_head(&b, 302, "text/html", 0, false, "Location: http://example.org/\r\n");
    CHECK_LIT(&b, "HTTP/1.1 302 Found\r\nServer: swarmd\r\nContent-Type: text/html\r\n"
                  "Content-Length: 0\r\nConnection: close\r\n"
                  "Location: http://example.org/\r\n\r\n");
}

TEST(head_statuses)
{
    static const struct {
        int status;
        const char *line;
    } cases[] = {
        {200, "HTTP/1.1 200 OK\r\n"},
        {301, "HTTP/1.1 301 Moved Permanently\r\n"},
        {302, "HTTP/1.1 302 Found\r\n"},
        {400, "HTTP/1.1 400 Bad Request\r\n"},
        {403, "HTTP/1.1 403 Forbidden\r\n"},
        {404, "HTTP/1.1 404 Not Found\r\n"},
        {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
        {413, "HTTP/1.1 413 Content Too Large\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {500, "HTTP/1.1 500 Internal Server Error\r\n"},
        {503, "HTTP/1.1 503 Service Unavailable\r\n"},
        {599, "HTTP/1.1 599 Unknown\r\n"},
        {42, "HTTP/1.1 500 Internal Server Error\r\n"},
        {-1, "HTTP/1.1 500 Internal Server Error\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, mem, sizeof mem);
        http_reply_head(&b, cases[i].status, "application/octet-stream", 5, true, NULL);
        CHECK(!b.overflow);
        size_t n = strlen(cases[i].line);
        CHECK(b.len > n && memcmp(mem, cases[i].line, n) == 0);
    }
}

TEST(head_overflow)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    http_reply_head(&b, 200, NULL, 99999, true, "X-A: b\r\n");
    size_t need = b.len;
    for (size_t cap = 0; cap <= need; cap++) {
        uint8_t small[256];
        buf_init(&b, small, cap);
        http_reply_head(&b, 200, NULL, 99999, true, "X-A: b\r\n");
        CHECK(b.overflow == (cap < need));
        CHECK(b.len <= cap);
    }
}

TEST(status_text)
{
    CHECK_STR(http_status_text(200), "OK");
    CHECK_STR(http_status_text(404), "Not Found");
    CHECK_STR(http_status_text(123), "Unknown");
}

int main(void)
{
    RUN(announce_compact_no_peers);
    RUN(announce_compact_v4);
    RUN(announce_compact_v4_v6);
    RUN(announce_compact_v6_only);
    RUN(announce_non_compact);
    RUN(announce_non_compact_empty);
    RUN(announce_big_counts);
    RUN(announce_overflow);
    RUN(scrape_one);
    RUN(scrape_many_with_omitted);
    RUN(scrape_binary_hash);
    RUN(scrape_empty);
    RUN(failure);
    RUN(head_keep_alive);
    RUN(head_close_extra);
    RUN(head_statuses);
    RUN(head_overflow);
    RUN(status_text);
    return CHECK_DONE();
}
