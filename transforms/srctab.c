/* srctab.c - job sources as SQLite virtual tables; see srctab.h */
#include "srctab.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "infer.h"
#include "instream.h"
#include "json.h"
#include "log.h"
#include "spec.h"
#include "stats.h"
#include "store.h"

#define ROW_BUF_MAX (64u << 20) /* converted text of one row */
#define BAD_ROWS_LOGGED 10

enum tclass { C_STR, C_INT, C_REAL, C_BOOL, C_DATE, C_TS, C_JSON };

static enum tclass class_of(const char *t)
{
    if (!t)
        return C_STR;
    if (!strcasecmp(t, "bigint") || !strcasecmp(t, "int") ||
        !strcasecmp(t, "integer") || !strcasecmp(t, "smallint") ||
        !strcasecmp(t, "tinyint"))
        return C_INT;
    if (!strcasecmp(t, "double") || !strcasecmp(t, "float") ||
        !strcasecmp(t, "real") || !strncasecmp(t, "decimal", 7))
        return C_REAL;
    if (!strcasecmp(t, "boolean"))
        return C_BOOL;
    if (!strcasecmp(t, "date"))
        return C_DATE;
    if (!strcasecmp(t, "timestamp"))
        return C_TS;
    if (!strncasecmp(t, "struct<", 7) || !strncasecmp(t, "array<", 6) ||
        !strncasecmp(t, "map<", 4))
        return C_JSON;
    return C_STR;
}

static const char *const decl_of_class[] = {
    [C_STR] = "TEXT",       [C_INT] = "BIGINT",
    [C_REAL] = "DOUBLE",    [C_BOOL] = "BOOLEAN INT",
    [C_DATE] = "DATE TEXT", [C_TS] = "TIMESTAMP TEXT",
    [C_JSON] = "JSON TEXT",
};

const char *srctab_decltype(const char *hive_type)
{
    return decl_of_class[class_of(hive_type)];
}

const char *srctab_hive_type(const char *decl)
{
    if (!decl)
        return NULL;
    static const struct {
        const char *decl, *hive;
    } map[] = {
        {"BIGINT", "bigint"},       {"DOUBLE", "double"},
        {"BOOLEAN INT", "boolean"}, {"DATE TEXT", "date"},
        {"TIMESTAMP TEXT", "timestamp"}, {"TEXT", "string"},
        {"JSON TEXT", "string"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(decl, map[i].decl))
            return map[i].hive;
    return NULL;
}

int srctab_quote_ident(struct buf *out, const char *name)
{
    int rc = buf_putc(out, '"');
    for (const char *p = name; !rc && *p; p++)
        rc = *p == '"' ? buf_puts(out, "\"\"") : buf_putc(out, *p);
    return rc ? rc : buf_putc(out, '"');
}

int srctab_columns_sql(const struct srctab_source *s, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < s->ncols + s->npkeys; i++) {
        const struct column *c =
            i < s->ncols ? &s->cols[i] : &s->pkeys[i - s->ncols];
        if (i)
            rc = buf_puts(out, ", ");
        if (!rc)
            rc = srctab_quote_ident(out, c->name);
        if (!rc)
            rc = buf_printf(out, " %s", srctab_decltype(c->type));
    }
    return rc;
}

