/* test_url.c - query iteration, percent-decoding and key matching (src/proto/url.c).
 *
 * Inputs are copied into exactly-sized heap blocks so the ASan build catches any read past
 * the given length. */
#include <stdlib.h>

#include "check.h"
#include "proto/url.h"

/* An exactly-sized heap copy of s[0..n) (one byte allocated for n == 0, never read). */
static char *heap(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (n)
        memcpy(p, s, n);
    return p;
}

/* url_decode on an exact heap copy of the literal. */
static long dec(const char *lit, uint8_t *out, size_t cap)
{
    size_t n = strlen(lit);
    char *in = heap(lit, n);
    long r = url_decode(in, n, out, cap);
    free(in);
    return r;
}

static bool key_is(const char *lit, const char *name)
{
    size_t n = strlen(lit);
    char *in = heap(lit, n);
    bool r = url_key_is(in, n, name);
    free(in);
    return r;
}

/* Collects the pairs of a query as "key=value|" text (value absent = empty). */
static void pairs(const char *lit, char *out, size_t cap)
{
    size_t n = strlen(lit), o = 0;
    char *q = heap(lit, n);
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl;
    query_iter_init(&it, q, n);
    while (query_next(&it, &k, &kl, &v, &vl)) {
        CHECK(k >= q && k + kl <= q + n);
        CHECK(v >= q && v + vl <= q + n);
        if (o + kl + vl + 3 > cap)
            break;
        memcpy(out + o, k, kl);
        o += kl;
        out[o++] = '=';
        memcpy(out + o, v, vl);
        o += vl;
        out[o++] = '|';
    }
    out[o] = '\0';
    free(q);
}

TEST(query_basic)
{
    char s[256];
    pairs("a=1&b=2&c=3", s, sizeof s);
    CHECK_STR(s, "a=1|b=2|c=3|");
    pairs("info_hash=%12%34&peer_id=-TR3000-abc", s, sizeof s);
    CHECK_STR(s, "info_hash=%12%34|peer_id=-TR3000-abc|");
}

TEST(query_empty_pairs_skipped)
{
    char s[256];
    pairs("", s, sizeof s);
    CHECK_STR(s, "");
    pairs("&", s, sizeof s);
    CHECK_STR(s, "");
    pairs("&&&", s, sizeof s);
    CHECK_STR(s, "");
    pairs("&a=1&&b=2&", s, sizeof s);
    CHECK_STR(s, "a=1|b=2|");
}

TEST(query_odd_pairs)
{
    char s[256];
    pairs("flag", s, sizeof s);
    CHECK_STR(s, "flag=|");
    pairs("a=&b", s, sizeof s);
    CHECK_STR(s, "a=|b=|");
    pairs("=v", s, sizeof s);
    CHECK_STR(s, "=v|");
    pairs("a==b", s, sizeof s);
    CHECK_STR(s, "a==b|"); /* key "a", value "=b" */
    pairs("=", s, sizeof s);
    CHECK_STR(s, "=|");
}

TEST(query_value_split)
{
    const char *q = "k=a=b&x";
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl;
    query_iter_init(&it, q, strlen(q));
    CHECK(query_next(&it, &k, &kl, &v, &vl));
    CHECK_EQ_INT(kl, 1);
    CHECK_EQ_INT(vl, 3);
    CHECK(memcmp(v, "a=b", 3) == 0);
    CHECK(query_next(&it, &k, &kl, &v, &vl));
    CHECK_EQ_INT(kl, 1);
    CHECK_EQ_INT(vl, 0);
    CHECK(v == q + strlen(q));
    CHECK(!query_next(&it, &k, &kl, &v, &vl));
    CHECK(!query_next(&it, &k, &kl, &v, &vl)); /* stays at the end */
}

TEST(query_length_respected)
{
    /* Only the first 3 bytes belong to the query. */
    const char *q = "a=1&b=2";
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl;
    query_iter_init(&it, q, 3);
    CHECK(query_next(&it, &k, &kl, &v, &vl));
    CHECK_EQ_INT(vl, 1);
    CHECK(!query_next(&it, &k, &kl, &v, &vl));
}

TEST(decode_plain_and_plus)
{
    uint8_t out[64];
    CHECK_EQ_INT(dec("", out, sizeof out), 0);
    CHECK_EQ_INT(dec("abc", out, sizeof out), 3);
    CHECK_MEM(out, "abc", 3);
    CHECK_EQ_INT(dec("a+b", out, sizeof out), 3);
    CHECK_MEM(out, "a b", 3);
    CHECK_EQ_INT(dec("+++", out, sizeof out), 3);
    CHECK_MEM(out, "   ", 3);
    CHECK_EQ_INT(dec("%2B", out, sizeof out), 1);
    CHECK_EQ_INT(out[0], '+');
}

