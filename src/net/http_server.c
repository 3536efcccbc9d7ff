/* http_server.c - HTTP/1.x connections on one listening socket, driven by one loop.
 *
 * A connection owns an input buffer of head_max bytes (allocated with it at accept) and
 * nothing else until the socket refuses output. Every complete request in the buffer is
 * parsed in place and handed to the handler, which writes its reply into the server's
 * scratch buffer; the replies of one read are written together, straight from the scratch.
 * Only bytes the socket does not take are copied into a per-connection pending buffer; while
 * any are pending the connection reads nothing (back-pressure) and waits for LOOP_WRITE.
 *
 * Connections sit on one of four lists, each in time order so a timer looks only at the
 * head: active (idle timeout, touched on each request and each write progress), partial
 * (part of a request head has arrived: header timeout counted from when it began, so a
 * client trickling bytes cannot hold a connection for ever), pending (handler said
 * HTTP_PENDING; retried every tick) and linger (closing politely after an error, see
 * conn_finish). One timer per server, every HTTP_TICK_MS, does all four.
 *
 * Shutdown is a drain (http_server_drain): the listening socket is given up after one last
 * accept pass, and each connection may still read only the bytes its kernel queue held at
 * that moment (FIONREAD), so every request the client had sent before the drain began is
 * answered and nothing sent after it is read. A connection whose replies are all written
 * and whose budget is spent is closed; politely (write side shut, input discarded) when the
 * client has sent more, because closing with unread input resets the connection and can
 * destroy replies still in the kernel's send queue. */
#include "net/http_server.h"

#include "net/conn_limit.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifndef __linux__
#include <fcntl.h>
#endif

#include "proto/http_reply.h"
#include "stats.h"
#include "util/clock.h"
#include "util/log_limit.h"

#define HTTP_SCRATCH_CAP (128 * 1024)
#define HTTP_SCRATCH_MIN_FREE (64 * 1024) /* promised to each handler call (http_out) */
#define HTTP_TICK_MS 20
#define HTTP_ACCEPT_BATCH 64 /* accepts per readiness report, then let others run */
#define HTTP_LINGER_MS 2000  /* longest wait for a closing client to stop sending */
#define HTTP_LINGER_READS 16 /* reads per readiness report while lingering */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on each accepted socket instead */
#endif

struct conn_list {
    struct http_conn *head, *tail;
};

struct http_conn {
    struct loop_watch watch;
    struct http_server *srv;
    struct http_conn *prev, *next;
    struct conn_list *list;
    uint64_t stamp_ms; /* last progress: list order and timeouts */
    struct peer_addr peer;
    uint32_t addr_ticket; /* conn_limit ticket, released at close */
    bool closing;         /* close once the pending output is written */
    bool linger;          /* ... and close politely: unread input may remain */
    bool lingering;       /* write side shut, discarding input until EOF or timeout */
    bool handler_pending; /* the request at the front of `in` awaits a handler retry */
    size_t drain_left;    /* draining: bytes this connection may still read */
    uint8_t *out;         /* unwritten reply bytes (malloc'ed only when needed) */
    size_t out_off, out_len;
    struct blob *blob; /* sent after out; our reference */
    size_t blob_off;
    size_t in_len;
    char in[]; /* head_max bytes */
};

struct http_server {
    loop_t *loop;
    struct loop_watch listen;
    struct loop_timer timer;
    struct http_server_config cfg;
    http_handler_fn fn;
    void *ctx;
    uint64_t now_ms; /* refreshed by the timer: no clock read per request */
    unsigned linger_ms;
    unsigned nconns;
    bool accept_paused; /* out of fds: retry on the next tick instead of spinning */
    bool draining;      /* http_server_drain was called: the listening socket is released */
    struct conn_list active, partial, pending, linger;
    size_t scratch_len;
    uint8_t *scratch; /* HTTP_SCRATCH_CAP bytes, used by one connection at a time */
};

