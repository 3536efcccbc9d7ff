/* connid.h - stateless, unforgeable BEP 15 connection IDs that every node of a cluster shares.
 *
 * id = tick (16 bits) || tag (48 bits), tick = (unix time / 16) mod 65536, tag = the low 48
 * bits of SipHash-2-4(key, tick || client address as 16 bytes, IPv4 v4-mapped). The port is
 * not in it: a client may use several sockets, and a client that connected to node A may
 * announce to node B. Wall-clock time, not the process clock, because nodes must agree. An
 * id is accepted while its tick is the current one or one of the CONNID_MAX_AGE_TICKS before
 * (so it lives 128 to 144 s; BEP 15 asks for 2 minutes) or one tick ahead (clock skew between
 * nodes), and its tag matches under the current key or, during a rotation, the previous one.
 * Pure: keys and time come from the caller. Tags are compared in constant time. */
#ifndef SWARMD_CONNID_H
#define SWARMD_CONNID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define CONNID_TICK_SECONDS 16
#define CONNID_MAX_AGE_TICKS 8 /* ticks before the current one that are still accepted */
#define CONNID_AHEAD_TICKS 1   /* ticks after it (another node's clock runs ahead) */

struct connid_key {
    uint8_t k[16];
};

/* The keys a check accepts: the current one, and the previous one while has_prev. */
struct connid_keys {
    struct connid_key cur, prev;
    bool has_prev;
};

bool connid_init(struct connid_key *key); /* random key; false if the CSPRNG failed */
uint64_t connid_make(const struct connid_key *key, const struct peer_addr *src,
                     uint32_t unix_now);
bool connid_check(const struct connid_keys *keys, const struct peer_addr *src,
                  uint32_t unix_now, uint64_t id);

/* Secret file text (tracker.udp_secret_file): line 1 is the current key as 32 hex digits,
 * an optional line 2 the previous key; trailing blanks and CRLF are fine, nothing else is.
 * false with the reason (naming the line) in err. */
bool connid_parse_secret(const char *text, size_t len, struct connid_keys *out, char *err,
                         size_t errlen);

#endif
