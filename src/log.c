/* log.c - see log.h */
#include "log.h"

#include <pthread.h>
#include <stdio.h>

int log_level = LOG_WARNING;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_stderr(int level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"emerg", "alert", "crit", "error",
                                        "warning", "notice", "info", "debug"};
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "gluefs: %s: ", names[level & 7]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
}

static log_func_t log_func = log_stderr;

void log_set_func(log_func_t f)
{
    log_func = f ? f : log_stderr;
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_func(level, fmt, ap);
    va_end(ap);
}
