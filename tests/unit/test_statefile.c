/* test_statefile.c - unit tests of the state file: the codec (persist/statefile.c), store
 * export/import (store/snapshot.c) and save/restore on disk (persist/persist.c): round trips,
 * ages and downtime, exact counts, and every kind of damaged file refused whole. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store_fixture.h"
#include "persist/persist.h"
#include "persist/statefile.h"
#include "store/snapshot.h"
#include "store/store.h"

static uint64_t rng_state = 99;

static store_t *mk(uint32_t timeout, uint32_t keep)
{
    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = timeout;
    cfg.torrent_keep = keep;
    cfg.shards_log2 = 3;
    memcpy(cfg.hash_key, "0123456789abcdef", 16);
    return store_new(&cfg);
}

static void hash_of(uint8_t h[20], unsigned i)
{
    memset(h, 0, 20);
    memcpy(h, &i, sizeof i);
    h[19] = 0x5a;
}

static void ann(store_t *s, unsigned t, bool v6, uint32_t ip, uint16_t port, bool seeder,
                enum announce_event ev, uint32_t now)
{
    struct store_announce_in in;
    struct store_announce_out out;
    uint8_t h[20];
    hash_of(h, t);
    memset(&in, 0, sizeof in);
    in.info_hash = h;
    in.peer.family = v6 ? ADDR_V6 : ADDR_V4;
    if (v6) {
        in.peer.ip[0] = 0x20;
        in.peer.ip[1] = 0x01;
    }
    memcpy(in.peer.ip + (v6 ? 12 : 0), &ip, 4);
    in.peer.port = port;
    in.seeder = seeder;
    in.event = ev;
    in.now = now;
    in.rng = &rng_state;
    CHECK(store_announce(s, &in, &out));
}

static struct swarm_counts scrape(store_t *s, unsigned t)
{
    uint8_t h[20];
    struct swarm_counts c;
    hash_of(h, t);
    store_scrape(s, h, &c);
    return c;
}

static bool store_ok(store_t *s)
{
    char err[256];
    bool ok = store_check(s, err, sizeof err);
    if (!ok)
        fprintf(stderr, "  store_check: %s\n", err);
    return ok;
}

/* Encode a whole store into e (saved at wall time 1000). */
static bool add(void *ctx, const struct snap_torrent *t) { return statefile_add(ctx, t); }

static void encode(store_t *s, uint32_t now, struct statefile_enc *e)
{
    struct snap_scratch sc = {NULL, 0};
    memset(e, 0, sizeof *e);
    CHECK(statefile_begin(e, 1000, 0));
    for (unsigned i = 0; i < store_snapshot_shards(s); i++)
        CHECK(store_export_shard(s, i, now, &sc, add, e));
    CHECK(statefile_finish(e));
    free(sc.p);
}

struct import_ctx {
    store_t *s;
    uint32_t now, downtime;
    uint64_t peers;
};

static bool import_cb(void *ctx, const struct snap_torrent *t)
{
    struct import_ctx *c = ctx;
    return store_import_torrent(c->s, t, c->now, c->downtime, &c->peers);
}

static bool decode_into(store_t *s, const uint8_t *p, size_t len, uint32_t now,
                        uint32_t downtime, char *err)
{
    struct statefile_info info;
    struct import_ctx c = {s, now, downtime, 0};
    return statefile_decode(p, len, &info, import_cb, &c, err, 200);
}

/* A store with v4 and v6 peers, seeders, completed counts and an empty kept torrent. */
static store_t *sample(uint32_t now)
{
    store_t *s = mk(2700, 86400);
    for (unsigned t = 0; t < 50; t++)
        for (unsigned p = 0; p < t % 7; p++)
            ann(s, t, p % 3 == 2, 0x01020300u + p, (uint16_t)(1000 + t), p % 2 == 0,
                p % 2 == 0 ? EVENT_COMPLETED : EVENT_STARTED, now);
    ann(s, 100, false, 9, 9, true, EVENT_COMPLETED, now);
    ann(s, 100, false, 9, 9, true, EVENT_STOPPED, now); /* completed 1, no peers */
    return s;
}

