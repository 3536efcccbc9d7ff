/* fullscrape.c - build, compress and cache the full scrape in a thread of its own.
 *
 * A full scrape of a big tracker is megabytes of bencode: building it on a worker would stall
 * every request queued behind it. One background thread copies the counts out of the store
 * shard by shard (each shard locked only while copied), sorts them (bencoded dictionary keys
 * must be sorted), encodes them, and gzips on demand. Workers take a reference to the cached
 * blob or, while a build runs, park the request and ask again. */
#include "fullscrape.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/http_reply.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/memtune.h"

struct fullscrape {
    store_t *store;
    unsigned cache_seconds;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Guarded by mu. */
    struct blob *plain, *gz; /* gz, when present, is plain compressed */
    uint32_t built_at;
    bool need_plain, need_gz, stop;
    size_t charged;  /* plain + gz bytes charged to the store's memory budget */
    uint64_t builds; /* atomic: bodies built, for /metrics (read without mu) */
};

/* Charge what the cache holds now to the store's budget (tracker.max_memory): the cache
 * grows with the torrent count, so the budget that bounds the table must bound it too.
 * Called with mu held whenever plain or gz changes. */
static void charge_cache(struct fullscrape *fs)
{
    size_t held = (fs->plain ? fs->plain->len : 0) + (fs->gz ? fs->gz->len : 0);
    store_charge_external(fs->store, (int64_t)held - (int64_t)fs->charged);
    fs->charged = held;
}

/* Longest bencoded scrape entry: "20:" hash "d8:completei" n "e10:downloadedi" n
 * "e10:incompletei" n "ee" with 10-digit counts. */
#define ENTRY_MAX (3 + INFO_HASH_LEN + 12 + 10 + 15 + 10 + 15 + 10 + 2)

static struct blob *build_plain(store_t *store)
{
    size_t n = 0;
    struct store_entry *v = store_list_sorted(store, &n);
    struct blob *b = NULL;
    uint8_t(*hashes)[INFO_HASH_LEN] = NULL;
    struct swarm_counts *counts = NULL;
    if (!v)
        goto out;
    hashes = malloc((n ? n : 1) * sizeof *hashes);
    counts = malloc((n ? n : 1) * sizeof *counts);
    b = blob_new(n * ENTRY_MAX + 32);
    if (!hashes || !counts || !b) {
        blob_unref(b);
        b = NULL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(hashes[i], v[i].hash, INFO_HASH_LEN);
        counts[i] = v[i].c;
    }
    struct buf out;
    buf_init(&out, b->data, b->len);
    http_reply_scrape_body(&out, (const uint8_t(*)[INFO_HASH_LEN])hashes, counts, NULL,
                           (unsigned)n);
    if (out.overflow) { /* cannot happen with ENTRY_MAX per entry; refuse rather than cut */
        blob_unref(b);
        b = NULL;
        goto out;
    }
    b->len = out.len;
out:
    free(v);
    free(hashes);
    free(counts);
    return b;
}

static struct blob *build_gzip(const struct blob *plain)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: a gzip wrapper rather than zlib's. Fastest level: the body is repetitive
     * bencode that compresses well anyway, and the build should finish quickly. */
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    struct blob *b = blob_new(deflateBound(&zs, plain->len) + 32);
    if (!b) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)plain->data;
    zs.avail_in = (uInt)plain->len;
    zs.next_out = b->data;
    zs.avail_out = (uInt)b->len;
    int rc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        blob_unref(b);
        return NULL;
    }
    b->len = zs.total_out;
    return b;
}

static void *fullscrape_thread(void *arg)
{
    struct fullscrape *fs = arg;
    pthread_mutex_lock(&fs->mu);
    for (;;) {
        while (!fs->stop && !fs->need_plain && !fs->need_gz)
            pthread_cond_wait(&fs->cv, &fs->mu);
        if (fs->stop)
            break;
        if (fs->need_plain || !fs->plain) {
            pthread_mutex_unlock(&fs->mu);
            struct blob *b = build_plain(fs->store);
            pthread_mutex_lock(&fs->mu);
            if (!b) {
                log_warn("full scrape: out of memory while building");
                fs->need_plain = fs->need_gz = false;
                continue;
            }
            blob_unref(fs->plain);
            blob_unref(fs->gz);
            fs->plain = b;
            fs->gz = NULL;
            charge_cache(fs);
            fs->built_at = clock_now();
            fs->need_plain = false;
            __atomic_fetch_add(&fs->builds, 1, __ATOMIC_RELAXED);
        }
        if (fs->need_gz) {
            struct blob *plain = blob_ref(fs->plain);
            pthread_mutex_unlock(&fs->mu);
            struct blob *gz = build_gzip(plain);
            pthread_mutex_lock(&fs->mu);
            if (!gz)
                log_warn("full scrape: gzip failed");
            /* Only keep it if no newer plain body replaced the one we compressed. */
            if (gz && fs->plain == plain && !fs->gz) {
                fs->gz = gz;
                charge_cache(fs);
            } else {
                blob_unref(gz);
            }
            blob_unref(plain);
            fs->need_gz = false;
        }
        /* A build frees megabytes (the sorted copy, the previous bodies) inside this thread's
         * malloc arena, where the next build would reuse them but RSS keeps them meanwhile:
         * hand them back now rather than at the next expiry pass. */
        pthread_mutex_unlock(&fs->mu);
        memtune_release();
        pthread_mutex_lock(&fs->mu);
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

struct fullscrape *fullscrape_new(store_t *store, unsigned cache_seconds)
{
    struct fullscrape *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->store = store;
    fs->cache_seconds = cache_seconds;
    pthread_mutex_init(&fs->mu, NULL);
    pthread_cond_init(&fs->cv, NULL);
    if (pthread_create(&fs->thread, NULL, fullscrape_thread, fs) != 0) {
        pthread_mutex_destroy(&fs->mu);
        pthread_cond_destroy(&fs->cv);
        free(fs);
        return NULL;
    }
    return fs;
}

void fullscrape_free(struct fullscrape *fs)
{
    if (!fs)
        return;
    pthread_mutex_lock(&fs->mu);
    fs->stop = true;
    pthread_cond_signal(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
    pthread_join(fs->thread, NULL);
    blob_unref(fs->plain);
    blob_unref(fs->gz);
    fs->plain = fs->gz = NULL;
    charge_cache(fs);
    pthread_mutex_destroy(&fs->mu);
    pthread_cond_destroy(&fs->cv);
    free(fs);
}

uint64_t fullscrape_builds(const struct fullscrape *fs)
{
    return fs ? __atomic_load_n(&fs->builds, __ATOMIC_RELAXED) : 0;
}

struct blob *fullscrape_get(struct fullscrape *fs, bool gzip, uint32_t now)
{
    struct blob *b = NULL;
    pthread_mutex_lock(&fs->mu);
    /* Signed: a worker's cached `now` may lag the builder's clock by a tick. A zero cache time
     * still serves a finished build for a second, or parked requests would wait forever. */
    int32_t age = (int32_t)(now - fs->built_at);
    bool fresh = fs->plain && age < (int32_t)(fs->cache_seconds ? fs->cache_seconds : 1);
    if (!fresh) {
        fs->need_plain = true;
        fs->need_gz |= gzip;
    } else if (!gzip) {
        b = blob_ref(fs->plain);
    } else if (fs->gz) {
        b = blob_ref(fs->gz);
    } else {
        fs->need_gz = true;
    }
    if (!b)
        pthread_cond_signal(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
    return b;
}
