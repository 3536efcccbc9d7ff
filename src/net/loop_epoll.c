/* loop_epoll.c - the Linux back-end of the event loop: level-triggered epoll.
 *
 * The kernel holds the interest set; epoll_data carries the watch pointer, so nothing here
 * grows with the number of watches. A watch with an empty interest mask is removed from the
 * epoll set, because epoll would still report errors and hang-ups for it and a caller that
 * asked for nothing could never clear them (a busy loop). */
#include "net/loop_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* The batch size loop.c asks for; the event array is sized once for it. */
#define EPOLL_EVENTS_MAX 256

struct loop_backend {
    int epfd;
    struct epoll_event evs[EPOLL_EVENTS_MAX];
};

struct loop_backend *loop_backend_new(unsigned max_watches)
{
    (void)max_watches; /* the kernel's set grows as needed */
    struct loop_backend *b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int e = errno;
        free(b);
        errno = e;
        return NULL;
    }
    return b;
}

void loop_backend_free(struct loop_backend *b)
{
    if (!b)
        return;
    close(b->epfd);
    free(b);
}

static int ctl(struct loop_backend *b, int op, struct loop_watch *w, int events)
{
    struct epoll_event ev = {0};
    ev.events = ((events & LOOP_READ) ? EPOLLIN : 0u) | ((events & LOOP_WRITE) ? EPOLLOUT : 0u);
    ev.data.ptr = w;
    return epoll_ctl(b->epfd, op, w->fd, &ev);
}

int loop_backend_add(struct loop_backend *b, struct loop_watch *w, int events)
{
    if (!events)
        return 0;
    return ctl(b, EPOLL_CTL_ADD, w, events);
}

int loop_backend_set(struct loop_backend *b, struct loop_watch *w, int events)
{
    if (!w->events)
        return events ? ctl(b, EPOLL_CTL_ADD, w, events) : 0;
    if (!events)
        return ctl(b, EPOLL_CTL_DEL, w, 0);
    return ctl(b, EPOLL_CTL_MOD, w, events);
}

void loop_backend_del(struct loop_backend *b, struct loop_watch *w)
{
    /* Errors are harmless: a closed fd has already left the set. */
    if (w->events)
        (void)ctl(b, EPOLL_CTL_DEL, w, 0);
}

int loop_backend_wait(struct loop_backend *b, int timeout_ms, struct loop_fired *out, int max)
{
    if (max > EPOLL_EVENTS_MAX)
        max = EPOLL_EVENTS_MAX;
    int n = epoll_wait(b->epfd, b->evs, max, timeout_ms);
    if (n < 0)
        return 0; /* EINTR; anything else would be a bug in the set, and retrying is safe */
    for (int i = 0; i < n; i++) {
        uint32_t e = b->evs[i].events;
        int ev = 0;
        if (e & (EPOLLIN | EPOLLPRI))
            ev |= LOOP_READ;
        if (e & EPOLLOUT)
            ev |= LOOP_WRITE;
        /* Errors and hang-ups wake whatever the watch waits for; its read or write then
         * returns the error. */
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= LOOP_READ | LOOP_WRITE;
        out[i].w = b->evs[i].data.ptr;
        out[i].events = ev;
    }
    return n;
}
