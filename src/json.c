/* json.c - see json.h.
 *
 * yajl parses; its callbacks build one struct jval tree per record and
 * queue finished records.  Input is fed to yajl one line at a time (at
 * most 64 KiB per call), so the line a callback fires on is known: that
 * gives records their line and errors "line N: ...".  A top-level array
 * is never materialised: its elements are the records.
 *
 * Caps: a record's text (counted from its tokens: strings with quotes,
 * keys, numbers, literals, brackets and commas, not whitespace) is at
 * most max_record bytes, and no single token may span more than
 * max_record bytes of input (which bounds yajl's own token buffer);
 * nesting inside a record is at most max_depth. */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "instream.h"

#define JSON_INBUF (64u << 10)
#define JSON_MAX_RECORD_DEFAULT (16u << 20)
#define JSON_MAX_DEPTH_DEFAULT 64

/* ---- values ----------------------------------------------------------- */

void jval_free(struct jval *v)
{
    if (!v)
        return;
    /* The reader puts a string's bytes or a number's text right after
     * the struct, in the same allocation (jv_new_text). */
    const char *inl = (const char *)(v + 1);
    switch (v->type) {
    case J_STRING:
        if (v->u.str.s != inl)
            free(v->u.str.s);
        break;
    case J_ARRAY:
    case J_OBJECT:
        for (size_t i = 0; i < v->u.c.n; i++) {
            jval_free(v->u.c.items[i]);
            if (v->u.c.keys)
                free(v->u.c.keys[i]);
        }
        free(v->u.c.items);
        free(v->u.c.keys);
        break;
    default:
        break;
    }
    if (v->num_text != inl)
        free(v->num_text);
    free(v);
}

const struct jval *jval_get(const struct jval *v, const char *key)
{
    if (!v || v->type != J_OBJECT || !key)
        return NULL;
    for (size_t i = 0; i < v->u.c.n; i++)
        if (v->u.c.keys[i] && strcmp(v->u.c.keys[i], key) == 0)
            return v->u.c.items[i];
    return NULL;
}

/* Shortest "%.Ng" that reads back as D; a ".0" keeps it a double. */
static int json_put_double(struct buf *out, double d)
{
    if (!isfinite(d))
        return buf_puts(out, "null"); /* JSON has no NaN or Infinity */
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eEn"))
        return buf_printf(out, "%s.0", tmp);
    return buf_puts(out, tmp);
}

static int jval_emit(const struct jval *v, struct buf *out)
{
    int rc = 0;
    if (!v)
        return buf_puts(out, "null");
    switch (v->type) {
    case J_NULL:
        return buf_puts(out, "null");
    case J_BOOL:
        return buf_puts(out, v->u.b ? "true" : "false");
    case J_INT:
        return buf_printf(out, "%" PRId64, v->u.i);
    case J_DOUBLE:
        /* The text as written is exact (big integers, long decimals). */
        if (v->num_text && v->num_text[0])
            return buf_puts(out, v->num_text);
        return json_put_double(out, v->u.d);
    case J_STRING:
        rc = buf_putc(out, '"');
        if (rc == 0)
            rc = buf_put_json_str(out, v->u.str.s ? v->u.str.s : "",
                                  v->u.str.s ? v->u.str.len : 0);
        if (rc == 0)
            rc = buf_putc(out, '"');
        return rc;
    case J_ARRAY:
    case J_OBJECT: {
        bool obj = v->type == J_OBJECT;
        rc = buf_putc(out, obj ? '{' : '[');
        for (size_t i = 0; rc == 0 && i < v->u.c.n; i++) {
            if (i)
                rc = buf_putc(out, ',');
            if (rc == 0 && obj) {
                const char *k = v->u.c.keys[i] ? v->u.c.keys[i] : "";
                rc = buf_putc(out, '"');
                if (rc == 0)
                    rc = buf_put_json_str(out, k, strlen(k));
                if (rc == 0)
                    rc = buf_puts(out, "\":");
            }
            if (rc == 0)
                rc = jval_emit(v->u.c.items[i], out);
        }
        if (rc == 0)
            rc = buf_putc(out, obj ? '}' : ']');
        return rc;
    }
    }
    return -EINVAL;
}

