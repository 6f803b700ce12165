/* infer.c - classify a bounded sample and infer its schema (see infer.h).
 *
 * Order as Glue's built-in classifiers: reject empty and binary samples,
 * then JSON (when the text starts with '{' or '['), then CSV with a
 * sniffed delimiter.  The sample is parsed with the project's own record
 * readers (csv.h, json.h) over a memory instream, so that what the
 * crawler infers is what the jobs will read. */
#include "infer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "csv.h"
#include "instream.h"
#include "json.h"

#define INFER_SNIFF_RECORDS 50     /* records parsed per candidate delimiter */
#define INFER_CONSISTENT 0.7       /* share of records with the usual count */
#define INFER_TYPE_MAX 65536       /* longer column types become string */
#define INFER_MAX_COLUMNS 10000    /* columns kept per table */
#define INFER_JSON_DEPTH 64        /* the json reader's default nesting cap */
#define INFER_NAME_MAX 64          /* a header cell longer is not a name */
#define INFER_DISTINCT 32          /* distinct values tracked per column */

static void set_unknown(struct infer_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_unknown(struct infer_result *out, const char *fmt, ...)
{
    columns_free(out->cols, out->ncols);
    out->cols = NULL;
    out->ncols = 0;
    snprintf(out->fmt.classification, sizeof(out->fmt.classification),
             "UNKNOWN");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

void infer_result_release(struct infer_result *r)
{
    if (!r)
        return;
    columns_free(r->cols, r->ncols);
    r->cols = NULL;
    r->ncols = 0;
}

/* ------------------------------------------------------------------ */
/* Binary data */

/* Offset of the first NUL byte or invalid UTF-8 sequence, or N.  *NUL
 * says which.  With TRUNCATED, a sequence cut by the end of the sample is
 * valid. */
static size_t utf8_check(const unsigned char *s, size_t n, bool truncated,
                         bool *nul)
{
    *nul = false;
    size_t i = 0;
    while (i < n) {
        /* Eight ASCII bytes without a NUL at a time. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - 0x0101010101010101ull) & ~w)) &
                 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c == 0) {
            *nul = true;
            return i;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned int cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n)
                return truncated ? n : i;
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += len;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Columns built value by value */

struct colset {
    char **names;
    struct htype **types; /* NULL: no evidence yet */
    unsigned *merged;     /* json_scalar_bit()s merged into types[i] */
    size_t n, cap;
    size_t *slots;        /* hash of names: index + 1, 0 empty */
    size_t nslots;        /* a power of two, > 2 * n */
};

static void colset_release(struct colset *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->names[i]);
        htype_free(cs->types[i]);
    }
    free(cs->names);
    free(cs->types);
    free(cs->merged);
    free(cs->slots);
    memset(cs, 0, sizeof(*cs));
}

static size_t name_hash(const char *s)
{
    size_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding NAME, or the empty slot where it would go. */
static size_t *colset_slot(const struct colset *cs, const char *name)
{
    size_t mask = cs->nslots - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask)
        if (!cs->slots[i] || strcmp(cs->names[cs->slots[i] - 1], name) == 0)
            return &cs->slots[i];
}

static int colset_rehash(struct colset *cs)
{
    size_t ns = cs->nslots ? cs->nslots * 2 : 64;
    size_t *slots = calloc(ns, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    free(cs->slots);
    cs->slots = slots;
    cs->nslots = ns;
    for (size_t i = 0; i < cs->n; i++)
        *colset_slot(cs, cs->names[i]) = i + 1;
    return 0;
}

/* Index of column NAME (added when new); -ENOMEM, or -E2BIG past
 * INFER_MAX_COLUMNS.  HINT is tried first (records list their members in
 * the same order, mostly). */
static ssize_t colset_find(struct colset *cs, const char *name, size_t hint)
{
    if (hint < cs->n && strcmp(cs->names[hint], name) == 0)
        return (ssize_t)hint;
    if ((cs->n + 1) * 2 > cs->nslots && colset_rehash(cs) < 0)
        return -ENOMEM;
    size_t *slot = colset_slot(cs, name);
    if (*slot)
        return (ssize_t)(*slot - 1);
    if (cs->n >= INFER_MAX_COLUMNS)
        return -E2BIG;
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? cs->cap * 2 : 16;
        char **nn = realloc(cs->names, nc * sizeof(*nn));
        if (!nn)
            return -ENOMEM;
        cs->names = nn;
        struct htype **nt = realloc(cs->types, nc * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        cs->types = nt;
        unsigned *nm = realloc(cs->merged, nc * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        cs->merged = nm;
        cs->cap = nc;
    }
    char *s = strdup(name);
    if (!s)
        return -ENOMEM;
    cs->names[cs->n] = s;
    cs->types[cs->n] = NULL;
    cs->merged[cs->n] = 0;
    *slot = cs->n + 1;
    return (ssize_t)cs->n++;
}

/* Move the columns into OUT, types written out (no evidence: string). */
static int colset_to_result(struct colset *cs, struct infer_result *out)
{
    struct column *cols = calloc(cs->n ? cs->n : 1, sizeof(*cols));
    if (!cols)
        return -ENOMEM;
    for (size_t i = 0; i < cs->n; i++) {
        cols[i].type = htype_format(cs->types[i], INFER_TYPE_MAX);
        if (!cols[i].type) {
            columns_free(cols, i);
            return -ENOMEM;
        }
        cols[i].name = cs->names[i];
        cs->names[i] = NULL;
    }
    columns_free(out->cols, out->ncols);
    out->cols = cols;
    out->ncols = cs->n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* JSON */

/* Where a truncated JSON sample can be cut so that what is left plus
 * closing brackets is valid JSON.  REC_CUT: just after the last complete
 * record (a top-level value, or an element of a top-level array), 0 if
 * none.  ANY_CUT: the last point after any complete value (inside the
 * first, partial record), 0 if none.  Strings are skipped with their
 * escapes; nothing else is validated (the reader does that). */
struct json_cut {
    size_t rec_cut, any_cut;
    bool too_deep;
    char rec_close;  /* what closes the bracket open at REC_CUT: the one
                        that opened depth 1 (the top-level array), or 0
                        (none open) */
};

/* S[I..N) is inside a JSON string: the index just after its closing
 * quote (escaped characters skipped), or N when it does not end there. */
static size_t json_skip_string(const char *s, size_t n, size_t i)
{
    while (i < n) {
        char ch = s[i];
        if (ch == '"')
            return i + 1;
        i += ch == '\\' ? 2 : 1;
    }
    return n;
}

static void json_find_cut(const char *s, size_t n, struct json_cut *c)
{
    memset(c, 0, sizeof(*c));
    size_t depth = 0, level = 0;
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", s[i]))
        i++;
    if (i < n && s[i] == '[')
        level = 1;
    char outer = 0; /* the bracket that opened depth 1 last */
    while (i < n) {
        char ch = s[i];
        if (ch == '"') {
            i = json_skip_string(s, n, i + 1);
            continue;
        }
        switch (ch) {
        case '{':
        case '[':
            if (++depth > INFER_JSON_DEPTH) {
                c->too_deep = true;
                return;
            }
            if (depth == 1)
                outer = ch;
            break;
        case '}':
        case ']':
            if (depth == 0)
                return; /* unbalanced: leave it to the reader */
            depth--;
            c->any_cut = i + 1;
            if (depth == level) {
                c->rec_cut = i + 1;
                c->rec_close = depth ? (outer == '{' ? '}' : ']') : 0;
            }
            break;
        case ',':
            if (depth >= 1)
                c->any_cut = i;
            if (depth == level && depth >= 1) {
                c->rec_cut = i;
                c->rec_close = outer == '{' ? '}' : ']';
            }
            break;
        default:
            break;
        }
        i++;
    }
}

/* S[0..CUT) followed by CLOSE (unless 0) and a newline, in a new
 * NUL-terminated string (*LEN bytes): json_close_at when the one open
 * bracket is known. */
static char *json_close_with(const char *s, size_t cut, char close,
                             size_t *len)
{
    char *t = malloc(cut + 3);
    if (!t)
        return NULL;
    memcpy(t, s, cut);
    size_t k = cut;
    if (close)
        t[k++] = close;
    t[k++] = '\n';
    t[k] = '\0';
    *len = k;
    return t;
}

/* S[0..CUT) followed by the brackets that close what is open there, in a
 * new NUL-terminated string (*LEN bytes). */
static char *json_close_at(const char *s, size_t cut, size_t *len)
{
    char stack[INFER_JSON_DEPTH + 1];
    size_t depth = 0;
    size_t i = 0;
    while (i < cut) {
        char ch = s[i];
        if (ch == '"') {
            i = json_skip_string(s, cut, i + 1);
            continue;
        }
        if ((ch == '{' || ch == '[') && depth < INFER_JSON_DEPTH)
            stack[depth++] = ch;
        else if ((ch == '}' || ch == ']') && depth > 0)
            depth--;
        i++;
    }
    char *t = malloc(cut + depth + 2);
    if (!t)
        return NULL;
    memcpy(t, s, cut);
    size_t k = cut;
    while (depth > 0)
        t[k++] = stack[--depth] == '{' ? '}' : ']';
    t[k++] = '\n';
    t[k] = '\0';
    *len = k;
    return t;
}

static const char *jtype_name(enum jtype t)
{
    switch (t) {
    case J_NULL:
        return "null";
    case J_BOOL:
        return "boolean";
    case J_INT:
    case J_DOUBLE:
        return "number";
    case J_STRING:
        return "string";
    case J_ARRAY:
        return "array";
    case J_OBJECT:
        return "object";
    }
    return "value";
}

/* A column name from a JSON key or a header cell: lower case, control
 * characters (which would break the schema file's lines) as '_'; an
 * empty name becomes col<INDEX>.  Returns a malloc'd string. */
static char *column_name(const char *s, size_t index)
{
    char *name;
    if (!s || !*s) {
        name = malloc(32);
        if (name)
            snprintf(name, 32, "col%zu", index);
        return name;
    }
    name = strdup(s);
    if (!name)
        return NULL;
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    }
    return name;
}

/* Add one record's members to CS. */
/* One bit per scalar type htype_from_jval gives V (boolean, bigint,
 * double, date, timestamp, string); 0 for null, arrays and objects.
 * Hive's widening is a join (bigint < double, date < timestamp, all <
 * string; a scalar and a struct or array -> string), so merging a scalar
 * type a column has already merged is a no-op: json_add_record skips it
 * (no type built, nothing allocated).  A JSON string is a date or
 * timestamp exactly when infer_text_type says so and the date is written
 * with '-' (htype_from_jval's ISO-only rule). */
static unsigned json_scalar_bit(const struct jval *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case J_BOOL:
        return 1u;
    case J_INT:
        return 2u;
    case J_DOUBLE:
        return 4u;
    case J_STRING: {
        const char *t = infer_text_type(v->u.str.s, v->u.str.len);
        if (t && v->u.str.len >= 10 && v->u.str.s[4] == '-') {
            if (strcmp(t, "date") == 0)
                return 8u;
            if (strcmp(t, "timestamp") == 0)
                return 16u;
        }
        return 32u;
    }
    default:
        return 0;
    }
}

static int json_add_record(struct colset *cs, const struct jval *rec)
{
    ssize_t j = -1;
    for (size_t i = 0; i < rec->u.c.n; i++) {
        /* column_name's lower-casing, on the stack for a usual key */
        const char *key = rec->u.c.keys[i];
        size_t klen = key ? strlen(key) : 0;
        char nbuf[256];
        char *name = NULL;
        if (klen > 0 && klen < sizeof(nbuf)) {
            for (size_t k = 0; k <= klen; k++) {
                char c = key[k];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                else if (k < klen && ((unsigned char)c < 0x20 || c == 0x7f))
                    c = '_';
                nbuf[k] = c;
            }
        } else {
            name = column_name(key, cs->n);
            if (!name)
                return -ENOMEM;
        }
        j = colset_find(cs, name ? name : nbuf, (size_t)(j + 1));
        free(name);
        if (j == -E2BIG)
            continue; /* past the column cap: ignored */
        if (j < 0)
            return (int)j;
        unsigned bit = json_scalar_bit(rec->u.c.items[i]);
        if (bit && (cs->merged[j] & bit))
            continue;
        struct htype *t = htype_from_jval(rec->u.c.items[i]);
        if (!t || htype_merge_into(&cs->types[j], t) < 0)
            return -ENOMEM;
        cs->merged[j] |= bit;
    }
    return 0;
}

/* Classify DATA[0..N) (BOM already skipped) as JSON records.  Returns 0
 * with OUT filled (json or UNKNOWN), -ENOMEM, or 1 when the text is not
 * JSON at all (a syntax error before any record): the caller may try
 * CSV, and OUT holds the JSON reason. */
static int infer_json(const char *data, size_t n, size_t skipped,
                      bool truncated, struct infer_result *out)
{
    const char *text = data;
    size_t tlen = n;
    char *repaired = NULL;
    uint64_t sample_bytes = skipped + n;
    bool partial = false;

    if (truncated) {
        struct json_cut c;
        json_find_cut(data, n, &c);
        size_t cut = 0;
        if (c.rec_cut > 0) {
            cut = c.rec_cut;
            sample_bytes = skipped + c.rec_cut;
        } else if (c.any_cut > 0 && !c.too_deep) {
            /* Not even one whole record: one partial record (e.g. the
             * head of a large single-object file) still shows the
             * columns. */
            cut = c.any_cut;
            partial = true;
        }
        if (cut > 0) {
            /* At a record's end at most the depth-1 bracket is open and
             * json_find_cut knows it: no second scan. */
            repaired = partial ? json_close_at(data, cut, &tlen)
                               : json_close_with(data, cut, c.rec_close,
                                                 &tlen);
            if (!repaired)
                return -ENOMEM;
            text = repaired;
        }
    }

    struct instream *in = NULL;
    struct json_reader *r = NULL;
    struct colset cs = {0};
    struct jval *rec = NULL;
    uint64_t records = 0;
    int rc = instream_memory(text, tlen, &in);
    if (rc == 0)
        rc = json_reader_new(in, 0, 0, &r);
    if (rc < 0)
        goto done;
    /* A repaired sample is whole; one that could not be cut may end
     * inside its first record. */
    json_reader_set_truncated(r, truncated && !repaired);
    for (;;) {
        rc = json_reader_next(r, &rec);
        if (rc == 0)
            break;
        if (rc == -ENOMEM)
            goto done;
        if (rc < 0) {
            const char *e = json_reader_error(r);
            set_unknown(out, "json: %s", e && *e ? e : strerror(-rc));
            rc = records == 0 && rc == -EBADMSG ? 1 : 0;
            goto done;
        }
        if (rec->type != J_OBJECT) {
            set_unknown(out,
                        "JSON that is not records (a%s %s at line %llu, "
                        "records must be objects)",
                        rec->type == J_ARRAY || rec->type == J_OBJECT ? "n"
                                                                      : "",
                        jtype_name(rec->type), json_reader_line(r));
            rc = 0;
            goto done;
        }
        records++;
        rc = json_add_record(&cs, rec);
        jval_free(rec);
        rec = NULL;
        if (rc < 0)
            goto done;
    }
    if (records == 0) {
        set_unknown(out, "JSON with no records");
        rc = 0;
        goto done;
    }
    rc = colset_to_result(&cs, out);
    if (rc < 0)
        goto done;
    snprintf(out->fmt.classification, sizeof(out->fmt.classification),
             "json");
    out->records = records;
    out->sample_bytes = partial ? skipped + n : sample_bytes;
    out->partial = partial;
    out->reason[0] = '\0';
done:
    jval_free(rec);
    json_reader_free(r);
    instream_free(in);
    colset_release(&cs);
    free(repaired);
    return rc;
}

/* ------------------------------------------------------------------ */
/* CSV: the delimiter */

static const char infer_delims[] = {',', '\t', '|', ';', '\x01'};
#define NDELIMS (sizeof(infer_delims))

static const char *delim_name(char d)
{
    switch (d) {
    case '\t':
        return "\\t";
    case '\x01':
        return "\\x01";
    case '|':
        return "|";
    case ';':
        return ";";
    default:
        return ",";
    }
}

static bool blank_record(const struct csv_record *rec)
{
    return rec->n == 0 ||
           (rec->n == 1 && rec->len[0] == 0 && !rec->quoted[0]);
}

struct sniff {
    size_t records;     /* non-blank records parsed */
    size_t mode;        /* the most common field count */
    size_t mode_count;  /* records with it */
    size_t singles;     /* records with one field */
    size_t first;       /* fields in the first record */
    size_t max;         /* most fields in a record */
    size_t min;         /* fewest fields in a record */
    size_t short_rows;  /* records with fewer fields than the first */
    bool first_names;   /* the first record's cells look like a header */
    bool failed;        /* not even one record: why in err */
    char err[128];
};

static bool name_like(const char *s, size_t n);

/* Do REC's cells look like column names: two or more, each non-empty,
 * name-like (see name_like), text (not a number, boolean or date) and
 * unique? */
static bool header_cells(const struct csv_record *rec)
{
    if (rec->n < 2)
        return false;
    for (size_t j = 0; j < rec->n; j++) {
        const char *t = infer_text_type(rec->field[j], rec->len[j]);
        if (!t || strcmp(t, "string") != 0 ||
            !name_like(rec->field[j], rec->len[j]))
            return false;
        for (size_t k = 0; k < j; k++)
            if (rec->len[k] == rec->len[j] &&
                memcmp(rec->field[k], rec->field[j], rec->len[j]) == 0)
                return false;
    }
    return true;
}

/* A ragged-right file: a first row of names with the most fields, and
 * data rows of two or more fields that leave trailing empty fields out
 * (distro-info's "1.1,Buzz,buzz,1993-08-16,1996-06-17,1997-06-05" under
 * 8 names).  Hive's LazySimpleSerDe reads the missing fields as NULL. */
static bool sniff_ragged(const struct sniff *s)
{
    return !s->failed && s->records >= 2 && s->first_names &&
           s->first == s->max && s->short_rows > 0 && s->min >= 2;
}

static int sniff_one(const char *data, size_t n, bool truncated, char delim,
                     struct sniff *s)
{
    memset(s, 0, sizeof(*s));
    size_t counts[INFER_SNIFF_RECORDS];
    struct instream *in = NULL;
    struct csv_reader *r = NULL;
    struct csv_opts o = {.delim = delim, .quote = '"'};
    int rc = instream_memory(data, n, &in);
    if (rc == 0)
        rc = csv_reader_new(in, &o, &r);
    if (rc == 0)
        csv_reader_set_truncated(r, truncated);
    while (rc == 0 && s->records < INFER_SNIFF_RECORDS) {
        struct csv_record *rec;
        int k = csv_reader_next(r, &rec);
        if (k == 0)
            break;
        if (k < 0) {
            if (k == -ENOMEM) {
                rc = k;
            } else if (s->records == 0) {
                const char *e = csv_reader_error(r);
                s->failed = true;
                snprintf(s->err, sizeof(s->err), "%s",
                         e && *e ? e : strerror(-k));
            }
            break;
        }
        if (blank_record(rec))
            continue;
        if (s->records == 0) {
            s->first = rec->n;
            s->first_names = header_cells(rec);
        }
        if (rec->n > s->max)
            s->max = rec->n;
        if (s->records == 0 || rec->n < s->min)
            s->min = rec->n;
        s->short_rows += rec->n < s->first;
        counts[s->records++] = rec->n;
    }
    csv_reader_free(r);
    instream_free(in);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->records; i++) {
        size_t c = 0;
        for (size_t j = 0; j < s->records; j++)
            c += counts[j] == counts[i];
        if (c > s->mode_count ||
            (c == s->mode_count && counts[i] > s->mode)) {
            s->mode_count = c;
            s->mode = counts[i];
        }
        s->singles += counts[i] == 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* CSV: header detection */

/* lower ("city"), UPPER ("USA"), Title ("Name", "New York": every word
 * starts with a capital, the rest lower), or mixed ("iPhone", "MPAA
 * Rating"); value_flags() and case_class() tell it. */
enum case_class { CC_NONE, CC_LOWER, CC_UPPER, CC_TITLE, CC_MIXED };

static bool has_digit(const char *s)
{
    for (; *s; s++)
        if (*s >= '0' && *s <= '9')
            return true;
    return false;
}

/* Could S be a column name: short, with a letter (any non-ASCII byte
 * counts: names in other scripts), at most three spaces, no control
 * characters. */
static bool name_like(const char *s, size_t n)
{
    if (n == 0 || n > INFER_NAME_MAX)
        return false;
    bool letter = false;
    int spaces = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        spaces += c == ' ';
        letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c >= 0x80;
    }
    return letter && spaces <= 3;
}

/* An identifier: [A-Za-z_][A-Za-z0-9_]* (what a program would write). */
static bool ident_like(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Words that column names are made of, sorted (bsearch).  A first row
 * whose every cell holds one ("Name", "City"; "Title", "Director") while
 * the values below mostly do not is a header even when every value is
 * Title-case text like the names (rule (b)). */
static const char *const header_words[] = {
    "account", "address", "age", "amount", "area", "author", "balance",
    "brand", "category", "city", "class", "code", "color", "colour",
    "comment", "comments", "company", "count", "country", "county",
    "created", "currency", "customer", "date", "day", "department",
    "desc", "description", "destination", "director", "distance",
    "district", "email", "end", "first", "gender", "genre", "group", "id",
    "item", "key", "kind", "label", "language", "last", "lat", "latitude",
    "level", "lng", "location", "lon", "long", "longitude", "make",
    "message", "model", "month", "name", "note", "notes", "number",
    "order", "origin", "owner", "phone", "place", "price", "product",
    "quantity", "rank", "rating", "region", "score", "sex", "size", "sku",
    "source", "species", "start", "state", "status", "street", "symbol",
    "tag", "tags", "team", "text", "time", "timestamp", "title", "total",
    "type", "unit", "updated", "url", "user", "username", "value",
    "version", "weather", "year", "zip",
};

static int word_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, *(const char *const *)b);
}

/* Does S hold one of header_words as a word (split at non-letters and at
 * camelCase humps: "zip_code", "FirstName", "Release Date")? */
static bool has_header_word(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !((s[i] >= 'a' && s[i] <= 'z') ||
                          (s[i] >= 'A' && s[i] <= 'Z')))
            i++;
        char w[16];
        size_t k = 0;
        bool fits = true;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
                         (s[i] >= 'A' && s[i] <= 'Z'))) {
            if (k > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i - 1] >= 'a' &&
                s[i - 1] <= 'z')
                break; /* camelCase hump */
            if (k + 1 < sizeof(w))
                w[k++] = (char)(s[i] | 0x20);
            else
                fits = false;
            i++;
        }
        w[k] = '\0';
        if (k > 0 && fits &&
            bsearch(w, header_words,
                    sizeof(header_words) / sizeof(header_words[0]),
                    sizeof(header_words[0]), word_cmp))
            return true;
    }
    return false;
}

