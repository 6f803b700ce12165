/* render.c - the files under catalog/DB/TABLE/; see catalog.h
 *
 * table.json follows what Glue's crawler writes for a table (GetTable
 * output reduced to the TableInput members of botocore's CreateTable
 * shape); ddl.sql follows Athena's SHOW CREATE TABLE layout. */
#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SERDE_LAZY "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
#define SERDE_OPENCSV "org.apache.hadoop.hive.serde2.OpenCSVSerde"
#define SERDE_JSON "org.openx.data.jsonserde.JsonSerDe"
#define SERDE_PARQUET                                                         \
    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define IN_TEXT "org.apache.hadoop.mapred.TextInputFormat"
#define OUT_TEXT "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
#define IN_PARQUET "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define OUT_PARQUET                                                           \
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

/* A string-to-string parameter. */
struct kv {
    const char *k;
    char v[512];
};

#define KV_MAX 24

struct kvs {
    struct kv a[KV_MAX];
    size_t n;
};

static void kv_add(struct kvs *p, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void kv_add(struct kvs *p, const char *k, const char *fmt, ...)
{
    if (p->n >= KV_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    p->a[p->n].k = k;
    vsnprintf(p->a[p->n].v, sizeof p->a[p->n].v, fmt, ap);
    va_end(ap);
    p->n++;
}

/* What a table's format means for Hive: SerDe, formats, parameters. */
struct hive_fmt {
    const char *serde, *infmt, *outfmt;
    struct kvs serde_params;
    struct kvs tbl_params;
    bool compressed;
};

static bool is_csv(const struct table_def *t)
{
    return !strcmp(t->fmt.classification, "csv") ||
           !strcmp(t->fmt.classification, "tsv");
}

/* Some top-level column is a timestamp. */
static bool has_timestamp(const struct table_def *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].type, "timestamp"))
            return true;
    return false;
}

static void hive_fmt_of(const struct table_def *t, struct hive_fmt *h)
{
    memset(h, 0, sizeof *h);
    const char *cls = t->fmt.classification[0] ? t->fmt.classification
                                                : "UNKNOWN";
    const char *comp = t->fmt.compression[0] ? t->fmt.compression : "none";
    char delim = t->fmt.delimiter ? t->fmt.delimiter : ',';
    h->infmt = IN_TEXT;
    h->outfmt = OUT_TEXT;
    h->compressed = strcmp(comp, "none") != 0;
    if (is_csv(t)) {
        if (t->fmt.quoted) {
            h->serde = SERDE_OPENCSV;
            kv_add(&h->serde_params, "quoteChar", "\"");
            kv_add(&h->serde_params, "separatorChar", "%c", delim);
        } else {
            h->serde = SERDE_LAZY;
            kv_add(&h->serde_params, "field.delim", "%c", delim);
            /* Timestamps Hive's default (yyyy-MM-dd HH:mm:ss[.f]) does not
             * read: their Joda patterns.  OpenCSVSerde has no such
             * parameter (Athena reads its TIMESTAMPs as UNIX millis
             * only): docs/crawler.md. */
            char pats[sizeof h->serde_params.a[0].v];
            if (has_timestamp(t) &&
                catalog_timestamp_formats(t->fmt.ts_forms, pats, sizeof pats))
                kv_add(&h->serde_params, "timestamp.formats", "%s", pats);
        }
    } else if (!strcmp(cls, "json")) {
        h->serde = SERDE_JSON;
        /* Glue lists the top-level keys as "paths". */
        char paths[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < t->ncols && used < sizeof paths; i++) {
            int w = snprintf(paths + used, sizeof paths - used, "%s%s",
                             i ? "," : "", t->cols[i].name);
            if (w < 0 || (size_t)w >= sizeof paths - used) {
                paths[used] = '\0';
                break;
            }
            used += (size_t)w;
        }
        kv_add(&h->serde_params, "paths", "%s", paths);
    } else if (!strcmp(cls, "parquet")) {
        h->serde = SERDE_PARQUET;
        h->infmt = IN_PARQUET;
        h->outfmt = OUT_PARQUET;
        h->compressed = false;
        kv_add(&h->serde_params, "serialization.format", "1");
    } else {
        h->serde = SERDE_LAZY;
    }

    struct kvs *p = &h->tbl_params;
    kv_add(p, "classification", "%s", cls);
    kv_add(p, "compressionType", "%s", comp);
    kv_add(p, "typeOfData", "file");
    kv_add(p, "recordCount", "%" PRIu64, t->record_count);
    kv_add(p, "averageRecordSize", "%.0f", t->avg_record_size);
    kv_add(p, "objectCount", "%" PRIu64, t->objects);
    kv_add(p, "sizeKey", "%" PRIu64, t->bytes);
    if (is_csv(t)) {
        kv_add(p, "delimiter", "%c", delim);
        kv_add(p, "areColumnsQuoted", "%s", t->fmt.quoted ? "true" : "false");
        if (t->fmt.header)
            kv_add(p, "skip.header.line.count", "1");
        kv_add(p, "columnsOrdered", "true");
    }
    if (t->crawler) {
        kv_add(p, "UPDATED_BY_CRAWLER", "%s", t->crawler);
        kv_add(p, "CrawlerSchemaDeserializerVersion", "1.0");
        kv_add(p, "CrawlerSchemaSerializerVersion", "1.0");
    }
    /* Glue's DeleteBehavior DEPRECATE_IN_DATABASE: the time the crawler
     * found the folder gone, in epoch milliseconds (what Glue writes). */
    if (t->deprecated)
        kv_add(p, "DEPRECATED_BY_CRAWLER", "%" PRId64,
               (t->updated > 0 ? t->updated : 0) * 1000);
}