TEST(round_trip_exact_counts)
{
    store_t *a = sample(500), *b = mk(2700, 86400);
    struct statefile_enc e;
    char err[200];
    encode(a, 510, &e);
    CHECK(decode_into(b, e.p, e.len, 7, 0, err));
    CHECK(store_ok(b));
    struct store_stats sa;
    store_get_stats(a, &sa);
    CHECK(fixture_totals_equal(b, &sa));
    for (unsigned t = 0; t < 50; t++) {
        struct swarm_counts ca = scrape(a, t), cb = scrape(b, t);
        CHECK(memcmp(&ca, &cb, sizeof ca) == 0);
    }
    CHECK_EQ_INT(scrape(b, 100).completed, 1);
    /* Loading the same file twice merges instead of doubling anything. */
    CHECK(decode_into(b, e.p, e.len, 7, 0, err));
    CHECK(fixture_totals_equal(b, &sa));
    CHECK_EQ_INT(scrape(b, 5).completed, scrape(a, 5).completed);
    free(e.p);
    store_free(a);
    store_free(b);
}

TEST(ages_and_downtime)
{
    store_t *a = mk(100, 1000), *b = mk(100, 1000), *c = mk(100, 1000);
    struct statefile_enc e;
    char err[200];
    ann(a, 1, false, 1, 1, false, EVENT_STARTED, 10);  /* age 50 at save */
    ann(a, 1, false, 2, 2, true, EVENT_COMPLETED, 55); /* age 5 */
    ann(a, 2, true, 3, 3, false, EVENT_STARTED, 20);   /* age 40, alone */
    encode(a, 60, &e);
    /* After 30 s down: ages 80, 35, 70, all alive; at 1 + 21 s the first expires. */
    CHECK(decode_into(b, e.p, e.len, 1, 30, err));
    CHECK(store_ok(b));
    CHECK_EQ_INT(scrape(b, 1).leechers, 1);
    CHECK_EQ_INT(scrape(b, 1).seeders, 1);
    store_expire_step(b, 1 + 20, 1000);
    CHECK_EQ_INT(scrape(b, 1).leechers, 1);
    store_expire_step(b, 1 + 21, 1000);
    CHECK_EQ_INT(scrape(b, 1).leechers, 0);
    CHECK_EQ_INT(scrape(b, 1).seeders, 1);
    CHECK_EQ_INT(scrape(b, 2).leechers, 1);
    /* After 61 s down the peer of age 50 and the v6 one (age 40) are gone on load; torrent 2
     * had nothing completed, so it is not created at all. */
    CHECK(decode_into(c, e.p, e.len, 1, 61, err));
    CHECK(store_ok(c));
    CHECK_EQ_INT(scrape(c, 1).leechers, 0);
    CHECK_EQ_INT(scrape(c, 1).seeders, 1);
    CHECK_EQ_INT(scrape(c, 1).completed, 1);
    struct store_stats st;
    store_get_stats(c, &st);
    CHECK_EQ_INT(st.torrents, 1);
    free(e.p);
    store_free(a);
    store_free(b);
    store_free(c);
}

TEST(long_downtime_keeps_recent_completed_only)
{
    store_t *a = mk(100, 1000), *b = mk(100, 1000);
    struct statefile_enc e;
    char err[200];
    ann(a, 1, false, 1, 1, true, EVENT_COMPLETED, 10);
    ann(a, 2, false, 1, 1, true, EVENT_COMPLETED, 900);
    encode(a, 1000, &e);
    CHECK(decode_into(b, e.p, e.len, 1, 500, err));
    CHECK(store_ok(b));
    struct store_stats st;
    store_get_stats(b, &st);
    CHECK_EQ_INT(st.torrents, 1); /* torrent 1 idle 990 + 500 > keep */
    CHECK_EQ_INT(st.peers4, 0);
    CHECK_EQ_INT(scrape(b, 2).completed, 1);
    free(e.p);
    store_free(a);
    store_free(b);
}

TEST(empty_store_file)
{
    store_t *a = mk(100, 1000), *b = mk(100, 1000);
    struct statefile_enc e;
    struct statefile_info info;
    char err[200];
    encode(a, 5, &e);
    CHECK_EQ_INT(e.len, STATEFILE_HEADER_SIZE + STATEFILE_TRAILER_SIZE);
    CHECK(statefile_decode(e.p, e.len, &info, NULL, NULL, err, sizeof err));
    CHECK_EQ_INT(info.saved_at, 1000);
    CHECK_EQ_INT(info.torrents, 0);
    free(e.p);
    store_free(a);
    store_free(b);
}

static int delivered;
static bool count_cb(void *ctx, const struct snap_torrent *t)
{
    (void)ctx;
    (void)t;
    delivered++;
    return true;
}

