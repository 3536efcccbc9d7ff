/* http_params.h - turn an announce or scrape query string into a struct announce_req /
 * struct scrape_req.
 *
 * Pure. On error returns a short human-readable reason (a string constant naming the
 * problem, e.g. "missing info_hash", "invalid port") for the bencoded failure reply;
 * returns NULL on success. */
#ifndef SWARMD_HTTP_PARAMS_H
#define SWARMD_HTTP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* Every parameter of PROTOCOL.md: info_hash (exactly 20 decoded bytes, once), peer_id (20),
 * port (1..65535; 0 allowed with event=stopped), uploaded/downloaded/left (decimal u64; absent
 * = 0; negative, non-numeric or overflowing = error), event (unknown = EVENT_NONE), compact,
 * no_peer_id, numwant (non-negative decimal clamped to INT32_MAX; anything else = -1), key
 * (hex or decimal, up to 32 bits kept), ip/ipv4/ipv6 (literal addresses only; anything else ignored). Unknown
 * parameters are ignored. */
const char *http_parse_announce(const char *query, size_t len, struct announce_req *out);

/* Repeated info_hash parameters (each exactly 20 bytes) into hashes[0..cap); out->count says
 * how many. More than cap hashes: error "too many info_hash". No info_hash: count 0
 * (full scrape). A query of NULL/0 is a full scrape. */
const char *http_parse_scrape(const char *query, size_t len, uint8_t (*hashes)[INFO_HASH_LEN],
                              unsigned cap, struct scrape_req *out);

#endif
