/* request.h - protocol-neutral announce and scrape requests and replies.
 *
 * The HTTP and UDP parsers fill these; tracker.c consumes them; the encoders turn the reply
 * into bytes. Plain data, no pointers into the store. */
#ifndef SWARMD_REQUEST_H
#define SWARMD_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

#define INFO_HASH_LEN 20
#define PEER_ID_LEN 20

/* Numbering follows BEP 15 so the UDP codec can copy it; HTTP maps its strings onto it. */
enum announce_event {
    EVENT_NONE = 0,
    EVENT_COMPLETED = 1,
    EVENT_STARTED = 2,
    EVENT_STOPPED = 3,
};

struct announce_req {
    uint8_t info_hash[INFO_HASH_LEN];
    uint8_t peer_id[PEER_ID_LEN];
    uint64_t uploaded, downloaded, left; /* left == 0: seeder */
    enum announce_event event;
    int32_t numwant;                     /* -1: not given, use the default */
    uint16_t port;                       /* 0 only allowed with EVENT_STOPPED */
    uint32_t key;
    bool has_key;
    bool compact;                        /* HTTP reply format; true unless compact=0 */
    bool no_peer_id;
    /* Address the client claims (ip=, ipv4=, ipv6=, UDP ip field). Untrusted: tracker.c
     * decides whether to honour it. family 0 = none claimed. */
    struct peer_addr claimed4, claimed6;
    /* Client address a reverse proxy reported (X-Forwarded-For, X-Real-IP), filled in by
     * serve_http for connections from access.proxy networks only. family 0 = none. */
    struct peer_addr forwarded;
};

/* Up to this many hashes in one HTTP scrape (the configured cap is at most this). */
#define SCRAPE_MAX_HASHES 256
/* UDP: 74 hashes fit one packet (PROTOCOL.md). */
#define UDP_SCRAPE_MAX_HASHES 74

struct scrape_req {
    const uint8_t (*hashes)[INFO_HASH_LEN]; /* points into caller memory or the packet */
    unsigned count;                        /* 0 = full scrape (HTTP only) */
};

struct swarm_counts {
    uint32_t seeders, leechers, completed;
};

struct announce_reply {
    struct swarm_counts counts;
    uint32_t interval, min_interval;
    const uint8_t *peers4; /* n4 entries of 6 bytes: IPv4 address, port (network order) */
    unsigned n4;
    const uint8_t *peers6; /* n6 entries of 18 bytes: IPv6 address, port */
    unsigned n6;
};

#endif
