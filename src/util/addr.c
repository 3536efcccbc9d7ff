/* addr.c - conversions between kernel sockaddrs, text and struct peer_addr.
 *
 * The one place that knows about v4-mapped IPv6: every way into a peer_addr (sockaddr or
 * text) turns ::ffff:a.b.c.d into plain IPv4, so callers can compare and hash addresses
 * byte-wise. Text parsing goes through inet_pton on a bounded, NUL-terminated copy because
 * the callers hand us slices of packets and config lines, never C strings. */
#include "util/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_v4(struct peer_addr *a, const uint8_t ip[4], uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->family = ADDR_V4;
    memcpy(a->ip, ip, 4);
    a->port = port;
}

/* An IPv6 address, demoted to IPv4 when it is v4-mapped. */
static void set_v6(struct peer_addr *a, const uint8_t ip[16], uint16_t port)
{
    if (memcmp(ip, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
        set_v4(a, ip + 12, port);
        return;
    }
    memset(a, 0, sizeof(*a));
    a->family = ADDR_V6;
    memcpy(a->ip, ip, 16);
    a->port = port;
}

bool addr_from_sockaddr(struct peer_addr *a, const struct sockaddr *sa, socklen_t len)
{
    sa_family_t fam;

    if (sa == NULL ||
        (size_t)len < offsetof(struct sockaddr, sa_family) + sizeof(sa->sa_family))
        return false;
    memcpy(&fam, (const uint8_t *)sa + offsetof(struct sockaddr, sa_family), sizeof(fam));
    /* Copy out rather than cast: the caller's buffer need not be aligned for the type. */
    if (fam == AF_INET) {
        struct sockaddr_in sin;
        if ((size_t)len < sizeof(sin))
            return false;
        memcpy(&sin, sa, sizeof(sin));
        set_v4(a, (const uint8_t *)&sin.sin_addr, ntohs(sin.sin_port));
        return true;
    }
    if (fam == AF_INET6) {
        struct sockaddr_in6 sin6;
        if ((size_t)len < sizeof(sin6))
            return false;
        memcpy(&sin6, sa, sizeof(sin6));
        set_v6(a, (const uint8_t *)&sin6.sin6_addr, ntohs(sin6.sin6_port));
        return true;
    }
    return false;
}

socklen_t addr_to_sockaddr(const struct peer_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == ADDR_V4) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
#ifdef SIN6_LEN /* BSD and macOS sockaddrs carry their own length */
        sin.sin_len = sizeof(sin);
#endif
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a->port);
        memcpy(&sin.sin_addr, a->ip, 4);
        memcpy(ss, &sin, sizeof(sin));
        return (socklen_t)sizeof(sin);
    }
    if (a->family == ADDR_V6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
#ifdef SIN6_LEN
        sin6.sin6_len = sizeof(sin6);
#endif
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(a->port);
        memcpy(&sin6.sin6_addr, a->ip, 16);
        memcpy(ss, &sin6, sizeof(sin6));
        return (socklen_t)sizeof(sin6);
    }
    return 0;
}

/* Longest literal we hand to inet_pton: a full IPv6 address with an embedded dotted quad
 * ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") is 45 characters. */
#define LITERAL_MAX 45

/* Parse a bare literal (no brackets). A v6 literal is recognised by its colon, so "1.2.3.4"
 * can never be taken for IPv6 and vice versa. */
static bool parse_literal(struct peer_addr *a, const char *s, size_t len, bool want_v6_only)
{
    char tmp[LITERAL_MAX + 1];
    uint8_t ip[16];

    if (len == 0 || len > LITERAL_MAX || memchr(s, '\0', len) != NULL)
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (memchr(s, ':', len) != NULL) {
        if (inet_pton(AF_INET6, tmp, ip) != 1)
            return false;
        set_v6(a, ip, 0);
        return true;
    }
    if (want_v6_only || inet_pton(AF_INET, tmp, ip) != 1)
        return false;
    set_v4(a, ip, 0);
    return true;
}

bool addr_parse_ip(struct peer_addr *a, const char *s, size_t len)
{
    if (s == NULL)
        return false;
    if (len >= 2 && s[0] == '[') {
        if (s[len - 1] != ']')
            return false;
        return parse_literal(a, s + 1, len - 2, true);
    }
    return parse_literal(a, s, len, false);
}

/* Decimal 0..65535, digits only, at most 5 of them (no sign, no spaces). */
static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    uint32_t v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

bool addr_parse_hostport(struct peer_addr *a, const char *s, size_t len, bool *has_port)
{
    struct peer_addr tmp;
    uint16_t port = 0;
    bool with_port = false;

    if (s == NULL || len == 0)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return false;
        size_t inner = (size_t)(close - s) - 1;
        size_t rest = len - inner - 2; /* bytes after ']' */
        if (!parse_literal(&tmp, s + 1, inner, true))
            return false;
        if (rest > 0) {
            if (close[1] != ':' || !parse_port(close + 2, rest - 1, &port))
                return false;
            with_port = true;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        /* Exactly one colon: IPv4 with a port. Two or more: a bare IPv6 literal, which cannot
         * carry a port without brackets. */
        if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL) {
            size_t host = (size_t)(colon - s);
            if (!parse_literal(&tmp, s, host, false) ||
                !parse_port(colon + 1, len - host - 1, &port))
                return false;
            with_port = true;
        } else if (!parse_literal(&tmp, s, len, false)) {
            return false;
        }
    }
    tmp.port = port;
    *a = tmp;
    if (has_port != NULL)
        *has_port = with_port;
    return true;
}

size_t addr_format(const struct peer_addr *a, bool with_port, char out[ADDR_STRLEN])
{
    char ip[INET6_ADDRSTRLEN];
    int n;

    out[0] = '\0';
    if (a->family == ADDR_V4) {
        if (inet_ntop(AF_INET, a->ip, ip, sizeof(ip)) == NULL)
            return 0;
        n = with_port ? snprintf(out, ADDR_STRLEN, "%s:%u", ip, (unsigned)a->port)
                      : snprintf(out, ADDR_STRLEN, "%s", ip);
    } else if (a->family == ADDR_V6) {
        if (inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)) == NULL)
            return 0;
        n = with_port ? snprintf(out, ADDR_STRLEN, "[%s]:%u", ip, (unsigned)a->port)
                      : snprintf(out, ADDR_STRLEN, "%s", ip);
    } else {
        return 0;
    }
    if (n < 0 || n >= ADDR_STRLEN) { /* cannot happen: ADDR_STRLEN covers the longest form */
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t addr_pack(const struct peer_addr *a, uint8_t *out)
{
    size_t n;

    if (a->family == ADDR_V4)
        n = 4;
    else if (a->family == ADDR_V6)
        n = 16;
    else
        return 0;
    memcpy(out, a->ip, n);
    out[n] = (uint8_t)(a->port >> 8);
    out[n + 1] = (uint8_t)(a->port & 0xff);
    return n + 2;
}

bool addr_equal(const struct peer_addr *a, const struct peer_addr *b)
{
    /* Only the bytes the family uses count, so stray bytes after a v4 address never make
     * two equal peers look different. */
    size_t n = a->family == ADDR_V4 ? 4 : 16;
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

bool addr_is_loopback(const struct peer_addr *a)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    if (a->family == ADDR_V4)
        return a->ip[0] == 127;
    if (a->family == ADDR_V6)
        return memcmp(a->ip, v6_loopback, 16) == 0;
    return false;
}
