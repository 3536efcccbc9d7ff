/* test_udp_server.c - the batched UDP server and the socket helpers, over loopback.
 *
 * A server on 127.0.0.1 (and ::1 where the host has IPv6) with an echo handler runs its
 * loop in a thread; a blocking client with a receive timeout sends bursts larger than one
 * batch and checks every reply arrives, to the right source, with the right bytes, and that
 * a handler returning 0 sends nothing. Also: bind errors name the address, SO_REUSEPORT. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "net/loop.h"
#include "net/sock.h"
#include "net/udp_server.h"

struct usrv {
    loop_t *loop;
    struct udp_server *udp;
    int fd;
    struct peer_addr local;
    pthread_t thread;
    int stop;  /* atomic */
    int calls; /* atomic */
    struct peer_addr last_src;
    /* The prepare hook (loop thread only; read after the thread is joined): datagrams
     * announced to it, those the handler has not seen yet, and handler calls without one. */
    int prepared, pending, unannounced;
};

static void prepare(void *ctx, const uint8_t *const *pkts, const size_t *lens, unsigned n)
{
    struct usrv *s = ctx;
    for (unsigned i = 0; i < n; i++)
        if (pkts[i] && lens[i] > 0) {
            s->prepared++;
            s->pending++;
        }
}

/* Reply "R" + the datagram; datagrams starting with 'x' get no reply. */
static size_t echo(void *ctx, const struct peer_addr *src, const uint8_t *pkt, size_t len,
                   uint8_t *out, size_t cap)
{
    struct usrv *s = ctx;
    __atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
    s->last_src = *src;
    if (s->pending > 0)
        s->pending--;
    else
        s->unannounced++;
    if (len > 0 && pkt[0] == 'x')
        return 0;
    if (len + 1 > cap)
        len = cap - 1;
    out[0] = 'R';
    memcpy(out + 1, pkt, len);
    return len + 1;
}

static void usrv_tick(loop_t *loop, void *ctx)
{
    struct usrv *s = ctx;
    if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
        loop_stop(loop);
}

static void *usrv_main(void *arg)
{
    loop_run(((struct usrv *)arg)->loop);
    return NULL;
}

static bool usrv_start(struct usrv *s, const char *ip)
{
    memset(s, 0, sizeof(*s));
    struct peer_addr a;
    CHECK(addr_parse_ip(&a, ip, strlen(ip)));
    char err[128];
    s->fd = sock_udp_bind(&a, false, err, sizeof(err));
    if (s->fd < 0) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    CHECK(sock_local_addr(s->fd, &s->local));
    CHECK(s->local.port != 0);
    s->loop = loop_new(4);
    s->udp = udp_server_new(s->loop, s->fd, echo, s);
    CHECK(s->udp != NULL);
    udp_server_set_prepare(s->udp, prepare);
    loop_set_tick(s->loop, 5, usrv_tick, s);
    CHECK(pthread_create(&s->thread, NULL, usrv_main, s) == 0);
    return true;
}

static void usrv_stop(struct usrv *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    pthread_join(s->thread, NULL);
    udp_server_free(s->udp);
    loop_free(s->loop);
    close(s->fd);
}

static int client_socket(int family)
{
    int fd = socket(family, SOCK_DGRAM, 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    return fd;
}

/* Send n datagrams "<round>:<i>" (and some 'x' ones without a reply) and collect the
 * replies; returns how many correct replies arrived. */
static int burst(int fd, const struct usrv *s, int round, unsigned short n)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_to_sockaddr(&s->local, &ss);
    char msg[64];
    for (int i = 0; i < (int)n; i++) {
        int len = snprintf(msg, sizeof(msg), "%d:%d", round, i);
        CHECK(sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&ss, sl) == len);
        if (i % 10 == 0)
            CHECK(sendto(fd, "x-silent", 8, 0, (struct sockaddr *)&ss, sl) == 8);
    }
    bool seen[USHRT_MAX + 1] = {0};
    int good = 0;
    for (int k = 0; k < (int)n; k++) {
        char buf[128];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t r = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
        if (r <= 0)
            break;
        buf[r] = '\0';
        struct peer_addr fa;
        int rr = -1, i = -1;
        if (addr_from_sockaddr(&fa, (struct sockaddr *)&from, fl) && addr_equal(&fa, &s->local) &&
            buf[0] == 'R' && sscanf(buf + 1, "%d:%d", &rr, &i) == 2 && rr == round && i >= 0 &&
            i < (int)n && !seen[i]) {
            seen[i] = true;
            good++;
        }
    }
    return good;
}

