/* store.h - the swarm table: torrents by info-hash, and their peers, in memory.
 *
 * Knows nothing of HTTP or UDP. Sharded by a keyed hash of the info-hash, one mutex per
 * shard, so worker threads never share a global lock; every call below locks at most one
 * shard at a time and for a bounded time. A peer is identified within its swarm by
 * (address, port) and stored packed per family. Timestamps are clock_now() seconds. */
#ifndef SWARMD_STORE_H
#define SWARMD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "util/addr.h"

typedef struct store store_t;

struct store_config {
    uint32_t peer_timeout;   /* seconds without an announce before a peer is dropped */
    uint32_t torrent_keep;   /* seconds an empty torrent with completed > 0 is kept (86400) */
    unsigned shards_log2;    /* 0 = default (e.g. 2^10 shards) */
    uint8_t hash_key[16];    /* secret for the shard/bucket hash (anti hash-flooding) */
    /* Resource caps (0 = none). Past one, store_announce refuses new torrents / new peers
     * (store_announce_out.refused) while known peers keep announcing normally. */
    uint64_t max_torrents;
    uint32_t max_peers;      /* per torrent, both families */
    uint64_t max_bytes;      /* budget for store_budget_used() (the store, full scrape) */
    /* Past max_torrents or the budget, a new torrent first evicts one torrent of at most one
     * peer (store_announce_out.evicted): the emptiest, then oldest, of a bounded sample from
     * its own shard or, when that has none, from one of the next few shards; refused only
     * when the sample holds none. Off: refused at once. */
    bool evict;
};

/* Largest peer_timeout the packed peer timestamp supports. */
#define STORE_MAX_PEER_TIMEOUT 28800

store_t *store_new(const struct store_config *cfg);
void store_free(store_t *s);

struct store_announce_in {
    const uint8_t *info_hash;     /* 20 bytes */
    struct peer_addr peer;        /* address and port of the announcing peer */
    bool seeder;                  /* left == 0 */
    enum announce_event event;
    uint32_t now;
    unsigned numwant;             /* total peers wanted in the reply */
    bool both_families;           /* also return peers of the other family (after own) */
    uint8_t *out4;                /* room for numwant * 6 bytes (if v4 peers may be returned) */
    uint8_t *out6;                /* room for numwant * 18 bytes */
    uint64_t *rng;                /* caller's (per-thread) PRNG state */
    uint32_t min_age;             /* announce-rate enforcement: a known peer re-announcing
                                   * (EVENT_NONE) within this many seconds of its last accepted
                                   * announce is not refreshed and gets no peers; 0 = off */
    uint32_t publish_renew;       /* cluster mode: > 0 asks for out.publish (below), a known
                                   * peer's re-announce counting as a change after this many
                                   * seconds; 0 = standalone, nothing computed */
};

/* Why an announce was refused (nothing changed); STORE_OK when it was applied. */
enum store_refusal {
    STORE_OK = 0,
    STORE_FULL_TORRENTS, /* new torrent past max_torrents */
    STORE_FULL_PEERS,    /* new peer in a torrent holding max_peers */
    STORE_FULL_MEMORY,   /* new torrent while store_budget_used() >= 15/16 of max_bytes,
                          * or new peer while it is >= max_bytes */
};

struct store_announce_out {
    struct swarm_counts counts;   /* after applying this announce */
    unsigned n4, n6;              /* packed peers written to out4 / out6 */
    enum store_refusal refused;   /* counts are the torrent's (zero if unknown), no peers */
    bool throttled;               /* min_age not reached: counts only, peer not refreshed */
    enum store_refusal evicted;   /* STORE_OK, or the cap this new torrent would have been
                                   * refused by had it not evicted one torrent (config evict) */
    /* Cluster mode (in.publish_renew > 0): whether the other nodes must hear of this announce:
     * the peer is new here, its seeding state changed, it completed (counted here), it stopped
     * (and was here), or its previous accepted announce is >= publish_renew seconds old.
     * Never set for refused or throttled announces. completed_counted: completed += 1 happened
     * (the delta carries the completed-event bit). */
    bool publish;
    bool completed_counted;
};
/* There is no per-peer "came from the bus" bit (CLUSTER.md suggests one): a v4 peer is packed
 * into 64 bits (address 32 | port 16 | stamp 15 | seeder 1, torrent.h) with none to spare,
 * and nothing needs it. Deltas from the bus never ask for publication (store_apply_remote
 * does not compute it), so they cannot echo. A peer that moved from node A to node B is known
 * to B only through A's deltas, whose stamp is the time B applied A's last one; B publishes
 * the peer's first announce that comes >= publish_renew after that, and cluster mode caps
 * publish_renew at interval / 2, so at the latest the peer's next regular announce to B is
 * published, well inside the peer timeout of the copies on the other nodes. */

