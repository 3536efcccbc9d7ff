/* metrics.c - /metrics for Prometheus.
 *
 * Families are grouped (one HELP and TYPE each, then every sample) as the exposition format
 * requires. Counters end in _total. Requests and errors carry labels rather than one name
 * per kind, so a dashboard can sum over them; every raw counter is also exported per worker,
 * so counters other modules add to stats.h show up without touching this file. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "fullscrape.h"
#include "stats_text.h"

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct text *t, const char *name, const char *labels, uint64_t v)
{
    if (labels)
        tprintf(t, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
    else
        tprintf(t, "%s %llu\n", name, (unsigned long long)v);
}

struct labelled {
    const char *labels;
    enum stat_counter k;
};

static const struct labelled requests[] = {
    {"proto=\"http\",kind=\"announce\"", STAT_HTTP_ANNOUNCE},
    {"proto=\"http\",kind=\"scrape\"", STAT_HTTP_SCRAPE},
    {"proto=\"http\",kind=\"fullscrape\"", STAT_HTTP_FULLSCRAPE},
    {"proto=\"http\",kind=\"stats\"", STAT_HTTP_STATS},
    {"proto=\"udp\",kind=\"connect\"", STAT_UDP_CONNECT},
    {"proto=\"udp\",kind=\"announce\"", STAT_UDP_ANNOUNCE},
    {"proto=\"udp\",kind=\"scrape\"", STAT_UDP_SCRAPE},
};

static const struct labelled errors[] = {
    {"proto=\"http\",kind=\"failure_reason\"", STAT_HTTP_FAILURE},
    {"proto=\"http\",kind=\"bad_request\"", STAT_HTTP_BAD_REQUEST},
    {"proto=\"http\",kind=\"not_found\"", STAT_HTTP_NOT_FOUND},
    {"proto=\"http\",kind=\"bad_method\"", STAT_HTTP_BAD_METHOD},
    {"proto=\"http\",kind=\"stats_denied\"", STAT_HTTP_STATS_DENIED},
    {"proto=\"udp\",kind=\"malformed\"", STAT_UDP_MALFORMED},
    {"proto=\"udp\",kind=\"bad_connection_id\"", STAT_UDP_BAD_CONNID},
    {"proto=\"udp\",kind=\"error_sent\"", STAT_UDP_ERROR_SENT},
};

static const struct labelled refused[] = {
    {"cap=\"http_connections\"", STAT_HTTP_CONN_REFUSED},
    {"cap=\"http_idle_timeout\"", STAT_HTTP_CONN_TIMEOUT},
};

static void labelled_family(struct text *t, const char *name, const char *help,
                            const struct labelled *v, size_t n, const struct stats_snapshot *s)
{
    family(t, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        sample(t, name, v[i].labels, s->sum[v[i].k]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct blob *metrics_render(const struct tracker *t, const struct stats_snapshot *s)
{
    const uint64_t *c = s->sum;
    struct text x;
    char lab[96];
    text_init(&x, 16384 + (size_t)s->workers * STAT_COUNT * 96);

    family(&x, "swarmd_build_info", "gauge", "Version of the running swarmd (always 1).");
    tprintf(&x, "swarmd_build_info{version=\"%s\"} 1\n", SWARMD_VERSION);
    family(&x, "swarmd_uptime_seconds", "gauge", "Seconds since swarmd started.");
    sample(&x, "swarmd_uptime_seconds", NULL, s->uptime);
    family(&x, "swarmd_workers", "gauge", "Worker threads.");
    sample(&x, "swarmd_workers", NULL, s->workers);

    labelled_family(&x, "swarmd_requests_total", "Requests answered, by protocol and kind.",
                    requests, N(requests), s);
    labelled_family(&x, "swarmd_errors_total", "Requests answered with an error or dropped, "
                    "by protocol and kind.", errors, N(errors), s);
    labelled_family(&x, "swarmd_refused_total", "Connections refused or closed by a cap.",
                    refused, N(refused), s);

    family(&x, "swarmd_evicted_total", "counter",
           "Torrents of at most one peer evicted to admit a new torrent at a cap.");
    sample(&x, "swarmd_evicted_total", NULL, c[STAT_EVICTED]);

    family(&x, "swarmd_torrents", "gauge", "Torrents in memory.");
    sample(&x, "swarmd_torrents", NULL, s->store.torrents);
    family(&x, "swarmd_peers", "gauge",
           "Peers in memory, by address family (websocket: WebTorrent peers, no address).");
    sample(&x, "swarmd_peers", "family=\"ipv4\"", s->store.peers4);
    sample(&x, "swarmd_peers", "family=\"ipv6\"", s->store.peers6);
    sample(&x, "swarmd_peers", "family=\"websocket\"", s->store.peers_ws);
    family(&x, "swarmd_swarm_peers", "gauge", "Peers in memory, seeders and leechers.");
    sample(&x, "swarmd_swarm_peers", "role=\"seeder\"", s->store.seeders);
    sample(&x, "swarmd_swarm_peers", "role=\"leecher\"", s->store.leechers);
    family(&x, "swarmd_completed_total", "counter", "Downloads completed (event=completed).");
    sample(&x, "swarmd_completed_total", NULL, c[STAT_COMPLETED]);
    family(&x, "swarmd_fullscrape_bytes_total", "counter",
           "Full-scrape body bytes sent (gzip-compressed when the client accepted it).");
    sample(&x, "swarmd_fullscrape_bytes_total", NULL, c[STAT_HTTP_FULLSCRAPE_BYTES]);
    family(&x, "swarmd_fullscrape_builds_total", "counter",
           "Full-scrape bodies built from the store (requests within tracker.fullscrape_cache "
           "seconds of a build reuse it).");
    sample(&x, "swarmd_fullscrape_builds_total", NULL, fullscrape_builds(t->fullscrape));
    family(&x, "swarmd_udp_connection_id_failures_total", "counter",
           "UDP requests with an unknown or expired connection ID.");
    sample(&x, "swarmd_udp_connection_id_failures_total", NULL, c[STAT_UDP_BAD_CONNID]);
    family(&x, "swarmd_http_connections_open", "gauge", "HTTP connections open now.");
    uint64_t open = c[STAT_HTTP_CONN_ACCEPTED] - c[STAT_HTTP_CONN_CLOSED];
    /* The two sums are read one after the other: a close may be counted before its accept. */
    if (c[STAT_HTTP_CONN_CLOSED] > c[STAT_HTTP_CONN_ACCEPTED])
        open = 0;
    sample(&x, "swarmd_http_connections_open", NULL, open);
    family(&x, "swarmd_store_memory_bytes", "gauge",
           "Heap bytes held by the swarm store (tables and peer blocks).");
    sample(&x, "swarmd_store_memory_bytes", NULL, s->store.bytes);

    if (t->cluster) /* cluster mode only: standalone /metrics stays as it was */
        cluster_render(t->cluster, &x, true);

    family(&x, "swarmd_worker_events_total", "counter",
           "Every internal counter, per worker thread (counter names as in stats.h).");
    for (unsigned w = 0; w < tracker_stat_blocks(t); w++) /* workers, then the WebSocket thread */
        for (unsigned k = 0; k < STAT_COUNT; k++) {
            snprintf(lab, sizeof lab, "worker=\"%u\",counter=\"%s\"", w,
                     stat_name((enum stat_counter)k));
            sample(&x, "swarmd_worker_events_total", lab,
                   __atomic_load_n(&t->stats[w].c[k], __ATOMIC_RELAXED));
        }
    return text_done(&x);
}
