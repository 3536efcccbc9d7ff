/* connid.c - BEP 15 connection IDs derived, not stored.
 *
 * id = SipHash-2-4(key, family | ip[16] | port | window), window = now / CONNID_WINDOW, all
 * multi-byte fields big-endian. A tracker that keeps no per-client state cannot be filled
 * by spoofed connects, and without the key nobody can compute an id for an address whose
 * replies they cannot read. Checking recomputes the ids of the three accepted windows and
 * compares all of them without early exit, so timing reveals nothing about a guess. */
#include "proto/connid.h"

#include <string.h>

#include "util/rng.h"
#include "util/siphash.h"

#define CONNID_INPUT_LEN (1 + 16 + 2 + 4)

bool connid_init(struct connid_key *key) { return rng_os_bytes(key->k, sizeof(key->k)); }

static uint64_t connid_for_window(const struct connid_key *key, const struct peer_addr *src,
                                  uint32_t window)
{
    uint8_t in[CONNID_INPUT_LEN];

    /* Canonical form: only the bytes the family uses, so an address built carelessly (stray
     * bytes after a v4 address) still gets the same id. */
    memset(in, 0, sizeof(in));
    in[0] = src->family;
    memcpy(in + 1, src->ip, src->family == ADDR_V4 ? 4 : 16);
    in[17] = (uint8_t)(src->port >> 8);
    in[18] = (uint8_t)src->port;
    in[19] = (uint8_t)(window >> 24);
    in[20] = (uint8_t)(window >> 16);
    in[21] = (uint8_t)(window >> 8);
    in[22] = (uint8_t)window;
    return siphash24(key->k, in, sizeof(in));
}

uint64_t connid_make(const struct connid_key *key, const struct peer_addr *src, uint32_t now)
{
    return connid_for_window(key, src, now / CONNID_WINDOW);
}

/* 1 when d == 0, else 0, without a data-dependent branch: (d - 1) & ~d has its top bit set
 * only for d == 0. */
static uint64_t is_zero(uint64_t d) { return ((d - 1) & ~d) >> 63; }

bool connid_check(const struct connid_key *key, const struct peer_addr *src, uint32_t now,
                  uint64_t id)
{
    uint32_t w = now / CONNID_WINDOW;
    uint64_t ok = 0;

    /* Windows w, w-1, w-2. Near the clock's origin w-1 and w-2 wrap to huge windows no id
     * was ever made for, which is harmless. */
    for (uint32_t back = 0; back < 3; back++)
        ok |= is_zero(connid_for_window(key, src, w - back) ^ id);
    return ok != 0;
}
