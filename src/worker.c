/* worker.c - one worker thread: its loop, its UDP and HTTP servers, its tracker state.
 *
 * Everything a worker needs is built by worker_start in the calling thread (so failures are
 * reported synchronously) and then used only by the worker's own thread. The shared pieces
 * are the stop deadline, set by the main thread and polled by every worker every 20 ms,
 * and each worker's "released" flag, which tells the main thread that the worker no longer
 * watches its listening sockets (so they can be closed: new connections are then refused).
 *
 * Stopping is a drain: UDP answers what is already queued, HTTP finishes every request
 * received before the stop (http_server_drain); the loop ends when no connection is left or
 * at the deadline, whichever comes first, and anything still open then is cut. */
#include "worker.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http_server.h"
#include "net/loop.h"
#include "net/udp_server.h"
#include "serve.h"
#include "util/clock.h"
#include "util/log.h"
#include "ws_tracker.h"

#define WORKER_TICK_MS 100
#define WORKER_STOP_POLL_MS 20  /* how soon a stop request is noticed (the HTTP timer's pace) */
#define WORKER_DRAIN_TICK_MS 5  /* while draining: notice the last connection closing soon */

struct worker {
    pthread_t thread;
    bool started;
    unsigned id;
    loop_t *loop;
    struct tracker_worker *tw; /* large (peer and scrape arrays): on the heap */
    struct udp_server *udp[WORKER_MAX_SOCKETS];
    unsigned n_udp;
    struct http_server *http[WORKER_MAX_SOCKETS];
    unsigned n_http;
    bool draining;
    int released; /* atomic: the listening sockets are no longer watched */
    struct loop_timer stop_poll;
};

/* 0: serving; otherwise the clock_now_ms() by which every worker must have stopped. A
 * lock-free 64-bit atomic: a store is async-signal-safe, and every thread sees it. */
static uint64_t stop_deadline_ms;

void worker_request_stop(uint64_t deadline_ms)
{
    __atomic_store_n(&stop_deadline_ms, deadline_ms ? deadline_ms : 1, __ATOMIC_RELAXED);
}

static unsigned open_conns(const struct worker *w)
{
    unsigned n = 0;
    for (unsigned i = 0; i < w->n_http; i++)
        n += http_server_conns(w->http[i]);
    return n;
}

static void on_stop_poll(loop_t *loop, void *ctx)
{
    struct worker *w = ctx;
    uint64_t deadline = __atomic_load_n(&stop_deadline_ms, __ATOMIC_RELAXED);
    if (!deadline)
        return;
    if (!w->draining) {
        w->draining = true;
        for (unsigned i = 0; i < w->n_udp; i++)
            udp_server_drain(w->udp[i]);
        for (unsigned i = 0; i < w->n_http; i++)
            http_server_drain(w->http[i]);
        __atomic_store_n(&w->released, 1, __ATOMIC_RELEASE);
        loop_timer_del(loop, &w->stop_poll);
        loop_timer_add(loop, &w->stop_poll, WORKER_DRAIN_TICK_MS, on_stop_poll, w);
    }
    unsigned left = open_conns(w);
    if (left && clock_now_ms() < deadline)
        return;
    if (left)
        log_info("worker %u: shutdown deadline reached, cutting %u connection%s", w->id, left,
                 left == 1 ? "" : "s");
    loop_stop(loop);
}

static void on_tick(loop_t *loop, void *ctx)
{
    (void)loop;
    struct worker *w = ctx;
    w->tw->now = clock_now();
    w->tw->unix_now = (uint32_t)time(NULL);
    access_ctl_quiesce(w->tw->t->access, w->id); /* between requests: holds no list */
}

void worker_block_signals(void)
{
    /* Process-directed signals (Ctrl-C, SIGHUP reloads) belong to the main thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    worker_block_signals();
    w->tw->now = clock_now();
    w->tw->unix_now = (uint32_t)time(NULL);
    loop_run(w->loop);
    return NULL;
}

static void worker_free(struct worker *w)
{
    for (unsigned i = 0; i < w->n_http; i++)
        http_server_free(w->http[i]);
    for (unsigned i = 0; i < w->n_udp; i++)
        udp_server_free(w->udp[i]);
    loop_free(w->loop);
    free(w->tw);
    free(w);
}

struct worker *worker_start(struct tracker *t, unsigned id, const struct worker_sockets *socks)
{
    if (socks->n_udp > WORKER_MAX_SOCKETS || socks->n_tcp > WORKER_MAX_SOCKETS)
        return NULL;
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->id = id;
    w->tw = malloc(sizeof(*w->tw));
    w->loop = loop_new(socks->n_udp + socks->n_tcp + 64);
    if (!w->tw || !w->loop) {
        log_error("worker %u: out of memory", id);
        worker_free(w);
        return NULL;
    }
    tracker_worker_init(w->tw, t, id);

    unsigned nworkers = t->nworkers ? t->nworkers : 1;
    struct http_server_config hc = {
        .head_max = t->cfg->http_head_max,
        .idle_timeout_ms = t->cfg->http_idle_timeout < UINT_MAX / 1000u
                               ? t->cfg->http_idle_timeout * 1000u
                               : UINT_MAX,
        .max_conns = t->cfg->http_max_conns / nworkers,
        .header_timeout_ms = t->cfg->http_header_timeout * 1000u,
        .max_pipeline = t->cfg->http_max_pipeline,
        .per_addr = t->conn_limit,
        .stats = w->tw->stats,
        .upgrade = t->ws ? ws_tracker_adopt : NULL,
        .upgrade_ctx = t->ws,
    };
    if (hc.max_conns < 1)
        hc.max_conns = 1;

    for (unsigned i = 0; i < socks->n_udp; i++) {
        w->udp[w->n_udp] = udp_server_new(w->loop, socks->udp[i], serve_udp, w->tw);
        if (!w->udp[w->n_udp]) {
            log_error("worker %u: cannot serve UDP socket %d", id, socks->udp[i]);
            worker_free(w);
            return NULL;
        }
        udp_server_set_prepare(w->udp[w->n_udp], serve_udp_prepare);
        w->n_udp++;
    }
    for (unsigned i = 0; i < socks->n_tcp; i++) {
        w->http[w->n_http] = http_server_new(w->loop, socks->tcp[i], &hc, serve_http, w->tw);
        if (!w->http[w->n_http]) {
            log_error("worker %u: cannot serve TCP socket %d", id, socks->tcp[i]);
            worker_free(w);
            return NULL;
        }
        w->n_http++;
    }
    loop_set_tick(w->loop, WORKER_TICK_MS, on_tick, w);
    loop_timer_add(w->loop, &w->stop_poll, WORKER_STOP_POLL_MS, on_stop_poll, w);

    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e) {
        log_error("worker %u: pthread_create: %s", id, strerror(e));
        worker_free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void worker_wait_released(struct worker *w)
{
    struct timespec ms = {0, 1000000L};
    while (w && w->started && !__atomic_load_n(&w->released, __ATOMIC_ACQUIRE))
        nanosleep(&ms, NULL);
}

void worker_join(struct worker *w)
{
    if (!w)
        return;
    if (w->started)
        pthread_join(w->thread, NULL);
    worker_free(w);
}
