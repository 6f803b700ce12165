/* csv.c - see csv.h.
 *
 * The reader is a small RFC 4180 state machine over a 64 KiB input
 * buffer rather than libcsv: libcsv cannot say whether a non-empty field
 * was quoted, does not report where a record starts (needed for "line N"
 * messages), trims spaces from unquoted fields by default, and grows its
 * field buffer without a cap unless given a global realloc hook.  Here
 * each field, record and field count is capped as the bytes arrive.
 *
 * Quoting rules (what Python's csv module and OpenCSVSerde accept):
 *   - a field that starts with the quote character is quoted; a doubled
 *     quote inside it is one quote; delimiters, CR and LF inside it are
 *     data;
 *   - bytes after a closing quote and before the next delimiter are kept
 *     as data ("ab"c -> abc), the field still counts as quoted;
 *   - a quote inside an unquoted field is data (5'11" stays as is);
 *   - quote 0 turns quoting off: every byte but the delimiter, CR and LF
 *     is data (Hive's LazySimpleSerDe).
 * Records end at LF, CRLF or a lone CR.  Empty lines are skipped. */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instream.h"

#define CSV_INBUF (64u << 10)
#define CSV_MAX_FIELD_DEFAULT (1u << 20)
#define CSV_MAX_FIELDS_DEFAULT 10000u
#define CSV_MAX_RECORD_MIN (64u << 20)

enum csv_state {
    ST_START,      /* at the start of a field */
    ST_UNQUOTED,   /* inside an unquoted field */
    ST_QUOTED,     /* inside a quoted field */
    ST_QUOTE_SEEN, /* a quote inside a quoted field: end or doubled */
};

struct csv_reader {
    struct instream *in;
    unsigned char delim, quote;
    size_t max_field, max_fields, max_record;
    bool truncated_ok;

    unsigned char *ibuf;
    size_t ilen, ipos;
    bool started; /* the first bytes were read (BOM handled) */
    bool read_ended; /* read_err is set */
    bool eof;
    int read_err; /* an error (or 0: the end) seen while reading ahead */

    enum csv_state state;
    bool in_record;
    bool prev_cr;
    unsigned long long line;       /* line of the next byte, 1-based */
    unsigned long long quote_line; /* where the open quoted field began */

    /* The record being built: fields back to back, each NUL-terminated. */
    char *data;
    size_t dlen, dcap;
    size_t field_start; /* offset of the current field in data */
    bool field_quoted;
    size_t nf, fcap;
    size_t *off;
    size_t *len;
    bool *quoted;
    char **field;
    struct csv_record rec;

    int err;
    char msg[200];
};

