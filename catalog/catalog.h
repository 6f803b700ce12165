/* catalog.h - the Glue-style catalog: databases, tables, partitions, kept
 * in the state store and rendered as files under catalog/ (DESIGN.md 3).
 *
 * Names follow Glue: a database holds tables; a table has a storage
 * location (s3://bucket/prefix/), a classification (csv, json, parquet),
 * columns with Hive types, partition keys, and partitions (k=v folders).
 * Database and table names are sanitised as Glue does
 * (catalog_sanitize_name). */
#ifndef GLUEFS_CATALOG_H
#define GLUEFS_CATALOG_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct column {
    char *name;    /* lower-cased, otherwise as in the data */
    char *type;    /* Hive type without spaces: bigint, struct<a:int,b:string>, ... */
};

/* How the objects of a table are read back (jobs) and described
 * (table.json's SerDeInfo). */
struct table_format {
    char classification[16]; /* "csv", "json", "parquet", "UNKNOWN" */
    char compression[8];     /* "none", "gzip", "bzip2", "zstd" */
    char delimiter;          /* CSV only: ',', '\t', '|', ';', '\x01' */
    bool header;             /* CSV only: first line holds column names */
    bool quoted;             /* CSV only: OpenCSVSerde (quotes seen) vs
                                LazySimpleSerDe */
    uint32_t ts_forms;       /* CSV only: TS_FORM_* bits, the text forms of
                                the values of date and timestamp columns
                                (catalog_timestamp_formats) */
};

/* Text forms of CSV dates and timestamps, as infer.c types them
 * (infer_text_type), one bit each in table_format.ts_forms:
 *   TS_FORM_DATE             yyyy-MM-dd alone (a date in a column widened
 *                            to timestamp needs a pattern)
 *   ts_form_bit(slash, t, prec, zone)
 *                            a timestamp: date with '/' (else '-'), 'T'
 *                            (else ' ') before the time, the time to
 *                            minutes (prec 0), seconds (1) or a fraction
 *                            of 1-9 digits (2), and a zone (Z, +hh,
 *                            +hhmm, +hh:mm) or none. */
#define TS_FORM_DATE (1u << 24)
#define TS_FORM_PREC_MIN 0
#define TS_FORM_PREC_SEC 1
#define TS_FORM_PREC_FRAC 2
static inline uint32_t ts_form_bit(bool slash, bool t, int prec, bool zone)
{
    return 1u << ((slash ? 12 : 0) + (t ? 6 : 0) + prec * 2 + (zone ? 1 : 0));
}

/* The value of Hive's LazySimpleSerDe parameter "timestamp.formats" for
 * the forms FORMS: comma-separated Joda-Time patterns (as Hive 1.2-3 and
 * Athena/Trino parse them; a value matches a pattern when the pattern
 * reads all of it), e.g. "yyyy/MM/dd HH:mm:ss,yyyy-MM-dd'T'HH:mm:ssZZ".
 * Forms Hive reads without a pattern (java.sql.Timestamp:
 * "yyyy-MM-dd HH:mm:ss[.f...]") give none; "SSS" reads 1-9 fraction
 * digits and "ZZ" reads Z, +hh, +hhmm and +hh:mm.  Writes whole patterns
 * only, at most N-1 bytes and a NUL, into OUT; returns the number of
 * patterns written (0: no parameter needed). */
size_t catalog_timestamp_formats(uint32_t forms, char *out, size_t n);

struct table_def {
    char *database;
    char *name;
    char *location; /* "s3://bucket/prefix/" (always ends in '/') */
    struct table_format fmt;
    struct column *cols;
    size_t ncols;
    struct column *pkeys; /* partition keys, in folder order; type string
                             unless all values infer narrower */
    size_t npkeys;
    uint64_t objects;        /* data objects under the location */
    uint64_t bytes;          /* their total size */
    uint64_t record_count;   /* estimated (exact for Parquet) */
    double avg_record_size;  /* bytes */
    int64_t created;         /* seconds since the epoch */
    int64_t updated;         /* last crawl that changed it */
    int64_t last_crawl;      /* last crawl that saw it */
    char *crawler;           /* name of the crawler that made it, or NULL */
    bool deprecated;         /* its folder vanished (DEPRECATE_IN_DATABASE):
                                table.json carries the parameter
                                DEPRECATED_BY_CRAWLER = `updated` in epoch
                                milliseconds, as Glue writes it */
};

