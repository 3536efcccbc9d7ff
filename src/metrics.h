/* metrics.h - the Prometheus text exposition (format 0.0.4) of swarmd's statistics.
 *
 * Pure rendering: a snapshot (summed counters, store totals) plus the per-worker counter
 * blocks read with relaxed loads; no locks. Metric names are stable (dashboards use them). */
#ifndef SWARMD_METRICS_H
#define SWARMD_METRICS_H

#include "stats_http.h"
#include "util/blob.h"

/* The whole /metrics body in a new blob (NULL on allocation failure). */
struct blob *metrics_render(const struct tracker *t, const struct stats_snapshot *s);

#endif
