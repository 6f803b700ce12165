/* writer.c - a job's part objects; see writer.h */
#include "writer.h"

#include <bzlib.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "buf.h"
#include "csv.h"
#include "gluefs.h"
#include "log.h"
#include "stats.h"
#include "store.h"

#define LINE_MAX_BYTES (64u << 20) /* one serialised row */
#define CHUNK (64u << 10)          /* compressor output step */

enum seen { SEEN_INT = 1, SEEN_REAL = 2, SEEN_TEXT = 4 };

struct wcol {
    char *name;      /* unique among the result columns */
    int idx;         /* result column index */
    const char *decl_hive; /* from the declared type, or NULL */
    bool boolean;
    unsigned seen;
};

/* One part object being written. */
struct part {
    char *key;
    char *upload_id;
    struct store_part *parts;
    int nparts;
    struct buf out;    /* compressed bytes not yet uploaded */
    uint64_t size;     /* compressed bytes produced so far */
    uint64_t rows;
    z_stream z;
    bz_stream bz;
    ZSTD_CCtx *zs;
    bool comp_open;
};

struct partition_rec {
    char *path;
    char **values;
};

struct writer {
    struct writer_opts o;
    struct wcol *cols;
    size_t ncols;
    struct wcol *pcols;
    size_t npcols;
    struct part *cur;
    char *cur_path;       /* partition folder of CUR ("" if none) */
    unsigned next_n;
    struct buf line;
    struct buf path;
    char **written;       /* keys of completed objects */
    size_t nwritten, awritten;
    struct partition_rec *parts;
    size_t nparts, aparts;
    char err[1300];
    char *success_key;
};

