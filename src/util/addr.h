/* addr.h - one peer or socket address, family-neutral and packed for comparison.
 *
 * A peer_addr is plain data: IPv4 addresses use ip[0..3] (the rest is zero), IPv6 all 16
 * bytes. v4-mapped IPv6 addresses (::ffff:a.b.c.d) are always normalised to IPv4, so the
 * store, replies and connection IDs never see them. Pure functions, thread-safe. */
#ifndef SWARMD_ADDR_H
#define SWARMD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { ADDR_V4 = 4, ADDR_V6 = 6 };

struct peer_addr {
    uint8_t family;  /* ADDR_V4 or ADDR_V6 */
    uint8_t ip[16];  /* network order; v4 in ip[0..3], rest zero */
    uint16_t port;   /* host order */
};

/* Longest text addr_format writes, with brackets, port and NUL: "[v6]:65535". */
#define ADDR_STRLEN 56

/* From a kernel sockaddr (AF_INET / AF_INET6); v4-mapped becomes ADDR_V4. false otherwise. */
bool addr_from_sockaddr(struct peer_addr *a, const struct sockaddr *sa, socklen_t len);
/* To a sockaddr_storage; returns its length. */
socklen_t addr_to_sockaddr(const struct peer_addr *a, struct sockaddr_storage *ss);
/* Parse a literal address without port ("1.2.3.4", "::1", "[::1]"); port set to 0. */
bool addr_parse_ip(struct peer_addr *a, const char *s, size_t len);
/* Parse "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT" (a bare v6 has no port). *has_port tells. */
bool addr_parse_hostport(struct peer_addr *a, const char *s, size_t len, bool *has_port);
/* "1.2.3.4:80" or "[::1]:80" (with_port) or the bare address; returns length written. */
size_t addr_format(const struct peer_addr *a, bool with_port, char out[ADDR_STRLEN]);
/* Packed compact form (BEP 23 / BEP 7): 6 bytes for v4, 18 for v6; returns bytes written. */
size_t addr_pack(const struct peer_addr *a, uint8_t *out);
bool addr_equal(const struct peer_addr *a, const struct peer_addr *b);
bool addr_is_loopback(const struct peer_addr *a);

#endif