/* Is S[0..N) a year as wide tables name their columns: four digits,
 * 1000..2999?  *Y gets it. */
static bool year_cell(const char *s, size_t n, int *y)
{
    if (n != 4 || s[0] < '1' || s[0] > '2')
        return false;
    int v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *y = v;
    return true;
}

/* One bit per type csv_value_type returns, 0 for any other.  The CSV
 * scalar types widen as a join (bigint < double, date < timestamp, all
 * < string), so merging a type a column has already merged is a no-op
 * and the column skips it (no parse, no allocation). */
static unsigned type_bit(const char *t)
{
    switch (t[0]) {
    case 'b':
        return t[1] == 'o' ? 1u : t[1] == 'i' ? 2u : 0u; /* boolean, bigint */
    case 'd':
        return t[1] == 'o' ? 4u : t[1] == 'a' ? 8u : 0u; /* double, date */
    case 't':
        return 16u; /* timestamp */
    case 's':
        return 32u; /* string */
    default:
        return 0;
    }
}

/* What the data rows (all but the first) look like in one column, for
 * comparing with the first row's cell. */
/* The TS_FORM_* bit of a value infer_text_type typed TYPE ("date" or
 * "timestamp"; 0 for other types).  The forms are fixed-width:
 * yyyy?MM?dd, then at 10 'T' or ' ', HH:mm, ':ss' at 16, '.f' at 19,
 * then an optional zone. */
