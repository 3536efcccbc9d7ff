/* dashboard.h - the live dashboard: one self-contained HTML page (no external assets) and
 * the JSON document it polls (/stats.json).
 *
 * Pure rendering into new blobs (NULL on allocation failure). The page's element ids and
 * the JSON keys are an interface: tests/e2e/test_dashboard.py reads both. */
#ifndef SWARMD_DASHBOARD_H
#define SWARMD_DASHBOARD_H

#include <stdint.h>

#include "stats_http.h"
#include "stats_top.h"
#include "util/blob.h"

#define DASHBOARD_TOP 10

/* /stats.json: totals, summed counters by name, and the DASHBOARD_TOP largest swarms. */
struct blob *dashboard_json(const struct stats_snapshot *s, const struct top_lists *tl,
                            uint32_t now);
/* /dashboard: the page (a shared static copy, referenced). */
struct blob *dashboard_page(void);

#endif
