/* test_http_server.c - the HTTP connection layer over real loopback sockets.
 *
 * Each test starts an http_server on 127.0.0.1 (port 0) with a fake handler, runs its loop
 * in a thread, and talks to it with blocking client sockets that time out after a few
 * seconds (so a broken server fails a check instead of hanging the suite). The fake handler
 * answers with the request path as the body, so the order of replies is visible; a few
 * paths trigger the other behaviours (close, pending, large bodies, a shared blob). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "net/conn_limit.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "net/sock.h"
#include "proto/http_reply.h"
#include "stats.h"

#define BIG_LEN (1u << 20)
#define FILL_LEN 60000u

/* ---- the server side (runs in its own thread) ---- */

struct srv {
    loop_t *loop;
    struct http_server *http;
    int lfd;
    int port;
    pthread_t thread;
    int stop;         /* atomic: ask the loop to stop */
    int drain;        /* atomic: 1 asks the tick to call http_server_drain, which sets 2 */
    int conns;        /* atomic: http_server_conns, published by the tick */
    int calls;        /* atomic: handler calls */
    int pending_left; /* handler calls still to answer HTTP_PENDING for /pending */
    struct peer_addr last_client;
    struct worker_stats stats;
};

static enum http_action fake_handler(void *ctx, const struct http_request *req,
                                     const struct peer_addr *client, struct http_out *out)
{
    struct srv *s = ctx;
    __atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
    s->last_client = *client;
    size_t pl = req->path_len;
    const char *p = req->path;
    if (pl == 8 && memcmp(p, "/pending", 8) == 0 && s->pending_left > 0) {
        s->pending_left--;
        return HTTP_PENDING;
    }
    if (pl == 4 && memcmp(p, "/big", 4) == 0) {
        struct blob *b = blob_new(BIG_LEN);
        for (size_t i = 0; i < BIG_LEN; i++)
            b->data[i] = (uint8_t)(i * 7 + i / 251);
        http_reply_head(&out->buf, 200, NULL, BIG_LEN, req->keep_alive, NULL);
        out->body = b;
        return HTTP_KEEP;
    }
    if (pl == 5 && memcmp(p, "/fill", 5) == 0) {
        /* A large reply built in the scratch buffer itself. */
        http_reply_head(&out->buf, 200, NULL, FILL_LEN, req->keep_alive, NULL);
        for (size_t i = 0; i < FILL_LEN; i++)
            buf_putc(&out->buf, (uint8_t)('a' + i % 26));
        return HTTP_KEEP;
    }
    if (pl == 9 && memcmp(p, "/overflow", 9) == 0) {
        for (int i = 0; i < 1 << 20 && !out->buf.overflow; i++)
            buf_puts(&out->buf, "0123456789");
        return HTTP_KEEP;
    }
    bool close_it = pl == 6 && memcmp(p, "/close", 6) == 0;
    http_reply_head(&out->buf, 200, NULL, pl, req->keep_alive && !close_it, NULL);
    buf_put(&out->buf, p, pl);
    return close_it ? HTTP_CLOSE : HTTP_KEEP;
}

