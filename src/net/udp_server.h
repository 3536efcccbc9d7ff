/* udp_server.h - a batched UDP request/reply server on one socket.
 *
 * Reads datagrams in batches (recvmmsg where available, recvfrom otherwise), hands each to the
 * handler, and sends the replies in batches (sendmmsg / sendto) to the sources. All buffers
 * belong to the server; nothing is allocated per datagram. One server per socket, driven by
 * one loop (one thread). */
#ifndef SWARMD_UDP_SERVER_H
#define SWARMD_UDP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"
#include "util/addr.h"

#define UDP_SERVER_MAX_DATAGRAM 2048
#define UDP_SERVER_MAX_REPLY 1500

/* Handle one datagram; write the reply into out (cap bytes) and return its length, or 0 for
 * no reply. src is normalised (v4-mapped is v4). */
typedef size_t (*udp_handler_fn)(void *ctx, const struct peer_addr *src, const uint8_t *pkt,
                                 size_t len, uint8_t *out, size_t cap);

/* Optional: called with each batch of n datagrams just read, before the handler sees any of
 * them, so it can start memory loads the handler will need (prefetch). Must not change
 * anything the handler's answers depend on. */
typedef void (*udp_batch_fn)(void *ctx, const uint8_t *const *pkts, const size_t *lens,
                             unsigned n);

struct udp_server;
struct udp_server *udp_server_new(loop_t *loop, int fd, udp_handler_fn fn, void *ctx);
void udp_server_set_prepare(struct udp_server *s, udp_batch_fn prepare);
void udp_server_free(struct udp_server *s); /* does not close fd */
/* Graceful stop: answer the datagrams already queued on the socket (at most one callback's
 * worth of batches), then stop watching it (the caller may then close fd). */
void udp_server_drain(struct udp_server *s);

#endif
