/* fuzz_udp.c - libFuzzer harness for the BEP 15 / BEP 41 codec (proto/udp.c).
 *
 * Parses the input as one datagram (an exactly-sized heap copy, so ASan sees any read past
 * its end), checks the parser's promises with abort(), then encodes the replies the server
 * would send for it, including the anti-amplification bound on error replies. Also exercises
 * connection-ID checks on whatever id the packet carries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/connid.h"
#include "proto/udp.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void check_announce(const uint8_t *pkt, size_t size, const struct udp_request *r)
{
    const struct announce_req *a = &r->announce;
    REQUIRE(size >= UDP_ANNOUNCE_LEN);
    REQUIRE(memcmp(a->info_hash, pkt + 16, INFO_HASH_LEN) == 0);
    REQUIRE(memcmp(a->peer_id, pkt + 36, PEER_ID_LEN) == 0);
    REQUIRE(a->event >= EVENT_NONE && a->event <= EVENT_STOPPED);
    REQUIRE(a->numwant >= -1);
    REQUIRE(a->port == (uint16_t)(pkt[96] << 8 | pkt[97]));
    REQUIRE(a->key == rd32(pkt + 88) && a->has_key && a->compact);
    REQUIRE((a->claimed4.family == ADDR_V4) == (rd32(pkt + 84) != 0));
    REQUIRE(a->claimed6.family == 0);
    /* URL data comes only from option bytes, so it can never exceed them. */
    REQUIRE(r->urldata_len <= size - UDP_ANNOUNCE_LEN);
}

