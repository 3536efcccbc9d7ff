/* http_parse.c - HTTP/1.x request-head parser in picohttpparser's style.
 *
 * One forward pass over a caller-owned buffer: every byte is bounds-checked before it is read,
 * results are pointers into the buffer, nothing is allocated. Running out of bytes anywhere
 * yields HTTP_PARSE_INCOMPLETE; a byte that can never be part of a valid head yields
 * HTTP_PARSE_ERROR at once, so garbage is rejected without waiting for a blank line.
 * The few headers the server acts on (Connection, Accept-Encoding, Content-Length,
 * Transfer-Encoding) are interpreted while their line is in cache. */
#include "proto/http_parse.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* RFC 9110 tchar: the bytes allowed in a method and a header name. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* Visible bytes: what a request-target may hold, and (with SP and HTAB) a header value. Bytes
 * 0x80-0xff are tolerated (obs-text; broken clients send raw info_hash bytes); controls and
 * DEL never are. One table lookup per byte keeps the two longest loops tight. */
#define V8(x) x, x, x, x, x, x, x, x
static const uint8_t vchar[256] = {
    V8(0), V8(0), V8(0), V8(0),                  /* 0x00-0x1f: controls */
    0, V8(1), 1, 1, 1, 1, 1, 1, 1,               /* 0x20 SP no, 0x21-0x2f yes */
    V8(1), V8(1), V8(1), V8(1), V8(1), V8(1),    /* 0x30-0x5f */
    V8(1), V8(1), V8(1), 1, 1, 1, 1, 1, 1, 1, 0, /* 0x60-0x7e yes, 0x7f DEL no */
    V8(1), V8(1), V8(1), V8(1), V8(1), V8(1), V8(1), V8(1),
    V8(1), V8(1), V8(1), V8(1), V8(1), V8(1), V8(1), V8(1), /* 0x80-0xff */
};
#undef V8

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++) {
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    }
    return lit[n] == '\0';
}

static inline bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* Split a comma-separated header value into trimmed elements: returns false at the end,
 * otherwise sets [*e, *e + *n). Empty elements (", ,") are skipped. */
static bool next_element(const char **p, const char *end, const char **e, size_t *n)
{
    while (*p < end) {
        const char *s = *p;
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        *p = comma ? comma + 1 : end;
        while (s < stop && is_ows((unsigned char)*s))
            s++;
        const char *t = stop;
        while (t > s && is_ows((unsigned char)t[-1]))
            t--;
        if (t > s) {
            *e = s;
            *n = (size_t)(t - s);
            return true;
        }
    }
    return false;
}

/* What the parse of the interesting headers has found so far. */
struct head_facts {
    bool conn_close, conn_keep_alive;
    signed char gzip_ok, star_ok; /* -1 not mentioned, 0 refused (q=0), 1 accepted */
};

static void scan_connection(const char *v, size_t n, struct head_facts *f)
{
    const char *p = v, *e;
    size_t en;
    while (next_element(&p, v + n, &e, &en)) {
        if (ieq(e, en, "close"))
            f->conn_close = true;
        else if (ieq(e, en, "keep-alive"))
            f->conn_keep_alive = true;
    }
}

/* A weight "q=0", "q=0.", "q=0.0", ... "q=0.000" refuses the coding (RFC 9110 12.4.2).
 * A weight we cannot read counts as acceptance: only an explicit zero refuses. */
static bool weight_is_zero(const char *s, size_t n)
{
    /* s points just after the ';' of one parameter; OWS around it is allowed. */
    while (n && is_ows((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_ows((unsigned char)s[n - 1]))
        n--;
    if (n < 3 || lower((unsigned char)s[0]) != 'q' || s[1] != '=' || s[2] != '0')
        return false;
    if (n == 3)
        return true;
    if (s[3] != '.' || n > 7)
        return false;
    for (size_t i = 4; i < n; i++) {
        if (s[i] != '0')
            return false;
    }
    return true;
}

static void scan_accept_encoding(const char *v, size_t n, struct head_facts *f)
{
    const char *p = v, *e;
    size_t en;
    while (next_element(&p, v + n, &e, &en)) {
        /* coding *( OWS ";" OWS param ): the coding ends at ';' or blank. */
        size_t cl = 0;
        while (cl < en && e[cl] != ';' && !is_ows((unsigned char)e[cl]))
            cl++;
        bool zero = false;
        const char *semi = memchr(e + cl, ';', en - cl);
        while (semi) {
            const char *ps = semi + 1;
            const char *pe = e + en;
            semi = memchr(ps, ';', (size_t)(pe - ps));
            if (weight_is_zero(ps, (size_t)((semi ? semi : pe) - ps)))
                zero = true;
        }
        if (ieq(e, cl, "gzip") || ieq(e, cl, "x-gzip"))
            f->gzip_ok = !zero;
        else if (cl == 1 && e[0] == '*')
            f->star_ok = !zero;
    }
}

/* Content-Length: a body follows unless the value is all zero digits. A value that is not a
 * number counts as a body, so the caller refuses the request rather than misframe it. */
static bool content_length_nonzero(const char *v, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '0')
            return true;
    }
    return false;
}

/* Interpret the few headers that change how the request is handled. */
static void note_header(const struct http_header *h, struct head_facts *f, bool *has_body)
{
    switch (h->name_len) {
    case 10:
        if (ieq(h->name, 10, "connection"))
            scan_connection(h->value, h->value_len, f);
        break;
    case 14:
        if (ieq(h->name, 14, "content-length") && content_length_nonzero(h->value, h->value_len))
            *has_body = true;
        break;
    case 15:
        if (ieq(h->name, 15, "accept-encoding"))
            scan_accept_encoding(h->value, h->value_len, f);
        break;
    case 17:
        if (ieq(h->name, 17, "transfer-encoding"))
            *has_body = true;
        break;
    default:
        break;
    }
}

