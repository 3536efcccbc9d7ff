/* udp_server.c - batched UDP request/reply on one socket.
 *
 * On Linux a readable socket is drained with recvmmsg in batches of UDP_BATCH datagrams;
 * each datagram goes to the handler, whose replies are collected and sent with one sendmmsg
 * per batch, each to its request's source address. Elsewhere recvfrom/sendto handle one
 * datagram at a time. After UDP_ROUNDS batches the callback returns even if more is queued,
 * so one busy socket cannot starve the loop's other sockets (the loop is level-triggered and
 * comes back). All buffers are allocated with the server: nothing per datagram. */
#include "net/udp_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define UDP_BATCH 64
#define UDP_ROUNDS 8

struct udp_server {
    loop_t *loop;
    struct loop_watch watch;
    udp_handler_fn fn;
    udp_batch_fn prepare; /* may be NULL */
    void *ctx;
    bool drained; /* udp_server_drain: no longer watched */
    uint8_t rx[UDP_BATCH][UDP_SERVER_MAX_DATAGRAM];
    uint8_t tx[UDP_BATCH][UDP_SERVER_MAX_REPLY];
    struct sockaddr_storage names[UDP_BATCH];
#ifdef __linux__
    struct mmsghdr rx_msgs[UDP_BATCH];
    struct iovec rx_iov[UDP_BATCH];
    struct mmsghdr tx_msgs[UDP_BATCH];
    struct iovec tx_iov[UDP_BATCH];
#endif
};

#ifdef __linux__
/* Send the n prepared replies. A datagram the kernel refuses alone (EPERM from a firewall,
 * EINVAL for an odd destination) is skipped; a full send queue drops the rest of the batch,
 * as UDP may. */
static void send_batch(struct udp_server *s, unsigned n)
{
    unsigned sent = 0;
    while (sent < n) {
        int r = sendmmsg(s->watch.fd, s->tx_msgs + sent, n - sent, MSG_DONTWAIT);
        if (r > 0) {
            sent += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
            return;
        sent++; /* the first pending datagram failed on its own: skip it */
    }
}

static void on_readable(struct udp_server *s)
{
    for (int round = 0; round < UDP_ROUNDS; round++) {
        for (unsigned i = 0; i < UDP_BATCH; i++) {
            s->rx_msgs[i].msg_hdr.msg_namelen = sizeof(s->names[i]);
            s->rx_msgs[i].msg_hdr.msg_flags = 0;
        }
        int n = recvmmsg(s->watch.fd, s->rx_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EAGAIN, or an error the next readiness report will show again */
        if (s->prepare) {
            const uint8_t *pkts[UDP_BATCH];
            size_t lens[UDP_BATCH];
            for (int i = 0; i < n; i++) {
                pkts[i] = s->rx[i];
                lens[i] = s->rx_msgs[i].msg_len;
            }
            s->prepare(s->ctx, pkts, lens, (unsigned)n);
        }
        unsigned out = 0;
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &s->rx_msgs[i].msg_hdr;
            struct peer_addr src;
            if (!addr_from_sockaddr(&src, (struct sockaddr *)h->msg_name, h->msg_namelen))
                continue;
            size_t len = s->rx_msgs[i].msg_len;
            size_t rlen = s->fn(s->ctx, &src, s->rx[i], len, s->tx[out], UDP_SERVER_MAX_REPLY);
            if (!rlen)
                continue;
            if (rlen > UDP_SERVER_MAX_REPLY)
                rlen = UDP_SERVER_MAX_REPLY;
            /* The reply goes to the request's source: reuse its name buffer in place. */
            s->tx_iov[out].iov_len = rlen;
            s->tx_msgs[out].msg_hdr.msg_name = h->msg_name;
            s->tx_msgs[out].msg_hdr.msg_namelen = h->msg_namelen;
            out++;
        }
        if (out)
            send_batch(s, out);
        /* A short batch means the queue is empty now: skip the recvmmsg that would only
         * say EAGAIN. Anything arriving meanwhile wakes the loop again. */
        if (n < UDP_BATCH)
            return;
    }
}
#else
static void on_readable(struct udp_server *s)
{
    for (int k = 0; k < UDP_BATCH * UDP_ROUNDS; k++) {
        socklen_t sl = sizeof(s->names[0]);
        ssize_t len = recvfrom(s->watch.fd, s->rx[0], sizeof(s->rx[0]), 0,
                               (struct sockaddr *)&s->names[0], &sl);
        if (len < 0 && errno == EINTR)
            continue;
        if (len < 0)
            return;
        struct peer_addr src;
        if (!addr_from_sockaddr(&src, (struct sockaddr *)&s->names[0], sl))
            continue;
        size_t rlen = s->fn(s->ctx, &src, s->rx[0], (size_t)len, s->tx[0], UDP_SERVER_MAX_REPLY);
        if (!rlen)
            continue;
        if (rlen > UDP_SERVER_MAX_REPLY)
            rlen = UDP_SERVER_MAX_REPLY;
        /* Failure to send one reply (full queue included) loses only that reply. */
        (void)sendto(s->watch.fd, s->tx[0], rlen, 0, (struct sockaddr *)&s->names[0], sl);
    }
}
#endif

static void on_event(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    if (events & LOOP_READ)
        on_readable(w->data);
}

void udp_server_set_prepare(struct udp_server *s, udp_batch_fn prepare)
{
    s->prepare = prepare;
}

struct udp_server *udp_server_new(loop_t *loop, int fd, udp_handler_fn fn, void *ctx)
{
    struct udp_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    s->fn = fn;
    s->ctx = ctx;
#ifdef __linux__
    for (unsigned i = 0; i < UDP_BATCH; i++) {
        s->rx_iov[i].iov_base = s->rx[i];
        s->rx_iov[i].iov_len = sizeof(s->rx[i]);
        s->rx_msgs[i].msg_hdr.msg_name = &s->names[i];
        s->rx_msgs[i].msg_hdr.msg_iov = &s->rx_iov[i];
        s->rx_msgs[i].msg_hdr.msg_iovlen = 1;
        s->tx_iov[i].iov_base = s->tx[i];
        s->tx_msgs[i].msg_hdr.msg_iov = &s->tx_iov[i];
        s->tx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
#endif
    s->watch.fd = fd;
    s->watch.fn = on_event;
    s->watch.data = s;
    if (loop_add(loop, &s->watch, LOOP_READ) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void udp_server_free(struct udp_server *s)
{
    if (!s)
        return;
    if (!s->drained)
        loop_del(s->loop, &s->watch);
    free(s);
}

void udp_server_drain(struct udp_server *s)
{
    if (s->drained)
        return;
    on_readable(s); /* non-blocking: returns at once when nothing is queued */
    loop_del(s->loop, &s->watch);
    s->drained = true;
}
