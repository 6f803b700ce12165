/* types.c - Hive types: the type of a text or JSON value, parsing and
 * writing type strings, and widening (see infer.h).
 *
 * Widening follows Glue's crawler: integers widen to the larger integer,
 * integers and floating point to double, date and timestamp to timestamp,
 * structs merge field by field (by name, first-seen order), arrays and
 * maps merge their element types; anything else becomes string. */
#include "infer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "buf.h"
#include "json.h"

#define HTYPE_MAX_FIELDS 1000 /* a wider struct becomes string */
#define HTYPE_MAX_DEPTH 100   /* nesting accepted when parsing */
#define HTYPE_MERGE_MAX 131072 /* Glue's cap on a column type's length */

/* ------------------------------------------------------------------ */
/* The type of a text value */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly COUNT digits at S+*I; their value, or -1. */
static int take_digits(const char *s, size_t n, size_t *i, int count)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || !is_digit(s[*i]))
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* YYYY-MM-DD (or YYYY/MM/DD when SLASH_OK) at S+*I, a valid calendar
 * date.  *SEP gets the separator. */
static bool take_date(const char *s, size_t n, size_t *i, bool slash_ok,
                      char *sep)
{
    int y = take_digits(s, n, i, 4);
    if (y < 0 || *i >= n)
        return false;
    char c = s[*i];
    if (c != '-' && !(slash_ok && c == '/'))
        return false;
    (*i)++;
    int m = take_digits(s, n, i, 2);
    if (m < 1 || m > 12 || *i >= n || s[*i] != c)
        return false;
    (*i)++;
    int d = take_digits(s, n, i, 2);
    if (d < 1 || d > days_in_month(y, m))
        return false;
    *sep = c;
    return true;
}

/* HH:MM[:SS[.fffffffff]][Z|+hh[:mm]|-hh[:mm]] up to the end. */
static bool take_time_to_end(const char *s, size_t n, size_t *i)
{
    int h = take_digits(s, n, i, 2);
    if (h < 0 || h > 23 || *i >= n || s[*i] != ':')
        return false;
    (*i)++;
    int mi = take_digits(s, n, i, 2);
    if (mi < 0 || mi > 59)
        return false;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        int se = take_digits(s, n, i, 2);
        if (se < 0 || se > 60)
            return false;
        if (*i < n && s[*i] == '.') {
            (*i)++;
            size_t f = 0;
            while (*i < n && is_digit(s[*i])) {
                (*i)++;
                f++;
            }
            if (f < 1 || f > 9)
                return false;
        }
    }
    if (*i == n)
        return true;
    if (s[*i] == 'Z')
        return *i + 1 == n;
    if (s[*i] != '+' && s[*i] != '-')
        return false;
    (*i)++;
    int zh = take_digits(s, n, i, 2);
    if (zh < 0 || zh > 14)
        return false;
    if (*i == n)
        return true;
    if (s[*i] == ':')
        (*i)++;
    int zm = take_digits(s, n, i, 2);
    return zm >= 0 && zm <= 59 && *i == n;
}

/* "date", "timestamp" or NULL.  ISO_ONLY: dashes only (JSON strings). */
static const char *date_type(const char *s, size_t n, bool iso_only)
{
    size_t i = 0;
    char sep;
    if (n < 10 || n > 40 || !take_date(s, n, &i, !iso_only, &sep))
        return NULL;
    if (i == n)
        return "date";
    if (!(s[i] == ' ' || (s[i] == 'T' && sep == '-')))
        return NULL;
    i++;
    return take_time_to_end(s, n, &i) ? "timestamp" : NULL;
}

/* "bigint", "double", "string" (a number we do not take as one) or NULL
 * (not a number at all). */