static void count(struct http_server *s, enum stat_counter k)
{
    if (s->cfg.stats)
        stat_inc(s->cfg.stats, k);
}

/* ---- lists ---- */

static void list_remove(struct http_conn *c)
{
    struct conn_list *l = c->list;
    if (!l)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
}

static void list_append(struct conn_list *l, struct http_conn *c)
{
    c->list = l;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Record progress: restart the idle clock (the active list stays in time order). */
static void conn_touch(struct http_server *s, struct http_conn *c)
{
    c->stamp_ms = s->now_ms;
    if (c->list == &s->active && c != s->active.tail) {
        list_remove(c);
        list_append(&s->active, c);
    }
}

static void conn_move(struct http_server *s, struct http_conn *c, struct conn_list *l)
{
    if (c->list == l)
        return;
    list_remove(c);
    c->stamp_ms = s->now_ms;
    list_append(l, c);
}

/* ---- closing ---- */

static void conn_close(struct http_server *s, struct http_conn *c)
{
    list_remove(c);
    loop_del(s->loop, &c->watch);
    close(c->watch.fd);
    if (s->cfg.per_addr)
        conn_limit_release(s->cfg.per_addr, c->addr_ticket);
    free(c->out);
    blob_unref(c->blob);
    free(c);
    s->nconns--;
    count(s, STAT_HTTP_CONN_CLOSED);
}

/* All output is written and the connection is done. When the client may still be sending
 * (an error reply, a request body, pipelined requests after a "close"), closing at once
 * would make the kernel answer the unread bytes with a reset that can destroy the reply
 * before the client reads it; so shut the write side and read until the client closes. */
static void conn_finish(struct http_server *s, struct http_conn *c)
{
    if (!c->linger || shutdown(c->watch.fd, SHUT_WR) < 0 ||
        loop_set(s->loop, &c->watch, LOOP_READ) < 0) {
        conn_close(s, c);
        return;
    }
    c->lingering = true;
    c->in_len = 0;
    conn_move(s, c, &s->linger);
}

/* Bytes received and not yet read (0 when the socket cannot say). */
static size_t conn_unread(const struct http_conn *c)
{
    int n = 0;
    return ioctl(c->watch.fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/* Draining, every reply written and the read budget spent: done. */
static void conn_drained(struct http_server *s, struct http_conn *c)
{
    c->closing = true;
    c->linger = conn_unread(c) > 0;
    conn_finish(s, c);
}

/* ---- output ---- */

static int set_interest(struct http_server *s, struct http_conn *c, int events)
{
    return loop_set(s->loop, &c->watch, events);
}

/* Send data (then blob, whose reference is given to the connection) with one call; keep
 * what the socket does not take. Precondition: nothing pending. Returns 0 when everything
 * went, 1 when the rest waits for LOOP_WRITE, -1 when the connection is broken. */
static int conn_send(struct http_server *s, struct http_conn *c, const uint8_t *data, size_t len,
                     struct blob *blob)
{
    struct iovec iov[2];
    int n = 0;
    if (len)
        iov[n++] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
    if (blob && blob->len)
        iov[n++] = (struct iovec){.iov_base = blob->data, .iov_len = blob->len};
    c->blob = blob; /* from here on conn_close releases it */
    c->blob_off = 0;
    size_t done = 0;
    if (n) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->watch.fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        done = w > 0 ? (size_t)w : 0;
    }
    if (done > 0)
        conn_touch(s, c);
    if (done < len) {
        c->out = malloc(len - done);
        if (!c->out)
            return -1;
        memcpy(c->out, data + done, len - done);
        c->out_off = 0;
        c->out_len = len - done;
        done = 0;
    } else {
        done -= len;
    }
    if (c->blob) {
        if (done < c->blob->len) {
            c->blob_off = done;
        } else {
            blob_unref(c->blob);
            c->blob = NULL;
        }
    }
    if (!c->out && !c->blob)
        return 0;
    return set_interest(s, c, LOOP_WRITE) < 0 ? -1 : 1;
}

static int flush_scratch(struct http_server *s, struct http_conn *c)
{
    size_t len = s->scratch_len;
    s->scratch_len = 0;
    return len ? conn_send(s, c, s->scratch, len, NULL) : 0;
}

/* A reply the server writes itself (400, 431, 500), into the scratch. The caller made sure
 * there is room (HTTP_SCRATCH_MIN_FREE is far more than this needs). */
static void error_reply(struct http_server *s, struct http_conn *c, int status)
{
    const char *text = http_status_text(status);
    size_t tl = strlen(text);
    struct buf b;
    buf_init(&b, s->scratch + s->scratch_len, HTTP_SCRATCH_CAP - s->scratch_len);
    http_reply_head(&b, status, "text/plain", tl + 1, false, NULL);
    buf_put(&b, text, tl);
    buf_putc(&b, '\n');
    if (!b.overflow)
        s->scratch_len += b.len;
    if (status != 500)
        count(s, STAT_HTTP_BAD_REQUEST);
    c->closing = true;
    c->linger = true;
}

/* ---- requests ---- */

/* Hand the connection to another protocol (WebSocket): the fd, the replies not yet written
 * (the scratch) and what the client sent after the upgrade request go to cfg.upgrade. */
static void conn_upgrade(struct http_server *s, struct http_conn *c, size_t off)
{
    int fd = c->watch.fd;
    size_t out_len = s->scratch_len;
    s->scratch_len = 0;
    if (!s->cfg.upgrade || c->out || c->blob) {
        conn_close(s, c);
        return;
    }
    list_remove(c);
    loop_del(s->loop, &c->watch);
    /* As HTTP it is closed (the open-connection count is freed); its per-address slot goes
     * with it to the new owner, so one address cannot open unlimited upgraded connections. */
    s->nconns--;
    count(s, STAT_HTTP_CONN_CLOSED);
    s->cfg.upgrade(s->cfg.upgrade_ctx, fd, &c->peer, c->addr_ticket, s->scratch, out_len,
                   (const uint8_t *)c->in + off, c->in_len - off);
    free(c);
}

/* Answer every complete request in c->in, in order, then write the replies and decide what
 * the connection waits for next. May close (and free) c. Precondition: nothing pending. */
static void conn_process(struct http_server *s, struct http_conn *c)
{
    size_t off = 0;
    int st = 0;
    unsigned nreq = 0;
    s->scratch_len = 0;
    c->handler_pending = false;
    while (!c->closing && !c->handler_pending && off < c->in_len) {
        if (HTTP_SCRATCH_CAP - s->scratch_len < HTTP_SCRATCH_MIN_FREE) {
            st = flush_scratch(s, c);
            if (st)
                break;
        }
        struct http_request req;
        size_t avail = c->in_len - off;
        int r = http_parse_request(c->in + off, avail, &req);
        if (r == HTTP_PARSE_INCOMPLETE) {
            if (avail >= s->cfg.head_max)
                error_reply(s, c, 431);
            break;
        }
        if (r <= 0) {
            error_reply(s, c, 400);
            break;
        }
        struct http_out out = {.body = NULL};
        buf_init(&out.buf, s->scratch + s->scratch_len, HTTP_SCRATCH_CAP - s->scratch_len);
        enum http_action act = s->fn(s->ctx, &req, &c->peer, &out);
        if (act == HTTP_PENDING) {
            blob_unref(out.body); /* the contract says nothing is written; be safe */
            c->handler_pending = true;
            break;
        }
        off += (size_t)r;
        if (act == HTTP_UPGRADE && !out.buf.overflow) {
            s->scratch_len += out.buf.len;
            conn_upgrade(s, c, off);
            return;
        }
        if (out.buf.overflow) {
            blob_unref(out.body);
            error_reply(s, c, 500);
            break;
        }
        s->scratch_len += out.buf.len;
        conn_touch(s, c);
        if (act == HTTP_CLOSE || !req.keep_alive || req.has_body) {
            c->closing = true;
            c->linger = req.has_body || off < c->in_len;
        }
        if (s->cfg.max_pipeline && ++nreq >= s->cfg.max_pipeline && off < c->in_len &&
            !c->closing) {
            /* One read may not buy unbounded work while other connections wait: answer
             * this many, then continue with the rest on the next tick (pending list). */
            c->handler_pending = true;
            count(s, STAT_HTTP_PIPELINE_DEFERRED);
            if (!out.body)
                break;
        }
        if (out.body) {
            size_t len = s->scratch_len;
            s->scratch_len = 0;
            st = conn_send(s, c, s->scratch, len, out.body);
            if (st)
                break;
        }
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (!st)
        st = flush_scratch(s, c);
    if (st < 0) {
        conn_close(s, c);
        return;
    }
    if (st > 0) {
        conn_move(s, c, &s->active); /* a client that stops reading times out */
        return;
    }
    if (c->closing) {
        conn_finish(s, c);
        return;
    }
    if (c->handler_pending) {
        conn_move(s, c, &s->pending);
        if (set_interest(s, c, 0) < 0)
            conn_close(s, c);
        return;
    }
    if (s->draining && !c->drain_left) {
        conn_drained(s, c); /* whatever is left of the input came after the drain began */
        return;
    }
    if (c->in_len && (c->list != &s->partial || off)) {
        /* A request head has begun: its clock starts now, and only completing it stops it. */
        list_remove(c);
        c->stamp_ms = s->now_ms;
        list_append(&s->partial, c);
    } else if (!c->in_len) {
        conn_move(s, c, &s->active);
    }
    if (set_interest(s, c, LOOP_READ) < 0)
        conn_close(s, c);
}

static void conn_writable(struct http_server *s, struct http_conn *c)
{
    struct iovec iov[2];
    int n = 0;
    if (c->out)
        iov[n++] =
            (struct iovec){.iov_base = c->out + c->out_off, .iov_len = c->out_len - c->out_off};
    if (c->blob)
        iov[n++] = (struct iovec){.iov_base = c->blob->data + c->blob_off,
                                  .iov_len = c->blob->len - c->blob_off};
    if (n) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->watch.fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                conn_close(s, c);
            return;
        }
        size_t done = (size_t)w;
        if (done)
            conn_touch(s, c);
        if (c->out) {
            size_t left = c->out_len - c->out_off;
            if (done < left) {
                c->out_off += done;
                return;
            }
            done -= left;
            free(c->out);
            c->out = NULL;
        }
        if (c->blob) {
            c->blob_off += done;
            if (c->blob_off < c->blob->len)
                return;
            blob_unref(c->blob);
            c->blob = NULL;
        }
    }
    if (c->closing)
        conn_finish(s, c);
    else
        conn_process(s, c); /* pipelined requests may be waiting in the buffer */
}

static void conn_readable(struct http_server *s, struct http_conn *c)
{
    if (c->lingering) {
        for (int i = 0; i < HTTP_LINGER_READS; i++) {
            ssize_t r = read(c->watch.fd, c->in, s->cfg.head_max);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            if (r <= 0) {
                conn_close(s, c);
                return;
            }
        }
        return;
    }
    if (c->in_len >= s->cfg.head_max || (s->draining && !c->drain_left)) {
        conn_process(s, c); /* cannot happen with READ interest; answers 431 if it does */
        return;
    }
    size_t room = s->cfg.head_max - c->in_len;
    if (s->draining && room > c->drain_left)
        room = c->drain_left;
    ssize_t r = read(c->watch.fd, c->in + c->in_len, room);
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(s, c);
        return;
    }
    if (r == 0) {
        conn_close(s, c); /* the client is done; everything it asked for was answered */
        return;
    }
    c->in_len += (size_t)r;
    if (s->draining)
        c->drain_left -= (size_t)r;
    conn_process(s, c);
}

