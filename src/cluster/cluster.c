/* cluster.c - cluster mode's start and stop, the auth file, the engine connection helpers
 * the threads share, the node-id lock and the workers' cluster_publish. The threads live in
 * sync_out.c and sync_in.c, the resume positions in positions.c, the metrics in
 * cluster_metrics.c; cluster_internal.h says who owns what. */
#include "cluster/cluster.h"

#ifdef SWARMD_HAVE_HIREDIS

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/log_limit.h"
#include "util/rng.h"

#define RING_CAPACITY 16384
/* Seconds the node-id lock outlives its last refresh (as text: it is a SET argument). */
#define LOCK_TTL_S "15"
/* A live owner refreshes its lock every LOCK_REFRESH_MS; a start that finds a foreign lock
 * looks again this much later: if its TTL went up or barely down, the owner lives. */
#define LOCK_PROBE_MS 2200

void cluster_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint64_t cluster_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Seconds between two "engine down" lines: a flapping engine (up, refused, up ...) would
 * otherwise log a pair per reconnect. */
#define DOWN_LOG_PERIOD 10

void cluster_set_up(struct cluster *c, int *which, bool up, const char *why)
{
    static struct log_limit down_limit = LOG_LIMIT_INIT;
    pthread_mutex_lock(&c->up_lock);
    __atomic_store_n(which, up, __ATOMIC_RELAXED);
    bool all = c->out_up && c->in_up;
    if (all && c->logged_up != 1) {
        log_info("cluster: engine up");
        c->logged_up = 1;
    } else if (!all && !up && c->logged_up != 0) {
        /* logged_up changes only when the line is written: after a suppressed "down" the
         * next "up" is not logged either, and a lasting outage is logged at the next failed
         * reconnect after the period (with the count of what was left out). */
        uint32_t n;
        if (log_limit_allow(&down_limit, clock_now(), DOWN_LOG_PERIOD, &n)) {
            if (n)
                log_warn("cluster: engine down: %s (%u flaps not logged)",
                         why ? why : "unknown", n);
            else
                log_warn("cluster: engine down: %s", why ? why : "unknown");
            c->logged_up = 0;
        }
    }
    pthread_mutex_unlock(&c->up_lock);
}

engine_t *cluster_connect(struct cluster *c, char *err, size_t errlen)
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

redisReply *cluster_cmd(engine_t *e, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return cmd(e, argc, argv, lens);
}

/* ---- the node-id lock ---- */

enum lock_state cluster_lock_take(struct cluster *c, engine_t *e, bool force)
{
    const char *set[] = {"SET", c->lock_key, c->inc_text, "EX", LOCK_TTL_S, "NX"};
    redisReply *r = cluster_cmd(e, force ? 5 : 6, set);
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
    r = cluster_cmd(e, 2, getv);
    if (!r)
        return LOCK_ERROR;
    enum lock_state st = LOCK_FOREIGN;
    if (r->type == REDIS_REPLY_NIL) /* just expired */
        st = cluster_lock_take(c, e, false) == LOCK_OURS ? LOCK_OURS : LOCK_FOREIGN;
    else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, c->inc_text) == 0)
        st = LOCK_OURS;
    else if (r->type != REDIS_REPLY_STRING)
        st = LOCK_ERROR;
    freeReplyObject(r);
    if (st == LOCK_OURS) {
        const char *ex[] = {"SET", c->lock_key, c->inc_text, "EX", LOCK_TTL_S};
        r = cluster_cmd(e, 5, ex);
        if (!r)
            return LOCK_ERROR;
        freeReplyObject(r);
    }
    return st;
}

static long long lock_pttl(struct cluster *c, engine_t *e)
{
    const char *argv[] = {"PTTL", c->lock_key};
    redisReply *r = cluster_cmd(e, 2, argv);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    if (r)
        freeReplyObject(r);
    return v;
}

/* A foreign lock: does its owner still refresh it? Looks twice, LOCK_PROBE_MS apart. A
 * stopped or killed owner (a restart after kill -9) is taken over; a live one is not. */
enum lock_state cluster_lock_probe(struct cluster *c, engine_t *e)
{
    long long t1 = lock_pttl(c, e);
    if (t1 == -3)
        return LOCK_ERROR;
    cluster_sleep_ms(LOCK_PROBE_MS);
    long long t2 = lock_pttl(c, e);
    if (t2 == -3)
        return LOCK_ERROR;
    if (t2 == -2) /* gone meanwhile */
        return cluster_lock_take(c, e, false);
    if (t1 >= 0 && t2 > t1 - LOCK_PROBE_MS / 2)
        return LOCK_FOREIGN;
    return cluster_lock_take(c, e, true);
}

/* ---- the auth file, start and stop ---- */

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
    cluster_positions_start(c);
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
    c->boot = cluster_connect(c, err, sizeof err);
    if (c->boot) {
        enum lock_state ls = cluster_lock_take(c, c->boot, false);
        if (ls == LOCK_FOREIGN)
            ls = cluster_lock_probe(c, c->boot);
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
        cluster_set_up(c, &c->out_up, false, err); /* serve anyway; sync-out keeps trying */
    if (pthread_create(&c->out_thr, NULL, cluster_out_main, c) != 0)
        goto fail;
    c->out_started = true;
    if (pthread_create(&c->in_thr, NULL, cluster_in_main, c) != 0)
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
    cluster_positions_stop(c);
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
