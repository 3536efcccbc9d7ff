/* test_stats_pages.c - the statistics pages' pure parts: top-list ranking, tpbs layouts,
 * the cached walks over a real store, access.stats / -A / access.stats_path parsing, the
 * access rule, and the Prometheus and JSON renderers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "dashboard.h"
#include "metrics.h"
#include "stats_http.h"
#include "stats_top.h"

static struct store_entry entry(uint8_t tag, uint32_t seeders, uint32_t leechers)
{
    struct store_entry e;
    memset(&e, 0, sizeof e);
    memset(e.hash, tag, sizeof e.hash);
    e.c.seeders = seeders;
    e.c.leechers = leechers;
    e.c.completed = tag;
    return e;
}

TEST(top_insert_keeps_the_largest_in_order)
{
    struct store_entry l[3];
    unsigned n = 0;
    struct store_entry a = entry(1, 1, 1), b = entry(2, 5, 0), c = entry(3, 0, 9),
                     d = entry(4, 1, 0), e = entry(5, 2, 0);
    n = stats_top_insert(l, n, 3, &a, false);
    n = stats_top_insert(l, n, 3, &b, false);
    n = stats_top_insert(l, n, 3, &c, false);
    n = stats_top_insert(l, n, 3, &d, false); /* smaller than all three: not kept */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(l[0].hash[0], 3);
    CHECK_EQ_INT(l[1].hash[0], 2);
    CHECK_EQ_INT(l[2].hash[0], 1);
    /* by seeders; ties go to the smaller hash */
    n = 0;
    n = stats_top_insert(l, n, 3, &e, true);
    n = stats_top_insert(l, n, 3, &c, true);
    n = stats_top_insert(l, n, 3, &b, true);
    struct store_entry e2 = entry(0, 2, 0);
    n = stats_top_insert(l, n, 3, &e2, true);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(l[0].hash[0], 2);
    CHECK_EQ_INT(l[1].hash[0], 0);
    CHECK_EQ_INT(l[2].hash[0], 5);
    CHECK_EQ_INT(stats_top_insert(l, 0, 0, &a, true), 0);
}

TEST(tpbs_layouts)
{
    char out[STATS_TPBS_ENTRY_MAX];
    struct store_entry e = entry(0xab, 3, 4);
    e.hash[0] = 'g';
    e.hash[1] = '-';
    e.hash[2] = '@';
    e.c.completed = 7;
    size_t n = stats_tpbs_format(TPBS_TXT, &e, out);
    CHECK_EQ_INT(n, 40 + 5);
    CHECK(memcmp(out, "672D40ABAB", 10) == 0);
    CHECK(memcmp(out + 40, ":3:4\n", 5) == 0);
    n = stats_tpbs_format(TPBS_TXTP, &e, out);
    CHECK(memcmp(out + 40, ":3:4:7\n", 7) == 0);
    CHECK_EQ_INT(n, 47);
    n = stats_tpbs_format(TPBS_URL, &e, out);
    CHECK(memcmp(out, "g-%40%ab%ab", 11) == 0);
    CHECK_EQ_INT(n, 2 + 3 + 17 * 3 + 5);
    n = stats_tpbs_format(TPBS_BIN, &e, out);
    CHECK_EQ_INT(n, 28);
    CHECK(memcmp(out, e.hash, 20) == 0);
    CHECK(memcmp(out + 20, "\0\0\0\3\0\0\0\4", 8) == 0);
}

static store_t *new_store(void)
{
    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_timeout = 2700;
    cfg.torrent_keep = 86400;
    cfg.shards_log2 = 4;
    return store_new(&cfg);
}

static void announce(store_t *s, uint8_t tag, uint8_t host, bool seeder)
{
    uint8_t hash[20], out4[64 * 6], out6[64 * 18];
    uint64_t rng = 1;
    memset(hash, tag, sizeof hash);
    struct store_announce_in in;
    memset(&in, 0, sizeof in);
    in.info_hash = hash;
    in.peer.family = ADDR_V4;
    in.peer.ip[0] = 10;
    in.peer.ip[3] = host;
    in.peer.port = 6881;
    in.seeder = seeder;
    in.event = EVENT_STARTED;
    in.now = 100;
    in.numwant = 10;
    in.out4 = out4;
    in.out6 = out6;
    in.rng = &rng;
    struct store_announce_out res;
    CHECK(store_announce(s, &in, &res));
}