int jval_to_json(const struct jval *v, struct buf *out)
{
    size_t mark = out->len;
    int rc = jval_emit(v, out);
    if (rc && out->data) { /* leave OUT as it was */
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* ---- reader ----------------------------------------------------------- */

/* A container being built. */
struct jframe {
    struct jval *v;
    size_t cap; /* slots allocated in items (and keys) */
    char *key;  /* objects: the key for the next member */
};

struct jrec {
    struct jval *v;
    unsigned long long line;
    struct jrec *next;
};

struct json_reader {
    struct instream *in;
    size_t max_record;
    int max_depth;
    bool truncated_ok;
    yajl_handle h;

    unsigned char *ibuf;
    size_t ilen, ipos;
    bool started; /* the first non-space byte was seen */
    bool bom_checked;
    bool eof;     /* the instream ended */
    bool done;    /* yajl_complete_parse ran */
    bool last_nl; /* the last byte fed was '\n' */

    enum json_shape shape;
    bool top_array;  /* inside the top-level array of an array-shaped file */
    int top_values;  /* top-level values begun (1 or 2: SINGLE vs LINES) */

    struct jframe *stack;
    size_t depth, scap;
    bool in_rec;
    size_t rec_bytes;              /* text bytes of the record so far */
    unsigned long long rec_line;   /* where the record being built began */
    unsigned long long line;       /* line being fed, 1-based */
    unsigned long long last_line;  /* reported by json_reader_line */
    size_t events;                 /* callbacks during this yajl_parse */
    size_t quiet;                  /* bytes fed with no callback */

    struct jrec *qhead, *qtail;

    int err;
    unsigned long long err_line;
    char msg[256];
};

/* Record the first error: "line LINE: <message>". */
static void jr_fail(struct json_reader *r, int err, unsigned long long line,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void jr_fail(struct json_reader *r, int err, unsigned long long line,
                    const char *fmt, ...)
{
    if (r->err)
        return;
    int k = snprintf(r->msg, sizeof(r->msg), "line %llu: ", line);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof(r->msg))
        vsnprintf(r->msg + k, sizeof(r->msg) - (size_t)k, fmt, ap);
    va_end(ap);
    r->err = err;
    r->err_line = line;
}

static struct jval *jv_new(struct json_reader *r, enum jtype t)
{
    struct jval *v = calloc(1, sizeof(*v));
    if (!v)
        jr_fail(r, -ENOMEM, r->line, "out of memory");
    else
        v->type = t;
    return v;
}

/* A value of type T carrying N bytes of text (a string's bytes or a
 * number as written), copied right after the struct, NUL-terminated: one
 * allocation instead of two.  *TEXT points at the copy. */
static struct jval *jv_new_text(struct json_reader *r, enum jtype t,
                                const void *s, size_t n, char **text)
{
    struct jval *v = NULL;
    if (n < SIZE_MAX - sizeof(*v) - 1)
        v = malloc(sizeof(*v) + n + 1);
    if (!v) {
        jr_fail(r, -ENOMEM, r->line, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->type = t;
    *text = (char *)(v + 1);
    memcpy(*text, s, n);
    (*text)[n] = '\0';
    return v;
}

/* Count BYTES of record text; 0 when over the cap. */
static int jr_count(struct json_reader *r, size_t bytes)
{
    r->rec_bytes += bytes;
    if (r->rec_bytes > r->max_record) {
        jr_fail(r, -E2BIG, r->rec_line, "record is longer than %zu bytes",
                r->max_record);
        return 0;
    }
    return 1;
}

/* A value begins.  Returns 0 to stop the parse. */
static int jr_begin(struct json_reader *r, size_t bytes)
{
    r->events++;
    if (r->depth == 0) {
        r->in_rec = true;
        r->rec_line = r->line;
        r->rec_bytes = 0;
        if (!r->top_array && r->shape != JSON_SHAPE_ARRAY &&
            ++r->top_values >= 2)
            r->shape = JSON_SHAPE_LINES;
    }
    /* + the comma before an array element (object members count theirs
     * with the key) */
    if (r->depth > 0) {
        const struct jval *c = r->stack[r->depth - 1].v;
        if (c->type == J_ARRAY && c->u.c.n > 0)
            bytes++;
    }
    return jr_count(r, bytes);
}

/* V is complete: into its container, or out as a record. */
static int jr_add(struct json_reader *r, struct jval *v)
{
    if (!v)
        return 0;
    if (r->depth == 0) {
        struct jrec *q = malloc(sizeof(*q));
        if (!q) {
            jval_free(v);
            jr_fail(r, -ENOMEM, r->line, "out of memory");
            return 0;
        }
        q->v = v;
        q->line = r->rec_line;
        q->next = NULL;
        if (r->qtail)
            r->qtail->next = q;
        else
            r->qhead = q;
        r->qtail = q;
        r->in_rec = false;
        return 1;
    }
    struct jframe *f = &r->stack[r->depth - 1];
    struct jval *c = f->v;
    bool obj = c->type == J_OBJECT;
    if (c->u.c.n == f->cap) {
        size_t n = f->cap ? f->cap * 2 : 4;
        struct jval **it = realloc(c->u.c.items, n * sizeof(*it));
        if (it)
            c->u.c.items = it;
        char **ks = NULL;
        if (obj) {
            ks = realloc(c->u.c.keys, n * sizeof(*ks));
            if (ks)
                c->u.c.keys = ks;
        }
        if (!it || (obj && !ks)) {
            jval_free(v);
            jr_fail(r, -ENOMEM, r->line, "out of memory");
            return 0;
        }
        f->cap = n;
    }
    c->u.c.items[c->u.c.n] = v;
    if (obj) {
        c->u.c.keys[c->u.c.n] = f->key; /* yajl always gives a key first */
        f->key = NULL;
    }
    c->u.c.n++;
    return 1;
}

static int cb_null(void *ctx)
{
    struct json_reader *r = ctx;
    if (!jr_begin(r, 4))
        return 0;
    return jr_add(r, jv_new(r, J_NULL));
}

static int cb_boolean(void *ctx, int b)
{
    struct json_reader *r = ctx;
    if (!jr_begin(r, b ? 4 : 5))
        return 0;
    struct jval *v = jv_new(r, J_BOOL);
    if (v)
        v->u.b = b != 0;
    return jr_add(r, v);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    struct json_reader *r = ctx;
    char *v_text;
    if (!jr_begin(r, n))
        return 0;
    struct jval *v = jv_new_text(r, J_DOUBLE, s, n, &v_text);
    if (!v)
        return 0;
    v->num_text = v_text;
    const char *t = v->num_text;
    char *end;
    if (!strpbrk(t, ".eE")) {
        errno = 0;
        long long i = strtoll(t, &end, 10);
        if (errno == 0 && *end == '\0') {
            v->type = J_INT;
            v->u.i = i;
            return jr_add(r, v);
        }
    }
    /* A decimal, an exponent, or an integer too big for int64. */
    v->u.d = strtod(t, &end);
    return jr_add(r, v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    struct json_reader *r = ctx;
    if (!jr_begin(r, n + 2))
        return 0;
    /* "\u0000" may be inside: len says all */
    char *text;
    struct jval *v = jv_new_text(r, J_STRING, s, n, &text);
    if (!v)
        return 0;
    v->u.str.s = text;
    v->u.str.len = n;
    return jr_add(r, v);
}

static int cb_start(struct json_reader *r, enum jtype t)
{
    if (t == J_ARRAY && r->depth == 0 && !r->top_array &&
        r->shape == JSON_SHAPE_ARRAY) {
        r->events++;
        r->top_array = true; /* the wrapper: its elements are records */
        return 1;
    }
    if (!jr_begin(r, 1))
        return 0;
    if (r->depth >= (size_t)r->max_depth) {
        jr_fail(r, -E2BIG, r->line, "nesting deeper than %d levels",
                r->max_depth);
        return 0;
    }
    if (r->depth == r->scap) {
        size_t n = r->scap ? r->scap * 2 : 8;
        struct jframe *s = realloc(r->stack, n * sizeof(*s));
        if (!s) {
            jr_fail(r, -ENOMEM, r->line, "out of memory");
            return 0;
        }
        r->stack = s;
        r->scap = n;
    }
    struct jval *v = jv_new(r, t);
    if (!v)
        return 0;
    r->stack[r->depth++] = (struct jframe){v, 0, NULL};
    return 1;
}

static int cb_end(struct json_reader *r)
{
    r->events++;
    if (r->depth == 0) { /* the end of the top-level array */
        r->top_array = false;
        return 1;
    }
    if (!jr_count(r, 1))
        return 0;
    struct jframe *f = &r->stack[--r->depth];
    free(f->key);
    struct jval *v = f->v;
    f->v = NULL;
    f->key = NULL;
    return jr_add(r, v);
}

static int cb_start_map(void *ctx)
{
    return cb_start(ctx, J_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return cb_start(ctx, J_ARRAY);
}

static int cb_end_map(void *ctx)
{
    return cb_end(ctx);
}

static int cb_end_array(void *ctx)
{
    return cb_end(ctx);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
    struct json_reader *r = ctx;
    r->events++;
    struct jframe *f = &r->stack[r->depth - 1];
    if (!jr_count(r, n + 3 + (f->v->u.c.n > 0))) /* "key": and a comma */
        return 0;
    free(f->key);
    f->key = strndup((const char *)s, n);
    if (!f->key) {
        jr_fail(r, -ENOMEM, r->line, "out of memory");
        return 0;
    }
    return 1;
}

static const yajl_callbacks jr_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

int json_reader_new(struct instream *in, size_t max_record, int max_depth,
                    struct json_reader **out)
{
    *out = NULL;
    if (!in || max_depth < 0)
        return -EINVAL;
    struct json_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->in = in;
    r->max_record = max_record ? max_record : JSON_MAX_RECORD_DEFAULT;
    r->max_depth = max_depth ? max_depth : JSON_MAX_DEPTH_DEFAULT;
    r->line = 1;
    r->ibuf = malloc(JSON_INBUF);
    r->h = yajl_alloc(&jr_callbacks, NULL, r);
    if (!r->ibuf || !r->h) {
        json_reader_free(r);
        return -ENOMEM;
    }
    yajl_config(r->h, yajl_allow_multiple_values, 1);
    *out = r;
    return 0;
}

void json_reader_set_truncated(struct json_reader *r, bool truncated)
{
    r->truncated_ok = truncated;
}

void json_reader_free(struct json_reader *r)
{
    if (!r)
        return;
    if (r->h)
        yajl_free(r->h);
    for (size_t i = 0; i < r->depth; i++) {
        jval_free(r->stack[i].v);
        free(r->stack[i].key);
    }
    free(r->stack);
    while (r->qhead) {
        struct jrec *q = r->qhead;
        r->qhead = q->next;
        jval_free(q->v);
        free(q);
    }
    free(r->ibuf);
    free(r);
}

enum json_shape json_reader_shape(const struct json_reader *r)
{
    return r->shape;
}

const char *json_reader_error(const struct json_reader *r)
{
    return r->msg[0] ? r->msg : "no error";
}

unsigned long long json_reader_line(const struct json_reader *r)
{
    return r->last_line;
}

/* yajl's message for a syntax error, as "line N: parse error: ...". */
static int jr_syntax(struct json_reader *r, unsigned long long line)
{
    if (r->err) /* a callback stopped the parse: its own error */
        return r->err;
    unsigned char *e = yajl_get_error(r->h, 0, NULL, 0);
    const char *m = e ? (const char *)e : "parse error";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    jr_fail(r, -EBADMSG, line, "%.*s", (int)n, m);
    if (e)
        yajl_free_error(r->h, e);
    return r->err;
}

/* Feed yajl the next line (or 64 KiB) of input.  Returns 0 or -errno. */
static int jr_feed(struct json_reader *r)
{
    if (r->ipos == r->ilen && !r->eof) {
        ssize_t n = r->in->read(r->in, r->ibuf, JSON_INBUF);
        if (n < 0) {
            jr_fail(r, (int)n, r->line, "cannot read the input: %s",
                    strerror((int)-n));
            return (int)n;
        }
        r->ilen = (size_t)n;
        r->ipos = 0;
        if (n == 0)
            r->eof = true;
    }
    /* Before looking for a BOM, have 3 bytes (or the end). */
    while (!r->bom_checked && !r->eof && r->ilen - r->ipos < 3 &&
           memcmp(r->ibuf + r->ipos, "\xef\xbb\xbf", r->ilen - r->ipos) == 0) {
        ssize_t n = r->in->read(r->in, r->ibuf + r->ilen,
                                JSON_INBUF - r->ilen);
        if (n < 0) {
            jr_fail(r, (int)n, r->line, "cannot read the input: %s",
                    strerror((int)-n));
            return (int)n;
        }
        if (n == 0)
            r->eof = true;
        r->ilen += (size_t)n;
    }
    if (!r->started) {
        /* The shape comes from the first non-space byte (after a BOM). */
        size_t i = r->ipos;
        if (!r->bom_checked && r->ilen - i >= 3 &&
            memcmp(r->ibuf + i, "\xef\xbb\xbf", 3) == 0)
            i += 3;
        r->bom_checked = true;
        while (i < r->ilen && (r->ibuf[i] == ' ' || r->ibuf[i] == '\t' ||
                               r->ibuf[i] == '\r' || r->ibuf[i] == '\n')) {
            if (r->ibuf[i] == '\n')
                r->line++;
            i++;
        }
        r->ipos = i;
        if (i < r->ilen) {
            r->started = true;
            if (r->ibuf[i] == '[')
                r->shape = JSON_SHAPE_ARRAY;
        }
    }
    if (r->ipos == r->ilen) {
        if (!r->eof || r->done)
            return 0;
        r->done = true;
        if (!r->started)
            return 0; /* nothing but whitespace: no records */
        unsigned long long line = r->last_nl && r->line > 1 ? r->line - 1
                                                            : r->line;
        if (yajl_complete_parse(r->h) != yajl_status_ok) {
            if (r->truncated_ok && !r->err)
                return 0; /* the sample cut the last record: drop it */
            return jr_syntax(r, line);
        }
        if (r->err)
            return r->err;
        if (r->shape == JSON_SHAPE_UNKNOWN && r->top_values == 1)
            r->shape = JSON_SHAPE_SINGLE;
        return 0;
    }
    const unsigned char *p = r->ibuf + r->ipos;
    size_t n = r->ilen - r->ipos;
    const unsigned char *nl = memchr(p, '\n', n);
    if (nl)
        n = (size_t)(nl - p) + 1;
    r->events = 0;
    yajl_status st = yajl_parse(r->h, p, n);
    r->ipos += n;
    if (st != yajl_status_ok)
        return jr_syntax(r, r->line);
    if (r->err)
        return r->err;
    r->quiet = r->events ? 0 : r->quiet + n;
    if (r->quiet > r->max_record) {
        jr_fail(r, -E2BIG, r->line, "a value is longer than %zu bytes",
                r->max_record);
        return r->err;
    }
    r->last_nl = p[n - 1] == '\n';
    if (r->last_nl)
        r->line++;
    return 0;
}

int json_reader_next(struct json_reader *r, struct jval **rec)
{
    *rec = NULL;
    /* Before the first record goes out, read on until the shape is known
     * (a second top-level value begins, or the input ends).  Records
     * completed before an error still come out first. */
    while (!r->err && !r->done &&
           (!r->qhead ||
            (r->shape == JSON_SHAPE_UNKNOWN && r->top_values == 1)))
        jr_feed(r);
    struct jrec *q = r->qhead;
    if (q) {
        r->qhead = q->next;
        if (!r->qhead)
            r->qtail = NULL;
        *rec = q->v;
        r->last_line = q->line;
        free(q);
        return 1;
    }
    if (r->err) {
        r->last_line = r->err_line;
        return r->err;
    }
    return 0;
}
