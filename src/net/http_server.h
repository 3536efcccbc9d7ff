/* http_server.h - HTTP/1.x connections: accept, read, parse, hand over, write.
 *
 * Owns the connections of one listening socket on one loop (thread): keep-alive, pipelining
 * (requests are answered in order), "Connection: close", the head-size limit (431 and close),
 * malformed heads (400 and close), an idle timeout, a separate timeout for a request head
 * that trickles in (slowloris), a bound on pipelined requests per read, and caps on open
 * connections, in total and per source address (over a cap a new connection is closed at
 * once), and a graceful stop (drain). Replies are built by the handler into a per-server
 * scratch buffer and written directly; only what the socket does not take is copied into the
 * connection. Large shared bodies (full scrape) are passed as a blob and sent without copying. */
#ifndef SWARMD_HTTP_SERVER_H
#define SWARMD_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"
#include "proto/http_parse.h"
#include "util/addr.h"
#include "util/blob.h"
#include "util/buf.h"

struct worker_stats;
struct conn_limit;

struct http_server_config {
    size_t head_max;          /* request head limit, bytes (8192) */
    unsigned idle_timeout_ms; /* close a connection idle (or stuck mid-head) this long */
    unsigned max_conns;       /* per server (per worker) */
    unsigned header_timeout_ms; /* close a connection whose request head, once begun, is not
                                 * complete this long after (slowloris); 0 = idle timeout */
    unsigned max_pipeline;    /* most requests answered from one read; more close (0 = any) */
    struct conn_limit *per_addr; /* optional shared per-source-address cap (conn_limit.h) */
    /* Optional (NULL: none): counts STAT_HTTP_CONN_*, the 400/431 it writes itself and the
     * per-address, head-timeout and pipelining closes. */
    struct worker_stats *stats;
    /* Optional: takes over a connection whose handler answered HTTP_UPGRADE (see there),
     * with its per_addr slot (addr_ticket, 0 = none), which the new owner releases with
     * conn_limit_release when it closes the connection: the per-address cap keeps counting
     * upgraded connections. */
    bool (*upgrade)(void *ctx, int fd, const struct peer_addr *peer, uint32_t addr_ticket,
                    const uint8_t *pre_out, size_t pre_out_len, const uint8_t *pre_in,
                    size_t pre_in_len);
    void *upgrade_ctx;
};

enum http_action {
    HTTP_KEEP,    /* reply written; keep the connection if the request allows */
    HTTP_CLOSE,   /* reply written; close after sending it */
    HTTP_PENDING, /* nothing written; call the handler again with the same request later
                   * (on a tick, ~every 20 ms); the connection reads nothing meanwhile */
    HTTP_UPGRADE, /* reply written (101); then the socket, the unsent replies and the bytes
                   * after this request go to cfg.upgrade, which owns them from then on
                   * (without cfg.upgrade the connection is closed) */
};

struct http_out {
    struct buf buf;     /* head (and small body) go here; room for at least 64 KiB */
    struct blob *body;  /* optional: sent after buf; the handler gives its reference away */
};

typedef enum http_action (*http_handler_fn)(void *ctx, const struct http_request *req,
                                            const struct peer_addr *client,
                                            struct http_out *out);

struct http_server;
struct http_server *http_server_new(loop_t *loop, int listen_fd,
                                    const struct http_server_config *cfg, http_handler_fn fn,
                                    void *ctx);
/* Close every connection and stop accepting (does not close listen_fd). */
void http_server_free(struct http_server *s);
/* Open connections (lingering ones included). */
unsigned http_server_conns(const struct http_server *s);
/* Begin a graceful stop: accept what the kernel has already queued, then stop watching
 * listen_fd (the caller may close it once this returns); answer every request each
 * connection had sent before this call, write every reply, read nothing sent later, and
 * close each connection as it finishes. http_server_conns reaches 0 when all are done;
 * http_server_free cuts whatever is still open. Idempotent. */
void http_server_drain(struct http_server *s);

#endif