static void conn_event(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    struct http_conn *c = w->data;
    /* Interest is never READ and WRITE at once: output pending means no reading. */
    if ((events & LOOP_WRITE) && (c->out || c->blob))
        conn_writable(c->srv, c);
    else if (events & LOOP_READ)
        conn_readable(c->srv, c);
}

/* ---- accepting ---- */

static int accept_one(int lfd, struct sockaddr_storage *ss, socklen_t *sl)
{
#ifdef __linux__
    return accept4(lfd, (struct sockaddr *)ss, sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, (struct sockaddr *)ss, sl);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        close(fd);
        errno = ECONNABORTED;
        return -1;
    }
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    return fd;
#endif
}

static void on_accept(loop_t *loop, struct loop_watch *w, int events)
{
    (void)events;
    struct http_server *s = w->data;
    for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept_one(w->fd, &ss, &sl);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: the pending connection would wake us at once, forever. */
                if (loop_set(loop, &s->listen, 0) == 0)
                    s->accept_paused = true;
            }
            return; /* EAGAIN, or nothing more to do now */
        }
        if (s->nconns >= s->cfg.max_conns) {
            /* Accept-and-close keeps the backlog moving; the client sees a closed
             * connection instead of a hanging connect. */
            close(fd);
            count(s, STAT_HTTP_CONN_REFUSED);
            /* One line a minute over all workers: a flood must not become a log flood. */
            static struct log_limit cap_log = LOG_LIMIT_INIT;
            log_limited(&cap_log, (uint32_t)(s->now_ms / 1000), 60, LOG_WARN,
                        "http: connection cap reached (%u open on this worker), refusing new "
                        "connections", s->nconns);
            continue;
        }
        struct peer_addr peer;
        if (!addr_from_sockaddr(&peer, (struct sockaddr *)&ss, sl))
            memset(&peer, 0, sizeof(peer));
        uint32_t ticket = 0;
        if (s->cfg.per_addr && !(ticket = conn_limit_acquire(s->cfg.per_addr, &peer))) {
            close(fd);
            count(s, STAT_HTTP_CONN_IP_REFUSED);
            continue;
        }
        struct http_conn *c = malloc(sizeof(*c) + s->cfg.head_max);
        if (!c) {
            close(fd);
            if (s->cfg.per_addr)
                conn_limit_release(s->cfg.per_addr, ticket);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->srv = s;
        c->watch.fd = fd;
        c->watch.fn = conn_event;
        c->watch.data = c;
        c->peer = peer;
        c->addr_ticket = ticket;
        if (loop_add(loop, &c->watch, LOOP_READ) < 0) {
            close(fd);
            if (s->cfg.per_addr)
                conn_limit_release(s->cfg.per_addr, ticket);
            free(c);
            continue;
        }
        s->nconns++;
        c->stamp_ms = s->now_ms;
        list_append(&s->active, c);
        count(s, STAT_HTTP_CONN_ACCEPTED);
        if (s->draining) /* the last accept pass: its requests are in flight too */
            c->drain_left = conn_unread(c);
    }
}

