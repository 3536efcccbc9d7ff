/* test_loop.c - the event loop with pipes and socketpairs, for whichever back-end is linked.
 *
 * Readiness for read and write, changing interest, hang-ups, deleting watches (also ones
 * still pending in the same batch, also from another watch's callback), batches larger than
 * the loop's batch size, ticks, extra timers and the flush hook. Every test has a safety
 * tick that stops the loop after a bounded time, so a broken loop fails a check instead of
 * hanging. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "net/loop.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Safety net: stop after `limit` ticks of 5 ms. */
struct guard {
    int ticks, limit;
};

static void guard_tick(loop_t *loop, void *ctx)
{
    struct guard *g = ctx;
    if (++g->ticks >= g->limit)
        loop_stop(loop);
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int calls_read, calls_write;

static void read_one_and_stop(loop_t *loop, struct loop_watch *w, int events)
{
    char c;
    if (events & LOOP_READ) {
        calls_read++;
        CHECK_EQ_INT(read(w->fd, &c, 1), 1);
    }
    if (events & LOOP_WRITE)
        calls_write++;
    loop_stop(loop);
}

TEST(read_readiness)
{
    int p[2];
    CHECK(pipe(p) == 0);
    loop_t *loop = loop_new(4);
    struct guard g = {0, 400};
    loop_set_tick(loop, 5, guard_tick, &g);
    struct loop_watch w = {.fd = p[0], .fn = read_one_and_stop};
    CHECK(loop_add(loop, &w, LOOP_READ) == 0);
    CHECK_EQ_INT(w.events, LOOP_READ);
    calls_read = calls_write = 0;
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    loop_run(loop);
    CHECK_EQ_INT(calls_read, 1);
    CHECK_EQ_INT(calls_write, 0);
    CHECK(g.ticks < g.limit);
    /* Nothing readable now: the loop runs until the guard stops it, no callback. */
    g.ticks = 0;
    g.limit = 4;
    loop_run(loop);
    CHECK_EQ_INT(calls_read, 1);
    loop_del(loop, &w);
    loop_free(loop);
    close(p[0]);
    close(p[1]);
}

TEST(write_readiness_and_set)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    loop_t *loop = loop_new(4);
    struct guard g = {0, 400};
    loop_set_tick(loop, 5, guard_tick, &g);
    struct loop_watch w = {.fd = sv[0], .fn = read_one_and_stop};
    calls_read = calls_write = 0;
    CHECK(loop_add(loop, &w, LOOP_WRITE) == 0);
    loop_run(loop);
    CHECK_EQ_INT(calls_write, 1);
    CHECK_EQ_INT(calls_read, 0);
    /* Switch to READ: writable no longer reported; data makes it fire. */
    CHECK(loop_set(loop, &w, LOOP_READ) == 0);
    CHECK_EQ_INT(write(sv[1], "y", 1), 1);
    loop_run(loop);
    CHECK_EQ_INT(calls_read, 1);
    CHECK_EQ_INT(calls_write, 1);
    /* Interest 0: neither data nor writability is reported. */
    CHECK(loop_set(loop, &w, 0) == 0);
    CHECK_EQ_INT(write(sv[1], "z", 1), 1);
    g.ticks = 0;
    g.limit = 4;
    loop_run(loop);
    CHECK_EQ_INT(calls_read, 1);
    CHECK_EQ_INT(calls_write, 1);
    /* And back on. */
    g.ticks = 0;
    g.limit = 400;
    CHECK(loop_set(loop, &w, LOOP_READ) == 0);
    loop_run(loop);
    CHECK_EQ_INT(calls_read, 2);
    loop_del(loop, &w);
    loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

static int hup_events;

static void on_hup(loop_t *loop, struct loop_watch *w, int events)
{
    char buf[8];
    hup_events = events;
    CHECK_EQ_INT(read(w->fd, buf, sizeof(buf)), 0);
    loop_del(loop, w);
    loop_stop(loop);
}

TEST(hangup_reported_as_readable)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    loop_t *loop = loop_new(4);
    struct guard g = {0, 400};
    loop_set_tick(loop, 5, guard_tick, &g);
    struct loop_watch w = {.fd = sv[0], .fn = on_hup};
    CHECK(loop_add(loop, &w, LOOP_READ) == 0);
    close(sv[1]);
    hup_events = 0;
    loop_run(loop);
    CHECK(hup_events & LOOP_READ);
    CHECK(g.ticks < g.limit);
    loop_free(loop);
    close(sv[0]);
}