static void env_log(const struct srctab_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void env_log(const struct srctab_env *env, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (env->log)
        env->log(env->log_ctx, line);
    else
        log_info("%s", line);
}

static void counter_add(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* ---- resolving a source ---------------------------------------------- */

void srctab_source_free(struct srctab_source *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->location);
    free(s->bucket);
    free(s->prefix);
    columns_free(s->cols, s->ncols);
    columns_free(s->pkeys, s->npkeys);
    for (size_t i = 0; i < s->nobjs; i++)
        free(s->objs[i].key);
    free(s->objs);
    free(s);
}

static int copy_columns(const struct column *in, size_t n,
                        struct column **out)
{
    *out = NULL;
    if (!n)
        return 0;
    struct column *c = calloc(n, sizeof *c);
    if (!c)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i].name = strdup(in[i].name ? in[i].name : "");
        c[i].type = strdup(in[i].type ? in[i].type : "string");
        if (!c[i].name || !c[i].type) {
            columns_free(c, n);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

/* A key the scan skips: a folder marker, or a segment below the prefix
 * that starts with '_' or '.' (_SUCCESS, _temporary/, .hidden). */
static bool skip_key(const char *prefix, const char *key)
{
    size_t n = strlen(key);
    if (!n || key[n - 1] == '/')
        return true;
    const char *rel = key + strlen(prefix);
    for (const char *p = rel; *p;) {
        if (*p == '_' || *p == '.')
            return true;
        const char *e = strchr(p, '/');
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

struct list_ctx {
    struct srctab_source *s;
    size_t alloc;
    int err;
};

static int list_cb(void *ctx, const struct store_entry *e)
{
    struct list_ctx *l = ctx;
    struct srctab_source *s = l->s;
    if (e->is_prefix || e->size == 0 || skip_key(s->prefix, e->key))
        return 0;
    if (s->nobjs >= SRCTAB_MAX_OBJECTS) {
        l->err = -E2BIG;
        return -E2BIG;
    }
    if (s->nobjs == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 64;
        struct srctab_object *no = realloc(s->objs, na * sizeof *no);
        if (!no)
            return -ENOMEM;
        s->objs = no;
        l->alloc = na;
    }
    s->objs[s->nobjs].key = strdup(e->key);
    if (!s->objs[s->nobjs].key)
        return -ENOMEM;
    s->objs[s->nobjs].size = e->size;
    s->nobjs++;
    s->bytes += e->size;
    return 0;
}

static int list_objects(const struct srctab_env *env, struct srctab_source *s,
                        const char *what, char *err, size_t errlen)
{
    struct list_ctx l = {.s = s};
    int rc = env->store->ops->list(env->store, s->bucket, s->prefix, NULL,
                                   list_cb, &l);
    if (rc == -E2BIG)
        snprintf(err, errlen, "source '%s': more than %d objects under '%s'",
                 what, SRCTAB_MAX_OBJECTS, s->location);
    else if (rc)
        snprintf(err, errlen, "source '%s': cannot list '%s': %s", what,
                 s->location, strerror(-rc));
    return rc;
}

/* Partition keys from the k=v segments of KEY below PREFIX. */
static int pkeys_from_key(struct srctab_source *s, const char *key)
{
    const char *rel = key + strlen(s->prefix);
    for (const char *p = rel;;) {
        const char *e = strchr(p, '/');
        if (!e)
            break; /* the last segment is the object's name */
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && eq > p) {
            struct column *nk =
                realloc(s->pkeys, (s->npkeys + 1) * sizeof *nk);
            if (!nk)
                return -ENOMEM;
            s->pkeys = nk;
            struct column *c = &nk[s->npkeys];
            c->name = strndup(p, (size_t)(eq - p));
            c->type = strdup("string");
            if (!c->name || !c->type) {
                free(c->name);
                free(c->type);
                return -ENOMEM;
            }
            for (char *q = c->name; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            s->npkeys++;
        }
        p = e + 1;
    }
    return 0;
}

/* Classify the first data object's sample. */
static int infer_source(const struct srctab_env *env, struct srctab_source *s,
                        const char *what, char *err, size_t errlen)
{
    const struct srctab_object *o = &s->objs[0];
    struct instream *raw = NULL, *in = NULL;
    enum compression comp = COMP_NONE;
    char *data = malloc(SRCTAB_SAMPLE_BYTES + 1);
    struct infer_result res;
    memset(&res, 0, sizeof res);
    int rc = data ? 0 : -ENOMEM;
    if (!rc)
        rc = instream_object(env->store, s->bucket, o->key, o->size,
                             SRCTAB_SAMPLE_BYTES, 0, &raw);
    if (!rc) {
        rc = instream_auto(raw, SRCTAB_SAMPLE_BYTES + 1, &comp, &in);
        raw = NULL; /* owned by IN now, or freed */
    }
    ssize_t n = 0;
    if (!rc) {
        n = instream_read_full(in, data, SRCTAB_SAMPLE_BYTES + 1);
        if (n < 0)
            rc = (int)n;
    }
    if (rc) {
        snprintf(err, errlen, "source '%s': cannot read 's3://%s/%s': %s",
                 what, s->bucket, o->key, strerror(-rc));
        goto out;
    }
    bool truncated = (size_t)n > SRCTAB_SAMPLE_BYTES ||
                     (comp == COMP_NONE && o->size > (uint64_t)n);
    if ((size_t)n > SRCTAB_SAMPLE_BYTES)
        n = SRCTAB_SAMPLE_BYTES;
    /* A compressed sample cut by the download limit ends early too. */
    if (comp != COMP_NONE && o->size > SRCTAB_SAMPLE_BYTES)
        truncated = true;
    rc = infer_sample(data, (size_t)n, truncated, &res);
    if (rc) {
        snprintf(err, errlen, "source '%s': %s", what, strerror(-rc));
        goto out;
    }
    if (strcmp(res.fmt.classification, "csv") &&
        strcmp(res.fmt.classification, "json")) {
        snprintf(err, errlen, "source '%s': cannot classify 's3://%s/%s'%s%s",
                 what, s->bucket, o->key, res.reason[0] ? ": " : "",
                 res.reason);
        rc = -EINVAL;
        goto out;
    }
    s->fmt = res.fmt;
    snprintf(s->fmt.compression, sizeof s->fmt.compression, "%s",
             compression_name(comp));
    s->cols = res.cols;
    s->ncols = res.ncols;
    res.cols = NULL;
    res.ncols = 0;
    rc = pkeys_from_key(s, o->key);
    snprintf(s->origin, sizeof s->origin, "schema inferred from 's3://%s/%s'",
             s->bucket, o->key);
out:
    infer_result_release(&res);
    instream_free(in);
    instream_free(raw);
    free(data);
    return rc;
}

/* A catalog table whose location is LOCATION, if any. */
struct find_ctx {
    sqlite3 *db;
    const char *location;
    const char *database;
    struct table_def *found;
};

static int find_table_cb(void *ctx, const char *name)
{
    struct find_ctx *f = ctx;
    struct table_def *t = NULL;
    if (catalog_get_table(f->db, f->database, name, &t))
        return 0;
    if (t->location && !strcmp(t->location, f->location) &&
        !t->deprecated) {
        f->found = t;
        return 1;
    }
    table_def_free(t);
    return 0;
}

static int find_db_cb(void *ctx, const char *name)
{
    struct find_ctx *f = ctx;
    f->database = name;
    catalog_list_tables(f->db, name, find_table_cb, f);
    return f->found ? 1 : 0;
}

static int take_table(struct srctab_source *s, const struct table_def *t)
{
    s->fmt = t->fmt;
    int rc = copy_columns(t->cols, t->ncols, &s->cols);
    if (!rc) {
        s->ncols = t->ncols;
        rc = copy_columns(t->pkeys, t->npkeys, &s->pkeys);
    }
    if (!rc)
        s->npkeys = t->npkeys;
    snprintf(s->origin, sizeof s->origin, "catalog table %s.%s", t->database,
             t->name);
    return rc;
}

/* Unique, non-empty column names: SQLite refuses duplicates. */
static int dedupe_columns(struct srctab_source *s)
{
    size_t n = s->ncols + s->npkeys;
    for (size_t i = 0; i < n; i++) {
        struct column *c =
            i < s->ncols ? &s->cols[i] : &s->pkeys[i - s->ncols];
        for (int k = 1;; k++) {
            bool clash = !c->name[0];
            for (size_t j = 0; !clash && j < i; j++) {
                const struct column *d =
                    j < s->ncols ? &s->cols[j] : &s->pkeys[j - s->ncols];
                clash = !strcasecmp(d->name, c->name);
            }
            if (!clash)
                break;
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%.250s_%d",
                     c->name[0] ? c->name : "col", k + (c->name[0] ? 1 : 0));
            char *nn = strdup(tmp);
            if (!nn)
                return -ENOMEM;
            free(c->name);
            c->name = nn;
        }
    }
    return 0;
}

int srctab_resolve(const struct srctab_env *env, const struct spec_source *ss,
                   struct srctab_source **out, char *err, size_t errlen)
{
    *out = NULL;
    struct srctab_source *s = calloc(1, sizeof *s);
    struct table_def *t = NULL;
    int rc = -ENOMEM;
    if (!s)
        goto fail;
    s->name = strdup(ss->name);
    if (!s->name)
        goto fail;
    if (ss->is_s3) {
        s->bucket = strdup(ss->bucket);
        s->prefix = strdup(ss->prefix);
        size_t n = strlen(ss->bucket) + strlen(ss->prefix) + 8;
        s->location = malloc(n);
        if (!s->bucket || !s->prefix || !s->location)
            goto fail;
        snprintf(s->location, n, "s3://%s/%s", ss->bucket, ss->prefix);
        if (env->catalog) {
            struct find_ctx f = {.db = env->catalog, .location = s->location};
            catalog_list_databases(env->catalog, find_db_cb, &f);
            t = f.found;
        }
    } else {
        if (!env->catalog) {
            rc = -ENOENT;
            snprintf(err, errlen, "source '%s': no catalog", ss->ref);
            goto fail;
        }
        rc = catalog_get_table(env->catalog, ss->database, ss->table, &t);
        if (rc) {
            if (rc == -ENOENT)
                snprintf(err, errlen, "source '%s': no such table in the "
                         "catalog (see catalog/%s/)", ss->ref, ss->database);
            else
                snprintf(err, errlen, "source '%s': %s", ss->ref,
                         strerror(-rc));
            goto fail;
        }
        rc = spec_split_s3(t->location ? t->location : "", &s->bucket,
                           &s->prefix);
        if (rc) {
            snprintf(err, errlen, "source '%s': bad location '%s'", ss->ref,
                     t->location ? t->location : "");
            goto fail;
        }
        s->location = strdup(t->location);
        rc = -ENOMEM;
        if (!s->location)
            goto fail;
    }
    rc = list_objects(env, s, ss->ref, err, errlen);
    if (rc)
        goto fail;
    if (t) {
        rc = take_table(s, t);
        if (rc)
            goto fail;
    } else {
        if (!s->nobjs) {
            rc = -ENOENT;
            snprintf(err, errlen, "source '%s': no data objects to read "
                     "(and no catalog table at that location)", ss->ref);
            goto fail;
        }
        rc = infer_source(env, s, ss->ref, err, errlen);
        if (rc)
            goto fail;
    }
    if (strcmp(s->fmt.classification, "csv") &&
        strcmp(s->fmt.classification, "json")) {
        rc = -EINVAL;
        snprintf(err, errlen, "source '%s': format '%s' is not supported by "
                 "jobs yet (csv, json)", ss->ref, s->fmt.classification);
        goto fail;
    }
    if (s->ncols + s->npkeys == 0) {
        rc = -EINVAL;
        snprintf(err, errlen, "source '%s': no columns", ss->ref);
        goto fail;
    }
    rc = dedupe_columns(s);
    if (rc)
        goto fail;
    counter_add(&env->counters->total_bytes, s->bytes);
    table_def_free(t);
    *out = s;
    return 0;
fail:
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "source '%s': out of memory", ss->ref);
    table_def_free(t);
    srctab_source_free(s);
    return rc;
}

/* ---- value conversion ------------------------------------------------ */

struct cell {
    int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
    sqlite3_int64 i;
    double d;
    size_t off, len; /* text in the cursor's row buffer */
};

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* YYYY-MM-DD or YYYY/MM/DD at S (10 bytes). */
static bool is_date(const char *s, size_t n)
{
    return n >= 10 && all_digits(s, 4) && (s[4] == '-' || s[4] == '/') &&
           all_digits(s + 5, 2) && s[7] == s[4] && all_digits(s + 8, 2);
}

/* [T ]HH:MM[:SS[.f+]][Z|(+|-)HH[:]MM|(+|-)HH] after a date. */
static bool is_time_tail(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if ((s[0] != 'T' && s[0] != ' ') || n < 6)
        return false;
    s++;
    n--;
    if (!all_digits(s, 2) || s[2] != ':' || !all_digits(s + 3, 2))
        return false;
    size_t i = 5;
    if (i < n && s[i] == ':') {
        if (i + 3 > n || !all_digits(s + i + 1, 2))
            return false;
        i += 3;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            size_t j = i + 1;
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
            if (j == i + 1)
                return false;
            i = j;
        }
    }
    if (i == n)
        return true;
    if (s[i] == 'Z' || s[i] == 'z')
        return i + 1 == n;
    if (s[i] == ' ' && i + 1 < n)
        i++; /* "2015-01-01 01:00:00 +01:00" */
    if (s[i] != '+' && s[i] != '-')
        return false;
    const char *z = s + i + 1;
    size_t zn = n - i - 1;
    return (zn == 2 && all_digits(z, 2)) || (zn == 4 && all_digits(z, 4)) ||
           (zn == 5 && all_digits(z, 2) && z[2] == ':' &&
            all_digits(z + 3, 2));
}

static int put_text(struct buf *row, struct cell *c, const char *s, size_t n)
{
    c->type = SQLITE_TEXT;
    c->off = row->len;
    c->len = n;
    int rc = buf_append(row, s, n);
    return rc ? rc : buf_putc(row, '\0');
}

/* Convert text S[0..n) to column class K into C.  Returns 1 for a value
 * that does not parse (C is NULL), 0 if fine, or -errno. */
static int conv_text(enum tclass k, const char *s, size_t n, struct buf *row,
                     struct cell *c)
{
    c->type = SQLITE_NULL;
    if (k == C_STR || k == C_JSON)
        return put_text(row, c, s, n);
    /* Numbers and the rest: surrounding blanks do not count. */
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n == 0)
        return 0;
    char tmp[64];
    switch (k) {
    case C_INT: {
        if (n >= sizeof tmp)
            return 1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        if (errno || *end || end == tmp)
            return 1;
        c->type = SQLITE_INTEGER;
        c->i = v;
        return 0;
    }
    case C_REAL: {
        if (n >= sizeof tmp || memchr(s, 'x', n) || memchr(s, 'X', n))
            return 1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        errno = 0;
        double v = strtod(tmp, &end);
        if (*end || end == tmp || (errno == ERANGE && isinf(v)))
            return 1;
        if (isnan(v))
            return 0; /* SQLite has no NaN: NULL */
        c->type = SQLITE_FLOAT;
        c->d = v;
        return 0;
    }
    case C_BOOL:
        if (n == 4 && !strncasecmp(s, "true", 4)) {
            c->type = SQLITE_INTEGER;
            c->i = 1;
            return 0;
        }
        if (n == 5 && !strncasecmp(s, "false", 5)) {
            c->type = SQLITE_INTEGER;
            c->i = 0;
            return 0;
        }
        return 1;
    case C_DATE:
    case C_TS: {
        if (!is_date(s, n))
            return 1;
        if (k == C_DATE ? n != 10 : !is_time_tail(s + 10, n - 10))
            return 1;
        int rc = put_text(row, c, s, n);
        if (rc)
            return rc;
        char *t = row->data + c->off;
        t[4] = t[7] = '-';
        return 0;
    }
    default:
        return put_text(row, c, s, n);
    }
}