static void wlog(struct writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wlog(struct writer *w, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (w->o.log)
        w->o.log(w->o.log_ctx, line);
}

static int werr(struct writer *w, int rc, const char *key, const char *what)
{
    snprintf(w->err, sizeof w->err, "cannot write 's3://%.255s/%.700s': "
             "%.200s", w->o.bucket, key, what ? what : strerror(-rc));
    return rc;
}

const char *writer_error(const struct writer *w)
{
    return w->err;
}

static void add(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* Bytes of an object now in the store: the run's and the mount's. */
static void add_written(struct writer *w, uint64_t n)
{
    add(&w->o.counters->bytes_written, n);
    stats_add(STAT_job_bytes_written, n);
}

/* ---- columns ---------------------------------------------------------- */

static int setup_columns(struct writer *w, sqlite3_stmt *st,
                         char *const *pby, size_t npby, char *err,
                         size_t errlen)
{
    int n = sqlite3_column_count(st);
    w->cols = calloc((size_t)n + 1, sizeof *w->cols);
    w->pcols = calloc(npby + 1, sizeof *w->pcols);
    if (!w->cols || !w->pcols)
        return -ENOMEM;
    bool *is_p = calloc((size_t)n + 1, sizeof *is_p);
    if (!is_p)
        return -ENOMEM;
    int rc = 0;
    for (size_t k = 0; k < npby && !rc; k++) {
        int found = -1;
        for (int i = 0; i < n && found < 0; i++) {
            const char *nm = sqlite3_column_name(st, i);
            if (nm && !strcasecmp(nm, pby[k]))
                found = i;
        }
        if (found < 0) {
            struct buf names;
            buf_init(&names, 1024);
            for (int i = 0; i < n; i++) {
                const char *nm = sqlite3_column_name(st, i);
                if (buf_printf(&names, "%s%s", i ? ", " : "", nm ? nm : "?"))
                    break;
            }
            snprintf(err, errlen, "partition_by column '%s' is not a column "
                     "of the result (%s)", pby[k],
                     names.data ? names.data : "");
            buf_release(&names);
            rc = -EINVAL;
            break;
        }
        is_p[found] = true;
        struct wcol *c = &w->pcols[w->npcols++];
        c->idx = found;
        c->name = strdup(sqlite3_column_name(st, found));
        if (!c->name)
            rc = -ENOMEM;
    }
    for (int i = 0; i < n && !rc; i++) {
        if (is_p[i])
            continue;
        const char *nm = sqlite3_column_name(st, i);
        char name[300];
        snprintf(name, sizeof name, "%s", nm && *nm ? nm : "col");
        /* Unique names: a JSON object or CSV header cannot repeat one. */
        for (int k = 2;; k++) {
            bool clash = false;
            for (size_t j = 0; j < w->ncols && !clash; j++)
                clash = !strcasecmp(w->cols[j].name, name);
            for (size_t j = 0; j < w->npcols && !clash; j++)
                clash = !strcasecmp(w->pcols[j].name, name);
            if (!clash)
                break;
            snprintf(name, sizeof name, "%.250s_%d", nm && *nm ? nm : "col",
                     k);
        }
        struct wcol *c = &w->cols[w->ncols++];
        c->idx = i;
        c->name = strdup(name);
        if (!c->name)
            rc = -ENOMEM;
    }
    free(is_p);
    if (!rc && w->ncols == 0) {
        snprintf(err, errlen, "every result column is a partition_by column: "
                 "the rows would be empty");
        rc = -EINVAL;
    }
    for (size_t i = 0; !rc && i < w->ncols + w->npcols; i++) {
        struct wcol *c = i < w->ncols ? &w->cols[i] : &w->pcols[i - w->ncols];
        const char *decl = sqlite3_column_decltype(st, c->idx);
        c->decl_hive = srctab_hive_type(decl);
        c->boolean = c->decl_hive && !strcmp(c->decl_hive, "boolean");
    }
    return rc;
}

static const char *col_type(const struct wcol *c)
{
    if (c->decl_hive) {
        /* The declared type holds if every value agreed with it. */
        unsigned allowed = SEEN_TEXT;
        if (!strcmp(c->decl_hive, "bigint") || c->boolean)
            allowed = SEEN_INT;
        else if (!strcmp(c->decl_hive, "double"))
            allowed = SEEN_INT | SEEN_REAL;
        if (!(c->seen & ~allowed))
            return c->decl_hive;
    }
    if (c->seen & SEEN_TEXT || !c->seen)
        return "string";
    if (c->seen & SEEN_REAL)
        return "double";
    return "bigint";
}

size_t writer_ncols(const struct writer *w) { return w->ncols; }
const char *writer_col_name(const struct writer *w, size_t i)
{
    return w->cols[i].name;
}
const char *writer_col_type(const struct writer *w, size_t i)
{
    return col_type(&w->cols[i]);
}
size_t writer_npkeys(const struct writer *w) { return w->npcols; }
const char *writer_pkey_name(const struct writer *w, size_t i)
{
    return w->pcols[i].name;
}
const char *writer_pkey_type(const struct writer *w, size_t i)
{
    return col_type(&w->pcols[i]);
}
size_t writer_npartitions(const struct writer *w) { return w->nparts; }
const char *const *writer_partition_values(const struct writer *w, size_t i)
{
    return (const char *const *)w->parts[i].values;
}
const char *writer_partition_path(const struct writer *w, size_t i)
{
    return w->parts[i].path;
}

/* ---- values ----------------------------------------------------------- */

/* Shortest text that reads back as the same double, always with a '.'
 * or an exponent so it reads back as a real. */
static int put_real(struct buf *b, double d)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    if (!strpbrk(tmp, ".eEn"))
        return buf_printf(b, "%s.0", tmp);
    return buf_puts(b, tmp);
}

static void note_type(struct wcol *c, int t)
{
    c->seen |= t == SQLITE_INTEGER ? SEEN_INT
             : t == SQLITE_FLOAT   ? SEEN_REAL
             : t == SQLITE_NULL    ? 0
                                   : SEEN_TEXT;
}

static int json_value(struct buf *b, sqlite3_stmt *st, struct wcol *c)
{
    int t = sqlite3_column_type(st, c->idx);
    note_type(c, t);
    switch (t) {
    case SQLITE_INTEGER: {
        sqlite3_int64 v = sqlite3_column_int64(st, c->idx);
        if (c->boolean && (v == 0 || v == 1))
            return buf_puts(b, v ? "true" : "false");
        return buf_printf(b, "%lld", (long long)v);
    }
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, c->idx);
        if (!isfinite(d))
            return buf_puts(b, "null");
        return put_real(b, d);
    }
    case SQLITE_NULL:
        return buf_puts(b, "null");
    case SQLITE_BLOB: {
        /* As hex text: JSON has no bytes. */
        const unsigned char *p = sqlite3_column_blob(st, c->idx);
        int n = sqlite3_column_bytes(st, c->idx);
        int rc = buf_putc(b, '"');
        for (int i = 0; !rc && i < n; i++)
            rc = buf_printf(b, "%02x", p[i]);
        return rc ? rc : buf_putc(b, '"');
    }
    default: {
        const char *s = (const char *)sqlite3_column_text(st, c->idx);
        int n = sqlite3_column_bytes(st, c->idx);
        int rc = buf_putc(b, '"');
        if (!rc && s)
            rc = buf_put_json_str(b, s, (size_t)n);
        return rc ? rc : buf_putc(b, '"');
    }
    }
}