/* Consume a line end at *pp: CRLF or a bare LF. 1 consumed, 0 incomplete, -1 malformed. */
static inline int eat_eol(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (*p == '\r') {
        if (++p == end)
            return 0;
        if (*p != '\n')
            return -1;
    } else if (*p != '\n') {
        return -1;
    }
    *pp = p + 1;
    return 1;
}

#define NEED(p)                                                                              \
    do {                                                                                     \
        if ((p) == end)                                                                      \
            return HTTP_PARSE_INCOMPLETE;                                                    \
    } while (0)

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    const unsigned char *start = (const unsigned char *)buf;
    const unsigned char *p = start;
    /* A head never approaches INT_MAX (the caller caps it at a few KiB), but the return type
     * is int: never scan so far that the length could not be returned. */
    const unsigned char *end = start + (len > INT_MAX ? (size_t)INT_MAX : len);
    struct head_facts facts = {false, false, -1, -1};
    int r;

    req->method = req->target = req->path = req->query = NULL;
    req->method_len = req->target_len = req->path_len = req->query_len = 0;
    req->minor_version = 0;
    req->keep_alive = req->accept_gzip = req->has_body = false;
    req->num_headers = 0;

    /* RFC 9112 2.2: ignore empty lines before the request line (a client may send CRLF after
     * a previous request). */
    for (;;) {
        NEED(p);
        if (*p != '\r' && *p != '\n')
            break;
        if ((r = eat_eol(&p, end)) <= 0)
            return r ? HTTP_PARSE_ERROR : HTTP_PARSE_INCOMPLETE;
    }

    /* method SP */
    const unsigned char *m = p;
    while (p < end && tchar[*p])
        p++;
    NEED(p);
    if (p == m || *p != ' ')
        return HTTP_PARSE_ERROR;
    req->method = (const char *)m;
    req->method_len = (size_t)(p - m);
    p++;

    /* request-target SP: any visible byte (high bytes tolerated, controls never). */
    const unsigned char *t = p;
    while (p < end && vchar[*p])
        p++;
    NEED(p);
    if (p == t || *p != ' ')
        return HTTP_PARSE_ERROR;
    req->target = (const char *)t;
    req->target_len = (size_t)(p - t);
    req->path = req->target;
    const unsigned char *qmark = memchr(t, '?', (size_t)(p - t));
    if (qmark) {
        req->path_len = (size_t)(qmark - t);
        req->query = (const char *)qmark + 1;
        req->query_len = (size_t)(p - qmark - 1);
    } else {
        req->path_len = req->target_len;
    }
    p++;

    /* "HTTP/1." DIGIT, then the line end */
    static const char proto[] = "HTTP/1.";
    for (size_t i = 0; i < sizeof proto - 1; i++, p++) {
        NEED(p);
        if (*p != (unsigned char)proto[i])
            return HTTP_PARSE_ERROR;
    }
    NEED(p);
    if (*p < '0' || *p > '9')
        return HTTP_PARSE_ERROR;
    req->minor_version = *p++ - '0';
    NEED(p);
    if ((r = eat_eol(&p, end)) <= 0)
        return r ? HTTP_PARSE_ERROR : HTTP_PARSE_INCOMPLETE;

    /* header fields until the empty line */
    for (;;) {
        NEED(p);
        if (*p == '\r' || *p == '\n') {
            if ((r = eat_eol(&p, end)) <= 0)
                return r ? HTTP_PARSE_ERROR : HTTP_PARSE_INCOMPLETE;
            break;
        }
        /* obs-fold (a continuation line) is refused, as RFC 9112 5.2 allows: it has been a
         * request-smuggling vector and no tracker client sends it. */
        if (is_ows(*p))
            return HTTP_PARSE_ERROR;
        if (req->num_headers == HTTP_MAX_HEADERS)
            return HTTP_PARSE_ERROR;

        const unsigned char *n = p;
        while (p < end && tchar[*p])
            p++;
        NEED(p);
        if (p == n || *p != ':') /* no colon, a space in the name, or no name at all */
            return HTTP_PARSE_ERROR;
        struct http_header *h = &req->headers[req->num_headers];
        h->name = (const char *)n;
        h->name_len = (size_t)(p - n);
        p++;

        while (p < end && is_ows(*p))
            p++;
        const unsigned char *v = p;
        while (p < end && (vchar[*p] || is_ows(*p)))
            p++;
        NEED(p);
        if (*p != '\r' && *p != '\n')
            return HTTP_PARSE_ERROR; /* a control byte inside the value */
        const unsigned char *vend = p;
        while (vend > v && is_ows(vend[-1]))
            vend--;
        if ((r = eat_eol(&p, end)) <= 0)
            return r ? HTTP_PARSE_ERROR : HTTP_PARSE_INCOMPLETE;
        h->value = (const char *)v;
        h->value_len = (size_t)(vend - v);
        req->num_headers++;
        note_header(h, &facts, &req->has_body);
    }

    if (req->minor_version >= 1)
        req->keep_alive = !facts.conn_close;
    else
        req->keep_alive = facts.conn_keep_alive && !facts.conn_close;
    /* An explicit gzip entry decides; otherwise "*" stands for it. */
    req->accept_gzip = facts.gzip_ok >= 0 ? facts.gzip_ok == 1 : facts.star_ok == 1;
    return (int)(p - start);
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != n)
            continue;
        size_t j = 0;
        while (j < n && lower((unsigned char)h->name[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == n)
            return h;
    }
    return NULL;
}
