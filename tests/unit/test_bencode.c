/* test_bencode.c - the bencode writer (src/proto/bencode.c) and the decimal appends it is
 * built on (src/util/buf.c), byte for byte, including overflow at every capacity. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "proto/bencode.h"
#include "util/buf.h"

/* The buffer's text as a C string (tests only write printable text here). */
static const char *text(struct buf *b)
{
    static char s[512];
    size_t n = b->len < sizeof s - 1 ? b->len : sizeof s - 1;
    memcpy(s, b->data, n);
    s[n] = '\0';
    return s;
}

TEST(u64)
{
    uint8_t mem[64];
    struct buf b;
    static const struct {
        uint64_t v;
        const char *s;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {4294967295u, "4294967295"},
        {4294967296u, "4294967296"},
        {UINT64_MAX / 10, "1844674407370955161"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_init(&b, mem, sizeof mem);
        buf_put_u64(&b, cases[i].v);
        CHECK(!b.overflow);
        CHECK_STR(text(&b), cases[i].s);
    }
}

TEST(i64)
{
    uint8_t mem[64];
    struct buf b;
    static const struct {
        int64_t v;
        const char *s;
    } cases[] = {
        {0, "0"},
        {-1, "-1"},
        {1, "1"},
        {-10, "-10"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MIN + 1, "-9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_init(&b, mem, sizeof mem);
        buf_put_i64(&b, cases[i].v);
        CHECK(!b.overflow);
        CHECK_STR(text(&b), cases[i].s);
    }
}

TEST(u64_matches_printf)
{
    /* A spread of values against the C library's formatting. */
    uint8_t mem[32];
    char want[32];
    struct buf b;
    uint64_t v = 1;
    for (int i = 0; i < 2000; i++) {
        v = v * 6364136223846793005u + 1442695040888963407u;
        uint64_t x = v >> (i % 64);
        buf_init(&b, mem, sizeof mem);
        buf_put_u64(&b, x);
        snprintf(want, sizeof want, "%" PRIu64, x);
        CHECK(b.len == strlen(want) && memcmp(mem, want, b.len) == 0);
        buf_init(&b, mem, sizeof mem);
        buf_put_i64(&b, (int64_t)x);
        snprintf(want, sizeof want, "%" PRId64, (int64_t)x);
        CHECK(b.len == strlen(want) && memcmp(mem, want, b.len) == 0);
    }
}

TEST(int_overflow_all_or_nothing)
{
    /* A number that does not fit writes nothing and sets the sticky flag. */
    uint8_t mem[8];
    struct buf b;
    buf_init(&b, mem, 3);
    buf_put_u64(&b, 1234);
    CHECK(b.overflow);
    CHECK_EQ_INT(b.len, 0);
    buf_init(&b, mem, 4);
    buf_put_u64(&b, 1234);
    CHECK(!b.overflow);
    CHECK_EQ_INT(b.len, 4);
    buf_init(&b, mem, 4);
    buf_put_i64(&b, -1234);
    CHECK(b.overflow);
    CHECK_EQ_INT(b.len, 0);
    buf_init(&b, mem, 5);
    buf_put_i64(&b, -1234);
    CHECK(!b.overflow);
    CHECK_MEM(mem, "-1234", 5);
    /* sticky: a later small append does nothing */
    buf_init(&b, mem, 2);
    buf_put_u64(&b, 123);
    buf_put_u64(&b, 1);
    CHECK(b.overflow);
    CHECK_EQ_INT(b.len, 0);
}

TEST(put_int)
{
    uint8_t mem[64];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    bencode_put_int(&b, 0);
    bencode_put_int(&b, 42);
    bencode_put_int(&b, -3);
    bencode_put_int(&b, INT64_MIN);
    CHECK(!b.overflow);
    CHECK_STR(text(&b), "i0ei42ei-3ei-9223372036854775808e");
}

TEST(put_str)
{
    uint8_t mem[64];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    bencode_put_str(&b, "spam", 4);
    bencode_put_str(&b, "", 0);
    bencode_put_cstr(&b, "min interval");
    CHECK(!b.overflow);
    CHECK_STR(text(&b), "4:spam0:12:min interval");
}

TEST(put_str_binary)
{
    uint8_t mem[64];
    struct buf b;
    const uint8_t bin[] = {0, 'e', ':', 0xff, 'd'};
    buf_init(&b, mem, sizeof mem);
    bencode_put_str(&b, bin, sizeof bin);
    CHECK_EQ_INT(b.len, 7);
    CHECK_MEM(mem, "5:", 2);
    CHECK_MEM(mem + 2, bin, sizeof bin);
}

TEST(nesting)
{
    uint8_t mem[128];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    bencode_open_dict(&b);
    bencode_put_key_int(&b, "complete", 5);
    bencode_put_cstr(&b, "list");
    bencode_open_list(&b);
    bencode_put_int(&b, 1);
    bencode_put_cstr(&b, "two");
    bencode_open_dict(&b);
    bencode_close(&b);
    bencode_close(&b);
    bencode_close(&b);
    CHECK(!b.overflow);
    CHECK_STR(text(&b), "d8:completei5e4:listli1e3:twodeee");
}

TEST(overflow_every_capacity)
{
    /* Writing the same item sequence into every smaller capacity overflows, never writes past
     * cap, and the exact capacity succeeds. */
    uint8_t full[128], mem[128];
    struct buf b;
    buf_init(&b, full, sizeof full);
    bencode_open_dict(&b);
    bencode_put_key_int(&b, "interval", 1800);
    bencode_put_str(&b, "abcdef", 6);
    bencode_put_int(&b, -77);
    bencode_close(&b);
    size_t need = b.len;
    CHECK(!b.overflow);
    for (size_t cap = 0; cap <= need; cap++) {
        memset(mem, 0xAA, sizeof mem);
        buf_init(&b, mem, cap);
        bencode_open_dict(&b);
        bencode_put_key_int(&b, "interval", 1800);
        bencode_put_str(&b, "abcdef", 6);
        bencode_put_int(&b, -77);
        bencode_close(&b);
        CHECK(b.overflow == (cap < need));
        CHECK(b.len <= cap);
        CHECK_EQ_INT(mem[cap], 0xAA);
        if (cap == need)
            CHECK_MEM(mem, full, need);
    }
}

int main(void)
{
    RUN(u64);
    RUN(i64);
    RUN(u64_matches_printf);
    RUN(int_overflow_all_or_nothing);
    RUN(put_int);
    RUN(put_str);
    RUN(put_str_binary);
    RUN(nesting);
    RUN(overflow_every_capacity);
    return CHECK_DONE();
}