TEST(decode_escapes)
{
    uint8_t out[64];
    CHECK_EQ_INT(dec("%41", out, sizeof out), 1);
    CHECK_EQ_INT(out[0], 'A');
    CHECK_EQ_INT(dec("%2f%2F", out, sizeof out), 2);
    CHECK_MEM(out, "//", 2);
    CHECK_EQ_INT(dec("%00", out, sizeof out), 1);
    CHECK_EQ_INT(out[0], 0);
    CHECK_EQ_INT(dec("%ff%FF%aB", out, sizeof out), 3);
    CHECK_EQ_INT(out[0], 0xff);
    CHECK_EQ_INT(out[1], 0xff);
    CHECK_EQ_INT(out[2], 0xab);
    CHECK_EQ_INT(dec("x%25y", out, sizeof out), 3);
    CHECK_MEM(out, "x%y", 3);
    /* a decoded '%' is data, not the start of another escape */
    CHECK_EQ_INT(dec("%2541", out, sizeof out), 3);
    CHECK_MEM(out, "%41", 3);
}

TEST(decode_malformed)
{
    uint8_t out[64];
    CHECK_EQ_INT(dec("%", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%4", out, sizeof out), -1);
    CHECK_EQ_INT(dec("ab%", out, sizeof out), -1);
    CHECK_EQ_INT(dec("ab%4", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%zz", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%g0", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%0g", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%:0", out, sizeof out), -1); /* ':' follows '9' */
    CHECK_EQ_INT(dec("%/0", out, sizeof out), -1); /* '/' precedes '0' */
    CHECK_EQ_INT(dec("%@0", out, sizeof out), -1); /* '@' precedes 'A' */
    CHECK_EQ_INT(dec("%G0", out, sizeof out), -1);
    CHECK_EQ_INT(dec("% 41", out, sizeof out), -1);
    CHECK_EQ_INT(dec("%%41", out, sizeof out), -1);
    CHECK_EQ_INT(dec("abc%41%", out, sizeof out), -1);
}

TEST(decode_capacity)
{
    uint8_t out[4];
    CHECK_EQ_INT(dec("abcd", out, 4), 4);
    CHECK_EQ_INT(dec("abcde", out, 4), -1);
    CHECK_EQ_INT(dec("%41%42%43%44", out, 4), 4);
    CHECK_MEM(out, "ABCD", 4);
    CHECK_EQ_INT(dec("%41%42%43%44%45", out, 4), -1);
    CHECK_EQ_INT(dec("", out, 0), 0);
    CHECK_EQ_INT(dec("a", out, 0), -1);
    CHECK_EQ_INT(dec("+", out, 0), -1);
}

TEST(decode_every_byte)
{
    /* All 256 byte values round-trip through %XX, in both cases of hex. */
    static const char hx[] = "0123456789abcdef";
    static const char HX[] = "0123456789ABCDEF";
    char in[256 * 3];
    uint8_t out[256];
    for (int upper = 0; upper < 2; upper++) {
        for (int i = 0; i < 256; i++) {
            in[i * 3] = '%';
            in[i * 3 + 1] = (upper ? HX : hx)[i >> 4];
            in[i * 3 + 2] = (upper ? HX : hx)[i & 15];
        }
        char *h = heap(in, sizeof in);
        CHECK_EQ_INT(url_decode(h, sizeof in, out, sizeof out), 256);
        free(h);
        for (int i = 0; i < 256; i++)
            CHECK_EQ_INT(out[i], i);
    }
}

TEST(decode_raw_bytes_pass_through)
{
    /* Bytes that should have been escaped are kept as they are (lenient on input). */
    const char raw[] = {'a', (char)0xff, (char)0x80, '=', '&', '\0'};
    uint8_t out[8];
    char *h = heap(raw, sizeof raw);
    CHECK_EQ_INT(url_decode(h, sizeof raw, out, sizeof out), 6);
    CHECK_MEM(out, raw, 6);
    free(h);
}

TEST(key_is)
{
    CHECK(key_is("info_hash", "info_hash"));
    CHECK(key_is("info%5Fhash", "info_hash"));
    CHECK(key_is("info%5fhash", "info_hash"));
    CHECK(key_is("%69%6e%66%6f%5f%68%61%73%68", "info_hash"));
    CHECK(!key_is("info_has", "info_hash"));
    CHECK(!key_is("info_hashx", "info_hash"));
    CHECK(!key_is("INFO_HASH", "info_hash"));
    CHECK(!key_is("info%5", "info_"));
    CHECK(!key_is("info%", "info"));
    CHECK(!key_is("info%zz", "info"));
    CHECK(key_is("a+b", "a b"));
    CHECK(!key_is("a%00", "a"));
    CHECK(key_is("", ""));
    CHECK(!key_is("", "a"));
    CHECK(!key_is("a", ""));
}

int main(void)
{
    RUN(query_basic);
    RUN(query_empty_pairs_skipped);
    RUN(query_odd_pairs);
    RUN(query_value_split);
    RUN(query_length_respected);
    RUN(decode_plain_and_plus);
    RUN(decode_escapes);
    RUN(decode_malformed);
    RUN(decode_capacity);
    RUN(decode_every_byte);
    RUN(decode_raw_bytes_pass_through);
    RUN(key_is);
    return CHECK_DONE();
}