static uint32_t csv_ts_form(const char *s, size_t n, const char *type)
{
    unsigned bit = type_bit(type);
    if (bit == 8u) /* date */
        return TS_FORM_DATE;
    if (bit != 16u || n < 16) /* not a timestamp */
        return 0;
    bool slash = s[4] == '/', t = s[10] == 'T';
    int prec = TS_FORM_PREC_MIN;
    size_t i = 16;
    if (n > 16 && s[16] == ':') {
        prec = TS_FORM_PREC_SEC;
        i = 19;
        if (n > 19 && s[19] == '.') {
            prec = TS_FORM_PREC_FRAC;
            for (i = 20; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        }
    }
    return ts_form_bit(slash, t, prec, i < n);
}

/* The type of one CSV value for its column: infer_text_type's, except
 * that a slashed date alone ("2015/01/01") is string, as no Hive or
 * Athena reader can read it as DATE (Hive's DATE is yyyy-MM-dd, and
 * LazySimpleSerDe has no date format parameter; docs/crawler.md).  Its
 * TS_FORM_* bit is ORed into *FORMS.  NULL for no evidence. */
static const char *csv_value_type(const char *s, size_t n, uint32_t *forms)
{
    const char *t = infer_text_type(s, n);
    if (!t)
        return NULL;
    if (type_bit(t) == 8u && s[4] == '/') /* a slashed date */
        return "string";
    *forms |= csv_ts_form(s, n, t);
    return t;
}

struct colstat {
    struct htype *type;   /* merged type of the data rows */
    uint32_t ts_forms;    /* TS_FORM_* bits of its timestamp values (and
                             of its dates, TS_FORM_DATE) */
    size_t values;        /* non-empty values */
    size_t typed;         /* values of a type other than string */
    size_t years;         /* values that could be years (year_cell) */
    size_t name_like;     /* values that could be names too */
    size_t worded;        /* values with a header word */
    size_t digits;        /* values with a digit */
    size_t other_case;    /* lettered values of another case class than
                             the first row's cell */
    size_t lettered;      /* values with a letter */
    size_t len_sum;
    bool same_as_first;   /* the first row's cell occurs again */
    enum case_class first_cc; /* case_class of the first row's cell */
    unsigned merged;      /* type_bit()s of the types merged into type:
                             merging one again changes nothing */
    char *distinct[INFER_DISTINCT];
    size_t dlen[INFER_DISTINCT];      /* their lengths */
    unsigned dflags[INFER_DISTINCT];  /* their VF_* flags */
    enum case_class dcc[INFER_DISTINCT]; /* their case classes */
    size_t ndistinct;
    bool many;            /* more than INFER_DISTINCT distinct values */
};

/* What colstat_add counts of one value (kept per distinct value, so that
 * a repeated value is not scanned again). */
#define VF_YEAR 1u   /* year_cell */
#define VF_NAME 2u   /* name_like */
#define VF_WORD 4u   /* has_header_word */
#define VF_DIGIT 8u  /* has_digit */


/* The VF_* flags of V[0..LEN) (no NUL inside) and its case_class in
 * *CC, in one pass: what year_cell, name_like, has_header_word, has_digit
 * and case_class say of it. */
static unsigned value_flags(const char *v, size_t len, enum case_class *cc)
{
    bool lo = false, up = false, title = true, word_start = true;
    bool digit = false, ctrl = false, high = false;
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        bool l = c >= 'a' && c <= 'z', u = c >= 'A' && c <= 'Z';
        lo |= l;
        up |= u;
        if (l || u) {
            if (word_start != u)
                title = false;
            word_start = false;
        } else {
            word_start = true;
        }
        digit |= c >= '0' && c <= '9';
        ctrl |= c < 0x20 || c == 0x7f;
        high |= c >= 0x80;
        spaces += c == ' ';
    }
    *cc = !lo && !up ? CC_NONE
          : !up      ? CC_LOWER
          : !lo      ? CC_UPPER
          : title    ? CC_TITLE
                     : CC_MIXED;
    int y;
    unsigned f = 0;
    if (year_cell(v, len, &y))
        f |= VF_YEAR;
    if (len > 0 && len <= INFER_NAME_MAX && !ctrl && (lo || up || high) &&
        spaces <= 3)
        f |= VF_NAME;
    /* has_header_word finds words of ASCII letters only */
    if ((lo || up) && has_header_word(v, len))
        f |= VF_WORD;
    if (digit)
        f |= VF_DIGIT;
    return f;
}

