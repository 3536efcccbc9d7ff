/* conn_limit.h - open connections per source address, shared by every worker.
 *
 * A fixed array of atomic counters indexed by a keyed hash of the address (port ignored):
 * no lock, no allocation per connection, and memory that does not grow with the number of
 * addresses a flood uses. Two addresses that share a bucket share its cap, which with the
 * default 65536 buckets only matters to an address already near the cap. Thread-safe. */
#ifndef SWARMD_CONN_LIMIT_H
#define SWARMD_CONN_LIMIT_H

#include <stdint.h>

#include "util/addr.h"

struct conn_limit;

/* max_per_addr 0 = no cap (acquire always succeeds). NULL on allocation failure. */
struct conn_limit *conn_limit_new(unsigned max_per_addr);
void conn_limit_free(struct conn_limit *cl);

/* Take one connection slot for a; returns a ticket for conn_limit_release, or 0 when a
 * already holds max_per_addr connections (nothing taken). */
uint32_t conn_limit_acquire(struct conn_limit *cl, const struct peer_addr *a);
void conn_limit_release(struct conn_limit *cl, uint32_t ticket);

#endif
