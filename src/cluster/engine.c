/* engine.c - making the engine connection by hand for hiredis 0.14 (see engine.h).
 *
 * getaddrinfo picks the engine's address (of the bind address's family when one is set);
 * the connect runs non-blocking and is awaited with poll, so an unreachable or filtered
 * engine costs timeout_ms, not the kernel's minutes of SYN retries. */
#ifdef SWARMD_HAVE_HIREDIS
#include "cluster/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct engine {
    redisContext *ctx;
};

static int connect_timeout(const struct engine_params *p, const struct addrinfo *ai, char *err,
                           size_t errlen)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (p->bind.family) {
        struct sockaddr_storage ss;
        struct peer_addr b = p->bind;
        b.port = 0;
        socklen_t len = addr_to_sockaddr(&b, &ss);
        if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
            snprintf(err, errlen, "bind to cluster.bind address: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(err, errlen, "connect: %s", strerror(errno));
            close(fd);
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&pfd, 1, (int)p->timeout_ms);
        while (r < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (r == 0) {
            snprintf(err, errlen, "connect: timed out after %u ms", p->timeout_ms);
            close(fd);
            return -1;
        }
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
            snprintf(err, errlen, "connect: %s", strerror(soerr ? soerr : errno));
            close(fd);
            return -1;
        }
    }
    /* hiredis' blocking API wants a blocking socket; its timeouts bound every call. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool auth(engine_t *e, const struct engine_params *p, char *err, size_t errlen)
{
    const char *argv[3] = {"AUTH", p->user ? p->user : p->pass, p->pass};
    size_t lens[3] = {4, strlen(argv[1]), strlen(p->pass)};
    redisReply *r = redisCommandArgv(e->ctx, p->user ? 3 : 2, argv, lens);
    if (!r) {
        snprintf(err, errlen, "AUTH: %s", e->ctx->errstr);
        return false;
    }
    bool ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        snprintf(err, errlen, "AUTH refused: %.*s", r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    freeReplyObject(r);
    return ok;
}

engine_t *engine_connect(const struct engine_params *p, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (p->bind.family)
        hints.ai_family = p->bind.family == ADDR_V4 ? AF_INET : AF_INET6;
    snprintf(port, sizeof port, "%u", p->port);
    int gr = getaddrinfo(p->host, port, &hints, &res);
    if (gr != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s: %s", p->host, gai_strerror(gr));
        return NULL;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_timeout(p, ai, err, errlen);
    freeaddrinfo(res);
    if (fd < 0)
        return NULL;

    engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->ctx = redisConnectFd(fd);
    if (!e->ctx || e->ctx->err) {
        snprintf(err, errlen, "hiredis: %s", e->ctx ? e->ctx->errstr : "out of memory");
        if (e->ctx)
            redisFree(e->ctx); /* closes fd */
        else
            close(fd);
        free(e);
        return NULL;
    }
    struct timeval tv = {(time_t)(p->timeout_ms / 1000), (suseconds_t)(p->timeout_ms % 1000) * 1000};
    if (redisSetTimeout(e->ctx, tv) != REDIS_OK || (p->pass && !auth(e, p, err, errlen))) {
        if (e->ctx->err)
            snprintf(err, errlen, "%s", e->ctx->errstr);
        engine_close(e);
        return NULL;
    }
    return e;
}

void engine_close(engine_t *e)
{
    if (!e)
        return;
    redisFree(e->ctx);
    free(e);
}

struct redisContext *engine_ctx(engine_t *e) { return e->ctx; }

const char *engine_error(engine_t *e)
{
    if (!e->ctx->err)
        return "protocol error";
    /* hiredis reports a receive timeout as "Resource temporarily unavailable". */
    if (e->ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return "timeout";
    return e->ctx->errstr[0] ? e->ctx->errstr : "I/O error";
}
#endif