/* The case_class of the NUL-terminated S (value_flags' letter-case rule). */
static enum case_class case_class(const char *s)
{
    enum case_class cc;
    (void)value_flags(s, strlen(s), &cc);
    return cc;
}

/* Count V[0..LEN) (NUL-terminated, no NUL inside: utf8_check refused
 * those) in ST; FIRST[0..FIRST_LEN) is the first row's cell (NULL: none). */
static int colstat_add(struct colstat *st, const char *first, size_t first_len,
                       const char *v, size_t len, bool typed)
{
    if (len == 0)
        return 0;
    st->values++;
    st->typed += typed;
    st->len_sum += len;
    if (first && first_len == len && memcmp(first, v, len) == 0)
        st->same_as_first = true;
    size_t slot = st->ndistinct;
    if (!st->many)
        for (size_t i = 0; i < st->ndistinct; i++)
            if (st->dlen[i] == len && memcmp(st->distinct[i], v, len) == 0) {
                slot = i;
                break;
            }
    bool known = slot < st->ndistinct;
    unsigned flags;
    enum case_class c;
    if (known) {
        flags = st->dflags[slot];
        c = st->dcc[slot];
    } else {
        flags = value_flags(v, len, &c);
    }
    st->years += (flags & VF_YEAR) != 0;
    st->name_like += (flags & VF_NAME) != 0;
    st->worded += (flags & VF_WORD) != 0;
    st->digits += (flags & VF_DIGIT) != 0;
    if (first && c != CC_NONE) {
        st->lettered++;
        st->other_case += c != st->first_cc;
    }
    if (known || st->many)
        return 0;
    if (st->ndistinct == INFER_DISTINCT) {
        st->many = true;
        return 0;
    }
    st->distinct[st->ndistinct] = strndup(v, len);
    if (!st->distinct[st->ndistinct])
        return -ENOMEM;
    st->dlen[st->ndistinct] = len;
    st->dflags[st->ndistinct] = flags;
    st->dcc[st->ndistinct] = c;
    st->ndistinct++;
    return 0;
}

