/* test_store_evict.c - unit tests of eviction at a cap (store_config.evict): a new torrent
 * past max_torrents or the memory budget evicts, from the torrents near its home slot (or,
 * with none there, in the next shards), the most expendable one (no peer, then a lone leecher, then a lone seeder; oldest first) and
 * is admitted; swarms of two or more peers are never evicted; with nothing expendable nearby
 * the newcomer is refused as without eviction. store_check holds throughout. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "store_fixture.h"
#include "store/shard.h"
#include "store/store.h"

static uint64_t rng_state = 7;
static uint8_t out4[200 * 6], out6[200 * 18];

static store_t *mk(uint64_t max_torrents, uint64_t max_bytes, bool evict)
{
    struct store_config cfg = fixture_config(3000, 86400, 1);
    cfg.max_torrents = max_torrents;
    cfg.max_bytes = max_bytes;
    cfg.evict = evict;
    return store_new(&cfg);
}

/* The n-th info-hash (n >= 0) that lands in shard 0 of s, so that a handful of torrents
 * all sit in one shard and every eviction scan sees all of them. */
static void hash_in_shard0(store_t *s, unsigned n, uint8_t h[20])
{
    uint64_t hv;
    for (uint32_t i = 0;; i++) {
        fixture_hash(h, i, 0x5a);
        if (store_shard_of(s, h, &hv) == 0 && n-- == 0)
            return;
    }
}

/* Peer n of the tests: 10.x.y.z, port 6881. */
static struct peer_addr v4(uint32_t n)
{
    return fixture_v4(0x0a000000u | n, 6881);
}

static struct store_announce_out ann(store_t *s, const uint8_t *hash, struct peer_addr p,
                                     bool seeder, enum announce_event ev, uint32_t now)
{
    struct store_announce_in in = {
        .info_hash = hash,
        .peer = p,
        .seeder = seeder,
        .event = ev,
        .now = now,
        .numwant = 50,
        .both_families = true,
        .out4 = out4,
        .out6 = out6,
        .rng = &rng_state,
    };
    struct store_announce_out o;
    CHECK(store_announce(s, &in, &o));
    return o;
}

static bool known(store_t *s, const uint8_t *h)
{
    struct swarm_counts c;
    return store_scrape(s, h, &c);
}

/* Victim order within a shard: the empty torrent first (even the newest), then lone
 * leechers oldest first, then lone seeders; a two-peer swarm never. */
TEST(victim_order)
{
    store_t *s = mk(6, 0, true);
    uint8_t seed1[20], leech_old[20], leech_new[20], pair[20], empty[20], fresh[5][20];
    hash_in_shard0(s, 0, seed1);
    hash_in_shard0(s, 1, leech_old);
    hash_in_shard0(s, 2, leech_new);
    hash_in_shard0(s, 3, pair);
    hash_in_shard0(s, 4, empty);
    for (unsigned i = 0; i < 5; i++)
        hash_in_shard0(s, 5 + i, fresh[i]);

    ann(s, pair, v4(1), true, EVENT_STARTED, 50);
    ann(s, pair, v4(2), false, EVENT_STARTED, 50);
    ann(s, seed1, v4(3), true, EVENT_STARTED, 100);
    ann(s, leech_old, v4(4), false, EVENT_STARTED, 200);
    ann(s, leech_new, v4(5), false, EVENT_STARTED, 300);
    /* A completed download, then the peer left: kept (torrent_keep) for its count only. */
    ann(s, empty, v4(6), false, EVENT_COMPLETED, 400);
    ann(s, empty, v4(6), false, EVENT_STOPPED, 400);
    CHECK(known(s, empty));
    CHECK_EQ_INT(store_torrents(s), 5);
    CHECK_EQ_INT(ann(s, fresh[0], v4(7), false, EVENT_STARTED, 500).evicted, STORE_OK);
    CHECK_EQ_INT(store_torrents(s), 6); /* at the cap now */

    struct store_announce_out o = ann(s, fresh[1], v4(8), false, EVENT_STARTED, 1000);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.evicted, STORE_FULL_TORRENTS);
    CHECK_EQ_INT(o.counts.leechers, 1);
    CHECK(!known(s, empty));
    CHECK_EQ_INT(store_torrents(s), 6);

    ann(s, fresh[2], v4(9), false, EVENT_STARTED, 1001);
    CHECK(!known(s, leech_old));
    CHECK(known(s, leech_new));
    ann(s, fresh[3], v4(10), false, EVENT_STARTED, 1002);
    CHECK(!known(s, leech_new));
    /* Left: pair, seed1 (lone seeder, t=100), fresh[0] (500), fresh[1..3] (lone leechers,
     * newer): the oldest lone leecher goes before the older lone seeder. */
    ann(s, fresh[4], v4(11), false, EVENT_STARTED, 1003);
    CHECK(!known(s, fresh[0]));
    CHECK(known(s, seed1));
    CHECK(known(s, pair));
    struct swarm_counts c;
    CHECK(store_scrape(s, pair, &c));
    CHECK_EQ_INT(c.seeders + c.leechers, 2);
    CHECK_EQ_INT(store_torrents(s), 6);
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* Nothing expendable in any shard: refused exactly as without eviction, and a stopped
 * announce for an unknown torrent evicts nothing. */
