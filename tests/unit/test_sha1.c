/* test_sha1.c - SHA-1 (FIPS 180-4 examples) and base64 (RFC 4648 section 10 vectors). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "util/base64.h"
#include "util/sha1.h"

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < SHA1_LEN; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static int sha1_is(const char *msg, size_t len, const char *want)
{
    uint8_t d[SHA1_LEN];
    char h[2 * SHA1_LEN + 1];
    sha1_digest(msg, len, d);
    hex(d, h);
    return strcmp(h, want) == 0;
}

TEST(sha1_vectors)
{
    CHECK(sha1_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    CHECK(sha1_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(sha1_is(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
}

TEST(sha1_incremental_million_a)
{
    struct sha1 c;
    char block[1000];
    uint8_t d[SHA1_LEN];
    char h[2 * SHA1_LEN + 1];
    memset(block, 'a', sizeof block);
    sha1_init(&c);
    for (int i = 0; i < 1000; i++)
        sha1_update(&c, block, sizeof block);
    sha1_final(&c, d);
    hex(d, h);
    CHECK_STR(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(sha1_block_boundaries)
{
    /* Every length around the padding edge, fed in two uneven pieces, equals one-shot. */
    char msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)(i * 7 + 1);
    for (size_t len = 0; len <= 130; len++) {
        uint8_t a[SHA1_LEN], b[SHA1_LEN];
        struct sha1 c;
        sha1_digest(msg, len, a);
        sha1_init(&c);
        sha1_update(&c, msg, len / 3);
        sha1_update(&c, msg + len / 3, len - len / 3);
        sha1_final(&c, b);
        CHECK_MEM(a, b, SHA1_LEN);
    }
}

TEST(base64_vectors)
{
    static const char *const want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy"};
    char out[16];
    for (size_t n = 0; n <= 6; n++) {
        size_t w = base64_encode((const uint8_t *)"foobar", n, out);
        CHECK_STR(out, want[n]);
        CHECK_EQ_INT(w, BASE64_LEN(n));
    }
    uint8_t all[3] = {0xfb, 0xff, 0xbf};
    base64_encode(all, 3, out);
    CHECK_STR(out, "+/+/");
}

int main(void)
{
    RUN(sha1_vectors);
    RUN(sha1_incremental_million_a);
    RUN(sha1_block_boundaries);
    RUN(base64_vectors);
    return CHECK_DONE();
}
