/* batch.c - encode and validate cluster bus batches (format v1, see batch.h).
 *
 * The reader checks the body length against the header by walking the op bytes before any
 * record is reported, so a truncated or padded batch is refused whole rather than half
 * applied. Times are compared in 64-bit so no u32 arithmetic can wrap a stale batch into a
 * fresh one. */
#include "cluster/batch.h"
#include "util/bytes.h"

#include <string.h>

#include "util/sha1.h"

static const char *const reject_names[BATCH_REJECT_COUNT] = {
    [BATCH_OK] = "ok",
    [BATCH_REJECT_MAGIC] = "magic",
    [BATCH_REJECT_VERSION] = "version",
    [BATCH_REJECT_TYPE] = "type",
    [BATCH_REJECT_CLUSTER] = "cluster",
    [BATCH_REJECT_ORIGIN] = "origin",
    [BATCH_REJECT_LENGTH] = "length",
    [BATCH_REJECT_RESERVED] = "reserved",
    [BATCH_REJECT_PORT] = "port",
    [BATCH_REJECT_ADDRESS] = "address",
    [BATCH_REJECT_STALE] = "stale",
    [BATCH_REJECT_FUTURE] = "future",
    [BATCH_REJECT_DUPLICATE] = "duplicate",
    [BATCH_REJECT_NOT_ALLOWED] = "not_allowed",
    [BATCH_REJECT_CAP] = "cap",
};

const char *batch_reject_name(enum batch_reject r)
{
    if ((unsigned)r >= BATCH_REJECT_COUNT)
        return "unknown";
    return reject_names[r];
}

uint32_t batch_cluster_id(const char *name)
{
    uint8_t d[SHA1_LEN];
    sha1_digest(name, strlen(name), d);
    return be_get32(d);
}

/* Header byte offsets. */
enum {
    OFF_TYPE = 4,
    OFF_FLAGS = 5,
    OFF_ORIGIN = 6,
    OFF_CLUSTER = 8,
    OFF_INCARNATION = 12,
    OFF_SEQ = 20,
    OFF_TIME = 24,
    OFF_COUNT = 28,
    OFF_RESERVED = 30,
};

/* Record byte offsets. */
enum { REC_OP = 20, REC_PORT = 21, REC_ADDR = 23 };

static void put_header(uint8_t *p, const struct batch_header *h, uint8_t type, uint16_t count)
{
    memcpy(p, BATCH_MAGIC, 4);
    p[OFF_TYPE] = type;
    p[OFF_FLAGS] = 0;
    be_put16(p + OFF_ORIGIN, h->origin);
    be_put32(p + OFF_CLUSTER, h->cluster);
    be_put64(p + OFF_INCARNATION, h->incarnation);
    be_put32(p + OFF_SEQ, h->seq);
    be_put32(p + OFF_TIME, h->time);
    be_put16(p + OFF_COUNT, count);
    be_put16(p + OFF_RESERVED, 0);
}

bool batch_writer_init(struct batch_writer *w, uint8_t *buf, size_t cap,
                       const struct batch_header *h)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->count = 0;
    if (cap < BATCH_HEADER_LEN)
        return false;
    put_header(buf, h, BATCH_DELTAS, 0);
    w->len = BATCH_HEADER_LEN;
    return true;
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool batch_add(struct batch_writer *w, const struct batch_delta *d)
{
    const uint8_t *ip = d->addr.ip;
    bool v6 = d->addr.family == ADDR_V6;
    if (v6 && memcmp(ip, v4_mapped_prefix, 12) == 0) {
        v6 = false; /* v4-mapped travels as IPv4, as the store keeps it */
        ip += 12;
    }
    size_t rec = v6 ? BATCH_RECORD6_LEN : BATCH_RECORD4_LEN;
    if (w->len < BATCH_HEADER_LEN || w->count == BATCH_MAX_RECORDS || rec > w->cap - w->len)
        return false;
    uint8_t *p = w->buf + w->len;
    memcpy(p, d->info_hash, 20);
    p[REC_OP] = (uint8_t)((v6 ? BATCH_OP_V6 : 0) | (d->stop ? BATCH_OP_STOP : 0) |
                          (d->seeding ? BATCH_OP_SEEDING : 0) |
                          (d->completed ? BATCH_OP_COMPLETED : 0));
    be_put16(p + REC_PORT, d->addr.port);
    memcpy(p + REC_ADDR, ip, v6 ? 16 : 4);
    w->len += rec;
    w->count++;
    return true;
}

size_t batch_finish(struct batch_writer *w)
{
    if (w->len >= BATCH_HEADER_LEN)
        be_put16(w->buf + OFF_COUNT, w->count);
    return w->len;
}

size_t batch_write_heartbeat(uint8_t *buf, size_t cap, const struct batch_header *h,
                             const struct batch_heartbeat *hb)
{
    if (cap < BATCH_HEARTBEAT_LEN)
        return 0;
    put_header(buf, h, BATCH_HEARTBEAT, 0);
    uint8_t *b = buf + BATCH_HEADER_LEN;
    be_put64(b, hb->peers);
    be_put64(b + 8, hb->torrents);
    be_put64(b + 16, hb->published);
    be_put64(b + 24, hb->dropped);
    return BATCH_HEARTBEAT_LEN;
}

