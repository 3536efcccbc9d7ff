/* test_store.c - unit tests of the swarm table (src/store/): counts, events, peer choice,
 * both families, expiry and timestamp wrap-around, torrent freeing, many torrents, threads,
 * statistics. Time is passed explicitly: nothing sleeps. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_fixture.h"
#include "store/store.h"
#include "util/rng.h"

#define MAXWANT 512

struct reply {
    struct store_announce_out o;
    uint8_t p4[MAXWANT * 6];
    uint8_t p6[MAXWANT * 18];
};

static uint64_t rng_state = 12345;

static store_t *mk(uint32_t timeout, uint32_t keep, unsigned log2)
{
    struct store_config cfg = fixture_config(timeout, keep, log2);
    return store_new(&cfg);
}

static void hash_of(uint8_t h[20], unsigned i)
{
    fixture_hash(h, i, 0xab);
}

static struct peer_addr v4(uint32_t ip, uint16_t port)
{
    return fixture_v4(ip, port);
}

static struct peer_addr v6(uint32_t n, uint16_t port)
{
    return fixture_v6(n, port);
}


static bool ann(store_t *s, const uint8_t *hash, struct peer_addr p, bool seeder,
                enum announce_event ev, uint32_t now, unsigned numwant, bool both, struct reply *r)
{
    struct store_announce_in in = {
        .info_hash = hash,
        .peer = p,
        .seeder = seeder,
        .event = ev,
        .now = now,
        .numwant = numwant,
        .both_families = both,
        .out4 = r->p4,
        .out6 = r->p6,
        .rng = &rng_state,
    };
    return store_announce(s, &in, &r->o);
}

static void expire_all(store_t *s, uint32_t now)
{
    store_expire_step(s, now, ~0u);
}

/* Packed entries equal to a peer's compact form. */
static bool packed_is(const uint8_t *e, const struct peer_addr *a)
{
    size_t n = a->family == ADDR_V4 ? 4 : 16;
    return memcmp(e, a->ip, n) == 0 && e[n] == (uint8_t)(a->port >> 8) &&
           e[n + 1] == (uint8_t)a->port;
}

static bool has_dups(const uint8_t *p, unsigned n, size_t rs)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (memcmp(p + i * rs, p + j * rs, rs) == 0)
                return true;
    return false;
}