static const char *number_type(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t start = i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t nint = i - start, nfrac = 0;
    bool fraction = false, exponent = false;
    if (i < n && s[i] == '.') {
        fraction = true;
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            nfrac++;
        }
    }
    if (nint == 0 && nfrac == 0)
        return NULL;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        exponent = true;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == e0)
            return NULL;
    }
    if (i != n)
        return NULL;
    /* "007", "01.5": an identifier or code, not a number.  "0", "0.5",
     * ".5" are numbers. */
    if (nint > 1 && s[start] == '0')
        return "string";
    if (!fraction && !exponent) {
        /* int64: at most 19 digits, and 19 only up to 9223372036854775807
         * (or ...808 negative).  Longer integers are ids (card numbers,
         * 20-digit keys): string, not a double that loses digits. */
        if (nint < 19)
            return "bigint";
        if (nint > 19)
            return "string";
        const char *lim = s[0] == '-' ? "9223372036854775808"
                                      : "9223372036854775807";
        return memcmp(s + start, lim, 19) <= 0 ? "bigint" : "string";
    }
    /* A double must be finite: more than 308 decimal exponent or so is
     * rejected by strtod's range check. */
    if (n > 64)
        return "string";
    /* Without an exponent, at most 64 characters are below 1e64: finite,
     * no need to ask strtod. */
    if (!exponent)
        return "double";
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (errno == ERANGE && (d > 1.0 || d < -1.0))
        return "string";
    return "double";
}

const char *infer_text_type(const char *s, size_t n)
{
    if (!s || n == 0)
        return NULL;
    /* Hive's LazySimpleSerDe writes NULL as \N. */
    if (n == 2 && s[0] == '\\' && s[1] == 'N')
        return NULL;
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) ||
        (n == 5 && strncasecmp(s, "false", 5) == 0))
        return "boolean";
    /* NaN, inf, Infinity are not numbers here: in CSV they are most often
     * markers for missing values, and a column holding them stays
     * string rather than a double that SQL engines read differently. */
    const char *t = number_type(s, n);
    if (t)
        return t;
    t = date_type(s, n, false);
    if (t)
        return t;
    return "string";
}

/* ------------------------------------------------------------------ */
/* Parsed types */

enum hkind { HK_VOID, HK_SCALAR, HK_STRUCT, HK_ARRAY, HK_MAP };

struct htype {
    enum hkind kind;
    char *name;           /* HK_SCALAR: normalised name */
    size_t n, cap;        /* children: fields, 1 (array) or 2 (map) */
    char **fnames;        /* HK_STRUCT: field names */
    struct htype **kids;
};

void htype_free(struct htype *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->fnames)
            free(t->fnames[i]);
        htype_free(t->kids[i]);
    }
    free(t->fnames);
    free(t->kids);
    free(t->name);
    free(t);
}

static struct htype *htype_new(enum hkind k)
{
    struct htype *t = calloc(1, sizeof(*t));
    if (t)
        t->kind = k;
    return t;
}

static struct htype *htype_scalar(const char *name, size_t len)
{
    struct htype *t = htype_new(HK_SCALAR);
    if (!t)
        return NULL;
    t->name = strndup(name, len);
    if (!t->name) {
        free(t);
        return NULL;
    }
    return t;
}

/* Drop T's children and make it the scalar string. */
static int htype_to_string(struct htype *t)
{
    char *s = strdup("string");
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        if (t->fnames)
            free(t->fnames[i]);
        htype_free(t->kids[i]);
    }
    free(t->fnames);
    free(t->kids);
    free(t->name);
    t->fnames = NULL;
    t->kids = NULL;
    t->n = t->cap = 0;
    t->name = s;
    t->kind = HK_SCALAR;
    return 0;
}

/* Append child KID (consumed, may be NULL) named FNAME (consumed; struct
 * only). */
static int htype_add(struct htype *t, char *fname, struct htype *kid)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4;
        struct htype **k = realloc(t->kids, nc * sizeof(*k));
        if (!k)
            goto oom;
        t->kids = k;
        if (t->kind == HK_STRUCT) {
            char **f = realloc(t->fnames, nc * sizeof(*f));
            if (!f)
                goto oom;
            t->fnames = f;
        }
        t->cap = nc;
    }
    if (t->kind == HK_STRUCT)
        t->fnames[t->n] = fname;
    t->kids[t->n++] = kid;
    return 0;