TEST(echo_bursts_v4)
{
    struct usrv s;
    if (!usrv_start(&s, "127.0.0.1")) {
        CHECK(0);
        return;
    }
    int fd = client_socket(AF_INET);
    /* Bursts below, at and above one batch (64) and above the per-wakeup bound (512). */
    unsigned short sizes[] = {1, 63, 64, 65, 200, 600};
    int total = 0;
    for (int r = 0; r < 6; r++) {
        CHECK_EQ_INT(burst(fd, &s, r, sizes[r]), sizes[r]);
        total += sizes[r] + (sizes[r] + 9) / 10;
    }
    /* The source the handler saw is the client's, as IPv4. */
    struct sockaddr_storage me;
    socklen_t ml = sizeof(me);
    getsockname(fd, (struct sockaddr *)&me, &ml);
    struct peer_addr mine;
    addr_from_sockaddr(&mine, (struct sockaddr *)&me, ml);
    close(fd);
    usrv_stop(&s);
    CHECK_EQ_INT(s.calls, total);
#ifdef __linux__
    /* Each recvmmsg batch went to the prepare hook before the handler saw any of it. */
    CHECK_EQ_INT(s.prepared, total);
    CHECK_EQ_INT(s.pending, 0);
    CHECK_EQ_INT(s.unannounced, 0);
#endif
    CHECK_EQ_INT(s.last_src.family, ADDR_V4);
    CHECK(memcmp(s.last_src.ip, "\x7f\0\0\x01", 4) == 0);
    CHECK_EQ_INT(s.last_src.port, mine.port);
}

TEST(echo_v6)
{
    if (!sock_have_ipv6())
        return;
    struct usrv s;
    if (!usrv_start(&s, "::1"))
        return; /* IPv6 present but ::1 not configured: nothing to test */
    int fd = client_socket(AF_INET6);
    CHECK_EQ_INT(burst(fd, &s, 0, 100), 100);
    close(fd);
    usrv_stop(&s);
    CHECK_EQ_INT(s.last_src.family, ADDR_V6);
}

TEST(bind_errors_and_reuseport)
{
    struct peer_addr a;
    char err[160];
    CHECK(addr_parse_ip(&a, "127.0.0.1", 9));
    int u1 = sock_udp_bind(&a, false, err, sizeof(err));
    CHECK(u1 >= 0);
    struct peer_addr l;
    CHECK(sock_local_addr(u1, &l));
    a.port = l.port;
    err[0] = '\0';
    int u2 = sock_udp_bind(&a, false, err, sizeof(err));
    CHECK(u2 < 0);
    char want[64];
    snprintf(want, sizeof(want), "bind 127.0.0.1:%u: ", (unsigned)l.port);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(strstr(err, strerror(EADDRINUSE)) != NULL);
    close(u1);
#ifdef SO_REUSEPORT
    /* With SO_REUSEPORT on both, two sockets share one address (UDP and TCP). */
    a.port = 0;
    int r1 = sock_udp_bind(&a, true, err, sizeof(err));
    CHECK(r1 >= 0);
    CHECK(sock_local_addr(r1, &l));
    a.port = l.port;
    int r2 = sock_udp_bind(&a, true, err, sizeof(err));
    CHECK(r2 >= 0);
    close(r1);
    if (r2 >= 0)
        close(r2);
    a.port = 0;
    int t1 = sock_tcp_listen(&a, true, 16, err, sizeof(err));
    CHECK(t1 >= 0);
    CHECK(sock_local_addr(t1, &l));
    a.port = l.port;
    int t2 = sock_tcp_listen(&a, true, 16, err, sizeof(err));
    CHECK(t2 >= 0);
    close(t1);
    if (t2 >= 0)
        close(t2);
#endif
}

int main(void)
{
    RUN(echo_bursts_v4);
    RUN(echo_v6);
    RUN(bind_errors_and_reuseport);
    return CHECK_DONE();
}
