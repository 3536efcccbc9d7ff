/* test_udp.c - the BEP 15 / BEP 41 codec: every packet kind at its exact size, one byte
 * short and one over, bad magic, bad actions, scrape limits, options, byte-exact writers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto/udp.h"

static struct udp_request req; /* large (1 KiB of urldata): keep it off the stack */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

static size_t make_connect(uint8_t *p, uint32_t tid)
{
    be64(p, UDP_PROTOCOL_ID);
    be32(p + 8, 0);
    be32(p + 12, tid);
    return 16;
}

/* A 98-byte announce with distinct values in every field. */
static size_t make_announce(uint8_t *p)
{
    be64(p, 0x0123456789abcdefULL);
    be32(p + 8, 1);
    be32(p + 12, 0xdeadbeef);
    for (int i = 0; i < 20; i++) {
        p[16 + i] = (uint8_t)(0xa0 + i); /* info_hash */
        p[36 + i] = (uint8_t)(0x40 + i); /* peer_id */
    }
    be64(p + 56, 0x1111111122222222ULL); /* downloaded */
    be64(p + 64, 0x3333333344444444ULL); /* left */
    be64(p + 72, 0x5555555566666666ULL); /* uploaded */
    be32(p + 80, 2);                     /* started */
    be32(p + 84, 0);                     /* ip */
    be32(p + 88, 0xcafef00d);            /* key */
    be32(p + 92, 0xffffffff);            /* num_want -1 */
    p[96] = 0x1a;                        /* port 6881 */
    p[97] = 0xe1;
    return 98;
}

static size_t make_scrape(uint8_t *p, unsigned n)
{
    be64(p, 0xfeedfacefeedfaceULL);
    be32(p + 8, 2);
    be32(p + 12, 77);
    for (unsigned i = 0; i < n; i++)
        memset(p + 16 + 20 * i, (int)(i + 1), 20);
    return 16 + 20 * (size_t)n;
}

/* Parse a copy of exactly len bytes in its own heap block, so ASan catches any read past
 * the end of the datagram. */
static enum udp_parse_result parse(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, p, len);
    enum udp_parse_result r = udp_parse_request(copy, len, &req);
    /* Hashes point into the packet: rebase them onto the caller's buffer before freeing. */
    if (req.scrape.hashes != NULL)
        req.scrape.hashes =
            (const uint8_t(*)[20])(p + ((const uint8_t *)req.scrape.hashes - copy));
    free(copy);
    return r;
}

TEST(connect_exact)
{
    uint8_t p[64];
    size_t n = make_connect(p, 0x12345678);
    CHECK_EQ_INT(parse(p, n), UDP_OK);
    CHECK_EQ_INT(req.action, UDP_ACTION_CONNECT);
    CHECK_EQ_INT(req.transaction_id, 0x12345678);
}

TEST(connect_sizes)
{
    uint8_t p[64];
    memset(p, 0, sizeof(p));
    size_t n = make_connect(p, 1);
    CHECK_EQ_INT(parse(p, n - 1), UDP_MALFORMED); /* one short */
    CHECK_EQ_INT(parse(p, n + 1), UDP_OK);        /* one over: trailing bytes tolerated */
    CHECK_EQ_INT(parse(p, 0), UDP_MALFORMED);
    CHECK_EQ_INT(parse(p, 8), UDP_MALFORMED);
}

TEST(connect_bad_protocol_id)
{
    uint8_t p[16];
    make_connect(p, 1);
    p[7] ^= 1;
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
    make_connect(p, 1);
    p[0] = 0x80; /* high byte */
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
    memset(p, 0, 8);
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
}