static int csv_value(struct buf *b, sqlite3_stmt *st, struct wcol *c)
{
    int t = sqlite3_column_type(st, c->idx);
    note_type(c, t);
    switch (t) {
    case SQLITE_INTEGER: {
        sqlite3_int64 v = sqlite3_column_int64(st, c->idx);
        if (c->boolean && (v == 0 || v == 1))
            return buf_puts(b, v ? "true" : "false");
        return buf_printf(b, "%lld", (long long)v);
    }
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, c->idx);
        return isfinite(d) ? put_real(b, d) : 0;
    }
    case SQLITE_NULL:
        return 0;
    default: {
        const char *s = (const char *)sqlite3_column_text(st, c->idx);
        int n = sqlite3_column_bytes(st, c->idx);
        if (!s || n == 0)
            return buf_puts(b, "\"\"");
        return csv_write_field(b, s, (size_t)n, ',');
    }
    }
}

/* A partition value as text (NULL: none). */
static const char *pvalue(sqlite3_stmt *st, struct wcol *c, char *tmp,
                          size_t n)
{
    int t = sqlite3_column_type(st, c->idx);
    note_type(c, t);
    if (t == SQLITE_NULL)
        return NULL;
    if (t == SQLITE_INTEGER && c->boolean) {
        sqlite3_int64 v = sqlite3_column_int64(st, c->idx);
        if (v == 0 || v == 1)
            return v ? "true" : "false";
    }
    if (t == SQLITE_FLOAT) {
        struct buf b;
        buf_init(&b, n - 1);
        if (put_real(&b, sqlite3_column_double(st, c->idx)) || !b.data) {
            buf_release(&b);
            return NULL;
        }
        snprintf(tmp, n, "%s", b.data);
        buf_release(&b);
        return tmp;
    }
    const char *s = (const char *)sqlite3_column_text(st, c->idx);
    return s && *s ? s : NULL;
}

/* Hive's FileUtils.escapePathName. */
static int put_escaped(struct buf *b, const char *s)
{
    static const char special[] = "\"#%'*/:=?\\\x7f{[]^";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        if (*p < 0x20 || strchr(special, *p))
            rc = buf_printf(b, "%%%02X", *p);
        else
            rc = buf_putc(b, (char)*p);
    }
    return rc;
}

/* ---- part objects ----------------------------------------------------- */

static const char *ext_of(const struct writer *w)
{
    switch (w->o.comp) {
    case COMP_GZIP: return ".gz";
    case COMP_BZIP2: return ".bz2";
    case COMP_ZSTD: return ".zst";
    default: return "";
    }
}

static int remember_key(struct writer *w, const char *key)
{
    if (w->nwritten == w->awritten) {
        size_t na = w->awritten ? w->awritten * 2 : 16;
        char **nk = realloc(w->written, na * sizeof *nk);
        if (!nk)
            return -ENOMEM;
        w->written = nk;
        w->awritten = na;
    }
    w->written[w->nwritten] = strdup(key);
    if (!w->written[w->nwritten])
        return -ENOMEM;
    w->nwritten++;
    return 0;
}

