/* log.h - one replaceable log function with syslog levels.
 *
 * Messages are lower case and name their subject (STYLE.md).  Never pass a
 * secret (access key, secret key, session token, signature) to these
 * functions: callers redact first. */
#ifndef GLUEFS_LOG_H
#define GLUEFS_LOG_H

#include <stdarg.h>
#include <syslog.h>

typedef void (*log_func_t)(int level, const char *fmt, va_list ap);

/* The current threshold: messages above it (less severe) are skipped. */
extern int log_level;

/* Replace the sink (default: stderr with a "gluefs: " prefix).  NULL
 * restores the default. */
void log_set_func(log_func_t f);

/* Emit one message at LEVEL (LOG_ERR .. LOG_DEBUG). */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                      \
    do {                                                                      \
        if ((lvl) <= log_level)                                               \
            log_msg((lvl), __VA_ARGS__);                                      \
    } while (0)
#define log_err(...) LOG_AT(LOG_ERR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARNING, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