/* Many watches, all readable at once; the first callback to run deletes, closes and frees
 * every other one. None of those may be called afterwards (ASan catches a use of freed
 * memory; the counters catch a stale call in the other builds). */
#define NDEL 16
struct delw {
    struct loop_watch w;
    int pipe_w;
    int *calls;
};
static struct delw *del_all[NDEL];

static void del_others(loop_t *loop, struct loop_watch *w, int events)
{
    (void)events;
    struct delw *me = w->data;
    (*me->calls)++;
    for (int i = 0; i < NDEL; i++) {
        struct delw *o = del_all[i];
        if (!o || o == me)
            continue;
        loop_del(loop, &o->w);
        close(o->w.fd);
        close(o->pipe_w);
        memset(o, 0xa5, sizeof(*o)); /* poison, in case ASan is off */
        free(o);
        del_all[i] = NULL;
    }
    char c;
    (void)read(w->fd, &c, 1);
}

TEST(delete_other_watches_in_same_batch)
{
    loop_t *loop = loop_new(4);
    struct guard g = {0, 10};
    loop_set_tick(loop, 5, guard_tick, &g);
    int calls = 0;
    for (int i = 0; i < NDEL; i++) {
        int p[2];
        CHECK(pipe(p) == 0);
        struct delw *d = calloc(1, sizeof(*d));
        d->w.fd = p[0];
        d->w.fn = del_others;
        d->w.data = d;
        d->pipe_w = p[1];
        d->calls = &calls;
        CHECK_EQ_INT(write(p[1], "x", 1), 1);
        CHECK(loop_add(loop, &d->w, LOOP_READ) == 0);
        del_all[i] = d;
    }
    loop_run(loop); /* the guard stops it after ~50 ms */
    CHECK_EQ_INT(calls, 1);
    int left = 0;
    for (int i = 0; i < NDEL; i++) {
        if (!del_all[i])
            continue;
        left++;
        loop_del(loop, &del_all[i]->w);
        close(del_all[i]->w.fd);
        close(del_all[i]->pipe_w);
        free(del_all[i]);
        del_all[i] = NULL;
    }
    CHECK_EQ_INT(left, 1);
    loop_free(loop);
}

/* A callback deletes the other watch (its event still pending in this batch) and reuses
 * its struct at once for a fresh, empty pipe: the stale event must not reach it. */
struct pair {
    struct loop_watch w;
    struct pair *other;
    int calls;
    bool reused;
    int fresh[2];
};
static int fresh_calls;

static void fresh_cb(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    (void)w;
    (void)events;
    fresh_calls++;
}

static void pair_cb(loop_t *loop, struct loop_watch *w, int events)
{
    (void)events;
    struct pair *me = w->data;
    char c;
    me->calls++;
    CHECK_EQ_INT(read(w->fd, &c, 1), 1);
    loop_del(loop, w);
    struct pair *o = me->other;
    if (!me->reused && !o->reused) {
        loop_del(loop, &o->w);
        CHECK(pipe(o->fresh) == 0);
        o->w.fd = o->fresh[0];
        o->w.fn = fresh_cb;
        o->reused = true;
        CHECK(loop_add(loop, &o->w, LOOP_READ) == 0);
    }
}

