/* csv.h - a streaming CSV/TSV record reader over an instream, and the
 * matching writer.
 *
 * RFC 4180 quoting (embedded delimiters, doubled quotes, newlines inside
 * quotes), CRLF, LF or lone CR line ends, a UTF-8 BOM at the start is
 * skipped, empty lines are skipped.  Spaces are data (never trimmed).
 * Every field and record is capped: a record holds at most
 * max(64 MiB, max_field) bytes.  The reader is csv.c's own state machine,
 * not libcsv (csv.c says why). */
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

/* Errors are sticky: after csv_reader_next() fails it returns the same
 * error again.  Field text is never changed apart from quote removal. */

/* Declare that the input is a prefix of the data (a bounded sample, e.g.
 * an object read with a LIMIT): a last record not ended by a line end may
 * be cut, so it is dropped, and an open quote at the end is not an error.
 * Call before the first csv_reader_next(). */
void csv_reader_set_truncated(struct csv_reader *r, bool truncated);

void csv_reader_free(struct csv_reader *r);

/* Append one field to OUT, quoted per RFC 4180 when it holds DELIM, a
 * quote, CR or LF (or leading/trailing space).  NULL writes nothing (an
 * empty field); a non-NULL empty string is written as "" so that it reads
 * back as the empty string, not NULL.  On error OUT is left as it was. */
int csv_write_field(struct buf *out, const char *s, size_t n, char delim)
    __attribute__((warn_unused_result));

#endif
