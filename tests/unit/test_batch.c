/* test_batch.c - the cluster batch codec (src/cluster/batch.c): exact bytes, round trips,
 * every reject reason and its label. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cluster/batch.h"

#define NOW 1764000000u
#define TIMEOUT 1800u

static const uint16_t nodes[] = {1, 2, 3};

static struct batch_expect expect_for(uint16_t self)
{
    struct batch_expect e = {
        .cluster = 0xfabd465f, /* SHA-1("swarmd") = fabd465f... */
        .self = self,
        .nodes = nodes,
        .n_nodes = 3,
        .now = NOW,
        .peer_timeout = TIMEOUT,
    };
    return e;
}

static struct batch_header header_from(uint16_t origin)
{
    struct batch_header h = {
        .origin = origin,
        .cluster = 0xfabd465f,
        .incarnation = 0x0102030405060708ULL,
        .seq = 7,
        .time = NOW,
    };
    return h;
}

static struct batch_delta delta4(uint8_t fill, uint16_t port)
{
    struct batch_delta d = {.addr = {.family = ADDR_V4, .ip = {192, 0, 2, 9}, .port = port}};
    memset(d.info_hash, fill, sizeof(d.info_hash));
    return d;
}

static struct batch_delta delta6(uint8_t fill, uint16_t port)
{
    struct batch_delta d = {.addr = {.family = ADDR_V6, .port = port}};
    static const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(d.addr.ip, ip, 16);
    memset(d.info_hash, fill, sizeof(d.info_hash));
    return d;
}

static int same_delta(const struct batch_delta *a, const struct batch_delta *b)
{
    return memcmp(a->info_hash, b->info_hash, 20) == 0 && a->addr.family == b->addr.family &&
           memcmp(a->addr.ip, b->addr.ip, 16) == 0 && a->addr.port == b->addr.port &&
           a->stop == b->stop && a->seeding == b->seeding && a->completed == b->completed;
}

/* A batch from node 2: one IPv4 upsert (seeding, completed) and one IPv6 stop. */
static const uint8_t known[] = {
    'S', 'W', 'D', '1', 1, 0, 0x00, 0x02,           /* magic, type, flags, origin 2 */
    0xfa, 0xbd, 0x46, 0x5f,                         /* cluster id of "swarmd" */
    1, 2, 3, 4, 5, 6, 7, 8,                         /* incarnation */
    0, 0, 0, 7,                                     /* seq */
    0x69, 0x24, 0x81, 0x00,                         /* time 1764000000 */
    0, 2, 0, 0,                                     /* count, reserved */
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, /* info_hash */
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0x0c, 0x1a, 0xe1, 192, 0, 2, 9,                 /* op seeding|completed, 6881, addr */
    0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb,
    0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb,
    0x03, 0xc8, 0xd5,                               /* op v6|stop, port 51413 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static size_t write_known(uint8_t *buf, size_t cap)
{
    struct batch_header h = header_from(2);
    struct batch_writer w;
    struct batch_delta a = delta4(0xaa, 6881), b = delta6(0xbb, 51413);
    a.seeding = a.completed = true;
    b.stop = true;
    if (!batch_writer_init(&w, buf, cap, &h) || !batch_add(&w, &a) || !batch_add(&w, &b))
        return 0;
    return batch_finish(&w);
}

TEST(cluster_id_is_sha1_prefix)
{
    CHECK_EQ_INT(batch_cluster_id("swarmd"), 0xfabd465f);
    CHECK_EQ_INT(batch_cluster_id("test"), 0xa94a8fe5);
    CHECK(batch_cluster_id("other") != batch_cluster_id("swarmd"));
}

TEST(known_batch_exact_bytes)
{
    uint8_t buf[256];
    size_t n = write_known(buf, sizeof(buf));
    CHECK_EQ_INT(n, sizeof(known));
    CHECK_EQ_INT(n, BATCH_HEADER_LEN + BATCH_RECORD4_LEN + BATCH_RECORD6_LEN);
    CHECK_MEM(buf, known, sizeof(known));
}

TEST(known_batch_parses)
{
    struct batch_expect e = expect_for(1);
    struct batch_header h;
    CHECK_EQ_INT(batch_parse_header(known, sizeof(known), &e, &h), BATCH_OK);
    CHECK_EQ_INT(h.type, BATCH_DELTAS);
    CHECK_EQ_INT(h.origin, 2);
    CHECK(h.incarnation == 0x0102030405060708ULL);
    CHECK_EQ_INT(h.seq, 7);
    CHECK_EQ_INT(h.time, NOW);
    CHECK_EQ_INT(h.count, 2);

    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    struct batch_delta a = delta4(0xaa, 6881), b = delta6(0xbb, 51413);
    a.seeding = a.completed = true;
    b.stop = true;
    batch_reader_init(&r, known, sizeof(known), &h);
    CHECK(batch_next_record(&r, &d, &why));
    CHECK_EQ_INT(why, BATCH_OK);
    CHECK(same_delta(&d, &a));
    CHECK(batch_next_record(&r, &d, &why));
    CHECK_EQ_INT(why, BATCH_OK);
    CHECK(same_delta(&d, &b));
    CHECK(!batch_next_record(&r, &d, &why));
}

/* Many records of both families and every op combination come back as written. */
TEST(round_trip_v4_v6)
{
    static uint8_t buf[16384];
    struct batch_header h = header_from(3);
    struct batch_writer w;
    struct batch_delta in[200];
    CHECK(batch_writer_init(&w, buf, sizeof(buf), &h));
    for (int i = 0; i < 200; i++) {
        in[i] = (i & 1) ? delta6((uint8_t)i, (uint16_t)(1000 + i))
                        : delta4((uint8_t)i, (uint16_t)(1000 + i));
        in[i].addr.ip[3] = (uint8_t)(i + 1);
        in[i].stop = i & 2;
        in[i].seeding = i & 4;
        in[i].completed = i & 8;
        CHECK(batch_add(&w, &in[i]));
    }
    size_t n = batch_finish(&w);
    CHECK_EQ_INT(n, BATCH_HEADER_LEN + 100 * BATCH_RECORD4_LEN + 100 * BATCH_RECORD6_LEN);

    struct batch_expect e = expect_for(1);
    struct batch_header got;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &got), BATCH_OK);
    CHECK_EQ_INT(got.count, 200);
    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    int seen = 0;
    batch_reader_init(&r, buf, n, &got);
    while (batch_next_record(&r, &d, &why)) {
        CHECK_EQ_INT(why, BATCH_OK);
        CHECK(seen < 200 && same_delta(&d, &in[seen]));
        seen++;
    }
    CHECK_EQ_INT(seen, 200);
}