TEST(counts_and_events)
{
    store_t *s = mk(100, 1000, 2);
    uint8_t h[20];
    struct reply r;
    struct swarm_counts c;
    hash_of(h, 1);
    struct peer_addr a = v4(0x0a000001, 6881), b = v4(0x0a000002, 6881), c3 = v4(0x0a000003, 6881),
                     d = v4(0x0a000004, 6881);

    CHECK(ann(s, h, a, false, EVENT_STARTED, 10, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.leechers, 1);
    CHECK_EQ_INT(r.o.counts.seeders, 0);
    CHECK_EQ_INT(r.o.n4, 0);
    CHECK(ann(s, h, a, false, EVENT_NONE, 11, 50, false, &r)); /* refresh */
    CHECK_EQ_INT(r.o.counts.leechers, 1);
    CHECK(ann(s, h, b, true, EVENT_STARTED, 12, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 1);
    CHECK_EQ_INT(r.o.counts.leechers, 1);
    CHECK_EQ_INT(r.o.n4, 1);
    /* a finishes without saying completed: leecher -> seeder, completed unchanged */
    CHECK(ann(s, h, a, true, EVENT_NONE, 13, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 2);
    CHECK_EQ_INT(r.o.counts.leechers, 0);
    CHECK_EQ_INT(r.o.counts.completed, 0);
    /* a completed from a peer already seeding here does not count */
    CHECK(ann(s, h, a, true, EVENT_COMPLETED, 14, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.completed, 0);
    /* a leecher completing counts once, re-sending it does not */
    CHECK(ann(s, h, c3, false, EVENT_STARTED, 15, 50, false, &r));
    CHECK(ann(s, h, c3, true, EVENT_COMPLETED, 16, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.completed, 1);
    CHECK(ann(s, h, c3, true, EVENT_COMPLETED, 17, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.completed, 1);
    /* a new peer announcing completed with left=0 counts */
    CHECK(ann(s, h, d, true, EVENT_COMPLETED, 18, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.completed, 2);
    CHECK_EQ_INT(r.o.counts.seeders, 4);
    /* seeder back to leecher (a re-check) */
    CHECK(ann(s, h, d, false, EVENT_NONE, 19, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 3);
    CHECK_EQ_INT(r.o.counts.leechers, 1);
    /* stopped removes at once, gives no peers */
    CHECK(ann(s, h, b, true, EVENT_STOPPED, 20, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 2);
    CHECK_EQ_INT(r.o.n4 + r.o.n6, 0);
    /* stopped for an unknown peer changes nothing */
    CHECK(ann(s, h, b, true, EVENT_STOPPED, 21, 50, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 2);
    CHECK_EQ_INT(r.o.counts.leechers, 1);
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.seeders, 2);
    CHECK_EQ_INT(c.leechers, 1);
    CHECK_EQ_INT(c.completed, 2);
    /* stopped for an unknown torrent creates nothing */
    uint8_t h2[20];
    hash_of(h2, 2);
    CHECK(ann(s, h2, a, false, EVENT_STOPPED, 22, 50, false, &r));
    CHECK(!store_scrape(s, h2, &c));
    CHECK_EQ_INT(c.seeders + c.leechers + c.completed, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(stopped_frees_torrent)
{
    store_t *s = mk(100, 1000, 0);
    uint8_t h[20];
    struct reply r;
    struct swarm_counts c;
    hash_of(h, 7);
    CHECK(ann(s, h, v4(1, 1), false, EVENT_STARTED, 1, 5, false, &r));
    CHECK(ann(s, h, v6(1, 1), false, EVENT_STARTED, 1, 5, false, &r));
    CHECK(ann(s, h, v4(1, 1), false, EVENT_STOPPED, 2, 5, false, &r));
    CHECK(store_scrape(s, h, &c));
    CHECK(ann(s, h, v6(1, 1), false, EVENT_STOPPED, 2, 5, false, &r));
    CHECK(!store_scrape(s, h, &c)); /* empty and never completed: gone */
    /* with a completed count it stays, empty */
    CHECK(ann(s, h, v6(1, 1), true, EVENT_COMPLETED, 3, 5, false, &r));
    CHECK(ann(s, h, v6(1, 1), true, EVENT_STOPPED, 4, 5, false, &r));
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.completed, 1);
    CHECK_EQ_INT(c.seeders + c.leechers, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(never_self)
{
    store_t *s = mk(1000, 1000, 3);
    uint8_t h[20];
    struct reply r;
    hash_of(h, 3);
    CHECK(ann(s, h, v4(42, 42), false, EVENT_STARTED, 5, 50, true, &r));
    CHECK_EQ_INT(r.o.n4 + r.o.n6, 0); /* alone in its swarm */
    for (unsigned i = 0; i < 6; i++)
        CHECK(ann(s, h, v4(100 + i, 7000), i % 2, EVENT_NONE, 5, 50, false, &r));
    for (unsigned i = 0; i < 6; i++) {
        struct peer_addr me = v4(100 + i, 7000);
        for (int round = 0; round < 20; round++) {
            CHECK(ann(s, h, me, i % 2, EVENT_NONE, 6, 3 + (unsigned)round % 5, false, &r));
            for (unsigned k = 0; k < r.o.n4; k++)
                CHECK(!packed_is(r.p4 + 6 * k, &me));
            CHECK(!has_dups(r.p4, r.o.n4, 6));
        }
        CHECK(ann(s, h, me, i % 2, EVENT_NONE, 6, 50, false, &r));
        CHECK_EQ_INT(r.o.n4, 6); /* everyone else: 5 + the first peer */
    }
    /* same address, other port: another peer, and given out */
    struct peer_addr other_port = v4(100, 7001);
    CHECK(ann(s, h, other_port, false, EVENT_NONE, 7, 50, false, &r));
    CHECK_EQ_INT(r.o.n4, 7);
    bool seen = false;
    for (unsigned k = 0; k < r.o.n4; k++)
        seen |= packed_is(r.p4 + 6 * k, &(struct peer_addr){ADDR_V4, {0, 0, 0, 100}, 7000});
    CHECK(seen);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(seeder_gets_leechers_first)
{
    store_t *s = mk(1000, 1000, 1);
    uint8_t h[20];
    struct reply r;
    hash_of(h, 4);
    /* 30 seeders, 5 leechers */
    for (unsigned i = 0; i < 35; i++)
        CHECK(ann(s, h, v4(0x0b000000 + i, 1000), i >= 5, EVENT_NONE, 9, 0, false, &r));
    CHECK_EQ_INT(r.o.counts.seeders, 30);
    CHECK_EQ_INT(r.o.counts.leechers, 5);
    struct peer_addr me = v4(0x0b000000 + 20, 1000);
    for (int round = 0; round < 50; round++) {
        CHECK(ann(s, h, me, true, EVENT_NONE, 10, 10, false, &r));
        CHECK_EQ_INT(r.o.n4, 10);
        unsigned leechers_seen = 0;
        for (unsigned k = 0; k < r.o.n4; k++) {
            uint8_t last = r.p4[6 * k + 3];
            if (last < 5) {
                CHECK(k < 5); /* leechers come first */
                leechers_seen++;
            }
            CHECK(last != 20);
        }
        CHECK_EQ_INT(leechers_seen, 5);
        CHECK(ann(s, h, me, true, EVENT_NONE, 10, 3, false, &r));
        CHECK_EQ_INT(r.o.n4, 3);
        for (unsigned k = 0; k < r.o.n4; k++)
            CHECK(r.p4[6 * k + 3] < 5);
    }
    /* a leecher gets a mix: over many replies it sees seeders as well as leechers */
    unsigned seeders_seen = 0, leechers_seen = 0;
    struct peer_addr lee = v4(0x0b000000 + 2, 1000);
    for (int round = 0; round < 50; round++) {
        CHECK(ann(s, h, lee, false, EVENT_NONE, 11, 5, false, &r));
        CHECK_EQ_INT(r.o.n4, 5);
        for (unsigned k = 0; k < r.o.n4; k++) {
            if (r.p4[6 * k + 3] < 5)
                leechers_seen++;
            else
                seeders_seen++;
        }
    }
    CHECK(seeders_seen > 0);
    CHECK(leechers_seen > 0);
    store_free(s);
}

TEST(both_families)
{
    store_t *s = mk(1000, 1000, 2);
    uint8_t h[20];
    struct reply r;
    hash_of(h, 5);
    for (unsigned i = 0; i < 5; i++) {
        CHECK(ann(s, h, v4(0x0c000000 + i, 80), false, EVENT_NONE, 3, 0, true, &r));
        CHECK(ann(s, h, v6(i, 443), false, EVENT_NONE, 3, 0, true, &r));
    }
    CHECK_EQ_INT(r.o.counts.leechers, 10);
    struct peer_addr me4 = v4(0x0c000000, 80), me6 = v6(0, 443);

    CHECK(ann(s, h, me4, false, EVENT_NONE, 4, 8, true, &r));
    CHECK_EQ_INT(r.o.n4, 4); /* own family first, all but itself */
    CHECK_EQ_INT(r.o.n6, 4); /* the rest from the other family */
    for (unsigned k = 0; k < r.o.n6; k++) {
        CHECK(r.p6[18 * k] == 0x20 && r.p6[18 * k + 1] == 0x01);
        CHECK(r.p6[18 * k + 16] == 443 >> 8 && r.p6[18 * k + 17] == (443 & 0xff));
    }
    CHECK(!has_dups(r.p6, r.o.n6, 18));
    CHECK(ann(s, h, me4, false, EVENT_NONE, 4, 3, true, &r));
    CHECK_EQ_INT(r.o.n4, 3);
    CHECK_EQ_INT(r.o.n6, 0);
    CHECK(ann(s, h, me4, false, EVENT_NONE, 4, 50, false, &r));
    CHECK_EQ_INT(r.o.n4, 4);
    CHECK_EQ_INT(r.o.n6, 0);
    CHECK(ann(s, h, me6, false, EVENT_NONE, 4, 50, true, &r));
    CHECK_EQ_INT(r.o.n6, 4);
    CHECK_EQ_INT(r.o.n4, 5);
    for (unsigned k = 0; k < r.o.n6; k++)
        CHECK(!packed_is(r.p6 + 18 * k, &me6));
    CHECK(ann(s, h, me6, false, EVENT_NONE, 4, 6, true, &r));
    CHECK_EQ_INT(r.o.n6, 4);
    CHECK_EQ_INT(r.o.n4, 2);
    /* the v4 entries are the stored addresses */
    for (unsigned k = 0; k < r.o.n4; k++) {
        CHECK(r.p4[6 * k] == 0x0c && r.p4[6 * k + 3] < 5);
        CHECK(r.p4[6 * k + 4] == 0 && r.p4[6 * k + 5] == 80);
    }
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(numwant_caps)
{
    store_t *s = mk(1000, 1000, 2);
    uint8_t h[20];
    struct reply r;
    hash_of(h, 6);
    for (unsigned i = 0; i < 100; i++)
        CHECK(ann(s, h, v4(0x0d000000 + i, 9), i % 3 == 0, EVENT_NONE, 3, 0, false, &r));
    struct peer_addr me = v4(0x0e000000, 9);
    unsigned wants[] = {0, 1, 7, 50, 99, 100, 101, 500};
    for (unsigned w = 0; w < sizeof wants / sizeof wants[0]; w++) {
        CHECK(ann(s, h, me, false, EVENT_NONE, 3, wants[w], true, &r));
        CHECK_EQ_INT(r.o.n4, wants[w] < 100 ? wants[w] : 100);
        CHECK_EQ_INT(r.o.n6, 0);
        CHECK(!has_dups(r.p4, r.o.n4, 6));
        CHECK(ann(s, h, me, true, EVENT_NONE, 3, wants[w], true, &r));
        CHECK_EQ_INT(r.o.n4, wants[w] < 100 ? wants[w] : 100);
        CHECK(!has_dups(r.p4, r.o.n4, 6));
    }
    store_free(s);
}

TEST(random_subset)
{
    store_t *s = mk(1000, 1000, 2);
    uint8_t h[20];
    struct reply r;
    hash_of(h, 8);
    for (unsigned i = 0; i < 101; i++)
        CHECK(ann(s, h, v4(0x0f000000 + i, 5), false, EVENT_NONE, 3, 0, false, &r));
    struct peer_addr me = v4(0x0f000000 + 100, 5);
    unsigned seen[100] = {0}, first_differs = 0;
    uint8_t first[60];
    for (int round = 0; round < 300; round++) {
        CHECK(ann(s, h, me, false, EVENT_NONE, 4, 10, false, &r));
        CHECK_EQ_INT(r.o.n4, 10);
        if (round == 0)
            memcpy(first, r.p4, sizeof first);
        else if (memcmp(first, r.p4, sizeof first) != 0)
            first_differs++;
        for (unsigned k = 0; k < r.o.n4; k++) {
            unsigned idx = r.p4[6 * k + 3];
            CHECK(idx < 100);
            if (idx < 100)
                seen[idx]++;
        }
    }
    unsigned never = 0, maxseen = 0;
    for (unsigned i = 0; i < 100; i++) {
        never += seen[i] == 0;
        if (seen[i] > maxseen)
            maxseen = seen[i];
    }
    CHECK_EQ_INT(never, 0);
    CHECK(maxseen < 90); /* expected 30 each: no peer favoured grossly */
    CHECK(first_differs > 250);
    /* same for a seeder choosing among seeders only */
    memset(seen, 0, sizeof seen);
    for (unsigned i = 0; i < 100; i++)
        CHECK(ann(s, h, v4(0x0f000000 + i, 5), true, EVENT_NONE, 5, 0, false, &r));
    for (int round = 0; round < 300; round++) {
        CHECK(ann(s, h, me, true, EVENT_NONE, 5, 10, false, &r));
        for (unsigned k = 0; k < r.o.n4; k++)
            seen[r.p4[6 * k + 3] % 100]++;
    }
    never = 0;
    for (unsigned i = 0; i < 100; i++)
        never += seen[i] == 0;
    CHECK_EQ_INT(never, 0);
    store_free(s);
}

TEST(expiry)
{
    store_t *s = mk(100, 0, 2);
    uint8_t h[20], h2[20];
    struct reply r;
    struct swarm_counts c;
    hash_of(h, 9);
    hash_of(h2, 10);
    CHECK(ann(s, h, v4(1, 1), false, EVENT_NONE, 1000, 0, false, &r));
    CHECK(ann(s, h, v6(2, 2), true, EVENT_NONE, 1000, 0, false, &r));
    CHECK(ann(s, h, v4(3, 3), true, EVENT_NONE, 1050, 0, false, &r));
    CHECK(ann(s, h2, v4(3, 3), false, EVENT_NONE, 1050, 0, false, &r));
    expire_all(s, 1100);
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.seeders, 2);
    CHECK_EQ_INT(c.leechers, 1);
    expire_all(s, 1101); /* 101 s old: gone */
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.seeders, 1);
    CHECK_EQ_INT(c.leechers, 0);
    CHECK(fixture_consistent(s));
    /* a refresh restarts the clock */
    CHECK(ann(s, h2, v4(3, 3), false, EVENT_NONE, 1140, 0, false, &r));
    expire_all(s, 1151);
    CHECK(!store_scrape(s, h, &c)); /* empty, never completed: freed */
    CHECK(store_scrape(s, h2, &c));
    CHECK_EQ_INT(c.leechers, 1);
    expire_all(s, 1241);
    CHECK(!store_scrape(s, h2, &c));
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK_EQ_INT(st.peers4 + st.peers6, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(expire_step_round_robin)
{
    store_t *s = mk(10, 0, 3); /* 8 shards */
    uint8_t h[20];
    struct reply r;
    struct store_stats st;
    for (unsigned i = 0; i < 200; i++) {
        hash_of(h, i);
        CHECK(ann(s, h, v4(i, 1), false, EVENT_NONE, 100, 0, false, &r));
    }
    /* 3 shards at a time: after 2 steps some remain, after 3 (9 >= 8 shards) none */
    CHECK_EQ_INT(store_expire_step(s, 200, 3), 8);
    store_expire_step(s, 200, 3);
    store_get_stats(s, &st);
    CHECK(st.torrents > 0 && st.torrents < 200);
    store_expire_step(s, 200, 3);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(keep_completed)
{
    store_t *s = mk(100, 500, 2);
    uint8_t h[20];
    struct reply r;
    struct swarm_counts c;
    hash_of(h, 11);
    CHECK(ann(s, h, v4(1, 1), true, EVENT_COMPLETED, 1000, 0, false, &r));
    CHECK(ann(s, h, v4(2, 1), false, EVENT_NONE, 1000, 0, false, &r));
    expire_all(s, 1200); /* peers gone, torrent kept for its completed count */
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.completed, 1);
    CHECK_EQ_INT(c.seeders + c.leechers, 0);
    expire_all(s, 1499);
    CHECK(store_scrape(s, h, &c));
    /* activity restarts the keep period */
    CHECK(ann(s, h, v4(5, 1), false, EVENT_NONE, 1450, 0, false, &r));
    expire_all(s, 1600);
    CHECK(store_scrape(s, h, &c));
    CHECK_EQ_INT(c.completed, 1);
    CHECK_EQ_INT(c.leechers, 0);
    expire_all(s, 1949);
    CHECK(store_scrape(s, h, &c));
    expire_all(s, 1950); /* 500 s after the last announce */
    CHECK(!store_scrape(s, h, &c));
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(timestamp_wraparound)
{
    /* stamps are now mod 32768: ages must come out right across the wrap, and with
     * timeouts up to the maximum */
    uint32_t starts[] = {32000, 32767, 32768, 65530, 100000, 4294960000u};
    for (unsigned i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        uint32_t t0 = starts[i];
        store_t *s = mk(STORE_MAX_PEER_TIMEOUT, 0, 1);
        uint8_t h[20];
        struct reply r;
        struct swarm_counts c;
        hash_of(h, 12);
        CHECK(ann(s, h, v4(1, 1), false, EVENT_NONE, t0, 0, false, &r));
        CHECK(ann(s, h, v4(2, 1), false, EVENT_NONE, t0, 0, false, &r));
        expire_all(s, t0 + 900);
        CHECK(ann(s, h, v6(2, 1), false, EVENT_NONE, t0 + 1000, 0, false, &r));
        /* the housekeeping clock may lag a worker's by a little: a stamp in its future
         * is fresh, not 32767 s old */
        expire_all(s, t0 + 990);
        CHECK(store_scrape(s, h, &c));
        CHECK_EQ_INT(c.leechers, 3);
        expire_all(s, t0 + STORE_MAX_PEER_TIMEOUT);
        CHECK(store_scrape(s, h, &c));
        CHECK_EQ_INT(c.leechers, 3);
        expire_all(s, t0 + STORE_MAX_PEER_TIMEOUT + 1);
        CHECK(store_scrape(s, h, &c));
        CHECK_EQ_INT(c.leechers, 1);
        expire_all(s, t0 + STORE_MAX_PEER_TIMEOUT + 1001);
        CHECK(!store_scrape(s, h, &c));
        CHECK(fixture_consistent(s));
        store_free(s);
    }
    /* a short timeout, swept every few seconds across many wraps */
    store_t *s = mk(30, 0, 0);
    uint8_t h[20];
    struct reply r;
    struct swarm_counts c;
    hash_of(h, 13);
    for (uint32_t now = 30000; now < 100000; now += 7) {
        CHECK(ann(s, h, v4(now % 3, 1), false, EVENT_NONE, now, 0, false, &r));
        expire_all(s, now);
        CHECK(store_scrape(s, h, &c));
        if (c.leechers != 3 && now > 30020) {
            CHECK_EQ_INT(c.leechers, 3);
            break;
        }
    }
    store_free(s);
}

TEST(large_swarm_grow_shrink)
{
    store_t *s = mk(1000, 0, 0);
    uint8_t h[20];
    struct reply r;
    struct store_stats st0, st1, st2;
    hash_of(h, 14);
    store_get_stats(s, &st0);
    for (unsigned i = 0; i < 3000; i++) {
        /* insert in a scrambled order so inserts land all over the sorted vectors */
        unsigned k = (i * 7919u) % 3000;
        CHECK(ann(s, h, v4(0x0a000000 + k, 1), k % 2, EVENT_NONE, 1, 0, false, &r));
        CHECK(ann(s, h, v6(k, 1), k % 3 == 0, EVENT_NONE, 1, 0, false, &r));
    }
    CHECK_EQ_INT(r.o.counts.seeders + r.o.counts.leechers, 6000);
    CHECK(fixture_consistent(s));
    store_get_stats(s, &st1);
    CHECK(st1.bytes > st0.bytes + 3000 * 8 + 3000 * 20);
    CHECK(st1.bytes < st0.bytes + 3000 * 10 + 3000 * 26 + 200);
    for (unsigned k = 0; k < 2990; k++) {
        CHECK(ann(s, h, v4(0x0a000000 + k, 1), k % 2, EVENT_STOPPED, 2, 0, false, &r));
        CHECK(ann(s, h, v6(k, 1), false, EVENT_STOPPED, 2, 0, false, &r));
        if (k % 500 == 0)
            CHECK(fixture_consistent(s));
    }
    CHECK_EQ_INT(r.o.counts.seeders + r.o.counts.leechers, 20);
    store_get_stats(s, &st2);
    CHECK(st2.bytes < st0.bytes + 1000);
    CHECK(fixture_consistent(s));
    for (unsigned k = 2990; k < 3000; k++) /* down to inline, then nothing */
        CHECK(ann(s, h, v6(k, 1), false, EVENT_STOPPED, 2, 0, false, &r));
    CHECK(fixture_consistent(s));
    for (unsigned k = 2990; k < 3000; k++)
        CHECK(ann(s, h, v4(0x0a000000 + k, 1), false, EVENT_STOPPED, 2, 0, false, &r));
    store_get_stats(s, &st2);
    CHECK_EQ_INT(st2.torrents, 0);
    expire_all(s, 3); /* the emptied slot array goes back on the next sweep */
    store_get_stats(s, &st2);
    CHECK_EQ_INT(st2.bytes, st0.bytes);
    CHECK(fixture_consistent(s));
    store_free(s);
}

static void count_visit(void *ctx, const uint8_t *info_hash, const struct swarm_counts *c)
{
    uint64_t *acc = ctx;
    unsigned i;
    memcpy(&i, info_hash, sizeof i);
    acc[0]++;
    acc[1] += c->seeders + c->leechers;
    acc[2] += i;
}

TEST(many_torrents)
{
    store_t *s = mk(100, 0, 0 /* default shards */);
    uint8_t h[20];
    struct reply r;
    struct store_stats st;
    const unsigned n = 100000;
    uint64_t peers = 0, idsum = 0;
    for (unsigned i = 0; i < n; i++) {
        hash_of(h, i);
        for (unsigned p = 0; p <= i % 3; p++) {
            CHECK(ann(s, h, v4(i, (uint16_t)(p + 1)), p == 1, EVENT_NONE, 10, 5, false, &r));
            peers++;
        }
        idsum += i;
    }
    CHECK(fixture_consistent(s));
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, n);
    CHECK_EQ_INT(st.peers4, peers);
    CHECK_EQ_INT(st.seeders, n / 3 * 2 + (n % 3 == 2));
    uint64_t acc[3] = {0, 0, 0};
    store_foreach(s, count_visit, acc);
    CHECK_EQ_INT(acc[0], n);
    CHECK_EQ_INT(acc[1], peers);
    CHECK_EQ_INT(acc[2], idsum);
    for (unsigned i = 0; i < n; i += 997) {
        struct swarm_counts c;
        hash_of(h, i);
        CHECK(store_scrape(s, h, &c));
        CHECK_EQ_INT(c.seeders + c.leechers, i % 3 + 1);
    }
    /* half of them stop: tables shrink later, lookups still work */
    for (unsigned i = 0; i < n; i += 2) {
        hash_of(h, i);
        for (unsigned p = 0; p <= i % 3; p++)
            CHECK(ann(s, h, v4(i, (uint16_t)(p + 1)), false, EVENT_STOPPED, 11, 0, false, &r));
    }
    expire_all(s, 50);
    CHECK(fixture_consistent(s));
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, n / 2);
    expire_all(s, 200);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK_EQ_INT(st.peers4, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(big_tables)
{
    /* Few shards, so their slot arrays outgrow malloc and are mapped, then shrink back. */
    store_t *s = mk(100, 0, 1);
    uint8_t h[20];
    struct reply r;
    struct store_stats st;
    const unsigned n = 40000;
    for (unsigned i = 0; i < n; i++) {
        hash_of(h, i);
        CHECK(ann(s, h, v4(i, 1), false, EVENT_NONE, i < n / 8 ? 20 : 10, 0, false, &r));
    }
    CHECK(fixture_consistent(s));
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, n);
    CHECK(st.bytes < (uint64_t)n * 40 * 3 / 2 + 4096);
    expire_all(s, 115); /* only the first eighth stays */
    CHECK(fixture_consistent(s));
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, n / 8);
    CHECK(st.bytes < (uint64_t)n / 8 * 40 * 3);
    for (unsigned i = 0; i < n / 8; i += 101) {
        struct swarm_counts c;
        hash_of(h, i);
        CHECK(store_scrape(s, h, &c));
        CHECK_EQ_INT(c.leechers, 1);
    }
    expire_all(s, 1000);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

TEST(stats)
{
    store_t *s = mk(100, 1000, 4);
    uint8_t h[20];
    struct reply r;
    struct store_stats st, st0;
    store_get_stats(s, &st0);
    CHECK_EQ_INT(st0.torrents, 0);
    CHECK(st0.bytes > 0); /* the shard array */
    hash_of(h, 1);
    CHECK(ann(s, h, v4(1, 1), true, EVENT_NONE, 1, 0, false, &r));
    CHECK(ann(s, h, v4(2, 1), false, EVENT_NONE, 1, 0, false, &r));
    CHECK(ann(s, h, v6(3, 1), false, EVENT_NONE, 1, 0, false, &r));
    hash_of(h, 2);
    CHECK(ann(s, h, v6(3, 1), true, EVENT_NONE, 1, 0, false, &r));
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 2);
    CHECK_EQ_INT(st.peers4, 2);
    CHECK_EQ_INT(st.peers6, 2);
    CHECK_EQ_INT(st.seeders, 2);
    CHECK_EQ_INT(st.leechers, 2);
    CHECK(st.bytes > st0.bytes);
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* ---- threads: workers announcing on overlapping torrents while one thread expires ---- */

struct worker_arg {
    store_t *s;
    unsigned id;
    uint32_t *now;
    int *stop;
    bool ok;
};

static void *hammer(void *p)
{
    struct worker_arg *w = p;
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (w->id + 1);
    struct reply *r = malloc(sizeof *r);
    w->ok = r != NULL;
    for (unsigned i = 0; r && i < 200000; i++) {
        uint64_t x = rng_next(&rng);
        uint8_t h[20];
        hash_of(h, (unsigned)(x % 64));
        struct peer_addr a = (x >> 8) & 1 ? v6((unsigned)(x >> 16) % 40, 1)
                                          : v4((unsigned)(x >> 16) % 40, (uint16_t)(x >> 40) % 3);
        enum announce_event ev = (enum announce_event)((x >> 24) % 4);
        struct store_announce_in in = {
            .info_hash = h,
            .peer = a,
            .seeder = (x >> 30) & 1,
            .event = ev,
            .now = __atomic_load_n(w->now, __ATOMIC_RELAXED),
            .numwant = (unsigned)(x >> 32) % 60,
            .both_families = (x >> 31) & 1,
            .out4 = r->p4,
            .out6 = r->p6,
            .rng = &rng,
        };
        if (!store_announce(w->s, &in, &r->o))
            w->ok = false;
        if (r->o.n4 > in.numwant || r->o.n6 > in.numwant)
            w->ok = false;
        if (i % 64 == 0) {
            struct swarm_counts c;
            store_scrape(w->s, h, &c);
        }
    }
    free(r);
    return NULL;
}

static void *expirer(void *p)
{
    struct worker_arg *w = p;
    while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
        uint32_t now = __atomic_add_fetch(w->now, 1, __ATOMIC_RELAXED);
        store_expire_step(w->s, now, 2);
        struct store_stats st;
        store_get_stats(w->s, &st);
        uint64_t acc[3] = {0, 0, 0};
        store_foreach(w->s, count_visit, acc);
    }
    return NULL;
}

TEST(threads)
{
    store_t *s = mk(20, 5, 3);
    uint32_t now = 1000;
    int stop = 0;
    pthread_t th[5];
    struct worker_arg args[5];
    for (unsigned i = 0; i < 5; i++) {
        args[i] = (struct worker_arg){s, i, &now, &stop, true};
        CHECK(pthread_create(&th[i], NULL, i < 4 ? hammer : expirer, &args[i]) == 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].ok);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(th[4], NULL);
    CHECK(fixture_consistent(s));
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(st.torrents <= 64);
    CHECK(st.peers4 <= 64 * 120);
    CHECK(st.peers6 <= 64 * 40);
    expire_all(s, now + 100);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.peers4 + st.peers6, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

/* store_prefetch is a hint: whatever it is given (known and unknown swarms, more than
 * STORE_PREFETCH_MAX), counts, members and invariants stay as they were. */
TEST(prefetch_changes_nothing)
{
    store_t *s = mk(100, 0, 2);
    uint8_t h[80][20];
    const uint8_t *hs[80];
    struct reply r;
    for (unsigned i = 0; i < 80; i++) {
        hash_of(h[i], i);
        hs[i] = h[i];
        /* 0 peers (never announced), 1 (inline), 3 (a block), 3 v4 + 1 v6 */
        for (unsigned p = 0; p < (i % 4 == 0 ? 0 : i % 4 == 1 ? 1 : 3); p++)
            CHECK(ann(s, h[i], v4(i, (uint16_t)(p + 1)), p == 0, EVENT_NONE, 10, 0, false, &r));
        if (i % 4 == 3)
            CHECK(ann(s, h[i], v6(i, 9), false, EVENT_NONE, 10, 0, false, &r));
    }
    struct store_stats before;
    store_get_stats(s, &before);
    store_prefetch(s, hs, 80);
    store_prefetch(s, hs + 7, 1);
    CHECK(fixture_totals_equal(s, &before));
    for (unsigned i = 0; i < 80; i++) {
        struct swarm_counts c;
        bool known = store_scrape(s, h[i], &c);
        CHECK_EQ_INT(known, i % 4 != 0);
        CHECK_EQ_INT(c.seeders + c.leechers, i % 4 == 0 ? 0 : i % 4 == 1 ? 1 : i % 4 == 2 ? 3 : 4);
    }
    CHECK(fixture_consistent(s));
    store_free(s);
}

struct prefetcher_arg {
    store_t *s;
    int *stop;
    unsigned rounds;
};

static void *prefetcher(void *p)
{
    struct prefetcher_arg *a = p;
    uint8_t h[64][20];
    const uint8_t *hs[64];
    for (unsigned i = 0; i < 64; i++) {
        hash_of(h[i], i * 37);
        hs[i] = h[i];
    }
    while (!__atomic_load_n(a->stop, __ATOMIC_RELAXED)) {
        store_prefetch(a->s, hs, 64);
        a->rounds++;
    }
    return NULL;
}

/* Prefetching while another thread grows and shrinks the same tables (2 shards: every
 * insert or removal may move a table): under the sanitizer build a read of a freed table
 * or block would be reported. */
TEST(prefetch_while_tables_move)
{
    store_t *s = mk(100, 0, 1);
    int stop = 0;
    struct prefetcher_arg a = {s, &stop, 0};
    pthread_t th;
    struct reply r;
    uint8_t h[20];
    CHECK(pthread_create(&th, NULL, prefetcher, &a) == 0);
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 3000; i++) {
            hash_of(h, i);
            for (unsigned p = 0; p < 1 + i % 3; p++)
                CHECK(ann(s, h, v4(i, (uint16_t)(p + 1)), false, EVENT_NONE, 10, 0, false, &r));
        }
        for (unsigned i = 0; i < 3000; i++) {
            hash_of(h, i);
            for (unsigned p = 0; p < 1 + i % 3; p++)
                CHECK(ann(s, h, v4(i, (uint16_t)(p + 1)), false, EVENT_STOPPED, 10, 0, false,
                          &r));
        }
        expire_all(s, 11); /* frees the emptied torrents: tables shrink */
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    CHECK(a.rounds > 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.torrents, 0);
    CHECK(fixture_consistent(s));
    store_free(s);
}

int main(void)
{
    RUN(counts_and_events);
    RUN(stopped_frees_torrent);
    RUN(never_self);
    RUN(seeder_gets_leechers_first);
    RUN(both_families);
    RUN(numwant_caps);
    RUN(random_subset);
    RUN(expiry);
    RUN(expire_step_round_robin);
    RUN(keep_completed);
    RUN(timestamp_wraparound);
    RUN(large_swarm_grow_shrink);
    RUN(many_torrents);
    RUN(big_tables);
    RUN(stats);
    RUN(threads);
    RUN(prefetch_changes_nothing);
    RUN(prefetch_while_tables_move);
    return CHECK_DONE();
}

