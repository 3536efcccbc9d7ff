/* torrent.h - one swarm as stored: the 40-byte table slot and its packed peers (store/ only).
 *
 * A torrent lives inline in its shard's hash table (table.h); it is never allocated on its
 * own. Its peers are either nothing, one IPv4 peer packed into the slot itself, or one heap
 * block holding a sorted IPv4 vector and, when the swarm has any, a sorted IPv6 vector:
 *
 *   block = [n4 s4][cap4 x 8-byte v4 peer] [n6 s6][cap6 x 20-byte v6 peer]   (v6 part only
 *           when cls6 != 0; n = peers, s = seeders; capacities are size classes, in the slot)
 *
 * A v4 peer is one native uint64_t: address (32 bits) << 32 | port << 16 | stamp, so that
 * integer order is the byte order of (address, port) and a peer is 8 bytes, not 6 + padding.
 * A v6 peer is 16 address bytes, 2 port bytes (network order), 2 stamp bytes (native).
 * The stamp is 15 bits of clock seconds (now mod 32768) with the seeder flag in bit 15; an
 * age is (now - stamp) mod 32768, where the top STAMP_AHEAD values mean a stamp slightly in
 * the future (another thread's clock read). Exact as long as expiry visits every peer less
 * than 32768 - STAMP_AHEAD - peer_timeout seconds after it went stale: with
 * STORE_MAX_PEER_TIMEOUT that leaves over an hour.
 *
 * Every function here runs under the owning shard's lock and updates that shard's tally. */
#ifndef SWARMD_STORE_TORRENT_H
#define SWARMD_STORE_TORRENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"
#include "util/addr.h"

enum torrent_kind {
    TORRENT_EMPTY = 0,  /* no peers (kept only for its completed count) */
    TORRENT_INLINE = 1, /* exactly one IPv4 peer, in u.one */
    TORRENT_BLOCK = 2,  /* u.blk: see above */
};

struct torrent {
    uint8_t hash[INFO_HASH_LEN];
    uint32_t completed;
    uint32_t active; /* clock seconds of the last announce (for torrent_keep) */
    uint8_t psl;     /* table: 0 = free slot, else 1 + distance from the home slot */
    uint8_t kind;    /* enum torrent_kind */
    uint8_t cls4;    /* size class of the v4 vector (TORRENT_BLOCK) */
    uint8_t cls6;    /* size class of the v6 vector; 0 = the block has no v6 part */
    union {
        uint64_t one; /* TORRENT_INLINE: the packed v4 peer */
        uint8_t *blk; /* TORRENT_BLOCK */
    } u;
};

_Static_assert(sizeof(struct torrent) == 40, "a torrent slot is 40 bytes");

/* Per-shard running totals, kept incrementally under the shard lock. */
struct tally {
    uint64_t peers4, peers6, seeders;
    uint64_t bytes; /* heap bytes requested for peer blocks and tables */
};

#define V4_PEER_SIZE 8
#define V6_PEER_SIZE 20
#define V6_KEY_SIZE 18
#define PEER_NONE UINT32_MAX

/* A read-only look at one family's vector (for peer selection). For an inline torrent the
 * v4 view is the slot's own word, n = 1. */
struct peer_view {
    const uint8_t *p; /* records of V4_PEER_SIZE (uint64_t) or V6_PEER_SIZE bytes */
    uint32_t n, seeds;
    bool v6;
};

#define STAMP_SEEDER 0x8000u
#define STAMP_MASK 0x7fffu
#define STAMP_AHEAD 256u

static inline bool view_is_seeder(const struct peer_view *v, uint32_t i)
{
    uint16_t st;
    if (!v->v6)
        return (((const uint64_t *)(const void *)v->p)[i] & STAMP_SEEDER) != 0;
    memcpy(&st, v->p + (size_t)i * V6_PEER_SIZE + V6_KEY_SIZE, 2);
    return (st & STAMP_SEEDER) != 0;
}

/* Write peer i in compact form (BEP 23 / BEP 7): 6 or 18 bytes, network order. */
static inline void view_pack(const struct peer_view *v, uint32_t i, uint8_t *out)
{
    if (v->v6) {
        memcpy(out, v->p + (size_t)i * V6_PEER_SIZE, V6_KEY_SIZE);
        return;
    }
    /* The record's top 6 bytes, most significant first, are exactly the compact entry. */
    uint64_t r = ((const uint64_t *)(const void *)v->p)[i];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    r = __builtin_bswap64(r);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "unknown byte order"
#endif
    memcpy(out, &r, 6);
}

struct peer_view torrent_view(const struct torrent *t, bool v6);
/* Index of the peer with this address in its family's view, or PEER_NONE. */
uint32_t torrent_find_peer(const struct torrent *t, const struct peer_addr *a);

/* Insert or refresh a peer. *prev: -1 new, 0 was a leecher, 1 was a seeder. false only when
 * memory (or the per-swarm size limit) ran out; then nothing changed. */
bool torrent_put(struct torrent *t, const struct peer_addr *a, bool seeder, uint32_t now,
                 struct tally *tl, int *prev);
/* Remove a peer; false when it was not there. */
bool torrent_del(struct torrent *t, const struct peer_addr *a, struct tally *tl);
/* Drop peers whose age exceeds timeout. */
void torrent_expire(struct torrent *t, uint32_t now, uint32_t timeout, struct tally *tl);
/* Drop every peer and free the block (before the slot itself is freed). */
void torrent_clear(struct torrent *t, struct tally *tl);
void torrent_counts(const struct torrent *t, struct swarm_counts *c);
/* Check this torrent's invariants and add its peers and bytes to sum. */
bool torrent_check(const struct torrent *t, struct tally *sum, char *err, size_t errlen);

#endif
