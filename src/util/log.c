/* log.c - "swarmd: <message>" lines on stderr.
 *
 * Each line is formatted into a stack buffer and handed to one write(2), so lines from
 * different threads never interleave mid-line (stdio would split or buffer them). Overlong
 * messages are cut, keeping the newline. The level is an atomic int: set from the main
 * thread (flags, config reload), read by every worker. errno is preserved across calls. */
#include "util/log.h"
#include "util/log_syslog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "swarmd: "
#define LOG_LINE_MAX 1024

static int log_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    size_t plen = sizeof(LOG_PREFIX) - 1;
    int saved = errno;
    va_list ap;

    if ((int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
        return;
    memcpy(line, LOG_PREFIX, plen);
    va_start(ap, fmt);
    int n = vsnprintf(line + plen, sizeof(line) - plen - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = plen + (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* cut: vsnprintf wrote as much as fitted */
    /* Messages passed with a trailing newline get just the one. */
    if (len > plen && line[len - 1] == '\n')
        len--;
    line[len++] = '\n';
    if (log_syslog_enabled())
        log_syslog_line((int)level, line + plen, len - plen - 1);

    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failure to log */
        p += w;
        len -= (size_t)w;
    }
    errno = saved;
}
