/* statefile.h - the state file's byte format: encoder and decoder (docs/statefile.md).
 *
 * Pure: bytes in memory only, no I/O, no globals; the decoder never allocates. A file is a
 * 24-byte header (magic, version, flags, wall-clock save time), one record per torrent
 * (info-hash, varint completed/idle/peer counts, the peers as snap records: see
 * store/snapshot.h), optionally one tagged section (flags bit 0: cluster mode's stream
 * positions), and a 20-byte trailer (torrent and peer totals, CRC-32 of all bytes before
 * it). Files without a section are exactly version 1 as before. The decoder checks all of it before the first callback: a file that fails any
 * check delivers nothing. Thread-safe (no shared state). */
#ifndef SWARMD_STATEFILE_H
#define SWARMD_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/snapshot.h"

#define STATEFILE_MAGIC "SWARMDSF"
#define STATEFILE_VERSION 1u
#define STATEFILE_HEADER_SIZE 24
#define STATEFILE_TRAILER_SIZE 20
#define STATEFILE_FLAG_SECTION 0x1u /* a section (payload, u32 length, tag) before the trailer */
#define STATEFILE_SECTION_FOOTER 8

/* A growing output buffer. Zero-initialise, then begin, add..., finish; free p afterwards. */
struct statefile_enc {
    uint8_t *p;
    size_t len, cap;
    uint64_t torrents, peers;
    bool failed; /* an allocation failed: the buffer is unusable */
};

/* Start a file saved at wall-clock Unix time saved_at; size_hint bytes are reserved. */
bool statefile_begin(struct statefile_enc *e, uint64_t saved_at, size_t size_hint);
bool statefile_add(struct statefile_enc *e, const struct snap_torrent *t);
/* Optional: one section after the last torrent (flags bit STATEFILE_FLAG_SECTION): n bytes
 * of p under a 4-byte tag, e.g. cluster mode's stream positions ("SWCL"). Call once, after
 * the last statefile_add and before statefile_finish. */
bool statefile_add_section(struct statefile_enc *e, const char tag[4], const uint8_t *p, size_t n);
/* Append the trailer; e->p[0..len) is then the complete file. */
bool statefile_finish(struct statefile_enc *e);

struct statefile_info {
    uint32_t version;
    uint64_t saved_at; /* wall-clock Unix seconds */
    uint64_t torrents, peers;
    char section_tag[4];     /* the optional section (section NULL: none) */
    const uint8_t *section;  /* points into the decoded data */
    size_t section_len;
};

/* Check a whole file, then (fn non-NULL) call fn once per torrent, in file order; the
 * snap_torrent's peer pointers point into data. false with a reason in err when the file is
 * refused (nothing was delivered) or fn returned false ("stopped by the caller"). */
bool statefile_decode(const uint8_t *data, size_t len, struct statefile_info *info,
                      snap_torrent_fn fn, void *ctx, char *err, size_t errlen);

#endif
