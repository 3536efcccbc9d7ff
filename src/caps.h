/* caps.h - what the tracker says and logs when a resource cap refuses an announce.
 *
 * The caps themselves are enforced by the store (store_config max_*) and the HTTP server
 * (per-address connections, head timeout, pipelining); this module turns a store refusal into
 * the client's failure reason, a counter and a rate-limited log line. Thread-safe: the log
 * limiter is one atomic timestamp per kind of refusal. */
#ifndef SWARMD_CAPS_H
#define SWARMD_CAPS_H

#include "store/store.h"

struct tracker_worker;

/* At most one log line per kind of refusal in this many seconds. */
#define CAPS_LOG_INTERVAL 10

/* Failure reason for the client (short enough for a UDP error no larger than the request). */
const char *caps_reason(enum store_refusal r);

/* Count the refusal in w's counters and log it, rate-limited, with the total so far. */
void caps_note_refusal(struct tracker_worker *w, enum store_refusal r);

/* The same for a new torrent admitted at cap r by evicting a torrent of at most one peer
 * (counter "evicted", one log line per CAPS_LOG_INTERVAL). */
void caps_note_eviction(struct tracker_worker *w, enum store_refusal r);

#endif
