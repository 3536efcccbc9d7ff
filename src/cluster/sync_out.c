/* sync_out.c - the sync-out thread (cluster_internal.h): drains the workers' rings every
 * ~10 ms, caps the publish rate, packs deltas into batches (batch.h), queues sealed batches
 * (the outage buffer, bounded by cluster.outage_buffer) and XADDs them to this node's stream,
 * pipelined; sends a heartbeat every 5 s, refreshes the node-id lock and reads XLEN. While the
 * engine is away it keeps queueing and reconnects with a short backoff. */
#ifdef SWARMD_HAVE_HIREDIS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "util/clock.h"
#include "util/log.h"

#define DRAIN_TICK_MS 10
#define PIPELINE_MAX 32

static void queue_push(struct cluster *c, struct outbatch *b)
{
    b->next = NULL;
    if (c->q_tail)
        c->q_tail->next = b;
    else
        c->q_head = b;
    c->q_tail = b;
    add(&c->outage_bytes, b->len);
}

static struct outbatch *queue_pop(struct cluster *c)
{
    struct outbatch *b = c->q_head;
    if (!b)
        return NULL;
    c->q_head = b->next;
    if (!c->q_head)
        c->q_tail = NULL;
    __atomic_fetch_sub(&c->outage_bytes, b->len, __ATOMIC_RELAXED);
    return b;
}

/* The outage buffer's bound: the oldest batches go first (their peers are the likeliest to
 * have re-announced since, and the receivers count the seq gap). */
static void queue_trim(struct cluster *c)
{
    while (c->q_head && get(&c->outage_bytes) > c->cfg->cluster_outage_buffer) {
        struct outbatch *b = queue_pop(c);
        add(&c->dropped[DROP_OUTAGE], b->records);
        free(b);
    }
}

static struct batch_header header(struct cluster *c)
{
    struct batch_header h = {
        .origin = (uint16_t)c->cfg->cluster_node_id,
        .cluster = c->cluster_id,
        .incarnation = c->incarnation,
        .seq = ++c->seq,
        .time = (uint32_t)(cluster_wall_ms() / 1000),
    };
    return h;
}

static void seal(struct cluster *c)
{
    if (!c->cur)
        return;
    c->cur->len = batch_finish(&c->w);
    c->cur->records = c->w.count;
    queue_push(c, c->cur);
    c->cur = NULL;
    queue_trim(c);
}

static bool open_batch(struct cluster *c, uint64_t now_ms)
{
    size_t cap = c->cfg->cluster_batch_bytes;
    c->cur = malloc(sizeof *c->cur + cap);
    if (!c->cur)
        return false;
    struct batch_header h = header(c);
    batch_writer_init(&c->w, c->cur->data, cap, &h);
    c->cur_started_ms = now_ms;
    return true;
}

static void heartbeat(struct cluster *c)
{
    struct store_stats ss;
    store_get_stats(c->store, &ss);
    struct batch_heartbeat hb = {
        .peers = ss.peers4 + ss.peers6,
        .torrents = ss.torrents,
        .published = get(&c->published),
    };
    for (unsigned i = 0; i < c->nworkers; i++)
        hb.dropped += cluster_ring_dropped(&c->rings[i]);
    hb.dropped += get(&c->dropped[DROP_OUTAGE]) + get(&c->dropped[DROP_RATE]);
    struct outbatch *b = malloc(sizeof *b + BATCH_HEARTBEAT_LEN);
    if (!b)
        return;
    struct batch_header h = header(c);
    b->len = batch_write_heartbeat(b->data, BATCH_HEARTBEAT_LEN, &h, &hb);
    b->records = 0;
    queue_push(c, b);
    queue_trim(c);
}

/* Token bucket: publish_rate per second, a burst of one second's worth. */
static bool rate_ok(struct cluster *c, uint64_t now_ms)
{
    unsigned rate = c->cfg->cluster_publish_rate;
    if (!rate)
        return true;
    if (now_ms > c->tokens_ms) {
        c->tokens += (double)(now_ms - c->tokens_ms) * rate / 1000.0;
        if (c->tokens > rate)
            c->tokens = rate;
        c->tokens_ms = now_ms;
    }
    if (c->tokens < 1.0) {
        add(&c->dropped[DROP_RATE], 1);
        return false;
    }
    c->tokens -= 1.0;
    return true;
}

static void add_delta(struct cluster *c, const struct cluster_delta *d, uint64_t now_ms)
{
    struct batch_delta bd;
    memset(&bd, 0, sizeof bd);
    memcpy(bd.info_hash, d->info_hash, sizeof bd.info_hash);
    bd.addr.family = (d->op & BATCH_OP_V6) ? ADDR_V6 : ADDR_V4;
    memcpy(bd.addr.ip, d->addr, (d->op & BATCH_OP_V6) ? 16 : 4);
    bd.addr.port = d->port;
    bd.stop = (d->op & BATCH_OP_STOP) != 0;
    bd.seeding = (d->op & BATCH_OP_SEEDING) != 0;
    bd.completed = (d->op & BATCH_OP_COMPLETED) != 0;
    for (int tries = 0; tries < 2; tries++) {
        if (!c->cur && !open_batch(c, now_ms))
            return;
        if (batch_add(&c->w, &bd))
            return;
        seal(c);
    }
}

static void drain(struct cluster *c, uint64_t now_ms)
{
    struct cluster_delta buf[256];
    for (unsigned i = 0; i < c->nworkers; i++) {
        size_t n;
        while ((n = cluster_ring_pop(&c->rings[i], buf, 256)) > 0)
            for (size_t j = 0; j < n; j++)
                if (rate_ok(c, now_ms))
                    add_delta(c, &buf[j], now_ms);
    }
}

