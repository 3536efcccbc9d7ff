/* test_ws_json.c - the WebSocket tracker's JSON messages: parsing and escaping. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "proto/ws_json.h"

static struct ws_msg m; /* large: keep it off the stack */

static enum ws_json_error parse(const char *s, const char **field)
{
    const char *f;
    enum ws_json_error e = ws_json_parse(s, strlen(s), &m, field ? field : &f);
    return e;
}

static int span_is(struct ws_span s, const char *text)
{
    return s.p && s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

TEST(announce_with_offers)
{
    const char *s =
        "{\"action\":\"announce\",\"info_hash\":\"aaaaaaaaaaaaaaaaaaaa\","
        "\"peer_id\":\"-WW0208-\\u0000\\u001f\\u00ff\xc3\xa9\xc2\x80xyzabcd\",\"numwant\":5,"
        "\"uploaded\":0,\"downloaded\":12,\"left\":null,\"event\":\"started\","
        "\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"},\"offer_id\":\"o1\"},"
        " {\"offer_id\":\"o2\", \"offer\":{\"type\":\"offer\",\"sdp\":\"\"}, \"extra\":[1,{}]}],"
        "\"unknown\":{\"deep\":[[[true,false,null,-1.5e3]]]}}";
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_OK);
    CHECK_EQ_INT(m.action, WS_ACTION_ANNOUNCE);
    CHECK(m.hash_given && !m.hash_list && m.nhashes == 1);
    CHECK_MEM(m.hashes[0], "aaaaaaaaaaaaaaaaaaaa", 20);
    CHECK(m.has_peer_id);
    CHECK_MEM(m.peer_id, "-WW0208-\x00\x1f\xff\xe9\x80xyzabcd", 20);
    CHECK_EQ_INT(m.numwant, 5);
    CHECK(!m.has_left);
    CHECK_EQ_INT(m.event, EVENT_STARTED);
    CHECK_EQ_INT(m.noffers, 2);
    CHECK(span_is(m.offers[0].offer, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}"));
    CHECK(span_is(m.offers[0].offer_id, "\"o1\""));
    CHECK(span_is(m.offers[1].offer_id, "\"o2\""));
    CHECK(!m.answer.p);
}

TEST(answer_and_left)
{
    const char *s = "{\"action\":\"announce\",\"info_hash\":\"bbbbbbbbbbbbbbbbbbbb\","
                    "\"peer_id\":\"cccccccccccccccccccc\",\"to_peer_id\":\"dddddddddddddddddddd\","
                    "\"offer_id\":\"xyz\",\"answer\":{\"type\":\"answer\",\"sdp\":\"s\"},"
                    "\"left\":0,\"event\":\"completed\"}";
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_OK);
    CHECK(m.has_to_peer_id);
    CHECK_MEM(m.to_peer_id, "dddddddddddddddddddd", 20);
    CHECK(span_is(m.offer_id, "\"xyz\""));
    CHECK(span_is(m.answer, "{\"type\":\"answer\",\"sdp\":\"s\"}"));
    CHECK(m.has_left && m.left == 0);
    CHECK_EQ_INT(m.event, EVENT_COMPLETED);
    CHECK_EQ_INT(m.numwant, -1);
    CHECK_EQ_INT(parse("{\"left\":123456789012,\"event\":\"paused\",\"numwant\":-3}", NULL),
                 WS_JSON_OK);
    CHECK(m.has_left && m.left == 123456789012ull);
    CHECK_EQ_INT(m.event, EVENT_NONE);
    CHECK_EQ_INT(m.numwant, -1);
    CHECK_EQ_INT(m.action, WS_ACTION_NONE);
}

TEST(scrape_forms)
{
    CHECK_EQ_INT(parse("{\"action\":\"scrape\"}", NULL), WS_JSON_OK);
    CHECK(m.action == WS_ACTION_SCRAPE && !m.hash_given);
    CHECK_EQ_INT(parse("{\"action\":\"scrape\",\"info_hash\":[\"aaaaaaaaaaaaaaaaaaaa\","
                       "\"bbbbbbbbbbbbbbbbbbbb\"]}",
                       NULL),
                 WS_JSON_OK);
    CHECK(m.hash_given && m.hash_list && m.nhashes == 2);
    CHECK_MEM(m.hashes[1], "bbbbbbbbbbbbbbbbbbbb", 20);
    CHECK_EQ_INT(parse("{\"action\":\"scrape\",\"info_hash\":[]}", NULL), WS_JSON_OK);
    CHECK(m.hash_given && m.nhashes == 0);
}

TEST(bad_fields_and_syntax)
{
    const char *f = NULL;
    CHECK_EQ_INT(parse("{\"info_hash\":\"short\"}", &f), WS_JSON_BAD_FIELD);
    CHECK_STR(f, "info_hash");
    CHECK_EQ_INT(parse("{\"peer_id\":\"\\u0100bbbbbbbbbbbbbbbbbbb\"}", &f), WS_JSON_BAD_FIELD);
    CHECK_STR(f, "peer_id");
    CHECK_EQ_INT(parse("{\"peer_id\":\"\xe2\x82\xac" "bbbbbbbbbbbbbbbbbbb\"}", &f),
                 WS_JSON_BAD_FIELD); /* U+20AC is not a byte */
    CHECK_EQ_INT(parse("{\"numwant\":\"5\"}", &f), WS_JSON_BAD_FIELD);
    CHECK_STR(f, "numwant");
    CHECK_EQ_INT(parse("{\"offers\":[1]}", &f), WS_JSON_BAD_FIELD);
    CHECK_EQ_INT(parse("{\"offers\":[{\"offer\":{}}]}", &f), WS_JSON_BAD_FIELD);
    CHECK_EQ_INT(parse("{\"action\":1}", &f), WS_JSON_BAD_FIELD);
    static const char *const syntax[] = {
        "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":[1 2]}",
        "{\"a\":{\"b\" 1}}", "{'a':1}", "{\"a\":\"unterminated}",
    };
    for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
        int e = parse(syntax[i], NULL);
        if (e != WS_JSON_SYNTAX)
            fprintf(stderr, "  accepted or misread: %s\n", syntax[i]);
        CHECK_EQ_INT(e, WS_JSON_SYNTAX);
    }
}

