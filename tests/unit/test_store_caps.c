/* test_store_caps.c - unit tests of the store's resource caps (max torrents, peers per
 * torrent, memory budget), its lock-free memory accounting and announce-rate enforcement:
 * each refusal changes nothing, known peers keep working, and room comes back when
 * peers leave or expire. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "store_fixture.h"
#include "store/snapshot.h"
#include "store/store.h"

static uint64_t rng_state = 99;
static uint8_t out4[200 * 6], out6[200 * 18];

static store_t *mk(uint64_t max_torrents, uint32_t max_peers, uint64_t max_bytes)
{
    struct store_config cfg = fixture_config(100, 0, 4);
    cfg.max_torrents = max_torrents;
    cfg.max_peers = max_peers;
    cfg.max_bytes = max_bytes;
    return store_new(&cfg);
}

static void hash_of(uint8_t h[20], unsigned i)
{
    fixture_hash(h, i, 0x3c);
}

/* Peer n of the tests: 10.x.y.z. */
static struct peer_addr peer(uint32_t n, uint16_t port)
{
    return fixture_v4(0x0a000000u | n, port);
}

static struct store_announce_out ann_full(store_t *s, unsigned h, uint32_t p,
                                          enum announce_event ev, uint32_t now,
                                          uint32_t min_age)
{
    uint8_t hash[20];
    hash_of(hash, h);
    struct store_announce_in in = {
        .info_hash = hash,
        .peer = peer(p, 6881),
        .event = ev,
        .now = now,
        .numwant = 50,
        .out4 = out4,
        .out6 = out6,
        .rng = &rng_state,
        .min_age = min_age,
    };
    struct store_announce_out o;
    CHECK(store_announce(s, &in, &o));
    return o;
}

static struct store_announce_out ann(store_t *s, unsigned h, uint32_t p, enum announce_event ev)
{
    return ann_full(s, h, p, ev, 1000, 0);
}

TEST(max_torrents)
{
    store_t *s = mk(3, 0, 0);
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ_INT(ann(s, i, 1, EVENT_STARTED).refused, STORE_OK);
    struct store_announce_out o = ann(s, 3, 1, EVENT_STARTED);
    CHECK_EQ_INT(o.refused, STORE_FULL_TORRENTS);
    CHECK_EQ_INT(o.counts.leechers, 0);
    CHECK_EQ_INT(store_torrents(s), 3);
    /* Existing torrents take new peers and refreshes. */
    o = ann(s, 0, 2, EVENT_STARTED);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.counts.leechers, 2);
    CHECK_EQ_INT(o.n4, 1);
    /* A stopped announce for an unknown torrent is not a refusal. */
    CHECK_EQ_INT(ann(s, 7, 1, EVENT_STOPPED).refused, STORE_OK);
    /* Freeing one makes room. */
    ann(s, 1, 1, EVENT_STOPPED);
    CHECK_EQ_INT(store_torrents(s), 2);
    CHECK_EQ_INT(ann(s, 3, 1, EVENT_STARTED).refused, STORE_OK);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(max_peers)
{
    store_t *s = mk(0, 2, 0);
    ann(s, 0, 1, EVENT_STARTED);
    ann(s, 0, 2, EVENT_STARTED);
    struct store_announce_out o = ann(s, 0, 3, EVENT_STARTED);
    CHECK_EQ_INT(o.refused, STORE_FULL_PEERS);
    CHECK_EQ_INT(o.counts.leechers, 2); /* the torrent's counts, unchanged */
    CHECK_EQ_INT(o.n4, 0);
    /* Known peers keep announcing, completing, getting each other. */
    o = ann(s, 0, 1, EVENT_COMPLETED);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.counts.completed, 1);
    CHECK_EQ_INT(o.n4, 1);
    /* Other torrents are not affected. */
    CHECK_EQ_INT(ann(s, 1, 3, EVENT_STARTED).refused, STORE_OK);
    /* Expiry makes room: at now + 101 the two peers of torrent 0 have timed out. */
    store_expire_step(s, 1000 + 101, 1u << 4);
    CHECK_EQ_INT(store_torrents(s), 0); /* torrent_keep 0: freed once empty */
    CHECK_EQ_INT(ann_full(s, 0, 3, EVENT_STARTED, 1102, 0).refused, STORE_OK);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(memory_budget)
{
    /* Learn the empty store's fixed cost, then allow a little over 64 KiB more. */
    store_t *probe = mk(0, 0, 0);
    uint64_t base = store_memory(probe);
    store_free(probe);
    uint64_t budget = base + 64 * 1024;
    store_t *s = mk(0, 0, budget);
    CHECK_EQ_INT(store_memory(s), base);

    unsigned n = 0;
    struct store_announce_out o;
    for (;; n++) {
        o = ann(s, n, 1, EVENT_STARTED);
        if (o.refused)
            break;
        CHECK(n < 100000);
        if (n >= 100000)
            break;
    }
    CHECK_EQ_INT(o.refused, STORE_FULL_MEMORY);
    CHECK(n > 100);
    uint64_t at_refusal = store_memory(s);
    CHECK(at_refusal >= budget - budget / 16);
    CHECK(at_refusal < budget + 64 * 1024); /* one table growth at most over */
    /* Existing torrents may still grow into the last sixteenth. */
    o = ann(s, 0, 2, EVENT_STARTED);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.counts.leechers, 2);
    /* ... until the whole budget is used; then new peers are refused too. */
    unsigned p = 3;
    for (; p < 200000; p++) {
        o = ann(s, p % 500, p, EVENT_STARTED);
        if (o.refused)
            break;
    }
    CHECK_EQ_INT(o.refused, STORE_FULL_MEMORY);
    CHECK(store_memory(s) >= budget);
    /* Known peers keep refreshing. */
    CHECK_EQ_INT(ann(s, 0, 1, EVENT_NONE).refused, STORE_OK);
    CHECK(fixture_consistent(s));
    /* Expiry returns the memory, and the accounting follows. */
    store_expire_step(s, 1000 + 101, 1u << 4);
    CHECK_EQ_INT(store_torrents(s), 0);
    CHECK(store_memory(s) < at_refusal);
    CHECK_EQ_INT(ann_full(s, 123456, 1, EVENT_STARTED, 1102, 0).refused, STORE_OK);
    CHECK(fixture_consistent(s));
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.bytes, store_memory(s));
    store_free(s);
}

