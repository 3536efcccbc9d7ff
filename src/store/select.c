/* select.c - a random subset of a swarm's peers for one announce reply.
 *
 * The candidates are the m peers of the view other than the announcer, numbered 0..m-1 by
 * skipping the announcer's index. We walk them along an arithmetic progression modulo m with
 * a random start and a random stride coprime to m: that visits every candidate exactly once
 * in a scrambled order, costs O(1) per peer taken and needs no scratch memory, and every
 * candidate is equally likely to be among the first k visited (the start is uniform). A plain
 * random-start window would instead hand out runs of address-neighbours together.
 *
 * Leechers first (the announcer seeds): one walk keeps leechers until it has min(k, leechers),
 * a second keeps seeders for the slots left. Each walk stops after at most 16k + 1024 steps,
 * so a seeder announcing to a huge swarm of seeders with a handful of leechers does not scan
 * the whole vector under the lock: swarms up to that size get the exact preference, larger
 * ones a best effort. */
#include "store/select.h"

#include "util/rng.h"

static uint32_t gcd32(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A random stride in [1, m) coprime to m (1 when m <= 2). */
static uint32_t random_stride(uint32_t m, uint64_t *rng)
{
    if (m <= 2)
        return 1;
    uint32_t s = 1 + rng_below(rng, m - 1);
    while (gcd32(s, m) != 1)
        s = s + 1 == m ? 1 : s + 1;
    return s;
}

/* Walk on from *j, writing every candidate visited at out[got] but keeping it (got += 1)
 * only when its seeder flag equals `seeders`: no unpredictable branch per peer. Stops at
 * `until` kept or after `budget` steps. */
static uint32_t walk_kind(const struct peer_view *v, uint32_t self, uint32_t m, uint32_t *j,
                          uint32_t stride, bool seeders, uint32_t got, uint32_t until,
                          uint64_t budget, uint8_t *out, size_t rs)
{
    for (uint64_t step = 0; step < budget && got < until; step++) {
        uint32_t idx = *j >= self ? *j + 1 : *j;
        view_pack(v, idx, out + got * rs);
        got += view_is_seeder(v, idx) == seeders;
        *j += stride;
        if (*j >= m)
            *j -= m;
    }
    return got;
}

unsigned select_peers(const struct peer_view *v, uint32_t self, unsigned k, bool leechers_first,
                      uint8_t *out, uint64_t *rng)
{
    uint32_t m = v->n - (self != PEER_NONE ? 1 : 0);
    if (k == 0 || m == 0)
        return 0;
    size_t rs = v->v6 ? 18 : 6;
    uint32_t want = k < m ? (uint32_t)k : m;
    uint32_t j = rng_below(rng, m), stride = random_stride(m, rng);

    uint32_t leechers = v->n - v->seeds;
    if (self != PEER_NONE && !view_is_seeder(v, self))
        leechers--;
    /* Preference only matters when some candidates are left out and both kinds exist. */
    if (!leechers_first || want == m || leechers == 0 || leechers == m) {
        for (uint32_t c = 0; c < want; c++) {
            uint32_t idx = j >= self ? j + 1 : j;
            view_pack(v, idx, out + c * rs);
            j += stride;
            if (j >= m)
                j -= m;
        }
        return want;
    }

    /* Two walks: leechers, then (from a fresh random start) seeders for what is left. */
    uint64_t budget = (uint64_t)want * 16 + 1024;
    if (budget > m)
        budget = m;
    uint32_t got = walk_kind(v, self, m, &j, stride, false, 0, want < leechers ? want : leechers,
                             budget, out, rs);
    if (got < want) {
        j = rng_below(rng, m);
        got = walk_kind(v, self, m, &j, stride, true, got, want, budget, out, rs);
    }
    return got;
}