/* Upload what P->out holds as the next multipart part. */
static int upload_chunk(struct writer *w, struct part *p)
{
    struct store *s = w->o.store;
    int rc;
    if (!p->upload_id) {
        rc = s->ops->mpu_create(s, w->o.bucket, p->key, NULL, &p->upload_id);
        if (rc)
            return werr(w, rc, p->key, NULL);
    }
    if (p->nparts >= STORE_PARTS_MAX)
        return werr(w, -EFBIG, p->key, "too many upload parts");
    struct store_part *np = realloc(p->parts, (size_t)(p->nparts + 1) *
                                                  sizeof *np);
    if (!np)
        return werr(w, -ENOMEM, p->key, NULL);
    p->parts = np;
    memset(&np[p->nparts], 0, sizeof np[p->nparts]);
    rc = s->ops->mpu_part(s, w->o.bucket, p->key, p->upload_id,
                          p->nparts + 1, p->out.data, p->out.len,
                          &np[p->nparts]);
    if (rc)
        return werr(w, rc, p->key, NULL);
    np[p->nparts].number = p->nparts + 1;
    p->nparts++;
    add_written(w, p->out.len);
    buf_reset(&p->out);
    return 0;
}

/* Compressed (or plain) bytes for the object. */
static int emit(struct writer *w, struct part *p, const void *data, size_t n)
{
    int rc = buf_append(&p->out, data, n);
    if (rc)
        return werr(w, rc, p->key, NULL);
    p->size += n;
    if (p->out.len >= WRITER_UPLOAD_PART)
        return upload_chunk(w, p);
    return 0;
}