static void srv_tick(loop_t *loop, void *ctx)
{
    struct srv *s = ctx;
    if (__atomic_load_n(&s->drain, __ATOMIC_ACQUIRE) == 1) {
        http_server_drain(s->http);
        __atomic_store_n(&s->drain, 2, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&s->conns, (int)http_server_conns(s->http), __ATOMIC_RELAXED);
    if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
        loop_stop(loop);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    loop_run(s->loop);
    return NULL;
}

/* Caps for the next srv_start (header timeout, pipelining, per-address); zero = none. */
static struct http_server_config caps_cfg;

static bool srv_start_p(struct srv *s, size_t head_max, unsigned idle_ms, unsigned max_conns,
                        int pending)
{
    memset(s, 0, sizeof(*s));
    s->pending_left = pending; /* before the thread starts */
    struct peer_addr a;
    CHECK(addr_parse_ip(&a, "127.0.0.1", 9));
    char err[128];
    s->lfd = sock_tcp_listen(&a, false, 1024, err, sizeof(err));
    CHECK(s->lfd >= 0);
    if (s->lfd < 0) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    struct peer_addr local;
    CHECK(sock_local_addr(s->lfd, &local));
    s->port = local.port;
    s->loop = loop_new(16);
    struct http_server_config cfg = {.head_max = head_max,
                                     .idle_timeout_ms = idle_ms,
                                     .max_conns = max_conns,
                                     .header_timeout_ms = caps_cfg.header_timeout_ms,
                                     .max_pipeline = caps_cfg.max_pipeline,
                                     .per_addr = caps_cfg.per_addr,
                                     .stats = &s->stats};
    s->http = http_server_new(s->loop, s->lfd, &cfg, fake_handler, s);
    CHECK(s->http != NULL);
    loop_set_tick(s->loop, 5, srv_tick, s);
    CHECK(pthread_create(&s->thread, NULL, srv_main, s) == 0);
    return true;
}

static bool srv_start(struct srv *s, size_t head_max, unsigned idle_ms, unsigned max_conns)
{
    return srv_start_p(s, head_max, idle_ms, max_conns, 0);
}

static void srv_stop(struct srv *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    pthread_join(s->thread, NULL);
    http_server_free(s->http);
    loop_free(s->loop);
    if (s->lfd >= 0)
        close(s->lfd);
}

/* Wait until the server reports n connections (up to 3 s). */
static bool wait_conns(struct srv *s, int n)
{
    for (int i = 0; i < 600; i++) {
        if (__atomic_load_n(&s->conns, __ATOMIC_RELAXED) == n)
            return true;
        usleep(5000);
    }
    return false;
}

/* Drain the server from its own thread; returns once http_server_drain has run. */
static void srv_drain(struct srv *s)
{
    __atomic_store_n(&s->drain, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&s->drain, __ATOMIC_ACQUIRE) != 2)
        usleep(1000);
}

/* ---- the client side ---- */

struct client {
    int fd;
    size_t len, cap;
    char *buf; /* grows up to CLIENT_BUF_MAX */
};
#define CLIENT_BUF_MAX (4u << 20)

