/* fuzz_http_params.c - libFuzzer harness for query-string handling (proto/url.c and
 * proto/http_params.c).
 *
 * The input is a query string, parsed from an exactly-sized heap copy as an announce and as
 * a scrape (at two capacities); results are checked with abort(). url_decode is compared with
 * a slow reference decoder at every interesting output capacity, query_next with the bounds
 * it promises, and url_key_is with decoding. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/http_params.h"
#include "proto/url.h"

static const char *const announce_reasons[] = {
    "missing info_hash", "invalid info_hash", "duplicate info_hash", "missing peer_id",
    "invalid peer_id",   "missing port",      "invalid port",        "invalid uploaded",
    "invalid downloaded", "invalid left",     "malformed query",
};
static const char *const scrape_reasons[] = {
    "too many info_hash", "invalid info_hash", "malformed query",
};

static bool known(const char *r, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(r, list[i]) == 0)
            return true;
    }
    return false;
}

/* Reference: decoded length, or -1 when malformed. Writes at most cap bytes to out. */
static long ref_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = in[i + k];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= h - '0';
                else if (h >= 'a' && h <= 'f')
                    v |= h - 'a' + 10;
                else if (h >= 'A' && h <= 'F')
                    v |= h - 'A' + 10;
                else
                    return -1;
            }
            c = v;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o < cap)
            out[o] = (uint8_t)c;
        o++;
    }
    return (long)o;
}

static void check_decode(const char *q, size_t size)
{
    uint8_t *ref = malloc(size ? size : 1);
    long want = ref_decode(q, size, ref, size);
    REQUIRE(want <= (long)size);
    /* exact-size output buffers, so ASan sees any write past cap */
    size_t caps[3] = {size, want > 0 ? (size_t)want : 0, want > 0 ? (size_t)want - 1 : 0};
    for (int i = 0; i < 3; i++) {
        uint8_t *out = malloc(caps[i] ? caps[i] : 1);
        long got = url_decode(q, size, out, caps[i]);
        if (want < 0 || (size_t)want > caps[i]) {
            REQUIRE(got == -1);
        } else {
            REQUIRE(got == want);
            REQUIRE(memcmp(out, ref, (size_t)got) == 0);
        }
        free(out);
    }
    /* url_key_is agrees with decoding */
    static const char *const names[] = {"info_hash", "peer_id", "port", ""};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(names[i]);
        bool same = want == (long)n && memcmp(ref, names[i], n) == 0;
        REQUIRE(url_key_is(q, size, names[i]) == same);
    }
    free(ref);
}

static void check_iter(const char *q, size_t size)
{
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl, pairs = 0;
    const char *last = q;
    query_iter_init(&it, q, size);
    while (query_next(&it, &k, &kl, &v, &vl)) {
        REQUIRE(k >= last && k + kl <= q + size);
        REQUIRE(v >= k + kl && v + vl <= q + size);
        REQUIRE(kl + vl > 0 || v == k + 1);
        REQUIRE(memchr(k, '&', kl) == NULL && memchr(k, '=', kl) == NULL);
        REQUIRE(memchr(v, '&', vl) == NULL);
        last = v + vl;
        REQUIRE(++pairs <= size);
    }
}

static void check_announce(const char *q, size_t size)
{
    struct announce_req a;
    const char *r = http_parse_announce(q, size, &a);
    if (r) {
        REQUIRE(known(r, announce_reasons, sizeof announce_reasons / sizeof *announce_reasons));
        return;
    }
    REQUIRE(a.port != 0 || a.event == EVENT_STOPPED);
    REQUIRE(a.event >= EVENT_NONE && a.event <= EVENT_STOPPED);
    REQUIRE(a.numwant >= -1);
    REQUIRE(a.claimed4.family == 0 || a.claimed4.family == ADDR_V4);
    REQUIRE(a.claimed6.family == 0 || a.claimed6.family == ADDR_V6);
    REQUIRE(a.has_key || a.key == 0);
    /* a success needs these names somewhere in the input */
    REQUIRE(size >= 3 * 20);
}

static uint8_t hashes[SCRAPE_MAX_HASHES][INFO_HASH_LEN];

static void check_scrape(const char *q, size_t size)
{
    struct scrape_req s, big;
    const char *r = http_parse_scrape(q, size, hashes, 4, &s);
    REQUIRE(s.hashes == (const uint8_t(*)[INFO_HASH_LEN])hashes);
    REQUIRE(s.count <= 4);
    if (r)
        REQUIRE(known(r, scrape_reasons, sizeof scrape_reasons / sizeof *scrape_reasons));
    const char *rb = http_parse_scrape(q, size, hashes, SCRAPE_MAX_HASHES, &big);
    REQUIRE(big.count <= SCRAPE_MAX_HASHES);
    if (rb)
        REQUIRE(known(rb, scrape_reasons, sizeof scrape_reasons / sizeof *scrape_reasons));
    /* a larger capacity changes only the "too many" outcome */
    if (!r)
        REQUIRE(!rb && big.count == s.count);
    else if (strcmp(r, "too many info_hash") != 0)
        REQUIRE(rb && strcmp(rb, r) == 0);
    if (!rb)
        REQUIRE(big.count == 0 || size >= 30 * big.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size ? size : 1);
    if (!q)
        return 0;
    if (size)
        memcpy(q, data, size);
    check_decode(q, size);
    check_iter(q, size);
    check_announce(q, size);
    check_scrape(q, size);
    free(q);
    return 0;
}
