/* clock.h - coarse monotonic time in whole seconds since the process started.
 *
 * All tracker timestamps (peer expiry, connection-ID windows, caches) use this clock, so a
 * wall-clock jump never expires every peer at once. Thread-safe. */
#ifndef SWARMD_CLOCK_H
#define SWARMD_CLOCK_H

#include <stdint.h>

/* Seconds since clock_init(); never goes backwards. Starts at 1, so 0 can mean "never". */
uint32_t clock_now(void);
/* Milliseconds, same origin (for HTTP timeouts). */
uint64_t clock_now_ms(void);
void clock_init(void);

#endif