struct resp {
    int status;
    bool conn_close;
    const char *body; /* into the client's buffer, valid until the next read */
    size_t body_len;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool client_open_rcvbuf(struct client *c, const struct srv *s, int rcvbuf)
{
    struct peer_addr a;
    struct sockaddr_storage ss;
    addr_parse_ip(&a, "127.0.0.1", 9);
    a.port = (uint16_t)s->port;
    socklen_t sl = addr_to_sockaddr(&a, &ss);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    c->len = 0;
    c->cap = 4096;
    c->buf = malloc(c->cap);
    struct timeval tv = {3, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf) /* before connect, so the advertised window stays small */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    bool ok = connect(c->fd, (struct sockaddr *)&ss, sl) == 0;
    CHECK(ok);
    return ok;
}

static bool client_open(struct client *c, const struct srv *s)
{
    return client_open_rcvbuf(c, s, 0);
}

static void client_close(struct client *c)
{
    close(c->fd);
    free(c->buf);
}

static bool client_send(struct client *c, const char *data, size_t len)
{
    while (len) {
        ssize_t w = send(c->fd, data, len, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        data += w;
        len -= (size_t)w;
    }
    return true;
}

static bool client_sends(struct client *c, const char *s)
{
    return client_send(c, s, strlen(s));
}

/* Read more into the buffer; false on EOF, error or timeout. */
static bool client_fill(struct client *c)
{
    if (c->len == c->cap) {
        if (c->cap >= CLIENT_BUF_MAX)
            return false;
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static size_t consumed_prev; /* bytes of the previous response still at the buffer front */

/* Read one whole response (head + Content-Length body). */
static bool client_response(struct client *c, struct resp *r)
{
    if (consumed_prev) {
        memmove(c->buf, c->buf + consumed_prev, c->len - consumed_prev);
        c->len -= consumed_prev;
        consumed_prev = 0;
    }
    char *end;
    for (;;) {
        end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end)
            break;
        if (!client_fill(c))
            return false;
    }
    size_t head = (size_t)(end - c->buf) + 4;
    char saved = c->buf[head - 1];
    c->buf[head - 1] = '\0';
    r->status = strncmp(c->buf, "HTTP/1.1 ", 9) == 0 ? atoi(c->buf + 9) : -1;
    const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    size_t len = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    r->conn_close = strcasestr(c->buf, "\r\nConnection: close") != NULL;
    c->buf[head - 1] = saved;
    while (c->len < head + len)
        if (!client_fill(c))
            return false;
    r->body = c->buf + head;
    r->body_len = len;
    consumed_prev = head + len;
    return true;
}

static bool body_is(const struct resp *r, const char *s)
{
    return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

/* The server closed the connection: EOF (or a reset) with nothing else before it. */
static bool client_eof(struct client *c)
{
    if (c->len > consumed_prev)
        return false;
    char b;
    ssize_t r = recv(c->fd, &b, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void client_reset(struct client *c)
{
    consumed_prev = 0;
    c->len = 0;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* Send GET path on c and read the reply, whose body the echo handler makes the path. */
static bool get_echoes(struct client *c, const char *path)
{
    char req[256];
    struct resp r;
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    return client_sends(c, req) && client_response(c, &r) && body_is(&r, path);
}

/* ---- tests ---- */

TEST(keep_alive_sequential)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    client_open(&c, &s);
    struct resp r;
    CHECK(client_sends(&c, GET("/a")));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_is(&r, "/a"));
    CHECK(!r.conn_close);
    CHECK(get_echoes(&c, "/bb"));
    CHECK(wait_conns(&s, 1));
    CHECK_EQ_INT(s.last_client.family, ADDR_V4);
    CHECK(memcmp(s.last_client.ip, "\x7f\0\0\x01", 4) == 0);
    client_reset(&c);
    client_close(&c);
    CHECK(wait_conns(&s, 0));
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_ACCEPTED], 1);
}

TEST(pipelined_in_order)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    client_open(&c, &s);
    struct resp r;
    CHECK(client_sends(&c, GET("/one") GET("/two") GET("/three")));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/one"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/two"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/three"));
    /* A request split over several writes. */
    CHECK(client_sends(&c, "GET /sl"));
    usleep(30000);
    CHECK(client_sends(&c, "ow HTTP/1.1\r\nHost: t\r"));
    usleep(30000);
    CHECK(client_sends(&c, "\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/slow"));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

TEST(large_replies_pipelined)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    client_open(&c, &s);
    struct resp r;
    /* Several 60 KB replies from one read: the scratch is flushed between them. */
    CHECK(client_sends(&c, GET("/fill") GET("/x") GET("/fill") GET("/fill") GET("/y")));
    for (int i = 0; i < 3; i++) {
        CHECK(client_response(&c, &r));
        CHECK_EQ_INT(r.body_len, FILL_LEN);
        bool ok = r.body_len == FILL_LEN;
        for (size_t k = 0; ok && k < FILL_LEN; k++)
            ok = r.body[k] == (char)('a' + k % 26);
        CHECK(ok);
        if (i == 0) {
            CHECK(client_response(&c, &r));
            CHECK(body_is(&r, "/x"));
        }
    }
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/y"));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

TEST(blob_body_with_back_pressure)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    /* Small socket buffers (accepted sockets inherit the listener's) so the reply cannot
     * leave in one call and the rest must wait in the connection. */
    int sndbuf = 16384;
    setsockopt(s.lfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    client_open_rcvbuf(&c, &s, 32768);
    struct resp r;
    CHECK(client_sends(&c, GET("/big") GET("/after")));
    usleep(100000); /* let the socket fill up: the rest must wait in the connection */
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body_len, BIG_LEN);
    bool ok = r.body_len == BIG_LEN;
    for (size_t i = 0; ok && i < BIG_LEN; i++)
        ok = (uint8_t)r.body[i] == (uint8_t)(i * 7 + i / 251);
    CHECK(ok);
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/after"));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

TEST(connection_close)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    struct resp r;
    /* Asked by the client. */
    client_open(&c, &s);
    CHECK(client_sends(&c, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/bye"));
    CHECK(r.conn_close);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* HTTP/1.0 without keep-alive. */
    client_open(&c, &s);
    CHECK(client_sends(&c, "GET /old HTTP/1.0\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/old"));
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* HTTP/1.0 with keep-alive stays open. */
    client_open(&c, &s);
    CHECK(client_sends(&c, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(client_sends(&c, "GET /ka2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/ka2"));
    client_reset(&c);
    client_close(&c);
    /* Decided by the handler; requests pipelined behind it are not answered. */
    client_open(&c, &s);
    CHECK(client_sends(&c, GET("/close") GET("/never")));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/close"));
    CHECK(r.conn_close);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* A request with a body: answered, then closed. */
    client_open(&c, &s);
    CHECK(client_sends(&c, "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/p"));
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    CHECK(wait_conns(&s, 0));
    srv_stop(&s);
}

TEST(bad_request_400)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    struct resp r;
    client_open(&c, &s);
    CHECK(client_sends(&c, "GARBAGE\x01\x02 what\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 400);
    CHECK(r.conn_close);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* A good request first, then garbage: the good one is answered first. */
    client_open(&c, &s);
    CHECK(client_sends(&c, GET("/ok") "BAD\r\n\r\n"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/ok"));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 400);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_BAD_REQUEST], 2);
}

TEST(oversized_head_431)
{
    struct srv s;
    if (!srv_start(&s, 1024, 5000, 100))
        return;
    struct client c;
    struct resp r;
    client_open(&c, &s);
    char big[4096 + 64];
    memcpy(big, "GET / HTTP/1.1\r\nX-Long: ", 24);
    memset(big + 24, 'a', 4096);
    CHECK(client_send(&c, big, 24 + 4096));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 431);
    CHECK(r.conn_close);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* A head of exactly head_max bytes still fits. */
    client_open(&c, &s);
    char exact[1024];
    const char *pre = "GET /exact HTTP/1.1\r\nX: ";
    size_t pl = strlen(pre);
    memcpy(exact, pre, pl);
    memset(exact + pl, 'b', sizeof(exact) - pl - 4);
    memcpy(exact + sizeof(exact) - 4, "\r\n\r\n", 4);
    CHECK(client_send(&c, exact, sizeof(exact)));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_is(&r, "/exact"));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_BAD_REQUEST], 1);
}

TEST(handler_overflow_500)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    struct client c;
    struct resp r;
    client_open(&c, &s);
    CHECK(client_sends(&c, GET("/overflow")));
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.status, 500);
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

TEST(idle_timeout)
{
    struct srv s;
    /* 1 s idle timeout against 100 ms gaps: wide margins, so a loaded machine's scheduling
     * delays cannot make the test flaky. */
    if (!srv_start(&s, 8192, 1000, 100))
        return;
    struct client c, d;
    struct resp r;
    client_open(&c, &s);
    uint64_t t0 = now_ms();
    CHECK(client_eof(&c));
    uint64_t dt = now_ms() - t0;
    CHECK(dt >= 900);
    CHECK(dt < 4000);
    client_reset(&c);
    client_close(&c);
    /* Activity restarts the clock: requests every 100 ms keep a connection for 1.5 s. */
    client_open(&d, &s);
    for (int i = 0; i < 15; i++) {
        CHECK(client_sends(&d, GET("/tick")));
        CHECK(client_response(&d, &r));
        usleep(100000);
    }
    CHECK(get_echoes(&d, "/still"));
    /* A head that never completes (slowloris) is closed too. */
    CHECK(client_sends(&d, "GET /never HTTP/1.1\r\n"));
    t0 = now_ms();
    for (int i = 0; i < 80 && !client_eof(&d); i++) {
        client_sends(&d, "X");
        usleep(50000);
    }
    dt = now_ms() - t0;
    CHECK(dt < 4000);
    client_reset(&d);
    client_close(&d);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_TIMEOUT], 2);
}

TEST(max_conns_refuses)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 2))
        return;
    struct client a, b, c;
    client_open(&a, &s);
    client_open(&b, &s);
    CHECK(wait_conns(&s, 2));
    client_open(&c, &s); /* the kernel completes it; the server closes it at once */
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    /* The two admitted ones still work. */
    CHECK(get_echoes(&a, "/a"));
    client_reset(&a);
    CHECK(get_echoes(&b, "/b"));
    client_reset(&b);
    /* After one leaves, a new one is admitted. */
    client_close(&a);
    CHECK(wait_conns(&s, 1));
    client_open(&c, &s);
    CHECK(get_echoes(&c, "/c"));
    client_reset(&c);
    client_close(&c);
    client_close(&b);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_REFUSED], 1);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_ACCEPTED], 3);
}

