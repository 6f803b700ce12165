/* spec.c - job spec parsing; see spec.h */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* One `key = value` entry, continuation lines joined. */
struct entry {
    char key[64];
    int line;
    struct buf value;
    bool in_quote; /* inside a '...' literal at the end of the last line */
};

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    if (errlen) {
        int n = line > 0 ? snprintf(err, errlen, "spec line %d: ", line)
                         : snprintf(err, errlen, "spec: ");
        if (n < 0)
            n = 0;
        if ((size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

const char *spec_format_name(enum spec_format f)
{
    switch (f) {
    case SPEC_FORMAT_CSV: return "csv";
    case SPEC_FORMAT_JSON: return "json";
    default: return "";
    }
}

const char *spec_mode_name(enum spec_mode m)
{
    switch (m) {
    case SPEC_MODE_OVERWRITE: return "overwrite";
    case SPEC_MODE_ERROR_IF_EXISTS: return "error_if_exists";
    default: return "append";
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Glue's name rule (as catalog_sanitize_name): lower case, anything other
 * than a-z, 0-9 and '_' becomes '_'. */
static char *sanitize_dup(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)s[i]);
        o[i] = (isdigit(c) || (c >= 'a' && c <= 'z') || c == '_') ? (char)c
                                                                  : '_';
    }
    o[n] = '\0';
    return o;
}

int spec_split_s3(const char *url, char **bucket, char **prefix)
{
    *bucket = NULL;
    *prefix = NULL;
    if (strncmp(url, "s3://", 5) != 0)
        return -EINVAL;
    const char *b = url + 5;
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen == 0 || blen > 255)
        return -EINVAL;
    for (size_t i = 0; i < blen; i++)
        if (is_ws(b[i]) || (unsigned char)b[i] < 0x20)
            return -EINVAL;
    const char *p = slash ? slash + 1 : "";
    size_t plen = strlen(p);
    /* No empty, "." or ".." segments: they cannot be folders. */
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') ||
            (n == 2 && s[0] == '.' && s[1] == '.'))
            return -EINVAL;
        if (!e)
            break;
        s = e + 1;
    }
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)p[i] < 0x20)
            return -EINVAL;
    char *bk = strndup(b, blen);
    char *pf = malloc(plen + 2);
    if (!bk || !pf) {
        free(bk);
        free(pf);
        return -ENOMEM;
    }
    memcpy(pf, p, plen);
    if (plen && p[plen - 1] != '/')
        pf[plen++] = '/';
    pf[plen] = '\0';
    *bucket = bk;
    *prefix = pf;
    return 0;
}

/* Append LINE[from..n) to the entry's value, cutting at a comment.  LINE
 * is the whole physical line so that "after whitespace" looks back across
 * FROM. */
static int append_value(struct entry *e, const char *line, size_t from,
                        size_t n, bool newline)
{
    size_t end = n;
    for (size_t i = from; i < n; i++) {
        char c = line[i];
        if (c == '\'') {
            e->in_quote = !e->in_quote;
        } else if (c == '#' && !e->in_quote &&
                   (i == 0 || is_ws(line[i - 1]))) {
            end = i;
            break;
        }
    }
    size_t a = from;
    while (a < end && is_ws(line[a]))
        a++;
    while (end > a && is_ws(line[end - 1]))
        end--;
    if (a == end)
        return 0;
    if (newline && e->value.len) {
        int rc = buf_putc(&e->value, '\n');
        if (rc)
            return rc;
    }
    return buf_append(&e->value, line + a, end - a);
}

/* A blank line, or only a comment. */
static bool line_is_blank(const char *line, size_t n)
{
    size_t i = 0;
    while (i < n && is_ws(line[i]))
        i++;
    return i == n || line[i] == '#';
}

struct seen {
    char key[64];
    int line;
};

