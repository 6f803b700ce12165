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

enum json_shape json_reader_shape(const struct json_reader *r);
const char *json_reader_error(const struct json_reader *r);
unsigned long long json_reader_line(const struct json_reader *r);

void json_reader_free(struct json_reader *r);

#endif
