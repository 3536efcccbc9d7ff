/* store_fixture.h - what the store's unit tests share: a store config with a fixed hash key
 * (so shard placement is the same on every run), an invariant check that says why it
 * failed, a totals comparison, and test info-hashes and peer addresses. Header-only; include
 * after check.h. */
#ifndef SWARMD_TEST_STORE_FIXTURE_H
#define SWARMD_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static inline struct store_config fixture_config(uint32_t peer_timeout, uint32_t torrent_keep,
                                                 unsigned shards_log2)
{
    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = peer_timeout;
    cfg.torrent_keep = torrent_keep;
    cfg.shards_log2 = shards_log2;
    for (int i = 0; i < 16; i++)
        cfg.hash_key[i] = (uint8_t)(i * 7 + 1);
    return cfg;
}

/* store_check, printing the first violated invariant. */
static inline bool fixture_consistent(store_t *s)
{
    char err[200];
    bool ok = store_check(s, err, sizeof err);
    if (!ok)
        fprintf(stderr, "  store_check: %s\n", err);
    return ok;
}

/* s's totals (torrents, peers of each family, seeders) equal want's. Prints the first that
 * differs. */
static inline bool fixture_totals_equal(store_t *s, const struct store_stats *want)
{
    struct store_stats x;
    store_get_stats(s, &x);
    const char *what = x.torrents != want->torrents ? "torrents"
                       : x.peers4 != want->peers4   ? "peers4"
                       : x.peers6 != want->peers6   ? "peers6"
                       : x.seeders != want->seeders ? "seeders"
                                                    : NULL;
    if (what)
        fprintf(stderr, "  totals differ in %s\n", what);
    return what == NULL;
}

/* The i-th test info-hash of a family: fill bytes with i in the first four. */
static inline void fixture_hash(uint8_t h[20], unsigned i, uint8_t fill)
{
    memset(h, fill, 20);
    memcpy(h, &i, sizeof i);
}

/* An IPv4 peer at address ip (host order), and an IPv6 one at 2001::n. */
static inline struct peer_addr fixture_v4(uint32_t ip, uint16_t port)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    a.family = ADDR_V4;
    a.ip[0] = (uint8_t)(ip >> 24);
    a.ip[1] = (uint8_t)(ip >> 16);
    a.ip[2] = (uint8_t)(ip >> 8);
    a.ip[3] = (uint8_t)ip;
    a.port = port;
    return a;
}

static inline struct peer_addr fixture_v6(uint32_t n, uint16_t port)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    a.family = ADDR_V6;
    a.ip[0] = 0x20;
    a.ip[1] = 0x01;
    a.ip[12] = (uint8_t)(n >> 24);
    a.ip[13] = (uint8_t)(n >> 16);
    a.ip[14] = (uint8_t)(n >> 8);
    a.ip[15] = (uint8_t)n;
    a.port = port;
    return a;
}

#endif
