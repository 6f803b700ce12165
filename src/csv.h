/* csv.h - a streaming CSV/TSV record reader over an instream (libcsv),
 * and the matching writer.
 *
 * RFC 4180 quoting (embedded delimiters, doubled quotes, newlines inside
 * quotes), CRLF or LF line ends, a UTF-8 BOM at the start is skipped.
 * Every field and record is capped. */
#ifndef GLUEFS_CSV_H
#define GLUEFS_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct instream;

struct csv_opts {
    char delim;          /* ',', '\t', '|', ';', '\x01' */
    char quote;          /* '"', or 0 for none (LazySimpleSerDe) */
    size_t max_field;    /* bytes per field (0: 1 MiB) */
    size_t max_fields;   /* fields per record (0: 10,000) */
};

/* One record.  Valid until the next csv_reader_next() or free.
 * field[i] is NUL-terminated; len[i] is its length; quoted[i] says whether
 * it was quoted (an unquoted empty field is NULL in SQL and in schema
 * inference; a quoted "" is the empty string). */
struct csv_record {
    size_t n;
    char **field;
    size_t *len;
    bool *quoted;
    unsigned long long line; /* 1-based line where the record started */
};

struct csv_reader;

/* Create a reader over IN (borrowed). */
int csv_reader_new(struct instream *in, const struct csv_opts *o,
                   struct csv_reader **out);

/* Next record into *REC.  Returns 1 (a record), 0 (end), -EBADMSG
 * (malformed: e.g. unterminated quote at the end; message in
 * csv_reader_error), -E2BIG (a field or record over its cap), or the
 * instream's error. */
int csv_reader_next(struct csv_reader *r, struct csv_record **rec);

/* Text of the last error, e.g. "line 12: unterminated quoted field". */
const char *csv_reader_error(const struct csv_reader *r);

void csv_reader_free(struct csv_reader *r);

/* Append one field to OUT, quoted per RFC 4180 when it holds DELIM, a
 * quote, CR or LF (or leading/trailing space).  NULL writes nothing (an
 * empty field). */
int csv_write_field(struct buf *out, const char *s, size_t n, char delim)
    __attribute__((warn_unused_result));

#endif