static void colstat_release(struct colstat *st)
{
    htype_free(st->type);
    for (size_t i = 0; i < st->ndistinct; i++)
        free(st->distinct[i]);
}

/* Does column ST's data show that the first row's cell H is a name, not a
 * value?  Rule (b) of the header detection, see csv_has_header. */
static bool column_says_header(const char *h, const struct colstat *st,
                               bool single_column)
{
    size_t hlen = strlen(h);
    /* Categorical data: few distinct values, repeated, and the first
     * row's cell never among them ("weather": rain, sun, rain, ...). */
    bool categorical = st->values >= 4 && !st->many &&
                       st->ndistinct * 2 <= st->values;
    /* Codes and numbers-in-text under a name without digits ("iata":
     * 00M, 01G; "phone": 555-1234; "release date": Jun 12 1998). */
    bool digits = !has_digit(h) && st->values >= 2 &&
                  st->digits * 10 >= st->values * 8;
    /* A lower-case, upper-case or Title-case name over values of another
     * case ("city": Seattle, New York; "NAME": Alice; "Name": chevrolet
     * chevelle malibu). */
    enum case_class hc = case_class(h);
    bool other_case = hc != CC_NONE && hc != CC_MIXED &&
                      st->lettered >= 2 &&
                      st->other_case * 10 >= st->lettered * 8;
    if (single_column)
        return ident_like(h) && (categorical || digits || other_case);
    /* Long free text under a short name ("comment": whole sentences). */
    bool long_text = st->values >= 2 &&
                     st->len_sum >= st->values * (2 * hlen + 10) &&
                     st->name_like * 2 < st->values;
    return categorical || digits || other_case || long_text;
}

