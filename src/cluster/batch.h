/* batch.h - the cluster bus batch codec, format v1 (docs: CLUSTER.md, "Batch format v1").
 *
 * One batch is one engine message: a 32-byte header, then `count` delta records (type 1) or a
 * 32-byte heartbeat body (type 2). All integers big-endian.
 *   header: magic "SWD1"(4) type(1) flags(1)=0 origin(2) cluster(4) incarnation(8) seq(4)
 *           time(4, origin unix seconds) count(2) reserved(2)=0
 *   record: info_hash(20) op(1) port(2) addr(4 | 16)  -> 27 / 39 bytes
 *   heartbeat: peers(8) torrents(8) published(8) dropped(8)
 * Pure: no I/O, no allocation, no globals; the writer touches only the caller's buffer and the
 * reader never reads outside [p, p + n). Thread-safe. Bus input is hostile: the reader
 * validates everything before it reports a record, and a bad header (including a length that
 * does not match the records) rejects the whole batch before any record is seen. */
#ifndef SWARMD_CLUSTER_BATCH_H
#define SWARMD_CLUSTER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define BATCH_MAGIC "SWD1"
#define BATCH_HEADER_LEN 32
#define BATCH_RECORD4_LEN 27
#define BATCH_RECORD6_LEN 39
#define BATCH_HEARTBEAT_LEN (BATCH_HEADER_LEN + 32)
#define BATCH_MAX_RECORDS 65535
#define BATCH_FUTURE_SECONDS 60 /* origin clocks may run this far ahead of ours */

enum batch_type { BATCH_DELTAS = 1, BATCH_HEARTBEAT = 2 };

/* Record op bits; any other bit is reserved and rejects the record. */
#define BATCH_OP_V6 0x01        /* address is 16 bytes */
#define BATCH_OP_STOP 0x02      /* remove the peer (else insert or refresh) */
#define BATCH_OP_SEEDING 0x04
#define BATCH_OP_COMPLETED 0x08 /* this announce carried event=completed */
#define BATCH_OP_KNOWN 0x0f

/* Why a batch or a record was refused; batch_reject_name gives the metric label. The first
 * group is decided by this codec; duplicate, not_allowed and cap by whoever applies records,
 * listed here so every rejection has one enum and one label. */
enum batch_reject {
    BATCH_OK = 0,
    BATCH_REJECT_MAGIC,       /* not "SWD" + digit */
    BATCH_REJECT_VERSION,     /* "SWD" + a digit other than 1 */
    BATCH_REJECT_TYPE,        /* neither deltas nor heartbeat */
    BATCH_REJECT_CLUSTER,     /* another cluster's id */
    BATCH_REJECT_ORIGIN,      /* our own node id, or not in cluster.nodes */
    BATCH_REJECT_LENGTH,      /* truncated, or size not matching count */
    BATCH_REJECT_RESERVED,    /* flags / reserved header field / reserved op bits set */
    BATCH_REJECT_PORT,        /* record port 0 */
    BATCH_REJECT_ADDRESS,     /* unspecified, or v4-mapped in a v6 record */
    BATCH_REJECT_STALE,       /* origin time older than the peer timeout */
    BATCH_REJECT_FUTURE,      /* origin time more than BATCH_FUTURE_SECONDS ahead */
    BATCH_REJECT_DUPLICATE,   /* seq not after the last applied one (applier) */
    BATCH_REJECT_NOT_ALLOWED, /* access list refused the info-hash (applier) */
    BATCH_REJECT_CAP,         /* store cap refused the insert (applier) */
    BATCH_REJECT_COUNT
};

struct batch_header {
    uint8_t type;         /* enum batch_type; set by the encoders */
    uint16_t origin;      /* node id of the sender */
    uint32_t cluster;     /* batch_cluster_id(cluster.name) */
    uint64_t incarnation; /* random per start of the origin */
    uint32_t seq;         /* per incarnation, increasing */
    uint32_t time;        /* origin unix seconds when the batch was finished */
    uint16_t count;       /* records (0 for heartbeats); set by the encoders */
};

/* One peer change. addr.port is the peer's port; a v4-mapped ADDR_V6 address is encoded as
 * IPv4, as the store would hold it. */
struct batch_delta {
    uint8_t info_hash[20];
    struct peer_addr addr;
    bool stop, seeding, completed;
};

struct batch_heartbeat {
    uint64_t peers, torrents, published, dropped;
};

/* What the receiver knows; batch_parse_header checks a header against it. */
struct batch_expect {
    uint32_t cluster;       /* own cluster id */
    uint16_t self;          /* own node id: our own batches are refused */
    const uint16_t *nodes;  /* cluster.nodes, any order */
    size_t n_nodes;
    uint32_t now;           /* unix seconds */
    uint32_t peer_timeout;  /* seconds; older batches are stale */
};

/* First 4 bytes of SHA-1(name), big-endian. */
uint32_t batch_cluster_id(const char *name);

/* Label for metrics ("magic", "version", ...); "ok" for BATCH_OK, "unknown" out of range. */
const char *batch_reject_name(enum batch_reject r);

/* ---- writing ---- */
struct batch_writer {
    uint8_t *buf;
    size_t cap, len;
    uint16_t count;
};

/* Starts a deltas batch in buf (header fields from h; type and count are the writer's).
 * false if cap < BATCH_HEADER_LEN. */
bool batch_writer_init(struct batch_writer *w, uint8_t *buf, size_t cap,
                       const struct batch_header *h);
/* Appends one record; false (nothing written) when it does not fit or count is at its max. */
bool batch_add(struct batch_writer *w, const struct batch_delta *d);
/* Stores the record count in the header; returns the batch length. */
size_t batch_finish(struct batch_writer *w);
/* Whole heartbeat batch; returns BATCH_HEARTBEAT_LEN, or 0 if cap is smaller. */
size_t batch_write_heartbeat(uint8_t *buf, size_t cap, const struct batch_header *h,
                             const struct batch_heartbeat *hb);

/* ---- reading ---- */

/* Validates the header of the n-byte batch at p against exp, and that the body is exactly
 * what the header announces (count records of the sizes their op bytes say, or a heartbeat
 * body). Fills *out when the header could be read (n >= 32), whatever the verdict. Returns
 * BATCH_OK or the first failing reason, in this order: magic, version, length (short header),
 * type, reserved, cluster, origin, length (body), stale, future. */
enum batch_reject batch_parse_header(const uint8_t *p, size_t n, const struct batch_expect *exp,
                                     struct batch_header *out);

/* Records of a deltas batch that batch_parse_header accepted (on anything else the reader
 * still stays inside the buffer and stops at the first truncated record). */
struct batch_reader {
    const uint8_t *p;
    size_t n, off;
    uint16_t left;
};

void batch_reader_init(struct batch_reader *r, const uint8_t *p, size_t n,
                       const struct batch_header *h);
/* false when no record is left. Otherwise consumes one record, fills *d (info_hash always;
 * the rest as far as decoded) and sets *why to BATCH_OK or the record's reason: reserved,
 * port, address. A rejected record does not stop the iteration. */
bool batch_next_record(struct batch_reader *r, struct batch_delta *d, enum batch_reject *why);

/* Body of a heartbeat batch; false unless n == BATCH_HEARTBEAT_LEN. */
bool batch_read_heartbeat(const uint8_t *p, size_t n, struct batch_heartbeat *hb);

#endif
