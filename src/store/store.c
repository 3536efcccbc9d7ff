/* store.c - the swarm table's public face: shards, locking, announce/scrape, expiry, stats.
 *
 * A keyed SipHash of the info-hash picks the shard (top bits) and the home slot in the
 * shard's Robin Hood table (low bits, table.c). Each shard is one cache-line-aligned struct
 * with its own mutex, table and running totals, so threads working on different shards share
 * no lock and no written cache line; statistics are summed over shards when read. The only
 * other mutable state, the expiry cursor, belongs to the housekeeping thread and sits on a
 * line of its own. Torrents and peers: torrent.c; peer choice: select.c.
 *
 * Configuration: peer_timeout 0 means the default (2700 s) and is clamped to
 * STORE_MAX_PEER_TIMEOUT; torrent_keep is taken as given (0 = free empty torrents at once).
 * `now` comes from clock_now(); threads reading it at different moments may pass values a
 * little out of order (a stamp up to STAMP_AHEAD seconds in the future counts as fresh). */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/select.h"
#include "store/shard.h"
#include "store/table.h"
#include "store/torrent.h"

#define DEFAULT_SHARDS_LOG2 10
#define MAX_SHARDS_LOG2 20
#define DEFAULT_PEER_TIMEOUT 2700

/* A torrent's WebSocket peers (store_ws_update); per shard, sorted by info-hash. */
struct ws_slot {
    uint8_t hash[INFO_HASH_LEN];
    uint32_t seeders, leechers;
};

struct shard {
    _Alignas(64) pthread_mutex_t lock;
    struct table tb;
    struct tally tl;
    /* Totals when the shard was last held for a change (shard_hold, store_shard_lock), so
     * that its release can publish what changed to the caps' running totals. */
    uint64_t held_bytes;
    uint32_t held_count;
    /* WebSocket peers by torrent (see store_ws_update), and their totals. */
    struct ws_slot *ws;
    uint32_t nws, capws;
    uint64_t ws_seeders, ws_leechers;
};

struct store {
    struct shard *shards;
    unsigned shards_log2, nshards;
    uint32_t peer_timeout, torrent_keep;
    uint8_t key[16];
    uint64_t max_torrents, max_bytes;
    uint32_t max_peers;
    bool evict;
    /* Running totals for the caps (atomic; each shard adds its own changes). */
    _Alignas(64) uint64_t total_bytes;
    uint64_t total_torrents;
    uint64_t external; /* store_charge_external */
    /* Written by the housekeeping thread only; kept off the line the workers read. */
    _Alignas(64) unsigned cursor;
};

static inline struct shard *shard_of(store_t *s, uint64_t h)
{
    return &s->shards[s->shards_log2 ? h >> (64 - s->shards_log2) : 0];
}

store_t *store_new(const struct store_config *cfg)
{
    store_t *s;
    if (posix_memalign((void **)&s, 64, sizeof *s) != 0)
        return NULL;
    memset(s, 0, sizeof *s);
    s->shards_log2 = cfg->shards_log2 ? cfg->shards_log2 : DEFAULT_SHARDS_LOG2;
    if (s->shards_log2 > MAX_SHARDS_LOG2)
        s->shards_log2 = MAX_SHARDS_LOG2;
    s->nshards = 1u << s->shards_log2;
    s->peer_timeout = cfg->peer_timeout ? cfg->peer_timeout : DEFAULT_PEER_TIMEOUT;
    if (s->peer_timeout > STORE_MAX_PEER_TIMEOUT)
        s->peer_timeout = STORE_MAX_PEER_TIMEOUT;
    s->torrent_keep = cfg->torrent_keep;
    s->max_torrents = cfg->max_torrents;
    s->max_peers = cfg->max_peers;
    s->max_bytes = cfg->max_bytes;
    s->evict = cfg->evict;
    memcpy(s->key, cfg->hash_key, sizeof s->key);

    if (posix_memalign((void **)&s->shards, 64, sizeof(struct shard) * s->nshards) != 0) {
        free(s);
        return NULL;
    }
    memset(s->shards, 0, sizeof(struct shard) * s->nshards);
    for (unsigned i = 0; i < s->nshards; i++) {
        if (pthread_mutex_init(&s->shards[i].lock, NULL) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&s->shards[i].lock);
            free(s->shards);
            free(s);
            return NULL;
        }
    }
    return s;
}

