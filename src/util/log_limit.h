/* log_limit.h - rate-limited log lines for events that can repeat thousands of times a
 * second (a cap hit, a flood of bad packets): at most one line per period per call site,
 * and the next line says how many were left out.
 *
 * A struct log_limit is shared by every thread that logs the event (a static at the call
 * site); it is updated with atomics only, so the hot path never takes a lock and a
 * suppressed event costs one load and one atomic add. Thread-safe. */
#ifndef SWARMD_LOG_LIMIT_H
#define SWARMD_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/log.h"

struct log_limit {
    uint32_t next;       /* clock seconds from which the next line may be written */
    uint32_t suppressed; /* lines left out since the last one written */
};
#define LOG_LIMIT_INIT {0, 0}

/* true when a line may be written now (then *suppressed = lines left out before it and the
 * next line may come period seconds later); false counts one more suppressed line. */
bool log_limit_allow(struct log_limit *l, uint32_t now, uint32_t period, uint32_t *suppressed);

/* log_msg through a limit; "(N similar messages suppressed)" is appended when N > 0. */
void log_limited(struct log_limit *l, uint32_t now, uint32_t period, enum log_level level,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