oom:
    free(fname);
    htype_free(kid);
    return -ENOMEM;
}

/* Index of field NAME in struct T, or -1.  HINT is tried first: records
 * usually list their fields in the same order, so merging one into the
 * type of the others stays linear. */
static ssize_t htype_field_index(const struct htype *t, const char *name,
                                 size_t hint)
{
    if (hint < t->n && strcmp(t->fnames[hint], name) == 0)
        return (ssize_t)hint;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->fnames[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

/* ---- parsing */

struct hparser {
    const char *s;
    size_t i;
    bool bad;   /* syntax error */
    bool oom;
};

static void hp_space(struct hparser *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
           p->s[p->i] == '\r')
        p->i++;
}

static bool hp_eat(struct hparser *p, char c)
{
    hp_space(p);
    if (p->s[p->i] != c)
        return false;
    p->i++;
    return true;
}

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           c == '_';
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static struct htype *hp_type(struct hparser *p, int depth);

/* A struct field name: `backquoted` or up to ':' (trimmed). */
static char *hp_field_name(struct hparser *p)
{
    hp_space(p);
    size_t a, b;
    if (p->s[p->i] == '`') {
        /* `name`, with `` for a backquote inside (Hive's quoting). */
        struct buf nb;
        buf_init(&nb, 4096);
        p->i++;
        int rc = 0;
        for (;;) {
            char c = p->s[p->i];
            if (!c) {
                p->bad = true;
                break;
            }
            p->i++;
            if (c == '`') {
                if (p->s[p->i] != '`')
                    break;
                p->i++;
            }
            rc = buf_putc(&nb, c);
            if (rc < 0) {
                if (rc == -ENOMEM)
                    p->oom = true;
                else
                    p->bad = true;
                break;
            }
        }
        if (p->bad || p->oom || nb.len == 0) {
            p->bad = p->bad || (!p->oom && nb.len == 0);
            buf_release(&nb);
            return NULL;
        }
        char *name = buf_detach(&nb);
        if (!name)
            p->oom = true;
        else
            lower_ascii(name);
        return name;
    } else {
        a = p->i;
        while (p->s[p->i] && p->s[p->i] != ':' && p->s[p->i] != ',' &&
               p->s[p->i] != '<' && p->s[p->i] != '>')
            p->i++;
        b = p->i;
        while (b > a && (p->s[b - 1] == ' ' || p->s[b - 1] == '\t'))
            b--;
    }
    if (b == a) {
        p->bad = true;
        return NULL;
    }
    char *name = strndup(p->s + a, b - a);
    if (!name) {
        p->oom = true;
        return NULL;
    }
    lower_ascii(name);
    return name;
}

static struct htype *hp_struct(struct hparser *p, int depth)
{
    struct htype *t = htype_new(HK_STRUCT);
    if (!t) {
        p->oom = true;
        return NULL;
    }
    if (hp_eat(p, '>'))
        return t;
    for (;;) {
        char *name = hp_field_name(p);
        if (!name)
            goto fail;
        if (!hp_eat(p, ':')) {
            free(name);
            p->bad = true;
            goto fail;
        }
        struct htype *k = hp_type(p, depth + 1);
        if (!k) {
            free(name);
            goto fail;
        }
        ssize_t j = htype_field_index(t, name, t->n);
        if (j >= 0) {
            free(name);
            if (htype_merge_into(&t->kids[j], k) < 0) {
                p->oom = true;
                goto fail;
            }
        } else if (htype_add(t, name, k) < 0) {
            p->oom = true;
            goto fail;
        }
        if (hp_eat(p, '>'))
            return t;
        if (!hp_eat(p, ',')) {
            p->bad = true;
            goto fail;
        }
    }
fail:
    htype_free(t);
    return NULL;
}

static struct htype *hp_type(struct hparser *p, int depth)
{
    if (depth > HTYPE_MAX_DEPTH) {
        p->bad = true;
        return NULL;
    }
    hp_space(p);
    size_t a = p->i;
    while (is_word(p->s[p->i]))
        p->i++;
    size_t len = p->i - a;
    if (len == 0) {
        p->bad = true;
        return NULL;
    }
    char word[16] = "";
    if (len < sizeof(word)) {
        memcpy(word, p->s + a, len);
        word[len] = '\0';
        lower_ascii(word);
    }
    hp_space(p);
    if (p->s[p->i] == '<') {
        p->i++;
        if (strcmp(word, "struct") == 0)
            return hp_struct(p, depth);
        enum hkind k;
        size_t nk;
        if (strcmp(word, "array") == 0) {
            k = HK_ARRAY;
            nk = 1;
        } else if (strcmp(word, "map") == 0) {
            k = HK_MAP;
            nk = 2;
        } else {
            p->bad = true; /* uniontype<> and the like: opaque */
            return NULL;
        }
        struct htype *t = htype_new(k);
        if (!t) {
            p->oom = true;
            return NULL;
        }
        for (size_t i = 0; i < nk; i++) {
            if (i > 0 && !hp_eat(p, ',')) {
                p->bad = true;
                goto fail;
            }
            struct htype *kid = hp_type(p, depth + 1);
            if (!kid)
                goto fail;
            if (htype_add(t, NULL, kid) < 0) {
                p->oom = true;
                goto fail;
            }
        }
        if (!hp_eat(p, '>')) {
            p->bad = true;
            goto fail;
        }
        return t;
fail:
        htype_free(t);
        return NULL;
    }
    /* A scalar, maybe with parameters: decimal(10, 2), varchar(20). */
    struct buf b;
    buf_init(&b, 256);
    int rc = buf_append(&b, p->s + a, len);
    if (rc == 0 && p->s[p->i] == '(') {
        while (rc == 0 && p->s[p->i] && p->s[p->i] != ')') {
            if (p->s[p->i] != ' ')
                rc = buf_putc(&b, p->s[p->i]);
            p->i++;
        }
        if (rc == 0 && p->s[p->i] != ')')
            p->bad = true;
        else if (rc == 0) {
            rc = buf_putc(&b, ')');
            p->i++;
        }
    }
    if (rc == -E2BIG || p->bad) {
        p->bad = true;
        buf_release(&b);
        return NULL;
    }
    if (rc < 0) {
        p->oom = true;
        buf_release(&b);
        return NULL;
    }
    lower_ascii(b.data);
    struct htype *t;
    if (strcmp(b.data, "void") == 0) {
        t = htype_new(HK_VOID);
    } else if (strcmp(b.data, "integer") == 0) {
        t = htype_scalar("int", 3);
    } else {
        t = htype_scalar(b.data, b.len);
    }
    buf_release(&b);
    if (!t)
        p->oom = true;
    return t;
}

struct htype *htype_parse(const char *s)
{
    if (!s)
        s = "void";
    struct hparser p = {.s = s};
    struct htype *t = hp_type(&p, 0);
    hp_space(&p);
    if (p.oom)
        return NULL;
    if (t && !p.bad && p.s[p.i] == '\0')
        return t;
    htype_free(t);
    /* Not a type we understand: keep it whole (trimmed) so that it merges
     * with itself only.  (Removing inner spaces could turn it into a
     * different, valid type on the next parse.) */
    size_t a = 0, n = strlen(s);
    while (a < n && strchr(" \t\r\n", s[a]))
        a++;
    while (n > a && strchr(" \t\r\n", s[n - 1]))
        n--;
    if (n == a)
        return htype_new(HK_VOID);
    t = htype_scalar(s + a, n - a);
    return t;
}

/* ---- formatting */

static bool name_needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (; *s; s++)
        if (strchr(" :,<>`\t\r\n", *s))
            return true;
    return false;
}

