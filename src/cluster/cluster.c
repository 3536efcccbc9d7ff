/* cluster.c - the sync threads, the node-id lock, resume positions and the cluster metrics.
 *
 * Threads and what they own:
 * - workers: their own ring's producer side (cluster_publish) and nothing else;
 * - sync-out: the rings' consumer side, the batch being filled, the queue of sealed batches
 *   (the outage buffer), its own engine connection, the lock key;
 * - sync-in: the per-origin read positions and sequence state, its own engine connection.
 * Everything the metrics read is a relaxed atomic. The two connections are separate because
 * XREAD BLOCK occupies its connection for up to a second. */
#include "cluster/cluster.h"

#ifdef SWARMD_HAVE_HIREDIS

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/batch.h"
#include "cluster/engine.h"
#include "cluster/ring.h"
#include "persist/persist.h"
#include "store/remote.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/rng.h"

#define RING_CAPACITY 16384
#define DRAIN_TICK_MS 10
#define HEARTBEAT_MS 5000
#define LOCK_TTL_S 15
#define LOCK_REFRESH_MS 1000
/* A live owner refreshes its lock every LOCK_REFRESH_MS; a start that finds a foreign lock
 * looks again this much later: if its TTL went up or barely down, the owner lives. */
#define LOCK_PROBE_MS 2200
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 500 /* after a partition heals, the next try comes within ~timeout_ms + 0.5 s */
#define PIPELINE_MAX 32
#define XREAD_COUNT "64"

enum { DROP_RING_FULL, DROP_OUTAGE, DROP_RATE, DROP_COUNT };
static const char *const drop_names[DROP_COUNT] = {"ring_full", "outage_buffer", "rate"};

struct outbatch {
    struct outbatch *next;
    size_t len;
    uint16_t records;
    uint8_t data[];
};

struct origin {
    uint16_t id;
    char key[128];      /* its stream */
    char last_id[48];   /* last stream id read ("0-0": from the start of the stream) */
    uint64_t inc;       /* incarnation and seq of the last accepted batch */
    uint32_t seq;
    bool known;
    uint64_t applied;   /* atomic: deltas applied */
    uint64_t lag_ms;    /* atomic */
    bool lag_set;       /* atomic */
};

struct cluster {
    const struct config *cfg;
    store_t *store;
    struct access_ctl *access;
    unsigned access_slot, nworkers;
    struct cluster_ring *rings;
    uint32_t cluster_id, renew;
    uint64_t incarnation;
    char own_key[128], lock_key[128], inc_text[24];
    char user[128], pass[256];
    bool have_user, have_pass;
    bool hooked;              /* positions go into the state file's snapshots */
    pthread_mutex_t pos_lock; /* the origins' ids and seq state, read by the snapshot hook */

    int stop; /* atomic */
    pthread_t out_thr, in_thr;
    bool out_started, in_started;
    engine_t *boot; /* the start-up connection, handed to sync-out */

    /* sync-out state */
    struct outbatch *q_head, *q_tail, *cur;
    struct batch_writer w;
    uint64_t cur_started_ms;
    uint32_t seq;
    double tokens;
    uint64_t tokens_ms;
    bool lock_foreign_logged;

    struct origin origins[CONFIG_MAX_CLUSTER_NODES];
    unsigned n_origins;

    /* metrics (relaxed atomics) */
    uint64_t published, dropped[DROP_COUNT], rejected[BATCH_REJECT_COUNT], gaps;
    uint64_t outage_bytes, stream_len;
    int out_up, in_up, logged_up; /* logged_up: -1 unknown, under up_lock */
    pthread_mutex_t up_lock;
};