/* "S" as a JSON string, quotes included. */
static int json_str(struct buf *out, const char *s)
{
    int rc = buf_putc(out, '"');
    if (!rc)
        rc = buf_put_json_str(out, s ? s : "", s ? strlen(s) : 0);
    if (!rc)
        rc = buf_putc(out, '"');
    return rc;
}

/* Glue's model (botocore glue service-2.json): NameString (table,
 * column, SerDe names, parameter keys) at most 255 characters matching
 * [\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]*, column types
 * (ColumnTypeString) at most 131072, Location 2056.  Names are kept to
 * 255 bytes, as Athena counts them. */
#define GLUE_NAME_MAX 255
#define GLUE_TYPE_MAX 131072
#define GLUE_LOCATION_MAX 2056
#define GLUE_VALUE_MAX 512000

/* Write into TMP (reset first) the text Glue accepts for S, at most MAX
 * bytes of it, never cutting a character: bytes that are not UTF-8
 * become U+FFFD; when NAME, also control characters (TAB included: it
 * separates the schema file's fields) become '_' and U+FFFE/U+FFFF become
 * U+FFFD.  TMP.data is then NUL-terminated.  Returns 0 or -ENOMEM. */
static int glue_clean(const char *s, size_t max, bool name, struct buf *tmp)
{
    static const char repl[] = "\xef\xbf\xbd";
    buf_reset(tmp);
    int rc = buf_puts(tmp, "");
    size_t n = s ? strlen(s) : 0, used = 0;
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
                               : c >= 0xe0 && c <= 0xef ? 3
                               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu
                                 : len == 3 ? c & 0x0fu : c & 0x07u;
        bool ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            unsigned char d = (unsigned char)s[i + k];
            ok = (d & 0xc0) == 0x80;
            cp = cp << 6 | (d & 0x3fu);
        }
        if (ok && ((len == 3 && cp < 0x800) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                   (cp >= 0xd800 && cp <= 0xdfff)))
            ok = false;
        const char *piece = s + i;
        size_t plen = len;
        if (!ok) {
            piece = repl;
            plen = 3;
            len = 1;
        } else if (name && cp < 0x20) {
            piece = "_";
            plen = 1;
        } else if (name && (cp == 0xfffe || cp == 0xffff)) {
            piece = repl;
            plen = 3;
        }
        if (used + plen > max)
            break;
        rc = buf_append(tmp, piece, plen);
        used += plen;
        i += len;
    }
    return rc == -E2BIG ? 0 : rc;
}

