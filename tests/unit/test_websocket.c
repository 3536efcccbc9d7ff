/* test_websocket.c - RFC 6455 handshake checks and the frame codec. */
#include <string.h>

#include "check.h"
#include "proto/http_parse.h"
#include "proto/websocket.h"

static int handshake(const char *text, char *accept)
{
    struct http_request req;
    int r = http_parse_request(text, strlen(text), &req);
    if (r <= 0)
        return -1;
    return ws_handshake_check(&req, accept);
}

static int is_upgrade(const char *text)
{
    struct http_request req;
    if (http_parse_request(text, strlen(text), &req) <= 0)
        return -1;
    return ws_is_upgrade(&req);
}

TEST(accept_rfc_example)
{
    char a[WS_ACCEPT_LEN + 1];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, a);
    CHECK_STR(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(handshake_ok_and_refused)
{
    char a[WS_ACCEPT_LEN + 1];
    CHECK_EQ_INT(handshake("GET /announce HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
                           "Connection: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 0);
    CHECK_STR(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* version */
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 8\r\n\r\n",
                           a),
                 426);
    /* no key, short key, key with bits past 16 bytes, bad character */
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhl\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2!jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    /* method, version, Connection */
    CHECK_EQ_INT(handshake("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    CHECK_EQ_INT(handshake("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
    CHECK_EQ_INT(handshake("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: close\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           a),
                 400);
}

TEST(is_upgrade_tokens)
{
    CHECK_EQ_INT(is_upgrade("GET / HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n"), 1);
    CHECK_EQ_INT(is_upgrade("GET / HTTP/1.1\r\nUpgrade: websockets\r\n\r\n"), 0);
    CHECK_EQ_INT(is_upgrade("GET / HTTP/1.1\r\nUpgrade: web socket\r\n\r\n"), 0);
    CHECK_EQ_INT(is_upgrade("GET /announce?x=1 HTTP/1.1\r\n\r\n"), 0);
}

TEST(frame_parse_lengths)
{
    struct ws_frame f;
    uint8_t b[32] = {0x81, 0x85, 1, 2, 3, 4};
    CHECK_EQ_INT(ws_frame_parse(b, 1, true, 100, &f), WS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ws_frame_parse(b, 5, true, 100, &f), WS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ws_frame_parse(b, 6, true, 100, &f), 6);
    CHECK(f.fin && f.opcode == WS_OP_TEXT && f.masked && f.payload_len == 5);
    CHECK_MEM(f.mask, "\x01\x02\x03\x04", 4);
    /* 16-bit length */
    uint8_t m[] = {0x82, 0xfe, 0x01, 0x00, 9, 9, 9, 9};
    CHECK_EQ_INT(ws_frame_parse(m, 3, true, 1000, &f), WS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ws_frame_parse(m, sizeof m, true, 1000, &f), 8);
    CHECK_EQ_INT(f.payload_len, 256);
    CHECK_EQ_INT(ws_frame_parse(m, sizeof m, true, 255, &f), WS_PARSE_TOO_BIG);
    /* 16-bit form for a length that fits 7 bits: not the shortest form */
    uint8_t nm[] = {0x82, 0xfe, 0x00, 0x10, 9, 9, 9, 9};
    CHECK_EQ_INT(ws_frame_parse(nm, sizeof nm, true, 1000, &f), WS_PARSE_PROTOCOL);
    /* 64-bit length with the top bit set, and a huge one over the cap */
    uint8_t l[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    CHECK_EQ_INT(ws_frame_parse(l, sizeof l, true, 1000, &f), WS_PARSE_PROTOCOL);
    l[2] = 0x7f;
    CHECK_EQ_INT(ws_frame_parse(l, sizeof l, true, 1000, &f), WS_PARSE_TOO_BIG);
    l[2] = 0;
    l[7] = 1; /* 65536 + ... */
    CHECK_EQ_INT(ws_frame_parse(l, sizeof l, true, 1u << 20, &f), 14);
    CHECK_EQ_INT(f.payload_len, 65536);
}

TEST(frame_parse_rules)
{
    struct ws_frame f;
    uint8_t unmasked[] = {0x81, 0x00};
    CHECK_EQ_INT(ws_frame_parse(unmasked, 2, true, 100, &f), WS_PARSE_PROTOCOL);
    CHECK_EQ_INT(ws_frame_parse(unmasked, 2, false, 100, &f), 2);
    uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    CHECK_EQ_INT(ws_frame_parse(rsv, 6, true, 100, &f), WS_PARSE_PROTOCOL);
    uint8_t op3[] = {0x83, 0x80, 0, 0, 0, 0};
    CHECK_EQ_INT(ws_frame_parse(op3, 6, true, 100, &f), WS_PARSE_PROTOCOL);
    uint8_t frag_ping[] = {0x09, 0x80, 0, 0, 0, 0};
    CHECK_EQ_INT(ws_frame_parse(frag_ping, 6, true, 100, &f), WS_PARSE_PROTOCOL);
    uint8_t big_ping[] = {0x89, 0xfe, 0, 126, 0, 0, 0, 0};
    CHECK_EQ_INT(ws_frame_parse(big_ping, 8, true, 1000, &f), WS_PARSE_PROTOCOL);
    uint8_t cont[] = {0x00, 0x80, 0, 0, 0, 0};
    CHECK_EQ_INT(ws_frame_parse(cont, 6, true, 100, &f), 6);
    CHECK(!f.fin && f.opcode == WS_OP_CONT);
}

TEST(unmask_in_pieces_and_header_roundtrip)
{
    const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    uint8_t p[10] = "abcdefghi";
    ws_unmask(p, 3, mask, 0);
    ws_unmask(p + 3, 6, mask, 3);
    ws_unmask(p, 9, mask, 0);
    CHECK_MEM(p, "abcdefghi", 9);
    uint64_t lens[] = {0, 125, 126, 65535, 65536, 1ull << 40};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t h[WS_FRAME_HEADER_MAX];
        struct ws_frame f;
        size_t n = ws_frame_header(h, WS_OP_TEXT, lens[i]);
        CHECK_EQ_INT(ws_frame_parse(h, n, false, UINT64_MAX >> 1, &f), (int)n);
        CHECK(f.payload_len == lens[i] && f.fin && f.opcode == WS_OP_TEXT && !f.masked);
    }
}

/* The word-at-a-time unmasking against the definition, for every length, start phase and
 * alignment around the 8-byte steps. */
TEST(unmask_matches_bytewise)
{
    const uint8_t mask[4] = {0xa5, 0x01, 0x7e, 0xc3};
    for (size_t align = 0; align < 8; align++) {
        for (size_t n = 0; n <= 40; n++) {
            for (uint64_t off = 0; off < 8; off++) {
                uint8_t buf[64], want[64];
                for (size_t i = 0; i < n; i++)
                    buf[align + i] = want[i] = (uint8_t)(i * 37 + n);
                for (size_t i = 0; i < n; i++)
                    want[i] ^= mask[(off + i) & 3];
                ws_unmask(buf + align, n, mask, off);
                CHECK(memcmp(buf + align, want, n) == 0);
            }
        }
    }
}

TEST(utf8_and_close_payload)
{
    CHECK(ws_utf8_valid((const uint8_t *)"plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 17));
    CHECK(!ws_utf8_valid((const uint8_t *)"\xc0\x80", 2));         /* overlong */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xff", 1));
    CHECK(ws_close_payload_ok(NULL, 0));
    CHECK(!ws_close_payload_ok((const uint8_t *)"\x03", 1));
    CHECK(ws_close_payload_ok((const uint8_t *)"\x03\xe8ok", 4));
    CHECK(!ws_close_payload_ok((const uint8_t *)"\x03\xed", 2)); /* 1005 may not be sent */
    CHECK(!ws_close_payload_ok((const uint8_t *)"\x03\xe8\xff", 3));
}

int main(void)
{
    RUN(accept_rfc_example);
    RUN(handshake_ok_and_refused);
    RUN(is_upgrade_tokens);
    RUN(frame_parse_lengths);
    RUN(frame_parse_rules);
    RUN(unmask_in_pieces_and_header_roundtrip);
    RUN(unmask_matches_bytewise);
    RUN(utf8_and_close_payload);
    return CHECK_DONE();
}
