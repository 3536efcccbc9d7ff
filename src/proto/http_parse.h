/* http_parse.h - HTTP/1.x request-head parser (picohttpparser's contract).
 *
 * Pure: parses a caller-owned buffer into pointers + lengths into that same buffer. No
 * allocation, no copies, no globals. Never reads past buf[len-1]. The caller enforces the
 * head-size limit (an INCOMPLETE head longer than the limit is the caller's 431). */
#ifndef SWARMD_HTTP_PARSE_H
#define SWARMD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_PARSE_ERROR (-1)
#define HTTP_PARSE_INCOMPLETE (-2)
#define HTTP_MAX_HEADERS 32

struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing blanks stripped */
    size_t value_len;
};

struct http_request {
    const char *method;
    size_t method_len;
    const char *target; /* whole request target, e.g. "/announce?info_hash=..." */
    size_t target_len;
    const char *path;   /* target up to '?' (or the end) */
    size_t path_len;
    const char *query;  /* after '?'; NULL when there is no '?' */
    size_t query_len;
    int minor_version;  /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive;    /* 1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
    bool accept_gzip;   /* Accept-Encoding lists gzip (and not with q=0) */
    bool has_body;      /* Content-Length > 0 or Transfer-Encoding present */
    size_t num_headers;
    struct http_header headers[HTTP_MAX_HEADERS];
};

/* Returns the length of the head (request line + headers + blank line) when complete,
 * HTTP_PARSE_INCOMPLETE when more bytes are needed, HTTP_PARSE_ERROR when malformed
 * (bad request line, not HTTP/1.x, control bytes, more than HTTP_MAX_HEADERS headers,
 * header without a colon). Lines may end in CRLF or a bare LF. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Case-insensitive header lookup; NULL if absent. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

#endif
