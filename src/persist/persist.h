/* persist.h - the state file on disk: save, restore, and the periodic snapshot thread.
 *
 * Save copies the store shard by shard (each shard locked only while copied), encodes it
 * (statefile.h) and replaces FILE crash-safely: FILE.tmp is written and fsynced, renamed over
 * FILE, and the folder fsynced, so a crash at any moment leaves the old or the new complete
 * file. Restore reads FILE into the store before serving; a file that is refused for any
 * reason is logged, renamed to FILE.corrupt-UNIXTIME and the store stays empty. A missing
 * FILE is a normal first start. Saves are serialised by a lock; thread-safe otherwise. */
#ifndef SWARMD_PERSIST_H
#define SWARMD_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct persist_result {
    uint64_t torrents, peers; /* saved, or restored into the store */
    uint64_t bytes;           /* file size */
    double seconds;           /* time taken */
};

/* Snapshot the store into path. false with a reason in err (the old file is untouched). */
bool persist_save(store_t *s, const char *path, struct persist_result *r, char *err,
                  size_t errlen);

enum persist_load {
    PERSIST_LOADED,  /* restored (r filled) */
    PERSIST_MISSING, /* no file: nothing to restore */
    PERSIST_REFUSED, /* refused and moved aside (err says why, and where it went) */
    PERSIST_FAILED,  /* could not be read, or memory ran out while restoring (err) */
};
enum persist_load persist_restore(store_t *s, const char *path, struct persist_result *r,
                                  char *err, size_t errlen);

/* An optional section saved inside every snapshot (cluster mode's stream resume positions,
 * which must describe the same moment as the swarms): capture runs under the save lock
 * right before the store is copied and writes at most cap bytes to buf, returning how many
 * (0: no section). One hook per process; set it before the first save, clear it (NULL)
 * before ctx goes away. */
#define PERSIST_SECTION_MAX 16384
struct persist_hook {
    char tag[4];
    size_t (*capture)(void *ctx, uint8_t *buf, size_t cap);
    void *ctx;
};
void persist_set_hook(const struct persist_hook *h);
/* The section of that tag found by the last successful persist_restore (a copy of at most
 * cap bytes into buf); returns its length, 0 when there was none. */
size_t persist_restored_section(const char tag[4], uint8_t *buf, size_t cap);

/* The snapshot thread: saves every interval_s seconds until persist_stop. */
struct persist *persist_start(store_t *s, const char *path, unsigned interval_s);
/* Stop and join the thread (no save of its own; NULL is fine). */
void persist_stop(struct persist *p);

/* persist_restore / persist_save with the outcome logged (for main.c). The restore never
 * fails start-up: whatever happens, the store is consistent and the tracker can serve. */
void persist_restore_logged(store_t *s, const char *path);
bool persist_save_logged(store_t *s, const char *path);

#endif