/* Glue's header rule, and ours when every column is string.
 *
 * The first row can be a header only if its non-empty cells are unique
 * (as written: "a" and "A" become a and a_1) and each is text: not a
 * number, boolean or date (years only as (d) says).  Then:
 *  (a) Glue's rule: some column's data rows have a type other than string
 *      while its first cell is a name ("temp_max" over doubles); we also
 *      take a name over a column whose values are at least two thirds
 *      typed, the rest text that widened it to string ("qty": 1, 2, n/a);
 *  (b) when every column is string, Glue never finds a header; we do when
 *      the first row looks like names (each cell non-empty, at most 64
 *      bytes, with a letter, at most three spaces, and never occurring
 *      again in its column) and, in some column, the data rows clearly do
 *      not look like that name: categorical values, values with digits
 *      under a name without, values of another letter case, or long free
 *      text (column_says_header); or every first cell holds a word that
 *      column names are made of ("Name", "City", "Release Date") while
 *      most values below do not.  A single-column file needs more: an
 *      identifier-like name (no spaces) over categorical values, values
 *      with digits or values of another case ("state": Alabama, Alaska),
 *      so that lines of free words are not taken for a header.
 *  (c) a file of a single row of identifiers (two or more columns) is a
 *      header over no data: an empty table, as exports write them. */
static bool csv_has_header(char **first, size_t *first_len, size_t ncols,
                           const struct colstat *st, size_t data_rows)
{
    bool any_empty = false;
    size_t nonempty = 0, nyears = 0;
    int last_year = 0;
    bool years_differ = false;
    for (size_t j = 0; j < ncols; j++) {
        if (first_len[j] == 0) {
            any_empty = true;
            continue;
        }
        nonempty++;
        const char *t = infer_text_type(first[j], first_len[j]);
        int y;
        if (t && strcmp(t, "bigint") == 0 &&
            year_cell(first[j], first_len[j], &y)) {
            /* (d) below: years, rising left to right */
            if (nyears++ && y <= last_year)
                return false;
            last_year = y;
            years_differ |= st[j].values > 0 && st[j].years < st[j].values;
            continue;
        }
        if (!t || strcmp(t, "string") != 0)
            return false;
        for (size_t k = 0; k < j; k++)
            if (first_len[k] && strcmp(first[j], first[k]) == 0)
                return false;
    }
    if (nonempty == 0)
        return false;
    if (nyears > 0)
        /* (d) a wide table: text names, then two or more years, over
         * data that is not all years itself. */
        return nyears >= 2 && nyears < nonempty && years_differ &&
               data_rows > 0;
    if (data_rows == 0) {
        if (ncols < 2 || any_empty)
            return false;
        for (size_t j = 0; j < ncols; j++)
            if (!ident_like(first[j]))
                return false;
        return true;
    }
    for (size_t j = 0; j < ncols; j++) {
        if (first_len[j] == 0 || !st[j].type)
            continue;
        char *t = htype_format(st[j].type, 64);
        bool typed = t && strcmp(t, "string") != 0;
        free(t);
        if (typed && !st[j].same_as_first)
            return true; /* (a) */
        /* (a) when a few values spoil the type: at least two thirds of
         * the values are numbers, booleans or dates ("qty": 1, 2, n/a). */
        if (st[j].typed >= 2 && st[j].typed * 3 >= st[j].values * 2 &&
            !st[j].same_as_first && name_like(first[j], first_len[j]))
            return true;
    }
    if (any_empty)
        return false;
    for (size_t j = 0; j < ncols; j++)
        if (!name_like(first[j], first_len[j]) || st[j].same_as_first)
            return false;
    for (size_t j = 0; j < ncols; j++)
        if (column_says_header(first[j], &st[j], ncols == 1))
            return true; /* (b) */
    /* (b) by the words of the names: every cell holds a header word and,
     * in every column, most values do not. */
    if (ncols == 1 && !ident_like(first[0]))
        return false; /* "Make it so": free text, not a name */
    for (size_t j = 0; j < ncols; j++)
        if (!has_header_word(first[j], first_len[j]) ||
            st[j].worded * 2 >= st[j].values)
            return false;
    return true;
}

/* Column names from the header cells (column_name); repeats ->
 * name_1, name_2, ... */