void store_free(store_t *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        for (uint32_t j = 0; j < sh->tb.cap; j++)
            if (sh->tb.slots[j].psl)
                torrent_clear(&sh->tb.slots[j], &sh->tl);
        table_free(&sh->tb, &sh->tl);
        free(sh->ws);
        pthread_mutex_destroy(&sh->lock);
    }
    free(s->shards);
    free(s);
}

/* ---- WebSocket peers (counted here, held by the WebSocket tracker) ---- */

static struct ws_slot *ws_find(const struct shard *sh, const uint8_t *hash, uint32_t *pos)
{
    uint32_t lo = 0, hi = sh->nws;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(sh->ws[mid].hash, hash, INFO_HASH_LEN);
        if (c == 0)
            return &sh->ws[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

/* A torrent's counts: its HTTP/UDP peers plus its WebSocket peers. */
static void counts_of(const struct shard *sh, const struct torrent *t, struct swarm_counts *c)
{
    torrent_counts(t, c);
    const struct ws_slot *w = sh->nws ? ws_find(sh, t->hash, NULL) : NULL;
    if (w) {
        c->seeders += w->seeders;
        c->leechers += w->leechers;
    }
}

/* No peers of either kind and nothing ever completed: not worth a slot. */
static bool useless(const struct shard *sh, const struct torrent *t)
{
    return t->kind == TORRENT_EMPTY && t->completed == 0 &&
           !(sh->nws && ws_find(sh, t->hash, NULL));
}

/* Fill the reply's peers: own family first, then the other one for the slots left. */
static void choose_peers(const struct torrent *t, const struct store_announce_in *in,
                         struct store_announce_out *out)
{
    bool own6 = in->peer.family != ADDR_V4;
    uint8_t *own_out = own6 ? in->out6 : in->out4, *other_out = own6 ? in->out4 : in->out6;
    unsigned got = 0, rest = 0;

    if (own_out) {
        struct peer_view v = torrent_view(t, own6);
        got = select_peers(&v, torrent_find_peer(t, &in->peer), in->numwant, in->seeder, own_out,
                           in->rng);
    }
    if (in->both_families && other_out && got < in->numwant) {
        struct peer_view v = torrent_view(t, !own6);
        rest = select_peers(&v, PEER_NONE, in->numwant - got, in->seeder, other_out, in->rng);
    }
    out->n4 = own6 ? rest : got;
    out->n6 = own6 ? got : rest;
}

/* ---- caps and memory accounting ---- */

/* A shard held for a change: shard_hold/shard_try_hold lock it and note its totals, and
 * shard_release publishes what the holder changed before unlocking, so no change
 * path can forget the caps' running totals. store_shard_lock/unlock lend it out the same way. */
static void shard_note(struct shard *sh)
{
    sh->held_bytes = sh->tl.bytes;
    sh->held_count = sh->tb.count;
}

static void shard_hold(struct shard *sh)
{
    pthread_mutex_lock(&sh->lock);
    shard_note(sh);
}

static bool shard_try_hold(struct shard *sh)
{
    if (pthread_mutex_trylock(&sh->lock) != 0)
        return false;
    shard_note(sh);
    return true;
}

static void shard_release(store_t *s, struct shard *sh)
{
    if (sh->tl.bytes != sh->held_bytes)
        __atomic_fetch_add(&s->total_bytes, sh->tl.bytes - sh->held_bytes, __ATOMIC_RELAXED);
    if (sh->tb.count != sh->held_count)
        __atomic_fetch_add(&s->total_torrents, (uint64_t)sh->tb.count - sh->held_count,
                           __ATOMIC_RELAXED);
    pthread_mutex_unlock(&sh->lock);
}

struct list_ctx {
    struct store_entry *v;
    size_t n, cap;
    bool oom;
};

static void list_one(void *ctx, const uint8_t *hash, const struct swarm_counts *c)
{
    struct list_ctx *l = ctx;
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        struct store_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    memcpy(l->v[l->n].hash, hash, INFO_HASH_LEN);
    l->v[l->n].c = *c;
    l->n++;
}

static int cmp_entry_hash(const void *a, const void *b)
{
    return memcmp(((const struct store_entry *)a)->hash, ((const struct store_entry *)b)->hash,
                  INFO_HASH_LEN);
}

struct store_entry *store_list_sorted(store_t *s, size_t *n)
{
    struct list_ctx l = {.cap = 1024};
    l.v = malloc(l.cap * sizeof *l.v);
    if (!l.v)
        return NULL;
    store_foreach(s, list_one, &l);
    if (l.oom) {
        free(l.v);
        return NULL;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_entry_hash);
    *n = l.n;
    return l.v;
}

static uint64_t fixed_bytes(const store_t *s);

uint64_t store_memory(store_t *s)
{
    return fixed_bytes(s) + __atomic_load_n(&s->total_bytes, __ATOMIC_RELAXED);
}

uint64_t store_torrents(store_t *s)
{
    return __atomic_load_n(&s->total_torrents, __ATOMIC_RELAXED);
}

void store_charge_external(store_t *s, int64_t delta)
{
    __atomic_fetch_add(&s->external, (uint64_t)delta, __ATOMIC_RELAXED);
}

uint64_t store_budget_used(store_t *s)
{
    return store_memory(s) + __atomic_load_n(&s->external, __ATOMIC_RELAXED);
}

/* The caps are checked against totals other shards change concurrently, so they may be
 * overshot by a few entries (one per worker thread at most); a hard bound is not worth a
 * global lock. */
static enum store_refusal cap_new_torrent(store_t *s)
{
    if (s->max_torrents && store_torrents(s) >= s->max_torrents)
        return STORE_FULL_TORRENTS;
    /* New torrents stop at 15/16 of the budget: the rest is left for peers joining the
     * swarms that exist, so a flood of junk torrents cannot stop real swarms growing. */
    if (s->max_bytes && store_budget_used(s) >= s->max_bytes - s->max_bytes / 16)
        return STORE_FULL_MEMORY;
    return STORE_OK;
}

static enum store_refusal cap_new_peer(store_t *s, const struct shard *sh,
                                       const struct torrent *t)
{
    if (s->max_peers) {
        struct swarm_counts c;
        counts_of(sh, t, &c);
        if ((uint64_t)c.seeders + c.leechers >= s->max_peers)
            return STORE_FULL_PEERS;
    }
    if (s->max_bytes && store_budget_used(s) >= s->max_bytes)
        return STORE_FULL_MEMORY;
    return STORE_OK;
}

/* A new peer for t, or a new torrent when t is NULL: what a cap says to it. */
static enum store_refusal cap_check(store_t *s, const struct shard *sh, const struct torrent *t)
{
    return t ? cap_new_peer(s, sh, t) : cap_new_torrent(s);
}

/* Seconds since peer i of its family last had an accepted announce. */
static uint32_t peer_age(const struct torrent *t, bool v6, uint32_t i, uint32_t now)
{
    struct peer_view v = torrent_view(t, v6);
    uint16_t st;
    if (v6)
        memcpy(&st, v.p + (size_t)i * V6_PEER_SIZE + V6_KEY_SIZE, 2);
    else
        st = (uint16_t)((const uint64_t *)(const void *)v.p)[i];
    uint32_t age = (now - st) & STAMP_MASK;
    return age >= STAMP_MASK + 1 - STAMP_AHEAD ? 0 : age; /* a stamp from the future */
}

/* ---- eviction: room for a new torrent at a cap ---- */

/* Occupied slots looked at per shard. A bounded sample, as in Redis's approximated LRU,
 * rather than a search for the globally oldest: one eviction costs a few cache lines under
 * the shard lock the announce already holds, never a walk of the table, and the keyed hash
 * makes where the sample starts unpredictable to a flooder. */
#define EVICT_SCAN 32
/* Shards after the newcomer's own tried when that one has nothing to evict (a table with few
 * torrents per shard, e.g. a small max_torrents). */
#define EVICT_SHARDS 64

/* How expendable a torrent is, lowest first; -1 = never evicted. A flood of random
 * info-hashes leaves swarms of one peer that never announces again; a swarm of two or more
 * is somebody's download. Of the expendable: an empty torrent (kept only for its completed
 * count), then a lone leecher (nobody to download from), then a lone seeder. A torrent with
 * WebSocket peers is never evicted: those are the WebSocket thread's to add and remove. */
static int victim_rank(const struct shard *sh, const struct torrent *t)
{
    struct swarm_counts c;
    if (sh->nws && ws_find(sh, t->hash, NULL))
        return -1;
    torrent_counts(t, &c);
    if ((uint64_t)c.seeders + c.leechers > 1)
        return -1;
    return c.leechers ? 1 : c.seeders ? 2 : 0;
}

/* Free the most expendable, then least recently announced, of the first EVICT_SCAN torrents
 * of a locked shard, from the newcomer's home slot (in that table) on. false when none has
 * fewer than two peers. The shard's tally changes; shard_release publishes it. */
static bool evict_one(struct shard *sh, uint64_t h, uint32_t now)
{
    struct table *tb = &sh->tb;
    struct torrent *best = NULL;
    int best_rank = 3;
    uint32_t best_age = 0;

    if (tb->count == 0)
        return false;
    uint32_t i = table_home(tb->cap, h);
    for (uint32_t seen = 0, step = 0; seen < EVICT_SCAN && step < tb->cap; step++) {
        struct torrent *t = &tb->slots[i];
        i = i + 1 == tb->cap ? 0 : i + 1;
        if (!t->psl)
            continue;
        seen++;
        int rank = victim_rank(sh, t);
        if (rank < 0)
            continue;
        /* active may be a little ahead of now (another thread's clock read): age 0. */
        uint32_t age = (int32_t)(now - t->active) > 0 ? now - t->active : 0;
        if (rank < best_rank || (rank == best_rank && age > best_age)) {
            best = t;
            best_rank = rank;
            best_age = age;
        }
    }
    if (!best)
        return false;
    torrent_clear(best, &sh->tl);
    table_del(tb, best);
    return true;
}

/* Evict for a newcomer hashing to `home` (locked): from its own shard, else from the next
 * EVICT_SHARDS shards. Those are only try-locked: an announce never waits for a second lock
 * while holding one, so no two announces can deadlock; a busy shard is skipped. */
static bool evict_for_newcomer(store_t *s, struct shard *home, uint64_t h, uint32_t now)
{
    if (evict_one(home, h, now))
        return true;
    unsigned first = (unsigned)(home - s->shards);
    for (unsigned k = 1; k <= EVICT_SHARDS && k < s->nshards; k++) {
        struct shard *sh = &s->shards[(first + k) & (s->nshards - 1)];
        if (!shard_try_hold(sh))
            continue;
        bool done = evict_one(sh, h, now);
        shard_release(s, sh);
        if (done)
            return true;
    }
    return false;
}

/* Caps and announce-rate enforcement, checked before anything changes: true when the
 * announce is refused or throttled (out says which, with the torrent's counts). A new
 * torrent at a cap may evict one instead (then false, out->evicted set). */
static bool announce_refused(store_t *s, struct shard *sh, uint64_t h, const struct torrent *t,
                             const struct store_announce_in *in, struct store_announce_out *out)
{
    if (!t) {
        out->refused = cap_new_torrent(s);
        if (out->refused != STORE_OK && s->evict && evict_for_newcomer(s, sh, h, in->now)) {
            out->evicted = out->refused;
            out->refused = STORE_OK;
        }
        return out->refused != STORE_OK;
    }
    uint32_t i = torrent_find_peer(t, &in->peer);
    if (i == PEER_NONE)
        out->refused = cap_new_peer(s, sh, t);
    else if (in->min_age && in->event == EVENT_NONE &&
             peer_age(t, in->peer.family != ADDR_V4, i, in->now) < in->min_age)
        out->throttled = true;
    if (out->refused == STORE_OK && !out->throttled)
        return false;
    counts_of(sh, t, &out->counts);
    return true;
}

bool store_announce(store_t *s, const struct store_announce_in *in, struct store_announce_out *out)
{
    uint64_t h = table_hash(s->key, in->info_hash);
    struct shard *sh = shard_of(s, h);

    memset(out, 0, sizeof *out);
    shard_hold(sh);
    struct torrent *t = table_find(&sh->tb, h, in->info_hash);

    if (in->event != EVENT_STOPPED && announce_refused(s, sh, h, t, in, out)) {
        shard_release(s, sh);
        return true;
    }

    if (in->event == EVENT_STOPPED) {
        if (t) {
            out->publish = torrent_del(t, &in->peer, &sh->tl) && in->publish_renew;
            t->active = in->now;
            counts_of(sh, t, &out->counts);
            /* Nothing left worth keeping: no peers and nothing ever completed. */
            if (useless(sh, t))
                table_del(&sh->tb, t);
        }
        shard_release(s, sh);
        return true;
    }

    bool created = false;
    if (!t) {
        t = table_add(&sh->tb, h, in->info_hash, s->key, &sh->tl);
        if (!t) {
            shard_release(s, sh);
            return false;
        }
        created = true;
    }
    /* The previous announce's age, read before torrent_put refreshes the stamp. */
    uint32_t age = 0;
    if (in->publish_renew && !created) {
        uint32_t i = torrent_find_peer(t, &in->peer);
        if (i != PEER_NONE)
            age = peer_age(t, in->peer.family != ADDR_V4, i, in->now);
    }
    int prev;
    if (!torrent_put(t, &in->peer, in->seeder, in->now, &sh->tl, &prev)) {
        if (created)
            table_del(&sh->tb, t);
        shard_release(s, sh);
        return false;
    }
    /* Counted once per peer: a seeder re-sending completed does not count again. */
    if (in->event == EVENT_COMPLETED && prev != 1) {
        t->completed++;
        out->completed_counted = true;
    }
    if (in->publish_renew)
        out->publish = prev == -1 || prev != (int)in->seeder || out->completed_counted ||
                       age >= in->publish_renew;
    t->active = in->now;
    counts_of(sh, t, &out->counts);
    if (in->numwant)
        choose_peers(t, in, out);
    shard_release(s, sh);
    return true;
}

bool store_scrape(store_t *s, const uint8_t *info_hash, struct swarm_counts *out)
{
    uint64_t h = table_hash(s->key, info_hash);
    struct shard *sh = shard_of(s, h);

    pthread_mutex_lock(&sh->lock);
    const struct torrent *t = table_find(&sh->tb, h, info_hash);
    if (t)
        counts_of(sh, t, out);
    else
        memset(out, 0, sizeof *out);
    pthread_mutex_unlock(&sh->lock);
    return t != NULL;
}

static void expire_shard(store_t *s, struct shard *sh, uint32_t now)
{
    shard_hold(sh);
    for (uint32_t i = 0; i < sh->tb.cap;) {
        struct torrent *t = &sh->tb.slots[i];
        if (!t->psl) {
            i++;
            continue;
        }
        torrent_expire(t, now, s->peer_timeout, &sh->tl);
        if (t->kind == TORRENT_EMPTY && !(sh->nws && ws_find(sh, t->hash, NULL)) &&
            (t->completed == 0 || (int32_t)(now - t->active) >= (int64_t)s->torrent_keep)) {
            /* The next entries shift back into slot i: look at it again. An entry wrapping
             * from slot 0 to the last slot is visited twice, which is harmless. */
            table_del(&sh->tb, t);
            continue;
        }
        i++;
    }
    table_shrink(&sh->tb, s->key, &sh->tl);
    shard_release(s, sh);
}

unsigned store_expire_step(store_t *s, uint32_t now, unsigned nshards)
{
    if (nshards > s->nshards)
        nshards = s->nshards;
    for (unsigned i = 0; i < nshards; i++) {
        expire_shard(s, &s->shards[s->cursor], now);
        s->cursor = s->cursor + 1 == s->nshards ? 0 : s->cursor + 1;
    }
    return s->nshards;
}

void store_foreach(store_t *s, store_visit_fn fn, void *ctx)
{
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t j = 0; j < sh->tb.cap; j++) {
            const struct torrent *t = &sh->tb.slots[j];
            if (!t->psl)
                continue;
            struct swarm_counts c;
            counts_of(sh, t, &c);
            fn(ctx, t->hash, &c);
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

static uint64_t fixed_bytes(const store_t *s)
{
    return sizeof *s + (uint64_t)sizeof(struct shard) * s->nshards;
}

void store_get_stats(store_t *s, struct store_stats *out)
{
    uint64_t wss = 0, wsl = 0;
    memset(out, 0, sizeof *out);
    out->bytes = fixed_bytes(s);
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->torrents += sh->tb.count;
        out->peers4 += sh->tl.peers4;
        out->peers6 += sh->tl.peers6;
        out->seeders += sh->tl.seeders;
        wss += sh->ws_seeders;
        wsl += sh->ws_leechers;
        out->bytes += sh->tl.bytes;
        pthread_mutex_unlock(&sh->lock);
    }
    out->leechers = out->peers4 + out->peers6 - out->seeders + wsl;
    out->seeders += wss;
    out->peers_ws = wss + wsl;
}

/* Clamped: a count never goes below zero, whatever the caller reports. */
static uint32_t add_clamped(uint32_t v, int d)
{
    return d < 0 && (uint32_t)-d > v ? 0 : v + (uint32_t)d;
}

/* The shard's slot for hash, inserted (zero counts) if missing; NULL when out of memory. */
static struct ws_slot *ws_get(struct shard *sh, const uint8_t *hash)
{
    uint32_t pos = 0;
    struct ws_slot *w = ws_find(sh, hash, &pos);
    if (w)
        return w;
    if (sh->nws == sh->capws) {
        uint32_t nc = sh->capws ? sh->capws * 2 : 4;
        struct ws_slot *v = realloc(sh->ws, (size_t)nc * sizeof *v);
        if (!v)
            return NULL;
        sh->tl.bytes += (uint64_t)(nc - sh->capws) * sizeof *v;
        sh->ws = v;
        sh->capws = nc;
    }
    memmove(&sh->ws[pos + 1], &sh->ws[pos], (size_t)(sh->nws - pos) * sizeof *sh->ws);
    sh->nws++;
    memset(&sh->ws[pos], 0, sizeof sh->ws[pos]);
    memcpy(sh->ws[pos].hash, hash, INFO_HASH_LEN);
    return &sh->ws[pos];
}

static void ws_drop(struct shard *sh, struct ws_slot *w)
{
    size_t i = (size_t)(w - sh->ws);
    memmove(w, w + 1, (sh->nws - i - 1) * sizeof *w);
    sh->nws--;
    if (sh->nws == 0) {
        /* Browsers left this shard: give the vector back. */
        sh->tl.bytes -= (uint64_t)sh->capws * sizeof *w;
        free(sh->ws);
        sh->ws = NULL;
        sh->capws = 0;
    }
}

bool store_ws_update(store_t *s, const struct store_ws_in *in, enum store_refusal *refused)
{
    uint64_t h = table_hash(s->key, in->info_hash);
    struct shard *sh = shard_of(s, h);
    bool join = in->seeders + in->leechers > 0;

    *refused = STORE_OK;
    shard_hold(sh);
    struct torrent *t = table_find(&sh->tb, h, in->info_hash);
    if (join) {
        *refused = cap_check(s, sh, t);
        if (*refused != STORE_OK) {
            shard_release(s, sh);
            return true;
        }
    }
    bool created = false;
    if (!t && (join || in->completed)) {
        t = table_add(&sh->tb, h, in->info_hash, s->key, &sh->tl);
        if (!t) {
            shard_release(s, sh);
            return false;
        }
        created = true;
    }
    struct ws_slot *w = join ? ws_get(sh, in->info_hash) : ws_find(sh, in->info_hash, NULL);
    if (join && !w) {
        if (created)
            table_del(&sh->tb, t);
        shard_release(s, sh);
        return false;
    }
    if (w) {
        uint32_t s0 = w->seeders, l0 = w->leechers;
        w->seeders = add_clamped(w->seeders, in->seeders);
        w->leechers = add_clamped(w->leechers, in->leechers);
        sh->ws_seeders += (uint64_t)w->seeders - s0;
        sh->ws_leechers += (uint64_t)w->leechers - l0;
        if (!w->seeders && !w->leechers)
            ws_drop(sh, w);
    }
    if (t) {
        if (in->completed)
            t->completed++;
        t->active = in->now;
        if (useless(sh, t))
            table_del(&sh->tb, t);
    }
    shard_release(s, sh);
    return true;
}

#define FAIL(...)                                                                                 \
    do {                                                                                          \
        snprintf(err, errlen, __VA_ARGS__);                                                       \
        return false;                                                                             \
    } while (0)

static bool check_shard(const store_t *s, unsigned si, const struct shard *sh, char *err,
                        size_t errlen)
{
    const struct table *tb = &sh->tb;
    struct tally sum = {0, 0, 0, (uint64_t)tb->cap * sizeof(struct torrent) +
                                     (uint64_t)sh->capws * sizeof(struct ws_slot)};
    uint32_t count = 0;
    char why[160];

    if ((tb->cap == 0) != (tb->slots == NULL))
        FAIL("shard %u: capacity %u with slots %p", si, tb->cap, (void *)tb->slots);
    if (tb->cap && tb->count >= tb->cap)
        FAIL("shard %u: %u torrents in %u slots", si, tb->count, tb->cap);
    for (uint32_t i = 0; i < tb->cap; i++) {
        const struct torrent *t = &tb->slots[i];
        if (!t->psl)
            continue;
        count++;
        uint64_t h = table_hash(s->key, t->hash);
        if (shard_of((store_t *)s, h) != sh)
            FAIL("shard %u slot %u: torrent belongs to another shard", si, i);
        uint32_t home = table_home(tb->cap, h);
        uint32_t dist = i >= home ? i - home : i + tb->cap - home;
        if (t->psl != dist + 1)
            FAIL("shard %u slot %u: psl %u but distance %u", si, i, t->psl, dist);
        const struct torrent *next = &tb->slots[i + 1 == tb->cap ? 0 : i + 1];
        if (next->psl > t->psl + 1)
            FAIL("shard %u slot %u: Robin Hood order broken", si, i);
        if (table_find(tb, h, t->hash) != t)
            FAIL("shard %u slot %u: lookup finds another slot (duplicate?)", si, i);
        if (useless(sh, t))
            FAIL("shard %u slot %u: empty torrent with nothing completed kept", si, i);
        if (!torrent_check(t, &sum, why, sizeof why))
            FAIL("shard %u slot %u: %s", si, i, why);
    }
    if (count != tb->count)
        FAIL("shard %u: %u torrents counted, %u recorded", si, count, tb->count);
    uint64_t wss = 0, wsl = 0;
    for (uint32_t i = 0; i < sh->nws; i++) {
        if (i && memcmp(sh->ws[i - 1].hash, sh->ws[i].hash, INFO_HASH_LEN) >= 0)
            FAIL("shard %u: WebSocket entry %u out of order", si, i);
        if (!sh->ws[i].seeders && !sh->ws[i].leechers)
            FAIL("shard %u: WebSocket entry %u without peers kept", si, i);
        wss += sh->ws[i].seeders;
        wsl += sh->ws[i].leechers;
    }
    if (sh->nws > sh->capws || wss != sh->ws_seeders || wsl != sh->ws_leechers)
        FAIL("shard %u: WebSocket totals %llu/%llu, entries hold %llu/%llu", si,
             (unsigned long long)sh->ws_seeders, (unsigned long long)sh->ws_leechers,
             (unsigned long long)wss, (unsigned long long)wsl);
    if (sum.peers4 != sh->tl.peers4 || sum.peers6 != sh->tl.peers6 ||
        sum.seeders != sh->tl.seeders)
        FAIL("shard %u: totals v4 %llu v6 %llu seeders %llu, counted %llu %llu %llu", si,
             (unsigned long long)sh->tl.peers4, (unsigned long long)sh->tl.peers6,
             (unsigned long long)sh->tl.seeders, (unsigned long long)sum.peers4,
             (unsigned long long)sum.peers6, (unsigned long long)sum.seeders);
    if (sum.bytes != sh->tl.bytes)
        FAIL("shard %u: %llu bytes recorded, %llu held", si, (unsigned long long)sh->tl.bytes,
             (unsigned long long)sum.bytes);
    return true;
}

bool store_check(store_t *s, char *err, size_t errlen)
{
    uint64_t bytes = 0, torrents = 0;
    for (unsigned i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        bool ok = check_shard(s, i, sh, err, errlen);
        bytes += sh->tl.bytes;
        torrents += sh->tb.count;
        pthread_mutex_unlock(&sh->lock);
        if (!ok)
            return false;
    }
    /* Exact only when nobody announces meanwhile (tests and fuzzers). */
    if (bytes != __atomic_load_n(&s->total_bytes, __ATOMIC_RELAXED) ||
        torrents != store_torrents(s))
        FAIL("running totals %llu bytes %llu torrents, shards hold %llu bytes %llu torrents",
             (unsigned long long)__atomic_load_n(&s->total_bytes, __ATOMIC_RELAXED),
             (unsigned long long)store_torrents(s), (unsigned long long)bytes,
             (unsigned long long)torrents);
    if (errlen)
        err[0] = '\0';
    return true;
}

/* ---- shard access for snapshot.c (shard.h) ---- */

unsigned store_shard_count(const store_t *s) { return s->nshards; }

unsigned store_shard_of(const store_t *s, const uint8_t *info_hash, uint64_t *h)
{
    *h = table_hash(s->key, info_hash);
    return s->shards_log2 ? (unsigned)(*h >> (64 - s->shards_log2)) : 0;
}

struct table *store_shard_lock(store_t *s, unsigned i, struct tally **tl)
{
    shard_hold(&s->shards[i]);
    *tl = &s->shards[i].tl;
    return &s->shards[i].tb;
}

void store_shard_unlock(store_t *s, unsigned i)
{
    shard_release(s, &s->shards[i]);
}

const uint8_t *store_hash_key(const store_t *s) { return s->key; }
uint32_t store_peer_timeout(const store_t *s) { return s->peer_timeout; }
uint32_t store_torrent_keep(const store_t *s) { return s->torrent_keep; }

void store_shard_prefetch(const store_t *s, unsigned si, uint64_t h, int stage)
{
    const struct shard *sh = &s->shards[si];
    if (stage == 0) {
        __builtin_prefetch(sh, 1);
        return;
    }
    /* Relaxed atomic loads: the fields change under the shard lock, which this hint does
     * not take; whatever value is seen is only an address to prefetch. */
    const struct torrent *slots = __atomic_load_n(&sh->tb.slots, __ATOMIC_RELAXED);
    uint32_t cap = __atomic_load_n(&sh->tb.cap, __ATOMIC_RELAXED);
    if (slots && cap)
        __builtin_prefetch(&slots[table_home(cap, h)], 0);
}

/* The peer block of the torrent with hash h. Finding it reads the table, which another
 * thread may be resizing (and freeing), so this takes the shard's lock: cheap here, as its
 * line and the slot's are already on their way. A freed block is fine: prefetch never
 * faults. */
static void prefetch_peers(store_t *s, unsigned si, uint64_t h, const uint8_t *info_hash)
{
    struct shard *sh = &s->shards[si];
    pthread_mutex_lock(&sh->lock);
    const struct torrent *t = table_find(&sh->tb, h, info_hash);
    if (t && t->kind == TORRENT_BLOCK) {
        __builtin_prefetch(t->u.blk, 0);
        __builtin_prefetch(t->u.blk + 64, 0);
    }
    pthread_mutex_unlock(&sh->lock);
}

void store_prefetch(store_t *s, const uint8_t *const *info_hashes, unsigned n)
{
    uint64_t h[STORE_PREFETCH_MAX];
    unsigned si[STORE_PREFETCH_MAX];
    if (n > STORE_PREFETCH_MAX)
        n = STORE_PREFETCH_MAX;
    /* A pass per level: every shard's header line is on its way before the first table
     * pointer is read from one, every table slot before the first is read for its block. */
    for (unsigned i = 0; i < n; i++) {
        si[i] = store_shard_of(s, info_hashes[i], &h[i]);
        store_shard_prefetch(s, si[i], h[i], 0);
    }
    for (unsigned i = 0; i < n; i++)
        store_shard_prefetch(s, si[i], h[i], 1);
    for (unsigned i = 0; i < n; i++)
        prefetch_peers(s, si[i], h[i], info_hashes[i]);
}

enum store_refusal store_cap_check(store_t *s, unsigned si, const struct torrent *t)
{
    return cap_check(s, &s->shards[si], t);
}

bool store_torrent_useless(store_t *s, unsigned si, const struct torrent *t)
{
    return useless(&s->shards[si], t);
}