TEST(delete_and_reuse_in_same_batch)
{
    int a[2], b[2];
    CHECK(pipe(a) == 0);
    CHECK(pipe(b) == 0);
    CHECK_EQ_INT(write(a[1], "x", 1), 1);
    CHECK_EQ_INT(write(b[1], "x", 1), 1);
    loop_t *loop = loop_new(4);
    struct guard g = {0, 10};
    loop_set_tick(loop, 5, guard_tick, &g);
    struct pair pa = {.w = {.fd = a[0], .fn = pair_cb}}, pb = {.w = {.fd = b[0], .fn = pair_cb}};
    pa.w.data = &pa;
    pb.w.data = &pb;
    pa.other = &pb;
    pb.other = &pa;
    CHECK(loop_add(loop, &pa.w, LOOP_READ) == 0);
    CHECK(loop_add(loop, &pb.w, LOOP_READ) == 0);
    fresh_calls = 0;
    loop_run(loop);
    CHECK_EQ_INT(pa.calls + pb.calls, 1);
    CHECK_EQ_INT(fresh_calls, 0);
    CHECK(pa.reused != pb.reused);
    struct pair *r = pa.reused ? &pa : &pb;
    loop_del(loop, &r->w);
    close(r->fresh[0]);
    close(r->fresh[1]);
    loop_free(loop);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* More ready watches than one batch holds (256) and than the loop was sized for: every one
 * is served; each deletes itself when called. */
#define NMANY 300
static int many_calls;

static void many_cb(loop_t *loop, struct loop_watch *w, int events)
{
    (void)events;
    many_calls++;
    loop_del(loop, w);
    close(w->fd);
    w->fd = -1;
}

TEST(more_watches_than_a_batch)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    loop_t *loop = loop_new(4);
    struct guard g = {0, 40};
    loop_set_tick(loop, 5, guard_tick, &g);
    static struct loop_watch ws[NMANY];
    int added = 0;
    for (int i = 0; i < NMANY; i++) {
        ws[i].fd = dup(p[0]); /* each dup is its own fd, all readable */
        ws[i].fn = many_cb;
        if (ws[i].fd < 0)
            break;
        CHECK(loop_add(loop, &ws[i], LOOP_READ) == 0);
        added++;
    }
    CHECK_EQ_INT(added, NMANY);
    many_calls = 0;
    loop_run(loop);
    CHECK_EQ_INT(many_calls, added);
    for (int i = 0; i < added; i++)
        if (ws[i].fd >= 0) {
            loop_del(loop, &ws[i]);
            close(ws[i].fd);
        }
    loop_free(loop);
    close(p[0]);
    close(p[1]);
}

static int tick_count;

static void count_tick(loop_t *loop, void *ctx)
{
    (void)ctx;
    if (++tick_count >= 10)
        loop_stop(loop);
}

TEST(ticks_wake_an_idle_loop)
{
    loop_t *loop = loop_new(4);
    tick_count = 0;
    loop_set_tick(loop, 10, count_tick, NULL);
    uint64_t t0 = now_ms();
    loop_run(loop);
    uint64_t dt = now_ms() - t0;
    CHECK_EQ_INT(tick_count, 10);
    CHECK(dt >= 90);
    CHECK(dt < 2000);
    /* Replacing the tick: the old function no longer runs. */
    struct guard g = {0, 5};
    loop_set_tick(loop, 5, guard_tick, &g);
    loop_run(loop);
    CHECK_EQ_INT(tick_count, 10);
    CHECK_EQ_INT(g.ticks, 5);
    loop_free(loop);
}

/* A busy fd must not delay ticks: the loop waits at most until the next tick and runs due
 * ticks even when every wait returns events. */
static void drain_cb(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    (void)w;
    (void)events; /* never reads: stays readable, the loop is always busy */
}

TEST(ticks_run_while_busy)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    loop_t *loop = loop_new(4);
    struct loop_watch w = {.fd = p[0], .fn = drain_cb};
    CHECK(loop_add(loop, &w, LOOP_READ) == 0);
    tick_count = 0;
    loop_set_tick(loop, 10, count_tick, NULL);
    uint64_t t0 = now_ms();
    loop_run(loop);
    CHECK_EQ_INT(tick_count, 10);
    CHECK(now_ms() - t0 < 2000);
    loop_del(loop, &w);
    loop_free(loop);
    close(p[0]);
    close(p[1]);
}

struct tm_state {
    loop_t *loop;
    struct loop_timer a, b, c;
    int na, nb, nc;
};

static void timer_a(loop_t *loop, void *ctx)
{
    struct tm_state *s = ctx;
    s->na++;
    if (s->na == 3)
        loop_timer_del(loop, &s->b); /* delete another timer from a timer */
    if (s->na == 20)
        loop_stop(loop);
}

static void timer_b(loop_t *loop, void *ctx)
{
    (void)loop;
    ((struct tm_state *)ctx)->nb++;
}

static void timer_c(loop_t *loop, void *ctx)
{
    struct tm_state *s = ctx;
    s->nc++;
    loop_timer_del(loop, &s->c); /* one-shot: deletes itself */
}

