/* accesslist.h - the torrent access list: a sorted array of info-hashes, and its hot swap.
 *
 * Parsing is pure (text in, hashes out, each bad line reported with its number through a
 * callback); accesslist_load_file adds the I/O and the sort. Lookups are a binary search
 * over 20-byte hashes. A 64-hex (BEP 52 v2) line is kept as its 20-byte truncation, which is
 * what v2 clients put in info_hash.
 *
 * Hot swap: struct access_ctl holds the current list behind an atomic pointer. Workers read
 * it with access_ctl_allowed() and never keep the pointer past the current request; each
 * worker calls access_ctl_quiesce() once per loop tick. The reloader (one thread, the main
 * one) swaps in a new list, then frees the old one only after every worker has ticked since
 * the swap, so no worker can still be reading it (quiescent-state reclamation). */
#ifndef SWARMD_ACCESSLIST_H
#define SWARMD_ACCESSLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCESS_HASH_LEN 20

struct accesslist {
    size_t n;                              /* sorted, unique */
    uint8_t hashes[][ACCESS_HASH_LEN];
};

/* Called for each line that is neither a hash, a comment nor blank; line counts from 1. */
typedef void (*accesslist_bad_fn)(void *ctx, unsigned line, const char *why);

/* Parse text: one 40-hex or 64-hex hash per line (either case), blanks around it, '#'
 * comments (whole line or after the hash), blank lines, CRLF. Writes at most cap hashes to
 * out, in file order (duplicates kept); returns the number of valid hash lines seen (which
 * may exceed cap: the caller then knows its buffer was short). bad may be NULL. Pure. */
size_t accesslist_parse(const char *text, size_t len, uint8_t (*out)[ACCESS_HASH_LEN],
                        size_t cap, accesslist_bad_fn bad, void *ctx);

/* Most hash lines len bytes of text can hold: an upper bound to size accesslist_parse's out. */
size_t accesslist_max_entries(size_t len);

/* Sort and deduplicate a parsed array in place into a list (takes ownership of a block made
 * by accesslist_alloc). */
struct accesslist *accesslist_alloc(size_t cap);
void accesslist_finish(struct accesslist *l);
void accesslist_free(struct accesslist *l);

/* Read and parse a file (bad lines logged as "FILE:LINE: ..." warnings). NULL with a message
 * in err when the file cannot be read or is too large (at most 1 GiB). */
struct accesslist *accesslist_load_file(const char *path, char *err, size_t errlen);

bool accesslist_contains(const struct accesslist *l, const uint8_t *hash);

/* ---- the hot swap ---- */

enum access_mode { ACCESS_OPEN = 0, ACCESS_WHITELIST, ACCESS_BLACKLIST };

struct access_epoch {
    uint64_t ticks; /* bumped by its worker only */
} __attribute__((aligned(64)));

struct access_ctl {
    enum access_mode mode;          /* fixed at start-up */
    struct accesslist *cur;         /* atomic; NULL only in ACCESS_OPEN mode */
    unsigned nworkers;
    struct access_epoch *epochs;    /* one per worker */
    char path[512];                 /* the file, for reloads */
};

/* mode OPEN needs no list. false on allocation failure. Takes ownership of list. */
bool access_ctl_init(struct access_ctl *c, enum access_mode mode, struct accesslist *list,
                     unsigned nworkers);
void access_ctl_destroy(struct access_ctl *c); /* workers stopped */

/* Hot path: whether a torrent may be served. A NULL ctl allows everything. */
bool access_ctl_allowed(const struct access_ctl *c, const uint8_t *hash);

/* Worker w passes a quiescent point: it holds no list pointer from before this call. */
void access_ctl_quiesce(struct access_ctl *c, unsigned w);

/* Replace the list (reloader thread only) and free the old one once every worker has
 * quiesced, waiting at most timeout_ms (after that the old list is leaked, never freed
 * unsafely; returns false then). */
bool access_ctl_swap(struct access_ctl *c, struct accesslist *list, unsigned timeout_ms);

/* ---- start-up and SIGHUP (main thread) ---- */

/* Load the configured list (at most one of whitelist/blacklist is non-empty; both empty:
 * ACCESS_OPEN). The path is kept for reloads. false with a message in err. */
bool access_ctl_open(struct access_ctl *c, const char *whitelist, const char *blacklist,
                     unsigned nworkers, char *err, size_t errlen);

/* Re-read the file and swap it in; on any failure the old list stays and the reason is
 * logged. Returns whether a new list is in use. */
bool access_ctl_reload(struct access_ctl *c);

#endif