static int hformat(const struct htype *t, struct buf *b)
{
    int rc = 0;
    switch (t->kind) {
    case HK_VOID:
        return buf_puts(b, "string");
    case HK_SCALAR:
        return buf_puts(b, t->name);
    case HK_STRUCT:
        if (t->n == 0)
            return buf_puts(b, "string");
        rc = buf_puts(b, "struct<");
        for (size_t i = 0; rc == 0 && i < t->n; i++) {
            if (i > 0)
                rc = buf_putc(b, ',');
            if (rc == 0 && name_needs_quotes(t->fnames[i])) {
                rc = buf_putc(b, '`');
                for (const char *c = t->fnames[i]; rc == 0 && *c; c++)
                    rc = *c == '`' ? buf_puts(b, "``") : buf_putc(b, *c);
                if (rc == 0)
                    rc = buf_putc(b, '`');
            } else if (rc == 0)
                rc = buf_puts(b, t->fnames[i]);
            if (rc == 0)
                rc = buf_putc(b, ':');
            if (rc == 0)
                rc = hformat(t->kids[i], b);
        }
        return rc ? rc : buf_putc(b, '>');
    case HK_ARRAY:
        rc = buf_puts(b, "array<");
        if (rc == 0)
            rc = hformat(t->kids[0], b);
        return rc ? rc : buf_putc(b, '>');
    case HK_MAP:
        rc = buf_puts(b, "map<");
        if (rc == 0)
            rc = hformat(t->kids[0], b);
        if (rc == 0)
            rc = buf_putc(b, ',');
        if (rc == 0)
            rc = hformat(t->kids[1], b);
        return rc ? rc : buf_putc(b, '>');
    }
    return -EINVAL;
}

