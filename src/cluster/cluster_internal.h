/* cluster_internal.h - the state cluster mode's files share (private to src/cluster/).
 *
 * cluster.h's module is split by job, all over one struct cluster:
 *   cluster.c          start/stop, the auth file, the engine connection helpers, the node-id
 *                      lock, cluster_publish (the workers' side);
 *   sync_out.c         the sync-out thread: rings -> batches -> outage buffer -> XADD;
 *   sync_in.c          the sync-in thread: XREAD -> validate -> store_apply_remote;
 *   positions.c        the per-origin resume positions, a section of the state file;
 *   cluster_metrics.c  cluster_render.
 *
 * Threads and what they own:
 * - workers: their own ring's producer side (cluster_publish) and nothing else;
 * - sync-out: the rings' consumer side, the batch being filled, the queue of sealed batches
 *   (the outage buffer), its own engine connection, the lock key;
 * - sync-in: the per-origin read positions and sequence state, its own engine connection.
 * Everything the metrics read is a relaxed atomic. The two connections are separate because
 * XREAD BLOCK occupies its connection for up to a second. Only built with hiredis. */
#ifndef SWARMD_CLUSTER_INTERNAL_H
#define SWARMD_CLUSTER_INTERNAL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/batch.h"
#include "cluster/cluster.h"
#include "cluster/engine.h"
#include "cluster/ring.h"

#define HEARTBEAT_MS 5000
#define LOCK_REFRESH_MS 1000
#define BACKOFF_MIN_MS 100
/* After a partition heals, the next try comes within ~timeout_ms + 0.5 s. */
#define BACKOFF_MAX_MS 500

enum { DROP_RING_FULL, DROP_OUTAGE, DROP_RATE, DROP_COUNT };

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
    /* atomic: origin time of the last applied batch (wall-clock ms; the batch carries whole
     * seconds), 0 before the first. The lag is taken from it when the metrics are read, so
     * for a silent origin it grows instead of freezing. */
    uint64_t origin_ms;
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
static inline bool stopping(struct cluster *c)
{
    return __atomic_load_n(&c->stop, __ATOMIC_RELAXED);
}

/* ---- cluster.c ---- */

/* Sleep ms milliseconds, resuming after signals. */
void cluster_sleep_ms(unsigned ms);
/* Wall-clock milliseconds: batch times and lag compare clocks of different machines. */
uint64_t cluster_wall_ms(void);
/* Connection `which` (&c->out_up or &c->in_up) is now up or down (why: the reason); logs
 * "cluster: engine up" / "cluster: engine down: why" on the cluster's transitions only. */
void cluster_set_up(struct cluster *c, int *which, bool up, const char *why);
/* A new engine connection with the configured address, timeout and credentials; NULL with
 * the reason in err. */
engine_t *cluster_connect(struct cluster *c, char *err, size_t errlen);
/* One command of argc NUL-terminated arguments; the reply (caller frees) or NULL. */
redisReply *cluster_cmd(engine_t *e, int argc, const char **argv);

enum lock_state { LOCK_OURS, LOCK_FOREIGN, LOCK_ERROR };
/* Take or refresh the node-id lock if it is free or ours (force: also if foreign). */
enum lock_state cluster_lock_take(struct cluster *c, engine_t *e, bool force);
/* After LOCK_FOREIGN: waits ~2 s to see whether the owner still refreshes the lock; takes
 * it over when not (a restart after kill -9). */
enum lock_state cluster_lock_probe(struct cluster *c, engine_t *e);

/* ---- sync_out.c, sync_in.c: the thread bodies (arg: the struct cluster) ---- */
void *cluster_out_main(void *arg);
void *cluster_in_main(void *arg);

/* ---- positions.c ---- */

/* A stream id as Redis writes them ("ms-seq": digits and '-'), short enough for last_id. */
bool cluster_valid_id(const char *s, size_t len);
/* With a state file: set the origins' positions from its restored section and register the
 * snapshot hook that saves them. Call before the sync-in thread starts. */
void cluster_positions_start(struct cluster *c);
/* After both threads stopped: hand the final positions to main's last snapshot (the hook
 * must not outlive c; nothing is saved when the sync-in thread never ran). */
void cluster_positions_stop(struct cluster *c);

#endif