static int add_source(struct spec *s, const char *alias, const char *val,
                      int line, char *err, size_t errlen)
{
    if (s->nsources >= SPEC_MAX_SOURCES)
        return fail(err, errlen, line, "too many sources (at most %d)",
                    SPEC_MAX_SOURCES);
    struct spec_source *ns =
        realloc(s->sources, (s->nsources + 1) * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    s->sources = ns;
    struct spec_source *src = &ns[s->nsources];
    memset(src, 0, sizeof *src);
    s->nsources++;
    src->line = line;
    src->ref = strdup(val);
    if (!src->ref)
        return -ENOMEM;
    if (!strncmp(val, "s3://", 5)) {
        src->is_s3 = true;
        int rc = spec_split_s3(val, &src->bucket, &src->prefix);
        if (rc == -ENOMEM)
            return rc;
        if (rc)
            return fail(err, errlen, line,
                        "source '%s' is not a valid s3://bucket/prefix/", val);
        if (!alias) {
            /* The last folder of the prefix, or the bucket. */
            const char *p = src->prefix;
            size_t n = strlen(p);
            if (n == 0) {
                src->name = strdup(src->bucket);
            } else {
                size_t e = n - 1; /* the trailing '/' */
                size_t b = e;
                while (b > 0 && p[b - 1] != '/')
                    b--;
                src->name = strndup(p + b, e - b);
            }
            if (!src->name)
                return -ENOMEM;
        }
    } else {
        const char *dot = strchr(val, '.');
        if (!dot || dot == val || !dot[1] || strchr(dot + 1, '.') ||
            strchr(val, '/') || strchr(val, ' ') || strchr(val, '\t'))
            return fail(err, errlen, line,
                        "source '%s' is neither a catalog table "
                        "(database.table) nor s3://bucket/prefix/",
                        val);
        src->database = sanitize_dup(val, (size_t)(dot - val));
        src->table = sanitize_dup(dot + 1, strlen(dot + 1));
        if (!src->database || !src->table)
            return -ENOMEM;
        if (!alias) {
            src->name = strdup(src->table);
            if (!src->name)
                return -ENOMEM;
        }
    }
    if (alias) {
        src->name = strdup(alias);
        if (!src->name)
            return -ENOMEM;
    }
    for (size_t i = 0; i + 1 < s->nsources; i++)
        if (!strcasecmp(s->sources[i].name, src->name))
            return fail(err, errlen, line,
                        "two sources are named '%s' (first on line %d); "
                        "name them with source.ALIAS = ...",
                        src->name, s->sources[i].line);
    return 0;
}

static int set_partition_by(struct spec *s, const char *val, int line,
                            char *err, size_t errlen)
{
    for (const char *p = val;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *a = p;
        while (n && (is_ws(*a) || *a == '\n')) {
            a++;
            n--;
        }
        while (n && (is_ws(a[n - 1]) || a[n - 1] == '\n'))
            n--;
        if (n == 0)
            return fail(err, errlen, line,
                        "partition_by has an empty column name");
        if (memchr(a, '/', n) || memchr(a, '=', n) || memchr(a, '"', n))
            return fail(err, errlen, line,
                        "partition_by column '%.*s' cannot hold '/', '=' "
                        "or '\"'",
                        (int)n, a);
        if (s->npartition_by >= SPEC_MAX_PARTITION_BY)
            return fail(err, errlen, line,
                        "too many partition_by columns (at most %d)",
                        SPEC_MAX_PARTITION_BY);
        for (size_t i = 0; i < s->npartition_by; i++)
            if (strlen(s->partition_by[i]) == n &&
                !strncasecmp(s->partition_by[i], a, n))
                return fail(err, errlen, line,
                            "partition_by names '%.*s' twice", (int)n, a);
        char **np = realloc(s->partition_by,
                            (s->npartition_by + 1) * sizeof *np);
        if (!np)
            return -ENOMEM;
        s->partition_by = np;
        np[s->npartition_by] = strndup(a, n);
        if (!np[s->npartition_by])
            return -ENOMEM;
        s->npartition_by++;
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

static int apply(struct spec *s, struct entry *e, struct seen *seen,
                 size_t *nseen, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "source", "sql", "target", "format", "partition_by", "compression",
        "mode", "target_table",
    };
    const char *key = e->key;
    const char *alias = NULL;
    int line = e->line;
    bool known = false;
    if (!strncmp(key, "source.", 7)) {
        alias = key + 7;
        if (!*alias)
            return fail(err, errlen, line, "source alias is empty");
        for (const char *p = alias; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                return fail(err, errlen, line,
                            "source alias '%s' must be letters, digits "
                            "and _",
                            alias);
        known = true;
    }
    for (size_t i = 0; !known && i < sizeof keys / sizeof keys[0]; i++)
        known = !strcmp(key, keys[i]);
    if (!known)
        return fail(err, errlen, line, "unknown key '%s'", key);
    for (size_t i = 0; i < *nseen; i++)
        if (!strcmp(seen[i].key, key))
            return fail(err, errlen, line, "duplicate key '%s' (first on "
                        "line %d)", key, seen[i].line);
    snprintf(seen[*nseen].key, sizeof seen[*nseen].key, "%s", key);
    seen[*nseen].line = line;
    (*nseen)++;
    const char *val = e->value.data;
    if (!val || !*val)
        return fail(err, errlen, line, "key '%s' has no value", key);

    if (alias || !strcmp(key, "source"))
        return add_source(s, alias, val, line, err, errlen);
    if (!strcmp(key, "sql")) {
        s->sql = strdup(val);
        return s->sql ? 0 : -ENOMEM;
    }
    if (!strcmp(key, "target")) {
        int rc = spec_split_s3(val, &s->target_bucket, &s->target_prefix);
        if (rc == -ENOMEM)
            return rc;
        if (rc || !*s->target_prefix)
            return fail(err, errlen, line,
                        "target '%s' must be a folder in a bucket: "
                        "s3://bucket/prefix/",
                        val);
        size_t n = strlen(s->target_bucket) + strlen(s->target_prefix) + 7;
        s->target = malloc(n);
        if (!s->target)
            return -ENOMEM;
        snprintf(s->target, n, "s3://%s/%s", s->target_bucket,
                 s->target_prefix);
        return 0;
    }
    if (!strcmp(key, "format")) {
        if (!strcasecmp(val, "csv"))
            s->format = SPEC_FORMAT_CSV;
        else if (!strcasecmp(val, "json"))
            s->format = SPEC_FORMAT_JSON;
        else if (!strcasecmp(val, "parquet"))
            return fail(err, errlen, line, "format '%s' is not supported "
                        "yet (csv, json)", val);
        else
            return fail(err, errlen, line, "unknown format '%s' (csv, json)",
                        val);
        return 0;
    }
    if (!strcmp(key, "compression")) {
        if (!strcasecmp(val, "none"))
            s->compression = COMP_NONE;
        else if (!strcasecmp(val, "gzip"))
            s->compression = COMP_GZIP;
        else if (!strcasecmp(val, "bzip2"))
            s->compression = COMP_BZIP2;
        else if (!strcasecmp(val, "zstd"))
            s->compression = COMP_ZSTD;
        else
            return fail(err, errlen, line, "unknown compression '%s' (none, "
                        "gzip, bzip2, zstd)", val);
        return 0;
    }
    if (!strcmp(key, "mode")) {
        if (!strcasecmp(val, "append"))
            s->mode = SPEC_MODE_APPEND;
        else if (!strcasecmp(val, "overwrite"))
            s->mode = SPEC_MODE_OVERWRITE;
        else if (!strcasecmp(val, "error_if_exists"))
            s->mode = SPEC_MODE_ERROR_IF_EXISTS;
        else
            return fail(err, errlen, line, "unknown mode '%s' (append, "
                        "overwrite, error_if_exists)", val);
        return 0;
    }
    if (!strcmp(key, "partition_by"))
        return set_partition_by(s, val, line, err, errlen);
    /* target_table */
    const char *dot = strchr(val, '.');
    if (!dot || dot == val || !dot[1] || strchr(dot + 1, '.') ||
        strpbrk(val, " \t\n/"))
        return fail(err, errlen, line,
                    "target_table '%s' must be database.table", val);
    s->target_database = sanitize_dup(val, (size_t)(dot - val));
    s->target_table = sanitize_dup(dot + 1, strlen(dot + 1));
    return s->target_database && s->target_table ? 0 : -ENOMEM;
}

static int finish_entry(struct spec *s, struct entry *e, struct seen *seen,
                        size_t *nseen, char *err, size_t errlen)
{
    if (!e->line)
        return 0;
    int rc = apply(s, e, seen, nseen, err, errlen);
    buf_reset(&e->value);
    e->line = 0;
    e->in_quote = false;
    return rc;
}

int spec_parse(const char *text, size_t len, struct spec **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (len > SPEC_MAX_TEXT)
        return fail(err, errlen, 0, "longer than %u bytes", SPEC_MAX_TEXT);
    if (memchr(text, '\0', len))
        return fail(err, errlen, 0, "holds a NUL byte");
    struct spec *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    struct entry e;
    memset(&e, 0, sizeof e);
    buf_init(&e.value, SPEC_MAX_TEXT);
    /* At most one entry per key, plus the aliased sources. */
    struct seen seen[8 + SPEC_MAX_SOURCES + 1];
    size_t nseen = 0;
    int rc = 0;
    int lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (n && is_ws(line[0])) {
            if (e.line) {
                rc = append_value(&e, line, 0, n, true);
                continue;
            }
            if (line_is_blank(line, n))
                continue;
            rc = fail(err, errlen, lineno, "a line that begins with "
                      "whitespace continues a value, but no key came "
                      "before it");
            break;
        }
        /* Blank and comment lines do not end a continued value. */
        if (line_is_blank(line, n))
            continue;
        rc = finish_entry(s, &e, seen, &nseen, err, errlen);
        if (rc)
            break;
        if (nseen >= sizeof seen / sizeof seen[0]) {
            rc = fail(err, errlen, lineno, "too many keys");
            break;
        }
        const char *eq = memchr(line, '=', n);
        size_t k = eq ? (size_t)(eq - line) : n;
        while (k && is_ws(line[k - 1]))
            k--;
        if (!eq || k == 0) {
            rc = fail(err, errlen, lineno, "expected 'key = value', got "
                      "'%.*s'", (int)(n > 60 ? 60 : n), line);
            break;
        }
        if (k >= sizeof e.key) {
            rc = fail(err, errlen, lineno, "unknown key '%.*s'", (int)k,
                      line);
            break;
        }
        memcpy(e.key, line, k);
        e.key[k] = '\0';
        for (size_t i = 0; i < k && !rc; i++)
            if (is_ws(line[i]))
                rc = fail(err, errlen, lineno, "unknown key '%s'", e.key);
        if (rc)
            break;
        e.line = lineno;
        rc = append_value(&e, line, (size_t)(eq - line) + 1, n, false);
    }
    if (!rc)
        rc = finish_entry(s, &e, seen, &nseen, err, errlen);
    buf_release(&e.value);
    if (!rc && s->nsources == 0)
        rc = fail(err, errlen, 0, "missing key 'source' (a catalog table "
                  "database.table, or s3://bucket/prefix/)");
    if (!rc && !s->target)
        rc = fail(err, errlen, 0, "missing key 'target' "
                  "(s3://bucket/prefix/)");
    if (!rc && !s->sql && s->nsources > 1)
        rc = fail(err, errlen, s->sources[1].line,
                  "a job without 'sql' copies one source; name how to "
                  "combine %zu sources with sql = SELECT ...",
                  s->nsources);
    if (rc == -ENOMEM && errlen)
        snprintf(err, errlen, "spec: out of memory");
    if (rc) {
        spec_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void spec_free(struct spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsources; i++) {
        struct spec_source *src = &s->sources[i];
        free(src->name);
        free(src->ref);
        free(src->database);
        free(src->table);
        free(src->bucket);
        free(src->prefix);
    }
    free(s->sources);
    free(s->sql);
    free(s->target);
    free(s->target_bucket);
    free(s->target_prefix);
    for (size_t i = 0; i < s->npartition_by; i++)
        free(s->partition_by[i]);
    free(s->partition_by);
    free(s->target_database);
    free(s->target_table);
    free(s);
}
