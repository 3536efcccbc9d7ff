/* udp.h - BEP 15 UDP tracker codec with BEP 41 options.
 *
 * Pure: udp_parse_request reads a datagram into a struct udp_request (pointers into the
 * datagram), the udp_write_* functions encode replies into caller memory. No I/O, no
 * allocation, every length checked before reading. Numbers are big-endian on the wire. */
#ifndef SWARMD_UDP_H
#define SWARMD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

#define UDP_PROTOCOL_ID 0x41727101980ULL

enum udp_action {
    UDP_ACTION_CONNECT = 0,
    UDP_ACTION_ANNOUNCE = 1,
    UDP_ACTION_SCRAPE = 2,
    UDP_ACTION_ERROR = 3,
};

#define UDP_CONNECT_LEN 16
#define UDP_ANNOUNCE_LEN 98
#define UDP_SCRAPE_MIN_LEN 36       /* 16 + one hash */
#define UDP_ANNOUNCE_REPLY_HEAD 20
#define UDP_URLDATA_MAX 1024        /* BEP 41 URL data kept per request; the rest is cut */

/* UDP peers per reply so the datagram fits one packet (PROTOCOL.md). */
#define UDP_MAX_PEERS4 242
#define UDP_MAX_PEERS6 67

enum udp_parse_result {
    UDP_OK = 0,
    UDP_MALFORMED = -1,      /* drop silently, count */
    UDP_TOO_MANY_HASHES = -2 /* well-formed scrape with > UDP_SCRAPE_MAX_HASHES: error packet */
};

struct udp_request {
    enum udp_action action;
    uint32_t transaction_id;
    uint64_t connection_id;       /* announce/scrape */
    struct announce_req announce; /* action == ANNOUNCE; claimed4 from the ip field if != 0 */
    struct scrape_req scrape;     /* action == SCRAPE; hashes point into the datagram */
    /* BEP 41: concatenated URL-data options (e.g. "/announce?passkey=..."), cut at
     * UDP_URLDATA_MAX. Unknown option types end option parsing without failing the request. */
    uint8_t urldata[UDP_URLDATA_MAX];
    size_t urldata_len;
};

/* Connect: exactly >= 16 bytes with the protocol id; announce >= 98; scrape 16 + 20n, n >= 1
 * (a partial trailing hash is malformed). Unknown actions are malformed. */
enum udp_parse_result udp_parse_request(const uint8_t *pkt, size_t len, struct udp_request *out);

/* Encoders return bytes written (they never write more than their stated size). */
size_t udp_write_connect(uint8_t out[16], uint32_t transaction_id, uint64_t connection_id);
/* Header of an announce reply; the caller appends n packed peers (6 or 18 bytes each). */
size_t udp_write_announce_head(uint8_t out[20], uint32_t transaction_id, uint32_t interval,
                               uint32_t leechers, uint32_t seeders);
/* Scrape reply: 8 + 12n bytes. */
size_t udp_write_scrape(uint8_t *out, uint32_t transaction_id, const struct swarm_counts *counts,
                        unsigned n);
/* Error: 8 + strlen(message) bytes, cut so that the total never exceeds max_len. */
size_t udp_write_error(uint8_t *out, size_t max_len, uint32_t transaction_id,
                       const char *message);

#endif
