/* main.c - swarmd's entry point: configuration, sockets, threads, signals and shutdown.
 *
 * Start-up order matters: the configuration is parsed before anything is opened; signals are
 * blocked before the first thread exists so that only the main thread ever receives them
 * (via sigwait, so no async-signal-safety puzzles); every socket is bound before any worker
 * starts, so a bind failure stops start-up cleanly. Shutdown reverses it all. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslist.h"
#include "cluster/cluster.h"
#include "config.h"
#include "fullscrape.h"
#include "net/conn_limit.h"
#include "net/sock.h"
#include "persist/persist.h"
#include "privdrop.h"
#include "stats.h"
#include "store/store.h"
#include "tracker.h"
#include "udp_secret.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/log_syslog.h"
#include "util/memtune.h"
#include "util/rng.h"
#include "worker.h"
#include "ws_tracker.h"

#define HOUSEKEEPING_TICK_MS 100
/* SIGTERM/SIGINT: longest time spent finishing in-flight replies, so that swarmd exits
 * within a second (plus the final snapshot) even when a client stops reading. */
#define SHUTDOWN_DRAIN_MS 850
#define TORRENT_KEEP_SECONDS 86400

static unsigned usable_cpus(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
    /* Honour taskset/cgroup CPU pinning: more workers than usable CPUs only adds switches. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* ---- sockets ---- */

/* fd[b * nworkers + w] is worker w's socket for bind b (-1: that bind was skipped). Where
 * SO_REUSEPORT is missing, one socket is shared and only its owner entry closes it. */
struct sockets {
    struct config_bind binds[CONFIG_MAX_BINDS];
    unsigned nbinds, nworkers;
    int *fd;
    bool *owned;
};

static int bind_one(const struct config_bind *b, const struct peer_addr *a, bool reuseport,
                    char *err, size_t errlen)
{
    if (b->proto == LISTEN_TCP)
        return sock_tcp_listen(a, reuseport, 0, err, errlen);
    return sock_udp_bind(a, reuseport, err, errlen);
}

static const char *proto_name(enum listen_proto p) { return p == LISTEN_TCP ? "http" : "udp"; }

static void sockets_close(struct sockets *s)
{
    if (!s->fd)
        return;
    for (unsigned i = 0; i < s->nbinds * s->nworkers; i++)
        if (s->owned[i] && s->fd[i] >= 0)
            close(s->fd[i]);
    free(s->fd);
    free(s->owned);
    s->fd = NULL;
    s->owned = NULL;
}

/* Bind every address for every worker. false after logging the reason. */
static bool sockets_open(struct sockets *s, const struct config *cfg, unsigned nworkers)
{
    char err[256], text[ADDR_STRLEN];
    bool have6 = sock_have_ipv6(), warned6 = false, warned_reuse = false;
    uint16_t picked[2] = {0, 0}; /* kernel-chosen port per protocol, for the next port-0 bind */
    unsigned total = 0;

    s->nbinds = config_binds(cfg, s->binds);
    s->nworkers = nworkers;
    s->fd = malloc(sizeof *s->fd * s->nbinds * nworkers);
    s->owned = calloc((size_t)s->nbinds * nworkers, sizeof *s->owned);
    if (!s->fd || !s->owned) {
        log_error("out of memory");
        return false;
    }
    for (unsigned i = 0; i < s->nbinds * nworkers; i++)
        s->fd[i] = -1;

    for (unsigned b = 0; b < s->nbinds; b++) {
        const struct config_bind *cb = &s->binds[b];
        int *fds = &s->fd[b * nworkers];
        bool *own = &s->owned[b * nworkers];
        struct peer_addr a = cb->addr;
        unsigned pi = cb->proto == LISTEN_TCP ? 0 : 1;
        bool reuse = true;
        int fd, e;

        if (cb->optional && cb->addr.family == ADDR_V6 && !have6) {
            if (!warned6)
                log_warn("IPv6 unavailable, serving IPv4 only");
            warned6 = true;
            continue;
        }
        /* Probe without SO_REUSEPORT first: a socket with it would silently share the port
         * with another swarmd of the same user instead of reporting "Address in use". The
         * probe also learns the port the kernel picks for port 0; with port 0, both families
         * get the same number if it is free (one port for the operator and the tests). */
        if (a.port == 0 && picked[pi])
            a.port = picked[pi];
        fd = bind_one(cb, &a, false, err, sizeof err);
        if (fd < 0 && cb->addr.port == 0 && a.port != 0) {
            a.port = 0;
            fd = bind_one(cb, &a, false, err, sizeof err);
        }
        if (fd < 0) {
            e = errno;
            if (cb->optional && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL ||
                                 e == EPROTONOSUPPORT || e == EPFNOSUPPORT)) {
                if (!warned6)
                    log_warn("IPv6 unavailable, serving IPv4 only (%s)", err);
                warned6 = true;
                continue;
            }
            log_error("cannot listen (%s): %s", proto_name(cb->proto), err);
            return false;
        }
        if (a.port == 0) {
            struct peer_addr real;
            if (!sock_local_addr(fd, &real)) {
                log_error("cannot read the bound port: %s", strerror(errno));
                close(fd);
                return false;
            }
            a.port = real.port;
        }
        close(fd);
        fd = bind_one(cb, &a, true, err, sizeof err);
        if (fd < 0) {
            /* SO_REUSEPORT refused: one socket shared by all workers still works. */
            if (!warned_reuse)
                log_info("SO_REUSEPORT unavailable (%s): workers share each socket", err);
            warned_reuse = true;
            reuse = false;
            fd = bind_one(cb, &a, false, err, sizeof err);
            if (fd < 0) {
                log_error("cannot listen (%s): %s", proto_name(cb->proto), err);
                return false;
            }
        }
        fds[0] = fd;
        own[0] = true;
        total++;
        if (cb->addr.port == 0 && !picked[pi])
            picked[pi] = a.port;
        s->binds[b].addr.port = a.port;
        addr_format(&a, true, text);
        log_info("listening on %s %s", proto_name(cb->proto), text);
        unsigned rb, sb;
        if (cb->proto == LISTEN_UDP && sock_udp_buffers(fd, &rb, &sb))
            log_info("udp %s: receive buffer %u bytes, send buffer %u bytes", text, rb, sb);

        for (unsigned w = 1; w < nworkers; w++) {
            fds[w] = reuse ? bind_one(cb, &a, true, err, sizeof err) : -1;
            if (fds[w] >= 0) {
                own[w] = true;
                continue;
            }
            if (reuse && !warned_reuse)
                log_info("SO_REUSEPORT unavailable (%s): workers share each socket", err);
            warned_reuse = true;
            reuse = false;
            fds[w] = fd;
        }
    }
    if (total == 0) {
        log_error("no socket to serve on");
        return false;
    }
    return true;
}