static int conv_json(enum tclass k, const struct jval *v, struct buf *row,
                     struct cell *c)
{
    c->type = SQLITE_NULL;
    if (!v || v->type == J_NULL)
        return 0;
    char num[64];
    switch (v->type) {
    case J_STRING:
        return conv_text(k, v->u.str.s, v->u.str.len, row, c);
    case J_BOOL:
        if (k == C_INT || k == C_BOOL) {
            c->type = SQLITE_INTEGER;
            c->i = v->u.b;
            return 0;
        }
        if (k == C_STR || k == C_JSON)
            return put_text(row, c, v->u.b ? "true" : "false",
                            v->u.b ? 4 : 5);
        return 1;
    case J_INT:
        if (k == C_INT || k == C_BOOL) {
            if (k == C_BOOL && v->u.i != 0 && v->u.i != 1)
                return 1;
            c->type = SQLITE_INTEGER;
            c->i = v->u.i;
            return 0;
        }
        if (k == C_REAL) {
            c->type = SQLITE_FLOAT;
            c->d = (double)v->u.i;
            return 0;
        }
        if (k == C_STR || k == C_JSON) {
            if (v->num_text)
                return put_text(row, c, v->num_text, strlen(v->num_text));
            int m = snprintf(num, sizeof num, "%lld", (long long)v->u.i);
            return put_text(row, c, num, (size_t)m);
        }
        return 1;
    case J_DOUBLE:
        if (k == C_REAL) {
            if (isnan(v->u.d))
                return 0;
            c->type = SQLITE_FLOAT;
            c->d = v->u.d;
            return 0;
        }
        if (k == C_INT) {
            double d = v->u.d;
            if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
                return 1;
            c->type = SQLITE_INTEGER;
            c->i = (sqlite3_int64)d;
            return 0;
        }
        if (k == C_STR || k == C_JSON) {
            if (v->num_text)
                return put_text(row, c, v->num_text, strlen(v->num_text));
            int m = snprintf(num, sizeof num, "%.17g", v->u.d);
            return put_text(row, c, num, (size_t)m);
        }
        return 1;
    case J_ARRAY:
    case J_OBJECT: {
        if (k != C_STR && k != C_JSON)
            return 1;
        c->type = SQLITE_TEXT;
        c->off = row->len;
        int rc = jval_to_json(v, row);
        if (rc)
            return rc;
        c->len = row->len - c->off;
        return buf_putc(row, '\0');
    }
    default:
        return 0;
    }
}

