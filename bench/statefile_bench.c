/* statefile_bench.c - time of a state file snapshot and restore, and the file's size.
 *
 *   statefile_bench TORRENTS PEERS_PER_TORRENT [FILE]
 *
 * Fills a store with TORRENTS torrents of PEERS distinct IPv4 peers each (every tenth a
 * seeder, every torrent with a small completed count), saves it with persist_save (encode,
 * write, fsync, rename, fsync the folder), restores it into a fresh store with
 * persist_restore, checks that the counts match, and prints the times and bytes per peer.
 * FILE defaults to ./statefile_bench.state (removed at the end). `make bench-statefile`
 * (part of `make bench`) builds and runs it at 100k x 10; by hand:
 *   make VARIANT=release build/release/libswarmd.a
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Isrc bench/statefile_bench.c \
 *       build/release/libswarmd.a -lz -o statefile_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "persist/persist.h"
#include "store/store.h"
#include "util/clock.h"

static void info_hash(uint8_t h[INFO_HASH_LEN], uint32_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ULL + 0x0123456789abcdefULL;
    for (int k = 0; k < INFO_HASH_LEN; k++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ULL;
        h[k] = (uint8_t)(x >> 56);
    }
}

static store_t *new_store(void)
{
    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = 2700;
    cfg.torrent_keep = 86400;
    memcpy(cfg.hash_key, "statefile-bench!", 16);
    return store_new(&cfg);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: statefile_bench TORRENTS PEERS_PER_TORRENT [FILE]\n");
        return 2;
    }
    uint32_t nt = (uint32_t)strtoul(argv[1], NULL, 10), np = (uint32_t)strtoul(argv[2], NULL, 10);
    const char *path = argc > 3 ? argv[3] : "statefile_bench.state";
    uint64_t rng = 1;
    char err[512];

    clock_init();
    store_t *s = new_store();
    if (!s)
        return 1;
    for (uint32_t p = 0; p < np; p++) {
        for (uint32_t t = 0; t < nt; t++) {
            uint8_t h[INFO_HASH_LEN];
            uint32_t ip = 0x0a000000u + p * 7919u + t;
            struct store_announce_in in;
            struct store_announce_out out;
            info_hash(h, t);
            memset(&in, 0, sizeof in);
            in.info_hash = h;
            in.peer.family = ADDR_V4;
            in.peer.ip[0] = (uint8_t)(ip >> 24);
            in.peer.ip[1] = (uint8_t)(ip >> 16);
            in.peer.ip[2] = (uint8_t)(ip >> 8);
            in.peer.ip[3] = (uint8_t)ip;
            in.peer.port = (uint16_t)(6881 + p);
            in.seeder = p % 10 == 0;
            in.event = p % 10 == 0 ? EVENT_COMPLETED : EVENT_STARTED;
            in.now = clock_now();
            in.rng = &rng;
            if (!store_announce(s, &in, &out))
                return 1;
        }
    }
    struct store_stats before, after;
    store_get_stats(s, &before);

    struct persist_result w, r;
    if (!persist_save(s, path, &w, err, sizeof err)) {
        fprintf(stderr, "save: %s\n", err);
        return 1;
    }
    store_t *s2 = new_store();
    if (persist_restore(s2, path, &r, err, sizeof err) != PERSIST_LOADED) {
        fprintf(stderr, "restore: %s\n", err);
        return 1;
    }
    store_get_stats(s2, &after);
    bool same = before.torrents == after.torrents && before.peers4 == after.peers4 &&
                before.seeders == after.seeders;
    double peers = (double)(before.peers4 + before.peers6);
    printf("%u torrents x %u IPv4 peers = %.0f peers\n", nt, np, peers);
    printf("snapshot: %.3f s (%llu bytes, %.2f bytes/peer)\n", w.seconds,
           (unsigned long long)w.bytes, w.bytes / peers);
    printf("restore:  %.3f s (%llu torrents, %llu peers)\n", r.seconds,
           (unsigned long long)r.torrents, (unsigned long long)r.peers);
    printf("counts %s after restore\n", same ? "equal" : "DIFFER");
    unlink(path);
    store_free(s);
    store_free(s2);
    return same ? 0 : 1;
}
