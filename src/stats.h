/* stats.h - per-worker counters, summed only when somebody reads them.
 *
 * Each worker increments its own cache-line-aligned block with plain relaxed stores (one
 * writer per block), so counting costs no lock and no shared cache line on the hot path.
 * Readers sum the blocks with relaxed loads. */
#ifndef SWARMD_STATS_H
#define SWARMD_STATS_H

#include <stdint.h>

enum stat_counter {
    STAT_HTTP_ANNOUNCE,
    STAT_HTTP_SCRAPE,
    STAT_HTTP_FULLSCRAPE,
    STAT_HTTP_FAILURE,       /* 200 with a bencoded failure reason */
    STAT_HTTP_BAD_REQUEST,   /* 400 / 431 */
    STAT_HTTP_NOT_FOUND,
    STAT_HTTP_BAD_METHOD,
    STAT_HTTP_CONN_ACCEPTED,
    STAT_HTTP_CONN_REFUSED,  /* over the connection cap */
    STAT_HTTP_CONN_TIMEOUT,
    STAT_UDP_CONNECT,
    STAT_UDP_ANNOUNCE,
    STAT_UDP_SCRAPE,
    STAT_UDP_MALFORMED,      /* dropped silently */
    STAT_UDP_BAD_CONNID,
    STAT_UDP_ERROR_SENT,
    STAT_COMPLETED,
    /* Resource caps and hostile traffic (issue 4). */
    STAT_REFUSED_TORRENTS,   /* new torrent past tracker.max_torrents */
    STAT_REFUSED_PEERS,      /* new peer past tracker.max_peers_per_torrent */
    STAT_REFUSED_MEMORY,     /* new torrent or peer past tracker.max_memory */
    STAT_ANNOUNCE_THROTTLED, /* re-announce too soon (tracker.enforce_min_interval) */
    STAT_HTTP_CONN_IP_REFUSED, /* over http.max_connections_per_ip */
    STAT_HTTP_HEADER_TIMEOUT,  /* request head not complete within http.header_timeout */
    STAT_HTTP_PIPELINE_DEFERRED, /* http.max_pipeline answered, rest left for next tick */
    /* issue 5: statistics pages */
    STAT_HTTP_CONN_CLOSED,       /* open connections = accepted - closed */
    STAT_HTTP_FULLSCRAPE_BYTES,  /* full-scrape body bytes sent (as sent: gzip or not) */
    STAT_HTTP_STATS,             /* /stats, /metrics, /stats.json, /dashboard answered */
    STAT_HTTP_STATS_DENIED,      /* 403: client outside access.stats */
    STAT_WS_CONN_ACCEPTED,   /* WebSocket connections taken over from HTTP */
    STAT_WS_CONN_TIMEOUT,
    STAT_WS_ANNOUNCE,
    STAT_WS_SCRAPE,
    STAT_WS_FAILURE,         /* replies with a failure reason */
    STAT_WS_OFFER_RELAYED,
    STAT_WS_ANSWER_RELAYED,
    STAT_WS_ANSWER_DROPPED,  /* to_peer_id not in the swarm */
    STAT_WS_SLOW_CLOSED,     /* disconnected: too much queued output */
    STAT_WS_BAD_FRAME,       /* protocol errors and oversized messages */
    STAT_EVICTED,            /* torrents of <= 1 peer evicted for a new one at a cap */
    STAT_COUNT
};

struct worker_stats {
    uint64_t c[STAT_COUNT];
} __attribute__((aligned(64)));

static inline void stat_add(struct worker_stats *s, enum stat_counter k, uint64_t n)
{
    __atomic_store_n(&s->c[k], __atomic_load_n(&s->c[k], __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}
static inline void stat_inc(struct worker_stats *s, enum stat_counter k) { stat_add(s, k, 1); }

/* Sum counter k over n blocks. */
uint64_t stats_sum(const struct worker_stats *blocks, unsigned n, enum stat_counter k);
const char *stat_name(enum stat_counter k);

#endif
