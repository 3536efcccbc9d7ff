/* snapshot.c - export of a shard's torrents as snap records, and import of saved torrents.
 *
 * Export converts each peer's 15-bit clock stamp into an age relative to `now`; import turns
 * ages back into stamps relative to the new process's clock, adding the downtime. The packed
 * peer vectors are sorted by (address, port), and export emits them in that order, so import
 * into a fresh store always appends at the end of a vector (no shifting). */
#include "store/snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "store/shard.h"
#include "store/table.h"
#include "store/torrent.h"

/* Seconds since a stamp, a stamp slightly ahead of now counting as 0 (see torrent.h). */
static inline uint32_t age_of(uint32_t now, uint16_t stamp)
{
    uint32_t age = (now - stamp) & STAMP_MASK;
    return age > STAMP_MASK - STAMP_AHEAD ? 0 : age;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

unsigned store_snapshot_shards(const store_t *s) { return store_shard_count(s); }

static bool scratch_fit(struct snap_scratch *sc, size_t need)
{
    if (need <= sc->cap)
        return true;
    size_t cap = sc->cap ? sc->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(sc->p, cap);
    if (!p)
        return false;
    sc->p = p;
    sc->cap = cap;
    return true;
}

/* Pack one torrent's peers into the scratch buffer as snap records. */
static bool pack_torrent(const struct torrent *t, uint32_t now, struct snap_scratch *sc,
                         struct snap_torrent *out)
{
    struct peer_view v4 = torrent_view(t, false), v6 = torrent_view(t, true);
    size_t need = (size_t)v4.n * SNAP_PEER4_SIZE + (size_t)v6.n * SNAP_PEER6_SIZE;
    if (!scratch_fit(sc, need ? need : 1))
        return false;
    uint8_t *w = sc->p;
    const uint64_t *p4 = (const uint64_t *)(const void *)v4.p;
    for (uint32_t i = 0; i < v4.n; i++, w += SNAP_PEER4_SIZE) {
        uint16_t st = (uint16_t)p4[i];
        view_pack(&v4, i, w);
        put_le16(w + 6, (uint16_t)(age_of(now, st) | (st & STAMP_SEEDER)));
    }
    for (uint32_t i = 0; i < v6.n; i++, w += SNAP_PEER6_SIZE) {
        const uint8_t *rec = v6.p + (size_t)i * V6_PEER_SIZE;
        uint16_t st;
        memcpy(&st, rec + V6_KEY_SIZE, 2);
        memcpy(w, rec, V6_KEY_SIZE);
        put_le16(w + V6_KEY_SIZE, (uint16_t)(age_of(now, st) | (st & STAMP_SEEDER)));
    }
    memcpy(out->info_hash, t->hash, INFO_HASH_LEN);
    out->completed = t->completed;
    int32_t idle = (int32_t)(now - t->active);
    out->idle = idle > 0 ? (uint32_t)idle : 0;
    out->n4 = v4.n;
    out->n6 = v6.n;
    out->peers4 = sc->p;
    out->peers6 = sc->p + (size_t)v4.n * SNAP_PEER4_SIZE;
    return true;
}

bool store_export_shard(store_t *s, unsigned i, uint32_t now, struct snap_scratch *scratch,
                        snap_torrent_fn fn, void *ctx)
{
    struct tally *tl;
    struct table *tb = store_shard_lock(s, i, &tl);
    bool ok = true;
    for (uint32_t j = 0; j < tb->cap && ok; j++) {
        const struct torrent *t = &tb->slots[j];
        struct snap_torrent st;
        if (!t->psl)
            continue;
        ok = pack_torrent(t, now, scratch, &st) && fn(ctx, &st);
    }
    store_shard_unlock(s, i);
    return ok;
}

/* Insert the records of one family; a peer already present keeps the fresher stamp. */
static bool import_family(struct torrent *t, const uint8_t *recs, uint32_t n, bool v6,
                          uint32_t now, uint32_t downtime, uint32_t timeout, struct tally *tl,
                          uint64_t *peers)
{
    size_t rs = v6 ? SNAP_PEER6_SIZE : SNAP_PEER4_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recs + (size_t)i * rs;
        struct peer_addr a;
        uint16_t v = get_le16(r + rs - 2);
        uint64_t age = (uint64_t)(v & SNAP_AGE_MASK) + downtime;
        if (age > timeout)
            continue;
        memset(&a, 0, sizeof a);
        a.family = v6 ? ADDR_V6 : ADDR_V4;
        memcpy(a.ip, r, v6 ? 16 : 4);
        a.port = (uint16_t)(r[rs - 4] << 8 | r[rs - 3]);
        uint32_t at = now - (uint32_t)age;
        uint32_t idx = torrent_find_peer(t, &a);
        if (idx != PEER_NONE) {
            struct peer_view pv = torrent_view(t, v6);
            uint16_t st;
            if (v6)
                memcpy(&st, pv.p + (size_t)idx * V6_PEER_SIZE + V6_KEY_SIZE, 2);
            else
                st = (uint16_t)((const uint64_t *)(const void *)pv.p)[idx];
            if (age_of(now, st) <= age)
                continue;
        }
        int prev;
        if (!torrent_put(t, &a, (v & SNAP_SEEDER) != 0, at, tl, &prev))
            return false;
        if (prev < 0 && peers)
            (*peers)++;
    }
    return true;
}

bool store_import_torrent(store_t *s, const struct snap_torrent *st, uint32_t now,
                          uint32_t downtime, uint64_t *peers)
{
    uint64_t h;
    unsigned si = store_shard_of(s, st->info_hash, &h);
    uint32_t timeout = store_peer_timeout(s), keep = store_torrent_keep(s);
    uint64_t idle = (uint64_t)st->idle + downtime;
    struct tally *tl;
    struct table *tb = store_shard_lock(s, si, &tl);
    struct torrent *t = table_find(tb, h, st->info_hash);
    bool ok = true;

    if (!t) {
        t = table_add(tb, h, st->info_hash, store_hash_key(s), tl);
        if (!t) {
            store_shard_unlock(s, si);
            return false;
        }
        if (idle > INT32_MAX)
            idle = INT32_MAX;
        t->active = now - (uint32_t)idle;
    } else if ((int32_t)(now - t->active) > (int64_t)idle) {
        t->active = now - (uint32_t)(idle > INT32_MAX ? INT32_MAX : idle);
    }
    if (st->completed > t->completed)
        t->completed = st->completed;
    ok = import_family(t, st->peers4, st->n4, false, now, downtime, timeout, tl, peers) &&
         import_family(t, st->peers6, st->n6, true, now, downtime, timeout, tl, peers);
    /* Same rule as expiry: an empty torrent stays only for a recent completed count. */
    if (t->kind == TORRENT_EMPTY &&
        (t->completed == 0 || (int32_t)(now - t->active) >= (int64_t)keep))
        table_del(tb, t);
    store_shard_unlock(s, si);
    return ok;
}