struct partition {
    char **values;   /* npkeys values, in key order */
    size_t nvalues;
    char *location;  /* "s3://bucket/prefix/k=v/.../" */
};

/* Create the catalog's tables in DB (idempotent; adds columns newer
 * versions keep to a state store an older one made). */
int catalog_init(sqlite3 *db);

/* Add column COL (SQL declaration DECL, e.g. "INTEGER NOT NULL DEFAULT
 * 0") to table TBL of DB unless it has one (for state stores made by an
 * older gluefs).  TBL and COL are trusted identifiers from the caller's
 * code.  Returns 0 or -EIO. */
int catalog_add_column(sqlite3 *db, const char *tbl, const char *col,
                       const char *decl);

/* Glue's name rule (DESIGN.md 3; Athena's "Name databases, tables, and
 * columns": lower case, at most 255 bytes): A-Z become a-z and any other
 * character than a-z, 0-9 and '_' becomes one '_' (a multi-byte UTF-8
 * character too: "Über" gives "_ber").  Writes at most N-1 bytes and a NUL
 * into OUT (N = 256 gives Glue's 255). */
void catalog_sanitize_name(const char *in, char *out, size_t n);

/* Insert or replace a table (and its columns).  Returns 0 or -EIO. */
int catalog_put_table(sqlite3 *db, const struct table_def *t);

/* Load table DB.NAME into a new *OUT (free with table_def_free).
 * Returns 0 or -ENOENT. */
int catalog_get_table(sqlite3 *db, const char *database, const char *name,
                      struct table_def **out);

int catalog_delete_table(sqlite3 *db, const char *database, const char *name);

/* Replace the partitions of DB.NAME with PARTS. */
int catalog_put_partitions(sqlite3 *db, const char *database,
                           const char *name, const struct partition *parts,
                           size_t nparts);

/* Call CB for each partition of DB.NAME, in location order.  A positive
 * return from CB stops; a negative one is returned. */
int catalog_list_partitions(sqlite3 *db, const char *database,
                            const char *name,
                            int (*cb)(void *ctx, const struct partition *p),
                            void *ctx);

/* Call CB with each database name (sorted), or each table name of
 * DATABASE (sorted). */
int catalog_list_databases(sqlite3 *db,
                           int (*cb)(void *ctx, const char *name), void *ctx);
int catalog_list_tables(sqlite3 *db, const char *database,
                        int (*cb)(void *ctx, const char *name), void *ctx);

/* Free T and everything it holds. */
void table_def_free(struct table_def *t);
void partition_release(struct partition *p);

/* Renderers (DESIGN.md 3).  Each appends the file's whole text to OUT.
 *   schema:     "name\ttype\n" per column; then, if partitioned,
 *               "\n# Partition Information\n# col_name\tdata_type\n" and
 *               the keys in the same form (Athena's DESCRIBE layout)
 *   table.json: a Glue TableInput (botocore CreateTable shape), usable as
 *               `aws glue create-table --table-input file://table.json`
 *   ddl.sql:    CREATE EXTERNAL TABLE for Athena/Hive/Spark
 *   partitions: "k=v/k2=v2\ts3://...\n" per partition
 *   stats:      "key: value" lines (objects, bytes, recordCount,
 *               averageRecordSize, classification, compression,
 *               last_crawl) */
int render_schema(const struct table_def *t, struct buf *out);
int render_table_json(const struct table_def *t, struct buf *out);
int render_ddl(const struct table_def *t, struct buf *out);
int render_partitions(sqlite3 *db, const struct table_def *t,
                      struct buf *out);
int render_stats(const struct table_def *t, struct buf *out);

#endif
