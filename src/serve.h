/* serve.h - request handlers that connect the protocol codecs to the tracker.
 *
 * serve_http routes one parsed HTTP request (announce, scrape, full scrape, redirect, 404,
 * 405) and writes the whole response; serve_udp answers one BEP 15 datagram. ctx is the
 * calling thread's struct tracker_worker. Neither keeps state between calls. */
#ifndef SWARMD_SERVE_H
#define SWARMD_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "net/http_server.h"
#include "util/addr.h"

enum http_action serve_http(void *ctx, const struct http_request *req,
                            const struct peer_addr *client, struct http_out *out);

size_t serve_udp(void *ctx, const struct peer_addr *src, const uint8_t *pkt, size_t len,
                 uint8_t *out, size_t cap);
/* The udp_server prepare hook: prefetches the swarms a batch of datagrams names. */
void serve_udp_prepare(void *ctx, const uint8_t *const *pkts, const size_t *lens, unsigned n);

#endif
