/* test_cluster_store.c - the store's side of cluster mode: the publish decision on local
 * announces (store_announce_out.publish) and store_apply_remote (src/store/remote.c).
 * Time is passed explicitly; store_check runs after every step. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "store_fixture.h"
#include "store/remote.h"
#include "store/store.h"

static uint64_t rng_state = 99;

static store_t *mk(uint64_t max_torrents, uint32_t max_peers)
{
    struct store_config cfg = fixture_config(100, 1000, 2);
    cfg.max_torrents = max_torrents;
    cfg.max_peers = max_peers;
    return store_new(&cfg);
}

static void hash_of(uint8_t h[20], unsigned i)
{
    fixture_hash(h, i, 0x5c);
}

/* 10.0.0.last and 2001::last */
static struct peer_addr v4(uint8_t last, uint16_t port)
{
    return fixture_v4(0x0a000000u | last, port);
}

static struct peer_addr v6(uint8_t last, uint16_t port)
{
    return fixture_v6(last, port);
}

/* One local announce; returns out (publish etc.). */
static struct store_announce_out ann(store_t *s, unsigned h, struct peer_addr p, bool seeder,
                                     enum announce_event ev, uint32_t now, uint32_t renew,
                                     uint32_t min_age)
{
    uint8_t hash[20], o4[50 * 6], o6[50 * 18];
    hash_of(hash, h);
    struct store_announce_in in = {
        .info_hash = hash, .peer = p, .seeder = seeder, .event = ev, .now = now,
        .numwant = 50, .both_families = true, .out4 = o4, .out6 = o6, .rng = &rng_state,
        .min_age = min_age, .publish_renew = renew,
    };
    struct store_announce_out out;
    CHECK(store_announce(s, &in, &out));
    return out;
}

static struct store_remote_rec rec(unsigned h, struct peer_addr p, bool stop, bool seeder,
                                   bool completed)
{
    struct store_remote_rec r;
    memset(&r, 0, sizeof r);
    hash_of(r.info_hash, h);
    r.peer = p;
    r.stop = stop;
    r.seeder = seeder;
    r.completed = completed;
    return r;
}

static struct swarm_counts counts(store_t *s, unsigned h)
{
    uint8_t hash[20];
    struct swarm_counts c;
    hash_of(hash, h);
    store_scrape(s, hash, &c);
    return c;
}