TEST(walks_over_a_store_are_sorted_and_cached)
{
    store_t *s = new_store();
    announce(s, 0x20, 1, true);
    announce(s, 0x10, 1, false);
    announce(s, 0x10, 2, true);
    announce(s, 0x10, 3, false);
    struct top_lists *tl = malloc(sizeof *tl);
    CHECK(stats_top_get(s, 100, tl));
    CHECK_EQ_INT(tl->n, 2);
    CHECK_EQ_INT(tl->torrents, 2);
    CHECK_EQ_INT(tl->by_peers[0].hash[0], 0x10);
    CHECK_EQ_INT(tl->by_seeds[0].hash[0], 0x10); /* 1 seeder each: the smaller hash first */
    /* within the cache period a new torrent is not seen yet; after it, it is */
    announce(s, 0x30, 1, true);
    CHECK(stats_top_get(s, 101, tl));
    CHECK_EQ_INT(tl->n, 2);
    CHECK(stats_top_get(s, 100 + STATS_TOP_CACHE_SECONDS, tl));
    CHECK_EQ_INT(tl->n, 3);
    free(tl);

    bool oom;
    struct blob *b = stats_tpbs_get(s, TPBS_TXT, 200, &oom);
    CHECK(b != NULL);
    CHECK(!oom);
    if (b) {
        CHECK_EQ_INT(b->len, 3 * 45);
        CHECK(memcmp(b->data, "1010", 4) == 0); /* sorted by hash */
        CHECK(memcmp(b->data + 45, "2020", 4) == 0);
        CHECK(memcmp(b->data + 40, ":1:2\n", 5) == 0);
        blob_unref(b);
    }
    CHECK(stats_tpbs_get(s, TPBS_NFORMATS, 200, &oom) == NULL);
    /* a second store replaces the cache rather than showing the first one's torrents */
    store_t *s2 = new_store();
    b = stats_tpbs_get(s2, TPBS_TXT, 200, &oom);
    CHECK(b != NULL && b->len == 0);
    blob_unref(b);
    store_free(s2);
    b = stats_tpbs_get(s, TPBS_TXT, 200, &oom);
    CHECK(b != NULL && b->len == 3 * 45);
    blob_unref(b);
    store_free(s);
}

static char err[512];

TEST(access_config)
{
    struct config c;
    config_defaults(&c);
    CHECK_STR(c.stats_path, "/stats");
    CHECK_EQ_INT(c.stats_nets.n, 0);
    CHECK(config_set(&c, "access.stats", "10.0.0.0/8", err, sizeof err));
    CHECK(config_set(&c, "access.stats", "::1", err, sizeof err));
    CHECK_EQ_INT(c.stats_nets.n, 2);
    CHECK(!config_set(&c, "access.stats", "10.0.0.0/33", err, sizeof err));
    CHECK(strstr(err, "access.stats: invalid value '10.0.0.0/33'") != NULL);
    CHECK(!config_set(&c, "access.stats", "example.org", err, sizeof err));
    CHECK(config_set(&c, "access.stats_path", "/secret/stats", err, sizeof err));
    CHECK_STR(c.stats_path, "/secret/stats");
    static const char *const bad[] = {"stats", "/a b", "/a?b", "/a%20", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!config_set(&c, "access.stats_path", bad[i], err, sizeof err));
        CHECK(strstr(err, "access.stats_path: invalid value") != NULL);
    }
    char long_path[200];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    CHECK(!config_set(&c, "access.stats_path", long_path, err, sizeof err));

    /* -A is access.stats, repeatable, and in any order with other flags */
    char *argv[] = {"swarmd", "-A", "192.0.2.0/24", "-p", "0", "-A", "::1", NULL};
    CHECK_EQ_INT(config_parse_args(&c, 7, argv, err, sizeof err), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.stats_nets.n, 2);
    char *bad_argv[] = {"swarmd", "-A", "nonsense", NULL};
    CHECK_EQ_INT(config_parse_args(&c, 3, bad_argv, err, sizeof err), CONFIG_ARGS_ERROR);
    CHECK(strstr(err, "-A: invalid value 'nonsense'") != NULL);
}

