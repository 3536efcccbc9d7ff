/* remote.c - store_apply_remote: the cluster's deltas applied under shard locks.
 *
 * Works through shard.h like snapshot.c, so store.c keeps only the local announce path.
 * store_shard_unlock publishes the changed byte and torrent totals to the caps' running
 * totals, which is why consecutive records share one lock/unlock: the caps see a batch's
 * growth a few records late at most (the same slack store.c documents for workers). */
#include "store/remote.h"

#include <string.h>

#include "store/shard.h"
#include "store/table.h"
#include "store/torrent.h"

static enum store_remote_result apply_one(store_t *s, unsigned si, struct table *tb,
                                          struct tally *tl, uint64_t h,
                                          const struct store_remote_rec *r, uint32_t now)
{
    struct torrent *t = table_find(tb, h, r->info_hash);

    if (r->stop) {
        if (t) {
            torrent_del(t, &r->peer, tl);
            t->active = now;
            if (store_torrent_useless(s, si, t))
                table_del(tb, t);
        }
        return STORE_REMOTE_APPLIED;
    }
    if (!t || torrent_find_peer(t, &r->peer) == PEER_NONE) {
        if (store_cap_check(s, si, t) != STORE_OK)
            return STORE_REMOTE_CAP;
    }
    bool created = false;
    if (!t) {
        t = table_add(tb, h, r->info_hash, store_hash_key(s), tl);
        if (!t)
            return STORE_REMOTE_NOMEM;
        created = true;
    }
    int prev;
    if (!torrent_put(t, &r->peer, r->seeder, now, tl, &prev)) {
        if (created)
            table_del(tb, t);
        return STORE_REMOTE_NOMEM;
    }
    /* The origin set the bit only when it counted the event itself (once per peer there), so
     * every node adds exactly what the origin added; resuming after the last applied stream
     * id keeps a record from being counted twice. */
    if (r->completed)
        t->completed++;
    t->active = now;
    return STORE_REMOTE_APPLIED;
}

size_t store_apply_remote(store_t *s, const struct store_remote_rec *r, size_t n, uint32_t now,
                          uint8_t *result)
{
    size_t applied = 0;
    unsigned locked = 0;
    bool held = false;
    struct table *tb = NULL;
    struct tally *tl = NULL;

    /* Records land on random shards and torrents, so applying them is mostly waiting for
     * memory: hash a few records ahead and prefetch their shard's line, then their table
     * slot, while the current one is applied (measured: make bench-cluster). */
    enum { AHEAD = 8 };
    uint64_t hs[AHEAD];
    unsigned sis[AHEAD];
    for (size_t i = 0; i < n && i < AHEAD; i++) {
        sis[i] = store_shard_of(s, r[i].info_hash, &hs[i]);
        store_shard_prefetch(s, sis[i], hs[i], 0);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hs[i % AHEAD];
        unsigned si = sis[i % AHEAD];
        if (i + AHEAD < n) {
            size_t j = i + AHEAD;
            sis[j % AHEAD] = store_shard_of(s, r[j].info_hash, &hs[j % AHEAD]);
            store_shard_prefetch(s, sis[j % AHEAD], hs[j % AHEAD], 0);
        }
        if (i + AHEAD / 2 < n)
            store_shard_prefetch(s, sis[(i + AHEAD / 2) % AHEAD], hs[(i + AHEAD / 2) % AHEAD],
                                 1);
        if (held && si != locked) {
            store_shard_unlock(s, locked);
            held = false;
        }
        if (!held) {
            tb = store_shard_lock(s, si, &tl);
            locked = si;
            held = true;
        }
        enum store_remote_result res = apply_one(s, si, tb, tl, h, &r[i], now);
        if (res == STORE_REMOTE_APPLIED)
            applied++;
        if (result)
            result[i] = (uint8_t)res;
    }
    if (held)
        store_shard_unlock(s, locked);
    return applied;
}
