/* ring.h - a bounded single-producer single-consumer ring of peer deltas.
 *
 * One ring per worker thread: the worker (producer) pushes the deltas its announces must
 * publish, the sync-out thread (consumer) pops them. Lock-free: the producer alone writes
 * head, the consumer alone writes tail, each published with release stores and read with
 * acquire loads, so a slot is never read before it is written nor overwritten before it was
 * read. A full ring refuses the push (the caller counts the drop): a worker never waits. */
#ifndef SWARMD_CLUSTER_RING_H
#define SWARMD_CLUSTER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* One delta as it waits in a ring; the batch codec turns it into a 27- or 39-byte record. */
struct cluster_delta {
    uint8_t info_hash[INFO_HASH_LEN];
    uint8_t op;       /* batch record op bits (family, stop, seeding, completed) */
    uint8_t pad;
    uint16_t port;    /* host order */
    uint8_t addr[16]; /* 4 bytes used for IPv4 */
};

struct cluster_ring {
    _Alignas(64) uint64_t head;   /* next slot the producer writes (producer only) */
    _Alignas(64) uint64_t tail;   /* next slot the consumer reads (consumer only) */
    _Alignas(64) uint64_t dropped; /* pushes refused because the ring was full (producer) */
    uint32_t mask;
    struct cluster_delta *slots;
};

/* capacity is rounded up to a power of two (at least 2). false on allocation failure. */
bool cluster_ring_init(struct cluster_ring *r, uint32_t capacity);
void cluster_ring_free(struct cluster_ring *r);

/* Producer: false (and dropped += 1) when full. */
bool cluster_ring_push(struct cluster_ring *r, const struct cluster_delta *d);
/* Consumer: copy up to max deltas out; returns how many. */
size_t cluster_ring_pop(struct cluster_ring *r, struct cluster_delta *out, size_t max);
/* Pushes refused so far (any thread, relaxed). */
uint64_t cluster_ring_dropped(const struct cluster_ring *r);

#endif