/* ---- the timer ---- */

static void on_timer(loop_t *loop, void *ctx)
{
    struct http_server *s = ctx;
    s->now_ms = clock_now_ms();
    if (s->accept_paused && loop_set(loop, &s->listen, LOOP_READ) == 0)
        s->accept_paused = false;

    /* Retry pending handlers. conn_process only ever closes or moves its own connection,
     * and one that stays pending stays where it is, so `next` remains valid. */
    struct http_conn *end = s->pending.tail;
    for (struct http_conn *c = s->pending.head, *next; c; c = next) {
        next = c->next;
        bool last = c == end;
        if (!c->out && !c->blob) /* else the write completion retries it */
            conn_process(s, c);
        if (last)
            break;
    }

    if (s->cfg.idle_timeout_ms) {
        while (s->active.head && s->now_ms - s->active.head->stamp_ms >= s->cfg.idle_timeout_ms) {
            conn_close(s, s->active.head);
            count(s, STAT_HTTP_CONN_TIMEOUT);
        }
    }
    /* A head in progress gets the shorter of the two timeouts. */
    unsigned head_ms = s->cfg.idle_timeout_ms;
    bool by_head = s->cfg.header_timeout_ms && (!head_ms || s->cfg.header_timeout_ms < head_ms);
    if (by_head)
        head_ms = s->cfg.header_timeout_ms;
    if (head_ms) {
        while (s->partial.head && s->now_ms - s->partial.head->stamp_ms >= head_ms) {
            conn_close(s, s->partial.head);
            count(s, by_head ? STAT_HTTP_HEADER_TIMEOUT : STAT_HTTP_CONN_TIMEOUT);
        }
    }
    while (s->linger.head && s->now_ms - s->linger.head->stamp_ms >= s->linger_ms)
        conn_close(s, s->linger.head);
}

