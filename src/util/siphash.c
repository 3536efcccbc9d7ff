/* siphash.c - SipHash-2-4, written from the description in Aumasson & Bernstein,
 * "SipHash: a fast short-input PRF" (2012).
 *
 * The key is two little-endian 64-bit words; the message is read as little-endian 64-bit
 * words, the last one padded with zeros and carrying len mod 256 in its top byte. Two
 * SipRounds per word, four to finish. Byte-wise loads keep it independent of alignment and
 * host endianness. */
#include "util/siphash.h"

#include <stddef.h>
#include <stdint.h>

static inline uint64_t rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s); /* c = 2 compression rounds */
    sip_round(s);
    s->v0 ^= m;
}

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    /* The initial constants spell "somepseudorandomlygeneratedbytes". */
    struct sip_state s = {
        .v0 = k0 ^ 0x736f6d6570736575ULL,
        .v1 = k1 ^ 0x646f72616e646f6dULL,
        .v2 = k0 ^ 0x6c7967656e657261ULL,
        .v3 = k1 ^ 0x7465646279746573ULL,
    };
    size_t whole = len - (len % 8);

    for (size_t i = 0; i < whole; i += 8)
        sip_compress(&s, load_le64(p + i));

    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    sip_compress(&s, last);

    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++) /* d = 4 finalization rounds */
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