/* Apply one announce and choose peers for the reply, under one shard lock:
 * - EVENT_STOPPED removes the peer (no peers returned; counts after removal).
 * - otherwise inserts or refreshes the peer; seeder flag updated; completed += 1 when
 *   event == EVENT_COMPLETED and the peer was not already a seeder here.
 * - Peer choice: a random subset, never the announcer; a seeder gets leechers first, then
 *   seeders; own family first, then (both_families) the other family for the remaining slots.
 * A stopped announce for an unknown torrent creates nothing. Returns false only on allocation
 * failure (nothing changed, except that a torrent evicted to make room stays evicted). */
bool store_announce(store_t *s, const struct store_announce_in *in,
                    struct store_announce_out *out);

/* WebSocket (WebTorrent) peers have no address, so the store does not hold them: the
 * WebSocket tracker does, and reports every change of their numbers here, so that the
 * torrent's one entry counts them (scrape, full scrape, statistics, the state file's
 * completed count, the caps) while peer lists never contain them. Per shard they are a
 * sorted vector of (info-hash, seeders, leechers) beside the table, empty unless browsers
 * use that shard. */
struct store_ws_in {
    const uint8_t *info_hash;     /* 20 bytes */
    int seeders, leechers;        /* changes: +1 joins, -1 leaves, +1/-1 a leecher finishing */
    bool completed;               /* a WebSocket peer finished downloading: completed += 1 */
    uint32_t now;
};
/* Apply one change under the shard lock. A join (seeders + leechers > 0) is refused like a
 * new peer (*refused set, nothing changed): past max_peers (all peers of the torrent), past
 * the memory budget, or when it would create a torrent past max_torrents or 15/16 of the
 * budget. Counts never go below zero. A torrent lives while it has WebSocket peers; after
 * the last one leaves it stays like any empty torrent (for its completed count). false
 * only on allocation failure (nothing changed). */
bool store_ws_update(store_t *s, const struct store_ws_in *in, enum store_refusal *refused);

/* Counts of one torrent; false (counts zeroed) when unknown. */
bool store_scrape(store_t *s, const uint8_t *info_hash, struct swarm_counts *out);

/* A hint before a batch of requests for these n info-hashes (n <= STORE_PREFETCH_MAX): starts
 * loading their shards', table slots' and peer vectors' cache lines, so the announces and
 * scrapes that follow find them there. Changes nothing; takes each shard lock briefly. */
#define STORE_PREFETCH_MAX 64
void store_prefetch(store_t *s, const uint8_t *const *info_hashes, unsigned n);

/* Incremental expiry: visit the next `nshards` shards (round-robin cursor), drop peers older
 * than peer_timeout, free empty torrents (those with completed > 0 after torrent_keep).
 * Called from one housekeeping thread. Returns the number of shards in the table. */
unsigned store_expire_step(store_t *s, uint32_t now, unsigned nshards);

/* Visit every torrent, shard by shard, each shard locked only while visited. The callback
 * must not call into the store. */
typedef void (*store_visit_fn)(void *ctx, const uint8_t *info_hash,
                               const struct swarm_counts *counts);
void store_foreach(store_t *s, store_visit_fn fn, void *ctx);

/* One torrent's counts, as store_list_sorted returns them. */
struct store_entry {
    uint8_t hash[INFO_HASH_LEN];
    struct swarm_counts c;
};

/* Every torrent's counts, sorted by info-hash (what full-scrape style replies need), in a
 * malloc'ed array of *n entries that the caller frees. Built with store_foreach, so shards
 * are locked one at a time. NULL on allocation failure. */
struct store_entry *store_list_sorted(store_t *s, size_t *n);

struct store_stats {
    uint64_t torrents;
    uint64_t peers4, peers6;
    uint64_t peers_ws;            /* WebSocket peers (store_ws_update), in seeders/leechers */
    uint64_t seeders, leechers;
    uint64_t bytes;               /* memory held by the store's own allocations */
};
void store_get_stats(store_t *s, struct store_stats *out);

/* Memory accounting for the caps, without taking any lock: the store's bytes (as
 * store_stats.bytes) and torrent count, kept as atomic running totals that every insert and
 * removal path in store.c updates under its shard lock. Any other code that adds or removes
 * torrents or peers must go through those paths (or keep the totals itself). */
uint64_t store_memory(store_t *s);
uint64_t store_torrents(store_t *s);

/* Memory held outside the store on account of its contents (the full-scrape cache: its size
 * follows the torrent count): delta bytes added to (or, negative, taken from) what the
 * max_bytes budget counts, so that the budget bounds both. Lock-free; any thread. */
void store_charge_external(store_t *s, int64_t delta);
/* What the budget is checked against: store_memory() plus the external charges. */
uint64_t store_budget_used(store_t *s);

/* Verify every internal invariant (counts equal the peers present, no peer twice, seeders <=
 * peers, memory accounting consistent). For tests and fuzzers; locks each shard in turn.
 * false with a message in err on the first violation. */
bool store_check(store_t *s, char *err, size_t errlen);

#endif
