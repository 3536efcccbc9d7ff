/* test_http_parse.c - the HTTP/1.x request-head parser (src/proto/http_parse.c).
 *
 * Every parse runs on an exactly-sized heap copy, so the ASan build catches a read past the
 * given length; every valid request is also parsed at each of its prefix lengths. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "proto/http_parse.h"

static char *copy; /* the current exactly-sized copy (freed by the next parse) */

/* Parse s[0..n) from an exact heap copy; leaves `copy` pointing at it for pointer checks. */
static int parse_n(const char *s, size_t n, struct http_request *req)
{
    free(copy);
    copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, s, n);
    return http_parse_request(copy, n, req);
}

static int parse(const char *s, struct http_request *req) { return parse_n(s, strlen(s), req); }

static bool span_is(const char *p, size_t n, const char *lit)
{
    return p != NULL && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

/* Every proper prefix of a valid head is incomplete (never an error, never a success). */
static void check_prefixes(const char *s, size_t n)
{
    struct http_request req;
    for (size_t i = 0; i < n; i++) {
        int r = parse_n(s, i, &req);
        if (r != HTTP_PARSE_INCOMPLETE) {
            fprintf(stderr, "  prefix %zu of %zu: %d\n", i, n, r);
            CHECK_EQ_INT(r, HTTP_PARSE_INCOMPLETE);
            return;
        }
    }
}

static const char LIBTORRENT[] =
    "GET /announce?info_hash=%d2%e5%3f%b8%03%4f%fe%a1%8a%e1%2a%4e%c4%25%8c%a8%82%5b%ce%17"
    "&peer_id=-LT2070-n0aU%2aS%29OP%7e%21&port=6881&uploaded=0&downloaded=0&left=1048576"
    "&corrupt=0&key=5B8C1E1A&event=started&numwant=200&compact=1&no_peer_id=1"
    "&supportcrypto=1&redundant=0 HTTP/1.1\r\n"
    "Host: tracker.example.org:6969\r\n"
    "User-Agent: qBittorrent/4.6.2\r\n"
    "Accept-Encoding: gzip\r\n"
    "Connection: close\r\n"
    "\r\n";

static const char TRANSMISSION[] =
    "GET /announce?info_hash=%D2%E5%3F%B8%03O%FE%A1%8A%E1%2AN%C4%25%8C%A8%82%5B%CE%17"
    "&peer_id=-TR4050-abcdefghijkl&port=51413&uploaded=0&downloaded=0&left=0&numwant=80"
    "&key=1A2B3C4D&compact=1&supportcrypto=1&event=started HTTP/1.1\r\n"
    "Host: tracker.example.org\r\n"
    "User-Agent: Transmission/4.0.5\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: deflate, gzip\r\n"
    "\r\n";

TEST(libtorrent_announce)
{
    struct http_request req;
    size_t n = sizeof LIBTORRENT - 1;
    CHECK_EQ_INT(parse(LIBTORRENT, &req), n);
    CHECK(span_is(req.method, req.method_len, "GET"));
    CHECK(req.target == copy + 4);
    CHECK(span_is(req.path, req.path_len, "/announce"));
    CHECK(req.path == req.target);
    CHECK(req.query == req.target + 10);
    CHECK_EQ_INT(req.path_len + 1 + req.query_len, req.target_len);
    CHECK(req.query_len > 0 && memcmp(req.query, "info_hash=", 10) == 0);
    CHECK(req.query[req.query_len - 1] == '0' && req.query[req.query_len] == ' ');
    CHECK_EQ_INT(req.minor_version, 1);
    CHECK_EQ_INT(req.num_headers, 4);
    CHECK(span_is(req.headers[0].name, req.headers[0].name_len, "Host"));
    CHECK(span_is(req.headers[0].value, req.headers[0].value_len, "tracker.example.org:6969"));
    CHECK(span_is(req.headers[1].value, req.headers[1].value_len, "qBittorrent/4.6.2"));
    CHECK(!req.keep_alive);
    CHECK(req.accept_gzip);
    CHECK(!req.has_body);
    check_prefixes(LIBTORRENT, n);
}

TEST(transmission_announce)
{
    struct http_request req;
    size_t n = sizeof TRANSMISSION - 1;
    CHECK_EQ_INT(parse(TRANSMISSION, &req), n);
    CHECK(span_is(req.path, req.path_len, "/announce"));
    CHECK_EQ_INT(req.num_headers, 4);
    CHECK(req.keep_alive);
    CHECK(req.accept_gzip);
    CHECK(!req.has_body);
    check_prefixes(TRANSMISSION, n);
}

TEST(minimal_requests)
{
    struct http_request req;
    const char *a = "GET / HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(parse(a, &req), strlen(a));
    CHECK(span_is(req.path, req.path_len, "/"));
    CHECK(req.query == NULL);
    CHECK_EQ_INT(req.query_len, 0);
    CHECK_EQ_INT(req.num_headers, 0);
    CHECK(req.keep_alive);
    CHECK(!req.accept_gzip);
    check_prefixes(a, strlen(a));

    const char *b = "GET / HTTP/1.0\n\n";
    CHECK_EQ_INT(parse(b, &req), strlen(b));
    CHECK_EQ_INT(req.minor_version, 0);
    CHECK(!req.keep_alive);
    check_prefixes(b, strlen(b));
}

TEST(bare_lf_and_mixed)
{
    struct http_request req;
    const char *s = "GET /scrape?info_hash=abc HTTP/1.1\nHost: x\r\nUser-Agent: y\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(span_is(req.path, req.path_len, "/scrape"));
    CHECK(span_is(req.query, req.query_len, "info_hash=abc"));
    CHECK_EQ_INT(req.num_headers, 2);
    CHECK(span_is(req.headers[0].value, req.headers[0].value_len, "x"));
    CHECK(span_is(req.headers[1].value, req.headers[1].value_len, "y"));
    check_prefixes(s, strlen(s));
}

TEST(query_split)
{
    struct http_request req;
    CHECK(parse("GET /announce? HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(span_is(req.path, req.path_len, "/announce"));
    CHECK(req.query != NULL);
    CHECK_EQ_INT(req.query_len, 0);
    CHECK(req.query == req.target + req.target_len);

    CHECK(parse("GET /a?b?c=d HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(span_is(req.path, req.path_len, "/a"));
    CHECK(span_is(req.query, req.query_len, "b?c=d"));

    CHECK(parse("GET ?x=1 HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.path_len, 0);
    CHECK(span_is(req.query, req.query_len, "x=1"));

    CHECK(parse("GET /passkey/0123abcd/announce HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(span_is(req.path, req.path_len, "/passkey/0123abcd/announce"));
    CHECK(req.query == NULL);
}

TEST(methods)
{
    struct http_request req;
    CHECK(parse("HEAD / HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(span_is(req.method, req.method_len, "HEAD"));
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req) > 0);
    CHECK(span_is(req.method, req.method_len, "POST"));
    CHECK(!req.has_body);
    CHECK(parse("M-SEARCH * HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(span_is(req.method, req.method_len, "M-SEARCH"));
    CHECK(span_is(req.target, req.target_len, "*"));
    CHECK_EQ_INT(parse("GE(T / HTTP/1.1\r\n\r\n", &req), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(parse("GE/T / HTTP/1.1\r\n\r\n", &req), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(parse(" / HTTP/1.1\r\n\r\n", &req), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(parse("\tGET / HTTP/1.1\r\n\r\n", &req), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(parse("G\x80T / HTTP/1.1\r\n\r\n", &req), HTTP_PARSE_ERROR);
    /* an error is reported as soon as it is seen, before the head is complete */
    CHECK_EQ_INT(parse("GE(", &req), HTTP_PARSE_ERROR);
}

TEST(request_line_errors)
{
    struct http_request req;
    static const char *bad[] = {
        "GET  / HTTP/1.1\r\n\r\n",        /* empty target */
        "GET / HTTP/1.1 \r\n\r\n",        /* trailing blank */
        "GET /  HTTP/1.1\r\n\r\n",        /* two blanks */
        "GET / HTTP/2.0\r\n\r\n",         /* not HTTP/1.x */
        "GET / HTTP/0.9\r\n\r\n",
        "GET / HTTP/1.\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
        "GET / HTTP/11\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTPS/1.1\r\n\r\n",
        "GET /\r\n\r\n",                  /* HTTP/0.9 request */
        "GET\r\n\r\n",
        "GET / HTTP/1.1\r\r\n\r\n",       /* CR not followed by LF */
        "GET / HTTP/1.1\rX\n\r\n",
        "GET /a\x01 HTTP/1.1\r\n\r\n",    /* control bytes in the target */
        "GET /a\x7f HTTP/1.1\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\n\r\n",
        "GET /a\rb HTTP/1.1\r\n\r\n",
        "GET /a\nb HTTP/1.1\r\n\r\n",
        "\r\r\nGET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = parse(bad[i], &req);
        if (r != HTTP_PARSE_ERROR)
            fprintf(stderr, "  case %zu: %d\n", i, r);
        CHECK_EQ_INT(r, HTTP_PARSE_ERROR);
    }
    /* a NUL byte anywhere in the request line */
    const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(parse_n(nul, sizeof nul - 1, &req), HTTP_PARSE_ERROR);
}

TEST(minor_versions)
{
    struct http_request req;
    CHECK(parse("GET / HTTP/1.9\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.minor_version, 9);
    CHECK(req.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.minor_version, 0);
}

TEST(high_bytes_tolerated)
{
    struct http_request req;
    /* Broken clients send raw info_hash bytes; they are not control bytes. */
    const char *s = "GET /announce?info_hash=\xd2\xe5\x80\xff HTTP/1.1\r\n"
                    "X-Y: caf\xc3\xa9\r\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK_EQ_INT(req.query_len, 14);
    CHECK_EQ_INT(req.headers[0].value_len, 5);
}

TEST(header_values_trimmed)
{
    struct http_request req;
    const char *s = "GET / HTTP/1.1\r\n"
                    "Host:   example.org  \t\r\n"
                    "X-Empty:\r\n"
                    "X-Blank:   \t \r\n"
                    "X-Inner: a  b\tc\r\n"
                    "X-Tight:v\r\n"
                    "\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK_EQ_INT(req.num_headers, 5);
    CHECK(span_is(req.headers[0].value, req.headers[0].value_len, "example.org"));
    CHECK_EQ_INT(req.headers[1].value_len, 0);
    CHECK(req.headers[1].value >= copy && req.headers[1].value <= copy + strlen(s));
    CHECK_EQ_INT(req.headers[2].value_len, 0);
    CHECK(span_is(req.headers[3].value, req.headers[3].value_len, "a  b\tc"));
    CHECK(span_is(req.headers[4].name, req.headers[4].name_len, "X-Tight"));
    CHECK(span_is(req.headers[4].value, req.headers[4].value_len, "v"));
    check_prefixes(s, strlen(s));
}

TEST(header_errors)
{
    struct http_request req;
    static const char *bad[] = {
        "GET / HTTP/1.1\r\nHost\r\n\r\n",               /* no colon */
        "GET / HTTP/1.1\r\nHost example.org\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",           /* blank before the colon */
        "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",           /* blank inside the name */
        "GET / HTTP/1.1\r\n: x\r\n\r\n",                /* empty name */
        "GET / HTTP/1.1\r\nHo(st: x\r\n\r\n",           /* non-token name */
        "GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n",      /* obs-fold */
        "GET / HTTP/1.1\r\nHost: x\r\n\ty\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n",       /* control bytes in a value */
        "GET / HTTP/1.1\r\nHost: a\x7fz\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\x1bz\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rz\r\n\r\n",         /* lone CR in a value */
        "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",          /* bad blank line */
        "GET / HTTP/1.1\r\nHost: x\r\n\rX",
        "GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = parse(bad[i], &req);
        if (r != HTTP_PARSE_ERROR)
            fprintf(stderr, "  case %zu: %d\n", i, r);
        CHECK_EQ_INT(r, HTTP_PARSE_ERROR);
    }
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    CHECK_EQ_INT(parse_n(nul, sizeof nul - 1, &req), HTTP_PARSE_ERROR);
}

/* A request with n headers "H<i>: v<i>", written into out. */
static size_t with_headers(char *out, size_t cap, int n, bool complete)
{
    size_t o = (size_t)snprintf(out, cap, "GET /announce HTTP/1.1\r\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "H%d: v%d\r\n", i, i);
    if (complete)
        o += (size_t)snprintf(out + o, cap - o, "\r\n");
    return o;
}

TEST(header_count_limit)
{
    static char s[4096];
    struct http_request req;
    size_t n = with_headers(s, sizeof s, HTTP_MAX_HEADERS, true);
    CHECK_EQ_INT(parse_n(s, n, &req), n);
    CHECK_EQ_INT(req.num_headers, HTTP_MAX_HEADERS);
    CHECK(span_is(req.headers[HTTP_MAX_HEADERS - 1].name,
                  req.headers[HTTP_MAX_HEADERS - 1].name_len, "H31"));
    check_prefixes(s, n);

    n = with_headers(s, sizeof s, HTTP_MAX_HEADERS + 1, true);
    CHECK_EQ_INT(parse_n(s, n, &req), HTTP_PARSE_ERROR);
    /* the 33rd header is refused as soon as its first byte arrives */
    n = with_headers(s, sizeof s, HTTP_MAX_HEADERS, false);
    CHECK_EQ_INT(parse_n(s, n, &req), HTTP_PARSE_INCOMPLETE);
    s[n] = 'H';
    CHECK_EQ_INT(parse_n(s, n + 1, &req), HTTP_PARSE_ERROR);
    n = with_headers(s, sizeof s, 200, true);
    CHECK_EQ_INT(parse_n(s, n, &req), HTTP_PARSE_ERROR);
}

TEST(leading_blank_lines)
{
    struct http_request req;
    const char *s = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(span_is(req.method, req.method_len, "GET"));
    check_prefixes(s, strlen(s));
    CHECK_EQ_INT(parse("\r\n\r\n", &req), HTTP_PARSE_INCOMPLETE);
}

TEST(pipelined)
{
    struct http_request req;
    const char *one = "GET /announce?a=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *two = "GET /scrape?info_hash=b HTTP/1.1\nConnection: close\n\n";
    const char *three = "GET /stats HTTP/1.1\r\nHo";
    char all[512];
    size_t n1 = strlen(one), n2 = strlen(two), n3 = strlen(three);
    memcpy(all, one, n1);
    memcpy(all + n1, two, n2);
    memcpy(all + n1 + n2, three, n3);
    size_t total = n1 + n2 + n3;

    CHECK_EQ_INT(parse_n(all, total, &req), n1);
    CHECK(span_is(req.query, req.query_len, "a=1"));
    CHECK(req.keep_alive);
    CHECK_EQ_INT(parse_n(all + n1, total - n1, &req), n2);
    CHECK(span_is(req.path, req.path_len, "/scrape"));
    CHECK(!req.keep_alive);
    CHECK_EQ_INT(parse_n(all + n1 + n2, n3, &req), HTTP_PARSE_INCOMPLETE);
    /* the first head is complete in every longer prefix */
    for (size_t i = n1; i <= total; i++)
        CHECK_EQ_INT(parse_n(all, i, &req), n1);
}

TEST(prefixes_of_edge_heads)
{
    static const char *heads[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\n\n",
        "GET /a?b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.1\r\nX:\r\n\r\n",
        "GET / HTTP/1.1\r\nX: \t\r\n\n",
        "\n\r\nGET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        struct http_request req;
        CHECK_EQ_INT(parse(heads[i], &req), strlen(heads[i]));
        check_prefixes(heads[i], strlen(heads[i]));
    }
}

/* keep_alive for a request line and one header block. */
static int ka(const char *version, const char *headers)
{
    char s[512];
    struct http_request req;
    snprintf(s, sizeof s, "GET / HTTP/%s\r\n%s\r\n", version, headers);
    if (parse(s, &req) <= 0)
        return -1;
    return req.keep_alive;
}

TEST(keep_alive)
{
    CHECK_EQ_INT(ka("1.1", ""), 1);
    CHECK_EQ_INT(ka("1.1", "Connection: keep-alive\r\n"), 1);
    CHECK_EQ_INT(ka("1.1", "Connection: close\r\n"), 0);
    CHECK_EQ_INT(ka("1.1", "connection: CLOSE\r\n"), 0);
    CHECK_EQ_INT(ka("1.1", "Connection: TE, close\r\n"), 0);
    CHECK_EQ_INT(ka("1.1", "Connection: Keep-Alive ,  Close \r\n"), 0);
    CHECK_EQ_INT(ka("1.1", "Connection: keep-alive\r\nConnection: close\r\n"), 0);
    CHECK_EQ_INT(ka("1.1", "Connection: closed\r\n"), 1);
    CHECK_EQ_INT(ka("1.1", "Connection: ,,\r\n"), 1);
    CHECK_EQ_INT(ka("1.1", "X-Connection: close\r\n"), 1);
    CHECK_EQ_INT(ka("1.1", "Connection: \"close\"\r\n"), 1);
    CHECK_EQ_INT(ka("1.0", ""), 0);
    CHECK_EQ_INT(ka("1.0", "Connection: keep-alive\r\n"), 1);
    CHECK_EQ_INT(ka("1.0", "Connection: Keep-Alive\r\n"), 1);
    CHECK_EQ_INT(ka("1.0", "Connection: Upgrade, keep-alive\r\n"), 1);
    CHECK_EQ_INT(ka("1.0", "Connection: keep-alive, close\r\n"), 0);
    CHECK_EQ_INT(ka("1.0", "Connection: keep-alivex\r\n"), 0);
}

static int gz(const char *value)
{
    char s[512];
    struct http_request req;
    snprintf(s, sizeof s, "GET / HTTP/1.1\r\nAccept-Encoding: %s\r\n\r\n", value);
    if (parse(s, &req) <= 0)
        return -1;
    return req.accept_gzip;
}

TEST(accept_gzip)
{
    CHECK_EQ_INT(gz("gzip"), 1);
    CHECK_EQ_INT(gz("GZIP"), 1);
    CHECK_EQ_INT(gz("x-gzip"), 1);
    CHECK_EQ_INT(gz("deflate, gzip"), 1);
    CHECK_EQ_INT(gz("gzip, deflate, br"), 1);
    CHECK_EQ_INT(gz("gzip;q=1.0"), 1);
    CHECK_EQ_INT(gz("gzip ; q=0.5"), 1);
    CHECK_EQ_INT(gz("gzip;q=0.001"), 1);
    CHECK_EQ_INT(gz("gzip;q=0"), 0);
    CHECK_EQ_INT(gz("gzip; q=0.000"), 0);
    CHECK_EQ_INT(gz("gzip;Q=0.0"), 0);
    CHECK_EQ_INT(gz("gzip;level=1;q=0"), 0);
    CHECK_EQ_INT(gz("identity"), 0);
    CHECK_EQ_INT(gz("gzipx"), 0);
    CHECK_EQ_INT(gz("xgzip"), 0);
    CHECK_EQ_INT(gz("deflate"), 0);
    CHECK_EQ_INT(gz(""), 0);
    CHECK_EQ_INT(gz("*"), 1);
    CHECK_EQ_INT(gz("*;q=0"), 0);
    CHECK_EQ_INT(gz("gzip;q=0, *"), 0);
    CHECK_EQ_INT(gz("*, gzip;q=0"), 0);
    CHECK_EQ_INT(gz("identity, *;q=0.5"), 1);

    /* no header at all: no gzip; two headers combine */
    struct http_request req;
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(!req.accept_gzip);
    CHECK(parse("GET / HTTP/1.1\r\nAccept-Encoding: br\r\naccept-encoding: gzip\r\n\r\n",
                &req) > 0);
    CHECK(req.accept_gzip);
}

static int body(const char *headers)
{
    char s[512];
    struct http_request req;
    snprintf(s, sizeof s, "POST / HTTP/1.1\r\n%s\r\n", headers);
    if (parse(s, &req) <= 0)
        return -1;
    return req.has_body;
}

TEST(has_body)
{
    CHECK_EQ_INT(body(""), 0);
    CHECK_EQ_INT(body("Content-Length: 0\r\n"), 0);
    CHECK_EQ_INT(body("Content-Length: 000\r\n"), 0);
    CHECK_EQ_INT(body("Content-Length: 1\r\n"), 1);
    CHECK_EQ_INT(body("content-length: 10\r\n"), 1);
    CHECK_EQ_INT(body("Content-Length: abc\r\n"), 1);
    CHECK_EQ_INT(body("Content-Length:\r\n"), 1);
    CHECK_EQ_INT(body("Transfer-Encoding: chunked\r\n"), 1);
    CHECK_EQ_INT(body("TRANSFER-ENCODING: identity\r\n"), 1);
    CHECK_EQ_INT(body("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"), 1);
    CHECK_EQ_INT(body("Content-Lengths: 5\r\n"), 0);
}

TEST(find_header)
{
    struct http_request req;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nhost: b\r\n\r\n";
    CHECK(parse(s, &req) > 0);
    const struct http_header *h = http_find_header(&req, "host");
    CHECK(h != NULL && span_is(h->value, h->value_len, "a"));
    h = http_find_header(&req, "X-FORWARDED-FOR");
    CHECK(h != NULL && span_is(h->value, h->value_len, "1.2.3.4"));
    CHECK(http_find_header(&req, "X-Forwarded") == NULL);
    CHECK(http_find_header(&req, "X-Forwarded-For-X") == NULL);
    CHECK(http_find_header(&req, "") == NULL);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK(http_find_header(&req, "Host") == NULL);
}

TEST(incomplete_small)
{
    struct http_request req;
    CHECK_EQ_INT(parse_n("", 0, &req), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ_INT(parse("G", &req), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ_INT(parse("\r", &req), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r", &req), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: x", &req), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: x\r\n\r", &req), HTTP_PARSE_INCOMPLETE);
    /* a long target that never ends stays incomplete (the caller's size limit ends it) */
    static char big[8192];
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', sizeof big - 5);
    CHECK_EQ_INT(parse_n(big, sizeof big, &req), HTTP_PARSE_INCOMPLETE);
}

int main(void)
{
    RUN(libtorrent_announce);
    RUN(transmission_announce);
    RUN(minimal_requests);
    RUN(bare_lf_and_mixed);
    RUN(query_split);
    RUN(methods);
    RUN(request_line_errors);
    RUN(minor_versions);
    RUN(high_bytes_tolerated);
    RUN(header_values_trimmed);
    RUN(header_errors);
    RUN(header_count_limit);
    RUN(leading_blank_lines);
    RUN(pipelined);
    RUN(prefixes_of_edge_heads);
    RUN(keep_alive);
    RUN(accept_gzip);
    RUN(has_body);
    RUN(find_header);
    RUN(incomplete_small);
    free(copy);
    return CHECK_DONE();
}
