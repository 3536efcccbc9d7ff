/* log_syslog.c - copy log lines to syslog, daemon facility, ident "swarmd". */
#include "util/log_syslog.h"

#include <syslog.h>

static int enabled; /* atomic: read by every thread that logs */

void log_syslog_enable(bool on)
{
    if (on)
        openlog("swarmd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    __atomic_store_n(&enabled, on ? 1 : 0, __ATOMIC_RELAXED);
}

bool log_syslog_enabled(void) { return __atomic_load_n(&enabled, __ATOMIC_RELAXED) != 0; }

void log_syslog_line(int level, const char *msg, size_t len)
{
    /* log.h's levels: 0 error, 1 warn, 2 info, 3 debug. */
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    int p = level >= 0 && level <= 3 ? prio[level] : LOG_INFO;
    syslog(p, "%.*s", (int)len, msg);
}