static void sockets_for_worker(const struct sockets *s, unsigned w, struct worker_sockets *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned b = 0; b < s->nbinds; b++) {
        int fd = s->fd[b * s->nworkers + w];
        if (fd < 0)
            continue;
        if (s->binds[b].proto == LISTEN_TCP && out->n_tcp < WORKER_MAX_SOCKETS)
            out->tcp[out->n_tcp++] = fd;
        else if (s->binds[b].proto == LISTEN_UDP && out->n_udp < WORKER_MAX_SOCKETS)
            out->udp[out->n_udp++] = fd;
    }
}

/* ---- housekeeping: incremental expiry ---- */

struct housekeeping {
    store_t *store;
    unsigned cycle_seconds; /* visit every shard once in this long */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signalled by hk_request_stop: shutdown waits out no tick */
    bool stop;              /* guarded by mu */
    bool ready;             /* mu and cv initialised */
    pthread_t thread;
};

static bool hk_init(struct housekeeping *h)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return false;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool ok = pthread_cond_init(&h->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok)
        return false;
    pthread_mutex_init(&h->mu, NULL);
    h->ready = true;
    return true;
}

static void hk_request_stop(struct housekeeping *h)
{
    if (!h->ready)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Sleep one tick; false once a stop was requested. */
static bool hk_sleep(struct housekeeping *h)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += HOUSEKEEPING_TICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->mu);
    while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT) {
    }
    bool go = !h->stop;
    pthread_mutex_unlock(&h->mu);
    return go;
}

