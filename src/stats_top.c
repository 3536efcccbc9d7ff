/* stats_top.c - cached walks over every torrent: top swarms and the tpbs lists.
 *
 * Why a process-wide cache with a try-lock rather than a thread of its own: these pages are
 * read by an operator's graphing job every minute or so, and a walk is one pass over the
 * store with a per-shard lock, so the worker that asks first does it and everyone asking
 * during the walk is parked (HTTP_PENDING) rather than blocked on a mutex. The result is
 * reused for STATS_TOP_CACHE_SECONDS. */
#include "stats_top.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the fields below */
static pthread_mutex_t walk_mu = PTHREAD_MUTEX_INITIALIZER;  /* held by the one walker */
static store_t *cached_store;
static struct top_lists cached_top;
static uint32_t top_built_at;
static bool top_valid;
static struct blob *tpbs_cache[TPBS_NFORMATS];
static uint32_t tpbs_built_at[TPBS_NFORMATS];

static bool fresh(bool valid, uint32_t built_at, uint32_t now)
{
    /* Signed: a worker's cached clock may lag the walker's by a tick. */
    return valid && (int32_t)(now - built_at) < STATS_TOP_CACHE_SECONDS;
}

/* Drop everything cached for another store (tests build several stores in one process). */
static void cache_switch(store_t *s)
{
    if (cached_store == s)
        return;
    cached_store = s;
    top_valid = false;
    for (int f = 0; f < TPBS_NFORMATS; f++) {
        blob_unref(tpbs_cache[f]);
        tpbs_cache[f] = NULL;
    }
}

/* a ranks before b? More peers (or seeders) first, then the smaller hash, so that the
 * order is total and the output stable between walks. */
static bool ranks_before(const struct store_entry *a, const struct store_entry *b, bool by_seeds)
{
    uint64_t ka = by_seeds ? a->c.seeders : (uint64_t)a->c.seeders + a->c.leechers;
    uint64_t kb = by_seeds ? b->c.seeders : (uint64_t)b->c.seeders + b->c.leechers;
    if (ka != kb)
        return ka > kb;
    return memcmp(a->hash, b->hash, INFO_HASH_LEN) < 0;
}

unsigned stats_top_insert(struct store_entry *list, unsigned n, unsigned cap,
                          const struct store_entry *e, bool by_seeds)
{
    if (cap == 0)
        return 0;
    /* Most torrents are smaller than the smallest kept one: one comparison and out. */
    if (n == cap && !ranks_before(e, &list[n - 1], by_seeds))
        return n;
    unsigned i = n < cap ? n : cap - 1;
    while (i > 0 && ranks_before(e, &list[i - 1], by_seeds)) {
        list[i] = list[i - 1];
        i--;
    }
    list[i] = *e;
    return n < cap ? n + 1 : n;
}

struct top_walk {
    struct top_lists *t;
    unsigned n_peers, n_seeds;
};

static void top_visit(void *ctx, const uint8_t *hash, const struct swarm_counts *c)
{
    struct top_walk *w = ctx;
    struct store_entry e;
    memcpy(e.hash, hash, INFO_HASH_LEN);
    e.c = *c;
    w->t->torrents++;
    /* Torrents kept only for their completed count have no swarm to rank. */
    if (c->seeders + c->leechers == 0)
        return;
    w->n_peers = stats_top_insert(w->t->by_peers, w->n_peers, STATS_TOP_MAX, &e, false);
    w->n_seeds = stats_top_insert(w->t->by_seeds, w->n_seeds, STATS_TOP_MAX, &e, true);
}

bool stats_top_get(store_t *s, uint32_t now, struct top_lists *out)
{
    pthread_mutex_lock(&cache_mu);
    cache_switch(s);
    if (fresh(top_valid, top_built_at, now)) {
        *out = cached_top;
        pthread_mutex_unlock(&cache_mu);
        return true;
    }
    pthread_mutex_unlock(&cache_mu);

    if (pthread_mutex_trylock(&walk_mu) != 0)
        return false;
    memset(out, 0, sizeof *out);
    struct top_walk w = {out, 0, 0};
    store_foreach(s, top_visit, &w);
    /* Both lists rank the same torrents, so they have the same length. */
    out->n = w.n_peers;
    pthread_mutex_lock(&cache_mu);
    cache_switch(s);
    cached_top = *out;
    top_built_at = now;
    top_valid = true;
    pthread_mutex_unlock(&cache_mu);
    pthread_mutex_unlock(&walk_mu);
    return true;
}

