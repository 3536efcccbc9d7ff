/* conn_limit.c - per-address connection counting with a hashed array of atomic counters.
 *
 * The hash is SipHash under a random key, so a client cannot pick addresses that collide
 * with a victim's bucket and lock it out. A ticket is bucket index + 1 (0 means refused). */
#include "net/conn_limit.h"

#include <stdlib.h>
#include <string.h>

#include "util/rng.h"
#include "util/siphash.h"

#define CONN_LIMIT_BUCKETS_LOG2 16

struct conn_limit {
    unsigned max;
    uint8_t key[16];
    uint32_t count[1u << CONN_LIMIT_BUCKETS_LOG2];
};

struct conn_limit *conn_limit_new(unsigned max_per_addr)
{
    struct conn_limit *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->max = max_per_addr;
    if (!rng_os_bytes(cl->key, sizeof cl->key)) {
        /* Still a working limiter, only collisions become predictable. */
        memset(cl->key, 0x5a, sizeof cl->key);
    }
    return cl;
}

void conn_limit_free(struct conn_limit *cl)
{
    free(cl);
}

uint32_t conn_limit_acquire(struct conn_limit *cl, const struct peer_addr *a)
{
    uint8_t k[17];
    k[0] = a->family;
    memcpy(k + 1, a->ip, 16);
    uint32_t i = (uint32_t)(siphash24(cl->key, k, sizeof k) >> (64 - CONN_LIMIT_BUCKETS_LOG2));
    uint32_t was = __atomic_fetch_add(&cl->count[i], 1, __ATOMIC_RELAXED);
    if (cl->max && was >= cl->max) {
        __atomic_fetch_sub(&cl->count[i], 1, __ATOMIC_RELAXED);
        return 0;
    }
    return i + 1;
}

void conn_limit_release(struct conn_limit *cl, uint32_t ticket)
{
    if (ticket)
        __atomic_fetch_sub(&cl->count[ticket - 1], 1, __ATOMIC_RELAXED);
}