TEST(v4_mapped_is_sent_as_v4)
{
    uint8_t buf[128];
    struct batch_header h = header_from(2);
    struct batch_writer w;
    struct batch_delta d = {.addr = {.family = ADDR_V6, .port = 80}};
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    memcpy(d.addr.ip, mapped, 16);
    CHECK(batch_writer_init(&w, buf, sizeof(buf), &h));
    CHECK(batch_add(&w, &d));
    size_t n = batch_finish(&w);
    CHECK_EQ_INT(n, BATCH_HEADER_LEN + BATCH_RECORD4_LEN);
    CHECK_EQ_INT(buf[BATCH_HEADER_LEN + 20], 0);
    static const uint8_t addr[4] = {10, 1, 2, 3};
    CHECK_MEM(buf + BATCH_HEADER_LEN + 23, addr, 4);
}

TEST(writer_stops_when_full)
{
    uint8_t buf[BATCH_HEADER_LEN + 2 * BATCH_RECORD4_LEN + 10];
    struct batch_header h = header_from(2);
    struct batch_writer w;
    struct batch_delta d4 = delta4(1, 1), d6 = delta6(2, 2);
    CHECK(!batch_writer_init(&w, buf, BATCH_HEADER_LEN - 1, &h));
    CHECK(!batch_add(&w, &d4)); /* a failed init accepts nothing */
    CHECK(batch_writer_init(&w, buf, sizeof(buf), &h));
    CHECK(batch_add(&w, &d4));
    CHECK(!batch_add(&w, &d6)); /* 39 > 37 left */
    CHECK(batch_add(&w, &d4));
    CHECK(!batch_add(&w, &d4));
    CHECK_EQ_INT(batch_finish(&w), BATCH_HEADER_LEN + 2 * BATCH_RECORD4_LEN);
    CHECK_EQ_INT(buf[29], 2);
}

TEST(writer_empty_batch)
{
    uint8_t buf[BATCH_HEADER_LEN];
    struct batch_header h = header_from(2), got;
    struct batch_writer w;
    struct batch_expect e = expect_for(1);
    CHECK(batch_writer_init(&w, buf, sizeof(buf), &h));
    CHECK_EQ_INT(batch_finish(&w), BATCH_HEADER_LEN);
    CHECK_EQ_INT(batch_parse_header(buf, BATCH_HEADER_LEN, &e, &got), BATCH_OK);
    CHECK_EQ_INT(got.count, 0);
}

