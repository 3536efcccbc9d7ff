/* test_http_params.c - announce and scrape query parsing (src/proto/http_params.c): every
 * parameter valid, missing and invalid, its exact failure reason, and the boundaries.
 *
 * Queries are parsed from exactly-sized heap copies so the ASan build catches over-reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "proto/http_params.h"

#define HASH_A "%d2%e5%3f%b8%03%4f%fe%a1%8a%e1%2a%4e%c4%25%8c%a8%82%5b%ce%17"
static const uint8_t hash_a[20] = {0xd2, 0xe5, 0x3f, 0xb8, 0x03, 0x4f, 0xfe, 0xa1, 0x8a, 0xe1,
                                   0x2a, 0x4e, 0xc4, 0x25, 0x8c, 0xa8, 0x82, 0x5b, 0xce, 0x17};
#define PEER_A "-LT2070-n0aU%2aS%29OP%7e%21x"
static const uint8_t peer_a[20] = "-LT2070-n0aU*S)OP~!x";
/* The required parameters, for tests that vary one other thing. */
#define REQ "info_hash=" HASH_A "&peer_id=" PEER_A "&port=6881"

static const char *announce_n(const char *q, size_t n, struct announce_req *req)
{
    char *h = malloc(n ? n : 1);
    if (n)
        memcpy(h, q, n);
    const char *r = http_parse_announce(h, n, req);
    free(h);
    return r;
}

static const char *announce(const char *q, struct announce_req *req)
{
    return announce_n(q, strlen(q), req);
}

/* The failure reason for REQ plus a suffix ("" on success). */
static const char *with(const char *suffix)
{
    static char q[1024];
    struct announce_req req;
    snprintf(q, sizeof q, "%s%s", REQ, suffix);
    const char *r = announce(q, &req);
    return r ? r : "";
}

static uint8_t scrape_mem[SCRAPE_MAX_HASHES + 1][20];

static const char *scrape(const char *q, unsigned cap, struct scrape_req *s)
{
    if (q == NULL)
        return http_parse_scrape(NULL, 0, scrape_mem, cap, s);
    size_t n = strlen(q);
    char *h = malloc(n ? n : 1);
    if (n)
        memcpy(h, q, n);
    const char *r = http_parse_scrape(h, n, scrape_mem, cap, s);
    free(h);
    return r;
}

TEST(libtorrent_full)
{
    struct announce_req req;
    const char *q = "info_hash=" HASH_A "&peer_id=" PEER_A "&port=6881&uploaded=123"
                    "&downloaded=456&left=1048576&corrupt=0&key=5B8C1E1A&event=started"
                    "&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0";
    CHECK(announce(q, &req) == NULL);
    CHECK_MEM(req.info_hash, hash_a, 20);
    CHECK_MEM(req.peer_id, peer_a, 20);
    CHECK_EQ_INT(req.port, 6881);
    CHECK_EQ_INT(req.uploaded, 123);
    CHECK_EQ_INT(req.downloaded, 456);
    CHECK_EQ_INT(req.left, 1048576);
    CHECK_EQ_INT(req.event, EVENT_STARTED);
    CHECK_EQ_INT(req.numwant, 200);
    CHECK(req.compact);
    CHECK(req.no_peer_id);
    CHECK(req.has_key);
    CHECK_EQ_INT(req.key, 0x5B8C1E1Au);
    CHECK_EQ_INT(req.claimed4.family, 0);
    CHECK_EQ_INT(req.claimed6.family, 0);
}