static struct peer_addr ip(const char *s)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    addr_parse_ip(&a, s, strlen(s));
    return a;
}

TEST(access_rule)
{
    struct config c;
    config_defaults(&c);
    struct peer_addr lo4 = ip("127.0.0.1"), lo6 = ip("::1"), other = ip("192.0.2.9"),
                     net = ip("10.1.2.3");
    CHECK(stats_http_allowed(&c, &lo4));
    CHECK(stats_http_allowed(&c, &lo6));
    CHECK(!stats_http_allowed(&c, &other));
    CHECK(config_set(&c, "access.stats", "10.0.0.0/8", err, sizeof err));
    CHECK(stats_http_allowed(&c, &net));
    CHECK(!stats_http_allowed(&c, &lo4)); /* a configured list replaces the default */
    CHECK(!stats_http_allowed(&c, &other));
}

TEST(renderers)
{
    struct worker_stats blocks[2];
    memset(blocks, 0, sizeof blocks);
    stat_add(&blocks[0], STAT_HTTP_ANNOUNCE, 3);
    stat_add(&blocks[1], STAT_HTTP_ANNOUNCE, 4);
    struct tracker t;
    memset(&t, 0, sizeof t);
    t.stats = blocks;
    t.nworkers = 2;
    t.started = 10;
    struct stats_snapshot s;
    stats_snapshot_read(&t, 15, &s);
    CHECK_EQ_INT(s.sum[STAT_HTTP_ANNOUNCE], 7);
    CHECK_EQ_INT(s.uptime, 5);
    struct blob *b = metrics_render(&t, &s);
    CHECK(b != NULL);
    if (b) {
        char *text = strndup((const char *)b->data, b->len);
        CHECK(strstr(text, "swarmd_requests_total{proto=\"http\",kind=\"announce\"} 7\n"));
        CHECK(strstr(text, "swarmd_worker_events_total{worker=\"1\",counter=\"http_announce\"}"
                           " 4\n"));
        CHECK(strstr(text, "# TYPE swarmd_torrents gauge\n"));
        CHECK(strstr(text, "# TYPE swarmd_fullscrape_builds_total counter\n"
                           "swarmd_fullscrape_builds_total 0\n"));
        free(text);
        blob_unref(b);
    }
    struct top_lists *tl = calloc(1, sizeof *tl);
    tl->n = 1;
    tl->by_peers[0] = entry(0xab, 1, 2);
    b = dashboard_json(&s, tl, 15);
    CHECK(b != NULL);
    if (b) {
        char *text = strndup((const char *)b->data, b->len);
        CHECK(strstr(text, "\"uptime\":5,"));
        CHECK(strstr(text, "\"http_announce\":7"));
        CHECK(strstr(text, "\"top\":[{\"hash\":\"abababab"));
        CHECK(strstr(text, "\"seeders\":1,\"leechers\":2,\"completed\":171}]}"));
        free(text);
        blob_unref(b);
    }
    free(tl);
    b = dashboard_page();
    CHECK(b != NULL && b->len > 1000);
    CHECK(b && memmem(b->data, b->len, "stats.json", 10) != NULL);
    CHECK(b && memmem(b->data, b->len, "http://", 7) == NULL); /* no external assets */
    blob_unref(b);
}

int main(void)
{
    RUN(top_insert_keeps_the_largest_in_order);
    RUN(tpbs_layouts);
    RUN(walks_over_a_store_are_sorted_and_cached);
    RUN(access_config);
    RUN(access_rule);
    RUN(renderers);
    return CHECK_DONE();
}