static int csv_fail(struct csv_reader *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int csv_fail(struct csv_reader *r, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->err = err;
    return err;
}

int csv_reader_new(struct instream *in, const struct csv_opts *o,
                   struct csv_reader **out)
{
    *out = NULL;
    if (!in || !o)
        return -EINVAL;
    if (o->delim == '\n' || o->delim == '\r' || o->delim == '\0' ||
        (o->quote && (o->quote == o->delim || o->quote == '\n' ||
                      o->quote == '\r')))
        return -EINVAL;
    struct csv_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->in = in;
    r->delim = (unsigned char)o->delim;
    r->quote = (unsigned char)o->quote;
    r->max_field = o->max_field ? o->max_field : CSV_MAX_FIELD_DEFAULT;
    r->max_fields = o->max_fields ? o->max_fields : CSV_MAX_FIELDS_DEFAULT;
    r->max_record = r->max_field > CSV_MAX_RECORD_MIN ? r->max_field
                                                       : CSV_MAX_RECORD_MIN;
    r->line = 1;
    r->ibuf = malloc(CSV_INBUF);
    if (!r->ibuf) {
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

void csv_reader_set_truncated(struct csv_reader *r, bool truncated)
{
    r->truncated_ok = truncated;
}

void csv_reader_free(struct csv_reader *r)
{
    if (!r)
        return;
    free(r->ibuf);
    free(r->data);
    free(r->off);
    free(r->len);
    free(r->quoted);
    free(r->field);
    free(r);
}

const char *csv_reader_error(const struct csv_reader *r)
{
    return r->msg[0] ? r->msg : "no error";
}

/* Room for K more bytes in the record (plus a NUL). */
static int csv_reserve(struct csv_reader *r, size_t k)
{
    size_t need = r->dlen + k + 1;
    if (need <= r->dcap)
        return 0;
    size_t n = r->dcap ? r->dcap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(r->data, n);
    if (!p)
        return csv_fail(r, -ENOMEM, "line %llu: out of memory", r->line);
    r->data = p;
    r->dcap = n;
    return 0;
}

/* Append K bytes to the current field, within the caps. */
static int csv_put(struct csv_reader *r, const unsigned char *p, size_t k)
{
    if (r->dlen - r->field_start + k > r->max_field)
        return csv_fail(r, -E2BIG,
                        "line %llu: field %zu is longer than %zu bytes",
                        r->rec.line, r->nf + 1, r->max_field);
    if (r->dlen + k > r->max_record)
        return csv_fail(r, -E2BIG, "line %llu: record is longer than %zu bytes",
                        r->rec.line, r->max_record);
    int rc = csv_reserve(r, k);
    if (rc)
        return rc;
    memcpy(r->data + r->dlen, p, k);
    r->dlen += k;
    return 0;
}

static int csv_end_field(struct csv_reader *r)
{
    if (r->nf >= r->max_fields)
        return csv_fail(r, -E2BIG, "line %llu: more than %zu fields",
                        r->rec.line, r->max_fields);
    if (r->nf == r->fcap) {
        size_t n = r->fcap ? r->fcap * 2 : 16;
        if (n > r->max_fields)
            n = r->max_fields;
        size_t *off = realloc(r->off, n * sizeof(*off));
        if (off)
            r->off = off;
        size_t *len = realloc(r->len, n * sizeof(*len));
        if (len)
            r->len = len;
        bool *q = realloc(r->quoted, n * sizeof(*q));
        if (q)
            r->quoted = q;
        char **f = realloc(r->field, n * sizeof(*f));
        if (f)
            r->field = f;
        if (!off || !len || !q || !f)
            return csv_fail(r, -ENOMEM, "line %llu: out of memory",
                            r->rec.line);
        r->fcap = n;
    }
    int rc = csv_reserve(r, 0);
    if (rc)
        return rc;
    r->off[r->nf] = r->field_start;
    r->len[r->nf] = r->dlen - r->field_start;
    r->quoted[r->nf] = r->field_quoted;
    r->nf++;
    r->data[r->dlen++] = '\0';
    r->field_start = r->dlen;
    r->field_quoted = false;
    r->state = ST_START;
    return 0;
}

/* The record is complete: point the public view at it. */
static void csv_end_record(struct csv_reader *r)
{
    for (size_t i = 0; i < r->nf; i++)
        r->field[i] = r->data + r->off[i];
    r->rec.n = r->nf;
    r->rec.field = r->field;
    r->rec.len = r->len;
    r->rec.quoted = r->quoted;
    r->in_record = false;
    r->state = ST_START;
}

static void csv_begin_record(struct csv_reader *r)
{
    r->in_record = true;
    r->rec.line = r->line;
    r->nf = 0;
    r->dlen = 0;
    r->field_start = 0;
    r->field_quoted = false;
}

/* Count line ends: LF, CRLF and a lone CR each end one line. */
static inline void csv_count(struct csv_reader *r, unsigned char c)
{
    if (c == '\r') {
        r->line++;
        r->prev_cr = true;
    } else {
        if (c == '\n' && !r->prev_cr)
            r->line++;
        r->prev_cr = false;
    }
}

static int csv_fill(struct csv_reader *r)
{
    ssize_t n;
    if (r->read_ended)
        n = r->read_err;
    else
        n = r->in->read(r->in, r->ibuf, CSV_INBUF);
    if (n > 0 && !r->started) {
        /* Read on until a whole BOM can be seen; an error then waits for
         * the next fill so the bytes before it are parsed first. */
        while (n < 3) {
            ssize_t k = r->in->read(r->in, r->ibuf + n, CSV_INBUF - (size_t)n);
            if (k <= 0) {
                r->read_err = (int)k;
                r->read_ended = true;
                break;
            }
            n += k;
        }
    }
    if (n < 0)
        return csv_fail(r, (int)n, "line %llu: cannot read the input: %s",
                        r->line, strerror((int)-n));
    r->ilen = (size_t)n;
    r->ipos = 0;
    if (n == 0)
        r->eof = true;
    if (!r->started) {
        r->started = true;
        if (r->ilen >= 3 && memcmp(r->ibuf, "\xef\xbb\xbf", 3) == 0)
            r->ipos = 3;
    }
    return 0;
}

/* Consume input until a record is complete.  Returns 1 (record), 0 (needs
 * more input) or -errno. */
static int csv_scan(struct csv_reader *r)
{
    const unsigned char *b = r->ibuf;
    const unsigned char delim = r->delim, quote = r->quote;
    size_t i = r->ipos, end = r->ilen;
    int rc = 0;

    while (i < end) {
        unsigned char c = b[i];
        switch (r->state) {
        case ST_START:
            if (!r->in_record) {
                if (c == '\n' || c == '\r') { /* empty line (or CRLF's LF) */
                    csv_count(r, c);
                    i++;
                    continue;
                }
                csv_begin_record(r);
            }
            if (quote && c == quote) {
                r->state = ST_QUOTED;
                r->field_quoted = true;
                r->quote_line = r->line;
                r->prev_cr = false;
                i++;
                continue;
            }
            r->state = ST_UNQUOTED;
            continue; /* look at C again as field data */
        case ST_UNQUOTED: {
            size_t j = i;
            while (j < end && b[j] != delim && b[j] != '\n' && b[j] != '\r')
                j++;
            if (j > i) {
                rc = csv_put(r, b + i, j - i);
                if (rc)
                    goto out;
                r->prev_cr = false;
                i = j;
            }
            if (i == end)
                break;
            c = b[i];
            csv_count(r, c);
            i++;
            rc = csv_end_field(r);
            if (rc)
                goto out;
            if (c != delim) {
                csv_end_record(r);
                rc = 1;
                goto out;
            }
            continue;
        }
        case ST_QUOTED: {
            size_t j = i;
            while (j < end && b[j] != quote) {
                csv_count(r, b[j]);
                j++;
            }
            if (j > i) {
                rc = csv_put(r, b + i, j - i);
                if (rc)
                    goto out;
                i = j;
            }
            if (i < end) {
                r->state = ST_QUOTE_SEEN;
                r->prev_cr = false;
                i++;
            }
            continue;
        }
        case ST_QUOTE_SEEN:
            if (c == quote) { /* doubled: one quote */
                rc = csv_put(r, &c, 1);
                if (rc)
                    goto out;
                r->state = ST_QUOTED;
                i++;
                continue;
            }
            if (c == delim || c == '\n' || c == '\r') {
                csv_count(r, c);
                i++;
                rc = csv_end_field(r);
                if (rc)
                    goto out;
                if (c != delim) {
                    csv_end_record(r);
                    rc = 1;
                    goto out;
                }
                continue;
            }
            /* "ab"c: keep c as data, the field stays marked quoted */
            r->state = ST_UNQUOTED;
            continue;
        }
    }
out:
    r->ipos = i;
    return rc;
}

int csv_reader_next(struct csv_reader *r, struct csv_record **rec)
{
    *rec = NULL;
    if (r->err)
        return r->err;
    for (;;) {
        if (r->ipos == r->ilen && !r->eof) {
            int rc = csv_fill(r);
            if (rc)
                return rc;
        }
        if (r->ipos == r->ilen && r->eof)
            break;
        int rc = csv_scan(r);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *rec = &r->rec;
            return 1;
        }
    }
    /* The end of the input. */
    if (!r->in_record)
        return 0;
    if (r->truncated_ok) {
        /* A prefix of the data: the last record may be cut; drop it. */
        r->in_record = false;
        return 0;
    }
    if (r->state == ST_QUOTED)
        return csv_fail(r, -EBADMSG, "line %llu: unterminated quoted field",
                        r->quote_line);
    int rc = csv_end_field(r);
    if (rc)
        return rc;
    csv_end_record(r);
    *rec = &r->rec;
    return 1;
}

int csv_write_field(struct buf *out, const char *s, size_t n, char delim)
{
    if (!s)
        return 0;
    bool q = n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
             s[n - 1] == '\t';
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == delim || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!q)
        return buf_append(out, s, n);
    size_t mark = out->len;
    int rc = buf_putc(out, '"');
    size_t i = 0;
    while (rc == 0 && i < n) {
        const char *qp = memchr(s + i, '"', n - i);
        size_t k = qp ? (size_t)(qp - (s + i)) + 1 : n - i;
        rc = buf_append(out, s + i, k);
        if (rc == 0 && qp)
            rc = buf_putc(out, '"'); /* double it */
        i += k;
    }
    if (rc == 0)
        rc = buf_putc(out, '"');
    if (rc && out->data) { /* leave OUT as it was */
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}
