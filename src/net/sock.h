/* sock.h - creating bound, non-blocking listening sockets.
 *
 * Called at start-up (before privileges are dropped). With reuseport, several sockets can be
 * bound to one address so each worker owns its own (SO_REUSEPORT); IPv6 sockets are
 * IPV6_V6ONLY so that "0.0.0.0" and "::" can both be bound on every system. */
#ifndef SWARMD_SOCK_H
#define SWARMD_SOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/addr.h"

/* Return the fd, or -1 with a message in err (e.g. "bind [::]:6969: Address in use"). */
int sock_udp_bind(const struct peer_addr *a, bool reuseport, char *err, size_t errlen);
int sock_tcp_listen(const struct peer_addr *a, bool reuseport, int backlog, char *err,
                    size_t errlen);
/* Buffer sizes for UDP sockets bound from now on (0: system default); the kernel doubles
 * and caps them. sock_udp_buffers reads back what a socket got. */
void sock_set_udp_buffers(unsigned rcvbuf, unsigned sndbuf);
bool sock_udp_buffers(int fd, unsigned *rcvbuf, unsigned *sndbuf);
/* Whether this host can create IPv6 sockets at all. */
bool sock_have_ipv6(void);
/* The locally bound address of fd (to log the real port when 0 was asked). */
bool sock_local_addr(int fd, struct peer_addr *out);

#endif
