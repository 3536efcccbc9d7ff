/* sync_in.c - the sync-in thread (cluster_internal.h): XREADs the other nodes' streams from
 * the last applied ids, validates every batch (batch.h, plus origin, incarnation and seq),
 * applies its records with store_apply_remote and counts what it refused; keeps the per-origin
 * positions (under pos_lock, for the snapshot hook) and the lag's origin time. */
#ifdef SWARMD_HAVE_HIREDIS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "store/remote.h"
#include "util/clock.h"
#include "util/log.h"

#define XREAD_COUNT "64"

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
    uint64_t now_ms = cluster_wall_ms();
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
    /* Heartbeats count too: they keep a live but idle origin's lag under ~5 s. */
    put(&o->origin_ms, (uint64_t)h.time * 1000);
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
                !cluster_valid_id(en->element[0]->str, en->element[0]->len))
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

void *cluster_in_main(void *arg)
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
            e = cluster_connect(c, err, sizeof err);
            if (!e) {
                cluster_set_up(c, &c->in_up, false, err);
                for (unsigned t = 0; t < backoff && !stopping(c); t += 50) {
                    access_ctl_quiesce(c->access, c->access_slot); /* reloads need not wait */
                    cluster_sleep_ms(50);
                }
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
            cluster_set_up(c, &c->in_up, true, NULL);
        }
        if (c->n_origins == 0) { /* a one-node cluster: nothing to read */
            cluster_sleep_ms(100);
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
                snprintf(err, sizeof err, "XREAD refused: %.*s",
                         (int)(r->len > 120 ? 120 : r->len), r->str);
            else
                snprintf(err, sizeof err, "%s", engine_error(e));
            cluster_set_up(c, &c->in_up, false, err);
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

#endif
