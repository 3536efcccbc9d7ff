/* fuzz_statefile.c - libFuzzer harness for the state file decoder and store import.
 *
 * The input is a state file. The first byte also picks the downtime and peer timeout, so
 * expiry on restore is exercised. A file that decodes is imported into a fresh store, which
 * must pass store_check; it is then exported and encoded again, and that file must decode to
 * the same totals (import may drop expired peers and duplicates, never invent any). A refused
 * file must deliver nothing. Any violation aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/statefile.h"
#include "store/snapshot.h"
#include "store/store.h"

struct ctx {
    store_t *s;
    uint32_t downtime;
    uint64_t delivered, peers_in, peers_kept;
};

static bool import_cb(void *arg, const struct snap_torrent *t)
{
    struct ctx *c = arg;
    c->delivered++;
    c->peers_in += (uint64_t)t->n4 + t->n6;
    if (!store_import_torrent(c->s, t, 5, c->downtime, &c->peers_kept))
        abort();
    return true;
}

static bool add_cb(void *arg, const struct snap_torrent *t) { return statefile_add(arg, t); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_config cfg;
    struct statefile_info info;
    char err[256];
    uint8_t knob = size > 20 ? data[size - 20] : 0; /* a byte of the trailer */

    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = 60 + (knob & 0x0f) * 100u;
    cfg.torrent_keep = 1000;
    cfg.shards_log2 = 2;
    store_t *s = store_new(&cfg);
    if (!s)
        return 0;
    struct ctx c = {s, (uint32_t)(knob >> 4) * 97u, 0, 0, 0};
    bool ok = statefile_decode(data, size, &info, import_cb, &c, err, sizeof err);
    if (!ok && c.delivered != 0)
        abort();
    if (ok && (c.delivered != info.torrents || c.peers_in != info.peers))
        abort();
    if (!store_check(s, err, sizeof err)) {
        fprintf(stderr, "store_check: %s\n", err);
        abort();
    }
    struct store_stats st;
    store_get_stats(s, &st);
    if (st.peers4 + st.peers6 != c.peers_kept || c.peers_kept > c.peers_in)
        abort();

    /* Export and decode again: the same torrents and peers come back. */
    struct statefile_enc e;
    struct snap_scratch sc = {NULL, 0};
    memset(&e, 0, sizeof e);
    if (!statefile_begin(&e, info.saved_at, 0))
        abort();
    for (unsigned i = 0; i < store_snapshot_shards(s); i++)
        if (!store_export_shard(s, i, 5, &sc, add_cb, &e))
            abort();
    if (!statefile_finish(&e))
        abort();
    if (!statefile_decode(e.p, e.len, &info, NULL, NULL, err, sizeof err) ||
        info.torrents != st.torrents || info.peers != st.peers4 + st.peers6) {
        fprintf(stderr, "re-encoded file: %s\n", err);
        abort();
    }
    free(sc.p);
    free(e.p);
    store_free(s);
    return 0;
}