TEST(announce_fields)
{
    uint8_t p[128];
    size_t n = make_announce(p);
    CHECK_EQ_INT(parse(p, n), UDP_OK);
    CHECK_EQ_INT(req.action, UDP_ACTION_ANNOUNCE);
    CHECK(req.connection_id == 0x0123456789abcdefULL);
    CHECK(req.transaction_id == 0xdeadbeef);
    const struct announce_req *a = &req.announce;
    CHECK_MEM(a->info_hash, p + 16, 20);
    CHECK_MEM(a->peer_id, p + 36, 20);
    CHECK(a->downloaded == 0x1111111122222222ULL);
    CHECK(a->left == 0x3333333344444444ULL);
    CHECK(a->uploaded == 0x5555555566666666ULL);
    CHECK_EQ_INT(a->event, EVENT_STARTED);
    CHECK(a->key == 0xcafef00d);
    CHECK(a->has_key);
    CHECK_EQ_INT(a->numwant, -1);
    CHECK_EQ_INT(a->port, 6881);
    CHECK(a->compact);
    CHECK(!a->no_peer_id);
    CHECK_EQ_INT(a->claimed4.family, 0);
    CHECK_EQ_INT(a->claimed6.family, 0);
    CHECK_EQ_INT(req.urldata_len, 0);
}

TEST(announce_sizes)
{
    uint8_t p[128];
    size_t n = make_announce(p);
    CHECK_EQ_INT(parse(p, n - 1), UDP_MALFORMED);
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
    CHECK_EQ_INT(parse(p, 17), UDP_MALFORMED);
    p[98] = 0; /* one over: an end option */
    CHECK_EQ_INT(parse(p, n + 1), UDP_OK);
    CHECK_EQ_INT(req.announce.port, 6881);
}

TEST(announce_events)
{
    uint8_t p[98];
    make_announce(p);
    const uint32_t in[] = {0, 1, 2, 3, 4, 5, 0x100, 0xffffffff, 0x80000001};
    const int want[] = {EVENT_NONE, EVENT_COMPLETED, EVENT_STARTED, EVENT_STOPPED, EVENT_NONE,
                        EVENT_NONE, EVENT_NONE,      EVENT_NONE,    EVENT_NONE};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        be32(p + 80, in[i]);
        CHECK_EQ_INT(parse(p, 98), UDP_OK);
        CHECK_EQ_INT(req.announce.event, want[i]);
    }
}

TEST(announce_numwant)
{
    uint8_t p[98];
    make_announce(p);
    const uint32_t in[] = {0, 1, 50, 200, 0x7fffffff, 0xffffffff, 0xfffffffe, 0x80000000};
    const long long want[] = {0, 1, 50, 200, 0x7fffffff, -1, -1, -1};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        be32(p + 92, in[i]);
        CHECK_EQ_INT(parse(p, 98), UDP_OK);
        CHECK_EQ_INT(req.announce.numwant, want[i]);
    }
}