TEST(header_timeout_distinct_from_idle)
{
    struct srv s;
    caps_cfg = (struct http_server_config){.header_timeout_ms = 200};
    bool started = srv_start(&s, 8192, 5000, 100);
    caps_cfg = (struct http_server_config){0};
    if (!started)
        return;
    struct client silent, slow;
    client_open(&silent, &s);
    client_open(&slow, &s);
    /* A byte every 50 ms is progress the idle clock never sees; the head clock closes it. */
    CHECK(client_sends(&slow, "GET /slow"));
    uint64_t t0 = now_ms();
    for (int i = 0; i < 40; i++) {
        if (!client_sends(&slow, "w"))
            break;
        usleep(50000);
    }
    CHECK(client_eof(&slow));
    uint64_t dt = now_ms() - t0;
    CHECK(dt >= 150);
    CHECK(dt < 1500);
    client_reset(&slow);
    client_close(&slow);
    /* The silent connection is only subject to the (longer) idle timeout. */
    CHECK(get_echoes(&silent, "/late"));
    client_reset(&silent);
    client_close(&silent);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_HEADER_TIMEOUT], 1);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_TIMEOUT], 0);
}

TEST(per_address_cap)
{
    struct srv s;
    struct conn_limit *cl = conn_limit_new(2);
    caps_cfg = (struct http_server_config){.per_addr = cl};
    bool started = srv_start(&s, 8192, 5000, 100);
    caps_cfg = (struct http_server_config){0};
    if (!started) {
        conn_limit_free(cl);
        return;
    }
    struct client a, b, c;
    client_open(&a, &s);
    client_open(&b, &s);
    CHECK(wait_conns(&s, 2));
    client_open(&c, &s); /* third from 127.0.0.1: closed at once */
    CHECK(client_eof(&c));
    client_reset(&c);
    client_close(&c);
    CHECK(get_echoes(&b, "/b"));
    client_reset(&b);
    client_close(&a);
    CHECK(wait_conns(&s, 1));
    client_open(&c, &s);
    CHECK(get_echoes(&c, "/c"));
    client_reset(&c);
    client_close(&c);
    client_close(&b);
    srv_stop(&s);
    CHECK_EQ_INT(s.stats.c[STAT_HTTP_CONN_IP_REFUSED], 1);
    conn_limit_free(cl);
}

