/* check.h - a tiny test harness for the C unit tests.
 *
 * CHECK(cond, fmt, ...) records a failure with file:line and a message;
 * check_done() prints "N passed, N failed" and returns the exit code. */
#ifndef GLUEFS_CHECK_H
#define GLUEFS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            check_pass++;                                                     \
        } else {                                                              \
            check_fail++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,  \
                    #cond);                                                   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define CHECK_STR(got, want)                                                  \
    do {                                                                      \
        const char *g_ = (got), *w_ = (want);                                 \
        CHECK(g_ && w_ && strcmp(g_, w_) == 0, "got '%s', want '%s'",         \
              g_ ? g_ : "(null)", w_ ? w_ : "(null)");                        \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass, check_fail);
    return check_fail ? 1 : 0;
}

#endif
