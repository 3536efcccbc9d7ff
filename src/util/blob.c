/* blob.c - immutable reference-counted byte buffers.
 *
 * The count uses __atomic builtins: increments are relaxed (a reference can only be taken
 * from one already held), the decrement is acq_rel so the thread that frees sees every
 * other thread's last use of the bytes. */
#include "util/blob.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

struct blob *blob_new(size_t len)
{
    if (len > SIZE_MAX - sizeof(struct blob) - 4096)
        return NULL;
    size_t size = sizeof(struct blob) + len, mapped = 0;
    struct blob *b;
    if (size >= BLOB_MAP_MIN) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        b = p == MAP_FAILED ? NULL : p;
        mapped = size;
    } else {
        b = malloc(size);
    }
    if (b == NULL)
        return NULL;
    __atomic_store_n(&b->refs, 1, __ATOMIC_RELAXED);
    b->len = len;
    b->mapped = mapped;
    return b;
}

struct blob *blob_ref(struct blob *b)
{
    if (b != NULL)
        __atomic_fetch_add(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void blob_unref(struct blob *b)
{
    if (b == NULL || __atomic_fetch_sub(&b->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    if (b->mapped)
        munmap(b, b->mapped);
    else
        free(b);
}
