/* tracker.h - the tracker's policy, between the protocols and the store.
 *
 * The only module that sees both request structs and the store: it decides the peer address
 * that counts, caps numwant, picks the families a reply carries, sets interval and jitter,
 * and counts. Per-thread state lives in struct tracker_worker, so nothing here takes a lock
 * except the store's shard locks. */
#ifndef SWARMD_TRACKER_H
#define SWARMD_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "accesslist.h"
#include "config.h"
#include "fullscrape.h"
#include "request.h"
#include "stats.h"
#include "store/store.h"
#include "udp_secret.h"

struct conn_limit;
struct cluster;

struct tracker {
    const struct config *cfg;
    store_t *store;
    struct udp_secret connid;   /* UDP connection-id keys (hot-swapped on SIGHUP) */
    struct fullscrape *fullscrape;
    struct worker_stats *stats; /* one block per worker */
    unsigned nworkers;
    uint32_t started;           /* clock_now() at start */
    struct conn_limit *conn_limit; /* HTTP connections per source address (NULL: no cap) */
    struct access_ctl *access;  /* NULL: every torrent allowed (set by main after init) */
    /* WebSocket tracker (NULL: none; set by main after init). It counts into stats block
     * nworkers, so t->stats has tracker_stat_blocks(t) blocks. */
    struct ws_tracker *ws;
    /* Cluster mode (NULL: standalone; set by main before the workers start): announces the
     * store marks "publish" go to the worker's delta ring. */
    struct cluster *cluster;
};

/* Statistics blocks to sum: one per worker, then the WebSocket thread's when it runs. */
static inline unsigned tracker_stat_blocks(const struct tracker *t)
{
    return t->nworkers + (t->ws != NULL);
}

/* Largest HTTP reply body; with its head it fits the 64 KiB the HTTP server guarantees. */
#define TRACKER_BODY_MAX (63 * 1024)

struct tracker_worker {
    struct tracker *t;
    unsigned id;
    uint64_t rng;
    uint32_t now;               /* clock_now(), refreshed once per loop iteration */
    uint32_t unix_now;          /* time(NULL), likewise: connection ids span nodes */
    struct worker_stats *stats; /* == &t->stats[id] */
    uint8_t peers4[CONFIG_MAX_NUMWANT * 6];
    uint8_t peers6[CONFIG_MAX_NUMWANT * 18];
    uint8_t scrape_hashes[SCRAPE_MAX_HASHES][INFO_HASH_LEN];
    struct swarm_counts scrape_counts[SCRAPE_MAX_HASHES];
    uint8_t body[TRACKER_BODY_MAX]; /* HTTP reply bodies are built here, then framed */
};

enum tracker_proto { TRACKER_HTTP, TRACKER_UDP };

/* Build a tracker over an existing store; false on failure (CSPRNG). */
bool tracker_init(struct tracker *t, const struct config *cfg, store_t *store,
                  struct fullscrape *fs, struct worker_stats *stats, unsigned nworkers);
void tracker_worker_init(struct tracker_worker *w, struct tracker *t, unsigned id);

/* Apply an announce from src (the connection's or datagram's source address). On success
 * fills out (peer arrays point into w) and returns NULL; otherwise returns the failure reason
 * for the client and changes nothing. UDP replies carry only src's family, capped to fit a
 * packet; HTTP replies carry both families (own first). */
const char *tracker_announce(struct tracker_worker *w, const struct announce_req *req,
                             const struct peer_addr *src, enum tracker_proto proto,
                             struct announce_reply *out);

/* Whether the access list lets this torrent be served. */
bool tracker_allowed(struct tracker_worker *w, const uint8_t *info_hash);

/* Counts for each hash; zero when the torrent is unknown or not allowed. */
void tracker_scrape(struct tracker_worker *w, const struct scrape_req *req,
                    struct swarm_counts *counts);

/* Before a batch of requests for these swarms (n <= STORE_PREFETCH_MAX): start loading
 * their store entries into the cache. A hint only; answers do not depend on it. */
void tracker_prefetch(struct tracker_worker *w, const uint8_t *const *info_hashes, unsigned n);

#endif