static inline void add(uint64_t *p, uint64_t n) { __atomic_fetch_add(p, n, __ATOMIC_RELAXED); }
static inline uint64_t get(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void put(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static bool stopping(struct cluster *c) { return __atomic_load_n(&c->stop, __ATOMIC_RELAXED); }

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Wall-clock milliseconds: batch times and lag compare clocks of different machines. */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One of the two connections changed state; log the cluster's transitions only. */
static void set_up(struct cluster *c, int *which, bool up, const char *why)
{
    pthread_mutex_lock(&c->up_lock);
    __atomic_store_n(which, up, __ATOMIC_RELAXED);
    bool all = c->out_up && c->in_up;
    if (all && c->logged_up != 1) {
        log_info("cluster: engine up");
        c->logged_up = 1;
    } else if (!all && !up && c->logged_up != 0) {
        log_warn("cluster: engine down: %s", why ? why : "unknown");
        c->logged_up = 0;
    }
    pthread_mutex_unlock(&c->up_lock);
}

static engine_t *connect_engine(struct cluster *c, char *err, size_t errlen)
{
    struct engine_params p = {
        .host = c->cfg->cluster_host,
        .port = c->cfg->cluster_port,
        .bind = c->cfg->cluster_bind,
        .timeout_ms = c->cfg->cluster_timeout_ms,
        .user = c->have_user ? c->user : NULL,
        .pass = c->have_pass ? c->pass : NULL,
    };
    return engine_connect(&p, err, errlen);
}

static redisReply *cmd(engine_t *e, int argc, const char **argv, const size_t *lens)
{
    return redisCommandArgv(engine_ctx(e), argc, argv, lens);
}

static redisReply *cmd_str(engine_t *e, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return cmd(e, argc, argv, lens);
}

/* ---- the node-id lock ---- */

enum lock_state { LOCK_OURS, LOCK_FOREIGN, LOCK_ERROR };

/* Take or refresh the lock if it is free or ours. */
static enum lock_state lock_take(struct cluster *c, engine_t *e, bool force)
{
    const char *set[] = {"SET", c->lock_key, c->inc_text, "EX", "15", "NX"};
    redisReply *r = cmd_str(e, force ? 5 : 6, set);
    if (!r)
        return LOCK_ERROR;
    bool ok = r->type == REDIS_REPLY_STATUS;
    bool err = r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (ok)
        return LOCK_OURS;
    if (err)
        return LOCK_ERROR;
    const char *getv[] = {"GET", c->lock_key};
    r = cmd_str(e, 2, getv);
    if (!r)
        return LOCK_ERROR;
    enum lock_state st = LOCK_FOREIGN;
    if (r->type == REDIS_REPLY_NIL)
        st = lock_take(c, e, false) == LOCK_OURS ? LOCK_OURS : LOCK_FOREIGN; /* just expired */
    else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, c->inc_text) == 0)
        st = LOCK_OURS;
    else if (r->type != REDIS_REPLY_STRING)
        st = LOCK_ERROR;
    freeReplyObject(r);
    if (st == LOCK_OURS) {
        const char *ex[] = {"SET", c->lock_key, c->inc_text, "EX", "15"};
        r = cmd_str(e, 5, ex);
        if (!r)
            return LOCK_ERROR;
        freeReplyObject(r);
    }
    return st;
}

static long long lock_pttl(struct cluster *c, engine_t *e)
{
    const char *argv[] = {"PTTL", c->lock_key};
    redisReply *r = cmd_str(e, 2, argv);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    if (r)
        freeReplyObject(r);
    return v;
}

/* A foreign lock: does its owner still refresh it? Looks twice, LOCK_PROBE_MS apart. A
 * stopped or killed owner (a restart after kill -9) is taken over; a live one is not. */
static enum lock_state lock_probe(struct cluster *c, engine_t *e)
{
    long long t1 = lock_pttl(c, e);
    if (t1 == -3)
        return LOCK_ERROR;
    sleep_ms(LOCK_PROBE_MS);
    long long t2 = lock_pttl(c, e);
    if (t2 == -3)
        return LOCK_ERROR;
    if (t2 == -2) /* gone meanwhile */
        return lock_take(c, e, false);
    if (t1 >= 0 && t2 > t1 - LOCK_PROBE_MS / 2)
        return LOCK_FOREIGN;
    return lock_take(c, e, true);
}

