/* cluster.h - cluster mode: this node's swarm table kept in step with the other nodes'.
 *
 * Owns the two sync threads and the per-worker delta rings (CLUSTER-SPEC.md, docs/cluster.md):
 * - workers call cluster_publish for every announce the store marked "publish"; it only
 *   pushes onto the worker's own ring (full: dropped and counted), never waits or locks;
 * - the sync-out thread drains the rings every ~10 ms, caps the rate, encodes batches
 *   (batch.h) and XADDs them to this node's stream, keeping a bounded outage buffer while
 *   the engine is away, and holds the node-id lock key;
 * - the sync-in thread XREADs the other nodes' streams from the last applied ids, validates
 *   every batch, and applies it with store_apply_remote.
 * Every engine call is bounded by cluster.timeout_ms, so nothing here ever blocks a worker.
 * Without SWARMD_HAVE_HIREDIS, cluster_start always fails (config.c refuses the keys first).
 * The implementation is split by job over src/cluster/ (cluster_internal.h lists the files). */
#ifndef SWARMD_CLUSTER_H
#define SWARMD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "accesslist.h"
#include "config.h"
#include "request.h"
#include "stats_text.h"
#include "store/store.h"

struct cluster;

/* Check the configuration (auth file), connect once and take the node-id lock, load the
 * resume positions (a section of the state file), start both threads. The engine being
 * unreachable is no failure (the node serves and keeps retrying); another live owner of the
 * node id is.
 * access_slot: the access_ctl reader slot the sync-in thread may use. NULL after logging. */
struct cluster *cluster_start(const struct config *cfg, store_t *store, struct access_ctl *access,
                              unsigned access_slot, unsigned nworkers);
/* Stop the threads (after the workers stopped), save the resume positions, free. NULL ok. */
void cluster_stop(struct cluster *c);

/* store_announce_in.publish_renew for this cluster. */
uint32_t cluster_renew(const struct cluster *c);

/* Worker `worker`: queue one delta (stop, seeding, completed as the store said). */
void cluster_publish(struct cluster *c, unsigned worker, const uint8_t *info_hash,
                     const struct peer_addr *peer, bool stop, bool seeder, bool completed);

/* Append the cluster metrics (CLUSTER-SPEC.md names): Prometheus families when prom, else
 * "name value" lines (for /stats?mode=cluster). The lag gauges are taken at this call (now
 * minus the origin time of each origin's last applied batch), so a silent origin's grows. */
void cluster_render(struct cluster *c, struct text *t, bool prom);

#endif
