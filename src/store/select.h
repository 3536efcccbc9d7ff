/* select.h - choosing the peers of an announce reply from one family's vector (store/ only).
 *
 * Pure: reads a peer_view, writes packed peers, advances the caller's PRNG. Runs under the
 * shard lock, so its work is bounded (see select.c). */
#ifndef SWARMD_STORE_SELECT_H
#define SWARMD_STORE_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/torrent.h"

/* Write up to k peers of v (6 or 18 bytes each) to out, never index self (PEER_NONE: no
 * exclusion), a random subset when there are more than k. leechers_first: fill with leechers
 * before any seeder. Returns the number written. */
unsigned select_peers(const struct peer_view *v, uint32_t self, unsigned k, bool leechers_first,
                      uint8_t *out, uint64_t *rng);

#endif