/* S as a JSON string Glue accepts (glue_clean). */
static int json_glue(struct buf *out, const char *s, size_t max, bool name)
{
    struct buf tmp;
    buf_init(&tmp, max + 8);
    int rc = glue_clean(s, max, name, &tmp);
    if (!rc)
        rc = json_str(out, tmp.data ? tmp.data : "");
    buf_release(&tmp);
    return rc;
}

/* A column type as Glue takes it: one longer than Glue's limit is string
 * (the SerDe then hands the value over as text). */
static const char *glue_type(const char *type)
{
    return type && strlen(type) <= GLUE_TYPE_MAX ? type : "string";
}

int render_schema(const struct table_def *t, struct buf *out)
{
    struct buf n, ty;
    buf_init(&n, GLUE_NAME_MAX + 8);
    buf_init(&ty, GLUE_TYPE_MAX + 8);
    int rc = 0;
    for (size_t i = 0; i < t->ncols + t->npkeys && !rc; i++) {
        const struct column *c = i < t->ncols ? &t->cols[i]
                                              : &t->pkeys[i - t->ncols];
        if (i == t->ncols)
            rc = buf_puts(out, "\n# Partition Information\n"
                               "# col_name\tdata_type\n");
        if (!rc)
            rc = glue_clean(c->name, GLUE_NAME_MAX, true, &n);
        if (!rc)
            rc = glue_clean(glue_type(c->type), GLUE_TYPE_MAX, true, &ty);
        if (!rc)
            rc = buf_printf(out, "%s\t%s\n", n.data, ty.data);
    }
    buf_release(&n);
    buf_release(&ty);
    return rc;
}

static int json_kvs(struct buf *out, const struct kvs *p, const char *indent)
{
    int rc = buf_puts(out, "{");
    for (size_t i = 0; i < p->n && !rc; i++) {
        rc = buf_printf(out, "%s\n%s  ", i ? "," : "", indent);
        if (!rc)
            rc = json_glue(out, p->a[i].k, GLUE_NAME_MAX, true);
        if (!rc)
            rc = buf_puts(out, ": ");
        if (!rc)
            rc = json_glue(out, p->a[i].v, GLUE_VALUE_MAX, false);
    }
    if (!rc)
        rc = p->n ? buf_printf(out, "\n%s}", indent) : buf_puts(out, "}");
    return rc;
}

static int json_cols(struct buf *out, const struct column *c, size_t n,
                     const char *indent)
{
    int rc = buf_puts(out, "[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_printf(out, "%s\n%s  {\"Name\": ", i ? "," : "", indent);
        if (!rc)
            rc = json_glue(out, c[i].name, GLUE_NAME_MAX, true);
        if (!rc)
            rc = buf_puts(out, ", \"Type\": ");
        if (!rc)
            rc = json_glue(out, glue_type(c[i].type), GLUE_TYPE_MAX, true);
        if (!rc)
            rc = buf_puts(out, "}");
    }
    if (!rc)
        rc = n ? buf_printf(out, "\n%s]", indent) : buf_puts(out, "]");
    return rc;
}

