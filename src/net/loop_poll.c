/* loop_poll.c - the portable back-end of the event loop: poll(2).
 *
 * Used where epoll is missing (BSD, macOS) until a kqueue back-end exists. Watches live in a
 * dense pollfd array (w->slot is the index; deletion moves the last entry into the hole), so
 * each wait is one poll over exactly the registered fds. The arrays start at max_watches and
 * double when full, which happens on loop_add only, never per event. */
#include "net/loop_backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct loop_backend {
    struct pollfd *pfds;
    struct loop_watch **watches;
    unsigned n, cap;
    unsigned start; /* where the next scan begins, so a full batch cannot starve the tail */
};

struct loop_backend *loop_backend_new(unsigned max_watches)
{
    struct loop_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->cap = max_watches ? max_watches : 16;
    b->pfds = malloc(b->cap * sizeof(*b->pfds));
    b->watches = malloc(b->cap * sizeof(*b->watches));
    if (!b->pfds || !b->watches) {
        loop_backend_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

void loop_backend_free(struct loop_backend *b)
{
    if (!b)
        return;
    free(b->pfds);
    free(b->watches);
    free(b);
}

static short poll_events(int events)
{
    return (short)(((events & LOOP_READ) ? POLLIN : 0) | ((events & LOOP_WRITE) ? POLLOUT : 0));
}

static void fill(struct pollfd *p, const struct loop_watch *w, int events)
{
    /* poll ignores negative fds: a watch with no interest must not report hang-ups. */
    p->fd = events ? w->fd : -1;
    p->events = poll_events(events);
    p->revents = 0;
}

int loop_backend_add(struct loop_backend *b, struct loop_watch *w, int events)
{
    if (b->n == b->cap) {
        unsigned ncap = b->cap * 2;
        struct pollfd *p = realloc(b->pfds, ncap * sizeof(*p));
        if (!p)
            return -1;
        b->pfds = p;
        struct loop_watch **ws = realloc(b->watches, ncap * sizeof(*ws));
        if (!ws)
            return -1;
        b->watches = ws;
        b->cap = ncap;
    }
    w->slot = (int)b->n;
    b->watches[b->n] = w;
    fill(&b->pfds[b->n], w, events);
    b->n++;
    return 0;
}

int loop_backend_set(struct loop_backend *b, struct loop_watch *w, int events)
{
    if (w->slot < 0 || (unsigned)w->slot >= b->n || b->watches[w->slot] != w) {
        errno = ENOENT;
        return -1;
    }
    fill(&b->pfds[w->slot], w, events);
    return 0;
}

void loop_backend_del(struct loop_backend *b, struct loop_watch *w)
{
    unsigned i = (unsigned)w->slot;
    if (w->slot < 0 || i >= b->n || b->watches[i] != w)
        return;
    b->n--;
    if (i != b->n) {
        b->pfds[i] = b->pfds[b->n];
        b->watches[i] = b->watches[b->n];
        b->watches[i]->slot = (int)i;
    }
}

int loop_backend_wait(struct loop_backend *b, int timeout_ms, struct loop_fired *out, int max)
{
    int ready = poll(b->pfds, (nfds_t)b->n, timeout_ms);
    if (ready <= 0)
        return 0; /* timeout or EINTR */
    int k = 0;
    unsigned n = b->n;
    if (b->start >= n)
        b->start = 0;
    for (unsigned j = 0; j < n && k < max && ready > 0; j++) {
        unsigned i = (b->start + j) % n;
        short re = b->pfds[i].revents;
        if (!re)
            continue;
        ready--;
        int ev = 0;
        if (re & POLLIN)
            ev |= LOOP_READ;
        if (re & POLLOUT)
            ev |= LOOP_WRITE;
        if (re & (POLLERR | POLLHUP | POLLNVAL))
            ev |= LOOP_READ | LOOP_WRITE;
        out[k].w = b->watches[i];
        out[k].events = ev;
        k++;
    }
    b->start++;
    return k;
}
