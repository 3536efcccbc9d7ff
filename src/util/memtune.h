/* memtune.h - keep the allocator from holding on to memory the daemon freed.
 *
 * glibc's malloc raises its mmap threshold to the size of every large block freed, so after
 * the first full scrape its multi-megabyte buffers come from the arenas instead of mmap,
 * and the arenas keep the pages once the buffers are freed; peer blocks freed by expiry
 * likewise leave free pages inside the arenas that are only returned on request. These two
 * calls undo both: main.c pins the threshold at start-up and releases after every expiry
 * pass, fullscrape.c after every build. Elsewhere than glibc they do nothing. */
#ifndef SWARMD_UTIL_MEMTUNE_H
#define SWARMD_UTIL_MEMTUNE_H

/* Pin the mmap threshold (no dynamic raise): every block of MEMTUNE_MMAP_MIN bytes or more
 * is mapped on its own and unmapped when freed. Call once, before any thread starts. */
void memtune_init(void);

/* Return free pages inside every arena to the kernel (malloc_trim). Takes each arena's lock
 * in turn, briefly: call from a background thread, not per request. */
void memtune_release(void);

#define MEMTUNE_MMAP_MIN (128 * 1024)

#endif
