/* torrent.c - the peers of one swarm: packing, sorted vectors, growth and shrinking, expiry.
 *
 * Layout and packing are described in torrent.h. Vectors are sorted by (address, port) so a
 * peer is found by binary search; capacities follow a fixed table of size classes so the slot
 * only needs one byte per family to know its block's size, and growth is geometric (x1.25)
 * with fine steps for the small swarms that are the vast majority. */
#include "store/torrent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Capacities of the size classes. Steps of 2 up to 16 peers (a v4 block of 8 + 8n bytes with
 * n even is exactly a malloc chunk, so small swarms waste nothing), then x1.25 rounded to even.
 * The last class bounds a swarm at ~20.9M peers per family. */
static const uint32_t class_cap[] = {
    0,        1,        2,        4,       6,       8,       10,      12,      14,      16,
    20,       26,       32,       40,      50,      62,      78,      98,      122,     152,
    190,      238,      298,      372,     466,     582,     728,     910,     1138,    1422,
    1778,     2222,     2778,     3472,    4340,    5426,    6782,    8478,    10598,   13248,
    16560,    20700,    25876,    32346,   40432,   50540,   63176,   78970,   98712,   123390,
    154238,   192798,   240998,   301248,  376560,  470700,  588376,  735470,  919338,  1149172,
    1436466,  1795582,  2244478,  2805598, 3506998, 4383748, 5479686, 6849608, 8562010, 10702512,
    13378140, 16722676, 20903346,
};
#define NCLASSES ((unsigned)(sizeof class_cap / sizeof class_cap[0]))

/* Count and seeders of one family's vector, at the head of its part of the block. */
struct vhdr {
    uint32_t n, seeds;
};

