/* table.h - one shard's hash table of torrents (store/ only).
 *
 * Open addressing with Robin Hood probing and backward-shift deletion: torrents live inline
 * in the slot array (no allocation per torrent, no tombstones), a lookup is O(1) and stops
 * early at a slot closer to its home than the probe. The home slot is the keyed hash's low
 * 32 bits scaled to the capacity (multiply-shift), so capacities need not be powers of two and
 * grow by 1.25x, keeping the load between 0.7 and 0.875. Caller holds the shard lock. */
#ifndef SWARMD_STORE_TABLE_H
#define SWARMD_STORE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/torrent.h"

struct table {
    struct torrent *slots;
    uint32_t cap, count;
};

/* The keyed hash of an info-hash: shard from the top bits, home slot from the low 32. */
uint64_t table_hash(const uint8_t key[16], const uint8_t *info_hash);
/* Home slot of a hash in a table of cap slots (cap > 0). */
static inline uint32_t table_home(uint32_t cap, uint64_t h)
{
    return (uint32_t)(((uint64_t)(uint32_t)h * cap) >> 32);
}

struct torrent *table_find(const struct table *tb, uint64_t h, const uint8_t *info_hash);
/* Add a torrent known to be absent: zeroed but for its hash. May grow the table (rehashing
 * with key); NULL when out of memory. Pointers into the table are invalid afterwards. */
struct torrent *table_add(struct table *tb, uint64_t h, const uint8_t *info_hash,
                          const uint8_t key[16], struct tally *tl);
/* Remove a torrent whose peers were already cleared. Entries after it move back one slot. */
void table_del(struct table *tb, struct torrent *t);
/* Give memory back after many deletions (or all of it when empty). */
void table_shrink(struct table *tb, const uint8_t key[16], struct tally *tl);
/* Free the slot array (the torrents' blocks must have been freed). */
void table_free(struct table *tb, struct tally *tl);

#endif
