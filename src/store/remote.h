/* remote.h - applying the other cluster nodes' peer deltas to the swarm table.
 *
 * The sync-in thread (src/cluster/) hands over one decoded batch at a time; records are
 * applied in order, the shard lock held across consecutive records of the same shard, never
 * two shards at once. Same key and semantics as a local announce: an upsert inserts or
 * refreshes (the peer's stamp becomes `now`, so remote peers expire by the same peer timeout),
 * a stop removes, a completed-event record adds 1 to completed, and the caps refuse new
 * torrents and peers exactly as for local announces. Applying never asks for publication:
 * a delta that came from the bus is never sent back to it. Thread-safe like store.h. */
#ifndef SWARMD_STORE_REMOTE_H
#define SWARMD_STORE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "store/store.h"
#include "util/addr.h"

struct store_remote_rec {
    uint8_t info_hash[INFO_HASH_LEN];
    struct peer_addr peer; /* validated: port != 0, address specified, v4 never v4-mapped */
    bool stop;             /* else upsert */
    bool seeder;
    bool completed;        /* the origin counted a completed event */
};

enum store_remote_result {
    STORE_REMOTE_APPLIED = 0, /* inserted, refreshed or removed (or a stop of an absent peer) */
    STORE_REMOTE_CAP,         /* a cap refused the new torrent or peer: nothing changed */
    STORE_REMOTE_NOMEM,       /* allocation failed: nothing changed */
};

/* Apply n records in order; result[i] (may be NULL) receives each record's outcome. Returns
 * the number of records with STORE_REMOTE_APPLIED. */
size_t store_apply_remote(store_t *s, const struct store_remote_rec *r, size_t n, uint32_t now,
                          uint8_t *result);

#endif