TEST(heartbeat_round_trip)
{
    uint8_t buf[BATCH_HEARTBEAT_LEN + 8];
    struct batch_header h = header_from(3), got;
    struct batch_heartbeat hb = {.peers = 12345678901ULL, .torrents = 42, .published = 1ULL << 40,
                                 .dropped = 3},
                           back;
    CHECK_EQ_INT(batch_write_heartbeat(buf, BATCH_HEARTBEAT_LEN - 1, &h, &hb), 0);
    size_t n = batch_write_heartbeat(buf, sizeof(buf), &h, &hb);
    CHECK_EQ_INT(n, 64);
    CHECK_EQ_INT(buf[4], BATCH_HEARTBEAT);
    CHECK_EQ_INT(buf[28] | buf[29], 0);
    static const uint8_t peers_be[8] = {0, 0, 0, 2, 0xdf, 0xdc, 0x1c, 0x35};
    CHECK_MEM(buf + 32, peers_be, 8);
    struct batch_expect e = expect_for(1);
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &got), BATCH_OK);
    CHECK_EQ_INT(got.type, BATCH_HEARTBEAT);
    CHECK(batch_read_heartbeat(buf, n, &back));
    CHECK(back.peers == hb.peers && back.torrents == hb.torrents &&
          back.published == hb.published && back.dropped == hb.dropped);
    CHECK(!batch_read_heartbeat(buf, n - 1, &back));
    /* A heartbeat has no records. */
    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    batch_reader_init(&r, buf, n, &got);
    CHECK(!batch_next_record(&r, &d, &why));
    /* Its length is fixed. */
    CHECK_EQ_INT(batch_parse_header(buf, n - 1, &e, &got), BATCH_REJECT_LENGTH);
    buf[29] = 1;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &got), BATCH_REJECT_LENGTH);
}

static enum batch_reject parse_mutated(size_t at, uint8_t value, size_t len)
{
    uint8_t buf[sizeof(known)];
    struct batch_expect e = expect_for(1);
    struct batch_header h;
    memcpy(buf, known, sizeof(buf));
    if (at < sizeof(buf))
        buf[at] = value;
    return batch_parse_header(buf, len, &e, &h);
}

TEST(header_rejects)
{
    size_t n = sizeof(known);
    CHECK_EQ_INT(parse_mutated(0, 'X', n), BATCH_REJECT_MAGIC);
    CHECK_EQ_INT(parse_mutated(2, 'd', n), BATCH_REJECT_MAGIC);
    CHECK_EQ_INT(parse_mutated(3, 'x', n), BATCH_REJECT_MAGIC);
    CHECK_EQ_INT(parse_mutated(3, '2', n), BATCH_REJECT_VERSION);
    CHECK_EQ_INT(parse_mutated(3, '0', n), BATCH_REJECT_VERSION);
    CHECK_EQ_INT(parse_mutated(4, 0, n), BATCH_REJECT_TYPE);
    CHECK_EQ_INT(parse_mutated(4, 3, n), BATCH_REJECT_TYPE);
    CHECK_EQ_INT(parse_mutated(5, 1, n), BATCH_REJECT_RESERVED);   /* flags */
    CHECK_EQ_INT(parse_mutated(30, 0x80, n), BATCH_REJECT_RESERVED);
    CHECK_EQ_INT(parse_mutated(31, 1, n), BATCH_REJECT_RESERVED);
    CHECK_EQ_INT(parse_mutated(11, 0x60, n), BATCH_REJECT_CLUSTER);
    CHECK_EQ_INT(parse_mutated(7, 1, n), BATCH_REJECT_ORIGIN);     /* own id */
    CHECK_EQ_INT(parse_mutated(7, 4, n), BATCH_REJECT_ORIGIN);     /* not in nodes */
    CHECK_EQ_INT(parse_mutated(6, 1, n), BATCH_REJECT_ORIGIN);     /* 258 */
    /* Length: short header, truncated record, trailing bytes, count off by one. */
    CHECK_EQ_INT(parse_mutated(n, 0, 0), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(n, 0, 3), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(n, 0, 31), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(n, 0, n - 1), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(n, 0, 32 + 27), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(29, 3, n), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(29, 1, n), BATCH_REJECT_LENGTH);
    CHECK_EQ_INT(parse_mutated(29, 0, n), BATCH_REJECT_LENGTH);
    /* The family bit decides the record size: flipping it breaks the length. */
    CHECK_EQ_INT(parse_mutated(32 + 27 + 20, 0x02, n), BATCH_REJECT_LENGTH);
    /* Time: 1800 s old is fine, 1801 stale; 60 s ahead fine, 61 future. */
    uint8_t buf[sizeof(known)];
    struct batch_expect e = expect_for(1);
    struct batch_header h;
    memcpy(buf, known, n);
    e.now = NOW + TIMEOUT;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_OK);
    e.now = NOW + TIMEOUT + 1;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_REJECT_STALE);
    e.now = NOW - 60;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_OK);
    e.now = NOW - 61;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_REJECT_FUTURE);
    /* No u32 wrap: time 0 against a late clock is stale, time max against 0 is future. */
    memset(buf + 24, 0, 4);
    e.now = 0xffffff00u;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_REJECT_STALE);
    memset(buf + 24, 0xff, 4);
    e.now = 0;
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &h), BATCH_REJECT_FUTURE);
}

