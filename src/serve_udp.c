/* serve_udp.c - answer one BEP 15 datagram.
 *
 * Malformed datagrams get no answer at all (answering would make us a reflector); well-formed
 * requests that fail a check get an error packet no larger than the request; only requests
 * carrying a valid connection ID (proof that the sender receives at its source address) get
 * a reply larger than what they sent. */
#include "serve.h"

#include <string.h>

#include "proto/udp.h"
#include "util/bytes.h"
#include "tracker.h"

static size_t send_error(struct tracker_worker *w, uint8_t *out, size_t cap, size_t req_len,
                         uint32_t tid, const char *msg)
{
    stat_inc(w->stats, STAT_UDP_ERROR_SENT);
    return udp_write_error(out, req_len < cap ? req_len : cap, tid, msg);
}

static size_t do_announce(struct tracker_worker *w, const struct udp_request *r,
                          const struct peer_addr *src, uint8_t *out, size_t cap, size_t len)
{
    struct announce_reply rep;
    const char *err = tracker_announce(w, &r->announce, src, TRACKER_UDP, &rep);
    if (err)
        return send_error(w, out, cap, len, r->transaction_id, err);
    stat_inc(w->stats, STAT_UDP_ANNOUNCE);

    /* Only the source's family: a v4 client gets 6-byte entries, a v6 client 18-byte ones. */
    const uint8_t *peers = src->family == ADDR_V4 ? rep.peers4 : rep.peers6;
    unsigned n = src->family == ADDR_V4 ? rep.n4 : rep.n6;
    size_t each = src->family == ADDR_V4 ? 6 : 18;
    if (UDP_ANNOUNCE_REPLY_HEAD + n * each > cap)
        n = (unsigned)((cap - UDP_ANNOUNCE_REPLY_HEAD) / each);

    size_t off = udp_write_announce_head(out, r->transaction_id, rep.interval,
                                         rep.counts.leechers, rep.counts.seeders);
    memcpy(out + off, peers, n * each);
    return off + n * each;
}

/* Each announce's swarm, and each scrape's first, is a cache miss or two in the store (its
 * shard, its table slot: random addresses). Asking for all of a batch's lines before the
 * first request is answered overlaps those waits instead of paying them one by one. Only a
 * peek at fixed offsets: serve_udp still parses and checks everything. */
void serve_udp_prepare(void *ctx, const uint8_t *const *pkts, const size_t *lens, unsigned n)
{
    struct tracker_worker *w = ctx;
    const uint8_t *hashes[STORE_PREFETCH_MAX];
    unsigned k = 0;
    for (unsigned i = 0; i < n && k < STORE_PREFETCH_MAX; i++) {
        if (lens[i] < UDP_SCRAPE_MIN_LEN)
            continue;
        uint32_t action = be_get32(pkts[i] + 8);
        if ((action == UDP_ACTION_ANNOUNCE && lens[i] >= UDP_ANNOUNCE_LEN) ||
            action == UDP_ACTION_SCRAPE)
            hashes[k++] = pkts[i] + 16; /* after connection id, action, transaction id */
    }
    if (k > 1) /* one request alone has nothing to overlap its misses with */
        tracker_prefetch(w, hashes, k);
}

size_t serve_udp(void *ctx, const struct peer_addr *src, const uint8_t *pkt, size_t len,
                 uint8_t *out, size_t cap)
{
    struct tracker_worker *w = ctx;
    struct udp_request r;

    enum udp_parse_result res = udp_parse_request(pkt, len, &r);
    if (res == UDP_MALFORMED) {
        stat_inc(w->stats, STAT_UDP_MALFORMED);
        return 0;
    }
    /* A consistent copy of the keys: a SIGHUP may swap them at any moment. */
    struct connid_keys keys;
    udp_secret_get(&w->t->connid, &keys);
    if (r.action == UDP_ACTION_CONNECT) {
        stat_inc(w->stats, STAT_UDP_CONNECT);
        return udp_write_connect(out, r.transaction_id,
                                 connid_make(&keys.cur, src, w->unix_now));
    }
    if (!connid_check(&keys, src, w->unix_now, r.connection_id)) {
        stat_inc(w->stats, STAT_UDP_BAD_CONNID);
        return send_error(w, out, cap, len, r.transaction_id, "invalid connection id");
    }
    if (res == UDP_TOO_MANY_HASHES)
        return send_error(w, out, cap, len, r.transaction_id, "too many info_hashes");
    if (r.action == UDP_ACTION_ANNOUNCE)
        return do_announce(w, &r, src, out, cap, len);

    /* Scrape: 8 + 12n bytes answer 16 + 20n, never an amplification. */
    stat_inc(w->stats, STAT_UDP_SCRAPE);
    tracker_scrape(w, &r.scrape, w->scrape_counts);
    return udp_write_scrape(out, r.transaction_id, w->scrape_counts, r.scrape.count);
}