static int header_names(char **first, size_t ncols, char **names)
{
    for (size_t j = 0; j < ncols; j++) {
        char *base = column_name(first[j], j);
        if (!base)
            return -ENOMEM;
        char *cand = base;
        for (unsigned k = 1;; k++) {
            bool taken = false;
            for (size_t i = 0; i < j && !taken; i++)
                taken = strcmp(names[i], cand) == 0;
            if (!taken)
                break;
            if (cand != base)
                free(cand);
            size_t len = strlen(base) + 16;
            cand = malloc(len);
            if (!cand) {
                free(base);
                return -ENOMEM;
            }
            snprintf(cand, len, "%s_%u", base, k);
        }
        if (cand != base)
            free(base);
        names[j] = cand;
    }
    return 0;
}

/* Line ends in S[0..N) as the CSV reader counts them: LF, CRLF and a
 * lone CR each end one line. */
static unsigned long long count_line_ends(const char *s, size_t n)
{
    unsigned long long k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'));
    return k;
}

/* Offset just after the LINE-th line end (1-based line numbers), or N. */
static size_t line_end_offset(const char *s, size_t n, unsigned long long line)
{
    unsigned long long seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue; /* CRLF: the LF ends the line */
        if ((s[i] == '\n' || s[i] == '\r') && ++seen == line)
            return i + 1;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* CSV */

static int infer_csv(const char *data, size_t n, bool truncated,
                     struct infer_result *out)
{
    size_t len = n;
    if (truncated) {
        /* Records past the last line end are cut: ignore them. */
        while (len > 0 && data[len - 1] != '\n' && data[len - 1] != '\r')
            len--;
        if (len == 0) {
            set_unknown(out, "no complete line in the first %zu bytes", n);
            return 0;
        }
    }

    /* The delimiter. */
    struct sniff sn[NDELIMS];
    size_t best = NDELIMS;
    for (size_t d = 0; d < NDELIMS; d++) {
        int rc = sniff_one(data, len, truncated, infer_delims[d], &sn[d]);
        if (rc < 0)
            return rc;
        if (sn[d].failed || sn[d].records == 0 || sn[d].mode < 2)
            continue;
        if (best == NDELIMS) {
            best = d;
            continue;
        }
        /* Compare consistency mode_count/records without division. */
        unsigned long long a = (unsigned long long)sn[d].mode_count *
                               sn[best].records;
        unsigned long long b = (unsigned long long)sn[best].mode_count *
                               sn[d].records;
        if (a > b || (a == b && sn[d].mode > sn[best].mode))
            best = d;
    }
    /* One column: every delimiter leaves most records whole; the first
     * delimiter that can read the text is recorded (',' mostly). */
    bool single = true;
    size_t first_ok = NDELIMS, first_failed = NDELIMS;
    for (size_t d = 0; d < NDELIMS; d++) {
        if (sn[d].failed) {
            if (first_failed == NDELIMS)
                first_failed = d;
            continue;
        }
        if (sn[d].records > 0 && first_ok == NDELIMS)
            first_ok = d;
        if ((double)sn[d].singles < INFER_CONSISTENT * (double)sn[d].records)
            single = false;
    }
    if (first_ok == NDELIMS) {
        if (first_failed < NDELIMS)
            set_unknown(out, "csv: %s", sn[first_failed].err);
        else
            set_unknown(out, "no records (only blank lines)");
        return 0;
    }
    char delim;
    size_t ncols;
    bool consistent = best < NDELIMS &&
                      (double)sn[best].mode_count >=
                          INFER_CONSISTENT * (double)sn[best].records;
    /* Ragged right: the consistent delimiter's (or, with none, the first
     * delimiter's in order) header row is wider than most rows. */
    size_t ragged = NDELIMS;
    for (size_t d = 0; d < NDELIMS && ragged == NDELIMS; d++)
        if (sniff_ragged(&sn[d]) && (!consistent || d == best))
            ragged = d;
    if (ragged < NDELIMS) {
        delim = infer_delims[ragged];
        ncols = sn[ragged].first;
    } else if (consistent) {
        delim = infer_delims[best];
        ncols = sn[best].mode;
    } else if (single && first_failed < NDELIMS) {
        /* E.g. more fields than the reader takes: not one column. */
        set_unknown(out, "csv: %s", sn[first_failed].err);
        return 0;
    } else if (single) {
        delim = infer_delims[first_ok];
        ncols = 1;
    } else {
        size_t b = best < NDELIMS ? best : 0;
        set_unknown(out,
                    "inconsistent field counts (best: '%s' gives %zu fields "
                    "in %zu of %zu records)",
                    delim_name(infer_delims[b]), sn[b].mode, sn[b].mode_count,
                    sn[b].records);
        return 0;
    }

    /* Every record: types, and what the header detection needs. */
    struct colstat *st = calloc(ncols, sizeof(*st));
    char **first = calloc(ncols, sizeof(*first));
    size_t *first_len = calloc(ncols, sizeof(*first_len));
    struct htype **first_types = calloc(ncols, sizeof(*first_types));
    char **names = calloc(ncols, sizeof(*names));
    struct instream *in = NULL;
    struct csv_reader *r = NULL;
    struct csv_opts o = {.delim = delim, .quote = '"'};
    uint64_t rows = 0, data_rows = 0;
    bool have_first = false, quoted = false;
    unsigned long long end_line = 0;
    int rc = -ENOMEM;
    if (!st || !first || !first_len || !first_types || !names)
        goto done;
    rc = instream_memory(data, len, &in);
    if (rc == 0)
        rc = csv_reader_new(in, &o, &r);
    if (rc == 0)
        csv_reader_set_truncated(r, truncated); /* may end in a quote */
    while (rc == 0) {
        struct csv_record *rec;
        int k = csv_reader_next(r, &rec);
        if (k == 0)
            break;
        if (k < 0) {
            if (k == -ENOMEM) {
                rc = k;
                break;
            }
            /* A truncated sample may end inside a quoted field. */
            if (truncated && k == -EBADMSG && rows > 0)
                break;
            const char *e = csv_reader_error(r);
            set_unknown(out, "csv: %s", e && *e ? e : strerror(-k));
            rc = 1;
            break;
        }
        if (blank_record(rec))
            continue;
        rows++;
        end_line = rec->line;
        for (size_t j = 0; j < rec->n; j++) {
            quoted |= rec->quoted[j];
            /* Only a quoted field can hold a line end (csv.c). */
            if (rec->quoted[j])
                end_line += count_line_ends(rec->field[j], rec->len[j]);
        }
        if (rows == 1) {
            if (rec->n != ncols)
                continue; /* not a header; a ragged row */
            have_first = true;
            for (size_t j = 0; j < ncols; j++) {
                first[j] = strndup(rec->field[j], rec->len[j]);
                if (!first[j]) {
                    rc = -ENOMEM;
                    break;
                }
                first_len[j] = rec->len[j];
                st[j].first_cc = case_class(first[j]);
                uint32_t no_forms = 0; /* counted if the row is data */
                const char *t = csv_value_type(rec->field[j], rec->len[j],
                                               &no_forms);
                if (t) {
                    first_types[j] = htype_parse(t);
                    if (!first_types[j]) {
                        rc = -ENOMEM;
                        break;
                    }
                }
            }
            continue;
        }
        if (rec->n != ncols && !(ragged < NDELIMS && rec->n < ncols))
            continue; /* counted, not typed */
        data_rows++;
        for (size_t j = 0; j < rec->n && rc == 0; j++) {
            const char *t = csv_value_type(rec->field[j], rec->len[j],
                                           &st[j].ts_forms);
            unsigned bit = t ? type_bit(t) : 0;
            if (t && (!bit || !(st[j].merged & bit))) {
                struct htype *h = htype_parse(t);
                if (!h || htype_merge_into(&st[j].type, h) < 0)
                    rc = -ENOMEM;
                else
                    st[j].merged |= bit;
            }
            if (rc == 0 && t)
                rc = colstat_add(&st[j], have_first ? first[j] : NULL,
                                 first_len[j], rec->field[j], rec->len[j],
                                 bit != 32u);
        }
    }
    if (rc != 0) {
        if (rc == 1)
            rc = 0;
        goto done;
    }

    bool header = have_first &&
                  csv_has_header(first, first_len, ncols, st, data_rows);
    if (header) {
        rc = header_names(first, ncols, names);
        if (rc < 0)
            goto done;
    } else {
        for (size_t j = 0; j < ncols; j++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "col%zu", j);
            names[j] = strdup(nm);
            if (!names[j]) {
                rc = -ENOMEM;
                goto done;
            }
            /* The first row is data: its types count. */
            if (have_first) {
                const char *ft = infer_text_type(first[j], first_len[j]);
                if (ft)
                    st[j].ts_forms |= csv_ts_form(first[j], first_len[j], ft);
                rc = htype_merge_into(&st[j].type, first_types[j]);
                first_types[j] = NULL;
                if (rc < 0)
                    goto done;
            }
        }
    }
    struct column *cols = calloc(ncols, sizeof(*cols));
    if (!cols) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < ncols; j++) {
        cols[j].type = htype_format(st[j].type, INFER_TYPE_MAX);
        if (!cols[j].type) {
            columns_free(cols, j);
            rc = -ENOMEM;
            goto done;
        }
        cols[j].name = names[j];
        names[j] = NULL;
        /* The forms of the columns Hive reads as timestamps (a date
         * column that another object widens to timestamp: crawl_run.c). */
        if (!strcmp(cols[j].type, "timestamp"))
            out->fmt.ts_forms |= st[j].ts_forms;
    }
    columns_free(out->cols, out->ncols);
    out->cols = cols;
    out->ncols = ncols;
    snprintf(out->fmt.classification, sizeof(out->fmt.classification), "csv");
    out->fmt.delimiter = delim;
    out->fmt.header = header;
    out->fmt.quoted = quoted;
    out->records = header ? rows - 1 : rows;
    out->sample_bytes = truncated ? line_end_offset(data, len, end_line) : n;
    out->reason[0] = '\0';
    rc = 0;
