/* fuzz_ws_json.c - libFuzzer harness for the WebSocket tracker's JSON reader and writer.
 *
 * Parses the input as one message (an exactly-sized heap copy, so ASan sees any read past
 * its end) and checks the parser's promises with abort(): counts within their bounds, every
 * span inside the input, relayed spans themselves valid JSON values (an offer embedded in
 * a reply parses), and binary strings written back by the writer parse to the same bytes
 * and never contain a raw byte >= 0x80. Then runs the upgrade-request path: the input as an
 * HTTP head through http_parse_request and ws_handshake_check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/http_parse.h"
#include "proto/websocket.h"
#include "proto/ws_json.h"

static struct ws_msg m, m2;
static uint8_t out[1 << 17];

static void require_inside(struct ws_span s, const char *text, size_t len)
{
    if (!s.p)
        return;
    REQUIRE(s.p >= text && s.len <= len && (size_t)(s.p - text) <= len - s.len);
}

/* A span must be a value on its own: embed it in an object and parse that. */
static void require_value(struct ws_span s)
{
    struct buf b;
    const char *f;
    buf_init(&b, out, sizeof out);
    buf_puts(&b, "{\"answer\":");
    buf_put(&b, s.p, s.len);
    buf_putc(&b, '}');
    if (b.overflow)
        return;
    REQUIRE(ws_json_parse((const char *)out, b.len, &m2, &f) == WS_JSON_OK);
    REQUIRE(m2.answer.len == s.len && memcmp(m2.answer.p, s.p, s.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    const char *field = NULL;
    enum ws_json_error e = ws_json_parse(text, size, &m, &field);
    REQUIRE(e == WS_JSON_OK || e == WS_JSON_SYNTAX || e == WS_JSON_BAD_FIELD);
    REQUIRE(field != NULL);
    if (e == WS_JSON_OK) {
        REQUIRE(m.noffers <= WS_MAX_OFFERS && m.nhashes <= WS_MAX_SCRAPE);
        REQUIRE(m.hash_given || m.nhashes == 0);
        for (unsigned i = 0; i < m.noffers; i++) {
            require_inside(m.offers[i].offer, text, size);
            require_inside(m.offers[i].offer_id, text, size);
            REQUIRE(m.offers[i].offer_id.len <= WS_OFFER_ID_MAX);
            REQUIRE(m.offers[i].offer_id.p[0] == '"');
        }
        require_inside(m.answer, text, size);
        require_inside(m.offer_id, text, size);
        struct ws_span offer0 = m.noffers ? m.offers[0].offer : (struct ws_span){0};
        struct ws_span answer = m.answer;
        uint8_t h[INFO_HASH_LEN];
        bool have_hash = m.nhashes > 0;
        if (have_hash)
            memcpy(h, m.hashes[0], INFO_HASH_LEN);
        if (offer0.p)
            require_value(offer0);
        if (answer.p)
            require_value(answer);
        if (have_hash) {
            struct buf b;
            const char *f;
            buf_init(&b, out, sizeof out);
            buf_puts(&b, "{\"info_hash\":");
            ws_json_put_bytes(&b, h, INFO_HASH_LEN);
            buf_putc(&b, '}');
            REQUIRE(!b.overflow);
            for (size_t i = 0; i < b.len; i++)
                REQUIRE(out[i] >= 0x20 && out[i] < 0x80);
            REQUIRE(ws_json_parse((const char *)out, b.len, &m2, &f) == WS_JSON_OK);
            REQUIRE(m2.nhashes == 1 && memcmp(m2.hashes[0], h, INFO_HASH_LEN) == 0);
        }
    }
    struct http_request req;
    if (http_parse_request(text, size, &req) > 0) {
        char accept[WS_ACCEPT_LEN + 1];
        int st = ws_handshake_check(&req, accept);
        REQUIRE(st == 0 || st == 400 || st == 426);
        if (st == 0) {
            REQUIRE(strlen(accept) == WS_ACCEPT_LEN);
            REQUIRE(ws_is_upgrade(&req));
        }
    }
    free(text);
    return 0;
}
