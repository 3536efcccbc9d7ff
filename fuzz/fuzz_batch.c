/* fuzz_batch.c - libFuzzer harness for the cluster batch codec (cluster/batch.c).
 *
 * Parses the input as one bus message (an exactly-sized heap copy, so ASan sees any read past
 * its end) against a fixed receiver: cluster "swarmd", node 1 of {1,2,3}, a fixed clock. An
 * accepted batch must agree with its raw bytes, its records must carry the verdicts the format
 * gives them, and re-encoding what was accepted must reproduce the input byte for byte. A
 * refused batch is still walked by the reader, which must stay inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/batch.h"
#include "fuzz.h"

#define NOW 1764000000u
#define TIMEOUT 1800u

static const uint16_t nodes[] = {1, 2, 3};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The verdict a record deserves, worked out from its bytes without the codec. */
static enum batch_reject expected_verdict(const uint8_t *rec)
{
    uint8_t op = rec[20];
    size_t alen = (op & BATCH_OP_V6) ? 16 : 4;
    static const uint8_t zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (op & 0xf0)
        return BATCH_REJECT_RESERVED;
    if (rd16(rec + 21) == 0)
        return BATCH_REJECT_PORT;
    if (memcmp(rec + 23, zero, alen) == 0 || (alen == 16 && memcmp(rec + 23, mapped, 12) == 0))
        return BATCH_REJECT_ADDRESS;
    return BATCH_OK;
}

static void check_deltas(const uint8_t *pkt, size_t size, const struct batch_header *h,
                         const struct batch_expect *exp)
{
    uint8_t *out = malloc(size);      /* re-encoding of the accepted records */
    if (out == NULL)
        abort();
    struct batch_writer w;
    REQUIRE(batch_writer_init(&w, out, size, h));
    struct batch_reader r;
    struct batch_delta d;
    enum batch_reject why;
    size_t off = BATCH_HEADER_LEN;
    unsigned seen = 0, good = 0;
    batch_reader_init(&r, pkt, size, h);
    while (batch_next_record(&r, &d, &why)) {
        const uint8_t *rec = pkt + off;
        size_t len = (rec[20] & BATCH_OP_V6) ? BATCH_RECORD6_LEN : BATCH_RECORD4_LEN;
        REQUIRE(off + len <= size);
        REQUIRE(why == expected_verdict(rec));
        REQUIRE(memcmp(d.info_hash, rec, 20) == 0);
        if (why == BATCH_OK) {
            REQUIRE(d.addr.port == rd16(rec + 21));
            REQUIRE(d.stop == !!(rec[20] & BATCH_OP_STOP));
            size_t at = w.len;
            REQUIRE(batch_add(&w, &d)); /* never larger than what it came from */
            REQUIRE(w.len - at == len);
            REQUIRE(memcmp(out + at, rec, len) == 0);
            good++;
        }
        off += len;
        seen++;
    }
    REQUIRE(seen == h->count);
    REQUIRE(off == size);
    size_t n = batch_finish(&w);
    if (good == seen) {
        REQUIRE(n == size);
        REQUIRE(memcmp(out, pkt, size) == 0);
    }
    /* The accepted records alone form a valid batch that reads back the same. */
    struct batch_header h2;
    REQUIRE(batch_parse_header(out, n, exp, &h2) == BATCH_OK);
    REQUIRE(h2.count == good && h2.seq == h->seq && h2.incarnation == h->incarnation);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct batch_expect exp = {
        .cluster = batch_cluster_id("swarmd"),
        .self = 1,
        .nodes = nodes,
        .n_nodes = 3,
        .now = NOW,
        .peer_timeout = TIMEOUT,
    };
    uint8_t *pkt = malloc(size ? size : 1);
    if (pkt == NULL)
        abort();
    memcpy(pkt, data, size);

    struct batch_header h;
    memset(&h, 0, sizeof(h));
    enum batch_reject res = batch_parse_header(pkt, size, &exp, &h);
    REQUIRE(res < BATCH_REJECT_DUPLICATE && res != BATCH_REJECT_PORT &&
            res != BATCH_REJECT_ADDRESS);
    REQUIRE(strcmp(batch_reject_name(res), "unknown") != 0);

    if (res == BATCH_OK) {
        REQUIRE(size >= BATCH_HEADER_LEN && memcmp(pkt, BATCH_MAGIC, 4) == 0);
        REQUIRE(pkt[5] == 0 && rd16(pkt + 30) == 0);
        REQUIRE(h.cluster == exp.cluster && rd32(pkt + 8) == h.cluster);
        REQUIRE(h.origin == 2 || h.origin == 3);
        REQUIRE(h.time + (uint64_t)TIMEOUT >= NOW && h.time <= NOW + BATCH_FUTURE_SECONDS);
        REQUIRE(h.count == rd16(pkt + 28) && h.seq == rd32(pkt + 20));
        if (h.type == BATCH_DELTAS) {
            check_deltas(pkt, size, &h, &exp);
        } else {
            REQUIRE(h.type == BATCH_HEARTBEAT && h.count == 0);
            struct batch_heartbeat hb;
            uint8_t again[BATCH_HEARTBEAT_LEN];
            REQUIRE(batch_read_heartbeat(pkt, size, &hb));
            REQUIRE(batch_write_heartbeat(again, sizeof(again), &h, &hb) == size);
            REQUIRE(memcmp(again, pkt, size) == 0);
        }
    } else {
        if (size < 4 || memcmp(pkt, "SWD", 3) != 0)
            REQUIRE(res == BATCH_REJECT_MAGIC || res == BATCH_REJECT_LENGTH);
        /* A reader misused on a refused batch must still stay in bounds. */
        struct batch_reader r;
        struct batch_delta d;
        enum batch_reject why;
        unsigned k = 0;
        batch_reader_init(&r, pkt, size, &h);
        while (batch_next_record(&r, &d, &why))
            k++;
        REQUIRE(k <= size / BATCH_RECORD4_LEN);
    }
    free(pkt);
    return 0;
}