TEST(refused_when_all_swarms_have_peers)
{
    store_t *s = mk(3, 0, true);
    uint8_t h[4][20];
    for (unsigned i = 0; i < 4; i++)
        hash_in_shard0(s, i, h[i]);
    for (unsigned i = 0; i < 3; i++) {
        ann(s, h[i], v4(100 + i), true, EVENT_STARTED, 10);
        ann(s, h[i], v4(200 + i), false, EVENT_STARTED, 10);
    }
    CHECK_EQ_INT(ann(s, h[3], v4(1), false, EVENT_STOPPED, 20).evicted, STORE_OK);
    struct store_announce_out o = ann(s, h[3], v4(1), false, EVENT_STARTED, 20);
    CHECK_EQ_INT(o.refused, STORE_FULL_TORRENTS);
    CHECK_EQ_INT(o.evicted, STORE_OK);
    CHECK_EQ_INT(store_torrents(s), 3);
    /* One swarm shrinks to a lone peer: now it can make room. */
    ann(s, h[0], v4(200), false, EVENT_STOPPED, 30);
    o = ann(s, h[3], v4(1), false, EVENT_STARTED, 40);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.evicted, STORE_FULL_TORRENTS);
    CHECK(!known(s, h[0]));
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* A torrent with a WebSocket peer is never evicted, even as its only peer: the WebSocket
 * thread owns those counts. */