/* ---- public ---- */

struct http_server *http_server_new(loop_t *loop, int listen_fd,
                                    const struct http_server_config *cfg, http_handler_fn fn,
                                    void *ctx)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->scratch = malloc(HTTP_SCRATCH_CAP);
    if (!s->scratch) {
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->cfg = *cfg;
    if (s->cfg.head_max < 64)
        s->cfg.head_max = 8192;
    if (!s->cfg.max_conns)
        s->cfg.max_conns = UINT_MAX;
    s->linger_ms = HTTP_LINGER_MS;
    if (s->cfg.idle_timeout_ms && s->cfg.idle_timeout_ms < s->linger_ms)
        s->linger_ms = s->cfg.idle_timeout_ms;
    s->fn = fn;
    s->ctx = ctx;
    s->now_ms = clock_now_ms();
    s->listen.fd = listen_fd;
    s->listen.fn = on_accept;
    s->listen.data = s;
    if (loop_add(loop, &s->listen, LOOP_READ) < 0) {
        free(s->scratch);
        free(s);
        return NULL;
    }
    loop_timer_add(loop, &s->timer, HTTP_TICK_MS, on_timer, s);
    return s;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    struct conn_list *lists[] = {&s->active, &s->partial, &s->pending, &s->linger};
    for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        while (lists[i]->head)
            conn_close(s, lists[i]->head);
    loop_timer_del(s->loop, &s->timer);
    if (!s->draining)
        loop_del(s->loop, &s->listen);
    free(s->scratch);
    free(s);
}

unsigned http_server_conns(const struct http_server *s)
{
    return s->nconns;
}

void http_server_drain(struct http_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    /* Connections the kernel completed before now are in flight: take them, then let go. */
    on_accept(s->loop, &s->listen, LOOP_READ);
    loop_del(s->loop, &s->listen);
    s->accept_paused = false;

    struct conn_list *lists[] = {&s->active, &s->partial, &s->pending};
    for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        for (struct http_conn *c = lists[i]->head; c; c = c->next)
            c->drain_left = conn_unread(c);
    /* Connections waiting for input: finished now, or reading what is left of their budget.
     * (Those with output pending or a parked handler get here when that completes.) Each
     * call only moves or frees its own connection; stop at the original tail, since one
     * that keeps reading may move to the end of the list. */
    for (unsigned i = 0; i < 2; i++) {
        struct http_conn *end = lists[i]->tail;
        for (struct http_conn *c = lists[i]->head, *next; c; c = next) {
            next = c->next;
            bool last = c == end;
            if (!c->out && !c->blob && !c->handler_pending && !c->closing)
                conn_process(s, c);
            if (last)
                break;
        }
    }
}
