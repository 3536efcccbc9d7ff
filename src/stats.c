/* stats.c - summing the per-worker counters and naming them.
 *
 * Readers (the /stats page, /metrics, logs) call stats_sum; the workers never wait for them.
 * Names are snake_case, stable, and used as metric names, so never rename one. */
#include "stats.h"

#include <stddef.h>

static const char *const names[STAT_COUNT] = {
    [STAT_HTTP_ANNOUNCE] = "http_announce",
    [STAT_HTTP_SCRAPE] = "http_scrape",
    [STAT_HTTP_FULLSCRAPE] = "http_fullscrape",
    [STAT_HTTP_FAILURE] = "http_failure",
    [STAT_HTTP_BAD_REQUEST] = "http_bad_request",
    [STAT_HTTP_NOT_FOUND] = "http_not_found",
    [STAT_HTTP_BAD_METHOD] = "http_bad_method",
    [STAT_HTTP_CONN_ACCEPTED] = "http_conn_accepted",
    [STAT_HTTP_CONN_REFUSED] = "http_conn_refused",
    [STAT_HTTP_CONN_TIMEOUT] = "http_conn_timeout",
    [STAT_UDP_CONNECT] = "udp_connect",
    [STAT_UDP_ANNOUNCE] = "udp_announce",
    [STAT_UDP_SCRAPE] = "udp_scrape",
    [STAT_UDP_MALFORMED] = "udp_malformed",
    [STAT_UDP_BAD_CONNID] = "udp_bad_connid",
    [STAT_UDP_ERROR_SENT] = "udp_error_sent",
    [STAT_COMPLETED] = "completed",
    [STAT_REFUSED_TORRENTS] = "refused_torrents",
    [STAT_REFUSED_PEERS] = "refused_peers",
    [STAT_REFUSED_MEMORY] = "refused_memory",
    [STAT_ANNOUNCE_THROTTLED] = "announce_throttled",
    [STAT_HTTP_CONN_IP_REFUSED] = "http_conn_ip_refused",
    [STAT_HTTP_HEADER_TIMEOUT] = "http_header_timeout",
    [STAT_HTTP_PIPELINE_DEFERRED] = "http_pipeline_deferred",
    [STAT_HTTP_CONN_CLOSED] = "http_conn_closed",
    [STAT_HTTP_FULLSCRAPE_BYTES] = "http_fullscrape_bytes",
    [STAT_HTTP_STATS] = "http_stats",
    [STAT_HTTP_STATS_DENIED] = "http_stats_denied",
    [STAT_WS_CONN_ACCEPTED] = "ws_conn_accepted",
    [STAT_WS_CONN_TIMEOUT] = "ws_conn_timeout",
    [STAT_WS_ANNOUNCE] = "ws_announce",
    [STAT_WS_SCRAPE] = "ws_scrape",
    [STAT_WS_FAILURE] = "ws_failure",
    [STAT_WS_OFFER_RELAYED] = "ws_offer_relayed",
    [STAT_WS_ANSWER_RELAYED] = "ws_answer_relayed",
    [STAT_WS_ANSWER_DROPPED] = "ws_answer_dropped",
    [STAT_WS_SLOW_CLOSED] = "ws_slow_closed",
    [STAT_WS_BAD_FRAME] = "ws_bad_frame",
    [STAT_EVICTED] = "evicted",
};

uint64_t stats_sum(const struct worker_stats *blocks, unsigned n, enum stat_counter k)
{
    uint64_t sum = 0;
    if (!blocks || (unsigned)k >= STAT_COUNT)
        return 0;
    /* Relaxed loads: each block has one writer, and a reader only needs some recent value,
     * not a snapshot consistent across counters. */
    for (unsigned i = 0; i < n; i++)
        sum += __atomic_load_n(&blocks[i].c[k], __ATOMIC_RELAXED);
    return sum;
}

const char *stat_name(enum stat_counter k)
{
    if ((unsigned)k >= STAT_COUNT || !names[k])
        return "unknown";
    return names[k];
}
