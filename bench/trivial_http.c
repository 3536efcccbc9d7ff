/* trivial_http.c - the HTTP ceiling for the benchmark: an HTTP/1.1 server on 127.0.0.1:PORT
 * (epoll, one thread) that answers every request with the same small bencoded response.
 *
 *   trivial_http -p PORT
 *
 * Keep-alive by default; pipelined requests are all answered, in order, with one write.
 * A request carrying "Connection: close" (or an HTTP/1.0 one without "Connection: keep-alive")
 * gets the response with "Connection: close" and the server closes after sending it, as a
 * tracker does for clients that reconnect every time. Request bodies are not expected (GET).
 * It parses only the header block's end and the Connection header, so its cost per request is
 * the kernel's TCP path plus epoll: no tracker can beat it here. Prints "ready" once
 * listening; runs until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX 8192
#define OUT_MAX 16384

#define BODY "d8:completei0e10:incompletei0e8:intervali1800e5:peers0:e"
#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
static const char resp_keep[] = HEAD "56\r\n\r\n" BODY;
static const char resp_close[] = HEAD "56\r\nConnection: close\r\n\r\n" BODY;
_Static_assert(sizeof BODY - 1 == 56, "Content-Length must match the body");

struct conn {
    int fd;
    size_t in_len, out_len, out_off;
    bool closing;  /* close once the output is written */
    bool want_out; /* registered for EPOLLOUT instead of EPOLLIN */
    char in[IN_MAX];
    char out[OUT_MAX];
};

static int ep;

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* Does the request head [h, h+len) ask for the connection to be closed after it? */
static bool wants_close(const char *h, size_t len)
{
    const char *eol = memchr(h, '\n', len);
    bool http10 = eol && eol - h >= 9 && !memcmp(eol - 9, "HTTP/1.0", 8);
    bool close_hdr = false, keep_hdr = false;
    for (const char *p = eol; p && p < h + len;) {
        p++;
        const char *e = memchr(p, '\n', (size_t)(h + len - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(h + len - p);
        if (n > 11 && !strncasecmp(p, "connection:", 11)) {
            const char *v = p + 11;
            size_t vn = n - 11;
            while (vn && (*v == ' ' || *v == '\t'))
                v++, vn--;
            if (vn >= 5 && !strncasecmp(v, "close", 5))
                close_hdr = true;
            if (vn >= 10 && !strncasecmp(v, "keep-alive", 10))
                keep_hdr = true;
        }
        p = e;
    }
    return close_hdr || (http10 && !keep_hdr);
}

static bool flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* Only EPOLLOUT: reading more before this is out would just spin. */
                if (!c->want_out) {
                    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    c->want_out = true;
                }
                return true;
            }
            return false;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    if (c->closing)
        return false;
    if (c->want_out) { /* only after a short write: no epoll_ctl per request */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = false;
    }
    return true;
}

/* Answers every complete request in the input buffer. false: close the connection. */
static bool serve(struct conn *c)
{
    size_t off = 0;
    while (!c->closing) {
        char *end = memmem(c->in + off, c->in_len - off, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t hlen = (size_t)(end + 4 - (c->in + off));
        bool cl = wants_close(c->in + off, hlen);
        const char *r = cl ? resp_close : resp_keep;
        size_t rl = cl ? sizeof resp_close - 1 : sizeof resp_keep - 1;
        if (c->out_len + rl > OUT_MAX)
            break; /* answer the rest after this output is written */
        memcpy(c->out + c->out_len, r, rl);
        c->out_len += rl;
        c->closing = cl;
        off += hlen;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (c->in_len == IN_MAX)
        return false; /* a head larger than the buffer: not a client we model */
    return flush_out(c);
}

static bool on_readable(struct conn *c)
{
    for (;;) {
        if (c->out_len)
            return true; /* wait for EPOLLOUT before reading more */
        size_t space = IN_MAX - c->in_len;
        ssize_t r = read(c->fd, c->in + c->in_len, space);
        if (r == 0)
            return false;
        if (r < 0)
            return errno == EAGAIN || errno == EINTR;
        c->in_len += (size_t)r;
        if (!serve(c))
            return false;
        if ((size_t)r < space)
            return true; /* drained the socket; level-triggered epoll wakes us again */
    }
}

int main(int argc, char **argv)
{
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else
            return 2;
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: trivial_http -p PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("trivial_http: listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    printf("ready\n");
    fflush(stdout);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct conn *nc = malloc(sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    nc->in_len = nc->out_len = nc->out_off = 0;
                    nc->closing = nc->want_out = false;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            bool keep;
            if (evs[i].events & EPOLLOUT)
                keep = flush_out(c) && (c->out_len || serve(c));
            else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                keep = on_readable(c);
            else
                keep = true;
            if (!keep)
                conn_free(c);
        }
    }
}