TEST(announce_claimed_ip)
{
    uint8_t p[98];
    make_announce(p);
    p[84] = 10;
    p[85] = 20;
    p[86] = 30;
    p[87] = 40;
    CHECK_EQ_INT(parse(p, 98), UDP_OK);
    CHECK_EQ_INT(req.announce.claimed4.family, ADDR_V4);
    CHECK_MEM(req.announce.claimed4.ip, "\x0a\x14\x1e\x28\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(req.announce.claimed4.port, 6881);
    CHECK_EQ_INT(req.announce.claimed6.family, 0);
    /* Back to 0: nothing claimed, and nothing left over from the previous parse. */
    be32(p + 84, 0);
    CHECK_EQ_INT(parse(p, 98), UDP_OK);
    CHECK_EQ_INT(req.announce.claimed4.family, 0);
}

TEST(announce_zero_and_max)
{
    uint8_t p[98];
    make_announce(p);
    memset(p + 56, 0xff, 24);   /* counters at UINT64_MAX */
    memset(p + 88, 0, 4);       /* key 0 is still a key */
    p[96] = p[97] = 0;          /* port 0 */
    CHECK_EQ_INT(parse(p, 98), UDP_OK);
    CHECK(req.announce.downloaded == UINT64_MAX);
    CHECK(req.announce.left == UINT64_MAX);
    CHECK(req.announce.uploaded == UINT64_MAX);
    CHECK(req.announce.has_key);
    CHECK(req.announce.key == 0);
    CHECK_EQ_INT(req.announce.port, 0);
    p[96] = p[97] = 0xff;
    CHECK_EQ_INT(parse(p, 98), UDP_OK);
    CHECK_EQ_INT(req.announce.port, 65535);
}

/* Announce followed by the given option bytes. */
static enum udp_parse_result parse_opts(const uint8_t *opts, size_t n)
{
    static uint8_t p[98 + 4096];
    if (n > 4096)
        abort();
    make_announce(p);
    memcpy(p + 98, opts, n);
    return parse(p, 98 + n);
}

TEST(bep41_urldata_concat)
{
    /* BEP 41's example: "/announce?passkey=..." split over several URL-data options. */
    const uint8_t o[] = {2, 9, '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e',
                         1, /* no-op between them */
                         2, 4, '?', 'a', '=', 'b',
                         2, 0, /* empty URL data */
                         2, 3, '&', 'c', 'd', 0, /* end */
                         2, 2, 'z', 'z'};     /* after the end: ignored */
    CHECK_EQ_INT(parse_opts(o, sizeof(o)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 16);
    CHECK_MEM(req.urldata, "/announce?a=b&cd", 16);
}

TEST(bep41_nop_and_end)
{
    const uint8_t nops[] = {1, 1, 1, 1};
    CHECK_EQ_INT(parse_opts(nops, sizeof(nops)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 0);
    const uint8_t end[] = {0, 2, 1, 'x'};
    CHECK_EQ_INT(parse_opts(end, sizeof(end)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 0);
    const uint8_t nop_then_data[] = {1, 2, 1, 'x'};
    CHECK_EQ_INT(parse_opts(nop_then_data, sizeof(nop_then_data)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 1);
    CHECK_EQ_INT(req.urldata[0], 'x');
}

TEST(bep41_truncated)
{
    /* Length byte missing. */
    const uint8_t a[] = {2, 2, 'o', 'k', 2};
    CHECK_EQ_INT(parse_opts(a, sizeof(a)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 2);
    CHECK_MEM(req.urldata, "ok", 2);
    /* Data shorter than its length: that option is dropped, earlier ones kept. */
    const uint8_t b[] = {2, 2, 'o', 'k', 2, 5, 'a', 'b'};
    CHECK_EQ_INT(parse_opts(b, sizeof(b)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 2);
    /* Exactly one byte short. */
    const uint8_t c[] = {2, 3, 'a', 'b'};
    CHECK_EQ_INT(parse_opts(c, sizeof(c)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 0);
    /* And exactly right. */
    const uint8_t d[] = {2, 3, 'a', 'b', 'c'};
    CHECK_EQ_INT(parse_opts(d, sizeof(d)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 3);
}

TEST(bep41_unknown_type)
{
    const uint8_t a[] = {2, 1, 'x', 7, 2, 1, 'y'};
    CHECK_EQ_INT(parse_opts(a, sizeof(a)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 1);
    CHECK_EQ_INT(req.urldata[0], 'x');
    const uint8_t b[] = {0xff, 0xff, 0xff};
    CHECK_EQ_INT(parse_opts(b, sizeof(b)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 0);
    CHECK_EQ_INT(req.announce.port, 6881);
}

TEST(bep41_urldata_cap)
{
    /* 8 options of 255 bytes = 2040 bytes, kept up to UDP_URLDATA_MAX. */
    uint8_t o[8 * 257];
    for (int i = 0; i < 8; i++) {
        o[257 * i] = 2;
        o[257 * i + 1] = 255;
        memset(o + 257 * i + 2, 'a' + i, 255);
    }
    CHECK_EQ_INT(parse_opts(o, sizeof(o)), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, UDP_URLDATA_MAX);
    CHECK_EQ_INT(req.urldata[0], 'a');
    CHECK_EQ_INT(req.urldata[255], 'b');
    CHECK_EQ_INT(req.urldata[UDP_URLDATA_MAX - 1], 'a' + (UDP_URLDATA_MAX - 1) / 255);
    /* A second parse with no options resets the length. */
    CHECK_EQ_INT(parse_opts(o, 0), UDP_OK);
    CHECK_EQ_INT(req.urldata_len, 0);
}

TEST(scrape_counts)
{
    static uint8_t p[16 + 20 * 80];
    size_t n = make_scrape(p, 1);
    CHECK_EQ_INT(parse(p, n), UDP_OK);
    CHECK_EQ_INT(req.action, UDP_ACTION_SCRAPE);
    CHECK(req.connection_id == 0xfeedfacefeedfaceULL);
    CHECK_EQ_INT(req.transaction_id, 77);
    CHECK_EQ_INT(req.scrape.count, 1);
    CHECK(req.scrape.hashes == (const uint8_t(*)[20])(p + 16));

    n = make_scrape(p, 74);
    CHECK_EQ_INT(parse(p, n), UDP_OK);
    CHECK_EQ_INT(req.scrape.count, 74);
    CHECK(req.scrape.hashes == (const uint8_t(*)[20])(p + 16));
    CHECK_EQ_INT(req.scrape.hashes[73][0], 74);
    CHECK_EQ_INT(req.scrape.hashes[73][19], 74);

    n = make_scrape(p, 75);
    CHECK_EQ_INT(parse(p, n), UDP_TOO_MANY_HASHES);
    CHECK_EQ_INT(req.action, UDP_ACTION_SCRAPE);
    CHECK_EQ_INT(req.transaction_id, 77); /* for the error reply */
    CHECK_EQ_INT(req.scrape.count, 0);
    CHECK(req.scrape.hashes == NULL);

    n = make_scrape(p, 80);
    CHECK_EQ_INT(parse(p, n), UDP_TOO_MANY_HASHES);
}

TEST(scrape_bad_sizes)
{
    static uint8_t p[16 + 20 * 80];
    size_t n = make_scrape(p, 2);
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);     /* no hash at all */
    CHECK_EQ_INT(parse(p, 35), UDP_MALFORMED);     /* one short of one hash */
    CHECK_EQ_INT(parse(p, 37), UDP_MALFORMED);     /* one over */
    CHECK_EQ_INT(parse(p, n - 1), UDP_MALFORMED);  /* partial trailing hash */
    CHECK_EQ_INT(parse(p, n + 1), UDP_MALFORMED);
    CHECK_EQ_INT(parse(p, n), UDP_OK);
    CHECK_EQ_INT(req.scrape.count, 2);
    /* Partial trailing hash beyond the limit is malformed, not "too many". */
    n = make_scrape(p, 76);
    CHECK_EQ_INT(parse(p, n - 5), UDP_MALFORMED);
}

TEST(bad_actions)
{
    uint8_t p[200];
    memset(p, 0, sizeof(p));
    make_announce(p);
    const uint32_t acts[] = {3, 4, 5, 0x100, 0xffffffff, 0x01000000};
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        be32(p + 8, acts[i]);
        CHECK_EQ_INT(parse(p, 98), UDP_MALFORMED);
        CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
        CHECK_EQ_INT(parse(p, 36), UDP_MALFORMED);
    }
    /* An error packet as a client would receive it, sent to us. */
    be32(p, 3);
    be32(p + 4, 42);
    memcpy(p + 8, "oops-oops", 9);
    CHECK_EQ_INT(parse(p, 17), UDP_MALFORMED);
    /* Connect with the protocol id but announce action and no body. */
    make_connect(p, 1);
    be32(p + 8, 1);
    CHECK_EQ_INT(parse(p, 16), UDP_MALFORMED);
}

TEST(write_connect)
{
    uint8_t out[20];
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_connect(out, 0x01020304, 0x1122334455667788ULL), 16);
    CHECK_MEM(out, "\0\0\0\0\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88\xee", 17);
}

TEST(write_announce_head)
{
    uint8_t out[24];
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_announce_head(out, 0xa1b2c3d4, 1800, 7, 0x01020304), 20);
    CHECK_MEM(out,
              "\0\0\0\x01\xa1\xb2\xc3\xd4\0\0\x07\x08\0\0\0\x07\x01\x02\x03\x04"
              "\xee",
              21);
}

TEST(write_scrape)
{
    uint8_t out[8 + 12 * 3 + 1];
    struct swarm_counts c[3] = {
        {.seeders = 1, .leechers = 2, .completed = 3},
        {.seeders = 0x01020304, .leechers = 0x05060708, .completed = 0x090a0b0c},
        {.seeders = 0xffffffff, .leechers = 0, .completed = 0},
    };
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_scrape(out, 9, c, 3), 44);
    const uint8_t want[] = {0, 0, 0, 2, 0, 0, 0, 9,
                            /* seeders, completed, leechers */
                            0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2,
                            1, 2, 3, 4, 9, 10, 11, 12, 5, 6, 7, 8,
                            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xee};
    CHECK_MEM(out, want, sizeof(want));
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_scrape(out, 9, c, 0), 8);
    CHECK_EQ_INT(out[8], 0xee);
}

TEST(write_error)
{
    uint8_t out[64];
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_error(out, sizeof(out), 0x0a0b0c0d, "bad id"), 14);
    CHECK_MEM(out, "\0\0\0\x03\x0a\x0b\x0c\x0d" "bad id\xee", 15);

    /* Cut so the whole packet fits max_len. */
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_error(out, 10, 1, "too many hashes"), 10);
    CHECK_MEM(out, "\0\0\0\x03\0\0\0\x01to\xee", 11);
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_error(out, 8, 1, "x"), 8);
    CHECK_EQ_INT(out[8], 0xee);
    /* No room for the header: nothing written. */
    memset(out, 0xee, sizeof(out));
    CHECK_EQ_INT(udp_write_error(out, 7, 1, "x"), 0);
    CHECK_EQ_INT(out[0], 0xee);
    CHECK_EQ_INT(udp_write_error(out, 0, 1, "x"), 0);
    /* Empty and NULL messages. */
    CHECK_EQ_INT(udp_write_error(out, sizeof(out), 1, ""), 8);
    CHECK_EQ_INT(udp_write_error(out, sizeof(out), 1, NULL), 8);
}

/* Error reply to a 75-hash scrape: no larger than the request (anti-amplification). */
TEST(too_many_hashes_error_reply)
{
    static uint8_t p[16 + 20 * 75];
    uint8_t out[2048];
    size_t n = make_scrape(p, 75);
    CHECK_EQ_INT(parse(p, n), UDP_TOO_MANY_HASHES);
    size_t w = udp_write_error(out, n, req.transaction_id, "too many info_hashes");
    CHECK(w <= n);
    CHECK_EQ_INT(w, 8 + 20);
    CHECK_MEM(out, "\0\0\0\x03\0\0\0\x4d", 8);
}

int main(void)
{
    RUN(connect_exact);
    RUN(connect_sizes);
    RUN(connect_bad_protocol_id);
    RUN(announce_fields);
    RUN(announce_sizes);
    RUN(announce_events);
    RUN(announce_numwant);
    RUN(announce_claimed_ip);
    RUN(announce_zero_and_max);
    RUN(bep41_urldata_concat);
    RUN(bep41_nop_and_end);
    RUN(bep41_truncated);
    RUN(bep41_unknown_type);
    RUN(bep41_urldata_cap);
    RUN(scrape_counts);
    RUN(scrape_bad_sizes);
    RUN(bad_actions);
    RUN(write_connect);
    RUN(write_announce_head);
    RUN(write_scrape);
    RUN(write_error);
    RUN(too_many_hashes_error_reply);
    return CHECK_DONE();
}
