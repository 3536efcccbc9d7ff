/* connid.c - BEP 15 connection IDs derived, not stored (format in connid.h).
 *
 * A tracker that keeps no per-client state cannot be filled by spoofed connects, and without
 * the key nobody can compute an id for an address whose replies they cannot read. Carrying
 * the tick in the clear lets a check hash once per key instead of once per accepted tick;
 * the tick is no secret (anyone can read the clock), the 48-bit tag is what must be guessed.
 * Tag comparisons run without early exit, so timing reveals nothing about a guess. */
#include "proto/connid.h"
#include "util/bytes.h"

#include <stdio.h>
#include <string.h>

#include "util/rng.h"
#include "util/siphash.h"

#define TAG_MASK 0xffffffffffffULL

bool connid_init(struct connid_key *key) { return rng_os_bytes(key->k, sizeof(key->k)); }

static uint64_t tag_of(const struct connid_key *key, const struct peer_addr *src, uint16_t tick)
{
    uint8_t in[2 + 16];

    /* Canonical form: IPv4 as ::ffff:a.b.c.d, so stray bytes after a v4 address never
     * matter and v4 and v6 addresses can never share an input. */
    memset(in, 0, sizeof(in));
    in[0] = (uint8_t)(tick >> 8);
    in[1] = (uint8_t)tick;
    if (src->family == ADDR_V4) {
        in[2 + 10] = 0xff;
        in[2 + 11] = 0xff;
        memcpy(in + 2 + 12, src->ip, 4);
    } else {
        memcpy(in + 2, src->ip, 16);
    }
    return siphash24(key->k, in, sizeof(in)) & TAG_MASK;
}

static uint16_t tick_at(uint32_t unix_now) { return (uint16_t)(unix_now / CONNID_TICK_SECONDS); }

uint64_t connid_make(const struct connid_key *key, const struct peer_addr *src,
                     uint32_t unix_now)
{
    uint16_t tick = tick_at(unix_now);
    return (uint64_t)tick << 48 | tag_of(key, src, tick);
}

/* 1 when d == 0, else 0, without a data-dependent branch: (d - 1) & ~d has its top bit set
 * only for d == 0. */
static uint64_t is_zero(uint64_t d) { return ((d - 1) & ~d) >> 63; }

bool connid_check(const struct connid_keys *keys, const struct peer_addr *src,
                  uint32_t unix_now, uint64_t id)
{
    uint16_t tick = (uint16_t)(id >> 48);
    /* Age in ticks, modulo 2^16: the tick wraps every 12 days and ages are tiny. */
    int16_t age = (int16_t)(uint16_t)(tick_at(unix_now) - tick);
    if (age > CONNID_MAX_AGE_TICKS || age < -CONNID_AHEAD_TICKS)
        return false;
    uint64_t tag = id & TAG_MASK;
    uint64_t ok = is_zero(tag_of(&keys->cur, src, tick) ^ tag);
    if (keys->has_prev)
        ok |= is_zero(tag_of(&keys->prev, src, tick) ^ tag);
    return ok != 0;
}

/* One line without its newline: 32 hex digits, then only blanks. */
static bool parse_key_line(const char *s, size_t n, struct connid_key *key)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n != 32)
        return false;
    for (size_t i = 0; i < 16; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key->k[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

bool connid_parse_secret(const char *text, size_t len, struct connid_keys *out, char *err,
                         size_t errlen)
{
    const char *end = text + len;
    const char *l1 = text, *nl1 = memchr(l1, '\n', len);
    const char *e1 = nl1 ? nl1 : end;

    memset(out, 0, sizeof(*out));
    if (!parse_key_line(l1, (size_t)(e1 - l1), &out->cur)) {
        snprintf(err, errlen, "line 1 must be the current key as 32 hex digits");
        return false;
    }
    if (!nl1 || blank(nl1 + 1, (size_t)(end - nl1 - 1)))
        return true;
    const char *l2 = nl1 + 1, *nl2 = memchr(l2, '\n', (size_t)(end - l2));
    const char *e2 = nl2 ? nl2 : end;
    if (!parse_key_line(l2, (size_t)(e2 - l2), &out->prev)) {
        snprintf(err, errlen, "line 2 must be the previous key as 32 hex digits (or absent)");
        return false;
    }
    if (nl2 && !blank(nl2 + 1, (size_t)(end - nl2 - 1))) {
        snprintf(err, errlen, "only two lines (current key, previous key) are allowed");
        return false;
    }
    out->has_prev = true;
    return true;
}
