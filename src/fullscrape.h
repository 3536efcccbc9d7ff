/* fullscrape.h - the full scrape (/scrape without info_hash), built off the hot path.
 *
 * A background thread walks the store shard by shard and builds the bencoded body (and a
 * gzip copy); the result is cached for cache_seconds, so a flood of full scrapes costs one
 * build. Workers only ever take a reference to a finished blob. Thread-safe. */
#ifndef SWARMD_FULLSCRAPE_H
#define SWARMD_FULLSCRAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/blob.h"

struct fullscrape;

struct fullscrape *fullscrape_new(store_t *store, unsigned cache_seconds);
void fullscrape_free(struct fullscrape *fs);

/* A referenced blob with the body (gzip-compressed when gzip) if a fresh one is cached;
 * otherwise NULL after making sure a build is under way (ask again shortly). */
struct blob *fullscrape_get(struct fullscrape *fs, bool gzip, uint32_t now);

/* How many times the cached body was built from the store since start (gzip copies of a
 * body are not counted: they never walk the store). Any thread; for statistics. */
uint64_t fullscrape_builds(const struct fullscrape *fs);

#endif