/* ---- tpbs ---- */

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static size_t put_hex(char *out, const uint8_t *hash)
{
    for (int i = 0; i < INFO_HASH_LEN; i++) {
        out[2 * i] = hex_upper[hash[i] >> 4];
        out[2 * i + 1] = hex_upper[hash[i] & 15];
    }
    return 2 * INFO_HASH_LEN;
}

static bool url_unreserved(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static void put_be32(char *out, uint32_t v)
{
    out[0] = (char)(v >> 24);
    out[1] = (char)(v >> 16);
    out[2] = (char)(v >> 8);
    out[3] = (char)v;
}

size_t stats_tpbs_format(enum tpbs_format f, const struct store_entry *e, char *out)
{
    size_t n = 0;
    switch (f) {
    case TPBS_BIN:
        memcpy(out, e->hash, INFO_HASH_LEN);
        put_be32(out + INFO_HASH_LEN, e->c.seeders);
        put_be32(out + INFO_HASH_LEN + 4, e->c.leechers);
        return INFO_HASH_LEN + 8;
    case TPBS_URL:
        for (int i = 0; i < INFO_HASH_LEN; i++) {
            uint8_t ch = e->hash[i];
            if (url_unreserved(ch)) {
                out[n++] = (char)ch;
            } else {
                out[n++] = '%';
                out[n++] = hex_lower[ch >> 4];
                out[n++] = hex_lower[ch & 15];
            }
        }
        break;
    case TPBS_TXT:
    case TPBS_TXTP:
        n = put_hex(out, e->hash);
        break;
    case TPBS_NFORMATS:
        return 0;
    }
    /* 60 + 3 * 11 + 1 < STATS_TPBS_ENTRY_MAX */
    if (f == TPBS_TXTP)
        n += (size_t)sprintf(out + n, ":%u:%u:%u\n", e->c.seeders, e->c.leechers,
                             e->c.completed);
    else
        n += (size_t)sprintf(out + n, ":%u:%u\n", e->c.seeders, e->c.leechers);
    return n;
}

static struct blob *tpbs_build(store_t *s, enum tpbs_format f)
{
    size_t n = 0;
    struct store_entry *v = store_list_sorted(s, &n);
    struct blob *b = v ? blob_new(n * STATS_TPBS_ENTRY_MAX + 1) : NULL;
    if (b) {
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += stats_tpbs_format(f, &v[i], (char *)b->data + len);
        b->len = len;
    }
    free(v);
    return b;
}

struct blob *stats_tpbs_get(store_t *s, enum tpbs_format f, uint32_t now, bool *oom)
{
    *oom = false;
    if ((unsigned)f >= TPBS_NFORMATS)
        return NULL;
    pthread_mutex_lock(&cache_mu);
    cache_switch(s);
    if (fresh(tpbs_cache[f] != NULL, tpbs_built_at[f], now)) {
        struct blob *b = blob_ref(tpbs_cache[f]);
        pthread_mutex_unlock(&cache_mu);
        return b;
    }
    pthread_mutex_unlock(&cache_mu);

    if (pthread_mutex_trylock(&walk_mu) != 0)
        return NULL;
    struct blob *b = tpbs_build(s, f);
    if (b) {
        pthread_mutex_lock(&cache_mu);
        cache_switch(s);
        blob_unref(tpbs_cache[f]);
        tpbs_cache[f] = blob_ref(b);
        tpbs_built_at[f] = now;
        pthread_mutex_unlock(&cache_mu);
    } else {
        *oom = true;
    }
    pthread_mutex_unlock(&walk_mu);
    return b;
}
