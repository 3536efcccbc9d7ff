/* blob.h - immutable, reference-counted bytes shared between threads.
 *
 * Used for large replies built once and sent to many connections (full scrape). The last
 * blob_unref frees it. Thread-safe reference counting; the bytes never change after build.
 * A big blob (BLOB_MAP_MIN bytes or more) is mapped on its own: whichever thread drops the
 * last reference, and whenever, its pages go back to the kernel at once instead of staying
 * resident in a malloc arena. len may be lowered after blob_new (never raised). */
#ifndef SWARMD_BLOB_H
#define SWARMD_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob {
    int refs; /* atomic */
    size_t len;
    size_t mapped; /* bytes mapped for it, 0 = from malloc */
    uint8_t data[];
};

#define BLOB_MAP_MIN (128 * 1024)

struct blob *blob_new(size_t len); /* refs = 1, len set, data uninitialised; NULL on OOM */
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b); /* NULL is fine */

#endif
