/* siphash.h - SipHash-2-4 (Aumasson & Bernstein), a keyed 64-bit PRF.
 *
 * Used where an attacker must not predict or forge a hash: UDP connection IDs and the
 * store's bucket choice (hash flooding). Pure, thread-safe. */
#ifndef SWARMD_SIPHASH_H
#define SWARMD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