TEST(depth_limit)
{
    char s[256];
    size_t n = 0;
    n += (size_t)sprintf(s, "{\"x\":");
    for (int i = 0; i < 40; i++)
        s[n++] = '[';
    for (int i = 0; i < 40; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = 0;
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_SYNTAX);
    n = (size_t)sprintf(s, "{\"x\":[[[[1]]]]}");
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_OK);
}

TEST(too_many_offers_and_hashes)
{
    char s[8192];
    size_t n = (size_t)sprintf(s, "{\"offers\":[");
    for (int i = 0; i < WS_MAX_OFFERS + 5; i++)
        n += (size_t)sprintf(s + n, "%s{\"offer\":%d,\"offer_id\":\"%d\"}", i ? "," : "", i, i);
    sprintf(s + n, "]}");
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_OK);
    CHECK_EQ_INT(m.noffers, WS_MAX_OFFERS);
    CHECK(span_is(m.offers[WS_MAX_OFFERS - 1].offer_id, "\"19\""));
    n = (size_t)sprintf(s, "{\"info_hash\":[");
    for (int i = 0; i < WS_MAX_SCRAPE + 1; i++)
        n += (size_t)sprintf(s + n, "%s\"aaaaaaaaaaaaaaaaaaaa\"", i ? "," : "");
    sprintf(s + n, "]}");
    CHECK_EQ_INT(parse(s, NULL), WS_JSON_BAD_FIELD);
}

TEST(writer_escapes)
{
    uint8_t mem[256];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    const uint8_t bytes[] = {0x00, 'a', '"', '\\', 0x1f, 0x7f, 0x80, 0xff, '/'};
    ws_json_put_bytes(&b, bytes, sizeof bytes);
    CHECK(!b.overflow);
    const char *want = "\"\\u0000a\\u0022\\u005c\\u001f\\u007f\\u0080\\u00ff/\"";
    CHECK_EQ_INT(b.len, strlen(want));
    CHECK_MEM(mem, want, b.len);
    /* and it parses back to the same bytes */
    char msg[300];
    uint8_t h[20] = {0x00, 0x80, 0xff, '"', '\\', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                     0xc3, 0xa9};
    buf_init(&b, mem, sizeof mem);
    ws_json_put_bytes(&b, h, 20);
    int n = sprintf(msg, "{\"info_hash\":%.*s}", (int)b.len, (const char *)mem);
    const char *f;
    CHECK_EQ_INT(ws_json_parse(msg, (size_t)n, &m, &f), WS_JSON_OK);
    CHECK_MEM(m.hashes[0], h, 20);
    buf_init(&b, mem, sizeof mem);
    ws_json_put_text(&b, "say \"hi\"\n");
    CHECK_EQ_INT(b.len, strlen("\"say \\u0022hi\\u0022\\u000a\""));
    buf_init(&b, mem, 4);
    ws_json_put_bytes(&b, h, 20);
    CHECK(b.overflow);
}

/* Strings are scanned 8 bytes at a time between special bytes: put each kind of special
 * byte at every position of a 24-byte run and check it is still seen. */
TEST(string_scan_every_position)
{
    char s[256], run[64];
    const char *good[] = {"\\r\\n", "\xc3\xa9", "\\u00ff", "\\\"", "\xe2\x82\xac"};
    const char *bad[] = {"\x01", "\x1f", "\x80", "\xff", "\\x", "\xc3"};
    for (size_t pos = 0; pos <= 24; pos++) {
        for (size_t g = 0; g < sizeof good / sizeof good[0] + sizeof bad / sizeof bad[0]; g++) {
            bool ok = g < sizeof good / sizeof good[0];
            const char *ins = ok ? good[g] : bad[g - sizeof good / sizeof good[0]];
            memset(run, 'a', 24);
            memcpy(run + pos, ins, strlen(ins));
            size_t rl = pos + strlen(ins) + (pos < 24 ? 24 - pos : 0);
            memset(run + pos + strlen(ins), 'b', rl - pos - strlen(ins));
            int n = snprintf(s, sizeof s,
                             "{\"action\":\"announce\",\"offers\":[{\"offer\":{\"sdp\":\"%.*s\"},"
                             "\"offer_id\":\"o\"}]}",
                             (int)rl, run);
            const char *f;
            enum ws_json_error e = ws_json_parse(s, (size_t)n, &m, &f);
            CHECK_EQ_INT(e == WS_JSON_OK, ok);
            if (ok)
                CHECK_EQ_INT(m.offers[0].offer.len, rl + strlen("{\"sdp\":\"\"}"));
        }
    }
    /* A quote inside the run ends the string: the rest is then not JSON. */
    CHECK_EQ_INT(parse("{\"action\":\"announce\",\"x\":\"aaaaaaaaaaa\"aaaaaaaaaaaaaaa\"}", NULL),
                 WS_JSON_SYNTAX);
}

int main(void)
{
    RUN(announce_with_offers);
    RUN(answer_and_left);
    RUN(scrape_forms);
    RUN(bad_fields_and_syntax);
    RUN(depth_limit);
    RUN(too_many_offers_and_hashes);
    RUN(writer_escapes);
    RUN(string_scan_every_position);
    return CHECK_DONE();
}