/* ---- the virtual table ----------------------------------------------- */

struct vtab {
    sqlite3_vtab base;
    struct srctab_env *env;
    struct srctab_source *src;
    enum tclass *kinds; /* ncols + npkeys */
    unsigned scans;
};

struct cursor {
    sqlite3_vtab_cursor base;
    struct vtab *vt;
    size_t next_obj;       /* index of the next object to open */
    const struct srctab_object *obj; /* the open object, or NULL */
    struct instream *in;
    struct csv_reader *csv;
    struct json_reader *json;
    struct jval *jrec;
    uint64_t counted;      /* raw bytes of the open object already counted */
    uint64_t obj_rows;
    bool skip_header;
    bool eof;
    sqlite3_int64 rowid;
    struct cell *cells;
    struct buf row;
    struct buf pvals;       /* partition values of the open object */
    struct cell *pcells;    /* npkeys cells into pvals */
    /* Partition pruning: `pkey = value` constraints from xBestIndex. */
    sqlite3_value **filt;
    int *filt_key;          /* partition key index of each */
    int nfilt;
    uint64_t skipped;       /* objects skipped by the filter */
};

static int vt_set_error(struct vtab *vt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int vt_set_error(struct vtab *vt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_free(vt->base.zErrMsg);
    vt->base.zErrMsg = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    return SQLITE_ERROR;
}

static int vt_connect(sqlite3 *db, void *aux, int argc,
                      const char *const *argv, sqlite3_vtab **out,
                      char **errp)
{
    struct srctab_env *env = aux;
    *out = NULL;
    if (argc < 4) {
        *errp = sqlite3_mprintf("gluefs_source: missing source index");
        return SQLITE_ERROR;
    }
    char *end;
    errno = 0;
    unsigned long idx = strtoul(argv[3], &end, 10);
    if (errno || *end || idx >= env->nsources) {
        *errp = sqlite3_mprintf("gluefs_source: bad source index '%s'",
                                argv[3]);
        return SQLITE_ERROR;
    }
    struct srctab_source *src = env->sources[idx];
    struct buf sql;
    buf_init(&sql, 1u << 20);
    int rc = buf_puts(&sql, "CREATE TABLE x(");
    if (!rc)
        rc = srctab_columns_sql(src, &sql);
    if (!rc)
        rc = buf_putc(&sql, ')');
    if (rc) {
        buf_release(&sql);
        return SQLITE_NOMEM;
    }
    int src_rc = sqlite3_declare_vtab(db, sql.data);
    buf_release(&sql);
    if (src_rc != SQLITE_OK) {
        *errp = sqlite3_mprintf("source '%s': %s", src->name,
                                sqlite3_errmsg(db));
        return src_rc;
    }
    struct vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    size_t n = src->ncols + src->npkeys;
    vt->kinds = calloc(n ? n : 1, sizeof *vt->kinds);
    if (!vt->kinds) {
        sqlite3_free(vt);
        return SQLITE_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        vt->kinds[i] = class_of(i < src->ncols
                                    ? src->cols[i].type
                                    : src->pkeys[i - src->ncols].type);
    vt->env = env;
    vt->src = src;
    *out = &vt->base;
    return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *base)
{
    struct vtab *vt = (struct vtab *)base;
    free(vt->kinds);
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int vt_best_index(sqlite3_vtab *base, sqlite3_index_info *info)
{
    struct vtab *vt = (struct vtab *)base;
    /* A full scan, but `pkey = value` constraints prune objects by their
     * k=v folders.  The cost grows with the bytes to read, so the planner
     * puts the smaller source outside. */
    double cost = 1000.0 + (double)vt->src->bytes;
    int ncols = (int)vt->src->ncols;
    char keys[256] = "";
    size_t kl = 0;
    int argv = 0;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ ||
            k->iColumn < ncols || kl + 8 >= sizeof keys)
            continue;
        info->aConstraintUsage[i].argvIndex = ++argv;
        info->aConstraintUsage[i].omit = 0;
        kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s%d",
                               kl ? "," : "", k->iColumn - ncols);
        cost /= 10;
    }
    if (argv) {
        info->idxStr = sqlite3_mprintf("%s", keys);
        info->needToFreeIdxStr = 1;
        info->idxNum = argv;
    }
    info->estimatedCost = cost;
    info->estimatedRows = (sqlite3_int64)(cost / 64 + 1);
    return SQLITE_OK;
}