TEST(transmission_full)
{
    /* Transmission escapes only what it must: raw letters mixed with %XX. */
    struct announce_req req;
    const char *q = "info_hash=%D2%E5%3F%B8%03O%FE%A1%8A%E1%2AN%C4%25%8C%A8%82%5B%CE%17"
                    "&peer_id=-TR4050-abcdefghijkl&port=51413&uploaded=0&downloaded=0&left=0"
                    "&numwant=80&key=1a2b3c4d&compact=1&supportcrypto=1&event=stopped";
    CHECK(announce(q, &req) == NULL);
    CHECK_MEM(req.info_hash, hash_a, 20);
    CHECK_MEM(req.peer_id, "-TR4050-abcdefghijkl", 20);
    CHECK_EQ_INT(req.port, 51413);
    CHECK_EQ_INT(req.left, 0);
    CHECK_EQ_INT(req.event, EVENT_STOPPED);
    CHECK_EQ_INT(req.numwant, 80);
    CHECK_EQ_INT(req.key, 0x1a2b3c4du);
    CHECK(!req.no_peer_id);
}

TEST(defaults)
{
    struct announce_req req;
    memset(&req, 0xA5, sizeof req);
    CHECK(announce(REQ, &req) == NULL);
    CHECK_EQ_INT(req.uploaded, 0);
    CHECK_EQ_INT(req.downloaded, 0);
    CHECK_EQ_INT(req.left, 0);
    CHECK_EQ_INT(req.event, EVENT_NONE);
    CHECK_EQ_INT(req.numwant, -1);
    CHECK(req.compact);
    CHECK(!req.no_peer_id);
    CHECK(!req.has_key);
    CHECK_EQ_INT(req.key, 0);
    CHECK_EQ_INT(req.claimed4.family, 0);
    CHECK_EQ_INT(req.claimed6.family, 0);
}

TEST(order_and_noise_irrelevant)
{
    struct announce_req req;
    const char *q = "&&port=6881&foo&=bar&x=%zz&peer_id=" PEER_A "&&info_hash=" HASH_A "&";
    CHECK(announce(q, &req) == NULL);
    CHECK_MEM(req.info_hash, hash_a, 20);
    CHECK_EQ_INT(req.port, 6881);
}

TEST(missing)
{
    struct announce_req req;
    CHECK_STR(announce("peer_id=" PEER_A "&port=1", &req), "missing info_hash");
    CHECK_STR(announce("info_hash=" HASH_A "&port=1", &req), "missing peer_id");
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=" PEER_A, &req), "missing port");
    CHECK_STR(announce("", &req), "missing info_hash");
    CHECK_STR(announce_n(NULL, 0, &req), "missing info_hash");
    CHECK_STR(http_parse_announce(NULL, 0, &req), "missing info_hash");
    /* a key spelled differently is a different parameter */
    CHECK_STR(announce("infohash=" HASH_A "&peer_id=" PEER_A "&port=1", &req),
              "missing info_hash");
    CHECK_STR(announce("INFO_HASH=" HASH_A "&peer_id=" PEER_A "&port=1", &req),
              "missing info_hash");
}

TEST(encoded_keys)
{
    struct announce_req req;
    CHECK(announce("info%5Fhash=" HASH_A "&peer%5fid=" PEER_A "&%70ort=7", &req) == NULL);
    CHECK_EQ_INT(req.port, 7);
    CHECK_MEM(req.info_hash, hash_a, 20);
    /* a malformed escape in a key makes it a name we do not read */
    CHECK_STR(announce("info_hash%=" HASH_A "&peer_id=" PEER_A "&port=7", &req),
              "missing info_hash");
}