char *htype_format(const struct htype *t, size_t max)
{
    if (!t)
        return strdup("string");
    struct buf b;
    buf_init(&b, max);
    int rc = hformat(t, &b);
    if (rc == -E2BIG) {
        buf_release(&b);
        return strdup("string");
    }
    if (rc < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

/* ---- widening */

/* Rank of the numeric types: 1-4 integers, 5 float, 6 double, 7 decimal;
 * 0 for the rest. */
static int num_rank(const char *s)
{
    static const char *const names[] = {"tinyint", "smallint", "int",
                                        "bigint",  "float",    "double"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i + 1;
    if (strncmp(s, "decimal", 7) == 0 && (s[7] == '\0' || s[7] == '('))
        return 7;
    return 0;
}

/* Precision and scale of decimal[(p[,s])] (Hive's default 10,0). */
static void decimal_ps(const char *s, int *p, int *sc)
{
    *p = 10;
    *sc = 0;
    if (s[7] != '(')
        return;
    char *end;
    long v = strtol(s + 8, &end, 10);
    if (end != s + 8 && v > 0 && v <= 38)
        *p = (int)v;
    if (*end == ',') {
        const char *q = end + 1;
        v = strtol(q, &end, 10);
        if (end != q && v >= 0 && v <= *p)
            *sc = (int)v;
    }
}

/* The wider of two scalar names into OUT (size N). */
static void scalar_merge(const char *a, const char *b, char *out, size_t n)
{
    if (strcmp(a, b) == 0) {
        snprintf(out, n, "%s", a);
        return;
    }
    int ra = num_rank(a), rb = num_rank(b);
    if (ra && rb) {
        if (ra > rb) {
            const char *t = a;
            a = b;
            b = t;
            int r = ra;
            ra = rb;
            rb = r;
        }
        /* now ra <= rb */
        if (rb <= 4 || (rb <= 6 && ra >= 5)) { /* int+int, float+double */
            snprintf(out, n, "%s", b);
        } else if (rb == 5) { /* an integer and float */
            snprintf(out, n, "%s", ra == 4 ? "double" : "float");
        } else if (rb == 6) { /* an integer and double */
            snprintf(out, n, "double");
        } else if (ra == 7) { /* two decimals */
            int p1, s1, p2, s2;
            decimal_ps(a, &p1, &s1);
            decimal_ps(b, &p2, &s2);
            int sc = s1 > s2 ? s1 : s2;
            int ip = (p1 - s1) > (p2 - s2) ? p1 - s1 : p2 - s2;
            int p = ip + sc > 38 ? 38 : ip + sc;
            snprintf(out, n, "decimal(%d,%d)", p, sc);
        } else if (ra <= 4) { /* an integer and a decimal */
            static const int digits[] = {3, 5, 10, 19};
            int p, sc;
            decimal_ps(b, &p, &sc);
            int ip = p - sc > digits[ra - 1] ? p - sc : digits[ra - 1];
            p = ip + sc > 38 ? 38 : ip + sc;
            snprintf(out, n, "decimal(%d,%d)", p, sc);
        } else { /* float or double and a decimal */
            snprintf(out, n, "double");
        }
        return;
    }
    if ((strcmp(a, "date") == 0 && strcmp(b, "timestamp") == 0) ||
        (strcmp(a, "timestamp") == 0 && strcmp(b, "date") == 0)) {
        snprintf(out, n, "timestamp");
        return;
    }
    snprintf(out, n, "string");
}

int htype_merge_into(struct htype **dst, struct htype *src)
{
    if (!src)
        return 0;
    if (!*dst) {
        *dst = src;
        return 0;
    }
    struct htype *d = *dst;
    int rc = 0;
    if (src->kind == HK_VOID) {
        htype_free(src);
        return 0;
    }
    if (d->kind == HK_VOID) {
        htype_free(d);
        *dst = src;
        return 0;
    }
    if (d->kind != src->kind) {
        htype_free(src);
        return htype_to_string(d);
    }
    switch (d->kind) {
    case HK_VOID:
        break;
    case HK_SCALAR: {
        if (strcmp(d->name, src->name) == 0)
            break;
        char out[64];
        scalar_merge(d->name, src->name, out, sizeof(out));
        char *s = strdup(out);
        if (!s) {
            rc = -ENOMEM;
            break;
        }
        free(d->name);
        d->name = s;
        break;
    }
    case HK_STRUCT:
        for (size_t i = 0; rc == 0 && i < src->n; i++) {
            ssize_t j = htype_field_index(d, src->fnames[i], i);
            if (j >= 0) {
                rc = htype_merge_into(&d->kids[j], src->kids[i]);
            } else {
                rc = htype_add(d, src->fnames[i], src->kids[i]);
                src->fnames[i] = NULL;
            }
            src->kids[i] = NULL;
        }
        if (rc == 0 && d->n > HTYPE_MAX_FIELDS)
            rc = htype_to_string(d);
        break;
    case HK_ARRAY:
    case HK_MAP:
        for (size_t i = 0; rc == 0 && i < d->n && i < src->n; i++) {
            rc = htype_merge_into(&d->kids[i], src->kids[i]);
            src->kids[i] = NULL;
        }
        break;
    }
    htype_free(src);
    return rc;
}

/* ---- JSON values */

/* Lower case, and the characters that would break a type string
 * replaced by '_'. */
static char *json_field_name(const char *k)
{
    char *s = strdup(k ? k : "");
    if (!s)
        return NULL;
    for (char *p = s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (strchr(" :,<>`\t\r\n", *p))
            *p = '_';
    }
    return s;
}

struct htype *htype_from_jval(const struct jval *v)
{
    if (!v)
        return htype_new(HK_VOID);
    switch (v->type) {
    case J_NULL:
        return htype_new(HK_VOID);
    case J_BOOL:
        return htype_scalar("boolean", 7);
    case J_INT:
        return htype_scalar("bigint", 6);
    case J_DOUBLE:
        return htype_scalar("double", 6);
    case J_STRING: {
        const char *t = date_type(v->u.str.s, v->u.str.len, true);
        if (!t)
            t = "string";
        return htype_scalar(t, strlen(t));
    }
    case J_ARRAY: {
        struct htype *t = htype_new(HK_ARRAY);
        struct htype *el = htype_new(HK_VOID);
        if (!t || !el)
            goto arr_oom;
        for (size_t i = 0; i < v->u.c.n; i++) {
            struct htype *e = htype_from_jval(v->u.c.items[i]);
            if (!e || htype_merge_into(&el, e) < 0)
                goto arr_oom;
        }
        if (htype_add(t, NULL, el) < 0) {
            htype_free(t);
            return NULL;
        }
        return t;
arr_oom:
        htype_free(t);
        htype_free(el);
        return NULL;
    }
    case J_OBJECT: {
        struct htype *t = htype_new(HK_STRUCT);
        if (!t)
            return NULL;
        for (size_t i = 0; i < v->u.c.n; i++) {
            char *name = json_field_name(v->u.c.keys[i]);
            struct htype *k = htype_from_jval(v->u.c.items[i]);
            if (!name || !k) {
                free(name);
                htype_free(k);
                htype_free(t);
                return NULL;
            }
            ssize_t j = htype_field_index(t, name, t->n);
            int rc;
            if (j >= 0) {
                free(name);
                rc = htype_merge_into(&t->kids[j], k);
            } else {
                rc = htype_add(t, name, k);
            }
            if (rc < 0) {
                htype_free(t);
                return NULL;
            }
            if (t->n > HTYPE_MAX_FIELDS) {
                if (htype_to_string(t) < 0) {
                    htype_free(t);
                    return NULL;
                }
                break;
            }
        }
        return t;
    }
    }
    return htype_new(HK_VOID);
}

/* ------------------------------------------------------------------ */
/* String forms */

static bool is_plain_type(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '_' ||
              *s == '(' || *s == ')' || *s == ','))
            return false;
    return true;
}

char *hive_type_normalize(const char *t)
{
    struct htype *h = htype_parse(t);
    if (!h)
        return NULL;
    char *s = htype_format(h, HTYPE_MERGE_MAX);
    htype_free(h);
    return s;
}

char *hive_type_merge(const char *a, const char *b)
{
    if (!a && !b)
        return NULL;
    if (!a)
        return hive_type_normalize(b);
    if (!b)
        return hive_type_normalize(a);
    if (strcmp(a, b) == 0 && is_plain_type(a) && strcmp(a, "void") != 0)
        return strdup(a);
    struct htype *ha = htype_parse(a);
    struct htype *hb = htype_parse(b);
    char *s = NULL;
    if (ha && hb) {
        if (htype_merge_into(&ha, hb) == 0)
            s = htype_format(ha, HTYPE_MERGE_MAX);
        hb = NULL;
    }
    htype_free(ha);
    htype_free(hb);
    return s;
}

void columns_free(struct column *cols, size_t n)
{
    if (!cols)
        return;
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

int schema_merge(struct column **cols, size_t *ncols,
                 const struct column *add, size_t nadd)
{
    for (size_t i = 0; i < nadd; i++) {
        size_t j;
        for (j = 0; j < *ncols; j++)
            if (strcasecmp((*cols)[j].name, add[i].name) == 0)
                break;
        if (j < *ncols) {
            char *t = hive_type_merge((*cols)[j].type, add[i].type);
            if (!t)
                return -ENOMEM;
            free((*cols)[j].type);
            (*cols)[j].type = t;
            continue;
        }
        struct column *nc = realloc(*cols, (*ncols + 1) * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        *cols = nc;
        char *name = strdup(add[i].name);
        char *type = hive_type_normalize(add[i].type);
        if (!name || !type) {
            free(name);
            free(type);
            return -ENOMEM;
        }
        lower_ascii(name);
        nc[*ncols].name = name;
        nc[*ncols].type = type;
        (*ncols)++;
    }
    return 0;
}