done:
    csv_reader_free(r);
    instream_free(in);
    for (size_t j = 0; j < ncols; j++) {
        if (st)
            colstat_release(&st[j]);
        if (first)
            free(first[j]);
        if (first_types)
            htype_free(first_types[j]);
        if (names)
            free(names[j]);
    }
    free(st);
    free(first);
    free(first_len);
    free(first_types);
    free(names);
    return rc;
}

/* ------------------------------------------------------------------ */

static int infer_any(const char *data, size_t n, bool truncated,
                     struct infer_result *out);

int infer_sample(const char *data, size_t n, bool truncated,
                 struct infer_result *out)
{
    int rc = infer_any(data, n, truncated, out);
    if (rc < 0 && rc != -ENOMEM) {
        /* The memory stream and readers fail only for want of memory;
         * anything else is reported, not returned (the contract). */
        set_unknown(out, "cannot read the sample: %s", strerror(-rc));
        rc = 0;
    }
    if (rc < 0)
        infer_result_release(out);
    return rc;
}

static int infer_any(const char *data, size_t n, bool truncated,
                     struct infer_result *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->fmt.compression, sizeof(out->fmt.compression), "none");
    if (n == 0 || !data) {
        set_unknown(out, "empty object");
        return 0;
    }
    bool nul;
    size_t bad = utf8_check((const unsigned char *)data, n, truncated, &nul);
    if (bad < n) {
        set_unknown(out, "binary data (%s at offset %zu)",
                    nul ? "NUL bytes" : "invalid UTF-8", bad);
        return 0;
    }
    size_t skip = 0;
    if (n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    size_t i = skip;
    while (i < n && strchr(" \t\r\n", data[i]))
        i++;
    if (i == n) {
        set_unknown(out, "no records (only white space)");
        return 0;
    }
    if (data[i] == '{' || data[i] == '[') {
        int rc = infer_json(data + skip, n - skip, skip, truncated, out);
        if (rc <= 0)
            return rc;
        /* Not JSON from its first value ("[INFO] ..." lines): CSV of two
         * or more columns, or the JSON error stands. */
        struct infer_result alt;
        memset(&alt, 0, sizeof(alt));
        snprintf(alt.fmt.compression, sizeof(alt.fmt.compression), "none");
        rc = infer_csv(data, n, truncated, &alt);
        if (rc < 0)
            return rc;
        if (strcmp(alt.fmt.classification, "csv") == 0 && alt.ncols > 1) {
            infer_result_release(out);
            *out = alt;
        } else {
            infer_result_release(&alt);
        }
        return 0;
    }
    return infer_csv(data, n, truncated, out);
}