TEST(info_hash)
{
    struct announce_req req;
    /* 19 and 21 bytes, empty */
    CHECK_STR(announce("info_hash=1234567890123456789&peer_id=" PEER_A "&port=1", &req),
              "invalid info_hash");
    CHECK_STR(announce("info_hash=123456789012345678901&peer_id=" PEER_A "&port=1", &req),
              "invalid info_hash");
    CHECK_STR(announce("info_hash=&peer_id=" PEER_A "&port=1", &req), "invalid info_hash");
    CHECK_STR(announce("info_hash&peer_id=" PEER_A "&port=1", &req), "invalid info_hash");
    /* 20 raw bytes, '+' and %00 inside */
    CHECK(announce("info_hash=12345678901234567890&peer_id=" PEER_A "&port=1", &req) == NULL);
    CHECK_MEM(req.info_hash, "12345678901234567890", 20);
    CHECK(announce("info_hash=%00%00+++++++++++++++++%ff&peer_id=" PEER_A "&port=1", &req) ==
          NULL);
    CHECK_MEM(req.info_hash, "\0\0                 \xff", 20);
    /* once only */
    CHECK_STR(with("&info_hash=" HASH_A), "duplicate info_hash");
    CHECK_STR(with("&info_hash=x"), "duplicate info_hash");
    /* bad escapes */
    CHECK_STR(announce("info_hash=%zz34567890123456789&peer_id=" PEER_A "&port=1", &req),
              "malformed query");
    CHECK_STR(announce("info_hash=1234567890123456789%&peer_id=" PEER_A "&port=1", &req),
              "malformed query");
    CHECK_STR(announce("info_hash=123456789012345678901%4&peer_id=" PEER_A "&port=1", &req),
              "malformed query");
}

TEST(peer_id)
{
    struct announce_req req;
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=-TR4050-abcdefghijk&port=1", &req),
              "invalid peer_id");
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=-TR4050-abcdefghijklm&port=1", &req),
              "invalid peer_id");
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=&port=1", &req), "invalid peer_id");
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=-TR4050-abcdefghij%k&port=1", &req),
              "malformed query");
    CHECK(announce("info_hash=" HASH_A "&peer_id=-TR4050-abcdefghij+k&port=1", &req) == NULL);
    CHECK_MEM(req.peer_id, "-TR4050-abcdefghij k", 20);
}

