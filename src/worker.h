/* worker.h - one worker thread: an event loop with its own UDP and HTTP sockets.
 *
 * Each worker serves its sockets (its own SO_REUSEPORT copies, or shared ones where the OS
 * has no SO_REUSEPORT) with its own tracker_worker state; workers share only the store (shard
 * locks) and the read-only configuration. */
#ifndef SWARMD_WORKER_H
#define SWARMD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "tracker.h"

#define WORKER_MAX_SOCKETS 64

struct worker_sockets {
    int udp[WORKER_MAX_SOCKETS];
    unsigned n_udp;
    int tcp[WORKER_MAX_SOCKETS];   /* listening */
    unsigned n_tcp;
};

struct worker;

/* Start a thread serving socks (the worker does not close them). NULL on failure. */
struct worker *worker_start(struct tracker *t, unsigned id, const struct worker_sockets *socks);
/* Ask every worker to stop gracefully (async-signal-safe: sets a value the loops check each
 * tick): stop accepting and reading, finish the requests already received and their
 * replies, and end by deadline_ms (clock_now_ms() time), cutting what is still open then. */
void worker_request_stop(uint64_t deadline_ms);
/* Wait until worker w no longer watches its listening sockets (at its next tick after
 * worker_request_stop), so that they can be closed. */
void worker_wait_released(struct worker *w);
/* Block the process-directed signals in the calling serving thread (workers and the WebSocket
 * thread call it first thing), so that they reach the main thread. */
void worker_block_signals(void);
/* Wait for the thread to finish and free the worker. */
void worker_join(struct worker *w);

#endif
