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
};

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

/* Create the catalog's tables in DB (idempotent). */
int catalog_init(sqlite3 *db);

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