static int vt_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
    struct vtab *vt = (struct vtab *)base;
    struct cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    size_t n = vt->src->ncols + vt->src->npkeys;
    c->cells = calloc(n ? n : 1, sizeof *c->cells);
    if (!c->cells) {
        sqlite3_free(c);
        return SQLITE_NOMEM;
    }
    c->pcells = c->cells + vt->src->ncols;
    c->vt = vt;
    c->eof = true;
    buf_init(&c->row, ROW_BUF_MAX);
    buf_init(&c->pvals, 1u << 20);
    *out = &c->base;
    return SQLITE_OK;
}

static void clear_filter(struct cursor *c)
{
    for (int i = 0; i < c->nfilt; i++)
        sqlite3_value_free(c->filt[i]);
    free(c->filt);
    free(c->filt_key);
    c->filt = NULL;
    c->filt_key = NULL;
    c->nfilt = 0;
}

static void count_bytes(struct cursor *c)
{
    if (!c->in)
        return;
    uint64_t now = c->in->raw_bytes;
    if (now > c->counted) {
        counter_add(&c->vt->env->counters->bytes_read, now - c->counted);
        stats_add(STAT_job_bytes_read, now - c->counted);
        c->counted = now;
    }
}

static void close_object(struct cursor *c, bool finished)
{
    count_bytes(c);
    if (c->obj && finished)
        env_log(c->vt->env, "read 's3://%s/%s': %llu bytes, %llu rows",
                c->vt->src->bucket, c->obj->key,
                (unsigned long long)c->counted,
                (unsigned long long)c->obj_rows);
    jval_free(c->jrec);
    c->jrec = NULL;
    csv_reader_free(c->csv);
    c->csv = NULL;
    json_reader_free(c->json);
    c->json = NULL;
    instream_free(c->in);
    c->in = NULL;
    c->obj = NULL;
    c->counted = 0;
    c->obj_rows = 0;
}