TEST(extra_timers)
{
    struct tm_state s = {0};
    s.loop = loop_new(4);
    struct guard g = {0, 400};
    loop_set_tick(s.loop, 5, guard_tick, &g);
    loop_timer_add(s.loop, &s.a, 2, timer_a, &s);
    loop_timer_add(s.loop, &s.b, 1, timer_b, &s);
    loop_timer_add(s.loop, &s.c, 3, timer_c, &s);
    loop_run(s.loop);
    CHECK_EQ_INT(s.na, 20);
    CHECK_EQ_INT(s.nc, 1);
    int nb = s.nb;
    CHECK(nb >= 1);
    CHECK(nb <= 10); /* b stopped when a ran for the third time */
    CHECK(g.ticks < g.limit);
    loop_timer_del(s.loop, &s.a);
    g.ticks = 0;
    g.limit = 3;
    loop_run(s.loop);
    CHECK_EQ_INT(s.na, 20);
    CHECK_EQ_INT(s.nb, nb);
    loop_free(s.loop);
}

/* Ping-pong over a socketpair: data written in one callback is read in the next batch. */
static int pings;

static void ping_cb(loop_t *loop, struct loop_watch *w, int events)
{
    (void)events;
    char c;
    if (read(w->fd, &c, 1) != 1)
        return;
    if (++pings >= 1000) {
        loop_stop(loop);
        return;
    }
    CHECK_EQ_INT(write(w->fd, &c, 1), 1);
}

/* The flush hook runs once per iteration, before the wait: after the whole batch of ready
 * watches, not after each callback (ws_tracker sends the output queued by a batch there). */
static int flush_handled, flush_calls, flush_seen[8];

static void flush_read_one(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    char c;
    if (events & LOOP_READ) {
        CHECK_EQ_INT(read(w->fd, &c, 1), 1);
        flush_handled++;
    }
}

static void flush_hook(loop_t *loop, void *ctx)
{
    (void)ctx;
    if (flush_calls < 8)
        flush_seen[flush_calls] = flush_handled;
    flush_calls++;
    if (flush_handled == 3)
        loop_stop(loop);
}

TEST(flush_hook_after_each_batch)
{
    loop_t *loop = loop_new(16);
    CHECK(loop != NULL);
    int p[3][2];
    struct loop_watch w[3];
    for (int i = 0; i < 3; i++) {
        CHECK(pipe(p[i]) == 0);
        CHECK_EQ_INT(write(p[i][1], "x", 1), 1);
        w[i] = (struct loop_watch){.fd = p[i][0], .fn = flush_read_one};
        CHECK(loop_add(loop, &w[i], LOOP_READ) == 0);
    }
    struct guard g = {0, 200};
    loop_set_tick(loop, 5, guard_tick, &g);
    loop_set_flush(loop, flush_hook, NULL);
    loop_run(loop);
    CHECK_EQ_INT(flush_handled, 3);
    CHECK_EQ_INT(flush_calls, 2);   /* before the first wait, then after the one batch */
    CHECK_EQ_INT(flush_seen[0], 0);
    CHECK_EQ_INT(flush_seen[1], 3); /* all three callbacks ran before it */
    for (int i = 0; i < 3; i++) {
        loop_del(loop, &w[i]);
        close(p[i][0]);
        close(p[i][1]);
    }
    loop_free(loop);
}

TEST(ping_pong)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    loop_t *loop = loop_new(2);
    struct guard g = {0, 1000};
    loop_set_tick(loop, 5, guard_tick, &g);
    struct loop_watch a = {.fd = sv[0], .fn = ping_cb};
    struct loop_watch b = {.fd = sv[1], .fn = ping_cb};
    CHECK(loop_add(loop, &a, LOOP_READ) == 0);
    CHECK(loop_add(loop, &b, LOOP_READ) == 0);
    pings = 0;
    CHECK_EQ_INT(write(sv[0], "p", 1), 1);
    loop_run(loop);
    CHECK_EQ_INT(pings, 1000);
    loop_del(loop, &a);
    loop_del(loop, &b);
    loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    RUN(read_readiness);
    RUN(write_readiness_and_set);
    RUN(hangup_reported_as_readable);
    RUN(delete_other_watches_in_same_batch);
    RUN(delete_and_reuse_in_same_batch);
    RUN(more_watches_than_a_batch);
    RUN(ticks_wake_an_idle_loop);
    RUN(ticks_run_while_busy);
    RUN(extra_timers);
    RUN(ping_pong);
    RUN(flush_hook_after_each_batch);
    return CHECK_DONE();
}
