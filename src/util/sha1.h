/* sha1.h - SHA-1 (FIPS 180-4), only for the WebSocket handshake (RFC 6455 section 4.2.2).
 *
 * Not for anything that needs collision resistance: the handshake uses it as a fixed
 * transform of a key, not as a security primitive. Pure, no allocation, thread-safe. */
#ifndef SWARMD_SHA1_H
#define SWARMD_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1 {
    uint32_t h[5];
    uint64_t total;     /* bytes hashed so far */
    uint8_t block[64];
    size_t used;        /* bytes waiting in block */
};

void sha1_init(struct sha1 *c);
void sha1_update(struct sha1 *c, const void *data, size_t len);
void sha1_final(struct sha1 *c, uint8_t out[SHA1_LEN]);
/* One-shot convenience. */
void sha1_digest(const void *data, size_t len, uint8_t out[SHA1_LEN]);

#endif
