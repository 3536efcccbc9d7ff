/* ring.c - the SPSC delta ring (see ring.h for the memory-order argument).
 *
 * head and tail count up forever (64 bits never wrap in practice); the slot is the count
 * masked by capacity - 1, and head - tail is the fill. Each side keeps its own index on its
 * own cache line so the two threads only share a line when they actually hand over data. */
#include "cluster/ring.h"

#include <stdlib.h>
#include <string.h>

bool cluster_ring_init(struct cluster_ring *r, uint32_t capacity)
{
    uint32_t cap = 2;
    while (cap < capacity && cap < (1u << 30))
        cap <<= 1;
    memset(r, 0, sizeof *r);
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots)
        return false;
    r->mask = cap - 1;
    return true;
}

void cluster_ring_free(struct cluster_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

bool cluster_ring_push(struct cluster_ring *r, const struct cluster_delta *d)
{
    uint64_t head = r->head; /* only this thread writes it */
    uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (head - tail > r->mask) {
        __atomic_store_n(&r->dropped, r->dropped + 1, __ATOMIC_RELAXED);
        return false;
    }
    r->slots[head & r->mask] = *d;
    __atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
    return true;
}

size_t cluster_ring_pop(struct cluster_ring *r, struct cluster_delta *out, size_t max)
{
    uint64_t tail = r->tail; /* only this thread writes it */
    uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    size_t n = 0;
    while (tail != head && n < max)
        out[n++] = r->slots[tail++ & r->mask];
    __atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
    return n;
}

uint64_t cluster_ring_dropped(const struct cluster_ring *r)
{
    return __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
}
