/* udp.c - BEP 15 UDP tracker packets in and out, with BEP 41 URL-data options.
 *
 * udp_parse_request classifies one datagram and fills a struct udp_request whose scrape
 * hashes point into the datagram; the writers produce replies byte-exact in network order.
 * Nothing here touches sockets, the store or the clock, so the fuzzer exercises all of it.
 * Every read is preceded by a length check against the datagram. */
#include "proto/udp.h"
#include "util/bytes.h"

#include <stdint.h>
#include <string.h>

/* Announce request offsets (BEP 15). */
enum {
    OFF_CONNID = 0,
    OFF_ACTION = 8,
    OFF_TID = 12,
    OFF_INFO_HASH = 16,
    OFF_PEER_ID = 36,
    OFF_DOWNLOADED = 56,
    OFF_LEFT = 64,
    OFF_UPLOADED = 72,
    OFF_EVENT = 80,
    OFF_IP = 84,
    OFF_KEY = 88,
    OFF_NUM_WANT = 92,
    OFF_PORT = 96,
};

/* BEP 41 option types. */
enum { OPT_END = 0, OPT_NOP = 1, OPT_URLDATA = 2 };

/* BEP 41 options after the fixed announce. Anything odd (unknown type, an option running
 * past the datagram) ends parsing quietly: the announce itself stays valid, because clients
 * and middleboxes add trailing bytes we have no reason to punish. */
static void parse_options(const uint8_t *p, size_t len, struct udp_request *out)
{
    size_t i = 0;

    while (i < len) {
        uint8_t type = p[i++];
        if (type == OPT_END)
            return;
        if (type == OPT_NOP)
            continue;
        if (type != OPT_URLDATA || i >= len)
            return;
        size_t n = p[i++];
        if (n > len - i)
            return; /* truncated: keep what earlier options gave */
        size_t room = UDP_URLDATA_MAX - out->urldata_len;
        memcpy(out->urldata + out->urldata_len, p + i, n < room ? n : room);
        out->urldata_len += n < room ? n : room;
        i += n;
    }
}

static void parse_announce(const uint8_t *pkt, size_t len, struct udp_request *out)
{
    struct announce_req *a = &out->announce; /* zeroed by the caller */
    uint32_t event = be_get32(pkt + OFF_EVENT);
    int32_t numwant = (int32_t)be_get32(pkt + OFF_NUM_WANT);

    memcpy(a->info_hash, pkt + OFF_INFO_HASH, INFO_HASH_LEN);
    memcpy(a->peer_id, pkt + OFF_PEER_ID, PEER_ID_LEN);
    a->downloaded = be_get64(pkt + OFF_DOWNLOADED);
    a->left = be_get64(pkt + OFF_LEFT);
    a->uploaded = be_get64(pkt + OFF_UPLOADED);
    /* Values outside BEP 15's four count as a regular update, as on HTTP. */
    a->event = event <= EVENT_STOPPED ? (enum announce_event)event : EVENT_NONE;
    a->key = be_get32(pkt + OFF_KEY);
    a->has_key = true;
    a->numwant = numwant < 0 ? -1 : numwant;
    a->port = be_get16(pkt + OFF_PORT);
    a->compact = true; /* UDP replies are always packed */
    if (be_get32(pkt + OFF_IP) != 0) {
        a->claimed4.family = ADDR_V4;
        memcpy(a->claimed4.ip, pkt + OFF_IP, 4);
        a->claimed4.port = a->port;
    }
    parse_options(pkt + UDP_ANNOUNCE_LEN, len - UDP_ANNOUNCE_LEN, out);
}

enum udp_parse_result udp_parse_request(const uint8_t *pkt, size_t len, struct udp_request *out)
{
    /* Reset everything but the urldata bytes (1 KiB nobody reads past urldata_len). */
    memset(&out->announce, 0, sizeof(out->announce));
    out->scrape.hashes = NULL;
    out->scrape.count = 0;
    out->urldata_len = 0;
    out->connection_id = 0;
    out->transaction_id = 0;
    out->action = UDP_ACTION_ERROR;

    if (len < 16)
        return UDP_MALFORMED;
    uint64_t first = be_get64(pkt + OFF_CONNID);
    uint32_t action = be_get32(pkt + OFF_ACTION);
    out->transaction_id = be_get32(pkt + OFF_TID);

    switch (action) {
    case UDP_ACTION_CONNECT:
        /* The magic is what tells a BEP 15 connect from stray traffic; trailing bytes are
         * tolerated as some clients pad. */
        if (first != UDP_PROTOCOL_ID)
            return UDP_MALFORMED;
        out->action = UDP_ACTION_CONNECT;
        return UDP_OK;
    case UDP_ACTION_ANNOUNCE:
        if (len < UDP_ANNOUNCE_LEN)
            return UDP_MALFORMED;
        out->action = UDP_ACTION_ANNOUNCE;
        out->connection_id = first;
        parse_announce(pkt, len, out);
        return UDP_OK;
    case UDP_ACTION_SCRAPE: {
        size_t body = len - 16;
        if (body == 0 || body % INFO_HASH_LEN != 0)
            return UDP_MALFORMED;
        out->action = UDP_ACTION_SCRAPE;
        out->connection_id = first;
        if (body / INFO_HASH_LEN > UDP_SCRAPE_MAX_HASHES)
            return UDP_TOO_MANY_HASHES; /* action and ids filled in for the error reply */
        out->scrape.hashes = (const uint8_t(*)[INFO_HASH_LEN])(pkt + 16);
        out->scrape.count = (unsigned)(body / INFO_HASH_LEN);
        return UDP_OK;
    }
    default:
        /* Includes action 3: error packets only ever flow from tracker to client. */
        return UDP_MALFORMED;
    }
}

size_t udp_write_connect(uint8_t out[16], uint32_t transaction_id, uint64_t connection_id)
{
    be_put32(out, UDP_ACTION_CONNECT);
    be_put32(out + 4, transaction_id);
    be_put64(out + 8, connection_id);
    return UDP_CONNECT_LEN;
}

size_t udp_write_announce_head(uint8_t out[20], uint32_t transaction_id, uint32_t interval,
                               uint32_t leechers, uint32_t seeders)
{
    be_put32(out, UDP_ACTION_ANNOUNCE);
    be_put32(out + 4, transaction_id);
    be_put32(out + 8, interval);
    be_put32(out + 12, leechers);
    be_put32(out + 16, seeders);
    return UDP_ANNOUNCE_REPLY_HEAD;
}

size_t udp_write_scrape(uint8_t *out, uint32_t transaction_id, const struct swarm_counts *counts,
                        unsigned n)
{
    be_put32(out, UDP_ACTION_SCRAPE);
    be_put32(out + 4, transaction_id);
    uint8_t *p = out + 8;
    for (unsigned i = 0; i < n; i++, p += 12) {
        be_put32(p, counts[i].seeders);
        be_put32(p + 4, counts[i].completed);
        be_put32(p + 8, counts[i].leechers);
    }
    return 8 + (size_t)12 * n;
}

size_t udp_write_error(uint8_t *out, size_t max_len, uint32_t transaction_id,
                       const char *message)
{
    /* Without room for the 8-byte header there is no valid error packet: write nothing. */
    if (max_len < 8)
        return 0;
    be_put32(out, UDP_ACTION_ERROR);
    be_put32(out + 4, transaction_id);
    /* strnlen: the cut bounds the read of message too. */
    size_t n = message != NULL ? strnlen(message, max_len - 8) : 0;
    if (n > 0)
        memcpy(out + 8, message, n);
    return 8 + n;
}
