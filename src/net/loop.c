/* loop.c - the back-end-neutral half of the event loop: dispatch, timers, stop.
 *
 * Each iteration reads the monotonic clock once, runs due timers and the flush hook, then
 * waits in the back-end no longer than the next timer and dispatches the ready watches of
 * that batch. A watch deleted during dispatch has its remaining entries in the batch
 * cleared, so a callback that closes and frees another connection never makes the loop call
 * into freed memory. */
#include "net/loop.h"

#include <errno.h>
#include <stdlib.h>

#include "net/loop_backend.h"
#include "util/clock.h"

/* Ready watches handled per wait; level-triggered back-ends report the rest next time. */
#define LOOP_BATCH 256

struct loop {
    struct loop_backend *be;
    struct loop_fired fired[LOOP_BATCH];
    int nfired; /* entries of the batch being dispatched */
    int ifired; /* index being dispatched */
    bool stop;
    struct loop_timer *timers;
    unsigned timers_gen;    /* bumped by every add/del, so a timer scan knows to restart */
    struct loop_timer tick; /* loop_set_tick's timer */
    bool tick_on;
    loop_tick_fn flush_fn;  /* loop_set_flush's */
    void *flush_ctx;
};

loop_t *loop_new(unsigned max_watches)
{
    loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->be = loop_backend_new(max_watches ? max_watches : 64);
    if (!loop->be) {
        int e = errno;
        free(loop);
        errno = e;
        return NULL;
    }
    return loop;
}

void loop_free(loop_t *loop)
{
    if (!loop)
        return;
    loop_backend_free(loop->be);
    free(loop);
}

int loop_add(loop_t *loop, struct loop_watch *w, int events)
{
    events &= LOOP_READ | LOOP_WRITE;
    w->events = 0;
    w->slot = -1;
    if (loop_backend_add(loop->be, w, events) < 0)
        return -1;
    w->events = events;
    return 0;
}

int loop_set(loop_t *loop, struct loop_watch *w, int events)
{
    events &= LOOP_READ | LOOP_WRITE;
    if (events == w->events)
        return 0;
    if (loop_backend_set(loop->be, w, events) < 0)
        return -1;
    w->events = events;
    return 0;
}

void loop_del(loop_t *loop, struct loop_watch *w)
{
    loop_backend_del(loop->be, w);
    w->events = 0;
    w->slot = -1;
    /* Forget w's entries still waiting in this batch (a back-end reports a watch at most
     * once per batch, but scanning the rest is cheap and makes no such assumption). */
    for (int i = loop->ifired + 1; i < loop->nfired; i++)
        if (loop->fired[i].w == w)
            loop->fired[i].w = NULL;
}

void loop_timer_add(loop_t *loop, struct loop_timer *t, unsigned interval_ms, loop_tick_fn fn,
                    void *ctx)
{
    t->fn = fn;
    t->ctx = ctx;
    t->interval_ms = interval_ms ? interval_ms : 1;
    t->due_ms = clock_now_ms() + t->interval_ms;
    t->next = loop->timers;
    loop->timers = t;
    loop->timers_gen++;
}

void loop_timer_del(loop_t *loop, struct loop_timer *t)
{
    for (struct loop_timer **p = &loop->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            t->next = NULL;
            loop->timers_gen++;
            return;
        }
    }
}

void loop_set_tick(loop_t *loop, unsigned interval_ms, loop_tick_fn fn, void *ctx)
{
    if (loop->tick_on) {
        loop_timer_del(loop, &loop->tick);
        loop->tick_on = false;
    }
    if (fn) {
        loop_timer_add(loop, &loop->tick, interval_ms, fn, ctx);
        loop->tick_on = true;
    }
}

void loop_set_flush(loop_t *loop, loop_tick_fn fn, void *ctx)
{
    loop->flush_fn = fn;
    loop->flush_ctx = ctx;
}

/* Run every due timer once; returns ms until the next one is due (-1: no timers). */
static int run_timers(loop_t *loop, uint64_t now)
{
restart:
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        if (t->due_ms > now)
            continue;
        /* Reschedule first, so that a restart after a list change skips this timer. Late
         * ticks are not caught up: a tick is "about every interval", never a burst. */
        t->due_ms = now + t->interval_ms;
        unsigned gen = loop->timers_gen;
        t->fn(loop, t->ctx);
        if (gen != loop->timers_gen)
            goto restart; /* t or its successor may be gone */
    }
    int64_t wait = -1;
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        int64_t d = t->due_ms > now ? (int64_t)(t->due_ms - now) : 0;
        if (wait < 0 || d < wait)
            wait = d;
    }
    return (int)wait;
}

void loop_run(loop_t *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        int timeout = run_timers(loop, clock_now_ms());
        if (loop->flush_fn)
            loop->flush_fn(loop, loop->flush_ctx);
        if (loop->stop)
            break;
        loop->nfired = loop_backend_wait(loop->be, timeout, loop->fired, LOOP_BATCH);
        for (loop->ifired = 0; loop->ifired < loop->nfired; loop->ifired++) {
            struct loop_fired *f = &loop->fired[loop->ifired];
            struct loop_watch *w = f->w;
            if (!w)
                continue;
            /* Interest may have shrunk since the wait (loop_set from an earlier callback). */
            int ev = f->events & w->events;
            if (ev)
                w->fn(loop, w, ev);
        }
        loop->nfired = 0;
        loop->ifired = 0;
    }
}

void loop_stop(loop_t *loop)
{
    loop->stop = true;
}