/* XADD the queued batches, pipelined. false when the connection failed (the unconfirmed
 * batches stay queued for the next connection; a receiver drops any it already has by seq). */
static bool send_queue(struct cluster *c, engine_t *e, const char **why)
{
    redisContext *ctx = engine_ctx(e);
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%u", c->cfg->cluster_retention);
    while (c->q_head) {
        unsigned n = 0;
        for (struct outbatch *b = c->q_head; b && n < PIPELINE_MAX; b = b->next, n++) {
            const char *argv[] = {"XADD", c->own_key, "MAXLEN", "~", maxlen, "*", "b",
                                  (const char *)b->data};
            size_t lens[] = {4, strlen(c->own_key), 6, 1, strlen(maxlen), 1, 1, b->len};
            if (redisAppendCommandArgv(ctx, 8, argv, lens) != REDIS_OK) {
                *why = "out of memory";
                return false;
            }
        }
        for (unsigned i = 0; i < n; i++) {
            redisReply *r = NULL;
            if (redisGetReply(ctx, (void **)&r) != REDIS_OK || !r) {
                *why = engine_error(e);
                return false;
            }
            bool ok = r->type == REDIS_REPLY_STRING;
            if (!ok) {
                static char msg[160];
                snprintf(msg, sizeof msg, "XADD refused: %.*s",
                         r->type == REDIS_REPLY_ERROR ? (int)(r->len > 120 ? 120 : r->len) : 0,
                         r->type == REDIS_REPLY_ERROR ? r->str : "");
                *why = msg;
                /* Read the rest of the pipeline's replies so the connection stays in step,
                 * then report the engine as unusable. */
                freeReplyObject(r);
                for (unsigned j = i + 1; j < n; j++)
                    if (redisGetReply(ctx, (void **)&r) == REDIS_OK && r)
                        freeReplyObject(r);
                return false;
            }
            freeReplyObject(r);
            struct outbatch *b = queue_pop(c);
            add(&c->published, b->records);
            free(b);
        }
    }
    return true;
}

static bool read_xlen(struct cluster *c, engine_t *e)
{
    const char *argv[] = {"XLEN", c->own_key};
    redisReply *r = cluster_cmd(e, 2, argv);
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_INTEGER)
        put(&c->stream_len, (uint64_t)r->integer);
    freeReplyObject(r);
    return true;
}

void *cluster_out_main(void *arg)
{
    struct cluster *c = arg;
    engine_t *e = c->boot;
    uint64_t next_try = 0, last_hb = 0, last_lock = clock_now_ms();
    unsigned backoff = BACKOFF_MIN_MS;
    char err[256];

    c->boot = NULL;
    pthread_setname_np(pthread_self(), "swarmd-sync-out"); /* for top -H and make bench */
    if (e)
        cluster_set_up(c, &c->out_up, true, NULL);
    c->tokens = c->cfg->cluster_publish_rate;
    c->tokens_ms = clock_now_ms();
    while (!stopping(c)) {
        cluster_sleep_ms(DRAIN_TICK_MS);
        uint64_t now = clock_now_ms();
        drain(c, now);
        if (c->cur && now - c->cur_started_ms >= c->cfg->cluster_flush_ms)
            seal(c);
        bool hb = now - last_hb >= HEARTBEAT_MS;
        if (hb) {
            seal(c);
            heartbeat(c);
            last_hb = now;
        }
        if (!e && now >= next_try) {
            e = cluster_connect(c, err, sizeof err);
            enum lock_state ls = e ? cluster_lock_take(c, e, false) : LOCK_ERROR;
            if (e && ls == LOCK_FOREIGN)
                ls = cluster_lock_probe(c, e);
            if (ls != LOCK_OURS) {
                if (ls == LOCK_FOREIGN)
                    snprintf(err, sizeof err, "node id %u is in use", c->cfg->cluster_node_id);
                else if (e)
                    snprintf(err, sizeof err, "%s", engine_error(e));
                engine_close(e);
                e = NULL;
                cluster_set_up(c, &c->out_up, false, err);
                next_try = now + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
            last_lock = now;
            cluster_set_up(c, &c->out_up, true, NULL);
        }
        if (!e)
            continue;
        const char *why = NULL;
        bool ok = send_queue(c, e, &why);
        if (ok && now - last_lock >= LOCK_REFRESH_MS) {
            enum lock_state ls = cluster_lock_take(c, e, false);
            last_lock = now;
            if (ls == LOCK_FOREIGN && !c->lock_foreign_logged) {
                log_error("cluster: node id %u is in use by another process (lock %s)",
                          c->cfg->cluster_node_id, c->lock_key);
                c->lock_foreign_logged = true;
            }
            ok = ls != LOCK_ERROR;
        }
        if (ok && hb)
            ok = read_xlen(c, e);
        if (!ok) {
            cluster_set_up(c, &c->out_up, false, why ? why : engine_error(e));
            engine_close(e);
            e = NULL;
            next_try = now + backoff;
        }
    }
    /* Stopping: what the workers published last still goes out if the engine is there. */
    drain(c, clock_now_ms());
    seal(c);
    const char *why;
    if (e)
        send_queue(c, e, &why);
    engine_close(e);
    while (c->q_head)
        free(queue_pop(c));
    free(c->cur);
    c->cur = NULL;
    return NULL;
}

#endif
