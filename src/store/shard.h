/* shard.h - one shard's innards, lent to the store's side modules (store/ only).
 *
 * store.c owns the shards; snapshot.c (state file export/import) and remote.c (cluster
 * deltas) reach them through these few calls instead of seeing struct store.
 * store_shard_lock returns the shard's table and tally with its mutex held; the caller must call store_shard_unlock with the same index
 * and must not call any other store function in between. */
#ifndef SWARMD_STORE_SHARD_H
#define SWARMD_STORE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "store/table.h"
#include "store/torrent.h"

unsigned store_shard_count(const store_t *s);
/* The shard an info-hash hashes to; *h receives the hash for table calls. */
unsigned store_shard_of(const store_t *s, const uint8_t *info_hash, uint64_t *h);
struct table *store_shard_lock(store_t *s, unsigned i, struct tally **tl);
void store_shard_unlock(store_t *s, unsigned i);
const uint8_t *store_hash_key(const store_t *s);
uint32_t store_peer_timeout(const store_t *s);
uint32_t store_torrent_keep(const store_t *s);
/* The caps as store_announce applies them (for remote.c): may a torrent be created (t NULL),
 * or a new peer join t (WebSocket peers count too)? Called with shard si locked. */
enum store_refusal store_cap_check(store_t *s, unsigned si, const struct torrent *t);
/* Whether t (in locked shard si) is worth no slot any more: no peers of either kind and
 * nothing ever completed. Whoever removes a peer frees such a torrent with table_del. */
bool store_torrent_useless(store_t *s, unsigned si, const struct torrent *t);
/* Cache hints for a batch of records (remote.c): stage 0 fetches shard si's header line,
 * stage 1 the home slot of hash h in its table. Reads the table pointer without the lock:
 * a stale value only makes the hint useless (a prefetch never faults). */
void store_shard_prefetch(const store_t *s, unsigned si, uint64_t h, int stage);

#endif
