/* log_limit.c - at most one line per period for repeating events, and syslog.
 *
 * The limit is a compare-and-swap on the next allowed second: of many threads hitting the
 * same event in the same second exactly one wins and writes, the rest add to a counter that
 * the next winner reports, so nothing is silently lost from the log's account. */
#include "util/log_limit.h"

#include <stdarg.h>
#include <stdio.h>

bool log_limit_allow(struct log_limit *l, uint32_t now, uint32_t period, uint32_t *suppressed)
{
    uint32_t next = __atomic_load_n(&l->next, __ATOMIC_RELAXED);
    /* Signed difference: clock seconds wrap after 136 years, and threads' clocks may differ
     * by a tick; next == 0 is the initial state. */
    if (next != 0 && (int32_t)(now - next) < 0) {
        __atomic_add_fetch(&l->suppressed, 1, __ATOMIC_RELAXED);
        return false;
    }
    uint32_t want = now + (period ? period : 1);
    if (want == 0)
        want = 1;
    if (!__atomic_compare_exchange_n(&l->next, &next, want, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&l->suppressed, 1, __ATOMIC_RELAXED);
        return false;
    }
    *suppressed = __atomic_exchange_n(&l->suppressed, 0, __ATOMIC_RELAXED);
    return true;
}

void log_limited(struct log_limit *l, uint32_t now, uint32_t period, enum log_level level,
                 const char *fmt, ...)
{
    uint32_t n;
    char msg[768];
    if (!log_limit_allow(l, now, period, &n))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        log_msg(level, "%s (%u similar message%s suppressed)", msg, n, n == 1 ? "" : "s");
    else
        log_msg(level, "%s", msg);
}