/* ---- sync-out ---- */

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
        .time = (uint32_t)(wall_ms() / 1000),
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
    redisReply *r = cmd_str(e, 2, argv);
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_INTEGER)
        put(&c->stream_len, (uint64_t)r->integer);
    freeReplyObject(r);
    return true;
}

static void *out_main(void *arg)
{
    struct cluster *c = arg;
    engine_t *e = c->boot;
    uint64_t next_try = 0, last_hb = 0, last_lock = clock_now_ms();
    unsigned backoff = BACKOFF_MIN_MS;
    char err[256];

    c->boot = NULL;
    pthread_setname_np(pthread_self(), "swarmd-sync-out"); /* for top -H and make bench */
    if (e)
        set_up(c, &c->out_up, true, NULL);
    c->tokens = c->cfg->cluster_publish_rate;
    c->tokens_ms = clock_now_ms();
    while (!stopping(c)) {
        sleep_ms(DRAIN_TICK_MS);
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
            e = connect_engine(c, err, sizeof err);
            enum lock_state ls = e ? lock_take(c, e, false) : LOCK_ERROR;
            if (e && ls == LOCK_FOREIGN)
                ls = lock_probe(c, e);
            if (ls != LOCK_OURS) {
                if (ls == LOCK_FOREIGN)
                    snprintf(err, sizeof err, "node id %u is in use", c->cfg->cluster_node_id);
                else if (e)
                    snprintf(err, sizeof err, "%s", engine_error(e));
                engine_close(e);
                e = NULL;
                set_up(c, &c->out_up, false, err);
                next_try = now + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
            last_lock = now;
            set_up(c, &c->out_up, true, NULL);
        }
        if (!e)
            continue;
        const char *why = NULL;
        bool ok = send_queue(c, e, &why);
        if (ok && now - last_lock >= LOCK_REFRESH_MS) {
            enum lock_state ls = lock_take(c, e, false);
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
            set_up(c, &c->out_up, false, why ? why : engine_error(e));
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

/* ---- sync-in ---- */

static struct origin *origin_of(struct cluster *c, const char *key, size_t len)
{
    for (unsigned i = 0; i < c->n_origins; i++)
        if (strlen(c->origins[i].key) == len && memcmp(c->origins[i].key, key, len) == 0)
            return &c->origins[i];
    return NULL;
}

static void reject(struct cluster *c, enum batch_reject why)
{
    if (why > BATCH_OK && why < BATCH_REJECT_COUNT)
        add(&c->rejected[why], 1);
}

/* One batch from origin o's stream. */
static void apply_batch(struct cluster *c, struct origin *o, const uint8_t *p, size_t n,
                        struct store_remote_rec *recs, uint8_t *res)
{
    uint64_t now_ms = wall_ms();
    struct batch_expect exp = {
        .cluster = c->cluster_id,
        .self = (uint16_t)c->cfg->cluster_node_id,
        .nodes = c->cfg->cluster_nodes,
        .n_nodes = c->cfg->cluster_n_nodes,
        .now = (uint32_t)(now_ms / 1000),
        .peer_timeout = c->cfg->peer_timeout,
    };
    struct batch_header h;
    enum batch_reject why = batch_parse_header(p, n, &exp, &h);
    if (why == BATCH_OK && h.origin != o->id)
        why = BATCH_REJECT_ORIGIN; /* a batch naming another node than the stream's owner */
    if (why != BATCH_OK) {
        reject(c, why);
        return;
    }
    if (o->known && h.incarnation == o->inc) {
        if (h.seq <= o->seq) {
            reject(c, BATCH_REJECT_DUPLICATE);
            return;
        }
        if (h.seq != o->seq + 1)
            add(&c->gaps, 1);
    } else if (o->known && h.seq != 1) {
        add(&c->gaps, 1); /* a new incarnation whose first batches were trimmed or dropped */
    }
    pthread_mutex_lock(&c->pos_lock);
    o->known = true;
    o->inc = h.incarnation;
    o->seq = h.seq;
    pthread_mutex_unlock(&c->pos_lock);
    uint64_t origin_ms = (uint64_t)h.time * 1000;
    __atomic_store_n(&o->lag_ms, now_ms > origin_ms ? now_ms - origin_ms : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&o->lag_set, true, __ATOMIC_RELAXED);
    if (h.type != BATCH_DELTAS)
        return;

    struct batch_reader r;
    struct batch_delta d;
    size_t k = 0;
    batch_reader_init(&r, p, n, &h);
    while (batch_next_record(&r, &d, &why)) {
        if (why != BATCH_OK) {
            reject(c, why);
            continue;
        }
        if (!access_ctl_allowed(c->access, d.info_hash)) {
            reject(c, BATCH_REJECT_NOT_ALLOWED);
            continue;
        }
        struct store_remote_rec *rec = &recs[k++];
        memcpy(rec->info_hash, d.info_hash, sizeof rec->info_hash);
        rec->peer = d.addr;
        rec->stop = d.stop;
        rec->seeder = d.seeding;
        rec->completed = d.completed;
    }
    size_t applied = store_apply_remote(c->store, recs, k, clock_now(), res);
    for (size_t i = 0; i < k; i++)
        if (res[i] != STORE_REMOTE_APPLIED)
            reject(c, BATCH_REJECT_CAP);
    add(&o->applied, applied);
}

static bool valid_id(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof((struct origin *)0)->last_id)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* One XREAD reply: [[key, [[id, [field, value, ...]], ...]], ...]. */
static void apply_reply(struct cluster *c, const redisReply *r, struct store_remote_rec *recs,
                        uint8_t *res)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t s = 0; s < r->elements; s++) {
        const redisReply *st = r->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
            st->element[0]->type != REDIS_REPLY_STRING ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        struct origin *o = origin_of(c, st->element[0]->str, st->element[0]->len);
        if (!o)
            continue;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
                en->element[0]->type != REDIS_REPLY_STRING ||
                !valid_id(en->element[0]->str, en->element[0]->len))
                continue;
            const redisReply *fields = en->element[1];
            bool seen = false;
            if (fields->type == REDIS_REPLY_ARRAY)
                for (size_t f = 0; f + 1 < fields->elements; f += 2) {
                    const redisReply *k = fields->element[f], *v = fields->element[f + 1];
                    if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == 'b' &&
                        v->type == REDIS_REPLY_STRING) {
                        apply_batch(c, o, (const uint8_t *)v->str, v->len, recs, res);
                        seen = true;
                        break;
                    }
                }
            if (!seen)
                reject(c, BATCH_REJECT_LENGTH); /* an entry without a batch */
            pthread_mutex_lock(&c->pos_lock);
            memcpy(o->last_id, en->element[0]->str, en->element[0]->len);
            o->last_id[en->element[0]->len] = '\0';
            pthread_mutex_unlock(&c->pos_lock);
        }
    }
}

