/* statefile.c - encoding and decoding the state file (format: docs/statefile.md).
 *
 * Numbers in headers are little-endian fixed width; per-torrent numbers are LEB128 varints
 * because nearly all of them are small, which is what keeps a 10-peer swarm's file cost under
 * 11 bytes per IPv4 peer. The decoder walks the records twice: once to validate everything,
 * once to deliver, so a refused file never leaves half a state behind. */
#include "persist/statefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define VARINT_MAX 5 /* bytes of a 32-bit LEB128 varint */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool enc_reserve(struct statefile_enc *e, size_t more)
{
    if (e->failed)
        return false;
    if (e->len + more <= e->cap)
        return true;
    size_t cap = e->cap ? e->cap : 4096;
    while (cap < e->len + more)
        cap += cap / 2;
    uint8_t *p = realloc(e->p, cap);
    if (!p) {
        e->failed = true;
        return false;
    }
    e->p = p;
    e->cap = cap;
    return true;
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

bool statefile_begin(struct statefile_enc *e, uint64_t saved_at, size_t size_hint)
{
    e->len = 0;
    e->torrents = e->peers = 0;
    e->failed = false;
    if (!enc_reserve(e, size_hint + STATEFILE_HEADER_SIZE + STATEFILE_TRAILER_SIZE))
        return false;
    memcpy(e->p, STATEFILE_MAGIC, 8);
    put_le(e->p + 8, STATEFILE_VERSION, 4);
    put_le(e->p + 12, 0, 4);
    put_le(e->p + 16, saved_at, 8);
    e->len = STATEFILE_HEADER_SIZE;
    return true;
}

bool statefile_add(struct statefile_enc *e, const struct snap_torrent *t)
{
    size_t b4 = (size_t)t->n4 * SNAP_PEER4_SIZE, b6 = (size_t)t->n6 * SNAP_PEER6_SIZE;
    if (!enc_reserve(e, INFO_HASH_LEN + 4 * VARINT_MAX + b4 + b6))
        return false;
    uint8_t *w = e->p + e->len;
    memcpy(w, t->info_hash, INFO_HASH_LEN);
    w += INFO_HASH_LEN;
    w += put_varint(w, t->completed);
    w += put_varint(w, t->idle);
    w += put_varint(w, t->n4);
    w += put_varint(w, t->n6);
    if (b4)
        memcpy(w, t->peers4, b4);
    w += b4;
    if (b6)
        memcpy(w, t->peers6, b6);
    w += b6;
    e->len = (size_t)(w - e->p);
    e->torrents++;
    e->peers += (uint64_t)t->n4 + t->n6;
    return true;
}

bool statefile_add_section(struct statefile_enc *e, const char tag[4], const uint8_t *p, size_t n)
{
    if (n > UINT32_MAX || !enc_reserve(e, n + STATEFILE_SECTION_FOOTER))
        return false;
    if (n)
        memcpy(e->p + e->len, p, n);
    put_le(e->p + e->len + n, n, 4);
    memcpy(e->p + e->len + n + 4, tag, 4);
    e->len += n + STATEFILE_SECTION_FOOTER;
    put_le(e->p + 12, get_le(e->p + 12, 4) | STATEFILE_FLAG_SECTION, 4);
    return true;
}

bool statefile_finish(struct statefile_enc *e)
{
    if (!enc_reserve(e, STATEFILE_TRAILER_SIZE))
        return false;
    uint8_t *w = e->p + e->len;
    put_le(w, e->torrents, 8);
    put_le(w + 8, e->peers, 8);
    /* zlib's crc32 takes a uInt length: feed big files in pieces. */
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t done = 0, total = e->len + 16;
    while (done < total) {
        size_t n = total - done > (1u << 30) ? (1u << 30) : total - done;
        crc = crc32(crc, e->p + done, (uInt)n);
        done += n;
    }
    put_le(w + 16, crc, 4);
    e->len += STATEFILE_TRAILER_SIZE;
    return true;
}

/* ---- decoding ---- */

static bool get_varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < VARINT_MAX; i++) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            /* Reject overlong forms and values past 32 bits: one value, one encoding. */
            if (v > UINT32_MAX || (i > 0 && b == 0))
                return false;
            *out = (uint32_t)v;
            return true;
        }
    }
    return false;
}

#define REFUSE(...)                                                                               \
    do {                                                                                          \
        snprintf(err, errlen, __VA_ARGS__);                                                       \
        return false;                                                                             \
    } while (0)