TEST(port)
{
    struct announce_req req;
    CHECK(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=65535", &req) == NULL);
    CHECK_EQ_INT(req.port, 65535);
    CHECK(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=1", &req) == NULL);
    CHECK_EQ_INT(req.port, 1);
    CHECK(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=%36%38%38%31", &req) ==
          NULL);
    CHECK_EQ_INT(req.port, 6881);
    CHECK(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=0000006881", &req) == NULL);
    CHECK_EQ_INT(req.port, 6881);
    static const char *bad[] = {
        "65536", "99999", "-1", "", "abc", "6881x", " 6881", "+6881", "6881+", "0x10",
        "18446744073709551616", "184467440737095516150",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char q[512];
        snprintf(q, sizeof q, "%s&port=%s", "info_hash=" HASH_A "&peer_id=" PEER_A, bad[i]);
        CHECK_STR(announce(q, &req), "invalid port");
    }
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=68%8", &req),
              "malformed query");
    CHECK_STR(announce("info_hash=" HASH_A "&peer_id=" PEER_A "&port=x%zz", &req),
              "malformed query");
}

TEST(port_zero)
{
    struct announce_req req;
    const char *base = "info_hash=" HASH_A "&peer_id=" PEER_A;
    char q[512];
    snprintf(q, sizeof q, "%s&port=0", base);
    CHECK_STR(announce(q, &req), "invalid port");
    snprintf(q, sizeof q, "%s&port=0&event=started", base);
    CHECK_STR(announce(q, &req), "invalid port");
    snprintf(q, sizeof q, "%s&port=0&event=paused", base);
    CHECK_STR(announce(q, &req), "invalid port");
    snprintf(q, sizeof q, "%s&port=0&event=stopped", base);
    CHECK(announce(q, &req) == NULL);
    CHECK_EQ_INT(req.port, 0);
    CHECK_EQ_INT(req.event, EVENT_STOPPED);
    /* the event may come before the port */
    snprintf(q, sizeof q, "event=stopped&%s&port=0", base);
    CHECK(announce(q, &req) == NULL);
    /* still required with stopped */
    snprintf(q, sizeof q, "event=stopped&%s", base);
    CHECK_STR(announce(q, &req), "missing port");
}

TEST(counters)
{
    struct announce_req req;
    CHECK(announce(REQ "&uploaded=18446744073709551615&downloaded=0000000000000000000000001"
                       "&left=18446744073709551614",
                   &req) == NULL);
    CHECK(req.uploaded == UINT64_MAX);
    CHECK_EQ_INT(req.downloaded, 1);
    CHECK(req.left == UINT64_MAX - 1);
    CHECK(announce(REQ "&left=%31%30", &req) == NULL);
    CHECK_EQ_INT(req.left, 10);

    static const char *bad[] = {
        "18446744073709551616", "99999999999999999999", "-1", "", "1e5", "1.0", "+1", " 1",
        "0x1", "1%00", "%2d1",
    };
    static const char *names[] = {"uploaded", "downloaded", "left"};
    for (size_t n = 0; n < 3; n++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char suffix[128], want[64];
            snprintf(suffix, sizeof suffix, "&%s=%s", names[n], bad[i]);
            snprintf(want, sizeof want, "invalid %s", names[n]);
            const char *r = with(suffix);
            if (strcmp(r, want) != 0)
                fprintf(stderr, "  %s: %s\n", suffix, r);
            CHECK_STR(r, want);
        }
        char suffix[128];
        snprintf(suffix, sizeof suffix, "&%s=12%%3", names[n]);
        CHECK_STR(with(suffix), "malformed query");
        snprintf(suffix, sizeof suffix, "&%s=-1%%zz", names[n]);
        CHECK_STR(with(suffix), "malformed query");
    }
}

TEST(numwant)
{
    struct announce_req req;
    CHECK(announce(REQ "&numwant=0", &req) == NULL);
    CHECK_EQ_INT(req.numwant, 0);
    CHECK(announce(REQ "&numwant=50", &req) == NULL);
    CHECK_EQ_INT(req.numwant, 50);
    CHECK(announce(REQ "&numwant=2147483647", &req) == NULL);
    CHECK_EQ_INT(req.numwant, INT32_MAX);
    CHECK(announce(REQ "&numwant=2147483648", &req) == NULL);
    CHECK_EQ_INT(req.numwant, INT32_MAX);
    CHECK(announce(REQ "&numwant=18446744073709551615", &req) == NULL);
    CHECK_EQ_INT(req.numwant, INT32_MAX);
    /* Not a usable number: the default, never a refused announce. */
    CHECK(announce(REQ "&numwant=18446744073709551616", &req) == NULL);
    CHECK_EQ_INT(req.numwant, -1);
    CHECK(announce(REQ "&numwant=-1", &req) == NULL);
    CHECK_EQ_INT(req.numwant, -1);
    CHECK(announce(REQ "&numwant=", &req) == NULL);
    CHECK_EQ_INT(req.numwant, -1);
    CHECK(announce(REQ "&numwant=ten", &req) == NULL);
    CHECK_EQ_INT(req.numwant, -1);
    CHECK_STR(with("&numwant=%"), "malformed query");
}

static int event_of(const char *v)
{
    char q[512];
    struct announce_req req;
    snprintf(q, sizeof q, "%s&event=%s", REQ, v);
    if (announce(q, &req) != NULL)
        return -1;
    return (int)req.event;
}

TEST(event)
{
    CHECK_EQ_INT(event_of("started"), EVENT_STARTED);
    CHECK_EQ_INT(event_of("completed"), EVENT_COMPLETED);
    CHECK_EQ_INT(event_of("stopped"), EVENT_STOPPED);
    CHECK_EQ_INT(event_of("%73tarted"), EVENT_STARTED);
    CHECK_EQ_INT(event_of(""), EVENT_NONE);
    CHECK_EQ_INT(event_of("paused"), EVENT_NONE);
    CHECK_EQ_INT(event_of("empty"), EVENT_NONE);
    CHECK_EQ_INT(event_of("STARTED"), EVENT_NONE);
    CHECK_EQ_INT(event_of("start"), EVENT_NONE);
    CHECK_EQ_INT(event_of("started+"), EVENT_NONE);
    CHECK_EQ_INT(event_of("completedx"), EVENT_NONE);
    CHECK_EQ_INT(event_of("a-very-long-event-name-that-does-not-fit"), EVENT_NONE);
    CHECK_EQ_INT(event_of("sto%"), -1);
    CHECK_STR(with("&event=%7"), "malformed query");
    /* the last event wins */
    CHECK_EQ_INT(event_of("started&event=completed"), EVENT_COMPLETED);
}

static int flag(const char *name, const char *v)
{
    char q[512];
    struct announce_req req;
    if (v)
        snprintf(q, sizeof q, "%s&%s=%s", REQ, name, v);
    else
        snprintf(q, sizeof q, "%s&%s", REQ, name);
    if (announce(q, &req) != NULL)
        return -1;
    return strcmp(name, "compact") == 0 ? req.compact : req.no_peer_id;
}

TEST(compact_and_no_peer_id)
{
    static const char *names[] = {"compact", "no_peer_id"};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(flag(names[i], "1"), 1);
        CHECK_EQ_INT(flag(names[i], "0"), 0);
        CHECK_EQ_INT(flag(names[i], "%30"), 0);
        CHECK_EQ_INT(flag(names[i], ""), 1);
        CHECK_EQ_INT(flag(names[i], NULL), 1);
        CHECK_EQ_INT(flag(names[i], "00"), 1);
        CHECK_EQ_INT(flag(names[i], "false"), 1);
        CHECK_EQ_INT(flag(names[i], "yes"), 1);
        CHECK_EQ_INT(flag(names[i], "%3"), -1);
    }
    struct announce_req req;
    CHECK(announce(REQ, &req) == NULL);
    CHECK(req.compact);
    CHECK(!req.no_peer_id);
}

