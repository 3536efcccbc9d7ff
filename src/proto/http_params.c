/* http_params.c - announce and scrape query strings into struct announce_req / scrape_req.
 *
 * Pure: one pass over the query with url.c's iterator; values are decoded straight into the
 * request or into small stack buffers. Keys are matched after decoding (a client may escape
 * any byte). A malformed escape in a parameter we read fails the whole request with
 * "malformed query": guessing at its meaning could file a peer under the wrong torrent.
 * Unknown parameters are skipped without being decoded. */
#include "proto/http_params.h"

#include <string.h>

#include "proto/url.h"
#include "util/addr.h"

/* The longest parameter name we act on ("downloaded", "no_peer_id") is 10 bytes. */
#define KEY_MAX 10
/* Longest address text worth trying: "[" 45-char v6 literal "]:65535". */
#define ADDR_TEXT_MAX 56

static inline int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