static int comp_init(struct writer *w, struct part *p)
{
    switch (w->o.comp) {
    case COMP_GZIP:
        memset(&p->z, 0, sizeof p->z);
        if (deflateInit2(&p->z, 6, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        break;
    case COMP_BZIP2:
        memset(&p->bz, 0, sizeof p->bz);
        if (BZ2_bzCompressInit(&p->bz, 9, 0, 0) != BZ_OK)
            return -ENOMEM;
        break;
    case COMP_ZSTD:
        p->zs = ZSTD_createCCtx();
        if (!p->zs)
            return -ENOMEM;
        ZSTD_CCtx_setParameter(p->zs, ZSTD_c_compressionLevel, 3);
        break;
    default:
        return 0;
    }
    p->comp_open = true;
    return 0;
}

static void comp_end(struct writer *w, struct part *p)
{
    if (!p->comp_open)
        return;
    switch (w->o.comp) {
    case COMP_GZIP: deflateEnd(&p->z); break;
    case COMP_BZIP2: BZ2_bzCompressEnd(&p->bz); break;
    case COMP_ZSTD: ZSTD_freeCCtx(p->zs); p->zs = NULL; break;
    default: break;
    }
    p->comp_open = false;
}

/* Feed N bytes (FINISH: and end the stream) through the compressor. */
static int comp_feed(struct writer *w, struct part *p, const char *data,
                     size_t n, bool finish)
{
    if (w->o.comp == COMP_NONE)
        return n ? emit(w, p, data, n) : 0;
    unsigned char *tmp = malloc(CHUNK);
    if (!tmp)
        return werr(w, -ENOMEM, p->key, NULL);
    int rc = 0;
    if (w->o.comp == COMP_GZIP) {
        p->z.next_in = (Bytef *)(uintptr_t)data;
        p->z.avail_in = (uInt)n;
        for (;;) {
            p->z.next_out = tmp;
            p->z.avail_out = CHUNK;
            int zr = deflate(&p->z, finish ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR) {
                rc = werr(w, -EIO, p->key, "gzip error");
                break;
            }
            size_t got = CHUNK - p->z.avail_out;
            if (got && (rc = emit(w, p, tmp, got)))
                break;
            if (finish ? zr == Z_STREAM_END
                       : (p->z.avail_in == 0 && p->z.avail_out != 0))
                break;
        }
    } else if (w->o.comp == COMP_BZIP2) {
        p->bz.next_in = (char *)(uintptr_t)data;
        p->bz.avail_in = (unsigned)n;
        for (;;) {
            p->bz.next_out = (char *)tmp;
            p->bz.avail_out = CHUNK;
            int br = BZ2_bzCompress(&p->bz, finish ? BZ_FINISH : BZ_RUN);
            if (br < 0) {
                rc = werr(w, -EIO, p->key, "bzip2 error");
                break;
            }
            size_t got = CHUNK - p->bz.avail_out;
            if (got && (rc = emit(w, p, tmp, got)))
                break;
            if (finish ? br == BZ_STREAM_END : p->bz.avail_in == 0)
                break;
        }
    } else {
        ZSTD_inBuffer in = {data, n, 0};
        for (;;) {
            ZSTD_outBuffer out = {tmp, CHUNK, 0};
            size_t left = ZSTD_compressStream2(
                p->zs, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left)) {
                rc = werr(w, -EIO, p->key, ZSTD_getErrorName(left));
                break;
            }
            if (out.pos && (rc = emit(w, p, tmp, out.pos)))
                break;
            if (finish ? left == 0 : in.pos == in.size)
                break;
        }
    }
    free(tmp);
    return rc;
}

static void part_free(struct writer *w, struct part *p)
{
    if (!p)
        return;
    comp_end(w, p);
    free(p->key);
    free(p->upload_id);
    free(p->parts);
    buf_release(&p->out);
    free(p);
}

static int open_part(struct writer *w, const char *ppath)
{
    struct part *p = calloc(1, sizeof *p);
    if (!p)
        return werr(w, -ENOMEM, "", NULL);
    buf_init(&p->out, WRITER_UPLOAD_PART + 2 * CHUNK);
    char key[2048];
    int n = snprintf(key, sizeof key, "%s%spart-%u-%05u.%s%s", w->o.prefix,
                     ppath, w->o.run, w->next_n, spec_format_name(w->o.format),
                     ext_of(w));
    if (n < 0 || (size_t)n >= sizeof key || n > 1024) {
        free(p);
        return werr(w, -ENAMETOOLONG, ppath, "key too long");
    }
    w->next_n++;
    p->key = strdup(key);
    int rc = p->key ? comp_init(w, p) : -ENOMEM;
    if (rc) {
        part_free(w, p);
        return werr(w, rc, key, NULL);
    }
    w->cur = p;
    free(w->cur_path);
    w->cur_path = strdup(ppath);
    if (!w->cur_path)
        return werr(w, -ENOMEM, key, NULL);
    if (w->o.format == SPEC_FORMAT_CSV) {
        /* The header line. */
        struct buf *b = &w->line;
        buf_reset(b);
        for (size_t i = 0; !rc && i < w->ncols; i++) {
            if (i)
                rc = buf_putc(b, ',');
            if (!rc)
                rc = csv_write_field(b, w->cols[i].name,
                                     strlen(w->cols[i].name), ',');
        }
        if (!rc)
            rc = buf_putc(b, '\n');
        if (rc)
            return werr(w, rc, key, NULL);
        rc = comp_feed(w, p, b->data, b->len, false);
    }
    return rc;
}

static int close_part(struct writer *w)
{
    struct part *p = w->cur;
    if (!p)
        return 0;
    struct store *s = w->o.store;
    int rc = comp_feed(w, p, NULL, 0, true);
    if (!rc && !p->upload_id) {
        rc = s->ops->put(s, w->o.bucket, p->key, p->out.data ? p->out.data
                                                             : "",
                         p->out.len, NULL);
        if (rc)
            werr(w, rc, p->key, NULL);
        else
            add_written(w, p->out.len);
    } else if (!rc) {
        if (p->out.len)
            rc = upload_chunk(w, p);
        if (!rc) {
            rc = s->ops->mpu_complete(s, w->o.bucket, p->key, p->upload_id,
                                      p->parts, p->nparts);
            if (rc)
                werr(w, rc, p->key, NULL);
        }
    }
    if (rc)
        return rc; /* writer_abort aborts the upload */
    free(p->upload_id);
    p->upload_id = NULL;
    rc = remember_key(w, p->key);
    if (rc)
        return werr(w, rc, p->key, NULL);
    add(&w->o.counters->objects_written, 1);
    gluefs_object_changed(w->o.bucket, p->key);
    wlog(w, "wrote 's3://%s/%s': %llu bytes, %llu rows", w->o.bucket, p->key,
         (unsigned long long)p->size, (unsigned long long)p->rows);
    part_free(w, p);
    w->cur = NULL;
    return 0;
}

int writer_finish(struct writer *w)
{
    return close_part(w);
}

static int note_partition(struct writer *w, sqlite3_stmt *st)
{
    for (size_t i = 0; i < w->nparts; i++)
        if (!strcmp(w->parts[i].path, w->path.data))
            return 0;
    if (w->nparts >= WRITER_MAX_PARTITIONS)
        return werr(w, -E2BIG, w->path.data, "too many partitions");
    if (w->nparts == w->aparts) {
        size_t na = w->aparts ? w->aparts * 2 : 16;
        struct partition_rec *np = realloc(w->parts, na * sizeof *np);
        if (!np)
            return -ENOMEM;
        w->parts = np;
        w->aparts = na;
    }
    struct partition_rec *r = &w->parts[w->nparts];
    r->path = strdup(w->path.data);
    r->values = calloc(w->npcols + 1, sizeof *r->values);
    if (!r->path || !r->values) {
        free(r->path);
        free(r->values);
        return -ENOMEM;
    }
    w->nparts++;
    for (size_t k = 0; k < w->npcols; k++) {
        char tmp[64];
        const char *v = pvalue(st, &w->pcols[k], tmp, sizeof tmp);
        r->values[k] = strdup(v ? v : "__HIVE_DEFAULT_PARTITION__");
        if (!r->values[k])
            return -ENOMEM;
    }
    return 0;
}

int writer_row(struct writer *w, sqlite3_stmt *st)
{
    int rc = 0;
    /* The partition folder of this row. */
    buf_reset(&w->path);
    for (size_t k = 0; !rc && k < w->npcols; k++) {
        char tmp[64];
        const char *v = pvalue(st, &w->pcols[k], tmp, sizeof tmp);
        rc = put_escaped(&w->path, w->pcols[k].name);
        if (!rc)
            rc = buf_putc(&w->path, '=');
        if (!rc)
            rc = v ? put_escaped(&w->path, v)
                   : buf_puts(&w->path, "__HIVE_DEFAULT_PARTITION__");
        if (!rc)
            rc = buf_putc(&w->path, '/');
    }
    if (!rc && !w->path.data)
        rc = buf_puts(&w->path, "");
    if (rc)
        return werr(w, rc, "", "partition value too long");
    const char *ppath = w->path.data;
    if (w->cur && (strcmp(w->cur_path, ppath) ||
                   w->cur->size >= (w->o.object_max ? w->o.object_max
                                                    : WRITER_OBJECT_MAX))) {
        rc = close_part(w);
        if (rc)
            return rc;
    }
    if (!w->cur) {
        if (w->npcols && (rc = note_partition(w, st)))
            return rc < 0 && !w->err[0] ? werr(w, rc, ppath, NULL) : rc;
        rc = open_part(w, ppath);
        if (rc)
            return rc;
    }
    /* The row. */
    struct buf *b = &w->line;
    buf_reset(b);
    if (w->o.format == SPEC_FORMAT_JSON) {
        rc = buf_putc(b, '{');
        for (size_t i = 0; !rc && i < w->ncols; i++) {
            rc = buf_puts(b, i ? ",\"" : "\"");
            if (!rc)
                rc = buf_put_json_str(b, w->cols[i].name,
                                      strlen(w->cols[i].name));
            if (!rc)
                rc = buf_puts(b, "\":");
            if (!rc)
                rc = json_value(b, st, &w->cols[i]);
        }
        if (!rc)
            rc = buf_puts(b, "}\n");
    } else {
        for (size_t i = 0; !rc && i < w->ncols; i++) {
            if (i)
                rc = buf_putc(b, ',');
            if (!rc)
                rc = csv_value(b, st, &w->cols[i]);
        }
        if (!rc)
            rc = buf_putc(b, '\n');
    }
    if (rc)
        return werr(w, rc, w->cur->key,
                    rc == -E2BIG ? "a row is over 64 MiB" : NULL);
    rc = comp_feed(w, w->cur, b->data, b->len, false);
    if (rc)
        return rc;
    w->cur->rows++;
    add(&w->o.counters->rows_written, 1);
    return 0;
}

int writer_put_success(struct writer *w)
{
    struct store *s = w->o.store;
    int rc = s->ops->put(s, w->o.bucket, w->success_key, "", 0, NULL);
    if (rc)
        return werr(w, rc, w->success_key, NULL);
    gluefs_object_changed(w->o.bucket, w->success_key);
    return 0;
}

int writer_wrote(const struct writer *w, const char *key)
{
    if (!strcmp(key, w->success_key))
        return 1;
    for (size_t i = 0; i < w->nwritten; i++)
        if (!strcmp(w->written[i], key))
            return 1;
    return 0;
}

void writer_abort(struct writer *w)
{
    struct store *s = w->o.store;
    if (w->cur) {
        if (w->cur->upload_id)
            s->ops->mpu_abort(s, w->o.bucket, w->cur->key,
                              w->cur->upload_id);
        part_free(w, w->cur);
        w->cur = NULL;
    }
    for (size_t i = 0; i < w->nwritten; i++) {
        int rc = s->ops->del(s, w->o.bucket, w->written[i]);
        if (rc)
            wlog(w, "cannot delete 's3://%s/%s': %s", w->o.bucket,
                 w->written[i], strerror(-rc));
        else
            gluefs_object_changed(w->o.bucket, w->written[i]);
        free(w->written[i]);
    }
    if (w->nwritten)
        wlog(w, "deleted the %zu objects this run wrote", w->nwritten);
    w->nwritten = 0;
}

int writer_new(const struct writer_opts *o, sqlite3_stmt *st,
               char *const *pby, size_t npby, struct writer **out, char *err,
               size_t errlen)
{
    *out = NULL;
    struct writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->o = *o;
    w->next_n = o->first_n;
    buf_init(&w->line, LINE_MAX_BYTES);
    buf_init(&w->path, 8192);
    size_t n = strlen(o->prefix) + 10;
    w->success_key = malloc(n);
    int rc = w->success_key ? 0 : -ENOMEM;
    if (!rc) {
        snprintf(w->success_key, n, "%s_SUCCESS", o->prefix);
        rc = setup_columns(w, st, pby, npby, err, errlen);
    }
    if (rc) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    if (w->cur) {
        struct store *s = w->o.store;
        if (w->cur->upload_id)
            s->ops->mpu_abort(s, w->o.bucket, w->cur->key,
                              w->cur->upload_id);
        part_free(w, w->cur);
    }
    for (size_t i = 0; w->cols && i < w->ncols; i++)
        free(w->cols[i].name);
    for (size_t i = 0; w->pcols && i < w->npcols; i++)
        free(w->pcols[i].name);
    free(w->cols);
    free(w->pcols);
    free(w->cur_path);
    buf_release(&w->line);
    buf_release(&w->path);
    for (size_t i = 0; i < w->nwritten; i++)
        free(w->written[i]);
    free(w->written);
    for (size_t i = 0; i < w->nparts; i++) {
        free(w->parts[i].path);
        for (size_t k = 0; k < w->npcols && w->parts[i].values; k++)
            free(w->parts[i].values[k]);
        free(w->parts[i].values);
    }
    free(w->parts);
    free(w->success_key);
    free(w);
}