TEST(websocket_swarms_are_kept)
{
    store_t *s = mk(2, 0, true);
    uint8_t ws[20], lone[20], h3[20], h4[20];
    hash_in_shard0(s, 0, ws);
    hash_in_shard0(s, 1, lone);
    hash_in_shard0(s, 2, h3);
    hash_in_shard0(s, 3, h4);
    struct store_ws_in wi = {.info_hash = ws, .leechers = 1, .now = 10};
    enum store_refusal r;
    CHECK(store_ws_update(s, &wi, &r));
    CHECK_EQ_INT(r, STORE_OK);
    ann(s, lone, v4(1), false, EVENT_STARTED, 20);
    /* The lone HTTP leecher goes, newer though it is; then nothing is left to evict. */
    CHECK_EQ_INT(ann(s, h3, v4(2), false, EVENT_STARTED, 30).evicted, STORE_FULL_TORRENTS);
    CHECK(!known(s, lone));
    CHECK(known(s, ws));
    struct store_announce_out o = ann(s, h4, v4(3), false, EVENT_STARTED, 40);
    CHECK_EQ_INT(o.evicted, STORE_FULL_TORRENTS); /* h3, a lone leecher too */
    CHECK(known(s, ws));
    CHECK(!known(s, h3));
    /* Make h4 a pair: now only the WebSocket swarm is small, and it is not evictable. */
    ann(s, h4, v4(4), false, EVENT_STARTED, 50);
    o = ann(s, h3, v4(5), false, EVENT_STARTED, 60);
    CHECK_EQ_INT(o.refused, STORE_FULL_TORRENTS);
    CHECK(known(s, ws));
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* The newcomer's own shard holds only a two-peer swarm: the next shard gives the victim. */
TEST(victim_from_next_shard)
{
    store_t *s = mk(2, 0, true);
    uint8_t pair[20], junk[20], newcomer[20];
    uint64_t hv;
    hash_in_shard0(s, 0, junk);
    /* Two hashes of shard 1 (the only other shard): 0x5a.. patterns not in shard 0. */
    unsigned found = 0;
    for (uint32_t i = 0; found < 2; i++) {
        uint8_t h[20];
        memset(h, 0x5a, 20);
        memcpy(h, &i, sizeof i);
        if (store_shard_of(s, h, &hv) == 1)
            memcpy(found++ ? newcomer : pair, h, 20);
    }
    ann(s, pair, v4(1), true, EVENT_STARTED, 10);
    ann(s, pair, v4(2), false, EVENT_STARTED, 10);
    ann(s, junk, v4(3), false, EVENT_STARTED, 10);
    struct store_announce_out o = ann(s, newcomer, v4(4), false, EVENT_STARTED, 20);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.evicted, STORE_FULL_TORRENTS);
    CHECK(!known(s, junk));
    CHECK(known(s, pair));
    CHECK(known(s, newcomer));
    CHECK_EQ_INT(store_torrents(s), 2);
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* The flood case: random info-hashes fill the torrent cap, a real swarm keeps running, and
 * newcomers keep being admitted at the cap by evicting junk, never the real swarm. */
TEST(flood_then_newcomers)
{
    store_t *s = mk(1000, 0, true);
    uint8_t real[20], h[20];
    memset(real, 0xee, 20);
    ann(s, real, v4(1), true, EVENT_STARTED, 100);
    ann(s, real, v4(2), false, EVENT_STARTED, 100);
    unsigned refused = 0, evicted = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        memset(h, 0, 20);
        memcpy(h, &i, sizeof i);
        h[19] = 0x77;
        struct store_announce_out o = ann(s, h, v4(1000 + i), false, EVENT_STARTED, 200 + i / 10);
        refused += o.refused != STORE_OK;
        evicted += o.evicted == STORE_FULL_TORRENTS;
    }
    CHECK_EQ_INT(refused, 0);
    CHECK_EQ_INT(evicted, 20000 + 1 - 1000);
    CHECK_EQ_INT(store_torrents(s), 1000);
    struct swarm_counts c;
    CHECK(store_scrape(s, real, &c));
    CHECK_EQ_INT(c.seeders, 1);
    CHECK_EQ_INT(c.leechers, 1);
    /* A real newcomer after the flood is admitted. */
    uint8_t newcomer[20];
    memset(newcomer, 0xab, 20);
    struct store_announce_out o = ann(s, newcomer, v4(5), true, EVENT_STARTED, 3000);
    CHECK_EQ_INT(o.refused, STORE_OK);
    CHECK_EQ_INT(o.counts.seeders, 1);
    CHECK(known(s, newcomer));
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* At the memory budget too; evicting a torrent with a peer block (an IPv6 peer) gives its
 * bytes back, and the running totals follow. With evict off the same store refuses. */
TEST(memory_budget)
{
    store_t *probe = mk(0, 0, false);
    uint64_t base = store_memory(probe);
    store_free(probe);
    uint64_t budget = base + 64 * 1024;
    store_t *s = mk(0, budget, true), *off = mk(0, budget, false);
    uint8_t h[20];
    unsigned evicted = 0, refused_off = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        memset(h, 0x11, 20);
        memcpy(h, &i, sizeof i);
        struct peer_addr p = v4(i);
        if (i % 3 == 0) { /* some IPv6 lone peers: those hold a heap block */
            p.family = ADDR_V6;
            memset(p.ip, 0, 16);
            p.ip[0] = 0x20;
            p.ip[1] = 0x01;
            memcpy(p.ip + 12, &i, sizeof i);
        }
        struct store_announce_out o = ann(s, h, p, false, EVENT_STARTED, 10 + i);
        CHECK_EQ_INT(o.refused, STORE_OK);
        evicted += o.evicted == STORE_FULL_MEMORY;
        refused_off += ann(off, h, p, false, EVENT_STARTED, 10 + i).refused == STORE_FULL_MEMORY;
    }
    CHECK(evicted > 10000);
    CHECK(refused_off > 10000);
    CHECK(store_memory(s) < budget + 16 * 1024); /* a table growth per shard at most over */
    CHECK(fixture_consistent(s));
    CHECK(fixture_consistent(off));
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.bytes, store_memory(s));
    CHECK_EQ_INT(st.torrents, store_torrents(s));
    store_free(s);
    store_free(off);
}

/* Bytes charged from outside (the full-scrape cache) count against the same budget. */
TEST(external_charge_counts)
{
    store_t *probe = mk(0, 0, false);
    uint64_t base = store_memory(probe);
    store_free(probe);
    store_t *s = mk(0, base + 64 * 1024, false);
    uint8_t h[20];
    memset(h, 1, 20);
    CHECK_EQ_INT(ann(s, h, v4(1), false, EVENT_STARTED, 10).refused, STORE_OK);
    store_charge_external(s, 64 * 1024);
    CHECK_EQ_INT(store_budget_used(s), store_memory(s) + 64 * 1024);
    h[0] = 2;
    CHECK_EQ_INT(ann(s, h, v4(1), false, EVENT_STARTED, 10).refused, STORE_FULL_MEMORY);
    h[0] = 1;
    CHECK_EQ_INT(ann(s, h, v4(2), false, EVENT_STARTED, 10).refused, STORE_FULL_MEMORY);
    store_charge_external(s, -64 * 1024);
    CHECK_EQ_INT(store_budget_used(s), store_memory(s));
    h[0] = 2;
    CHECK_EQ_INT(ann(s, h, v4(1), false, EVENT_STARTED, 10).refused, STORE_OK);
    CHECK(fixture_consistent(s));
    store_free(s);
}

int main(void)
{
    RUN(victim_order);
    RUN(refused_when_all_swarms_have_peers);
    RUN(victim_from_next_shard);
    RUN(websocket_swarms_are_kept);
    RUN(flood_then_newcomers);
    RUN(memory_budget);
    RUN(external_charge_counts);
    return CHECK_DONE();
}
