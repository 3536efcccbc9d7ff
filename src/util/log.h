/* log.h - one line per notable event, to stderr.
 *
 * Lines look like "swarmd: <message>". log_warn/log_error are always shown; log_info unless
 * quiet; log_debug only when verbose. Thread-safe (one write(2) per line). */
#ifndef SWARMD_LOG_H
#define SWARMD_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
