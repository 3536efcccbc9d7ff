/* loop_backend.h - the internal interface between loop.c and one readiness back-end.
 *
 * loop.c owns dispatching, deletion safety and timers; a back-end (loop_epoll.c,
 * loop_poll.c, later kqueue) only registers interest and reports ready watches. Exactly one
 * back-end is linked, chosen by the Makefile. Not for use outside src/net/loop*.c. */
#ifndef SWARMD_LOOP_BACKEND_H
#define SWARMD_LOOP_BACKEND_H

#include "net/loop.h"

struct loop_fired {
    struct loop_watch *w; /* NULL once the watch was deleted during dispatch */
    int events;           /* LOOP_READ | LOOP_WRITE; errors and hang-ups report both */
};

struct loop_backend;

struct loop_backend *loop_backend_new(unsigned max_watches);
void loop_backend_free(struct loop_backend *b);
/* Register w with interest `events` (may be 0: known to the loop, watching nothing). */
int loop_backend_add(struct loop_backend *b, struct loop_watch *w, int events);
/* Change interest from w->events (still the old mask when called) to `events`. */
int loop_backend_set(struct loop_backend *b, struct loop_watch *w, int events);
void loop_backend_del(struct loop_backend *b, struct loop_watch *w);
/* Wait up to timeout_ms (-1: forever) and store at most max ready watches in out.
 * Returns how many (0 on timeout or EINTR). */
int loop_backend_wait(struct loop_backend *b, int timeout_ms, struct loop_fired *out, int max);

#endif
