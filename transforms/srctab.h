/* srctab.h - a job's sources as SQLite virtual tables over the store.
 *
 * A source (spec.h) is resolved once per run: a catalog table gives its
 * location, format, columns and partition keys; an s3:// prefix that no
 * catalog table covers is listed and its schema inferred from a sample of
 * its first data object (infer.h).  The objects under the location are
 * listed once (recursively; "dir/" markers, empty objects and names with a
 * segment starting with '_' or '.' skipped).
 *
 * A scan streams records one at a time: object (instream_object) ->
 * decompression (instream_auto) -> csv_reader or json_reader, so a plain
 * SELECT/WHERE runs in constant memory whatever the input size.
 *
 * Values as SQLite sees them: bigint/int -> integer, double/float/decimal
 * -> real, boolean -> integer 0/1, date/timestamp -> ISO-8601 text
 * ("2015/01/01 01:00" becomes "2015-01-01 01:00"), string -> text, an
 * empty unquoted CSV field -> NULL, JSON struct/array -> compact JSON
 * text.  Declared column types (srctab_decltype) keep the Hive type's
 * name first, so a result column can be typed back: "BIGINT", "DOUBLE",
 * "BOOLEAN INT", "DATE TEXT", "TIMESTAMP TEXT", "TEXT", "JSON TEXT".
 *
 * A row with the wrong number of CSV fields, or a value that does not
 * parse as its column's type, is counted in bad_rows (the bad value reads
 * as NULL; the first few are logged with object and line).  A malformed
 * object (broken compression, JSON syntax error, unterminated quote) fails
 * the scan: "cannot read 's3://b/k': line 3: parse error ...". */
#ifndef GLUEFS_SRCTAB_H
#define GLUEFS_SRCTAB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"

struct store;
struct spec_source;

#define SRCTAB_MAX_OBJECTS 1000000 /* objects per source */
#define SRCTAB_SAMPLE_BYTES (1u << 20) /* inference sample (Glue: 1 MB) */

/* Counters a run shows in its status.  Updated and read with __atomic
 * builtins (the status reader is another thread). */
struct srctab_counters {
    uint64_t bytes_read;  /* compressed bytes taken from the store */
    uint64_t rows_read;
    uint64_t bad_rows;
    uint64_t total_bytes; /* sum of the sizes of every listed object */
};

struct srctab_object {
    char *key;
    uint64_t size;
};

struct srctab_source {
    char *name;     /* SQL table name */
    char *location; /* "s3://bucket/prefix/" */
    char *bucket;
    char *prefix;   /* "" or ends in '/' */
    struct table_format fmt;
    struct column *cols;  /* data columns (CSV: by position; JSON: by name) */
    size_t ncols;
    struct column *pkeys; /* partition keys (values from k=v key segments) */
    size_t npkeys;
    struct srctab_object *objs;
    size_t nobjs;
    uint64_t bytes;       /* total size of objs */
    char origin[512];     /* "catalog table db.t" or "schema inferred from
                             's3://b/k'" */
};

/* Log sink for a run: one line of text (no trailing newline). */
typedef void (*srctab_log_fn)(void *ctx, const char *line);

/* Everything the virtual tables of one run share.  Owned by the caller;
 * must outlive the SQLite connection it is registered on. */
struct srctab_env {
    struct store *store;
    sqlite3 *catalog;              /* the state store (catalog.h), or NULL */
    struct srctab_counters *counters;
    const int *cancel;             /* read atomically: nonzero stops a scan
                                      with SQLITE_INTERRUPT */
    srctab_log_fn log;
    void *log_ctx;
    struct srctab_source **sources; /* resolved sources, by index */
    size_t nsources;
};

/* Resolve SS into a new *OUT (free with srctab_source_free): catalog
 * lookup or inference, then the object listing.  Adds the listed bytes to
 * env->counters->total_bytes.  Returns 0, or -errno with a message naming
 * the source in ERR (e.g. "source 'db.t': no such table in the catalog"). */
int srctab_resolve(const struct srctab_env *env, const struct spec_source *ss,
                   struct srctab_source **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void srctab_source_free(struct srctab_source *s);

/* Register the module "gluefs_source" on DB with ENV as its context. */
int srctab_register(sqlite3 *db, struct srctab_env *env);

/* CREATE VIRTUAL TABLE temp."SQLNAME" USING gluefs_source(IDX), IDX an
 * index into env->sources.  Returns 0 or -EINVAL with SQLite's message in
 * ERR. */
int srctab_create(sqlite3 *db, size_t idx, const char *sqlname, char *err,
                  size_t errlen);

/* Append the column list of S as table-definition SQL:
 * "\"date\" DATE TEXT, \"x\" BIGINT, ...": data columns then partition
 * keys. */
int srctab_columns_sql(const struct srctab_source *s, struct buf *out)
    __attribute__((warn_unused_result));

/* The declared SQLite type for a Hive type (see above). */
const char *srctab_decltype(const char *hive_type);

/* The Hive type for a declared SQLite type from srctab_decltype, or NULL
 * if DECL is not one of them. */
const char *srctab_hive_type(const char *decl);

/* Append NAME quoted as an SQL identifier ("a""b"). */
int srctab_quote_ident(struct buf *out, const char *name)
    __attribute__((warn_unused_result));

#endif
