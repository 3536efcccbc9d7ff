/* ws_tracker.h - the WebSocket tracker for WebTorrent peers, on its own thread.
 *
 * HTTP workers hand every upgraded connection (fd, plus any bytes already read or still to
 * write) to this module; one dedicated thread with its own event loop then serves all
 * WebSocket connections. Why one thread: relaying an offer or an answer means writing to
 * another peer's socket, and the peers of one swarm would otherwise sit on different
 * workers; with all of them on one loop a relay is a plain function call on memory nobody
 * else touches, with no mailbox, no cross-thread wake-ups and no lock on the relay path.
 * The cost is that WebSocket traffic uses one core, which at WebTorrent's message rates
 * (one announce per peer and interval) is far more than a tracker sees.
 *
 * The swarm table here is only the relay index (which connection is which peer of which
 * swarm); the torrent's entry in the store counts the WebSocket seeders, leechers and
 * completions (store_ws_update), so scrapes, statistics, the state file and the caps see
 * them like any other peers, while HTTP/UDP peer lists never contain them (they have no
 * address) and WebSocket peers are only ever offered to each other.
 *
 * Bounds: connections (over the cap an upgrade is refused), swarms per connection, message
 * size (WS_MAX_MESSAGE, larger messages close with 1009), queued outbound bytes per
 * connection (a reader that falls further behind is disconnected), idle time. */
#ifndef SWARMD_WS_TRACKER_H
#define SWARMD_WS_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_server.h"
#include "request.h"
#include "util/addr.h"

struct tracker;
struct tracker_worker;

#define WS_MAX_MESSAGE (64 * 1024)  /* one message, after reassembly */
#define WS_INTERVAL 120             /* announce interval sent to WebSocket peers, seconds */

struct ws_tracker_config {
    unsigned max_conns;          /* WebSocket connections in all (default 10000) */
    unsigned max_swarms;         /* swarm memberships (swarm, peer_id) of one connection
                                  * (default 128) */
    size_t max_queued;           /* outbound bytes queued per connection (default 256 KiB) */
    unsigned idle_timeout_ms;    /* no frame for this long: close (default peer_timeout) */
};

struct ws_tracker;

/* Start the thread. stats_id is its block in t->stats and its access-list epoch.
 * cfg may be NULL (defaults). NULL on failure. */
struct ws_tracker *ws_tracker_start(struct tracker *t, unsigned stats_id,
                                    const struct ws_tracker_config *cfg);
/* Begin a graceful stop (any thread; ws may be NULL): every connection, and every one handed
 * over from now on, gets its queued output and then a close frame (1001, going away) and is
 * closed once that is written; deadline_ms (clock_now_ms() time) bounds the wait. */
void ws_tracker_drain(struct ws_tracker *ws, uint64_t deadline_ms);
/* Stop the thread, close every connection and free everything. No hand-over may be in
 * progress (stop the HTTP workers first). After ws_tracker_drain, waits for the drain to
 * finish (or its deadline). */
void ws_tracker_stop(struct ws_tracker *ws);

/* Hand a connection over (any thread). Takes fd in every case (closed on failure). pre_out:
 * bytes to send first (the 101 reply, perhaps earlier pipelined replies); pre_in: bytes the
 * client sent after its handshake. An http_upgrade_fn. */
bool ws_tracker_adopt(void *ws, int fd, const struct peer_addr *peer, uint32_t addr_ticket,
                      const uint8_t *pre_out, size_t pre_out_len, const uint8_t *pre_in,
                      size_t pre_in_len);

/* The HTTP side of an upgrade request (called by serve_http): refuse a bad handshake with
 * 400/426, or write the 101 reply and return HTTP_UPGRADE. */
enum http_action ws_serve_upgrade(struct tracker_worker *w, const struct http_request *req,
                                  struct http_out *out);

#endif