TEST(publish_decision)
{
    store_t *s = mk(0, 0);
    struct peer_addr p = v4(1, 1000);
    /* Standalone (renew 0): never asked, never set. */
    CHECK(!ann(s, 1, p, false, EVENT_STARTED, 10, 0, 0).publish);
    CHECK(!ann(s, 1, v4(2, 1000), false, EVENT_STARTED, 10, 0, 0).publish);

    /* New to this node. */
    CHECK(ann(s, 2, p, false, EVENT_STARTED, 10, 60, 0).publish);
    /* Known, nothing changed, previous announce 30 s ago < renew 60: quiet. */
    CHECK(!ann(s, 2, p, false, EVENT_NONE, 40, 60, 0).publish);
    /* ... and 60 s after that one: renewed. */
    CHECK(ann(s, 2, p, false, EVENT_NONE, 100, 60, 0).publish);
    /* Seeding changed (completed counted): published with the completed flag. */
    struct store_announce_out o = ann(s, 2, p, true, EVENT_COMPLETED, 101, 60, 0);
    CHECK(o.publish && o.completed_counted);
    /* A seeder repeating completed is not counted again, and nothing changed. */
    o = ann(s, 2, p, true, EVENT_COMPLETED, 102, 60, 0);
    CHECK(!o.publish && !o.completed_counted);
    /* Back to leeching: a change. */
    CHECK(ann(s, 2, p, false, EVENT_NONE, 103, 60, 0).publish);
    /* Stopped: published when the peer was there, not for an absent one. */
    CHECK(ann(s, 2, p, false, EVENT_STOPPED, 104, 60, 0).publish);
    CHECK(!ann(s, 2, p, false, EVENT_STOPPED, 105, 60, 0).publish);
    /* IPv6 the same way. */
    CHECK(ann(s, 2, v6(1, 5), false, EVENT_STARTED, 106, 60, 0).publish);
    CHECK(!ann(s, 2, v6(1, 5), false, EVENT_NONE, 107, 60, 0).publish);
    /* Throttled (min_age) announces are never published. */
    o = ann(s, 2, v6(1, 5), true, EVENT_NONE, 108, 1, 30);
    CHECK(o.throttled && !o.publish);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(refused_never_published)
{
    store_t *s = mk(1, 1);
    CHECK(ann(s, 1, v4(1, 1), false, EVENT_STARTED, 10, 60, 0).publish);
    struct store_announce_out o = ann(s, 2, v4(1, 1), false, EVENT_STARTED, 10, 60, 0);
    CHECK(o.refused == STORE_FULL_TORRENTS && !o.publish);
    o = ann(s, 1, v4(2, 1), false, EVENT_STARTED, 10, 60, 0);
    CHECK(o.refused == STORE_FULL_PEERS && !o.publish);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(apply_remote_upsert_stop_completed)
{
    store_t *s = mk(0, 0);
    struct store_remote_rec r[6] = {
        rec(1, v4(1, 1), false, false, false), rec(1, v6(2, 2), false, true, true),
        rec(2, v4(3, 3), false, true, false),  rec(1, v4(1, 1), false, true, true),
        rec(3, v4(9, 9), true, false, false),  /* stop of an unknown torrent: nothing */
        rec(2, v4(3, 3), true, false, false),
    };
    uint8_t res[6];
    CHECK_EQ_INT(store_apply_remote(s, r, 6, 50, res), 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(res[i], STORE_REMOTE_APPLIED);
    struct swarm_counts c = counts(s, 1);
    CHECK_EQ_INT(c.seeders, 2);
    CHECK_EQ_INT(c.leechers, 0);
    CHECK_EQ_INT(c.completed, 2); /* one per completed-event record */
    CHECK(!store_scrape(s, (uint8_t[20]){0}, &c));
    c = counts(s, 2); /* torrent 2 lost its only peer and never completed: freed */
    CHECK_EQ_INT(c.seeders + c.leechers, 0);
    uint8_t h2[20], h3[20];
    hash_of(h2, 2);
    hash_of(h3, 3);
    CHECK(!store_scrape(s, h2, &c));
    CHECK(!store_scrape(s, h3, &c));
    CHECK(fixture_consistent(s));

    /* Remote peers are returned to local announcers, and a local announce of a peer known
     * from the bus is no "new peer" (it is a refresh). */
    uint8_t hash[20], o4[50 * 6], o6[50 * 18];
    hash_of(hash, 1);
    struct store_announce_in in = {
        .info_hash = hash, .peer = v4(7, 7), .numwant = 50, .both_families = true,
        .out4 = o4, .out6 = o6, .rng = &rng_state, .now = 51, .publish_renew = 60,
    };
    struct store_announce_out out;
    CHECK(store_announce(s, &in, &out));
    CHECK_EQ_INT(out.n4, 1);
    CHECK_EQ_INT(out.n6, 1);
    CHECK(out.publish);
    CHECK(!ann(s, 1, v4(1, 1), true, EVENT_NONE, 52, 60, 0).publish);

    /* Remote peers expire by the same timeout as local ones. */
    store_expire_step(s, 50 + 101, 1u << 2);
    c = counts(s, 1);
    CHECK_EQ_INT(c.seeders + c.leechers, 2); /* the two refreshed at 51 and 52 */
    store_expire_step(s, 52 + 101, 1u << 2);
    c = counts(s, 1);
    CHECK_EQ_INT(c.seeders + c.leechers, 0);
    CHECK_EQ_INT(c.completed, 2);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(apply_remote_caps)
{
    store_t *s = mk(2, 2);
    struct store_remote_rec r[5] = {
        rec(1, v4(1, 1), false, false, false), rec(1, v4(2, 1), false, false, false),
        rec(1, v4(3, 1), false, false, false), /* third peer: max_peers 2 */
        rec(2, v4(1, 1), false, false, false),
        rec(3, v4(1, 1), false, false, false), /* third torrent: max_torrents 2 */
    };
    uint8_t res[5];
    /* The torrent total the cap reads is published when a shard is unlocked (remote.c), so
     * a batch may overshoot max_torrents by the torrents it creates in one shard; the third
     * torrent therefore comes in a second batch, as it would on the wire. */
    CHECK_EQ_INT(store_apply_remote(s, r, 4, 10, res), 3);
    CHECK_EQ_INT(res[2], STORE_REMOTE_CAP);
    CHECK_EQ_INT(res[3], STORE_REMOTE_APPLIED);
    CHECK_EQ_INT(store_apply_remote(s, r + 4, 1, 10, res + 4), 0);
    CHECK_EQ_INT(res[4], STORE_REMOTE_CAP);
    /* A known peer still refreshes under the caps. */
    struct store_remote_rec again = rec(1, v4(2, 1), false, true, false);
    CHECK_EQ_INT(store_apply_remote(s, &again, 1, 11, res), 1);
    CHECK_EQ_INT(counts(s, 1).seeders, 1);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(apply_remote_many_shards)
{
    /* Records spread over every shard, applied in one call, then removed in another. */
    store_t *s = mk(0, 0);
    static struct store_remote_rec r[2000];
    for (unsigned i = 0; i < 2000; i++)
        r[i] = rec(i % 300, (i & 1) ? v6((uint8_t)i, (uint16_t)(i + 1)) : v4((uint8_t)i,
                   (uint16_t)(i + 1)), false, i % 3 == 0, false);
    CHECK_EQ_INT(store_apply_remote(s, r, 2000, 5, NULL), 2000);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 300);
    CHECK_EQ_INT(st.peers4 + st.peers6, 2000);
    CHECK(fixture_consistent(s));
    for (unsigned i = 0; i < 2000; i++)
        r[i].stop = true;
    CHECK_EQ_INT(store_apply_remote(s, r, 2000, 6, NULL), 2000);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK_EQ_INT(store_memory(s) > 0, 1);
    CHECK(fixture_consistent(s));
    store_free(s);
}

int main(void)
{
    RUN(publish_decision);
    RUN(refused_never_published);
    RUN(apply_remote_upsert_stop_completed);
    RUN(apply_remote_caps);
    RUN(apply_remote_many_shards);
    return CHECK_DONE();
}