/* Replies as the server would build them; the buffers are exactly the stated sizes. */
static void encode_replies(const struct udp_request *r, enum udp_parse_result res, size_t size)
{
    static uint8_t out[UDP_ANNOUNCE_REPLY_HEAD + 18 * UDP_MAX_PEERS6 + 6 * UDP_MAX_PEERS4];
    static struct swarm_counts counts[UDP_SCRAPE_MAX_HASHES];

    if (res == UDP_TOO_MANY_HASHES) {
        /* Never larger than the request: no amplification. */
        size_t n = udp_write_error(out, size, r->transaction_id, "too many info_hashes");
        REQUIRE(n <= size && n >= 8);
        REQUIRE(rd32(out) == UDP_ACTION_ERROR && rd32(out + 4) == r->transaction_id);
        return;
    }
    switch (r->action) {
    case UDP_ACTION_CONNECT:
        REQUIRE(udp_write_connect(out, r->transaction_id, 0x0102030405060708ULL) ==
                UDP_CONNECT_LEN);
        REQUIRE(rd32(out + 4) == r->transaction_id);
        break;
    case UDP_ACTION_ANNOUNCE: {
        size_t n = udp_write_announce_head(out, r->transaction_id, 1800, 1, 2);
        REQUIRE(n == UDP_ANNOUNCE_REPLY_HEAD);
        unsigned want = r->announce.numwant < 0 ? 50u : (unsigned)r->announce.numwant;
        if (want > UDP_MAX_PEERS4)
            want = UDP_MAX_PEERS4;
        struct peer_addr p = {.family = ADDR_V4, .port = r->announce.port};
        memcpy(p.ip, r->announce.info_hash, 4);
        for (unsigned i = 0; i < want; i++)
            n += addr_pack(&p, out + n);
        REQUIRE(n == UDP_ANNOUNCE_REPLY_HEAD + 6 * (size_t)want);
        REQUIRE(n <= sizeof(out));
        /* The error reply an unknown connection id gets. */
        n = udp_write_error(out, size, r->transaction_id, "unknown connection id");
        REQUIRE(n <= size);
        break;
    }
    case UDP_ACTION_SCRAPE: {
        for (unsigned i = 0; i < r->scrape.count; i++) {
            counts[i].seeders = r->scrape.hashes[i][0];
            counts[i].completed = r->scrape.hashes[i][19];
            counts[i].leechers = i;
        }
        size_t n = udp_write_scrape(out, r->transaction_id, counts, r->scrape.count);
        REQUIRE(n == 8 + 12 * (size_t)r->scrape.count);
        /* A scrape reply (12 per hash) is always smaller than its request (20 per hash). */
        REQUIRE(n < size);
        break;
    }
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct connid_keys keys = {
        .cur = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
        .prev = {{16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}},
        .has_prev = true,
    };
    uint8_t *pkt = malloc(size ? size : 1);
    struct udp_request *r = malloc(sizeof(*r)); /* exact size: ASan guards urldata's end */
    if (pkt == NULL || r == NULL)
        abort();
    memcpy(pkt, data, size);
    memset(r, 0xa5, sizeof(*r)); /* the parser must reset what it reports */

    enum udp_parse_result res = udp_parse_request(pkt, size, r);
    REQUIRE(res == UDP_OK || res == UDP_MALFORMED || res == UDP_TOO_MANY_HASHES);
    REQUIRE(r->urldata_len <= UDP_URLDATA_MAX);
    REQUIRE(r->scrape.count <= UDP_SCRAPE_MAX_HASHES);
    if (size < 16)
        REQUIRE(res == UDP_MALFORMED);
    if (r->action != UDP_ACTION_ANNOUNCE || res != UDP_OK)
        REQUIRE(r->urldata_len == 0);
    if (r->scrape.count == 0)
        REQUIRE(r->scrape.hashes == NULL);

    if (res == UDP_OK) {
        REQUIRE(r->transaction_id == rd32(pkt + 12));
        REQUIRE(rd32(pkt + 8) == (uint32_t)r->action);
        switch (r->action) {
        case UDP_ACTION_CONNECT:
            REQUIRE(rd32(pkt) == (uint32_t)(UDP_PROTOCOL_ID >> 32));
            REQUIRE(rd32(pkt + 4) == (uint32_t)UDP_PROTOCOL_ID);
            break;
        case UDP_ACTION_ANNOUNCE:
            check_announce(pkt, size, r);
            break;
        case UDP_ACTION_SCRAPE: {
            /* Every hash pointer lies inside the packet, and they cover it exactly. */
            const uint8_t *first = r->scrape.hashes[0];
            REQUIRE(r->scrape.count >= 1);
            REQUIRE(first == pkt + 16);
            REQUIRE(first + (size_t)INFO_HASH_LEN * r->scrape.count == pkt + size);
            break;
        }
        default:
            abort();
        }
    } else if (res == UDP_TOO_MANY_HASHES) {
        REQUIRE(r->action == UDP_ACTION_SCRAPE);
        REQUIRE(size > 16 && (size - 16) % INFO_HASH_LEN == 0);
        REQUIRE((size - 16) / INFO_HASH_LEN > UDP_SCRAPE_MAX_HASHES);
        REQUIRE(r->transaction_id == rd32(pkt + 12));
    }

    if (res != UDP_MALFORMED) {
        encode_replies(r, res, size);
        if (r->action != UDP_ACTION_CONNECT) {
            /* A packet's own id is accepted only if it is one we would have made: its tick
             * within 8 back or 1 ahead of now, its tag ours under one of the keys. */
            struct peer_addr src = {.family = ADDR_V4, .ip = {192, 0, 2, 1}, .port = 6881};
            uint32_t now = rd32(pkt + 12);
            uint64_t id = r->connection_id;
            bool ok = connid_check(&keys, &src, now, id);
            bool any = false;
            for (int back = -CONNID_AHEAD_TICKS; back <= CONNID_MAX_AGE_TICKS; back++) {
                uint32_t t = now - (uint32_t)(back * CONNID_TICK_SECONDS);
                any |= id == connid_make(&keys.cur, &src, t) ||
                       id == connid_make(&keys.prev, &src, t);
            }
            REQUIRE(ok == any);
            REQUIRE(connid_check(&keys, &src, now, connid_make(&keys.cur, &src, now)));
            REQUIRE(connid_check(&keys, &src, now, connid_make(&keys.prev, &src, now)));
            /* The port is not part of it. */
            src.port ^= 1;
            REQUIRE(connid_check(&keys, &src, now, id) == ok);
        }
    }
    free(r);
    free(pkt);
    return 0;
}
