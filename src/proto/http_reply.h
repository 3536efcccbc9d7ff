/* http_reply.h - HTTP responses: status line + headers, and the bencoded tracker bodies.
 *
 * Pure writers into a struct buf. The caller builds the body first (the head needs its
 * Content-Length), then writes the head and appends the body. */
#ifndef SWARMD_HTTP_REPLY_H
#define SWARMD_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "util/buf.h"

/* Announce body: d8:completei..e10:downloadedi..e10:incompletei..e8:intervali..e
 * 12:min intervali..e5:peers...6:peers6...e. compact: peers = 6-byte entries (always present,
 * possibly empty), peers6 = 18-byte entries (only when n6 > 0). Non-compact: peers is a list of
 * d2:ip<text>4:porti<n>ee for every v4 and v6 peer (no "peer id": not stored). */
void http_reply_announce_body(struct buf *b, const struct announce_reply *r, bool compact);

/* Scrape body: d5:filesd <hash> d8:completei..e10:downloadedi..e10:incompletei..e ... ee.
 * hashes[i] with counts[i]; entries whose `present[i]` is false are omitted (present NULL: all). The caller passes
 * the hashes sorted and de-duplicated (bencode dict keys must be sorted). */
void http_reply_scrape_body(struct buf *b, const uint8_t (*hashes)[20],
                            const struct swarm_counts *counts, const bool *present, unsigned n);

/* d14:failure reason<len>:<reason>e */
void http_reply_failure_body(struct buf *b, const char *reason);

/* Status line and headers ending with the blank line. status 200, 301/302 (location given),
 * 400, 404, 405, 413/431, 500, 503. content_type NULL = "text/plain". extra: additional raw
 * header lines each ending in "\r\n" (or NULL). */
void http_reply_head(struct buf *b, int status, const char *content_type, size_t content_length,
                     bool keep_alive, const char *extra);

const char *http_status_text(int status);

#endif