static bool refused(const uint8_t *p, size_t len, const char *want)
{
    struct statefile_info info;
    char err[200];
    delivered = 0;
    bool ok = statefile_decode(p, len, &info, count_cb, NULL, err, sizeof err);
    if (!ok && want && !strstr(err, want))
        fprintf(stderr, "  refused with '%s', expected '%s'\n", err, want);
    return !ok && delivered == 0 && (!want || strstr(err, want));
}

/* Recompute the CRC after an edit, so that the structural checks are what refuses. */
static void fix_crc(uint8_t *p, size_t len)
{
    struct statefile_enc e;
    memset(&e, 0, sizeof e);
    e.p = malloc(len);
    memcpy(e.p, p, len - STATEFILE_TRAILER_SIZE);
    e.len = len - STATEFILE_TRAILER_SIZE;
    e.cap = len;
    e.torrents = p[len - 20] | (uint64_t)p[len - 19] << 8;
    e.peers = p[len - 12] | (uint64_t)p[len - 11] << 8;
    CHECK(statefile_finish(&e));
    memcpy(p, e.p, len);
    free(e.p);
}

TEST(damaged_files_refused_whole)
{
    store_t *a = sample(100);
    struct statefile_enc e;
    encode(a, 100, &e);
    uint8_t *p = malloc(e.len);

    CHECK(refused(e.p, 0, "empty"));
    CHECK(refused((const uint8_t *)"hello world, not a state file", 29, "magic"));
    CHECK(refused(e.p, 12, "truncated"));
    for (size_t cut = STATEFILE_HEADER_SIZE; cut < e.len; cut += 7)
        CHECK(refused(e.p, cut, NULL));
    /* One flipped bit anywhere. */
    for (size_t i = 8; i < e.len; i += 5) {
        memcpy(p, e.p, e.len);
        p[i] ^= 0x10;
        CHECK(refused(p, e.len, NULL));
    }
    memcpy(p, e.p, e.len);
    p[8] = 2;
    CHECK(refused(p, e.len, "version 2"));
    /* Valid checksum, wrong structure. */
    memcpy(p, e.p, e.len);
    p[e.len - 20] ^= 1; /* torrent total */
    fix_crc(p, e.len);
    CHECK(refused(p, e.len, "trailer says"));
    memcpy(p, e.p, e.len);
    p[12] = 2; /* flags: bit 0 is the section flag, bit 1 unknown */
    fix_crc(p, e.len);
    CHECK(refused(p, e.len, "flags"));
    memcpy(p, e.p, e.len);
    p[12] = 1; /* section flag without a section: the bytes before the trailer are a peer */
    fix_crc(p, e.len);
    CHECK(refused(p, e.len, NULL));
    memcpy(p, e.p, e.len);
    p[STATEFILE_HEADER_SIZE + 20 + 2] = 0x7f; /* first torrent's peer count: too many */
    fix_crc(p, e.len);
    CHECK(refused(p, e.len, NULL));
    /* The untouched file still decodes. */
    struct statefile_info info;
    char err[200];
    CHECK(statefile_decode(e.p, e.len, &info, NULL, NULL, err, sizeof err));
    free(p);
    free(e.p);
    store_free(a);
}

TEST(bytes_per_ipv4_peer)
{
    store_t *a = mk(2700, 86400);
    struct statefile_enc e;
    for (unsigned t = 0; t < 100; t++)
        for (unsigned p = 0; p < 10; p++)
            ann(a, t, false, 0x0a000000u + p * 977 + t, 6881, p == 0, EVENT_STARTED, 9);
    encode(a, 10, &e);
    CHECK(e.len < 12 * 1000);
    free(e.p);
    store_free(a);
}

static char *tmpdir(void)
{
    static char d[64];
    snprintf(d, sizeof d, "/tmp/swarmd-unit-sf-XXXXXX");
    return mkdtemp(d);
}

static int count_aside(const char *dir)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c corrupt-", dir);
    FILE *f = popen(cmd, "r");
    int n = 0;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = 0;
        pclose(f);
    }
    return n;
}

