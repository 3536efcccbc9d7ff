/* log_syslog.h - the optional copy of every log line to syslog (log.syslog on).
 *
 * Kept apart from log.h because <syslog.h> defines LOG_INFO and LOG_DEBUG as macros that
 * would clash with log.h's level names. Enable once at start-up, before the workers run;
 * log_syslog_line is thread-safe (syslog(3) is). */
#ifndef SWARMD_LOG_SYSLOG_H
#define SWARMD_LOG_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>

void log_syslog_enable(bool on);
bool log_syslog_enabled(void);
/* One message (without the "swarmd: " prefix and newline) at log.h's level 0..3. */
void log_syslog_line(int level, const char *msg, size_t len);

#endif
