/* blob.h - immutable, reference-counted bytes shared between threads.
 *
 * Used for large replies built once and sent to many connections (full scrape). The last
 * blob_unref frees it. Thread-safe reference counting; the bytes never change after build. */
#ifndef SWARMD_BLOB_H
#define SWARMD_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob {
    int refs; /* atomic */
    size_t len;
    uint8_t data[];
};

struct blob *blob_new(size_t len); /* refs = 1, len set, data uninitialised; NULL on OOM */
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b); /* NULL is fine */

#endif
