/* stats_http.h - the operator's read-only pages, routed from serve_http.
 *
 * access.stats_path (default /stats): opentracker's text and XML modes; /metrics: Prometheus
 * text exposition; /stats.json and /dashboard: the live page and the JSON it polls. All of
 * them only for clients inside access.stats / -A (loopback when none is configured), 403 for
 * everyone else; a request through an access.proxy is judged by the client the proxy names. Runs on the calling worker: counters are summed on read, store totals come
 * from store_get_stats, and the walks over every torrent (top lists, tpbs) are cached by
 * stats_top.c. Keeps no state of its own. */
#ifndef SWARMD_STATS_HTTP_H
#define SWARMD_STATS_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "net/http_server.h"
#include "stats.h"
#include "store/store.h"
#include "tracker.h"

/* Everything the pages show that is cheap to read: summed counters, store totals, uptime. */
struct stats_snapshot {
    uint64_t sum[STAT_COUNT];
    struct store_stats store;
    uint32_t uptime;
    unsigned workers;
};
void stats_snapshot_read(const struct tracker *t, uint32_t now, struct stats_snapshot *out);

/* May this client read the statistics? (access.stats; loopback when the list is empty) */
bool stats_http_allowed(const struct config *cfg, const struct peer_addr *client);

/* Is req for one of the pages above? */
bool stats_http_match(const struct tracker_worker *w, const struct http_request *req);
/* Answer it (403 when not allowed). */
enum http_action stats_http_serve(struct tracker_worker *w, const struct http_request *req,
                                  const struct peer_addr *client, struct http_out *out);

#endif