static int vt_close(sqlite3_vtab_cursor *base)
{
    struct cursor *c = (struct cursor *)base;
    close_object(c, false);
    clear_filter(c);
    buf_release(&c->row);
    buf_release(&c->pvals);
    free(c->cells);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* %XX-decode a Hive partition value in place; returns its new length. */
static size_t hive_unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            s[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

/* Fill the partition cells from the object's key. */
static int set_partition_values(struct cursor *c, const char *key)
{
    struct srctab_source *src = c->vt->src;
    buf_reset(&c->pvals);
    for (size_t k = 0; k < src->npkeys; k++)
        c->pcells[k].type = SQLITE_NULL;
    const char *rel = key + strlen(src->prefix);
    for (const char *p = rel;;) {
        const char *e = strchr(p, '/');
        if (!e)
            break;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq) {
            size_t kl = (size_t)(eq - p);
            for (size_t k = 0; k < src->npkeys; k++) {
                const char *name = src->pkeys[k].name;
                if (strlen(name) != kl || strncasecmp(name, p, kl))
                    continue;
                char val[1024];
                size_t vl = (size_t)(e - eq - 1);
                if (vl >= sizeof val)
                    vl = sizeof val - 1;
                memcpy(val, eq + 1, vl);
                vl = hive_unescape(val, vl);
                if (vl == 26 && !memcmp(val, "__HIVE_DEFAULT_PARTITION__", 26))
                    break;
                int rc = conv_text(c->vt->kinds[src->ncols + k], val, vl,
                                   &c->pvals, &c->pcells[k]);
                if (rc < 0)
                    return rc;
                break;
            }
        }
        p = e + 1;
    }
    return 0;
}

/* False only when a partition constraint surely rejects every row of
 * the object (SQLite checks every row again anyway: omit is 0). */
static bool object_matches(struct cursor *c, const struct srctab_object *o)
{
    if (!c->nfilt)
        return true;
    if (set_partition_values(c, o->key))
        return true;
    for (int i = 0; i < c->nfilt; i++) {
        const struct cell *cl = &c->pcells[c->filt_key[i]];
        sqlite3_value *v = c->filt[i];
        int vt = sqlite3_value_type(v);
        if (vt == SQLITE_NULL || cl->type == SQLITE_NULL)
            return false; /* `= NULL` is never true */
        if (cl->type == SQLITE_INTEGER && vt == SQLITE_INTEGER) {
            if (cl->i != sqlite3_value_int64(v))
                return false;
        } else if (cl->type == SQLITE_TEXT &&
                   (vt == SQLITE_TEXT || vt == SQLITE_INTEGER)) {
            /* A text column compares as text (its affinity turns an
             * integer constant into text first). */
            const char *t = (const char *)sqlite3_value_text(v);
            size_t n = (size_t)sqlite3_value_bytes(v);
            if (!t || n != cl->len ||
                memcmp(t, c->pvals.data + cl->off, n))
                return false;
        }
    }
    return true;
}

static int open_next_object(struct cursor *c)
{
    struct vtab *vt = c->vt;
    struct srctab_source *src = vt->src;
    const struct srctab_object *o = &src->objs[c->next_obj++];
    struct instream *raw = NULL;
    int rc = instream_object(vt->env->store, src->bucket, o->key, o->size,
                             UINT64_MAX, 0, &raw);
    if (!rc)
        rc = instream_auto(raw, UINT64_MAX, NULL, &c->in);
    if (rc)
        return vt_set_error(vt, "cannot read 's3://%s/%s': %s", src->bucket,
                            o->key, strerror(-rc));
    c->obj = o;
    c->counted = 0;
    c->obj_rows = 0;
    if (!strcmp(src->fmt.classification, "json")) {
        rc = json_reader_new(c->in, 0, 0, &c->json);
    } else {
        struct csv_opts opts = {
            .delim = src->fmt.delimiter ? src->fmt.delimiter : ',',
            .quote = (src->fmt.quoted || src->fmt.delimiter == ',' ||
                      !src->fmt.delimiter) ? '"' : 0,
        };
        rc = csv_reader_new(c->in, &opts, &c->csv);
        c->skip_header = src->fmt.header;
    }
    if (!rc)
        rc = set_partition_values(c, o->key);
    if (rc) {
        close_object(c, false);
        return vt_set_error(vt, "cannot read 's3://%s/%s': %s", src->bucket,
                            o->key, strerror(-rc));
    }
    return SQLITE_OK;
}

static void bad_row(struct cursor *c, unsigned long long line,
                    const char *why)
{
    uint64_t n = __atomic_add_fetch(&c->vt->env->counters->bad_rows, 1,
                                    __ATOMIC_RELAXED);
    if (n <= BAD_ROWS_LOGGED)
        env_log(c->vt->env, "bad row in 's3://%s/%s' line %llu: %s%s",
                c->vt->src->bucket, c->obj->key, line, why,
                n == BAD_ROWS_LOGGED ? " (further bad rows are counted, "
                                       "not logged)" : "");
}

static int row_from_csv(struct cursor *c, const struct csv_record *r)
{
    struct srctab_source *src = c->vt->src;
    char why[300] = "";
    if (r->n != src->ncols)
        snprintf(why, sizeof why, "%zu fields, expected %zu", r->n,
                 src->ncols);
    for (size_t i = 0; i < src->ncols; i++) {
        struct cell *cl = &c->cells[i];
        cl->type = SQLITE_NULL;
        if (i >= r->n || (r->len[i] == 0 && !r->quoted[i]))
            continue;
        int rc = conv_text(c->vt->kinds[i], r->field[i], r->len[i], &c->row,
                           cl);
        if (rc < 0)
            return rc;
        if (rc > 0 && !why[0])
            snprintf(why, sizeof why, "column '%s': '%.60s' is not a %s",
                     src->cols[i].name, r->field[i], src->cols[i].type);
    }
    if (why[0])
        bad_row(c, r->line, why);
    return 0;
}

static int row_from_json(struct cursor *c, const struct jval *rec)
{
    struct srctab_source *src = c->vt->src;
    char why[300] = "";
    for (size_t i = 0; i < src->ncols; i++)
        c->cells[i].type = SQLITE_NULL;
    if (rec->type != J_OBJECT) {
        bad_row(c, json_reader_line(c->json), "not a JSON object");
        return 0;
    }
    for (size_t i = 0; i < src->ncols; i++) {
        const struct jval *v = NULL;
        for (size_t m = 0; m < rec->u.c.n; m++)
            if (!strcasecmp(rec->u.c.keys[m], src->cols[i].name)) {
                v = rec->u.c.items[m];
                break;
            }
        int rc = conv_json(c->vt->kinds[i], v, &c->row, &c->cells[i]);
        if (rc < 0)
            return rc;
        if (rc > 0 && !why[0])
            snprintf(why, sizeof why, "column '%s' is not a %s",
                     src->cols[i].name, src->cols[i].type);
    }
    if (why[0])
        bad_row(c, json_reader_line(c->json), why);
    return 0;
}

static int read_error(struct cursor *c, int rc)
{
    struct vtab *vt = c->vt;
    const char *msg = NULL;
    if (rc == -EBADMSG || rc == -E2BIG)
        msg = c->csv ? csv_reader_error(c->csv)
                     : c->json ? json_reader_error(c->json) : NULL;
    char what[512];
    if (msg && *msg)
        snprintf(what, sizeof what, "%s", msg);
    else if (rc == -EBADMSG)
        snprintf(what, sizeof what, "corrupt or truncated compressed data");
    else if (rc == -E2BIG)
        snprintf(what, sizeof what, "a record is over the size limit");
    else
        snprintf(what, sizeof what, "%s", strerror(-rc));
    int r = vt_set_error(vt, "cannot read 's3://%s/%s': %s", vt->src->bucket,
                         c->obj ? c->obj->key : "", what);
    close_object(c, false);
    return r;
}

static int vt_next(sqlite3_vtab_cursor *base)
{
    struct cursor *c = (struct cursor *)base;
    struct vtab *vt = c->vt;
    struct srctab_source *src = vt->src;
    for (;;) {
        if (vt->env->cancel &&
            __atomic_load_n(vt->env->cancel, __ATOMIC_RELAXED))
            return SQLITE_INTERRUPT;
        if (!c->obj) {
            while (c->next_obj < src->nobjs &&
                   !object_matches(c, &src->objs[c->next_obj])) {
                c->next_obj++;
                c->skipped++;
            }
            if (c->next_obj >= src->nobjs) {
                if (c->skipped && vt->scans == 1)
                    env_log(vt->env, "source '%s': the partition filter "
                            "skipped %llu of %zu objects", src->name,
                            (unsigned long long)c->skipped, src->nobjs);
                c->skipped = 0;
                c->eof = true;
                return SQLITE_OK;
            }
            int rc = open_next_object(c);
            if (rc != SQLITE_OK)
                return rc;
        }
        buf_reset(&c->row);
        int rc;
        if (c->csv) {
            struct csv_record *r = NULL;
            rc = csv_reader_next(c->csv, &r);
            if (rc == 1 && c->skip_header) {
                c->skip_header = false;
                continue;
            }
            if (rc == 1) {
                int e = row_from_csv(c, r);
                rc = e ? e : 1;
            }
        } else {
            jval_free(c->jrec);
            c->jrec = NULL;
            rc = json_reader_next(c->json, &c->jrec);
            if (rc == 1) {
                int e = row_from_json(c, c->jrec);
                rc = e ? e : 1;
            }
        }
        count_bytes(c);
        if (rc == 1) {
            c->rowid++;
            c->obj_rows++;
            counter_add(&vt->env->counters->rows_read, 1);
            return SQLITE_OK;
        }
        if (rc == 0) {
            close_object(c, true);
            continue;
        }
        return read_error(c, rc);
    }
}

static int vt_filter(sqlite3_vtab_cursor *base, int idxnum,
                     const char *idxstr, int argc, sqlite3_value **argv)
{
    struct cursor *c = (struct cursor *)base;
    struct vtab *vt = c->vt;
    close_object(c, false);
    clear_filter(c);
    if (idxnum > 0 && idxstr && argc == idxnum) {
        c->filt = calloc((size_t)argc, sizeof *c->filt);
        c->filt_key = calloc((size_t)argc, sizeof *c->filt_key);
        if (!c->filt || !c->filt_key) {
            clear_filter(c);
            return SQLITE_NOMEM;
        }
        const char *p = idxstr;
        for (int i = 0; i < argc; i++) {
            char *end;
            long k = strtol(p, &end, 10);
            c->filt[i] = sqlite3_value_dup(argv[i]);
            if (!c->filt[i] || k < 0 || (size_t)k >= vt->src->npkeys) {
                c->nfilt = i + (c->filt[i] != NULL);
                clear_filter(c);
                return SQLITE_NOMEM;
            }
            c->filt_key[i] = (int)k;
            c->nfilt = i + 1;
            p = *end == ',' ? end + 1 : end;
        }
    }
    c->skipped = 0;
    c->next_obj = 0;
    c->rowid = 0;
    c->eof = false;
    if (vt->scans++ == 1)
        env_log(vt->env, "source '%s' is read again (a join or correlated "
                "subquery reads it once per use)", vt->src->name);
    if (vt->scans == 1)
        env_log(vt->env, "scanning source '%s': %zu objects, %llu bytes",
                vt->src->name, vt->src->nobjs,
                (unsigned long long)vt->src->bytes);
    return vt_next(base);
}

static int vt_eof(sqlite3_vtab_cursor *base)
{
    return ((struct cursor *)base)->eof;
}

static int vt_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    struct cursor *c = (struct cursor *)base;
    size_t n = c->vt->src->ncols + c->vt->src->npkeys;
    if (i < 0 || (size_t)i >= n) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    const struct cell *cl = &c->cells[i];
    const struct buf *b = (size_t)i < c->vt->src->ncols ? &c->row : &c->pvals;
    switch (cl->type) {
    case SQLITE_INTEGER:
        sqlite3_result_int64(ctx, cl->i);
        break;
    case SQLITE_FLOAT:
        sqlite3_result_double(ctx, cl->d);
        break;
    case SQLITE_TEXT:
        sqlite3_result_text(ctx, b->data + cl->off, (int)cl->len,
                            SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_null(ctx);
    }
    return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid)
{
    *rowid = ((struct cursor *)base)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module srctab_module = {
    .iVersion = 1,
    .xCreate = vt_connect,
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
};

int srctab_register(sqlite3 *db, struct srctab_env *env)
{
    int rc = sqlite3_create_module_v2(db, "gluefs_source", &srctab_module,
                                      env, NULL);
    return rc == SQLITE_OK ? 0 : -ENOMEM;
}

int srctab_create(sqlite3 *db, size_t idx, const char *sqlname, char *err,
                  size_t errlen)
{
    struct buf sql;
    buf_init(&sql, 4096);
    int rc = buf_puts(&sql, "CREATE VIRTUAL TABLE temp.");
    if (!rc)
        rc = srctab_quote_ident(&sql, sqlname);
    if (!rc)
        rc = buf_printf(&sql, " USING gluefs_source(%zu)", idx);
    if (rc) {
        buf_release(&sql);
        snprintf(err, errlen, "source '%s': name too long", sqlname);
        return -EINVAL;
    }
    char *msg = NULL;
    if (sqlite3_exec(db, sql.data, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        rc = -EINVAL;
    }
    buf_release(&sql);
    return rc;
}