static void *housekeeping_main(void *arg)
{
    struct housekeeping *h = arg;
    unsigned per_step = 1, steps = h->cycle_seconds * (1000 / HOUSEKEEPING_TICK_MS);
    unsigned visited = 0;

    while (hk_sleep(h)) {
        /* A few shards per tick: expiry never holds many locks or stalls any worker long. */
        unsigned nshards = store_expire_step(h->store, clock_now(), per_step);
        visited += per_step;
        /* Once per full pass, hand the pages expiry (and the full scrape) freed back to the
         * kernel: without it RSS creeps up under churn while the store itself stays flat. */
        if (visited >= nshards) {
            memtune_release();
            visited = 0;
        }
        per_step = (nshards + steps - 1) / steps;
        if (per_step == 0)
            per_step = 1;
    }
    return NULL;
}

/* ---- the daemon ---- */

struct daemon {
    struct config cfg;
    unsigned nworkers;
    struct sockets socks;
    store_t *store;
    struct fullscrape *fullscrape;
    struct worker_stats *stats;
    struct tracker tracker;
    struct worker **workers;
    struct worker_sockets *wsocks;
    unsigned nstarted;
    struct housekeeping hk;
    bool hk_started;
    struct persist *persist; /* periodic snapshots (tracker.statefile) */
    bool state_ready;        /* the state file was restored: saving it now loses nothing */
    struct access_ctl access;
    struct ws_tracker *ws;
    struct cluster *cluster; /* cluster mode (cluster.engine), else NULL */
};

static void daemon_stop(struct daemon *d)
{
    /* A drain: workers and the WebSocket thread finish what they had received, together,
     * by one deadline. Once no worker watches a listening socket any more, closing them
     * makes the kernel refuse new connections (and UDP answer with port-unreachable)
     * while the replies in flight are still being written. */
    uint64_t deadline = clock_now_ms() + SHUTDOWN_DRAIN_MS;
    worker_request_stop(deadline);
    ws_tracker_drain(d->ws, deadline);
    hk_request_stop(&d->hk); /* expiry may stop now; joined below */
    for (unsigned i = 0; i < d->nstarted; i++)
        worker_wait_released(d->workers[i]);
    sockets_close(&d->socks);
    for (unsigned i = 0; i < d->nstarted; i++)
        worker_join(d->workers[i]);
    d->nstarted = 0;
    /* After the workers (nothing publishes any more), before the final snapshot, so that
     * the saved resume positions never run ahead of the saved swarms by much. */
    cluster_stop(d->cluster);
    d->cluster = NULL;
    d->tracker.cluster = NULL;
    ws_tracker_stop(d->ws); /* after the workers: no hand-over can be under way */
    d->ws = NULL;
    d->tracker.ws = NULL;
    if (d->hk_started) {
        pthread_join(d->hk.thread, NULL);
        d->hk_started = false;
    }
    if (d->hk.ready) {
        pthread_cond_destroy(&d->hk.cv);
        pthread_mutex_destroy(&d->hk.mu);
        d->hk.ready = false;
    }
    persist_stop(d->persist);
    d->persist = NULL;
    /* Only after the workers stopped, so the final snapshot misses no announce. */
    if (d->state_ready)
        persist_save_logged(d->store, d->cfg.statefile);
    access_ctl_destroy(&d->access);
    fullscrape_free(d->fullscrape);
    conn_limit_free(d->tracker.conn_limit);
    d->tracker.conn_limit = NULL;
    store_free(d->store);
    free(d->stats);
    free(d->workers);
    free(d->wsocks);
}