static void *in_main(void *arg)
{
    struct cluster *c = arg;
    engine_t *e = NULL;
    unsigned backoff = BACKOFF_MIN_MS;
    pthread_setname_np(pthread_self(), "swarmd-sync-in");
    char err[256], block[16];
    size_t max_recs = c->cfg->cluster_batch_bytes; /* generous: any valid batch has fewer */
    if (max_recs < 65535)
        max_recs = 65535; /* a batch from a node with a larger batch_bytes */
    struct store_remote_rec *recs = malloc(sizeof *recs * max_recs);
    uint8_t *res = malloc(max_recs);
    const char **argv = malloc(sizeof *argv * (6 + 2 * c->n_origins));
    if (!recs || !res || !argv) {
        log_error("cluster: out of memory in the sync-in thread");
        free(recs);
        free(res);
        free(argv);
        return NULL;
    }
    /* XREAD BLOCK must end before the socket timeout, or every quiet second would look like
     * a dead engine; and short enough that a stop is not kept waiting (XREAD returns as
     * soon as a batch arrives, so this costs no lag, only 4 empty reads a second). */
    unsigned bl = c->cfg->cluster_timeout_ms / 2;
    snprintf(block, sizeof block, "%u", bl > 250 ? 250 : bl);

    while (!stopping(c)) {
        access_ctl_quiesce(c->access, c->access_slot);
        if (!e) {
            e = connect_engine(c, err, sizeof err);
            if (!e) {
                set_up(c, &c->in_up, false, err);
                for (unsigned t = 0; t < backoff && !stopping(c); t += 50) {
                    access_ctl_quiesce(c->access, c->access_slot); /* reloads need not wait */
                    sleep_ms(50);
                }
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
            set_up(c, &c->in_up, true, NULL);
        }
        if (c->n_origins == 0) { /* a one-node cluster: nothing to read */
            sleep_ms(100);
            continue;
        }
        int argc = 0;
        argv[argc++] = "XREAD";
        argv[argc++] = "COUNT";
        argv[argc++] = XREAD_COUNT;
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
        argv[argc++] = "STREAMS";
        for (unsigned i = 0; i < c->n_origins; i++)
            argv[argc++] = c->origins[i].key;
        for (unsigned i = 0; i < c->n_origins; i++)
            argv[argc++] = c->origins[i].last_id;
        size_t lens[6 + 2 * CONFIG_MAX_CLUSTER_NODES];
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        redisReply *r = redisCommandArgv(engine_ctx(e), argc, argv, lens);
        access_ctl_quiesce(c->access, c->access_slot); /* after up to 250 ms away */
        if (!r || r->type == REDIS_REPLY_ERROR) {
            if (r)
                snprintf(err, sizeof err, "XREAD refused: %.*s", (int)(r->len > 120 ? 120 : r->len),
                         r->str);
            else
                snprintf(err, sizeof err, "%s", engine_error(e));
            set_up(c, &c->in_up, false, err);
            if (r)
                freeReplyObject(r);
            engine_close(e);
            e = NULL;
            continue;
        }
        apply_reply(c, r, recs, res);
        freeReplyObject(r);
    }
    engine_close(e);
    free(recs);
    free(res);
    free(argv);
    return NULL;
}

/* ---- resume positions: a section of the state file, one text line per origin ---- */

#define POSITIONS_TAG "SWCL"

/* "origin incarnation seq stream-id" lines into buf; returns the length (0 if it does not
 * fit). Caller holds pos_lock, or no sync-in thread runs. */
static size_t format_positions(const struct origin *o, unsigned n, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        int w = snprintf((char *)buf + len, cap - len, "%u %016llx %u %s\n", o[i].id,
                         (unsigned long long)o[i].inc, o[i].known ? o[i].seq : 0,
                         o[i].last_id);
        if (w < 0 || (size_t)w >= cap - len)
            return 0;
        len += (size_t)w;
    }
    return len;
}