TEST(key)
{
    struct announce_req req, req2;
    CHECK(announce(REQ "&key=5B8C1E1A", &req) == NULL);
    CHECK(req.has_key);
    CHECK_EQ_INT(req.key, 0x5B8C1E1Au);
    CHECK(announce(REQ "&key=ffffffff", &req) == NULL);
    CHECK_EQ_INT(req.key, 0xffffffffu);
    CHECK(announce(REQ "&key=abc", &req) == NULL);
    CHECK_EQ_INT(req.key, 0xabc);
    CHECK(announce(REQ "&key=12345678", &req) == NULL);
    CHECK_EQ_INT(req.key, 0x12345678u);
    CHECK(announce(REQ "&key=", &req) == NULL);
    CHECK(!req.has_key);
    /* longer or non-hex keys are hashed: stable, and different tokens differ */
    CHECK(announce(REQ "&key=xYz12-AbC", &req) == NULL);
    CHECK(req.has_key);
    CHECK(announce(REQ "&key=xYz12-AbC", &req2) == NULL);
    CHECK_EQ_INT(req.key, req2.key);
    CHECK(announce(REQ "&key=xYz12-AbD", &req2) == NULL);
    CHECK(req.key != req2.key);
    CHECK(announce(REQ "&key=123456789", &req) == NULL);
    CHECK(req.has_key);
    CHECK(announce(REQ "&key=%31%32%33%34%35%36%37%38%39", &req2) == NULL);
    CHECK_EQ_INT(req.key, req2.key);
    CHECK_STR(with("&key=%zz"), "malformed query");
}