/* Smallest class holding n peers (n <= the last capacity). */
static unsigned class_fit(uint32_t n)
{
    unsigned lo = 0, hi = NCLASSES - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (class_cap[mid] >= n)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Class after removals. Shrink only once the count fell below the capacity two classes down,
 * and then keep one class of headroom: a peer joining and leaving at a class boundary must
 * not cause a realloc each time. */
static unsigned class_after_shrink(unsigned cls, uint32_t n)
{
    if (n == 0)
        return 0;
    if (cls >= 2 && n < class_cap[cls - 2])
        return class_fit(n) + 1;
    return cls;
}

static inline size_t off6(unsigned cls4)
{
    return sizeof(struct vhdr) + (size_t)class_cap[cls4] * V4_PEER_SIZE;
}

static size_t block_size(unsigned cls4, unsigned cls6)
{
    size_t size = off6(cls4);
    if (cls6)
        size += sizeof(struct vhdr) + (size_t)class_cap[cls6] * V6_PEER_SIZE;
    return size;
}

/* The block comes from malloc (16-aligned) and every part starts at a multiple of 8. */
static inline struct vhdr *hdr4(const struct torrent *t)
{
    return (struct vhdr *)(void *)t->u.blk;
}

static inline uint64_t *vec4(const struct torrent *t)
{
    return (uint64_t *)(void *)(t->u.blk + sizeof(struct vhdr));
}

static inline struct vhdr *hdr6(const struct torrent *t)
{
    return (struct vhdr *)(void *)(t->u.blk + off6(t->cls4));
}

static inline uint8_t *vec6(const struct torrent *t)
{
    return t->u.blk + off6(t->cls4) + sizeof(struct vhdr);
}

static inline uint16_t make_stamp(uint32_t now, bool seeder)
{
    return (uint16_t)((now & STAMP_MASK) | (seeder ? STAMP_SEEDER : 0));
}

/* Seconds since the stamp, modulo 32768 (see torrent.h). Workers and the housekeeping
 * thread read the clock at different moments, so a stamp may be a little ahead of the `now`
 * expiring it: such a "negative" age (within STAMP_AHEAD) counts as 0, not as ~32767. */
static inline uint32_t stamp_age(uint32_t now, uint16_t stamp)
{
    uint32_t age = (now - stamp) & STAMP_MASK;
    return age > STAMP_MASK - STAMP_AHEAD ? 0 : age;
}

static inline uint64_t v4_key(const struct peer_addr *a)
{
    return (uint64_t)a->ip[0] << 56 | (uint64_t)a->ip[1] << 48 | (uint64_t)a->ip[2] << 40 |
           (uint64_t)a->ip[3] << 32 | (uint64_t)a->port << 16;
}

static inline void v6_key(const struct peer_addr *a, uint8_t key[V6_KEY_SIZE])
{
    memcpy(key, a->ip, 16);
    key[16] = (uint8_t)(a->port >> 8);
    key[17] = (uint8_t)a->port;
}

static inline uint16_t v6_stamp(const uint8_t *rec)
{
    uint16_t st;
    memcpy(&st, rec + V6_KEY_SIZE, 2);
    return st;
}

/* Binary search: index of the peer with this key, or where it would be inserted. */
static uint32_t search4(const uint64_t *v, uint32_t n, uint64_t key, bool *found)
{
    uint32_t lo = 0, hi = n;
    key >>= 16;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t k = v[mid] >> 16;
        if (k == key) {
            *found = true;
            return mid;
        }
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static uint32_t search6(const uint8_t *v, uint32_t n, const uint8_t *key, bool *found)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(v + (size_t)mid * V6_PEER_SIZE, key, V6_KEY_SIZE);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static inline void count_add(uint32_t *c, bool now_on, bool was_on)
{
    if (now_on && !was_on)
        (*c)++;
    else if (!now_on && was_on)
        (*c)--;
}

static inline void tally_seed(struct tally *tl, bool now_on, bool was_on)
{
    if (now_on && !was_on)
        tl->seeders++;
    else if (!now_on && was_on)
        tl->seeders--;
}

struct peer_view torrent_view(const struct torrent *t, bool v6)
{
    struct peer_view v = {NULL, 0, 0, v6};
    if (!v6) {
        if (t->kind == TORRENT_INLINE) {
            v.p = (const uint8_t *)&t->u.one;
            v.n = 1;
            v.seeds = (t->u.one & STAMP_SEEDER) ? 1 : 0;
        } else if (t->kind == TORRENT_BLOCK) {
            v.p = (const uint8_t *)vec4(t);
            v.n = hdr4(t)->n;
            v.seeds = hdr4(t)->seeds;
        }
    } else if (t->kind == TORRENT_BLOCK && t->cls6) {
        v.p = vec6(t);
        v.n = hdr6(t)->n;
        v.seeds = hdr6(t)->seeds;
    }
    return v;
}

uint32_t torrent_find_peer(const struct torrent *t, const struct peer_addr *a)
{
    bool found;
    uint32_t i;
    if (a->family == ADDR_V4) {
        if (t->kind == TORRENT_INLINE)
            return (t->u.one >> 16) == (v4_key(a) >> 16) ? 0 : PEER_NONE;
        if (t->kind != TORRENT_BLOCK)
            return PEER_NONE;
        i = search4(vec4(t), hdr4(t)->n, v4_key(a), &found);
    } else {
        uint8_t key[V6_KEY_SIZE];
        if (t->kind != TORRENT_BLOCK || !t->cls6)
            return PEER_NONE;
        v6_key(a, key);
        i = search6(vec6(t), hdr6(t)->n, key, &found);
    }
    return found ? i : PEER_NONE;
}

/* Give a TORRENT_EMPTY or TORRENT_INLINE torrent a block of the given classes (the inline
 * peer, if any, moves into it). */
static bool to_block(struct torrent *t, unsigned cls4, unsigned cls6, struct tally *tl)
{
    size_t size = block_size(cls4, cls6);
    uint8_t *b = malloc(size);
    if (!b)
        return false;
    struct vhdr h = {0, 0};
    if (t->kind == TORRENT_INLINE) {
        h.n = 1;
        h.seeds = (t->u.one & STAMP_SEEDER) ? 1 : 0;
        memcpy(b + sizeof h, &t->u.one, V4_PEER_SIZE);
    }
    memcpy(b, &h, sizeof h);
    if (cls6)
        memset(b + off6(cls4), 0, sizeof(struct vhdr));
    t->u.blk = b;
    t->kind = TORRENT_BLOCK;
    t->cls4 = (uint8_t)cls4;
    t->cls6 = (uint8_t)cls6;
    tl->bytes += size;
    return true;
}

/* Change a block's classes in place (realloc), moving the v6 part when the v4 part's size
 * changes. On failure nothing changed; a failed shrink just keeps the larger block. */
static bool reshape(struct torrent *t, unsigned ncls4, unsigned ncls6, struct tally *tl)
{
    size_t osize = block_size(t->cls4, t->cls6), nsize = block_size(ncls4, ncls6);
    size_t ooff = off6(t->cls4), noff = off6(ncls4);
    size_t live6 = 0;
    uint8_t *b = t->u.blk, *nb;

    if (t->cls6 && ncls6)
        live6 = sizeof(struct vhdr) + (size_t)hdr6(t)->n * V6_PEER_SIZE;
    if (noff <= ooff) {
        if (live6 && noff != ooff)
            memmove(b + noff, b + ooff, live6);
        nb = realloc(b, nsize);
        if (!nb) {
            if (nsize > osize) {
                if (live6 && noff != ooff)
                    memmove(b + ooff, b + noff, live6);
                return false;
            }
            nb = b; /* a failed shrink: the old, larger block holds the new layout */
        }
    } else {
        nb = realloc(b, nsize);
        if (!nb)
            return false;
        if (live6)
            memmove(nb + noff, nb + ooff, live6);
    }
    if (ncls6 && !t->cls6)
        memset(nb + noff, 0, sizeof(struct vhdr));
    tl->bytes = tl->bytes - osize + nsize;
    t->u.blk = nb;
    t->cls4 = (uint8_t)ncls4;
    t->cls6 = (uint8_t)ncls6;
    return true;
}

/* After peers left a block: fall back to inline or empty when that is enough, else shrink
 * the vectors that became much too big. */
static void normalize(struct torrent *t, struct tally *tl)
{
    uint32_t n4 = hdr4(t)->n, n6 = t->cls6 ? hdr6(t)->n : 0;
    if (n6 == 0 && n4 <= 1) {
        uint64_t one = n4 ? vec4(t)[0] : 0;
        tl->bytes -= block_size(t->cls4, t->cls6);
        free(t->u.blk);
        t->kind = n4 ? TORRENT_INLINE : TORRENT_EMPTY;
        t->u.one = one;
        t->cls4 = t->cls6 = 0;
        return;
    }
    unsigned c4 = class_after_shrink(t->cls4, n4);
    unsigned c6 = n6 ? class_after_shrink(t->cls6, n6) : 0;
    if (c4 != t->cls4 || c6 != t->cls6)
        reshape(t, c4, c6, tl);
}

static bool put4(struct torrent *t, const struct peer_addr *a, bool seeder, uint16_t st,
                 struct tally *tl, int *prev)
{
    uint64_t rec = v4_key(a) | st;

    if (t->kind == TORRENT_EMPTY) {
        t->kind = TORRENT_INLINE;
        t->u.one = rec;
        tl->peers4++;
        tally_seed(tl, seeder, false);
        *prev = -1;
        return true;
    }
    if (t->kind == TORRENT_INLINE) {
        if ((t->u.one >> 16) == (rec >> 16)) {
            bool was = (t->u.one & STAMP_SEEDER) != 0;
            t->u.one = rec;
            tally_seed(tl, seeder, was);
            *prev = was;
            return true;
        }
        if (!to_block(t, class_fit(2), 0, tl))
            return false;
    }

    struct vhdr *h = hdr4(t);
    uint64_t *v = vec4(t);
    bool found;
    uint32_t i = search4(v, h->n, rec, &found);
    if (found) {
        bool was = (v[i] & STAMP_SEEDER) != 0;
        v[i] = rec;
        count_add(&h->seeds, seeder, was);
        tally_seed(tl, seeder, was);
        *prev = was;
        return true;
    }
    if (h->n == class_cap[t->cls4]) {
        if (t->cls4 + 1u >= NCLASSES || !reshape(t, t->cls4 + 1u, t->cls6, tl))
            return false;
        h = hdr4(t);
        v = vec4(t);
    }
    memmove(v + i + 1, v + i, (size_t)(h->n - i) * V4_PEER_SIZE);
    v[i] = rec;
    h->n++;
    count_add(&h->seeds, seeder, false);
    tl->peers4++;
    tally_seed(tl, seeder, false);
    *prev = -1;
    return true;
}

static bool put6(struct torrent *t, const struct peer_addr *a, bool seeder, uint16_t st,
                 struct tally *tl, int *prev)
{
    uint8_t rec[V6_PEER_SIZE];
    v6_key(a, rec);
    memcpy(rec + V6_KEY_SIZE, &st, 2);

    if (t->kind != TORRENT_BLOCK) {
        if (!to_block(t, t->kind == TORRENT_INLINE ? class_fit(1) : 0, class_fit(1), tl))
            return false;
    } else if (!t->cls6) {
        if (!reshape(t, t->cls4, class_fit(1), tl))
            return false;
    }

    struct vhdr *h = hdr6(t);
    uint8_t *v = vec6(t);
    bool found;
    uint32_t i = search6(v, h->n, rec, &found);
    if (found) {
        bool was = (v6_stamp(v + (size_t)i * V6_PEER_SIZE) & STAMP_SEEDER) != 0;
        memcpy(v + (size_t)i * V6_PEER_SIZE + V6_KEY_SIZE, &st, 2);
        count_add(&h->seeds, seeder, was);
        tally_seed(tl, seeder, was);
        *prev = was;
        return true;
    }
    if (h->n == class_cap[t->cls6]) {
        if (t->cls6 + 1u >= NCLASSES || !reshape(t, t->cls4, t->cls6 + 1u, tl))
            return false;
        h = hdr6(t);
        v = vec6(t);
    }
    memmove(v + (size_t)(i + 1) * V6_PEER_SIZE, v + (size_t)i * V6_PEER_SIZE,
            (size_t)(h->n - i) * V6_PEER_SIZE);
    memcpy(v + (size_t)i * V6_PEER_SIZE, rec, V6_PEER_SIZE);
    h->n++;
    count_add(&h->seeds, seeder, false);
    tl->peers6++;
    tally_seed(tl, seeder, false);
    *prev = -1;
    return true;
}

bool torrent_put(struct torrent *t, const struct peer_addr *a, bool seeder, uint32_t now,
                 struct tally *tl, int *prev)
{
    uint16_t st = make_stamp(now, seeder);
    if (a->family == ADDR_V4)
        return put4(t, a, seeder, st, tl, prev);
    return put6(t, a, seeder, st, tl, prev);
}

bool torrent_del(struct torrent *t, const struct peer_addr *a, struct tally *tl)
{
    uint32_t i = torrent_find_peer(t, a);
    if (i == PEER_NONE)
        return false;
    if (a->family == ADDR_V4) {
        if (t->kind == TORRENT_INLINE) {
            tally_seed(tl, false, (t->u.one & STAMP_SEEDER) != 0);
            tl->peers4--;
            t->kind = TORRENT_EMPTY;
            t->u.one = 0;
            return true;
        }
        struct vhdr *h = hdr4(t);
        uint64_t *v = vec4(t);
        bool was = (v[i] & STAMP_SEEDER) != 0;
        memmove(v + i, v + i + 1, (size_t)(h->n - i - 1) * V4_PEER_SIZE);
        h->n--;
        count_add(&h->seeds, false, was);
        tally_seed(tl, false, was);
        tl->peers4--;
    } else {
        struct vhdr *h = hdr6(t);
        uint8_t *v = vec6(t);
        bool was = (v6_stamp(v + (size_t)i * V6_PEER_SIZE) & STAMP_SEEDER) != 0;
        memmove(v + (size_t)i * V6_PEER_SIZE, v + (size_t)(i + 1) * V6_PEER_SIZE,
                (size_t)(h->n - i - 1) * V6_PEER_SIZE);
        h->n--;
        count_add(&h->seeds, false, was);
        tally_seed(tl, false, was);
        tl->peers6--;
    }
    normalize(t, tl);
    return true;
}

void torrent_expire(struct torrent *t, uint32_t now, uint32_t timeout, struct tally *tl)
{
    if (t->kind == TORRENT_INLINE) {
        if (stamp_age(now, (uint16_t)t->u.one) > timeout) {
            tally_seed(tl, false, (t->u.one & STAMP_SEEDER) != 0);
            tl->peers4--;
            t->kind = TORRENT_EMPTY;
            t->u.one = 0;
        }
        return;
    }
    if (t->kind != TORRENT_BLOCK)
        return;

    bool changed = false;
    struct vhdr *h = hdr4(t);
    uint64_t *v = vec4(t);
    uint32_t w = 0, seeds = 0;
    for (uint32_t r = 0; r < h->n; r++) {
        if (stamp_age(now, (uint16_t)v[r]) > timeout)
            continue;
        seeds += (v[r] & STAMP_SEEDER) ? 1 : 0;
        v[w++] = v[r];
    }
    if (w != h->n) {
        tl->peers4 -= h->n - w;
        tl->seeders -= h->seeds - seeds;
        h->n = w;
        h->seeds = seeds;
        changed = true;
    }
    if (t->cls6) {
        struct vhdr *h6 = hdr6(t);
        uint8_t *v6 = vec6(t);
        w = seeds = 0;
        for (uint32_t r = 0; r < h6->n; r++) {
            const uint8_t *rec = v6 + (size_t)r * V6_PEER_SIZE;
            uint16_t st = v6_stamp(rec);
            if (stamp_age(now, st) > timeout)
                continue;
            seeds += (st & STAMP_SEEDER) ? 1 : 0;
            if (w != r)
                memcpy(v6 + (size_t)w * V6_PEER_SIZE, rec, V6_PEER_SIZE);
            w++;
        }
        if (w != h6->n) {
            tl->peers6 -= h6->n - w;
            tl->seeders -= h6->seeds - seeds;
            h6->n = w;
            h6->seeds = seeds;
            changed = true;
        }
    }
    if (changed)
        normalize(t, tl);
}

void torrent_clear(struct torrent *t, struct tally *tl)
{
    if (t->kind == TORRENT_INLINE) {
        tally_seed(tl, false, (t->u.one & STAMP_SEEDER) != 0);
        tl->peers4--;
    } else if (t->kind == TORRENT_BLOCK) {
        struct peer_view v4 = torrent_view(t, false), v6 = torrent_view(t, true);
        tl->peers4 -= v4.n;
        tl->peers6 -= v6.n;
        tl->seeders -= v4.seeds + v6.seeds;
        tl->bytes -= block_size(t->cls4, t->cls6);
        free(t->u.blk);
    }
    t->kind = TORRENT_EMPTY;
    t->u.one = 0;
    t->cls4 = t->cls6 = 0;
}

void torrent_counts(const struct torrent *t, struct swarm_counts *c)
{
    struct peer_view v4 = torrent_view(t, false), v6 = torrent_view(t, true);
    c->seeders = v4.seeds + v6.seeds;
    c->leechers = v4.n + v6.n - c->seeders;
    c->completed = t->completed;
}

#define FAIL(...)                                                                                 \
    do {                                                                                          \
        snprintf(err, errlen, __VA_ARGS__);                                                       \
        return false;                                                                             \
    } while (0)

bool torrent_check(const struct torrent *t, struct tally *sum, char *err, size_t errlen)
{
    if (t->kind == TORRENT_EMPTY) {
        if (t->cls4 || t->cls6)
            FAIL("empty torrent with size classes %u/%u", t->cls4, t->cls6);
        return true;
    }
    if (t->kind == TORRENT_INLINE) {
        if (t->cls4 || t->cls6)
            FAIL("inline torrent with size classes %u/%u", t->cls4, t->cls6);
        sum->peers4++;
        sum->seeders += (t->u.one & STAMP_SEEDER) ? 1 : 0;
        return true;
    }
    if (t->kind != TORRENT_BLOCK)
        FAIL("bad torrent kind %u", t->kind);
    if (t->cls4 >= NCLASSES || t->cls6 >= NCLASSES)
        FAIL("bad size classes %u/%u", t->cls4, t->cls6);

    struct peer_view v4 = torrent_view(t, false), v6 = torrent_view(t, true);
    if (v4.n > class_cap[t->cls4])
        FAIL("%u v4 peers in capacity %u", v4.n, class_cap[t->cls4]);
    if (v4.n == 0 && t->cls4)
        FAIL("no v4 peers but v4 class %u", t->cls4);
    if (t->cls6 && v6.n == 0)
        FAIL("empty v6 part kept (class %u)", t->cls6);
    if (v6.n > class_cap[t->cls6])
        FAIL("%u v6 peers in capacity %u", v6.n, class_cap[t->cls6]);
    if (v6.n == 0 && v4.n <= 1)
        FAIL("block holding %u peers should be inline or empty", v4.n);

    const uint64_t *p4 = (const uint64_t *)(const void *)v4.p;
    uint32_t seeds = 0;
    for (uint32_t i = 0; i < v4.n; i++) {
        if (i > 0 && (p4[i - 1] >> 16) >= (p4[i] >> 16))
            FAIL("v4 peers out of order or repeated at %u", i);
        seeds += (p4[i] & STAMP_SEEDER) ? 1 : 0;
    }
    if (seeds != v4.seeds)
        FAIL("v4 seeders %u, counted %u", v4.seeds, seeds);
    seeds = 0;
    for (uint32_t i = 0; i < v6.n; i++) {
        const uint8_t *rec = v6.p + (size_t)i * V6_PEER_SIZE;
        if (i > 0 && memcmp(rec - V6_PEER_SIZE, rec, V6_KEY_SIZE) >= 0)
            FAIL("v6 peers out of order or repeated at %u", i);
        seeds += (v6_stamp(rec) & STAMP_SEEDER) ? 1 : 0;
    }
    if (seeds != v6.seeds)
        FAIL("v6 seeders %u, counted %u", v6.seeds, seeds);

    sum->peers4 += v4.n;
    sum->peers6 += v6.n;
    sum->seeders += v4.seeds + v6.seeds;
    sum->bytes += block_size(t->cls4, t->cls6);
    return true;
}