TEST(min_age_throttles_regular_announces)
{
    store_t *s = mk(0, 0, 0);
    ann_full(s, 0, 1, EVENT_STARTED, 1000, 30);
    ann_full(s, 0, 2, EVENT_STARTED, 1000, 30);
    struct store_announce_out o = ann_full(s, 0, 2, EVENT_NONE, 1010, 30);
    CHECK(o.throttled);
    CHECK_EQ_INT(o.n4, 0);
    CHECK_EQ_INT(o.counts.leechers, 2);
    /* Not refreshed: 30 s after the accepted announce it passes. */
    o = ann_full(s, 0, 2, EVENT_NONE, 1030, 30);
    CHECK(!o.throttled);
    CHECK_EQ_INT(o.n4, 1);
    /* Events always pass; enforcement off passes. */
    CHECK(!ann_full(s, 0, 2, EVENT_COMPLETED, 1031, 30).throttled);
    CHECK(!ann_full(s, 0, 2, EVENT_NONE, 1032, 0).throttled);
    o = ann_full(s, 0, 2, EVENT_STOPPED, 1033, 30);
    CHECK(!o.throttled);
    CHECK_EQ_INT(o.counts.leechers, 1);
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* A state-file import goes round store_announce; the running totals must follow it. */
TEST(import_keeps_totals)
{
    store_t *s = mk(0, 0, 0);
    uint8_t rec[2 * SNAP_PEER4_SIZE] = {10, 0, 0, 1, 0x1a, 0xe1, 5, 0,
                                        10, 0, 0, 2, 0x1a, 0xe1, 5, 0x80};
    struct snap_torrent st = {.completed = 3, .idle = 5, .n4 = 2, .peers4 = rec};
    hash_of(st.info_hash, 42);
    uint64_t before = store_memory(s), peers = 0;
    CHECK(store_import_torrent(s, &st, 1000, 0, &peers));
    CHECK_EQ_INT(peers, 2);
    CHECK_EQ_INT(store_torrents(s), 1);
    CHECK(store_memory(s) > before);
    CHECK(fixture_consistent(s));
    struct store_stats stats;
    store_get_stats(s, &stats);
    CHECK_EQ_INT(stats.bytes, store_memory(s));
    store_free(s);
}

int main(void)
{
    RUN(max_torrents);
    RUN(max_peers);
    RUN(memory_budget);
    RUN(min_age_throttles_regular_announces);
    RUN(import_keeps_totals);
    return CHECK_DONE();
}