/* One pass over the records in [p, end): validate only (fn NULL) or deliver. */
static bool walk(const uint8_t *p, const uint8_t *end, const struct statefile_info *info,
                 snap_torrent_fn fn, void *ctx, char *err, size_t errlen)
{
    uint64_t torrents = 0, peers = 0;
    while (p < end) {
        struct snap_torrent t;
        if ((size_t)(end - p) < INFO_HASH_LEN)
            REFUSE("torrent %llu: cut short", (unsigned long long)torrents);
        memcpy(t.info_hash, p, INFO_HASH_LEN);
        p += INFO_HASH_LEN;
        if (!get_varint(&p, end, &t.completed) || !get_varint(&p, end, &t.idle) ||
            !get_varint(&p, end, &t.n4) || !get_varint(&p, end, &t.n6))
            REFUSE("torrent %llu: bad or cut short counts", (unsigned long long)torrents);
        uint64_t b4 = (uint64_t)t.n4 * SNAP_PEER4_SIZE, b6 = (uint64_t)t.n6 * SNAP_PEER6_SIZE;
        if (b4 + b6 > (uint64_t)(end - p))
            REFUSE("torrent %llu: %u + %u peers run past the end", (unsigned long long)torrents,
                   t.n4, t.n6);
        t.peers4 = p;
        t.peers6 = p + b4;
        p += b4 + b6;
        torrents++;
        peers += (uint64_t)t.n4 + t.n6;
        if (fn && !fn(ctx, &t))
            REFUSE("stopped by the caller at torrent %llu", (unsigned long long)torrents);
    }
    if (torrents != info->torrents || peers != info->peers)
        REFUSE("holds %llu torrents and %llu peers, trailer says %llu and %llu",
               (unsigned long long)torrents, (unsigned long long)peers,
               (unsigned long long)info->torrents, (unsigned long long)info->peers);
    return true;
}

bool statefile_decode(const uint8_t *data, size_t len, struct statefile_info *info,
                      snap_torrent_fn fn, void *ctx, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (len == 0)
        REFUSE("empty file");
    if (len < 8 || memcmp(data, STATEFILE_MAGIC, 8) != 0)
        REFUSE("not a swarmd state file (bad magic)");
    if (len < STATEFILE_HEADER_SIZE)
        REFUSE("truncated header (%zu bytes)", len);
    info->version = (uint32_t)get_le(data + 8, 4);
    if (info->version != STATEFILE_VERSION)
        REFUSE("format version %u, this swarmd reads version %u", info->version,
               STATEFILE_VERSION);
    if (len < STATEFILE_HEADER_SIZE + STATEFILE_TRAILER_SIZE)
        REFUSE("truncated (%zu bytes)", len);

    const uint8_t *tr = data + len - STATEFILE_TRAILER_SIZE;
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t done = 0, total = len - 4;
    while (done < total) {
        size_t n = total - done > (1u << 30) ? (1u << 30) : total - done;
        crc = crc32(crc, data + done, (uInt)n);
        done += n;
    }
    if ((uint32_t)crc != (uint32_t)get_le(tr + 16, 4))
        REFUSE("checksum mismatch (truncated or corrupt)");
    uint32_t flags = (uint32_t)get_le(data + 12, 4);
    if (flags & ~STATEFILE_FLAG_SECTION)
        REFUSE("unknown flags 0x%x", flags);
    info->saved_at = get_le(data + 16, 8);
    info->torrents = get_le(tr, 8);
    info->peers = get_le(tr + 8, 8);
    info->section = NULL;
    info->section_len = 0;
    memset(info->section_tag, 0, sizeof info->section_tag);

    const uint8_t *body = data + STATEFILE_HEADER_SIZE, *end = tr;
    if (flags & STATEFILE_FLAG_SECTION) {
        size_t room = (size_t)(tr - body);
        if (room < STATEFILE_SECTION_FOOTER)
            REFUSE("section flag set but no room for a section");
        size_t n = (size_t)get_le(tr - STATEFILE_SECTION_FOOTER, 4);
        if (n > room - STATEFILE_SECTION_FOOTER)
            REFUSE("section of %zu bytes does not fit the file", n);
        memcpy(info->section_tag, tr - 4, 4);
        end = tr - STATEFILE_SECTION_FOOTER - n;
        info->section = end;
        info->section_len = n;
    }
    if (!walk(body, end, info, NULL, NULL, err, errlen))
        return false;
    if (fn && !walk(body, end, info, fn, ctx, err, errlen))
        return false;
    if (errlen)
        err[0] = '\0';
    return true;
}