/* Record reasons reject only their record; the iteration goes on. */
TEST(record_rejects)
{
    static uint8_t buf[1024];
    struct batch_header h = header_from(2), got;
    struct batch_writer w;
    struct batch_delta good = delta4(1, 6881), port0 = delta4(2, 0), zero4 = delta4(3, 1),
                       zero6 = delta6(4, 1), resv = delta4(5, 1), mapped = delta6(6, 1),
                       good6 = delta6(7, 443);
    memset(zero4.addr.ip, 0, 16);
    memset(zero6.addr.ip, 0, 16);
    CHECK(batch_writer_init(&w, buf, sizeof(buf), &h));
    CHECK(batch_add(&w, &good));
    CHECK(batch_add(&w, &port0));
    CHECK(batch_add(&w, &zero4));
    CHECK(batch_add(&w, &zero6));
    size_t resv_at = w.len;
    CHECK(batch_add(&w, &resv));
    size_t mapped_at = w.len;
    CHECK(batch_add(&w, &mapped));
    CHECK(batch_add(&w, &good6));
    size_t n = batch_finish(&w);
    buf[resv_at + 20] |= 0x10;
    /* The writer never sends v4-mapped in a v6 record; a hostile node might. */
    static const uint8_t mapped_ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    memcpy(buf + mapped_at + 23, mapped_ip, 16);

    struct batch_expect e = expect_for(1);
    CHECK_EQ_INT(batch_parse_header(buf, n, &e, &got), BATCH_OK);
    static const enum batch_reject want[] = {BATCH_OK, BATCH_REJECT_PORT,
                                             BATCH_REJECT_ADDRESS, BATCH_REJECT_ADDRESS,
                                             BATCH_REJECT_RESERVED, BATCH_REJECT_ADDRESS,
                                             BATCH_OK};
    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    int i = 0;
    batch_reader_init(&r, buf, n, &got);
    while (batch_next_record(&r, &d, &why)) {
        CHECK(i < 7 && why == want[i]);
        CHECK_EQ_INT(d.info_hash[0], i + 1);
        i++;
    }
    CHECK_EQ_INT(i, 7);
    CHECK(same_delta(&d, &good6));
}

/* A reader given a lying header still stays inside the buffer. */
TEST(reader_bounded_on_bad_header)
{
    struct batch_header h = {.type = BATCH_DELTAS, .count = 500};
    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    int k = 0;
    batch_reader_init(&r, known, sizeof(known) - 1, &h);
    while (batch_next_record(&r, &d, &why))
        k++;
    CHECK_EQ_INT(k, 1);
    batch_reader_init(&r, known, 10, &h);
    CHECK(!batch_next_record(&r, &d, &why));
}

TEST(reject_labels)
{
    static const char *const want[] = {"ok",     "magic",    "version",   "type",
                                       "cluster", "origin",  "length",    "reserved",
                                       "port",   "address",  "stale",     "future",
                                       "duplicate", "not_allowed", "cap"};
    CHECK_EQ_INT(BATCH_REJECT_COUNT, sizeof(want) / sizeof(want[0]));
    for (int i = 0; i < BATCH_REJECT_COUNT; i++)
        CHECK_STR(batch_reject_name((enum batch_reject)i), want[i]);
    CHECK_STR(batch_reject_name(BATCH_REJECT_COUNT), "unknown");
}

int main(void)
{
    RUN(cluster_id_is_sha1_prefix);
    RUN(known_batch_exact_bytes);
    RUN(known_batch_parses);
    RUN(round_trip_v4_v6);
    RUN(v4_mapped_is_sent_as_v4);
    RUN(writer_stops_when_full);
    RUN(writer_empty_batch);
    RUN(heartbeat_round_trip);
    RUN(header_rejects);
    RUN(record_rejects);
    RUN(reader_bounded_on_bad_header);
    RUN(reject_labels);
    return CHECK_DONE();
}