/* The snapshot hook (persist.h): the positions are taken just before the swarms are copied
 * into the same file, so after a crash the file describes one moment and a restart re-reads
 * exactly what the snapshot lacks. (Records applied between the capture and the copy are
 * read again: upserts are idempotent; a completed event in that instant may count twice.) */
static size_t positions_capture(void *ctx, uint8_t *buf, size_t cap)
{
    struct cluster *c = ctx;
    pthread_mutex_lock(&c->pos_lock);
    size_t n = format_positions(c->origins, c->n_origins, buf, cap);
    pthread_mutex_unlock(&c->pos_lock);
    return n;
}

/* After cluster_stop the final snapshot still needs the positions: a copy that outlives c. */
static uint8_t final_positions[PERSIST_SECTION_MAX];
static size_t final_len;

static size_t final_capture(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    if (final_len > cap)
        return 0;
    memcpy(buf, final_positions, final_len);
    return final_len;
}

static void load_positions(struct cluster *c)
{
    static char text[PERSIST_SECTION_MAX + 1];
    size_t len = persist_restored_section(POSITIONS_TAG, (uint8_t *)text, PERSIST_SECTION_MAX);
    if (!len)
        return;
    text[len] = '\0';
    char id[48];
    unsigned origin, seq, n = 0;
    unsigned long long inc;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "%u %llx %u %47s", &origin, &inc, &seq, id) != 4 ||
            !valid_id(id, strlen(id)))
            continue;
        for (unsigned i = 0; i < c->n_origins; i++) {
            struct origin *o = &c->origins[i];
            if (o->id != origin)
                continue;
            snprintf(o->last_id, sizeof o->last_id, "%s", id);
            o->inc = inc;
            o->seq = seq;
            o->known = seq != 0;
            n++;
        }
    }
    log_info("cluster: resuming %u stream%s from the state file", n, n == 1 ? "" : "s");
}

