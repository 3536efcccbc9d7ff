/* test_store_ws.c - unit tests of store_ws_update: WebSocket peers counted in the torrent's
 * one entry (scrape, foreach, stats) but never returned as peers, completions kept after the
 * last one leaves, the caps refusing joins, counts clamped at zero, expiry keeping a torrent
 * that still has WebSocket peers, and store_check's invariants throughout. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_fixture.h"
#include "store/store.h"

static uint64_t rng_state = 7;
static uint8_t out4[50 * 6], out6[50 * 18];

static store_t *mk(uint64_t max_torrents, uint32_t max_peers)
{
    struct store_config cfg = fixture_config(100, 500, 2);
    cfg.max_torrents = max_torrents;
    cfg.max_peers = max_peers;
    return store_new(&cfg);
}

static const uint8_t *hash_of(unsigned i)
{
    static uint8_t h[8][20];
    fixture_hash(h[i & 7], i, 0x5a);
    return h[i & 7];
}

static enum store_refusal ws(store_t *s, unsigned h, int seeders, int leechers,
                             bool completed, uint32_t now)
{
    struct store_ws_in in = {.info_hash = hash_of(h), .seeders = seeders,
                             .leechers = leechers, .completed = completed, .now = now};
    enum store_refusal r = STORE_FULL_MEMORY;
    CHECK(store_ws_update(s, &in, &r));
    return r;
}

static struct store_announce_out http(store_t *s, unsigned h, uint8_t host, uint32_t now)
{
    struct store_announce_in in = {.info_hash = hash_of(h),
                                   .peer = fixture_v4(0x0a000000u | host, 6881),
                                   .event = EVENT_STARTED, .now = now, .numwant = 50,
                                   .both_families = true, .out4 = out4, .out6 = out6,
                                   .rng = &rng_state};
    struct store_announce_out o;
    CHECK(store_announce(s, &in, &o));
    return o;
}

static struct swarm_counts scrape(store_t *s, unsigned h, bool *found)
{
    struct swarm_counts c;
    *found = store_scrape(s, hash_of(h), &c);
    return c;
}

TEST(counts_shared_peers_not)
{
    store_t *s = mk(0, 0);
    CHECK_EQ_INT(ws(s, 1, 1, 0, false, 10), STORE_OK);  /* a browser seeder */
    CHECK_EQ_INT(ws(s, 1, 0, 1, false, 10), STORE_OK);  /* a browser leecher */
    struct store_announce_out o = http(s, 1, 1, 10);
    CHECK_EQ_INT(o.counts.seeders, 1);
    CHECK_EQ_INT(o.counts.leechers, 2);
    CHECK_EQ_INT(o.n4 + o.n6, 0); /* WebSocket peers are never handed out */
    o = http(s, 1, 2, 10);
    CHECK_EQ_INT(o.n4, 1);        /* only the other HTTP peer */
    bool found;
    struct swarm_counts c = scrape(s, 1, &found);
    CHECK(found);
    CHECK_EQ_INT(c.seeders, 1);
    CHECK_EQ_INT(c.leechers, 3);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 1);
    CHECK_EQ_INT(st.peers_ws, 2);
    CHECK_EQ_INT(st.peers4, 2);
    CHECK_EQ_INT(st.seeders, 1);
    CHECK_EQ_INT(st.leechers, 3);
    size_t n = 0;
    struct store_entry *v = store_list_sorted(s, &n);
    CHECK(v != NULL);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(v[0].c.seeders, 1);
    CHECK_EQ_INT(v[0].c.leechers, 3);
    free(v);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(completed_outlives_the_browsers)
{
    store_t *s = mk(0, 0);
    ws(s, 2, 0, 1, false, 10);
    ws(s, 2, 1, -1, true, 11); /* the leecher finished */
    bool found;
    struct swarm_counts c = scrape(s, 2, &found);
    CHECK_EQ_INT(c.seeders, 1);
    CHECK_EQ_INT(c.leechers, 0);
    CHECK_EQ_INT(c.completed, 1);
    ws(s, 2, -1, 0, false, 12); /* it left */
    c = scrape(s, 2, &found);
    CHECK(found);
    CHECK_EQ_INT(c.seeders + c.leechers, 0);
    CHECK_EQ_INT(c.completed, 1);
    CHECK(fixture_consistent(s));
    /* Kept for torrent_keep after the last activity, then freed. */
    store_expire_step(s, 12 + 499, 4);
    CHECK_EQ_INT(store_torrents(s), 1);
    store_expire_step(s, 12 + 500, 4);
    CHECK_EQ_INT(store_torrents(s), 0);
    /* A swarm that never completed goes with its last browser. */
    ws(s, 3, 0, 1, false, 20);
    CHECK_EQ_INT(store_torrents(s), 1);
    ws(s, 3, 0, -1, false, 21);
    CHECK_EQ_INT(store_torrents(s), 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(expiry_keeps_torrents_with_browsers)
{
    store_t *s = mk(0, 0);
    ws(s, 4, 1, 0, false, 10);
    http(s, 4, 1, 10);
    store_expire_step(s, 10 + 101, 4); /* the HTTP peer times out, the browser is connected */
    bool found;
    struct swarm_counts c = scrape(s, 4, &found);
    CHECK(found);
    CHECK_EQ_INT(c.seeders, 1);
    CHECK_EQ_INT(c.leechers, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(caps_refuse_joins_only)
{
    store_t *s = mk(2, 2);
    CHECK_EQ_INT(ws(s, 0, 0, 1, false, 10), STORE_OK);
    http(s, 1, 1, 10);
    CHECK_EQ_INT(ws(s, 2, 0, 1, false, 10), STORE_FULL_TORRENTS);
    bool found;
    scrape(s, 2, &found);
    CHECK(!found);
    CHECK_EQ_INT(ws(s, 1, 1, 0, false, 10), STORE_OK);     /* 2 peers in torrent 1 */
    CHECK_EQ_INT(ws(s, 1, 0, 1, false, 10), STORE_FULL_PEERS);
    CHECK_EQ_INT(http(s, 1, 2, 10).refused, STORE_FULL_PEERS); /* HTTP sees WS peers too */
    /* Leaving, finishing and a completion are never refused. */
    CHECK_EQ_INT(ws(s, 1, 1, -1, true, 11), STORE_OK);
    CHECK_EQ_INT(ws(s, 0, 0, -1, false, 11), STORE_OK);
    CHECK_EQ_INT(store_torrents(s), 1);
    CHECK_EQ_INT(ws(s, 2, 0, 1, false, 12), STORE_OK);   /* room again */
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(clamped_and_many)
{
    store_t *s = mk(0, 0);
    /* A leave the store never saw changes nothing. */
    CHECK_EQ_INT(ws(s, 5, -1, 0, false, 10), STORE_OK);
    CHECK_EQ_INT(store_torrents(s), 0);
    ws(s, 5, 0, 1, false, 10);
    ws(s, 5, -1, 0, false, 10); /* more seeders leaving than there were: clamped */
    bool found;
    struct swarm_counts c = scrape(s, 5, &found);
    CHECK_EQ_INT(c.seeders, 0);
    CHECK_EQ_INT(c.leechers, 1);
    /* Many swarms per shard: the sorted vectors grow, shrink and stay consistent. */
    for (unsigned i = 100; i < 400; i++) {
        struct store_ws_in in = {.info_hash = NULL, .seeders = 0, .leechers = 1, .now = 10};
        uint8_t h[20];
        memset(h, (int)(i * 37), 20);
        memcpy(h, &i, sizeof i);
        in.info_hash = h;
        enum store_refusal r;
        CHECK(store_ws_update(s, &in, &r));
        CHECK_EQ_INT(r, STORE_OK);
    }
    CHECK(fixture_consistent(s));
    CHECK_EQ_INT(store_torrents(s), 301);
    for (unsigned i = 100; i < 400; i += 2) {
        uint8_t h[20];
        memset(h, (int)(i * 37), 20);
        memcpy(h, &i, sizeof i);
        struct store_ws_in in = {.info_hash = h, .leechers = -1, .now = 10};
        enum store_refusal r;
        CHECK(store_ws_update(s, &in, &r));
    }
    CHECK_EQ_INT(store_torrents(s), 151);
    CHECK(fixture_consistent(s));
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.peers_ws, 151);
    CHECK_EQ_INT(st.bytes, store_memory(s));
    store_free(s);
}

int main(void)
{
    RUN(counts_shared_peers_not);
    RUN(completed_outlives_the_browsers);
    RUN(expiry_keeps_torrents_with_browsers);
    RUN(caps_refuse_joins_only);
    RUN(clamped_and_many);
    return CHECK_DONE();
}
