/* stats_top.h - statistics that need a walk over every torrent: the largest swarms (top10,
 * top100, the dashboard) and opentracker's per-torrent "tpbs" lists.
 *
 * A walk uses store_foreach (one shard locked at a time) and its result is cached for a few
 * seconds, so a flood of requests costs one walk per period. One thread walks at a time:
 * the others are told "busy" (NULL / false) and park the request instead of queueing on a
 * lock. Process-wide cache, keyed by the store; thread-safe. */
#ifndef SWARMD_STATS_TOP_H
#define SWARMD_STATS_TOP_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"
#include "store/store.h"
#include "util/blob.h"

#define STATS_TOP_MAX 100
#define STATS_TOP_CACHE_SECONDS 5

/* by_peers: most peers (seeders + leechers) first; by_seeds: most seeders first; ties by
 * hash. n entries each (at most STATS_TOP_MAX). */
struct top_lists {
    unsigned n;
    uint64_t torrents; /* torrents walked */
    struct store_entry by_peers[STATS_TOP_MAX], by_seeds[STATS_TOP_MAX];
};

/* Copy the cached lists (walking first when older than STATS_TOP_CACHE_SECONDS). false when
 * another thread is walking right now: ask again shortly. */
bool stats_top_get(store_t *s, uint32_t now, struct top_lists *out);

/* Insert e into a list of n (<= cap) entries kept in order; pure, for the walk and tests.
 * by_seeds selects the order. Returns the new n. */
unsigned stats_top_insert(struct store_entry *list, unsigned n, unsigned cap,
                          const struct store_entry *e, bool by_seeds);

enum tpbs_format { TPBS_BIN, TPBS_URL, TPBS_TXT, TPBS_TXTP, TPBS_NFORMATS };

/* Every torrent in format f, sorted by info-hash (opentracker's tpbs layouts):
 * bin: hash, seeders (u32 BE), leechers (u32 BE); url: %-encoded hash:seeders:leechers;
 * txt: HEX:seeders:leechers; txtp: HEX:seeders:leechers:completed (lines end in \n).
 * A referenced blob, cached like the top lists; NULL when another thread is building it
 * (*oom false) or on allocation failure (*oom true). */
struct blob *stats_tpbs_get(store_t *s, enum tpbs_format f, uint32_t now, bool *oom);

/* Append one entry in format f to out (at most STATS_TPBS_ENTRY_MAX bytes); pure. */
#define STATS_TPBS_ENTRY_MAX 96
size_t stats_tpbs_format(enum tpbs_format f, const struct store_entry *e, char *out);

#endif