TEST(pipeline_per_turn)
{
    struct srv s;
    caps_cfg = (struct http_server_config){.max_pipeline = 3};
    bool started = srv_start(&s, 8192, 5000, 100);
    caps_cfg = (struct http_server_config){0};
    if (!started)
        return;
    struct client c;
    struct resp r;
    client_open(&c, &s);
    CHECK(client_sends(&c, GET("/0") GET("/1") GET("/2") GET("/3") GET("/4") GET("/5")
                               GET("/6") GET("/7") GET("/8") GET("/9")));
    for (int i = 0; i < 10; i++) {
        char want[4] = {'/', (char)('0' + i), 0, 0};
        CHECK(client_response(&c, &r));
        CHECK(body_is(&r, want));
    }
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
    CHECK(s.stats.c[STAT_HTTP_PIPELINE_DEFERRED] >= 3);
}

TEST(pending_then_complete)
{
    struct srv s;
    if (!srv_start_p(&s, 8192, 5000, 100, 3))
        return;
    struct client c;
    struct resp r;
    client_open(&c, &s);
    uint64_t t0 = now_ms();
    CHECK(client_sends(&c, GET("/first") GET("/pending") GET("/after")));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/first"));
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/pending"));
    CHECK(now_ms() - t0 >= 40); /* three retries on a ~20 ms tick */
    CHECK(client_response(&c, &r));
    CHECK(body_is(&r, "/after"));
    /* first + 4 calls for /pending + after */
    CHECK_EQ_INT(__atomic_load_n(&s.calls, __ATOMIC_RELAXED), 6);
    CHECK(get_echoes(&c, "/again"));
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

TEST(client_gone_while_pending)
{
    struct srv s;
    if (!srv_start_p(&s, 8192, 5000, 100, 5))
        return;
    struct client c;
    client_open(&c, &s);
    CHECK(client_sends(&c, GET("/pending")));
    usleep(20000);
    client_close(&c); /* the reply will fail or go nowhere; the server must clean up */
    CHECK(wait_conns(&s, 0));
    srv_stop(&s);
}

TEST(many_connections)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 1000))
        return;
    enum { N = 200 };
    static struct client cs[N];
    struct resp r;
    for (int i = 0; i < N; i++)
        client_open(&cs[i], &s);
    for (int i = 0; i < N; i++)
        CHECK(client_sends(&cs[i], GET("/m")));
    int good = 0;
    for (int i = 0; i < N; i++) {
        consumed_prev = 0;
        if (client_response(&cs[i], &r) && body_is(&r, "/m"))
            good++;
    }
    consumed_prev = 0;
    CHECK_EQ_INT(good, N);
    CHECK(wait_conns(&s, N));
    for (int i = 0; i < N; i++)
        client_close(&cs[i]);
    CHECK(wait_conns(&s, 0));
    srv_stop(&s);
}

