/* memtune.c - allocator settings and periodic release of freed memory (see memtune.h). */
#include "util/memtune.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void memtune_init(void)
{
#if defined(__GLIBC__)
    /* Setting it at all switches off glibc's dynamic adjustment; the value is its default. */
    mallopt(M_MMAP_THRESHOLD, MEMTUNE_MMAP_MIN);
#endif
}

void memtune_release(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
