/* fuzz_ws_frame.c - libFuzzer harness for the RFC 6455 frame codec and UTF-8/close checks.
 *
 * Walks the input as a stream of client frames the way the WebSocket tracker does (parse a
 * header, unmask the payload in place, next frame), checking the parser's promises with
 * abort(): the header never claims more than it read, lengths respect the cap, control frame
 * rules hold, and a re-encoded server header parses back to the same length. The first byte
 * picks the cap and whether masking is required, so both directions are explored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool require_mask = (data[0] & 1) == 0;
    uint64_t cap = (data[0] & 2) ? 125 : 65536;
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    size_t len = size - 1, off = 0;
    while (off < len) {
        struct ws_frame f;
        int r = ws_frame_parse(buf + off, len - off, require_mask, cap, &f);
        if (r < 0) {
            REQUIRE(r == WS_PARSE_INCOMPLETE || r == WS_PARSE_PROTOCOL || r == WS_PARSE_TOO_BIG);
            break;
        }
        REQUIRE((size_t)r == f.header_len && f.header_len <= WS_FRAME_HEADER_MAX);
        REQUIRE(f.header_len <= len - off);
        REQUIRE(f.payload_len <= cap && f.masked == require_mask);
        if (f.opcode >= 8)
            REQUIRE(f.fin && f.payload_len <= 125);
        uint8_t h[WS_FRAME_HEADER_MAX];
        struct ws_frame g;
        size_t hl = ws_frame_header(h, f.opcode, f.payload_len);
        REQUIRE(ws_frame_parse(h, hl, false, UINT64_MAX >> 1, &g) == (int)hl);
        REQUIRE(g.payload_len == f.payload_len && g.opcode == f.opcode);
        if (len - off - f.header_len < f.payload_len)
            break;
        uint8_t *p = buf + off + f.header_len;
        size_t n = (size_t)f.payload_len;
        ws_unmask(p, n / 2, f.mask, 0);
        ws_unmask(p + n / 2, n - n / 2, f.mask, n / 2);
        if (f.opcode == WS_OP_CLOSE)
            (void)ws_close_payload_ok(p, n);
        else
            (void)ws_utf8_valid(p, n);
        off += f.header_len + n;
    }
    free(buf);
    return 0;
}
