/* store_mem.c - memory cost of the swarm table: RSS growth per IPv4 peer.
 *
 *   store_mem TORRENTS PEERS [interleaved|grouped]
 *
 * Fills TORRENTS torrents with PEERS distinct IPv4 peers each through store_announce (as the
 * tracker would, numwant 0), then prints the growth of the resident set (from
 * /proc/self/statm, before and after) per peer, and the store's own byte count. "interleaved"
 * (default) adds peer 0 to every torrent, then peer 1, ... so swarms grow side by side as in a
 * live tracker; "grouped" fills one torrent at a time. The hash key and addresses are fixed,
 * so runs are repeatable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static long rss_bytes(void)
{
    long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

static void info_hash(uint8_t h[INFO_HASH_LEN], uint32_t i)
{
    /* Distinct, SHA-1-looking bytes: the store hashes them again with its secret key. */
    uint64_t x = i * 0x9e3779b97f4a7c15ULL + 0x0123456789abcdefULL;
    for (int k = 0; k < INFO_HASH_LEN; k++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ULL;
        h[k] = (uint8_t)(x >> 56);
    }
}

static uint8_t out4[50 * 6], out6[50 * 18];

static bool add_peer(store_t *s, uint32_t t, uint32_t p, unsigned numwant, uint64_t *rng)
{
    uint8_t h[INFO_HASH_LEN];
    struct store_announce_in in;
    struct store_announce_out out;

    info_hash(h, t);
    memset(&in, 0, sizeof in);
    in.info_hash = h;
    in.peer.family = ADDR_V4;
    /* Distinct within a swarm; spread over the address space like real peers. */
    uint32_t ip = (t * 2654435761u) ^ (p * 40503u) ^ 0x0a000000u;
    in.peer.ip[0] = (uint8_t)(ip >> 24);
    in.peer.ip[1] = (uint8_t)(ip >> 16);
    in.peer.ip[2] = (uint8_t)(ip >> 8);
    in.peer.ip[3] = (uint8_t)ip;
    in.peer.port = (uint16_t)(6881 + p);
    in.seeder = (p % 4) != 0;
    in.event = EVENT_STARTED;
    in.now = 1000;
    in.numwant = numwant;
    in.out4 = out4;
    in.out6 = out6;
    in.rng = rng;
    return store_announce(s, &in, &out);
}

/* One announce per (torrent, peer); returns ns per announce, -1 when out of memory. */
static double fill(store_t *s, uint32_t nt, uint32_t np, bool grouped, unsigned numwant,
                   uint64_t *rng)
{
    struct timespec t0, t1;
    bool ok = true;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (grouped) {
        for (uint32_t t = 0; t < nt && ok; t++)
            for (uint32_t p = 0; p < np && ok; p++)
                ok = add_peer(s, t, p, numwant, rng);
    } else {
        for (uint32_t p = 0; p < np && ok; p++)
            for (uint32_t t = 0; t < nt && ok; t++)
                ok = add_peer(s, t, p, numwant, rng);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return ok ? secs * 1e9 / ((double)nt * np) : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TORRENTS PEERS [interleaved|grouped]\n", argv[0]);
        return 2;
    }
    uint32_t nt = (uint32_t)strtoul(argv[1], NULL, 10), np = (uint32_t)strtoul(argv[2], NULL, 10);
    bool grouped = argc > 3 && strcmp(argv[3], "grouped") == 0;
    if (nt == 0 || np == 0) {
        fprintf(stderr, "store_mem: TORRENTS and PEERS must be positive\n");
        return 2;
    }

    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = 2700;
    cfg.torrent_keep = 86400;
    for (int i = 0; i < 16; i++)
        cfg.hash_key[i] = (uint8_t)(0x5a ^ (i * 29));

    long before = rss_bytes();
    store_t *s = store_new(&cfg);
    if (!s) {
        fprintf(stderr, "store_mem: store_new failed\n");
        return 1;
    }
    uint64_t rng = 42;
    double fill_ns = fill(s, nt, np, grouped, 0, &rng);
    long after = rss_bytes();
    /* Then every peer announces again, as a live tracker mostly sees: a refresh, no
     * allocation, and a reply of up to 50 peers. */
    double refresh_ns = fill_ns < 0 ? -1 : fill(s, nt, np, grouped, 50, &rng);
    if (fill_ns < 0 || refresh_ns < 0) {
        fprintf(stderr, "store_mem: out of memory\n");
        return 1;
    }

    struct store_stats st;
    store_get_stats(s, &st);
    double peers = (double)nt * np;
    printf("store_mem: %u torrents x %u peers (%s), %.0f peers\n", nt, np,
           grouped ? "grouped" : "interleaved", peers);
    printf("  %.0f ns per new-peer announce, %.0f ns per refresh announce (numwant 50)\n", fill_ns,
           refresh_ns);
    printf("  torrents %llu, peers4 %llu, seeders %llu, leechers %llu\n",
           (unsigned long long)st.torrents, (unsigned long long)st.peers4,
           (unsigned long long)st.seeders, (unsigned long long)st.leechers);
    printf("  RSS growth   %10.1f MiB  %6.2f bytes/peer\n", (double)(after - before) / 1048576,
           (double)(after - before) / peers);
    printf("  store bytes  %10.1f MiB  %6.2f bytes/peer\n", (double)st.bytes / 1048576,
           (double)st.bytes / peers);
    store_free(s);
    return 0;
}
