/* snapshot.h - copying the swarm table out and back in (for the state file, persist/).
 *
 * Export walks one shard under that shard's lock only, so a snapshot never stops the
 * tracker: workers wait at most for one shard's copy. Import inserts one saved torrent into a
 * live store. Both speak "snap records", a portable peer form that the state file stores as
 * is (docs/statefile.md):
 *   v4: 4 address bytes, 2 port bytes (network order), 2 bytes age|seeder (little-endian)
 *   v6: 16 address bytes, 2 port bytes, 2 bytes age|seeder
 * where age is the seconds since the peer's last announce (15 bits) and bit 15 the seeder
 * flag. Ages, not clock stamps: the clock restarts with the process. Thread-safe like the
 * rest of the store. */
#ifndef SWARMD_STORE_SNAPSHOT_H
#define SWARMD_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "store/store.h"

#define SNAP_PEER4_SIZE 8
#define SNAP_PEER6_SIZE 20
#define SNAP_AGE_MASK 0x7fffu
#define SNAP_SEEDER 0x8000u

struct snap_torrent {
    uint8_t info_hash[INFO_HASH_LEN];
    uint32_t completed;
    uint32_t idle;                 /* seconds since the torrent's last announce */
    uint32_t n4, n6;               /* peers of each family */
    const uint8_t *peers4;         /* n4 snap records of SNAP_PEER4_SIZE bytes */
    const uint8_t *peers6;         /* n6 snap records of SNAP_PEER6_SIZE bytes */
};

/* Caller-owned room for one torrent's records, reused across calls (free p when done). */
struct snap_scratch {
    uint8_t *p;
    size_t cap;
};

/* Called once per torrent, under the shard's lock: copy what is needed, do not call the
 * store. Return false to stop the export. */
typedef bool (*snap_torrent_fn)(void *ctx, const struct snap_torrent *t);

unsigned store_snapshot_shards(const store_t *s);
/* Export every torrent of shard i (< store_snapshot_shards) as of clock second now. false
 * when fn stopped it or scratch could not grow. */
bool store_export_shard(store_t *s, unsigned i, uint32_t now, struct snap_scratch *scratch,
                        snap_torrent_fn fn, void *ctx);

/* Insert a saved torrent, `downtime` seconds after it was saved, at clock second now: every
 * peer whose age plus downtime is within the peer timeout comes back with that age (so it
 * expires when it would have); the others are dropped. The torrent itself comes back only if
 * it has a peer left, or completed > 0 and it was active within the torrent keep time. An
 * already present torrent gets the peers merged (the newer announce wins) and the larger
 * completed count. *peers (may be NULL) is increased by the peers inserted. false only when
 * memory ran out (the store stays consistent, possibly with part of the torrent). */
bool store_import_torrent(store_t *s, const struct snap_torrent *t, uint32_t now,
                          uint32_t downtime, uint64_t *peers);

#endif