/* A drain finishes what was received before it: a large body already half sent, the
 * pipelined requests behind it (even those still in the kernel's queue), then closes. What
 * the client sends after the drain is not answered, and the listening socket is free. */
TEST(drain_finishes_in_flight)
{
    struct srv s;
    if (!srv_start(&s, 8192, 5000, 100))
        return;
    int sndbuf = 16384;
    setsockopt(s.lfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct client c;
    client_open_rcvbuf(&c, &s, 32768);
    /* More than one read's worth (head_max 8192) of pipelined requests behind the body. */
    static char reqs[16384];
    size_t len = 0;
    len += (size_t)snprintf(reqs + len, sizeof reqs - len, GET("/big"));
    int n = 0;
    while (len + 64 < sizeof reqs)
        len += (size_t)snprintf(reqs + len, sizeof reqs - len,
                                "GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n", n++);
    CHECK(client_send(&c, reqs, len));
    usleep(100000); /* the body fills the socket; the rest waits */
    srv_drain(&s);
    CHECK(client_sends(&c, GET("/late")));
    struct resp r;
    CHECK(client_response(&c, &r));
    CHECK_EQ_INT(r.body_len, BIG_LEN);
    bool ok = r.body_len == BIG_LEN;
    for (size_t i = 0; ok && i < BIG_LEN; i++)
        ok = (uint8_t)r.body[i] == (uint8_t)(i * 7 + i / 251);
    CHECK(ok);
    int got = 0;
    for (int i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "/p%d", i);
        if (client_response(&c, &r) && body_is(&r, want))
            got++;
    }
    CHECK_EQ_INT(got, n);
    CHECK(client_eof(&c)); /* and no reply to /late */
    CHECK(wait_conns(&s, 0));
    /* The server no longer watches the listener: closing it refuses new connections. */
    close(s.lfd);
    s.lfd = -1;
    struct client d;
    struct peer_addr a;
    struct sockaddr_storage ss;
    addr_parse_ip(&a, "127.0.0.1", 9);
    a.port = (uint16_t)s.port;
    socklen_t sl = addr_to_sockaddr(&a, &ss);
    d.fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(d.fd, (struct sockaddr *)&ss, sl) < 0 && errno == ECONNREFUSED);
    close(d.fd);
    client_reset(&c);
    client_close(&c);
    srv_stop(&s);
}

/* Idle and mid-head connections close at once; a request parked by its handler is still
 * answered. */
TEST(drain_closes_idle)
{
    struct srv s;
    if (!srv_start_p(&s, 8192, 5000, 100, 5))
        return;
    struct client idle, mid, parked;
    struct resp r;
    client_open(&idle, &s);
    client_open(&mid, &s);
    client_open(&parked, &s);
    CHECK(get_echoes(&idle, "/i"));
    client_reset(&idle);
    CHECK(client_sends(&mid, "GET /mid HTTP/1.1\r\n"));
    CHECK(client_sends(&parked, GET("/pending")));
    CHECK(wait_conns(&s, 3));
    usleep(20000);
    uint64_t t0 = now_ms();
    srv_drain(&s);
    CHECK(client_eof(&idle));
    CHECK(client_eof(&mid));
    CHECK(client_response(&parked, &r));
    CHECK(body_is(&r, "/pending"));
    CHECK(client_eof(&parked));
    CHECK(wait_conns(&s, 0));
    CHECK(now_ms() - t0 < 1000);
    client_reset(&parked);
    client_close(&idle);
    client_close(&mid);
    client_close(&parked);
    srv_stop(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(keep_alive_sequential);
    RUN(pipelined_in_order);
    RUN(large_replies_pipelined);
    RUN(blob_body_with_back_pressure);
    RUN(connection_close);
    RUN(bad_request_400);
    RUN(oversized_head_431);
    RUN(handler_overflow_500);
    RUN(idle_timeout);
    RUN(max_conns_refuses);
    RUN(header_timeout_distinct_from_idle);
    RUN(per_address_cap);
    RUN(pipeline_per_turn);
    RUN(pending_then_complete);
    RUN(client_gone_while_pending);
    RUN(many_connections);
    RUN(drain_finishes_in_flight);
    RUN(drain_closes_idle);
    return CHECK_DONE();
}
