/* fuzz_accesslist.c - libFuzzer harness for the access-list parser.
 *
 * The text is parsed from an exactly-sized heap copy (ASan sees any over-read), twice: once
 * into a buffer of accesslist_max_entries() (which must never be short) and once into a
 * one-entry buffer (which must report the same count without writing past it). Every parsed
 * hash must then be found by the binary search after sorting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "accesslist.h"

static void count_bad(void *ctx, unsigned line, const char *why)
{
    unsigned *last = ctx;
    REQUIRE(line > *last && why && why[0]);
    *last = line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    size_t cap = accesslist_max_entries(size);
    struct accesslist *l = accesslist_alloc(cap);
    uint8_t (*copy)[ACCESS_HASH_LEN] = malloc(cap * ACCESS_HASH_LEN);
    uint8_t one[1][ACCESS_HASH_LEN];
    unsigned last = 0;

    if (!text || !l || !copy) {
        free(text);
        free(l);
        free(copy);
        return 0;
    }
    memcpy(text, data, size);
    size_t n = accesslist_parse(text, size, l->hashes, cap, count_bad, &last);
    REQUIRE(n <= cap);
    REQUIRE(accesslist_parse(text, size, one, 1, NULL, NULL) == n);
    memcpy(copy, l->hashes, n * ACCESS_HASH_LEN);
    l->n = n;
    accesslist_finish(l);
    REQUIRE(l->n <= n);
    for (size_t i = 1; i < l->n; i++)
        REQUIRE(memcmp(l->hashes[i - 1], l->hashes[i], ACCESS_HASH_LEN) < 0);
    for (size_t i = 0; i < n; i++)
        REQUIRE(accesslist_contains(l, copy[i]));
    free(copy);
    free(l);
    free(text);
    return 0;
}
