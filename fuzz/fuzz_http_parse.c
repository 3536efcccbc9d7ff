/* fuzz_http_parse.c - libFuzzer harness for the HTTP request-head parser (proto/http_parse.c).
 *
 * Parses the input from an exactly-sized heap copy (so ASan sees any read past its end) and
 * checks the parser's promises with abort(): results inside the buffer, a complete head parses
 * the same from exactly its own bytes, every proper prefix of it is incomplete, and an
 * incomplete or bad input never turns into a success when cut shorter. Pipelined heads that
 * follow the first are parsed the same way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/http_parse.h"

static int parse_copy(const char *s, size_t n, struct http_request *req)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, s, n);
    int r = http_parse_request(c, n, req);
    free(c);
    return r;
}

/* [p, p+n) lies inside [lo, hi). */
static int inside(const char *p, size_t n, const char *lo, const char *hi)
{
    return p >= lo && p <= hi && n <= (size_t)(hi - p);
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return 0;
    }
    return 1;
}

static void check_head(const char *buf, int r, const struct http_request *req)
{
    const char *end = buf + r;
    REQUIRE(req->method_len > 0 && inside(req->method, req->method_len, buf, end));
    REQUIRE(req->target_len > 0 && inside(req->target, req->target_len, buf, end));
    REQUIRE(req->target > req->method + req->method_len);
    REQUIRE(req->path == req->target);
    if (req->query) {
        REQUIRE(req->query == req->path + req->path_len + 1);
        REQUIRE(req->query[-1] == '?');
        REQUIRE(req->path_len + 1 + req->query_len == req->target_len);
        REQUIRE(memchr(req->path, '?', req->path_len) == NULL);
    } else {
        REQUIRE(req->query_len == 0 && req->path_len == req->target_len);
        REQUIRE(memchr(req->target, '?', req->target_len) == NULL);
    }
    for (size_t i = 0; i < req->target_len; i++) {
        unsigned char c = (unsigned char)req->target[i];
        REQUIRE(c > 0x20 && c != 0x7f);
    }
    REQUIRE(req->minor_version >= 0 && req->minor_version <= 9);
    REQUIRE(req->num_headers <= HTTP_MAX_HEADERS);
    int saw_connection = 0, saw_body_header = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        REQUIRE(h->name_len > 0 && inside(h->name, h->name_len, buf, end));
        REQUIRE(inside(h->value, h->value_len, buf, end));
        REQUIRE(memchr(h->name, ':', h->name_len) == NULL);
        if (h->value_len) {
            REQUIRE(!is_ows(h->value[0]) && !is_ows(h->value[h->value_len - 1]));
            REQUIRE(memchr(h->value, '\n', h->value_len) == NULL);
            REQUIRE(memchr(h->value, '\r', h->value_len) == NULL);
        }
        if (i > 0)
            REQUIRE(h->name > req->headers[i - 1].value);
        if (h->name_len == 10 && ieq(h->name, "connection", 10))
            saw_connection = 1;
        if ((h->name_len == 14 && ieq(h->name, "content-length", 14)) ||
            (h->name_len == 17 && ieq(h->name, "transfer-encoding", 17)))
            saw_body_header = 1;

        /* lookup by this header's own name finds it or an earlier header of that name */
        char name[256];
        if (h->name_len < sizeof name) {
            memcpy(name, h->name, h->name_len);
            name[h->name_len] = '\0';
            const struct http_header *f = http_find_header(req, name);
            REQUIRE(f != NULL && f <= h && f->name_len == h->name_len);
            REQUIRE(ieq(f->name, h->name, h->name_len));
        }
    }
    if (!saw_connection)
        REQUIRE(req->keep_alive == (req->minor_version >= 1));
    if (!saw_body_header)
        REQUIRE(!req->has_body);
    /* the head ends in a blank line */
    REQUIRE(r >= 2 && end[-1] == '\n');
}

/* The same head parsed from a different copy gives the same offsets. */
static void check_same(const char *a, const struct http_request *x, const char *b,
                       const struct http_request *y)
{
    REQUIRE(x->method - a == y->method - b && x->method_len == y->method_len);
    REQUIRE(x->target - a == y->target - b && x->target_len == y->target_len);
    REQUIRE(x->path_len == y->path_len && x->query_len == y->query_len);
    REQUIRE((x->query == NULL) == (y->query == NULL));
    REQUIRE(x->minor_version == y->minor_version && x->num_headers == y->num_headers);
    REQUIRE(x->keep_alive == y->keep_alive && x->accept_gzip == y->accept_gzip);
    REQUIRE(x->has_body == y->has_body);
    for (size_t i = 0; i < x->num_headers; i++) {
        REQUIRE(x->headers[i].name - a == y->headers[i].name - b);
        REQUIRE(x->headers[i].value - a == y->headers[i].value - b);
        REQUIRE(x->headers[i].value_len == y->headers[i].value_len);
    }
}

static size_t one(const char *buf, size_t size)
{
    static struct http_request req, again;
    int r = http_parse_request(buf, size, &req);
    REQUIRE(r == HTTP_PARSE_ERROR || r == HTTP_PARSE_INCOMPLETE || (r > 0 && (size_t)r <= size));
    if (r > 0) {
        check_head(buf, r, &req);
        /* exactly its own bytes: complete, same result */
        char *exact = malloc((size_t)r);
        if (!exact)
            abort();
        memcpy(exact, buf, (size_t)r);
        REQUIRE(http_parse_request(exact, (size_t)r, &again) == r);
        check_same(buf, &req, exact, &again);
        free(exact);
        /* a proper prefix is never complete and never wrong */
        REQUIRE(parse_copy(buf, (size_t)r - 1, &again) == HTTP_PARSE_INCOMPLETE);
        REQUIRE(parse_copy(buf, (size_t)r / 2, &again) == HTTP_PARSE_INCOMPLETE);
        return (size_t)r;
    }
    /* cutting an incomplete input keeps it incomplete; cutting a bad one never fixes it */
    int p = parse_copy(buf, size / 2, &again);
    if (r == HTTP_PARSE_INCOMPLETE)
        REQUIRE(p == HTTP_PARSE_INCOMPLETE);
    else
        REQUIRE(p == HTTP_PARSE_INCOMPLETE || p == HTTP_PARSE_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    /* pipelined heads: parse each in turn from where the previous one ended */
    size_t off = 0;
    for (int i = 0; i < 16 && off <= size; i++) {
        size_t n = one(buf + off, size - off);
        if (n == 0)
            break;
        off += n;
    }
    free(buf);
    return 0;
}
