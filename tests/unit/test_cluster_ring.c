/* test_cluster_ring.c - the per-worker SPSC delta ring (src/cluster/ring.c): order, the
 * bound (a full ring refuses and counts), wrap-around, and one producer thread against one
 * consumer thread handing over a million deltas without loss, duplication or reordering. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cluster/ring.h"

static struct cluster_delta delta(uint32_t n)
{
    struct cluster_delta d;
    memset(&d, 0, sizeof d);
    memcpy(d.info_hash, &n, sizeof n);
    d.port = (uint16_t)n;
    d.op = (uint8_t)(n & 0x0f);
    return d;
}

static uint32_t number(const struct cluster_delta *d)
{
    uint32_t n;
    memcpy(&n, d->info_hash, sizeof n);
    return n;
}

TEST(fifo_and_bound)
{
    struct cluster_ring r;
    CHECK(cluster_ring_init(&r, 5)); /* rounded up to 8 */
    struct cluster_delta out[16];
    CHECK_EQ_INT(cluster_ring_pop(&r, out, 16), 0);
    for (uint32_t i = 0; i < 8; i++) {
        struct cluster_delta d = delta(i);
        CHECK(cluster_ring_push(&r, &d));
    }
    struct cluster_delta extra = delta(99);
    CHECK(!cluster_ring_push(&r, &extra));
    CHECK(!cluster_ring_push(&r, &extra));
    CHECK_EQ_INT(cluster_ring_dropped(&r), 2);
    CHECK_EQ_INT(cluster_ring_pop(&r, out, 3), 3);
    for (uint32_t i = 0; i < 3; i++)
        CHECK_EQ_INT(number(&out[i]), i);
    /* Room again: the next pushes wrap around the slot array. */
    for (uint32_t i = 8; i < 11; i++) {
        struct cluster_delta d = delta(i);
        CHECK(cluster_ring_push(&r, &d));
    }
    CHECK_EQ_INT(cluster_ring_pop(&r, out, 16), 8);
    for (uint32_t i = 0; i < 8; i++) {
        CHECK_EQ_INT(number(&out[i]), i + 3);
        CHECK_EQ_INT(out[i].port, (uint16_t)(i + 3));
    }
    CHECK_EQ_INT(cluster_ring_pop(&r, out, 16), 0);
    CHECK_EQ_INT(cluster_ring_dropped(&r), 2);
    cluster_ring_free(&r);
}

#define HANDOVER 1000000u

static void *producer(void *arg)
{
    struct cluster_ring *r = arg;
    for (uint32_t i = 0; i < HANDOVER;) {
        struct cluster_delta d = delta(i);
        if (cluster_ring_push(r, &d))
            i++;
    }
    return NULL;
}

TEST(threads_hand_over_everything_in_order)
{
    struct cluster_ring r;
    CHECK(cluster_ring_init(&r, 64));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, producer, &r) == 0);
    uint32_t next = 0;
    int bad = 0;
    struct cluster_delta out[32];
    while (next < HANDOVER) {
        size_t n = cluster_ring_pop(&r, out, 32);
        for (size_t i = 0; i < n; i++) {
            if (number(&out[i]) != next || out[i].port != (uint16_t)next)
                bad++;
            next++;
        }
    }
    pthread_join(t, NULL);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(next, HANDOVER);
    /* The producer retried on every refusal, each of them counted. */
    CHECK_EQ_INT(cluster_ring_pop(&r, out, 32), 0);
    cluster_ring_free(&r);
}

int main(void)
{
    RUN(fifo_and_bound);
    RUN(threads_hand_over_everything_in_order);
    return CHECK_DONE();
}
