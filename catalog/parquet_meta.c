/* parquet_meta.c - Parquet footer decoder (see parquet_meta.h). */
#include "parquet_meta.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "infer.h"

/* ---- Parquet footer (Apache Parquet "File Format"; Thrift compact
 * protocol) ---- */

struct tc {
    const unsigned char *p, *end;
    int err;
};

static uint64_t tc_varint(struct tc *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->p >= t->end) {
            t->err = 1;
            return 0;
        }
        unsigned char b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    t->err = 1;
    return 0;
}

static int64_t tc_zigzag(struct tc *t)
{
    uint64_t v = tc_varint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void tc_skip(struct tc *t, int type, int depth);

static void tc_skip_struct(struct tc *t, int depth)
{
    while (!t->err) {
        if (t->p >= t->end) {
            t->err = 1;
            return;
        }
        unsigned char h = *t->p++;
        if (!h)
            return;
        if (!(h >> 4))
            tc_zigzag(t);
        tc_skip(t, h & 0x0f, depth + 1);
    }
}

static void tc_skip(struct tc *t, int type, int depth)
{
    if (depth > 64) {
        t->err = 1;
        return;
    }
    switch (type) {
    case 1: case 2: /* bool in the header */
        return;
    case 3: /* byte */
        if (t->p >= t->end)
            t->err = 1;
        else
            t->p++;
        return;
    case 4: case 5: case 6: /* i16 i32 i64 */
        tc_varint(t);
        return;
    case 7: /* double */
        if (t->end - t->p < 8)
            t->err = 1;
        else
            t->p += 8;
        return;
    case 8: { /* binary */
        uint64_t n = tc_varint(t);
        if (n > (uint64_t)(t->end - t->p))
            t->err = 1;
        else
            t->p += n;
        return;
    }
    case 9: case 10: { /* list, set */
        if (t->p >= t->end) {
            t->err = 1;
            return;
        }
        unsigned char h = *t->p++;
        uint64_t n = h >> 4;
        if (n == 15)
            n = tc_varint(t);
        for (uint64_t i = 0; i < n && !t->err; i++) {
            if ((h & 0x0f) == 1 || (h & 0x0f) == 2) {
                if (t->p >= t->end)
                    t->err = 1;
                else
                    t->p++;
            } else {
                tc_skip(t, h & 0x0f, depth + 1);
            }
        }
        return;
    }
    case 11: { /* map */
        uint64_t n = tc_varint(t);
        if (!n)
            return;
        if (t->p >= t->end) {
            t->err = 1;
            return;
        }
        unsigned char kv = *t->p++;
        for (uint64_t i = 0; i < n && !t->err; i++) {
            tc_skip(t, kv >> 4, depth + 1);
            tc_skip(t, kv & 0x0f, depth + 1);
        }
        return;
    }
    case 12: /* struct */
        tc_skip_struct(t, depth);
        return;
    default:
        t->err = 1;
    }
}

/* Read the next field header of a struct; returns the type (0: stop). */
static int tc_field(struct tc *t, int *id)
{
    if (t->p >= t->end) {
        t->err = 1;
        return 0;
    }
    unsigned char h = *t->p++;
    if (!h)
        return 0;
    int delta = h >> 4;
    if (delta)
        *id += delta;
    else
        *id = (int)tc_zigzag(t);
    return h & 0x0f;
}

struct pq_elem {
    char name[256];
    int type;           /* physical type, -1 for a group */
    int repetition;     /* 0 required, 1 optional, 2 repeated */
    int num_children;
    int converted;      /* -1: none */
    int scale, precision;
    int logical;        /* LogicalType union member id, 0: none */
    int ts_unit_ok;
    int int_bits;       /* LogicalType INTEGER: bitWidth (8..64), 0: none */
    bool int_unsigned;  /* LogicalType INTEGER: isSigned false */
};

/* Parse one SchemaElement. */
static void pq_elem_parse(struct tc *t, struct pq_elem *e)
{
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->converted = -1;
    int id = 0, type;
    while (!t->err && (type = tc_field(t, &id)) != 0) {
        if (id == 1 && type == 5)
            e->type = (int)tc_zigzag(t);
        else if (id == 3 && type == 5)
            e->repetition = (int)tc_zigzag(t);
        else if (id == 4 && type == 8) {
            uint64_t n = tc_varint(t);
            if (n > (uint64_t)(t->end - t->p)) {
                t->err = 1;
                return;
            }
            snprintf(e->name, sizeof e->name, "%.*s", (int)(n < 255 ? n : 255),
                     (const char *)t->p);
            t->p += n;
        } else if (id == 5 && type == 5)
            e->num_children = (int)tc_zigzag(t);
        else if (id == 6 && type == 5)
            e->converted = (int)tc_zigzag(t);
        else if (id == 7 && type == 5)
            e->scale = (int)tc_zigzag(t);
        else if (id == 8 && type == 5)
            e->precision = (int)tc_zigzag(t);
        else if (id == 10 && type == 12) {
            /* LogicalType: a union; remember which member, and DECIMAL's
             * scale/precision. */
            int lid = 0, lt;
            while (!t->err && (lt = tc_field(t, &lid)) != 0) {
                e->logical = lid;
                if (lid == 5 && lt == 12) {
                    int did = 0, dt;
                    while (!t->err && (dt = tc_field(t, &did)) != 0) {
                        if (did == 1 && dt == 5)
                            e->scale = (int)tc_zigzag(t);
                        else if (did == 2 && dt == 5)
                            e->precision = (int)tc_zigzag(t);
                        else
                            tc_skip(t, dt, 1);
                    }
                } else if (lid == 10 && lt == 12) {
                    /* IntType { 1: i8 bitWidth; 2: bool isSigned } */
                    int iid = 0, it;
                    while (!t->err && (it = tc_field(t, &iid)) != 0) {
                        if (iid == 1 && it == 3 && t->p < t->end)
                            e->int_bits = *t->p++;
                        else if (iid == 2 && (it == 1 || it == 2))
                            e->int_unsigned = it == 2;
                        else
                            tc_skip(t, it, 1);
                    }
                } else {
                    tc_skip(t, lt, 1);
                }
            }
        } else
            tc_skip(t, type, 1);
    }
}

/* The Hive type of an integer of BITS bits, UNSIGNED or not: the
 * narrowest signed Hive type that holds every value (uint8 -> smallint,
 * uint16 -> int, uint32 -> bigint); uint64 has none wider than bigint and
 * is bigint (values past 2^63-1 wrap, as in Hive's own reader). */
static const char *pq_int_type(int bits, bool is_unsigned)
{
    if (bits <= 8)
        return is_unsigned ? "smallint" : "tinyint";
    if (bits <= 16)
        return is_unsigned ? "int" : "smallint";
    if (bits <= 32)
        return is_unsigned ? "bigint" : "int";
    return "bigint";
}

/* The Hive type of a leaf (parquet.thrift's ConvertedType and LogicalType
 * over the physical type; the converted type wins where both are set, as
 * writers set both to the same meaning). */
static int pq_leaf_type(const struct pq_elem *e, struct buf *out)
{
    int conv = e->converted, lg = e->logical;
    if (conv == 5 || lg == 5) /* DECIMAL */
        return buf_printf(out, "decimal(%d,%d)", e->precision ? e->precision : 38,
                          e->scale);
    /* Integer annotations: INT_8..INT_64 (15..18), UINT_8..UINT_64
     * (11..14), or LogicalType INTEGER (10) with its width and sign. */
    int bits = 0;
    bool uns = false;
    if (conv >= 11 && conv <= 18) {
        static const int w[] = {8, 16, 32, 64};
        bits = w[(conv - 11) % 4];
        uns = conv <= 14;
    } else if (lg == 10 && e->int_bits > 0) {
        bits = e->int_bits;
        uns = e->int_unsigned;
    }
    switch (e->type) {
    case 0:
        return buf_puts(out, "boolean");
    case 1:
        if (conv == 6 || lg == 6)
            return buf_puts(out, "date");
        if (bits)
            return buf_puts(out, pq_int_type(bits, uns));
        return buf_puts(out, "int"); /* also TIME_MILLIS: raw milliseconds */
    case 2:
        if (conv == 9 || conv == 10 || lg == 8)
            return buf_puts(out, "timestamp");
        if (bits)
            return buf_puts(out, pq_int_type(bits, uns));
        return buf_puts(out, "bigint"); /* also TIME_MICROS/NANOS: raw */
    case 3:
        return buf_puts(out, "timestamp"); /* INT96 */
    case 4:
        return buf_puts(out, "float");
    case 5:
        return buf_puts(out, "double");
    case 6:
        if (conv == 0 || conv == 4 || conv == 19 || lg == 1 || lg == 4 ||
            lg == 12)
            return buf_puts(out, "string"); /* UTF8, ENUM, JSON */
        return buf_puts(out, "binary");
    default:
        return buf_puts(out, "binary"); /* FIXED_LEN_BYTE_ARRAY, UUID */
    }
}

/* Write the Hive type of element *I (and its children) to OUT, moving *I
 * past them.  IN_LIST: the element is a list's repeated level, already
 * written as array<>. */
static int pq_type(const struct pq_elem *el, size_t n, size_t *i,
                   struct buf *out, int depth, bool in_list)
{
    if (*i >= n || depth > 32)
        return -EBADMSG;
    const struct pq_elem *e = &el[(*i)++];
    bool wrap = e->repetition == 2 && !in_list;
    int rc = wrap ? buf_puts(out, "array<") : 0;
    if (rc)
        return rc;
    bool is_list = e->converted == 3 || e->logical == 3;
    bool is_map = e->converted == 1 || e->converted == 2 || e->logical == 2;
    if (e->num_children <= 0) {
        rc = pq_leaf_type(e, out);
    } else if (is_list && e->num_children == 1 && *i < n) {
        /* group (LIST) { repeated group list { element } }, or the legacy
         * two-level form group (LIST) { repeated x element } */
        const struct pq_elem *mid = &el[*i];
        rc = buf_puts(out, "array<");
        if (!rc && mid->num_children == 1) {
            (*i)++;
            rc = pq_type(el, n, i, out, depth + 1, false);
        } else if (!rc) {
            rc = pq_type(el, n, i, out, depth + 1, true);
        }
        if (!rc)
            rc = buf_putc(out, '>');
    } else if (is_map && e->num_children == 1 && *i < n &&
               el[*i].num_children == 2) {
        (*i)++; /* repeated group key_value { key; value } */
        rc = buf_puts(out, "map<");
        if (!rc)
            rc = pq_type(el, n, i, out, depth + 1, true);
        if (!rc)
            rc = buf_putc(out, ',');
        if (!rc)
            rc = pq_type(el, n, i, out, depth + 1, true);
        if (!rc)
            rc = buf_putc(out, '>');
    } else {
        rc = buf_puts(out, "struct<");
        for (int c = 0; c < e->num_children && !rc; c++) {
            if (*i >= n)
                return -EBADMSG;
            char lname[256];
            snprintf(lname, sizeof lname, "%s", el[*i].name);
            for (char *p = lname; *p; p++) {
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
                if (*p == ':' || *p == ',' || *p == '<' || *p == '>' ||
                    *p == ' ' || *p == '`')
                    *p = '_';
            }
            rc = buf_printf(out, "%s%s:", c ? "," : "", lname);
            if (!rc)
                rc = pq_type(el, n, i, out, depth + 1, false);
        }
        if (!rc)
            rc = buf_putc(out, '>');
    }
    if (!rc && wrap)
        rc = buf_putc(out, '>');
    return rc;
}

void parquet_meta_release(struct parquet_meta *m)
{
    columns_free(m->cols, m->ncols);
    m->cols = NULL;
    m->ncols = 0;
    m->rows = -1;
}

/* Parse FileMetaData (field 2: schema, 3: num_rows) into M. */
int parquet_meta_parse(const unsigned char *p, size_t len,
                       struct parquet_meta *m, const char **reason)
{
    struct tc t = {p, p + len, 0};
    struct pq_elem *el = NULL;
    size_t nel = 0;
    int64_t rows = -1;
    int id = 0, type, rc = 0;
    m->cols = NULL;
    m->ncols = 0;
    m->rows = -1;
    *reason = NULL;
    while (!t.err && (type = tc_field(&t, &id)) != 0) {
        if (id == 2 && type == 9 && !el) {
            if (t.p >= t.end) {
                t.err = 1;
                break;
            }
            unsigned char h = *t.p++;
            uint64_t cnt = h >> 4;
            if (cnt == 15)
                cnt = tc_varint(&t);
            if ((h & 0x0f) != 12 || cnt > 100000 || cnt > len) {
                t.err = 1;
                break;
            }
            el = calloc(cnt ? cnt : 1, sizeof *el);
            if (!el)
                return -ENOMEM;
            for (nel = 0; nel < cnt && !t.err; nel++)
                pq_elem_parse(&t, &el[nel]);
        } else if (id == 3 && type == 6) {
            rows = tc_zigzag(&t);
        } else {
            tc_skip(&t, type, 1);
        }
    }
    if (t.err || !el || nel < 1) {
        free(el);
        *reason = "parquet: damaged footer";
        return -EBADMSG;
    }
    struct buf ty;
    buf_init(&ty, 1 << 20);
    size_t i = 1;
    for (int c = 0; c < el[0].num_children && !rc; c++) {
        if (i >= nel) {
            rc = -EBADMSG;
            break;
        }
        char lname[256];
        snprintf(lname, sizeof lname, "%s", el[i].name);
        for (char *q = lname; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        buf_reset(&ty);
        rc = pq_type(el, nel, &i, &ty, 0, false);
        if (rc == -E2BIG) {
            buf_reset(&ty);
            rc = buf_puts(&ty, "string");
        }
        if (rc)
            break;
        struct column *nc = realloc(m->cols, (m->ncols + 1) * sizeof *nc);
        if (!nc) {
            rc = -ENOMEM;
            break;
        }
        m->cols = nc;
        nc[m->ncols].name = strdup(lname);
        nc[m->ncols].type = strdup(ty.data ? ty.data : "string");
        m->ncols++;
        if (!nc[m->ncols - 1].name || !nc[m->ncols - 1].type)
            rc = -ENOMEM;
    }
    buf_release(&ty);
    free(el);
    if (rc) {
        parquet_meta_release(m);
        if (rc == -EBADMSG)
            *reason = "parquet: damaged schema";
        return rc;
    }
    m->rows = rows;
    return 0;
}
