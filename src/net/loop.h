/* loop.h - a tiny readiness event loop (in the spirit of Redis's ae.c).
 *
 * One loop per worker thread; never shared between threads. Back-ends live in separate files
 * chosen at build time: loop_epoll.c (Linux) and loop_poll.c (any POSIX system; kqueue can
 * slot in the same way). The caller owns each struct loop_watch (typically embedded in its
 * connection object); the loop stores only pointers to them and never allocates per event. */
#ifndef SWARMD_LOOP_H
#define SWARMD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct loop loop_t;

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

struct loop_watch;
typedef void (*loop_fd_fn)(loop_t *loop, struct loop_watch *w, int events);

struct loop_watch {
    int fd;
    int events;      /* current interest mask, managed by the loop */
    loop_fd_fn fn;
    void *data;      /* caller's */
    int slot;        /* back-end private */
};

typedef void (*loop_tick_fn)(loop_t *loop, void *ctx);

loop_t *loop_new(unsigned max_watches);
void loop_free(loop_t *loop);
/* Start watching w->fd for events (LOOP_READ | LOOP_WRITE). 0 or -1 (errno set). */
int loop_add(loop_t *loop, struct loop_watch *w, int events);
/* Change the interest mask. */
int loop_set(loop_t *loop, struct loop_watch *w, int events);
/* Stop watching (call before close(w->fd)). Safe to call from inside a callback, also for a
 * watch whose events are still pending in the current batch. */
void loop_del(loop_t *loop, struct loop_watch *w);
/* fn runs about every interval_ms (one tick function per loop). */
void loop_set_tick(loop_t *loop, unsigned interval_ms, loop_tick_fn fn, void *ctx);

/* fn runs once per loop iteration just before the loop waits again: after the timers and
 * after every callback of the previous batch. The place to flush output that callbacks only
 * queued (one write per connection per iteration instead of one per message). NULL: none. */
void loop_set_flush(loop_t *loop, loop_tick_fn fn, void *ctx);

/* Further periodic callbacks, for modules that share a loop and need their own clock (each
 * HTTP server's ~20 ms timer). Caller-owned like a watch; loop_timer_del before freeing it.
 * Either call is safe from inside any callback or timer. */
struct loop_timer {
    loop_tick_fn fn;
    void *ctx;
    unsigned interval_ms;
    uint64_t due_ms;         /* loop private */
    struct loop_timer *next; /* loop private */
};
void loop_timer_add(loop_t *loop, struct loop_timer *t, unsigned interval_ms, loop_tick_fn fn,
                    void *ctx);
void loop_timer_del(loop_t *loop, struct loop_timer *t);
/* Run until loop_stop() is called (from a callback or tick on this thread). */
void loop_run(loop_t *loop);
void loop_stop(loop_t *loop);

#endif
