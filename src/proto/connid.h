/* connid.h - stateless, unforgeable BEP 15 connection IDs.
 *
 * id = SipHash-2-4(secret, source address || port || time window). A window is
 * CONNID_WINDOW seconds; an id is accepted in its own window and the next two, so it lives
 * between 2 and 3 minutes (BEP 15: clients use it for 1 minute, trackers accept it for 2).
 * The secret comes from the OS CSPRNG at start and is never published. Checks run in constant
 * time. Thread-safe (the key is read-only after connid_init). */
#ifndef SWARMD_CONNID_H
#define SWARMD_CONNID_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

#define CONNID_WINDOW 60

struct connid_key {
    uint8_t k[16];
};

bool connid_init(struct connid_key *key); /* false if the CSPRNG failed */
uint64_t connid_make(const struct connid_key *key, const struct peer_addr *src, uint32_t now);
bool connid_check(const struct connid_key *key, const struct peer_addr *src, uint32_t now,
                  uint64_t id);

#endif