int render_table_json(const struct table_def *t, struct buf *out)
{
    struct hive_fmt h;
    hive_fmt_of(t, &h);
    int rc = buf_puts(out, "{\n  \"Name\": ");
    if (!rc)
        rc = json_glue(out, t->name, GLUE_NAME_MAX, true);
    if (!rc)
        rc = buf_puts(out, ",\n  \"StorageDescriptor\": {\n    \"Columns\": ");
    if (!rc)
        rc = json_cols(out, t->cols, t->ncols, "    ");
    if (!rc)
        rc = buf_puts(out, ",\n    \"Location\": ");
    if (!rc)
        rc = json_glue(out, t->location, GLUE_LOCATION_MAX, false);
    if (!rc)
        rc = buf_puts(out, ",\n    \"InputFormat\": ");
    if (!rc)
        rc = json_str(out, h.infmt);
    if (!rc)
        rc = buf_puts(out, ",\n    \"OutputFormat\": ");
    if (!rc)
        rc = json_str(out, h.outfmt);
    if (!rc)
        rc = buf_printf(out,
                        ",\n    \"Compressed\": %s,\n"
                        "    \"NumberOfBuckets\": -1,\n"
                        "    \"SerdeInfo\": {\n"
                        "      \"SerializationLibrary\": ",
                        h.compressed ? "true" : "false");
    if (!rc)
        rc = json_str(out, h.serde);
    if (!rc)
        rc = buf_puts(out, ",\n      \"Parameters\": ");
    if (!rc)
        rc = json_kvs(out, &h.serde_params, "      ");
    if (!rc)
        rc = buf_puts(out, "\n    },\n"
                           "    \"BucketColumns\": [],\n"
                           "    \"SortColumns\": [],\n"
                           "    \"Parameters\": ");
    if (!rc)
        rc = json_kvs(out, &h.tbl_params, "    ");
    if (!rc)
        rc = buf_puts(out, ",\n    \"StoredAsSubDirectories\": false\n  },\n"
                           "  \"PartitionKeys\": ");
    if (!rc)
        rc = json_cols(out, t->pkeys, t->npkeys, "  ");
    if (!rc)
        rc = buf_puts(out, ",\n  \"TableType\": \"EXTERNAL_TABLE\",\n"
                           "  \"Parameters\": ");
    if (!rc)
        rc = json_kvs(out, &h.tbl_params, "  ");
    if (!rc)
        rc = buf_puts(out, "\n}\n");
    return rc;
}

/* `NAME` with a backquote inside doubled (Hive/Athena identifiers). */
static int sql_ident(struct buf *out, const char *s)
{
    int rc = buf_putc(out, '`');
    for (; s && *s && !rc; s++)
        rc = *s == '`' ? buf_puts(out, "``") : buf_putc(out, *s);
    if (!rc)
        rc = buf_putc(out, '`');
    return rc;
}

/* 'S' as a Hive string literal: quote and backslash escaped, tab as \t,
 * other control characters as octal (\001, as Hive writes '^A'). */
static int sql_str(struct buf *out, const char *s)
{
    int rc = buf_putc(out, '\'');
    for (; s && *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'' || c == '\\')
            rc = buf_printf(out, "\\%c", c);
        else if (c == '\t')
            rc = buf_puts(out, "\\t");
        else if (c == '\n')
            rc = buf_puts(out, "\\n");
        else if (c < 0x20)
            rc = buf_printf(out, "\\%03o", c);
        else
            rc = buf_putc(out, (char)c);
    }
    if (!rc)
        rc = buf_putc(out, '\'');
    return rc;
}

static int ddl_cols(struct buf *out, const struct column *c, size_t n)
{
    struct buf nm, ty;
    buf_init(&nm, GLUE_NAME_MAX + 8);
    buf_init(&ty, GLUE_TYPE_MAX + 8);
    int rc = buf_puts(out, "(\n");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_puts(out, "  ");
        if (!rc)
            rc = glue_clean(c[i].name, GLUE_NAME_MAX, true, &nm);
        if (!rc)
            rc = glue_clean(glue_type(c[i].type), GLUE_TYPE_MAX, true, &ty);
        if (!rc)
            rc = sql_ident(out, nm.data);
        if (!rc)
            rc = buf_printf(out, " %s%s", ty.data, i + 1 < n ? ",\n" : ")");
    }
    if (!rc && !n)
        rc = buf_puts(out, ")");
    buf_release(&nm);
    buf_release(&ty);
    return rc;
}

static int ddl_props(struct buf *out, const struct kvs *p)
{
    int rc = buf_puts(out, "(\n");
    for (size_t i = 0; i < p->n && !rc; i++) {
        rc = buf_puts(out, "  ");
        if (!rc)
            rc = sql_str(out, p->a[i].k);
        if (!rc)
            rc = buf_putc(out, '=');
        if (!rc)
            rc = sql_str(out, p->a[i].v);
        if (!rc)
            rc = buf_puts(out, i + 1 < p->n ? ",\n" : ")");
    }
    if (!rc && !p->n)
        rc = buf_puts(out, ")");
    return rc;
}

