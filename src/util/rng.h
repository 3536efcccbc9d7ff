/* rng.h - a small, fast, non-cryptographic PRNG for peer selection and jitter.
 *
 * One state per worker thread (no sharing, no locks). Seeded from the OS CSPRNG. */
#ifndef SWARMD_RNG_H
#define SWARMD_RNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Fill buf with bytes from the OS CSPRNG (getrandom / arc4random / /dev/urandom). */
bool rng_os_bytes(void *buf, size_t len);

static inline uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: one add and three xor-multiplies, good enough to pick peers. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform-enough value in [0, n) for n > 0 (multiply-shift, no division). */
static inline uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

#endif