TEST(claimed_addresses)
{
    struct announce_req req;
    CHECK(announce(REQ "&ip=1.2.3.4", &req) == NULL);
    CHECK_EQ_INT(req.claimed4.family, ADDR_V4);
    CHECK_MEM(req.claimed4.ip, "\x01\x02\x03\x04", 4);
    CHECK_EQ_INT(req.claimed4.port, 0);
    CHECK_EQ_INT(req.claimed6.family, 0);

    CHECK(announce(REQ "&ip=2001%3Adb8%3A%3A1", &req) == NULL);
    CHECK_EQ_INT(req.claimed6.family, ADDR_V6);
    CHECK_MEM(req.claimed6.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    CHECK_EQ_INT(req.claimed4.family, 0);

    CHECK(announce(REQ "&ipv4=10.0.0.1&ipv6=%5B2001%3Adb8%3A%3A2%5D%3A6882", &req) == NULL);
    CHECK_EQ_INT(req.claimed4.family, ADDR_V4);
    CHECK_MEM(req.claimed4.ip, "\x0a\0\0\x01", 4);
    CHECK_EQ_INT(req.claimed6.family, ADDR_V6);
    CHECK_EQ_INT(req.claimed6.ip[15], 2);
    CHECK_EQ_INT(req.claimed6.port, 6882);

    CHECK(announce(REQ "&ipv6=2001:db8::3", &req) == NULL);
    CHECK_EQ_INT(req.claimed6.family, ADDR_V6);
    CHECK_EQ_INT(req.claimed6.ip[15], 3);
    CHECK_EQ_INT(req.claimed6.port, 0);

    /* filed by the family the address turns out to be */
    CHECK(announce(REQ "&ipv6=%3A%3Affff%3A1.2.3.4", &req) == NULL);
    CHECK_EQ_INT(req.claimed4.family, ADDR_V4);
    CHECK_MEM(req.claimed4.ip, "\x01\x02\x03\x04", 4);
    CHECK_EQ_INT(req.claimed6.family, 0);

    /* names and garbage are ignored, never an error */
    static const char *ignored[] = {
        "&ip=tracker.example.org", "&ip=", "&ip=1.2.3", "&ip=1.2.3.4:80", "&ip=256.1.1.1",
        "&ipv4=localhost", "&ipv6=[::1", "&ipv6=[::1]:99999", "&ipv4=%00",
        "&ip=0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        char q[512];
        snprintf(q, sizeof q, "%s%s", REQ, ignored[i]);
        CHECK(announce(q, &req) == NULL);
        CHECK_EQ_INT(req.claimed4.family, 0);
        CHECK_EQ_INT(req.claimed6.family, 0);
    }
    CHECK_STR(with("&ip=1.2.3.%"), "malformed query");
    CHECK_STR(with("&ipv6=%3A%3A%g1"), "malformed query");
}

TEST(first_error_wins)
{
    struct announce_req req;
    CHECK_STR(announce("port=x&info_hash=short", &req), "invalid port");
    CHECK_STR(announce("info_hash=short&port=x", &req), "invalid info_hash");
    CHECK_STR(announce("left=-1&peer_id=" PEER_A, &req), "invalid left");
}

TEST(unknown_params_ignored)
{
    struct announce_req req;
    CHECK(announce(REQ "&trackerid=abc&passkey=%zz&corrupt=0&supportcrypto=1&requirecrypto=0"
                       "&azudp=6881&azver=3&x%zz=1&=&&",
                   &req) == NULL);
}

TEST(scrape_counts)
{
    struct scrape_req s;
    CHECK(scrape(NULL, 8, &s) == NULL);
    CHECK_EQ_INT(s.count, 0);
    CHECK(s.hashes == (const uint8_t(*)[20])scrape_mem);
    CHECK(scrape("", 8, &s) == NULL);
    CHECK_EQ_INT(s.count, 0);
    CHECK(scrape("passkey=abc&foo", 8, &s) == NULL);
    CHECK_EQ_INT(s.count, 0);

    CHECK(scrape("info_hash=" HASH_A, 8, &s) == NULL);
    CHECK_EQ_INT(s.count, 1);
    CHECK_MEM(s.hashes[0], hash_a, 20);

    CHECK(scrape("info_hash=" HASH_A "&info_hash=AAAAAAAAAAAAAAAAAAAA&x=1"
                 "&info_hash=%41AAAAAAAAAAAAAAAAAAA&info_hash=" HASH_A,
                 8, &s) == NULL);
    CHECK_EQ_INT(s.count, 4);
    CHECK_MEM(s.hashes[0], hash_a, 20);
    CHECK_MEM(s.hashes[1], "AAAAAAAAAAAAAAAAAAAA", 20);
    CHECK_MEM(s.hashes[2], "AAAAAAAAAAAAAAAAAAAA", 20);
    CHECK_MEM(s.hashes[3], hash_a, 20);
}

TEST(scrape_limits)
{
    struct scrape_req s;
    const char *two = "info_hash=" HASH_A "&info_hash=" HASH_A;
    CHECK(scrape(two, 2, &s) == NULL);
    CHECK_EQ_INT(s.count, 2);
    CHECK_STR(scrape(two, 1, &s), "too many info_hash");
    CHECK_STR(scrape("info_hash=" HASH_A, 0, &s), "too many info_hash");
    CHECK(scrape("foo=1", 0, &s) == NULL);

    /* SCRAPE_MAX_HASHES exactly, then one more */
    static char q[(SCRAPE_MAX_HASHES + 1) * 32];
    size_t o = 0;
    for (int i = 0; i <= SCRAPE_MAX_HASHES; i++)
        o += (size_t)snprintf(q + o, sizeof q - o, "%sinfo_hash=%020d", i ? "&" : "", i);
    CHECK_STR(scrape(q, SCRAPE_MAX_HASHES, &s), "too many info_hash");
    CHECK(scrape(q, SCRAPE_MAX_HASHES + 1, &s) == NULL);
    CHECK_EQ_INT(s.count, SCRAPE_MAX_HASHES + 1);
    CHECK_MEM(s.hashes[SCRAPE_MAX_HASHES], "00000000000000000256", 20);
    q[strlen(q) - 31] = '\0'; /* drop the last "&info_hash=..." (31 bytes) */
    CHECK(scrape(q, SCRAPE_MAX_HASHES, &s) == NULL);
    CHECK_EQ_INT(s.count, SCRAPE_MAX_HASHES);
}

TEST(scrape_errors)
{
    struct scrape_req s;
    CHECK_STR(scrape("info_hash=short", 8, &s), "invalid info_hash");
    CHECK_STR(scrape("info_hash=", 8, &s), "invalid info_hash");
    CHECK_STR(scrape("info_hash", 8, &s), "invalid info_hash");
    CHECK_STR(scrape("info_hash=" HASH_A "&info_hash=123456789012345678901", 8, &s),
              "invalid info_hash");
    CHECK_STR(scrape("info_hash=" HASH_A "%", 8, &s), "malformed query");
    CHECK_STR(scrape("info_hash=%zz", 8, &s), "malformed query");
    /* unread parameters may be malformed */
    CHECK(scrape("info_hash=" HASH_A "&x=%zz", 8, &s) == NULL);
}

int main(void)
{
    RUN(libtorrent_full);
    RUN(transmission_full);
    RUN(defaults);
    RUN(order_and_noise_irrelevant);
    RUN(missing);
    RUN(encoded_keys);
    RUN(info_hash);
    RUN(peer_id);
    RUN(port);
    RUN(port_zero);
    RUN(counters);
    RUN(numwant);
    RUN(event);
    RUN(compact_and_no_peer_id);
    RUN(key);
    RUN(claimed_addresses);
    RUN(first_error_wins);
    RUN(unknown_params_ignored);
    RUN(scrape_counts);
    RUN(scrape_limits);
    RUN(scrape_errors);
    return CHECK_DONE();
}