/* ---- start and stop ---- */

static bool read_auth(struct cluster *c, const char *path)
{
    struct stat st;
    char line[512];
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("cluster.auth_file: cannot read %s: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        log_error("cluster.auth_file: %s is readable by group or others (chmod 600 it)", path);
        fclose(f);
        return false;
    }
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char *a = strtok(ok ? line : NULL, " \t"), *b = a ? strtok(NULL, " \t") : NULL;
    if (!a || strtok(NULL, " \t") || strlen(a) >= sizeof c->user ||
        (b && strlen(b) >= sizeof c->pass) || (!b && strlen(a) >= sizeof c->pass)) {
        log_error("cluster.auth_file: %s must hold one line \"USER PASSWORD\" or \"PASSWORD\"",
                  path);
        return false;
    }
    if (b) {
        snprintf(c->user, sizeof c->user, "%s", a);
        snprintf(c->pass, sizeof c->pass, "%s", b);
        c->have_user = true;
    } else {
        snprintf(c->pass, sizeof c->pass, "%s", a);
    }
    c->have_pass = true;
    return true;
}

uint32_t cluster_renew(const struct cluster *c) { return c->renew; }

struct cluster *cluster_start(const struct config *cfg, store_t *store, struct access_ctl *access,
                              unsigned access_slot, unsigned nworkers)
{
    struct cluster *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("cluster: out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->store = store;
    c->access = access;
    c->access_slot = access_slot;
    c->nworkers = nworkers;
    c->logged_up = -1;
    pthread_mutex_init(&c->pos_lock, NULL);
    pthread_mutex_init(&c->up_lock, NULL);
    c->cluster_id = batch_cluster_id(cfg->cluster_name);
    /* The spec's rule publishes a re-announce once the previous one is sync_renew old. With
     * an announce interval shorter than that, re-announces would never be published and the
     * other nodes would expire the peer while it is alive here: renew at least every half
     * interval (clients are told to come back after about one interval). */
    c->renew = cfg->cluster_sync_renew;
    if (c->renew > cfg->interval / 2)
        c->renew = cfg->interval / 2 ? cfg->interval / 2 : 1;
    while (!c->incarnation)
        if (!rng_os_bytes(&c->incarnation, sizeof c->incarnation)) {
            log_error("cluster: no randomness from the operating system");
            free(c);
            return NULL;
        }
    snprintf(c->inc_text, sizeof c->inc_text, "%016llx", (unsigned long long)c->incarnation);
    snprintf(c->own_key, sizeof c->own_key, "swarmd:{%s}:d:%u", cfg->cluster_name,
             cfg->cluster_node_id);
    snprintf(c->lock_key, sizeof c->lock_key, "swarmd:{%s}:lock:%u", cfg->cluster_name,
             cfg->cluster_node_id);
    for (unsigned i = 0; i < cfg->cluster_n_nodes; i++) {
        if (cfg->cluster_nodes[i] == cfg->cluster_node_id)
            continue;
        struct origin *o = &c->origins[c->n_origins++];
        o->id = cfg->cluster_nodes[i];
        snprintf(o->key, sizeof o->key, "swarmd:{%s}:d:%u", cfg->cluster_name, o->id);
        /* No saved position: read what the stream retains. Batches older than the peer
         * timeout are refused as stale; the rest brings this node up to date at once. */
        snprintf(o->last_id, sizeof o->last_id, "0-0");
    }
    if (cfg->statefile[0]) {
        load_positions(c);
        struct persist_hook ph = {POSITIONS_TAG, positions_capture, c};
        persist_set_hook(&ph);
        c->hooked = true;
    }
    if (cfg->cluster_auth_file[0] && !read_auth(c, cfg->cluster_auth_file))
        goto fail;
    c->rings = calloc(nworkers, sizeof *c->rings);
    if (!c->rings)
        goto fail;
    for (unsigned i = 0; i < nworkers; i++)
        if (!cluster_ring_init(&c->rings[i], RING_CAPACITY))
            goto fail;

    log_info("cluster: node %u of %s, engine %s:%u", cfg->cluster_node_id, cfg->cluster_name,
             cfg->cluster_host, cfg->cluster_port);
    char err[256];
    c->boot = connect_engine(c, err, sizeof err);
    if (c->boot) {
        enum lock_state ls = lock_take(c, c->boot, false);
        if (ls == LOCK_FOREIGN)
            ls = lock_probe(c, c->boot);
        if (ls == LOCK_FOREIGN) {
            log_error("cluster: node id %u is in use (lock %s held by a running node)",
                      cfg->cluster_node_id, c->lock_key);
            goto fail;
        }
        if (ls == LOCK_ERROR) {
            snprintf(err, sizeof err, "%s", engine_error(c->boot));
            engine_close(c->boot);
            c->boot = NULL;
        }
    }
    if (!c->boot)
        set_up(c, &c->out_up, false, err); /* serve anyway; sync-out keeps trying */
    if (pthread_create(&c->out_thr, NULL, out_main, c) != 0)
        goto fail;
    c->out_started = true;
    if (pthread_create(&c->in_thr, NULL, in_main, c) != 0)
        goto fail;
    c->in_started = true;
    return c;
fail:
    cluster_stop(c);
    return NULL;
}

void cluster_stop(struct cluster *c)
{
    if (!c)
        return;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
    if (c->out_started)
        pthread_join(c->out_thr, NULL);
    if (c->in_started)
        pthread_join(c->in_thr, NULL);
    if (c->hooked) {
        /* Nothing applies any more: main's final snapshot, right after, holds exactly the
         * swarms these positions lead to. */
        final_len = format_positions(c->origins, c->n_origins, final_positions,
                                     sizeof final_positions);
        struct persist_hook ph = {POSITIONS_TAG, final_capture, NULL};
        persist_set_hook(c->in_started ? &ph : NULL);
    }
    engine_close(c->boot);
    if (c->rings)
        for (unsigned i = 0; i < c->nworkers; i++)
            cluster_ring_free(&c->rings[i]);
    free(c->rings);
    pthread_mutex_destroy(&c->pos_lock);
    pthread_mutex_destroy(&c->up_lock);
    free(c);
}

void cluster_publish(struct cluster *c, unsigned worker, const uint8_t *info_hash,
                     const struct peer_addr *peer, bool stop, bool seeder, bool completed)
{
    struct cluster_delta d;
    memcpy(d.info_hash, info_hash, sizeof d.info_hash);
    d.op = (uint8_t)((peer->family == ADDR_V6 ? BATCH_OP_V6 : 0) | (stop ? BATCH_OP_STOP : 0) |
                     (seeder ? BATCH_OP_SEEDING : 0) | (completed ? BATCH_OP_COMPLETED : 0));
    d.pad = 0;
    d.port = peer->port;
    memcpy(d.addr, peer->ip, sizeof d.addr);
    cluster_ring_push(&c->rings[worker], &d);
}

/* ---- metrics ---- */

static void fam(struct text *t, bool prom, const char *name, const char *type, const char *help)
{
    if (prom)
        tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void cluster_render(struct cluster *c, struct text *t, bool prom)
{
    uint64_t ring_full = 0;
    for (unsigned i = 0; i < c->nworkers; i++)
        ring_full += cluster_ring_dropped(&c->rings[i]);

    fam(t, prom, "swarmd_cluster_engine_up", "gauge", "1 while both engine connections work.");
    tprintf(t, "swarmd_cluster_engine_up %d\n",
            __atomic_load_n(&c->out_up, __ATOMIC_RELAXED) &&
                __atomic_load_n(&c->in_up, __ATOMIC_RELAXED));
    fam(t, prom, "swarmd_cluster_published_total", "counter",
        "Peer deltas this node wrote to its stream.");
    tprintf(t, "swarmd_cluster_published_total %llu\n", (unsigned long long)get(&c->published));
    fam(t, prom, "swarmd_cluster_dropped_total", "counter",
        "Peer deltas this node did not publish, by reason.");
    for (int i = 0; i < DROP_COUNT; i++)
        tprintf(t, "swarmd_cluster_dropped_total{reason=\"%s\"} %llu\n", drop_names[i],
                (unsigned long long)(i == DROP_RING_FULL ? ring_full : get(&c->dropped[i])));
    fam(t, prom, "swarmd_cluster_applied_total", "counter",
        "Peer deltas from other nodes applied here, by origin node.");
    for (unsigned i = 0; i < c->n_origins; i++)
        tprintf(t, "swarmd_cluster_applied_total{origin=\"%u\"} %llu\n", c->origins[i].id,
                (unsigned long long)get(&c->origins[i].applied));
    fam(t, prom, "swarmd_cluster_rejected_total", "counter",
        "Batches (bad header) or records refused from the bus, by reason.");
    for (int i = 1; i < BATCH_REJECT_COUNT; i++)
        tprintf(t, "swarmd_cluster_rejected_total{reason=\"%s\"} %llu\n",
                batch_reject_name((enum batch_reject)i), (unsigned long long)get(&c->rejected[i]));
    fam(t, prom, "swarmd_cluster_lag_seconds", "gauge",
        "Now minus the origin time of the last batch applied from that node.");
    for (unsigned i = 0; i < c->n_origins; i++)
        if (__atomic_load_n(&c->origins[i].lag_set, __ATOMIC_RELAXED)) {
            uint64_t ms = get(&c->origins[i].lag_ms);
            tprintf(t, "swarmd_cluster_lag_seconds{origin=\"%u\"} %llu.%03u\n", c->origins[i].id,
                    (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
        }
    fam(t, prom, "swarmd_cluster_gaps_total", "counter",
        "Sequence jumps seen in other nodes' streams (dropped or trimmed batches).");
    tprintf(t, "swarmd_cluster_gaps_total %llu\n", (unsigned long long)get(&c->gaps));
    fam(t, prom, "swarmd_cluster_outage_buffer_bytes", "gauge",
        "Batches waiting for the engine, bytes.");
    tprintf(t, "swarmd_cluster_outage_buffer_bytes %llu\n",
            (unsigned long long)get(&c->outage_bytes));
    fam(t, prom, "swarmd_cluster_stream_length", "gauge",
        "Entries in this node's stream (XLEN, read every 5 s).");
    tprintf(t, "swarmd_cluster_stream_length %llu\n", (unsigned long long)get(&c->stream_len));
}

#else /* !SWARMD_HAVE_HIREDIS: config.c refuses cluster.engine, so nothing calls these. */

#include "util/log.h"

struct cluster *cluster_start(const struct config *cfg, store_t *store, struct access_ctl *access,
                              unsigned access_slot, unsigned nworkers)
{
    (void)cfg, (void)store, (void)access, (void)access_slot, (void)nworkers;
    log_error("cluster.engine: this swarmd was built without hiredis");
    return NULL;
}

void cluster_stop(struct cluster *c) { (void)c; }
uint32_t cluster_renew(const struct cluster *c) { (void)c; return 0; }
void cluster_publish(struct cluster *c, unsigned worker, const uint8_t *info_hash,
                     const struct peer_addr *peer, bool stop, bool seeder, bool completed)
{
    (void)c, (void)worker, (void)info_hash, (void)peer, (void)stop, (void)seeder, (void)completed;
}
void cluster_render(struct cluster *c, struct text *t, bool prom) { (void)c, (void)t, (void)prom; }

#endif
