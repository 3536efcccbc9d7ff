/* fuzz.h - what every libFuzzer harness in fuzz/ shares.
 *
 * REQUIRE(cond) aborts when a parser breaks one of its promises: libFuzzer (and the replay
 * driver under make test) report an abort as a crash with the input that caused it. */
#ifndef SWARMD_FUZZ_H
#define SWARMD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond))                                                                         \
            abort();                                                                         \
    } while (0)

#endif
