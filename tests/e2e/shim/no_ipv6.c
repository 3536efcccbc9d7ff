/* no_ipv6.c - an LD_PRELOAD shim for test_no_ipv6.py: this process sees a host without IPv6.
 *
 * socket(AF_INET6, ...) fails with EAFNOSUPPORT, as on a kernel booted with ipv6.disable=1,
 * and a bind to the IPv4 wildcard is narrowed to 127.0.0.1, so swarmd can start with its
 * default listen addresses (0.0.0.0 and ::) while the test still binds only loopback. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
    static int (*real)(int, int, int);
    if (!real)
        real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    if (domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return real(domain, type, protocol);
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real(fd, (const struct sockaddr *)&in, sizeof in);
        }
    }
    return real(fd, sa, len);
}
