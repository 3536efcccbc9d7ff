/* websocket.h - RFC 6455: the opening handshake and the frame codec.
 *
 * Pure: no I/O, no allocation, no globals. The frame parser reads only the frame header
 * (picohttpparser's contract: header length, or INCOMPLETE, or an error) and checks every
 * rule a server must enforce on client frames before looking at a payload: reserved bits
 * clear (no extension is ever negotiated), known opcodes, control frames unfragmented and at
 * most 125 bytes, client frames masked, payload length within the caller's cap. */
#ifndef SWARMD_WEBSOCKET_H
#define SWARMD_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http_parse.h"

#define WS_ACCEPT_LEN 28        /* base64 of a SHA-1 */
#define WS_FRAME_HEADER_MAX 14  /* 2 + 8 length bytes + 4 mask bytes */

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* Close status codes (RFC 6455 section 7.4.1) the tracker sends. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_TOO_BIG = 1009,
};

/* Whether a request asks for a WebSocket (an "Upgrade" header listing "websocket"). Only such
 * requests go to ws_handshake_check; everything else stays plain HTTP. */
bool ws_is_upgrade(const struct http_request *req);

/* Validate an upgrade request: GET, HTTP/1.1, "Connection" listing "upgrade",
 * "Sec-WebSocket-Version: 13" and a "Sec-WebSocket-Key" that is base64 of 16 bytes. Returns 0
 * and the accept value (NUL-terminated) in accept, or the HTTP status to refuse with: 400, or
 * 426 for another version (the reply then names version 13). */
int ws_handshake_check(const struct http_request *req, char accept[WS_ACCEPT_LEN + 1]);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)). */
void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN + 1]);

#define WS_PARSE_INCOMPLETE (-2)
#define WS_PARSE_PROTOCOL (-1)  /* close with 1002 */
#define WS_PARSE_TOO_BIG (-3)   /* close with 1009 */

struct ws_frame {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;
};

/* Parse the header of the frame at buf. Returns header_len (> 0; the payload may still be
 * incomplete: compare len with header_len + payload_len), WS_PARSE_INCOMPLETE, or an error.
 * require_mask: frames from clients must be masked (servers' must not be: pass false to
 * parse those). max_payload bounds payload_len. */
int ws_frame_parse(const uint8_t *buf, size_t len, bool require_mask, uint64_t max_payload,
                   struct ws_frame *f);

/* XOR payload bytes with the mask; offset is the position of p[0] within the payload, so a
 * payload can be unmasked in pieces. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);

/* Write an unmasked server frame header (fin set) for a payload of len bytes into out (room
 * for WS_FRAME_HEADER_MAX). Returns the header length. */
size_t ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len);

/* Check a close frame's payload: empty, or a 2-byte code a peer may send followed by UTF-8
 * text. Returns true when acceptable. */
bool ws_close_payload_ok(const uint8_t *p, size_t n);

/* Whether n bytes are valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
bool ws_utf8_valid(const uint8_t *p, size_t n);

#endif