TEST(save_restore_on_disk)
{
    char *dir = tmpdir(), path[128], cmd[160];
    CHECK(dir != NULL);
    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/state", dir);
    store_t *a = sample(1), *b = mk(2700, 86400), *c = mk(2700, 86400);
    struct persist_result r;
    char err[512];

    CHECK_EQ_INT(persist_restore(b, path, &r, err, sizeof err), PERSIST_MISSING);
    CHECK(persist_save(a, path, &r, err, sizeof err));
    CHECK(r.torrents > 0);
    /* A leftover temporary file from a crashed save is ignored and removed. */
    snprintf(cmd, sizeof cmd, "%s.tmp", path);
    FILE *f = fopen(cmd, "w");
    if (f) {
        fputs("half a save", f);
        fclose(f);
    }
    CHECK_EQ_INT(persist_restore(b, path, &r, err, sizeof err), PERSIST_LOADED);
    CHECK(access(cmd, F_OK) != 0);
    CHECK(store_ok(b));
    CHECK_EQ_INT(scrape(b, 6).leechers + scrape(b, 6).seeders, 6);
    CHECK_EQ_INT(scrape(b, 100).completed, 1);

    /* A damaged file is refused, moved aside, and nothing is loaded. */
    f = fopen(path, "r+");
    if (f) {
        fseek(f, 40, SEEK_SET);
        fputc('X', f);
        fclose(f);
    }
    CHECK_EQ_INT(persist_restore(c, path, &r, err, sizeof err), PERSIST_REFUSED);
    CHECK(strstr(err, "checksum") != NULL);
    CHECK(strstr(err, ".corrupt-") != NULL);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_INT(count_aside(dir), 1);
    struct store_stats st;
    store_get_stats(c, &st);
    CHECK_EQ_INT(st.torrents, 0);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    store_free(a);
    store_free(b);
    store_free(c);
}

/* The optional section (cluster mode's resume positions): round trip, files without one
 * unchanged, and a section that does not fit is refused whole. */
TEST(section)
{
    store_t *a = sample(100);
    struct statefile_enc plain, with;
    struct snap_scratch sc = {NULL, 0};
    encode(a, 100, &plain);
    memset(&with, 0, sizeof with);
    CHECK(statefile_begin(&with, 1000, 0));
    for (unsigned i = 0; i < store_snapshot_shards(a); i++)
        CHECK(store_export_shard(a, i, 100, &sc, add, &with));
    free(sc.p);
    static const char pos[] = "2 00000000deadbeef 17 1700000000000-3\n";
    CHECK(statefile_add_section(&with, "SWCL", (const uint8_t *)pos, sizeof pos - 1));
    CHECK(statefile_finish(&with));
    CHECK_EQ_INT(with.len, plain.len + sizeof pos - 1 + STATEFILE_SECTION_FOOTER);
    CHECK_EQ_INT(with.p[12], STATEFILE_FLAG_SECTION);
    CHECK_EQ_INT(plain.p[12], 0);

    struct statefile_info info;
    char err[200];
    CHECK(statefile_decode(plain.p, plain.len, &info, NULL, NULL, err, sizeof err));
    CHECK(info.section == NULL && info.section_len == 0);
    store_t *b = mk(2700, 86400);
    CHECK(decode_into(b, with.p, with.len, 100, 0, err));
    CHECK(statefile_decode(with.p, with.len, &info, NULL, NULL, err, sizeof err));
    CHECK(info.section != NULL && info.section_len == sizeof pos - 1);
    CHECK(info.section && memcmp(info.section, pos, sizeof pos - 1) == 0);
    CHECK_MEM(info.section_tag, "SWCL", 4);
    for (unsigned t = 0; t < 6; t++) {
        struct swarm_counts x = scrape(a, t), y = scrape(b, t);
        CHECK_EQ_INT(x.seeders, y.seeders);
        CHECK_EQ_INT(x.leechers, y.leechers);
        CHECK_EQ_INT(x.completed, y.completed);
    }
    CHECK(store_ok(b));

    /* A length reaching into the header, or past the records' end, is refused whole. */
    uint8_t *p = malloc(with.len);
    memcpy(p, with.p, with.len);
    size_t lenpos = with.len - STATEFILE_TRAILER_SIZE - STATEFILE_SECTION_FOOTER;
    p[lenpos] = 0xff;
    p[lenpos + 1] = 0xff;
    fix_crc(p, with.len);
    CHECK(refused(p, with.len, "section"));
    memcpy(p, with.p, with.len);
    p[lenpos] = (uint8_t)(p[lenpos] + 1); /* one byte too long: the last peer is cut */
    fix_crc(p, with.len);
    CHECK(refused(p, with.len, NULL));
    free(p);
    free(plain.p);
    free(with.p);
    store_free(a);
    store_free(b);
}

int main(void)
{
    RUN(round_trip_exact_counts);
    RUN(ages_and_downtime);
    RUN(long_downtime_keeps_recent_completed_only);
    RUN(empty_store_file);
    RUN(damaged_files_refused_whole);
    RUN(section);
    RUN(bytes_per_ipv4_peer);
    RUN(save_restore_on_disk);
    return CHECK_DONE();
}
