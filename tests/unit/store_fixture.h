/* store_fixture.h - what the store's unit tests share: a store config with a fixed hash key
 * (so shard placement is the same on every run) and an invariant check that says why it
 * failed. Header-only; include after check.h. */
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

/* Two stores' (or one store's, before and after) totals agree: torrents, peers of each
 * family, seeders. Prints the first that differs. */
static inline bool fixture_same_totals(store_t *a, store_t *b_or_null,
                                       const struct store_stats *before)
{
    struct store_stats x, y;
    store_get_stats(a, &x);
    if (b_or_null)
        store_get_stats(b_or_null, &y);
    else
        y = *before;
    const char *what = x.torrents != y.torrents ? "torrents"
                       : x.peers4 != y.peers4   ? "peers4"
                       : x.peers6 != y.peers6   ? "peers6"
                       : x.seeders != y.seeders ? "seeders"
                                                : NULL;
    if (what)
        fprintf(stderr, "  totals differ in %s\n", what);
    return what == NULL;
}

#endif