bool batch_read_heartbeat(const uint8_t *p, size_t n, struct batch_heartbeat *hb)
{
    if (n != BATCH_HEARTBEAT_LEN)
        return false;
    const uint8_t *b = p + BATCH_HEADER_LEN;
    hb->peers = be_get64(b);
    hb->torrents = be_get64(b + 8);
    hb->published = be_get64(b + 16);
    hb->dropped = be_get64(b + 24);
    return true;
}

static size_t record_len(uint8_t op)
{
    return (op & BATCH_OP_V6) ? BATCH_RECORD6_LEN : BATCH_RECORD4_LEN;
}

/* true when the body after the header is exactly `count` records. */
static bool body_matches(const uint8_t *p, size_t n, uint16_t count)
{
    size_t off = BATCH_HEADER_LEN;
    for (unsigned i = 0; i < count; i++) {
        if (n - off < BATCH_RECORD4_LEN) /* too short even for the op byte's verdict */
            return false;
        size_t rec = record_len(p[off + REC_OP]);
        if (n - off < rec)
            return false;
        off += rec;
    }
    return off == n;
}

static bool node_listed(const struct batch_expect *exp, uint16_t id)
{
    for (size_t i = 0; i < exp->n_nodes; i++)
        if (exp->nodes[i] == id)
            return true;
    return false;
}

enum batch_reject batch_parse_header(const uint8_t *p, size_t n, const struct batch_expect *exp,
                                     struct batch_header *out)
{
    /* "SWD" + a digit is ours in some version; judge what bytes there are. */
    if (n == 0)
        return BATCH_REJECT_LENGTH;
    size_t have = n < 4 ? n : 4;
    if (memcmp(p, BATCH_MAGIC, have < 3 ? have : 3) != 0)
        return BATCH_REJECT_MAGIC;
    if (have == 4 && p[3] != BATCH_MAGIC[3])
        return (p[3] >= '0' && p[3] <= '9') ? BATCH_REJECT_VERSION : BATCH_REJECT_MAGIC;
    if (n < BATCH_HEADER_LEN)
        return BATCH_REJECT_LENGTH;

    out->type = p[OFF_TYPE];
    out->origin = be_get16(p + OFF_ORIGIN);
    out->cluster = be_get32(p + OFF_CLUSTER);
    out->incarnation = be_get64(p + OFF_INCARNATION);
    out->seq = be_get32(p + OFF_SEQ);
    out->time = be_get32(p + OFF_TIME);
    out->count = be_get16(p + OFF_COUNT);

    if (out->type != BATCH_DELTAS && out->type != BATCH_HEARTBEAT)
        return BATCH_REJECT_TYPE;
    if (p[OFF_FLAGS] != 0 || be_get16(p + OFF_RESERVED) != 0)
        return BATCH_REJECT_RESERVED;
    if (out->cluster != exp->cluster)
        return BATCH_REJECT_CLUSTER;
    if (out->origin == exp->self || !node_listed(exp, out->origin))
        return BATCH_REJECT_ORIGIN;
    if (out->type == BATCH_HEARTBEAT) {
        if (out->count != 0 || n != BATCH_HEARTBEAT_LEN)
            return BATCH_REJECT_LENGTH;
    } else if (!body_matches(p, n, out->count)) {
        return BATCH_REJECT_LENGTH;
    }
    if ((int64_t)out->time + exp->peer_timeout < (int64_t)exp->now)
        return BATCH_REJECT_STALE;
    if ((int64_t)out->time > (int64_t)exp->now + BATCH_FUTURE_SECONDS)
        return BATCH_REJECT_FUTURE;
    return BATCH_OK;
}

void batch_reader_init(struct batch_reader *r, const uint8_t *p, size_t n,
                       const struct batch_header *h)
{
    r->p = p;
    r->n = n;
    r->off = BATCH_HEADER_LEN;
    r->left = (h->type == BATCH_DELTAS && n >= BATCH_HEADER_LEN) ? h->count : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

bool batch_next_record(struct batch_reader *r, struct batch_delta *d, enum batch_reject *why)
{
    if (r->left == 0 || r->n - r->off < BATCH_RECORD4_LEN)
        return false;
    const uint8_t *p = r->p + r->off;
    uint8_t op = p[REC_OP];
    size_t rec = record_len(op);
    if (r->n - r->off < rec)
        return false;
    r->off += rec;
    r->left--;

    memset(d, 0, sizeof(*d));
    memcpy(d->info_hash, p, 20);
    d->stop = op & BATCH_OP_STOP;
    d->seeding = op & BATCH_OP_SEEDING;
    d->completed = op & BATCH_OP_COMPLETED;
    d->addr.family = (op & BATCH_OP_V6) ? ADDR_V6 : ADDR_V4;
    d->addr.port = be_get16(p + REC_PORT);
    memcpy(d->addr.ip, p + REC_ADDR, rec - REC_ADDR);

    if (op & ~BATCH_OP_KNOWN)
        *why = BATCH_REJECT_RESERVED;
    else if (d->addr.port == 0)
        *why = BATCH_REJECT_PORT;
    else if (all_zero(d->addr.ip, 16) ||
             (d->addr.family == ADDR_V6 && memcmp(d->addr.ip, v4_mapped_prefix, 12) == 0))
        *why = BATCH_REJECT_ADDRESS;
    else
        *why = BATCH_OK;
    return true;
}
