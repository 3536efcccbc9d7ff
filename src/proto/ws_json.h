/* ws_json.h - the WebSocket tracker's JSON messages: a bounded parser and a small writer.
 *
 * The parser reads one message (one text frame) into struct ws_msg: pure, no allocation, no
 * globals, nesting depth and every count bounded, every length checked, strings checked to
 * be valid UTF-8 JSON. Binary strings (info_hash, peer_id, to_peer_id) carry one byte per code
 * point U+0000-U+00FF; anything else is not a binary string. The WebRTC payloads (offer,
 * answer) and offer ids are only validated and kept as spans of the input, to be relayed
 * verbatim: the tracker never interprets SDP.
 *
 * The writer escapes binary strings so that every byte >= 0x80 and every control byte is
 * written as \u00xx: a text frame must be valid UTF-8, and raw high bytes make browsers drop
 * the connection. */
#ifndef SWARMD_WS_JSON_H
#define SWARMD_WS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "util/buf.h"

#define WS_MAX_OFFERS 20       /* offers read from one announce; more are ignored */
#define WS_MAX_SCRAPE 64       /* info hashes in one scrape */
#define WS_JSON_MAX_DEPTH 16
#define WS_OFFER_ID_MAX 128    /* bytes of an offer_id string as sent (quotes included) */

enum ws_action { WS_ACTION_NONE = 0, WS_ACTION_ANNOUNCE, WS_ACTION_SCRAPE, WS_ACTION_OTHER };

enum ws_json_error {
    WS_JSON_OK = 0,
    WS_JSON_SYNTAX,      /* not one JSON object, or nested too deeply */
    WS_JSON_BAD_FIELD,   /* a known field with the wrong type or length */
};

struct ws_span {
    const char *p;  /* into the parsed text; NULL when absent */
    size_t len;
};

struct ws_offer {
    struct ws_span offer;    /* JSON value, verbatim */
    struct ws_span offer_id; /* JSON string token, quotes included, verbatim */
};

struct ws_msg {
    enum ws_action action;
    unsigned nhashes;                 /* info_hash: 1 for a string, the array's length else */
    bool hash_given;                  /* info_hash present (scrape without it: all) */
    bool hash_list;                   /* info_hash was an array */
    uint8_t hashes[WS_MAX_SCRAPE][INFO_HASH_LEN];
    bool has_peer_id, has_to_peer_id;
    uint8_t peer_id[PEER_ID_LEN], to_peer_id[PEER_ID_LEN];
    struct ws_span offer_id;          /* answer's offer_id (JSON string token) */
    struct ws_span answer;            /* JSON value */
    int64_t numwant;                  /* -1: absent */
    bool has_left;                    /* false: absent or null */
    uint64_t left;
    enum announce_event event;
    bool has_offers;
    unsigned noffers;
    struct ws_offer offers[WS_MAX_OFFERS];
};

/* Parse text (len bytes) as one message. On WS_JSON_BAD_FIELD, *field names the field. */
enum ws_json_error ws_json_parse(const char *text, size_t len, struct ws_msg *m,
                                 const char **field);

/* Write a JSON string holding bytes one per code point (\u00xx for controls, '"', '\\' and
 * bytes >= 0x80). */
void ws_json_put_bytes(struct buf *b, const uint8_t *p, size_t n);
/* Write a JSON string of ASCII text (escaping quotes, backslashes and controls). */
void ws_json_put_text(struct buf *b, const char *s);

#endif
