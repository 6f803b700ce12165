/* buf.h - a growable byte buffer with a hard cap.
 *
 * Every buffer that grows from input has a cap (STYLE.md, after curl's
 * dynbuf).  `data` is NULL until the first append; after any successful
 * append it is NUL-terminated (the NUL is not counted in `len`). */
#ifndef GLUEFS_BUF_H
#define GLUEFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* owned; NULL or NUL-terminated */
    size_t len;   /* bytes used, excluding the NUL */
    size_t alloc; /* bytes allocated */
    size_t max;   /* cap on len: appends past it fail with -E2BIG */
};

/* Set up caller-owned memory: empty, capped at MAX bytes. */
void buf_init(struct buf *b, size_t max);

/* Free what the buffer holds (not B itself) and reset it to empty. */
void buf_release(struct buf *b);

/* Hand the data to the caller (who frees it) and reset B to empty.
 * Returns an empty string (owned) rather than NULL for an empty buffer,
 * or NULL when out of memory. */
char *buf_detach(struct buf *b);

/* Empty B without freeing its memory. */
void buf_reset(struct buf *b);

/* Append N bytes.  Returns 0, -E2BIG (cap reached; B unchanged) or
 * -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n)
    __attribute__((warn_unused_result));
int buf_puts(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_putc(struct buf *b, char c) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((warn_unused_result));

/* Append S as the body of a JSON string (without the surrounding quotes),
 * escaping per RFC 8259 section 7. */
int buf_put_json_str(struct buf *b, const char *s, size_t n)
    __attribute__((warn_unused_result));

#endif
