/* sock.c - bound, non-blocking UDP and listening TCP sockets for the workers.
 *
 * Every socket is non-blocking and close-on-exec. IPv6 sockets are IPV6_V6ONLY so that
 * 0.0.0.0 and :: bind side by side on every system (and a v4 client is always seen on the v4
 * socket). SO_REUSEPORT, when asked for, lets each worker bind its own copy of an address;
 * where the system has no such option it is skipped and a second bind reports the clash.
 * Errors name the operation, the address and the errno text. */
#include "net/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large UDP buffers absorb bursts between two recvmmsg batches; the kernel caps them at
 * net.core.rmem_max / wmem_max, which is fine (best effort). */
#define SOCK_UDP_BUFFER (4 << 20)

static void set_err(char *err, size_t errlen, const char *what, const struct peer_addr *a, int e)
{
    char text[ADDR_STRLEN];
    if (!err || !errlen)
        return;
    addr_format(a, true, text);
    snprintf(err, errlen, "%s %s: %s", what, text, strerror(e));
}

static int make_socket(int family, int type)
{
#ifdef SOCK_NONBLOCK
    return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = socket(family, type, 0);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
#endif
}

/* Create, configure and bind; returns the fd or -1 with err filled in. */
static int open_bound(const struct peer_addr *a, int type, bool reuseport, char *err,
                      size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = addr_to_sockaddr(a, &ss);
    int one = 1;
    int fd = make_socket(ss.ss_family, type);
    if (fd < 0) {
        set_err(err, errlen, "socket", a, errno);
        return -1;
    }
    const char *what = NULL;
    if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        what = "SO_REUSEADDR";
#ifdef SO_REUSEPORT
    if (!what && reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        what = "SO_REUSEPORT";
#else
    (void)reuseport;
#endif
    if (!what && a->family == ADDR_V6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        what = "IPV6_V6ONLY";
    if (!what && bind(fd, (struct sockaddr *)&ss, sl) < 0)
        what = "bind";
    if (what) {
        int e = errno;
        set_err(err, errlen, what, a, e);
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Set once at start-up, before any socket is bound (udp.rcvbuf / udp.sndbuf). */
static int udp_rcvbuf = SOCK_UDP_BUFFER, udp_sndbuf = SOCK_UDP_BUFFER;

void sock_set_udp_buffers(unsigned rcvbuf, unsigned sndbuf)
{
    udp_rcvbuf = rcvbuf > INT_MAX ? INT_MAX : (int)rcvbuf;
    udp_sndbuf = sndbuf > INT_MAX ? INT_MAX : (int)sndbuf;
}

bool sock_udp_buffers(int fd, unsigned *rcvbuf, unsigned *sndbuf)
{
    int r = 0, w = 0;
    socklen_t rl = sizeof r, wl = sizeof w;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r, &rl) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &w, &wl) < 0)
        return false;
    *rcvbuf = (unsigned)r;
    *sndbuf = (unsigned)w;
    return true;
}

int sock_udp_bind(const struct peer_addr *a, bool reuseport, char *err, size_t errlen)
{
    int fd = open_bound(a, SOCK_DGRAM, reuseport, err, errlen);
    if (fd < 0)
        return -1;
    /* A burst of datagrams beyond the receive buffer is lost before swarmd sees it; the
     * kernel caps the request at net.core.rmem_max / wmem_max (0: leave the default). */
    if (udp_rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &udp_rcvbuf, sizeof(udp_rcvbuf));
    if (udp_sndbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &udp_sndbuf, sizeof(udp_sndbuf));
    return fd;
}

int sock_tcp_listen(const struct peer_addr *a, bool reuseport, int backlog, char *err,
                    size_t errlen)
{
    int fd = open_bound(a, SOCK_STREAM, reuseport, err, errlen);
    if (fd < 0)
        return -1;
    /* Replies leave in one write each, so Nagle would only delay them; accepted sockets
     * inherit the option on Linux and the BSDs. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        int e = errno;
        set_err(err, errlen, "listen", a, e);
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

bool sock_have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

bool sock_local_addr(int fd, struct peer_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return false;
    return addr_from_sockaddr(out, (struct sockaddr *)&ss, sl);
}
