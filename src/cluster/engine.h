/* engine.h - the connection to the cluster's Redis engine (hiredis 0.14), with time limits.
 *
 * hiredis 0.14 has no connect-with-options, so the socket is made here: bound to the
 * configured source address, connected without blocking for at most timeout_ms, then handed
 * to redisConnectFd and given timeout_ms as send and receive timeouts, so that every later
 * call returns within that bound whatever the engine does (down, stalled, partitioned).
 * An engine_t is used by one thread at a time. Only built with SWARMD_HAVE_HIREDIS. */
#ifndef SWARMD_CLUSTER_ENGINE_H
#define SWARMD_CLUSTER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

struct engine_params {
    const char *host;          /* literal address or DNS name */
    uint16_t port;
    struct peer_addr bind;     /* family 0: any source address */
    unsigned timeout_ms;
    const char *user, *pass;   /* pass NULL: no AUTH; user NULL: AUTH pass */
};

typedef struct engine engine_t;

/* Connect (and AUTH). NULL with a reason in err. */
engine_t *engine_connect(const struct engine_params *p, char *err, size_t errlen);
void engine_close(engine_t *e);

/* The hiredis context, for commands (redisCommandArgv, redisAppendCommandArgv, ...). After
 * a NULL reply or an error reply of type REDIS_REPLY_ERROR for I/O, close and reconnect. */
struct redisContext *engine_ctx(engine_t *e);

/* Reason of the last failure on this connection ("timeout", "connection reset", ...). */
const char *engine_error(engine_t *e);

#endif
