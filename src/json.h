/* json.h - a streaming JSON record reader over an instream (yajl) and a
 * small value tree.
 *
 * Shapes recognised (DESIGN.md 4): JSON Lines (one value per line,
 * whitespace-separated values also accepted), a top-level array of
 * records (pretty-printed or not: streamed element by element, never held
 * whole), and one top-level non-array value (a one-record file). */
#ifndef GLUEFS_JSON_H
#define GLUEFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct instream;

enum jtype { J_NULL, J_BOOL, J_INT, J_DOUBLE, J_STRING, J_ARRAY, J_OBJECT };

/* A parsed value.  Strings are NUL-terminated UTF-8.  Object members keep
 * their order; duplicate keys are kept as they come. */
struct jval {
    enum jtype type;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            char *s;
            size_t len;
        } str;
        struct {
            size_t n;
            struct jval **items; /* J_ARRAY and J_OBJECT values */
            char **keys;         /* J_OBJECT only: n keys */
        } c;
    } u;
    char *num_text; /* J_INT/J_DOUBLE: the number as written (NULL if not
                       kept); an integer too big for int64 is J_DOUBLE */
};

/* Free V and everything below it (NULL is fine).  Values made by the
 * reader may keep a string's bytes or num_text in the value's own
 * allocation: free or replace those only through jval_free. */
void jval_free(struct jval *v);

/* Member KEY of object V, or NULL. */
const struct jval *jval_get(const struct jval *v, const char *key);

/* Append V as compact JSON to OUT. */
int jval_to_json(const struct jval *v, struct buf *out)
    __attribute__((warn_unused_result));

enum json_shape {
    JSON_SHAPE_UNKNOWN = 0, /* nothing read yet */
    JSON_SHAPE_LINES,       /* values one after another */
    JSON_SHAPE_ARRAY,       /* one top-level array: its elements are records */
    JSON_SHAPE_SINGLE,      /* one top-level object: a one-record file */
};

struct json_reader;

/* Create a reader over IN (borrowed).  MAX_RECORD caps the bytes of one
 * record's text (0: 16 MiB); MAX_DEPTH caps nesting (0: 64). */
int json_reader_new(struct instream *in, size_t max_record, int max_depth,
                    struct json_reader **out);

/* Next record into *REC (caller frees with jval_free).  Returns 1, 0 at
 * the end, -EBADMSG on a syntax error (message in json_reader_error,
 * e.g. "line 3: parse error: invalid object key"), -E2BIG on a cap, or
 * the instream's error. */
int json_reader_next(struct json_reader *r, struct jval **rec);

/* The file's shape: ARRAY from the first non-space byte ('['); LINES once
 * a second top-level value begins; SINGLE when the input ended after
 * exactly one top-level value.  json_reader_next() reads ahead far enough
 * that the shape is known when the first record comes out. */
enum json_shape json_reader_shape(const struct json_reader *r);
/* Text of the last error, "line N: ..." ("no error" if none). */
const char *json_reader_error(const struct json_reader *r);
/* The line where the record last returned began (1-based), or after an
 * error the line of the error. */
unsigned long long json_reader_line(const struct json_reader *r);

/* Notes: records completed before an error are returned before it; errors
 * are sticky.  A UTF-8 BOM at the start is skipped.  MAX_RECORD counts a
 * record's compact text (whitespace not counted, escapes counted as the
 * bytes they stand for); a single token spanning more than MAX_RECORD
 * bytes of input is -E2BIG too.  MAX_DEPTH counts nesting inside one
 * record (the top-level array of an ARRAY file is not counted).  After a
 * top-level array closes, further top-level values are records as well
 * ("[...] [...]" gives the elements of both). */

/* Declare that the input is a prefix of the data (a bounded sample): when
 * it ends inside a value, that last partial record is dropped and the
 * reader ends quietly instead of failing with -EBADMSG.  Call before the
 * first json_reader_next(). */
void json_reader_set_truncated(struct json_reader *r, bool truncated);

void json_reader_free(struct json_reader *r);

#endif