static bool daemon_start(struct daemon *d)
{
    const struct config *cfg = &d->cfg;
    struct store_config sc;
    void *mem = NULL;

    log_info("swarmd %s starting", SWARMD_VERSION);
    d->nworkers = cfg->workers ? cfg->workers : usable_cpus();
    if (d->nworkers > CONFIG_MAX_WORKERS)
        d->nworkers = CONFIG_MAX_WORKERS;
    sock_set_udp_buffers(cfg->udp_rcvbuf, cfg->udp_sndbuf);
    if (!sockets_open(&d->socks, cfg, d->nworkers))
        return false;
    /* Bound (perhaps to a port < 1024) and no thread yet: give up root now, so that every
     * thread runs unprivileged and the access list is read the same way as on reload. */
    char perr[768];
    if (!privdrop_apply(cfg->user, cfg->rootdir, perr, sizeof perr)) {
        log_error("%s", perr);
        return false;
    }
    if (cfg->rootdir[0])
        log_info("chrooted to %s", cfg->rootdir);
    if (cfg->user[0])
        log_info("running as user %s", cfg->user);
    /* One reader slot (and below, one statistics block) more than workers: the WebSocket
     * thread's; in cluster mode one more for the sync-in thread (a slot nobody uses would
     * hold up every reload). */
    if (!access_ctl_open(&d->access, cfg->whitelist, cfg->blacklist,
                         d->nworkers + 1 + (cfg->cluster_engine[0] != '\0'), perr, sizeof perr)) {
        log_error("access list: %s", perr);
        return false;
    }
    log_info("%u worker%s", d->nworkers, d->nworkers == 1 ? "" : "s");
    log_info("peer timeout %u s, announce interval %u s (min %u s)", (unsigned)cfg->peer_timeout,
             (unsigned)cfg->interval, (unsigned)cfg->min_interval);
    if (cfg->peer_timeout < cfg->interval)
        log_warn("peer timeout (%u s) is shorter than the announce interval (%u s): peers will "
                 "expire between their announces",
                 (unsigned)cfg->peer_timeout, (unsigned)cfg->interval);

    memset(&sc, 0, sizeof sc);
    sc.peer_timeout = cfg->peer_timeout;
    sc.torrent_keep = TORRENT_KEEP_SECONDS;
    sc.max_torrents = cfg->max_torrents;
    sc.max_peers = cfg->max_peers_per_torrent;
    sc.max_bytes = (uint64_t)cfg->max_memory_mib << 20;
    sc.evict = cfg->evict;
    if (!rng_os_bytes(sc.hash_key, sizeof sc.hash_key)) {
        log_error("cannot read random bytes from the operating system");
        return false;
    }
    d->store = store_new(&sc);
    d->fullscrape = d->store ? fullscrape_new(d->store, cfg->fullscrape_cache) : NULL;
    if (!d->store || !d->fullscrape) {
        log_error("cannot create the swarm table: out of memory or threads");
        return false;
    }
    if (posix_memalign(&mem, 64, sizeof(struct worker_stats) * (d->nworkers + 1)) != 0) {
        log_error("out of memory");
        return false;
    }
    d->stats = mem;
    memset(d->stats, 0, sizeof(struct worker_stats) * (d->nworkers + 1));
    if (!tracker_init(&d->tracker, cfg, d->store, d->fullscrape, d->stats, d->nworkers)) {
        log_error("cannot initialise the tracker (no randomness from the operating system)");
        return false;
    }
    d->tracker.access = &d->access;
    /* After the chroot, like the access list: the path is inside tracker.rootdir. */
    if (cfg->udp_secret_file[0]) {
        if (!udp_secret_open(&d->tracker.connid, cfg->udp_secret_file, perr, sizeof perr)) {
            log_error("%s", perr);
            return false;
        }
        log_info("UDP connection ids: keys from %s", cfg->udp_secret_file);
    }
    if (cfg->ws_enable) {
        struct ws_tracker_config wc = {
            .max_conns = cfg->ws_max_conns,
            .max_swarms = cfg->ws_max_torrents,
            .max_queued = cfg->ws_max_queued,
        };
        d->ws = ws_tracker_start(&d->tracker, d->nworkers, &wc);
        if (!d->ws) {
            log_error("cannot start the WebSocket thread");
            return false;
        }
        d->tracker.ws = d->ws;
    }

    if (cfg->http_max_conns_per_ip && !(d->tracker.conn_limit =
                                            conn_limit_new(cfg->http_max_conns_per_ip))) {
        log_error("out of memory");
        return false;
    }

    if (cfg->statefile[0]) {
        persist_restore_logged(d->store, cfg->statefile);
        d->state_ready = true;
        d->persist = persist_start(d->store, cfg->statefile, cfg->snapshot_interval);
        if (!d->persist) {
            log_error("cannot start the snapshot thread");
            return false;
        }
    }

    /* After the state file (its swarms and the saved stream positions belong together),
     * before the workers (they publish from their first announce). */
    if (cfg->cluster_engine[0]) {
        d->cluster = cluster_start(cfg, d->store, &d->access, d->nworkers + 1, d->nworkers);
        if (!d->cluster)
            return false;
        d->tracker.cluster = d->cluster;
    }

    d->hk.store = d->store;
    d->hk.cycle_seconds = cfg->peer_timeout / 8;
    if (d->hk.cycle_seconds > 30)
        d->hk.cycle_seconds = 30;
    if (d->hk.cycle_seconds < 1)
        d->hk.cycle_seconds = 1;
    if (!hk_init(&d->hk) ||
        pthread_create(&d->hk.thread, NULL, housekeeping_main, &d->hk) != 0) {
        log_error("cannot start the housekeeping thread");
        return false;
    }
    d->hk_started = true;

    d->workers = calloc(d->nworkers, sizeof *d->workers);
    d->wsocks = calloc(d->nworkers, sizeof *d->wsocks);
    if (!d->workers || !d->wsocks) {
        log_error("out of memory");
        return false;
    }
    for (unsigned i = 0; i < d->nworkers; i++) {
        sockets_for_worker(&d->socks, i, &d->wsocks[i]);
        d->workers[i] = worker_start(&d->tracker, i, &d->wsocks[i]);
        if (!d->workers[i]) {
            log_error("cannot start worker %u", i);
            return false;
        }
        d->nstarted++;
    }
    return true;
}

int main(int argc, char **argv)
{
    static struct daemon d; /* large (listen table): keep it off the stack */
    char err[4096];
    sigset_t sigs;

    clock_init();
    memtune_init();
    switch (config_parse_args(&d.cfg, argc, argv, err, sizeof err)) {
    case CONFIG_ARGS_EXIT_OK:
        return 0;
    case CONFIG_ARGS_ERROR:
        for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "swarmd: %s\n", line);
        return d.cfg.check_config ? 1 : 2;
    case CONFIG_ARGS_RUN:
        break;
    }
    if (d.cfg.check_config) {
        printf("configuration ok\n");
        return 0;
    }
    log_set_level((enum log_level)d.cfg.log_level);
    log_syslog_enable(d.cfg.log_syslog);

    /* Before any thread exists, so that every thread inherits the mask and the signals
     * reach only sigwait below. A peer closing early must cost an EPIPE, not the process. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigdelset(&sigs, SIGPIPE);

    if (!daemon_start(&d)) {
        daemon_stop(&d);
        return 1;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            access_ctl_reload(&d.access);
            udp_secret_reload(&d.tracker.connid);
            continue;
        }
        log_info("stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    daemon_stop(&d);
    log_info("stopped");
    return 0;
}
