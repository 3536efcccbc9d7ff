/* http_reply.c - HTTP status line and headers, and the bencoded announce, scrape and failure
 * bodies (BEP 3, BEP 23, BEP 7, BEP 48).
 *
 * Pure writers into a struct buf. Dictionary keys are written as pre-encoded literals in the
 * sorted order bencoding requires, so a compact announce reply is a few memcpys plus the
 * integers. */
#include "proto/http_reply.h"

#include <string.h>

#include "proto/bencode.h"
#include "util/addr.h"

/* Append a string literal without its NUL (the length is known at compile time). */
#define PUT_LIT(b, lit) buf_put((b), (lit), sizeof(lit) - 1)

/* Bencoded integer value directly after an already written key. */
static void put_ival(struct buf *b, uint64_t v)
{
    buf_putc(b, 'i');
    buf_put_u64(b, v);
    buf_putc(b, 'e');
}

static void put_counts(struct buf *b, const struct swarm_counts *c)
{
    PUT_LIT(b, "8:complete");
    put_ival(b, c->seeders);
    PUT_LIT(b, "10:downloaded");
    put_ival(b, c->completed);
    PUT_LIT(b, "10:incomplete");
    put_ival(b, c->leechers);
}

/* One non-compact peer entry: d2:ip<text>4:porti<port>ee from a packed 6- or 18-byte entry. */
static void put_peer_dict(struct buf *b, const uint8_t *packed, int family)
{
    struct peer_addr a;
    size_t iplen = family == ADDR_V4 ? 4 : 16;
    char text[ADDR_STRLEN];

    memset(&a, 0, sizeof a);
    a.family = (uint8_t)family;
    memcpy(a.ip, packed, iplen);
    size_t n = addr_format(&a, false, text);
    uint16_t port = (uint16_t)(packed[iplen] << 8 | packed[iplen + 1]);

    PUT_LIT(b, "d2:ip");
    bencode_put_str(b, text, n);
    PUT_LIT(b, "4:port");
    put_ival(b, port);
    buf_putc(b, 'e');
}

void http_reply_announce_body(struct buf *b, const struct announce_reply *r, bool compact)
{
    buf_putc(b, 'd');
    put_counts(b, &r->counts);
    PUT_LIT(b, "8:interval");
    put_ival(b, r->interval);
    PUT_LIT(b, "12:min interval");
    put_ival(b, r->min_interval);
    if (compact) {
        PUT_LIT(b, "5:peers");
        bencode_put_str(b, r->peers4, (size_t)r->n4 * 6);
        if (r->n6 > 0) {
            PUT_LIT(b, "6:peers6");
            bencode_put_str(b, r->peers6, (size_t)r->n6 * 18);
        }
    } else {
        /* BEP 3's dictionary model: both families share the one "peers" list. */
        PUT_LIT(b, "5:peersl");
        for (unsigned i = 0; i < r->n4; i++)
            put_peer_dict(b, r->peers4 + (size_t)i * 6, ADDR_V4);
        for (unsigned i = 0; i < r->n6; i++)
            put_peer_dict(b, r->peers6 + (size_t)i * 18, ADDR_V6);
        buf_putc(b, 'e');
    }
    buf_putc(b, 'e');
}

void http_reply_scrape_body(struct buf *b, const uint8_t (*hashes)[20],
                            const struct swarm_counts *counts, const bool *present, unsigned n)
{
    PUT_LIT(b, "d5:filesd");
    for (unsigned i = 0; i < n; i++) {
        if (present && !present[i])
            continue;
        PUT_LIT(b, "20:");
        buf_put(b, hashes[i], 20);
        buf_putc(b, 'd');
        put_counts(b, &counts[i]);
        buf_putc(b, 'e');
    }
    PUT_LIT(b, "ee");
}

void http_reply_failure_body(struct buf *b, const char *reason)
{
    PUT_LIT(b, "d14:failure reason");
    bencode_put_cstr(b, reason);
    buf_putc(b, 'e');
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void http_reply_head(struct buf *b, int status, const char *content_type, size_t content_length,
                     bool keep_alive, const char *extra)
{
    /* A status line must carry three digits; anything else is a caller bug, not a reply. */
    if (status < 100 || status > 999)
        status = 500;
    PUT_LIT(b, "HTTP/1.1 ");
    buf_put_u64(b, (uint64_t)status);
    buf_putc(b, ' ');
    buf_puts(b, http_status_text(status));
    PUT_LIT(b, "\r\nServer: swarmd\r\nContent-Type: ");
    buf_puts(b, content_type ? content_type : "text/plain");
    PUT_LIT(b, "\r\nContent-Length: ");
    buf_put_u64(b, (uint64_t)content_length);
    if (keep_alive)
        PUT_LIT(b, "\r\nConnection: keep-alive\r\n");
    else
        PUT_LIT(b, "\r\nConnection: close\r\n");
    if (extra)
        buf_puts(b, extra);
    PUT_LIT(b, "\r\n");
}