int render_ddl(const struct table_def *t, struct buf *out)
{
    struct hive_fmt h;
    hive_fmt_of(t, &h);
    int rc = buf_puts(out, "CREATE EXTERNAL TABLE ");
    if (!rc)
        rc = sql_ident(out, t->database);
    if (!rc)
        rc = buf_putc(out, '.');
    if (!rc)
        rc = sql_ident(out, t->name);
    if (!rc)
        rc = buf_putc(out, ' ');
    if (!rc)
        rc = ddl_cols(out, t->cols, t->ncols);
    if (!rc && t->npkeys) {
        rc = buf_puts(out, "\nPARTITIONED BY ");
        if (!rc)
            rc = ddl_cols(out, t->pkeys, t->npkeys);
    }
    if (!rc)
        rc = buf_puts(out, "\nROW FORMAT SERDE\n  ");
    if (!rc)
        rc = sql_str(out, h.serde);
    if (!rc && h.serde_params.n) {
        rc = buf_puts(out, "\nWITH SERDEPROPERTIES ");
        if (!rc)
            rc = ddl_props(out, &h.serde_params);
    }
    if (!rc)
        rc = buf_puts(out, "\nSTORED AS INPUTFORMAT\n  ");
    if (!rc)
        rc = sql_str(out, h.infmt);
    if (!rc)
        rc = buf_puts(out, "\nOUTPUTFORMAT\n  ");
    if (!rc)
        rc = sql_str(out, h.outfmt);
    if (!rc)
        rc = buf_puts(out, "\nLOCATION\n  ");
    if (!rc)
        rc = sql_str(out, t->location);
    if (!rc)
        rc = buf_puts(out, "\nTBLPROPERTIES ");
    if (!rc)
        rc = ddl_props(out, &h.tbl_params);
    if (!rc)
        rc = buf_puts(out, ";\n");
    return rc;
}

struct part_ctx {
    const struct table_def *t;
    struct buf *out;
};

static int part_line(void *ctx, const struct partition *p)
{
    struct part_ctx *pc = ctx;
    int rc = 0;
    for (size_t i = 0; i < p->nvalues && !rc; i++) {
        const char *k = i < pc->t->npkeys ? pc->t->pkeys[i].name : "";
        rc = buf_printf(pc->out, "%s%s=%s", i ? "/" : "", k, p->values[i]);
    }
    if (!rc)
        rc = buf_printf(pc->out, "\t%s\n", p->location ? p->location : "");
    return rc;
}

int render_partitions(sqlite3 *db, const struct table_def *t,
                      struct buf *out)
{
    struct part_ctx pc = {t, out};
    return catalog_list_partitions(db, t->database, t->name, part_line, &pc);
}

static void iso_time(int64_t secs, char *out, size_t n)
{
    if (secs <= 0) {
        snprintf(out, n, "never");
        return;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int render_stats(const struct table_def *t, struct buf *out)
{
    char last[32], created[32], updated[32];
    iso_time(t->last_crawl, last, sizeof last);
    iso_time(t->created, created, sizeof created);
    iso_time(t->updated, updated, sizeof updated);
    return buf_printf(out,
                      "objects: %" PRIu64 "\n"
                      "bytes: %" PRIu64 "\n"
                      "recordCount: %" PRIu64 "\n"
                      "averageRecordSize: %.0f\n"
                      "classification: %s\n"
                      "compression: %s\n"
                      "last_crawl: %s\n"
                      "created: %s\n"
                      "updated: %s\n"
                      "crawler: %s\n"
                      "deprecated: %s\n",
                      t->objects, t->bytes, t->record_count,
                      t->avg_record_size, t->fmt.classification,
                      t->fmt.compression[0] ? t->fmt.compression : "none",
                      last, created, updated, t->crawler ? t->crawler : "",
                      t->deprecated ? "true" : "false");
}
